// One decode benchmark configuration end to end: pools, block manager, transfer engine and
// pipeline for a geometry, context, batch and GPU budget; KV of every block filled with
// deterministic random values (a function of sequence and block position, so every
// configuration holds the same KV); warm-up and timed steps with synthetic per-layer model work
// (a read of the layer's weight bytes).
#pragma once

#include <cstddef>
#include <filesystem>
#include <utility>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/backend/thread_pool.h"
#include "kvtier/block/tier.h"
#include "kvtier/core/geometry.h"
#include "kvtier/pipeline/decode_pipeline.h"
#include "kvtier/transfer/disk_store.h"
#include "kvtier/transfer/transfer_config.h"

namespace kvtier::bench {

struct DecodeRunConfig {
  Geometry geometry;
  int context = 32768;
  int batch = 1;
  int steps = 16;
  int warmup = 2;
  SlotIndex gpu_slots = 0;   // GPU tier budget (and pool size) in slots
  SlotIndex host_slots = 0;  // host tier pool size in slots
  std::uint32_t sink_blocks = 1, window_blocks = 2;
  std::size_t weight_bytes = 0;  // model weight bytes read per step (spread over the layers)
  pipeline::PipelineConfig pipeline;
  TransferConfig transfer;  // how the engine copies (streamed layers, write-backs)
  // Disk tier (when disk_dir is set): host_slots is then the host budget and what does not fit
  // on the GPU and the host goes to disk. Blocks found on disk (an earlier run's) are reused for
  // the prompts, not filled again. At the end every full block not on disk is written there, so
  // a later run with the same prompts reuses them all (as far as the disk budget holds them).
  std::filesystem::path disk_dir;
  std::uint64_t disk_bytes = 0;
  DiskIoMode disk_io = DiskIoMode::kAuto;
};

struct DecodeRunResult {
  double step_seconds = 0;           // median of the timed steps
  std::vector<double> step_times;    // every timed step
  // Every step, warmup included (how the auto split moved: seconds, CPU fraction, balance).
  std::vector<pipeline::StepStats> trace;
  pipeline::StepStats last;          // stats of the last step
  std::size_t vram_bytes = 0;        // GPU pool + staging + workspaces + weights buffer excluded
  std::vector<float> outputs;        // last step's outputs [layers][batch][q_heads][head_dim]
  double setup_seconds = 0;
  std::uint64_t moves = 0;           // slot moves planned during the steps (write-backs)
  pipeline::Rates rates;             // the planner's rates after the run
  // Disk tier.
  std::uint64_t disk_slots = 0;          // capacity of the disk tier in slots
  std::uint64_t disk_blocks_found = 0;   // intact blocks on disk when the run started
  std::uint64_t reused_tokens = 0;       // prompt tokens whose KV came from disk (all sequences)
  std::uint64_t reused_blocks = 0;
  std::uint64_t persisted_blocks = 0;    // full blocks written at the end
  double persist_seconds = 0;
  std::size_t disk_staging_bytes = 0;    // pinned host memory of the disk staging ring
  DiskStats disk;                        // the store's counters at the end
};

// Blocks one sequence needs for a context plus the steps of a run.
SlotIndex blocks_per_sequence(const Geometry& g, int context, int tokens_added);

// InvalidArgument before any work for budgets that cannot hold the run (GPU below sink + window
// per sequence, host + GPU below the blocks needed), OutOfMemory from the backend.
DecodeRunResult run_decode(Backend& backend, ThreadPool& host_threads, const DecodeRunConfig& cfg);

}  // namespace kvtier::bench
