// Internal: a batch turned into copy lists per engine stream, with the slots it reads and writes.
// Built and checked completely before anything is enqueued, so a bad batch moves nothing.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kvtier/block/tier.h"
#include "kvtier/core/geometry.h"
#include "kvtier/transfer/pool_view.h"
#include "kvtier/transfer/transfer_config.h"
#include "transfer/segments.h"

namespace kvtier::detail {

// The part of a batch for one engine stream (0: h2d, 1: d2h).
struct StreamPart {
  std::vector<Segment> cross;  // h2d or d2h segments (through the chosen method)
  std::vector<Segment> local;  // d2d (stream 0) or h2h (stream 1) segments
  std::vector<SlotRef> reads, writes;
  bool empty() const { return cross.empty() && local.empty(); }
};

struct BatchPlan {
  StreamPart parts[2];
  std::size_t bytes = 0;
};

// Resolves slots to addresses and checks the batch. Throws InvalidArgument naming the first bad
// move. layer < 0: whole slots; else that layer's slice.
class PlanBuilder {
 public:
  PlanBuilder(const Geometry& g, const PoolView& gpu, const PoolView& host)
      : g_(g), gpu_(gpu), host_(host) {}

  void check_layer(int layer) const;
  // A move between two slots.
  void add_move(BatchPlan& plan, const SlotMove& m, int layer) const;
  // Layer slices of host slots from/to a contiguous device buffer.
  void add_gather(BatchPlan& plan, int layer, std::span<const SlotIndex> host_slots,
                  const std::byte* dst, std::size_t dst_bytes) const;
  void add_scatter(BatchPlan& plan, int layer, const std::byte* src, std::size_t src_bytes,
                   std::span<const SlotIndex> host_slots) const;
  // No slot is written twice, or both read and written, within the batch.
  static void check_conflicts(const BatchPlan& plan);

 private:
  const PoolView& pool(Tier t) const;
  // check_slot throws naming `role`; slot_ok is its cheap test (no message built), for loops.
  bool slot_ok(const SlotRef& r) const;
  void check_slot(const SlotRef& r, const std::string& role) const;

  const Geometry& g_;
  const PoolView& gpu_;
  const PoolView& host_;
};

}  // namespace kvtier::detail
