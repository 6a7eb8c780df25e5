// The thread-pool I/O path: queue_depth requests in flight, each on its own thread with
// preadv/pwritev. Used where io_uring is unavailable (or KVTIER_DISK_IO=threads).
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "transfer/disk/io_engine.h"

namespace kvtier::disk {
namespace {

constexpr int kMaxThreads = 64;

std::int64_t run_request(IoRequest r) {
  const std::uint64_t want = request_bytes(r);
  std::uint64_t total = 0;
  while (total < want) {
    const ssize_t n = r.write ? ::pwritev(r.fd, r.iov, r.iov_count, static_cast<off_t>(r.offset))
                              : ::preadv(r.fd, r.iov, r.iov_count, static_cast<off_t>(r.offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;  // end of file (read) or nothing written: report the short count
    total += static_cast<std::uint64_t>(n);
    advance_request(r, static_cast<std::uint64_t>(n));
  }
  return static_cast<std::int64_t>(total);
}

class ThreadEngine final : public IoEngine {
 public:
  explicit ThreadEngine(int depth) : depth_(depth) {
    const int threads = std::min(depth, kMaxThreads);
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~ThreadEngine() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();  // the queue is drained first
  }

  const char* name() const override { return "threads"; }
  int queue_depth() const override { return depth_; }

  void submit(IoRequest request) override {
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] { return in_flight_ < depth_; });
    ++in_flight_;
    queue_.push_back(std::move(request));
    lock.unlock();
    work_cv_.notify_one();
  }

  void post(IoRequest request) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++in_flight_;  // may exceed depth_: the queue holds the rest until a thread is free
      queue_.push_back(std::move(request));
    }
    work_cv_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      IoRequest r;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        r = std::move(queue_.front());
        queue_.pop_front();
      }
      const std::int64_t result = run_request(r);
      auto done = std::move(r.done);
      {
        std::lock_guard<std::mutex> lock(mu_);
        --in_flight_;
      }
      space_cv_.notify_one();
      if (done) done(result);
    }
  }

  const int depth_;
  std::mutex mu_;
  std::condition_variable work_cv_, space_cv_;
  std::deque<IoRequest> queue_;
  int in_flight_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;  // last: started after the state they use
};

}  // namespace

std::unique_ptr<IoEngine> make_thread_engine(int queue_depth) {
  return std::make_unique<ThreadEngine>(queue_depth);
}

}  // namespace kvtier::disk
