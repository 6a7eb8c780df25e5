// Model geometry of the KV cache and the byte layout of one block (normative, ../DESIGN.md):
// a slot holds block_tokens tokens of one sequence for all layers, laid out as
// [layer][K|V][kv_head][token][head_dim].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/core/dtype.h"
#include "kvtier/core/hash.h"

namespace kvtier {

struct Geometry {
  std::string name = "custom";  // preset name or "custom"
  int layers = 0;
  int q_heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  DType dtype = DType::kBF16;
  int block_tokens = 16;

  // Throws InvalidArgument naming the first bad field and what is expected.
  void validate() const;

  int group_size() const { return q_heads / kv_heads; }
  std::size_t elem_bytes() const { return dtype_size(dtype); }
  // Bytes of K (or of V) of one kv head for one block of one layer: [block_tokens][head_dim].
  std::size_t head_bytes() const;
  // Bytes of one block in one layer: K and V of every kv head.
  std::size_t layer_bytes() const;
  // Bytes of one slot: all layers of one block.
  std::size_t slot_bytes() const;
  // KV bytes of one token over all layers.
  std::size_t token_bytes() const;
  // Byte offset inside a slot of K (kv = 0) or V (kv = 1) of (layer, kv_head, token).
  std::size_t offset(int layer, int kv, int kv_head, int token) const;

  // Identity of what makes KV bytes compatible: layers, heads, dim, dtype, block size and the
  // model name. Blocks of different fingerprints never match in the prefix cache.
  Hash128 fingerprint() const;

  std::string describe() const;  // one line, e.g. "llama-3.1-8b: 32 layers, 32 q / 8 kv heads..."
};

// Named presets: llama-3.1-8b, llama-3.1-70b, mistral-7b, qwen2.5-7b, smollm2-135m, tiny.
std::vector<std::string> preset_names();
// Throws InvalidArgument listing the known presets when the name is unknown.
Geometry preset(std::string_view name);

}  // namespace kvtier
