#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kvtier/core/error.h"
#include "kvtier/pipeline/split_planner.h"

namespace kvtier::pipeline {
namespace {

constexpr double kGB = 1e9;

TEST(CpuShare, Parses) {
  EXPECT_EQ(CpuShare::parse("auto").mode, CpuShare::Mode::kAuto);
  EXPECT_EQ(CpuShare::parse("off").mode, CpuShare::Mode::kOff);
  const CpuShare s = CpuShare::parse("0.4");
  EXPECT_EQ(s.mode, CpuShare::Mode::kFixed);
  EXPECT_DOUBLE_EQ(s.fraction, 0.4);
  EXPECT_EQ(s.describe(), "0.40");
  for (const char* bad : {"", "1.5", "-0.1", "half", "0.3x", "nan"}) {
    EXPECT_THROW(CpuShare::parse(bad), InvalidArgument) << bad;
  }
}

// The auto split makes the stream and CPU times of a layer equal.
TEST(SplitPlanner, AutoBalancesStreamAndCpuTimes) {
  const Rates r{50 * kGB, 40 * kGB, 3000 * kGB, 20e-6};
  SplitPlanner p(CpuShare{}, r);
  const std::size_t bytes = std::size_t{512} << 20;
  const double x = p.model_fraction(bytes);
  EXPECT_EQ(p.cpu_fraction(bytes), x);  // the search starts at the model's point
  ASSERT_GT(x, 0.3);
  ASSERT_LT(x, 0.6);
  const double b = static_cast<double>(bytes);
  const double stream = (1 - x) * b * (1 / r.pcie + 1 / r.gpu);
  const double cpu = x * b / r.cpu + r.handoff_seconds;
  EXPECT_NEAR(stream, cpu, 1e-9);
}

TEST(SplitPlanner, HandoffDominatesSmallLayers) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 40 * kGB, 3000 * kGB, 1e-3});
  EXPECT_EQ(p.model_fraction(64 << 10), 0.0);  // 64 KiB streams in ~1 us, far under the hand-off
  EXPECT_EQ(p.model_fraction(0), 0.0);
}

TEST(SplitPlanner, OffAndFixedIgnoreRates) {
  const Rates r{50 * kGB, 40 * kGB, 3000 * kGB, 0};
  EXPECT_EQ(SplitPlanner(CpuShare::parse("off"), r).cpu_blocks(100, 1 << 16), 0u);
  EXPECT_EQ(SplitPlanner(CpuShare::parse("0.25"), r).cpu_blocks(100, 1 << 16), 25u);
  EXPECT_EQ(SplitPlanner(CpuShare::parse("1"), r).cpu_blocks(7, 1 << 16), 7u);
}

TEST(SplitPlanner, AdaptsToMeasuredRates) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 40 * kGB, 3000 * kGB, 0});
  const std::size_t bytes = std::size_t{256} << 20;
  const double before = p.model_fraction(bytes);
  // The CPU turns out 4x slower than assumed (e.g. other load): its share must shrink.
  for (int i = 0; i < 40; ++i) p.observe_cpu(bytes, static_cast<double>(bytes) / (10 * kGB));
  EXPECT_NEAR(p.rates().cpu, 10 * kGB, 0.01 * kGB);
  const double after = p.model_fraction(bytes);
  EXPECT_LT(after, before * 0.6);
  // Nonsense observations are ignored.
  p.observe_pcie(0, 1.0);
  p.observe_pcie(100, 0.0);
  p.observe_gpu(100, -1.0);
  EXPECT_DOUBLE_EQ(p.model_fraction(bytes), after);
}

// The auto search finds the fastest split of a machine whose real costs the model gets wrong,
// from noisy step times, and follows it when the machine changes.
TEST(SplitPlanner, SearchFindsTheFastestMeasuredSplit) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 40 * kGB, 3000 * kGB, 0});
  const std::size_t bytes = std::size_t{128} << 20;
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(1.0, 0.01);
  // Step time of the "real" machine: streaming 2.4 ms, the CPU share 4x the model's cost plus a
  // serial part; fastest near x = 0.24.
  auto step_time = [](double x, double cpu_slowdown) {
    return std::max(2.4e-3 * (1 - x), 0.4e-3 + cpu_slowdown * 5.0e-3 * x) * 32;
  };
  auto best_x = [&](double slow) {
    double bx = 0, bt = 1e9;
    for (double x = 0; x <= 1.0; x += 0.001) {
      if (step_time(x, slow) < bt) bt = step_time(x, slow), bx = x;
    }
    return bx;
  };
  for (double slow : {1.0, 2.0}) {
    for (int i = 0; i < 45; ++i) {
      const double x = p.cpu_fraction(bytes);
      p.observe_step(bytes, step_time(x, slow) * noise(rng));
    }
    double tail = 0;
    for (int i = 0; i < 21; ++i) {
      const double x = p.cpu_fraction(bytes);
      tail += step_time(x, slow);
      p.observe_step(bytes, step_time(x, slow) * noise(rng));
    }
    // Issue 5: the auto split within 10% of the best fixed split.
    EXPECT_LE(tail / 21, 1.10 * step_time(best_x(slow), slow)) << "cpu slowdown " << slow;
  }
}

// A machine where any CPU share loses (the hand-off of every layer costs more than the CPU saves,
// as measured on an H200 host at batch 1): auto stops at x = 0 within two probe rounds, although
// the model, blind to that cost, starts it well above 0.
TEST(SplitPlanner, SearchSettlesOnNoCpuShareWhenItNeverPays) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 40 * kGB, 3000 * kGB, 0});
  const std::size_t bytes = std::size_t{64} << 20;
  ASSERT_GT(p.model_fraction(bytes), 0.3);
  auto step_time = [](double x) { return 32 * (1.3e-3 * (1 - x) + (x > 0 ? 0.6e-3 + 1.0e-3 * x : 0.0)); };
  std::mt19937 rng(4);
  std::normal_distribution<double> noise(1.0, 0.02);
  for (int i = 0; i < 6; ++i) {
    const double x = p.cpu_fraction(bytes);
    p.observe_step(bytes, step_time(x) * noise(rng));
  }
  double tail = 0;
  for (int i = 0; i < 24; ++i) {
    const double x = p.cpu_fraction(bytes);
    tail += step_time(x);
    p.observe_step(bytes, step_time(x) * noise(rng));
  }
  EXPECT_LE(tail / 24, 1.10 * step_time(0.0));
  EXPECT_EQ(p.cpu_fraction(bytes), 0.0);
}

// The batch-8 shape measured on an H200 (32K, all KV on the host, half-second steps): streaming
// alone 631 ms, the best split near 0.35-0.4, the model seeding the search far above it. The bench
// gives auto 18 warm-up steps; the 8 timed steps after them must be within 10% of the best split.
TEST(SplitPlanner, SearchConvergesWithinTheBenchWarmUp) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 65 * kGB, 4000 * kGB, 500e-6});
  const std::size_t bytes = std::size_t{1} << 30;  // host bytes of a layer
  ASSERT_GT(p.model_fraction(bytes), 0.5);
  auto step_time = [](double x) { return std::max(0.631 * (1 - x), 0.016 + 1.132 * x); };
  double best = 1e9;
  for (double x = 0; x <= 1.0; x += 0.001) best = std::min(best, step_time(x));
  std::mt19937 rng(9);
  std::normal_distribution<double> noise(1.0, 0.02);
  for (int i = 0; i < 18; ++i) {
    const double x = p.cpu_fraction(bytes);
    p.observe_step(bytes, step_time(x) * noise(rng));
  }
  std::vector<double> timed;
  for (int i = 0; i < 8; ++i) {
    const double x = p.cpu_fraction(bytes);
    timed.push_back(step_time(x));
    p.observe_step(bytes, step_time(x) * noise(rng));
  }
  std::sort(timed.begin(), timed.end());
  EXPECT_LE(timed[timed.size() / 2], 1.10 * best) << "median of the timed steps";
}

TEST(SplitPlanner, RejectsBadPriors) {
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{0, 1, 1, 0}), InvalidArgument);
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{1, 1, 1, -1}), InvalidArgument);
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{1, 1, 1, 0}, 0.0), InvalidArgument);
}

}  // namespace
}  // namespace kvtier::pipeline
