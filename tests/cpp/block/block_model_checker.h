// Checks a BlockManager against a simple reference model of its sequences (token lists only) and
// against a simulation of slot contents driven by the plans it hands out. Used by the randomized
// model-based test; every check is spelled out from the contract in block_manager.h, not from the
// implementation.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "in_memory_disk_index_for_tests.h"
#include "kvtier/block/block_manager.h"

namespace kvtier::testing {

// The reference: live sequences and their tokens. Hashes are computed here from the tokens.
struct ReferenceModel {
  int block_tokens = 0;
  Hash128 root;
  std::map<SeqId, std::vector<TokenId>> seqs;

  std::vector<Hash128> full_hashes(const std::vector<TokenId>& tokens) const {
    std::vector<Hash128> out;
    Hash128 h = root;
    const std::size_t bt = block_tokens;
    for (std::size_t i = 0; i + bt <= tokens.size(); i += bt) {
      h = hash128(tokens.data() + i, bt * sizeof(TokenId), h);
      out.push_back(h);
    }
    return out;
  }
  std::size_t blocks_of(std::size_t tokens) const {
    return (tokens + block_tokens - 1) / block_tokens;
  }
};

class ModelChecker {
 public:
  ModelChecker(const BlockManager& m, ReferenceModel& ref, const DiskIndex* disk)
      : m_(&m), ref_(&ref), disk_(static_cast<const InMemoryDiskIndexForTests*>(disk)) {
    for (int t = 0; t < kNumTiers; ++t) sim_[t].assign(m.config().capacity[t], 0);
  }

  // Applies a plan to the simulated slot contents. `copy_source` is the block whose bytes a kCopy
  // must read (the forked parent's partial block) and `copy_dest` the child's copy; 0 when no
  // copy is expected.
  void apply(const std::vector<SlotMove>& plan, BlockId copy_source, BlockId copy_dest) {
    int copies = 0;
    for (const SlotMove& mv : plan) {
      ASSERT_TRUE(in_range(mv.from) && in_range(mv.to)) << "move outside the tiers";
      ASSERT_FALSE(mv.from == mv.to);
      BlockId& from = at(mv.from);
      if (mv.kind == SlotMove::Kind::kMove) {
        if (known(mv.block)) {
          ASSERT_EQ(from, mv.block)
              << "move of block " << mv.block << " from a slot that does not hold it";
        } else {
          moved_new_.push_back(mv.block);  // placed and moved again within this step
        }
        from = 0;
      } else {
        ++copies;
        ASSERT_EQ(mv.block, copy_dest) << "unexpected copy";
        ASSERT_EQ(from, copy_source) << "copy does not read the parent's partial block";
        moved_new_.push_back(mv.block);
      }
      at(mv.to) = mv.block;
    }
    ASSERT_EQ(copies, copy_source ? 1 : 0) << "a fork of a partial block copies it exactly once";
  }

  // Every invariant of the contract (block_manager.h).
  void check_all() {
    const BlockManager& m = *m_;
    const std::uint32_t bt = ref_->block_tokens;
    const BlockManagerStats st = m.stats();
    // Live sequences are exactly the reference's.
    ids_.clear();
    for (const auto& [id, t] : ref_->seqs) ids_.push_back(id);
    ASSERT_EQ(m.sequences(), ids_);

    // Resident blocks: one slot each, no slot owned twice, slots within capacity.
    const std::vector<BlockId> resident = m.resident_blocks();
    info_.clear();
    pos_.assign(resident.empty() ? 0 : resident.back() + 1, -1);
    std::array<std::vector<std::uint8_t>, kNumTiers> owned;
    for (int t = 0; t < kNumTiers; ++t) owned[t].assign(m.config().capacity[t], 0);
    std::array<SlotIndex, kNumTiers> used{}, cached{};
    for (BlockId b : resident) {
      const BlockInfo bi = m.block_info(b);
      ASSERT_TRUE(in_range(bi.where)) << "block " << b << " outside the tiers";
      const int t = static_cast<int>(bi.where.tier);
      ASSERT_FALSE(owned[t][bi.where.slot])
          << "slot " << tier_name(bi.where.tier) << "/" << bi.where.slot << " owned twice";
      owned[t][bi.where.slot] = 1;
      ++used[t];
      if (bi.refs == 0) ++cached[t];
      pos_[b] = static_cast<int>(info_.size());
      info_.push_back(bi);
    }
    auto info_of = [&](BlockId b) -> const BlockInfo* {
      return b < pos_.size() && pos_[b] >= 0 ? &info_[pos_[b]] : nullptr;
    };

    // Tables against the reference; references counted from the tables.
    refs_.assign(info_.size(), 0);
    protected_.assign(info_.size(), 0);
    std::uint64_t unused = 0;
    for (const auto& [id, tokens] : ref_->seqs) {
      const BlockTable t = m.block_table(id);
      ASSERT_EQ(t.tokens, tokens.size());
      ASSERT_EQ(t.blocks.size(), ref_->blocks_of(tokens.size()));
      const std::vector<Hash128> hashes = ref_->full_hashes(tokens);
      const std::size_t n = t.blocks.size();
      const std::uint32_t last = n == 0 ? 0 : tokens.size() - (n - 1) * bt;
      ASSERT_EQ(t.last_block_tokens, last);
      std::array<std::size_t, kNumTiers> per_tier{};
      for (std::size_t i = 0; i < n; ++i) {
        const BlockTableEntry& e = t.blocks[i];
        const BlockInfo* bi = info_of(e.block);
        ASSERT_TRUE(bi) << "table entry for a block that is not resident";
        ASSERT_EQ(e.where, bi->where);
        ASSERT_EQ(e.tokens, i + 1 < n ? bt : last);
        ASSERT_EQ(bi->tokens, e.tokens);
        if (i < hashes.size()) {
          ASSERT_TRUE(bi->full);
          ASSERT_EQ(bi->hash, hashes[i]) << "seq " << id << " block " << i << " hash";
        } else {
          ASSERT_FALSE(bi->full);
          unused += bt - e.tokens;
        }
        ++refs_[pos_[e.block]];
        if (i < m.config().sink_blocks || i + m.config().window_blocks >= n) {
          protected_[pos_[e.block]] = 1;
        }
        // Per-tier views list the same blocks in order.
        const TierBlocks& tb = t.tier(e.where.tier);
        const std::size_t k = per_tier[static_cast<int>(e.where.tier)]++;
        ASSERT_LT(k, tb.positions.size());
        ASSERT_EQ(tb.positions[k], i);
        ASSERT_EQ(tb.slots[k], e.where.slot);
      }
      for (int tr = 0; tr < kNumTiers; ++tr) ASSERT_EQ(t.tiers[tr].slots.size(), per_tier[tr]);
    }
    std::uint64_t live = 0;
    for (std::size_t i = 0; i < info_.size(); ++i) {
      const BlockInfo& bi = info_[i];
      ASSERT_EQ(bi.refs, refs_[i]) << "refcount of block " << bi.id;
      live += refs_[i] > 0;
      if (bi.refs == 0) {
        ASSERT_TRUE(bi.full) << "a cached block must be full";
        ASSERT_TRUE(m.find_cached(bi.hash).has_value());
      }
    }

    // Budgets and statistics.
    for (int t = 0; t < kNumTiers; ++t) {
      const TierStats& ts = st.tiers[t];
      ASSERT_EQ(ts.present, m.tier_present(static_cast<Tier>(t)));
      ASSERT_EQ(ts.used, used[t]);
      ASSERT_EQ(ts.cached, cached[t]);
      ASSERT_LE(ts.used, ts.budget) << tier_name(static_cast<Tier>(t)) << " over budget";
      ASSERT_EQ(ts.budget, m.budget(static_cast<Tier>(t)));
    }
    ASSERT_EQ(st.live_blocks, live);
    ASSERT_EQ(st.unused_tokens, unused);
    ASSERT_LE(unused, ref_->seqs.size() * (bt - 1)) << "more than one partial block a sequence";
    const double frag = live == 0 ? 0.0 : double(unused) / double(live * bt);
    ASSERT_DOUBLE_EQ(st.internal_fragmentation, frag);
    max_fragmentation = std::max(max_fragmentation, frag);
    fragmentation_sum += frag;
    ++steps;

    // Sink and window blocks on the GPU while the budget allows.
    std::size_t p_all = 0, p_gpu = 0;
    for (std::size_t i = 0; i < info_.size(); ++i) {
      p_all += protected_[i];
      p_gpu += protected_[i] && info_[i].where.tier == Tier::kGpu;
    }
    const std::size_t gpu_budget = m.budget(Tier::kGpu);
    if (p_gpu != std::min(p_all, gpu_budget)) {
      // Allowed only when no swap is possible: the GPU and every tier below it are full of
      // blocks in use.
      bool stuck = used[0] == gpu_budget && cached[0] == 0;
      for (int t = 1; t < kNumTiers; ++t) {
        if (!m.tier_present(static_cast<Tier>(t))) continue;
        stuck = stuck && used[t] == m.budget(static_cast<Tier>(t)) && cached[t] == 0;
      }
      ASSERT_TRUE(stuck) << p_gpu << " of " << p_all << " sink/window blocks on the GPU (budget "
                         << gpu_budget << ") although a swap was possible";
      ++stuck_steps;
    }

    // The plans applied to the previous slot contents give the new tables.
    for (const BlockInfo& bi : info_) {
      BlockId& slot = at(bi.where);
      if (slot == bi.id) continue;
      ASSERT_FALSE(known(bi.id) || std::count(moved_new_.begin(), moved_new_.end(), bi.id))
          << "block " << bi.id << " is at " << tier_name(bi.where.tier) << "/" << bi.where.slot
          << " but the plans never put it there";
      slot = bi.id;  // a new block: its producer writes its bytes there
    }
    known_.assign(pos_.size(), 0);
    for (const BlockInfo& bi : info_) known_[bi.id] = 1;
    moved_new_.clear();

    // The disk catalog holds exactly the full blocks on disk.
    if (disk_) {
      std::size_t on_disk = 0;
      for (const BlockInfo& bi : info_) {
        if (bi.where.tier != Tier::kDisk || !bi.full) continue;
        ++on_disk;
        auto it = disk_->by_slot().find(bi.where.slot);
        ASSERT_TRUE(it != disk_->by_slot().end() && it->second == bi.hash)
            << "full block " << bi.id << " in disk slot " << bi.where.slot << " not published";
      }
      ASSERT_EQ(disk_->by_slot().size(), on_disk) << "stale disk catalog entries";
    }
  }

  // After a restart only disk slots keep their bytes: each catalog entry must be the block that
  // was there, by hash (as seen by the check_all() just before). Block ids restart, so the
  // simulation is rebuilt from the new manager.
  void restart(const BlockManager& m) {
    m_ = &m;
    std::array<std::vector<BlockId>, kNumTiers> fresh;
    for (int t = 0; t < kNumTiers; ++t) fresh[t].assign(m.config().capacity[t], 0);
    known_.clear();
    for (BlockId b : m.resident_blocks()) {
      const BlockInfo bi = m.block_info(b);
      ASSERT_EQ(bi.where.tier, Tier::kDisk);
      const BlockId old = at(bi.where);
      ASSERT_TRUE(old < pos_.size() && pos_[old] >= 0 && info_[pos_[old]].full)
          << "disk slot " << bi.where.slot << " held no full block";
      ASSERT_EQ(info_[pos_[old]].hash, bi.hash) << "disk slot " << bi.where.slot;
      fresh[2][bi.where.slot] = b;
      if (known_.size() <= b) known_.resize(b + 1, 0);
      known_[b] = 1;
    }
    sim_ = fresh;
  }

  // Hashes of full blocks of live sequences: prefix lookups must always find these.
  std::set<Hash128> live_full_hashes() const {
    std::set<Hash128> out;
    for (const auto& [id, tokens] : ref_->seqs) {
      for (const Hash128& h : ref_->full_hashes(tokens)) out.insert(h);
    }
    return out;
  }

  double max_fragmentation = 0.0;
  double fragmentation_sum = 0.0;
  std::uint64_t steps = 0;
  std::uint64_t stuck_steps = 0;

 private:
  bool in_range(SlotRef r) const {
    const int t = static_cast<int>(r.tier);
    return t >= 0 && t < kNumTiers && r.slot < sim_[t].size();
  }
  BlockId& at(SlotRef r) { return sim_[static_cast<int>(r.tier)][r.slot]; }
  bool known(BlockId b) const { return b < known_.size() && known_[b]; }

  const BlockManager* m_;
  ReferenceModel* ref_;
  const InMemoryDiskIndexForTests* disk_;
  std::array<std::vector<BlockId>, kNumTiers> sim_;  // [tier][slot] simulated contents, 0 = none
  std::vector<std::uint8_t> known_;                  // [block] resident after the last step
  std::vector<BlockId> moved_new_;                   // new this step, moved or copied by its plan
  // Scratch of check_all(), kept to avoid allocations.
  std::vector<SeqId> ids_;
  std::vector<BlockInfo> info_;
  std::vector<int> pos_;  // [block] index into info_, -1 = not resident
  std::vector<std::uint32_t> refs_;
  std::vector<std::uint8_t> protected_;
};

}  // namespace kvtier::testing
