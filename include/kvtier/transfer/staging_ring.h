// A ring of device staging buffers for streamed layers (DESIGN.md, decode step 2): the copy stream
// gathers the host blocks of layer L+d into one buffer while the compute stream reads layer L from
// another. Events order the two: the copy stream waits until a buffer is free (its last reader is
// done), the compute stream waits until it is full.
//
//   int i = ring.acquire(copy);       // copy waits for the free event of buffer i
//   ... enqueue the gather into ring.data(i) on copy ...
//   ring.mark_full(i, copy);          // records the full event
//   ring.wait_full(i, compute);       // compute waits for it
//   ... enqueue attention over ring.data(i) on compute ...
//   ring.release(i, compute);         // records the free event
// TransferEngine::stage_layer() does the copy side in one call.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/core/geometry.h"

namespace kvtier {

class StagingRing {
 public:
  // `depth` buffers (d + 1 for a look-ahead of d layers) of max_blocks * layer_bytes of device
  // memory each. InvalidArgument for depth < 1 or max_blocks 0; OutOfMemory from the backend.
  StagingRing(Backend& backend, const Geometry& g, std::size_t max_blocks, int depth = 2);
  // Waits for the copies into and the reads of every buffer first (reset()).
  ~StagingRing();
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;
  // Bytes of one buffer for a geometry and the largest streamed set of a layer.
  static std::size_t buffer_bytes(const Geometry& g, std::size_t max_blocks);

  int depth() const { return static_cast<int>(buffers_.size()); }
  std::size_t buffer_bytes() const { return buffer_bytes_; }
  std::size_t max_blocks() const { return max_blocks_; }
  std::size_t layer_bytes() const { return layer_bytes_; }
  void* data(int index) const;

  // The next buffer in ring order; work enqueued on copy_stream after this call waits until the
  // buffer's last reader released it. InvalidArgument if that buffer was acquired and not yet
  // released (the caller holds all `depth` buffers).
  int acquire(Stream& copy_stream);
  // The copy into buffer `index` is enqueued on copy_stream: records its full event.
  void mark_full(int index, Stream& copy_stream);
  // Work enqueued on compute_stream after this call starts once buffer `index` is full.
  void wait_full(int index, Stream& compute_stream);
  // The reads of buffer `index` are enqueued on compute_stream: records its free event; the buffer
  // can be acquired again.
  void release(int index, Stream& compute_stream);
  // After a step that failed part way: waits until no copy writes and no reader reads any buffer,
  // then makes them all free, the next acquire() taking buffer 0. Never throws (the errors of that
  // work were the step's to report).
  void reset() noexcept;

 private:
  enum class State { kFree, kFilling, kFull };
  struct Slot {
    Buffer buffer;
    std::unique_ptr<Event> full, free;
    State state = State::kFree;
  };
  Slot& at(int index, const char* what);

  std::size_t layer_bytes_, max_blocks_, buffer_bytes_;
  std::vector<Slot> buffers_;
  int next_ = 0;
};

}  // namespace kvtier
