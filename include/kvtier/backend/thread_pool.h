// A fixed pool of worker threads for data-parallel host work (CPU attention, parallel memcpy).
// parallel_for blocks the caller until every index is done and rethrows the first exception.
// Indices are handed out in small chunks to whichever thread asks next, and the call returns as
// soon as they are all done: a thread that wakes late or is descheduled (the machine's other
// work) delays it by at most one chunk. One parallel_for at a time per pool (calls from several
// threads are serialized); fn must not call parallel_for on the same pool.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace kvtier {

class ThreadPool {
 public:
  // threads = 0: one per hardware thread. The caller's thread also works, so `threads` counts it.
  // Idle workers watch for the next call for `spin` before they sleep (a sleeping thread takes
  // tens of microseconds to wake, more on a virtual machine whose idle cores halt).
  static constexpr std::chrono::microseconds kDefaultSpin{30};
  explicit ThreadPool(int threads = 0, std::chrono::microseconds spin = kDefaultSpin);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Calls fn(i) for every i in [0, n). After an exception the remaining indices are skipped.
  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

 private:
  void worker_loop();
  void run_items();

  std::chrono::microseconds spin_;
  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one parallel_for at a time
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  // The current call: set under mu_ before generation_ moves; read by the threads that joined it.
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t n_ = 0, grain_ = 1;
  std::atomic<std::size_t> generation_{0};  // moved under mu_; also read without it (spin)
  bool open_ = false;                       // workers may still join the current call
  int active_ = 0;                          // workers inside run_items for the current call
  std::atomic<std::size_t> next_{0}, finished_{0};
  std::atomic<bool> failed_{false};
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace kvtier
