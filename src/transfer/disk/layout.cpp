#include "transfer/disk/layout.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "kvtier/core/error.h"
#include "kvtier/core/units.h"
#include "transfer/disk/aligned_buffer.h"
#include "transfer/disk/slot_header.h"

namespace kvtier::disk {

DiskLayout DiskLayout::make(std::uint64_t payload_bytes, std::uint64_t capacity_bytes,
                            std::uint64_t file_bytes, std::optional<std::uint32_t> slots_per_file) {
  DiskLayout l;
  l.payload_bytes = payload_bytes;
  l.stride = kHeaderBytes + align_up(payload_bytes);
  const std::uint64_t slots = capacity_bytes / l.stride;
  if (slots == 0) {
    throw InvalidArgument("disk budget " + format_size(capacity_bytes) + " holds no slot of " +
                          format_size(l.stride) + " (4 KiB header + block); expected at least " +
                          format_size(l.stride));
  }
  if (slots >= kNoSlot) {
    throw InvalidArgument("disk budget " + format_size(capacity_bytes) + " is " +
                          format_count(slots) + " slots; expected fewer than " +
                          format_count(kNoSlot));
  }
  l.total_slots = static_cast<std::uint32_t>(slots);
  const std::uint64_t per_file =
      slots_per_file ? *slots_per_file : std::max<std::uint64_t>(1, file_bytes / l.stride);
  l.slots_per_file = static_cast<std::uint32_t>(std::min<std::uint64_t>(per_file, kNoSlot - 1));
  l.files = static_cast<std::uint32_t>((slots + l.slots_per_file - 1) / l.slots_per_file);
  if (l.files > 99999) {
    throw InvalidArgument("disk budget " + format_size(capacity_bytes) + " would need " +
                          format_count(l.files) + " slot files of " +
                          format_size(l.slots_per_file * l.stride) +
                          "; expected at most 99,999: use larger files");
  }
  return l;
}

std::uint32_t DiskLayout::slots_in_file(std::uint32_t f) const {
  const std::uint64_t first = static_cast<std::uint64_t>(f) * slots_per_file;
  if (first >= total_slots) return 0;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(slots_per_file, total_slots - first));
}

std::string slot_file_name(std::uint32_t file) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "slots-%05u.kvt", file);
  return buf;
}

std::optional<std::uint32_t> parse_slot_file_name(std::string_view name) {
  constexpr std::string_view kPrefix = "slots-", kSuffix = ".kvt";
  if (name.size() != kPrefix.size() + 5 + kSuffix.size()) return std::nullopt;
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : name.substr(kPrefix.size(), 5)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return v;
}

}  // namespace kvtier::disk
