// Internal: one warp merges the partial states of one row (DESIGN.md merge), shared by the
// merge kernel (merge.cu) and the split merge at the end of the decode kernel.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "attention/merge_math.h"

namespace kvtier::attention::cuda {

__device__ __forceinline__ void store_out(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_out(__nv_bfloat16* p, float v) {
  *p = __float2bfloat16_rn(v);
}
__device__ __forceinline__ void store_out(__half* p, float v) { *p = __float2half_rn(v); }

// Parts of one row: lse(i) and o(i, col), i in [0, n).
// Reads every lse before any write, so `out` may be the storage of part 0 (in-place rounds).
// Pass 1: the merged max and sum (MergeAcc, shared with the CPU merge) over the lanes. Pass 2:
// weighted sum, each lane 4 columns at a time, loads unrolled over parts so many are in flight;
// empty parts (weight 0) are selected away, so whatever they hold (even NaN) never matters.
template <class Parts, class OutT>
__device__ __forceinline__ void merge_row_warp(const Parts& parts, int n, int head_dim, OutT* out,
                                               float* out_lse) {
  const int lane = threadIdx.x & 31;
  detail::MergeAcc acc;
  float rescale, weight;
  for (int i = lane; i < n; i += 32) acc.add(parts.lse(i), &rescale, &weight);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    detail::MergeAcc other;
    other.m = __shfl_xor_sync(0xffffffffu, acc.m, off);
    other.sum = __shfl_xor_sync(0xffffffffu, acc.sum, off);
    acc.combine(other);
  }
  for (int c0 = 0; c0 < head_dim; c0 += 128) {
    float v[4] = {0.f, 0.f, 0.f, 0.f};
    for (int i0 = 0; i0 < n; i0 += 32) {
      const float my_w = i0 + lane < n ? acc.weight_of(parts.lse(i0 + lane)) : 0.f;
      const int count = min(32, n - i0);
#pragma unroll 16
      for (int j = 0; j < count; ++j) {
        const float w = __shfl_sync(0xffffffffu, my_w, j);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const int col = c0 + lane + 32 * k;
          const float x = col < head_dim ? parts.o(i0 + j, col) : 0.f;
          v[k] += w != 0.f ? w * x : 0.f;
        }
      }
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int col = c0 + lane + 32 * k;
      if (col < head_dim) store_out(out + col, v[k]);
    }
  }
  __syncwarp();
  if (lane == 0 && out_lse) *out_lse = acc.lse();
}

}  // namespace kvtier::attention::cuda
