// fp64 reference of partial decode attention (tests and --verify only).
#include "kvtier/attention/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/cpu/convert.h"

namespace kvtier::attention {

double load_as_double(const void* base, std::size_t index, DType dtype) {
  return static_cast<double>(cpu::load_float(base, index, dtype));
}

ReferenceHead reference_head(const DecodeArgs& a, int b, int h) {
  const DecodeShape& s = a.shape;
  const int g_size = s.group(), d = s.head_dim, t_count = s.q_tokens;
  const int len = host_seq_lens(a)[b];
  const int first_block = host_block_begin(a)[b];
  const std::size_t esz = dtype_size(s.dtype);
  const std::size_t head_elems = static_cast<std::size_t>(s.block_tokens) * d;

  auto key_row = [&](int j, int kv) -> std::pair<const void*, std::size_t> {
    const char* base = static_cast<const char*>(a.tables.blocks[first_block + j / s.block_tokens]);
    const std::size_t head = static_cast<std::size_t>(kv * s.kv_heads + h);
    return {base + head * head_elems * esz, static_cast<std::size_t>(j % s.block_tokens) * d};
  };

  ReferenceHead out;
  out.o.assign(static_cast<std::size_t>(t_count) * g_size * d, 0.0);
  out.lse.assign(static_cast<std::size_t>(t_count) * g_size,
                 -std::numeric_limits<double>::infinity());
  std::vector<double> q(d), x;
  for (int t = 0; t < t_count; ++t) {
    const int visible = s.causal ? std::max(0, len - t_count + 1 + t) : len;
    for (int g = 0; g < g_size; ++g) {
      const std::size_t q_row =
          ((static_cast<std::size_t>(b) * t_count + t) * s.q_heads + h * g_size + g) * d;
      for (int k = 0; k < d; ++k) q[k] = load_as_double(a.q, q_row + k, s.dtype);
      x.assign(visible, 0.0);
      double mx = -std::numeric_limits<double>::infinity();
      for (int j = 0; j < visible; ++j) {
        auto [kb, ko] = key_row(j, 0);
        double dot = 0;
        for (int k = 0; k < d; ++k) dot += q[k] * load_as_double(kb, ko + k, s.dtype);
        x[j] = dot * static_cast<double>(s.scale);
        mx = std::max(mx, x[j]);
      }
      if (visible == 0) continue;
      double sum = 0;
      double* o = &out.o[(static_cast<std::size_t>(t) * g_size + g) * d];
      for (int j = 0; j < visible; ++j) {
        const double p = std::exp(x[j] - mx);
        sum += p;
        auto [vb, vo] = key_row(j, 1);
        for (int k = 0; k < d; ++k) o[k] += p * load_as_double(vb, vo + k, s.dtype);
      }
      for (int k = 0; k < d; ++k) o[k] /= sum;
      out.lse[static_cast<std::size_t>(t) * g_size + g] = mx + std::log(sum);
    }
  }
  return out;
}

}  // namespace kvtier::attention
