#include "kvtier/pipeline/decode_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <string>

#include "kvtier/core/error.h"
#include "kvtier/core/units.h"
#include "kvtier/transfer/staging_ring.h"
#include "pipeline/attention_runner.h"
#include "pipeline/cpu_share.h"
#include "pipeline/disk_side.h"
#include "pipeline/step_tables.h"

namespace kvtier::pipeline {

using Clock = std::chrono::steady_clock;

void PipelineConfig::validate() const {
  if (depth < 0 || depth > 8) {
    throw InvalidArgument("pipeline: depth " + std::to_string(depth) + "; expected 0..8");
  }
  if (max_batch < 1) throw InvalidArgument("pipeline: max_batch " + std::to_string(max_batch) + "; expected >= 1");
  if (cpu_threads < 0) throw InvalidArgument("pipeline: cpu_threads must be >= 0");
  if (cpu_spin_us < 0 || cpu_spin_us > 1000000)
    throw InvalidArgument("pipeline: cpu_spin_us must be in 0..1000000");
  if (disk_buffers < 2) throw InvalidArgument("pipeline: disk_buffers " + std::to_string(disk_buffers) + "; expected >= 2");
  if (disk_group_layers < 0) throw InvalidArgument("pipeline: disk_group_layers must be >= 0 (0: automatic)");
  if (!(scale >= 0.f) || !std::isfinite(scale)) throw InvalidArgument("pipeline: scale must be finite and >= 0");
}

namespace {

constexpr std::size_t kParts = 3;  // partials on the device: resident, streamed, disk

Rates with_defaults(Rates r) {
  if (r.pcie <= 0) r.pcie = 25e9;
  if (r.cpu <= 0) r.cpu = 10e9;
  if (r.gpu <= 0) r.gpu = 1e12;
  if (r.handoff_seconds <= 0) r.handoff_seconds = 50e-6;
  return r;
}

}  // namespace

struct DecodePipeline::Impl {
  detail::AttentionRunner runner;
  std::unique_ptr<StagingRing> ring;
  std::unique_ptr<detail::CpuShareWorker> cpu;
  std::unique_ptr<detail::DiskWriteBack> write_back;
  std::unique_ptr<detail::DiskStaging> disk_staging;
  Buffer partials;            // device: [3][rows][head_dim] o, then [3][rows] lse
  Buffer cpu_q, cpu_partial;  // pinned: [layers][rows][head_dim] q; o [layers][rows][dim] + lse
  Buffer tables_host, tables_dev;
  std::vector<std::unique_ptr<Event>> q_ready;     // [layers] q of the layer on its way to the host
  std::vector<std::unique_ptr<Event>> parts_done;  // [layers] the GPU's own parts of the layer done
  std::vector<TransferEvent> pending;  // plans applied since the last step

  Impl(Backend& b, int threads) : runner(b, threads) {}
};

DecodePipeline::DecodePipeline(Backend& backend, const Geometry& geometry, SlotPool& gpu, SlotPool& host,
                               TransferEngine& engine, PipelineConfig config, DiskStore* disk)
    : backend_(backend),
      geometry_(geometry),
      gpu_(gpu),
      host_(host),
      engine_(engine),
      disk_(disk),
      config_(config),
      planner_(config.cpu_share, with_defaults(config.prior)) {
  geometry_.validate();
  config_.validate();
  if (gpu.tier() != Tier::kGpu || host.tier() != Tier::kHost) {
    throw InvalidArgument("pipeline: expected the GPU pool and the host pool, in that order");
  }
  if (gpu.slot_bytes() != geometry_.slot_bytes() || host.slot_bytes() != geometry_.slot_bytes()) {
    throw InvalidArgument("pipeline: pool slots of " + std::to_string(gpu.slot_bytes()) + " / " +
                          std::to_string(host.slot_bytes()) + " bytes; expected " +
                          std::to_string(geometry_.slot_bytes()) + " for " + geometry_.name);
  }
  if (config_.scale == 0.f) config_.scale = 1.0f / std::sqrt(static_cast<float>(geometry_.head_dim));
  if (config_.out_dtype != DType::kF32 && config_.out_dtype != geometry_.dtype) {
    throw InvalidArgument(std::string("pipeline: out_dtype ") + dtype_name(config_.out_dtype) + "; expected fp32 or " +
                          dtype_name(geometry_.dtype));
  }
  compute_ = backend.create_stream();
  impl_ = std::make_unique<Impl>(backend, 0);
  if (config_.max_streamed_blocks > 0) {
    impl_->ring = std::make_unique<StagingRing>(backend, geometry_, config_.max_streamed_blocks, config_.depth + 1);
  }
  const std::size_t rows = static_cast<std::size_t>(config_.max_batch) * geometry_.q_heads;
  const std::size_t dim = static_cast<std::size_t>(geometry_.head_dim);
  impl_->partials = backend.allocate(MemoryKind::kDevice, kParts * rows * (dim + 1) * sizeof(float));
  if (disk_ != nullptr) {
    if (disk_->geometry().fingerprint() != geometry_.fingerprint()) {
      throw InvalidArgument("pipeline: the disk tier holds " + disk_->geometry().name + " blocks; expected " +
                            geometry_.name);
    }
    impl_->write_back = std::make_unique<detail::DiskWriteBack>(backend, *disk_, config_.disk_writeback_bytes);
    impl_->disk_staging = std::make_unique<detail::DiskStaging>(backend, *disk_, geometry_, config_.max_disk_blocks,
                                                                config_.disk_group_layers, config_.disk_buffers);
  }
  if (config_.cpu_share.mode != CpuShare::Mode::kOff) {
    const std::size_t layers = static_cast<std::size_t>(geometry_.layers);
    impl_->cpu_q = backend.allocate(MemoryKind::kPinnedHost, layers * rows * dim * geometry_.elem_bytes());
    impl_->cpu_partial = backend.allocate(MemoryKind::kPinnedHost, layers * rows * (dim + 1) * sizeof(float));
    impl_->cpu = std::make_unique<detail::CpuShareWorker>(
        config_.cpu_threads, std::chrono::microseconds(config_.cpu_spin_us));
    for (int l = 0; l < geometry_.layers; ++l) {
      impl_->q_ready.push_back(backend.create_event());
      impl_->parts_done.push_back(backend.create_event());
    }
  }
}

DecodePipeline::~DecodePipeline() {
  try {
    compute_->synchronize();
    for (const TransferEvent& ev : impl_->pending) ev.synchronize();
  } catch (...) {  // destructors never throw; the error was reported by the step that caused it
  }
}

std::size_t DecodePipeline::disk_staging_bytes() const {
  return impl_->disk_staging ? impl_->disk_staging->host_bytes() : 0;
}

void DecodePipeline::flush_disk() {
  if (impl_->write_back) impl_->write_back->drain();
}

std::size_t DecodePipeline::device_bytes() const {
  std::size_t n = impl_->partials.bytes() + impl_->tables_dev.bytes();
  if (impl_->ring) n += impl_->ring->buffer_bytes() * static_cast<std::size_t>(impl_->ring->depth());
  return n;
}

void DecodePipeline::apply(std::span<const SlotMove> plan) {
  Impl& m = *impl_;
  for (const SlotMove& mv : plan) {
    if (mv.from.tier != Tier::kDisk && mv.to.tier != Tier::kDisk) continue;
    if (!m.write_back) {
      throw InvalidArgument("pipeline: the plan moves block " + std::to_string(mv.block) +
                            " to or from the disk tier; this pipeline has no disk tier (pass a DiskStore)");
    }
    if (mv.from.tier == Tier::kDisk && mv.kind == SlotMove::Kind::kCopy) {
      throw InvalidArgument("pipeline: the plan copies block " + std::to_string(mv.block) +
                            " out of a disk slot (a fork of a partial block on disk); expected partial blocks "
                            "off the disk tier");
    }
  }
  // Moves between GPU and host go to the engine in runs; a disk move waits for the runs before
  // it (they may write its source or still read its destination) and is done before those after.
  std::size_t run_begin = 0;
  auto submit_run = [&](std::size_t end) {
    if (end > run_begin) {
      TransferEvent ev = engine_.submit(plan.subspan(run_begin, end - run_begin));
      if (ev.rejected()) ev.synchronize();  // throws the submission error: nothing of it moved
      m.pending.push_back(std::move(ev));
    }
  };
  const std::size_t slot_bytes = geometry_.slot_bytes();
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const SlotMove& mv = plan[i];
    if (mv.from.tier != Tier::kDisk && mv.to.tier != Tier::kDisk) continue;
    submit_run(i);
    run_begin = i + 1;
    for (const TransferEvent& ev : m.pending) ev.synchronize();
    m.disk_staging->end();  // reads left by a step that failed: the store refuses busy slots
    if (mv.to.tier == Tier::kDisk) {
      if (mv.tokens == 0) continue;  // a block that has no bytes yet (DESIGN: harmless move)
      Buffer copy = m.write_back->take_buffer();
      if (mv.from.tier == Tier::kHost) {
        std::memcpy(copy.data(), host_.slot_address(mv.from.slot), slot_bytes);
      } else {
        backend_.copy_async(copy.data(), gpu_.slot_address(mv.from.slot), slot_bytes, *compute_);
        compute_->synchronize();
      }
      m.write_back->write(mv.to.slot, mv.key, mv.tokens, std::move(copy));
    } else if (mv.to.tier == Tier::kHost) {
      m.write_back->read(mv.from.slot, mv.key, host_.slot_address(mv.to.slot));
    } else {
      Buffer bounce = m.write_back->take_buffer();
      m.write_back->read(mv.from.slot, mv.key, bounce.data());
      backend_.copy_async(gpu_.slot_address(mv.to.slot), bounce.data(), slot_bytes, *compute_);
      compute_->synchronize();
      m.write_back->recycle(std::move(bounce));
    }
  }
  submit_run(plan.size());
}

StepStats DecodePipeline::step(std::span<const BlockTable> tables, const StepIO& io) {
  const auto t0 = Clock::now();
  const Geometry& g = geometry_;
  const int batch = static_cast<int>(tables.size());
  if (batch < 1 || batch > config_.max_batch) {
    throw InvalidArgument("decode step: batch " + std::to_string(batch) + "; expected 1.." +
                          std::to_string(config_.max_batch) + " (PipelineConfig::max_batch)");
  }
  if (io.q == nullptr || io.out == nullptr) throw InvalidArgument("decode step: q and out are required");
  Impl& m = *impl_;
  if (m.write_back) m.write_back->reap();  // throws a failed write-back: its block is lost
  std::size_t host_blocks = 0;
  for (const BlockTable& t : tables) host_blocks += t.tier(Tier::kHost).slots.size();
  const double x = planner_.cpu_fraction(host_blocks * g.layer_bytes());
  const bool cpu_on = m.cpu != nullptr;
  const detail::StepSplit split = detail::split_step(tables, g.block_tokens, cpu_on ? x : 0.0);
  const std::size_t n_res = split.resident.blocks(), n_str = split.streamed.blocks(), n_cpu = split.cpu.blocks();
  const std::size_t n_disk = split.disk.blocks();
  if (n_disk > 0 && !m.disk_staging) {
    throw InvalidArgument("decode step: " + std::to_string(n_disk) +
                          " blocks are on disk; this pipeline has no disk tier (pass a DiskStore)");
  }
  if (n_str > 0 && (!m.ring || n_str > m.ring->max_blocks())) {
    throw InvalidArgument("decode step: " + std::to_string(n_str) + " blocks to stream; the staging buffers hold " +
                          std::to_string(m.ring ? m.ring->max_blocks() : 0) +
                          " (raise PipelineConfig::max_streamed_blocks)");
  }

  // Tables: built on the host, uploaded once for the whole step.
  std::vector<void*> ring_buffers;
  if (m.ring) {
    for (int i = 0; i < m.ring->depth(); ++i) ring_buffers.push_back(m.ring->data(i));
  }
  // Disk blocks: their reads start now, a group of layers at a time (disk_side.h).
  std::vector<const void*> disk_ptrs;
  if (m.disk_staging) m.disk_staging->begin(split.disk.slots, split.disk_keys, m.write_back.get(), disk_ptrs);
  const detail::TableImage img = detail::build_tables(split, gpu_, g, ring_buffers, disk_ptrs);
  Stream& compute = *compute_;
  compute.synchronize();  // the previous step's readers of the table buffers are done
  // On an error below, the work already enqueued still reads the caller's q, K/V and outputs:
  // it finishes (its own errors dropped) before the exception leaves, as do the disk reads.
  // The staging ring's copies run ahead of the compute stream: they finish too, and the ring is
  // left whole for the next step.
  struct DrainOnError {
    Stream& compute;
    StagingRing* ring;
    detail::DiskStaging* disk;
    int exceptions = std::uncaught_exceptions();
    ~DrainOnError() {
      if (std::uncaught_exceptions() <= exceptions) return;
      try {
        compute.synchronize();
      } catch (...) {  // the error being thrown is the one to report
      }
      if (ring != nullptr) ring->reset();
      if (disk != nullptr) disk->end();
    }
  } drain_guard{compute, m.ring.get(), m.disk_staging.get()};
  if (m.tables_host.bytes() < img.bytes.size()) {
    m.tables_host = backend_.allocate(MemoryKind::kPinnedHost, img.bytes.size() * 2);
    m.tables_dev = backend_.allocate(MemoryKind::kDevice, img.bytes.size() * 2);
  }
  std::memcpy(m.tables_host.data(), img.bytes.data(), img.bytes.size());
  backend_.copy_async(m.tables_dev.data(), m.tables_host.data(), img.bytes.size(), compute);
  auto* dev = m.tables_dev.as<unsigned char>();
  auto* hst = m.tables_host.as<unsigned char>();

  // New K/V may go into slots that the moves vacate; the CPU share reads blocks they bring.
  std::vector<TransferEvent> before = std::move(m.pending);
  m.pending.clear();
  for (const TransferEvent& ev : before) ev.wait(compute);

  const std::size_t rows = static_cast<std::size_t>(batch) * g.q_heads;
  const std::size_t dim = static_cast<std::size_t>(g.head_dim);
  const std::size_t q_layer_bytes = rows * dim * g.elem_bytes();
  const std::size_t kv_layer_bytes = static_cast<std::size_t>(batch) * 2 * g.kv_heads * dim * g.elem_bytes();
  const std::size_t out_layer_bytes = rows * dim * dtype_size(config_.out_dtype);
  float* p_o = m.partials.as<float>();  // [kParts][rows][dim] then [kParts][rows]
  const std::size_t max_rows = static_cast<std::size_t>(config_.max_batch) * g.q_heads;
  float* p_lse = p_o + kParts * max_rows * dim;

  attention::DecodeShape shape;
  shape.batch = batch;
  shape.q_tokens = 1;
  shape.q_heads = g.q_heads;
  shape.kv_heads = g.kv_heads;
  shape.head_dim = g.head_dim;
  shape.block_tokens = g.block_tokens;
  shape.dtype = g.dtype;
  shape.scale = config_.scale;
  shape.causal = true;

  // The CPU share: host tables per layer, started now, waiting for each layer's q.
  std::vector<std::vector<const void*>> cpu_ptrs;
  if (cpu_on && n_cpu > 0) {
    std::vector<detail::CpuShareWorker::Layer> layers(static_cast<std::size_t>(g.layers));
    cpu_ptrs.resize(layers.size());
    for (int l = 0; l < g.layers; ++l) {
      auto& ptrs = cpu_ptrs[static_cast<std::size_t>(l)];
      for (SlotIndex s : split.cpu.slots) ptrs.push_back(host_.layer_address(s, l));
      auto& a = layers[static_cast<std::size_t>(l)].args;
      a.shape = shape;
      a.q = m.cpu_q.as<unsigned char>() + static_cast<std::size_t>(l) * q_layer_bytes;
      a.tables.blocks = ptrs.data();
      a.tables.block_begin = split.cpu.begin.data();
      a.tables.seq_lens = split.cpu.lens.data();
      a.host_block_begin = split.cpu.begin;
      a.host_seq_lens = split.cpu.lens;
      a.o = m.cpu_partial.as<float>() + static_cast<std::size_t>(l) * max_rows * dim;
      a.lse = m.cpu_partial.as<float>() + static_cast<std::size_t>(g.layers) * max_rows * dim +
              static_cast<std::size_t>(l) * max_rows;
      attention::validate(a, false);
      layers[static_cast<std::size_t>(l)].q_ready = m.q_ready[static_cast<std::size_t>(l)].get();
    }
    m.cpu->start(std::move(layers), before);
  }
  // On an error below, the CPU worker must let go of this step's tables before they unwind.
  struct AbortCpuOnError {
    detail::CpuShareWorker* cpu;
    int exceptions = std::uncaught_exceptions();
    ~AbortCpuOnError() {
      if (cpu != nullptr && std::uncaught_exceptions() > exceptions) cpu->abort();
    }
  } abort_guard{cpu_on && n_cpu > 0 ? m.cpu.get() : nullptr};

  // The copy side: layer l's streamed slices into the ring, d layers ahead.
  const int d = config_.depth;
  std::vector<int> staged(static_cast<std::size_t>(g.layers), -1);
  auto stage = [&](int l) {
    TransferEngine::Staged st = engine_.stage_layer(*m.ring, l, split.streamed.slots);
    if (st.event.rejected()) st.event.synchronize();
    staged[static_cast<std::size_t>(l)] = st.buffer;
  };
  if (n_str > 0) {
    for (int l = 0; l < std::min(d, g.layers); ++l) stage(l);
  }

  StepStats stats;
  std::vector<Clock::time_point> woke(static_cast<std::size_t>(g.layers));  // CPU share waited for
  for (int l = 0; l < g.layers; ++l) {
    if (io.layer_work) io.layer_work(l, compute);
    const auto* q_l = static_cast<const unsigned char*>(io.q) + static_cast<std::size_t>(l) * q_layer_bytes;
    if (io.new_kv != nullptr) {
      detail::AppendArgs ap;
      ap.batch = batch;
      ap.kv_heads = g.kv_heads;
      ap.row_bytes = dim * g.elem_bytes();
      ap.head_bytes = g.head_bytes();
      ap.src = static_cast<const unsigned char*>(io.new_kv) + static_cast<std::size_t>(l) * kv_layer_bytes;
      ap.dst = reinterpret_cast<void* const*>(dev + img.append_ptrs) + static_cast<std::size_t>(l) * batch;
      m.runner.append(ap, compute);
    }
    if (cpu_on && n_cpu > 0) {
      m.runner.store_to_host(m.cpu_q.as<unsigned char>() + static_cast<std::size_t>(l) * q_layer_bytes, q_l,
                             q_layer_bytes, compute);
      m.q_ready[static_cast<std::size_t>(l)]->record(compute);
      m.cpu->q_recorded(l);
    }
    // Copies d layers ahead, enqueued only now: building and enqueuing a layer's copy list takes
    // the host milliseconds at batch 8, and the CPU share of this layer (above) and the GPU's
    // layer work must not wait for that.
    if (n_str > 0) {
      const auto s0 = Clock::now();
      if (d == 0) {
        stage(l);
      } else if (l + d < g.layers) {
        stage(l + d);
      }
      stats.stage_seconds += std::chrono::duration<double>(Clock::now() - s0).count();
    }
    std::vector<attention::PartialState> parts;
    // kv_ready: the part's K/V sit in buffers that copies or disk reads filled, never the kernel
    // just before it (the resident part's last block is the append's).
    auto run_part = [&](int slot, const void* const* blocks, std::size_t begin_off,
                        std::size_t lens_off, bool kv_ready) {
      attention::DecodeArgs a;
      a.shape = shape;
      a.kv_ready = kv_ready;
      a.q = q_l;
      a.tables.blocks = blocks;
      a.tables.block_begin = reinterpret_cast<const int*>(dev + begin_off);
      a.tables.seq_lens = reinterpret_cast<const int*>(dev + lens_off);
      a.host_block_begin = std::span<const int>(reinterpret_cast<const int*>(hst + begin_off), batch + 1);
      a.host_seq_lens = std::span<const int>(reinterpret_cast<const int*>(hst + lens_off), batch);
      a.o = p_o + static_cast<std::size_t>(slot) * max_rows * dim;
      a.lse = p_lse + static_cast<std::size_t>(slot) * max_rows;
      m.runner.decode(a, compute);
      parts.push_back({a.o, a.lse});
    };
    if (n_res > 0) {
      run_part(0,
               reinterpret_cast<const void* const*>(dev + img.resident_ptrs) +
                   static_cast<std::size_t>(l) * n_res,
               img.resident_begin, img.resident_lens, false);
    }
    if (n_str > 0) {
      const int buf = staged[static_cast<std::size_t>(l)];
      m.ring->wait_full(buf, compute);
      run_part(1,
               reinterpret_cast<const void* const*>(dev + img.staged_ptrs) +
                   static_cast<std::size_t>(buf) * n_str,
               img.streamed_begin, img.streamed_lens, true);
      m.ring->release(buf, compute);
    }
    if (n_disk > 0) {
      const int group = l / m.disk_staging->group_layers();
      if (l % m.disk_staging->group_layers() == 0) stats.disk_wait_seconds += m.disk_staging->acquire(group);
      run_part(2,
               reinterpret_cast<const void* const*>(dev + img.disk_ptrs) +
                   static_cast<std::size_t>(l) * n_disk,
               img.disk_begin, img.disk_lens, true);
      if ((l + 1) % m.disk_staging->group_layers() == 0 || l + 1 == g.layers) m.disk_staging->finish(group, compute);
    }
    if (cpu_on && n_cpu > 0) {
      m.parts_done[static_cast<std::size_t>(l)]->record(compute);
      const auto w0 = Clock::now();
      m.cpu->wait_layer(l);
      const auto w1 = Clock::now();
      stats.cpu_wait_seconds += std::chrono::duration<double>(w1 - w0).count();
      woke[static_cast<std::size_t>(l)] = w1;
      const float* o = m.cpu_partial.as<float>() + static_cast<std::size_t>(l) * max_rows * dim;
      const float* lse = m.cpu_partial.as<float>() + static_cast<std::size_t>(g.layers) * max_rows * dim +
                         static_cast<std::size_t>(l) * max_rows;
      parts.push_back({o, lse});
    }
    void* out = static_cast<unsigned char*>(io.out) + static_cast<std::size_t>(l) * out_layer_bytes;
    float* out_lse = io.out_lse ? io.out_lse + static_cast<std::size_t>(l) * rows : nullptr;
    m.runner.merge(std::move(parts), rows, g.head_dim, out, config_.out_dtype, out_lse, compute);
  }
  compute.synchronize();
  for (const TransferEvent& ev : before) ev.synchronize();  // device errors of the moves

  stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  stats.batch = batch;
  stats.resident_blocks = n_res;
  stats.streamed_blocks = n_str;
  stats.cpu_blocks = n_cpu;
  stats.disk_blocks = n_disk;
  const std::size_t per_block = g.layer_bytes() * static_cast<std::size_t>(g.layers);
  stats.resident_bytes = n_res * per_block;
  stats.streamed_bytes = n_str * per_block;
  stats.cpu_bytes = n_cpu * per_block;
  stats.disk_bytes = n_disk > 0 ? m.disk_staging->blocks_from_disk() * per_block : 0;
  stats.cpu_fraction = split.cpu_fraction;
  if (cpu_on && n_cpu > 0) {
    for (int l = 0; l < g.layers; ++l) stats.cpu_seconds += m.cpu->times(l).compute_seconds();
    planner_.observe_cpu(stats.cpu_bytes, stats.cpu_seconds);
    // Balance: per layer, from its q being ready, until the CPU share's result was (the worker's
    // clock; not when this thread took it, which may have been busy enqueuing) against until the
    // GPU's own parts were done (GPU clock: events of one stream); the median over the layers,
    // which a layer stalled by something else does not move.
    // The hand-off figures come from the same clocks.
    std::vector<double> slack(static_cast<std::size_t>(g.layers));
    auto secs = [](Clock::duration d) {
      return std::max(0.0, std::chrono::duration<double>(d).count());
    };
    for (int l = 0; l < g.layers; ++l) {
      const auto i = static_cast<std::size_t>(l);
      const detail::CpuShareWorker::Times& t = m.cpu->times(l);
      slack[i] = t.compute_seconds() - m.parts_done[i]->elapsed_ms(*m.q_ready[i]) * 1e-3;
      stats.driver_wake_seconds += secs(woke[i] - t.done);
      stats.q_turnaround_seconds += secs(t.seen - t.recorded);
      if (l > 0) {
        stats.cpu_idle_seconds += secs(t.seen - m.cpu->times(l - 1).done);
        stats.gpu_gap_seconds +=
            std::max(0.0, m.q_ready[i]->elapsed_ms(*m.parts_done[i - 1]) * 1e-3);
      }
    }
    std::nth_element(slack.begin(), slack.begin() + slack.size() / 2, slack.end());
    stats.balance_seconds = slack[slack.size() / 2];
    planner_.observe_balance(host_blocks * g.layer_bytes(), stats.balance_seconds);
  }
  if (cpu_on) planner_.observe_step(host_blocks * g.layer_bytes(), stats.seconds);
  return stats;
}

}  // namespace kvtier::pipeline
