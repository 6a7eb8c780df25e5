// The disk store's main paths on both I/O engines: write, verified read, persistence across a
// reopen, capacity, removal, explicit placement.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "disk_test_util.h"
#include "kvtier/backend/backend.h"

namespace kvtier::disk_test {
namespace {

class DiskStoreTest : public EngineTest {
 protected:
  std::unique_ptr<DiskStore> open(std::uint64_t slots, std::uint64_t per_file = 0) {
    return DiskStore::open(tiny(), options(dir_.store(), slots, per_file, GetParam()));
  }
  TempDir dir_;
};

TEST_P(DiskStoreTest, WritesReadsAndReopensWithIdenticalBytes) {
  {
    auto store = open(32, 8);
    EXPECT_TRUE(store->open_report().created);
    EXPECT_EQ(store->stats().io_path, GetParam() == DiskIoMode::kThreads ? "threads" : "io_uring");
    const auto slots = write_blocks(*store, 0, 20);
    for (std::uint64_t i = 0; i < 20; ++i) {
      EXPECT_EQ(slots[i], i);  // lowest free slot first: sequential writes
      EXPECT_EQ(read_check(*store, block_hash(i)), "") << i;
    }
    const DiskStats st = store->stats();
    EXPECT_EQ(st.used_slots, 20u);
    EXPECT_EQ(st.blocks_written, 20u);
    EXPECT_EQ(st.blocks_read, 20u);
    EXPECT_EQ(st.corruptions, 0u);
    EXPECT_GE(st.syncs, 1u);
    EXPECT_EQ(st.files, 4u);
  }
  auto store = open(32, 8);
  const DiskOpenReport& r = store->open_report();
  EXPECT_FALSE(r.created);
  EXPECT_EQ(r.entries.size(), 20u);
  EXPECT_TRUE(r.dropped.empty());
  EXPECT_TRUE(r.missing_files.empty());
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto e = store->find(block_hash(i));
    ASSERT_TRUE(e) << i;
    EXPECT_EQ(e->slot, i);
    EXPECT_EQ(e->tokens, 16u);
    EXPECT_EQ(read_check(*store, block_hash(i)), "") << i;
  }
  EXPECT_FALSE(store->find(block_hash(20)));
}

TEST_P(DiskStoreTest, FullStoreRefusesThenRemoveFreesASlot) {
  auto store = open(4);
  write_blocks(*store, 0, 4);
  Aligned buf(store->slot_bytes());
  fill_block(block_hash(9), buf.data, buf.bytes);
  DiskFuture f = store->write_async(block_hash(9), buf.data, 16);
  EXPECT_THROW(f.wait(), OutOfMemory);
  EXPECT_TRUE(store->remove(block_hash(2)));
  EXPECT_FALSE(store->remove(block_hash(2)));
  EXPECT_FALSE(store->find(block_hash(2)));
  EXPECT_THROW(store->read_async(block_hash(2), buf.data), InvalidArgument);
  f = store->write_async(block_hash(9), buf.data, 16);
  f.wait();
  EXPECT_EQ(f.slot(), 2u);
  EXPECT_EQ(read_check(*store, block_hash(9)), "");
}

TEST_P(DiskStoreTest, SameHashTwiceCompletesWithoutIo) {
  auto store = open(4);
  write_blocks(*store, 0, 1);
  Aligned buf(store->slot_bytes());
  fill_block(block_hash(0), buf.data, buf.bytes);
  DiskFuture f = store->write_async(block_hash(0), buf.data, 16);
  EXPECT_TRUE(f.done());
  f.wait();
  EXPECT_EQ(f.slot(), 0u);
  EXPECT_EQ(store->stats().blocks_written, 1u);
}

TEST_P(DiskStoreTest, ExplicitSlotReplacesThePublishedBlock) {
  auto store = open(8);
  write_blocks(*store, 0, 2);  // slots 0, 1
  Aligned buf(store->slot_bytes());
  fill_block(block_hash(5), buf.data, buf.bytes);
  DiskFuture f = store->write_async(SlotIndex{1}, block_hash(5), buf.data, 7);
  EXPECT_FALSE(store->find(block_hash(1)));  // unpublished at once
  f.wait();
  auto e = store->find(block_hash(5));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->slot, 1u);
  EXPECT_EQ(e->tokens, 7u);
  EXPECT_EQ(read_check(*store, block_hash(5)), "");
  // Addressed by slot: the right hash reads, a wrong one is refused.
  Aligned got(store->slot_bytes());
  store->read_async(SlotIndex{1}, block_hash(5), got.data).wait();
  EXPECT_EQ(std::memcmp(got.data, buf.data, buf.bytes), 0);
  EXPECT_THROW(store->read_async(SlotIndex{1}, block_hash(1), got.data), InvalidArgument);
  EXPECT_THROW(store->write_async(SlotIndex{8}, block_hash(6), buf.data, 16), InvalidArgument);
  EXPECT_THROW(store->write_async(block_hash(6), buf.data, 0), InvalidArgument);
  EXPECT_THROW(store->write_async(block_hash(6), buf.data, 17), InvalidArgument);
  EXPECT_THROW(store->write_async(block_hash(6), nullptr, 16), InvalidArgument);
}

// The block manager placed a block that is already on disk into another slot: the new slot wins
// once it is published, the old copy is unpublished and its slot free again.
TEST_P(DiskStoreTest, ExplicitSlotWinsOverAnOlderCopyOfTheSameBlock) {
  auto store = open(8);
  write_blocks(*store, 0, 2);  // slots 0, 1
  Aligned buf(store->slot_bytes());
  fill_block(block_hash(0), buf.data, buf.bytes);
  DiskFuture f = store->write_async(SlotIndex{5}, block_hash(0), buf.data, 16);
  f.wait();
  EXPECT_EQ(f.slot(), 5u);
  auto e = store->find(block_hash(0));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->slot, 5u);
  EXPECT_EQ(store->stats().used_slots, 2u);
  EXPECT_EQ(store->stats().blocks_written, 3u);
  const auto entries = store->entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].slot, 1u);
  EXPECT_EQ(entries[1].slot, 5u);
  EXPECT_THROW(store->read_async(SlotIndex{0}, block_hash(0), buf.data), InvalidArgument);
  EXPECT_EQ(read_check(*store, block_hash(0)), "");
  // Slot 0 is free again: the store's own choice (lowest free slot) takes it.
  EXPECT_EQ(write_blocks(*store, 7, 1)[0], 0u);
  // The hash-chosen variant still completes at once, without I/O, for a published hash.
  DiskFuture again = store->write_async(block_hash(0), buf.data, 16);
  EXPECT_TRUE(again.done());
  EXPECT_EQ(again.slot(), 5u);
  EXPECT_EQ(store->stats().blocks_written, 4u);
}

TEST_P(DiskStoreTest, UnalignedBuffersGoThroughABounceCopy) {
  auto store = open(4);
  const std::size_t bytes = store->slot_bytes();
  std::vector<unsigned char> src(bytes + 1), dst(bytes + 1);
  fill_block(block_hash(3), src.data() + 1, bytes);
  store->write_async(block_hash(3), src.data() + 1, 16).wait();
  store->read_async(block_hash(3), dst.data() + 1).wait();
  EXPECT_EQ(std::memcmp(src.data() + 1, dst.data() + 1, bytes), 0);
}

TEST_P(DiskStoreTest, PinnedBuffersOfTheCpuBackendAndCallbacks) {
  auto backend = make_backend(BackendChoice::kCpu);
  auto store = open(16);
  const std::size_t bytes = store->slot_bytes();
  Buffer src = backend->allocate(MemoryKind::kPinnedHost, 8 * bytes);
  Buffer dst = backend->allocate(MemoryKind::kPinnedHost, 8 * bytes);
  std::atomic<int> ok{0};
  std::vector<DiskFuture> fs;
  for (int i = 0; i < 8; ++i) {
    fill_block(block_hash(i), src.as<unsigned char>() + i * bytes, bytes);
    fs.push_back(store->write_async(block_hash(i), src.as<unsigned char>() + i * bytes, 16,
                                    [&](std::exception_ptr e) { ok += e == nullptr; }));
  }
  store->wait_idle();
  for (auto& f : fs) EXPECT_TRUE(f.done());
  EXPECT_EQ(ok.load(), 8);
  for (int i = 0; i < 8; ++i) {
    store->read_async(block_hash(i), dst.as<unsigned char>() + i * bytes,
                      [&](std::exception_ptr e) { ok += e == nullptr; });
  }
  store->wait_idle();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(std::memcmp(src.data(), dst.data(), 8 * bytes), 0);
}

TEST_P(DiskStoreTest, ConcurrentWritersAndReaders) {
  auto store = open(256, 64);
  constexpr int kThreads = 4, kPer = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      write_blocks(*store, t * kPer, kPer);
      for (int i = 0; i < kPer; ++i)
        failures += !read_check(*store, block_hash(t * kPer + i)).empty();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->stats().used_slots, static_cast<std::uint64_t>(kThreads * kPer));
}

INSTANTIATE_TEST_SUITE_P(Engines, DiskStoreTest,
                         ::testing::Values(DiskIoMode::kUring, DiskIoMode::kThreads),
                         engine_name);

}  // namespace
}  // namespace kvtier::disk_test
