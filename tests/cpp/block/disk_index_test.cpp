// The disk tier through the DiskIndex interface, with the memory-backed stand-in: publication of
// full blocks, restart reuse by prefix, foreign models, bad catalogs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "block_test_util.h"
#include "in_memory_disk_index_for_tests.h"
#include "kvtier/block/block_manager.h"
#include "kvtier/core/error.h"

namespace kvtier::testing {
namespace {

using ::testing::HasSubstr;
constexpr Tier G = Tier::kGpu, H = Tier::kHost, D = Tier::kDisk;

TEST(DiskIndex, FullBlocksOnDiskArePublishedAndRemoved) {
  InMemoryDiskIndexForTests disk;
  auto cfg = test_config(4, 0, 8, 1, 1);
  cfg.budget = {2, 0, 0};
  BlockManager m(cfg, nullptr, &disk);
  const SeqId a = m.create(iota_tokens(14)).seq;  // blocks 0,1,2 full, 3 partial
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, D, D, G}));
  const BlockTable t = m.block_table(a);
  ASSERT_EQ(disk.by_slot().size(), 2u);
  EXPECT_EQ(disk.by_slot().at(t.blocks[1].where.slot), m.block_info(t.blocks[1].block).hash);
  EXPECT_EQ(disk.by_slot().at(t.blocks[2].where.slot), m.block_info(t.blocks[2].block).hash);
  m.set_budget(G, 4);
  m.promote(a);  // off the disk: the catalog forgets them
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, G, G, G}));
  EXPECT_TRUE(disk.by_slot().empty());
  EXPECT_EQ(disk.removes, 2);
}

TEST(DiskIndex, PromoteBringsDiskBlocksToFreeHostBudgetAfterTheGpu) {
  InMemoryDiskIndexForTests disk;
  auto cfg = test_config(2, 3, 8, 1, 1);
  cfg.budget = {2, 1, 0};
  BlockManager m(cfg, nullptr, &disk);
  const SeqId a = m.create(iota_tokens(24)).seq;  // 6 blocks: 2 on the GPU, 1 on the host
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, D, D, D, H, G}));
  m.set_budget(H, 3);
  (void)m.take_plan();
  m.promote(a);  // the GPU is full of sink and window; the host takes two more, newest first
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, D, H, H, H, G}));
  for (const SlotMove& mv : m.take_plan()) {
    EXPECT_EQ(mv.from.tier, D);
    EXPECT_EQ(mv.to.tier, H);
  }
}

TEST(DiskIndex, APartialBlockIsPublishedWhenItFillsOnDisk) {
  InMemoryDiskIndexForTests disk;
  BlockManager m(test_config(1, 0, 8, 0, 0), nullptr, &disk);  // no sink, no window
  const SeqId a = m.create(iota_tokens(2)).seq;
  const SeqId b = m.create(iota_tokens(1, 50)).seq;  // a's partial block goes to disk
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{D}));
  EXPECT_TRUE(disk.by_slot().empty()) << "partial blocks have no identity yet";
  m.append(a, iota_tokens(2, 2));  // fills it where it is
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{D}));
  ASSERT_EQ(disk.by_slot().size(), 1u);
  EXPECT_EQ(disk.by_slot().begin()->second,
            block_hash(m.root_hash(), std::vector<TokenId>{0, 1, 2, 3}));
  (void)b;
}

TEST(DiskIndex, ARestartedManagerReusesPrefixBlocksFromDisk) {
  InMemoryDiskIndexForTests disk;
  const auto doc = iota_tokens(18, 7);  // 4 full blocks + 2 tokens
  std::vector<Hash128> hashes;
  {
    BlockManager m(test_config(4, 0, 8, 0, 1), nullptr, &disk);
    const SeqId a = m.create(doc).seq;
    m.set_budget(G, 1);  // everything but the last (partial) block goes to disk
    EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{D, D, D, D, G}));
    for (int i = 0; i < 4; ++i)
      hashes.push_back(m.block_info(m.block_table(a).blocks[i].block).hash);
  }
  ASSERT_EQ(disk.by_slot().size(), 4u);
  BlockManager m(test_config(4, 0, 8, 0, 1), nullptr, &disk);
  EXPECT_EQ(m.stats().tiers[2].cached, 4u);
  auto prompt = iota_tokens(13, 7);  // 3 full blocks of doc + 1 token
  const auto c = m.create(prompt);
  EXPECT_EQ(c.reused_tokens, 12u);
  const BlockTable t = m.block_table(c.seq);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(m.block_info(t.blocks[i].block).hash, hashes[i]);
  EXPECT_EQ(m.stats().prefix_blocks_reused, 3u);
}

TEST(DiskIndex, AnotherModelNeverMatches) {
  InMemoryDiskIndexForTests disk;
  const auto doc = iota_tokens(16);
  {
    BlockManager m(test_config(4, 0, 8, 0, 1), nullptr, &disk);
    m.create(doc);
    m.set_budget(G, 1);
  }
  ASSERT_EQ(disk.by_slot().size(), 3u);
  auto cfg = test_config(4, 0, 8, 0, 1);
  cfg.geometry.name = "another-model";  // same shapes, different weights
  BlockManager m(cfg, nullptr, &disk);
  EXPECT_EQ(m.create(doc).reused_tokens, 0u);
  cfg.geometry = test_geometry();
  cfg.geometry.dtype = DType::kF16;
  InMemoryDiskIndexForTests copy = disk;
  BlockManager m2(cfg, nullptr, &copy);
  EXPECT_EQ(m2.create(doc).reused_tokens, 0u);
}

TEST(DiskIndex, ACatalogLargerThanTheBudgetLosesEntries) {
  InMemoryDiskIndexForTests disk;
  for (SlotIndex s = 0; s < 6; ++s) disk.put_for_tests(s, Hash128{s, 1});
  auto cfg = test_config(2, 0, 8);
  cfg.budget = {0, 0, 4};
  BlockManager m(cfg, nullptr, &disk);
  EXPECT_EQ(m.stats().tiers[2].used, 4u);
  EXPECT_EQ(disk.by_slot().size(), 4u);
  EXPECT_EQ(disk.removes, 2);
}

TEST(DiskIndex, BadCatalogsAreRejected) {
  InMemoryDiskIndexForTests disk;
  disk.put_for_tests(9, Hash128{1, 2});
  EXPECT_THAT(error_of([&] { BlockManager m(test_config(2, 0, 8), nullptr, &disk); }),
              HasSubstr("disk slot 9; expected a slot below the disk capacity of 8"));
  EXPECT_THROW(BlockManager(test_config(2, 0, 8), nullptr, &disk), Corruption);
  InMemoryDiskIndexForTests ok;
  EXPECT_THAT(error_of([&] { BlockManager m(test_config(2, 4, 0), nullptr, &ok); }),
              HasSubstr("disk capacity is 0"));
}

}  // namespace
}  // namespace kvtier::testing
