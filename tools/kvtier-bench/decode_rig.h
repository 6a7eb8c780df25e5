// One decode benchmark configuration end to end: pools, block manager, transfer engine and
// pipeline for a geometry, context, batch and GPU budget; KV of every block filled with
// deterministic random values (a function of sequence and block position, so every
// configuration holds the same KV); warm-up and timed steps with synthetic per-layer model work
// (a read of the layer's weight bytes).
#pragma once

#include <cstddef>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/backend/thread_pool.h"
#include "kvtier/block/tier.h"
#include "kvtier/core/geometry.h"
#include "kvtier/pipeline/decode_pipeline.h"

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
};

struct DecodeRunResult {
  double step_seconds = 0;           // median of the timed steps
  std::vector<double> step_times;    // every timed step
  pipeline::StepStats last;          // stats of the last step
  std::size_t vram_bytes = 0;        // GPU pool + staging + workspaces + weights buffer excluded
  std::vector<float> outputs;        // last step's outputs [layers][batch][q_heads][head_dim]
  double setup_seconds = 0;
  std::uint64_t moves = 0;           // slot moves planned during the steps (write-backs)
  pipeline::Rates rates;             // the planner's rates after the run
};

// Blocks one sequence needs for a context plus the steps of a run.
SlotIndex blocks_per_sequence(const Geometry& g, int context, int tokens_added);

// InvalidArgument before any work for budgets that cannot hold the run (GPU below sink + window
// per sequence, host + GPU below the blocks needed), OutOfMemory from the backend.
DecodeRunResult run_decode(Backend& backend, ThreadPool& host_threads, const DecodeRunConfig& cfg);

}  // namespace kvtier::bench
