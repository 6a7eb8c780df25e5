// How the host-resident blocks of a layer are split between streaming to the GPU (over PCIe) and
// computing on the CPU where they are (DESIGN.md, decode step 5). The split balances the two
// times from rates measured while running:
//   stream time  = (1 - x) * B * (1 / pcie + 1 / gpu)   (copy, then attention over the copy)
//   cpu time     = x * B / cpu + handoff                (q to host, CPU attention, result back)
// and x, the CPU fraction of the B host bytes of a layer, is chosen so that they are equal
// (clamped to [0, 1]; 0 when the hand-off alone costs more than streaming everything).
//
// The model ignores what it cannot see: the streamed copies and the CPU threads read the same host
// memory, and the CPU share of layer L cannot start before q of layer L exists. So in auto mode
// the model's x is only the starting point: a compass search on the measured step time per host
// byte (observe_step) measures the centre c and c +- d in turn, moves c to the fastest of the three
// (d grows by half) or, when c itself was fastest, halves d (never below 0.02, so it keeps
// following a machine whose load changes). When the three costs fit a parabola that opens upwards
// with its vertex between the points, c jumps to the vertex instead (d: half the jump, at least
// the floor): the step-time curve is V-shaped around the balance point, and single compass steps
// took 30 and more half-second steps to get there at batch 8. Its first round measures x = 0 in place of c - d, and
// whenever x = 0 wins, c goes to 0 with d at its floor: the CPU share pays a fixed hand-off every
// layer, so on a machine where it does not pay at all the search stops there within two rounds. Once d is at its floor and c stays fastest, it decodes
// `kDwellSteps` steps at c between probe rounds, so that probing costs little in the steady state.
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
  static constexpr int kDwellSteps = 9;
  static constexpr double kMinDelta = 0.02;

  // `prior` seeds the rates (e.g. from the ceilings measured at start); every rate must be > 0.
  // `smoothing` is the weight of a new observation in the running averages, in (0, 1].
  SplitPlanner(CpuShare share, Rates prior, double smoothing = 0.25);

  // The cost model's balance point for a layer with `host_bytes` host bytes.
  double model_fraction(std::size_t host_bytes) const;
  // The fraction of host bytes to compute on the CPU now: 0 (off), the fixed fraction, or the
  // search's current point (auto; seeded with model_fraction).
  double cpu_fraction(std::size_t host_bytes);
  // Of a sequence's `host_blocks` host blocks, how many the CPU computes.
  std::size_t cpu_blocks(std::size_t host_blocks, std::size_t block_bytes);
  // A whole step with `host_bytes` host bytes per layer took `seconds` at the current fraction.
  void observe_step(std::size_t host_bytes, double seconds);

  // Measurements of one layer (bytes moved or read, seconds it took). Zero bytes are ignored.
  void observe_pcie(std::size_t bytes, double seconds);
  void observe_cpu(std::size_t bytes, double seconds);
  void observe_gpu(std::size_t bytes, double seconds);
  void observe_handoff(double seconds);

  const Rates& rates() const { return rates_; }
  const CpuShare& share() const { return share_; }

 private:
  static void blend(double& rate, double sample, double weight);

  struct Search {
    bool seeded = false;
    double centre = 0, delta = 0.08;
    int probe = 0;          // 0: centre, 1: centre + delta, 2: centre - delta
    int dwell = 0;          // steps left at the centre before the next probe round
    bool first_round = true;
    double cost[3] = {0, 0, 0};
    double point(int i) const;
  };

  CpuShare share_;
  Rates rates_;
  double smoothing_;
  Search search_;
};

}  // namespace kvtier::pipeline
