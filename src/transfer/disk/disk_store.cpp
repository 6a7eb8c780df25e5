// DiskStore: the public API, the in-memory index (hash -> slot) and slot state transitions.
#include "kvtier/transfer/disk_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kvtier/core/log.h"
#include "transfer/disk/slot_header.h"
#include "transfer/disk/store_impl.h"

namespace kvtier {

std::uint64_t disk_slot_stride(const Geometry& geometry) {
  return disk::kHeaderBytes + disk::align_up(geometry.slot_bytes());
}

int disk_queue_depth(const Geometry& geometry, int requested) {
  if (requested < 0 || requested > 1024) {
    throw InvalidArgument("disk queue depth " + std::to_string(requested) +
                          "; expected 1..1024, or 0 for automatic");
  }
  if (requested > 0) return requested;
  constexpr std::uint64_t kInFlight = 256ull << 20;
  const std::uint64_t stride = disk_slot_stride(geometry);
  return static_cast<int>(std::clamp<std::uint64_t>((kInFlight + stride - 1) / stride, 32, 256));
}

DiskStore::Impl::~Impl() {
  wait_idle();
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  cpu_.reset();
  engine_.reset();
}

void DiskStore::Impl::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return pending_ == 0; });
}

void DiskStore::Impl::request_done() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --pending_;
  }
  idle_cv_.notify_all();
}

void DiskStore::Impl::retire_locked(SlotIndex s) {
  Slot& slot = slots_[s];
  auto it = index_.find(slot.hash);
  if (it != index_.end() && it->second == s) index_.erase(it);
  slot.state = SlotState::kRetired;
  maybe_free_locked(s);
}

void DiskStore::Impl::maybe_free_locked(SlotIndex s) {
  Slot& slot = slots_[s];
  if (slot.state == SlotState::kRetired && slot.readers == 0 && !slot.zeroing) {
    slot.state = SlotState::kFree;
    free_.insert(s);
  }
}

bool DiskStore::Impl::zero_header(SlotIndex s) {
  static const disk::AlignedBuffer zeros(disk::kHeaderBytes);
  const ssize_t n = ::pwrite(fd_of(s), zeros.data(), disk::kHeaderBytes,
                             static_cast<off_t>(layout_.offset_of(s)));
  if (n == static_cast<ssize_t>(disk::kHeaderBytes)) return true;
  KVT_LOG(kWarn, "disk tier: could not invalidate the header of "
                     << slot_location(s) << ": " << (n < 0 ? std::strerror(errno) : "short write")
                     << " (its checks still keep it from being served)");
  return false;
}

bool DiskStore::Impl::remove(const Hash128& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(hash);
  if (it == index_.end()) return false;
  retire_locked(it->second);
  return true;
}

std::vector<DiskEntry> DiskStore::Impl::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DiskEntry> out;
  out.reserve(index_.size());
  for (SlotIndex s = 0; s < slots_.size(); ++s) {
    if (slots_[s].state == SlotState::kValid) out.push_back({slots_[s].hash, s, slots_[s].tokens});
  }
  return out;
}

std::optional<DiskEntry> DiskStore::Impl::find(const Hash128& hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(hash);
  if (it == index_.end()) return std::nullopt;
  return DiskEntry{hash, it->second, slots_[it->second].tokens};
}

DiskStats DiskStore::Impl::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  DiskStats s = counters_;
  s.used_slots = index_.size();
  s.pending_writes = 0;
  for (const Slot& slot : slots_) s.pending_writes += slot.state == SlotState::kWriting;
  return s;
}

std::string DiskStore::Impl::slot_location(SlotIndex s) const {
  return (options_.dir / disk::slot_file_name(layout_.file_of(s))).string() + ", slot " +
         std::to_string(s) + " (offset " + std::to_string(layout_.offset_of(s)) + ")";
}

// ---- DiskStore --------------------------------------------------------------------------------

DiskStore::DiskStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DiskStore::~DiskStore() = default;

std::unique_ptr<DiskStore> DiskStore::open(const Geometry& g, const DiskStoreOptions& o) {
  return std::unique_ptr<DiskStore>(new DiskStore(std::make_unique<Impl>(g, o)));
}

const DiskOpenReport& DiskStore::open_report() const { return impl_->report_; }
std::vector<DiskEntry> DiskStore::entries() const { return impl_->entries(); }
std::optional<DiskEntry> DiskStore::find(const Hash128& hash) const { return impl_->find(hash); }

DiskFuture DiskStore::write_async(const Hash128& hash, const void* payload, std::uint32_t tokens,
                                  DiskCallback callback) {
  return impl_->write(std::nullopt, hash, payload, tokens, std::move(callback));
}
DiskFuture DiskStore::write_async(SlotIndex slot, const Hash128& hash, const void* payload,
                                  std::uint32_t tokens, DiskCallback callback) {
  return impl_->write(slot, hash, payload, tokens, std::move(callback));
}
DiskFuture DiskStore::read_async(const Hash128& hash, void* dst, DiskCallback callback) {
  return impl_->read(std::nullopt, hash, dst, std::move(callback));
}
DiskFuture DiskStore::read_async(SlotIndex slot, const Hash128& expected, void* dst,
                                 DiskCallback callback) {
  return impl_->read(slot, expected, dst, std::move(callback));
}
DiskFuture DiskStore::read_layers_async(SlotIndex slot, const Hash128& expected, int first_layer,
                                        int layers, void* dst, DiskCallback callback) {
  return impl_->read_layers(slot, expected, first_layer, layers, dst, std::move(callback));
}
bool DiskStore::remove(const Hash128& hash) { return impl_->remove(hash); }
void DiskStore::wait_idle() { impl_->wait_idle(); }
DiskStats DiskStore::stats() const { return impl_->stats(); }
const Geometry& DiskStore::geometry() const { return impl_->geometry_; }
const std::filesystem::path& DiskStore::dir() const { return impl_->options_.dir; }
std::uint64_t DiskStore::slot_bytes() const { return impl_->layout_.payload_bytes; }
SlotIndex DiskStore::capacity_slots() const { return impl_->layout_.total_slots; }
std::string DiskStore::slot_location(SlotIndex slot) const { return impl_->slot_location(slot); }

}  // namespace kvtier
