#include <gtest/gtest.h>

#include <cmath>

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
  const double x = p.cpu_fraction(bytes);
  ASSERT_GT(x, 0.3);
  ASSERT_LT(x, 0.6);
  const double b = static_cast<double>(bytes);
  const double stream = (1 - x) * b * (1 / r.pcie + 1 / r.gpu);
  const double cpu = x * b / r.cpu + r.handoff_seconds;
  EXPECT_NEAR(stream, cpu, 1e-9);
}

TEST(SplitPlanner, HandoffDominatesSmallLayers) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 40 * kGB, 3000 * kGB, 1e-3});
  EXPECT_EQ(p.cpu_fraction(64 << 10), 0.0);  // 64 KiB streams in ~1 us, far under the hand-off
  EXPECT_EQ(p.cpu_fraction(0), 0.0);
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
  const double before = p.cpu_fraction(bytes);
  // The CPU turns out 4x slower than assumed (e.g. other load): its share must shrink.
  for (int i = 0; i < 40; ++i) p.observe_cpu(bytes, static_cast<double>(bytes) / (10 * kGB));
  EXPECT_NEAR(p.rates().cpu, 10 * kGB, 0.01 * kGB);
  const double after = p.cpu_fraction(bytes);
  EXPECT_LT(after, before * 0.6);
  // Nonsense observations are ignored.
  p.observe_pcie(0, 1.0);
  p.observe_pcie(100, 0.0);
  p.observe_gpu(100, -1.0);
  EXPECT_DOUBLE_EQ(p.cpu_fraction(bytes), after);
}

TEST(SplitPlanner, RejectsBadPriors) {
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{0, 1, 1, 0}), InvalidArgument);
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{1, 1, 1, -1}), InvalidArgument);
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{1, 1, 1, 0}, 0.0), InvalidArgument);
}

}  // namespace
}  // namespace kvtier::pipeline
