#include "transfer/disk/slot_header.h"

#include <bit>
#include <cstring>

#include "transfer/disk/checksum.h"

namespace kvtier::disk {
namespace {

constexpr char kMagic[8] = {'K', 'V', 'T', 'S', 'L', 'O', 'T', '\0'};
constexpr std::size_t kChecksumOffset = 112;
constexpr std::size_t kUsedBytes = 128;
constexpr Hash128 kHeaderSeed{0x6b76746965722d68ull, 0x6561646572732d31ull};

// The format is little-endian; kvtier targets x86-64 and aarch64 Linux (both little-endian).
static_assert(std::endian::native == std::endian::little, "the slot format is little-endian");

template <typename T>
void put(unsigned char* b, std::size_t off, T v) {
  std::memcpy(b + off, &v, sizeof v);
}
template <typename T>
T get(const unsigned char* b, std::size_t off) {
  T v;
  std::memcpy(&v, b + off, sizeof v);
  return v;
}
void put_hash(unsigned char* b, std::size_t off, const Hash128& h) {
  put(b, off, h.lo);
  put(b, off + 8, h.hi);
}
Hash128 get_hash(const unsigned char* b, std::size_t off) {
  return {get<std::uint64_t>(b, off), get<std::uint64_t>(b, off + 8)};
}

}  // namespace

Hash128 payload_checksum(const void* payload, std::size_t bytes) {
  return crc32c_x4(payload, bytes);
}

void encode_slot_header(const SlotHeader& h, void* buf) {
  auto* b = static_cast<unsigned char*>(buf);
  std::memset(b, 0, kHeaderBytes);
  std::memcpy(b, kMagic, sizeof kMagic);
  put<std::uint32_t>(b, 8, kFormatVersion);
  put<std::uint32_t>(b, 12, static_cast<std::uint32_t>(kHeaderBytes));
  put_hash(b, 16, h.fingerprint);
  put_hash(b, 32, h.block_hash);
  put<std::uint64_t>(b, 48, h.payload_bytes);
  put_hash(b, 56, h.payload_checksum);
  put<std::uint32_t>(b, 72, h.tokens);
  put<std::uint32_t>(b, 76, h.slot);
  put_hash(b, kChecksumOffset, hash128(b, kChecksumOffset, kHeaderSeed));
}

DecodedHeader decode_slot_header(const void* buf, const Hash128& fingerprint,
                                 std::uint64_t payload_bytes, std::uint32_t block_tokens,
                                 SlotIndex slot) {
  const auto* b = static_cast<const unsigned char*>(buf);
  DecodedHeader d;
  bool all_zero = true;
  for (std::size_t i = 0; i < kUsedBytes && all_zero; ++i) all_zero = b[i] == 0;
  if (all_zero) return d;  // kEmpty
  d.status = HeaderStatus::kBad;
  if (std::memcmp(b, kMagic, sizeof kMagic) != 0) {
    d.reason = "bad magic (not a kvtier slot header)";
    return d;
  }
  if (get_hash(b, kChecksumOffset) != hash128(b, kChecksumOffset, kHeaderSeed)) {
    d.reason = "header checksum mismatch";
    return d;
  }
  const auto version = get<std::uint32_t>(b, 8);
  if (version != kFormatVersion || get<std::uint32_t>(b, 12) != kHeaderBytes) {
    d.reason = "format version " + std::to_string(version) + ", expected " +
               std::to_string(kFormatVersion);
    return d;
  }
  SlotHeader& h = d.header;
  h.fingerprint = get_hash(b, 16);
  h.block_hash = get_hash(b, 32);
  h.payload_bytes = get<std::uint64_t>(b, 48);
  h.payload_checksum = get_hash(b, 56);
  h.tokens = get<std::uint32_t>(b, 72);
  h.slot = get<std::uint32_t>(b, 76);
  if (h.fingerprint != fingerprint) {
    d.reason = "geometry fingerprint " + h.fingerprint.hex() + " is another geometry's, expected " +
               fingerprint.hex();
  } else if (h.payload_bytes != payload_bytes) {
    d.reason = "payload length " + std::to_string(h.payload_bytes) + ", expected " +
               std::to_string(payload_bytes);
  } else if (h.tokens == 0 || h.tokens > block_tokens) {
    d.reason =
        "token count " + std::to_string(h.tokens) + ", expected 1.." + std::to_string(block_tokens);
  } else if (h.slot != slot) {
    d.reason = "header written for slot " + std::to_string(h.slot) + " (moved file or slot?)";
  } else {
    d.status = HeaderStatus::kValid;
  }
  return d;
}

}  // namespace kvtier::disk
