// The scattered-copy kernel: a bounded grid of thread blocks walks a list of pieces; every thread
// keeps kUnroll 16-byte loads in flight before storing, so that reads of mapped pinned host memory
// over PCIe (about a microsecond each) overlap.
#pragma once

#include <cstdint>

#include "transfer/cuda/kernels.h"

namespace kvtier::detail {

template <int kUnroll>
__global__ void copy_pieces_kernel(const CopyDesc* __restrict__ descs, int n) {
  for (int i = blockIdx.x; i < n; i += gridDim.x) {
    const CopyDesc d = descs[i];
    const auto a =
        reinterpret_cast<std::uintptr_t>(d.src) | reinterpret_cast<std::uintptr_t>(d.dst) | d.bytes;
    if ((a & 15) == 0) {
      const uint4* src = reinterpret_cast<const uint4*>(d.src);
      uint4* dst = reinterpret_cast<uint4*>(d.dst);
      const std::uint64_t n16 = d.bytes >> 4;
      const std::uint64_t stride = blockDim.x;
      for (std::uint64_t base = threadIdx.x; base < n16; base += stride * kUnroll) {
        uint4 v[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const std::uint64_t j = base + u * stride;
          if (j < n16) v[u] = src[j];
        }
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) {
          const std::uint64_t j = base + u * stride;
          if (j < n16) dst[j] = v[u];
        }
      }
    } else {
      for (std::uint64_t j = threadIdx.x; j < d.bytes; j += blockDim.x) d.dst[j] = d.src[j];
    }
  }
}

// dst = src, 16 bytes per access, one 16 KiB tile per block of 256 threads (not persistent: many
// short blocks, like the memory-bound kernels the transfers must coexist with).
__global__ void memory_load_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst,
                                   std::uint64_t n16) {
  const std::uint64_t base = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x * 4 + threadIdx.x;
  uint4 v[4];
#pragma unroll
  for (int u = 0; u < 4; ++u) {
    const std::uint64_t j = base + static_cast<std::uint64_t>(u) * blockDim.x;
    if (j < n16) v[u] = src[j];
  }
#pragma unroll
  for (int u = 0; u < 4; ++u) {
    const std::uint64_t j = base + static_cast<std::uint64_t>(u) * blockDim.x;
    if (j < n16) dst[j] = v[u];
  }
}

}  // namespace kvtier::detail
