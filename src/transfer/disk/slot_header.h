// The 4 KiB header in front of every slot's payload (docs/disk.md). Little-endian fields in the
// first 128 bytes, zeros after:
//   0 magic "KVTSLOT\0" | 8 u32 format version | 12 u32 header bytes (4096)
//  16 geometry fingerprint (lo, hi) | 32 block hash (lo, hi) | 48 u64 payload bytes
//  56 payload checksum (lo, hi) | 72 u32 tokens | 76 u32 slot index | 80..112 zero
// 112 header checksum: hash128 of bytes [0, 112)
// An all-zero header is an empty slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kvtier/block/tier.h"
#include "kvtier/core/hash.h"

namespace kvtier::disk {

inline constexpr std::size_t kHeaderBytes = 4096;
inline constexpr std::uint32_t kFormatVersion = 1;

struct SlotHeader {
  Hash128 fingerprint;
  Hash128 block_hash;
  std::uint64_t payload_bytes = 0;
  Hash128 payload_checksum;
  std::uint32_t tokens = 0;
  SlotIndex slot = kNoSlot;
};

// Checksum of a slot payload: crc32c_x4 (checksum.h).
Hash128 payload_checksum(const void* payload, std::size_t bytes);

// Writes the header into buf (kHeaderBytes, zeroed past the fields).
void encode_slot_header(const SlotHeader& h, void* buf);

enum class HeaderStatus { kEmpty, kValid, kBad };
struct DecodedHeader {
  HeaderStatus status = HeaderStatus::kEmpty;
  SlotHeader header;
  std::string reason;  // for kBad: what failed
};

// Decodes and checks magic, version and header checksum; then, for a valid header, that it is
// this geometry's (fingerprint, payload bytes, tokens <= block_tokens) and this slot's.
DecodedHeader decode_slot_header(const void* buf, const Hash128& fingerprint,
                                 std::uint64_t payload_bytes, std::uint32_t block_tokens,
                                 SlotIndex slot);

}  // namespace kvtier::disk
