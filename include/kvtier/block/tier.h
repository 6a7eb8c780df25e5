// Tiers and slot addresses shared by the block manager (which plans moves) and the transfer
// engine (which performs them).
#pragma once

#include <cstdint>
#include <limits>

#include "kvtier/core/hash.h"

namespace kvtier {

enum class Tier : std::uint8_t { kGpu = 0, kHost = 1, kDisk = 2 };
inline constexpr int kNumTiers = 3;
const char* tier_name(Tier t);  // "gpu", "host", "disk"

using SlotIndex = std::uint32_t;
inline constexpr SlotIndex kNoSlot = std::numeric_limits<SlotIndex>::max();

// Where a block's bytes are: a tier and a slot index inside that tier's pool.
struct SlotRef {
  Tier tier = Tier::kGpu;
  SlotIndex slot = kNoSlot;
  friend bool operator==(const SlotRef&, const SlotRef&) = default;
};

using BlockId = std::uint64_t;

// One planned byte move of a whole slot. kMove frees `from` once the bytes are at `to`; kCopy keeps
// both (copy-on-write of a shared partial block).
struct SlotMove {
  enum class Kind : std::uint8_t { kMove, kCopy };
  Kind kind = Kind::kMove;
  BlockId block = 0;  // the block that ends up at `to`
  SlotRef from;
  SlotRef to;
  // The block's name on disk: its chained prefix hash when full, else a key unique to the block
  // within its BlockManager (BlockManager::disk_key). What a disk tier stores the bytes under.
  Hash128 key;
  std::uint32_t tokens = 0;  // tokens the block holds when the move is planned
};

}  // namespace kvtier
