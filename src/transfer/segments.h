// Internal: a copy list is a vector of segments {dst, src, bytes}. Destinations of one list never
// overlap each other or any source of the list (the engine checks this per batch).
#pragma once

#include <cstddef>
#include <vector>

namespace kvtier::detail {

struct Segment {
  std::byte* dst = nullptr;
  const std::byte* src = nullptr;
  std::size_t bytes = 0;
};

// Merges neighbours that continue each other in both source and destination; keeps the order.
std::vector<Segment> merge_runs(const std::vector<Segment>& segs);
// Cuts segments into pieces of at most max_bytes (for balancing over the copy kernel's blocks).
std::vector<Segment> split_pieces(const std::vector<Segment>& segs, std::size_t max_bytes);
std::size_t total_bytes(const std::vector<Segment>& segs);

}  // namespace kvtier::detail
