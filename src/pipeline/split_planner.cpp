#include "kvtier/pipeline/split_planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

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
  Auto& a = auto_;
  if (!a.seeded && host_bytes > 0) {
    a.x = std::max(kMinFraction, model_fraction(host_bytes));
    a.seeded = true;
  }
  // A probe: streaming alone on step kFirstProbe and every kProbeEvery steps after (the balanced
  // point instead while streaming alone is the faster).
  a.probing = a.steps == a.next_probe;
  return a.probing == a.off ? a.x : 0.0;
}

void SplitPlanner::observe_balance(std::size_t host_bytes, double slack_seconds) {
  if (share_.mode != CpuShare::Mode::kAuto || !auto_.seeded || host_bytes == 0 ||
      !std::isfinite(slack_seconds)) {
    return;
  }
  Auto& a = auto_;
  const double per_byte = 1.0 / rates_.pcie + 1.0 / rates_.gpu + 1.0 / rates_.cpu;
  if (a.last_slack != 0 && (slack_seconds > 0) != (a.last_slack > 0)) {
    a.gain = std::max(0.1, a.gain / 2);  // crossed the balance point: smaller steps
  } else {
    a.gain = std::min(0.7, a.gain * 1.25);
  }
  a.last_slack = slack_seconds;
  // The balance is not smooth at the fastest split: below it (the copies the slower side) it
  // measures how far, above it only that the copies were done before q (the whole CPU share),
  // so it jumps from about 0 to about the CPU's time (H200, batch 1: -0.1 ms to +1.1 ms of a
  // 1.4 ms layer). Its size is trusted up to a fraction of a layer's copy time, so that the
  // steps down are no larger than those up.
  const double bytes = static_cast<double>(host_bytes);
  const double limit = kSlackLimit * bytes / rates_.pcie;
  const double step = a.gain * std::clamp(slack_seconds, -limit, limit) / (bytes * per_byte);
  a.x = std::clamp(a.x - std::clamp(step, -0.2, 0.2), kMinFraction, 1.0);
}

void SplitPlanner::observe_step(std::size_t host_bytes, double seconds) {
  if (share_.mode != CpuShare::Mode::kAuto || !auto_.seeded || host_bytes == 0 || !(seconds > 0)) return;
  Auto& a = auto_;
  const double cost = seconds / static_cast<double>(host_bytes);
  const bool ran_x = a.probing == a.off;  // the step ran at the balanced point (else at 0)
  if (a.steps > 0) {  // the first step runs cold: not compared
    double& mine = ran_x ? a.cost_x : a.cost_0;
    if (a.probing) {
      // Decide only here, against the running average of the steps since the last probe, so that
      // a machine drifting between steps does not flip the choice back and forth.
      const double other = ran_x ? a.cost_0 : a.cost_x;
      const bool was_off = a.off;
      if (other > 0) a.off = ran_x ? !(cost < other) : cost < other;
      mine = cost;
      // A probe costs a step at the slower choice: probe half as often each time the choice
      // holds by a clear margin; as often as at first when it changes or was a near tie (one
      // noisy step may have decided it, and a probe then costs little).
      const bool clear = other > 0 && std::abs(cost - other) >= kHoldMargin * std::min(cost, other);
      a.probe_every =
          a.off == was_off && clear ? std::min(2 * a.probe_every, kProbeMax) : kProbeEvery;
      a.next_probe = a.steps + a.probe_every;
    } else {
      mine = mine == 0 ? cost : 0.6 * mine + 0.4 * cost;
    }
  }
  ++a.steps;
}

std::size_t SplitPlanner::cpu_blocks(std::size_t host_blocks, std::size_t block_bytes) {
  const double x = cpu_fraction(host_blocks * block_bytes);
  return std::min(host_blocks, static_cast<std::size_t>(std::llround(x * static_cast<double>(host_blocks))));
}

void SplitPlanner::blend(double& rate, double sample, double weight) {
  if (std::isfinite(sample) && sample > 0) rate = (1.0 - weight) * rate + weight * sample;
}

void SplitPlanner::observe_cpu(std::size_t bytes, double seconds) {
  if (bytes > 0 && seconds > 0) blend(rates_.cpu, static_cast<double>(bytes) / seconds, smoothing_);
}

}  // namespace kvtier::pipeline
