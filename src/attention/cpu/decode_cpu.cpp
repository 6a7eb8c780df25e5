// CPU partial decode attention: planning, threading and ISA dispatch. The key range of each
// (sequence, kv head) is split into items so that every thread has work; items write partial
// states that the shared merge joins.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "attention/cpu/convert.h"
#include "attention/cpu/cpu_item.h"
#include "attention/merge_math.h"
#include "kvtier/attention/cpu.h"
#include "kvtier/core/error.h"

namespace kvtier::attention {
namespace {

cpu::ItemFn item_fn(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kPortable:
      return cpu::item_fn_portable();
    case CpuIsa::kAvx2:
      return cpu::item_fn_avx2();
    case CpuIsa::kAvx512:
      return cpu::item_fn_avx512();
    case CpuIsa::kAvx512Bf16:
      return cpu::item_fn_avx512bf16();
  }
  return nullptr;
}

// Software prefetch of the next block (0 none, 1 to L1, 2 to L2, 3 to L3); tuning knob read once
// from KVTIER_ATTN_CPU_PREFETCH, default 0 (measured on a Xeon host: no gain from prefetching).
int cpu_prefetch_mode() {
  static const int mode = [] {
    const char* e = std::getenv("KVTIER_ATTN_CPU_PREFETCH");
    const int v = e ? std::atoi(e) : 0;
    return v >= 0 && v <= 3 ? v : 0;
  }();
  return mode;
}

struct Item {
  int b, j0, j1;
};

// Buffers of a call, kept by the calling thread from call to call: a decode step calls once a
// layer, and allocating and zero-filling the items' partials (~1 MiB) each time showed in the
// CPU share's per-layer cost. Every element a call reads, it writes first.
struct Workspace {
  std::vector<float> qf, part_o, part_lse;
  std::vector<std::uint16_t> qh;
  std::vector<int> limits, first_item;
  std::vector<Item> items;
};

// Items: a key range of one sequence, all its kv heads (each block is then read as one contiguous
// region). About four items a thread, each sequence's share in proportion to its length, its
// blocks spread evenly over its items (sizes differ by one block at most): the threads then finish
// together, where fixed-size chunks left a partial last round (at 13K keys, 52 chunks of 256 on 16
// threads: four rounds for 3.25 rounds of work). An item covers at least 64 keys (or a whole
// block), so its partial state stays small against its reads. first_item[b]: b's first item.
void plan_items(const DecodeShape& s, std::span<const int> lens, int threads,
                std::vector<Item>& items, std::vector<int>& first_item) {
  long long total = 0;
  for (int b = 0; b < s.batch; ++b) total += lens[b];
  const long long target_items = 4LL * threads;
  items.clear();
  first_item.assign(static_cast<std::size_t>(s.batch) + 1, 0);
  for (int b = 0; b < s.batch; ++b) {
    first_item[b] = static_cast<int>(items.size());
    const long long len = lens[b], bt = s.block_tokens;
    const long long blocks = (len + bt - 1) / bt;
    long long n = total > 0 ? (target_items * len + total - 1) / total : 1;
    n = std::clamp(std::min(n, std::max(1LL, len / 64)), 1LL, std::max(1LL, blocks));
    for (long long i = 0; i < n; ++i) {
      const auto j0 = static_cast<int>(std::min(len, blocks * i / n * bt));
      const auto j1 = static_cast<int>(std::min(len, blocks * (i + 1) / n * bt));
      items.push_back({b, j0, j1});
    }
  }
  first_item[s.batch] = static_cast<int>(items.size());
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kPortable:
      return "portable";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx512Bf16:
      return "avx512bf16";
  }
  return "?";
}

bool cpu_isa_supported(CpuIsa isa) {
  if (isa == CpuIsa::kPortable) return true;
  if (item_fn(isa) == nullptr) return false;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  switch (isa) {
    case CpuIsa::kAvx2:
      return avx2;
    case CpuIsa::kAvx512:
      return avx2 && avx512;
    case CpuIsa::kAvx512Bf16:
      return avx2 && avx512 && __builtin_cpu_supports("avx512bf16");
    default:
      return false;
  }
#else
  return false;
#endif
}

CpuIsa best_cpu_isa() {
  for (CpuIsa isa : {CpuIsa::kAvx512Bf16, CpuIsa::kAvx512, CpuIsa::kAvx2}) {
    if (cpu_isa_supported(isa)) return isa;
  }
  return CpuIsa::kPortable;
}

void decode_cpu(const DecodeArgs& a, ThreadPool& pool, CpuIsa isa) {
  validate(a, false);
  if (!cpu_isa_supported(isa)) {
    throw InvalidArgument(std::string("attention: CPU ISA ") + cpu_isa_name(isa) +
                          " is not supported by this CPU or build; best available is " +
                          cpu_isa_name(best_cpu_isa()));
  }
  const cpu::ItemFn fn = item_fn(isa);
  const DecodeShape& s = a.shape;
  const auto begin = host_block_begin(a);
  const auto lens = host_seq_lens(a);
  const int g = s.group(), rows = s.q_tokens * g, d = s.head_dim;
  const std::size_t head_elems = static_cast<std::size_t>(rows) * d;
  const float q_scale = s.scale * detail::kLog2e;

  // q of each (sequence, kv head) as packed rows r = t * group + i: scaled fp32 and raw 16-bit.
  const std::size_t heads = static_cast<std::size_t>(s.batch) * s.kv_heads;
  thread_local Workspace ws;
  std::vector<float>& qf = ws.qf;
  std::vector<std::uint16_t>& qh = ws.qh;
  std::vector<int>& limits = ws.limits;
  qf.resize(heads * head_elems);
  qh.resize(s.dtype == DType::kBF16 ? heads * head_elems : 0);
  limits.resize(static_cast<std::size_t>(s.batch) * rows);
  for (int b = 0; b < s.batch; ++b) {
    for (int r = 0; r < rows; ++r) {
      const int t = r / g;
      limits[static_cast<std::size_t>(b) * rows + r] =
          s.causal ? std::max(0, lens[b] - s.q_tokens + 1 + t) : lens[b];
    }
  }
  auto pack_q = [&](std::size_t bh) {
    const int b = static_cast<int>(bh / s.kv_heads), h = static_cast<int>(bh % s.kv_heads);
    for (int r = 0; r < rows; ++r) {
      const int t = r / g, i = r % g;
      const std::size_t src =
          ((static_cast<std::size_t>(b) * s.q_tokens + t) * s.q_heads + h * g + i) * d;
      const std::size_t dst = bh * head_elems + static_cast<std::size_t>(r) * d;
      for (int k = 0; k < d; ++k) qf[dst + k] = cpu::load_float(a.q, src + k, s.dtype) * q_scale;
      if (!qh.empty()) {
        for (int k = 0; k < d; ++k) qh[dst + k] = static_cast<const std::uint16_t*>(a.q)[src + k];
      }
    }
  };
  // A few microseconds of work at small batches: on this thread, without waking the pool.
  if (heads * head_elems < (std::size_t{1} << 16)) {
    for (std::size_t bh = 0; bh < heads; ++bh) pack_q(bh);
  } else {
    pool.parallel_for(heads, pack_q);
  }

  std::vector<Item>& items = ws.items;
  std::vector<int>& first_item = ws.first_item;
  plan_items(s, lens, pool.size(), items, first_item);

  const int prefetch = cpu_prefetch_mode();
  const std::size_t item_rows = static_cast<std::size_t>(s.kv_heads) * rows;
  std::vector<float>& part_o = ws.part_o;
  std::vector<float>& part_lse = ws.part_lse;
  part_o.resize(items.size() * item_rows * d);
  part_lse.resize(items.size() * item_rows);
  const int scratch = cpu::scratch_floats(s.block_tokens, rows, s.kv_heads);
  pool.parallel_for(items.size(), [&](std::size_t i) {
    thread_local std::vector<float> buf;
    if (buf.size() < static_cast<std::size_t>(scratch)) buf.resize(scratch);
    const Item& w = items[i];
    const std::size_t seq_q = static_cast<std::size_t>(w.b) * s.kv_heads * head_elems;
    cpu::CpuItem it;
    it.qf = &qf[seq_q];
    it.qh = qh.empty() ? nullptr : &qh[seq_q];
    it.q_scale = q_scale;
    it.blocks = a.tables.blocks + begin[w.b];
    it.block_tokens = s.block_tokens;
    it.head_dim = d;
    it.kv_heads = s.kv_heads;
    it.rows = rows;
    it.h0 = 0;
    it.h1 = s.kv_heads;
    it.dtype = s.dtype;
    it.j0 = w.j0;
    it.j1 = w.j1;
    it.limit = &limits[static_cast<std::size_t>(w.b) * rows];
    it.o = &part_o[i * item_rows * d];
    it.lse = &part_lse[i * item_rows];
    it.scratch = buf.data();
    it.prefetch = prefetch;
    fn(it);
  });

  // Merge the items of each sequence into the output rows, per (kv head, row).
  pool.parallel_for(heads, [&](std::size_t bh) {
    const int b = static_cast<int>(bh / s.kv_heads), h = static_cast<int>(bh % s.kv_heads);
    const int i0 = first_item[b], i1 = first_item[b + 1];
    for (int r = 0; r < rows; ++r) {
      const int t = r / g, gi = r % g;
      const std::size_t out_row =
          (static_cast<std::size_t>(b) * s.q_tokens + t) * s.q_heads + h * g + gi;
      const std::size_t in_row = static_cast<std::size_t>(h) * rows + r;
      detail::MergeAcc acc;
      float rescale, weight;
      for (int i = i0; i < i1; ++i) acc.add(part_lse[i * item_rows + in_row], &rescale, &weight);
      float* o = a.o + out_row * d;
      std::fill(o, o + d, 0.f);
      for (int i = i0; i < i1; ++i) {
        const float wi = acc.weight_of(part_lse[i * item_rows + in_row]);
        if (wi == 0.f) continue;
        const float* src = &part_o[(i * item_rows + in_row) * d];
        for (int k = 0; k < d; ++k) o[k] += wi * src[k];
      }
      a.lse[out_row] = acc.lse();
    }
  });
}

unsigned long long cpu_read_probe(const void* data, std::size_t bytes, ThreadPool& pool) {
  const std::size_t words = bytes / 8;
  const std::size_t tasks = static_cast<std::size_t>(pool.size()) * 4;
  std::vector<unsigned long long> sums(tasks, 0);
  const auto* w = static_cast<const unsigned long long*>(data);
  pool.parallel_for(tasks, [&](std::size_t i) {
    const std::size_t lo = words * i / tasks, hi = words * (i + 1) / tasks;
    unsigned long long s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    std::size_t k = lo;
    for (; k + 4 <= hi; k += 4) {
      s0 += w[k];
      s1 += w[k + 1];
      s2 += w[k + 2];
      s3 += w[k + 3];
    }
    for (; k < hi; ++k) s0 += w[k];
    sums[i] = s0 + s1 + s2 + s3;
  });
  unsigned long long total = 0;
  for (auto v : sums) total ^= v;
  return total;
}

}  // namespace kvtier::attention
