// CPU attention kernel, portable C++ (any architecture).
#include <cmath>

#include "attention/cpu/convert.h"
#include "attention/cpu/cpu_item.h"

#define KVT_CPU_NS portable
#define KVT_CPU_TARGET

namespace kvtier::attention::cpu::portable {

template <int NR>
inline void scores(const CpuItem& it, const float* qf, const std::uint16_t*, const char* k, int n,
                   float* s, int s_stride) {
  const int d = it.head_dim;
  for (int j = 0; j < n; ++j) {
    float acc[NR] = {};
    for (int x = 0; x < d; ++x) {
      const float kv = load_float(k, static_cast<std::size_t>(j) * d + x, it.dtype);
      for (int r = 0; r < NR; ++r) acc[r] += qf[r * d + x] * kv;
    }
    for (int r = 0; r < NR; ++r) s[r * s_stride + j] = acc[r];
  }
}

inline float exp2_sub(float* s, int n, float m) {
  float sum = 0.f;
  for (int i = 0; i < n; ++i) {
    s[i] = std::exp2(s[i] - m);
    sum += s[i];
  }
  return sum;
}

template <int NR>
inline void pv(float* o, const float* alpha, const float* p, int p_stride, const char* v, int n,
               int d, DType t) {
  for (int r = 0; r < NR; ++r) {
    for (int x = 0; x < d; ++x) o[r * d + x] *= alpha[r];
  }
  for (int j = 0; j < n; ++j) {
    for (int x = 0; x < d; ++x) {
      const float vv = load_float(v, static_cast<std::size_t>(j) * d + x, t);
      for (int r = 0; r < NR; ++r) o[r * d + x] += p[r * p_stride + j] * vv;
    }
  }
}

}  // namespace kvtier::attention::cpu::portable

#include "attention/cpu/kernel_impl.h"

namespace kvtier::attention::cpu {
ItemFn item_fn_portable() { return &portable::run_item; }
}  // namespace kvtier::attention::cpu
