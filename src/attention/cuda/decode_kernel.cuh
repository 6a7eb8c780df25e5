// Internal: the GPU partial decode attention kernel (sm_80+), instantiated per head_dim and dtype.
//
// One CTA = (m tile of up to 16 rows, split, sequence x kv head). Rows r = t * group + i are the
// q tokens x q heads of one kv head, so K and V of that head are read once for all of them. Keys
// stream through shared memory in tiles of kTile tokens (kStages-deep cp.async pipeline, 16-byte
// copies); each warp takes 16 keys of a tile: S = Q K^T and O += P V on tensor cores
// (mma m16n8k16, fp32 accumulate; P is split into two 16-bit terms so it keeps ~16 bits of
// precision). Warps are merged through shared memory; splits through the workspace, by the last
// CTA of each head (an atomic counter), with the shared merge_row_warp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "attention/cuda/decode_finish.cuh"
#include "attention/cuda/decode_params.h"
#include "attention/cuda/ptx.cuh"

namespace kvtier::attention::cuda {

// kDeep: an opt-in variant for cards with ~227 KiB of shared memory a CTA (sm_90): 7-8 stages,
// one CTA an SM, about 1.5x the bytes in flight of two default CTAs.
template <int D, bool kDeep = false>
struct Traits {
  static constexpr int kWarps = D <= 128 ? 4 : 2;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kTile = kWarps * 16;  // keys a stage
  static constexpr int kChunks = D / 8;      // 16-byte chunks a row
  static constexpr bool kSwizzle = kChunks % 8 == 0;
  static constexpr int kRowChunks = kSwizzle ? kChunks : (kChunks | 1);  // odd pad: no conflicts
  static constexpr int kKvChunks = kTile * kRowChunks;                   // K (or V) of a stage
  static constexpr int kStageBytes = 2 * kKvChunks * 16;
  static constexpr int kDeepStages = 224 * 1024 / kStageBytes < 8 ? 224 * 1024 / kStageBytes : 8;
  static constexpr int kStages = kDeep ? kDeepStages : (D == 64 || D == 80 ? 4 : 3);
  static constexpr int kSmemBytes = kStages * kStageBytes;
  static_assert(kSmemBytes >= kWarps * 16 * (D + 2) * 4, "warp merge must fit the pipeline smem");
  static_assert(kDeep || kSmemBytes <= 99 * 1024, "must fit sm_86/sm_89 (99 KiB a block)");
  static_assert(kSmemBytes <= 224 * 1024, "must fit sm_90 (227 KiB a block)");
};

template <int D>
__device__ __forceinline__ int chunk_index(int row, int chunk) {
  using Tr = Traits<D>;  // the row layout does not depend on the stage count
  return row * Tr::kRowChunks + (Tr::kSwizzle ? (chunk ^ (row & 7)) : chunk);
}

template <int D, class T, bool kDeep>
__global__ void __launch_bounds__(Traits<D, kDeep>::kThreads) decode_kernel(const DecodeParams p) {
  using Tr = Traits<D, kDeep>;
  extern __shared__ __align__(128) unsigned char smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
  // Grid: x = m_tile * kv_heads + h (heads fastest: CTAs that run together read the same blocks),
  // y = split, z = sequence.
  const int h = blockIdx.x % p.kv_heads, m_tile = blockIdx.x / p.kv_heads, split = blockIdx.y;
  const int b = blockIdx.z;
  const int len = p.seq_lens[b];
  const int tiles = (len + Tr::kTile - 1) / Tr::kTile;
  int splits, per;
  plan_splits(tiles, p.chunk_tiles, p.fixed_splits, p.max_splits, &splits, &per);
  if (split >= splits) return;
  const int tile0 = split * per, tile1 = min(tiles, tile0 + per);
  const int j0 = tile0 * Tr::kTile, j1 = min(len, tile1 * Tr::kTile);
  const void* const* blocks = p.blocks + p.block_begin[b];

  // Rows of this thread (g and g + 8 of the m tile) and the keys each sees.
  int lim[2];
  const T* qrow[2];
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const int r = m_tile * 16 + g + 8 * k;
    const int t = r / p.group, i = r % p.group;
    lim[k] = r < p.rows ? (p.causal ? max(0, len - p.q_tokens + 1 + t) : len) : j1;
    lim[k] = min(lim[k], j1);
    qrow[k] =
        r < p.rows
            ? static_cast<const T*>(p.q) +
                  ((static_cast<long long>(b) * p.q_tokens + t) * p.q_heads + h * p.group + i) * D
            : nullptr;
  }
  // Q as mma A fragments (zeros for rows past the group).
  std::uint32_t qa[D / 16][4];
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const T* src = qrow[k & 1];
      const int col = ks * 16 + 2 * tq + (k >> 1) * 8;
      qa[ks][k] = src ? *reinterpret_cast<const std::uint32_t*>(src + col) : 0u;
    }
  }

  const std::uint32_t smem_base = smem_addr(smem);
  const int key_end = max(lim[0], lim[1]);  // this thread's rows see nothing past it
  int cta_end = j1;                         // keys any row of the CTA needs
  if (p.causal) {
    const int r_last = min(p.rows, (m_tile + 1) * 16) - 1;
    cta_end = min(j1, max(0, len - p.q_tokens + 1 + r_last / p.group));
  }
  const int n_tiles = cta_end > j0 ? (cta_end - j0 + Tr::kTile - 1) / Tr::kTile : 0;
  const char* fallback =
      n_tiles > 0 ? static_cast<const char*>(blocks[j0 / p.block_tokens]) : nullptr;

  // Copies one tile of K and V into a stage. All block addresses are loaded first, so their
  // latencies overlap instead of serializing behind each copy.
  constexpr int kIters = Tr::kTile * Tr::kChunks / Tr::kThreads;
  static_assert(Tr::kTile * Tr::kChunks % Tr::kThreads == 0, "whole copy rounds");
  auto load_tile = [&](int tile, int stage) {
    const int tok0 = j0 + tile * Tr::kTile;
    const std::uint32_t k_base = smem_base + stage * 2 * Tr::kKvChunks * 16;
    const std::uint32_t v_base = k_base + Tr::kKvChunks * 16;
    const char* src[kIters];
#pragma unroll
    for (int k = 0; k < kIters; ++k) {
      const int c = threadIdx.x + k * Tr::kThreads, row = c / Tr::kChunks, tok = tok0 + row;
      src[k] =
          tok < cta_end
              ? static_cast<const char*>(blocks[tok / p.block_tokens]) +
                    (static_cast<long long>(tok % p.block_tokens) * D + c % Tr::kChunks * 8) * 2
              : nullptr;
    }
#pragma unroll
    for (int k = 0; k < kIters; ++k) {
      const int c = threadIdx.x + k * Tr::kThreads, row = c / Tr::kChunks, ch = c % Tr::kChunks;
      const int off = chunk_index<D>(row, ch) * 16;
      const bool ok = src[k] != nullptr;
      const char* base = ok ? src[k] : fallback;
      cp_async16(k_base + off, base + (ok ? h * p.head_bytes : 0), ok ? 16 : 0);
      cp_async16(v_base + off, base + (ok ? (p.kv_heads + h) * p.head_bytes : 0), ok ? 16 : 0);
    }
  };

  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};
  float acc[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;

#pragma unroll
  for (int s = 0; s < Tr::kStages - 1; ++s) {
    if (s < n_tiles) load_tile(s, s);
    cp_async_commit();
  }
  for (int it = 0; it < n_tiles; ++it) {
    cp_async_wait<Tr::kStages - 2>();
    __syncthreads();
    const int nxt = it + Tr::kStages - 1;
    if (nxt < n_tiles) load_tile(nxt, nxt % Tr::kStages);
    cp_async_commit();

    const int stage = it % Tr::kStages;
    const int key0 = j0 + it * Tr::kTile + warp * 16;        // first key of this warp
    if (__all_sync(0xffffffffu, key0 >= key_end)) continue;  // every lane: no divergent vote
    const std::uint32_t k_base = smem_base + stage * 2 * Tr::kKvChunks * 16;
    const std::uint32_t v_base = k_base + Tr::kKvChunks * 16;
    const int mi = lane / 8, ri = lane % 8;

    // S = Q K^T for 16 keys: two n8 tiles.
    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks) {
      std::uint32_t kb[4];
      const int row = warp * 16 + (mi >> 1) * 8 + ri;
      ldsm_x4(k_base + chunk_index<D>(row, 2 * ks + (mi & 1)) * 16, kb);
      Mma<T>::run(s[0], qa[ks], kb[0], kb[1]);
      Mma<T>::run(s[1], qa[ks], kb[2], kb[3]);
    }
    // Online softmax (base 2) of rows g (k = 0) and g + 8 (k = 1).
    float alpha[2];
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      float mx = -INFINITY;
#pragma unroll
      for (int n = 0; n < 2; ++n) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int key = key0 + n * 8 + 2 * tq + e;
          float& v = s[n][2 * k + e];
          v = key < lim[k] ? v * p.scale_log2 : -INFINITY;
          mx = fmaxf(mx, v);
        }
      }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m_run[k], mx);
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      alpha[k] = exp2f(m_run[k] - m_use);
      float sum = 0.f;
#pragma unroll
      for (int n = 0; n < 2; ++n) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& v = s[n][2 * k + e];
          v = exp2f(v - m_use);
          sum += v;
        }
      }
      l_run[k] = l_run[k] * alpha[k] + sum;
      m_run[k] = m_new;
    }
#pragma unroll
    for (int n = 0; n < D / 8; ++n) {
      acc[n][0] *= alpha[0];
      acc[n][1] *= alpha[0];
      acc[n][2] *= alpha[1];
      acc[n][3] *= alpha[1];
    }
    // P as A fragments, hi + lo 16-bit terms.
    std::uint32_t pa_hi[4], pa_lo[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float x = s[k >> 1][(k & 1) * 2], y = s[k >> 1][(k & 1) * 2 + 1];
      float rx, ry, unused_x, unused_y;
      pa_hi[k] = Mma<T>::pack(x, y, &rx, &ry);
      pa_lo[k] = Mma<T>::pack(x - rx, y - ry, &unused_x, &unused_y);
    }
    // O += P V: V^T fragments by ldmatrix.trans, 16 columns at a time.
#pragma unroll
    for (int dn = 0; dn < D / 16; ++dn) {
      std::uint32_t vb[4];
      const int row = warp * 16 + (mi & 1) * 8 + ri;
      ldsm_x4_trans(v_base + chunk_index<D>(row, 2 * dn + (mi >> 1)) * 16, vb);
      Mma<T>::run(acc[2 * dn], pa_hi, vb[0], vb[1]);
      Mma<T>::run(acc[2 * dn], pa_lo, vb[0], vb[1]);
      Mma<T>::run(acc[2 * dn + 1], pa_hi, vb[2], vb[3]);
      Mma<T>::run(acc[2 * dn + 1], pa_lo, vb[2], vb[3]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();

  finish_cta<D, Tr::kWarps>(p, smem, m_run, l_run, acc, b, h, m_tile, split, splits);
}

}  // namespace kvtier::attention::cuda
