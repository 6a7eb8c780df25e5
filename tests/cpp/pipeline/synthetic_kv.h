// Test helpers: deterministic KV and q values (a function of where they are in the model, so the
// same token has the same bytes wherever its block lives), written into pool slots.
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstring>

#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/block/block_table.h"
#include "kvtier/block/slot_pool.h"
#include "kvtier/core/geometry.h"
#include "kvtier/transfer/disk_store.h"

namespace kvtier::testing {

inline std::uint64_t mix(std::uint64_t x) { return splitmix64(x); }

// Uniform in [-1, 1), never exactly zero for all elements.
inline float value_at(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  const std::uint64_t h = mix(mix(mix(a) ^ b) ^ c);
  return static_cast<float>(static_cast<double>(h >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

inline std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
inline float from_bf16(std::uint16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// K (kv = 0) or V (kv = 1) element of token `pos` of sequence key `seq`.
inline std::uint16_t kv_value(std::uint64_t seq, std::uint64_t pos, int layer, int kv, int head, int dim) {
  return to_bf16(value_at(seq, pos, (static_cast<std::uint64_t>(layer) << 32) | (kv << 24) | (head << 12) | dim));
}

// Writes tokens [0, tokens) of every block of `table` (sequence key `seq`) where it lives, through
// `backend` (so pools in device memory work too), or into the disk store for disk blocks. Blocks
// before `first_block` are left alone.
inline void fill_table(Backend& backend, const BlockTable& table, std::uint64_t seq, const Geometry& g,
                       const SlotPool& gpu, const SlotPool& host, DiskStore* disk = nullptr,
                       std::size_t first_block = 0) {
  std::vector<std::uint16_t> image(g.slot_bytes() / 2);
  auto stream = backend.create_stream();
  for (std::size_t bi = first_block; bi < table.blocks.size(); ++bi) {
    const BlockTableEntry& e = table.blocks[bi];
    const SlotPool& pool = e.where.tier == Tier::kGpu ? gpu : host;
    std::fill(image.begin(), image.end(), std::uint16_t{0});
    for (int l = 0; l < g.layers; ++l)
      for (int kv = 0; kv < 2; ++kv)
        for (int h = 0; h < g.kv_heads; ++h)
          for (std::uint32_t t = 0; t < e.tokens; ++t) {
            std::uint16_t* row = image.data() + g.offset(l, kv, h, static_cast<int>(t)) / 2;
            const std::uint64_t pos = bi * static_cast<std::uint64_t>(g.block_tokens) + t;
            for (int d = 0; d < g.head_dim; ++d) row[d] = kv_value(seq, pos, l, kv, h, d);
          }
    if (e.where.tier == Tier::kDisk) {
      disk->write_async(e.where.slot, e.key, image.data(), e.tokens).wait();
      continue;
    }
    backend.copy_async(pool.slot_address(e.where.slot), image.data(), g.slot_bytes(), *stream);
    stream->synchronize();
  }
}

}  // namespace kvtier::testing
