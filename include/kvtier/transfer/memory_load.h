// A bandwidth-bound device workload, to measure how transfers coexist with compute: each pass
// copies one device buffer into another (reads and writes `bytes` of device memory) with many
// short thread blocks, as memory-bound kernels do. CPU backend: a memcpy on the stream.
#pragma once

#include <cstddef>

#include "kvtier/backend/backend.h"

namespace kvtier {

class MemoryLoad {
 public:
  // Two device buffers of `bytes` (rounded down to 16 bytes; InvalidArgument below 16).
  MemoryLoad(Backend& backend, std::size_t bytes);
  // Enqueues `passes` passes on `stream`.
  void enqueue(Stream& stream, int passes);
  // Device memory bytes moved by one pass (read + write).
  std::size_t bytes_per_pass() const { return 2 * bytes_; }

 private:
  Backend& backend_;
  std::size_t bytes_;
  Buffer a_, b_;
};

}  // namespace kvtier
