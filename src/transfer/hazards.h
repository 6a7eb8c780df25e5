// Internal: orders batches of the engine's two streams that touch the same slot. Each batch gets a
// sequence number; per slot and stream the tracker keeps the newest batch that read it and that
// wrote it. A new batch on stream k must wait for the newest conflicting batch of the other stream
// (read after write, write after read, write after write); batches of one stream are ordered by
// the stream itself.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/block/tier.h"

namespace kvtier::detail {

class HazardTracker {
 public:
  HazardTracker(SlotIndex gpu_slots, SlotIndex host_slots);

  // Newest batch of the stream other than `stream` that conflicts with these accesses; 0 if none.
  std::uint64_t conflict(int stream, std::span<const SlotRef> reads,
                         std::span<const SlotRef> writes) const;
  // Records the accesses of batch `seq` on `stream`, and the event that completes it.
  void note(int stream, std::uint64_t seq, std::span<const SlotRef> reads,
            std::span<const SlotRef> writes, std::shared_ptr<Event> done);
  // The event of batch `seq` of `stream`, or nullptr when it is known to be complete.
  std::shared_ptr<Event> event_of(int stream, std::uint64_t seq);

 private:
  struct Marks {
    std::uint64_t read[2] = {0, 0};
    std::uint64_t write[2] = {0, 0};
  };
  Marks& marks(const SlotRef& r);
  const Marks& marks(const SlotRef& r) const;

  std::vector<Marks> gpu_, host_;
  std::deque<std::pair<std::uint64_t, std::shared_ptr<Event>>> pending_[2];
};

}  // namespace kvtier::detail
