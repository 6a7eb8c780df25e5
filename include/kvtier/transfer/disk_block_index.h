// The block manager's view of a disk tier (kvtier::DiskIndex, include/kvtier/block/disk_index.h)
// over a DiskStore: at start, the blocks the store found on disk become cached blocks the manager
// can reuse by prefix.
//
// - entries(): the store's published full blocks (tokens == geometry.block_tokens) as (hash,
//   slot). Partial blocks are left out: they have no prefix identity, and the manager only ever
//   publishes full ones. Read once, when a BlockManager starts with this index.
// - publish() and remove() record nothing. The store's own index is updated by the I/O that
//   carries out the manager's plan: write_async(slot, hash, ...) publishes a block once it is
//   durable on disk (replacing whatever that slot held, and any older copy of the same hash). A
//   block the manager moves up a tier or drops stays a valid, verified copy on disk until its
//   slot is rewritten; that is harmless, because blocks are content-addressed (a hash names its
//   bytes) and every read is verified, and a restart may even reuse it. Both are noexcept.
//
// Threading: like the DiskIndex protocol, calls come from the BlockManager's owner thread;
// entries() takes the store's lock, so it may run beside the store's I/O.
#pragma once

#include <vector>

#include "kvtier/block/disk_index.h"
#include "kvtier/transfer/disk_store.h"

namespace kvtier {

class DiskBlockIndex final : public DiskIndex {
 public:
  // `store` must outlive this index (and the BlockManager using it).
  explicit DiskBlockIndex(DiskStore& store) : store_(store) {}

  std::vector<Entry> entries() const override;
  void publish(const Hash128& hash, SlotIndex slot) noexcept override;
  void remove(const Hash128& hash, SlotIndex slot) noexcept override;

 private:
  DiskStore& store_;
};

}  // namespace kvtier
