// BlockManager: construction, sequence operations, tables and statistics.
#include "kvtier/block/block_manager.h"

#include <algorithm>
#include <string>
#include <utility>

#include "kvtier/core/error.h"

namespace kvtier {

BlockManager::BlockManager(BlockManagerConfig config, std::unique_ptr<EvictionPolicy> policy,
                           DiskIndex* disk)
    : config_(std::move(config)),
      policy_(policy ? std::move(policy) : make_lru_eviction_policy()),
      disk_(disk) {
  config_.geometry.validate();
  root_ = prefix_root(config_.geometry);
  if (config_.capacity[0] == 0) {
    throw InvalidArgument(
        "block manager: gpu capacity 0 slots; expected at least 1 (the GPU tier "
        "is required)");
  }
  for (int t = 0; t < kNumTiers; ++t) {
    const char* name = tier_name(static_cast<Tier>(t));
    const SlotIndex cap = config_.capacity[t];
    SlotIndex& b = config_.budget[t];
    if (cap == 0) {
      if (b != 0) {
        throw InvalidArgument(std::string("block manager: ") + name + " budget " +
                              std::to_string(b) +
                              " slots for an absent tier (capacity 0); "
                              "expected 0");
      }
      continue;
    }
    slots_[t].emplace(cap, static_cast<Tier>(t));  // InvalidArgument above kMaxCapacity
    owner_[t].assign(cap, 0);
    if (b == 0) b = cap;
    if (b > cap) {
      throw InvalidArgument(std::string("block manager: ") + name + " budget " + std::to_string(b) +
                            " slots exceeds its capacity of " + std::to_string(cap) +
                            "; expected 1.." + std::to_string(cap));
    }
    budget_[t] = b;
  }
  const std::uint64_t pinned =
      static_cast<std::uint64_t>(config_.sink_blocks) + config_.window_blocks;
  if (pinned > budget_[0]) {
    throw InvalidArgument("block manager: sink_blocks + window_blocks = " + std::to_string(pinned) +
                          " exceeds the gpu budget of " + std::to_string(budget_[0]) +
                          " slots; expected at most the gpu budget");
  }
  if (disk_) {
    if (!tier_present(Tier::kDisk)) {
      throw InvalidArgument(
          "block manager: a disk index was given but the disk capacity is 0 "
          "slots; expected a disk tier");
    }
    load_disk_index();
    rebalance();  // a catalog larger than the disk budget loses its oldest entries
  }
}

BlockManager::Sequence& BlockManager::live(SeqId seq, const char* op) {
  return const_cast<Sequence&>(std::as_const(*this).live(seq, op));
}

const BlockManager::Sequence& BlockManager::live(SeqId seq, const char* op) const {
  auto it = seqs_.find(seq);
  if (it != seqs_.end()) return it->second;
  if (seq != 0 && seq < next_seq_) {
    throw InvalidArgument(std::string(op) + ": sequence " + std::to_string(seq) +
                          " was freed; expected a live sequence");
  }
  throw InvalidArgument(std::string(op) + ": unknown sequence " + std::to_string(seq) +
                        "; expected an id returned by create() or fork()");
}

std::uint64_t BlockManager::new_blocks_for(const Sequence& s, std::uint64_t tokens) const {
  const std::uint64_t bt = config_.geometry.block_tokens;
  const std::uint64_t before = (s.tokens + bt - 1) / bt;
  const std::uint64_t after = (s.tokens + tokens + bt - 1) / bt;
  return after - before;
}

void BlockManager::append_tokens(Sequence& s, std::span<const TokenId> tokens) {
  const std::uint32_t bt = config_.geometry.block_tokens;
  for (const TokenId tok : tokens) {
    if (s.tokens % bt == 0) s.blocks.push_back(new_block(0, 0));
    const BlockId id = s.blocks.back();
    Block& b = block(id);
    ++b.tokens;
    s.tail.push_back(tok);
    ++s.tokens;
    if (b.tokens == bt) {
      b.hash = block_hash(s.chain, s.tail);
      s.chain = b.hash;
      s.tail.clear();
      on_full(id);
    }
  }
}

BlockManager::Created BlockManager::create(std::span<const TokenId> prompt) {
  const std::size_t bt = config_.geometry.block_tokens;
  const std::size_t full_blocks = prompt.size() / bt;
  // Look the prompt's full blocks up without changing anything.
  std::vector<BlockId> reused;
  std::vector<Hash128> hashes;
  Hash128 parent = root_;
  for (std::size_t i = 0; i < full_blocks; ++i) {
    parent = block_hash(parent, prompt.subspan(i * bt, bt));
    hashes.push_back(parent);
    if (reused.size() != i) continue;
    if (auto id = find_cached(parent)) reused.push_back(*id);
  }
  TierCounts revived{};
  for (BlockId id : reused) {
    const Block& b = block(id);
    if (b.refs == 0) ++revived[static_cast<int>(b.where.tier)];
  }
  const std::uint64_t total_blocks = (prompt.size() + bt - 1) / bt;
  require_fits(budget_, revived, static_cast<std::int64_t>(total_blocks - reused.size()), "create");

  const SeqId id = next_seq_++;
  Sequence& s = seqs_[id];
  s.chain = root_;
  for (std::size_t i = 0; i < reused.size(); ++i) {
    reference(reused[i]);
    s.blocks.push_back(reused[i]);
    s.chain = hashes[i];
    s.tokens += bt;
  }
  append_tokens(s, prompt.subspan(reused.size() * bt));
  lookups_ += full_blocks;
  hits_ += reused.size();
  touch(s);
  rebalance();
  return Created{id, reused.size() * bt};
}

void BlockManager::append(SeqId seq, std::span<const TokenId> tokens) {
  Sequence& s = live(seq, "append");
  require_fits(budget_, TierCounts{}, static_cast<std::int64_t>(new_blocks_for(s, tokens.size())),
               "append");
  append_tokens(s, tokens);
  touch(s);
  rebalance();
}

SeqId BlockManager::fork(SeqId parent) {
  Sequence& p = live(parent, "fork");
  const bool partial = !p.tail.empty();
  require_fits(budget_, TierCounts{}, partial ? 1 : 0, "fork");
  const SeqId id = next_seq_++;
  Sequence& c = seqs_[id];  // std::map: `p` stays valid
  c.tokens = p.tokens;
  c.chain = p.chain;
  c.tail = p.tail;
  const std::size_t shared = p.blocks.size() - (partial ? 1 : 0);
  for (std::size_t i = 0; i < shared; ++i) {
    reference(p.blocks[i]);
    c.blocks.push_back(p.blocks[i]);
  }
  if (partial) {
    c.blocks.push_back(new_block(static_cast<std::uint32_t>(p.tail.size()), p.blocks.back()));
  }
  touch(p);
  touch(c);
  rebalance();
  return id;
}

void BlockManager::free(SeqId seq) {
  Sequence& s = live(seq, "free");
  // Release the last block first so the prefix blocks are the most recently released.
  std::vector<BlockId> blocks = std::move(s.blocks);
  seqs_.erase(seq);
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) release(*it);
  attributes_dirty_ = true;
  rebalance();
}

std::vector<SlotMove> BlockManager::take_plan() {
  std::vector<SlotMove> out;
  out.swap(plan_);
  return out;
}

std::uint64_t BlockManager::tokens(SeqId seq) const { return live(seq, "tokens").tokens; }

std::vector<SeqId> BlockManager::sequences() const {
  std::vector<SeqId> out;
  out.reserve(seqs_.size());
  for (const auto& [id, s] : seqs_) out.push_back(id);
  return out;
}

std::vector<BlockId> BlockManager::resident_blocks() const {
  std::vector<BlockId> out;
  for (const auto& [id, b] : blocks_) {
    if (b.where.slot != kNoSlot) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

BlockTable BlockManager::block_table(SeqId seq) const {
  const Sequence& s = live(seq, "block_table");
  BlockTable t;
  t.seq = seq;
  t.tokens = s.tokens;
  t.block_tokens = config_.geometry.block_tokens;
  t.blocks.reserve(s.blocks.size());
  for (std::size_t i = 0; i < s.blocks.size(); ++i) {
    const Block& b = block(s.blocks[i]);
    t.blocks.push_back(BlockTableEntry{s.blocks[i], b.where, b.tokens, key_of(s.blocks[i], b)});
    TierBlocks& tb = t.tiers[static_cast<int>(b.where.tier)];
    tb.positions.push_back(static_cast<std::uint32_t>(i));
    tb.slots.push_back(b.where.slot);
  }
  t.last_block_tokens = t.blocks.empty() ? 0 : t.blocks.back().tokens;
  return t;
}

BlockManagerStats BlockManager::stats() const {
  BlockManagerStats st;
  for (int t = 0; t < kNumTiers; ++t) {
    TierStats& ts = st.tiers[t];
    if (!slots_[t]) continue;
    ts.present = true;
    ts.capacity = slots_[t]->capacity();
    ts.budget = budget_[t];
    ts.used = slots_[t]->used();
    ts.cached = cached_[t];
    ts.peak_used = slots_[t]->peak_used();
  }
  st.sequences = seqs_.size();
  const std::uint32_t bt = config_.geometry.block_tokens;
  for (const auto& [id, b] : blocks_) {
    if (b.refs == 0) {
      ++st.cached_blocks;
      continue;
    }
    ++st.live_blocks;
    st.unused_tokens += bt - b.tokens;
  }
  st.allocated_tokens = st.live_blocks * bt;
  if (st.allocated_tokens) {
    st.internal_fragmentation = static_cast<double>(st.unused_tokens) / st.allocated_tokens;
  }
  st.prefix_blocks_looked_up = lookups_;
  st.prefix_blocks_reused = hits_;
  if (lookups_) st.prefix_hit_rate = static_cast<double>(hits_) / lookups_;
  st.moves_planned = moves_;
  st.copies_planned = copies_;
  st.blocks_dropped = drops_;
  return st;
}

}  // namespace kvtier
