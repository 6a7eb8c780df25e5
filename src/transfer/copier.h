// Internal: a Copier enqueues copy lists on a stream. One per engine stream: the CPU copier
// (worker threads) or the CUDA copier (copy kernel, cudaMemcpyBatchAsync, merged cudaMemcpyAsync).
#pragma once

#include <memory>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/transfer/transfer_config.h"
#include "transfer/segments.h"

namespace kvtier::detail {

class Copier {
 public:
  virtual ~Copier() = default;
  // Enqueues the copies after all work enqueued on `stream` so far; later work on `stream` starts
  // after them. `method` is concrete (never kAuto); the CPU copier ignores it.
  virtual void enqueue(std::vector<Segment> segs, Direction dir, CopyMethod method,
                       Stream& stream) = 0;
};

std::unique_ptr<Copier> make_cpu_copier(int threads);
// Throws CudaError in a build without CUDA.
std::unique_ptr<Copier> make_cuda_copier(Backend& backend, const TransferConfig& config);

}  // namespace kvtier::detail
