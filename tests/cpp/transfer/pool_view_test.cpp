#include "kvtier/transfer/pool_view.h"

#include <gtest/gtest.h>

#include "kvtier/core/error.h"

namespace kvtier {
namespace {

TEST(PoolView, DescribesASlotPool) {
  auto b = make_backend(BackendChoice::kCpu);
  const Geometry g = preset("tiny");
  const SlotPool pool(*b, Tier::kHost, g, 4);
  const PoolView v = view_of(pool);
  EXPECT_EQ(v.tier, Tier::kHost);
  EXPECT_EQ(v.kind, MemoryKind::kPinnedHost);
  EXPECT_EQ(v.slots, 4u);
  EXPECT_EQ(v.bytes(), pool.bytes());
  EXPECT_EQ(v.slot(3), pool.slot_address(3));
  EXPECT_FALSE(v.owned);  // the block manager knows which slots hold blocks
}

TEST(PoolView, OwnershipFollowsTheAllocator) {
  auto b = make_backend(BackendChoice::kCpu);
  const SlotPool pool(*b, Tier::kGpu, preset("tiny"), 4);
  SlotAllocator used(4, Tier::kGpu);
  const PoolView v = view_of(pool, used);
  used.claim(2);
  EXPECT_TRUE(v.owned(2));
  EXPECT_FALSE(v.owned(1));
  used.free(2);
  EXPECT_FALSE(v.owned(2));
  EXPECT_THROW(view_of(pool, SlotAllocator(5, Tier::kGpu)), InvalidArgument);
  EXPECT_THROW(view_of(pool, SlotAllocator(4, Tier::kHost)), InvalidArgument);
}

}  // namespace
}  // namespace kvtier
