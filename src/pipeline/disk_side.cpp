#include "pipeline/disk_side.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <string>

#include "kvtier/core/error.h"
#include "kvtier/pipeline/decode_pipeline.h"

namespace kvtier::pipeline {

int disk_group_layers(const Geometry& g, int requested) {
  if (requested > 0) return std::min(requested, g.layers);
  const std::size_t layer_bytes = g.layer_bytes();
  return static_cast<int>(std::min<std::size_t>(g.layers, ((256u << 10) + layer_bytes - 1) / layer_bytes));
}

}  // namespace kvtier::pipeline

namespace kvtier::pipeline::detail {

// ---- DiskWriteBack ----------------------------------------------------------------------------

DiskWriteBack::DiskWriteBack(Backend& backend, DiskStore& store, std::size_t max_bytes)
    : backend_(backend),
      store_(store),
      slot_bytes_(store.slot_bytes()),
      max_buffers_(std::max<std::size_t>(1, max_bytes / store.slot_bytes())) {}

DiskWriteBack::~DiskWriteBack() {
  for (const Write& w : inflight_) w.done.error();  // wait; a failure was reported by reap()
}

Buffer DiskWriteBack::take_buffer() {
  while (free_.empty() && buffers_ >= max_buffers_ && !inflight_.empty()) finish_front();
  if (!free_.empty()) {
    Buffer b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  ++buffers_;
  return backend_.allocate(MemoryKind::kPinnedHost, slot_bytes_);
}

void DiskWriteBack::write(SlotIndex slot, const Hash128& key, std::uint32_t tokens, Buffer bytes) {
  KVT_CHECK(bytes.bytes() == slot_bytes_, "write-back buffer of the wrong size");
  // The store refuses a slot with a request in flight: an earlier write-back into it goes first.
  while (std::any_of(inflight_.begin(), inflight_.end(), [&](const Write& w) { return w.slot == slot; })) {
    finish_front();
  }
  const std::byte* data = bytes.as<std::byte>();
  DiskFuture done;
  try {
    done = store_.write_async(slot, key, data, tokens);
  } catch (...) {
    recycle(std::move(bytes));
    throw;
  }
  inflight_.push_back(Write{key, slot, std::move(bytes), std::move(done)});
  by_key_[key] = data;
}

const std::byte* DiskWriteBack::pending(const Hash128& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second;
}

void DiskWriteBack::read(SlotIndex slot, const Hash128& key, void* dst) {
  if (const std::byte* p = pending(key)) {
    std::memcpy(dst, p, slot_bytes_);
    return;
  }
  store_.read_async(slot, key, dst).wait();
}

void DiskWriteBack::recycle(Buffer bytes) { free_.push_back(std::move(bytes)); }

void DiskWriteBack::finish_front() {
  Write w = std::move(inflight_.front());
  inflight_.pop_front();
  auto it = by_key_.find(w.key);
  if (it != by_key_.end() && it->second == w.bytes.as<std::byte>()) by_key_.erase(it);
  const std::exception_ptr error = w.done.error();
  free_.push_back(std::move(w.bytes));
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    throw IoError("disk write-back of block " + w.key.hex() + " into " + store_.slot_location(w.slot) +
                  " failed, so the block is lost and decode cannot continue exactly: " + e.what());
  }
}

void DiskWriteBack::reap() {
  while (!inflight_.empty() && inflight_.front().done.done()) finish_front();
}

void DiskWriteBack::drain() {
  while (!inflight_.empty()) finish_front();
}

// ---- DiskStaging ------------------------------------------------------------------------------

DiskStaging::DiskStaging(Backend& backend, DiskStore& store, const Geometry& g, std::size_t max_blocks,
                         int group_layers, int buffers)
    : store_(store), g_(g), max_blocks_(max_blocks) {
  if (buffers < 2) throw InvalidArgument("pipeline: disk_buffers " + std::to_string(buffers) + "; expected >= 2");
  if (group_layers < 0) {
    throw InvalidArgument("pipeline: disk_group_layers " + std::to_string(group_layers) + "; expected >= 0");
  }
  const std::size_t layer_bytes = g.layer_bytes();
  group_ = disk_group_layers(g, group_layers);
  groups_ = (g.layers + group_ - 1) / group_;
  const int ring = std::min(buffers, groups_);
  if (max_blocks_ > 0) {
    for (int r = 0; r < ring; ++r) {
      ring_.push_back(backend.allocate(MemoryKind::kPinnedHost, max_blocks_ * group_ * layer_bytes));
      consumed_.push_back(backend.create_event());
    }
  }
  reads_.resize(ring_.size());
}

DiskStaging::~DiskStaging() { end(); }

std::size_t DiskStaging::host_bytes() const {
  std::size_t n = 0;
  for (const Buffer& b : ring_) n += b.bytes();
  return n;
}

std::size_t DiskStaging::blocks_from_disk() const {
  return static_cast<std::size_t>(std::count(from_disk_.begin(), from_disk_.end(), true));
}

void DiskStaging::begin(std::span<const SlotIndex> slots, std::span<const Hash128> keys,
                        const DiskWriteBack* write_back, std::vector<const void*>& ptrs) {
  if (slots.size() > max_blocks_) {
    throw InvalidArgument("decode step: " + std::to_string(slots.size()) +
                          " blocks on disk; the disk staging buffers hold " + std::to_string(max_blocks_) +
                          " (raise PipelineConfig::max_disk_blocks)");
  }
  end();
  ptrs.clear();
  from_disk_.clear();
  if (slots.empty()) return;
  slots_.assign(slots.begin(), slots.end());
  keys_.assign(keys.begin(), keys.end());
  from_disk_.assign(slots.size(), true);
  const std::size_t n = slots.size(), layers = static_cast<std::size_t>(g_.layers), layer_bytes = g_.layer_bytes();
  ptrs.assign(layers * n, nullptr);
  for (std::size_t i = 0; i < n; ++i) {
    const std::byte* pending = write_back ? write_back->pending(keys_[i]) : nullptr;
    from_disk_[i] = pending == nullptr;
    for (std::size_t l = 0; l < layers; ++l) {
      const std::size_t group = l / group_, ring = group % ring_.size();
      ptrs[l * n + i] = pending ? pending + l * layer_bytes
                                : ring_[ring].as<std::byte>() + (i * group_ + l % group_) * layer_bytes;
    }
  }
  // Reads go out in slot order (slots are numbered by file and offset): a sequence's blocks may
  // sit anywhere on disk, and a device serves ascending offsets better than a scatter.
  order_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (from_disk_[i]) order_.push_back(i);
  }
  std::sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) { return slots_[a] < slots_[b]; });
  for (int k = 0; k < std::min<int>(groups_, static_cast<int>(ring_.size())); ++k) start(k);
}

void DiskStaging::start(int group) {
  const std::size_t ring = static_cast<std::size_t>(group) % ring_.size();
  const int first = group * group_, layers = std::min(group_, g_.layers - first);
  const std::size_t stride = static_cast<std::size_t>(group_) * g_.layer_bytes();
  auto& reads = reads_[ring];
  reads.clear();
  for (const std::size_t i : order_) {
    reads.push_back(store_.read_layers_async(slots_[i], keys_[i], first, layers, ring_[ring].as<std::byte>() + i * stride));
  }
}

double DiskStaging::acquire(int group) {
  const auto t0 = std::chrono::steady_clock::now();
  const int ring = static_cast<int>(ring_.size());
  const auto& reads = reads_[static_cast<std::size_t>(group) % ring_.size()];
  if (group >= 1 && group - 1 + ring < groups_) {
    consumed_[static_cast<std::size_t>(group - 1) % ring_.size()]->synchronize();
    try {
      start(group - 1 + ring);
    } catch (...) {
      // A block dropped by a failed check of this group's reads cannot be read again: report the
      // check, the cause, rather than the refusal.
      for (const DiskFuture& f : reads) f.wait();
      throw;
    }
  }
  for (const DiskFuture& f : reads) f.wait();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void DiskStaging::finish(int group, Stream& compute) {
  consumed_[static_cast<std::size_t>(group) % ring_.size()]->record(compute);
}

void DiskStaging::end() noexcept {
  for (auto& reads : reads_) {
    for (const DiskFuture& f : reads) f.error();
    reads.clear();
  }
}

}  // namespace kvtier::pipeline::detail
