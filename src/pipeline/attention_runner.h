// Internal: runs partial attention and merges on the pipeline's compute stream, whichever the
// backend: the CUDA kernels on a CUDA stream, the CPU kernels as host tasks of a CPU stream (where
// the "GPU" tier is host memory standing in for it).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "kvtier/attention/attention.h"
#include "kvtier/attention/merge.h"
#include "kvtier/backend/backend.h"
#include "kvtier/backend/thread_pool.h"

namespace kvtier::pipeline::detail {

// K/V of the newest token of each sequence, written into its block of one layer.
struct AppendArgs {
  int batch = 0;
  int kv_heads = 0;
  std::size_t row_bytes = 0;   // head_dim * element size
  std::size_t head_bytes = 0;  // block_tokens * row_bytes
  const void* src = nullptr;   // [batch][2][kv_heads][head_dim]
  void* const* dst = nullptr;  // [batch] layer base of the newest block + token * row_bytes
};

class AttentionRunner {
 public:
  // CPU backend: kernels run on `threads` threads (0: all hardware threads).
  AttentionRunner(Backend& backend, int threads);
  ~AttentionRunner();

  // Arguments are read when the work runs (CPU) or at enqueue time (GPU); pointers must stay
  // valid until the stream has done the work.
  void decode(const attention::DecodeArgs& args, Stream& stream);
  // parts: device (or mapped host) partial states; out in out_dtype, out_lse may be nullptr.
  void merge(std::vector<attention::PartialState> parts, std::size_t rows, int head_dim, void* out,
             DType out_dtype, float* out_lse, Stream& stream);
  void append(const AppendArgs& args, Stream& stream);
  // Copies `bytes` of device memory to pinned (mapped) host memory in stream order. CUDA, with
  // 16-byte aligned addresses and size: GPU threads store over PCIe, so the copy cannot queue
  // behind the copy engines' work (the streamed layers); otherwise a copy_async.
  void store_to_host(void* host_dst, const void* src, std::size_t bytes, Stream& stream);

 private:
  Backend& backend_;
  std::unique_ptr<ThreadPool> pool_;  // CPU backend
  struct Gpu;
  std::unique_ptr<Gpu> gpu_;          // CUDA backend
};

// CUDA launch of the append (cuda/append_kv.cu; exists only in builds with CUDA).
void append_kv_gpu(const AppendArgs& args, void* cuda_stream);
// The same on the host.
void append_kv_cpu(const AppendArgs& args);
// CUDA launch of store_to_host (cuda/store_to_host.cu): addresses and size multiples of 16 bytes.
void store_to_host_gpu(void* host_dst, const void* src, std::size_t bytes, void* cuda_stream);

}  // namespace kvtier::pipeline::detail
