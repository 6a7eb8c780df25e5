#include "transfer/hazards.h"

#include <algorithm>

#include "kvtier/core/error.h"

namespace kvtier::detail {

HazardTracker::HazardTracker(SlotIndex gpu_slots, SlotIndex host_slots)
    : gpu_(gpu_slots), host_(host_slots) {}

HazardTracker::Marks& HazardTracker::marks(const SlotRef& r) {
  auto& v = r.tier == Tier::kGpu ? gpu_ : host_;
  KVT_CHECK(r.slot < v.size(), "hazard tracker: slot out of range (batch was not validated)");
  return v[r.slot];
}
const HazardTracker::Marks& HazardTracker::marks(const SlotRef& r) const {
  return const_cast<HazardTracker*>(this)->marks(r);
}

std::uint64_t HazardTracker::conflict(int stream, std::span<const SlotRef> reads,
                                      std::span<const SlotRef> writes) const {
  const int other = 1 - stream;
  std::uint64_t newest = 0;
  for (const SlotRef& r : reads) newest = std::max(newest, marks(r).write[other]);
  for (const SlotRef& w : writes) {
    const Marks& m = marks(w);
    newest = std::max({newest, m.write[other], m.read[other]});
  }
  return newest;
}

void HazardTracker::note(int stream, std::uint64_t seq, std::span<const SlotRef> reads,
                         std::span<const SlotRef> writes, std::shared_ptr<Event> done) {
  for (const SlotRef& r : reads) marks(r).read[stream] = seq;
  for (const SlotRef& w : writes) marks(w).write[stream] = seq;
  auto& q = pending_[stream];
  // Batches of one stream complete in order: drop the finished ones from the front.
  while (!q.empty() && q.front().second->query()) q.pop_front();
  if (done) q.emplace_back(seq, std::move(done));
}

std::shared_ptr<Event> HazardTracker::event_of(int stream, std::uint64_t seq) {
  for (const auto& [s, ev] : pending_[stream]) {
    if (s == seq) return ev;
    if (s > seq) break;
  }
  return nullptr;  // finished and dropped
}

}  // namespace kvtier::detail
