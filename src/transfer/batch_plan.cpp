#include "transfer/batch_plan.h"

#include <unordered_map>

#include "kvtier/core/error.h"
#include "kvtier/core/units.h"

namespace kvtier::detail {
namespace {

std::string slot_name(const SlotRef& r) {
  return std::string(tier_name(r.tier)) + " slot " + std::to_string(r.slot);
}

}  // namespace

const PoolView& PlanBuilder::pool(Tier t) const {
  if (t == Tier::kGpu) return gpu_;
  if (t == Tier::kHost) return host_;
  throw InvalidArgument("the transfer engine moves bytes between the gpu and host tiers; the " +
                        std::string(tier_name(t)) + " tier is not handled by it");
}

void PlanBuilder::check_layer(int layer) const {
  if (layer < 0 || layer >= g_.layers) {
    throw InvalidArgument("layer " + std::to_string(layer) + " is out of range; expected 0.." +
                          std::to_string(g_.layers - 1) + " for " + g_.name);
  }
}

bool PlanBuilder::slot_ok(const SlotRef& r) const {
  const PoolView& p = pool(r.tier);
  return r.slot < p.slots && (!p.owned || p.owned(r.slot));
}

void PlanBuilder::check_slot(const SlotRef& r, const std::string& role) const {
  const PoolView& p = pool(r.tier);
  if (r.slot >= p.slots) {
    throw InvalidArgument(role + ": " + slot_name(r) + " is out of range; the " +
                          tier_name(r.tier) + " pool has " + std::to_string(p.slots) + " slots");
  }
  if (p.owned && !p.owned(r.slot)) {
    throw InvalidArgument(role + ": " + slot_name(r) +
                          " is not owned (no block is allocated there); expected a slot of the " +
                          tier_name(r.tier) + " pool that holds a block");
  }
}

void PlanBuilder::add_move(BatchPlan& plan, const SlotMove& m, int layer) const {
  const std::string role = "move of block " + std::to_string(m.block);
  check_slot(m.from, role + " from");
  check_slot(m.to, role + " to");
  if (m.from == m.to)
    throw InvalidArgument(role + ": source and destination are both " + slot_name(m.from));
  const std::size_t offset = layer < 0 ? 0 : static_cast<std::size_t>(layer) * g_.layer_bytes();
  const std::size_t bytes = layer < 0 ? g_.slot_bytes() : g_.layer_bytes();
  const Segment seg{pool(m.to.tier).slot(m.to.slot) + offset,
                    pool(m.from.tier).slot(m.from.slot) + offset, bytes};
  // Stream 0 writes the GPU tier, stream 1 the host tier.
  StreamPart& part = plan.parts[m.to.tier == Tier::kGpu ? 0 : 1];
  (m.from.tier == m.to.tier ? part.local : part.cross).push_back(seg);
  part.reads.push_back(m.from);
  part.writes.push_back(m.to);
  plan.bytes += bytes;
}

void PlanBuilder::add_gather(BatchPlan& plan, int layer, std::span<const SlotIndex> host_slots,
                             const std::byte* dst, std::size_t dst_bytes) const {
  check_layer(layer);
  const std::size_t lb = g_.layer_bytes();
  if (dst == nullptr && !host_slots.empty())
    throw InvalidArgument("gather_layer: destination is null");
  if (dst_bytes < host_slots.size() * lb) {
    throw InvalidArgument("gather_layer: destination holds " + format_size(dst_bytes) + "; " +
                          std::to_string(host_slots.size()) + " slices of " + format_size(lb) +
                          " need " + format_size(host_slots.size() * lb));
  }
  StreamPart& part = plan.parts[0];
  for (std::size_t i = 0; i < host_slots.size(); ++i) {
    const SlotRef r{Tier::kHost, host_slots[i]};
    if (!slot_ok(r)) check_slot(r, "gather of slice " + std::to_string(i));
    part.cross.push_back(
        {const_cast<std::byte*>(dst) + i * lb, host_.slot(r.slot) + layer * lb, lb});
    part.reads.push_back(r);
  }
  plan.bytes += host_slots.size() * lb;
}

void PlanBuilder::add_scatter(BatchPlan& plan, int layer, const std::byte* src,
                              std::size_t src_bytes, std::span<const SlotIndex> host_slots) const {
  check_layer(layer);
  const std::size_t lb = g_.layer_bytes();
  if (src == nullptr && !host_slots.empty()) throw InvalidArgument("scatter_layer: source is null");
  if (src_bytes < host_slots.size() * lb) {
    throw InvalidArgument("scatter_layer: source holds " + format_size(src_bytes) + "; " +
                          std::to_string(host_slots.size()) + " slices of " + format_size(lb) +
                          " need " + format_size(host_slots.size() * lb));
  }
  StreamPart& part = plan.parts[1];
  for (std::size_t i = 0; i < host_slots.size(); ++i) {
    const SlotRef r{Tier::kHost, host_slots[i]};
    if (!slot_ok(r)) check_slot(r, "scatter of slice " + std::to_string(i));
    part.cross.push_back({host_.slot(r.slot) + layer * lb, src + i * lb, lb});
    part.writes.push_back(r);
  }
  plan.bytes += host_slots.size() * lb;
}

void PlanBuilder::check_conflicts(const BatchPlan& plan) {
  // Per slot: 1 = read, 2 = written.
  std::unordered_map<std::uint64_t, int> seen;
  auto key = [](const SlotRef& r) { return (std::uint64_t(r.tier) << 32) | r.slot; };
  for (const StreamPart& p : plan.parts) {
    for (const SlotRef& w : p.writes) {
      int& s = seen[key(w)];
      if (s & 2)
        throw InvalidArgument(slot_name(w) +
                              " is written twice in one batch; expected each destination once");
      s |= 2;
    }
  }
  for (const StreamPart& p : plan.parts) {
    for (const SlotRef& r : p.reads) {
      auto it = seen.find(key(r));
      if (it != seen.end() && (it->second & 2)) {
        throw InvalidArgument(slot_name(r) +
                              " is both read and written in one batch; split it into two batches");
      }
    }
  }
}

}  // namespace kvtier::detail
