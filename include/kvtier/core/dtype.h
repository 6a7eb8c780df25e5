// Element types of KV and queries.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kvtier {

enum class DType { kF32, kF16, kBF16 };

std::size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "fp32", "fp16", "bf16"
// Accepts fp32|f32|float32, fp16|f16|float16|half, bf16|bfloat16; InvalidArgument otherwise.
DType parse_dtype(std::string_view name);

}  // namespace kvtier
