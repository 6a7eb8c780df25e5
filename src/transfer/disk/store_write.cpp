// Write-back: layer checksums and header on a worker, one vectored O_DIRECT write (header +
// payload), then a group commit (one fdatasync per file for every write finished so far) before the
// block is published. A failed write or sync is never published; its header is invalidated.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "kvtier/core/log.h"
#include "kvtier/core/units.h"
#include "transfer/disk/slot_header.h"
#include "transfer/disk/store_impl.h"

namespace kvtier {
using disk::kHeaderBytes;

DiskFuture DiskStore::Impl::write(std::optional<SlotIndex> want, const Hash128& hash,
                                  const void* payload, std::uint32_t tokens,
                                  DiskCallback callback) {
  if (payload == nullptr) {
    throw InvalidArgument("disk write of block " + hash.hex() + ": payload is null; expected " +
                          std::to_string(layout_.payload_bytes) + " bytes");
  }
  if (tokens == 0 || tokens > static_cast<std::uint32_t>(geometry_.block_tokens)) {
    throw InvalidArgument("disk write of block " + hash.hex() + ": " + std::to_string(tokens) +
                          " tokens; expected 1.." + std::to_string(geometry_.block_tokens));
  }
  SlotIndex s = kNoSlot;
  std::exception_ptr refused;
  bool already = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!want) {
      if (auto it = index_.find(hash); it != index_.end()) {
        s = it->second;
        already = true;
      } else if (free_.empty()) {
        refused = std::make_exception_ptr(
            OutOfMemory("disk tier " + options_.dir.string() + " is full: all " +
                        format_count(layout_.total_slots) +
                        " slots hold blocks or have I/O in flight; "
                        "expected blocks to be removed before more are written"));
      } else {
        s = *free_.begin();
      }
    } else {
      s = *want;
      if (s >= layout_.total_slots) {
        throw InvalidArgument("disk write to slot " + std::to_string(s) +
                              "; expected a slot below " + std::to_string(layout_.total_slots));
      }
      Slot& slot = slots_[s];
      if (slot.state == SlotState::kValid && slot.hash == hash) {
        already = true;
      } else if (slot.state == SlotState::kWriting || slot.state == SlotState::kRetired ||
                 slot.readers > 0 || slot.zeroing) {
        throw InvalidArgument("disk write to " + slot_location(s) +
                              ": the slot has a read or write in flight; expected an idle slot");
      } else if (slot.state == SlotState::kValid) {
        retire_locked(s);  // no readers: free at once
      }
    }
    if (!already && !refused) {
      free_.erase(s);
      Slot& slot = slots_[s];
      slot.state = SlotState::kWriting;
      slot.hash = hash;
      slot.tokens = tokens;
      ++pending_;
    }
  }
  if (already || refused) return DiskFuture::make_done(s, refused, std::move(callback));
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    ++writes_in_io_;
  }
  DiskFuture future = DiskFuture::make_pending(s, std::move(callback));
  cpu_->push([this, s, payload, future] { start_write(s, payload, future); });
  return future;
}

void DiskStore::Impl::start_write(SlotIndex s, const void* payload, DiskFuture future) {
  try {
    Hash128 hash;
    std::uint32_t tokens = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hash = slots_[s].hash;
      tokens = slots_[s].tokens;
    }
    struct Buffers {
      disk::AlignedBuffer header, bounce;
    };
    auto bufs = std::make_shared<Buffers>();
    bufs->header = disk::AlignedBuffer(kHeaderBytes);
    const std::size_t padded = disk::align_up(layout_.payload_bytes);
    const void* src = payload;
    if (!disk::is_aligned(payload) || padded != layout_.payload_bytes) {
      bufs->bounce = disk::AlignedBuffer(padded);
      std::memcpy(bufs->bounce.data(), payload, layout_.payload_bytes);
      src = bufs->bounce.data();
    }
    // The slot is being written, so no read uses its layer checksums: computed in place, they
    // serve layer reads once the sync publishes the block.
    std::uint32_t* crcs = layer_crcs_.data() + std::size_t{s} * layers_;
    disk::layer_checksums(src, layer_bytes_, layers_, crcs);
    disk::SlotHeader h;
    h.fingerprint = fingerprint_;
    h.block_hash = hash;
    h.payload_bytes = layout_.payload_bytes;
    h.layers = layers_;
    h.tokens = tokens;
    h.slot = s;
    disk::encode_slot_header(h, crcs, bufs->header.data());
    disk::IoRequest r;
    r.fd = fd_of(s);
    r.write = true;
    r.offset = layout_.offset_of(s);
    r.iov[0] = {bufs->header.data(), kHeaderBytes};
    r.iov[1] = {const_cast<void*>(src), padded};
    r.iov_count = 2;
    const auto want = static_cast<std::int64_t>(kHeaderBytes + padded);
    r.done = [this, s, bufs, future, want, hash](std::int64_t res) {
      Written w{s, future, nullptr};
      if (res != want) {
        const std::string what =
            res < 0 ? std::string(std::strerror(static_cast<int>(-res)))
                    : "wrote " + std::to_string(res) + " of " + std::to_string(want) + " bytes";
        w.error =
            std::make_exception_ptr(IoError("disk tier: writing block " + hash.hex() + " to " +
                                            slot_location(s) + " failed: " + what +
                                            "; the block was not stored (disk full or file size "
                                            "limit?)"));
      }
      to_sync_queue(std::move(w));
    };
    engine_->post(std::move(r));
  } catch (...) {
    to_sync_queue({s, future, std::current_exception()});
  }
}

void DiskStore::Impl::to_sync_queue(Written w) {
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    --writes_in_io_;
    queued_bytes_ += layout_.stride;
    sync_queue_.push_back(std::move(w));
  }
  sync_cv_.notify_one();
}

void DiskStore::Impl::finish_failed(Written& w) {
  zero_header(w.slot);  // best effort: a torn slot must not look like a block
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.write_errors;
    retire_locked(w.slot);
  }
  w.future.complete(w.error);
  request_done();
}

void DiskStore::Impl::sync_loop() {
  for (;;) {
    std::deque<Written> batch;
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return sync_stop_ || !sync_queue_.empty(); });
      if (sync_queue_.empty()) return;  // stopped and drained
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.group_commit_ms);
      while (!sync_stop_ && writes_in_io_ > 0 && queued_bytes_ < options_.group_commit_bytes) {
        if (sync_cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
      }
      batch.swap(sync_queue_);
      queued_bytes_ = 0;
    }
    std::map<int, std::exception_ptr> synced;  // fd -> error of its fdatasync
    for (Written& w : batch) {
      if (w.error) continue;
      const int fd = fd_of(w.slot);
      if (synced.count(fd)) continue;
      int rc;
      do rc = ::fdatasync(fd);
      while (rc != 0 && errno == EINTR);
      synced[fd] =
          rc == 0 ? nullptr
                  : std::make_exception_ptr(IoError(
                        "disk tier: fdatasync of " +
                        (options_.dir / disk::slot_file_name(layout_.file_of(w.slot))).string() +
                        " failed: " + std::strerror(errno) +
                        "; the blocks written to it were not stored"));
    }
    if (!synced.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.syncs += synced.size();
    }
    std::vector<Written*> published;
    for (Written& w : batch) {
      if (!w.error) w.error = synced[fd_of(w.slot)];
      if (w.error) {
        finish_failed(w);
      } else {
        published.push_back(&w);
      }
    }
    if (published.empty()) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Written* w : published) {
        Slot& slot = slots_[w->slot];
        // The same block published at another slot (the block manager placed it anew): the
        // new slot wins, the older copy is unpublished and its slot freed once no read uses it.
        if (auto it = index_.find(slot.hash); it != index_.end() && it->second != w->slot) {
          retire_locked(it->second);
        }
        slot.state = SlotState::kValid;
        index_[slot.hash] = w->slot;
        ++counters_.blocks_written;
        counters_.bytes_written += layout_.payload_bytes;
      }
    }
    for (Written* w : published) {
      w->future.complete(nullptr);
      request_done();
    }
  }
}

}  // namespace kvtier
