// How the host-resident blocks of a layer are split between streaming to the GPU (over PCIe) and
// computing on the CPU where they are (DESIGN.md, decode step 5). A model balances the two times
// from rates (the CPU's measured while running, the others from the priors, e.g. the ceilings the
// bench measures at start):
//   stream time  = (1 - x) * B * (1 / pcie + 1 / gpu)   (copy, then attention over the copy)
//   cpu time     = x * B / cpu + handoff                (q to host, CPU attention, result back)
// and x, the CPU fraction of the B host bytes of a layer, is chosen so that they are equal
// (clamped to [0, 1]; 0 when the hand-off alone costs more than streaming everything).
//
// The model ignores what it cannot see: the streamed copies and the CPU threads read the same host
// memory, and the CPU share of layer L cannot start before q of layer L exists. So in auto mode
// the model's x is only the starting point; the split then follows the **balance** measured inside
// every step (observe_balance): for each layer, how much later the CPU share finished than the
// GPU's own parts (both timed from the moment layer L's q was ready). A layer costs the later of
// the two, so the step is fastest where they finish together, whatever contention does to either
// side; the slack moves x by a damped Newton step, x -= gain * slack / (B * (1/pcie + 1/gpu +
// 1/cpu)), the gain halving whenever the slack changes sign (and growing back while it keeps it).
// The slack is clamped to kSlackLimit of the layer's copy time first: with the streamed copies
// running ahead of the compute, it jumps at the fastest split (see observe_balance).
// Unlike a step time, the slack compares the two sides within the same layers, so a machine whose
// step times drift from one step to the next (by 10% at batch 8 on an H200 host, before the copies
// were enqueued after the hand-off: docs/pipeline.md) does not blur it; the pipeline reports the
// median over the layers, so a layer stalled by something else does not either. The balanced
// split still pays the CPU share's fixed hand-off every layer, which streaming alone does not:
// step `kFirstProbe` (the balance has moved x three times by then), and probes after it, stream
// everything (x = 0); when that is faster than the running average of the balanced steps since
// the last probe (observe_step), the split stays at 0 and the probes try the balanced point
// instead (which never goes below kMinFraction, so such a probe still measures a balance). The
// choice changes only at a probe. A probe costs a step at the slower choice (at batch 1, 32K,
// ~100% off an H200: a 79 ms step among 45 ms ones), so the probes come kProbeEvery steps apart,
// twice as far each time the choice holds by at least kHoldMargin (up to kProbeMax), and
// kProbeEvery again when it flips or when the two were within kHoldMargin of each other: a near
// tie is decided by single noisy steps (H100, batch 1, 32K, 25% off: the balanced point 6% ahead
// at the first probe, then 10-40% behind for the next 30 steps as the host's cores slowed).
//
// Threading: not thread-safe; the pipeline's thread owns it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kvtier::pipeline {

// --cpu-share: auto (balanced from measured rates), off (stream everything) or a fixed fraction.
struct CpuShare {
  enum class Mode { kAuto, kOff, kFixed };
  Mode mode = Mode::kAuto;
  double fraction = 0.0;  // kFixed only, in [0, 1]

  // Accepts "auto", "off" or a number in [0, 1]; InvalidArgument otherwise.
  static CpuShare parse(std::string_view text);
  std::string describe() const;  // "auto", "off", "0.40"
};

// Throughputs in bytes per second of KV read, and the CPU share's fixed cost per layer.
struct Rates {
  double pcie = 0;            // host -> device gather of layer slices
  double cpu = 0;             // CPU attention over host blocks
  double gpu = 0;             // GPU attention over staged blocks
  double handoff_seconds = 0; // q to host, result back, synchronisation: per layer
};

class SplitPlanner {
 public:
  static constexpr int kFirstProbe = 4;
  static constexpr int kProbeEvery = 16;
  static constexpr int kProbeMax = 256;
  // A probe that decides by less than this fraction of the step (a near tie) keeps kProbeEvery.
  static constexpr double kHoldMargin = 0.15;
  // The balanced point stays above this, so that its probes still measure a balance.
  static constexpr double kMinFraction = 0.01;
  // Largest balance a step follows, as a fraction of the layer's host bytes' copy time.
  static constexpr double kSlackLimit = 0.15;

  // `prior` seeds the rates (e.g. from the ceilings measured at start); every rate must be > 0.
  // `smoothing` is the weight of a new observation in the running averages, in (0, 1].
  SplitPlanner(CpuShare share, Rates prior, double smoothing = 0.25);

  // The cost model's balance point for a layer with `host_bytes` host bytes.
  double model_fraction(std::size_t host_bytes) const;
  // The fraction of host bytes to compute on the CPU in the next step: 0 (off), the fixed
  // fraction, or in auto mode the balanced point (seeded with model_fraction) or a probe of 0.
  double cpu_fraction(std::size_t host_bytes);
  // Of a sequence's `host_blocks` host blocks, how many the CPU computes.
  std::size_t cpu_blocks(std::size_t host_blocks, std::size_t block_bytes);
  // A whole step with `host_bytes` host bytes per layer took `seconds` at the fraction that the
  // last cpu_fraction() returned. Call once per step, after observe_balance().
  void observe_step(std::size_t host_bytes, double seconds);
  // The step had a CPU share: typically (median over its layers), the CPU share finished
  // `slack_seconds` after the GPU's parts of the same layer (negative: before them).
  void observe_balance(std::size_t host_bytes, double slack_seconds);

  // CPU attention read `bytes` in `seconds` (a step's CPU share); zero or negative values are
  // ignored. The PCIe and GPU rates and the hand-off keep their priors: the balance measures what
  // the model cannot.
  void observe_cpu(std::size_t bytes, double seconds);

  const Rates& rates() const { return rates_; }
  const CpuShare& share() const { return share_; }

 private:
  static void blend(double& rate, double sample, double weight);

  struct Auto {
    bool seeded = false;
    double x = 0;          // the balanced point
    double gain = 0.7;     // of the Newton step
    double last_slack = 0;
    int steps = 0;         // steps observed
    bool probing = false;  // the step in flight is a probe (of 0; of x while off)
    bool off = false;      // streaming alone measured faster: stay at 0 between probes
    int next_probe = kFirstProbe;
    int probe_every = kProbeEvery;  // steps to the next probe; doubles while the choice holds
    // Step seconds per host byte at x and at 0 (0: none yet): the last probe's, or the running
    // average of the steps since.
    double cost_x = 0, cost_0 = 0;
  };

  CpuShare share_;
  Rates rates_;
  double smoothing_;
  Auto auto_;
};

}  // namespace kvtier::pipeline
