// The payload checksum of a slot: four CRC32C (Castagnoli) lanes over the four quarters of the
// payload, 128 bits in all. CRC32C runs on the CPU's crc32 instruction (SSE4.2 on x86-64, the
// CRC extension on AArch64) at several GB/s a core, with the four independent lanes hiding its
// latency; a table-driven path gives identical results elsewhere. Catches every burst error of up
// to 32 bits within a lane, and other damage with probability 1 - 2^-128 over four lanes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kvtier/core/hash.h"

namespace kvtier::disk {

// lo = lane0 | lane1 << 32, hi = lane2 | lane3 << 32. Lane i covers bytes [i*q, (i+1)*q) with
// q = (bytes / 32) * 8; the tail past 4q belongs to lane 3.
Hash128 crc32c_x4(const void* data, std::size_t bytes);

// One CRC32C (init and final inversion included): crc32c(0, "123456789", 9) == 0xE3069283.
// `crc` continues a previous result.
std::uint32_t crc32c(std::uint32_t crc, const void* data, std::size_t bytes);
std::uint32_t crc32c_portable(std::uint32_t crc, const void* data, std::size_t bytes);
// Whether the CPU's crc32 instruction is used.
bool crc32c_hardware();

}  // namespace kvtier::disk
