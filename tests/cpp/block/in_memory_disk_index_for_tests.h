// A memory-backed stand-in for the disk store's persistent catalog, for tests only: it keeps the
// (hash, slot) entries in a map, so it "survives" a BlockManager restart as long as the object
// lives. It checks the protocol: a slot is published at most once, removals match publications.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "kvtier/block/disk_index.h"

namespace kvtier {

class InMemoryDiskIndexForTests final : public DiskIndex {
 public:
  std::vector<Entry> entries() const override {
    std::vector<Entry> out;
    for (const auto& [slot, hash] : by_slot_) out.push_back(Entry{hash, slot});
    return out;
  }
  void publish(const Hash128& hash, SlotIndex slot) override {
    EXPECT_FALSE(by_slot_.contains(slot)) << "disk slot " << slot << " published twice";
    by_slot_[slot] = hash;
    ++publishes;
  }
  void remove(const Hash128& hash, SlotIndex slot) override {
    auto it = by_slot_.find(slot);
    ASSERT_TRUE(it != by_slot_.end()) << "remove of unpublished disk slot " << slot;
    EXPECT_EQ(it->second, hash) << "remove of disk slot " << slot << " with another hash";
    by_slot_.erase(it);
    ++removes;
  }
  const std::map<SlotIndex, Hash128>& by_slot() const { return by_slot_; }
  void put_for_tests(SlotIndex slot, const Hash128& hash) { by_slot_[slot] = hash; }

  int publishes = 0;
  int removes = 0;

 private:
  std::map<SlotIndex, Hash128> by_slot_;
};

}  // namespace kvtier
