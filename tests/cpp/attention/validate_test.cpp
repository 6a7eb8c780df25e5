// Bad input is refused with InvalidArgument before any kernel runs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "attention/problem.h"
#include "kvtier/attention/cpu.h"
#include "kvtier/core/error.h"

namespace kvtier::attention::test {
namespace {

void expect_refused(const std::function<void(DecodeArgs&, Problem&)>& spoil,
                    const std::string& needle, bool gpu = false) {
  Problem p = make_problem({{40, 3}, 1, 8, 2, 64, 16, DType::kBF16, true, 31});
  std::vector<float> o(p.shape.q_elems(), NAN), lse(p.shape.rows(), NAN);
  DecodeArgs a = p.args(o.data(), lse.data());
  spoil(a, p);
  try {
    validate(a, gpu);
    if (!gpu) {
      ThreadPool pool(1);
      decode_cpu(a, pool);
    }
    ADD_FAILURE() << "not refused: " << needle;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  for (float v : o)
    ASSERT_TRUE(std::isnan(v)) << "output written despite bad input (" << needle << ")";
}

TEST(AttentionValidate, RefusesBadInput) {
  expect_refused([](DecodeArgs& a, Problem&) { a.shape.head_dim = 100; }, "head_dim");
  expect_refused([](DecodeArgs& a, Problem&) { a.shape.q_heads = 7; }, "not a positive multiple");
  expect_refused([](DecodeArgs& a, Problem&) { a.shape.q_heads = 64; }, "group size");
  expect_refused([](DecodeArgs& a, Problem&) { a.shape.q_tokens = 9; }, "q_tokens");
  expect_refused([](DecodeArgs& a, Problem&) { a.shape.scale = 0.f; }, "scale");
  expect_refused([](DecodeArgs& a, Problem&) { a.q = nullptr; }, "must not be null");
  expect_refused(
      [](DecodeArgs& a, Problem& p) {
        p.seq_lens[1] = 17;  // needs 2 blocks, table has 1
        a.host_seq_lens = p.seq_lens;
      },
      "blocks in its table");
  expect_refused(
      [](DecodeArgs& a, Problem& p) {
        a.host_block_begin = std::span<const int>(p.block_begin).first(2);
      },
      "block_begin has");
  expect_refused([](DecodeArgs& a, Problem&) { a.shape.dtype = DType::kF32; }, "fp32 is CPU-only",
                 true);
  expect_refused([](DecodeArgs& a, Problem&) { a.shape.block_tokens = 12; }, "multiple of 8", true);
  expect_refused([](DecodeArgs& a, Problem&) { a.host_seq_lens = {}; }, "host copies", true);
}

}  // namespace
}  // namespace kvtier::attention::test
