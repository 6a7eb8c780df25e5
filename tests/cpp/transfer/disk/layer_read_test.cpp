// Reads of layer groups (read_layers_async) on both I/O engines: the bytes equal those written for
// any group (aligned and unaligned destinations and layer sizes), damage inside a layer is caught
// by a read covering it, bad ranges are refused, and many threads read at once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <random>
#include <thread>

#include "disk_test_util.h"

namespace kvtier::disk_test {
namespace {

// 8 layers of 8 KiB (4 KiB aligned): 64 KiB slots.
Geometry layered() {
  Geometry g = tiny();
  g.name = "tiny-8-layers";
  g.layers = 8;
  return g;
}

// 5 layers of 1536 bytes: layer ranges are not 4 KiB aligned, so reads go through a bounce copy.
Geometry unaligned_layers() {
  Geometry g = tiny();
  g.name = "tiny-unaligned";
  g.layers = 5;
  g.block_tokens = 3;
  return g;
}

DiskStoreOptions options_for(const Geometry& g, const std::filesystem::path& dir,
                             std::uint64_t slots, DiskIoMode io) {
  DiskStoreOptions o = options(dir, 1, 0, io);
  o.capacity_bytes = slots * disk_slot_stride(g);
  return o;
}

class DiskLayerReadTest : public EngineTest {
 protected:
  std::unique_ptr<DiskStore> open(const Geometry& g, std::uint64_t slots) {
    return DiskStore::open(g, options_for(g, dir_.store(), slots, GetParam()));
  }
  // Reads layers [first, first + n) of block i (published at `slot`) into dst and compares them
  // with the bytes written: "" when exact, else the error or "wrong bytes".
  static std::string check_layers(DiskStore& store, std::uint64_t i, SlotIndex slot, int first,
                                  int n, unsigned char* dst) {
    const std::size_t lb = store.geometry().layer_bytes();
    std::vector<unsigned char> want(store.slot_bytes());
    fill_block(block_hash(i), want.data(), want.size());
    try {
      store.read_layers_async(slot, block_hash(i), first, n, dst).wait();
    } catch (const std::exception& e) {
      return e.what();
    }
    return std::memcmp(dst, want.data() + first * lb, n * lb) == 0 ? "" : "wrong bytes";
  }
  TempDir dir_;
};

TEST_P(DiskLayerReadTest, RandomGroupsEqualTheBytesWritten) {
  const Geometry g = layered();
  auto store = open(g, 8);
  const auto slots = write_blocks(*store, 0, 6);
  Aligned dst(store->slot_bytes() + 4096);
  std::mt19937 rng(5);
  std::uint64_t bytes = 0, reads = 0;
  for (int k = 0; k < 200; ++k) {
    const std::uint64_t i = rng() % 6;
    const int first = static_cast<int>(rng() % g.layers);
    const int n = 1 + static_cast<int>(rng() % (g.layers - first));
    unsigned char* at = dst.data + (k % 3 == 0 ? 1 : 0);  // every third unaligned: bounce copy
    ASSERT_EQ(check_layers(*store, i, slots[i], first, n, at), "")
        << "block " << i << " layers [" << first << ", " << first + n << ")";
    bytes += n * g.layer_bytes();
    ++reads;
  }
  // First layer, last layer, the whole range.
  EXPECT_EQ(check_layers(*store, 2, slots[2], 0, 1, dst.data), "");
  EXPECT_EQ(check_layers(*store, 2, slots[2], g.layers - 1, 1, dst.data), "");
  EXPECT_EQ(check_layers(*store, 2, slots[2], 0, g.layers, dst.data), "");
  bytes += (2 + g.layers) * g.layer_bytes();
  reads += 3;
  const DiskStats st = store->stats();
  EXPECT_EQ(st.layer_reads, reads);
  EXPECT_EQ(st.bytes_read, bytes);
  EXPECT_EQ(st.blocks_read, 0u);
  EXPECT_EQ(st.corruptions + st.read_errors, 0u);
}

TEST_P(DiskLayerReadTest, UnalignedLayersGoThroughABounceCopy) {
  const Geometry g = unaligned_layers();
  ASSERT_NE(g.layer_bytes() % 4096, 0u);
  auto store = open(g, 4);
  const auto slots = write_blocks(*store, 0, 3);
  Aligned dst(store->slot_bytes() + 4096);
  for (int first = 0; first < g.layers; ++first) {
    for (int n = 1; first + n <= g.layers; ++n) {
      for (int shift : {0, 3}) {
        EXPECT_EQ(check_layers(*store, 1, slots[1], first, n, dst.data + shift), "")
            << "layers [" << first << ", " << first + n << ") shift " << shift;
      }
    }
  }
  EXPECT_EQ(read_check(*store, block_hash(2)), "");  // whole-slot reads of such slots too
}

TEST_P(DiskLayerReadTest, ReopenedStoreServesLayersFromTheHeaders) {
  const Geometry g = layered();
  std::vector<SlotIndex> slots;
  { slots = write_blocks(*open(g, 8), 0, 4); }
  auto store = open(g, 8);
  Aligned dst(store->slot_bytes());
  for (std::uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(check_layers(*store, i, slots[i], 3, 4, dst.data), "") << i;
  }
}

TEST_P(DiskLayerReadTest, BadRangesAndUnpublishedBlocksAreRefused) {
  const Geometry g = layered();
  auto store = open(g, 4);
  const auto slots = write_blocks(*store, 0, 2);
  Aligned dst(store->slot_bytes());
  const auto refused = [&](SlotIndex s, const Hash128& h, int first, int n, void* to) {
    try {
      store->read_layers_async(s, h, first, n, to);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const Hash128 h = block_hash(0);
  EXPECT_NE(refused(slots[0], h, -1, 2, dst.data).find("layers [-1, 1)"), std::string::npos);
  EXPECT_NE(refused(slots[0], h, 0, 0, dst.data).find("8 layers"), std::string::npos);
  EXPECT_NE(refused(slots[0], h, 6, 3, dst.data).find("layers [6, 9)"), std::string::npos);
  EXPECT_NE(refused(slots[0], h, 8, 1, dst.data).find("non-empty range"), std::string::npos);
  EXPECT_NE(refused(slots[0], h, 0, 9, dst.data).find("8 layers"), std::string::npos);
  EXPECT_NE(refused(slots[0], h, 0, 1, nullptr).find("null"), std::string::npos);
  EXPECT_NE(refused(slots[1], h, 0, 1, dst.data).find("does not hold it"), std::string::npos);
  EXPECT_NE(refused(2, block_hash(2), 0, 1, dst.data).find("does not hold it"), std::string::npos);
  EXPECT_NE(refused(99, h, 0, 1, dst.data).find("does not hold it"), std::string::npos);
  EXPECT_TRUE(store->remove(h));
  EXPECT_NE(refused(slots[0], h, 0, 1, dst.data).find("does not hold it"), std::string::npos);
  EXPECT_EQ(store->stats().layer_reads, 0u);
}

TEST_P(DiskLayerReadTest, ConcurrentReadersOnManyThreads) {
  const Geometry g = layered();
  auto store = open(g, 32);
  const auto slots = write_blocks(*store, 0, 24);
  const std::size_t lb = g.layer_bytes();
  constexpr int kThreads = 4, kPer = 64, kWindow = 8;
  std::atomic<int> failures{0}, callbacks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      struct Pending {
        DiskFuture f;
        std::uint64_t block;
        int first, n;
        std::unique_ptr<Aligned> dst;
      };
      std::deque<Pending> window;
      std::vector<unsigned char> want(store->slot_bytes());
      const auto settle = [&](Pending& p) {
        if (p.f.error()) {
          ++failures;
          return;
        }
        fill_block(block_hash(p.block), want.data(), want.size());
        failures += std::memcmp(p.dst->data, want.data() + p.first * lb, p.n * lb) != 0;
      };
      for (int k = 0; k < kPer; ++k) {
        const std::uint64_t i = rng() % 24;
        const int first = static_cast<int>(rng() % g.layers);
        const int n = 1 + static_cast<int>(rng() % (g.layers - first));
        auto dst = std::make_unique<Aligned>(n * lb);
        DiskFuture f = store->read_layers_async(slots[i], block_hash(i), first, n, dst->data,
                                                [&](std::exception_ptr) { ++callbacks; });
        window.push_back({f, i, first, n, std::move(dst)});
        if (window.size() == kWindow) {
          settle(window.front());
          window.pop_front();
        }
      }
      for (auto& p : window) settle(p);
    });
  }
  for (auto& th : threads) th.join();
  store->wait_idle();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(callbacks.load(), kThreads * kPer);
  EXPECT_EQ(store->stats().layer_reads, static_cast<std::uint64_t>(kThreads * kPer));
}

INSTANTIATE_TEST_SUITE_P(Engines, DiskLayerReadTest,
                         ::testing::Values(DiskIoMode::kUring, DiskIoMode::kThreads),
                         engine_name);

// Damage inside one layer: reads of other layers still succeed until a read covering it fails
// with Corruption, which drops the entry (later reads of any layer are refused at the call).
class DiskLayerDamageTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kBlocks = 4;
  void SetUp() override {
    auto store = open();
    slots_ = write_blocks(*store, 0, kBlocks);
    stride_ = store->stats().slot_stride;
  }
  std::unique_ptr<DiskStore> open() {
    return DiskStore::open(layered(),
                           options_for(layered(), t_.store(), kBlocks, DiskIoMode::kAuto));
  }
  // Flips a byte inside layer `layer` of the block in slot s.
  void damage(SlotIndex s, int layer) {
    flip_byte(slot_file(t_.store(), 0), s * stride_ + 4096 + layer * layered().layer_bytes() + 99);
  }
  std::string read(DiskStore& store, std::uint64_t i, int first, int n) {
    Aligned dst(n * layered().layer_bytes());
    try {
      store.read_layers_async(slots_[i], block_hash(i), first, n, dst.data).wait();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }
  void expect_caught(DiskStore& store, std::uint64_t i, int first, int n, int layer) {
    const std::string msg = read(store, i, first, n);
    EXPECT_NE(msg.find("payload checksum mismatch in layer " + std::to_string(layer)),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find(", slot " + std::to_string(slots_[i])), std::string::npos) << msg;
    EXPECT_FALSE(store.find(block_hash(i)));
    Aligned dst(layered().slot_bytes());
    EXPECT_THROW(store.read_layers_async(slots_[i], block_hash(i), 0, 1, dst.data),
                 InvalidArgument);
  }
  TempDir t_;
  std::vector<SlotIndex> slots_;
  std::uint64_t stride_ = 0;
};

TEST_F(DiskLayerDamageTest, WhileOpen) {
  auto store = open();
  damage(slots_[1], 5);
  EXPECT_EQ(read(*store, 1, 0, 5), "");  // layers 0..4: intact, served
  EXPECT_EQ(read(*store, 1, 6, 2), "");
  EXPECT_EQ(store->stats().corruptions, 0u);
  expect_caught(*store, 1, 4, 3, 5);
  EXPECT_EQ(store->stats().corruptions, 1u);
  for (std::uint64_t i : {0, 2, 3}) EXPECT_EQ(read(*store, i, 0, 8), "") << i;
}

TEST_F(DiskLayerDamageTest, AtReopenTheLayerChecksumsComeFromTheHeaders) {
  damage(slots_[2], 0);
  damage(slots_[3], 7);
  auto store = open();
  EXPECT_TRUE(store->open_report().dropped.empty());  // headers intact: found, refused on read
  EXPECT_EQ(read(*store, 2, 1, 7), "");
  expect_caught(*store, 2, 0, 1, 0);
  expect_caught(*store, 3, 0, 8, 7);
}

TEST_F(DiskLayerDamageTest, WholeSlotReadsCheckEveryLayer) {
  auto store = open();
  damage(slots_[0], 6);
  const std::string msg = read_check(*store, block_hash(0));
  EXPECT_NE(msg.find("payload checksum mismatch in layer 6"), std::string::npos) << msg;
  EXPECT_FALSE(store->find(block_hash(0)));
  EXPECT_EQ(read_check(*store, block_hash(1)), "");
}

}  // namespace
}  // namespace kvtier::disk_test
