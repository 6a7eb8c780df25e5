// Internal: x86 SIMD primitives of the CPU attention kernel for AVX2+FMA+F16C and AVX-512
// (F, BW, VL, DQ; optionally BF16). Each function carries its own target attribute, so these
// files need no special compiler flags and the rest of the library stays baseline x86-64.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#define KVT_HAVE_X86 1
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kvtier/core/dtype.h"

#define KVT_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define KVT_TARGET_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define KVT_TARGET_AVX512BF16 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))

namespace kvtier::attention::cpu::x86 {

// exp2 of x <= 0 (Cephes exp2f polynomial on [-0.5, 0.5], relative error ~1e-7).
constexpr float kE0 = 1.535336188319500e-4f, kE1 = 1.339887440266574e-3f,
                kE2 = 9.618437357674640e-3f, kE3 = 5.550332471162809e-2f,
                kE4 = 2.402264791363012e-1f, kE5 = 6.931472028550421e-1f;

KVT_TARGET_AVX2 inline __m256 exp2_avx2(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-126.f));
  const __m256 xi = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(x, xi);
  __m256 p = _mm256_set1_ps(kE0);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kE1));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kE2));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kE3));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kE4));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kE5));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(xi), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

KVT_TARGET_AVX512 inline __m512 exp2_avx512(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-150.f));
  const __m512 xi = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, xi);
  __m512 p = _mm512_set1_ps(kE0);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kE1));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kE2));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kE3));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kE4));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kE5));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, xi);
}

KVT_TARGET_AVX2 inline __m256 load8_avx2(const void* src, std::size_t i, DType t) {
  if (t == DType::kF32) return _mm256_loadu_ps(static_cast<const float*>(src) + i);
  const auto* h = static_cast<const std::uint16_t*>(src) + i;
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));
  if (t == DType::kF16) return _mm256_cvtph_ps(raw);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 16));
}

KVT_TARGET_AVX512 inline __m512 load16_avx512(const void* src, std::size_t i, DType t) {
  if (t == DType::kF32) return _mm512_loadu_ps(static_cast<const float*>(src) + i);
  const auto* h = static_cast<const std::uint16_t*>(src) + i;
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h));
  if (t == DType::kF16) return _mm512_cvtph_ps(raw);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(raw), 16));
}

// Horizontal sums of four vectors at once: {sum(a0), sum(a1), sum(a2), sum(a3)}.
KVT_TARGET_AVX512 inline __m128 reduce4_avx512(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 u01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 u23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  const __m512 w = _mm512_add_ps(
      _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u01), _mm512_castps_pd(u23))),
      _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u01), _mm512_castps_pd(u23))));
  const __m256 y = _mm256_add_ps(_mm512_castps512_ps256(w), _mm512_extractf32x8_ps(w, 1));
  return _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));
}

}  // namespace kvtier::attention::cpu::x86
#endif
