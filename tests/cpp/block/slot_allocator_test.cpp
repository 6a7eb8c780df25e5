#include "kvtier/block/slot_allocator.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "kvtier/core/error.h"

namespace kvtier {
namespace {

TEST(SlotAllocator, HandsOutEverySlotOnceThenOutOfMemory) {
  SlotAllocator a(5, Tier::kHost);
  EXPECT_EQ(a.capacity(), 5u);
  std::set<SlotIndex> got;
  for (int i = 0; i < 5; ++i) got.insert(a.allocate());
  EXPECT_EQ(got, (std::set<SlotIndex>{0, 1, 2, 3, 4}));
  EXPECT_EQ(a.used(), 5u);
  EXPECT_EQ(a.available(), 0u);
  EXPECT_DOUBLE_EQ(a.occupancy(), 1.0);
  try {
    a.allocate();
    FAIL() << "allocated from a full allocator";
  } catch (const OutOfMemory& e) {
    EXPECT_NE(std::string(e.what()).find("host"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("5 slots"), std::string::npos) << e.what();
  }
}

TEST(SlotAllocator, BulkAllocateIsAllOrNothing) {
  SlotAllocator a(8, Tier::kHost);
  const std::vector<SlotIndex> first = a.allocate(std::size_t{5});
  EXPECT_EQ(first, (std::vector<SlotIndex>{0, 1, 2, 3, 4}));
  try {
    a.allocate(std::size_t{4});
    FAIL() << "allocated 4 slots with 3 free";
  } catch (const OutOfMemory& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("host"), std::string::npos) << m;
    EXPECT_NE(m.find("exhausted: 4 slots asked for, 3 of 8 free"), std::string::npos) << m;
    EXPECT_NE(m.find("fixed at start"), std::string::npos) << m;
  }
  EXPECT_EQ(a.available(), 3u);  // nothing taken by the failed call
  a.free(first[1]);
  EXPECT_EQ(a.allocate(std::size_t{4}), (std::vector<SlotIndex>{5, 6, 7, 1}));  // FIFO order
  EXPECT_EQ(a.available(), 0u);
  EXPECT_TRUE(a.allocate(std::size_t{0}).empty());
}

TEST(SlotAllocator, FreedSlotsComeBackLastFifo) {
  SlotAllocator a(4);
  for (int i = 0; i < 3; ++i) a.allocate();  // 0 1 2; free list: 3
  a.free(1);                                 // free list: 3 1
  a.free(0);                                 // free list: 3 1 0
  EXPECT_EQ(a.allocate(), 3u);
  EXPECT_EQ(a.allocate(), 1u);
  EXPECT_EQ(a.allocate(), 0u);
  EXPECT_EQ(a.peak_used(), 4u);
  EXPECT_EQ(a.used(), 4u);
}

TEST(SlotAllocator, ClaimTakesASpecificSlot) {
  SlotAllocator a(4, Tier::kDisk);
  a.claim(2);
  EXPECT_TRUE(a.is_used(2));
  EXPECT_FALSE(a.is_used(0));
  EXPECT_EQ(a.allocate(), 0u);
  EXPECT_EQ(a.allocate(), 1u);
  EXPECT_EQ(a.allocate(), 3u);
  EXPECT_THROW(a.allocate(), OutOfMemory);
  a.free(2);
  EXPECT_EQ(a.allocate(), 2u);
}

TEST(SlotAllocator, RejectsBadInputNamingTheValue) {
  EXPECT_THROW(SlotAllocator{0}, InvalidArgument);
  EXPECT_THROW(SlotAllocator{kNoSlot}, InvalidArgument);
  SlotAllocator a(3, Tier::kGpu);
  const SlotIndex s = a.allocate();
  a.free(s);
  try {
    a.free(s);
    FAIL() << "double free accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("double free"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("slot 0"), std::string::npos) << e.what();
  }
  try {
    a.free(7);
    FAIL() << "out-of-range free accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("slot 7"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("below 3"), std::string::npos) << e.what();
  }
  a.claim(1);
  EXPECT_THROW(a.claim(1), InvalidArgument);
  EXPECT_THROW(a.claim(3), InvalidArgument);
  EXPECT_THROW((void)a.is_used(3), InvalidArgument);
}

TEST(SlotAllocator, StaysConsistentUnderRandomUse) {
  SlotAllocator a(64);
  std::set<SlotIndex> held;
  std::uint64_t x = 12345;
  for (int i = 0; i < 20000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const int r = static_cast<int>((x >> 33) % 3);
    if (r == 0 && !held.empty()) {
      auto it = held.begin();
      std::advance(it, (x >> 40) % held.size());
      a.free(*it);
      held.erase(it);
    } else if (r == 1 && held.size() < 64) {
      const SlotIndex s = static_cast<SlotIndex>((x >> 20) % 64);
      if (!held.contains(s)) {
        a.claim(s);
        held.insert(s);
      }
    } else if (held.size() < 64) {
      const SlotIndex s = a.allocate();
      ASSERT_FALSE(held.contains(s)) << "slot " << s << " handed out twice";
      held.insert(s);
    }
    ASSERT_EQ(a.used(), held.size());
  }
}

}  // namespace
}  // namespace kvtier
