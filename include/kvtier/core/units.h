// Sizes with units: "512MiB", "8GiB", "16GB", "1.5 GiB", "4096" (bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvtier {

// Parses a size. Units (case-insensitive): B, K/KB (1e3), KiB (2^10), M/MB, MiB, G/GB, GiB,
// T/TB, TiB. A bare number is bytes. Throws InvalidArgument naming the text and the accepted
// forms for anything else, for zero or negative values when allow_zero is false, and on overflow.
std::uint64_t parse_size(std::string_view text, bool allow_zero = false);

// Formats bytes with a binary unit and 2 decimals: 2097152 -> "2.00 MiB", 100 -> "100 B".
std::string format_size(std::uint64_t bytes);

// Formats a count with thousands separators: 1234567 -> "1,234,567".
std::string format_count(std::uint64_t n);

}  // namespace kvtier
