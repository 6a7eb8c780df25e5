#include "kvtier/backend/thread_pool.h"

#include <algorithm>
#include <chrono>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kvtier {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int threads, std::chrono::microseconds spin) : spin_(spin) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_items() {
  for (;;) {
    const std::size_t begin = next_.fetch_add(grain_, std::memory_order_relaxed);
    if (begin >= n_) return;
    const std::size_t end = std::min(n_, begin + grain_);
    if (!failed_.load(std::memory_order_relaxed)) {
      try {
        for (std::size_t i = begin; i < end; ++i) (*fn_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true, std::memory_order_relaxed);
      }
    }
    // Skipped chunks (after an error) count as finished too, so the call ends.
    if (finished_.fetch_add(end - begin, std::memory_order_acq_rel) + (end - begin) == n_) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_all();
    }
  }
}

void ThreadPool::worker_loop() {
  std::size_t seen = 0;
  for (;;) {
    // Calls often come in quick succession (CPU attention: its items, then their merge): watch
    // for the next one a while before sleeping, which saves its wake-up.
    const auto spin_until = std::chrono::steady_clock::now() + spin_;
    while (generation_.load(std::memory_order_relaxed) == seen &&
           std::chrono::steady_clock::now() < spin_until) {
      for (int i = 0; i < 64; ++i) cpu_relax();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      if (!open_) continue;  // woke after the call ended
      ++active_;
    }
    run_items();
    std::lock_guard<std::mutex> lock(mu_);
    if (--active_ == 0) done_cv_.notify_all();
  }
}

void ThreadPool::parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  std::lock_guard<std::mutex> call_lock(call_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    // Chunks of about an eighth of a thread's share: few atomics, and little left to one thread.
    grain_ = std::max<std::size_t>(1, n / (static_cast<std::size_t>(size()) * 8));
    next_.store(0, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    open_ = true;
    generation_.fetch_add(1, std::memory_order_relaxed);
  }
  if (!workers_.empty()) work_cv_.notify_all();
  run_items();
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return finished_.load(std::memory_order_acquire) == n_; });
    open_ = false;  // late wakers stay out; those inside finish their (empty) claims
    done_cv_.wait(lock, [&] { return active_ == 0; });
    fn_ = nullptr;
    error = std::exchange(error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace kvtier
