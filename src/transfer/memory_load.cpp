#include "kvtier/transfer/memory_load.h"

#include "kvtier/core/error.h"
#include "transfer/cuda/kernels.h"

namespace kvtier {

MemoryLoad::MemoryLoad(Backend& backend, std::size_t bytes)
    : backend_(backend), bytes_(bytes / 16 * 16) {
  if (bytes_ == 0)
    throw InvalidArgument("memory load of " + std::to_string(bytes) + " bytes; expected >= 16");
  a_ = backend.allocate(MemoryKind::kDevice, bytes_);
  b_ = backend.allocate(MemoryKind::kDevice, bytes_);
}

void MemoryLoad::enqueue(Stream& stream, int passes) {
  for (int i = 0; i < passes; ++i) {
    const void* src = (i % 2 == 0) ? a_.data() : b_.data();
    void* dst = (i % 2 == 0) ? b_.data() : a_.data();
    if (backend_.kind() == BackendKind::kCuda) {
      detail::launch_memory_load(src, dst, bytes_, stream.native_handle());
    } else {
      backend_.copy_async(dst, src, bytes_, stream);
    }
  }
}

}  // namespace kvtier
