// Damage done to the files of a disk tier, found at reopen (scan) or by a read of an open store:
// truncated file, flipped payload and header bits, a header of another geometry, a missing file.
// Each ends with no wrong block served and a message naming the file and slot.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "disk_test_util.h"
#include "transfer/disk/aligned_buffer.h"
#include "transfer/disk/slot_header.h"

namespace kvtier::disk_test {
namespace {
namespace fs = std::filesystem;

constexpr std::uint64_t kSlots = 12, kPerFile = 4;

class DiskFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = open();
    write_blocks(*store, 0, kSlots);  // block i in slot i
    stride_ = store->stats().slot_stride;
  }
  std::unique_ptr<DiskStore> open() {
    return DiskStore::open(tiny(), options(t_.store(), kSlots, kPerFile));
  }
  fs::path file_of(std::uint64_t slot) const { return slot_file(t_.store(), slot / kPerFile); }
  std::uint64_t offset_of(std::uint64_t slot) const { return (slot % kPerFile) * stride_; }
  // Every published block reads back exactly; `gone` are not published.
  void expect_all_exact_except(DiskStore& store, const std::vector<std::uint64_t>& gone) {
    for (std::uint64_t i = 0; i < kSlots; ++i) {
      const bool expected_gone = std::find(gone.begin(), gone.end(), i) != gone.end();
      EXPECT_EQ(!store.find(block_hash(i)), expected_gone) << "block " << i;
      if (!expected_gone) {
        EXPECT_EQ(read_check(store, block_hash(i)), "") << "block " << i;
      }
    }
  }
  // A read of block i that must fail as Corruption naming its file and slot, then be dropped.
  void expect_corruption_on_read(DiskStore& store, std::uint64_t i, const std::string& reason) {
    const std::string msg = read_check(store, block_hash(i));
    EXPECT_NE(msg.find("failed its check"), std::string::npos) << msg;
    EXPECT_NE(msg.find(reason), std::string::npos) << msg;
    EXPECT_NE(msg.find(file_of(i).string() + ", slot " + std::to_string(i)), std::string::npos)
        << msg;
    EXPECT_FALSE(store.find(block_hash(i)));
    EXPECT_GE(store.stats().corruptions, 1u);
  }
  void expect_dropped_at_open(DiskStore& store, std::uint64_t i, const std::string& reason) {
    const auto& dropped = store.open_report().dropped;
    ASSERT_EQ(dropped.size(), 1u);
    EXPECT_EQ(dropped[0].slot, i);
    EXPECT_EQ(dropped[0].file, file_of(i).string());
    EXPECT_NE(dropped[0].reason.find(reason), std::string::npos) << dropped[0].reason;
  }
  TempDir t_;
  std::uint64_t stride_ = 0;
};

TEST_F(DiskFaultTest, TruncatedSlotFileAtReopen) {
  ::truncate(file_of(5).c_str(), static_cast<off_t>(offset_of(5) + 4096 + 100));
  {
    auto store = open();
    expect_dropped_at_open(*store, 5, "truncated");
    expect_all_exact_except(*store, {5, 6, 7});  // 6 and 7 lay past the new end of the file
    write_blocks(*store, 20, 3);                 // their slots are usable again
    EXPECT_EQ(read_check(*store, block_hash(21)), "");
  }
  auto store = open();  // the dropped header was invalidated: nothing to drop any more
  EXPECT_TRUE(store->open_report().dropped.empty());
  EXPECT_EQ(store->open_report().entries.size(), kSlots);
}

TEST_F(DiskFaultTest, TruncatedWhileOpen) {
  auto store = open();
  ::truncate(file_of(9).c_str(), static_cast<off_t>(offset_of(9) + 8192));
  // 9 is cut, 10 and 11 lie past the new end: each read is refused, and each entry dropped.
  for (std::uint64_t i : {9, 10, 11}) expect_corruption_on_read(*store, i, "short read");
  expect_all_exact_except(*store, {9, 10, 11});
}

TEST_F(DiskFaultTest, FlippedPayloadBitAtReopen) {
  flip_byte(file_of(3), offset_of(3) + 4096 + 777);
  auto store = open();
  EXPECT_TRUE(store->find(block_hash(3)));  // the header is intact: found, then refused on read
  expect_corruption_on_read(*store, 3, "payload checksum mismatch");
  expect_all_exact_except(*store, {3});
}

TEST_F(DiskFaultTest, FlippedPayloadBitWhileOpen) {
  auto store = open();
  flip_byte(file_of(10), offset_of(10) + stride_ - 1);  // the last payload byte: layer 1
  flip_byte(file_of(11), offset_of(11) + stride_ - 1);
  expect_corruption_on_read(*store, 10, "payload checksum mismatch in layer 1");
  // A layer read serves the intact layer 0, then the one covering layer 1 fails and drops it.
  disk::AlignedBuffer dst(tiny().slot_bytes());
  store->read_layers_async(11, block_hash(11), 0, 1, dst.data()).wait();
  try {
    store->read_layers_async(11, block_hash(11), 1, 1, dst.data()).wait();
    ADD_FAILURE() << "damaged layer 1 was served";
  } catch (const Corruption& e) {
    EXPECT_NE(std::string(e.what()).find("payload checksum mismatch in layer 1"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(store->find(block_hash(11)));
  EXPECT_EQ(store->stats().corruptions, 2u);
  expect_all_exact_except(*store, {10, 11});
}

// The layer checksum table is part of the header: a flipped bit there is caught at open.
TEST_F(DiskFaultTest, FlippedLayerTableBitAtReopen) {
  flip_byte(file_of(7), offset_of(7) + disk::kLayerTableOffset + 5);  // layer 1's checksum
  auto store = open();
  expect_dropped_at_open(*store, 7, "header checksum mismatch");
  expect_all_exact_except(*store, {7});
}

TEST_F(DiskFaultTest, LayerReadOfATruncatedSlot) {
  auto store = open();
  ::truncate(file_of(5).c_str(), static_cast<off_t>(offset_of(5) + 4096 + 4096));
  disk::AlignedBuffer dst(tiny().slot_bytes());
  try {
    store->read_layers_async(5, block_hash(5), 1, 1, dst.data()).wait();
    ADD_FAILURE() << "a truncated layer was served";
  } catch (const Corruption& e) {
    EXPECT_NE(std::string(e.what()).find("short read of layers [1, 2)"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(store->find(block_hash(5)));
}

TEST_F(DiskFaultTest, FlippedHeaderBitAtReopen) {
  flip_byte(file_of(1), offset_of(1) + 40);  // inside the block hash
  auto store = open();
  expect_dropped_at_open(*store, 1, "header checksum mismatch");
  expect_all_exact_except(*store, {1});
}

TEST_F(DiskFaultTest, FlippedHeaderBitWhileOpen) {
  auto store = open();
  flip_byte(file_of(6), offset_of(6) + 60);  // reserved (zero) bytes, covered by the checksum
  expect_corruption_on_read(*store, 6, "header checksum mismatch");
  expect_all_exact_except(*store, {6});
}

// A header that is intact in itself (its checksum matches) but written by another geometry.
TEST_F(DiskFaultTest, HeaderFromAnotherGeometry) {
  Geometry other = tiny();
  other.name = "tiny-other";  // same slot size, another fingerprint
  ASSERT_EQ(other.slot_bytes(), tiny().slot_bytes());
  ASSERT_NE(other.fingerprint(), tiny().fingerprint());
  const auto forge = [&](std::uint64_t slot) {
    disk::AlignedBuffer payload(tiny().slot_bytes()), header(disk::kHeaderBytes);
    fill_block(block_hash(slot), payload.data(), payload.bytes());
    disk::SlotHeader h;
    h.fingerprint = other.fingerprint();
    h.block_hash = block_hash(slot);
    h.payload_bytes = other.slot_bytes();
    h.layers = static_cast<std::uint32_t>(other.layers);
    h.tokens = 16;
    h.slot = static_cast<SlotIndex>(slot);
    std::vector<std::uint32_t> crcs(h.layers);
    disk::layer_checksums(payload.data(), other.layer_bytes(), h.layers, crcs.data());
    disk::encode_slot_header(h, crcs.data(), header.data());
    write_bytes(file_of(slot), offset_of(slot), header.data(), disk::kHeaderBytes);
  };
  forge(4);
  {
    auto store = open();
    expect_dropped_at_open(*store, 4, "another geometry");
    expect_all_exact_except(*store, {4});
    forge(8);  // and while open
    expect_corruption_on_read(*store, 8, "another geometry");
  }
}

TEST_F(DiskFaultTest, MissingSlotFile) {
  fs::remove(slot_file(t_.store(), 1));  // slots 4..7
  auto store = open();
  ASSERT_EQ(store->open_report().missing_files.size(), 1u);
  EXPECT_EQ(store->open_report().missing_files[0], slot_file(t_.store(), 1).string());
  EXPECT_TRUE(store->open_report().dropped.empty());
  expect_all_exact_except(*store, {4, 5, 6, 7});
  const auto slots = write_blocks(*store, 30, 4);  // the recreated file takes blocks again
  for (SlotIndex s : slots) EXPECT_TRUE(s >= 4 && s < 8) << s;
  EXPECT_EQ(read_check(*store, block_hash(32)), "");
}

TEST_F(DiskFaultTest, ZeroedHeaderWhileOpenIsNotServed) {
  auto store = open();
  const disk::AlignedBuffer zeros(disk::kHeaderBytes);
  write_bytes(file_of(2), offset_of(2), zeros.data(), disk::kHeaderBytes);
  expect_corruption_on_read(*store, 2, "empty");
  expect_all_exact_except(*store, {2});
}

}  // namespace
}  // namespace kvtier::disk_test
