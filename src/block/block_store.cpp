// BlockManager internals: blocks, their slots and the prefix index. Every slot change goes
// through place / move / drop, which keep the allocators, owner_ maps, cached_ counts, the plan
// and the disk index in step.
#include <string>

#include "kvtier/block/block_manager.h"
#include "kvtier/core/error.h"

namespace kvtier {

BlockManager::Block& BlockManager::block(BlockId id) {
  auto it = blocks_.find(id);
  KVT_CHECK(it != blocks_.end(), "unknown block " + std::to_string(id));
  return it->second;
}

const BlockManager::Block& BlockManager::block(BlockId id) const {
  auto it = blocks_.find(id);
  KVT_CHECK(it != blocks_.end(), "unknown block " + std::to_string(id));
  return it->second;
}

SlotIndex BlockManager::used(Tier t) const {
  const auto& a = slots_[static_cast<int>(t)];
  return a ? a->used() : 0;
}

BlockId BlockManager::new_block(std::uint32_t tokens, BlockId copy_from) {
  const BlockId id = next_block_++;
  Block b;
  b.refs = 1;
  b.tokens = tokens;
  b.copy_from = copy_from;
  b.fresh = true;
  blocks_.emplace(id, b);
  unplaced_.push_back(id);
  attributes_dirty_ = true;
  return id;
}

void BlockManager::place(BlockId id, Tier tier) {
  Block& b = block(id);
  KVT_CHECK(b.where.slot == kNoSlot, "block " + std::to_string(id) + " is already placed");
  KVT_CHECK(used(tier) < budget(tier),
            std::string("placing a block over budget in ") + tier_name(tier));
  const int t = static_cast<int>(tier);
  b.where = SlotRef{tier, slots_[t]->allocate()};
  owner_[t][b.where.slot] = id;
  if (b.copy_from != 0) {
    plan_.push_back(SlotMove{SlotMove::Kind::kCopy, id, block(b.copy_from).where, b.where, key_of(id, b), b.tokens});
    ++copies_;
    b.copy_from = 0;
  }
  if (tier == Tier::kDisk && full(b) && disk_) disk_->publish(b.hash, b.where.slot);
}

void BlockManager::move(BlockId id, Tier to) {
  Block& b = block(id);
  const SlotRef from = b.where;
  KVT_CHECK(from.slot != kNoSlot && from.tier != to, "bad move of block " + std::to_string(id));
  KVT_CHECK(used(to) < budget(to), std::string("moving a block over budget into ") + tier_name(to));
  const int f = static_cast<int>(from.tier), t = static_cast<int>(to);
  const SlotRef dest{to, slots_[t]->allocate()};
  if (from.tier == Tier::kDisk && full(b) && disk_) disk_->remove(b.hash, from.slot);
  owner_[f][from.slot] = 0;
  slots_[f]->free(from.slot);
  owner_[t][dest.slot] = id;
  if (b.refs == 0) {
    --cached_[f];
    ++cached_[t];
  }
  b.where = dest;
  plan_.push_back(SlotMove{SlotMove::Kind::kMove, id, from, dest, key_of(id, b), b.tokens});
  ++moves_;
  if (to == Tier::kDisk && full(b) && disk_) disk_->publish(b.hash, dest.slot);
}

void BlockManager::drop(BlockId id, bool cache_loss) {
  Block& b = block(id);
  KVT_CHECK(b.refs == 0, "dropping block " + std::to_string(id) + " still in use");
  if (b.where.slot != kNoSlot) {
    const int t = static_cast<int>(b.where.tier);
    if (b.where.tier == Tier::kDisk && full(b) && disk_) disk_->remove(b.hash, b.where.slot);
    owner_[t][b.where.slot] = 0;
    slots_[t]->free(b.where.slot);
    --cached_[t];
  }
  if (full(b)) index_erase(id);
  blocks_.erase(id);
  if (cache_loss) ++drops_;
}

void BlockManager::reference(BlockId id) {
  Block& b = block(id);
  if (b.refs++ == 0) --cached_[static_cast<int>(b.where.tier)];
  attributes_dirty_ = true;
}

void BlockManager::release(BlockId id) {
  Block& b = block(id);
  KVT_CHECK(b.refs > 0, "releasing unreferenced block " + std::to_string(id));
  attributes_dirty_ = true;
  if (--b.refs > 0) return;
  // Keep a full block for prefix reuse unless another block already holds the same prefix.
  const bool keep = full(b) && b.where.slot != kNoSlot && index_.count(b.hash) == 1;
  ++cached_[static_cast<int>(b.where.tier)];
  b.released = ++clock_;
  if (!keep) drop(id, /*cache_loss=*/false);  // nothing reusable is lost
}

void BlockManager::on_full(BlockId id) {
  Block& b = block(id);
  index_.emplace(b.hash, id);
  if (b.where.slot != kNoSlot && b.where.tier == Tier::kDisk && disk_) {
    disk_->publish(b.hash, b.where.slot);
  }
}

void BlockManager::index_erase(BlockId id) {
  const Block& b = block(id);
  auto [lo, hi] = index_.equal_range(b.hash);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == id) {
      index_.erase(it);
      return;
    }
  }
  KVT_CHECK(false, "block " + std::to_string(id) + " missing from the prefix index");
}

std::optional<BlockId> BlockManager::find_cached(const Hash128& hash) const {
  std::optional<BlockId> best;
  auto [lo, hi] = index_.equal_range(hash);
  for (auto it = lo; it != hi; ++it) {
    const Block& b = block(it->second);
    if (b.where.slot == kNoSlot) continue;
    if (!best) {
      best = it->second;
      continue;
    }
    const Block& cur = block(*best);
    if (b.where.tier < cur.where.tier || (b.where.tier == cur.where.tier && it->second < *best)) {
      best = it->second;
    }
  }
  return best;
}

void BlockManager::load_disk_index() {
  const int d = static_cast<int>(Tier::kDisk);
  for (const DiskIndex::Entry& e : disk_->entries()) {
    if (e.slot >= slots_[d]->capacity()) {
      throw Corruption("disk index: block " + e.hash.hex() + " in disk slot " +
                       std::to_string(e.slot) + "; expected a slot below the disk capacity of " +
                       std::to_string(slots_[d]->capacity()));
    }
    if (slots_[d]->is_used(e.slot)) {
      throw Corruption("disk index: two blocks in disk slot " + std::to_string(e.slot) +
                       "; expected one block a slot");
    }
    slots_[d]->claim(e.slot);
    const BlockId id = next_block_++;
    Block b;
    b.where = SlotRef{Tier::kDisk, e.slot};
    b.tokens = config_.geometry.block_tokens;
    b.hash = e.hash;
    blocks_.emplace(id, b);
    owner_[d][e.slot] = id;
    ++cached_[d];
    index_.emplace(e.hash, id);
  }
}

Hash128 BlockManager::key_of(BlockId id, const Block& b) const {
  if (full(b)) return b.hash;
  // Partial: the id, seeded with a hash of the root that no chain of prefix hashes reaches (but
  // by a 128-bit collision).
  static constexpr std::uint64_t kTag = 0x6b76746965722d70ull;  // "kvtier-p"
  const Hash128 seed = hash128(&kTag, sizeof(kTag), root_);
  const std::uint64_t words[2] = {id, b.tokens};
  return hash128(words, sizeof(words), seed);
}

Hash128 BlockManager::disk_key(BlockId id) const {
  auto it = blocks_.find(id);
  if (it == blocks_.end()) {
    throw InvalidArgument("disk_key: unknown block " + std::to_string(id) + "; expected a resident block id");
  }
  return key_of(id, it->second);
}

BlockInfo BlockManager::block_info(BlockId id) const {
  auto it = blocks_.find(id);
  if (it == blocks_.end()) {
    throw InvalidArgument("block_info: unknown block " + std::to_string(id) +
                          "; expected a resident block id");
  }
  const Block& b = it->second;
  return BlockInfo{id, b.where, b.refs, b.tokens, full(b), b.hash};
}

}  // namespace kvtier
