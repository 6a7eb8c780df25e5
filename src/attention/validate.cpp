// Checks of DecodeArgs before any kernel runs.
#include <string>

#include "kvtier/attention/attention.h"
#include "kvtier/core/error.h"

namespace kvtier::attention {
namespace {

[[noreturn]] void bad(const std::string& what) { throw InvalidArgument("attention: " + what); }

bool supported_head_dim(int d) { return d == 64 || d == 80 || d == 96 || d == 128 || d == 256; }

}  // namespace

std::size_t DecodeShape::head_bytes() const {
  return static_cast<std::size_t>(block_tokens) * head_dim * dtype_size(dtype);
}
std::size_t DecodeShape::layer_bytes() const {
  return 2 * static_cast<std::size_t>(kv_heads) * head_bytes();
}
std::size_t DecodeShape::rows() const {
  return static_cast<std::size_t>(batch) * q_tokens * q_heads;
}
std::size_t DecodeShape::q_elems() const { return rows() * head_dim; }

std::span<const int> host_block_begin(const DecodeArgs& a) {
  if (!a.host_block_begin.empty()) return a.host_block_begin;
  return {a.tables.block_begin, static_cast<std::size_t>(a.shape.batch) + 1};
}
std::span<const int> host_seq_lens(const DecodeArgs& a) {
  if (!a.host_seq_lens.empty()) return a.host_seq_lens;
  return {a.tables.seq_lens, static_cast<std::size_t>(a.shape.batch)};
}

void validate(const DecodeArgs& a, bool gpu) {
  const DecodeShape& s = a.shape;
  if (s.batch < 1) bad("batch " + std::to_string(s.batch) + "; expected >= 1");
  if (s.q_tokens < 1 || s.q_tokens > kMaxQTokens) {
    bad("q_tokens " + std::to_string(s.q_tokens) + "; expected 1.." + std::to_string(kMaxQTokens));
  }
  if (s.kv_heads < 1) bad("kv_heads " + std::to_string(s.kv_heads) + "; expected >= 1");
  if (s.q_heads < 1 || s.q_heads % s.kv_heads != 0) {
    bad("q_heads " + std::to_string(s.q_heads) + " is not a positive multiple of kv_heads " +
        std::to_string(s.kv_heads));
  }
  if (s.group() > kMaxGroup) {
    bad("group size (q_heads / kv_heads) " + std::to_string(s.group()) + "; expected 1.." +
        std::to_string(kMaxGroup));
  }
  if (!supported_head_dim(s.head_dim)) {
    bad("head_dim " + std::to_string(s.head_dim) + "; expected 64, 80, 96, 128 or 256");
  }
  if (gpu && s.batch > 65535)
    bad("batch " + std::to_string(s.batch) + "; the GPU kernel takes at most 65535");
  if (s.dtype == DType::kF32 && gpu)
    bad("dtype fp32 is CPU-only; the GPU kernel takes bf16 or fp16");
  if (s.block_tokens < 1 || (gpu && s.block_tokens % 8 != 0)) {
    bad("block_tokens " + std::to_string(s.block_tokens) +
        (gpu ? "; expected a positive multiple of 8" : "; expected >= 1"));
  }
  if (!(s.scale > 0.f) || s.scale > 1e6f) bad("scale must be positive and finite");
  if (!a.q || !a.o || !a.lse) bad("q, o and lse must not be null");
  if (!a.tables.blocks || !a.tables.block_begin || !a.tables.seq_lens) {
    bad("tables.blocks, tables.block_begin and tables.seq_lens must not be null");
  }
  if (gpu && (a.host_block_begin.empty() || a.host_seq_lens.empty())) {
    bad("the GPU kernel needs host copies of block_begin and seq_lens (host_block_begin, "
        "host_seq_lens)");
  }
  const auto begin = host_block_begin(a);
  const auto lens = host_seq_lens(a);
  if (begin.size() != static_cast<std::size_t>(s.batch) + 1) {
    bad("block_begin has " + std::to_string(begin.size()) +
        " entries; expected batch + 1 = " + std::to_string(s.batch + 1));
  }
  if (lens.size() != static_cast<std::size_t>(s.batch)) {
    bad("seq_lens has " + std::to_string(lens.size()) +
        " entries; expected batch = " + std::to_string(s.batch));
  }
  if (begin[0] != 0) bad("block_begin[0] is " + std::to_string(begin[0]) + "; expected 0");
  for (int b = 0; b < s.batch; ++b) {
    if (lens[b] < 0) bad("seq_lens[" + std::to_string(b) + "] is negative");
    const long long need = (static_cast<long long>(lens[b]) + s.block_tokens - 1) / s.block_tokens;
    const long long have = static_cast<long long>(begin[b + 1]) - begin[b];
    if (have != need) {
      bad("sequence " + std::to_string(b) + " has " + std::to_string(have) +
          " blocks in its table for " + std::to_string(lens[b]) +
          " tokens; expected ceil(seq_len / block_tokens) = " + std::to_string(need));
    }
  }
}

}  // namespace kvtier::attention
