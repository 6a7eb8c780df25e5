// GPU merge against the CPU merge: empty and all-empty rows, many parts (rounds), 16-bit output;
// and GPU partition invariance (parts run separately and merged equal the unsplit run).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "attention/cpu/convert.h"
#include "attention/cuda_harness.h"
#include "kvtier/attention/merge.h"
#include "kvtier/core/error.h"

namespace kvtier::attention::test {
namespace {

void merge_case(GpuHarness& gpu, int nparts, DType out_t, std::uint64_t seed) {
  const std::size_t rows = 37;
  const int d = 96;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f), l(-30.f, 30.f);
  std::vector<std::vector<float>> o(nparts, std::vector<float>(rows * d)),
      lse(nparts, std::vector<float>(rows));
  for (int i = 0; i < nparts; ++i) {
    for (auto& x : o[i]) x = u(rng);
    for (std::size_t r = 0; r < rows; ++r) {
      const bool empty = r == 0 || (r + i) % 5 == 0;  // row 0 empty in every part
      lse[i][r] = empty ? -std::numeric_limits<float>::infinity() : l(rng);
      if (empty) std::fill(o[i].begin() + r * d, o[i].begin() + (r + 1) * d, NAN);
    }
  }
  std::vector<PartialState> host, dev;
  std::vector<Buffer> keep;
  for (int i = 0; i < nparts; ++i) {
    host.push_back({o[i].data(), lse[i].data()});
    keep.push_back(gpu.upload(o[i].data(), o[i].size() * 4));
    keep.push_back(gpu.upload(lse[i].data(), lse[i].size() * 4));
    dev.push_back({keep[keep.size() - 2].as<float>(), keep.back().as<float>()});
  }
  const std::size_t esz = dtype_size(out_t);
  std::vector<unsigned char> ref_o(rows * d * esz);
  std::vector<float> ref_lse(rows);
  merge_cpu(host, rows, d, ref_o.data(), out_t, ref_lse.data());
  Buffer out = gpu.backend().allocate(MemoryKind::kDevice, rows * d * esz);
  Buffer out_lse = gpu.backend().allocate(MemoryKind::kDevice, rows * 4);
  gpu.backend().fill_async(out.data(), 0xff, out.bytes(), gpu.stream());
  gpu.backend().fill_async(out_lse.data(), 0xff, out_lse.bytes(), gpu.stream());
  merge_gpu(dev, rows, d, out.data(), out_t, out_lse.as<float>(), gpu.stream());
  std::vector<unsigned char> got(rows * d * esz);
  std::vector<float> got_lse(rows);
  gpu.download(got.data(), out.data(), got.size());
  gpu.download(got_lse.data(), out_lse.data(), rows * 4);
  const double tol = out_t == DType::kF32 ? 1e-5 : 1e-2;
  for (std::size_t r = 0; r < rows; ++r) {
    if (std::isinf(ref_lse[r])) {
      EXPECT_TRUE(std::isinf(got_lse[r]) && got_lse[r] < 0) << "row " << r;
    } else {
      EXPECT_NEAR(got_lse[r], ref_lse[r], 1e-4) << "row " << r << " parts " << nparts;
    }
    for (int k = 0; k < d; ++k) {
      const float a = cpu::load_float(got.data(), r * d + k, out_t),
                  b = cpu::load_float(ref_o.data(), r * d + k, out_t);
      ASSERT_FALSE(std::isnan(a)) << "row " << r;
      ASSERT_NEAR(a, b, tol * std::max(1.f, std::abs(b)))
          << "row " << r << " col " << k << " parts " << nparts;
    }
  }
}

TEST(AttentionCudaMerge, MatchesCpuMerge) {
  GpuHarness gpu;
  for (int n : {1, 2, 7, 64}) merge_case(gpu, n, DType::kF32, 10 + n);
  merge_case(gpu, 200, DType::kF32, 7);  // rounds of kMaxGpuMergeParts
  merge_case(gpu, 5, DType::kBF16, 8);
  merge_case(gpu, 5, DType::kF16, 9);
}

TEST(AttentionCudaMerge, RefusesTooManyPartsFor16BitOutput) {
  GpuHarness gpu;
  std::vector<float> dummy(4);
  std::vector<PartialState> parts(kMaxGpuMergeParts + 1, {dummy.data(), dummy.data()});
  EXPECT_THROW(merge_gpu(parts, 1, 4, dummy.data(), DType::kBF16, nullptr, gpu.stream()),
               InvalidArgument);
}

// The same keys in 1, 2, 7 and 64 contiguous parts (random cuts at block boundaries, some parts
// empty), each run by the GPU kernel, merged by merge_gpu, equal the unsplit run.
TEST(AttentionCudaMerge, PartitionInvariance) {
  GpuHarness gpu;
  const Case c{{2000, 160, 16}, 1, 8, 2, 128, 16, DType::kBF16, false, 77};
  const Problem p = make_problem(c);
  const GpuRun whole = gpu.run(p);
  std::mt19937_64 rng(5);
  for (int nparts : {1, 2, 7, 64}) {
    std::vector<std::vector<int>> cuts(p.shape.batch);
    for (int b = 0; b < p.shape.batch; ++b) {
      const int blocks = p.block_begin[b + 1] - p.block_begin[b];
      std::uniform_int_distribution<int> u(0, blocks);
      cuts[b] = {0, blocks};
      for (int i = 1; i < nparts; ++i) cuts[b].push_back(u(rng));
      std::sort(cuts[b].begin(), cuts[b].end());
    }
    std::vector<GpuRun> runs;
    std::vector<Buffer> keep;
    std::vector<PartialState> states;
    for (int i = 0; i < nparts; ++i) {
      Problem part = p;
      part.offsets.clear();
      part.block_begin = {0};
      for (int b = 0; b < p.shape.batch; ++b) {
        for (int k = cuts[b][i]; k < cuts[b][i + 1]; ++k)
          part.offsets.push_back(p.offsets[p.block_begin[b] + k]);
        part.block_begin.push_back(static_cast<int>(part.offsets.size()));
        const int tokens_before_end = std::min(c.lens[b], cuts[b][i + 1] * c.block_tokens);
        part.seq_lens[b] = std::max(0, tokens_before_end - cuts[b][i] * c.block_tokens);
      }
      runs.push_back(gpu.run(part));
      keep.push_back(gpu.upload(runs.back().o.data(), runs.back().o.size() * 4));
      keep.push_back(gpu.upload(runs.back().lse.data(), runs.back().lse.size() * 4));
      states.push_back({keep[keep.size() - 2].as<float>(), keep.back().as<float>()});
    }
    Buffer mo = gpu.backend().allocate(MemoryKind::kDevice, p.shape.q_elems() * 4);
    Buffer ml = gpu.backend().allocate(MemoryKind::kDevice, p.shape.rows() * 4);
    merge_gpu(states, p.shape.rows(), p.shape.head_dim, mo.data(), DType::kF32, ml.as<float>(),
              gpu.stream());
    std::vector<float> o(p.shape.q_elems()), lse(p.shape.rows());
    gpu.download(o.data(), mo.data(), mo.bytes());
    gpu.download(lse.data(), ml.data(), ml.bytes());
    const Errors e =
        compare_outputs(p.shape, o.data(), lse.data(), whole.o.data(), whole.lse.data());
    EXPECT_EQ(e.bad_rows, 0) << nparts << ": " << e.first_bad;
    EXPECT_LE(e.o_rel, 1e-4) << nparts << " parts";
    EXPECT_LE(e.lse_abs, 1e-5) << nparts << " parts";
  }
}

}  // namespace
}  // namespace kvtier::attention::test
