#include "kvtier/block/eviction_policy.h"

#include <tuple>

namespace kvtier {

bool LruEvictionPolicy::evict_before(const EvictionCandidate& a, const EvictionCandidate& b) const {
  // Smaller key leaves first.
  auto key = [](const EvictionCandidate& c) {
    return std::make_tuple(c.refs != 0, c.is_protected, c.last_use, ~c.distance_to_end, c.block);
  };
  return key(a) < key(b);
}

std::unique_ptr<EvictionPolicy> make_lru_eviction_policy() {
  return std::make_unique<LruEvictionPolicy>();
}

}  // namespace kvtier
