#include "transfer/segments.h"

#include <gtest/gtest.h>

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
