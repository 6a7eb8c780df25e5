// PoolView: how the transfer engine turns a slot index of a tier into an address, and which slots
// it may move. The block layer's SlotPool (memory) and SlotAllocator (which slots hold blocks)
// are described by one through view_of().
#pragma once

#include <cstddef>
#include <functional>

#include "kvtier/backend/backend.h"
#include "kvtier/block/slot_allocator.h"
#include "kvtier/block/slot_pool.h"
#include "kvtier/block/tier.h"

namespace kvtier {

// Where the slots of one tier are: slot s is [base + s * slot_bytes, + slot_bytes).
struct PoolView {
  Tier tier = Tier::kGpu;
  MemoryKind kind = MemoryKind::kDevice;
  std::byte* base = nullptr;
  std::size_t slot_bytes = 0;
  SlotIndex slots = 0;
  // Whether a slot holds a live block that may be moved (empty: every slot in range does).
  std::function<bool(SlotIndex)> owned;

  std::byte* slot(SlotIndex s) const { return base + static_cast<std::size_t>(s) * slot_bytes; }
  std::size_t bytes() const { return static_cast<std::size_t>(slots) * slot_bytes; }
};

// A view of a tier's SlotPool in which every slot counts as owned: the block manager, not the
// engine, knows which slots hold blocks.
PoolView view_of(const SlotPool& pool);
// A view whose owned(s) is slots.is_used(s), for users without a block manager (benchmarks,
// tests, the engine's offload()). `slots` must outlive the view and cover the pool (same tier and
// slot count; InvalidArgument otherwise). SlotAllocator is not thread-safe: the engine asks
// owned() on the thread that submits, so that thread must be the one that changes `slots`.
PoolView view_of(const SlotPool& pool, const SlotAllocator& slots);

}  // namespace kvtier
