// GPU attention kernel against the fp64 reference: every dtype, head dim and group size, 1 to 8
// q tokens, block sizes 16 and 64, contexts from 1 token to 128K, batches mixing short and long
// sequences, automatic and forced splits; outputs are poisoned before each run.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attention/cuda_harness.h"
#include "kvtier/attention/cpu.h"
#include "kvtier/core/error.h"

namespace kvtier::attention::test {
namespace {

void check(GpuHarness& gpu, const Case& c, int forced_splits = 0, int heads_checked = 0) {
  const Problem p = make_problem(c);
  const GpuRun r = gpu.run(p, forced_splits);
  const Errors e = compare_with_reference(p, r.o.data(), r.lse.data(), heads_checked);
  EXPECT_EQ(e.bad_rows, 0) << c.name() << " splits " << r.splits << ": " << e.first_bad;
  EXPECT_LE(e.o_rel, 2e-3) << c.name() << " splits " << r.splits;
  EXPECT_LE(e.lse_abs, 1e-3) << c.name() << " splits " << r.splits;
}

TEST(AttentionCuda, EveryDtypeHeadDimAndGroup) {
  GpuHarness gpu;
  std::uint64_t seed = 100;
  for (DType t : {DType::kBF16, DType::kF16}) {
    for (int d : {64, 80, 96, 128, 256}) {
      for (int g : {1, 2, 4, 8, 16}) {
        const int bt = (d + g) % 2 == 0 ? 16 : 64;
        check(gpu, {{1, 16, 17, 700, 2100}, 1, 2 * g, 2, d, bt, t, true, seed++});
      }
    }
  }
}

TEST(AttentionCuda, SpeculativeQTokens) {
  GpuHarness gpu;
  std::uint64_t seed = 200;
  for (int tq : {2, 3, 8}) {
    for (int g : {1, 4, 16}) {
      for (int bt : {16, 64}) {
        check(gpu, {{1, 5, 8, 9, 130, 1500}, tq, 2 * g, 2, 128, bt, DType::kBF16, true, seed++});
      }
    }
  }
  check(gpu, {{3, 64, 999}, 4, 8, 2, 64, 16, DType::kF16, false, seed++});
}

// The split merge stages every split's partial state in shared memory, in rounds when they do not
// all fit (many splits x 16 rows, head_dim 256 with 2 warps): every head dim, up to 256 splits.
TEST(AttentionCuda, ForcedSplitsMerge) {
  GpuHarness gpu;
  std::uint64_t seed = 300;
  for (int splits : {2, 3, 7, 64, 256}) {
    check(gpu, {{0, 1, 100, 5000}, 1, 8, 2, 128, 16, DType::kBF16, true, seed++}, splits);
    check(gpu, {{77, 3000}, 8, 64, 4, 64, 64, DType::kF16, true, seed++}, splits);
    check(gpu, {{2900, 33}, 2, 32, 2, 256, 16, DType::kBF16, true, seed++}, splits);
    check(gpu, {{4100}, 1, 16, 1, 80, 64, DType::kF16, true, seed++}, splits);
  }
}

// Two launches back to back on one stream into the same outputs (and split workspace): the second
// (programmatic dependent launch on sm_90) must not start its reads or writes before the first is
// done, and the split counters must be reset for it.
TEST(AttentionCuda, BackToBackLaunches) {
  GpuHarness gpu;
  std::uint64_t seed = 800;
  for (int first_splits : {0, 1, 5, 64}) {
    for (int splits : {0, 1, 4}) {
      const Case c{{3000, 700}, 1, 32, 8, 128, 16, DType::kBF16, true, seed++};
      Case first = c;
      first.seed = seed++;
      const Problem p = make_problem(c);
      for (bool kv_ready : {false, true}) {
        const GpuRun r = gpu.run_after(make_problem(first), first_splits, p, splits, kv_ready);
        const Errors e = compare_with_reference(p, r.o.data(), r.lse.data(), 0);
        const std::string what = c.name() + " after " + std::to_string(first_splits) + " splits " +
                                 std::to_string(splits) + (kv_ready ? " kv_ready" : "");
        EXPECT_EQ(e.bad_rows, 0) << what << ": " << e.first_bad;
        EXPECT_LE(e.o_rel, 2e-3) << what;
        EXPECT_LE(e.lse_abs, 1e-3) << what;
      }
    }
  }
}

// DecodeArgs::kv_ready (K/V and tables read before the previous kernel is done; sm_90): q written
// by the kernel just before is still read after it, for every head dim (pipelines of 3 to 6
// slots a warp, all loaded before the wait) and with splits.
TEST(AttentionCuda, KvReadyReadsQAfterThePreviousKernel) {
  GpuHarness gpu;
  std::uint64_t seed = 850;
  for (int d : {64, 80, 96, 128, 256}) {
    for (const std::vector<int>& lens : {std::vector<int>{1, 40, 5000}, std::vector<int>{33000}}) {
      const Case c{lens, 1, 32, 8, d, 16, d == 80 ? DType::kF16 : DType::kBF16, true, seed++};
      const Problem p = make_problem(c);
      const GpuRun r = gpu.run_q_from_kernel(p);
      const Errors e = compare_with_reference(p, r.o.data(), r.lse.data(), 2);
      EXPECT_EQ(e.bad_rows, 0) << c.name() << ": " << e.first_bad;
      EXPECT_LE(e.o_rel, 2e-3) << c.name() << " splits " << r.splits;
      EXPECT_LE(e.lse_abs, 1e-3) << c.name();
    }
  }
}

// Block sizes other than 16 and 64 (any multiple of 8): a 16-key step of the warp kernel may
// straddle two blocks, or end half past the sequence.
TEST(AttentionCuda, BlockSizesMultipleOf8) {
  GpuHarness gpu;
  std::uint64_t seed = 700;
  for (int bt : {8, 24, 40}) {
    check(gpu, {{1, 8, 9, 24, 1000, 2504}, 1, 8, 2, 128, bt, DType::kBF16, true, seed++});
    check(gpu, {{777, 3001}, 3, 16, 2, 64, bt, DType::kF16, true, seed++}, 5);
    check(gpu, {{520}, 1, 8, 1, 256, bt, DType::kBF16, false, seed++}, 3);
  }
}

TEST(AttentionCuda, LongContexts) {
  GpuHarness gpu;
  check(gpu, {{32768, 1, 4000}, 1, 32, 8, 128, 16, DType::kBF16, true, 400}, 0, 2);
  check(gpu, {{131072, 3, 17}, 1, 8, 2, 128, 16, DType::kBF16, true, 401});
  check(gpu, {{131072}, 2, 16, 1, 64, 64, DType::kF16, true, 402});
}

TEST(AttentionCuda, RefusesBadInputBeforeRunning) {
  GpuHarness gpu;
  Case c{{40}, 1, 8, 2, 64, 16, DType::kF32, true, 500};
  EXPECT_THROW(gpu.run(make_problem(c)), InvalidArgument);
  c.dtype = DType::kBF16;
  c.block_tokens = 12;
  EXPECT_THROW(gpu.run(make_problem(c)), InvalidArgument);
  c.block_tokens = 16;
  c.head_dim = 112;
  EXPECT_THROW(gpu.run(make_problem(c)), InvalidArgument);
}

// GPU and CPU kernels agree (both against the reference above; here directly).
TEST(AttentionCuda, AgreesWithCpuKernel) {
  GpuHarness gpu;
  ThreadPool pool(2);
  const Problem p = make_problem({{1, 333, 5000}, 2, 32, 8, 128, 16, DType::kBF16, true, 600});
  const GpuRun r = gpu.run(p);
  std::vector<float> o(p.shape.q_elems()), lse(p.shape.rows());
  decode_cpu(p.args(o.data(), lse.data()), pool);
  const Errors e = compare_outputs(p.shape, r.o.data(), r.lse.data(), o.data(), lse.data());
  EXPECT_EQ(e.bad_rows, 0) << e.first_bad;
  EXPECT_LE(e.o_rel, 2e-3);
  EXPECT_LE(e.lse_abs, 1e-3);
}

}  // namespace
}  // namespace kvtier::attention::test
