#include "pipeline/cpu_share.h"

#include <chrono>

#include "kvtier/attention/cpu.h"

namespace kvtier::pipeline::detail {

CpuShareWorker::CpuShareWorker(int threads, std::chrono::microseconds spin)
    : pool_(threads, spin), thread_([this] { loop(); }) {}

CpuShareWorker::~CpuShareWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CpuShareWorker::start(std::vector<Layer> layers, std::vector<TransferEvent> before) {
  std::lock_guard<std::mutex> lock(mu_);
  layers_ = std::move(layers);
  before_ = std::move(before);
  done_ = 0;
  recorded_ = 0;
  abort_ = false;
  error_ = nullptr;
  times_.assign(layers_.size(), Times{});
  has_job_ = true;
  busy_ = true;
  cv_.notify_all();
}

void CpuShareWorker::abort() noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  abort_ = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return !busy_ && !has_job_; });
}

void CpuShareWorker::q_recorded(int layer) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  times_[static_cast<std::size_t>(layer)].recorded = now;
  recorded_ = layer + 1;
  cv_.notify_all();
}

void CpuShareWorker::wait_layer(int layer) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_ > layer || error_ != nullptr; });
  if (error_) {
    std::rethrow_exception(error_);
  }
}

void CpuShareWorker::loop() {
  for (;;) {
    std::vector<Layer> layers;
    std::vector<TransferEvent> before;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || has_job_; });
      if (stop_) return;
      layers = layers_;
      before = before_;
      has_job_ = false;
    }
    try {
      for (const TransferEvent& ev : before) ev.synchronize();
      for (std::size_t l = 0; l < layers.size(); ++l) {
        {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [&] { return stop_ || abort_ || recorded_ > static_cast<int>(l); });
          if (stop_) return;
          if (abort_) break;
        }
        layers[l].q_ready->synchronize();
        const auto t0 = std::chrono::steady_clock::now();
        attention::decode_cpu(layers[l].args, pool_);
        const auto t1 = std::chrono::steady_clock::now();
        std::lock_guard<std::mutex> lock(mu_);
        times_[l].seen = t0;
        times_[l].done = t1;
        done_ = static_cast<int>(l) + 1;
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace kvtier::pipeline::detail
