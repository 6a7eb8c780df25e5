// Copies device memory into mapped pinned host memory with GPU threads (16-byte stores over PCIe):
// a small hand-off that must not wait behind the copy engines' queue of streamed layers.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "kvtier/core/error.h"
#include "pipeline/attention_runner.h"

namespace kvtier::pipeline::detail {
namespace {

__global__ void store_to_host_kernel(uint4* __restrict__ dst, const uint4* __restrict__ src, std::size_t n) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    dst[i] = src[i];
  }
}

}  // namespace

void store_to_host_gpu(void* host_dst, const void* src, std::size_t bytes, void* cuda_stream) {
  if (bytes % 16 != 0 || reinterpret_cast<std::uintptr_t>(host_dst) % 16 != 0 ||
      reinterpret_cast<std::uintptr_t>(src) % 16 != 0) {
    throw InvalidArgument("store_to_host: addresses and size must be multiples of 16 bytes");
  }
  const std::size_t n = bytes / 16;
  if (n == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<std::size_t>((n + 255) / 256, 16));
  store_to_host_kernel<<<blocks, 256, 0, static_cast<cudaStream_t>(cuda_stream)>>>(
      static_cast<uint4*>(host_dst), static_cast<const uint4*>(src), n);
  KVT_CUDA_CHECK_LAUNCH();
}

}  // namespace kvtier::pipeline::detail
