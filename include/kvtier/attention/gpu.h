// GPU partial decode attention (CUDA, sm_80+). Each CTA reads one kv head's keys once for all of
// its q heads and q tokens (up to 16 rows; more rows take one pass per 16), long contexts are split
// across CTAs (flash-decoding) and the splits merged by the last CTA of each head with the same
// merge code as merge_gpu. Outputs are fully written for every row.
#pragma once

#include <cstddef>

#include "kvtier/attention/attention.h"
#include "kvtier/backend/backend.h"

namespace kvtier::attention {

class GpuDecoder {
 public:
  // `backend` must be the CUDA backend (CudaError otherwise); it provides the workspace.
  explicit GpuDecoder(Backend& backend);
  ~GpuDecoder();
  GpuDecoder(const GpuDecoder&) = delete;
  GpuDecoder& operator=(const GpuDecoder&) = delete;

  // Checks `args` (validate(args, true)), plans the split and enqueues the kernel on `stream`.
  // args.q, tables, o and lse are device memory (or mapped pinned host memory). The workspace of
  // split partials grows as needed (allocation synchronizes the device); one decoder must not be
  // used by two streams at once.
  void run(const DecodeArgs& args, Stream& stream);

  // Splits per sequence of the last run (for tests and benchmarks).
  int last_splits() const { return last_splits_; }
  // Forces the split count per sequence (0: automatic). Tests use it to cover split paths.
  void force_splits(int splits) { forced_splits_ = splits; }

  // Launch timeline, for `kvtier-bench attention --trace`. While a buffer is set (device memory,
  // `words` 64-bit words), every run writes kTraceWords words for each CTA c of its grid at
  // buffer[c * kTraceWords]: the %globaltimer (ns) at entry, after the grid dependency wait, main
  // loop done, partial state written, split counted and done; then the CTA's SM and 1 where it
  // merged the splits, 2 where it had no work, else 0. A run whose grid needs more words throws
  // before launching. nullptr turns it off.
  static constexpr int kTraceWords = 8;
  void set_trace(unsigned long long* buffer, std::size_t words) {
    trace_ = buffer;
    trace_words_ = buffer ? words : 0;
  }
  // CTAs of the last run's grid.
  long long last_grid_ctas() const { return last_grid_ctas_; }

 private:
  Backend& backend_;
  Buffer workspace_;
  std::size_t counter_bytes_ = 0;  // zeroed counters at the start of the workspace
  int sms_ = 0;
  int last_splits_ = 0;
  int forced_splits_ = 0;
  long long last_grid_ctas_ = 0;
  unsigned long long* trace_ = nullptr;
  std::size_t trace_words_ = 0;
};

// Reads `bytes` bytes at `data` (device memory) with 16-byte loads over the whole GPU: the read
// ceiling that benchmarks compare against. Enqueued on `stream`; writes one word to `sink`.
void gpu_read_probe(const void* data, std::size_t bytes, unsigned long long* sink, Stream& stream);

}  // namespace kvtier::attention
