#include "kvtier/transfer/pool_view.h"

#include <string>

#include "kvtier/core/error.h"

namespace kvtier {

PoolView view_of(const SlotPool& pool) {
  PoolView v;
  v.tier = pool.tier();
  v.kind = memory_kind_of(pool.tier());
  v.base = pool.base();
  v.slot_bytes = pool.slot_bytes();
  v.slots = pool.slots();
  return v;
}

PoolView view_of(const SlotPool& pool, const SlotAllocator& slots) {
  if (slots.tier() != pool.tier() || slots.capacity() != pool.slots()) {
    throw InvalidArgument(std::string("view of the ") + tier_name(pool.tier()) + " pool (" +
                          std::to_string(pool.slots()) +
                          " slots): the slot allocator given is of " + tier_name(slots.tier()) +
                          " with " + std::to_string(slots.capacity()) +
                          " slots; expected the allocator of this pool");
  }
  PoolView v = view_of(pool);
  v.owned = [&slots](SlotIndex s) { return slots.is_used(s); };
  return v;
}

}  // namespace kvtier
