// Partial decode attention over paged KV blocks (normative math: DESIGN.md, "Attention math").
//
// One call computes, for every sequence b of a batch, every query token t and every q head, the
// partial state (o, lse) of attention over the keys this call is given for b: the tokens of the
// blocks in b's table, in order, the last block possibly partial (seq_lens[b] tokens in all).
// Each table entry is the base address of one layer's K|V inside a block (a slot of a tier or a
// staging buffer): K of kv head h at base + h * head_bytes, V at base + (kv_heads + h) *
// head_bytes, head_bytes = block_tokens * head_dim * sizeof(dtype); rows [token][head_dim].
//
// Causal semantics (q_tokens > 1, speculative decoding): with `causal`, the call's keys are
// taken to end with the keys of the q tokens themselves, so q token t (0-based) sees keys
// j < seq_len - q_tokens + 1 + t. Without `causal` every q token sees all seq_len keys (use this
// for a part of the context that lies wholly before the new tokens). A row that sees no key (an
// empty sequence, or t too small) gets the empty state (o = 0, lse = -inf).
#pragma once

#include <cstddef>
#include <span>

#include "kvtier/core/dtype.h"

namespace kvtier::attention {

inline constexpr int kMaxQTokens = 8;
inline constexpr int kMaxGroup = 16;

struct DecodeShape {
  int batch = 0;
  int q_tokens = 1;  // query tokens per sequence, 1..kMaxQTokens
  int q_heads = 0;   // multiple of kv_heads, group q_heads / kv_heads in 1..kMaxGroup
  int kv_heads = 0;
  int head_dim = 0;            // 64, 80, 96, 128 or 256
  int block_tokens = 0;        // tokens per block (GPU: multiple of 8)
  DType dtype = DType::kBF16;  // of q and KV; kF32 only on the CPU
  float scale = 0.f;           // softmax scale, > 0 (usually 1 / sqrt(head_dim))
  bool causal = true;

  int group() const { return q_heads / kv_heads; }
  std::size_t head_bytes() const;   // K (or V) of one kv head in one block
  std::size_t layer_bytes() const;  // K and V of all kv heads in one block (the stride of a base)
  std::size_t q_elems() const;      // batch * q_tokens * q_heads * head_dim
  std::size_t rows() const;         // batch * q_tokens * q_heads (rows of o, entries of lse)
};

// Per-sequence key lists of one call. The GPU kernel reads them from device memory.
struct BlockTables {
  const void* const* blocks = nullptr;  // [total_blocks] layer base address of each block
  const int* block_begin =
      nullptr;  // [batch + 1] sequence b owns blocks[block_begin[b], block_begin[b+1])
  const int* seq_lens = nullptr;  // [batch] tokens of sequence b in this call
};

struct DecodeArgs {
  DecodeShape shape;
  const void* q = nullptr;  // [batch][q_tokens][q_heads][head_dim], shape.dtype
  BlockTables tables;
  // Host copies of tables.block_begin / tables.seq_lens, used to check the tables and plan the
  // work before any kernel runs. Required for the GPU; the CPU reads `tables` when empty.
  std::span<const int> host_block_begin;  // [batch + 1]
  std::span<const int> host_seq_lens;     // [batch]
  float* o = nullptr;                     // [batch][q_tokens][q_heads][head_dim] fp32 out
  float* lse = nullptr;                   // [batch][q_tokens][q_heads] fp32 out, natural log
  // GPU: K/V, the block tables and seq_lens were written before the previous kernel on the stream
  // started (by an earlier kernel, a copy, or the host), never by that kernel itself. The kernel
  // then starts reading them while that kernel finishes (programmatic dependent launch, sm_90),
  // and only q and the outputs wait for it: back-to-back calls hide one's split merge behind the
  // next one's first loads. False (the default): nothing is read before the previous kernel is
  // done, whatever it wrote. Ignored on the CPU and before sm_90.
  bool kv_ready = false;
};

// Throws InvalidArgument, naming the field and what is expected, for any unsupported shape
// (head dim, dtype, group, q tokens), null pointers or tables that do not match seq_lens
// (block count != ceil(seq_len / block_tokens)). `gpu` also refuses fp32 and block sizes that are
// not a multiple of 8. Called by every kernel entry point before anything runs.
void validate(const DecodeArgs& args, bool gpu);

// Host view of block_begin / seq_lens: the host spans if given, else the tables themselves.
std::span<const int> host_block_begin(const DecodeArgs& args);
std::span<const int> host_seq_lens(const DecodeArgs& args);

}  // namespace kvtier::attention
