// Internal: the end of a decode CTA: its warps' partial states are merged through shared memory
// into one state per row, written to the output (one split) or to the split workspace; the last
// split of each (sequence, head, m tile) to finish (an atomic counter) merges all splits, staged
// in shared memory.
#pragma once

#include <cstdint>

#include "attention/cuda/decode_params.h"
#include "attention/cuda/merge_warp.cuh"
#include "attention/cuda/ptx.cuh"

namespace kvtier::attention::cuda {

// Thread 0 records marks `first` .. `last` of this CTA's timeline (DecodeParams::trace) at the
// same time, with its SM and `merged`, when the launch is traced.
__device__ __forceinline__ void trace_marks(const DecodeParams& p, int first, int last,
                                            unsigned long long merged = 0) {
  if (p.trace == nullptr || threadIdx.x != 0) return;
  const unsigned long long now = globaltimer_ns();
  const long long cta =
      blockIdx.x + gridDim.x * (blockIdx.y + static_cast<long long>(gridDim.y) * blockIdx.z);
  unsigned long long* t = p.trace + cta * kTraceWords;
  for (int k = first; k <= last; ++k) t[k] = now;
  t[kTraceSm] = sm_id();
  t[kTraceMerged] = merged;
}

// The split merge of the last CTA of a (sequence, head, m tile): warp w merges rows w, w + kWarps,
// ... Each warp first stages its rows' lse of every split and the o of as many splits as fit in its
// share of the shared memory with cp.async (all splits at once for the shapes that matter: one L2
// round trip, where loads through registers took one per 16 splits; measured no faster than them:
// docs/attention-notes.md, session 2 call 1), turns the lse into normalized weights (MergeAcc) in
// place, then sums the weighted o from shared memory.
// part_o must be 16-byte aligned (the decoder aligns it).
template <int D, int kWarps, int kSmemBytes>
__device__ __forceinline__ void merge_splits_staged(const DecodeParams& p, unsigned char* smem,
                                                    int b, int h, int m_tile, int rows_here,
                                                    int splits) {
  constexpr int kRows = (16 + kWarps - 1) / kWarps;  // rows a warp at most
  constexpr int kCols = (D + 31) / 32;               // columns a lane
  constexpr int kWarpFloats = kSmemBytes / 4 / kWarps / 4 * 4;
  static_assert(kWarpFloats >= kRows * (256 + 4 + D), "every lse and one split of o must fit");
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int nr = warp < rows_here ? (rows_here - warp + kWarps - 1) / kWarps : 0;
  if (nr == 0) return;
  float* s_w = reinterpret_cast<float*>(smem) + warp * kWarpFloats;  // [nr][splits]: lse, weights
  const int lse_floats = (nr * splits + 3) / 4 * 4;
  float* s_o = s_w + lse_floats;  // [chunk][nr][D]
  const int chunk = min(splits, (kWarpFloats - lse_floats) / (nr * D));
  const std::uint32_t o_addr = smem_addr(s_o);
  const long long part_stride = static_cast<long long>(p.rows_total);
  long long grow[kRows];
#pragma unroll
  for (int j = 0; j < kRows; ++j) {
    const int r = m_tile * 16 + warp + j * kWarps, t = r / p.group, i = r % p.group;
    grow[j] = (static_cast<long long>(b) * p.q_tokens + t) * p.q_heads + h * p.group + i;
  }
  // o of splits [first, first + count) of this warp's rows into s_o, 16 bytes a copy.
  auto stage_o = [&](int first, int count) {
#pragma unroll
    for (int j = 0; j < kRows; ++j) {
      if (j >= nr) break;
      const float* src = p.part_o + (first * part_stride + grow[j]) * D;
      for (int idx = lane; idx < count * (D / 4); idx += 32) {
        const int c = idx / (D / 4), q = idx % (D / 4);
        cp_async16(o_addr + ((c * nr + j) * D + q * 4) * 4, src + c * part_stride * D + q * 4, 16);
      }
    }
  };
  stage_o(0, chunk);
  cp_async_commit();
  // The lse through registers with L2 loads (a 4-byte cp.async would go through L1, which may hold
  // a stale line: the rows of other heads share it), in flight together with the copies.
#pragma unroll
  for (int j = 0; j < kRows; ++j) {
    if (j >= nr) break;
#pragma unroll 8
    for (int i = lane; i < splits; i += 32)
      s_w[j * splits + i] = __ldcg(p.part_lse + i * part_stride + grow[j]);
  }
  cp_async_wait<0>();
  __syncwarp();

  // Merged max and sum of each row, then its normalized weights in place of the lse.
  detail::MergeAcc acc[kRows];
#pragma unroll
  for (int j = 0; j < kRows; ++j) {
    if (j >= nr) break;
    float rescale, weight;
    for (int i = lane; i < splits; i += 32) acc[j].add(s_w[j * splits + i], &rescale, &weight);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      detail::MergeAcc other;
      other.m = __shfl_xor_sync(0xffffffffu, acc[j].m, off);
      other.sum = __shfl_xor_sync(0xffffffffu, acc[j].sum, off);
      acc[j].combine(other);
    }
  }
  __syncwarp();
#pragma unroll
  for (int j = 0; j < kRows; ++j) {
    if (j >= nr) break;
    for (int i = lane; i < splits; i += 32)
      s_w[j * splits + i] = acc[j].weight_of(s_w[j * splits + i]);
  }
  __syncwarp();

  float v[kRows][kCols];
#pragma unroll
  for (int j = 0; j < kRows; ++j) {
#pragma unroll
    for (int k = 0; k < kCols; ++k) v[j][k] = 0.f;
  }
  for (int first = 0; first < splits; first += chunk) {
    const int count = min(chunk, splits - first);
    if (first > 0) {  // the common shapes have one chunk
      __syncwarp();
      stage_o(first, count);
      cp_async_commit();
      cp_async_wait<0>();
      __syncwarp();
    }
#pragma unroll
    for (int j = 0; j < kRows; ++j) {
      if (j >= nr) break;
#pragma unroll 4
      for (int c = 0; c < count; ++c) {
        const float w = s_w[j * splits + first + c];  // 0 for empty parts: never read their o
#pragma unroll
        for (int k = 0; k < kCols; ++k) {
          const int col = lane + 32 * k;
          if (col < D) {
            const float x = s_o[(c * nr + j) * D + col];
            v[j][k] += w != 0.f ? w * x : 0.f;
          }
        }
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kRows; ++j) {
    if (j >= nr) break;
#pragma unroll
    for (int k = 0; k < kCols; ++k) {
      const int col = lane + 32 * k;
      if (col < D) p.o[grow[j] * D + col] = v[j][k];
    }
    if (lane == 0) p.lse[grow[j]] = acc[j].lse();
  }
}

// Call after every warp's copies are waited for and a __syncthreads (smem is reused).
// m_run, l_run: this thread's rows g and g + 8 (base-2 max, sum over its quad not yet reduced);
// acc: its mma C fragments of O [16][D].
template <int D, int kWarps, int kSmemBytes>
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
  float* ow = ml + kWarps * 32;                // [warps][16][D]
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
  if (direct) {
    trace_marks(p, kTraceWritten, kTraceDone);
    return;
  }

  // The last split of this (sequence, head, m tile) to finish merges all of them: thread 0 counts
  // the split done with a release (the CTA's partial writes, ordered before it by the barrier, are
  // visible before the count) and acquire (the last CTA then reads every split's partials).
  __shared__ unsigned last;
  __syncthreads();
  trace_marks(p, kTraceWritten, kTraceWritten);
  if (threadIdx.x == 0) {
    unsigned* counter =
        p.counters + (static_cast<long long>(b) * p.kv_heads + h) * p.m_tiles + m_tile;
    const unsigned done = atomic_add_acq_rel(counter, 1u);
    last = done == static_cast<unsigned>(splits - 1);
    if (last) *counter = 0u;  // ready for the next launch
  }
  __syncthreads();
  if (!last) {
    trace_marks(p, kTraceCounted, kTraceDone);
    return;
  }
  trace_marks(p, kTraceCounted, kTraceCounted);
  merge_splits_staged<D, kWarps, kSmemBytes>(p, smem, b, h, m_tile, rows_here, splits);
  if (p.trace != nullptr) __syncthreads();  // uniform: the launch is traced or not
  trace_marks(p, kTraceDone, kTraceDone, 1);
}

}  // namespace kvtier::attention::cuda
