#include "kvtier/transfer/transfer_config.h"

#include "kvtier/core/error.h"

namespace kvtier {

const char* copy_method_name(CopyMethod m) {
  switch (m) {
    case CopyMethod::kAuto:
      return "auto";
    case CopyMethod::kKernel:
      return "kernel";
    case CopyMethod::kMemcpyBatch:
      return "batch";
    case CopyMethod::kMemcpyRuns:
      return "runs";
  }
  return "?";
}

CopyMethod parse_copy_method(std::string_view text) {
  for (CopyMethod m : {CopyMethod::kAuto, CopyMethod::kKernel, CopyMethod::kMemcpyBatch,
                       CopyMethod::kMemcpyRuns}) {
    if (text == copy_method_name(m)) return m;
  }
  throw InvalidArgument("unknown copy method '" + std::string(text) +
                        "'; expected auto, kernel, batch or runs");
}

const char* direction_name(Direction d) {
  switch (d) {
    case Direction::kHostToDevice:
      return "h2d";
    case Direction::kDeviceToHost:
      return "d2h";
    case Direction::kDeviceToDevice:
      return "d2d";
    case Direction::kHostToHost:
      return "h2h";
  }
  return "?";
}

TransferConfig parse_transfer_setting(std::string_view text, const TransferConfig& base) {
  TransferConfig c = base;
  std::string t(text);
  // Cuts the text at `mark`: returns what follows it (empty if absent) and keeps what precedes.
  auto take = [&](std::string_view mark, bool* found = nullptr) {
    const auto at = t.find(mark);
    if (found) *found = at != std::string::npos;
    if (at == std::string::npos) return std::string();
    std::string rest = t.substr(at + mark.size());
    t.resize(at);
    return rest;
  };
  auto number = [&](const std::string& s, const char* what) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 6) {
      throw InvalidArgument(
          "setting '" + std::string(text) + "': " + what + " '" + s +
          "' is not a count; expected H2D[/D2H][@SMS][xSTREAMS][+overlap][+flat]");
    }
    return std::stoi(s);
  };
  // Removes a flag (in any order after the method and counts); true when it was there.
  auto flag = [&](std::string_view mark) {
    const auto at = t.find(mark);
    if (at == std::string::npos) return false;
    t.erase(at, mark.size());
    return true;
  };
  const bool flat = flag("+flat"), overlap = flag("+overlap");
  bool streams = false, sms = false;
  const std::string x = take("x", &streams), at = take("@", &sms), d2h = take("/");
  c.h2d = parse_copy_method(t);
  c.d2h = d2h.empty() ? c.h2d : parse_copy_method(d2h);
  if (sms) c.copy_sms = number(at, "SM count");
  if (streams) c.copy_streams = number(x, "stream count");
  if (overlap) c.prefer_overlap = true;
  if (flat) c.strided_min = 0;
  c.validate();
  return c;
}

void TransferConfig::validate() const {
  if (copy_sms < 1 || copy_sms > 1024) {
    throw InvalidArgument("copy_sms " + std::to_string(copy_sms) +
                          "; expected 1..1024 thread blocks");
  }
  if (copy_threads < 32 || copy_threads > 1024 || copy_threads % 32 != 0) {
    throw InvalidArgument("copy_threads " + std::to_string(copy_threads) +
                          "; expected a multiple of 32 in 32..1024");
  }
  if (copy_streams < 1 || copy_streams > 16) {
    throw InvalidArgument("copy_streams " + std::to_string(copy_streams) + "; expected 1..16");
  }
  if (strided_min < 0) {
    throw InvalidArgument("strided_min " + std::to_string(strided_min) +
                          "; expected 0 (no 2D copies) or a segment count");
  }
  if (cpu_threads < 1) {
    throw InvalidArgument("cpu_threads " + std::to_string(cpu_threads) + "; expected at least 1");
  }
}

}  // namespace kvtier
