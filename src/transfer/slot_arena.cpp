#include "kvtier/transfer/slot_arena.h"

#include <chrono>

#include "kvtier/core/error.h"
#include "kvtier/core/units.h"

namespace kvtier {
namespace {

std::string pool_name(Tier tier, MemoryKind kind) {
  return std::string(tier_name(tier)) + " pool (" + memory_kind_name(kind) + " memory)";
}

}  // namespace

SlotIndex SlotArena::slots_in_budget(std::size_t slot_bytes, std::uint64_t budget_bytes) {
  if (slot_bytes == 0) throw InvalidArgument("slot size must be greater than zero");
  const std::uint64_t n = budget_bytes / slot_bytes;
  if (n == 0) {
    throw InvalidArgument("a budget of " + format_size(budget_bytes) + " holds no slot of " +
                          format_size(slot_bytes) + "; expected at least one slot");
  }
  if (n >= kNoSlot)
    throw InvalidArgument("a budget of " + format_size(budget_bytes) + " holds too many slots");
  return static_cast<SlotIndex>(n);
}

SlotArena::SlotArena(Backend& backend, Tier tier, MemoryKind kind, std::size_t slot_bytes,
                     SlotIndex slots)
    : tier_(tier), kind_(kind), slot_bytes_(slot_bytes), slots_(slots) {
  if (slot_bytes == 0 || slots == 0 || slots == kNoSlot) {
    throw InvalidArgument("slot pool: " + std::to_string(slots) + " slots of " +
                          format_size(slot_bytes) +
                          "; expected at least one slot of at least one byte");
  }
  const auto t0 = std::chrono::steady_clock::now();
  buffer_ = backend.allocate(kind, slot_bytes * static_cast<std::size_t>(slots));
  allocation_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  used_.assign(slots, false);
}

PoolView SlotArena::view() const {
  PoolView v;
  v.tier = tier_;
  v.kind = kind_;
  v.base = base();
  v.slot_bytes = slot_bytes_;
  v.slots = slots_;
  v.owned = [this](SlotIndex s) { return owned(s); };
  return v;
}

std::vector<SlotIndex> SlotArena::allocate(std::size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::size_t free_n = slots_ - used_count_;
  if (n > free_n) {
    throw OutOfMemory(
        pool_name(tier_, kind_) + " exhausted: " + std::to_string(n) + " slots asked for, " +
        std::to_string(free_n) + " of " + std::to_string(slots_) + " free (" +
        format_size(bytes()) + " in slots of " + format_size(slot_bytes_) +
        "); the pool's size is fixed at start: free slots or give it a larger budget");
  }
  std::vector<SlotIndex> out;
  out.reserve(n);
  SlotIndex s = next_hint_;
  while (out.size() < n) {
    if (s >= slots_) s = 0;
    if (!used_[s]) {
      used_[s] = true;
      out.push_back(s);
    }
    ++s;
  }
  used_count_ += n;
  next_hint_ = s;
  return out;
}

void SlotArena::allocate_exact(std::span<const SlotIndex> slots) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const SlotIndex s = slots[i];
    std::string bad;
    if (s >= slots_)
      bad = "is out of range (" + std::to_string(slots_) + " slots)";
    else if (used_[s])
      bad = "is already allocated";
    if (!bad.empty()) {
      for (std::size_t j = 0; j < i; ++j) used_[slots[j]] = false;  // all or nothing
      used_count_ -= i;
      throw InvalidArgument(pool_name(tier_, kind_) + ": slot " + std::to_string(s) + " " + bad);
    }
    used_[s] = true;
    ++used_count_;
  }
}

void SlotArena::release(std::span<const SlotIndex> slots) {
  std::lock_guard<std::mutex> lock(mu_);
  for (SlotIndex s : slots) {
    if (s >= slots_ || !used_[s]) {
      throw InvalidArgument(pool_name(tier_, kind_) + ": release of slot " + std::to_string(s) +
                            ", which is not allocated");
    }
    used_[s] = false;
    --used_count_;
  }
}

bool SlotArena::owned(SlotIndex s) const {
  std::lock_guard<std::mutex> lock(mu_);
  return s < slots_ && used_[s];
}

std::size_t SlotArena::free_slots() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_ - used_count_;
}

PoolView view_of(const SlotPool& pool) {
  PoolView v;
  v.tier = pool.tier();
  v.kind = memory_kind_of(pool.tier());
  v.base = pool.base();
  v.slot_bytes = pool.slot_bytes();
  v.slots = pool.slots();
  return v;
}

}  // namespace kvtier
