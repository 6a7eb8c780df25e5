// Asynchronous positional I/O on file descriptors: io_uring where the kernel offers it, a pool
// of I/O threads otherwise (chosen at run time, logged). At most queue_depth() requests are in
// flight; submit() blocks while the queue is full, post() queues behind them and never blocks.
// A request that transfers fewer bytes than asked is continued where it stopped, so `done` sees
// the total bytes moved, or -errno when a part failed (ENOSPC, EFBIG, EIO, ...), or a short
// count at end of file.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "kvtier/transfer/disk_store.h"

namespace kvtier::disk {

struct IoRequest {
  int fd = -1;
  bool write = false;
  std::uint64_t offset = 0;
  iovec iov[2] = {};
  int iov_count = 1;
  // Runs once on an engine thread with bytes moved or -errno. Must be short and must not call
  // submit() (the engine's thread would wait on itself).
  std::function<void(std::int64_t)> done;
};

class IoEngine {
 public:
  virtual ~IoEngine() = default;
  virtual const char* name() const = 0;  // "io_uring" or "threads"
  virtual int queue_depth() const = 0;
  virtual void submit(IoRequest request) = 0;
  // Never blocks: submits at once when fewer than queue_depth() requests are in flight, else
  // queues the request, and the engine submits it (in order) as soon as one in flight finishes.
  // The store's path: its callers and checksum workers never wait for the disk, so a worker is
  // always free to verify what has just been read. `done` may run on the caller's thread when
  // the kernel refuses the request at once.
  virtual void post(IoRequest request) = 0;
};

// mode kAuto honours KVTIER_DISK_IO (threads|uring|auto); kUring throws IoError when io_uring is
// not available (not compiled in, or io_uring_queue_init fails).
std::unique_ptr<IoEngine> make_io_engine(DiskIoMode mode, int queue_depth);

std::unique_ptr<IoEngine> make_thread_engine(int queue_depth);
// nullptr with *why set when io_uring cannot be used.
std::unique_ptr<IoEngine> make_uring_engine(int queue_depth, std::string* why);

// Total bytes of a request's iovecs.
std::uint64_t request_bytes(const IoRequest& r);
// Advances the request past `moved` bytes (offset and iovecs) after a short transfer.
void advance_request(IoRequest& r, std::uint64_t moved);

}  // namespace kvtier::disk
