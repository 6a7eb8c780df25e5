// Built only without CUDA: the CUDA parts of the transfer layer say why they are missing.
#include "kvtier/core/error.h"
#include "transfer/copier.h"
#include "transfer/cuda/kernels.h"

namespace kvtier::detail {

namespace {
[[noreturn]] void no_cuda() {
  throw CudaError("kvtier was built without CUDA (configure with -DKVTIER_CUDA=ON)");
}
}  // namespace

std::unique_ptr<Copier> make_cuda_copier(Backend&, const TransferConfig&) { no_cuda(); }
void launch_copy_kernel(const CopyDesc*, int, int, int, void*) { no_cuda(); }
void launch_memory_load(const void*, void*, std::size_t, void*) { no_cuda(); }

}  // namespace kvtier::detail
