// Internal: the merge of partial states (DESIGN.md), shared by the CPU merge, the GPU merge
// kernel and the GPU decode kernel's split merge. Works in base 2 internally, speaks natural log.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define KVT_HD __host__ __device__ __forceinline__
#else
#define KVT_HD inline
#endif

namespace kvtier::attention::detail {

inline constexpr float kLog2e = 1.4426950408889634f;
inline constexpr float kLn2 = 0.6931471805599453f;

// Running merge of states given one at a time: add(lse_i) returns the factor by which the
// accumulated output must be rescaled and the weight of part i (both relative to the running max),
// so that o = sum w_i o_i / sum w_i can be accumulated in one pass.
struct MergeAcc {
  float m = -INFINITY;  // running max of lse, base 2
  float sum = 0.f;      // sum of 2^(s_i - m)

  // Returns {rescale of what was accumulated so far, weight of this part}.
  KVT_HD void add(float lse_nat, float* rescale, float* weight) {
    const float s = lse_nat * kLog2e;
    if (!(s > -INFINITY)) {  // empty part (or NaN guard): identity
      *rescale = 1.f;
      *weight = 0.f;
      return;
    }
    const float m_new = s > m ? s : m;
    *rescale = exp2f(m - m_new);  // m = -inf first time: 0
    *weight = exp2f(s - m_new);
    sum = sum * *rescale + *weight;
    m = m_new;
  }
  // Joins another accumulator (a merge of other parts) into this one.
  KVT_HD void combine(const MergeAcc& b) {
    if (!(b.sum > 0.f)) return;
    if (!(sum > 0.f)) {
      *this = b;
      return;
    }
    const float m_new = b.m > m ? b.m : m;
    sum = sum * exp2f(m - m_new) + b.sum * exp2f(b.m - m_new);
    m = m_new;
  }
  // 1 / sum, 0 when every part was empty (so o = 0).
  KVT_HD float inv_sum() const { return sum > 0.f ? 1.f / sum : 0.f; }
  // Normalized weight of a part once every part was added: 2^(s_i - m) / sum, 0 for empties.
  KVT_HD float weight_of(float lse_nat) const {
    const float s = lse_nat * kLog2e;
    return (s > -INFINITY && sum > 0.f) ? exp2f(s - m) / sum : 0.f;
  }
  // Natural-log lse of the merged state; -inf when every part was empty.
  KVT_HD float lse() const { return sum > 0.f ? (m + log2f(sum)) * kLn2 : -INFINITY; }
};

}  // namespace kvtier::attention::detail
