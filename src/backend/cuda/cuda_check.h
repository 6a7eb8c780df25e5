// Internal: checking of every CUDA runtime call and kernel launch.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "kvtier/core/error.h"

namespace kvtier::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line) {
  throw CudaError(std::string(what) + " failed: " + cudaGetErrorString(e) + " (" +
                  cudaGetErrorName(e) + ") at " + file + ":" + std::to_string(line));
}

}  // namespace kvtier::detail

#define KVT_CUDA_CHECK(call)                                                            \
  do {                                                                                  \
    const cudaError_t kvt_e_ = (call);                                                  \
    if (kvt_e_ != cudaSuccess) ::kvtier::detail::throw_cuda_error(kvt_e_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: reports launch-configuration errors at once.
#define KVT_CUDA_CHECK_LAUNCH() KVT_CUDA_CHECK(cudaGetLastError())
