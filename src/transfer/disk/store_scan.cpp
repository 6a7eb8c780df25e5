// The open-time scan: reads every slot header inside its file, publishes intact blocks and drops
// (then invalidates) damaged ones, and keeps each published slot's layer checksums (for layer
// reads, which read no header). Payload checksums are verified by every read, not here.
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "kvtier/core/log.h"
#include "transfer/disk/slot_header.h"
#include "transfer/disk/store_impl.h"

namespace kvtier {
using disk::kHeaderBytes;

namespace {
constexpr std::size_t kScanChunk = 1024;  // headers read per round
constexpr std::size_t kLoggedDrops = 16;  // damaged slots logged one by one, then a summary
}  // namespace

void DiskStore::Impl::scan_files(const std::vector<std::uint64_t>& sizes) {
  std::vector<SlotIndex> todo;
  for (std::uint32_t f = 0; f < layout_.files; ++f) {
    const SlotIndex first = f * layout_.slots_per_file;
    for (std::uint32_t i = 0; i < layout_.slots_in_file(f); ++i) {
      if (layout_.offset_of(first + i) + kHeaderBytes <= sizes[f]) todo.push_back(first + i);
    }
  }
  disk::AlignedBuffer buf(std::min(todo.size(), kScanChunk) * kHeaderBytes + kHeaderBytes);
  std::vector<std::int64_t> results(kScanChunk);
  const auto drop = [&](SlotIndex s, std::string reason) {
    const std::string file = (options_.dir / disk::slot_file_name(layout_.file_of(s))).string();
    if (report_.dropped.size() < kLoggedDrops) {
      KVT_LOG(kWarn, "disk tier: dropped damaged slot " << s << " (" << file << ", offset "
                                                        << layout_.offset_of(s) << "): " << reason);
    }
    report_.dropped.push_back({s, file, std::move(reason)});
  };
  for (std::size_t base = 0; base < todo.size(); base += kScanChunk) {
    const std::size_t n = std::min(kScanChunk, todo.size() - base);
    std::mutex mu;
    std::condition_variable cv;
    std::size_t remaining = n;
    for (std::size_t j = 0; j < n; ++j) {
      const SlotIndex s = todo[base + j];
      disk::IoRequest r;
      r.fd = fd_of(s);
      r.offset = layout_.offset_of(s);
      r.iov[0] = {buf.data() + j * kHeaderBytes, kHeaderBytes};
      r.done = [&, j](std::int64_t res) {
        results[j] = res;
        std::lock_guard<std::mutex> lock(mu);
        if (--remaining == 0) cv.notify_all();
      };
      engine_->submit(std::move(r));
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return remaining == 0; });
    }
    for (std::size_t j = 0; j < n; ++j) {
      const SlotIndex s = todo[base + j];
      ++report_.slots_scanned;
      if (results[j] != static_cast<std::int64_t>(kHeaderBytes)) {
        drop(s, results[j] < 0 ? std::string("header read failed: ") + std::strerror(-results[j])
                               : "header read was short");
        continue;
      }
      const unsigned char* header = buf.data() + j * kHeaderBytes;
      const disk::DecodedHeader d = disk::decode_slot_header(header, expected_header(), s);
      if (d.status == disk::HeaderStatus::kEmpty) continue;
      if (d.status == disk::HeaderStatus::kBad) {
        drop(s, d.reason);
        continue;
      }
      const std::uint64_t end = layout_.offset_of(s) + layout_.stride;
      const std::uint64_t size = sizes[layout_.file_of(s)];
      if (end > size) {
        drop(s, "truncated: the file ends at byte " + std::to_string(size) +
                    ", the slot needs bytes up to " + std::to_string(end));
        continue;
      }
      if (index_.count(d.header.block_hash) != 0) {
        ++report_.duplicates;  // a second durable copy: keep the first, reuse this slot
        continue;
      }
      Slot& slot = slots_[s];
      slot.state = SlotState::kValid;
      slot.hash = d.header.block_hash;
      slot.tokens = d.header.tokens;
      index_.emplace(slot.hash, s);
      for (std::uint32_t l = 0; l < layers_; ++l) {
        layer_crcs_[std::size_t{s} * layers_ + l] = disk::header_layer_checksum(header, l);
      }
      report_.entries.push_back({slot.hash, s, slot.tokens});
    }
  }
  if (report_.dropped.size() > kLoggedDrops) {
    KVT_LOG(kWarn, "disk tier: dropped " << report_.dropped.size() << " damaged slots in all ("
                                         << kLoggedDrops << " listed above)");
  }
}

void DiskStore::Impl::invalidate_dropped() {
  for (const DiskDroppedSlot& d : report_.dropped) zero_header(d.slot);
}

}  // namespace kvtier
