// DiskBlockIndex: a BlockManager started over a disk store reuses the full blocks on disk by their
// chained prefix hashes, at the store's slots; partial blocks are not offered.
#include "kvtier/transfer/disk_block_index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <numeric>

#include "disk_test_util.h"
#include "kvtier/block/block_manager.h"

namespace kvtier::disk_test {
namespace {

constexpr int kFull = 3;  // full blocks of the prompt on disk

// Token ids 1000, 1001, ...: kFull full blocks and `extra` more tokens.
std::vector<TokenId> prompt_tokens(int block_tokens, int extra) {
  std::vector<TokenId> t(static_cast<std::size_t>(kFull * block_tokens + extra));
  std::iota(t.begin(), t.end(), 1000);
  return t;
}

BlockManagerConfig manager_config(const DiskStore& store) {
  BlockManagerConfig c;
  c.geometry = store.geometry();
  c.capacity = {8, 0, store.capacity_slots()};
  c.sink_blocks = 0;  // no block is pulled up to the GPU for being first
  c.window_blocks = 1;
  return c;
}

TEST(DiskBlockIndex, AManagerReusesFullBlocksOnDiskAtTheStoresSlots) {
  TempDir t;
  auto store = DiskStore::open(tiny(), options(t.store(), 16));
  const Geometry& g = store->geometry();
  const int bt = g.block_tokens;
  const auto tokens = prompt_tokens(bt, 1);
  // The chained hashes of the prompt's full blocks, as the block manager computes them.
  std::vector<Hash128> hashes;
  Hash128 parent = prefix_root(g);
  for (int b = 0; b < kFull; ++b) {
    parent = block_hash(parent, std::span<const TokenId>(tokens).subspan(b * bt, bt));
    hashes.push_back(parent);
  }
  // Stored in reverse order (slots 5, 4, 3 after two unrelated blocks), then a partial block.
  std::deque<Aligned> bufs;
  const auto put = [&](SlotIndex slot, const Hash128& h, std::uint32_t n) {
    bufs.emplace_back(store->slot_bytes());
    fill_block(h, bufs.back().data, bufs.back().bytes);
    store->write_async(slot, h, bufs.back().data, n).wait();
  };
  put(0, disk_test::block_hash(100), 16);
  put(1, disk_test::block_hash(101), 16);
  for (int b = 0; b < kFull; ++b) put(static_cast<SlotIndex>(5 - b), hashes[b], 16);
  const Hash128 partial = block_hash(hashes.back(), std::vector<TokenId>{1, 2, 3});
  put(7, partial, 3);

  DiskBlockIndex index(*store);
  const auto entries = index.entries();
  EXPECT_EQ(entries.size(), 5u);  // 2 unrelated + 3 prompt blocks; not the partial one
  for (const auto& e : entries) EXPECT_NE(e.hash, partial);

  BlockManager m(manager_config(*store), nullptr, &index);
  EXPECT_EQ(m.root_hash(), prefix_root(g));
  EXPECT_EQ(m.stats().tiers[static_cast<int>(Tier::kDisk)].cached, 5u);
  const auto created = m.create(tokens);
  EXPECT_EQ(created.reused_tokens, static_cast<std::uint64_t>(kFull * bt));
  const BlockTable table = m.block_table(created.seq);
  ASSERT_EQ(table.blocks.size(), static_cast<std::size_t>(kFull + 1));
  for (int b = 0; b < kFull; ++b) {
    EXPECT_EQ(table.blocks[b].where.tier, Tier::kDisk) << b;
    EXPECT_EQ(table.blocks[b].where.slot, store->find(hashes[b])->slot) << b;
    EXPECT_EQ(table.blocks[b].where.slot, static_cast<SlotIndex>(5 - b)) << b;
  }
  EXPECT_EQ(table.blocks[kFull].where.tier, Tier::kGpu);  // the new, partial block
  // The layers of a reused block read straight from the slot in the table.
  Aligned dst(2 * g.layer_bytes());
  store->read_layers_async(table.blocks[1].where.slot, hashes[1], 0, 2, dst.data).wait();
  Aligned want(store->slot_bytes());
  fill_block(hashes[1], want.data, want.bytes);
  EXPECT_EQ(std::memcmp(dst.data, want.data, 2 * g.layer_bytes()), 0);

  // publish() and remove() record nothing: the store changes only through its own I/O.
  index.publish(Hash128{1, 2}, 9);
  index.remove(hashes[0], 5);
  EXPECT_EQ(index.entries(), entries);
  static_assert(noexcept(index.publish(Hash128{}, 0)));
  static_assert(noexcept(index.remove(Hash128{}, 0)));
}

TEST(DiskBlockIndex, AnotherPromptReusesNothing) {
  TempDir t;
  auto store = DiskStore::open(tiny(), options(t.store(), 4));
  write_blocks(*store, 0, 3);  // hashes that chain from nothing the manager knows
  DiskBlockIndex index(*store);
  BlockManager m(manager_config(*store), nullptr, &index);
  EXPECT_EQ(m.create(prompt_tokens(16, 1)).reused_tokens, 0u);
}

}  // namespace
}  // namespace kvtier::disk_test
