#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "kvtier/core/hash.h"

namespace kvtier {
namespace {

TEST(Hash, DeterministicAndSeedSensitive) {
  const char text[] = "the quick brown fox";
  EXPECT_EQ(hash128(text, sizeof text), hash128(text, sizeof text));
  EXPECT_NE(hash128(text, sizeof text), hash128(text, sizeof text, Hash128{1, 0}));
  EXPECT_NE(hash128(text, sizeof text - 1), hash128(text, sizeof text));
  EXPECT_EQ(hash128(text, 0).hex().size(), 32u);
}

TEST(Hash, NoCollisionsAndEveryBitFlipChangesBothHalves) {
  std::mt19937_64 rng(7);
  std::set<Hash128> seen;
  std::set<std::vector<unsigned char>> inputs;
  for (int len = 0; len < 64; ++len) {
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<unsigned char> data(len);
      for (auto& b : data) b = static_cast<unsigned char>(rng());
      const Hash128 h = hash128(data.data(), data.size());
      seen.insert(h);
      inputs.insert(data);
      if (len > 0 && trial == 0) {
        for (int bit = 0; bit < len * 8; ++bit) {
          auto copy = data;
          copy[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
          const Hash128 g = hash128(copy.data(), copy.size());
          EXPECT_NE(g.lo, h.lo);
          EXPECT_NE(g.hi, h.hi);
        }
      }
    }
  }
  EXPECT_EQ(seen.size(), inputs.size());  // distinct inputs, distinct hashes
}

}  // namespace
}  // namespace kvtier
