// What the block manager hands to the layers that consume its decisions: per-sequence block
// tables (in order, with where each block lives, and per-tier views) and statistics. Plain values:
// safe to copy and to hand to other threads.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "kvtier/block/tier.h"
#include "kvtier/core/hash.h"

namespace kvtier {

using SeqId = std::uint64_t;

struct BlockTableEntry {
  BlockId block = 0;
  SlotRef where;
  std::uint32_t tokens = 0;  // tokens held: block_tokens except for a partial last block
  Hash128 key;               // name on disk (SlotMove::key)
};

// The blocks of one tier, in sequence order: positions[i] is the block's index in the sequence,
// slots[i] its slot in that tier.
struct TierBlocks {
  std::vector<std::uint32_t> positions;
  std::vector<SlotIndex> slots;
};

struct BlockTable {
  SeqId seq = 0;
  std::uint64_t tokens = 0;
  std::uint32_t block_tokens = 0;
  std::uint32_t last_block_tokens = 0;      // tokens in the last block; 0 when there are no blocks
  std::vector<BlockTableEntry> blocks;      // in order
  std::array<TierBlocks, kNumTiers> tiers;  // indexed by Tier
  const TierBlocks& tier(Tier t) const { return tiers[static_cast<int>(t)]; }
};

struct BlockInfo {
  BlockId id = 0;
  SlotRef where;
  std::uint32_t refs = 0;    // live sequences using it; 0 = cached, kept for prefix reuse
  std::uint32_t tokens = 0;  // tokens written so far
  bool full = false;
  Hash128 hash;  // chained prefix hash; meaningful only when full
};

struct TierStats {
  bool present = false;
  SlotIndex capacity = 0;
  SlotIndex budget = 0;
  SlotIndex used = 0;    // blocks resident in the tier
  SlotIndex cached = 0;  // of those, refcount-0 blocks kept for reuse
  SlotIndex peak_used = 0;
  double occupancy() const { return capacity ? static_cast<double>(used) / capacity : 0.0; }
};

struct BlockManagerStats {
  std::array<TierStats, kNumTiers> tiers;  // indexed by Tier
  std::uint64_t sequences = 0;
  std::uint64_t live_blocks = 0;       // blocks used by at least one live sequence
  std::uint64_t cached_blocks = 0;     // refcount-0 blocks kept for reuse
  std::uint64_t allocated_tokens = 0;  // live_blocks * block_tokens
  std::uint64_t unused_tokens = 0;     // free token places in live blocks (partial last blocks)
  // unused_tokens / allocated_tokens (0 when nothing is allocated). At most one partial block per
  // sequence, so unused_tokens <= sequences * (block_tokens - 1).
  double internal_fragmentation = 0.0;
  std::uint64_t prefix_blocks_looked_up = 0;  // full blocks of prompts given to create()
  std::uint64_t prefix_blocks_reused = 0;     // of those, served from the cache
  double prefix_hit_rate = 0.0;               // reused / looked up (0 when none looked up)
  std::uint64_t moves_planned = 0;
  std::uint64_t copies_planned = 0;
  std::uint64_t blocks_dropped = 0;  // cached blocks given up under pressure
};

}  // namespace kvtier
