// Internal: work stealing of the decode kernel (DecodeParams::steal). Used where every pair of
// (sequence, kv head, m tile) has one CTA (no splits, batch 32 x 4K say): a static partition then
// leaves the launch to its slowest CTAs (on an H200 a random tenth of them ran 10% longer than
// the rest, docs/attention-notes.md, session 8). Here a warp takes its pair's steps in chunks: its
// first chunks statically (they may be loaded before the grid dependency wait), the rest from the
// pair's claim counter, asked one chunk ahead. A CTA whose own pair is done (or that has none)
// takes a partial slot of the pair with the most chunks left and claims chunks from the same
// counter. Each CTA that computed chunks of a pair writes its partial state to its slot and adds
// its chunk count to the pair's done counter; the one that completes it merges the slots (the
// split merge). An owner that computed every chunk writes the output directly, as before.
#pragma once

#include "attention/cuda/decode_params.h"
#include "attention/cuda/ptx.cuh"

namespace kvtier::attention::cuda {

constexpr int kNoStep = 1 << 30;  // a step id past every sequence's end

// Keys of sequence `len` that any row of m tile `m_tile` sees.
__device__ __forceinline__ int pair_keys(const DecodeParams& p, int len, int m_tile) {
  if (!p.causal) return len;
  const int r_last = min(p.rows, (m_tile + 1) * 16) - 1;
  return min(len, max(0, len - p.q_tokens + 1 + r_last / p.group));
}

__device__ __forceinline__ unsigned* steal_words(const DecodeParams& p, int pair) {
  return p.steal_words + (static_cast<long long>(p.steal_set) * p.steal_capacity + pair) *
                             kStealWords;
}

// The next 16-key step ids of one warp: every `stride`-th step from `next` (the splits x warps of
// a pair interleaved), or with stealing chunks of p.steal_chunk steps as described above. Every
// lane of the warp holds the same state and calls get() together.
struct StepSource {
  int next = 0, stride = 1;  // static partition
  bool steal = false, done = false;
  int chunk = 0, pos = 0, static_left = 0, warps = 1, base = 0, n_chunks = 0, n_steps = 0;
  int chunk_steps = 1;
  int taken = 0;          // chunks this warp started
  unsigned claim = 0;     // lane 0: the chunk claimed for later (an atomic still in flight)
  unsigned* counter = nullptr;

  __device__ __forceinline__ void ask() {
    claim = threadIdx.x % 32 == 0 ? atomicAdd(counter, 1u) : 0u;
  }
  // The owner's warp `warp`: chunks warp, warp + warps, ... (p.steal_static of them) without
  // claiming; start_claims() after the grid dependency wait.
  __device__ __forceinline__ void init_owner(const DecodeParams& p, int pair, int warp, int n_warps,
                                             int steps) {
    init_common(p, pair, n_warps, steps);
    chunk = warp;
    static_left = p.steal_static - 1;
    if (chunk >= n_chunks) {
      done = true;
    } else {
      taken = 1;
    }
  }
  __device__ __forceinline__ void start_claims() {
    if (!done) ask();
  }
  // A thief: claims from the first step on.
  __device__ __forceinline__ void init_thief(const DecodeParams& p, int pair, int n_warps,
                                             int steps) {
    init_common(p, pair, n_warps, steps);
    pos = chunk_steps;  // the first get() takes a claimed chunk
    ask();
  }
  __device__ __forceinline__ int get() {
    if (!steal) {
      const int id = next;
      next += stride;
      return id;
    }
    if (done) return kNoStep;
    if (pos == chunk_steps) {
      pos = 0;
      if (static_left > 0) {
        chunk += warps;
        --static_left;
      } else {
        chunk = base + static_cast<int>(__shfl_sync(0xffffffffu, claim, 0));
        ask();
      }
      if (chunk >= n_chunks) {
        done = true;
        return kNoStep;
      }
      ++taken;
    }
    const int id = chunk * chunk_steps + pos++;
    if (id >= n_steps) {
      done = true;
      return kNoStep;
    }
    return id;
  }

 private:
  __device__ __forceinline__ void init_common(const DecodeParams& p, int pair, int n_warps,
                                              int steps) {
    steal = true;
    warps = n_warps;
    chunk_steps = p.steal_chunk;
    n_steps = steps;
    n_chunks = (steps + chunk_steps - 1) / chunk_steps;
    base = p.steal_static * n_warps;
    counter = steal_words(p, pair) + kStealClaimed;
  }
};

// After the grid dependency wait: zero the set of counters this launch does not use (the
// previous launch of this kind used it and is complete; the next one will use it).
__device__ __forceinline__ void steal_reset_other_set(const DecodeParams& p) {
  unsigned* other = p.steal_words + static_cast<long long>(1 - p.steal_set) * p.steal_capacity *
                                        kStealWords;
  const long long n = static_cast<long long>(p.steal_capacity) * kStealWords;
  const long long cta =
      blockIdx.x + gridDim.x * (blockIdx.y + static_cast<long long>(gridDim.y) * blockIdx.z);
  const long long threads =
      static_cast<long long>(gridDim.x) * gridDim.y * gridDim.z * blockDim.x;
  for (long long i = cta * blockDim.x + threadIdx.x; i < n; i += threads) other[i] = 0u;
}

// Chooses the pair with the most unclaimed chunks (at least `min_chunks`, and a free partial
// slot), scanning from pair `start`, and takes a slot of it. Called by every thread of the CTA;
// returns the pair (-1: none) and sets *slot. Starts and ends with a __syncthreads.
__device__ __forceinline__ int steal_pick(const DecodeParams& p, int start, int min_chunks,
                                          int n_warps, int* slot) {
  __shared__ int s_pick[2];
  __syncthreads();  // the CTA is done with its shared memory and the previous pick
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x, pairs = p.batch * gridDim.x;
    int pick = -1, got = 0;
    for (int attempt = 0; attempt < 4 && pick < 0; ++attempt) {
      int best_left = min_chunks - 1, best = -1;
#pragma unroll 4
      for (int i = lane; i < pairs; i += 32) {
        const int q = start + i < pairs ? start + i : start + i - pairs;
        const int b = q / gridDim.x, m_tile = (q % gridDim.x) / p.kv_heads;
        const unsigned* w = steal_words(p, q);
        const int claimed = static_cast<int>(__ldcg(w + kStealClaimed));
        const int thieves = static_cast<int>(__ldcg(w + kStealThieves));
        const int steps = (pair_keys(p, p.seq_lens[b], m_tile) + 15) / 16;
        const int left = (steps + p.steal_chunk - 1) / p.steal_chunk -
                         p.steal_static * n_warps - claimed;
        if (thieves < kStealParts - 1 && left > best_left) {
          best_left = left;
          best = i;  // the scan offset: ties go to the nearest pair
        }
      }
      // The most chunks left over the warp (ties: the smallest offset).
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) {
        const int l = __shfl_xor_sync(0xffffffffu, best_left, off);
        const int o = __shfl_xor_sync(0xffffffffu, best, off);
        if (l > best_left || (l == best_left && o >= 0 && (best < 0 || o < best))) {
          best_left = l;
          best = o;
        }
      }
      if (best < 0) break;
      const int q = start + best < pairs ? start + best : start + best - pairs;
      int s = 0;
      if (lane == 0) s = static_cast<int>(atomicAdd(steal_words(p, q) + kStealThieves, 1u)) + 1;
      s = __shfl_sync(0xffffffffu, s, 0);
      if (s < kStealParts) {
        pick = q;
        got = s;
      }
    }
    if (lane == 0) {
      s_pick[0] = pick;
      s_pick[1] = got;
    }
  }
  __syncthreads();
  *slot = s_pick[1];
  return s_pick[0];
}

}  // namespace kvtier::attention::cuda
