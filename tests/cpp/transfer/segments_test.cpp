#include "transfer/segments.h"

#include <gtest/gtest.h>

#include <random>

#include "transfer/hazards.h"

namespace kvtier::detail {
namespace {

TEST(Segments, MergeRunsAndSplit) {
  std::vector<std::byte> a(1000), b(1000);
  std::vector<Segment> s{{b.data(), a.data(), 100},
                         {b.data() + 100, a.data() + 100, 50},
                         {b.data() + 200, a.data() + 150, 10},
                         {b.data() + 210, a.data() + 160, 0},
                         {b.data() + 210, a.data() + 160, 40}};
  auto m = merge_runs(s);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].bytes, 150u);
  EXPECT_EQ(m[1].bytes, 50u);
  EXPECT_EQ(total_bytes(m), total_bytes(s));
  auto p = split_pieces(m, 64);
  ASSERT_EQ(p.size(), 4u);  // 64 + 64 + 22, 50
  EXPECT_EQ(p[2].bytes, 22u);
  EXPECT_EQ(p[2].src, a.data() + 128);
  EXPECT_EQ(total_bytes(p), 200u);
}

TEST(Segments, StridedRunsOfLayerSlices) {
  std::vector<std::byte> host(64 * 100), dev(16 * 100);
  std::vector<Segment> s;
  // Slices of slots 0..4 (pitch 64) into a contiguous buffer, then slot 9, then slots 20, 22, 24.
  for (int k : {0, 1, 2, 3, 4, 9, 20, 22, 24})
    s.push_back({dev.data() + 16 * s.size(), host.data() + 64 * k + 8, 16});
  const auto runs = strided_runs(s, 3, 1 << 20);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].first, 0u);
  EXPECT_EQ(runs[0].count, 5u);
  EXPECT_EQ(runs[0].src_pitch, 64u);
  EXPECT_EQ(runs[0].dst_pitch, 16u);
  EXPECT_EQ(runs[1].first, 5u);  // slot 9 starts no run of 3 (9, 20 and 22 are not evenly spaced)
  EXPECT_EQ(runs[1].count, 1u);
  EXPECT_EQ(runs[2].first, 6u);
  EXPECT_EQ(runs[2].count, 3u);
  EXPECT_EQ(runs[2].src_pitch, 128u);
  // Overlapping or backwards neighbours and unequal sizes never form a run.
  const std::vector<Segment> bad{{dev.data(), host.data(), 16},
                                 {dev.data() + 8, host.data() + 64, 16},
                                 {dev.data() + 32, host.data(), 16},
                                 {dev.data() + 64, host.data() + 64, 8}};
  for (const StridedRun& r : strided_runs(bad, 2, 1 << 20)) EXPECT_EQ(r.count, 1u);
  // Pitches beyond the limit never form a run either.
  for (const StridedRun& r : strided_runs(s, 2, 100)) EXPECT_EQ(r.count, r.first < 5 ? 5u : 1u);
}

TEST(Segments, StridedRunsCoverEveryByteOnce) {
  std::mt19937_64 rng(7);
  std::vector<std::byte> host(256 * 64), dev(256 * 64);
  for (int round = 0; round < 200; ++round) {
    std::vector<Segment> s;
    std::size_t d = 0;
    const std::size_t bytes = 8 << (rng() % 3);
    for (int i = 0, n = static_cast<int>(rng() % 40); i < n; ++i) {
      const std::size_t slot = rng() % 8 == 0 ? rng() % 256 : (s.empty() ? 0 : i % 256);
      s.push_back({dev.data() + d, host.data() + slot * 64, rng() % 10 == 0 ? bytes / 2 : bytes});
      d += 64 * (1 + rng() % 2);
    }
    const std::size_t max_pitch = rng() % 2 ? 64 : 1 << 20;
    const auto runs = strided_runs(s, 1 + rng() % 4, max_pitch);
    std::size_t next = 0;
    for (const StridedRun& r : runs) {
      ASSERT_EQ(r.first, next);
      next += r.count;
      for (std::size_t k = 1; k < r.count; ++k) {
        const Segment &a = s[r.first + k - 1], &b = s[r.first + k];
        ASSERT_EQ(b.bytes, a.bytes);
        ASSERT_EQ(b.src - a.src, static_cast<std::ptrdiff_t>(r.src_pitch));
        ASSERT_EQ(b.dst - a.dst, static_cast<std::ptrdiff_t>(r.dst_pitch));
        ASSERT_GE(r.src_pitch, a.bytes);
        ASSERT_GE(r.dst_pitch, a.bytes);
        ASSERT_LE(r.src_pitch, max_pitch);
        ASSERT_LE(r.dst_pitch, max_pitch);
      }
    }
    ASSERT_EQ(next, s.size());
  }
}

TEST(Hazards, ConflictsAcrossStreamsOnly) {
  HazardTracker h(4, 4);
  const std::vector<SlotRef> host1{{Tier::kHost, 1}}, gpu2{{Tier::kGpu, 2}}, none;
  h.note(0, 1, host1, gpu2, nullptr);         // stream 0: reads host 1, writes gpu 2
  EXPECT_EQ(h.conflict(0, gpu2, none), 0u);   // same stream: ordered anyway
  EXPECT_EQ(h.conflict(1, gpu2, none), 1u);   // read after write
  EXPECT_EQ(h.conflict(1, none, host1), 1u);  // write after read
  EXPECT_EQ(h.conflict(1, host1, none), 0u);  // read after read
  EXPECT_EQ(h.conflict(1, none, gpu2), 1u);   // write after write
  EXPECT_EQ(h.event_of(0, 1), nullptr);       // no event noted: complete
}

}  // namespace
}  // namespace kvtier::detail
