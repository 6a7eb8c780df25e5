#include "kvtier/core/dtype.h"

#include "kvtier/core/error.h"

namespace kvtier {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
  }
  throw InternalError("unknown DType");
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "fp32";
    case DType::kF16: return "fp16";
    case DType::kBF16: return "bf16";
  }
  throw InternalError("unknown DType");
}

DType parse_dtype(std::string_view name) {
  if (name == "fp32" || name == "f32" || name == "float32") return DType::kF32;
  if (name == "fp16" || name == "f16" || name == "float16" || name == "half") return DType::kF16;
  if (name == "bf16" || name == "bfloat16") return DType::kBF16;
  throw InvalidArgument("unknown dtype '" + std::string(name) + "'; expected bf16, fp16 or fp32");
}

}  // namespace kvtier
