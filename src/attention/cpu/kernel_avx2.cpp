// CPU attention kernel, AVX2 + FMA + F16C (chosen at run time; no special compiler flags).
#include <cmath>

#include "attention/cpu/cpu_item.h"
#include "attention/cpu/simd_x86.h"

#if KVT_HAVE_X86
#define KVT_CPU_NS avx2
#define KVT_CPU_TARGET KVT_TARGET_AVX2

namespace kvtier::attention::cpu::avx2 {

KVT_CPU_TARGET inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int NR>
KVT_CPU_TARGET inline void scores(const CpuItem& it, const float* qf, const std::uint16_t*,
                                  const char* k, int n, float* s, int s_stride) {
  const int d = it.head_dim;
  for (int j = 0; j < n; ++j) {
    __m256 acc[NR];
    for (int r = 0; r < NR; ++r) acc[r] = _mm256_setzero_ps();
    for (int x = 0; x < d; x += 8) {
      const __m256 kv = x86::load8_avx2(k, static_cast<std::size_t>(j) * d + x, it.dtype);
      for (int r = 0; r < NR; ++r)
        acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(qf + r * d + x), kv, acc[r]);
    }
    for (int r = 0; r < NR; ++r) s[r * s_stride + j] = hsum(acc[r]);
  }
}

KVT_CPU_TARGET inline float exp2_sub(float* s, int n, float m) {
  const __m256 mv = _mm256_set1_ps(m);
  __m256 sum = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = x86::exp2_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + i), mv));
    _mm256_storeu_ps(s + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  float total = hsum(sum);
  for (; i < n; ++i) {
    s[i] = std::exp2(s[i] - m);
    total += s[i];
  }
  return total;
}

template <int NR>
KVT_CPU_TARGET inline void pv(float* o, const float* alpha, const float* p, int p_stride,
                              const char* v, int n, int d, DType t) {
  for (int x = 0; x < d; x += 16) {
    __m256 a0[NR], a1[NR];
    for (int r = 0; r < NR; ++r) {
      const __m256 al = _mm256_set1_ps(alpha[r]);
      a0[r] = _mm256_mul_ps(al, _mm256_loadu_ps(o + r * d + x));
      a1[r] = _mm256_mul_ps(al, _mm256_loadu_ps(o + r * d + x + 8));
    }
    for (int j = 0; j < n; ++j) {
      const __m256 v0 = x86::load8_avx2(v, static_cast<std::size_t>(j) * d + x, t);
      const __m256 v1 = x86::load8_avx2(v, static_cast<std::size_t>(j) * d + x + 8, t);
      for (int r = 0; r < NR; ++r) {
        const __m256 pj = _mm256_broadcast_ss(p + r * p_stride + j);
        a0[r] = _mm256_fmadd_ps(pj, v0, a0[r]);
        a1[r] = _mm256_fmadd_ps(pj, v1, a1[r]);
      }
    }
    for (int r = 0; r < NR; ++r) {
      _mm256_storeu_ps(o + r * d + x, a0[r]);
      _mm256_storeu_ps(o + r * d + x + 8, a1[r]);
    }
  }
}

}  // namespace kvtier::attention::cpu::avx2

#include "attention/cpu/kernel_impl.h"

namespace kvtier::attention::cpu {
ItemFn item_fn_avx2() { return &avx2::run_item; }
}  // namespace kvtier::attention::cpu
#else
namespace kvtier::attention::cpu {
ItemFn item_fn_avx2() { return nullptr; }
}  // namespace kvtier::attention::cpu
#endif
