// Which slots of one tier are in use: a fixed number of slots, O(1) allocate / free / claim through
// a FIFO free list (a freed slot is handed out again as late as possible, which keeps a slot freed
// by one planned move from being the destination of the next), occupancy statistics. Metadata only:
// it never touches memory, so it serves tiers without a host-visible allocation (the disk tier) and
// tests as well as SlotPool's tiers.
//
// Threading: not thread-safe; one owner thread (in kvtier, the BlockManager's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvtier/block/tier.h"

namespace kvtier {

class SlotAllocator {
 public:
  // Largest accepted capacity (SlotIndex values up to it stay distinct from kNoSlot).
  static constexpr SlotIndex kMaxCapacity = kNoSlot - 1;

  // `capacity` slots, all free. Throws InvalidArgument for 0 or more than kMaxCapacity. `tier`
  // only names the tier in messages.
  explicit SlotAllocator(SlotIndex capacity, Tier tier = Tier::kGpu);

  // A free slot; the lowest indices come first on a fresh allocator. Throws OutOfMemory when all
  // slots are in use.
  SlotIndex allocate();
  // n free slots, in the order allocate() would hand them out; all or nothing. Throws OutOfMemory
  // naming the tier, what was asked for and what is free when fewer than n are free.
  std::vector<SlotIndex> allocate(std::size_t n);
  // Marks a specific free slot as used (e.g. a disk slot found in a persistent catalog at start).
  // Throws InvalidArgument when `slot` is out of range or already in use.
  void claim(SlotIndex slot);
  // Returns a used slot. Throws InvalidArgument when `slot` is out of range or not in use (double
  // free).
  void free(SlotIndex slot);

  bool is_used(SlotIndex slot) const;  // InvalidArgument when out of range
  Tier tier() const { return tier_; }
  SlotIndex capacity() const { return static_cast<SlotIndex>(used_.size()); }
  SlotIndex used() const { return capacity() - free_count_; }
  SlotIndex available() const { return free_count_; }
  SlotIndex peak_used() const { return peak_; }
  double occupancy() const { return static_cast<double>(used()) / capacity(); }

 private:
  void check_index(SlotIndex slot, const char* what) const;
  void take(SlotIndex slot);  // unlinks a free `slot` from the free list

  Tier tier_;
  std::vector<std::uint8_t> used_;  // [capacity] 1 = in use
  // Doubly linked free list over slot indices (kNoSlot ends it): allocate() takes the head,
  // free() appends at the tail, claim() unlinks from anywhere.
  std::vector<SlotIndex> next_, prev_;  // [capacity]
  SlotIndex head_ = kNoSlot, tail_ = kNoSlot;
  SlotIndex free_count_ = 0;
  SlotIndex peak_ = 0;
};

}  // namespace kvtier
