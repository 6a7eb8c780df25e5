#include "transfer/disk/checksum.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define KVT_CRC_TARGET __attribute__((target("sse4.2")))
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#define KVT_CRC_TARGET
#endif

namespace kvtier::disk {
namespace {

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    t[i] = c;
  }
  return t;
}
constexpr auto kTable = make_table();

// Raw CRC32C update (no inversions).
std::uint32_t update_portable(std::uint32_t c, const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) c = kTable[(c ^ p[i]) & 0xffu] ^ (c >> 8);
  return c;
}

inline std::uint64_t load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

#if defined(KVT_CRC_TARGET)
KVT_CRC_TARGET inline std::uint32_t step64(std::uint32_t c, std::uint64_t v) {
#if defined(__x86_64__)
  return static_cast<std::uint32_t>(_mm_crc32_u64(c, v));
#else
  return __crc32cd(c, v);
#endif
}
KVT_CRC_TARGET inline std::uint32_t step8(std::uint32_t c, unsigned char v) {
#if defined(__x86_64__)
  return _mm_crc32_u8(c, v);
#else
  return __crc32cb(c, v);
#endif
}
KVT_CRC_TARGET std::uint32_t update_hw(std::uint32_t c, const unsigned char* p, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) c = step64(c, load64(p + i));
  for (; i < n; ++i) c = step8(c, p[i]);
  return c;
}
// Four lanes of q bytes (q a multiple of 8) in one loop: independent chains overlap.
KVT_CRC_TARGET void lanes_hw(std::uint32_t c[4], const unsigned char* p, std::size_t q) {
  std::uint32_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
  for (std::size_t i = 0; i < q; i += 8) {
    c0 = step64(c0, load64(p + i));
    c1 = step64(c1, load64(p + q + i));
    c2 = step64(c2, load64(p + 2 * q + i));
    c3 = step64(c3, load64(p + 3 * q + i));
  }
  c[0] = c0, c[1] = c1, c[2] = c2, c[3] = c3;
}
#endif

bool detect_hardware() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("sse4.2");
#elif defined(KVT_CRC_TARGET)
  return true;
#else
  return false;
#endif
}

}  // namespace

bool crc32c_hardware() {
  static const bool hw = detect_hardware();
  return hw;
}

std::uint32_t crc32c_portable(std::uint32_t crc, const void* data, std::size_t bytes) {
  return ~update_portable(~crc, static_cast<const unsigned char*>(data), bytes);
}

std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t bytes) {
#if defined(KVT_CRC_TARGET)
  if (crc32c_hardware()) return ~update_hw(~crc, static_cast<const unsigned char*>(data), bytes);
#endif
  return crc32c_portable(crc, data, bytes);
}

Hash128 crc32c_x4(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  const std::size_t q = bytes / 32 * 8;
  std::uint32_t c[4] = {~0u, ~1u, ~2u, ~3u};  // distinct seeds: equal quarters differ
#if defined(KVT_CRC_TARGET)
  if (crc32c_hardware()) {
    lanes_hw(c, p, q);
    c[3] = update_hw(c[3], p + 4 * q, bytes - 4 * q);
  } else
#endif
  {
    for (int i = 0; i < 4; ++i) c[i] = update_portable(c[i], p + i * q, q);
    c[3] = update_portable(c[3], p + 4 * q, bytes - 4 * q);
  }
  for (auto& v : c) v = ~v;
  return {c[0] | static_cast<std::uint64_t>(c[1]) << 32, c[2] | static_cast<std::uint64_t>(c[3])
                                                                    << 32};
}

std::uint32_t layer_checksum(const void* data, std::size_t bytes) {
  const Hash128 h = crc32c_x4(data, bytes);
  const std::uint64_t lanes[2] = {h.lo, h.hi};  // little-endian: lane0, lane1, lane2, lane3
  return crc32c(0, lanes, sizeof lanes);
}

}  // namespace kvtier::disk
