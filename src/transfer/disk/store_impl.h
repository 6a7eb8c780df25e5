// Internals of DiskStore, shared by disk_store.cpp (index, API), store_open.cpp (files, scan),
// store_write.cpp (write-back and group commit), store_read.cpp (verified reads) and
// store_read_layers.cpp (verified reads of layer groups).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kvtier/transfer/disk_store.h"
#include "transfer/disk/aligned_buffer.h"
#include "transfer/disk/directory.h"
#include "transfer/disk/io_engine.h"
#include "transfer/disk/layout.h"
#include "transfer/disk/slot_header.h"
#include "transfer/disk/task_queue.h"
#include "transfer/disk/unique_fd.h"

namespace kvtier {

class DiskStore::Impl {
 public:
  Impl(const Geometry& g, const DiskStoreOptions& o);
  ~Impl();

  DiskFuture write(std::optional<SlotIndex> slot, const Hash128& hash, const void* payload,
                   std::uint32_t tokens, DiskCallback callback);
  DiskFuture read(std::optional<SlotIndex> slot, const Hash128& hash, void* dst,
                  DiskCallback callback);
  DiskFuture read_layers(SlotIndex slot, const Hash128& expected, int first_layer, int layers,
                         void* dst, DiskCallback callback);
  bool remove(const Hash128& hash);
  void wait_idle();
  std::vector<DiskEntry> entries() const;
  std::optional<DiskEntry> find(const Hash128& hash) const;
  DiskStats stats() const;
  std::string slot_location(SlotIndex s) const;

  // The state of one slot. kRetired: unpublished, waiting for reads in flight (or for its header
  // to be invalidated) before it becomes free.
  enum class SlotState : std::uint8_t { kFree, kWriting, kValid, kRetired };
  struct Slot {
    SlotState state = SlotState::kFree;
    bool zeroing = false;  // its header is being invalidated on disk
    std::uint32_t readers = 0;
    std::uint32_t tokens = 0;
    Hash128 hash;
  };

  // A write whose I/O finished, waiting for the group commit.
  struct Written {
    SlotIndex slot = kNoSlot;
    DiskFuture future;
    std::exception_ptr error;  // set: the write failed; its header is invalidated, slot freed
  };

  const Geometry geometry_;
  const Hash128 fingerprint_;
  const DiskStoreOptions options_;
  const std::uint32_t layers_;       // geometry_.layers
  const std::uint64_t layer_bytes_;  // geometry_.layer_bytes()
  disk::DiskLayout layout_;
  bool direct_io_ = true;
  DiskOpenReport report_;

 private:
  // store_open.cpp
  void open_files();
  disk::UniqueFd open_slot_file(const std::filesystem::path& path, bool* created);
  void scan_files(const std::vector<std::uint64_t>& sizes);
  void invalidate_dropped();
  // store_write.cpp
  void start_write(SlotIndex s, const void* payload, DiskFuture future);
  void sync_loop();
  void finish_failed(Written& w);
  void to_sync_queue(Written w);
  // store_open.cpp
  disk::ExpectedHeader expected_header() const;
  // store_read.cpp
  void start_read(SlotIndex s, Hash128 expected, void* dst, DiskFuture future);
  std::exception_ptr verify_read(SlotIndex s, const Hash128& expected, std::int64_t result,
                                 const unsigned char* header, const void* payload, bool* drop);
  // Ends a read of slot s: counts it (`bytes` read, a whole block or a layer group), drops the
  // entry when a check failed, completes the future, then the request.
  void end_read(SlotIndex s, const Hash128& expected, bool whole_block, std::uint64_t bytes,
                bool drop, std::exception_ptr error, const DiskFuture& future);
  // The Corruption of a failed check (logged; the caller drops the entry).
  std::exception_ptr corruption(SlotIndex s, const Hash128& expected, const std::string& reason);
  // store_read_layers.cpp
  struct LayerRead;
  void finish_layer_read(LayerRead* op);
  // disk_store.cpp
  void retire_locked(SlotIndex s);  // mu_ held: unpublish s (it must be published or writing)
  void maybe_free_locked(SlotIndex s);
  void request_done();
  bool zero_header(SlotIndex s);  // synchronous; false (logged) when the write fails
  int fd_of(SlotIndex s) const { return fds_[layout_.file_of(s)].get(); }

  std::unique_ptr<disk::DirLock> lock_;
  std::vector<disk::UniqueFd> fds_;
  std::unique_ptr<disk::IoEngine> engine_;
  std::unique_ptr<disk::TaskQueue> cpu_;

  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  // Layer checksums of every slot, [slot][layer]: loaded from the headers at open, set by a write
  // before it publishes. A slot's entries change only while it is being written, when no read of
  // it can be in flight, so readers use them without mu_ (publication under mu_ orders them).
  std::vector<std::uint32_t> layer_crcs_;
  std::unordered_map<Hash128, SlotIndex, Hash128Hasher> index_;
  std::set<SlotIndex> free_;
  std::uint64_t pending_ = 0;  // requests not yet completed
  std::condition_variable idle_cv_;
  DiskStats counters_;

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Written> sync_queue_;
  std::uint64_t writes_in_io_ = 0;  // writes accepted, not yet in sync_queue_
  std::uint64_t queued_bytes_ = 0;  // bytes of the writes in sync_queue_
  bool sync_stop_ = false;
  std::thread sync_thread_;
};

}  // namespace kvtier
