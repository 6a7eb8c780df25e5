// The decode step (DESIGN.md, "The decode step"): for a batch of sequences and every layer,
// load -> compute -> merge. Each sequence's blocks are GPU-resident, on the host to be streamed,
// or on the host to be computed by the CPU where they are; the split comes from a SplitPlanner fed
// by measured rates. The transfer engine gathers the streamed blocks of layer L + d into a ring of
// d + 1 staging buffers while layer L computes (d = 0: copy, then compute, for comparison); the
// compute stream runs partial attention over resident blocks and over the staged ones; CPU threads
// compute the CPU share from q copied to the host; one merge writes the layer's output. The new
// token's K/V is written into its sequence's GPU block before the layer's attention.
//
// Synchronisation with the host in a step: the CPU share's hand-off (the pipeline waits for the
// CPU's partial of layer L before enqueuing layer L's merge) and the end of the step. With the CPU
// share off, a step enqueues all its work without waiting.
//
// Threading: one thread drives a pipeline. The pools, engine and backend must outlive it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/block/block_table.h"
#include "kvtier/block/slot_pool.h"
#include "kvtier/core/geometry.h"
#include "kvtier/pipeline/split_planner.h"
#include "kvtier/transfer/transfer_engine.h"

namespace kvtier::pipeline {

struct PipelineConfig {
  int depth = 1;                        // staging look-ahead d; the ring has d + 1 buffers
  CpuShare cpu_share;                   // which host blocks the CPU computes
  int cpu_threads = 0;                  // threads of the CPU share (0: all hardware threads)
  int max_batch = 1;                    // largest batch of a step (sizes the workspaces)
  std::size_t max_streamed_blocks = 0;  // blocks a staging buffer holds, over the batch
  float scale = 0.f;                    // softmax scale; 0: 1 / sqrt(head_dim)
  DType out_dtype = DType::kF32;        // of the layer outputs: fp32 or the KV dtype
  // Seeds of the split planner: PCIe gather rate (kept: the copy stream's busy time cannot be
  // told from its waits), CPU and GPU attention rates (updated from measurements) and the
  // hand-off cost per layer. Zeros: PCIe 25 GB/s, CPU 10 GB/s, GPU 1 TB/s, 50 us.
  Rates prior;

  // InvalidArgument naming the first bad field.
  void validate() const;
};

// Inputs and outputs of one step, all in the backend's device memory.
struct StepIO {
  const void* q = nullptr;       // [layers][batch][q_heads][head_dim], KV dtype
  const void* new_kv = nullptr;  // [layers][batch][2][kv_heads][head_dim], or nullptr: K/V of the
                                 // newest token of each sequence, written into its block
  void* out = nullptr;           // [layers][batch][q_heads][head_dim], out_dtype
  float* out_lse = nullptr;      // [layers][batch][q_heads], or nullptr
  // Model work of a layer, enqueued on the compute stream before its attention (may be empty).
  std::function<void(int layer, Stream& compute)> layer_work;
};

struct StepStats {
  double seconds = 0;  // wall time from the call to the end of the step's work
  int batch = 0;
  // Blocks of one layer over the batch, by where attention reads them.
  std::size_t resident_blocks = 0, streamed_blocks = 0, cpu_blocks = 0;
  // KV bytes read over all layers.
  std::size_t resident_bytes = 0, streamed_bytes = 0, cpu_bytes = 0;
  double cpu_fraction = 0;        // of the host bytes, computed on the CPU
  double cpu_seconds = 0;         // CPU attention time, all layers
  double cpu_wait_seconds = 0;    // time the driving thread waited for the CPU share
};

class DecodePipeline {
 public:
  // `gpu` and `host` are the pools the tables' slots refer to; `engine` moves between them.
  DecodePipeline(Backend& backend, const Geometry& geometry, SlotPool& gpu, SlotPool& host,
                 TransferEngine& engine, PipelineConfig config);
  ~DecodePipeline();
  DecodePipeline(const DecodePipeline&) = delete;
  DecodePipeline& operator=(const DecodePipeline&) = delete;

  // Carries out a block manager plan (take_plan()) on the transfer engine. The next step waits
  // for it only where it must (its reads of moved blocks, its writes into freed slots).
  void apply(std::span<const SlotMove> plan);

  // One decode step. `tables` (block_table() of each sequence, after the newest token was
  // appended) say where every block is; the newest block of each sequence must be on the GPU.
  // InvalidArgument, before any work, for a bad batch, a disk-resident block, a newest block off
  // the GPU, or more streamed blocks than a staging buffer holds.
  StepStats step(std::span<const BlockTable> tables, const StepIO& io);

  Stream& compute_stream() { return *compute_; }
  const SplitPlanner& planner() const { return planner_; }
  const PipelineConfig& config() const { return config_; }
  // Device memory the pipeline holds beyond the pools: staging ring, workspaces, tables.
  std::size_t device_bytes() const;

 private:
  struct Impl;
  Backend& backend_;
  Geometry geometry_;
  SlotPool& gpu_;
  SlotPool& host_;
  TransferEngine& engine_;
  PipelineConfig config_;
  SplitPlanner planner_;
  std::unique_ptr<Stream> compute_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvtier::pipeline
