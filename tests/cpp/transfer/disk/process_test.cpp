// Faults that need a second process (the test binary run again, see child_roles.cpp): a restart,
// a writer killed with kill -9 mid write-back, write-back past a file size limit (EFBIG, as a
// full disk would give ENOSPC), and a second process opening a directory in use.
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "disk_test_util.h"

namespace kvtier::disk_test {
namespace {

// Process A stores blocks and exits; this process (B) reopens and finds every one, exact.
TEST(DiskProcess, RestartFindsEveryBlockWithIdenticalBytes) {
  TempDir t;
  Child a("writer", {t.store().string(), "64", "16", "0", "40"});
  EXPECT_EQ(a.read_all(), "stored 40\n");
  ASSERT_EQ(a.wait(), 0);
  auto store = DiskStore::open(tiny(), options(t.store(), 64, 16));
  EXPECT_EQ(store->open_report().entries.size(), 40u);
  EXPECT_TRUE(store->open_report().dropped.empty());
  for (std::uint64_t i = 0; i < 40; ++i) EXPECT_EQ(read_check(*store, block_hash(i)), "") << i;
}

TEST(DiskProcess, KilledMidWriteBackLeavesOnlyExactBlocks) {
  TempDir t;
  Child w("writer-forever", {t.store().string(), "512"});
  std::set<std::uint64_t> durable;
  std::string line;
  while (durable.size() < 60 && w.read_line(&line)) {
    ASSERT_EQ(line.rfind("durable ", 0), 0u) << line;
    durable.insert(std::stoull(line.substr(8)));
  }
  ASSERT_EQ(durable.size(), 60u) << "the writer stopped early";
  w.kill9();  // with up to 8 writes in flight
  EXPECT_EQ(w.wait(), 128 + 9);
  auto store = DiskStore::open(tiny(), options(t.store(), 512, 16));
  std::uint64_t exact = 0, refused = 0;
  for (const DiskEntry& e : store->open_report().entries) {
    const std::string r = read_check(*store, e.hash);
    ASSERT_NE(r, "wrong bytes") << "slot " << e.slot;
    if (r.empty()) {
      ++exact;
    } else {
      ++refused;  // a torn slot may be found, but only ever as a Corruption
      EXPECT_NE(r.find("failed its check"), std::string::npos) << r;
    }
  }
  for (std::uint64_t i : durable) {
    EXPECT_EQ(read_check(*store, block_hash(i)), "") << "durable block " << i << " lost";
  }
  EXPECT_GE(exact, durable.size());
  std::printf("kill -9: %zu durable blocks reported, %llu found exact, %llu refused\n",
              durable.size(), static_cast<unsigned long long>(exact),
              static_cast<unsigned long long>(refused));
}

TEST(DiskProcess, FileSizeLimitDuringWriteBackFailsCleanly) {
  TempDir t;
  const std::uint64_t stride = 4096 + tiny().slot_bytes();
  // Slots 0..4 fit; slot 5 is cut in the middle; slots 6.. lie beyond the limit.
  const std::uint64_t limit = 5 * stride + 8192;
  Child c("fsize", {t.store().string(), "16", std::to_string(limit), "8"});
  const std::string out = c.read_all();
  EXPECT_EQ(c.wait(), 0) << out;
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(out.find("stored " + std::to_string(i) + "\n"), std::string::npos) << out;
  }
  for (int i = 5; i < 8; ++i) {
    EXPECT_NE(out.find("failed " + std::to_string(i) + ": disk tier: writing block"),
              std::string::npos)
        << out;
  }
  EXPECT_NE(out.find("write_errors 3"), std::string::npos) << out;
  EXPECT_EQ(out.find("BAD"), std::string::npos) << out;
  // Without the limit: exactly the stored blocks, exact; the cut slot is not a block.
  DiskStoreOptions o = options(t.store(), 16, 16);
  o.preallocate = false;
  auto store = DiskStore::open(tiny(), o);
  EXPECT_EQ(store->open_report().entries.size(), 5u);
  EXPECT_TRUE(store->open_report().dropped.empty());
  for (std::uint64_t i = 0; i < 5; ++i) EXPECT_EQ(read_check(*store, block_hash(i)), "") << i;
  for (std::uint64_t i = 5; i < 8; ++i) EXPECT_FALSE(store->find(block_hash(i))) << i;
  write_blocks(*store, 5, 3);  // and the space is usable again
  EXPECT_EQ(read_check(*store, block_hash(7)), "");
}

TEST(DiskProcess, SecondProcessGetsAClearError) {
  TempDir t;
  auto store = DiskStore::open(tiny(), options(t.store(), 8));
  write_blocks(*store, 0, 2);
  Child c("open", {t.store().string(), "8"});
  const std::string out = c.read_all();
  EXPECT_EQ(c.wait(), 0) << out;
  EXPECT_NE(out.find("locked: disk tier directory '" + t.store().string() +
                     "' is in use by process " + std::to_string(::getpid())),
            std::string::npos)
      << out;
  EXPECT_EQ(read_check(*store, block_hash(1)), "");  // the holder is unaffected
}

}  // namespace
}  // namespace kvtier::disk_test
