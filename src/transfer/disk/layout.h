// Where each slot lives: slot files "slots-NNNNN.kvt" of slots_per_file slots each (the last one
// may hold fewer); slot s is in file s / slots_per_file at offset (s % slots_per_file) * stride.
// A slot is a 4 KiB header then the payload padded to 4 KiB.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "kvtier/block/tier.h"

namespace kvtier::disk {

inline constexpr std::string_view kLockName = "kvtier-disk.lock";
inline constexpr std::string_view kMetaName = "kvtier-disk.meta";
inline constexpr std::string_view kMetaTmpName = "kvtier-disk.meta.tmp";
inline constexpr std::string_view kCeilingPrefix = "kvtier-ceiling-";  // kvtier-bench disk scratch

struct DiskLayout {
  std::uint64_t payload_bytes = 0;  // Geometry::slot_bytes()
  std::uint64_t stride = 0;         // header + payload padded to 4 KiB
  std::uint32_t slots_per_file = 0;
  std::uint32_t total_slots = 0;
  std::uint32_t files = 0;

  // Slots of capacity_bytes / stride, in files of about file_bytes (at least one slot each).
  // Throws InvalidArgument when not one slot fits or the count exceeds the slot index range.
  static DiskLayout make(std::uint64_t payload_bytes, std::uint64_t capacity_bytes,
                         std::uint64_t file_bytes, std::optional<std::uint32_t> slots_per_file);

  std::uint32_t file_of(SlotIndex s) const { return s / slots_per_file; }
  std::uint64_t offset_of(SlotIndex s) const {
    return static_cast<std::uint64_t>(s % slots_per_file) * stride;
  }
  std::uint32_t slots_in_file(std::uint32_t f) const;
  std::uint64_t file_size(std::uint32_t f) const { return slots_in_file(f) * stride; }
};

std::string slot_file_name(std::uint32_t file);
// The file index of a name "slots-NNNNN.kvt", or nullopt for any other name.
std::optional<std::uint32_t> parse_slot_file_name(std::string_view name);

}  // namespace kvtier::disk
