#include "pipeline/step_tables.h"

#include <cmath>
#include <cstring>
#include <string>

#include "kvtier/core/error.h"

namespace kvtier::pipeline::detail {

StepSplit split_step(std::span<const BlockTable> tables, int block_tokens, double cpu_fraction) {
  StepSplit s;
  s.cpu_fraction = cpu_fraction;
  for (Category* c : {&s.resident, &s.streamed, &s.cpu, &s.disk}) c->begin.push_back(0);
  std::vector<const BlockTableEntry*> host;
  for (const BlockTable& t : tables) {
    if (t.blocks.empty()) {
      throw InvalidArgument("decode step: sequence " + std::to_string(t.seq) +
                            " has no tokens; expected at least the newest token");
    }
    int lens[4] = {0, 0, 0, 0};
    host.clear();
    for (const BlockTableEntry& e : t.blocks) {
      if (e.where.tier == Tier::kDisk) {
        s.disk.slots.push_back(e.where.slot);
        s.disk_keys.push_back(e.key);
        lens[3] += static_cast<int>(e.tokens);
      } else if (e.where.tier == Tier::kGpu) {
        s.resident.slots.push_back(e.where.slot);
        lens[0] += static_cast<int>(e.tokens);
      } else {
        host.push_back(&e);
      }
    }
    const auto n_cpu = static_cast<std::size_t>(std::llround(cpu_fraction * static_cast<double>(host.size())));
    for (std::size_t i = 0; i < host.size(); ++i) {
      const bool on_cpu = i < n_cpu;
      (on_cpu ? s.cpu : s.streamed).slots.push_back(host[i]->where.slot);
      lens[on_cpu ? 2 : 1] += static_cast<int>(host[i]->tokens);
    }
    Category* cats[4] = {&s.resident, &s.streamed, &s.cpu, &s.disk};
    for (int c = 0; c < 4; ++c) {
      cats[c]->begin.push_back(static_cast<int>(cats[c]->slots.size()));
      cats[c]->lens.push_back(lens[c]);
    }
    const BlockTableEntry& newest = t.blocks.back();
    if (newest.where.tier != Tier::kGpu) {
      throw InvalidArgument("decode step: the newest block of sequence " + std::to_string(t.seq) + " is on the " +
                            tier_name(newest.where.tier) +
                            " tier; expected it on the GPU (window_blocks >= 1 and a GPU budget for it)");
    }
    s.newest_slot.push_back(newest.where.slot);
    s.newest_token.push_back(static_cast<int>(newest.tokens) - 1);
    if (newest.tokens == 0 || static_cast<int>(newest.tokens) > block_tokens) {
      throw InvalidArgument("decode step: newest block of sequence " + std::to_string(t.seq) + " holds " +
                            std::to_string(newest.tokens) + " tokens; expected 1.." + std::to_string(block_tokens));
    }
  }
  return s;
}

namespace {

std::size_t reserve(TableImage& img, std::size_t bytes) {
  const std::size_t at = (img.bytes.size() + 15) / 16 * 16;
  img.bytes.resize(at + bytes);
  return at;
}

template <class T>
void put(TableImage& img, std::size_t offset, std::size_t index, T value) {
  std::memcpy(img.bytes.data() + offset + index * sizeof(T), &value, sizeof(T));
}

}  // namespace

TableImage build_tables(const StepSplit& split, const SlotPool& gpu, const Geometry& g,
                        std::span<void* const> ring_buffers, std::span<const void* const> disk_ptrs) {
  TableImage img;
  const std::size_t layers = static_cast<std::size_t>(g.layers);
  const std::size_t n_res = split.resident.blocks(), n_str = split.streamed.blocks(), n_disk = split.disk.blocks();
  KVT_CHECK(disk_ptrs.size() == layers * n_disk, "disk pointer table of the wrong size");
  const std::size_t batch = split.newest_slot.size();
  img.resident_ptrs = reserve(img, layers * n_res * sizeof(void*));
  img.staged_ptrs = reserve(img, ring_buffers.size() * n_str * sizeof(void*));
  img.append_ptrs = reserve(img, layers * batch * sizeof(void*));
  img.disk_ptrs = reserve(img, layers * n_disk * sizeof(void*));
  if (n_disk > 0) std::memcpy(img.bytes.data() + img.disk_ptrs, disk_ptrs.data(), disk_ptrs.size_bytes());
  img.resident_begin = reserve(img, (batch + 1) * sizeof(int));
  img.resident_lens = reserve(img, batch * sizeof(int));
  img.streamed_begin = reserve(img, (batch + 1) * sizeof(int));
  img.streamed_lens = reserve(img, batch * sizeof(int));
  img.disk_begin = reserve(img, (batch + 1) * sizeof(int));
  img.disk_lens = reserve(img, batch * sizeof(int));
  const std::size_t row_bytes = static_cast<std::size_t>(g.head_dim) * g.elem_bytes();
  for (SlotIndex s : split.resident.slots) gpu.slot_address(s);  // range checks, once
  for (SlotIndex s : split.newest_slot) gpu.slot_address(s);
  std::byte* const base = gpu.base();
  const std::size_t slot_bytes = gpu.slot_bytes(), layer_bytes = g.layer_bytes();
  for (std::size_t l = 0; l < layers; ++l) {
    auto* res = reinterpret_cast<void**>(img.bytes.data() + img.resident_ptrs) + l * n_res;
    for (std::size_t i = 0; i < n_res; ++i) res[i] = base + split.resident.slots[i] * slot_bytes + l * layer_bytes;
    for (std::size_t b = 0; b < batch; ++b) {
      void* p = base + split.newest_slot[b] * slot_bytes + l * layer_bytes + split.newest_token[b] * row_bytes;
      put<void*>(img, img.append_ptrs, l * batch + b, p);
    }
  }
  for (std::size_t r = 0; r < ring_buffers.size(); ++r) {
    for (std::size_t i = 0; i < n_str; ++i) {
      put<void*>(img, img.staged_ptrs, r * n_str + i, static_cast<std::byte*>(ring_buffers[r]) + i * g.layer_bytes());
    }
  }
  for (std::size_t b = 0; b <= batch; ++b) {
    put<int>(img, img.resident_begin, b, split.resident.begin[b]);
    put<int>(img, img.streamed_begin, b, split.streamed.begin[b]);
    put<int>(img, img.disk_begin, b, split.disk.begin[b]);
  }
  for (std::size_t b = 0; b < batch; ++b) {
    put<int>(img, img.resident_lens, b, split.resident.lens[b]);
    put<int>(img, img.streamed_lens, b, split.streamed.lens[b]);
    put<int>(img, img.disk_lens, b, split.disk.lens[b]);
  }
  return img;
}

}  // namespace kvtier::pipeline::detail
