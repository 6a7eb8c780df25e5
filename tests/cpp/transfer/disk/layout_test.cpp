// Slot layout, file names and the slot header format.
#include "transfer/disk/layout.h"

#include <gtest/gtest.h>

#include <cstring>

#include "disk_test_util.h"
#include "kvtier/core/error.h"
#include "transfer/disk/aligned_buffer.h"
#include "transfer/disk/slot_header.h"

namespace kvtier::disk {
namespace {

TEST(DiskLayout, SlotsFilesAndOffsets) {
  const std::uint64_t payload = 16384, stride = 4096 + 16384;
  const DiskLayout l = DiskLayout::make(payload, 10 * stride + 100, 4 * stride, std::nullopt);
  EXPECT_EQ(l.stride, stride);
  EXPECT_EQ(l.total_slots, 10u);
  EXPECT_EQ(l.slots_per_file, 4u);
  EXPECT_EQ(l.files, 3u);
  EXPECT_EQ(l.slots_in_file(2), 2u);
  EXPECT_EQ(l.file_size(2), 2 * stride);
  EXPECT_EQ(l.file_of(9), 2u);
  EXPECT_EQ(l.offset_of(9), stride);
  // The meta file's slots_per_file wins over the option.
  EXPECT_EQ(DiskLayout::make(payload, 10 * stride, 4 * stride, 3u).files, 4u);
  // Unaligned payloads are padded to 4 KiB.
  EXPECT_EQ(DiskLayout::make(100, 1 << 20, 1 << 30, std::nullopt).stride, 8192u);
}

TEST(DiskLayout, RefusesBudgetsWithoutASlot) {
  try {
    DiskLayout::make(2 << 20, 1 << 20, 1 << 30, std::nullopt);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("holds no slot"), std::string::npos) << e.what();
  }
}

TEST(DiskLayout, FileNames) {
  EXPECT_EQ(slot_file_name(7), "slots-00007.kvt");
  EXPECT_EQ(parse_slot_file_name("slots-00007.kvt"), 7u);
  EXPECT_FALSE(parse_slot_file_name("slots-0007.kvt"));
  EXPECT_FALSE(parse_slot_file_name("slots-0000a.kvt"));
  EXPECT_FALSE(parse_slot_file_name("notes.txt"));
}

class SlotHeaderTest : public ::testing::Test {
 protected:
  SlotHeaderTest() : buf_(kHeaderBytes) {
    h_.fingerprint = {1, 2};
    h_.block_hash = {3, 4};
    h_.payload_bytes = 16384;
    h_.payload_checksum = {5, 6};
    h_.tokens = 16;
    h_.slot = 9;
    encode_slot_header(h_, buf_.data());
  }
  DecodedHeader decode() { return decode_slot_header(buf_.data(), {1, 2}, 16384, 16, 9); }
  SlotHeader h_;
  AlignedBuffer buf_;
};

TEST_F(SlotHeaderTest, RoundTrip) {
  const DecodedHeader d = decode();
  ASSERT_EQ(d.status, HeaderStatus::kValid) << d.reason;
  EXPECT_EQ(d.header.block_hash, h_.block_hash);
  EXPECT_EQ(d.header.payload_checksum, h_.payload_checksum);
  EXPECT_EQ(d.header.tokens, 16u);
}

TEST_F(SlotHeaderTest, ZerosAreEmpty) {
  std::memset(buf_.data(), 0, kHeaderBytes);
  EXPECT_EQ(decode().status, HeaderStatus::kEmpty);
}

TEST_F(SlotHeaderTest, EveryFlippedBitIsCaught) {
  for (std::size_t bit = 0; bit < 128 * 8; ++bit) {
    buf_.data()[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    const DecodedHeader d = decode();
    EXPECT_EQ(d.status, HeaderStatus::kBad) << "bit " << bit;
    buf_.data()[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
  EXPECT_EQ(decode().status, HeaderStatus::kValid);
}

TEST_F(SlotHeaderTest, OtherGeometrySlotAndSizeAreRefused) {
  auto d = decode_slot_header(buf_.data(), {1, 3}, 16384, 16, 9);
  EXPECT_EQ(d.status, HeaderStatus::kBad);
  EXPECT_NE(d.reason.find("another geometry"), std::string::npos) << d.reason;
  d = decode_slot_header(buf_.data(), {1, 2}, 8192, 16, 9);
  EXPECT_NE(d.reason.find("payload length"), std::string::npos) << d.reason;
  d = decode_slot_header(buf_.data(), {1, 2}, 16384, 8, 9);
  EXPECT_NE(d.reason.find("token count"), std::string::npos) << d.reason;
  d = decode_slot_header(buf_.data(), {1, 2}, 16384, 16, 10);
  EXPECT_NE(d.reason.find("slot 9"), std::string::npos) << d.reason;
}

}  // namespace
}  // namespace kvtier::disk
