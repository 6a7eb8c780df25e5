// What the block manager needs from the disk tier's persistent catalog: which full blocks (by
// prefix hash) are stored in which disk slot, so that after a restart a new sequence's prefix can
// reuse blocks on disk. The disk store (a later part of kvtier) implements it next to the file
// that holds the slot bytes; tests use InMemoryDiskIndexForTests (tests/cpp/block/).
//
// Protocol, all calls from the BlockManager's owner thread:
// - entries() is read once, when a BlockManager starts with this index: every entry becomes a
//   cached (refcount 0) block on disk, reusable by prefix, evictable under pressure.
// - publish(hash, slot) is called when the manager *plans* to have the full block `hash` in disk
//   slot `slot` (a SlotMove to that slot in the plan it hands out, or a block that became full
//   while it lives there). The bytes are there only once the transfer engine has carried out that
//   plan: an implementation must not make the entry durable before then.
// - remove(hash, slot) is called when the manager plans the block out of that slot (moved up a
//   tier or dropped). The slot may be the destination of a later move in the same plan.
// Only full blocks are published: partial blocks have no identity yet. publish() and remove() must
// not throw (the manager calls them in the middle of a placement): a store that fails to record
// an entry reports it through its own I/O path and may simply lose the entry.
#pragma once

#include <vector>

#include "kvtier/block/tier.h"
#include "kvtier/core/hash.h"

namespace kvtier {

class DiskIndex {
 public:
  struct Entry {
    Hash128 hash;
    SlotIndex slot = kNoSlot;
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  virtual ~DiskIndex() = default;
  virtual std::vector<Entry> entries() const = 0;
  virtual void publish(const Hash128& hash, SlotIndex slot) = 0;
  virtual void remove(const Hash128& hash, SlotIndex slot) = 0;
};

}  // namespace kvtier
