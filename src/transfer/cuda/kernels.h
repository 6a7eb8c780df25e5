// Internal: launchers of the transfer layer's kernels, callable from C++ (no CUDA types here;
// streams are passed as their native handles). Each launch is checked and throws CudaError.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvtier::detail {

// One piece of a copy list: bytes from src to dst. [24 bytes, read by every thread of a block]
struct CopyDesc {
  const std::byte* src;
  std::byte* dst;
  std::uint64_t bytes;
};
// Largest piece the copy lists are cut into, so the pieces spread evenly over the blocks.
inline constexpr std::size_t kCopyPieceBytes = std::size_t{64} << 10;

// Copies descs[0..n) (device memory) with `blocks` thread blocks of `threads` threads; src/dst are
// device memory or mapped pinned host memory. 16-byte accesses where a piece is 16-byte aligned.
void launch_copy_kernel(const CopyDesc* descs, int n, int blocks, int threads, void* stream);

// The bandwidth-bound load of MemoryLoad: dst = src over `bytes` (a multiple of 16).
void launch_memory_load(const void* src, void* dst, std::size_t bytes, void* stream);

}  // namespace kvtier::detail
