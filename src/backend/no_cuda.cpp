// Built only without CUDA: the CUDA backend's entry points say why it is missing.
#include "backend/factories.h"
#include "kvtier/core/error.h"

namespace kvtier {

bool cuda_compiled() { return false; }

int cuda_device_count(std::string* why) {
  if (why) *why = "kvtier was built without CUDA (configure with -DKVTIER_CUDA=ON)";
  return 0;
}

namespace detail {
std::unique_ptr<Backend> make_cuda_backend(int) {
  throw CudaError("kvtier was built without CUDA (configure with -DKVTIER_CUDA=ON)");
}
}  // namespace detail

}  // namespace kvtier
