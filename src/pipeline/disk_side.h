// Internal: the disk side of the decode pipeline (docs/pipeline.md, "Disk").
//
// DiskWriteBack carries out the moves of a block manager plan that touch the disk tier. A block
// going down to disk is copied into a pinned buffer of its own and written from there, so its
// host or GPU slot is free at once (the plan may hand that slot to the next move); until the
// write is durable, and so visible to reads, the block is served from that buffer.
//
// DiskStaging reads the disk-resident blocks of a step in groups of consecutive layers (one
// request a block and group) into a ring of pinned host buffers, a group ahead of the layer that
// needs it: a step is layer-major, so reading whole slots would need host memory for the whole
// disk set. The attention kernel reads the staged layers in place (mapped pinned memory on CUDA,
// plain host memory on the CPU backend); disk bytes cross PCIe once, inside the kernel.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/core/geometry.h"
#include "kvtier/core/hash.h"
#include "kvtier/transfer/disk_store.h"

namespace kvtier::pipeline::detail {

class DiskWriteBack {
 public:
  // At most `max_bytes` of pinned buffers are held by writes in flight; a write beyond waits for
  // the oldest one.
  DiskWriteBack(Backend& backend, DiskStore& store, std::size_t max_bytes);
  ~DiskWriteBack();  // waits for the writes in flight

  // A pinned buffer of one slot to fill (from the host or the device) and hand to write().
  Buffer take_buffer();
  // Starts writing `bytes` (a whole slot, in a buffer from take_buffer()) into disk slot `slot`
  // under `key`. A write still in flight into that slot is waited for first.
  void write(SlotIndex slot, const Hash128& key, std::uint32_t tokens, Buffer bytes);
  // The bytes of a block whose write is in flight (not yet readable from disk), or nullptr.
  const std::byte* pending(const Hash128& key) const;
  // The whole block into host memory `dst`: from its pending buffer, or read from disk slot `slot`
  // and verified. Blocks until done; throws the read's error.
  void read(SlotIndex slot, const Hash128& key, void* dst);
  // Returns a buffer from take_buffer() that was not handed to write().
  void recycle(Buffer bytes);
  // Gives back the buffers of durable writes. Throws IoError for a write that failed: the block
  // it carried is lost, and a step needing it could not be exact.
  void reap();
  // Waits for every write, then reap().
  void drain();
  std::size_t writes_in_flight() const { return inflight_.size(); }

 private:
  struct Write {
    Hash128 key;
    SlotIndex slot = kNoSlot;
    Buffer bytes;
    DiskFuture done;
  };
  void finish_front();  // waits for the oldest write and releases it

  Backend& backend_;
  DiskStore& store_;
  std::size_t slot_bytes_;
  std::size_t max_buffers_;
  std::deque<Write> inflight_;
  std::unordered_map<Hash128, const std::byte*, Hash128Hasher> by_key_;
  std::vector<Buffer> free_;
  std::size_t buffers_ = 0;  // allocated, in flight or free
};

class DiskStaging {
 public:
  // Room for `max_blocks` disk blocks a step; `group_layers` consecutive layers a request (0: the
  // fewest layers making a request of at least 256 KiB); `buffers` groups in flight (>= 2).
  DiskStaging(Backend& backend, DiskStore& store, const Geometry& g, std::size_t max_blocks,
              int group_layers, int buffers);
  ~DiskStaging();  // waits for the reads in flight

  int group_layers() const { return group_; }
  std::size_t max_blocks() const { return max_blocks_; }
  std::size_t host_bytes() const;
  // Blocks of the current step read from disk (the others come from write-back buffers).
  std::size_t blocks_from_disk() const;

  // Starts a step over these blocks (disk slots and keys, in table order). Blocks whose write is
  // still in flight are read from their write-back buffer instead of the disk. Fills `ptrs` with
  // [layers][blocks] addresses of each block's layer and starts the reads of the first groups.
  void begin(std::span<const SlotIndex> slots, std::span<const Hash128> keys,
             const DiskWriteBack* write_back, std::vector<const void*>& ptrs);
  // Before the first layer of `group` is enqueued: frees the buffer of group - 1 (waiting for the
  // compute work recorded by finish()) to start reading group + buffers - 1 into it, then waits
  // for `group`'s reads. Throws their errors (Corruption: nothing wrong is served). Returns the
  // seconds spent waiting for the disk.
  double acquire(int group);
  // After the last layer of `group` is enqueued on `compute`.
  void finish(int group, Stream& compute);
  // Waits for every read in flight (also after an error), ignoring their errors.
  void end() noexcept;

 private:
  void start(int group);

  DiskStore& store_;
  Geometry g_;
  std::size_t max_blocks_;
  int group_ = 1, groups_ = 1;
  std::vector<Buffer> ring_;
  std::vector<std::unique_ptr<Event>> consumed_;  // [ring]
  std::vector<std::vector<DiskFuture>> reads_;    // [ring] reads of the group held there
  std::vector<SlotIndex> slots_;
  std::vector<Hash128> keys_;
  std::vector<bool> from_disk_;
  std::vector<std::size_t> order_;  // blocks read from disk, by slot: ascending file offsets
};

}  // namespace kvtier::pipeline::detail
