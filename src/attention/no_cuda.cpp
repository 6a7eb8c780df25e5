// GPU attention entry points of a build without CUDA: each says so.
#include "kvtier/attention/gpu.h"
#include "kvtier/attention/merge.h"
#include "kvtier/core/error.h"

namespace kvtier::attention {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw CudaError(std::string(what) +
                  ": kvtier was built without CUDA (configure with -DKVTIER_CUDA=ON)");
}
}  // namespace

GpuDecoder::GpuDecoder(Backend& backend) : backend_(backend) { no_cuda("GpuDecoder"); }
GpuDecoder::~GpuDecoder() = default;
void GpuDecoder::run(const DecodeArgs&, Stream&) { no_cuda("GpuDecoder::run"); }
void gpu_read_probe(const void*, std::size_t, unsigned long long*, Stream&) {
  no_cuda("gpu_read_probe");
}
void merge_gpu(std::span<const PartialState>, std::size_t, int, void*, DType, float*, Stream&) {
  no_cuda("merge_gpu");
}

}  // namespace kvtier::attention
