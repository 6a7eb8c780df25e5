// Internal: the GPU partial decode attention kernel with one cp.async pipeline per warp (sm_80+).
//
// One CTA = (m tile of up to 16 rows, split, sequence x kv head). Rows r = t * group + i are the
// q tokens x q heads of one kv head, so K and V of that head are read once for all of them.
// S = Q K^T and O += P V on tensor cores (mma m16n8k16, fp32 accumulation; P is split into two
// 16-bit terms so it keeps ~16 bits of precision). Each warp streams its own 16-key steps through
// its own ring of kStages slots, synchronized by __syncwarp only: no CTA barrier in the main loop,
// so one warp's compute or a late copy never stalls the others, and kStages - 1 steps (8 KiB each
// at dim 128) of every warp stay in flight while it computes. The block address of a step is
// loaded once per step (two halves of 8 keys: block_tokens is a multiple of 8), one step before
// its copies are issued, so its latency hides behind the compute of the current step.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "attention/cuda/decode_finish.cuh"
#include "attention/cuda/decode_params.h"
#include "attention/cuda/ptx.cuh"

namespace kvtier::attention::cuda {

// Shared-memory row layout of K and V: rows of D / 8 16-byte chunks, XOR-swizzled where that is a
// multiple of 8 (head_dim 64, 128, 256), else an odd row pitch (80, 96); either way `ldmatrix`
// reads are conflict-free.
template <int D>
struct RowLayout {
  static constexpr int kChunks = D / 8;
  static constexpr bool kSwizzle = kChunks % 8 == 0;
  static constexpr int kRowChunks = kSwizzle ? kChunks : (kChunks | 1);
};

template <int D>
__device__ __forceinline__ int chunk_index(int row, int chunk) {
  using L = RowLayout<D>;
  return row * L::kRowChunks + (L::kSwizzle ? (chunk ^ (row & 7)) : chunk);
}

// kW warps a CTA, pipelines within kBudgetKiB of shared memory (the default, 4 warps in 96 KiB:
// two CTAs an SM on sm_80/sm_90, one on sm_86/sm_89, whose blocks get 99 KiB at most).
template <int D, int kW = (D <= 128 ? 4 : 2), int kBudgetKiB = 96>
struct WarpTraits {
  static constexpr int kWarps = kW;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = D / 8;  // 16-byte chunks a row
  static constexpr int kRowChunks = RowLayout<D>::kRowChunks;
  static constexpr int kSlotChunks = 16 * kRowChunks;  // K (or V) of one 16-key step
  static constexpr int kSlotBytes = 2 * kSlotChunks * 16;
  static constexpr int kIters = 16 * kChunks / 32;  // 16-byte copies a lane, for K (and for V)
  static constexpr int kFit = kBudgetKiB * 1024 / (kWarps * kSlotBytes);
  static constexpr int kStages = kFit < 6 ? kFit : 6;
  static constexpr int kPipeBytes = kWarps * kStages * kSlotBytes;
  static constexpr int kMergeBytes = kWarps * 16 * (D + 2) * 4;
  static constexpr int kSmemBytes = kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes;
  static_assert(kStages >= 3, "at least two steps in flight while one computes");
  static_assert(16 * kChunks % 32 == 0, "whole copy rounds a lane");
  static_assert(kSmemBytes <= 224 * 1024, "must fit sm_90 (227 KiB a block)");
};

// Splits are planned in units of p.plan_keys keys (a multiple of 16).
template <int D, class T, int kW, int kBudgetKiB>
__global__ void __launch_bounds__(WarpTraits<D, kW, kBudgetKiB>::kThreads)
    decode_warp_kernel(const DecodeParams p) {
  using Tr = WarpTraits<D, kW, kBudgetKiB>;
  extern __shared__ __align__(128) unsigned char smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
  // Grid: x = m_tile * kv_heads + h (heads fastest: CTAs that run together read the same blocks),
  // y = split, z = sequence.
  const int h = blockIdx.x % p.kv_heads, m_tile = blockIdx.x / p.kv_heads, split = blockIdx.y;
  const int b = blockIdx.z;
  // Programmatic dependent launch (sm_90): the next grid in the stream may be scheduled now (its
  // CTAs take the SM slots ours free, and wait at their own grid_dependency_wait); ours waits for
  // the previous grid here, before the first global access, or with p.kv_ready once the tables
  // are read and the whole ring is loaded (below): only q and the outputs wait for it then.
  trace_marks(p, kTraceEntry, kTraceEntry);
  launch_dependents();
  if (!p.kv_ready) {
    grid_dependency_wait();
    trace_marks(p, kTraceWaited, kTraceWaited);
  }
  const int len = p.seq_lens[b];
  const int block_begin = p.block_begin[b];  // loaded with len, not after the split check
  const int tiles = (len + p.plan_keys - 1) / p.plan_keys;
  int splits, per;
  plan_splits(tiles, p.chunk_tiles, p.fixed_splits, p.max_splits, &splits, &per);
  if (split >= splits) {
    trace_marks(p, kTraceLoopDone, kTraceDone, 2);  // 2: nothing to do
    return;
  }
  const void* const* blocks = p.blocks + block_begin;

  // Rows of this thread (g and g + 8 of the m tile) and the keys each sees.
  int cta_end = len;  // keys any row of the CTA needs
  if (p.causal) {
    const int r_last = min(p.rows, (m_tile + 1) * 16) - 1;
    cta_end = min(len, max(0, len - p.q_tokens + 1 + r_last / p.group));
  }
  int lim[2];
  const T* qrow[2];
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const int r = m_tile * 16 + g + 8 * k;
    const int t = r / p.group, i = r % p.group;
    lim[k] = r < p.rows ? (p.causal ? max(0, len - p.q_tokens + 1 + t) : len) : cta_end;
    lim[k] = min(lim[k], cta_end);
    qrow[k] =
        r < p.rows
            ? static_cast<const T*>(p.q) +
                  ((static_cast<long long>(b) * p.q_tokens + t) * p.q_heads + h * p.group + i) * D
            : nullptr;
  }
  const int key_end = max(lim[0], lim[1]);  // this thread's rows see nothing past it

  // Work: the 16-key steps of this (sequence, head, m tile). `interleave`: the splits x kW warps
  // of its CTAs take steps gw, gw + n_warps, ... (every CTA sweeps the whole sequence); otherwise
  // split s takes the contiguous steps [s * per, (s + 1) * per), its warps interleaved.
  constexpr int S = Tr::kStages;
  const int n_steps = (cta_end + 15) / 16;
  const int unit = p.plan_keys / 16;  // steps a planning unit
  int first = split * Tr::kWarps + warp, stride = splits * Tr::kWarps, end = n_steps;
  if (!p.interleave) {
    first = split * per * unit + warp;
    stride = Tr::kWarps;
    end = min(n_steps, (split + 1) * per * unit);
  }
  int ids[S + 1];  // steps it .. it + S of this warp (end or more: none)
#pragma unroll
  for (int k = 0; k <= S; ++k) ids[k] = first + k * stride;
  const std::uint32_t ring = smem_addr(smem) + warp * S * Tr::kSlotBytes;

  // Addresses of the first key of each half (8 keys) of step `id`; a half past the CTA's keys
  // points at the first (it is never read).
  auto step_blocks = [&](int id, const char*& lo, const char*& hi) {
    if (id >= end) return;
    const int tok = id * 16;
    lo = static_cast<const char*>(blocks[tok / p.block_tokens]) +
         static_cast<long long>(tok % p.block_tokens) * (D * 2);
    hi = tok + 8 < cta_end ? static_cast<const char*>(blocks[(tok + 8) / p.block_tokens]) +
                                 static_cast<long long>((tok + 8) % p.block_tokens) * (D * 2)
                           : lo;
  };
  // Copies K and V of step `id` into ring slot `slot`; keys past the CTA's end are zero-filled.
  auto load_step = [&](int slot, int id, const char* lo, const char* hi) {
    const int tok = id * 16;
    const std::uint32_t k_base = ring + slot * Tr::kSlotBytes;
    const std::uint32_t v_base = k_base + Tr::kSlotChunks * 16;
    const char* k_lo = lo + h * p.head_bytes;
    const char* k_hi = hi + h * p.head_bytes;
    const long long kv = static_cast<long long>(p.kv_heads) * p.head_bytes;
#pragma unroll
    for (int k = 0; k < Tr::kIters; ++k) {
      const int c = lane + 32 * k, row = c / Tr::kChunks, ch = c % Tr::kChunks;
      const bool ok = tok + row < cta_end;
      const char* src = ok ? (row < 8 ? k_lo : k_hi) + (row & 7) * (D * 2) + ch * 16 : k_lo;
      const int off = chunk_index<D>(row, ch) * 16;
      cp_async16(k_base + off, src, ok ? 16 : 0);
      cp_async16(v_base + off, src + kv, ok ? 16 : 0);
    }
  };

  // Start the copies before loading Q: both latencies overlap.
  const char *lo = nullptr, *hi = nullptr;
#pragma unroll
  for (int i = 0; i < S - 1; ++i) {
    step_blocks(ids[i], lo, hi);
    if (ids[i] < end) load_step(i, ids[i], lo, hi);
    cp_async_commit();
  }
  const char *nlo = lo, *nhi = hi;
  step_blocks(ids[S - 1], nlo, nhi);
  // kv_ready: the last slot too (the first iteration then loads nothing), while the previous
  // grid may still be running; then the wait, before q and anything the previous grid writes.
  bool preloaded = false;
  if (p.kv_ready) {
    if (ids[S - 1] < end) load_step(S - 1, ids[S - 1], nlo, nhi);
    cp_async_commit();
    preloaded = true;
    // The next kL2Steps steps into L2: the refills right after the wait hit it. Measured on an
    // H200 (docs/attention-notes.md, session 6): 2 best; from 3 on they slow the previous grid.
    constexpr int kL2Steps = 2;
#pragma unroll
    for (int k = 0; k < kL2Steps; ++k) {
      const int id = first + (S + k) * stride;
      if (id >= end) break;
      const char *plo = nullptr, *phi = nullptr;
      step_blocks(id, plo, phi);
      // Each half is 8 rows, 16 D contiguous bytes of K and as many of V: its lines at 128-byte
      // offsets and its last byte (the half need not start on a line).
      constexpr int kLines = D / 8 + 1;
      const long long kv = static_cast<long long>(p.kv_heads) * p.head_bytes;
      for (int c = lane; c < 4 * kLines; c += 32) {
        const int half = c / (2 * kLines), v = (c / kLines) % 2, line = c % kLines;
        const char* base = (half ? phi : plo) + h * p.head_bytes + (v ? kv : 0);
        prefetch_l2(base + min(line * 128, 16 * D - 1));
      }
    }
    grid_dependency_wait();
    trace_marks(p, kTraceWaited, kTraceWaited);
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

  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.f, 0.f};
  float acc[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;

  for (int it = 0; ids[0] < end; ++it) {
    const int slot = it % S;
    // Step it + S - 1 goes into the slot of step it - 1 (done: __syncwarp below). Preloaded:
    // it is in flight already, and with no new group the wait below is still for step it.
    if (!preloaded) {
      if (ids[S - 1] < end) load_step((it + S - 1) % S, ids[S - 1], nlo, nhi);
      cp_async_commit();
    }
    preloaded = false;
    step_blocks(ids[S], nlo, nhi);  // used next iteration: the load hides behind this step
    cp_async_wait<S - 1>();
    __syncwarp();

    const int key0 = ids[0] * 16;                     // first key of this step
    if (!__all_sync(0xffffffffu, key0 >= key_end)) {  // every lane votes: no divergence
      const std::uint32_t k_base = ring + slot * Tr::kSlotBytes;
      const std::uint32_t v_base = k_base + Tr::kSlotChunks * 16;
      const int mi = lane / 8, ri = lane % 8;

      // S = Q K^T for 16 keys: two n8 tiles, even and odd k slices in separate accumulators
      // (four independent mma chains instead of two).
      float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
      float s_odd[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
      for (int ks = 0; ks < D / 16; ++ks) {
        std::uint32_t kb[4];
        const int row = (mi >> 1) * 8 + ri;
        ldsm_x4(k_base + chunk_index<D>(row, 2 * ks + (mi & 1)) * 16, kb);
        float(&dst)[2][4] = ks % 2 == 0 ? s : s_odd;
        Mma<T>::run(dst[0], qa[ks], kb[0], kb[1]);
        Mma<T>::run(dst[1], qa[ks], kb[2], kb[3]);
      }
#pragma unroll
      for (int n = 0; n < 2; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) s[n][e] += s_odd[n][e];
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
        const int row = (mi & 1) * 8 + ri;
        ldsm_x4_trans(v_base + chunk_index<D>(row, 2 * dn + (mi >> 1)) * 16, vb);
        Mma<T>::run(acc[2 * dn], pa_hi, vb[0], vb[1]);
        Mma<T>::run(acc[2 * dn + 1], pa_hi, vb[2], vb[3]);
        Mma<T>::run(acc[2 * dn], pa_lo, vb[0], vb[1]);
        Mma<T>::run(acc[2 * dn + 1], pa_lo, vb[2], vb[3]);
      }
    }
    __syncwarp();  // every lane is done with this slot before it is refilled
#pragma unroll
    for (int k = 0; k < S; ++k) ids[k] = ids[k + 1];
    ids[S] += stride;
  }
  cp_async_wait<0>();
  __syncthreads();
  trace_marks(p, kTraceLoopDone, kTraceLoopDone);

  finish_cta<D, Tr::kWarps, Tr::kSmemBytes>(p, smem, m_run, l_run, acc, b, h, m_tile, split,
                                            splits);
}

}  // namespace kvtier::attention::cuda
