#include "kvtier/transfer/disk_block_index.h"

namespace kvtier {

std::vector<DiskIndex::Entry> DiskBlockIndex::entries() const {
  const auto full = static_cast<std::uint32_t>(store_.geometry().block_tokens);
  std::vector<Entry> out;
  for (const DiskEntry& e : store_.entries()) {
    if (e.tokens == full) out.push_back(Entry{e.hash, e.slot});
  }
  return out;
}

// The write that lands the block on disk publishes it in the store (see the header).
void DiskBlockIndex::publish(const Hash128&, SlotIndex) noexcept {}

// The copy on disk stays valid until its slot is rewritten (see the header).
void DiskBlockIndex::remove(const Hash128&, SlotIndex) noexcept {}

}  // namespace kvtier
