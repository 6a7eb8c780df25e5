#include "decode_rig.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "attention/cpu/convert.h"
#include "kvtier/attention/cpu.h"
#include "kvtier/attention/gpu.h"
#include "kvtier/block/block_manager.h"
#include "kvtier/block/slot_pool.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"
#include "kvtier/transfer/disk_block_index.h"
#include "kvtier/transfer/disk_store.h"
#include "kvtier/transfer/pool_view.h"
#include "kvtier/transfer/transfer_engine.h"

namespace kvtier::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Uniform values in [-1, 1) of `dtype` (bf16 or fp16), a function of `seed` alone.
void fill_values(void* dst, std::size_t bytes, DType dtype, std::uint64_t seed) {
  auto* out = static_cast<std::uint16_t*>(dst);
  const std::size_t n = bytes / 2;
  std::uint64_t s = seed;
  for (std::size_t i = 0; i < n; i += 4) {
    std::uint64_t bits = splitmix64(s);
    for (std::size_t k = i; k < std::min(n, i + 4); ++k, bits >>= 16) {
      const float v = static_cast<float>(bits & 0xFFFF) * (2.0f / 65536.0f) - 1.0f + (1.0f / 65536.0f);
      out[k] = dtype == DType::kBF16 ? attention::cpu::float_to_bf16(v) : attention::cpu::float_to_half(v);
    }
  }
}

std::uint64_t block_seed(std::size_t seq, std::size_t pos) { return (seq + 1) * 0x100000000ull + pos; }

// Writes every full block of the sequences that is not on disk into the store (slots of its
// choosing: the run is over, the block manager places nothing any more), so that a later run
// reuses them. Stops quietly when the disk tier is full; returns the blocks written.
std::uint64_t persist(Backend& b, DiskStore& store, const BlockManager& bm, const std::vector<SeqId>& seqs,
                      SlotPool& gpu, SlotPool& host, Buffer& scratch, Stream& copy) {
  std::vector<BlockTableEntry> todo;
  for (SeqId id : seqs) {
    for (const BlockTableEntry& e : bm.block_table(id).blocks) {
      if (e.where.tier != Tier::kDisk && bm.block_info(e.block).full && !store.find(e.key)) todo.push_back(e);
    }
  }
  const std::size_t slot = store.slot_bytes(), chunk = scratch.bytes() / slot;
  std::uint64_t written = 0;
  for (std::size_t begin = 0; begin < todo.size(); begin += chunk) {
    const std::size_t n = std::min(chunk, todo.size() - begin);
    std::vector<DiskFuture> writes;
    for (std::size_t j = 0; j < n; ++j) {
      const BlockTableEntry& e = todo[begin + j];
      if (e.where.tier == Tier::kGpu) b.copy_async(scratch.as<std::byte>() + j * slot, gpu.slot_address(e.where.slot), slot, copy);
    }
    copy.synchronize();
    for (std::size_t j = 0; j < n; ++j) {
      const BlockTableEntry& e = todo[begin + j];
      const void* src = e.where.tier == Tier::kGpu ? static_cast<const void*>(scratch.as<std::byte>() + j * slot)
                                                   : host.slot_address(e.where.slot);
      writes.push_back(store.write_async(e.key, src, e.tokens));
    }
    bool full = false;
    for (const DiskFuture& w : writes) {
      try {
        w.wait();
        ++written;
      } catch (const OutOfMemory&) {
        full = true;
      }
    }
    if (full) break;
  }
  return written;
}

}  // namespace

SlotIndex blocks_per_sequence(const Geometry& g, int context, int tokens_added) {
  const std::uint64_t tokens = static_cast<std::uint64_t>(context) + static_cast<std::uint64_t>(tokens_added);
  return static_cast<SlotIndex>((tokens + g.block_tokens - 1) / g.block_tokens);
}

DecodeRunResult run_decode(Backend& b, ThreadPool& threads, const DecodeRunConfig& c) {
  const Geometry& g = c.geometry;
  if (g.dtype == DType::kF32) throw InvalidArgument("decode: KV dtype fp32 is CPU-only; use bf16 or fp16");
  if (c.context < 1 || c.batch < 1 || c.steps < 1 || c.warmup < 0) {
    throw InvalidArgument("decode: context, batch and steps must be >= 1 (got " + std::to_string(c.context) + ", " +
                          std::to_string(c.batch) + ", " + std::to_string(c.steps) + ")");
  }
  const int total_steps = c.warmup + c.steps;
  const std::uint64_t needed = static_cast<std::uint64_t>(blocks_per_sequence(g, c.context, total_steps)) * c.batch;
  const std::uint64_t protect = static_cast<std::uint64_t>(c.sink_blocks + c.window_blocks) * c.batch;
  if (c.gpu_slots < protect) {
    throw InvalidArgument("decode: GPU budget of " + std::to_string(c.gpu_slots) + " blocks (" +
                          format_size(static_cast<std::uint64_t>(c.gpu_slots) * g.slot_bytes()) +
                          ") is below sink + window for the batch (" + std::to_string(protect) + " blocks)");
  }
  const auto t_setup = Clock::now();
  DecodeRunResult r;
  // The disk tier, when asked for: opened first (it is the one that may refuse: lock, budget).
  std::unique_ptr<DiskStore> store;
  std::unique_ptr<DiskBlockIndex> disk_index;
  if (!c.disk_dir.empty()) {
    DiskStoreOptions o;
    o.dir = c.disk_dir;
    o.capacity_bytes = c.disk_bytes;
    o.io = c.disk_io;
    store = DiskStore::open(g, o);
    disk_index = std::make_unique<DiskBlockIndex>(*store);
    r.disk_slots = store->capacity_slots();
    r.disk_blocks_found = store->entries().size();
  }
  if (static_cast<std::uint64_t>(c.gpu_slots) + c.host_slots + r.disk_slots < needed) {
    throw InvalidArgument("decode: context " + std::to_string(c.context) + " x batch " + std::to_string(c.batch) +
                          " needs " + std::to_string(needed) + " blocks (" + format_size(needed * g.slot_bytes()) +
                          "); the GPU, host and disk budgets hold " +
                          std::to_string(static_cast<std::uint64_t>(c.gpu_slots) + c.host_slots + r.disk_slots));
  }
  const SlotIndex host_slots = std::max<SlotIndex>(1, c.host_slots);
  SlotPool gpu(b, Tier::kGpu, g, c.gpu_slots);
  SlotPool host(b, Tier::kHost, g, host_slots);
  TransferEngine engine(b, g, view_of(gpu), view_of(host), c.transfer);
  BlockManagerConfig bc;
  bc.geometry = g;
  bc.capacity = {c.gpu_slots, host_slots, static_cast<SlotIndex>(r.disk_slots)};
  bc.sink_blocks = c.sink_blocks;
  bc.window_blocks = c.window_blocks;
  BlockManager bm(bc, nullptr, disk_index.get());
  pipeline::PipelineConfig pc = c.pipeline;
  pc.max_batch = c.batch;
  pc.max_streamed_blocks = c.host_slots == 0 ? 0 : std::min<std::uint64_t>(c.host_slots, needed);
  // Disk staging for what does not fit above the disk (blocks fill the GPU and host budgets
  // first; reused blocks are promoted below), and a block a sequence of slack.
  if (store) {
    const std::uint64_t above = static_cast<std::uint64_t>(c.gpu_slots) + c.host_slots;
    pc.max_disk_blocks = std::min<std::uint64_t>(r.disk_slots, needed - std::min(needed, above) + c.batch);
  }
  pipeline::DecodePipeline pipe(b, g, gpu, host, engine, pc, store.get());

  // Sequences and their KV, where each block landed. Blocks reused from disk hold their KV
  // already (an earlier run wrote the same values: they depend on sequence and position only).
  std::vector<SeqId> seqs;
  std::uint64_t tok_seed = 7;
  std::vector<std::size_t> reused(static_cast<std::size_t>(c.batch));  // leading blocks reused
  for (int i = 0; i < c.batch; ++i) {
    std::vector<TokenId> prompt(static_cast<std::size_t>(c.context));
    for (auto& t : prompt) t = static_cast<TokenId>(splitmix64(tok_seed));
    const BlockManager::Created created = bm.create(prompt);
    seqs.push_back(created.seq);
    reused[static_cast<std::size_t>(i)] = created.reused_tokens / static_cast<std::uint64_t>(g.block_tokens);
    r.reused_tokens += created.reused_tokens;
    r.reused_blocks += reused[static_cast<std::size_t>(i)];
  }
  // Reused blocks start on disk: bring them up to the host as far as its budget allows, as a
  // server would ahead of a sequence's first step.
  if (r.reused_blocks > 0) {
    for (SeqId id : seqs) bm.promote(id);
  }
  {
    // Of the creation plan only moves of reused blocks carry bytes; the new blocks are filled
    // below where they ended up.
    std::vector<BlockId> with_data;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      const BlockTable t = bm.block_table(seqs[i]);
      for (std::size_t p = 0; p < reused[i]; ++p) with_data.push_back(t.blocks[p].block);
    }
    std::sort(with_data.begin(), with_data.end());
    std::vector<SlotMove> plan = bm.take_plan();
    std::erase_if(plan, [&](const SlotMove& m) { return !std::binary_search(with_data.begin(), with_data.end(), m.block); });
    pipe.apply(plan);
  }
  engine.synchronize();
  struct Fill {
    std::size_t seq, pos;
    BlockTableEntry entry;
  };
  std::vector<Fill> fills;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    const BlockTable t = bm.block_table(seqs[i]);
    for (std::size_t p = reused[i]; p < t.blocks.size(); ++p) fills.push_back({i, p, t.blocks[p]});
  }
  const std::size_t chunk = 32, slot = g.slot_bytes();
  Buffer scratch = b.allocate(MemoryKind::kPinnedHost, chunk * slot);
  auto copy = b.create_stream();
  for (std::size_t begin = 0; begin < fills.size(); begin += chunk) {
    const std::size_t n = std::min(chunk, fills.size() - begin);
    threads.parallel_for(n, [&](std::size_t j) {
      const Fill& f = fills[begin + j];
      void* dst = f.entry.where.tier == Tier::kHost ? static_cast<void*>(host.slot_address(f.entry.where.slot))
                                                    : scratch.as<std::byte>() + j * slot;
      fill_values(dst, slot, g.dtype, block_seed(f.seq, f.pos));
    });
    std::vector<DiskFuture> writes;
    for (std::size_t j = 0; j < n; ++j) {
      const Fill& f = fills[begin + j];
      const std::byte* src = scratch.as<std::byte>() + j * slot;
      if (f.entry.where.tier == Tier::kGpu) b.copy_async(gpu.slot_address(f.entry.where.slot), src, slot, *copy);
      if (f.entry.where.tier == Tier::kDisk) {
        writes.push_back(store->write_async(f.entry.where.slot, f.entry.key, src, f.entry.tokens));
      }
    }
    copy->synchronize();
    for (const DiskFuture& w : writes) w.wait();
  }

  // Inputs of every step, made up front: q and the new token's K/V.
  const std::size_t rows = static_cast<std::size_t>(c.batch) * g.q_heads;
  const std::size_t q_step = static_cast<std::size_t>(g.layers) * rows * g.head_dim * g.elem_bytes();
  const std::size_t kv_step = static_cast<std::size_t>(g.layers) * c.batch * 2 * g.kv_heads * g.head_dim * g.elem_bytes();
  Buffer inputs_host = b.allocate(MemoryKind::kPinnedHost, total_steps * (q_step + kv_step));
  threads.parallel_for(static_cast<std::size_t>(total_steps), [&](std::size_t s) {
    fill_values(inputs_host.as<std::byte>() + s * (q_step + kv_step), q_step + kv_step, g.dtype, 0xABCDEF00ull + s);
  });
  Buffer inputs = b.allocate(MemoryKind::kDevice, inputs_host.bytes());
  b.copy_async(inputs.data(), inputs_host.data(), inputs_host.bytes(), *copy);
  const std::size_t out_bytes = static_cast<std::size_t>(g.layers) * rows * g.head_dim * sizeof(float);
  Buffer out = b.allocate(MemoryKind::kDevice, out_bytes);
  b.fill_async(out.data(), 0xFF, out_bytes, *copy);  // poison (NaN)

  // Synthetic model work: each layer reads its share of the weights.
  const std::size_t layer_weights = c.weight_bytes / static_cast<std::size_t>(g.layers) / 16 * 16;
  Buffer weights, sink;
  if (layer_weights > 0) {
    weights = b.allocate(MemoryKind::kDevice, layer_weights);
    b.fill_async(weights.data(), 0x11, layer_weights, *copy);
    sink = b.allocate(MemoryKind::kDevice, 64);
  }
  copy->synchronize();
  pipeline::StepIO io;
  io.out = out.data();
  if (layer_weights > 0) {
    io.layer_work = [&](int, Stream& s) {
      if (b.kind() == BackendKind::kCuda) {
        attention::gpu_read_probe(weights.data(), layer_weights, sink.as<unsigned long long>(), s);
      } else {
        s.host_task([&] { *sink.as<unsigned long long>() += attention::cpu_read_probe(weights.data(), layer_weights, threads); });
      }
    };
  }

  r.setup_seconds = std::chrono::duration<double>(Clock::now() - t_setup).count();
  const std::uint64_t moves_before = bm.stats().moves_planned;
  for (int s = 0; s < total_steps; ++s) {
    for (SeqId id : seqs) {
      const TokenId t = static_cast<TokenId>(splitmix64(tok_seed));
      bm.append(id, std::span<const TokenId>(&t, 1));
    }
    pipe.apply(bm.take_plan());
    std::vector<BlockTable> tables;
    for (SeqId id : seqs) tables.push_back(bm.block_table(id));
    io.q = inputs.as<std::byte>() + static_cast<std::size_t>(s) * (q_step + kv_step);
    io.new_kv = static_cast<const std::byte*>(io.q) + q_step;
    const pipeline::StepStats st = pipe.step(tables, io);
    if (s >= c.warmup) r.step_times.push_back(st.seconds);
    r.trace.push_back(st);
    r.last = st;
  }
  std::vector<double> sorted = r.step_times;
  std::sort(sorted.begin(), sorted.end());
  r.step_seconds = sorted[sorted.size() / 2];
  r.vram_bytes = gpu.bytes() + pipe.device_bytes();
  r.moves = bm.stats().moves_planned - moves_before;
  r.rates = pipe.planner().rates();
  r.outputs.resize(out_bytes / sizeof(float));
  b.copy_async(r.outputs.data(), out.data(), out_bytes, *copy);
  copy->synchronize();
  if (store) {
    pipe.flush_disk();
    r.disk_staging_bytes = pipe.disk_staging_bytes();
    const auto t_persist = Clock::now();
    r.persisted_blocks = persist(b, *store, bm, seqs, gpu, host, scratch, *copy);
    r.persist_seconds = std::chrono::duration<double>(Clock::now() - t_persist).count();
    r.disk = store->stats();
  }
  return r;
}

}  // namespace kvtier::bench
