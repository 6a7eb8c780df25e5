#include "kvtier/block/slot_pool.h"

#include <chrono>
#include <limits>
#include <string>

#include "kvtier/block/slot_allocator.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"

namespace kvtier {
namespace {

void require_in(const char* what, long long v, long long end) {
  if (v < 0 || v >= end) {
    throw InvalidArgument(std::string("slot pool: ") + what + " " + std::to_string(v) +
                          "; expected 0 <= " + what + " < " + std::to_string(end));
  }
}

}  // namespace

SlotIndex slots_in_bytes(std::uint64_t bytes, const Geometry& geometry) {
  geometry.validate();
  const std::uint64_t slot = geometry.slot_bytes();
  const std::uint64_t n = bytes / slot;
  if (n == 0) {
    throw InvalidArgument("budget " + format_size(bytes) + " (" + std::to_string(bytes) +
                          " bytes) is smaller than one block of " + geometry.name + " (" +
                          format_size(slot) + "); expected at least one slot");
  }
  if (n > SlotAllocator::kMaxCapacity) {
    throw InvalidArgument("budget " + format_size(bytes) + " is " + std::to_string(n) +
                          " slots; expected at most " +
                          std::to_string(SlotAllocator::kMaxCapacity));
  }
  return static_cast<SlotIndex>(n);
}

SlotIndex slots_in_size(std::string_view size, const Geometry& geometry) {
  return slots_in_bytes(parse_size(size), geometry);
}

MemoryKind memory_kind_of(Tier tier) {
  switch (tier) {
    case Tier::kGpu:
      return MemoryKind::kDevice;
    case Tier::kHost:
      return MemoryKind::kPinnedHost;
    case Tier::kDisk:
      break;
  }
  throw InvalidArgument(std::string("slot pool: tier ") + tier_name(tier) +
                        " has no memory pool (disk slots live in the disk store); expected gpu "
                        "or host");
}

SlotPool::SlotPool(Backend& backend, Tier tier, const Geometry& geometry, SlotIndex slots)
    : tier_(tier), geometry_(geometry), slots_(slots), slot_bytes_(0) {
  geometry_.validate();
  const MemoryKind kind = memory_kind_of(tier);
  if (slots == 0 || slots > SlotAllocator::kMaxCapacity) {
    throw InvalidArgument(std::string("slot pool (") + tier_name(tier) +
                          "): " + std::to_string(slots) + " slots; expected between 1 and " +
                          std::to_string(SlotAllocator::kMaxCapacity));
  }
  slot_bytes_ = geometry_.slot_bytes();
  if (slot_bytes_ > std::numeric_limits<std::size_t>::max() / slots) {
    throw InvalidArgument(std::string("slot pool (") + tier_name(tier) +
                          "): " + std::to_string(slots) + " slots of " + format_size(slot_bytes_) +
                          " overflow the address space; expected fewer slots");
  }
  const auto t0 = std::chrono::steady_clock::now();
  buffer_ = backend.allocate(kind, slot_bytes_ * slots);
  allocation_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::byte* SlotPool::slot_address(SlotIndex slot) const {
  require_in("slot", slot, slots_);
  return base() + static_cast<std::size_t>(slot) * slot_bytes_;
}

std::byte* SlotPool::slot_address(SlotRef ref) const {
  if (ref.tier != tier_) {
    throw InvalidArgument(std::string("slot pool (") + tier_name(tier_) + "): slot of tier " +
                          tier_name(ref.tier) + "; expected a slot of tier " + tier_name(tier_));
  }
  return slot_address(ref.slot);
}

std::byte* SlotPool::layer_address(SlotIndex slot, int layer) const {
  require_in("layer", layer, geometry_.layers);
  return slot_address(slot) + geometry_.offset(layer, 0, 0, 0);
}

std::byte* SlotPool::element_address(SlotIndex slot, int layer, int kv, int kv_head,
                                     int token) const {
  require_in("layer", layer, geometry_.layers);
  require_in("kv", kv, 2);
  require_in("kv_head", kv_head, geometry_.kv_heads);
  require_in("token", token, geometry_.block_tokens);
  return slot_address(slot) + geometry_.offset(layer, kv, kv_head, token);
}

}  // namespace kvtier
