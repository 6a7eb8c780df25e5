// Errors of host tasks, shared by the CPU and CUDA streams. Each host task gets a ticket in
// enqueue order; the first one that throws marks the state failed, later tasks of the stream are
// skipped, and an event recorded after ticket T reports the error if the failed ticket is < T.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>

namespace kvtier::detail {

class StreamErrors {
 public:
  std::uint64_t take_ticket() { return tickets_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t tickets() const { return tickets_.load(std::memory_order_relaxed); }

  bool failed() const { return failed_.load(std::memory_order_acquire); }
  void fail(std::uint64_t ticket, std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_ == nullptr) {
      error_ = std::move(e);
      failed_ticket_ = ticket;
      failed_.store(true, std::memory_order_release);
    }
  }
  // The error of a task with ticket < before, or nullptr.
  std::exception_ptr error_before(std::uint64_t before) const {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_ticket_ < before ? error_ : nullptr;
  }
  std::exception_ptr error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

  // Wraps fn so that it is skipped after a failure and records its own exception.
  static std::function<void()> guard(std::shared_ptr<StreamErrors> state, std::function<void()> fn) {
    const std::uint64_t ticket = state->take_ticket();
    return [state = std::move(state), ticket, fn = std::move(fn)]() {
      if (state->failed()) return;
      try {
        fn();
      } catch (...) {
        state->fail(ticket, std::current_exception());
      }
    };
  }

 private:
  std::atomic<std::uint64_t> tickets_{0};
  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;
  std::exception_ptr error_;
  std::uint64_t failed_ticket_ = std::numeric_limits<std::uint64_t>::max();
};

}  // namespace kvtier::detail
