// The decode pipeline: tiered steps (any GPU budget, depth, CPU split, with or without a disk
// tier) give the outputs of all-resident steps and of an fp64 reference, over steps in which
// blocks are written back to host and disk; a restarted process reuses the blocks on disk. Built twice: on the CPU backend (label cpu) and, with KVTIER_PIPELINE_TEST_CUDA, on the
// CUDA backend (label cuda).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "kvtier/block/block_manager.h"
#include "kvtier/core/error.h"
#include "kvtier/pipeline/decode_pipeline.h"
#include "kvtier/transfer/disk_block_index.h"
#include "kvtier/transfer/pool_view.h"
#include "pipeline/synthetic_kv.h"

namespace kvtier::pipeline {
namespace {

using kvtier::testing::from_bf16;
using kvtier::testing::kv_value;
using kvtier::testing::to_bf16;
using kvtier::testing::value_at;

#ifdef KVTIER_PIPELINE_TEST_CUDA
constexpr BackendChoice kBackend = BackendChoice::kCuda;
#else
constexpr BackendChoice kBackend = BackendChoice::kCpu;
#endif

// A directory for a disk tier, removed afterwards.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kvtier-pipeline-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw IoError("mkdtemp failed");
    path = std::filesystem::path(tmpl) / "disk";
  }
  ~TempDir() { std::filesystem::remove_all(path.parent_path()); }
};

struct Rig {
  Geometry g;
  std::unique_ptr<Backend> backend = make_backend(kBackend);
  std::unique_ptr<DiskStore> disk;
  std::unique_ptr<DiskBlockIndex> disk_index;
  std::unique_ptr<SlotPool> gpu, host;
  std::unique_ptr<TransferEngine> engine;
  std::unique_ptr<BlockManager> bm;
  std::unique_ptr<DecodePipeline> pipe;
  std::vector<SeqId> seqs;
  std::uint64_t reused_tokens = 0;

  // disk_slots > 0: a disk tier of that many slots in `disk_dir`.
  Rig(const Geometry& geometry, SlotIndex gpu_slots, SlotIndex host_slots, PipelineConfig cfg,
      SlotIndex disk_slots = 0, const std::filesystem::path& disk_dir = {})
      : g(geometry) {
    if (disk_slots > 0) {
      DiskStoreOptions o;
      o.dir = disk_dir;
      o.capacity_bytes = static_cast<std::uint64_t>(disk_slots) * disk_slot_stride(g);
      disk = DiskStore::open(g, o);
      disk_index = std::make_unique<DiskBlockIndex>(*disk);
      cfg.max_disk_blocks = 64;
    }
    gpu = std::make_unique<SlotPool>(*backend, Tier::kGpu, g, gpu_slots);
    host = std::make_unique<SlotPool>(*backend, Tier::kHost, g, host_slots);
    engine = std::make_unique<TransferEngine>(*backend, g, view_of(*gpu), view_of(*host));
    BlockManagerConfig bc;
    bc.geometry = g;
    bc.capacity = {gpu_slots, host_slots, disk ? disk->capacity_slots() : 0};
    bc.sink_blocks = 1;
    bc.window_blocks = 2;
    bm = std::make_unique<BlockManager>(bc, nullptr, disk_index.get());
    pipe = std::make_unique<DecodePipeline>(*backend, g, *gpu, *host, *engine, cfg, disk.get());
  }

  // Creates sequences holding `lens` tokens and writes their KV where each block landed; blocks
  // reused from the disk tier hold it already.
  void create(const std::vector<int>& lens) {
    std::mt19937 rng(5);
    std::vector<std::size_t> reused;
    for (int len : lens) {
      std::vector<TokenId> prompt(static_cast<std::size_t>(len));
      for (auto& t : prompt) t = static_cast<TokenId>(rng());
      const BlockManager::Created c = bm->create(prompt);
      seqs.push_back(c.seq);
      reused.push_back(c.reused_tokens / g.block_tokens);
      reused_tokens += c.reused_tokens;
    }
    // Moves of new blocks carry no bytes yet; those of reused blocks do.
    std::vector<BlockId> with_data;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      const BlockTable t = bm->block_table(seqs[i]);
      for (std::size_t p = 0; p < reused[i]; ++p) with_data.push_back(t.blocks[p].block);
    }
    std::vector<SlotMove> plan = bm->take_plan();
    std::erase_if(plan, [&](const SlotMove& m) {
      return std::find(with_data.begin(), with_data.end(), m.block) == with_data.end();
    });
    pipe->apply(plan);
    engine->synchronize();
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      kvtier::testing::fill_table(*backend, bm->block_table(seqs[i]), i, g, *gpu, *host, disk.get(), reused[i]);
    }
  }

  // Writes every full block that is not on disk into the disk tier (as a process would before it
  // exits, so that the next one reuses them).
  void persist() {
    pipe->flush_disk();
    std::vector<unsigned char> bytes(g.slot_bytes());
    auto s = backend->create_stream();
    for (SeqId id : seqs) {
      for (const BlockTableEntry& e : bm->block_table(id).blocks) {
        if (e.where.tier == Tier::kDisk || !bm->block_info(e.block).full) continue;
        const SlotPool& pool = e.where.tier == Tier::kGpu ? *gpu : *host;
        backend->copy_async(bytes.data(), pool.slot_address(e.where.slot), bytes.size(), *s);
        s->synchronize();
        disk->write_async(e.key, bytes.data(), e.tokens).wait();
      }
    }
  }

  // Appends one token to every sequence and runs a step; returns fp32 outputs [layers][rows][dim].
  std::vector<float> step(int step_index, StepStats* stats = nullptr) {
    const int batch = static_cast<int>(seqs.size());
    const std::size_t dim = g.head_dim, rows = static_cast<std::size_t>(batch) * g.q_heads;
    std::vector<std::uint16_t> q(g.layers * rows * dim), kv(g.layers * batch * 2 * g.kv_heads * dim);
    std::vector<BlockTable> tables;
    for (int b = 0; b < batch; ++b) {
      const std::uint64_t pos = bm->tokens(seqs[b]);
      const TokenId tok = static_cast<TokenId>(1000003u * step_index + b);
      bm->append(seqs[b], std::span<const TokenId>(&tok, 1));
      for (int l = 0; l < g.layers; ++l)
        for (int kvi = 0; kvi < 2; ++kvi)
          for (int h = 0; h < g.kv_heads; ++h)
            for (std::size_t d = 0; d < dim; ++d)
              kv[(((l * batch + b) * 2 + kvi) * g.kv_heads + h) * dim + d] = kv_value(b, pos, l, kvi, h, static_cast<int>(d));
    }
    pipe->apply(bm->take_plan());
    for (int b = 0; b < batch; ++b) tables.push_back(bm->block_table(seqs[b]));
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = to_bf16(value_at(0xC0FFEE, step_index, i));
    Buffer qd = backend->allocate(MemoryKind::kDevice, q.size() * 2);
    Buffer kvd = backend->allocate(MemoryKind::kDevice, kv.size() * 2);
    Buffer out = backend->allocate(MemoryKind::kDevice, g.layers * rows * dim * 4);
    auto s = backend->create_stream();
    backend->copy_async(qd.data(), q.data(), q.size() * 2, *s);
    backend->copy_async(kvd.data(), kv.data(), kv.size() * 2, *s);
    backend->fill_async(out.data(), 0xFF, out.bytes(), *s);  // poison: NaN
    s->synchronize();
    StepIO io;
    io.q = qd.data();
    io.new_kv = kvd.data();
    io.out = out.data();
    const StepStats st = pipe->step(tables, io);
    if (stats) *stats = st;
    std::vector<float> result(g.layers * rows * dim);
    backend->copy_async(result.data(), out.data(), result.size() * 4, *s);
    s->synchronize();
    return result;
  }
};

// fp64 attention of sequence b (key b), layer l, q head h over its first `len` tokens.
std::vector<double> reference(const Geometry& g, int b, int len, int l, int h, const std::uint16_t* q) {
  const int kvh = h / g.group_size();
  std::vector<double> s(static_cast<std::size_t>(len));
  double m = -std::numeric_limits<double>::infinity();
  for (int t = 0; t < len; ++t) {
    double dot = 0;
    for (int d = 0; d < g.head_dim; ++d) dot += from_bf16(q[d]) * from_bf16(kv_value(b, t, l, 0, kvh, d));
    s[t] = dot / std::sqrt(static_cast<double>(g.head_dim));
    m = std::max(m, s[t]);
  }
  std::vector<double> o(g.head_dim, 0.0);
  double z = 0;
  for (int t = 0; t < len; ++t) {
    const double w = std::exp(s[t] - m);
    z += w;
    for (int d = 0; d < g.head_dim; ++d) o[d] += w * from_bf16(kv_value(b, t, l, 1, kvh, d));
  }
  for (double& v : o) v /= z;
  return o;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b, std::size_t dim) {
  double worst = 0;
  for (std::size_t r = 0; r < a.size() / dim; ++r) {
    double diff = 0, mag = 0;
    for (std::size_t d = 0; d < dim; ++d) {
      if (!std::isfinite(a[r * dim + d])) return std::numeric_limits<double>::infinity();
      diff = std::max(diff, std::fabs(double(a[r * dim + d]) - b[r * dim + d]));
      mag = std::max(mag, std::fabs(double(b[r * dim + d])));
    }
    worst = std::max(worst, diff / std::max(mag, 1e-12));
  }
  return worst;
}

Geometry test_geometry() {
  Geometry g = preset("tiny");  // 2 layers, 4 q / 2 kv heads, dim 64, bf16
  g.block_tokens = 16;
  return g;
}

struct Variant {
  int depth;
  const char* cpu_share;
  SlotIndex gpu_slots;
};

class PipelineExactness : public ::testing::TestWithParam<Variant> {};

TEST_P(PipelineExactness, TieredEqualsAllResidentAndReference) {
  const Variant v = GetParam();
  const Geometry g = test_geometry();
  const std::vector<int> lens = {200, 37, 130};  // blocks: 13, 3, 9 (+1 over the steps)
  PipelineConfig tiered_cfg;
  tiered_cfg.depth = v.depth;
  tiered_cfg.cpu_share = CpuShare::parse(v.cpu_share);
  tiered_cfg.cpu_threads = 2;
  tiered_cfg.max_batch = 3;
  tiered_cfg.max_streamed_blocks = 64;
  Rig tiered(g, v.gpu_slots, 64, tiered_cfg);
  PipelineConfig all_cfg;
  all_cfg.cpu_share = CpuShare::parse("off");
  all_cfg.max_batch = 3;
  Rig all(g, 64, 8, all_cfg);
  tiered.create(lens);
  all.create(lens);

  std::size_t streamed = 0, on_cpu = 0, moves = 0;
  for (int s = 0; s < 20; ++s) {  // crosses block boundaries: new blocks, write-backs
    StepStats st;
    const auto a = tiered.step(s, &st);
    const auto b = all.step(s);
    streamed += st.streamed_blocks;
    on_cpu += st.cpu_blocks;
    EXPECT_EQ(all.pipe->planner().share().mode, CpuShare::Mode::kOff);
    ASSERT_LE(max_rel_diff(a, b, g.head_dim), 1e-3) << "step " << s;
  }
  moves = tiered.bm->stats().moves_planned;
  // The reference for the last step's outputs (q regenerated as the step made it).
  const auto last = tiered.step(20);
  const std::size_t rows = lens.size() * g.q_heads, dim = g.head_dim;
  std::vector<float> ref(last.size());
  for (int l = 0; l < g.layers; ++l)
    for (std::size_t b = 0; b < lens.size(); ++b)
      for (int h = 0; h < g.q_heads; ++h) {
        const std::size_t row = b * g.q_heads + h;
        std::vector<std::uint16_t> q(dim);
        for (std::size_t d = 0; d < dim; ++d) q[d] = to_bf16(value_at(0xC0FFEE, 20, (l * rows + row) * dim + d));
        const auto o = reference(g, static_cast<int>(b), lens[b] + 21, l, h, q.data());
        for (std::size_t d = 0; d < dim; ++d) ref[(l * rows + row) * dim + d] = static_cast<float>(o[d]);
      }
  EXPECT_LE(max_rel_diff(last, ref, dim), 2e-3);
  if (v.gpu_slots < 20) {
    EXPECT_GT(moves, 0u) << "expected write-backs to host during the steps";
    const std::string share = v.cpu_share;
    if (share == "off") {
      EXPECT_GT(streamed, 0u);
    } else if (share != "auto") {
      EXPECT_GT(on_cpu, 0u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, PipelineExactness,
                         ::testing::Values(Variant{0, "off", 10}, Variant{1, "off", 10}, Variant{2, "off", 10},
                                           Variant{1, "0.5", 10}, Variant{1, "1", 10}, Variant{1, "auto", 10},
                                           Variant{2, "0.3", 12}, Variant{1, "off", 64}));

Geometry disk_geometry() {
  Geometry g = test_geometry();
  g.layers = 5;  // groups of 2 layers: 3 groups through a ring of 2 buffers
  return g;
}

PipelineConfig disk_config(int depth, const char* share) {
  PipelineConfig c;
  c.depth = depth;
  c.cpu_share = CpuShare::parse(share);
  c.cpu_threads = 2;
  c.max_batch = 3;
  c.max_streamed_blocks = 64;
  c.disk_group_layers = 2;
  c.disk_writeback_bytes = 4 * disk_geometry().slot_bytes();  // small: writes wait for each other
  return c;
}

struct DiskVariant {
  int depth;
  const char* cpu_share;
};

class PipelineDiskExactness : public ::testing::TestWithParam<DiskVariant> {};

TEST_P(PipelineDiskExactness, GpuHostAndDiskEqualAllResident) {
  const DiskVariant v = GetParam();
  const Geometry g = disk_geometry();
  const std::vector<int> lens = {200, 37, 130};  // 26 blocks after the steps: ~16 on disk
  TempDir dir;
  Rig tiered(g, 8, 4, disk_config(v.depth, v.cpu_share), 48, dir.path);
  PipelineConfig all_cfg;
  all_cfg.max_batch = 3;
  Rig all(g, 64, 8, all_cfg);
  tiered.create(lens);
  all.create(lens);
  const std::uint64_t written_at_start = tiered.disk->stats().blocks_written;
  std::size_t disk_blocks = 0, disk_bytes = 0;
  for (int s = 0; s < 24; ++s) {  // crosses block boundaries: blocks go down to host and disk
    StepStats st;
    const auto a = tiered.step(s, &st);
    const auto b = all.step(s);
    disk_blocks += st.disk_blocks;
    disk_bytes += st.disk_bytes;
    ASSERT_LE(max_rel_diff(a, b, g.head_dim), 1e-3) << "step " << s;
  }
  tiered.pipe->flush_disk();
  EXPECT_GT(disk_blocks, 0u);
  EXPECT_GT(disk_bytes, 0u);
  EXPECT_GT(tiered.disk->stats().blocks_written, written_at_start) << "expected write-backs to disk during the steps";
  EXPECT_GT(tiered.disk->stats().layer_reads, 0u);
  EXPECT_EQ(tiered.disk->stats().corruptions, 0u);
}

INSTANTIATE_TEST_SUITE_P(Variants, PipelineDiskExactness,
                         ::testing::Values(DiskVariant{0, "off"}, DiskVariant{1, "off"}, DiskVariant{2, "0.5"},
                                           DiskVariant{1, "auto"}));

TEST(PipelineDisk, RestartReusesEveryFullBlockAndComputesTheSameOutputs) {
  const Geometry g = disk_geometry();
  const std::vector<int> lens = {200, 37};
  TempDir dir;
  std::vector<float> first;
  {
    Rig a(g, 6, 4, disk_config(1, "off"), 48, dir.path);
    a.create(lens);
    EXPECT_EQ(a.reused_tokens, 0u);
    first = a.step(0);
    a.persist();
  }  // the store closes: its lock is released, as when a process exits
  Rig b(g, 6, 4, disk_config(1, "off"), 48, dir.path);
  b.create(lens);
  EXPECT_EQ(b.reused_tokens, (200u / 16 + 37u / 16) * 16) << "every full prompt block comes from disk";
  EXPECT_LE(max_rel_diff(b.step(0), first, g.head_dim), 1e-6) << "the same inputs give the same outputs";
}

TEST(PipelineDisk, CorruptBlockOnDiskIsNeverServed) {
  const Geometry g = disk_geometry();
  TempDir dir;
  Rig r(g, 4, 2, disk_config(1, "off"), 48, dir.path);
  r.create({300});
  const BlockTable t = r.bm->block_table(r.seqs[0]);
  ASSERT_FALSE(t.tier(Tier::kDisk).slots.empty());
  const SlotIndex slot = t.tier(Tier::kDisk).slots[0];
  // One bit of layer 3's K in that slot's payload (one slot file: slot s at s * stride).
  const std::uint64_t stride = disk_slot_stride(g);
  const std::uint64_t at = slot * stride + 4096 + 3 * g.layer_bytes() + 100;
  const int fd = ::open((dir.path / "slots-00000.kvt").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  unsigned char byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(at)), 1);
  byte ^= 0x10;
  ASSERT_EQ(::pwrite(fd, &byte, 1, static_cast<off_t>(at)), 1);
  ::close(fd);
  try {
    r.step(0);
    ADD_FAILURE() << "expected Corruption";
  } catch (const Corruption& e) {
    EXPECT_NE(std::string(e.what()).find("not served"), std::string::npos) << e.what();
  }
  EXPECT_EQ(r.disk->stats().corruptions, 1u);
}

TEST(PipelineDisk, RejectsDiskMovesAndBlocksWithoutADiskTier) {
  const Geometry g = test_geometry();
  PipelineConfig cfg;
  Rig r(g, 8, 8, cfg);
  const SlotMove to_disk{SlotMove::Kind::kMove, 1, {Tier::kHost, 0}, {Tier::kDisk, 0}, {}, 16};
  EXPECT_THROW(r.pipe->apply(std::span<const SlotMove>(&to_disk, 1)), InvalidArgument);
  r.create({40});
  std::vector<BlockTable> tables{r.bm->block_table(r.seqs[0])};
  tables[0].blocks[0].where = {Tier::kDisk, 0};
  StepIO io;
  Buffer q = r.backend->allocate(MemoryKind::kDevice, 4096), out = r.backend->allocate(MemoryKind::kDevice, 4096);
  io.q = q.data();
  io.out = out.data();
  EXPECT_THROW(r.pipe->step(tables, io), InvalidArgument);
}

TEST(Pipeline, RejectsBadSettingsAndInputs) {
  const Geometry g = test_geometry();
  PipelineConfig cfg;
  cfg.depth = -1;
  EXPECT_THROW(Rig(g, 8, 8, cfg), InvalidArgument);
  cfg.depth = 1;
  cfg.max_batch = 0;
  EXPECT_THROW(Rig(g, 8, 8, cfg), InvalidArgument);
  cfg.max_batch = 1;
  cfg.out_dtype = DType::kF16;
  EXPECT_THROW(Rig(g, 8, 8, cfg), InvalidArgument);
  cfg.out_dtype = DType::kF32;
  cfg.max_streamed_blocks = 2;
  Rig s(g, 4, 32, cfg);
  s.create({300});  // 19 blocks, most on the host: more than the staging buffers hold
  EXPECT_THROW(s.step(0), InvalidArgument);
}

}  // namespace
}  // namespace kvtier::pipeline
