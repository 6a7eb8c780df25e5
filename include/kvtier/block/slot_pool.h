// The memory of one tier: one Backend allocation carved into fixed-size slots in the layout of
// DESIGN.md, [layer][K|V][kv_head][token][head_dim] inside each slot. A SlotPool answers "where are
// the bytes of slot i (of layer L, of K or V of head h, token t)"; which slots are in use is the
// business of a SlotAllocator (the BlockManager owns one per tier, sized by pool.slots()).
//
// GPU tier -> MemoryKind::kDevice, host tier -> MemoryKind::kPinnedHost. The disk tier has no
// pool here: its slots are places in the disk store's file.
//
// Threading: immutable after construction; address queries may come from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kvtier/backend/backend.h"
#include "kvtier/block/tier.h"
#include "kvtier/core/geometry.h"

namespace kvtier {

// Number of whole slots of `geometry` in `bytes`. Throws InvalidArgument naming both when the
// result is below one slot (a budget smaller than one block) or above SlotAllocator::kMaxCapacity.
SlotIndex slots_in_bytes(std::uint64_t bytes, const Geometry& geometry);
// Same for a size with units ("8GiB"); units are parsed by parse_size (InvalidArgument there).
SlotIndex slots_in_size(std::string_view size, const Geometry& geometry);

// The backend memory kind that backs a tier: kDevice for GPU, kPinnedHost for host.
// InvalidArgument for the disk tier.
MemoryKind memory_kind_of(Tier tier);

class SlotPool {
 public:
  // Allocates slots * geometry.slot_bytes() bytes of memory_kind_of(tier) from `backend`.
  // Throws InvalidArgument for a bad geometry, 0 slots, the disk tier or a size overflow, and
  // OutOfMemory (from the backend) when the memory is not there.
  SlotPool(Backend& backend, Tier tier, const Geometry& geometry, SlotIndex slots);

  Tier tier() const { return tier_; }
  const Geometry& geometry() const { return geometry_; }
  SlotIndex slots() const { return slots_; }
  std::size_t slot_bytes() const { return slot_bytes_; }
  std::size_t bytes() const { return buffer_.bytes(); }
  const Buffer& buffer() const { return buffer_; }
  std::byte* base() const { return buffer_.as<std::byte>(); }
  // Wall time of the backend allocation (for pinned memory: allocation, page locking and mapping;
  // kvtier-bench transfer reports it).
  double allocation_seconds() const { return allocation_seconds_; }

  // Start of slot `slot`. InvalidArgument when slot >= slots().
  std::byte* slot_address(SlotIndex slot) const;
  std::byte* slot_address(SlotRef ref) const;  // also checks that ref.tier is this pool's tier
  // Start of layer `layer` inside slot `slot`: K of all heads, then V of all heads,
  // [2][kv_heads][block_tokens][head_dim]. InvalidArgument for a bad slot or layer.
  std::byte* layer_address(SlotIndex slot, int layer) const;
  // K (kv = 0) or V (kv = 1) of (layer, kv_head, token) in slot `slot`: [head_dim] elements.
  std::byte* element_address(SlotIndex slot, int layer, int kv, int kv_head, int token) const;

 private:
  Tier tier_;
  Geometry geometry_;
  SlotIndex slots_;
  std::size_t slot_bytes_;
  Buffer buffer_;
  double allocation_seconds_ = 0;
};

}  // namespace kvtier
