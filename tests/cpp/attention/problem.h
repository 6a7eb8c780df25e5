// Test helpers: random attention problems in host memory (blocks scattered in a pool, as slots
// are), and comparison of (o, lse) with the fp64 reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kvtier/attention/attention.h"

namespace kvtier::attention::test {

struct Case {
  std::vector<int> lens;  // tokens of each sequence (batch = lens.size())
  int q_tokens = 1, q_heads = 8, kv_heads = 2, head_dim = 128, block_tokens = 16;
  DType dtype = DType::kBF16;
  bool causal = true;
  std::uint64_t seed = 1;
  std::string name() const;
};

struct Problem {
  DecodeShape shape;
  std::vector<unsigned char> pool;   // blocks, in shuffled order; 16-byte aligned offsets
  std::vector<std::size_t> offsets;  // [total_blocks] byte offset of each table entry in pool
  std::vector<const void*> blocks;   // [total_blocks] host addresses (pool + offsets)
  std::vector<int> block_begin, seq_lens;
  std::vector<unsigned char> q;  // [batch][q_tokens][q_heads][head_dim]
  // Host arguments writing into o / lse.
  DecodeArgs args(float* o, float* lse) const;
};

Problem make_problem(const Case& c);

struct Errors {
  double o_rel = 0;    // max over rows of max|o - ref| / max|ref|
  double lse_abs = 0;  // max |lse - ref| (both -inf counts as 0)
  int bad_rows = 0;    // rows with NaN, wrong emptiness or unwritten values
  std::string first_bad;
};

// Compares against reference_head for every sequence and kv head (max_heads_checked > 0: only
// that many kv heads of each sequence, spread out).
Errors compare_with_reference(const Problem& p, const float* o, const float* lse,
                              int max_heads_checked = 0);

// Max relative difference between two outputs, rows compared as in Errors (lse absolute).
Errors compare_outputs(const DecodeShape& s, const float* o_a, const float* lse_a, const float* o_b,
                       const float* lse_b);

}  // namespace kvtier::attention::test
