// The block manager: which blocks each sequence has, where every block lives (GPU, host, disk
// slot), which blocks are shared, and what has to move. Metadata only: it never touches KV bytes.
// Every decision comes out as an explicit plan of SlotMoves (take_plan()) and as per-sequence
// block tables (block_table()) for the transfer engine and the attention layer.
//
// Sequences: create (optionally from a prompt whose full blocks are reused from the prefix cache,
// in any tier), append tokens (a block is allocated when the first token that needs it arrives, so
// at most the last block of a sequence is partial), fork (full blocks are shared copy-on-write;
// a partial last block is copied with a SlotMove::Kind::kCopy so both sequences can append), free.
// Full blocks are immutable and identified by their chained prefix hash (prefix_hash.h); a freed
// sequence's full blocks stay resident as cached blocks (refcount 0) until space is needed.
//
// Placement, after every operation:
// 1. Every tier holds at most its budget of blocks (budgets in slots, settable at run time).
//    Overflow moves to the next tier down (GPU -> host -> disk), chosen by the EvictionPolicy; at
//    the bottom, cached blocks are dropped. (Only when a lower budget shrinks under blocks in use
//    and nothing below has room does a block move up.) Blocks that live sequences need beyond the
//    sum of all budgets give OutOfMemory, and the operation then changes nothing.
// 2. New blocks are placed on the GPU, evicting as in 1: sink/window blocks first; a new block
//    that is not protected only displaces an older unprotected block, else it starts in the
//    highest lower tier with room.
// 3. The first `sink_blocks` and last `window_blocks` blocks of every live sequence (protected
//    blocks) are on the GPU while the budget allows: protected blocks on the GPU =
//    min(protected blocks, GPU budget), unless the GPU and every tier below it are full with
//    blocks in use (no room anywhere to swap a block out). Protected blocks are brought back to
//    the GPU by moving non-protected blocks down.
// Appending writes tokens into the last block wherever it lives; with window_blocks >= 1 it is
// on the GPU while the budget allows.
//
// Plans: operations append moves to a pending plan; take_plan() hands it out. Plans must be carried
// out in the order given, both within one plan and across plans: a slot freed by one move can be
// the destination of a later one. kMove frees `from`; kCopy keeps it. A new block normally appears
// in no move: its producer writes its bytes at its table slot after the plan has been carried out
// (rarely, bringing sink/window blocks back moves a new block down within the same operation; that
// move carries no data yet and is harmless). A block dropped from the cache appears in no move.
//
// Threading: not thread-safe. One owner thread calls every member (including the const ones);
// plans, tables and statistics are plain values that may be handed to other threads.
//
// Cost: an operation costs O(tokens it adds) and, once blocks live below the GPU, O(live sequences
// x (sink + window)) to check sink/window placement; when it has to choose victims, one pass over
// all blocks and live tables (eviction attributes) plus O(slots of the tier) per victim. Measured
// (RelWithDebInfo, 32 sequences x 8192 tokens, 16 tokens a block, GPU 4096 slots): ~13 us an
// append in decode, ~42 us a block for prompts that displace older blocks. An incremental
// eviction index is the next step if profiles ask for it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "kvtier/block/block_table.h"
#include "kvtier/block/disk_index.h"
#include "kvtier/block/eviction_policy.h"
#include "kvtier/block/prefix_hash.h"
#include "kvtier/block/slot_allocator.h"
#include "kvtier/block/tier.h"
#include "kvtier/core/geometry.h"

namespace kvtier {

struct BlockManagerConfig {
  Geometry geometry;
  // Slots of each tier (indexed by Tier), e.g. SlotPool::slots(); 0 = the tier is absent. The GPU
  // tier must be present.
  std::array<SlotIndex, kNumTiers> capacity{};
  // Budget of each present tier in slots, 1..capacity; 0 = the whole capacity.
  std::array<SlotIndex, kNumTiers> budget{};
  std::uint32_t sink_blocks = 1;    // first blocks of a sequence kept on the GPU
  std::uint32_t window_blocks = 2;  // last blocks of a sequence kept on the GPU
};

class BlockManager {
 public:
  // Throws InvalidArgument for a bad geometry, an absent or zero GPU tier, budgets outside
  // 1..capacity, sink_blocks + window_blocks above the GPU budget, or a disk index without a disk
  // tier; Corruption for a disk index entry outside the disk tier or two entries in one slot.
  // `policy` defaults to LruEvictionPolicy. `disk` (may be null) must outlive the manager.
  explicit BlockManager(BlockManagerConfig config, std::unique_ptr<EvictionPolicy> policy = nullptr,
                        DiskIndex* disk = nullptr);
  BlockManager(const BlockManager&) = delete;
  BlockManager& operator=(const BlockManager&) = delete;

  struct Created {
    SeqId seq = 0;
    std::uint64_t reused_tokens = 0;  // leading tokens whose KV is already in reused blocks
  };
  // New sequence holding `prompt`. Every leading full block whose chained hash is cached (in any
  // tier) is reused; the caller computes KV for tokens [reused_tokens, prompt.size()). Callers
  // that need the last prompt token's logits create with all but it and append it.
  Created create(std::span<const TokenId> prompt = {});
  // Appends tokens, allocating blocks as they fill. InvalidArgument for a freed or unknown
  // sequence; OutOfMemory when the new blocks do not fit.
  void append(SeqId seq, std::span<const TokenId> tokens);
  // New sequence sharing all of `parent`'s tokens (full blocks shared, partial block copied).
  SeqId fork(SeqId parent);
  // Drops the sequence; its full blocks stay cached while nothing needs their slots.
  void free(SeqId seq);
  // Changes a tier's budget (1..capacity slots), moving blocks to respect it. InvalidArgument for
  // an absent tier or a budget out of range (for the GPU: below sink + window); OutOfMemory
  // (nothing changed) when the blocks in use would not fit.
  void set_budget(Tier tier, SlotIndex slots);
  // Brings the sequence's blocks to the GPU as far as free GPU budget and cached GPU blocks allow
  // (never evicting blocks that live sequences use), its ends first, then its blocks still on disk
  // to the host as far as free host budget allows; marks it recently used.
  void promote(SeqId seq);

  // The moves planned since the last call, in the order they must be carried out.
  std::vector<SlotMove> take_plan();
  BlockTable block_table(SeqId seq) const;
  BlockManagerStats stats() const;

  // Introspection.
  const BlockManagerConfig& config() const { return config_; }
  const EvictionPolicy& policy() const { return *policy_; }
  bool tier_present(Tier t) const { return slots_[static_cast<int>(t)].has_value(); }
  SlotIndex budget(Tier t) const { return budget_[static_cast<int>(t)]; }
  bool is_live(SeqId seq) const { return seqs_.contains(seq); }
  std::uint64_t tokens(SeqId seq) const;
  std::vector<SeqId> sequences() const;          // live, ascending
  std::vector<BlockId> resident_blocks() const;  // every block holding a slot, ascending
  BlockInfo block_info(BlockId block) const;     // InvalidArgument for an unknown block
  // The block the prefix cache would hand out for `hash` (highest tier first), if any.
  std::optional<BlockId> find_cached(const Hash128& hash) const;
  // The name a disk tier stores the block under: the chained prefix hash of a full block; for a
  // partial block (no identity yet) a key derived from the manager's root hash and the block id,
  // distinct from every prefix hash. InvalidArgument for an unknown block.
  Hash128 disk_key(BlockId block) const;
  Hash128 root_hash() const { return root_; }

 private:
  struct Block {
    SlotRef where;  // slot == kNoSlot while unplaced (inside an operation)
    std::uint32_t refs = 0;
    std::uint32_t tokens = 0;
    Hash128 hash;                // valid when full
    BlockId copy_from = 0;       // fork: copy this block's bytes in when placed
    bool fresh = false;          // created by the running operation
    std::uint64_t released = 0;  // clock when refs dropped to 0
    // Eviction attributes, refreshed by refresh_attributes().
    bool is_protected = false;
    std::uint32_t distance = 0;
    std::uint64_t last_use = 0;
  };
  struct Sequence {
    std::vector<BlockId> blocks;
    std::vector<TokenId> tail;  // token ids of the partial last block
    std::uint64_t tokens = 0;
    Hash128 chain;  // hash of the last full block (root_ when none)
    std::uint64_t last_use = 0;
  };
  using TierCounts = std::array<std::int64_t, kNumTiers>;

  // block_manager.cpp: sequences.
  Sequence& live(SeqId seq, const char* op);
  const Sequence& live(SeqId seq, const char* op) const;
  void append_tokens(Sequence& s, std::span<const TokenId> tokens);
  std::uint64_t new_blocks_for(const Sequence& s, std::uint64_t tokens) const;
  // block_store.cpp: blocks, slots, the prefix index.
  bool full(const Block& b) const {
    return b.tokens == static_cast<std::uint32_t>(config_.geometry.block_tokens);
  }
  Block& block(BlockId id);
  const Block& block(BlockId id) const;
  BlockId new_block(std::uint32_t tokens, BlockId copy_from);
  void place(BlockId id, Tier tier);
  void move(BlockId id, Tier to);
  // Gives up a refcount-0 block and its slot; `cache_loss` counts it in blocks_dropped.
  void drop(BlockId id, bool cache_loss = true);
  void reference(BlockId id);
  void release(BlockId id);
  void on_full(BlockId id);
  void index_erase(BlockId id);
  SlotIndex used(Tier t) const;
  SlotIndex cached(Tier t) const { return cached_[static_cast<int>(t)]; }
  void load_disk_index();
  Hash128 key_of(BlockId id, const Block& b) const;
  // block_placement.cpp: budgets, eviction, promotion.
  void require_fits(const std::array<SlotIndex, kNumTiers>& budgets, const TierCounts& extra,
                    std::int64_t unplaced, const char* op) const;
  std::optional<Tier> lower(Tier t) const;
  bool can_make_room(Tier t, BlockId keep) const;
  void make_room(Tier t, BlockId keep);
  void evict_one(Tier t, BlockId keep);
  BlockId pick_victim(Tier t, bool cached_only, BlockId keep);
  void refresh_attributes();
  void rebalance();
  void enforce_budgets();
  void lift_one(Tier t);
  void place_unplaced();
  // The first tier below the GPU with free budget or a cached block to give up, if any.
  std::optional<Tier> room_below_gpu() const;
  void promote_protected();
  void touch(Sequence& s) {
    s.last_use = ++clock_;
    attributes_dirty_ = true;
  }

  BlockManagerConfig config_;
  Hash128 root_;
  std::unique_ptr<EvictionPolicy> policy_;
  DiskIndex* disk_;
  std::array<std::optional<SlotAllocator>, kNumTiers> slots_;
  std::array<SlotIndex, kNumTiers> budget_{};
  std::array<std::vector<BlockId>, kNumTiers> owner_;  // [tier][slot] -> block, 0 = free
  std::array<SlotIndex, kNumTiers> cached_{};          // refcount-0 blocks per tier
  std::unordered_map<BlockId, Block> blocks_;
  std::map<SeqId, Sequence> seqs_;
  std::unordered_multimap<Hash128, BlockId, Hash128Hasher> index_;  // full blocks by hash
  std::vector<BlockId> unplaced_;
  std::vector<SlotMove> plan_;
  std::vector<EvictionCandidate> candidates_;  // scratch of pick_victim()
  SeqId next_seq_ = 1;
  BlockId next_block_ = 1;
  std::uint64_t clock_ = 0;
  bool attributes_dirty_ = true;
  std::uint64_t lookups_ = 0, hits_ = 0, moves_ = 0, copies_ = 0, drops_ = 0;
};

}  // namespace kvtier
