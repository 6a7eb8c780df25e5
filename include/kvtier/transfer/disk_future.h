// Completion of one asynchronous disk-store request (a slot write or read). Copyable handle to
// shared state: the store completes it from one of its threads; the caller polls or waits. The
// error (IoError, Corruption, InvalidArgument, ...) travels with the future, never on a thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>

#include "kvtier/block/tier.h"

namespace kvtier {

// Called once when the request completes: nullptr on success, else the error. It runs on a store
// thread (or at once in the caller's thread when the request needs no I/O): keep it short, never
// block in it (no DiskFuture::wait, no DiskStore::wait_idle), never throw.
using DiskCallback = std::function<void(std::exception_ptr)>;

class DiskFuture {
 public:
  DiskFuture() = default;  // an empty future: done, no error

  // True once the request finished (successfully or not).
  bool done() const;
  // Blocks until the request finished; rethrows its error.
  void wait() const;
  // Blocks until the request finished; returns its error (nullptr on success), never throws.
  std::exception_ptr error() const;
  // The slot written or read (kNoSlot for an empty future, or a write refused before it had one).
  SlotIndex slot() const;

  // For the store: a pending future and its completion.
  static DiskFuture make_pending(SlotIndex slot, DiskCallback callback);
  static DiskFuture make_done(SlotIndex slot, std::exception_ptr error, DiskCallback callback);
  void complete(std::exception_ptr error) const;

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::exception_ptr error;
    SlotIndex slot = kNoSlot;
    DiskCallback callback;
  };
  std::shared_ptr<State> state_;
};

}  // namespace kvtier
