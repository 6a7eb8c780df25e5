#include "kvtier/core/units.h"

#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <utility>

#include "kvtier/core/error.h"

namespace kvtier {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr const char* kAccepted =
    "a positive number with an optional unit B, KB, MB, GB, TB (powers of 1000) or "
    "KiB, MiB, GiB, TiB (powers of 1024), e.g. 512MiB, 8GiB, 16GB";

}  // namespace

std::uint64_t parse_size(std::string_view text, bool allow_zero) {
  const std::string original(text);
  auto bad = [&](const std::string& why) -> InvalidArgument {
    return InvalidArgument("invalid size '" + original + "': " + why + "; expected " + kAccepted);
  };
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t num_begin = i;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) throw bad("sign not allowed");
  bool seen_digit = false, seen_dot = false;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    if (text[i] == '.') {
      if (seen_dot) throw bad("more than one decimal point");
      seen_dot = true;
    } else {
      seen_digit = true;
    }
    ++i;
  }
  if (!seen_digit) throw bad("no number");
  const std::string number(text.substr(num_begin, i - num_begin));
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t unit_end = text.size();
  while (unit_end > i && std::isspace(static_cast<unsigned char>(text[unit_end - 1]))) --unit_end;
  const std::string unit = lower(text.substr(i, unit_end - i));

  static const std::array<std::pair<const char*, double>, 14> kUnits = {{
      {"", 1.0},
      {"b", 1.0},
      {"k", 1e3},
      {"kb", 1e3},
      {"kib", 1024.0},
      {"m", 1e6},
      {"mb", 1e6},
      {"mib", 1048576.0},
      {"g", 1e9},
      {"gb", 1e9},
      {"gib", 1073741824.0},
      {"t", 1e12},
      {"tb", 1e12},
      {"tib", 1099511627776.0},
  }};
  double mult = -1.0;
  for (const auto& [name, m] : kUnits) {
    if (unit == name) mult = m;
  }
  if (mult < 0) throw bad("unknown unit '" + std::string(text.substr(i, unit_end - i)) + "'");

  const double value = std::stod(number) * mult;
  if (!std::isfinite(value) || value >= 1.8e19) throw bad("too large");
  const auto bytes = static_cast<std::uint64_t>(std::llround(value));
  if (!seen_dot && unit.empty() && number.size() > 18) throw bad("too large");
  if (bytes == 0 && !allow_zero) throw bad("must be greater than zero");
  return bytes;
}

std::string format_size(std::uint64_t bytes) {
  static const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, kNames[u]);
  return buf;
}

std::string format_count(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  int count = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (count > 0 && count % 3 == 0) out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++count;
  }
  return out;
}

}  // namespace kvtier
