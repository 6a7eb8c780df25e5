#include "transfer/disk/slot_header.h"

#include <bit>
#include <cstring>

#include "transfer/disk/checksum.h"

namespace kvtier::disk {
namespace {

constexpr char kMagic[8] = {'K', 'V', 'T', 'S', 'L', 'O', 'T', '\0'};
constexpr std::size_t kChecksumOffset = 112;
constexpr std::size_t kFixedBytes = kLayerTableOffset;
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

// Covers the fixed fields and the layer table, so a flipped bit in either is caught.
Hash128 header_checksum(const unsigned char* b, std::uint32_t layers) {
  return hash128(b + kLayerTableOffset, std::size_t{layers} * 4,
                 hash128(b, kChecksumOffset, kHeaderSeed));
}

}  // namespace

void layer_checksums(const void* payload, std::size_t layer_bytes, std::uint32_t layers,
                     std::uint32_t* out) {
  const auto* p = static_cast<const unsigned char*>(payload);
  for (std::uint32_t l = 0; l < layers; ++l)
    out[l] = layer_checksum(p + l * layer_bytes, layer_bytes);
}

void encode_slot_header(const SlotHeader& h, const std::uint32_t* layer_crcs, void* buf) {
  auto* b = static_cast<unsigned char*>(buf);
  std::memset(b, 0, kHeaderBytes);
  std::memcpy(b, kMagic, sizeof kMagic);
  put<std::uint32_t>(b, 8, kFormatVersion);
  put<std::uint32_t>(b, 12, static_cast<std::uint32_t>(kHeaderBytes));
  put_hash(b, 16, h.fingerprint);
  put_hash(b, 32, h.block_hash);
  put<std::uint64_t>(b, 48, h.payload_bytes);
  put<std::uint32_t>(b, 56, h.layers);
  put<std::uint32_t>(b, 72, h.tokens);
  put<std::uint32_t>(b, 76, h.slot);
  std::memcpy(b + kLayerTableOffset, layer_crcs, std::size_t{h.layers} * 4);
  put_hash(b, kChecksumOffset, header_checksum(b, h.layers));
}

std::uint32_t header_layer_checksum(const void* buf, std::uint32_t layer) {
  return get<std::uint32_t>(static_cast<const unsigned char*>(buf), kLayerTableOffset + 4 * layer);
}

DecodedHeader decode_slot_header(const void* buf, const ExpectedHeader& want, SlotIndex slot) {
  const auto* b = static_cast<const unsigned char*>(buf);
  DecodedHeader d;
  bool all_zero = true;
  for (std::size_t i = 0; i < kFixedBytes && all_zero; ++i) all_zero = b[i] == 0;
  if (all_zero) return d;  // kEmpty
  d.status = HeaderStatus::kBad;
  if (std::memcmp(b, kMagic, sizeof kMagic) != 0) {
    d.reason = "bad magic (not a kvtier slot header)";
    return d;
  }
  // The version first: an older format's header would otherwise read as a checksum mismatch.
  const auto version = get<std::uint32_t>(b, 8);
  if (version != kFormatVersion || get<std::uint32_t>(b, 12) != kHeaderBytes) {
    d.reason = "format version " + std::to_string(version) + ", expected " +
               std::to_string(kFormatVersion);
    return d;
  }
  SlotHeader& h = d.header;
  h.layers = get<std::uint32_t>(b, 56);
  if (h.layers > kMaxLayers) {  // checked before the checksum, which covers the table
    d.reason = "layer count " + std::to_string(h.layers) + " exceeds the header's table of " +
               std::to_string(kMaxLayers) + " (damaged header)";
    return d;
  }
  if (get_hash(b, kChecksumOffset) != header_checksum(b, h.layers)) {
    d.reason = "header checksum mismatch";
    return d;
  }
  h.fingerprint = get_hash(b, 16);
  h.block_hash = get_hash(b, 32);
  h.payload_bytes = get<std::uint64_t>(b, 48);
  h.tokens = get<std::uint32_t>(b, 72);
  h.slot = get<std::uint32_t>(b, 76);
  if (h.fingerprint != want.fingerprint) {
    d.reason = "geometry fingerprint " + h.fingerprint.hex() + " is another geometry's, expected " +
               want.fingerprint.hex();
  } else if (h.payload_bytes != want.payload_bytes) {
    d.reason = "payload length " + std::to_string(h.payload_bytes) + ", expected " +
               std::to_string(want.payload_bytes);
  } else if (h.layers != want.layers) {
    d.reason =
        "layer count " + std::to_string(h.layers) + ", expected " + std::to_string(want.layers);
  } else if (h.tokens == 0 || h.tokens > want.block_tokens) {
    d.reason = "token count " + std::to_string(h.tokens) + ", expected 1.." +
               std::to_string(want.block_tokens);
  } else if (h.slot != slot) {
    d.reason = "header written for slot " + std::to_string(h.slot) + " (moved file or slot?)";
  } else {
    d.status = HeaderStatus::kValid;
  }
  return d;
}

}  // namespace kvtier::disk
