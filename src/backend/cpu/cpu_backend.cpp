// The CPU backend: "device" memory is host memory, each stream is a worker thread.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "backend/factories.h"
#include "backend/host_pages.h"
#include "backend/stream_errors.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"

namespace kvtier::detail {
namespace {

using Clock = std::chrono::steady_clock;

class CpuStream final : public Stream {
 public:
  CpuStream() : errors_(std::make_shared<StreamErrors>()), worker_([this] { loop(); }) {}
  ~CpuStream() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();  // drains the queue first: work enqueued is never dropped
  }

  BackendKind kind() const override { return BackendKind::kCpu; }
  void* native_handle() const override { return nullptr; }

  void host_task(std::function<void()> fn) override {
    enqueue(StreamErrors::guard(errors(), std::move(fn)));
  }

  void synchronize() override {
    std::uint64_t target;
    {
      std::unique_lock<std::mutex> lock(mu_);
      target = enqueued_;
      done_cv_.wait(lock, [&] { return completed_ >= target; });
    }
    std::exception_ptr error;
    {
      std::lock_guard<std::mutex> lock(mu_);
      error = errors_->error();
      if (error) errors_ = std::make_shared<StreamErrors>();
    }
    if (error) std::rethrow_exception(error);
  }

  std::shared_ptr<StreamErrors> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

  // Internal tasks (event records and waits) run even after a failure.
  void enqueue(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
      ++enqueued_;
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stop_ and drained
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++completed_;
      }
      done_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<std::function<void()>> queue_;
  std::uint64_t enqueued_ = 0, completed_ = 0;
  bool stop_ = false;
  std::shared_ptr<StreamErrors> errors_;
  std::thread worker_;  // last: starts after the members it uses
};

struct EventState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Clock::time_point time;
  std::shared_ptr<StreamErrors> errors;
  std::uint64_t ticket = 0;

  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
};

class CpuEvent final : public Event {
 public:
  void record(Stream& stream) override {
    auto& s = as_cpu(stream);
    auto state = std::make_shared<EventState>();
    state->errors = s.errors();
    state->ticket = state->errors->tickets();
    s.enqueue([state] {
      {
        std::lock_guard<std::mutex> lock(state->mu);
        state->done = true;
        state->time = Clock::now();
      }
      state->cv.notify_all();
    });
    std::lock_guard<std::mutex> lock(mu_);
    state_ = std::move(state);
  }

  void wait(Stream& stream) override {
    auto state = current();
    if (!state) return;
    as_cpu(stream).enqueue([state] { state->wait(); });
  }

  bool query() override {
    auto state = current();
    if (!state) return true;
    std::lock_guard<std::mutex> lock(state->mu);
    return state->done;
  }

  void synchronize() override {
    auto state = current();
    if (!state) return;
    state->wait();
    if (auto e = state->errors->error_before(state->ticket)) std::rethrow_exception(e);
  }

  double elapsed_ms(const Event& start_event) const override {
    const auto* start = dynamic_cast<const CpuEvent*>(&start_event);
    if (start == nullptr) throw InvalidArgument("elapsed_ms: start event is not a CPU event");
    auto a = start->current(), b = current();
    if (!a || !b) throw InvalidArgument("elapsed_ms: both events must be recorded");
    a->wait();
    b->wait();
    return std::chrono::duration<double, std::milli>(b->time - a->time).count();
  }

 private:
  static CpuStream& as_cpu(Stream& s) {
    auto* p = dynamic_cast<CpuStream*>(&s);
    if (p == nullptr) throw InvalidArgument("a CPU event was used with a stream of another backend");
    return *p;
  }
  std::shared_ptr<EventState> current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }
  mutable std::mutex mu_;
  std::shared_ptr<EventState> state_;
};

Buffer allocate_host(MemoryKind kind, std::size_t bytes) {
  void* p = allocate_host_pages(bytes).data;  // large buffers in huge pages, as pinned pools are
  if (p == nullptr) {
    throw OutOfMemory("could not allocate " + format_size(bytes) + " of " + memory_kind_name(kind) +
                      " memory (CPU backend)");
  }
  return Buffer(p, bytes, kind, [](void* q) { std::free(q); });
}

class CpuBackend final : public Backend {
 public:
  CpuBackend() {
    info_.kind = BackendKind::kCpu;
    info_.name = "host CPU";
    info_.host_threads = static_cast<int>(std::thread::hardware_concurrency());
    refresh_device_info();
  }
  BackendKind kind() const override { return BackendKind::kCpu; }
  const DeviceInfo& device() const override { return info_; }
  void refresh_device_info() override {
    const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    info_.total_memory = page * static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES));
    info_.free_memory = page * static_cast<std::uint64_t>(sysconf(_SC_AVPHYS_PAGES));
  }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<CpuStream>(); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<CpuEvent>(); }
  Buffer allocate(MemoryKind kind, std::size_t bytes) override {
    if (bytes == 0) throw InvalidArgument("allocate: size must be greater than zero");
    return allocate_host(kind, bytes);
  }
  void copy_async(void* dst, const void* src, std::size_t bytes, Stream& stream) override {
    stream.host_task([=] { std::memcpy(dst, src, bytes); });
  }
  void fill_async(void* dst, unsigned char value, std::size_t bytes, Stream& stream) override {
    stream.host_task([=] { std::memset(dst, value, bytes); });
  }

 private:
  DeviceInfo info_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace kvtier::detail
