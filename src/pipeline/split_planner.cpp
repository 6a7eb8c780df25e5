#include "kvtier/pipeline/split_planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "kvtier/core/error.h"

namespace kvtier::pipeline {

CpuShare CpuShare::parse(std::string_view text) {
  if (text == "auto") return {Mode::kAuto, 0.0};
  if (text == "off") return {Mode::kOff, 0.0};
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0.0 || v > 1.0) {
    throw InvalidArgument("--cpu-share '" + s + "': expected auto, off or a fraction in [0, 1]");
  }
  return {Mode::kFixed, v};
}

std::string CpuShare::describe() const {
  if (mode == Mode::kAuto) return "auto";
  if (mode == Mode::kOff) return "off";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", fraction);
  return buf;
}

SplitPlanner::SplitPlanner(CpuShare share, Rates prior, double smoothing)
    : share_(share), rates_(prior), smoothing_(smoothing) {
  if (!(prior.pcie > 0) || !(prior.cpu > 0) || !(prior.gpu > 0) || !(prior.handoff_seconds >= 0)) {
    throw InvalidArgument("SplitPlanner: prior rates must be positive (pcie " + std::to_string(prior.pcie) +
                          ", cpu " + std::to_string(prior.cpu) + ", gpu " + std::to_string(prior.gpu) +
                          " B/s) and the hand-off time non-negative");
  }
  if (!(smoothing > 0.0 && smoothing <= 1.0)) {
    throw InvalidArgument("SplitPlanner: smoothing " + std::to_string(smoothing) + "; expected (0, 1]");
  }
}

double SplitPlanner::model_fraction(std::size_t host_bytes) const {
  if (host_bytes == 0) return 0.0;
  const double b = static_cast<double>(host_bytes);
  const double stream_per_byte = 1.0 / rates_.pcie + 1.0 / rates_.gpu;
  const double cpu_per_byte = 1.0 / rates_.cpu;
  // (1 - x) b s = x b c + h  =>  x = (b s - h) / (b (s + c))
  const double x = (b * stream_per_byte - rates_.handoff_seconds) / (b * (stream_per_byte + cpu_per_byte));
  return std::clamp(x, 0.0, 1.0);
}

double SplitPlanner::cpu_fraction(std::size_t host_bytes) {
  switch (share_.mode) {
    case CpuShare::Mode::kOff: return 0.0;
    case CpuShare::Mode::kFixed: return share_.fraction;
    case CpuShare::Mode::kAuto: break;
  }
  if (!search_.seeded && host_bytes > 0) {
    search_.centre = model_fraction(host_bytes);
    search_.seeded = true;
  }
  return search_.dwell > 0 ? search_.centre : search_.point(search_.probe);
}

double SplitPlanner::Search::point(int i) const {
  // The first round measures streaming alone (x = 0) in place of centre - delta: with the
  // hand-off's fixed cost a layer, any CPU share may lose to none, which no small step shows.
  const double offsets[3] = {0.0, delta, first_round ? -centre : -delta};
  return std::clamp(centre + offsets[i], 0.0, 1.0);
}

namespace {

// The vertex of the parabola through (x[i], f[i]) when it opens upwards and lies between the
// smallest and largest x (interpolation only); nothing for repeated points or a flat or concave fit.
std::optional<double> parabola_vertex(const double (&x)[3], const double (&f)[3]) {
  const double lo = std::min({x[0], x[1], x[2]}), hi = std::max({x[0], x[1], x[2]});
  if (x[0] == x[1] || x[1] == x[2] || x[0] == x[2]) return std::nullopt;
  // f = a x^2 + b x + c through the three points (divided differences).
  const double d01 = (f[1] - f[0]) / (x[1] - x[0]), d12 = (f[2] - f[1]) / (x[2] - x[1]);
  const double a = (d12 - d01) / (x[2] - x[0]);
  if (!(a > 0) || !std::isfinite(a)) return std::nullopt;
  const double b = d01 - a * (x[0] + x[1]);
  const double v = -b / (2 * a);
  if (!(v >= lo && v <= hi)) return std::nullopt;
  return v;
}

}  // namespace

void SplitPlanner::observe_step(std::size_t host_bytes, double seconds) {
  if (share_.mode != CpuShare::Mode::kAuto || !search_.seeded || host_bytes == 0 || !(seconds > 0)) return;
  Search& s = search_;
  if (s.dwell > 0) {
    --s.dwell;
    return;
  }
  s.cost[s.probe] = seconds / static_cast<double>(host_bytes);
  if (++s.probe < 3) return;
  s.probe = 0;
  const int best = static_cast<int>(std::min_element(s.cost, s.cost + 3) - s.cost);
  const double best_x = s.point(best);
  const double xs[3] = {s.point(0), s.point(1), s.point(2)};
  s.first_round = false;
  if (const auto v = parabola_vertex(xs, s.cost)) {
    // The three costs bend upwards around a minimum between the points: go to it, and probe next
    // at about half the distance moved (at least the floor, so the search still settles).
    s.delta = std::clamp(std::fabs(*v - s.centre) / 2, kMinDelta, 0.25);
    s.centre = *v;
    return;
  }
  if (best == 0) {
    if (s.delta <= kMinDelta) s.dwell = kDwellSteps;
    s.delta = std::max(kMinDelta, s.delta / 2);
  } else if (best_x == 0.0) {
    // No CPU share was fastest: stay there, probing only the smallest share next to it.
    s.centre = 0.0;
    s.delta = kMinDelta;
  } else {
    s.centre = best_x;
    s.delta = std::min(0.25, s.delta * 1.5);
  }
}

std::size_t SplitPlanner::cpu_blocks(std::size_t host_blocks, std::size_t block_bytes) {
  const double x = cpu_fraction(host_blocks * block_bytes);
  return std::min(host_blocks, static_cast<std::size_t>(std::llround(x * static_cast<double>(host_blocks))));
}

void SplitPlanner::blend(double& rate, double sample, double weight) {
  if (std::isfinite(sample) && sample > 0) rate = (1.0 - weight) * rate + weight * sample;
}

void SplitPlanner::observe_pcie(std::size_t bytes, double seconds) {
  if (bytes > 0 && seconds > 0) blend(rates_.pcie, static_cast<double>(bytes) / seconds, smoothing_);
}
void SplitPlanner::observe_cpu(std::size_t bytes, double seconds) {
  if (bytes > 0 && seconds > 0) blend(rates_.cpu, static_cast<double>(bytes) / seconds, smoothing_);
}
void SplitPlanner::observe_gpu(std::size_t bytes, double seconds) {
  if (bytes > 0 && seconds > 0) blend(rates_.gpu, static_cast<double>(bytes) / seconds, smoothing_);
}
void SplitPlanner::observe_handoff(double seconds) {
  if (std::isfinite(seconds) && seconds >= 0) {
    rates_.handoff_seconds = (1.0 - smoothing_) * rates_.handoff_seconds + smoothing_ * seconds;
  }
}

}  // namespace kvtier::pipeline
