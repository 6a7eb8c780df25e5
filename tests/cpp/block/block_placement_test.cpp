// Unit tests of BlockManager placement: eviction order, budgets, sink/window, promotion,
// out-of-memory, custom policies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "block_test_util.h"
#include "kvtier/block/block_manager.h"
#include "kvtier/core/error.h"

namespace kvtier::testing {
namespace {

using ::testing::HasSubstr;
constexpr Tier G = Tier::kGpu, H = Tier::kHost, D = Tier::kDisk;

TEST(LruEvictionPolicy, OrdersCachedUnprotectedOldMiddleFirst) {
  LruEvictionPolicy p;
  EvictionCandidate base{.block = 5,
                         .where = {},
                         .refs = 1,
                         .is_protected = false,
                         .last_use = 10,
                         .distance_to_end = 2};
  auto with = [&](auto f) {
    EvictionCandidate c = base;
    f(c);
    return c;
  };
  EXPECT_TRUE(p.evict_before(with([](auto& c) { c.refs = 0; }), base));
  EXPECT_TRUE(p.evict_before(base, with([](auto& c) { c.is_protected = true; })));
  EXPECT_TRUE(p.evict_before(with([](auto& c) { c.last_use = 3; }), base));
  EXPECT_TRUE(p.evict_before(with([](auto& c) { c.distance_to_end = 4; }), base));
  EXPECT_TRUE(p.evict_before(with([](auto& c) { c.block = 1; }), base));
  EXPECT_FALSE(p.evict_before(base, base));
  // Recency outranks position: an idle sequence's end goes before a busy one's middle.
  EXPECT_TRUE(p.evict_before(with([](auto& c) { c.last_use = 3, c.distance_to_end = 0; }),
                             with([](auto& c) { c.distance_to_end = 9; })));
}

TEST(Placement, GpuOverflowDemotesTheMiddleOfIdleSequencesFirst) {
  BlockManager m(test_config(6, 16, 0));
  const SeqId a = m.create(iota_tokens(16)).seq;  // 4 blocks
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, G, G, G}));
  const BlockTable before = m.block_table(a);
  (void)m.take_plan();
  const SeqId b = m.create(iota_tokens(16, 100)).seq;  // 4 more: 2 must leave the GPU
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, H, H, G}));
  EXPECT_EQ(tiers_of(m, b), (std::vector<Tier>{G, G, G, G}));
  const auto plan = m.take_plan();
  ASSERT_EQ(plan.size(), 2u);
  for (const SlotMove& mv : plan) {
    EXPECT_EQ(mv.kind, SlotMove::Kind::kMove);
    EXPECT_EQ(mv.from.tier, G);
    EXPECT_EQ(mv.to.tier, H);
    EXPECT_TRUE(mv.block == before.blocks[1].block || mv.block == before.blocks[2].block);
  }
  // Using `a` makes `b` the idle one.
  m.append(a, iota_tokens(1));  // a gets a 5th block: one more block leaves the GPU
  EXPECT_EQ(tiers_of(m, b), (std::vector<Tier>{G, H, G, G}));
}

TEST(Placement, HostOverflowGoesToDiskAndFullTiersGiveOutOfMemory) {
  BlockManager m(test_config(3, 2, 2));
  const SeqId a = m.create(iota_tokens(28)).seq;  // 7 blocks: 3 gpu, 2 host, 2 disk
  const auto t = tiers_of(m, a);
  EXPECT_EQ(std::count(t.begin(), t.end(), G), 3);
  EXPECT_EQ(std::count(t.begin(), t.end(), H), 2);
  EXPECT_EQ(std::count(t.begin(), t.end(), D), 2);
  EXPECT_EQ(t.front(), G);
  EXPECT_EQ(t.back(), G);
  (void)m.take_plan();
  const BlockTable before = m.block_table(a);
  const std::string e = error_of([&] { m.append(a, iota_tokens(1)); });
  EXPECT_THAT(e, HasSubstr("append: 8 blocks in use"));
  EXPECT_THAT(e, HasSubstr("gpu 3, host 2, disk 2 slots"));
  EXPECT_THROW(m.append(a, iota_tokens(1)), OutOfMemory);
  EXPECT_THROW(m.create(iota_tokens(1)), OutOfMemory);
  EXPECT_TRUE(m.take_plan().empty());
  // A fork of a block-aligned sequence needs no new block: it fits.
  const SeqId f = m.fork(a);
  EXPECT_EQ(m.block_table(f).blocks.size(), 7u);
  m.free(f);
  EXPECT_EQ(m.block_table(a).tokens, 28u);
  EXPECT_EQ(m.block_table(a).blocks.size(), before.blocks.size());
}

TEST(Placement, CachedBlocksAreDroppedBeforeOutOfMemory) {
  BlockManager m(test_config(4, 0, 0));
  const SeqId a = m.create(iota_tokens(16)).seq;
  m.free(a);
  EXPECT_EQ(m.stats().cached_blocks, 4u);
  const SeqId b = m.create(iota_tokens(12, 50)).seq;  // needs 3 of the 4 cached slots
  EXPECT_EQ(m.stats().cached_blocks, 1u);
  EXPECT_EQ(m.stats().blocks_dropped, 3u);
  EXPECT_EQ(tiers_of(m, b), (std::vector<Tier>{G, G, G}));
  EXPECT_TRUE(m.take_plan().empty()) << "drops move nothing";
}

TEST(Placement, BudgetChangesDemoteAndBringSinkAndWindowBack) {
  BlockManager m(test_config(6, 8, 0, 1, 1));
  const SeqId a = m.create(iota_tokens(24)).seq;  // 6 blocks, all on the GPU
  (void)m.take_plan();
  m.set_budget(G, 2);
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, H, H, H, H, G}));
  EXPECT_EQ(m.take_plan().size(), 4u);
  EXPECT_EQ(m.stats().tiers[0].budget, 2u);
  m.set_budget(G, 6);  // sink and window were already there: nothing else comes back by itself
  EXPECT_TRUE(m.take_plan().empty());
  m.promote(a);
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, G, G, G, G, G}));
  EXPECT_EQ(m.take_plan().size(), 4u);
  // Over the sum of budgets: OutOfMemory and nothing changes.
  m.set_budget(G, 3);
  EXPECT_THAT(error_of([&] { m.set_budget(H, 2); }),
              HasSubstr("set_budget: 6 blocks in use by live sequences (0 of them new) do not fit "
                        "the budgets (gpu 3, host 2 slots)"));
  EXPECT_THROW(m.set_budget(H, 2), OutOfMemory);
  EXPECT_EQ(m.budget(H), 8u);
  m.set_budget(H, 3);
  EXPECT_EQ(m.stats().tiers[1].used, 3u);
}

TEST(Placement, ShrinkingALowerTierMovesBlocksUpWhenNothingBelowHasRoom) {
  BlockManager m(test_config(4, 6, 0, 1, 1));
  const SeqId a = m.create(iota_tokens(24)).seq;  // 6 blocks: 4 gpu, 2 host
  m.set_budget(G, 2);                             // 2 gpu, 4 host
  m.set_budget(G, 4);                             // room on the GPU again
  (void)m.take_plan();
  m.set_budget(H, 2);
  EXPECT_EQ(m.stats().tiers[0].used, 4u);
  EXPECT_EQ(m.stats().tiers[1].used, 2u);
  for (const SlotMove& mv : m.take_plan()) {
    EXPECT_EQ(mv.from.tier, H);
    EXPECT_EQ(mv.to.tier, G);
  }
  EXPECT_EQ(m.block_table(a).blocks.size(), 6u);
}

TEST(Placement, SinkAndWindowOfReusedBlocksComeToTheGpu) {
  BlockManager m(test_config(4, 8, 0, 1, 1));
  const auto doc = iota_tokens(16);
  const SeqId a = m.create(doc).seq;
  m.free(a);
  const SeqId filler = m.create(iota_tokens(16, 500)).seq;  // pushes the cached blocks to host
  EXPECT_EQ(m.stats().tiers[1].cached, 4u);
  (void)m.take_plan();
  const auto c = m.create(doc);
  EXPECT_EQ(c.reused_tokens, 16u);
  const auto t = tiers_of(m, c.seq);
  EXPECT_EQ(t.front(), G);
  EXPECT_EQ(t.back(), G);
  bool moved_up = false;
  for (const SlotMove& mv : m.take_plan()) moved_up |= mv.from.tier == H && mv.to.tier == G;
  EXPECT_TRUE(moved_up);
  (void)filler;
}

TEST(Placement, PromoteUsesFreeRoomAndCachedBlocksButNeverBlocksInUse) {
  BlockManager m(test_config(4, 8, 0, 1, 1));
  const SeqId a = m.create(iota_tokens(16)).seq;
  const SeqId b = m.create(iota_tokens(16, 100)).seq;
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, H, H, G}));
  EXPECT_EQ(tiers_of(m, b), (std::vector<Tier>{G, H, H, G}));
  m.promote(a);  // the GPU is full of b's and a's sink/window blocks: nothing moves
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, H, H, G}));
  m.free(b);  // b's full blocks stay cached; two of them on the GPU
  m.promote(a);
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, G, G, G}));
  EXPECT_EQ(m.stats().tiers[1].cached, 4u);
}

// Evicts the most recently used block first: the opposite of LRU.
class MruPolicy final : public EvictionPolicy {
 public:
  const char* name() const override { return "mru"; }
  bool evict_before(const EvictionCandidate& a, const EvictionCandidate& b) const override {
    return a.last_use != b.last_use ? a.last_use > b.last_use : a.block > b.block;
  }
};

TEST(Placement, EvictionPolicyIsPluggable) {
  BlockManager m(test_config(6, 16, 0), std::make_unique<MruPolicy>());
  EXPECT_STREQ(m.policy().name(), "mru");
  const SeqId a = m.create(iota_tokens(16)).seq;
  const SeqId b = m.create(iota_tokens(16, 100)).seq;
  // b's blocks are placed sink and window first. For b's block 1 the most recent unprotected
  // GPU block leaves: a's block 2 (a tie on recency, the higher id); b's block 2 would displace
  // b's own new block 1, so it starts on the host. LRU would have moved a's blocks 1 and 2.
  EXPECT_EQ(tiers_of(m, a), (std::vector<Tier>{G, G, H, G}));
  EXPECT_EQ(tiers_of(m, b), (std::vector<Tier>{G, G, H, G}));
}

TEST(Placement, WhenSinkAndWindowExceedTheGpuTheGpuHoldsOnlyThem) {
  BlockManager m(test_config(4, 16, 0, 1, 1));
  std::vector<SeqId> s;
  for (int i = 0; i < 3; ++i) s.push_back(m.create(iota_tokens(12, 100 * i)).seq);
  // 6 protected blocks, GPU budget 4: the GPU holds only protected blocks.
  SlotIndex protected_on_gpu = 0;
  for (SeqId id : s) {
    const auto t = tiers_of(m, id);
    EXPECT_EQ(t[1], H);
    protected_on_gpu += (t[0] == G) + (t[2] == G);
  }
  EXPECT_EQ(protected_on_gpu, 4u);
}

}  // namespace
}  // namespace kvtier::testing
