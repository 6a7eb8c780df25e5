// The decode step (DESIGN.md, "The decode step"): for a batch of sequences and every layer,
// load -> compute -> merge. Each sequence's blocks are GPU-resident, on the host to be streamed,
// on the host to be computed by the CPU where they are, or on disk (read a group of layers ahead
// into pinned host buffers that the attention kernel reads in place); the split comes from a SplitPlanner fed
// by measured rates. The transfer engine gathers the streamed blocks of layer L + d into a ring of
// d + 1 staging buffers while layer L computes (d = 0: copy, then compute, for comparison); the
// compute stream runs partial attention over resident blocks and over the staged ones; CPU threads
// compute the CPU share from q copied to the host; one merge writes the layer's output. The new
// token's K/V is written into its sequence's GPU block before the layer's attention.
//
// Synchronisation with the host in a step: the CPU share's hand-off (the pipeline waits for the
// CPU's partial of layer L before enqueuing layer L's merge), the disk reads (before the first
// layer of each group of layers) and the end of the step. With neither, a step enqueues all its
// work without waiting.
//
// Threading: one thread drives a pipeline. The pools, engine and backend must outlive it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/backend/thread_pool.h"
#include "kvtier/block/block_table.h"
#include "kvtier/block/slot_pool.h"
#include "kvtier/core/geometry.h"
#include "kvtier/pipeline/split_planner.h"
#include "kvtier/transfer/disk_store.h"
#include "kvtier/transfer/transfer_engine.h"

namespace kvtier::pipeline {

struct PipelineConfig {
  int depth = 1;                        // staging look-ahead d; the ring has d + 1 buffers
  CpuShare cpu_share;                   // which host blocks the CPU computes
  int cpu_threads = 0;                  // threads of the CPU share (0: all hardware threads)
  // How long the CPU share's idle threads watch for the next layer before sleeping.
  int cpu_spin_us = static_cast<int>(ThreadPool::kDefaultSpin.count());
  int max_batch = 1;                    // largest batch of a step (sizes the workspaces)
  std::size_t max_streamed_blocks = 0;  // blocks a staging buffer holds, over the batch
  // Disk tier (with a DiskStore): disk blocks a step may read, over the batch; layers a read
  // request covers (0: the fewest making 256 KiB); groups in flight (ring buffers, >= 2); pinned
  // bytes that write-backs to disk may hold until durable.
  std::size_t max_disk_blocks = 0;
  int disk_group_layers = 0;
  int disk_buffers = 2;
  std::size_t disk_writeback_bytes = 256ull << 20;
  float scale = 0.f;                    // softmax scale; 0: 1 / sqrt(head_dim)
  DType out_dtype = DType::kF32;        // of the layer outputs: fp32 or the KV dtype
  // Seeds of the split planner: PCIe gather rate (kept: the copy stream's busy time cannot be
  // told from its waits), CPU and GPU attention rates (updated from measurements) and the
  // hand-off cost per layer. Zeros: PCIe 25 GB/s, CPU 10 GB/s, GPU 1 TB/s, 50 us.
  Rates prior;

  // InvalidArgument naming the first bad field.
  void validate() const;
};

// Layers one disk read request covers: `requested` (capped at the layer count), or when 0 the
// fewest layers making a request of at least 256 KiB.
int disk_group_layers(const Geometry& geometry, int requested);

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
  std::size_t resident_blocks = 0, streamed_blocks = 0, cpu_blocks = 0, disk_blocks = 0;
  // KV bytes read over all layers (disk: read from disk; blocks whose write-back is still in
  // flight are read from its buffer and not counted).
  std::size_t resident_bytes = 0, streamed_bytes = 0, cpu_bytes = 0, disk_bytes = 0;
  double cpu_fraction = 0;        // of the host bytes, computed on the CPU
  double cpu_seconds = 0;         // CPU attention time, all layers
  double cpu_wait_seconds = 0;    // time the driving thread waited for the CPU share
  // Mean over layers of how much later the CPU share finished than the GPU's own parts of the
  // layer, both from the layer's q (negative: earlier); 0 without a CPU share.
  double balance_seconds = 0;
  double disk_wait_seconds = 0;   // time the driving thread waited for disk reads
  double stage_seconds = 0;       // time the driving thread spent enqueuing the streamed copies
  // The CPU share's hand-off, summed over layers (0 without a CPU share): the CPU idle between
  // one layer's result and the next layer's q on the host; of it, the driving thread's wake-up
  // (result ready -> it returned from the wait) and q's way from being enqueued to the host.
  double cpu_idle_seconds = 0, driver_wake_seconds = 0, q_turnaround_seconds = 0;
  // The GPU's side of it (GPU clock): from its own parts of a layer done to the next layer's q
  // stored (waiting for the CPU share's result, the merge, the model work, the append).
  double gpu_gap_seconds = 0;
};

class DecodePipeline {
 public:
  // `gpu` and `host` are the pools the tables' slots refer to; `engine` moves between them;
  // `disk` (may be null) holds the disk tier's slots.
  DecodePipeline(Backend& backend, const Geometry& geometry, SlotPool& gpu, SlotPool& host,
                 TransferEngine& engine, PipelineConfig config, DiskStore* disk = nullptr);
  ~DecodePipeline();
  DecodePipeline(const DecodePipeline&) = delete;
  DecodePipeline& operator=(const DecodePipeline&) = delete;

  // Carries out a block manager plan (take_plan()) on the transfer engine. The next step waits
  // for it only where it must (its reads of moved blocks, its writes into freed slots). Moves to
  // disk are written back asynchronously from a copy of the block (durable later; steps read the
  // copy meanwhile); moves from disk are read (verified) before apply() returns.
  // InvalidArgument, before anything moves, for a disk move without a disk tier or a copy from disk.
  void apply(std::span<const SlotMove> plan);
  // Waits for every write-back to disk; throws the first failure.
  void flush_disk();

  // One decode step. `tables` (block_table() of each sequence, after the newest token was
  // appended) say where every block is; the newest block of each sequence must be on the GPU.
  // InvalidArgument, before any work, for a bad batch, a newest block off the GPU, more streamed
  // (disk) blocks than the staging (disk staging) buffers hold, or disk blocks without a disk
  // tier. A disk read that fails its checks throws Corruption: nothing wrong is served.
  StepStats step(std::span<const BlockTable> tables, const StepIO& io);

  Stream& compute_stream() { return *compute_; }
  const SplitPlanner& planner() const { return planner_; }
  const PipelineConfig& config() const { return config_; }
  // Device memory the pipeline holds beyond the pools: staging ring, workspaces, tables.
  std::size_t device_bytes() const;
  // Pinned host memory of the disk staging ring (write-back buffers come and go).
  std::size_t disk_staging_bytes() const;

 private:
  struct Impl;
  Backend& backend_;
  Geometry geometry_;
  SlotPool& gpu_;
  SlotPool& host_;
  TransferEngine& engine_;
  DiskStore* disk_;
  PipelineConfig config_;
  SplitPlanner planner_;
  std::unique_ptr<Stream> compute_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvtier::pipeline
