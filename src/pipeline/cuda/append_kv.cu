// Writes the newest token's K/V of each sequence into its block (one layer): 16-byte copies,
// one warp a row.
#include <cuda_runtime.h>

#include "backend/cuda/cuda_check.h"
#include "kvtier/core/error.h"
#include "pipeline/attention_runner.h"

namespace kvtier::pipeline::detail {
namespace {

// grid: batch x (2 * kv_heads) rows; each row is row_bytes (a multiple of 16) bytes.
__global__ void append_kv_kernel(const uint4* __restrict__ src, void* const* __restrict__ dst, int rows_per_seq,
                                 unsigned row_vecs, unsigned long long head_bytes) {
  const int b = blockIdx.x, r = blockIdx.y;
  const uint4* s = src + (static_cast<size_t>(b) * rows_per_seq + r) * row_vecs;
  uint4* d = reinterpret_cast<uint4*>(static_cast<unsigned char*>(dst[b]) + r * head_bytes);
  for (unsigned i = threadIdx.x; i < row_vecs; i += blockDim.x) d[i] = s[i];
}

}  // namespace

void append_kv_gpu(const AppendArgs& a, void* cuda_stream) {
  if (a.row_bytes % 16 != 0) throw InvalidArgument("append_kv: row bytes must be a multiple of 16");
  const dim3 grid(a.batch, 2 * a.kv_heads);
  append_kv_kernel<<<grid, 32, 0, static_cast<cudaStream_t>(cuda_stream)>>>(
      static_cast<const uint4*>(a.src), a.dst, 2 * a.kv_heads, static_cast<unsigned>(a.row_bytes / 16),
      a.head_bytes);
  KVT_CUDA_CHECK_LAUNCH();
}

}  // namespace kvtier::pipeline::detail
