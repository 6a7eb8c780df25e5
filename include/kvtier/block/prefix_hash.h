// Block identity for prefix reuse (DESIGN.md): a chained 128-bit hash. The hash of a full block is
// hash128 of its block_tokens token ids (int32, in the host's byte order; all supported hosts are
// little-endian), seeded with the hash of the block before it; the first block is seeded with
// Geometry::fingerprint(), so blocks of a different model, geometry or dtype never match.
#pragma once

#include <cstdint>
#include <span>

#include "kvtier/core/geometry.h"
#include "kvtier/core/hash.h"

namespace kvtier {

using TokenId = std::int32_t;

// Seed of the first block of every sequence of this geometry.
inline Hash128 prefix_root(const Geometry& geometry) { return geometry.fingerprint(); }

// Hash of a full block with token ids `tokens` whose predecessor has hash `parent`.
inline Hash128 block_hash(Hash128 parent, std::span<const TokenId> tokens) {
  return hash128(tokens.data(), tokens.size_bytes(), parent);
}

}  // namespace kvtier
