// Internal: one unit of CPU attention work, a contiguous key range of one sequence for a range of
// its kv heads, computed by the ISA-specific kernels (kernel_*.cpp) into partial states.
#pragma once

#include <cstdint>

#include "kvtier/core/dtype.h"

namespace kvtier::attention::cpu {

inline constexpr int kMaxRows = 128;  // q_tokens * group <= 8 * 16
inline constexpr int kRowGroup = 4;   // rows computed together (registers hold their sums)

struct CpuItem {
  const float* qf = nullptr;            // [kv_heads][rows][head_dim] q * scale * log2(e), fp32
  const std::uint16_t* qh = nullptr;    // [kv_heads][rows][head_dim] raw bf16 q (bf16-dot kernel)
  float q_scale = 0.f;                  // scale * log2(e), applied to raw bf16 dots
  const void* const* blocks = nullptr;  // this sequence's block base addresses
  int block_tokens = 0, head_dim = 0, kv_heads = 0, rows = 0;
  int h0 = 0, h1 = 0;  // kv heads [h0, h1) of this item
  DType dtype = DType::kBF16;
  int j0 = 0, j1 = 0;          // key range [j0, j1) of the sequence
  const int* limit = nullptr;  // [rows] row r sees keys j < limit[r]
  float* o = nullptr;          // [h1 - h0][rows][head_dim] out, normalized over the range
  float* lse = nullptr;        // [h1 - h0][rows] out, natural log; -inf for rows that saw no key
  float* scratch = nullptr;    // >= scratch_floats(...)
  int prefetch = 0;            // software prefetch of the next block: 0 none, 1 L1, 2 L2, 3 L3
};

// Scores of one row group ([kRowGroup][block_tokens], whatever the row count), then the running
// max and sum of every (head, row).
inline int scratch_floats(int block_tokens, int rows, int heads) {
  return kRowGroup * block_tokens + 2 * rows * heads + 64;
}

using ItemFn = void (*)(const CpuItem&);

ItemFn item_fn_portable();
ItemFn item_fn_avx2();    // nullptr when not compiled for x86-64
ItemFn item_fn_avx512();  // nullptr when not compiled for x86-64
ItemFn item_fn_avx512bf16();

}  // namespace kvtier::attention::cpu
