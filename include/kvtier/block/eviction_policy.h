// Which block leaves a tier first when the tier is over its budget. The BlockManager asks the
// policy to order candidates; it keeps two rules to itself: on the GPU, blocks that are some live
// sequence's sink or window blocks are only considered when no other block is left, and only
// refcount-0 (cached) blocks are ever dropped.
#pragma once

#include <cstdint>
#include <memory>

#include "kvtier/block/tier.h"

namespace kvtier {

struct EvictionCandidate {
  BlockId block = 0;
  SlotRef where;
  std::uint32_t refs = 0;      // live sequences using the block; 0 = cached, evictable for free
  bool is_protected = false;   // a sink or window block of some live sequence
  std::uint64_t last_use = 0;  // logical time of the last operation on a sequence using it
                               // (for a cached block: when its last sequence let it go)
  std::uint32_t distance_to_end = 0;  // fewest blocks between it and either end of a sequence
                                      // using it (0 = first or last block)
};

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  virtual const char* name() const = 0;
  // True when `a` should leave its tier before `b`. Must be a strict weak ordering.
  virtual bool evict_before(const EvictionCandidate& a, const EvictionCandidate& b) const = 0;
};

// Default: cached (refcount 0) blocks first, then blocks that are not sink/window blocks, then the
// least recently used (so blocks of idle sequences go first), then the block farther from the
// ends of its sequence (the middle before the ends), then the older block id.
class LruEvictionPolicy final : public EvictionPolicy {
 public:
  const char* name() const override { return "lru"; }
  bool evict_before(const EvictionCandidate& a, const EvictionCandidate& b) const override;
};

std::unique_ptr<EvictionPolicy> make_lru_eviction_policy();

}  // namespace kvtier
