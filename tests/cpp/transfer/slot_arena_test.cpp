#include "kvtier/transfer/slot_arena.h"

#include <gtest/gtest.h>

#include "kvtier/core/error.h"

namespace kvtier {
namespace {

TEST(SlotArena, AllocateReleaseAndExhaustion) {
  auto b = make_backend(BackendChoice::kCpu);
  SlotArena p(*b, Tier::kHost, MemoryKind::kPinnedHost, 4096, 8);
  EXPECT_EQ(p.bytes(), 8u * 4096);
  EXPECT_GE(p.allocation_seconds(), 0.0);
  EXPECT_EQ(p.slot(3) - p.base(), 3 * 4096);
  auto a = p.allocate(5);
  ASSERT_EQ(a.size(), 5u);
  for (SlotIndex s : a) EXPECT_TRUE(p.owned(s));
  EXPECT_EQ(p.free_slots(), 3u);
  try {
    p.allocate(4);
    ADD_FAILURE() << "no error for an exhausted pool";
  } catch (const OutOfMemory& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("exhausted"), std::string::npos) << m;
    EXPECT_NE(m.find("4 slots asked for, 3 of 8 free"), std::string::npos) << m;
  }
  EXPECT_EQ(p.free_slots(), 3u);  // nothing taken by the failed call
  p.release(std::vector<SlotIndex>{a[0], a[1]});
  EXPECT_FALSE(p.owned(a[0]));
  EXPECT_EQ(p.free_slots(), 5u);
  EXPECT_THROW(p.release(std::vector<SlotIndex>{a[0]}), InvalidArgument);
  EXPECT_EQ(p.allocate(5).size(), 5u);
  EXPECT_EQ(p.free_slots(), 0u);
}

TEST(SlotArena, AllocateExactIsAllOrNothing) {
  auto b = make_backend(BackendChoice::kCpu);
  SlotArena p(*b, Tier::kGpu, MemoryKind::kDevice, 64, 4);
  p.allocate_exact(std::vector<SlotIndex>{2});
  EXPECT_THROW(p.allocate_exact(std::vector<SlotIndex>{0, 1, 2}), InvalidArgument);
  EXPECT_FALSE(p.owned(0));
  EXPECT_FALSE(p.owned(1));
  EXPECT_THROW(p.allocate_exact(std::vector<SlotIndex>{4}), InvalidArgument);
  EXPECT_EQ(p.free_slots(), 3u);
  const PoolView v = p.view();
  EXPECT_TRUE(v.owned(2));
  EXPECT_FALSE(v.owned(1));
  EXPECT_EQ(v.slots, 4u);
}

TEST(SlotArena, Budgets) {
  EXPECT_EQ(SlotArena::slots_in_budget(2 << 20, std::uint64_t{32} << 30), 16384u);
  EXPECT_THROW(SlotArena::slots_in_budget(2 << 20, 1 << 20), InvalidArgument);
  auto b = make_backend(BackendChoice::kCpu);
  EXPECT_THROW(SlotArena(*b, Tier::kHost, MemoryKind::kHost, 0, 4), InvalidArgument);
}

}  // namespace
}  // namespace kvtier
