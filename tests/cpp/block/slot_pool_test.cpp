#include "kvtier/block/slot_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "kvtier/core/error.h"

namespace kvtier {
namespace {

TEST(SlotPool, CarvesOneAllocationIntoSlotsAndLayers) {
  auto backend = make_backend(BackendChoice::kCpu);
  const Geometry g = preset("tiny");
  SlotPool pool(*backend, Tier::kGpu, g, 6);
  EXPECT_EQ(pool.slots(), 6u);
  EXPECT_EQ(pool.slot_bytes(), g.slot_bytes());
  EXPECT_EQ(pool.bytes(), 6 * g.slot_bytes());
  EXPECT_EQ(pool.buffer().kind(), MemoryKind::kDevice);
  EXPECT_GE(pool.allocation_seconds(), 0.0);
  for (SlotIndex i = 0; i < 6; ++i) {
    EXPECT_EQ(pool.slot_address(i), pool.base() + i * g.slot_bytes());
    EXPECT_EQ(pool.slot_address(SlotRef{Tier::kGpu, i}), pool.slot_address(i));
    for (int l = 0; l < g.layers; ++l) {
      EXPECT_EQ(pool.layer_address(i, l), pool.slot_address(i) + l * g.layer_bytes());
    }
    EXPECT_EQ(pool.element_address(i, 1, 1, 1, 3), pool.slot_address(i) + g.offset(1, 1, 1, 3));
  }
  // Every slot is usable memory of its own: write each fully, read back (ASan checks bounds).
  for (SlotIndex i = 0; i < 6; ++i) std::memset(pool.slot_address(i), int(i + 1), g.slot_bytes());
  for (SlotIndex i = 0; i < 6; ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(pool.slot_address(i));
    EXPECT_EQ(p[0], i + 1);
    EXPECT_EQ(p[g.slot_bytes() - 1], i + 1);
  }
  // The last element of the last slot ends exactly at the end of the allocation.
  const std::byte* last =
      pool.element_address(5, g.layers - 1, 1, g.kv_heads - 1, g.block_tokens - 1);
  EXPECT_EQ(last + g.head_dim * g.elem_bytes(), pool.base() + pool.bytes());
}

TEST(SlotPool, HostTierIsPinned) {
  auto backend = make_backend(BackendChoice::kCpu);
  SlotPool pool(*backend, Tier::kHost, preset("tiny"), 2);
  EXPECT_EQ(pool.buffer().kind(), MemoryKind::kPinnedHost);
  EXPECT_EQ(memory_kind_of(Tier::kGpu), MemoryKind::kDevice);
}

TEST(SlotPool, RejectsBadInput) {
  auto backend = make_backend(BackendChoice::kCpu);
  const Geometry g = preset("tiny");
  EXPECT_THROW(SlotPool(*backend, Tier::kGpu, g, 0), InvalidArgument);
  EXPECT_THROW(SlotPool(*backend, Tier::kDisk, g, 4), InvalidArgument);
  Geometry bad = g;
  bad.layers = 0;
  EXPECT_THROW(SlotPool(*backend, Tier::kGpu, bad, 4), InvalidArgument);
  SlotPool pool(*backend, Tier::kGpu, g, 2);
  try {
    (void)pool.slot_address(2);
    FAIL() << "slot 2 of 2 accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("slot 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)pool.layer_address(0, g.layers), InvalidArgument);
  EXPECT_THROW((void)pool.element_address(0, 0, 2, 0, 0), InvalidArgument);
  EXPECT_THROW((void)pool.element_address(0, 0, 0, g.kv_heads, 0), InvalidArgument);
  EXPECT_THROW((void)pool.element_address(0, 0, 0, 0, g.block_tokens), InvalidArgument);
  EXPECT_THROW((void)pool.slot_address(SlotRef{Tier::kHost, 0}), InvalidArgument);
}

TEST(SlotPool, BudgetsInBytesBecomeSlots) {
  const Geometry g = preset("llama-3.1-8b");  // 2 MiB a slot
  EXPECT_EQ(g.slot_bytes(), 2u << 20);
  EXPECT_EQ(slots_in_size("8GiB", g), 4096u);
  EXPECT_EQ(slots_in_bytes((5u << 20) + 7, g), 2u);
  try {
    slots_in_size("1MiB", g);
    FAIL() << "a budget below one block accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("smaller than one block"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1.00 MiB"), std::string::npos) << e.what();
  }
  EXPECT_THROW(slots_in_size("0", g), InvalidArgument);
  EXPECT_THROW(slots_in_size("12 parsecs", g), InvalidArgument);
}

}  // namespace
}  // namespace kvtier
