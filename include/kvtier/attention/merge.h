// Merge of partial attention states (DESIGN.md, "Attention math"): for each row,
// m = max_i s_i, w_i = exp(s_i - m), o = sum w_i o_i / sum w_i, s = m + ln sum w_i.
// Empty parts (lse = -inf) are the identity; a row whose parts are all empty becomes (0, -inf),
// never NaN. A row is one (sequence, q token, q head).
#pragma once

#include <cstddef>
#include <span>

#include "kvtier/backend/backend.h"
#include "kvtier/backend/thread_pool.h"
#include "kvtier/core/dtype.h"

namespace kvtier::attention {

struct PartialState {
  const float* o = nullptr;    // [rows][head_dim] fp32
  const float* lse = nullptr;  // [rows] natural log
};

// Most parts one merge_gpu call takes when writing a 16-bit output (fp32 output: any number,
// merged in rounds of this many into the output).
inline constexpr int kMaxGpuMergeParts = 64;

// out_o: [rows][head_dim] in out_dtype (fp32 for further merging, or q's bf16/fp16);
// out_lse: [rows] or nullptr. out_o may alias no input. Host memory; pool may be nullptr.
void merge_cpu(std::span<const PartialState> parts, std::size_t rows, int head_dim, void* out_o,
               DType out_dtype, float* out_lse, ThreadPool* pool = nullptr);

// The same on the GPU (device memory), enqueued on `stream` (CUDA backend only).
void merge_gpu(std::span<const PartialState> parts, std::size_t rows, int head_dim, void* out_o,
               DType out_dtype, float* out_lse, Stream& stream);

}  // namespace kvtier::attention
