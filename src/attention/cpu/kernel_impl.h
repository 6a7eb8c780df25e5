// Internal: the CPU attention algorithm over one CpuItem, written once and compiled per ISA.
// The including file defines KVT_CPU_NS (a namespace name), KVT_CPU_TARGET (a function
// attribute selecting the ISA, or nothing) and, in namespace kvtier::attention::cpu::KVT_CPU_NS:
//   template <int NR> void scores(const CpuItem&, const float* qf, const uint16_t* qh,
//                                 const char* k, int n, float* s, int s_stride)
//        // s[r * s_stride + j] = base-2 score of row r (NR rows of q) with key j < n
//   float exp2_sub(float* s, int n, float m)   // s[i] = 2^(s[i] - m); returns the sum
//   template <int NR> void pv(float* o, const float* alpha, const float* p, int p_stride,
//                             const char* v, int n, int d, DType)
//        // o[r][k] = alpha[r] * o[r][k] + sum_j p[r * p_stride + j] * v[j][k]
// Keys are read in place (bf16/fp16/fp32), rows are processed kRowGroup at a time so one read of
// a key row serves several q rows, and all kv heads of a block are visited in turn so each block
// is read as one contiguous region.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "attention/cpu/cpu_item.h"

#ifndef KVT_CPU_PF_HINT
#define KVT_CPU_PF_HINT 3  // prefetcht1: into L2, the fill buffers of L1 stay free for the loads
#endif

namespace kvtier::attention::cpu::KVT_CPU_NS {

template <int NR>
KVT_CPU_TARGET inline void group_piece(const CpuItem& it, int hi, int r0, int j, int n,
                                       const char* kp, const char* vp, float* m, float* l,
                                       float* s) {
  const int d = it.head_dim, bt = it.block_tokens;
  const std::size_t q_off = (static_cast<std::size_t>(it.h0 + hi) * it.rows + r0) * d;
  scores<NR>(it, it.qf + q_off, it.qh ? it.qh + q_off : nullptr, kp, n, s, bt);
  float alpha[NR];
  for (int r = 0; r < NR; ++r) {
    const int lim = std::min(n, it.limit[r0 + r] - j);
    float* sr = s + r * bt;
    float mx = -INFINITY;
    for (int jj = 0; jj < lim; ++jj) mx = std::max(mx, sr[jj]);
    for (int jj = std::max(lim, 0); jj < n; ++jj) sr[jj] = -INFINITY;  // masked keys
    const int sr_idx = hi * it.rows + r0 + r;
    const float m_new = std::max(m[sr_idx], mx);
    if (m_new == -INFINITY) {  // nothing seen yet: state stays empty
      alpha[r] = 1.f;
      for (int jj = 0; jj < n; ++jj) sr[jj] = 0.f;
      continue;
    }
    alpha[r] = std::exp2(m[sr_idx] - m_new);
    l[sr_idx] = l[sr_idx] * alpha[r] + exp2_sub(sr, n, m_new);
    m[sr_idx] = m_new;
  }
  pv<NR>(it.o + (static_cast<std::size_t>(hi) * it.rows + r0) * d, alpha, s, bt, vp, n, d,
         it.dtype);
}

KVT_CPU_TARGET inline void run_item(const CpuItem& it) {
  const int d = it.head_dim, rows = it.rows, bt = it.block_tokens, heads = it.h1 - it.h0;
  const std::size_t esz = dtype_size(it.dtype);
  const std::size_t head_bytes = static_cast<std::size_t>(bt) * d * esz;
  float* s = it.scratch;          // [kRowGroup][bt]
  float* m = s + kRowGroup * bt;  // [heads][rows]
  float* l = m + heads * rows;    // [heads][rows]
  std::fill(m, m + heads * rows, -INFINITY);
  std::fill(l, l + heads * rows, 0.f);
  std::fill(it.o, it.o + static_cast<std::size_t>(heads) * rows * d, 0.f);
  int max_limit = 0;
  for (int r = 0; r < rows; ++r) max_limit = std::max(max_limit, it.limit[r]);
  const int j_end = std::min(it.j1, max_limit);
  for (int j = it.j0; j < j_end;) {
    const int jb = j % bt, n = std::min(bt - jb, j_end - j);
    const char* base = static_cast<const char*>(it.blocks[j / bt]) + jb * d * esz;
    // Blocks are scattered (paged), so hardware prefetchers restart at each one: ask for the
    // next block's K and V of each head while this block's same head is computed.
    const int jn = j + n;
    const char* next = jn < j_end ? static_cast<const char*>(it.blocks[jn / bt]) : nullptr;
    const std::size_t next_bytes =
        next ? static_cast<std::size_t>(std::min(bt, j_end - jn)) * d * esz : 0;
    for (int hi = 0; hi < heads; ++hi) {
      if (it.prefetch > 0 && next) {
        const char* nk = next + static_cast<std::size_t>(it.h0 + hi) * head_bytes;
        const char* nv = next + static_cast<std::size_t>(it.kv_heads + it.h0 + hi) * head_bytes;
        for (std::size_t off = 0; off < next_bytes; off += 64) {
          if (it.prefetch == 1) {  // to L1
            __builtin_prefetch(nk + off, 0, 3);
            __builtin_prefetch(nv + off, 0, 3);
          } else if (it.prefetch == 2) {  // to L2
            __builtin_prefetch(nk + off, 0, 2);
            __builtin_prefetch(nv + off, 0, 2);
          } else {  // to L3 / non-temporal
            __builtin_prefetch(nk + off, 0, 1);
            __builtin_prefetch(nv + off, 0, 1);
          }
        }
      }
      const char* kp = base + static_cast<std::size_t>(it.h0 + hi) * head_bytes;
      const char* vp = base + static_cast<std::size_t>(it.kv_heads + it.h0 + hi) * head_bytes;
      int r0 = 0;
      for (; r0 + kRowGroup <= rows; r0 += kRowGroup)
        group_piece<kRowGroup>(it, hi, r0, j, n, kp, vp, m, l, s);
      switch (rows - r0) {
        case 1:
          group_piece<1>(it, hi, r0, j, n, kp, vp, m, l, s);
          break;
        case 2:
          group_piece<2>(it, hi, r0, j, n, kp, vp, m, l, s);
          break;
        case 3:
          group_piece<3>(it, hi, r0, j, n, kp, vp, m, l, s);
          break;
        default:
          break;
      }
    }
    j += n;
  }
  for (int i = 0; i < heads * rows; ++i) {
    float* o = it.o + static_cast<std::size_t>(i) * d;
    if (l[i] > 0.f) {
      const float inv = 1.f / l[i];
      for (int k = 0; k < d; ++k) o[k] *= inv;
      it.lse[i] = (m[i] + std::log2(l[i])) * 0.6931471805599453f;
    } else {
      std::fill(o, o + d, 0.f);
      it.lse[i] = -INFINITY;
    }
  }
}

}  // namespace kvtier::attention::cpu::KVT_CPU_NS
