// Launchers of the transfer kernels (see kernels.h).
#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"
#include "transfer/cuda/copy_kernel.cuh"

namespace kvtier::detail {

void launch_copy_kernel(const CopyDesc* descs, int n, int blocks, int threads, void* stream) {
  if (n <= 0) return;
  copy_pieces_kernel<4><<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(descs, n);
  KVT_CUDA_CHECK_LAUNCH();
}

void launch_memory_load(const void* src, void* dst, std::size_t bytes, void* stream) {
  const std::uint64_t n16 = bytes / 16;
  constexpr int kThreads = 256;
  const std::uint64_t blocks = (n16 + kThreads * 4 - 1) / (kThreads * 4);
  if (blocks == 0) return;
  memory_load_kernel<<<static_cast<unsigned>(blocks), kThreads, 0,
                       static_cast<cudaStream_t>(stream)>>>(static_cast<const uint4*>(src),
                                                            static_cast<uint4*>(dst), n16);
  KVT_CUDA_CHECK_LAUNCH();
}

}  // namespace kvtier::detail
