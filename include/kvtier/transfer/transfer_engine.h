// The transfer engine: moves slot bytes between the GPU tier and the pinned host tier on two
// dedicated streams (host->device and device->host), in batches, each returning a TransferEvent.
//
// Batches on one stream run in submission order. Across the two streams the engine orders
// batches that touch the same slot (read after write, write after read, write after write), so a
// batch may be submitted while earlier ones are in flight. Raw device buffers (gather targets,
// scatter sources) are the caller's to order, e.g. with a StagingRing or TransferEvent::wait().
//
// A batch is checked as a whole before anything is enqueued: a slot out of range, a slot the pool
// does not own, the disk tier, a layer out of range, or one slot written twice or both read and
// written in one batch reject the whole batch; its event carries the error and nothing moves.
//
// Threading: one thread at a time may submit (calls are serialized by a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/block/slot_allocator.h"
#include "kvtier/block/tier.h"
#include "kvtier/core/geometry.h"
#include "kvtier/transfer/pool_view.h"
#include "kvtier/transfer/staging_ring.h"
#include "kvtier/transfer/transfer_config.h"
#include "kvtier/transfer/transfer_event.h"

namespace kvtier {

namespace detail {
class Copier;
class HazardTracker;
struct BatchPlan;
}  // namespace detail

class TransferEngine {
 public:
  // `gpu` must be device memory, `host` host memory (pinned for the copy kernel); both with
  // slot_bytes == g.slot_bytes(). The views (and the memory and allocators behind them) must
  // outlive the engine.
  TransferEngine(Backend& backend, const Geometry& g, PoolView gpu, PoolView host,
                 TransferConfig config = {});
  ~TransferEngine();
  TransferEngine(const TransferEngine&) = delete;
  TransferEngine& operator=(const TransferEngine&) = delete;

  // Whole slots (the block manager's plans). gpu<-host on the h2d stream, host<-gpu on the d2h
  // stream, gpu<-gpu on the h2d stream, host<-host on the d2h stream.
  TransferEvent submit(std::span<const SlotMove> moves);
  // One layer's slices of the moved slots.
  TransferEvent submit_layer(int layer, std::span<const SlotMove> moves);
  // Gather: layer `layer` of each host slot, in order, into dst (device memory, >= n slices).
  // dst: [n][layer_bytes]
  TransferEvent gather_layer(int layer, std::span<const SlotIndex> host_slots, void* dst,
                             std::size_t dst_bytes);
  // Scatter: slice i of src (device memory) into layer `layer` of host_slots[i].
  // src: [n][layer_bytes]
  TransferEvent scatter_layer(int layer, const void* src, std::size_t src_bytes,
                              std::span<const SlotIndex> host_slots);

  // Gathers layer `layer` of host_slots into the ring's next buffer (copy side of the ring).
  struct Staged {
    int buffer = -1;  // ring index: compute calls ring.wait_full(buffer, s) then release(...)
    TransferEvent event;
  };
  Staged stage_layer(StagingRing& ring, int layer, std::span<const SlotIndex> host_slots);

  // Writes whole GPU slots back to host slots taken from `host_slots` (the allocator behind the
  // host view: view_of(host pool, host_slots)). With too few free host slots the event carries
  // OutOfMemory, no slot is taken and nothing moves.
  struct Offload {
    TransferEvent event;
    std::vector<SlotIndex> host_slots;  // host_slots[i] receives gpu_slots[i]
  };
  Offload offload(std::span<const SlotIndex> gpu_slots, SlotAllocator& host_slots);

  // Waits for every batch submitted so far; throws the first device error.
  void synchronize();

  Stream& h2d_stream() { return *streams_[0]; }
  Stream& d2h_stream() { return *streams_[1]; }
  const TransferConfig& config() const { return config_; }
  const Geometry& geometry() const { return geometry_; }
  // The concrete method a list of segments of this direction and mean size goes through (for kAuto,
  // also whether host->device copies are in flight now).
  CopyMethod resolve(Direction d, std::size_t mean_segment_bytes) const;

 private:
  TransferEvent run(detail::BatchPlan& plan);
  TransferEvent run_locked(detail::BatchPlan& plan);

  Backend& backend_;
  Geometry geometry_;
  PoolView gpu_, host_;
  TransferConfig config_;
  std::mutex mu_;
  std::unique_ptr<detail::Copier> copiers_[2];  // before the streams: destroyed after them
  std::unique_ptr<Stream> streams_[2];          // 0: h2d, 1: d2h
  std::unique_ptr<detail::HazardTracker> hazards_;
  std::uint64_t next_seq_ = 1;
  std::shared_ptr<Event> last_h2d_;  // the newest host->device batch's completion
};

}  // namespace kvtier
