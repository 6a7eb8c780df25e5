#include "pipeline/attention_runner.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "kvtier/attention/cpu.h"
#include "kvtier/core/error.h"
#ifdef KVTIER_WITH_CUDA
#include "kvtier/attention/gpu.h"
#endif

namespace kvtier::pipeline::detail {

struct AttentionRunner::Gpu {
#ifdef KVTIER_WITH_CUDA
  explicit Gpu(Backend& b) : decoder(b) {}
  attention::GpuDecoder decoder;
#endif
};

AttentionRunner::AttentionRunner(Backend& backend, int threads) : backend_(backend) {
  if (backend.kind() == BackendKind::kCpu) {
    pool_ = std::make_unique<ThreadPool>(threads);
  } else {
#ifdef KVTIER_WITH_CUDA
    gpu_ = std::make_unique<Gpu>(backend);
#else
    throw CudaError("the pipeline was given a CUDA backend, but kvtier was built without CUDA");
#endif
  }
}

AttentionRunner::~AttentionRunner() = default;

void AttentionRunner::decode(const attention::DecodeArgs& args, Stream& stream) {
#ifdef KVTIER_WITH_CUDA
  if (gpu_) {
    gpu_->decoder.run(args, stream);
    return;
  }
#endif
  attention::validate(args, false);
  stream.host_task([args, pool = pool_.get()] { attention::decode_cpu(args, *pool); });
}

void AttentionRunner::merge(std::vector<attention::PartialState> parts, std::size_t rows, int head_dim,
                            void* out, DType out_dtype, float* out_lse, Stream& stream) {
  if (gpu_) {
    attention::merge_gpu(parts, rows, head_dim, out, out_dtype, out_lse, stream);
    return;
  }
  stream.host_task([parts = std::move(parts), rows, head_dim, out, out_dtype, out_lse, pool = pool_.get()] {
    attention::merge_cpu(parts, rows, head_dim, out, out_dtype, out_lse, pool);
  });
}

void AttentionRunner::append(const AppendArgs& args, Stream& stream) {
  if (args.batch == 0) return;
#ifdef KVTIER_WITH_CUDA
  if (gpu_) {
    append_kv_gpu(args, stream.native_handle());
    return;
  }
#endif
  stream.host_task([args] { append_kv_cpu(args); });
}

void AttentionRunner::store_to_host(void* host_dst, const void* src, std::size_t bytes, Stream& stream) {
#ifdef KVTIER_WITH_CUDA
  const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  if (gpu_ && bytes % 16 == 0 && aligned(host_dst) && aligned(src)) {
    store_to_host_gpu(host_dst, src, bytes, stream.native_handle());
    return;
  }
#endif
  backend_.copy_async(host_dst, src, bytes, stream);  // CPU backend, or unaligned bytes
}

void append_kv_cpu(const AppendArgs& a) {
  const auto* src = static_cast<const unsigned char*>(a.src);
  for (int b = 0; b < a.batch; ++b) {
    auto* dst = static_cast<unsigned char*>(a.dst[b]);
    for (int r = 0; r < 2 * a.kv_heads; ++r) {
      std::memcpy(dst + r * a.head_bytes, src + (static_cast<std::size_t>(b) * 2 * a.kv_heads + r) * a.row_bytes,
                  a.row_bytes);
    }
  }
}

}  // namespace kvtier::pipeline::detail
