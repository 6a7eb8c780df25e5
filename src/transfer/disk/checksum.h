// Payload checksums of a slot: one 32-bit value per layer (layer_checksum), so that a group of
// layers can be verified without reading the rest of the slot. Each is built from four CRC32C
// (Castagnoli) lanes over the layer's quarters (crc32c_x4), folded into 32 bits by a CRC32C of the
// four lane values. CRC32C runs on the CPU's crc32 instruction (SSE4.2 on x86-64, the CRC
// extension on AArch64) at several GB/s a core, the four independent lanes hiding its latency; a
// table-driven path gives identical results elsewhere. A burst of up to 32 bits within a lane
// changes that lane's CRC, and a change of one lane value always changes the fold (a CRC detects
// every error of up to 32 bits), so every such error is caught; other damage slips past with
// probability 2^-32 per layer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvtier/core/hash.h"

namespace kvtier::disk {

// lo = lane0 | lane1 << 32, hi = lane2 | lane3 << 32. Lane i covers bytes [i*q, (i+1)*q) with
// q = (bytes / 32) * 8; the tail past 4q belongs to lane 3.
Hash128 crc32c_x4(const void* data, std::size_t bytes);

// The checksum of one layer of a slot payload: crc32c(0, lanes, 16) of h = crc32c_x4(data, bytes)
// stored little-endian as {lane0, lane1, lane2, lane3}.
std::uint32_t layer_checksum(const void* data, std::size_t bytes);

// One CRC32C (init and final inversion included): crc32c(0, "123456789", 9) == 0xE3069283.
// `crc` continues a previous result.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t bytes);
std::uint32_t crc32c_portable(std::uint32_t crc, const void* data, std::size_t bytes);
// Whether the CPU's crc32 instruction is used.
bool crc32c_hardware();

}  // namespace kvtier::disk
