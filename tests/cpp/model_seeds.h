// Seeds of the randomized model-based tests: 1..`fallback`, or 1..N with KVTIER_MODEL_SEEDS=N
// when N is larger (a longer soak by hand; CI runs the fallback, whose coverage the tests check).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace kvtier::testing_support {

inline std::vector<std::uint64_t> model_seeds(long fallback) {
  const char* env = std::getenv("KVTIER_MODEL_SEEDS");
  const long n = std::max(env ? std::strtol(env, nullptr, 10) : fallback, fallback);
  std::vector<std::uint64_t> seeds;
  for (long i = 1; i <= n; ++i) seeds.push_back(static_cast<std::uint64_t>(i));
  return seeds;
}

}  // namespace kvtier::testing_support
