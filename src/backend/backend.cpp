#include "kvtier/backend/backend.h"

#include "kvtier/core/error.h"
#include "backend/factories.h"

namespace kvtier {

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    kind_ = o.kind_;
    deleter_ = std::move(o.deleter_);
    o.deleter_ = nullptr;
  }
  return *this;
}

void Buffer::reset() noexcept {
  if (data_ != nullptr && deleter_) deleter_(data_);
  data_ = nullptr;
  bytes_ = 0;
  deleter_ = nullptr;
}

const char* backend_name(BackendKind kind) { return kind == BackendKind::kCuda ? "cuda" : "cpu"; }

const char* memory_kind_name(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kDevice: return "device";
    case MemoryKind::kPinnedHost: return "pinned host";
    case MemoryKind::kHost: return "host";
  }
  return "?";
}

BackendChoice parse_backend_choice(std::string_view text) {
  if (text == "auto") return BackendChoice::kAuto;
  if (text == "cpu") return BackendChoice::kCpu;
  if (text == "cuda") return BackendChoice::kCuda;
  throw InvalidArgument("unknown backend '" + std::string(text) + "'; expected auto, cpu or cuda");
}

std::unique_ptr<Backend> make_backend(BackendChoice choice, int device_index) {
  if (device_index < 0) {
    throw InvalidArgument("device index " + std::to_string(device_index) + " is negative");
  }
  if (choice == BackendChoice::kCpu) return detail::make_cpu_backend();
  std::string why;
  const int n = cuda_device_count(&why);
  if (choice == BackendChoice::kAuto) {
    return n > 0 ? detail::make_cuda_backend(device_index) : detail::make_cpu_backend();
  }
  if (n == 0) throw CudaError("the CUDA backend was asked for, but " + why);
  if (device_index >= n) {
    throw InvalidArgument("CUDA device " + std::to_string(device_index) + " asked for; " +
                          std::to_string(n) + " device(s) present");
  }
  return detail::make_cuda_backend(device_index);
}

}  // namespace kvtier
