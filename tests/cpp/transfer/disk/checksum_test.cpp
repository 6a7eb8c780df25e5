// The payload checksum: CRC32C lanes, hardware and portable paths agree, damage is caught.
#include "transfer/disk/checksum.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace kvtier::disk {
namespace {

TEST(DiskChecksum, Crc32cKnownValues) {
  EXPECT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c(0, "", 0), 0u);
  // Continuing a result equals one pass.
  EXPECT_EQ(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

TEST(DiskChecksum, HardwareAndPortablePathsAgree) {
  std::mt19937 rng(1);
  std::vector<unsigned char> buf(70001);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (std::size_t n : {0ul, 1ul, 7ul, 8ul, 31ul, 32ul, 33ul, 4096ul, 70001ul}) {
    EXPECT_EQ(crc32c(7, buf.data(), n), crc32c_portable(7, buf.data(), n)) << n;
  }
  // crc32c_x4 is four plain CRC32Cs over the quarters, lane i continuing from the value i.
  const std::size_t n = 70001, q = n / 32 * 8;
  const Hash128 h = crc32c_x4(buf.data(), n);
  const auto lane = [&](int i, std::size_t len) {
    return crc32c(static_cast<std::uint32_t>(i), buf.data() + i * q, len);
  };
  EXPECT_EQ(static_cast<std::uint32_t>(h.lo), lane(0, q));
  EXPECT_EQ(static_cast<std::uint32_t>(h.lo >> 32), lane(1, q));
  EXPECT_EQ(static_cast<std::uint32_t>(h.hi), lane(2, q));
  EXPECT_EQ(static_cast<std::uint32_t>(h.hi >> 32), lane(3, n - 3 * q));
}

TEST(DiskChecksum, EveryFlippedBitChangesIt) {
  std::vector<unsigned char> buf(4096 + 5, 0);
  const Hash128 clean = crc32c_x4(buf.data(), buf.size());
  for (std::size_t bit = 0; bit < buf.size() * 8; bit += 7) {
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    EXPECT_NE(crc32c_x4(buf.data(), buf.size()), clean) << bit;
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
  // Swapped quarters are caught too (the lanes have distinct seeds).
  std::vector<unsigned char> a(64, 0);
  a[0] = 1;
  std::vector<unsigned char> b(64, 0);
  b[16] = 1;
  EXPECT_NE(crc32c_x4(a.data(), 64), crc32c_x4(b.data(), 64));
}

}  // namespace
}  // namespace kvtier::disk
