#include "kvtier/transfer/disk_future.h"

#include "kvtier/core/log.h"

namespace kvtier {

bool DiskFuture::done() const {
  if (!state_) return true;
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->done;
}

std::exception_ptr DiskFuture::error() const {
  if (!state_) return nullptr;
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->done; });
  return state_->error;
}

void DiskFuture::wait() const {
  if (auto e = error()) std::rethrow_exception(e);
}

SlotIndex DiskFuture::slot() const { return state_ ? state_->slot : kNoSlot; }

DiskFuture DiskFuture::make_pending(SlotIndex slot, DiskCallback callback) {
  DiskFuture f;
  f.state_ = std::make_shared<State>();
  f.state_->slot = slot;
  f.state_->callback = std::move(callback);
  return f;
}

DiskFuture DiskFuture::make_done(SlotIndex slot, std::exception_ptr error, DiskCallback callback) {
  DiskFuture f = make_pending(slot, std::move(callback));
  f.complete(std::move(error));
  return f;
}

void DiskFuture::complete(std::exception_ptr error) const {
  if (!state_) return;
  DiskCallback callback;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->done) return;
    state_->done = true;
    state_->error = error;
    callback = std::move(state_->callback);
  }
  state_->cv.notify_all();
  if (callback) {
    try {
      callback(error);
    } catch (const std::exception& e) {
      KVT_LOG(kError, "disk tier: a completion callback threw (ignored): " << e.what());
    } catch (...) {
      KVT_LOG(kError, "disk tier: a completion callback threw (ignored)");
    }
  }
}

}  // namespace kvtier
