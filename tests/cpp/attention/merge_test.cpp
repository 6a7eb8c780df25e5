// Merge of partial states on the CPU: guards (empty, all-empty, never NaN) and partition
// invariance (keys split into 1, 2, 7 and 64 arbitrary parts merge to the unsplit result).
#include "kvtier/attention/merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "attention/cpu/convert.h"
#include "attention/problem.h"
#include "kvtier/attention/cpu.h"
#include "kvtier/core/error.h"

namespace kvtier::attention::test {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(AttentionMerge, EmptyPartsAreIdentity) {
  const int d = 4;
  std::vector<float> o1 = {1, 2, 3, 4}, lse1 = {0.5f};
  std::vector<float> garbage = {NAN, NAN, NAN, NAN}, empty_lse = {-kInf};
  const PartialState parts[] = {{garbage.data(), empty_lse.data()},
                                {o1.data(), lse1.data()},
                                {garbage.data(), empty_lse.data()}};
  std::vector<float> out(d, -1.f), out_lse(1, NAN);
  merge_cpu(parts, 1, d, out.data(), DType::kF32, out_lse.data());
  for (int k = 0; k < d; ++k) EXPECT_EQ(out[k], o1[k]);
  EXPECT_FLOAT_EQ(out_lse[0], 0.5f);
}

TEST(AttentionMerge, AllEmptyGivesZeroAndMinusInf) {
  const int d = 8;
  std::vector<float> garbage(d, NAN), empty_lse = {-kInf};
  const PartialState parts[] = {{garbage.data(), empty_lse.data()},
                                {garbage.data(), empty_lse.data()}};
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    std::vector<float> out(d, NAN), out_lse(1, NAN);
    merge_cpu(parts, 1, d, out.data(), t, out_lse.data());
    for (int k = 0; k < d; ++k) EXPECT_EQ(cpu::load_float(out.data(), k, t), 0.f);
    EXPECT_TRUE(std::isinf(out_lse[0]) && out_lse[0] < 0);
  }
  std::vector<float> out(d, NAN), out_lse(1, NAN);
  merge_cpu({}, 1, d, out.data(), DType::kF32, out_lse.data());  // no parts at all
  for (int k = 0; k < d; ++k) EXPECT_EQ(out[k], 0.f);
  EXPECT_TRUE(std::isinf(out_lse[0]) && out_lse[0] < 0);
}

TEST(AttentionMerge, WeightsFollowTheFormula) {
  // Two parts with lse 1 and 3 (natural): weights e^1 / (e^1 + e^3) and e^3 / (e^1 + e^3).
  std::vector<float> a = {1, 0}, b = {0, 1}, la = {1.f}, lb = {3.f};
  const PartialState parts[] = {{a.data(), la.data()}, {b.data(), lb.data()}};
  std::vector<float> out(2), out_lse(1);
  merge_cpu(parts, 1, 2, out.data(), DType::kF32, out_lse.data());
  const double wa = std::exp(1.0) / (std::exp(1.0) + std::exp(3.0));
  EXPECT_NEAR(out[0], wa, 1e-6);
  EXPECT_NEAR(out[1], 1 - wa, 1e-6);
  EXPECT_NEAR(out_lse[0], std::log(std::exp(1.0) + std::exp(3.0)), 1e-5);
  // Large lse values do not overflow.
  la[0] = 1000.f;
  lb[0] = 1000.f;
  merge_cpu(parts, 1, 2, out.data(), DType::kBF16, out_lse.data());
  EXPECT_NEAR(cpu::load_float(out.data(), 0, DType::kBF16), 0.5f, 1e-3);
  EXPECT_NEAR(out_lse[0], 1000.f + std::log(2.f), 1e-3);
}

// Split the keys of every sequence at random token positions into `parts` ranges (some empty),
// run the CPU kernel on each part and merge; compare with the unsplit call (fp32 KV).
void check_partition(int nparts, std::uint64_t seed) {
  ThreadPool pool(2);
  const Case c{{300, 45, 1}, 1, 8, 2, 64, 1, DType::kF32, false, seed};  // one token a block
  const Problem p = make_problem(c);
  const DecodeShape& s = p.shape;
  std::vector<float> o(s.q_elems()), lse(s.rows());
  decode_cpu(p.args(o.data(), lse.data()), pool);

  std::mt19937_64 rng(seed);
  std::vector<std::vector<int>> cuts(s.batch);
  for (int b = 0; b < s.batch; ++b) {
    std::uniform_int_distribution<int> u(0, c.lens[b]);
    cuts[b] = {0, c.lens[b]};
    for (int i = 1; i < nparts; ++i) cuts[b].push_back(u(rng));
    std::sort(cuts[b].begin(), cuts[b].end());
  }
  std::vector<std::vector<float>> po(nparts, std::vector<float>(s.q_elems(), NAN));
  std::vector<std::vector<float>> pl(nparts, std::vector<float>(s.rows(), NAN));
  std::vector<PartialState> states;
  for (int i = 0; i < nparts; ++i) {
    Problem part = p;
    part.blocks.clear();
    part.block_begin = {0};
    for (int b = 0; b < s.batch; ++b) {
      const int j0 = cuts[b][i], j1 = cuts[b][i + 1];
      part.seq_lens[b] = j1 - j0;
      for (int j = j0; j < j1; ++j) part.blocks.push_back(p.blocks[p.block_begin[b] + j]);
      part.block_begin.push_back(static_cast<int>(part.blocks.size()));
    }
    if (part.blocks.empty()) part.blocks.push_back(p.blocks[0]);  // non-null table, no entries used
    decode_cpu(part.args(po[i].data(), pl[i].data()), pool);
    states.push_back({po[i].data(), pl[i].data()});
  }
  std::vector<float> mo(s.q_elems(), NAN), ml(s.rows(), NAN);
  merge_cpu(states, s.rows(), s.head_dim, mo.data(), DType::kF32, ml.data(), &pool);
  const Errors e = compare_outputs(s, mo.data(), ml.data(), o.data(), lse.data());
  EXPECT_EQ(e.bad_rows, 0) << nparts << " parts: " << e.first_bad;
  EXPECT_LE(e.o_rel, 1e-5) << nparts << " parts";
  EXPECT_LE(e.lse_abs, 1e-5) << nparts << " parts";
}

TEST(AttentionMerge, PartitionInvariance) {
  for (int n : {1, 2, 7, 64}) {
    for (std::uint64_t seed : {21u, 22u}) check_partition(n, seed);
  }
}

TEST(AttentionMerge, RefusesNullParts) {
  std::vector<float> out(4);
  const PartialState parts[] = {{nullptr, nullptr}};
  EXPECT_THROW(merge_cpu(parts, 1, 4, out.data(), DType::kF32, nullptr), InvalidArgument);
  EXPECT_THROW(merge_cpu({}, 1, 0, out.data(), DType::kF32, nullptr), InvalidArgument);
}

}  // namespace
}  // namespace kvtier::attention::test
