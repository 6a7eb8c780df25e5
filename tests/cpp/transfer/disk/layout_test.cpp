// Slot layout, file names and the slot header format.
#include "transfer/disk/layout.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "disk_test_util.h"
#include "kvtier/core/error.h"
#include "kvtier/core/geometry.h"
#include "kvtier/transfer/disk_store.h"
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

TEST(DiskLayout, QueueDepthKeepsAQuarterGibibyteInFlight) {
  Geometry g = preset("llama-3.1-8b");  // 2 MiB slots (+ 4 KiB header): 128 requests
  EXPECT_EQ(disk_queue_depth(g, 0), 128);
  EXPECT_EQ(disk_queue_depth(g, 7), 7);  // asked for: kept
  EXPECT_EQ(disk_queue_depth(preset("tiny"), 0), 256);  // small slots: at most 256
  g.block_tokens = 256;                                 // 32 MiB slots: at least 32
  EXPECT_EQ(disk_queue_depth(g, 0), 32);
  EXPECT_THROW(disk_queue_depth(g, -1), InvalidArgument);
  EXPECT_THROW(disk_queue_depth(g, 1025), InvalidArgument);
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
  static constexpr std::uint32_t kLayers = 3;
  SlotHeaderTest() : buf_(kHeaderBytes) {
    h_.fingerprint = {1, 2};
    h_.block_hash = {3, 4};
    h_.payload_bytes = 16384;
    h_.layers = kLayers;
    h_.tokens = 16;
    h_.slot = 9;
    encode_slot_header(h_, crcs_, buf_.data());
  }
  ExpectedHeader want() const { return {{1, 2}, 16384, kLayers, 16}; }
  DecodedHeader decode() { return decode_slot_header(buf_.data(), want(), 9); }
  SlotHeader h_;
  std::uint32_t crcs_[kLayers] = {0x11111111u, 0x22222222u, 0xdeadbeefu};
  AlignedBuffer buf_;
};

TEST_F(SlotHeaderTest, RoundTrip) {
  const DecodedHeader d = decode();
  ASSERT_EQ(d.status, HeaderStatus::kValid) << d.reason;
  EXPECT_EQ(d.header.block_hash, h_.block_hash);
  EXPECT_EQ(d.header.layers, kLayers);
  EXPECT_EQ(d.header.tokens, 16u);
  for (std::uint32_t l = 0; l < kLayers; ++l)
    EXPECT_EQ(header_layer_checksum(buf_.data(), l), crcs_[l]);
}

TEST_F(SlotHeaderTest, ZerosAreEmpty) {
  std::memset(buf_.data(), 0, kHeaderBytes);
  EXPECT_EQ(decode().status, HeaderStatus::kEmpty);
}

// The fixed fields and the layer checksum table are both covered by the header checksum.
TEST_F(SlotHeaderTest, EveryFlippedBitIsCaught) {
  for (std::size_t bit = 0; bit < (kLayerTableOffset + 4 * kLayers) * 8; ++bit) {
    buf_.data()[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    const DecodedHeader d = decode();
    EXPECT_EQ(d.status, HeaderStatus::kBad) << "bit " << bit;
    buf_.data()[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
  EXPECT_EQ(decode().status, HeaderStatus::kValid);
}

TEST_F(SlotHeaderTest, OtherGeometrySlotSizeAndLayersAreRefused) {
  ExpectedHeader w = want();
  w.fingerprint = {1, 3};
  auto d = decode_slot_header(buf_.data(), w, 9);
  EXPECT_EQ(d.status, HeaderStatus::kBad);
  EXPECT_NE(d.reason.find("another geometry"), std::string::npos) << d.reason;
  w = want();
  w.payload_bytes = 8192;
  d = decode_slot_header(buf_.data(), w, 9);
  EXPECT_NE(d.reason.find("payload length"), std::string::npos) << d.reason;
  w = want();
  w.layers = 4;
  d = decode_slot_header(buf_.data(), w, 9);
  EXPECT_NE(d.reason.find("layer count 3, expected 4"), std::string::npos) << d.reason;
  w = want();
  w.block_tokens = 8;
  d = decode_slot_header(buf_.data(), w, 9);
  EXPECT_NE(d.reason.find("token count"), std::string::npos) << d.reason;
  d = decode_slot_header(buf_.data(), want(), 10);
  EXPECT_NE(d.reason.find("slot 9"), std::string::npos) << d.reason;
}

// A version-1 header (one payload checksum at byte 56, header checksum over 112 bytes) is named
// as such, not as a damaged header.
TEST_F(SlotHeaderTest, FormatVersion1IsNamed) {
  const std::uint32_t v1 = 1;
  std::memcpy(buf_.data() + 8, &v1, 4);
  const DecodedHeader d = decode();
  EXPECT_EQ(d.status, HeaderStatus::kBad);
  EXPECT_NE(d.reason.find("format version 1, expected 2"), std::string::npos) << d.reason;
}

TEST(DiskSlotHeader, MaxLayersFillTheHeader) {
  EXPECT_EQ(kMaxLayers, 992u);
  std::vector<std::uint32_t> crcs(kMaxLayers);
  for (std::uint32_t l = 0; l < kMaxLayers; ++l) crcs[l] = l * 2654435761u;
  SlotHeader h;
  h.fingerprint = {1, 2};
  h.block_hash = {3, 4};
  h.payload_bytes = 4096ull * kMaxLayers;
  h.layers = kMaxLayers;
  h.tokens = 1;
  h.slot = 0;
  AlignedBuffer buf(kHeaderBytes);
  encode_slot_header(h, crcs.data(), buf.data());
  const DecodedHeader d =
      decode_slot_header(buf.data(), {{1, 2}, h.payload_bytes, kMaxLayers, 16}, 0);
  ASSERT_EQ(d.status, HeaderStatus::kValid) << d.reason;
  EXPECT_EQ(header_layer_checksum(buf.data(), kMaxLayers - 1), crcs.back());
}

}  // namespace
}  // namespace kvtier::disk
