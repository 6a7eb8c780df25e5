// BlockManager placement: budgets, eviction down the tiers, placing new blocks, keeping sink and
// window blocks on the GPU, promotion. See the contract in block_manager.h.
#include <algorithm>
#include <string>

#include "kvtier/block/block_manager.h"
#include "kvtier/core/error.h"

namespace kvtier {
namespace {

constexpr Tier kTiers[] = {Tier::kGpu, Tier::kHost, Tier::kDisk};

}  // namespace

void BlockManager::require_fits(const std::array<SlotIndex, kNumTiers>& budgets,
                                const TierCounts& extra, std::int64_t unplaced,
                                const char* op) const {
  std::int64_t in_use = unplaced, room = 0;
  for (int t = 0; t < kNumTiers; ++t) {
    if (!slots_[t]) continue;
    in_use += static_cast<std::int64_t>(slots_[t]->used()) - cached_[t] + extra[t];
    room += budgets[t];
  }
  if (in_use <= room) return;
  std::string b;
  for (int t = 0; t < kNumTiers; ++t) {
    if (!slots_[t]) continue;
    b += std::string(b.empty() ? "" : ", ") + tier_name(static_cast<Tier>(t)) + " " +
         std::to_string(budgets[t]);
  }
  throw OutOfMemory(std::string(op) + ": " + std::to_string(in_use) +
                    " blocks in use by live sequences (" + std::to_string(unplaced) +
                    " of them new) do not fit the budgets (" + b +
                    " slots); expected fewer blocks: free sequences or raise a budget");
}

std::optional<Tier> BlockManager::lower(Tier t) const {
  for (int i = static_cast<int>(t) + 1; i < kNumTiers; ++i) {
    if (slots_[i]) return static_cast<Tier>(i);
  }
  return std::nullopt;
}

bool BlockManager::can_make_room(Tier t, BlockId keep) const {
  if (!tier_present(t)) return false;
  if (used(t) < budget(t) || cached(t) > 0) return true;
  const bool keep_here = keep != 0 && block(keep).where.tier == t;
  const auto l = lower(t);
  return l && used(t) > (keep_here ? 1u : 0u) && can_make_room(*l, 0);
}

void BlockManager::make_room(Tier t, BlockId keep) {
  KVT_CHECK(used(t) <= budget(t), std::string("tier ") + tier_name(t) + " over budget");
  if (used(t) < budget(t)) return;
  evict_one(t, keep);
}

void BlockManager::evict_one(Tier t, BlockId keep) {
  const auto l = lower(t);
  if (l && can_make_room(*l, 0)) {
    const BlockId victim = pick_victim(t, false, keep);
    if (victim != 0) {
      make_room(*l, 0);
      move(victim, *l);
      return;
    }
  }
  const BlockId victim = pick_victim(t, true, keep);
  KVT_CHECK(victim != 0, std::string("no block to evict from tier ") + tier_name(t));
  drop(victim);
}

void BlockManager::refresh_attributes() {
  if (!attributes_dirty_) return;
  for (auto& [id, b] : blocks_) {
    b.is_protected = false;
    b.distance = ~0u;
    b.last_use = b.refs ? 0 : b.released;
  }
  const std::size_t sink = config_.sink_blocks, window = config_.window_blocks;
  for (const auto& [id, s] : seqs_) {
    const std::size_t n = s.blocks.size();
    for (std::size_t i = 0; i < n; ++i) {
      Block& b = block(s.blocks[i]);
      b.is_protected |= i < sink || i + window >= n;
      b.distance = std::min<std::uint32_t>(b.distance, std::min(i, n - 1 - i));
      b.last_use = std::max(b.last_use, s.last_use);
    }
  }
  attributes_dirty_ = false;
}

BlockId BlockManager::pick_victim(Tier t, bool cached_only, BlockId keep) {
  refresh_attributes();
  // On the GPU, protected blocks are candidates only when nothing else is left.
  const bool spare_protected = t == Tier::kGpu && !cached_only;
  bool have_unprotected = false;
  std::vector<EvictionCandidate>& cand = candidates_;
  cand.clear();
  for (BlockId id : owner_[static_cast<int>(t)]) {
    if (id == 0 || id == keep) continue;
    const Block& b = block(id);
    if (cached_only && b.refs != 0) continue;
    have_unprotected |= !b.is_protected;
    cand.push_back(EvictionCandidate{id, b.where, b.refs, b.is_protected, b.last_use, b.distance});
  }
  if (spare_protected && have_unprotected) {
    std::erase_if(cand, [](const EvictionCandidate& c) { return c.is_protected; });
  }
  if (cand.empty()) return 0;
  auto less = [this](const EvictionCandidate& a, const EvictionCandidate& b) {
    return policy_->evict_before(a, b);
  };
  return std::min_element(cand.begin(), cand.end(), less)->block;
}

void BlockManager::rebalance() {
  enforce_budgets();
  place_unplaced();
  promote_protected();
}

void BlockManager::enforce_budgets() {
  // Bottom up, so that a tier pushing blocks down always finds the tiers below within budget.
  for (int t = kNumTiers - 1; t >= 0; --t) {
    const Tier tier = kTiers[t];
    while (tier_present(tier) && used(tier) > budget(tier)) {
      const auto l = lower(tier);
      if (cached(tier) > 0 || (l && can_make_room(*l, 0))) {
        evict_one(tier, 0);
      } else {
        lift_one(tier);
      }
    }
  }
}

void BlockManager::lift_one(Tier t) {
  // Nothing below can take a block (a lower budget shrank under blocks in use): move the block
  // that the policy would keep longest up to the nearest tier with room.
  for (int u = static_cast<int>(t) - 1; u >= 0; --u) {
    const Tier up = kTiers[u];
    if (!tier_present(up) || (used(up) >= budget(up) && cached(up) == 0)) continue;
    if (used(up) >= budget(up)) drop(pick_victim(up, true, 0));
    refresh_attributes();
    BlockId keeper = 0;
    EvictionCandidate best;
    for (BlockId id : owner_[static_cast<int>(t)]) {
      if (id == 0) continue;
      const Block& b = block(id);
      const EvictionCandidate c{id, b.where, b.refs, b.is_protected, b.last_use, b.distance};
      if (keeper == 0 || policy_->evict_before(best, c)) {
        keeper = id;
        best = c;
      }
    }
    move(keeper, up);
    return;
  }
  KVT_CHECK(false, std::string("tier ") + tier_name(t) + " over budget with no room anywhere");
}

std::optional<Tier> BlockManager::room_below_gpu() const {
  for (auto l = lower(Tier::kGpu); l; l = lower(*l)) {
    if (used(*l) < budget(*l) || cached(*l) > 0) return l;
  }
  return std::nullopt;
}

void BlockManager::place_unplaced() {
  if (unplaced_.empty()) return;
  refresh_attributes();
  std::stable_partition(unplaced_.begin(), unplaced_.end(),
                        [this](BlockId id) { return block(id).is_protected; });
  for (BlockId id : unplaced_) {
    Tier target = Tier::kGpu;
    // A new block that is not protected takes a full GPU's slot only from an older block that is
    // not protected either; otherwise it starts in the highest lower tier with room.
    if (!block(id).is_protected && used(Tier::kGpu) >= budget(Tier::kGpu)) {
      const BlockId victim = pick_victim(Tier::kGpu, false, 0);
      const auto l = lower(Tier::kGpu);
      if (victim != 0 && !block(victim).is_protected && !block(victim).fresh) {
        if (l && can_make_room(*l, 0)) {  // evict this victim rather than pick it again
          make_room(*l, 0);
          move(victim, *l);
        }
      } else {
        for (auto t = l; t; t = lower(*t)) {
          if (can_make_room(*t, 0)) {
            target = *t;
            break;
          }
        }
      }
    }
    KVT_CHECK(can_make_room(target, 0), "no room for a new block despite require_fits");
    make_room(target, 0);
    place(id, target);
  }
  for (BlockId id : unplaced_) block(id).fresh = false;
  unplaced_.clear();
}

void BlockManager::promote_protected() {
  bool below = false;
  for (auto l = lower(Tier::kGpu); l; l = lower(*l)) below |= used(*l) > 0;
  if (!below) return;  // every block is on the GPU
  // The protected blocks straight from the tables (cheap: sink + window blocks a sequence), so
  // that the common case needs no pass over all blocks.
  std::vector<BlockId> on, off_gpu;
  const std::size_t sink = config_.sink_blocks, window = config_.window_blocks;
  for (const auto& [sid, s] : seqs_) {
    const std::size_t n = s.blocks.size();
    const std::size_t head = std::min(sink, n), tail = std::max(head, n - std::min(window, n));
    auto visit = [&](std::size_t i) {
      const BlockId id = s.blocks[i];
      (block(id).where.tier == Tier::kGpu ? on : off_gpu).push_back(id);
    };
    for (std::size_t i = 0; i < head; ++i) visit(i);
    for (std::size_t i = tail; i < n; ++i) visit(i);
  }
  if (off_gpu.empty()) return;
  for (auto* v : {&on, &off_gpu}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  const SlotIndex gpu_budget = budget(Tier::kGpu);
  SlotIndex on_gpu = static_cast<SlotIndex>(on.size());
  if (on_gpu >= gpu_budget) return;
  refresh_attributes();  // victims are chosen by the policy from here on

  for (BlockId id : off_gpu) {
    if (on_gpu >= gpu_budget) break;
    if (used(Tier::kGpu) >= gpu_budget) {
      // Swap: a block that is not protected leaves the GPU first.
      const BlockId victim = pick_victim(Tier::kGpu, false, 0);
      if (victim == 0 || block(victim).is_protected) break;
      if (const auto dest = room_below_gpu()) {
        make_room(*dest, id);
        move(victim, *dest);
      } else if (block(victim).refs == 0) {
        drop(victim);
      } else {
        break;  // every tier is full of blocks in use: nowhere to swap to
      }
    }
    move(id, Tier::kGpu);
    ++on_gpu;
  }
}

void BlockManager::set_budget(Tier tier, SlotIndex slots) {
  const int t = static_cast<int>(tier);
  if (!tier_present(tier)) {
    throw InvalidArgument(std::string("set_budget: tier ") + tier_name(tier) +
                          " is absent (capacity 0); expected a present tier");
  }
  const SlotIndex cap = slots_[t]->capacity();
  if (slots == 0 || slots > cap) {
    throw InvalidArgument(std::string("set_budget: ") + tier_name(tier) + " budget " +
                          std::to_string(slots) + " slots; expected 1.." + std::to_string(cap) +
                          " (at least one block, at most the capacity)");
  }
  const std::uint64_t pinned =
      static_cast<std::uint64_t>(config_.sink_blocks) + config_.window_blocks;
  if (tier == Tier::kGpu && slots < pinned) {
    throw InvalidArgument("set_budget: gpu budget " + std::to_string(slots) +
                          " slots is below sink_blocks + window_blocks = " +
                          std::to_string(pinned) + "; expected at least that");
  }
  auto budgets = budget_;
  budgets[t] = slots;
  require_fits(budgets, TierCounts{}, 0, "set_budget");
  budget_[t] = slots;
  config_.budget[t] = slots;
  rebalance();
}

void BlockManager::promote(SeqId seq) {
  Sequence& s = live(seq, "promote");
  touch(s);
  refresh_attributes();
  // Ends first: protected blocks, then from the newest block backwards.
  std::vector<BlockId> order;
  for (auto it = s.blocks.rbegin(); it != s.blocks.rend(); ++it) order.push_back(*it);
  std::stable_partition(order.begin(), order.end(),
                        [this](BlockId id) { return block(id).is_protected; });
  const SlotIndex gpu_budget = budget(Tier::kGpu);
  for (BlockId id : order) {
    if (block(id).where.tier == Tier::kGpu) continue;
    if (used(Tier::kGpu) >= gpu_budget) {
      const BlockId victim = pick_victim(Tier::kGpu, true, 0);
      if (victim == 0) break;  // only blocks in use: never evict those for a promotion
      if (const auto dest = room_below_gpu()) {
        make_room(*dest, id);
        move(victim, *dest);
      } else {
        drop(victim);
      }
    }
    move(id, Tier::kGpu);
  }
  // What is still on disk comes up to free host budget, so that a step streams it instead of
  // reading the disk (nothing on the host is evicted for it).
  if (tier_present(Tier::kHost)) {
    for (BlockId id : order) {
      if (used(Tier::kHost) >= budget(Tier::kHost)) break;
      if (block(id).where.tier == Tier::kDisk) move(id, Tier::kHost);
    }
  }
  rebalance();
}

}  // namespace kvtier
