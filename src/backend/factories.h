// Internal: constructors of the concrete backends.
#pragma once

#include <memory>

#include "kvtier/backend/backend.h"

namespace kvtier::detail {

std::unique_ptr<Backend> make_cpu_backend();
std::unique_ptr<Backend> make_cuda_backend(int device_index);  // throws CudaError without CUDA

}  // namespace kvtier::detail
