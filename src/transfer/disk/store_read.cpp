// Verified reads: one vectored read (header + payload) straight into the caller's buffer, posted
// from the caller's thread, then header, fingerprint, slot, hash and every layer's checksum are
// checked on a worker before the future reports success. A failed check is a Corruption naming
// the file and slot; the entry is dropped and its header invalidated, so the block is never
// served again.
#include <cstring>

#include "kvtier/core/log.h"
#include "transfer/disk/checksum.h"
#include "transfer/disk/slot_header.h"
#include "transfer/disk/store_impl.h"

namespace kvtier {
using disk::kHeaderBytes;

DiskFuture DiskStore::Impl::read(std::optional<SlotIndex> want, const Hash128& hash, void* dst,
                                 DiskCallback callback) {
  if (dst == nullptr) {
    throw InvalidArgument("disk read of block " + hash.hex() + ": destination is null; expected " +
                          std::to_string(layout_.payload_bytes) + " bytes");
  }
  SlotIndex s = kNoSlot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (want) {
      s = *want;
      if (s >= layout_.total_slots || slots_[s].state != SlotState::kValid ||
          slots_[s].hash != hash) {
        throw InvalidArgument("disk read of block " + hash.hex() + " from slot " +
                              std::to_string(s) +
                              ": that slot does not hold it; expected a "
                              "published (hash, slot) pair");
      }
    } else {
      auto it = index_.find(hash);
      if (it == index_.end()) {
        throw InvalidArgument("disk read of block " + hash.hex() + ": not on disk in " +
                              options_.dir.string() + "; expected a published block");
      }
      s = it->second;
    }
    ++slots_[s].readers;
    ++pending_;
  }
  DiskFuture future = DiskFuture::make_pending(s, std::move(callback));
  start_read(s, hash, dst, future);
  return future;
}

void DiskStore::Impl::start_read(SlotIndex s, Hash128 expected, void* dst, DiskFuture future) {
  struct Op {
    disk::AlignedBuffer header, bounce;
  };
  std::shared_ptr<Op> op;
  try {
    op = std::make_shared<Op>();
    op->header = disk::AlignedBuffer(kHeaderBytes);
    const std::size_t padded = disk::align_up(layout_.payload_bytes);
    void* into = dst;
    if (!disk::is_aligned(dst) || padded != layout_.payload_bytes) {
      op->bounce = disk::AlignedBuffer(padded);
      into = op->bounce.data();
    }
    disk::IoRequest r;
    r.fd = fd_of(s);
    r.offset = layout_.offset_of(s);
    r.iov[0] = {op->header.data(), kHeaderBytes};
    r.iov[1] = {into, padded};
    r.iov_count = 2;
    r.done = [this, s, expected, dst, into, op, future](std::int64_t res) {
      cpu_->push([this, s, expected, dst, into, op, future, res] {
        bool drop = false;
        std::exception_ptr error;
        try {
          error = verify_read(s, expected, res, op->header.data(), into, &drop);
          if (!error && into != dst) std::memcpy(dst, into, layout_.payload_bytes);
        } catch (...) {
          error = std::current_exception();
        }
        end_read(s, expected, true, layout_.payload_bytes, drop, error, future);
      });
    };
    engine_->post(std::move(r));
  } catch (...) {
    end_read(s, expected, true, 0, false, std::current_exception(), future);
  }
}

std::exception_ptr DiskStore::Impl::verify_read(SlotIndex s, const Hash128& expected,
                                                std::int64_t result, const unsigned char* header,
                                                const void* payload, bool* drop) {
  const auto want = static_cast<std::int64_t>(kHeaderBytes + disk::align_up(layout_.payload_bytes));
  if (result < 0) {
    return std::make_exception_ptr(
        IoError("disk tier: block " + expected.hex() + " at " + slot_location(s) +
                ": read failed: " + std::strerror(static_cast<int>(-result))));
  }
  std::string reason;
  if (result != want) {
    reason = "short read, " + std::to_string(result) + " of " + std::to_string(want) +
             " bytes (file truncated?)";
  } else {
    const disk::DecodedHeader d = disk::decode_slot_header(header, expected_header(), s);
    if (d.status == disk::HeaderStatus::kEmpty) {
      reason = "the slot header is empty (zeroed)";
    } else if (d.status == disk::HeaderStatus::kBad) {
      reason = d.reason;
    } else if (d.header.block_hash != expected) {
      reason = "the slot holds block " + d.header.block_hash.hex();
    } else {
      const auto* p = static_cast<const unsigned char*>(payload);
      for (std::uint32_t l = 0; l < layers_ && reason.empty(); ++l) {
        if (disk::layer_checksum(p + l * layer_bytes_, layer_bytes_) !=
            disk::header_layer_checksum(header, l)) {
          reason = "payload checksum mismatch in layer " + std::to_string(l);
        }
      }
    }
  }
  if (reason.empty()) return nullptr;
  *drop = true;
  return corruption(s, expected, reason);
}

std::exception_ptr DiskStore::Impl::corruption(SlotIndex s, const Hash128& expected,
                                               const std::string& reason) {
  const std::string where = "disk tier: block " + expected.hex() + " at " + slot_location(s);
  KVT_LOG(kWarn, where << " failed its check: " << reason << "; entry dropped");
  return std::make_exception_ptr(
      Corruption(where + " failed its check: " + reason +
                 "; the block was dropped and is not served (expected an intact slot)"));
}

void DiskStore::Impl::end_read(SlotIndex s, const Hash128& expected, bool whole_block,
                               std::uint64_t bytes, bool drop, std::exception_ptr error,
                               const DiskFuture& future) {
  bool zero = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (error) {
      ++(drop ? counters_.corruptions : counters_.read_errors);
    } else {
      ++(whole_block ? counters_.blocks_read : counters_.layer_reads);
      counters_.bytes_read += bytes;
    }
    Slot& slot = slots_[s];
    --slot.readers;
    if (drop && slot.state == SlotState::kValid && slot.hash == expected && !slot.zeroing) {
      slot.zeroing = true;  // keeps the slot from being freed (and rewritten) while zeroed
      zero = true;
      retire_locked(s);
    } else {
      maybe_free_locked(s);
    }
  }
  if (zero) {
    zero_header(s);
    std::lock_guard<std::mutex> lock(mu_);
    slots_[s].zeroing = false;
    maybe_free_locked(s);
  }
  future.complete(error);
  request_done();
}

}  // namespace kvtier
