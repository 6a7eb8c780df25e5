// Internal: the end of a decode CTA (both kernels): its warps' partial states are merged through
// shared memory into one state per row, written to the output (one split) or to the split
// workspace; the last split of each (sequence, head, m tile) to finish (an atomic counter) merges
// all splits with the shared merge_row_warp.
#pragma once

#include <cstdint>

#include "attention/cuda/decode_params.h"
#include "attention/cuda/merge_warp.cuh"

namespace kvtier::attention::cuda {

struct PartsStrided {
  const float* o_base;
  const float* lse_base;
  long long o_stride, lse_stride;
  __device__ float lse(int i) const { return __ldcg(lse_base + i * lse_stride); }
  __device__ float o(int i, int col) const { return __ldcg(o_base + i * o_stride + col); }
};

// Call after every warp's copies are waited for and a __syncthreads (smem is reused).
// m_run, l_run: this thread's rows g and g + 8 (base-2 max, sum over its quad not yet reduced);
// acc: its mma C fragments of O [16][D].
template <int D, int kWarps>
__device__ __forceinline__ void finish_cta(const DecodeParams& p, unsigned char* smem,
                                           const float (&m_run)[2], float (&l_run)[2],
                                           const float (&acc)[D / 8][4], int b, int h, int m_tile,
                                           int split, int splits) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;

  // Merge the warps through shared memory: per warp m, l [16] and O [16][D].
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    l_run[k] += __shfl_xor_sync(0xffffffffu, l_run[k], 1);
    l_run[k] += __shfl_xor_sync(0xffffffffu, l_run[k], 2);
  }
  float* ml = reinterpret_cast<float*>(smem);  // [warps][16][2]
  float* ow = ml + kWarps * 32;            // [warps][16][D]
  if (tq == 0) {
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      ml[(warp * 16 + g + 8 * k) * 2] = m_run[k];
      ml[(warp * 16 + g + 8 * k) * 2 + 1] = l_run[k];
    }
  }
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      float* dst = ow + (warp * 16 + g + 8 * k) * D + n * 8 + 2 * tq;
      *reinterpret_cast<float2*>(dst) = make_float2(acc[n][2 * k], acc[n][2 * k + 1]);
    }
  }
  __syncthreads();

  const bool direct = splits == 1;
  const int rows_here = min(16, p.rows - m_tile * 16);
  for (int rr = warp; rr < rows_here; rr += kWarps) {
    float m_all = -INFINITY;
    for (int w = 0; w < kWarps; ++w) m_all = fmaxf(m_all, ml[(w * 16 + rr) * 2]);
    float wgt[kWarps], l_all = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float mw = ml[(w * 16 + rr) * 2];
      wgt[w] = mw == -INFINITY ? 0.f : exp2f(mw - m_all);
      l_all += wgt[w] * ml[(w * 16 + rr) * 2 + 1];
    }
    const float inv = l_all > 0.f ? 1.f / l_all : 0.f;
    const int r = m_tile * 16 + rr, t = r / p.group, i = r % p.group;
    const long long grow =
        (static_cast<long long>(b) * p.q_tokens + t) * p.q_heads + h * p.group + i;
    float* out = direct ? p.o + grow * D
                        : p.part_o + (split * static_cast<long long>(p.rows_total) + grow) * D;
    for (int col = lane; col < D; col += 32) {
      float v = 0.f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) v += wgt[w] * ow[(w * 16 + rr) * D + col];
      out[col] = v * inv;
    }
    if (lane == 0) {
      const float lse = l_all > 0.f ? (m_all + log2f(l_all)) * detail::kLn2 : -INFINITY;
      if (direct)
        p.lse[grow] = lse;
      else
        p.part_lse[split * static_cast<long long>(p.rows_total) + grow] = lse;
    }
  }
  if (direct) return;

  // The last split of this (sequence, head, m tile) to finish merges all of them.
  __shared__ unsigned last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned* counter =
        p.counters + (static_cast<long long>(b) * p.kv_heads + h) * p.m_tiles + m_tile;
    const unsigned done = atomicAdd(counter, 1u);
    last = done == static_cast<unsigned>(splits - 1);
    if (last) *counter = 0u;  // ready for the next launch
  }
  __syncthreads();
  if (!last) return;
  __threadfence();
  for (int rr = warp; rr < rows_here; rr += kWarps) {
    const int r = m_tile * 16 + rr, t = r / p.group, i = r % p.group;
    const long long grow =
        (static_cast<long long>(b) * p.q_tokens + t) * p.q_heads + h * p.group + i;
    const PartsStrided parts{p.part_o + grow * D, p.part_lse + grow,
                             static_cast<long long>(p.rows_total) * D, p.rows_total};
    merge_row_warp(parts, splits, D, p.o + grow * D, p.lse + grow);
  }
}

}  // namespace kvtier::attention::cuda
