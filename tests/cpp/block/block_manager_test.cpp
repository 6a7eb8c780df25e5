// Unit tests of BlockManager sequence operations: blocks as they fill, prefix hashes and reuse,
// fork, free, tables, statistics, bad input.
#include "kvtier/block/block_manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "block_test_util.h"
#include "kvtier/core/error.h"

namespace kvtier::testing {
namespace {

using ::testing::HasSubstr;

TEST(BlockManager, AllocatesBlocksAsTokensArrive) {
  BlockManager m(test_config(8, 0, 0));
  const SeqId s = m.create().seq;
  EXPECT_TRUE(m.block_table(s).blocks.empty());
  EXPECT_EQ(m.block_table(s).last_block_tokens, 0u);
  m.append(s, iota_tokens(1));
  BlockTable t = m.block_table(s);
  ASSERT_EQ(t.blocks.size(), 1u);
  EXPECT_EQ(t.last_block_tokens, 1u);
  EXPECT_FALSE(m.block_info(t.blocks[0].block).full);
  m.append(s, iota_tokens(3, 1));
  t = m.block_table(s);
  ASSERT_EQ(t.blocks.size(), 1u);  // a full block, no empty one after it
  EXPECT_EQ(t.last_block_tokens, 4u);
  EXPECT_TRUE(m.block_info(t.blocks[0].block).full);
  m.append(s, iota_tokens(5, 4));
  t = m.block_table(s);
  EXPECT_EQ(t.tokens, 9u);
  ASSERT_EQ(t.blocks.size(), 3u);
  EXPECT_EQ(t.last_block_tokens, 1u);
  for (const auto& e : t.blocks) EXPECT_EQ(e.where.tier, Tier::kGpu);
  EXPECT_TRUE(m.take_plan().empty()) << "new blocks are placed, not moved";
}

TEST(BlockManager, DiskKeysNameFullBlocksByHashAndPartialBlocksUniquely) {
  BlockManager m(test_config(4, 16, 0));
  const SeqId s = m.create(iota_tokens(22, 50)).seq;  // 5 full blocks and a partial one
  const SeqId f = m.fork(s);                            // copies the partial block
  std::vector<SlotMove> plan = m.take_plan();
  ASSERT_FALSE(plan.empty());
  for (const SlotMove& mv : plan) {
    EXPECT_EQ(mv.key, m.disk_key(mv.block));
    EXPECT_EQ(mv.tokens, m.block_info(mv.block).tokens);
  }
  std::vector<Hash128> partial_keys;
  for (SeqId q : {s, f}) {
    const BlockTable t = m.block_table(q);
    for (const BlockTableEntry& e : t.blocks) {
      const BlockInfo info = m.block_info(e.block);
      EXPECT_EQ(e.key, m.disk_key(e.block));
      if (info.full) {
        EXPECT_EQ(e.key, info.hash);
      } else {
        partial_keys.push_back(e.key);
      }
    }
  }
  ASSERT_EQ(partial_keys.size(), 2u);
  EXPECT_NE(partial_keys[0], partial_keys[1]) << "a forked partial block is another block";
  for (const Hash128& k : partial_keys) EXPECT_FALSE(m.find_cached(k).has_value());
  EXPECT_THROW(m.disk_key(999999), InvalidArgument);
}

TEST(BlockManager, FullBlocksCarryChainedHashesSeededWithTheModel) {
  BlockManager m(test_config(8, 0, 0));
  const auto toks = iota_tokens(10, 100);
  const SeqId s = m.create(toks).seq;
  const BlockTable t = m.block_table(s);
  const Hash128 root = test_geometry().fingerprint();
  EXPECT_EQ(m.root_hash(), root);
  const Hash128 h0 = hash128(toks.data(), 4 * sizeof(TokenId), root);
  const Hash128 h1 = hash128(toks.data() + 4, 4 * sizeof(TokenId), h0);
  EXPECT_EQ(m.block_info(t.blocks[0].block).hash, h0);
  EXPECT_EQ(m.block_info(t.blocks[1].block).hash, h1);
  EXPECT_FALSE(m.block_info(t.blocks[2].block).full);
  // The same tokens after a different first block hash differently (the chain).
  auto other = toks;
  other[0] = 7;
  const SeqId s2 = m.create(other).seq;
  EXPECT_NE(m.block_info(m.block_table(s2).blocks[1].block).hash, h1);
  // Another model's root never matches.
  Geometry g2 = test_geometry();
  g2.name = "another-model";
  EXPECT_NE(g2.fingerprint(), root);
}

TEST(BlockManager, CreateReusesEveryMatchingLeadingFullBlock) {
  BlockManager m(test_config(16, 0, 0));
  const auto doc = iota_tokens(14, 1);
  const SeqId a = m.create(doc).seq;  // 3 full blocks + 2 tokens
  auto prompt = iota_tokens(9, 1);    // 2 full blocks of doc + 1 token
  prompt.push_back(999);
  const auto c = m.create(prompt);
  EXPECT_EQ(c.reused_tokens, 8u);
  const BlockTable ta = m.block_table(a), tb = m.block_table(c.seq);
  ASSERT_EQ(tb.blocks.size(), 3u);
  EXPECT_EQ(tb.blocks[0].block, ta.blocks[0].block);
  EXPECT_EQ(tb.blocks[1].block, ta.blocks[1].block);
  EXPECT_NE(tb.blocks[2].block, ta.blocks[2].block);
  EXPECT_EQ(m.block_info(ta.blocks[0].block).refs, 2u);
  EXPECT_EQ(m.block_info(ta.blocks[2].block).refs, 1u);
  // A prompt that differs in the first block reuses nothing, even if later blocks agree.
  auto shifted = doc;
  shifted[0] = -1;
  EXPECT_EQ(m.create(shifted).reused_tokens, 0u);
  const BlockManagerStats st = m.stats();
  EXPECT_EQ(st.prefix_blocks_looked_up, 3u + 2u + 3u);
  EXPECT_EQ(st.prefix_blocks_reused, 2u);
  EXPECT_DOUBLE_EQ(st.prefix_hit_rate, 2.0 / 8.0);
}

TEST(BlockManager, FreedSequencesLeaveFullBlocksCachedForReuse) {
  BlockManager m(test_config(8, 0, 0));
  const auto doc = iota_tokens(10, 50);
  const SeqId a = m.create(doc).seq;
  const BlockTable ta = m.block_table(a);
  m.free(a);
  EXPECT_FALSE(m.is_live(a));
  EXPECT_EQ(m.block_info(ta.blocks[0].block).refs, 0u);  // cached
  EXPECT_EQ(m.block_info(ta.blocks[1].block).refs, 0u);
  EXPECT_THROW(m.block_info(ta.blocks[2].block), InvalidArgument);  // partial: dropped
  EXPECT_EQ(m.stats().tiers[0].cached, 2u);
  const auto c = m.create(doc);
  EXPECT_EQ(c.reused_tokens, 8u);
  EXPECT_EQ(m.block_table(c.seq).blocks[1].block, ta.blocks[1].block);
  EXPECT_EQ(m.stats().tiers[0].cached, 0u);
}

TEST(BlockManager, DuplicateFullBlocksAreNotCachedTwice) {
  BlockManager m(test_config(8, 0, 0));
  const SeqId a = m.create().seq, b = m.create().seq;
  m.append(a, iota_tokens(4));
  m.append(b, iota_tokens(4));  // same prefix, computed twice
  const BlockId ba = m.block_table(a).blocks[0].block, bb = m.block_table(b).blocks[0].block;
  EXPECT_NE(ba, bb);
  EXPECT_EQ(m.block_info(ba).hash, m.block_info(bb).hash);
  m.free(a);
  m.free(b);
  EXPECT_EQ(m.resident_blocks().size(), 1u);
  EXPECT_EQ(m.stats().cached_blocks, 1u);
}

TEST(BlockManager, ForkSharesFullBlocksAndCopiesThePartialOne) {
  BlockManager m(test_config(8, 0, 0));
  const SeqId p = m.create(iota_tokens(6)).seq;
  (void)m.take_plan();
  const SeqId c = m.fork(p);
  const BlockTable tp = m.block_table(p), tc = m.block_table(c);
  ASSERT_EQ(tc.blocks.size(), 2u);
  EXPECT_EQ(tc.tokens, 6u);
  EXPECT_EQ(tc.blocks[0].block, tp.blocks[0].block);
  EXPECT_EQ(m.block_info(tp.blocks[0].block).refs, 2u);
  EXPECT_NE(tc.blocks[1].block, tp.blocks[1].block);
  EXPECT_EQ(tc.last_block_tokens, 2u);
  const auto plan = m.take_plan();
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, SlotMove::Kind::kCopy);
  EXPECT_EQ(plan[0].block, tc.blocks[1].block);
  EXPECT_EQ(plan[0].from, tp.blocks[1].where);
  EXPECT_EQ(plan[0].to, tc.blocks[1].where);
  // Both append independently; their second blocks then hash differently.
  m.append(p, std::vector<TokenId>{1, 2});
  m.append(c, std::vector<TokenId>{3, 4});
  EXPECT_NE(m.block_info(m.block_table(p).blocks[1].block).hash,
            m.block_info(m.block_table(c).blocks[1].block).hash);
  // The child's first block hash is the parent's: the chain carried over.
  auto expect = iota_tokens(6);
  expect.push_back(3);
  expect.push_back(4);
  const Hash128 h0 = block_hash(m.root_hash(), std::span(expect).subspan(0, 4));
  EXPECT_EQ(m.block_info(m.block_table(c).blocks[1].block).hash,
            block_hash(h0, std::span(expect).subspan(4, 4)));
  m.free(p);
  EXPECT_EQ(m.block_info(tc.blocks[0].block).refs, 1u);
}

TEST(BlockManager, ForkOfABlockAlignedSequenceCopiesNothing) {
  BlockManager m(test_config(8, 0, 0));
  const SeqId p = m.create(iota_tokens(8)).seq;
  (void)m.take_plan();
  const SeqId c = m.fork(p);
  EXPECT_TRUE(m.take_plan().empty());
  EXPECT_EQ(m.block_table(c).blocks.size(), 2u);
  m.append(c, iota_tokens(1));
  EXPECT_EQ(m.block_table(c).blocks.size(), 3u);
  EXPECT_EQ(m.block_table(p).blocks.size(), 2u);
}

TEST(BlockManager, TablesHavePerTierViews) {
  auto cfg = test_config(3, 8, 0);
  BlockManager m(cfg);
  const SeqId s = m.create(iota_tokens(18)).seq;  // 5 blocks, gpu holds 3
  const BlockTable t = m.block_table(s);
  ASSERT_EQ(t.blocks.size(), 5u);
  std::size_t n = 0;
  for (Tier tier : {Tier::kGpu, Tier::kHost, Tier::kDisk}) {
    const TierBlocks& v = t.tier(tier);
    ASSERT_EQ(v.positions.size(), v.slots.size());
    for (std::size_t i = 0; i < v.positions.size(); ++i) {
      EXPECT_EQ(t.blocks[v.positions[i]].where, (SlotRef{tier, v.slots[i]}));
      if (i) {
        EXPECT_LT(v.positions[i - 1], v.positions[i]);
      }
    }
    n += v.positions.size();
  }
  EXPECT_EQ(n, 5u);
  // Sink and window first, then the first middle block; the other new blocks start on the host
  // (no plan moves blocks that hold no data yet).
  EXPECT_EQ(t.tier(Tier::kGpu).positions, (std::vector<std::uint32_t>{0, 1, 4}));
  EXPECT_EQ(t.tier(Tier::kHost).positions, (std::vector<std::uint32_t>{2, 3}));
  EXPECT_TRUE(m.take_plan().empty());
}

TEST(BlockManager, MeasuresInternalFragmentation) {
  BlockManager m(test_config(16, 0, 0));
  m.create(iota_tokens(1));
  m.create(iota_tokens(5, 10));
  m.create(iota_tokens(8, 20));
  const BlockManagerStats st = m.stats();
  EXPECT_EQ(st.sequences, 3u);
  EXPECT_EQ(st.live_blocks, 5u);
  EXPECT_EQ(st.allocated_tokens, 20u);
  EXPECT_EQ(st.unused_tokens, 3u + 3u);
  EXPECT_DOUBLE_EQ(st.internal_fragmentation, 6.0 / 20.0);
  EXPECT_EQ(st.tiers[0].used, 5u);
  EXPECT_EQ(st.tiers[0].capacity, 16u);
  EXPECT_DOUBLE_EQ(st.tiers[0].occupancy(), 5.0 / 16.0);
  EXPECT_FALSE(st.tiers[1].present);
}

TEST(BlockManager, RejectsBadConfigurationNamingTheValue) {
  auto cfg = test_config(0, 4, 0);
  EXPECT_THAT(error_of([&] { BlockManager m(cfg); }), HasSubstr("gpu capacity 0"));
  cfg = test_config(4, 4, 0);
  cfg.budget = {5, 0, 0};
  EXPECT_THAT(error_of([&] { BlockManager m(cfg); }), HasSubstr("gpu budget 5"));
  cfg.budget = {0, 0, 3};
  EXPECT_THAT(error_of([&] { BlockManager m(cfg); }), HasSubstr("disk budget 3"));
  cfg = test_config(4, 0, 0, 2, 3);
  EXPECT_THAT(error_of([&] { BlockManager m(cfg); }),
              HasSubstr("sink_blocks + window_blocks = 5 exceeds the gpu budget of 4"));
  cfg = test_config(4, 0, 0);
  cfg.geometry.head_dim = 0;
  EXPECT_THAT(error_of([&] { BlockManager m(cfg); }), HasSubstr("head_dim = 0"));
  EXPECT_THROW(BlockManager(test_config(4, 0, 0, 2, 3)), InvalidArgument);
}

TEST(BlockManager, RejectsBadOperationsNamingTheValue) {
  BlockManager m(test_config(4, 4, 0));
  const SeqId s = m.create(iota_tokens(3)).seq;
  m.free(s);
  const std::vector<TokenId> one{1};
  EXPECT_THAT(error_of([&] { m.append(s, one); }),
              HasSubstr("append: sequence 1 was freed; expected a live sequence"));
  EXPECT_THAT(error_of([&] { m.fork(s); }), HasSubstr("fork: sequence 1 was freed"));
  EXPECT_THAT(error_of([&] { m.free(s); }), HasSubstr("free: sequence 1 was freed"));
  EXPECT_THAT(error_of([&] { m.promote(s); }), HasSubstr("promote: sequence 1 was freed"));
  EXPECT_THAT(error_of([&] { m.block_table(s); }), HasSubstr("sequence 1 was freed"));
  EXPECT_THAT(error_of([&] { m.append(42, one); }), HasSubstr("unknown sequence 42"));
  EXPECT_THAT(error_of([&] { m.append(0, one); }), HasSubstr("unknown sequence 0"));
  EXPECT_THAT(error_of([&] { m.block_info(12345); }), HasSubstr("unknown block 12345"));
  EXPECT_THAT(error_of([&] { m.set_budget(Tier::kHost, 0); }),
              HasSubstr("host budget 0 slots; expected 1..4"));
  EXPECT_THAT(error_of([&] { m.set_budget(Tier::kGpu, 5); }),
              HasSubstr("gpu budget 5 slots; expected 1..4"));
  EXPECT_THAT(error_of([&] { m.set_budget(Tier::kGpu, 1); }),
              HasSubstr("below sink_blocks + window_blocks = 2"));
  EXPECT_THAT(error_of([&] { m.set_budget(Tier::kDisk, 1); }), HasSubstr("tier disk is absent"));
  EXPECT_TRUE(m.take_plan().empty());
}

}  // namespace
}  // namespace kvtier::testing
