#include "transfer/segments.h"

#include <algorithm>

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

namespace {

// The pitch from a to b when b continues a strided sequence of a's size; 0 when it cannot.
std::size_t pitch(const std::byte* a, const std::byte* b, std::size_t bytes, std::size_t max) {
  return b >= a + bytes && static_cast<std::size_t>(b - a) <= max ? static_cast<std::size_t>(b - a)
                                                                  : 0;
}

}  // namespace

std::vector<StridedRun> strided_runs(const std::vector<Segment>& segs, std::size_t min_count,
                                     std::size_t max_pitch) {
  std::vector<StridedRun> out;
  std::size_t i = 0;
  while (i < segs.size()) {
    const Segment& s = segs[i];
    std::size_t n = 1, sp = 0, dp = 0;
    if (i + 1 < segs.size() && segs[i + 1].bytes == s.bytes) {
      sp = pitch(s.src, segs[i + 1].src, s.bytes, max_pitch);
      dp = pitch(s.dst, segs[i + 1].dst, s.bytes, max_pitch);
    }
    if (sp != 0 && dp != 0) {
      n = 2;
      while (i + n < segs.size() && segs[i + n].bytes == s.bytes &&
             segs[i + n].src == segs[i + n - 1].src + sp &&
             segs[i + n].dst == segs[i + n - 1].dst + dp)
        ++n;
    }
    if (n >= std::max<std::size_t>(min_count, 2)) {
      out.push_back({i, n, sp, dp});
      i += n;
    } else {
      out.push_back({i, 1, 0, 0});
      ++i;
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
