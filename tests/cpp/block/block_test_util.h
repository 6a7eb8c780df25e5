// Helpers shared by the block manager unit tests.
#pragma once

#include <numeric>
#include <string>
#include <vector>

#include "kvtier/block/block_manager.h"

namespace kvtier::testing {

// "tiny" with 4 tokens a block: small enough to reason about by hand.
inline Geometry test_geometry() {
  Geometry g = preset("tiny");
  g.block_tokens = 4;
  return g;
}

inline BlockManagerConfig test_config(SlotIndex gpu, SlotIndex host, SlotIndex disk,
                                      std::uint32_t sink = 1, std::uint32_t window = 1) {
  BlockManagerConfig c;
  c.geometry = test_geometry();
  c.capacity = {gpu, host, disk};
  c.sink_blocks = sink;
  c.window_blocks = window;
  return c;
}

// Tokens first, first+1, ..., first+n-1.
inline std::vector<TokenId> iota_tokens(int n, TokenId first = 0) {
  std::vector<TokenId> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

inline std::vector<Tier> tiers_of(const BlockManager& m, SeqId s) {
  std::vector<Tier> out;
  for (const auto& e : m.block_table(s).blocks) out.push_back(e.where.tier);
  return out;
}

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace kvtier::testing
