// Slot memory for the transfer engine: PoolView, how the engine turns a slot index of a tier into
// an address (any pool can be described by one, the block layer's SlotPool too), and SlotArena,
// the memory of one tier in one allocation cut into fixed-size slots.
//
// The block manager owns which slot holds which block (metadata). A SlotArena also has its own
// slot allocator for users without a block manager (benchmarks, tests, the engine's offload());
// a PoolView can carry any ownership test instead.
//
// The pinned host pool is allocated once at start, in one piece (no per-block pinning), and its
// size is fixed: allocate() beyond it throws OutOfMemory saying how much was asked and is free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "kvtier/backend/backend.h"
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

// A view of a tier's SlotPool (block layer) in which every slot counts as owned: the block
// manager, not the engine, knows which slots hold blocks.
PoolView view_of(const SlotPool& pool);

class SlotArena {
 public:
  // Allocates `slots` slots of `slot_bytes` of `kind` memory in one piece (timed: see
  // allocation_seconds()). Throws InvalidArgument for zero sizes, OutOfMemory when the backend
  // cannot supply it.
  SlotArena(Backend& backend, Tier tier, MemoryKind kind, std::size_t slot_bytes, SlotIndex slots);
  // Slots of `slot_bytes` that fit in `budget_bytes` (InvalidArgument if not even one).
  static SlotIndex slots_in_budget(std::size_t slot_bytes, std::uint64_t budget_bytes);
  SlotArena(SlotArena&&) = delete;
  SlotArena& operator=(SlotArena&&) = delete;

  // A view whose ownership test is this pool's allocator. The pool must outlive it.
  PoolView view() const;
  Tier tier() const { return tier_; }
  MemoryKind kind() const { return kind_; }
  std::byte* base() const { return static_cast<std::byte*>(buffer_.data()); }
  std::byte* slot(SlotIndex s) const { return base() + static_cast<std::size_t>(s) * slot_bytes_; }
  std::size_t slot_bytes() const { return slot_bytes_; }
  SlotIndex slots() const { return slots_; }
  std::size_t bytes() const { return buffer_.bytes(); }
  // Wall time of the allocation (for pinned memory: allocation, page locking and mapping).
  double allocation_seconds() const { return allocation_seconds_; }

  // Takes n free slots (lowest first). Throws OutOfMemory naming the pool, what was asked for and
  // what is free when fewer than n are free; nothing is taken then.
  std::vector<SlotIndex> allocate(std::size_t n);
  // Takes exactly these slots; InvalidArgument if one is out of range or already taken.
  void allocate_exact(std::span<const SlotIndex> slots);
  // Gives slots back; InvalidArgument if one is not allocated.
  void release(std::span<const SlotIndex> slots);
  bool owned(SlotIndex s) const;
  std::size_t free_slots() const;

 private:
  Buffer buffer_;
  double allocation_seconds_ = 0;
  Tier tier_;
  MemoryKind kind_;
  std::size_t slot_bytes_;
  SlotIndex slots_;
  mutable std::mutex mu_;
  std::vector<bool> used_;
  std::size_t used_count_ = 0;
  SlotIndex next_hint_ = 0;
};

}  // namespace kvtier
