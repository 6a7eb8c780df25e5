// The io_uring I/O path: callers submit under a mutex, one reaper thread takes completions and
// submits the posted requests waiting for room. The submission queue has queue_depth entries and
// at most that many requests are in flight, so a free entry always exists and the completion
// queue (twice as large) never overflows.
#include <cstring>
#include <memory>
#include <string>

#include "transfer/disk/io_engine.h"

#if defined(KVTIER_HAVE_LIBURING)
#include <liburing.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "kvtier/core/log.h"
#endif

namespace kvtier::disk {

#if defined(KVTIER_HAVE_LIBURING)
namespace {

// A request travels to the reaper through the kernel's rings, which ThreadSanitizer cannot see:
// tell it that handing an Op to the kernel publishes it and taking it back acquires it.
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
inline void handed_to_kernel(void* op) { __tsan_release(op); }
inline void back_from_kernel(void* op) { __tsan_acquire(op); }
#else
inline void handed_to_kernel(void*) {}
inline void back_from_kernel(void*) {}
#endif

struct Op {
  IoRequest request;
  std::uint64_t want = 0;
  std::uint64_t total = 0;
};

class UringEngine final : public IoEngine {
 public:
  explicit UringEngine(int depth) : depth_(depth) {}
  // Returns 0, or -errno when the kernel (or a sandbox) refuses io_uring.
  int start() {
    const int rc = io_uring_queue_init(static_cast<unsigned>(depth_), &ring_, 0);
    if (rc < 0) return rc;
    started_ = true;
    reaper_ = std::thread([this] { reap(); });
    return 0;
  }
  ~UringEngine() override {
    if (!started_) return;
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] { return in_flight_ == 0; });
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe != nullptr) {
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, 0);  // 0: stop
      io_uring_submit(&ring_);
    }
    lock.unlock();
    if (sqe != nullptr)
      reaper_.join();
    else
      reaper_.detach();  // cannot happen with no request in flight; never block forever
    io_uring_queue_exit(&ring_);
  }

  const char* name() const override { return "io_uring"; }
  int queue_depth() const override { return depth_; }

  void submit(IoRequest request) override {
    auto* op = new Op{std::move(request), 0, 0};
    op->want = request_bytes(op->request);
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] { return in_flight_ < depth_; });
    ++in_flight_;
    const int rc = push(op);
    lock.unlock();
    if (rc < 0) finish(op, rc);
  }

  void post(IoRequest request) override {
    auto* op = new Op{std::move(request), 0, 0};
    op->want = request_bytes(op->request);
    std::unique_lock<std::mutex> lock(mu_);
    if (in_flight_ >= depth_) {
      backlog_.push_back(op);  // finish() submits it
      return;
    }
    ++in_flight_;
    const int rc = push(op);
    lock.unlock();
    if (rc < 0) finish(op, rc);
  }

 private:
  // Queues op's remaining part; mu_ held. Returns -errno when the kernel refused it.
  int push(Op* op) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return -EBUSY;  // not reached: entries >= requests in flight
    const IoRequest& r = op->request;
    if (r.write) {
      io_uring_prep_writev(sqe, r.fd, r.iov, static_cast<unsigned>(r.iov_count), r.offset);
    } else {
      io_uring_prep_readv(sqe, r.fd, r.iov, static_cast<unsigned>(r.iov_count), r.offset);
    }
    io_uring_sqe_set_data(sqe, op);
    handed_to_kernel(op);
    for (;;) {
      const int rc = io_uring_submit(&ring_);
      if (rc >= 0) return 0;
      if (rc != -EINTR && rc != -EAGAIN) return rc;
    }
  }

  // Ends op; the oldest posted request waiting for room takes its place in flight (submitted
  // before op's callback runs, so the device never waits for it).
  void finish(Op* op, std::int64_t result) {
    for (;;) {
      Op* next = nullptr;
      int rc = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (backlog_.empty()) {
          --in_flight_;
        } else {
          next = backlog_.front();
          backlog_.pop_front();
          rc = push(next);
        }
      }
      if (next == nullptr) space_cv_.notify_all();
      if (op->request.done) op->request.done(result);
      delete op;
      if (next == nullptr || rc >= 0) return;
      op = next;  // refused by the kernel: ends the same way
      result = rc;
    }
  }

  void reap() {
    for (;;) {
      io_uring_cqe* cqe = nullptr;
      const int rc = io_uring_wait_cqe(&ring_, &cqe);
      if (rc == -EINTR || rc == -EAGAIN) continue;
      if (rc < 0) {
        KVT_LOG(kError, "disk tier: io_uring_wait_cqe failed: " << std::strerror(-rc));
        continue;
      }
      auto* op = static_cast<Op*>(io_uring_cqe_get_data(cqe));
      const int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      if (op == nullptr) return;  // stop
      back_from_kernel(op);
      if (res == -EINTR || res == -EAGAIN) {
        resubmit(op);
      } else if (res < 0) {
        finish(op, res);
      } else if (res == 0 || op->total + static_cast<std::uint64_t>(res) >= op->want) {
        finish(op, static_cast<std::int64_t>(op->total + static_cast<std::uint64_t>(res)));
      } else {
        op->total += static_cast<std::uint64_t>(res);
        advance_request(op->request, static_cast<std::uint64_t>(res));
        resubmit(op);
      }
    }
  }

  void resubmit(Op* op) {
    std::unique_lock<std::mutex> lock(mu_);
    const int rc = push(op);
    lock.unlock();
    if (rc < 0) finish(op, rc);
  }

  io_uring ring_{};
  const int depth_;
  bool started_ = false;
  std::mutex mu_;  // guards the submission side of the ring and in_flight_
  std::condition_variable space_cv_;
  int in_flight_ = 0;           // requests in the ring (at most depth_)
  std::deque<Op*> backlog_;  // posted, waiting for room; in_flight_ == depth_ while not empty
  std::thread reaper_;
};

}  // namespace

std::unique_ptr<IoEngine> make_uring_engine(int queue_depth, std::string* why) {
  auto engine = std::make_unique<UringEngine>(queue_depth);
  if (const int rc = engine->start(); rc < 0) {
    *why = std::string("io_uring_queue_init: ") + std::strerror(-rc);
    return nullptr;
  }
  return engine;
}

#else

std::unique_ptr<IoEngine> make_uring_engine(int, std::string* why) {
  *why = "kvtier was built without liburing";
  return nullptr;
}

#endif

}  // namespace kvtier::disk
