// CPU attention kernels, AVX-512 (F/BW/VL/DQ) and AVX-512 with bf16 dot products for q.k
// (chosen at run time; no special compiler flags).
#include <cmath>

#include "attention/cpu/cpu_item.h"
#include "attention/cpu/simd_x86.h"

#if KVT_HAVE_X86
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_* helpers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace kvtier::attention::cpu::avx512_common {

// s[r * stride + j] = scale * sum(acc[r]) for NR rows (four at once through reduce4).
template <int NR>
KVT_TARGET_AVX512 inline void store_sums(const __m512 (&acc)[NR], float scale, float* s, int stride,
                                         int j) {
  if constexpr (NR == 4) {
    alignas(16) float t[4];
    _mm_store_ps(
        t, _mm_mul_ps(x86::reduce4_avx512(acc[0], acc[1], acc[2], acc[3]), _mm_set1_ps(scale)));
    for (int r = 0; r < 4; ++r) s[r * stride + j] = t[r];
  } else {
    for (int r = 0; r < NR; ++r) s[r * stride + j] = _mm512_reduce_add_ps(acc[r]) * scale;
  }
}

template <int NR>
KVT_TARGET_AVX512 inline void scores_f32(const CpuItem& it, const float* qf, const char* k, int n,
                                         float* s, int s_stride) {
  const int d = it.head_dim;
  for (int j = 0; j < n; ++j) {
    __m512 acc[NR];
    for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_ps();
    for (int x = 0; x < d; x += 16) {
      const __m512 kv = x86::load16_avx512(k, static_cast<std::size_t>(j) * d + x, it.dtype);
      for (int r = 0; r < NR; ++r)
        acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(qf + r * d + x), kv, acc[r]);
    }
    store_sums<NR>(acc, 1.f, s, s_stride, j);
  }
}

KVT_TARGET_AVX512 inline float exp2_sub(float* s, int n, float m) {
  const __m512 mv = _mm512_set1_ps(m);
  __m512 sum = _mm512_setzero_ps();
  for (int i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 e = x86::exp2_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, s + i), mv));
    _mm512_mask_storeu_ps(s + i, mask, e);
    sum = _mm512_mask_add_ps(sum, mask, sum, e);
  }
  return _mm512_reduce_add_ps(sum);
}

// o rows += p x V for NR rows, 32 columns at a time (16 for the tail of head_dim 80 / 96).
// head_dim 128, 16-bit V: each V row read whole and in order (a sequential stream the hardware
// prefetchers follow), two q rows at a time with their full output rows in registers.
template <int NR>
KVT_TARGET_AVX512 inline void pv128(float* o, const float* alpha, const float* p, int p_stride,
                                    const char* v, int n, DType t) {
  constexpr int kD = 128, kC = kD / 16;
  __m512 acc[NR][kC];
  for (int r = 0; r < NR; ++r) {
    const __m512 al = _mm512_set1_ps(alpha[r]);
    for (int c = 0; c < kC; ++c)
      acc[r][c] = _mm512_mul_ps(al, _mm512_loadu_ps(o + r * kD + c * 16));
  }
  for (int j = 0; j < n; ++j) {
    __m512 vr[kC];
    for (int c = 0; c < kC; ++c)
      vr[c] = x86::load16_avx512(v, static_cast<std::size_t>(j) * kD + c * 16, t);
    for (int r = 0; r < NR; ++r) {
      const __m512 pj = _mm512_set1_ps(p[r * p_stride + j]);
      for (int c = 0; c < kC; ++c) acc[r][c] = _mm512_fmadd_ps(pj, vr[c], acc[r][c]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    for (int c = 0; c < kC; ++c) _mm512_storeu_ps(o + r * kD + c * 16, acc[r][c]);
  }
}

template <int NR>
KVT_TARGET_AVX512 inline void pv(float* o, const float* alpha, const float* p, int p_stride,
                                 const char* v, int n, int d, DType t) {
  if (d == 128 && t != DType::kF32) {
    if constexpr (NR >= 2) {
      pv128<2>(o, alpha, p, p_stride, v, n, t);
      if constexpr (NR == 4) {
        pv128<2>(o + 2 * 128, alpha + 2, p + 2 * p_stride, p_stride, v, n, t);
      } else if constexpr (NR == 3) {
        pv128<1>(o + 2 * 128, alpha + 2, p + 2 * p_stride, p_stride, v, n, t);
      }
    } else {
      pv128<1>(o, alpha, p, p_stride, v, n, t);
    }
    return;
  }
  int x = 0;
  for (; x + 32 <= d; x += 32) {
    __m512 a0[NR], a1[NR];
    for (int r = 0; r < NR; ++r) {
      const __m512 al = _mm512_set1_ps(alpha[r]);
      a0[r] = _mm512_mul_ps(al, _mm512_loadu_ps(o + r * d + x));
      a1[r] = _mm512_mul_ps(al, _mm512_loadu_ps(o + r * d + x + 16));
    }
    for (int j = 0; j < n; ++j) {
      const __m512 v0 = x86::load16_avx512(v, static_cast<std::size_t>(j) * d + x, t);
      const __m512 v1 = x86::load16_avx512(v, static_cast<std::size_t>(j) * d + x + 16, t);
      for (int r = 0; r < NR; ++r) {
        const __m512 pj = _mm512_set1_ps(p[r * p_stride + j]);
        a0[r] = _mm512_fmadd_ps(pj, v0, a0[r]);
        a1[r] = _mm512_fmadd_ps(pj, v1, a1[r]);
      }
    }
    for (int r = 0; r < NR; ++r) {
      _mm512_storeu_ps(o + r * d + x, a0[r]);
      _mm512_storeu_ps(o + r * d + x + 16, a1[r]);
    }
  }
  if (x < d) {
    __m512 a[NR];
    for (int r = 0; r < NR; ++r)
      a[r] = _mm512_mul_ps(_mm512_set1_ps(alpha[r]), _mm512_loadu_ps(o + r * d + x));
    for (int j = 0; j < n; ++j) {
      const __m512 v0 = x86::load16_avx512(v, static_cast<std::size_t>(j) * d + x, t);
      for (int r = 0; r < NR; ++r)
        a[r] = _mm512_fmadd_ps(_mm512_set1_ps(p[r * p_stride + j]), v0, a[r]);
    }
    for (int r = 0; r < NR; ++r) _mm512_storeu_ps(o + r * d + x, a[r]);
  }
}

}  // namespace kvtier::attention::cpu::avx512_common

#define KVT_CPU_NS avx512
#define KVT_CPU_TARGET KVT_TARGET_AVX512
namespace kvtier::attention::cpu::avx512 {
using avx512_common::exp2_sub;
using avx512_common::pv;
template <int NR>
KVT_CPU_TARGET inline void scores(const CpuItem& it, const float* qf, const std::uint16_t*,
                                  const char* k, int n, float* s, int s_stride) {
  avx512_common::scores_f32<NR>(it, qf, k, n, s, s_stride);
}
}  // namespace kvtier::attention::cpu::avx512
#include "attention/cpu/kernel_impl.h"
#undef KVT_CPU_NS
#undef KVT_CPU_TARGET

#define KVT_CPU_NS avx512bf16
#define KVT_CPU_TARGET KVT_TARGET_AVX512BF16
namespace kvtier::attention::cpu::avx512bf16 {
using avx512_common::exp2_sub;
using avx512_common::pv;
// head_dim 64 / 128: q rows held in registers, unmasked loads.
template <int NR, int D>
KVT_CPU_TARGET inline void scores_fixed(const std::uint16_t* qh, const std::uint16_t* kh, int n,
                                        float q_scale, float* s, int s_stride) {
  constexpr int kC = D / 32;
  __m512i q[NR][kC];
  for (int r = 0; r < NR; ++r) {
    for (int c = 0; c < kC; ++c) q[r][c] = _mm512_loadu_si512(qh + r * D + c * 32);
  }
  for (int j = 0; j < n; ++j) {
    __m512 acc[NR];
    for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_ps();
    for (int c = 0; c < kC; ++c) {
      const __m512i kv = _mm512_loadu_si512(kh + static_cast<std::size_t>(j) * D + c * 32);
      for (int r = 0; r < NR; ++r)
        acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)q[r][c], (__m512bh)kv);
    }
    avx512_common::store_sums<NR>(acc, q_scale, s, s_stride, j);
  }
}
// bf16 keys: bf16 x bf16 products accumulated in fp32 (vdpbf16ps), 32 elements an instruction,
// on the raw q (exact in bf16), scaled after. Other dtypes: the fp32 path.
template <int NR>
KVT_CPU_TARGET inline void scores(const CpuItem& it, const float* qf, const std::uint16_t* qh,
                                  const char* k, int n, float* s, int s_stride) {
  if (it.dtype != DType::kBF16 || qh == nullptr) {
    avx512_common::scores_f32<NR>(it, qf, k, n, s, s_stride);
    return;
  }
  const int d = it.head_dim;
  const auto* kh = reinterpret_cast<const std::uint16_t*>(k);
  if (d == 128) return scores_fixed<NR, 128>(qh, kh, n, it.q_scale, s, s_stride);
  if (d == 64) return scores_fixed<NR, 64>(qh, kh, n, it.q_scale, s, s_stride);
  for (int j = 0; j < n; ++j) {
    __m512 acc[NR];
    for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_ps();
    for (int x = 0; x < d; x += 32) {
      const __mmask32 mask = d - x >= 32 ? __mmask32(0xffffffffu) : __mmask32((1u << (d - x)) - 1);
      const __m512i kv = _mm512_maskz_loadu_epi16(mask, kh + static_cast<std::size_t>(j) * d + x);
      for (int r = 0; r < NR; ++r) {
        const __m512i qv = _mm512_maskz_loadu_epi16(mask, qh + r * d + x);
        acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)qv, (__m512bh)kv);
      }
    }
    avx512_common::store_sums<NR>(acc, it.q_scale, s, s_stride, j);
  }
}
}  // namespace kvtier::attention::cpu::avx512bf16
#include "attention/cpu/kernel_impl.h"

namespace kvtier::attention::cpu {
ItemFn item_fn_avx512() { return &avx512::run_item; }
ItemFn item_fn_avx512bf16() { return &avx512bf16::run_item; }
}  // namespace kvtier::attention::cpu
#else
namespace kvtier::attention::cpu {
ItemFn item_fn_avx512() { return nullptr; }
ItemFn item_fn_avx512bf16() { return nullptr; }
}  // namespace kvtier::attention::cpu
#endif
