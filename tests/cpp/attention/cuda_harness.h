// Test helper: a Problem copied to the GPU (same block offsets), run with GpuDecoder into poisoned
// outputs, results copied back.
#pragma once

#include <memory>
#include <vector>

#include "attention/problem.h"
#include "kvtier/attention/gpu.h"
#include "kvtier/backend/backend.h"

namespace kvtier::attention::test {

struct GpuRun {
  std::vector<float> o, lse;
  int splits = 0;
};

class GpuHarness {
 public:
  GpuHarness();
  Backend& backend() { return *backend_; }
  Stream& stream() { return *stream_; }
  // Copies p to the device, poisons o / lse (NaN bytes), runs, copies back.
  GpuRun run(const Problem& p, int forced_splits = 0);
  // Runs `first` (same shape as p, other data) into the same o / lse and then p, back to back on
  // the stream with no synchronization in between (programmatic dependent launch must not let the
  // second overtake the first), copies back p's results. `kv_ready`: the second launch reads its
  // K/V and tables while the first finishes (DecodeArgs::kv_ready; they are uploaded before).
  GpuRun run_after(const Problem& first, int first_splits, const Problem& p, int forced_splits,
                   bool kv_ready = false);
  // Runs p with DecodeArgs::kv_ready, its q written just before by a kernel on the stream (a
  // merge_gpu of one part holding q's values, into a poisoned buffer): q must be read only once
  // that kernel is done, K/V and tables may be read earlier.
  GpuRun run_q_from_kernel(const Problem& p);
  // Device copy of host floats.
  Buffer upload(const void* data, std::size_t bytes);
  void download(void* dst, const void* src, std::size_t bytes);

 private:
  // The last run's outputs, copied back.
  GpuRun results(const DecodeShape& s, const Buffer& o, const Buffer& lse);

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<GpuDecoder> decoder_;
};

}  // namespace kvtier::attention::test
