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

// A run of `count` >= 2 neighbouring segments of equal size whose sources and destinations each
// advance by a constant pitch of at least that size: one 2D copy (cudaMemcpy2DAsync) moves it.
// A layer's slices of consecutive slots are such a run (source pitch: the slot size).
struct StridedRun {
  std::size_t first = 0, count = 0;
  std::size_t src_pitch = 0, dst_pitch = 0;
};
// Splits a list, in order, into strided runs of at least min_count segments whose pitches are at
// most max_pitch (a 2D copy's limit); segments in no such run come back as runs of count 1
// (pitches 0).
std::vector<StridedRun> strided_runs(const std::vector<Segment>& segs, std::size_t min_count,
                                     std::size_t max_pitch);

}  // namespace kvtier::detail
