// The CUDA backend: a thin checked wrapper over the CUDA runtime.
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "backend/cuda/cuda_check.h"
#include "backend/factories.h"
#include "backend/host_pages.h"
#include "backend/stream_errors.h"
#include "kvtier/core/units.h"

namespace kvtier {

bool cuda_compiled() { return true; }

namespace {

// Streams are spread over the device's hardware work queues (CUDA_DEVICE_MAX_CONNECTIONS, 8
// unless set) round robin in the order they are created, and two streams on one queue run one
// after the other. The transfer engine's host->device and device->host streams shared queues in
// some engines and not in others, by how many streams the process had made before: both
// directions at once moved 0.59-0.90 of the bidirectional ceiling depending on the engine (H200,
// 64 KiB slices), and 0.85-0.89 in every engine with 32 queues (docs/transfer.md). So ask for 32
// (the most) unless the user set it. It counts only before the process creates its CUDA context:
// one made earlier (by another library) keeps its own setting.
void ask_for_hardware_queues() {
  static const bool asked = [] { return ::setenv("CUDA_DEVICE_MAX_CONNECTIONS", "32", 0) == 0; }();
  (void)asked;
}

}  // namespace

int cuda_device_count(std::string* why) {
  ask_for_hardware_queues();
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear
    if (why) *why = std::string("no usable CUDA device: ") + cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device is present";
  return n;
}

namespace detail {
namespace {

class CudaStream final : public Stream {
 public:
  explicit CudaStream(int device) : device_(device), errors_(std::make_shared<StreamErrors>()) {
    KVT_CUDA_CHECK(cudaSetDevice(device_));
    KVT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~CudaStream() override {
    cudaStreamSynchronize(stream_);  // destructors never throw; work enqueued still completes
    cudaStreamDestroy(stream_);
  }
  BackendKind kind() const override { return BackendKind::kCuda; }
  void* native_handle() const override { return stream_; }

  void host_task(std::function<void()> fn) override {
    auto* task = new std::function<void()>(StreamErrors::guard(errors_, std::move(fn)));
    const cudaError_t e = cudaLaunchHostFunc(
        stream_,
        [](void* p) {
          auto* t = static_cast<std::function<void()>*>(p);
          (*t)();
          delete t;
        },
        task);
    if (e != cudaSuccess) {
      delete task;
      throw_cuda_error(e, "cudaLaunchHostFunc", __FILE__, __LINE__);
    }
  }

  void synchronize() override {
    KVT_CUDA_CHECK(cudaStreamSynchronize(stream_));
    if (auto e = errors_->error()) {
      errors_ = std::make_shared<StreamErrors>();
      std::rethrow_exception(e);
    }
  }

  cudaStream_t get() const { return stream_; }
  const std::shared_ptr<StreamErrors>& errors() const { return errors_; }

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<StreamErrors> errors_;
};

CudaStream& as_cuda(Stream& s) {
  auto* p = dynamic_cast<CudaStream*>(&s);
  if (p == nullptr) throw InvalidArgument("a CUDA object was used with a stream of another backend");
  return *p;
}

class CudaEvent final : public Event {
 public:
  explicit CudaEvent(int device) {
    KVT_CUDA_CHECK(cudaSetDevice(device));
    KVT_CUDA_CHECK(cudaEventCreate(&event_));
  }
  ~CudaEvent() override { cudaEventDestroy(event_); }

  void record(Stream& stream) override {
    auto& s = as_cuda(stream);
    KVT_CUDA_CHECK(cudaEventRecord(event_, s.get()));
    errors_ = s.errors();
    ticket_ = errors_->tickets();
    recorded_ = true;
  }
  void wait(Stream& stream) override {
    KVT_CUDA_CHECK(cudaStreamWaitEvent(as_cuda(stream).get(), event_, 0));
  }
  bool query() override {
    const cudaError_t e = cudaEventQuery(event_);
    if (e == cudaErrorNotReady) return false;
    if (e != cudaSuccess) throw_cuda_error(e, "cudaEventQuery", __FILE__, __LINE__);
    return true;
  }
  void synchronize() override {
    KVT_CUDA_CHECK(cudaEventSynchronize(event_));
    if (errors_) {
      if (auto e = errors_->error_before(ticket_)) std::rethrow_exception(e);
    }
  }
  double elapsed_ms(const Event& start_event) const override {
    const auto* start = dynamic_cast<const CudaEvent*>(&start_event);
    if (start == nullptr) throw InvalidArgument("elapsed_ms: start event is not a CUDA event");
    if (!recorded_ || !start->recorded_) throw InvalidArgument("elapsed_ms: both events must be recorded");
    float ms = 0;
    KVT_CUDA_CHECK(cudaEventSynchronize(event_));
    KVT_CUDA_CHECK(cudaEventElapsedTime(&ms, start->event_, event_));
    return ms;
  }

 private:
  cudaEvent_t event_ = nullptr;
  std::shared_ptr<StreamErrors> errors_;
  std::uint64_t ticket_ = 0;
  bool recorded_ = false;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    ask_for_hardware_queues();
    KVT_CUDA_CHECK(cudaSetDevice(device_));
    cudaDeviceProp prop{};
    KVT_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));
    info_.kind = BackendKind::kCuda;
    info_.index = device_;
    info_.name = prop.name;
    info_.multiprocessors = prop.multiProcessorCount;
    info_.compute_major = prop.major;
    info_.compute_minor = prop.minor;
    info_.l2_bytes = static_cast<std::uint64_t>(prop.l2CacheSize);
    info_.host_threads = static_cast<int>(std::thread::hardware_concurrency());
    int same_pointer = 0;
    KVT_CUDA_CHECK(cudaDeviceGetAttribute(&same_pointer,
                                          cudaDevAttrCanUseHostPointerForRegisteredMem, device_));
    register_huge_ = same_pointer != 0;
    refresh_device_info();
  }
  BackendKind kind() const override { return BackendKind::kCuda; }
  const DeviceInfo& device() const override { return info_; }
  void refresh_device_info() override {
    std::size_t free_b = 0, total_b = 0;
    KVT_CUDA_CHECK(cudaSetDevice(device_));
    KVT_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    info_.free_memory = free_b;
    info_.total_memory = total_b;
  }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<CudaStream>(device_); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<CudaEvent>(device_); }

  Buffer allocate(MemoryKind kind, std::size_t bytes) override {
    if (bytes == 0) throw InvalidArgument("allocate: size must be greater than zero");
    KVT_CUDA_CHECK(cudaSetDevice(device_));
    void* p = nullptr;
    cudaError_t e = cudaSuccess;
    switch (kind) {
      case MemoryKind::kDevice:
        e = cudaMalloc(&p, bytes);
        if (e == cudaSuccess) return Buffer(p, bytes, kind, [](void* q) { cudaFree(q); });
        break;
      case MemoryKind::kPinnedHost:
        if (bytes >= kHugePage && register_huge_) {
          if (auto b = pin_huge(bytes)) return std::move(*b);
        }
        e = cudaHostAlloc(&p, bytes, cudaHostAllocMapped | cudaHostAllocPortable);
        if (e == cudaSuccess) return Buffer(p, bytes, kind, [](void* q) { cudaFreeHost(q); });
        break;
      case MemoryKind::kHost: {
        const std::size_t rounded = (bytes + 4095) / 4096 * 4096;
        p = std::aligned_alloc(4096, rounded);
        if (p != nullptr) return Buffer(p, bytes, kind, [](void* q) { std::free(q); });
        throw OutOfMemory("could not allocate " + format_size(bytes) + " of pageable host memory");
      }
    }
    cudaGetLastError();  // clear the sticky-free allocation error
    refresh_device_info();
    if (e == cudaErrorMemoryAllocation) {
      throw OutOfMemory("could not allocate " + format_size(bytes) + " of " + memory_kind_name(kind) +
                        " memory on " + info_.name + " (" + format_size(info_.free_memory) +
                        " of device memory free)");
    }
    throw_cuda_error(e, "allocate", __FILE__, __LINE__);
  }

  void copy_async(void* dst, const void* src, std::size_t bytes, Stream& stream) override {
    if (bytes == 0) return;
    KVT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, as_cuda(stream).get()));
  }

  void fill_async(void* dst, unsigned char value, std::size_t bytes, Stream& stream) override {
    if (bytes == 0) return;
    cudaPointerAttributes attr{};
    KVT_CUDA_CHECK(cudaPointerGetAttributes(&attr, dst));
    if (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged) {
      KVT_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, as_cuda(stream).get()));
    } else {
      stream.host_task([=] { std::memset(dst, value, bytes); });
    }
  }

 private:
  static constexpr std::size_t kHugePage = 2u << 20;

  // Pinned memory in huge pages (backend/host_pages.h), registered (mapped, portable). Empty when
  // registration fails (the caller falls back to cudaHostAlloc); only used where the device
  // addresses registered memory by its host pointer, as it does cudaHostAlloc's.
  std::optional<Buffer> pin_huge(std::size_t bytes) {
    const HostPages h = allocate_host_pages(bytes);
    void* p = h.data;
    if (p == nullptr) return std::nullopt;
    if (cudaHostRegister(p, h.bytes, cudaHostRegisterMapped | cudaHostRegisterPortable) !=
        cudaSuccess) {
      cudaGetLastError();  // clear; cudaHostAlloc decides
      std::free(p);
      return std::nullopt;
    }
    return Buffer(p, bytes, MemoryKind::kPinnedHost, [](void* q) {
      cudaHostUnregister(q);
      std::free(q);
    });
  }

  int device_;
  DeviceInfo info_;
  bool register_huge_ = false;  // the device uses registered host memory by its host pointer
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(int device_index) {
  return std::make_unique<CudaBackend>(device_index);
}

}  // namespace detail
}  // namespace kvtier
