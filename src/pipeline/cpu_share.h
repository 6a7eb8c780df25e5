// Internal: the CPU share of a decode step. A worker thread computes, layer by layer, partial
// attention over host blocks once that layer's q has reached the host, and hands each result back
// to the driving thread, which waits for it before enqueuing the layer's merge.
#pragma once

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "kvtier/attention/attention.h"
#include "kvtier/backend/backend.h"
#include "kvtier/backend/thread_pool.h"
#include "kvtier/transfer/transfer_event.h"

namespace kvtier::pipeline::detail {

class CpuShareWorker {
 public:
  struct Layer {
    attention::DecodeArgs args;  // host memory
    Event* q_ready = nullptr;    // recorded by the driving thread, then announced by q_recorded()
  };

  CpuShareWorker(int threads, std::chrono::microseconds spin);
  ~CpuShareWorker();
  CpuShareWorker(const CpuShareWorker&) = delete;
  CpuShareWorker& operator=(const CpuShareWorker&) = delete;

  // Starts a step: `before` complete once the host blocks may be read (earlier moves landed).
  void start(std::vector<Layer> layers, std::vector<TransferEvent> before);
  // The driving thread recorded layer `layer`'s q_ready event (layers in order).
  void q_recorded(int layer);
  // Blocks until layer `layer` is done; rethrows the step's error.
  void wait_layer(int layer);
  // Stops the current step's work (an error on the driving thread) and waits until the worker
  // no longer touches it. Never throws.
  void abort() noexcept;
  // Per layer of the last step (valid once it is waited for): when the driving thread announced
  // its q (q_recorded), when the worker saw q on the host, when its result was ready.
  struct Times {
    std::chrono::steady_clock::time_point recorded, seen, done;
    double compute_seconds() const { return std::chrono::duration<double>(done - seen).count(); }
  };
  const Times& times(int layer) const { return times_[static_cast<std::size_t>(layer)]; }
  int threads() const { return pool_.size(); }

 private:
  void loop();

  ThreadPool pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Layer> layers_;
  std::vector<TransferEvent> before_;
  bool has_job_ = false, stop_ = false, busy_ = false, abort_ = false;
  int done_ = 0;      // layers finished in the current step
  int recorded_ = 0;  // layers whose q_ready event is recorded
  std::exception_ptr error_;
  std::vector<Times> times_;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace kvtier::pipeline::detail
