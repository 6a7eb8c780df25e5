// Backends: where memory lives and where work runs. A Backend owns one device (a CUDA GPU, or the
// host for the CPU backend) and hands out Streams (ordered asynchronous queues), Events
// (record / wait / query / synchronize, carrying errors) and Buffers of each memory kind.
//
// The CPU backend runs each stream on its own worker thread, so ordering and overlap behave like
// CUDA streams and the whole system is testable without a GPU. The CUDA backend is a thin checked
// wrapper over the CUDA runtime.
//
// Threading: a Backend may be used from any thread. A Stream or Event object must not be used from
// two threads at once (as with CUDA); work enqueued on a stream runs in enqueue order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace kvtier {

enum class BackendKind { kCpu, kCuda };
enum class BackendChoice { kAuto, kCpu, kCuda };

const char* backend_name(BackendKind kind);  // "cpu", "cuda"
// Accepts auto|cpu|cuda; InvalidArgument otherwise.
BackendChoice parse_backend_choice(std::string_view text);

enum class MemoryKind {
  kDevice,      // GPU memory (CUDA) or host memory standing in for it (CPU backend)
  kPinnedHost,  // page-locked host memory, mapped into the device's address space (CUDA)
  kHost,        // ordinary pageable host memory
};
const char* memory_kind_name(MemoryKind kind);

struct DeviceInfo {
  BackendKind kind = BackendKind::kCpu;
  int index = 0;
  std::string name;
  std::uint64_t total_memory = 0;  // device memory (CPU backend: physical host memory)
  std::uint64_t free_memory = 0;
  int multiprocessors = 0;         // CUDA only
  int compute_major = 0, compute_minor = 0;
  std::uint64_t l2_bytes = 0;      // CUDA only
  int host_threads = 0;            // hardware threads of the host
};

// Owning, move-only handle of one allocation.
class Buffer {
 public:
  using Deleter = std::function<void(void*)>;
  Buffer() = default;
  Buffer(void* data, std::size_t bytes, MemoryKind kind, Deleter deleter)
      : data_(data), bytes_(bytes), kind_(kind), deleter_(std::move(deleter)) {}
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  void reset() noexcept;
  void* data() const { return data_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  std::size_t bytes() const { return bytes_; }
  MemoryKind kind() const { return kind_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  MemoryKind kind_ = MemoryKind::kHost;
  Deleter deleter_;
};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual BackendKind kind() const = 0;
  // Runs fn on a host thread in stream order: after all work enqueued before, and before all work
  // enqueued after. If fn throws, the error is kept: later tasks of this stream are skipped, and
  // events recorded after it and synchronize() report it (synchronize() then clears it).
  // CPU backend: each stream has its own thread, so tasks of different streams overlap. CUDA
  // backend: tasks run on the driver's callback thread (cudaLaunchHostFunc), serialized across
  // all streams, and may not call CUDA: keep them short; heavy host work belongs on a ThreadPool.
  virtual void host_task(std::function<void()> fn) = 0;
  // Blocks until all enqueued work is done; throws the first error since the last synchronize().
  virtual void synchronize() = 0;
  // cudaStream_t for the CUDA backend, nullptr for the CPU backend.
  virtual void* native_handle() const = 0;
};

class Event {
 public:
  virtual ~Event() = default;
  // Captures all work enqueued on `stream` so far (and that stream's error, if any).
  virtual void record(Stream& stream) = 0;
  // Work enqueued on `stream` after this call starts only once the recorded work is done.
  virtual void wait(Stream& stream) = 0;
  // True once the recorded work is done (also when it failed: synchronize() then throws).
  virtual bool query() = 0;
  // Blocks until the recorded work is done; throws the error it carries. An event never recorded
  // is complete.
  virtual void synchronize() = 0;
  // Milliseconds between `start` and this event, both recorded and complete.
  virtual double elapsed_ms(const Event& start) const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  virtual const DeviceInfo& device() const = 0;
  // Refreshes free device memory (and any other live figures) in device().
  virtual void refresh_device_info() = 0;
  virtual std::unique_ptr<Stream> create_stream() = 0;
  virtual std::unique_ptr<Event> create_event() = 0;
  // Throws OutOfMemory saying how much was asked for and what was free; InvalidArgument for 0.
  virtual Buffer allocate(MemoryKind kind, std::size_t bytes) = 0;
  // Asynchronous copy between any memories of this backend, ordered on `stream`. Pageable host
  // memory must stay valid until the copy is done.
  virtual void copy_async(void* dst, const void* src, std::size_t bytes, Stream& stream) = 0;
  // Asynchronous byte fill, ordered on `stream` (used to poison outputs before runs).
  virtual void fill_async(void* dst, unsigned char value, std::size_t bytes, Stream& stream) = 0;
};

// kAuto picks CUDA when the library was built with it and a GPU is present, else the CPU.
// kCuda without a usable GPU throws CudaError saying why (not built with CUDA, no device, driver).
// The CUDA backend (and cuda_device_count) sets CUDA_DEVICE_MAX_CONNECTIONS=32 in the process's
// environment unless it is set: with the default 8 hardware queues the transfer engine's two
// directions could share one and run one after the other (docs/transfer.md). It has effect only
// if the process has no CUDA context yet.
std::unique_ptr<Backend> make_backend(BackendChoice choice, int device_index = 0);

// Whether this build contains the CUDA backend and kernels.
bool cuda_compiled();
// Number of usable CUDA devices; 0 with `why` set when there are none or CUDA is not compiled.
int cuda_device_count(std::string* why = nullptr);

}  // namespace kvtier
