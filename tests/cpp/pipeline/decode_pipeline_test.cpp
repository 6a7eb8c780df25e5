// The decode pipeline: tiered steps (any GPU budget, depth, CPU split) give the outputs of
// all-resident steps and of an fp64 reference, over steps in which blocks are written back to
// host. Built twice: on the CPU backend (label cpu) and, with KVTIER_PIPELINE_TEST_CUDA, on the
// CUDA backend (label cuda).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "kvtier/block/block_manager.h"
#include "kvtier/core/error.h"
#include "kvtier/pipeline/decode_pipeline.h"
#include "kvtier/transfer/slot_arena.h"
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

struct Rig {
  Geometry g;
  std::unique_ptr<Backend> backend = make_backend(kBackend);
  std::unique_ptr<SlotPool> gpu, host;
  std::unique_ptr<TransferEngine> engine;
  std::unique_ptr<BlockManager> bm;
  std::unique_ptr<DecodePipeline> pipe;
  std::vector<SeqId> seqs;

  Rig(const Geometry& geometry, SlotIndex gpu_slots, SlotIndex host_slots, PipelineConfig cfg) : g(geometry) {
    gpu = std::make_unique<SlotPool>(*backend, Tier::kGpu, g, gpu_slots);
    host = std::make_unique<SlotPool>(*backend, Tier::kHost, g, host_slots);
    engine = std::make_unique<TransferEngine>(*backend, g, view_of(*gpu), view_of(*host));
    BlockManagerConfig bc;
    bc.geometry = g;
    bc.capacity = {gpu_slots, host_slots, 0};
    bc.sink_blocks = 1;
    bc.window_blocks = 2;
    bm = std::make_unique<BlockManager>(bc);
    pipe = std::make_unique<DecodePipeline>(*backend, g, *gpu, *host, *engine, cfg);
  }

  // Creates sequences holding `lens` tokens and writes their KV where each block landed.
  void create(const std::vector<int>& lens) {
    std::mt19937 rng(5);
    for (int len : lens) {
      std::vector<TokenId> prompt(static_cast<std::size_t>(len));
      for (auto& t : prompt) t = static_cast<TokenId>(rng());
      seqs.push_back(bm->create(prompt).seq);
    }
    const auto plan = bm->take_plan();
    pipe->apply(plan);
    engine->synchronize();
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      kvtier::testing::fill_table(*backend, bm->block_table(seqs[i]), i, g, *gpu, *host);
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
