#include "kvtier/block/slot_allocator.h"

#include <string>

#include "kvtier/core/error.h"

namespace kvtier {

SlotAllocator::SlotAllocator(SlotIndex capacity, Tier tier) : tier_(tier) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    throw InvalidArgument(std::string("slot allocator (") + tier_name(tier) + "): capacity " +
                          std::to_string(capacity) + " slots; expected between 1 and " +
                          std::to_string(kMaxCapacity));
  }
  used_.assign(capacity, 0);
  next_.resize(capacity);
  prev_.resize(capacity);
  for (SlotIndex i = 0; i < capacity; ++i) {
    next_[i] = i + 1 < capacity ? i + 1 : kNoSlot;
    prev_[i] = i == 0 ? kNoSlot : i - 1;
  }
  head_ = 0;
  tail_ = capacity - 1;
  free_count_ = capacity;
}

void SlotAllocator::check_index(SlotIndex slot, const char* what) const {
  if (slot >= capacity()) {
    throw InvalidArgument(std::string("slot allocator (") + tier_name(tier_) + "): " + what +
                          " of slot " + std::to_string(slot) + "; expected a slot index below " +
                          std::to_string(capacity()));
  }
}

void SlotAllocator::take(SlotIndex slot) {
  const SlotIndex n = next_[slot], p = prev_[slot];
  (p == kNoSlot ? head_ : next_[p]) = n;
  (n == kNoSlot ? tail_ : prev_[n]) = p;
  --free_count_;
  used_[slot] = 1;
  if (used() > peak_) peak_ = used();
}

SlotIndex SlotAllocator::allocate() {
  if (head_ == kNoSlot) {
    throw OutOfMemory(std::string("slot allocator (") + tier_name(tier_) + "): all " +
                      std::to_string(capacity()) + " slots are in use; free a slot first");
  }
  const SlotIndex slot = head_;
  take(slot);
  return slot;
}

std::vector<SlotIndex> SlotAllocator::allocate(std::size_t n) {
  if (n > free_count_) {
    throw OutOfMemory(std::string("slot allocator (") + tier_name(tier_) +
                      "): exhausted: " + std::to_string(n) + " slots asked for, " +
                      std::to_string(free_count_) + " of " + std::to_string(capacity()) +
                      " free; the pool's size is fixed at start: free slots or give it a larger "
                      "budget");
  }
  std::vector<SlotIndex> out(n);
  for (SlotIndex& s : out) s = allocate();
  return out;
}

void SlotAllocator::claim(SlotIndex slot) {
  check_index(slot, "claim");
  if (used_[slot]) {
    throw InvalidArgument(std::string("slot allocator (") + tier_name(tier_) + "): claim of slot " +
                          std::to_string(slot) + ", which is already in use; expected a free slot");
  }
  take(slot);
}

void SlotAllocator::free(SlotIndex slot) {
  check_index(slot, "free");
  if (!used_[slot]) {
    throw InvalidArgument(std::string("slot allocator (") + tier_name(tier_) + "): free of slot " +
                          std::to_string(slot) +
                          ", which is not in use (double free?); expected an allocated slot");
  }
  used_[slot] = 0;
  prev_[slot] = tail_;
  next_[slot] = kNoSlot;
  (tail_ == kNoSlot ? head_ : next_[tail_]) = slot;
  tail_ = slot;
  ++free_count_;
}

bool SlotAllocator::is_used(SlotIndex slot) const {
  check_index(slot, "query");
  return used_[slot] != 0;
}

}  // namespace kvtier
