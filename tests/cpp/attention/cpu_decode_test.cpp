// CPU attention kernel against the fp64 reference, every ISA this CPU has; causal semantics.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include "attention/problem.h"
#include "kvtier/attention/cpu.h"
#include "kvtier/attention/reference.h"

namespace kvtier::attention::test {
namespace {

std::vector<CpuIsa> isas() {
  std::vector<CpuIsa> v;
  for (CpuIsa i : {CpuIsa::kPortable, CpuIsa::kAvx2, CpuIsa::kAvx512, CpuIsa::kAvx512Bf16}) {
    if (cpu_isa_supported(i)) v.push_back(i);
  }
  return v;
}

Errors run_cpu(const Problem& p, ThreadPool& pool, CpuIsa isa, std::vector<float>& o,
               std::vector<float>& lse) {
  o.assign(p.shape.q_elems(), NAN);  // poisoned
  lse.assign(p.shape.rows(), NAN);
  decode_cpu(p.args(o.data(), lse.data()), pool, isa);
  return compare_with_reference(p, o.data(), lse.data());
}

std::vector<Case> cases() {
  std::vector<Case> v;
  auto add = [&](Case c) { v.push_back(c); };
  add({{1, 17, 300}, 1, 8, 2, 128, 16, DType::kBF16, true, 1});
  add({{700}, 1, 32, 8, 128, 16, DType::kBF16, true, 2});
  add({{5, 64, 129}, 1, 4, 4, 64, 64, DType::kF16, true, 3});
  add({{33, 250}, 3, 16, 1, 64, 16, DType::kBF16, true, 4});
  add({{2, 9, 100}, 8, 4, 2, 80, 16, DType::kF16, true, 5});
  add({{90, 7}, 2, 6, 3, 96, 64, DType::kBF16, false, 6});
  add({{40, 300}, 1, 4, 2, 256, 16, DType::kF32, true, 7});
  add({{0, 1, 48}, 4, 8, 1, 128, 16, DType::kF32, true, 8});
  add({{513}, 8, 32, 2, 64, 16, DType::kBF16, true, 9});       // group 16 x 8 tokens = 128 rows
  add({{77}, 1, 2, 2, 128, 1, DType::kF16, true, 10});         // one token a block
  add({{50, 130}, 3, 2, 2, 128, 16, DType::kBF16, true, 13});  // 3 rows: a partial row group
  return v;
}

TEST(AttentionCpu, MatchesReferenceOnEveryIsa) {
  ThreadPool pool(4);
  double worst_o[4] = {}, worst_lse[4] = {};
  for (const Case& c : cases()) {
    const Problem p = make_problem(c);
    for (CpuIsa isa : isas()) {
      std::vector<float> o, lse;
      const Errors e = run_cpu(p, pool, isa, o, lse);
      const double tol = c.dtype == DType::kF32 ? 1e-5 : 2e-3;
      EXPECT_EQ(e.bad_rows, 0) << cpu_isa_name(isa) << " " << c.name() << ": " << e.first_bad;
      EXPECT_LE(e.o_rel, tol) << cpu_isa_name(isa) << " " << c.name();
      EXPECT_LE(e.lse_abs, 1e-3) << cpu_isa_name(isa) << " " << c.name();
      const int i = static_cast<int>(isa);
      if (c.dtype != DType::kF32) worst_o[i] = std::max(worst_o[i], e.o_rel);
      worst_lse[i] = std::max(worst_lse[i], e.lse_abs);
    }
  }
  for (CpuIsa isa : isas()) {
    std::printf("%-10s worst o rel err (16-bit KV) %.2e, lse abs err %.2e\n", cpu_isa_name(isa),
                worst_o[static_cast<int>(isa)], worst_lse[static_cast<int>(isa)]);
  }
}

// Fewer rows than a row group (here 1), on a thread whose scratch has never grown: the kernel's
// scratch must still hold a whole row group of scores (it once held only `rows` of them, and the
// running max and sum were written past its end; ASan sees that here).
TEST(AttentionCpu, FewRowsOnAFreshThread) {
  const Problem p = make_problem({{5, 64, 129}, 1, 4, 4, 64, 64, DType::kF16, true, 3});
  for (CpuIsa isa : isas()) {
    Errors e;
    std::thread t([&] {
      ThreadPool pool(1);
      std::vector<float> o, lse;
      e = run_cpu(p, pool, isa, o, lse);
    });
    t.join();
    EXPECT_EQ(e.bad_rows, 0) << cpu_isa_name(isa);
    EXPECT_LE(e.o_rel, 2e-3) << cpu_isa_name(isa);
    EXPECT_LE(e.lse_abs, 1e-3) << cpu_isa_name(isa);
  }
}

TEST(AttentionCpu, BestIsaIsSupported) {
  EXPECT_TRUE(cpu_isa_supported(best_cpu_isa()));
  EXPECT_TRUE(cpu_isa_supported(CpuIsa::kPortable));
}

// q token t sees keys j < seq_len - q_tokens + 1 + t: the same as a non-causal call over the
// first seq_len - q_tokens + 1 + t keys. Checked kernel against kernel, independent of the
// reference; rows that see no key are (0, -inf).
TEST(AttentionCpu, CausalSemantics) {
  ThreadPool pool(2);
  const Case c{{2, 5, 37}, 4, 4, 2, 64, 16, DType::kF32, true, 11};
  const Problem p = make_problem(c);
  std::vector<float> o(p.shape.q_elems()), lse(p.shape.rows());
  decode_cpu(p.args(o.data(), lse.data()), pool);
  const int g = p.shape.group(), d = p.shape.head_dim;
  for (int b = 0; b < p.shape.batch; ++b) {
    for (int t = 0; t < c.q_tokens; ++t) {
      const int visible = std::max(0, c.lens[b] - c.q_tokens + 1 + t);
      Problem cut = p;  // same blocks, shorter list, not causal
      cut.shape.causal = false;
      for (int& l : cut.seq_lens) l = 0;
      cut.seq_lens[b] = visible;
      const int nblocks = (visible + c.block_tokens - 1) / c.block_tokens;
      std::vector<int> begin(p.shape.batch + 1, 0);
      std::vector<const void*> blocks;
      for (int k = 0; k < nblocks; ++k) blocks.push_back(p.blocks[p.block_begin[b] + k]);
      for (int k = b + 1; k <= p.shape.batch; ++k) begin[k] = nblocks;
      cut.block_begin = begin;
      cut.blocks = blocks;
      if (blocks.empty()) cut.blocks.push_back(p.blocks.empty() ? nullptr : p.blocks[0]);
      std::vector<float> o2(p.shape.q_elems()), lse2(p.shape.rows());
      decode_cpu(cut.args(o2.data(), lse2.data()), pool);
      for (int hq = 0; hq < c.q_heads; ++hq) {
        const std::size_t row = (static_cast<std::size_t>(b) * c.q_tokens + t) * c.q_heads + hq;
        if (visible == 0) {
          EXPECT_TRUE(std::isinf(lse[row]) && lse[row] < 0) << "b" << b << " t" << t;
          for (int k = 0; k < d; ++k) ASSERT_EQ(o[row * d + k], 0.f);
          continue;
        }
        EXPECT_NEAR(lse[row], lse2[row], 1e-5) << "b" << b << " t" << t << " qh" << hq;
        for (int k = 0; k < d; ++k) {
          ASSERT_NEAR(o[row * d + k], o2[row * d + k], 1e-5)
              << "b" << b << " t" << t << " qh" << hq;
        }
      }
    }
  }
  (void)g;
}

TEST(AttentionReference, OneKeyGivesItsValue) {
  const Case c{{1}, 1, 2, 1, 64, 16, DType::kF32, true, 12};
  const Problem p = make_problem(c);
  std::vector<float> dummy(1);
  const ReferenceHead r = reference_head(p.args(dummy.data(), dummy.data()), 0, 0);
  const float* k = static_cast<const float*>(p.blocks[0]);
  const float* v = k + c.block_tokens * c.head_dim;  // V of head 0 follows K of the one kv head
  const float* q = reinterpret_cast<const float*>(p.q.data());
  for (int i = 0; i < 2; ++i) {
    double dot = 0;
    for (int x = 0; x < 64; ++x) dot += static_cast<double>(q[i * 64 + x]) * k[x];
    EXPECT_NEAR(r.lse[i], dot / 8.0, 1e-9);
    for (int x = 0; x < 64; ++x) EXPECT_EQ(r.o[i * 64 + x], static_cast<double>(v[x]));
  }
}

}  // namespace
}  // namespace kvtier::attention::test
