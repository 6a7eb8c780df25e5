// The 4 KiB header in front of every slot's payload (docs/disk.md), format version 2.
// Little-endian fields in the first 128 bytes, then the layer checksum table, zeros after:
//   0 magic "KVTSLOT\0" | 8 u32 format version | 12 u32 header bytes (4096)
//  16 geometry fingerprint (lo, hi) | 32 block hash (lo, hi) | 48 u64 payload bytes
//  56 u32 layers (entries of the table) | 60..71 zero | 72 u32 tokens | 76 u32 slot index
//  80..111 zero | 112 header checksum: hash128 of bytes [0, 112), continued over the table
// 128 u32 layer checksum [layers] (checksum.h: layer_checksum of each layer's bytes)
// An all-zero first 128 bytes is an empty slot. Version 1 (one four-lane checksum over the whole
// payload at byte 56) is not read: its directories are refused at open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kvtier/block/tier.h"
#include "kvtier/core/hash.h"

namespace kvtier::disk {

inline constexpr std::size_t kHeaderBytes = 4096;
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::size_t kLayerTableOffset = 128;
// Layers whose checksums fit in the header: (4096 - 128) / 4.
inline constexpr std::uint32_t kMaxLayers = (kHeaderBytes - kLayerTableOffset) / 4;

struct SlotHeader {
  Hash128 fingerprint;
  Hash128 block_hash;
  std::uint64_t payload_bytes = 0;
  std::uint32_t layers = 0;  // entries of the layer checksum table
  std::uint32_t tokens = 0;
  SlotIndex slot = kNoSlot;
};

// The checksums of `layers` consecutive layers of layer_bytes each starting at payload, into out.
void layer_checksums(const void* payload, std::size_t layer_bytes, std::uint32_t layers,
                     std::uint32_t* out);

// Writes the header into buf (kHeaderBytes, zeroed past the table); layer_crcs holds h.layers
// checksums (h.layers <= kMaxLayers).
void encode_slot_header(const SlotHeader& h, const std::uint32_t* layer_crcs, void* buf);

enum class HeaderStatus { kEmpty, kValid, kBad };
struct DecodedHeader {
  HeaderStatus status = HeaderStatus::kEmpty;
  SlotHeader header;
  std::string reason;  // for kBad: what failed
};

// What a slot of this store must say about itself.
struct ExpectedHeader {
  Hash128 fingerprint;
  std::uint64_t payload_bytes = 0;
  std::uint32_t layers = 0;
  std::uint32_t block_tokens = 0;
};

// Decodes and checks magic, version, layer count and header checksum; then, for a valid header,
// that it is this geometry's (fingerprint, payload bytes, layers, tokens <= block_tokens) and
// this slot's.
DecodedHeader decode_slot_header(const void* buf, const ExpectedHeader& want, SlotIndex slot);

// Layer checksum `layer` of a buffer decoded as kValid (layer < its layers).
std::uint32_t header_layer_checksum(const void* buf, std::uint32_t layer);

}  // namespace kvtier::disk
