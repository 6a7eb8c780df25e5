#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
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
  p.observe_cpu(0, 1.0);
  p.observe_cpu(100, 0.0);
  p.observe_cpu(100, -1.0);
  EXPECT_DOUBLE_EQ(p.model_fraction(bytes), after);
}

// A machine for the auto split: per layer, the GPU's own parts take g(x) and the CPU share c(x)
// from the moment q is ready (run side by side), then `serial` seconds that neither hides (the
// hand-off's part that the GPU waits for, when there is a CPU share). A step is `layers` of them,
// times a drift that wanders like the step times measured at batch 8 on an H200 host (AR(1),
// coefficient of variation ~0.1); the balance the pipeline reports is c - g, with a little noise.
struct Machine {
  std::function<double(double)> g, c;
  double serial = 0;
  int layers = 32;
  double layer(double x) const { return std::max(g(x), x > 0 ? c(x) : 0.0) + (x > 0 ? serial : 0.0); }
  double step(double x) const { return layers * layer(x); }
  double best() const {
    double b = step(0);
    for (double x = 0.001; x <= 1.0; x += 0.001) b = std::min(b, step(x));
    return b;
  }
};

class Drift {
 public:
  Drift(unsigned seed, double cv) : rng_(seed), eps_(0.0, cv * std::sqrt(1 - 0.49)) {}
  double next() {
    d_ = 0.7 * d_ + eps_(rng_);
    return std::max(0.5, 1.0 + d_);
  }
  double jitter(double scale) { return scale * eps_(rng_); }

 private:
  std::mt19937 rng_;
  std::normal_distribution<double> eps_;
  double d_ = 0;
};

// One step of the pipeline's use of the planner; returns the step time without the drift.
double run_step(SplitPlanner& p, const Machine& m, std::size_t bytes, Drift& drift) {
  const double x = p.cpu_fraction(bytes);
  if (x > 0) p.observe_balance(bytes, m.c(x) - m.g(x) + drift.jitter(0.02 * m.layer(x)));
  p.observe_step(bytes, m.step(x) * drift.next());
  return m.step(x);
}

// Seconds of `n` steps (without the drift).
double run_steps(SplitPlanner& p, const Machine& m, std::size_t bytes, Drift& drift, int n) {
  double total = 0;
  for (int i = 0; i < n; ++i) total += run_step(p, m, bytes, drift);
  return total;
}

// The auto split finds the fastest split of a machine whose CPU the model overrates 4x, through
// step times that drift by 10%, and follows the machine when its CPU halves its speed again.
TEST(SplitPlanner, BalanceFindsTheFastestSplit) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 40 * kGB, 3000 * kGB, 0});
  const std::size_t bytes = std::size_t{128} << 20;
  Drift drift(3, 0.1);
  for (double slow : {1.0, 2.0}) {
    Machine m{[](double x) { return 2.4e-3 * (1 - x); },
              [slow](double x) { return 0.4e-3 + slow * 5.0e-3 * x; }};
    run_steps(p, m, bytes, drift, 12);
    const double tail = run_steps(p, m, bytes, drift, 32);
    // Issue 5: the auto split within 10% of the best fixed split (probes of x = 0 included).
    EXPECT_LE(tail / 32, 1.10 * m.best()) << "cpu slowdown " << slow;
  }
}

// A machine where any CPU share loses: the hand-off's serial part of every layer costs more than
// the CPU saves (as measured on an H200 host at batch 1). Auto settles on streaming alone after its
// first probe, although the model, blind to that cost, starts it well above 0.
TEST(SplitPlanner, SettlesOnNoCpuShareWhenItNeverPays) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 40 * kGB, 3000 * kGB, 0});
  const std::size_t bytes = std::size_t{64} << 20;
  ASSERT_GT(p.model_fraction(bytes), 0.3);
  Machine m{[](double x) { return 1.3e-3 * (1 - x); }, [](double x) { return 1.0e-3 * x; }, 0.9e-3};
  ASSERT_GT(m.best(), 0.999 * m.step(0));  // no split beats streaming alone
  Drift drift(4, 0.02);
  run_steps(p, m, bytes, drift, 4);
  double tail = 0;
  int at_zero = 0;
  for (int i = 0; i < 48; ++i) {
    at_zero += p.cpu_fraction(bytes) == 0.0 ? 1 : 0;
    tail += run_step(p, m, bytes, drift);
  }
  EXPECT_LE(tail / 48, 1.05 * m.step(0));
  EXPECT_GE(at_zero, 45);  // all but the probes of the balanced point
}

// A near tie that turns: the balanced point starts ~6% ahead of streaming alone (the first probe
// keeps it), then the host's cores slow down and it falls ~25% behind (H100, batch 1, 32K, 25%
// off). The first probe's margin was within kHoldMargin, so the next probe comes kProbeEvery steps
// later instead of twice that, and finds streaming alone faster.
TEST(SplitPlanner, ANearTieIsProbedAgainSoon) {
  const Rates prior{55 * kGB, 16 * kGB, 4000 * kGB, 0};  // seeds x near the fast machine's best
  const std::size_t bytes = std::size_t{32} << 20;
  const Machine fast{[](double x) { return 0.6e-3 * (1 - x); },
                     [](double x) { return 2.05e-3 * x; }, 0.1e-3};
  const Machine slow{[](double x) { return 0.6e-3 * (1 - x); }, [](double x) { return 4.0e-3 * x; },
                     0.25e-3};
  auto best_split = [](const Machine& m) {  // the fastest x > 0
    double b = m.step(1.0);
    for (double x = 0.001; x < 1.0; x += 0.001) b = std::min(b, m.step(x));
    return b;
  };
  ASSERT_LT(best_split(fast), 0.96 * fast.step(0));
  ASSERT_GT(best_split(fast), 0.92 * fast.step(0));
  ASSERT_GT(best_split(slow), 1.2 * slow.step(0));
  for (unsigned seed = 1; seed <= 20; ++seed) {
    SplitPlanner p(CpuShare{}, prior);
    Drift drift(seed, 0.03);
    run_steps(p, fast, bytes, drift, 8);
    int at_zero = 0;
    for (int step = 8; step < 48; ++step) {
      if (step >= SplitPlanner::kFirstProbe + SplitPlanner::kProbeEvery + 1 && step < 36)
        at_zero += p.cpu_fraction(bytes) == 0.0 ? 1 : 0;
      run_step(p, slow, bytes, drift);
    }
    EXPECT_GE(at_zero, 14) << "seed " << seed;  // steps 21..35 stream everything (15 steps)
  }
}

// The batch-8 shape of an earlier H200 run (32K, all KV on the host, half-second steps that drift
// by 10%): streaming alone 631 ms, the best split near 0.35, the model seeding auto far above it.
// The bench gives auto 18 warm-up steps; the 8 timed steps after them must be within 10% of the
// best split, for every one of 20 drifts.
TEST(SplitPlanner, ConvergesWithinTheBenchWarmUp) {
  const Rates prior{50 * kGB, 65 * kGB, 4000 * kGB, 500e-6};
  const std::size_t bytes = std::size_t{1} << 30;  // host bytes of a layer
  ASSERT_GT(SplitPlanner(CpuShare{}, prior).model_fraction(bytes), 0.5);
  Machine m{[](double x) { return 0.631 / 32 * (1 - x); }, [](double x) { return (0.016 + 1.132 * x) / 32; }};
  for (unsigned seed = 1; seed <= 20; ++seed) {
    SplitPlanner p(CpuShare{}, prior);
    Drift drift(seed, 0.1);
    run_steps(p, m, bytes, drift, 18);
    EXPECT_LE(run_steps(p, m, bytes, drift, 8) / 8, 1.10 * m.best()) << "seed " << seed;
  }
}

// The batch-1 shape of session-6 H200 runs (32K, ~100% of the KV on the host, depth 1): the
// streamed copies run ahead of the compute, so a layer costs the copy time d(x) while the copies
// are the slower side, and the CPU share plus the hand-off, c(x) + h, once they are not. The
// balance the pipeline measures is c + h - d on the copy-bound side (-0.3 ms at x = 0.4), but
// jumps to c once the copies are done before q is ready (+1.1 ms at x = 0.5), and near the
// fastest split single steps land on either side. Following the jump's size, auto sat 2-8% above
// the best fixed split in most runs; the timed steps after the warm-up must be within 3% of it.
TEST(SplitPlanner, FollowsABalanceThatJumpsAtTheFastestSplit) {
  const Rates prior{55 * kGB, 50 * kGB, 4000 * kGB, 50e-6};
  const std::size_t bytes = std::size_t{128} << 20;
  auto d = [](double x) { return 2.45e-3 * (1 - x); };
  auto c = [](double x) { return 2.70e-3 * x; };
  const double h = 0.15e-3;
  auto layer = [&](double x) { return x > 0 ? std::max(d(x), c(x) + h) : d(0); };
  double best = layer(0);
  for (double x = 0.001; x <= 1.0; x += 0.001) best = std::min(best, layer(x));
  for (unsigned seed = 1; seed <= 20; ++seed) {
    SplitPlanner p(CpuShare{}, prior);
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0.0, 0.03);
    double timed = 0;
    for (int step = 0; step < 18 + 16; ++step) {
      const double x = p.cpu_fraction(bytes);
      const double t = layer(x) * (1 + noise(rng));
      if (x > 0) {
        // Which side a step lands on wanders near the boundary (a few percent either way).
        const bool copy_bound = d(x) * (1 + noise(rng)) > c(x) + h;
        p.observe_balance(bytes, copy_bound ? c(x) + h - d(x) : c(x));
      }
      p.observe_step(bytes, 32 * t);
      if (step >= 18) timed += layer(x);
    }
    EXPECT_LE(timed / 16, 1.03 * best)
        << "seed " << seed << " ratio " << timed / 16 / best << " x " << p.cpu_fraction(bytes);
  }
}

// A balance that says the CPU share finishes first moves the split towards the CPU, and the other
// way round; steps shrink once the balance changes sign. Step kFirstProbe streams everything.
TEST(SplitPlanner, BalanceMovesTheSplit) {
  SplitPlanner p(CpuShare{}, Rates{50 * kGB, 50 * kGB, 4000 * kGB, 0});
  const std::size_t bytes = std::size_t{256} << 20;
  const double x0 = p.cpu_fraction(bytes);
  p.observe_balance(bytes, -1e-3);  // the CPU share was 1 ms early
  p.observe_step(bytes, 0.1);
  const double x1 = p.cpu_fraction(bytes);
  EXPECT_GT(x1, x0);
  p.observe_balance(bytes, 1e-3);  // now late: back, by a smaller step
  p.observe_step(bytes, 0.1);
  const double x2 = p.cpu_fraction(bytes);
  EXPECT_LT(x2, x1);
  EXPECT_LT(x1 - x2, x1 - x0);
  for (int i = 2; i < SplitPlanner::kFirstProbe; ++i) {
    EXPECT_EQ(p.cpu_fraction(bytes), x2);
    p.observe_step(bytes, 0.1);
  }
  EXPECT_EQ(p.cpu_fraction(bytes), 0.0);  // the probe of streaming alone
  p.observe_step(bytes, 0.2);              // slower: back to the balanced point
  EXPECT_EQ(p.cpu_fraction(bytes), x2);
  // Off and fixed shares ignore the balance.
  SplitPlanner fixed(CpuShare::parse("0.3"), Rates{50 * kGB, 50 * kGB, 4000 * kGB, 0});
  fixed.observe_balance(bytes, 1.0);
  EXPECT_DOUBLE_EQ(fixed.cpu_fraction(bytes), 0.3);
}

TEST(SplitPlanner, RejectsBadPriors) {
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{0, 1, 1, 0}), InvalidArgument);
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{1, 1, 1, -1}), InvalidArgument);
  EXPECT_THROW(SplitPlanner(CpuShare{}, Rates{1, 1, 1, 0}, 0.0), InvalidArgument);
}

}  // namespace
}  // namespace kvtier::pipeline
