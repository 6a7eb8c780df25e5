#include "attention/problem.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "attention/cpu/convert.h"
#include "kvtier/attention/reference.h"

namespace kvtier::attention::test {
namespace {

void fill_random(unsigned char* dst, std::size_t n, DType t, float amp, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-amp, amp);
  for (std::size_t i = 0; i < n; ++i) {
    float v = u(rng);
    if (v == 0.f) v = amp * 0.5f;  // never zeros
    cpu::store_float(v, dst, i, t);
  }
}

}  // namespace

std::string Case::name() const {
  std::string s = std::string(dtype_name(dtype)) + " d" + std::to_string(head_dim) + " g" +
                  std::to_string(q_heads / kv_heads) + " kv" + std::to_string(kv_heads) + " t" +
                  std::to_string(q_tokens) + " bt" + std::to_string(block_tokens) +
                  (causal ? " causal" : "") + " lens";
  for (int l : lens) s += " " + std::to_string(l);
  return s;
}

Problem make_problem(const Case& c) {
  Problem p;
  DecodeShape& s = p.shape;
  s.batch = static_cast<int>(c.lens.size());
  s.q_tokens = c.q_tokens;
  s.q_heads = c.q_heads;
  s.kv_heads = c.kv_heads;
  s.head_dim = c.head_dim;
  s.block_tokens = c.block_tokens;
  s.dtype = c.dtype;
  s.scale = 1.f / std::sqrt(static_cast<float>(c.head_dim));
  s.causal = c.causal;
  std::mt19937_64 rng(c.seed);
  p.block_begin.push_back(0);
  for (int len : c.lens) {
    p.seq_lens.push_back(len);
    p.block_begin.push_back(p.block_begin.back() + (len + c.block_tokens - 1) / c.block_tokens);
  }
  const std::size_t nblocks = static_cast<std::size_t>(p.block_begin.back());
  const std::size_t stride = (s.layer_bytes() + 255) / 256 * 256;
  std::vector<std::size_t> slot(nblocks);
  std::iota(slot.begin(), slot.end(), 0);
  std::shuffle(slot.begin(), slot.end(), rng);  // table order != memory order
  p.pool.resize(std::max<std::size_t>(1, nblocks) * stride + 256);
  const std::size_t elems = s.layer_bytes() / dtype_size(s.dtype);
  for (std::size_t i = 0; i < nblocks; ++i) {
    p.offsets.push_back(slot[i] * stride);
    fill_random(p.pool.data() + slot[i] * stride, elems, s.dtype, 1.f, rng);
  }
  // 16-byte aligned base: vector storage is at least 16-byte aligned in practice; check it.
  const auto base = reinterpret_cast<std::uintptr_t>(p.pool.data());
  const std::size_t shift = (16 - base % 16) % 16;
  for (auto& off : p.offsets) off += shift;
  if (shift) {  // rewrite the data at the shifted places
    std::memmove(p.pool.data() + shift, p.pool.data(), p.pool.size() - shift);
  }
  for (auto off : p.offsets) p.blocks.push_back(p.pool.data() + off);
  p.q.resize(s.q_elems() * dtype_size(s.dtype));
  fill_random(p.q.data(), s.q_elems(), s.dtype, 2.f, rng);
  return p;
}

DecodeArgs Problem::args(float* o, float* lse) const {
  DecodeArgs a;
  a.shape = shape;
  a.q = q.data();
  a.tables.blocks = blocks.data();
  a.tables.block_begin = block_begin.data();
  a.tables.seq_lens = seq_lens.data();
  a.host_block_begin = block_begin;
  a.host_seq_lens = seq_lens;
  a.o = o;
  a.lse = lse;
  return a;
}

namespace {

void account_row(Errors& e, const std::string& where, const float* o, float lse, const double* ro,
                 double rlse, int d) {
  const bool ref_empty = std::isinf(rlse) && rlse < 0;
  bool bad = std::isnan(lse) || (ref_empty != (std::isinf(lse) && lse < 0));
  double max_ref = 0, max_err = 0;
  for (int k = 0; k < d; ++k) {
    if (!std::isfinite(o[k])) bad = true;
    max_ref = std::max(max_ref, std::abs(ro[k]));
    max_err = std::max(max_err, std::abs(static_cast<double>(o[k]) - ro[k]));
  }
  if (ref_empty) {
    if (max_err != 0) bad = true;  // empty rows are exactly 0
  } else if (!bad) {
    e.o_rel = std::max(e.o_rel, max_ref > 0 ? max_err / max_ref : max_err);
    e.lse_abs = std::max(e.lse_abs, std::abs(static_cast<double>(lse) - rlse));
  }
  if (bad) {
    if (e.bad_rows == 0)
      e.first_bad = where + " lse " + std::to_string(lse) + " ref " + std::to_string(rlse);
    ++e.bad_rows;
  }
}

}  // namespace

Errors compare_with_reference(const Problem& p, const float* o, const float* lse,
                              int max_heads_checked) {
  const DecodeShape& s = p.shape;
  std::vector<float> dummy_o(1), dummy_lse(1);
  const DecodeArgs a = p.args(dummy_o.data(), dummy_lse.data());
  Errors e;
  const int g = s.group(), d = s.head_dim;
  for (int b = 0; b < s.batch; ++b) {
    const int step = max_heads_checked > 0 ? std::max(1, s.kv_heads / max_heads_checked) : 1;
    for (int h = (b * 7) % step; h < s.kv_heads; h += step) {
      const ReferenceHead ref = reference_head(a, b, h);
      for (int t = 0; t < s.q_tokens; ++t) {
        for (int i = 0; i < g; ++i) {
          const std::size_t row =
              (static_cast<std::size_t>(b) * s.q_tokens + t) * s.q_heads + h * g + i;
          const std::size_t rr = static_cast<std::size_t>(t) * g + i;
          account_row(e,
                      "b" + std::to_string(b) + " t" + std::to_string(t) + " qh" +
                          std::to_string(h * g + i),
                      o + row * d, lse[row], &ref.o[rr * d], ref.lse[rr], d);
        }
      }
    }
  }
  return e;
}

Errors compare_outputs(const DecodeShape& s, const float* o_a, const float* lse_a, const float* o_b,
                       const float* lse_b) {
  Errors e;
  std::vector<double> ref(s.head_dim);
  for (std::size_t row = 0; row < s.rows(); ++row) {
    for (int k = 0; k < s.head_dim; ++k) ref[k] = o_b[row * s.head_dim + k];
    account_row(e, "row " + std::to_string(row), o_a + row * s.head_dim, lse_a[row], ref.data(),
                lse_b[row], s.head_dim);
  }
  return e;
}

}  // namespace kvtier::attention::test
