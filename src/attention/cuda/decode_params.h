// Internal: parameters and split planning of the GPU decode kernel, shared by host and device.
#pragma once

#if defined(__CUDACC__)
#define KVT_PLAN_HD __host__ __device__ __forceinline__
#else
#define KVT_PLAN_HD inline
#endif

namespace kvtier::attention::cuda {

struct DecodeParams {
  const void* q;              // [batch][q_tokens][q_heads][head_dim]
  const void* const* blocks;  // [total_blocks] layer base of each block
  const int* block_begin;     // [batch + 1]
  const int* seq_lens;        // [batch]
  float* o;                   // [batch][q_tokens][q_heads][head_dim]
  float* lse;                 // [batch][q_tokens][q_heads]
  float* part_o;              // [max_splits][rows_total][head_dim] split partials
  float* part_lse;            // [max_splits][rows_total]
  unsigned* counters;         // [batch][kv_heads][m_tiles] splits done, reset by the last
  long long head_bytes;       // block_tokens * head_dim * sizeof(dtype)
  int q_tokens, q_heads, kv_heads, group, rows, m_tiles, block_tokens;
  int rows_total;    // batch * q_tokens * q_heads
  float scale_log2;  // scale * log2(e)
  int causal;
  int chunk_tiles;   // target tiles per split (automatic plan)
  int fixed_splits;  // > 0: this many splits per sequence (capped by its tiles)
  int max_splits;
  int plan_keys;   // keys a planning unit (16: one step of a warp)
  int interleave;  // 1: the warps of all splits of a head interleave over its steps
  int kv_ready;    // 1: K/V and tables may be read before the grid dependency wait (DecodeArgs)
  // Timeline of the launch (GpuDecoder::set_trace), or null: thread 0 of CTA c writes
  // trace[c * kTraceWords + k], the %globaltimer (ns) at mark k, then its SM id and 1 where it
  // merged the splits, 2 where it had no work. The entry mark is written before the grid
  // dependency wait: the buffer must not be one the previous grid touches.
  unsigned long long* trace;
};

// Trace marks: entry, after the grid dependency wait, main loop done, partial state written,
// split counted, done (after the split merge where this CTA did it); then SM id, merged (0/1/2).
enum TraceMark { kTraceEntry, kTraceWaited, kTraceLoopDone, kTraceWritten, kTraceCounted,
                 kTraceDone, kTraceSm, kTraceMerged, kTraceWords };

// Splits of a sequence of `tiles` tiles and the tiles each split covers (the last may hold fewer).
KVT_PLAN_HD void plan_splits(int tiles, int chunk_tiles, int fixed_splits, int max_splits,
                             int* splits, int* tiles_per_split) {
  int n = fixed_splits > 0 ? fixed_splits : (tiles + chunk_tiles / 2) / chunk_tiles;
  n = n < 1 ? 1 : n;
  n = n > max_splits ? max_splits : n;
  n = n > tiles ? (tiles > 0 ? tiles : 1) : n;
  int per = tiles > 0 ? (tiles + n - 1) / n : 1;
  *tiles_per_split = per;
  *splits = tiles > 0 ? (tiles + per - 1) / per : 1;
}

}  // namespace kvtier::attention::cuda
