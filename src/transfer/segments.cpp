#include "transfer/segments.h"

namespace kvtier::detail {

std::vector<Segment> merge_runs(const std::vector<Segment>& segs) {
  std::vector<Segment> out;
  out.reserve(segs.size());
  for (const Segment& s : segs) {
    if (s.bytes == 0) continue;
    if (!out.empty()) {
      Segment& last = out.back();
      if (last.src + last.bytes == s.src && last.dst + last.bytes == s.dst) {
        last.bytes += s.bytes;
        continue;
      }
    }
    out.push_back(s);
  }
  return out;
}

std::vector<Segment> split_pieces(const std::vector<Segment>& segs, std::size_t max_bytes) {
  std::vector<Segment> out;
  out.reserve(segs.size());
  for (const Segment& s : segs) {
    for (std::size_t off = 0; off < s.bytes; off += max_bytes) {
      const std::size_t n = s.bytes - off < max_bytes ? s.bytes - off : max_bytes;
      out.push_back({s.dst + off, s.src + off, n});
    }
  }
  return out;
}

std::size_t total_bytes(const std::vector<Segment>& segs) {
  std::size_t n = 0;
  for (const Segment& s : segs) n += s.bytes;
  return n;
}

}  // namespace kvtier::detail
