// GPU merge of partial states (merge_gpu): one warp a row, the shared merge_row_warp.
#include <string>

#include "attention/cuda/merge_warp.cuh"
#include "backend/cuda/cuda_check.h"
#include "kvtier/attention/merge.h"
#include "kvtier/core/error.h"

namespace kvtier::attention {
namespace {

struct PartList {
  const float* o[kMaxGpuMergeParts];
  const float* lse[kMaxGpuMergeParts];
};

struct PartsByPointer {
  const PartList* list;
  long long row, head_dim;
  __device__ float lse(int i) const { return list->lse[i][row]; }
  __device__ float o(int i, int col) const { return list->o[i][row * head_dim + col]; }
};

template <class OutT>
__global__ void merge_kernel(const PartList parts, int n, long long rows, int head_dim, OutT* out,
                             float* out_lse) {
  const long long row = static_cast<long long>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows) return;
  const PartsByPointer view{&parts, row, head_dim};
  cuda::merge_row_warp(view, n, head_dim, out + row * head_dim, out_lse ? out_lse + row : nullptr);
}

template <class OutT>
void launch(const PartList& list, int n, std::size_t rows, int head_dim, void* out, float* out_lse,
            cudaStream_t s) {
  constexpr int kWarps = 8;
  const unsigned blocks = static_cast<unsigned>((rows + kWarps - 1) / kWarps);
  merge_kernel<OutT><<<blocks, kWarps * 32, 0, s>>>(list, n, static_cast<long long>(rows), head_dim,
                                                    static_cast<OutT*>(out), out_lse);
  KVT_CUDA_CHECK_LAUNCH();
}

}  // namespace

void merge_gpu(std::span<const PartialState> parts, std::size_t rows, int head_dim, void* out_o,
               DType out_dtype, float* out_lse, Stream& stream) {
  if (stream.kind() != BackendKind::kCuda) throw CudaError("merge_gpu needs a CUDA stream");
  if (head_dim < 1)
    throw InvalidArgument("merge: head_dim " + std::to_string(head_dim) + "; expected >= 1");
  if (!out_o) throw InvalidArgument("merge: out_o must not be null");
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].o || !parts[i].lse)
      throw InvalidArgument("merge: part " + std::to_string(i) + " has a null o or lse");
  }
  const bool rounds = parts.size() > static_cast<std::size_t>(kMaxGpuMergeParts);
  if (rounds && (out_dtype != DType::kF32 || out_lse == nullptr)) {
    throw InvalidArgument("merge: " + std::to_string(parts.size()) +
                          " parts into a 16-bit output (or without lse); "
                          "at most " +
                          std::to_string(kMaxGpuMergeParts) +
                          " parts unless the output is fp32 with an lse (merged in rounds)");
  }
  if (rows == 0) return;
  const cudaStream_t s = static_cast<cudaStream_t>(stream.native_handle());
  std::size_t next = 0;
  bool first = true;
  do {  // round k > 0 merges the output so far (as part 0) with the next parts, in place
    PartList list{};
    int n = 0;
    if (!first) {
      list.o[0] = static_cast<const float*>(out_o);
      list.lse[0] = out_lse;
      n = 1;
    }
    while (n < kMaxGpuMergeParts && next < parts.size()) {
      list.o[n] = parts[next].o;
      list.lse[n] = parts[next].lse;
      ++n;
      ++next;
    }
    switch (out_dtype) {
      case DType::kF32:
        launch<float>(list, n, rows, head_dim, out_o, out_lse, s);
        break;
      case DType::kBF16:
        launch<__nv_bfloat16>(list, n, rows, head_dim, out_o, out_lse, s);
        break;
      case DType::kF16:
        launch<__half>(list, n, rows, head_dim, out_o, out_lse, s);
        break;
    }
    first = false;
  } while (next < parts.size());
}

}  // namespace kvtier::attention
