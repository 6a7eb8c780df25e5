// Internal: the per-step split of each sequence's blocks (resident / streamed / CPU) and the
// tables the attention calls of a step read, built on the host in one buffer and uploaded once.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "kvtier/block/block_table.h"
#include "kvtier/block/slot_pool.h"
#include "kvtier/core/geometry.h"

namespace kvtier::pipeline::detail {

// One category of blocks of a step: per sequence, in sequence order, with the token counts the
// attention calls need.
struct Category {
  std::vector<SlotIndex> slots;  // all sequences, sequence after sequence
  std::vector<int> begin;        // [batch + 1]
  std::vector<int> lens;         // [batch] tokens
  std::size_t blocks() const { return slots.size(); }
};

struct StepSplit {
  Category resident, streamed, cpu, disk;
  std::vector<Hash128> disk_keys;       // [disk blocks] names on disk
  std::vector<SlotIndex> newest_slot;   // [batch] GPU slot of each sequence's newest block
  std::vector<int> newest_token;        // [batch] position of the newest token in it
  double cpu_fraction = 0;
};

// Splits the tables: GPU blocks are resident; of the host blocks of each sequence, the first
// round(cpu_fraction * n) are computed on the CPU and the rest streamed; disk blocks are read
// from disk. InvalidArgument for empty sequences and newest blocks off the GPU.
StepSplit split_step(std::span<const BlockTable> tables, int block_tokens, double cpu_fraction);

// Host image of the device tables of a step, offsets in bytes into it.
struct TableImage {
  std::vector<unsigned char> bytes;
  std::size_t resident_ptrs = 0;  // void* [layers][resident blocks]
  std::size_t staged_ptrs = 0;    // void* [ring buffers][streamed blocks]
  std::size_t append_ptrs = 0;    // void* [layers][batch]
  std::size_t disk_ptrs = 0;      // void* [layers][disk blocks]: staged on the host (disk_side.h)
  std::size_t resident_begin = 0, resident_lens = 0, streamed_begin = 0, streamed_lens = 0;  // int
  std::size_t disk_begin = 0, disk_lens = 0;                                                 // int
};

// `disk_ptrs`: [layers][disk blocks] host addresses of the staged disk blocks' layers.
TableImage build_tables(const StepSplit& split, const SlotPool& gpu, const Geometry& g,
                        std::span<void* const> ring_buffers, std::span<const void* const> disk_ptrs);

}  // namespace kvtier::pipeline::detail
