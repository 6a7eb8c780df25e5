// GPU partial decode attention: checks, split planning, workspace and launch.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "attention/cuda/decode_warp_kernel.cuh"
#include "backend/cuda/cuda_check.h"
#include "kvtier/attention/gpu.h"
#include "kvtier/core/error.h"

namespace kvtier::attention {
namespace {

constexpr int kMaxSplits = 256;

struct Launch {
  int tile = 0, occupancy = 0;
  void (*run)(const cuda::DecodeParams&, dim3, cudaStream_t, bool pdl) = nullptr;
};

// Programmatic dependent launch (sm_90 and newer; KVTIER_ATTN_GPU_PDL=0 turns it off): the
// kernel's CTAs may be scheduled while the previous kernel in the stream finishes (they wait for
// it in grid_dependency_wait before touching memory), so the launch ramp overlaps its tail.
template <class Kernel>
void launch_kernel(Kernel kernel, dim3 grid, int threads, int smem, cudaStream_t s, bool pdl,
                   const cuda::DecodeParams& p) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(threads);
  cfg.dynamicSmemBytes = static_cast<std::size_t>(smem);
  cfg.stream = s;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  KVT_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, p));
}

// Shared-memory attributes set once per kernel; CTAs an SM for the planner.
template <class Kernel>
int occupancy(Kernel kernel, int threads, int smem_bytes) {
  KVT_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes));
  // All of L1 as shared memory, so two CTAs (two pipelines) fit on an SM where the card allows.
  KVT_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                      cudaSharedmemCarveoutMaxShared));
  int n = 0;
  KVT_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, threads, smem_bytes));
  return std::max(1, n);
}

// The per-warp pipeline kernel (decode_warp_kernel.cuh), splits planned in 16-key steps.
template <int D, class T, int kW = (D <= 128 ? 4 : 2), int kBudgetKiB = 96>
Launch launch_warp() {
  using Tr = cuda::WarpTraits<D, kW, kBudgetKiB>;
  static const int occ =
      occupancy(cuda::decode_warp_kernel<D, T, kW, kBudgetKiB>, Tr::kThreads, Tr::kSmemBytes);
  Launch l;
  l.tile = 16;
  l.occupancy = occ;
  l.run = [](const cuda::DecodeParams& p, dim3 grid, cudaStream_t s, bool pdl) {
    launch_kernel(cuda::decode_warp_kernel<D, T, kW, kBudgetKiB>, grid, Tr::kThreads,
                  Tr::kSmemBytes, s, pdl, p);
  };
  return l;
}

std::string env_or(const char* name, const char* fallback) {
  const char* e = std::getenv(name);
  return e ? std::string(e) : std::string(fallback);
}

// Programmatic dependent launch where the card has it (sm_90+), unless KVTIER_ATTN_GPU_PDL=0.
bool use_pdl() {
  static const bool pdl = [] {
    int device = 0, major = 0;
    KVT_CUDA_CHECK(cudaGetDevice(&device));
    KVT_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    return major >= 9 && env_or("KVTIER_ATTN_GPU_PDL", "1") != "0";
  }();
  return pdl;
}

template <int D, class T>
Launch launch_for() {
  return launch_warp<D, T>();
}

template <class T>
Launch launch_for_dim(int d) {
  switch (d) {
    case 64:
      return launch_for<64, T>();
    case 80:
      return launch_for<80, T>();
    case 96:
      return launch_for<96, T>();
    case 128:
      return launch_for<128, T>();
    case 256:
      return launch_for<256, T>();
  }
  throw InvalidArgument("attention: head_dim " + std::to_string(d) + " has no GPU kernel");
}

}  // namespace

GpuDecoder::GpuDecoder(Backend& backend) : backend_(backend) {
  if (backend.kind() != BackendKind::kCuda) {
    throw CudaError("GpuDecoder needs the CUDA backend; got the " +
                    std::string(backend_name(backend.kind())) + " backend");
  }
  sms_ = std::max(1, backend.device().multiprocessors);
}

GpuDecoder::~GpuDecoder() = default;

void GpuDecoder::run(const DecodeArgs& a, Stream& stream) {
  validate(a, true);
  const DecodeShape& s = a.shape;
  const Launch l = s.dtype == DType::kBF16 ? launch_for_dim<__nv_bfloat16>(s.head_dim)
                                           : launch_for_dim<__half>(s.head_dim);
  const int rows = s.q_tokens * s.group(), m_tiles = (rows + 15) / 16;
  const auto lens = a.host_seq_lens;
  long long total_tiles = 0;
  for (int len : lens) total_tiles += (len + l.tile - 1) / l.tile;
  total_tiles *= static_cast<long long>(s.kv_heads) * m_tiles;
  const long long slots = static_cast<long long>(sms_) * l.occupancy;

  cuda::DecodeParams p{};
  p.chunk_tiles = static_cast<int>(std::max<long long>(1, (total_tiles + slots - 1) / slots));
  p.fixed_splits = forced_splits_;
  p.max_splits = kMaxSplits;
  p.plan_keys = l.tile;
  int max_splits = 1;
  for (int len : lens) {
    int splits, per;
    cuda::plan_splits((len + l.tile - 1) / l.tile, p.chunk_tiles, p.fixed_splits, p.max_splits,
                      &splits, &per);
    max_splits = std::max(max_splits, splits);
  }
  last_splits_ = max_splits;

  const std::size_t rows_total = s.rows();
  if (max_splits > 1) {
    const std::size_t counters =
        static_cast<std::size_t>(s.batch) * s.kv_heads * m_tiles * sizeof(unsigned);
    const std::size_t counter_bytes = (counters + 255) / 256 * 256;
    const std::size_t lse_bytes = (static_cast<std::size_t>(max_splits) * rows_total * 4 + 255) /
                                  256 * 256;  // part_o 16-byte aligned (staged merge)
    const std::size_t part_bytes =
        lse_bytes + static_cast<std::size_t>(max_splits) * rows_total * s.head_dim * 4;
    if (counter_bytes > counter_bytes_ || counter_bytes_ + part_bytes > workspace_.bytes()) {
      const std::size_t keep_counters = std::max(counter_bytes, counter_bytes_);
      const std::size_t want =
          keep_counters + std::max(part_bytes, workspace_.bytes() > counter_bytes_
                                                   ? workspace_.bytes() - counter_bytes_
                                                   : std::size_t{0});
      stream.synchronize();  // the old workspace may be in use
      workspace_ = backend_.allocate(MemoryKind::kDevice, want);
      counter_bytes_ = keep_counters;
      backend_.fill_async(workspace_.data(), 0, counter_bytes_, stream);
    }
    auto* base = static_cast<unsigned char*>(workspace_.data());
    p.counters = reinterpret_cast<unsigned*>(base);
    p.part_lse = reinterpret_cast<float*>(base + counter_bytes_);
    p.part_o = reinterpret_cast<float*>(base + counter_bytes_ + lse_bytes);
  }
  p.q = a.q;
  p.blocks = a.tables.blocks;
  p.block_begin = a.tables.block_begin;
  p.seq_lens = a.tables.seq_lens;
  p.o = a.o;
  p.lse = a.lse;
  p.head_bytes = static_cast<long long>(s.head_bytes());
  p.q_tokens = s.q_tokens;
  p.q_heads = s.q_heads;
  p.kv_heads = s.kv_heads;
  p.group = s.group();
  p.rows = rows;
  p.m_tiles = m_tiles;
  p.block_tokens = s.block_tokens;
  p.rows_total = static_cast<int>(rows_total);
  p.scale_log2 = s.scale * detail::kLog2e;
  p.causal = s.causal ? 1 : 0;
  const dim3 grid(m_tiles * s.kv_heads, max_splits, s.batch);
  last_grid_ctas_ = static_cast<long long>(grid.x) * grid.y * grid.z;
  static_assert(cuda::kTraceWords == GpuDecoder::kTraceWords);
  if (trace_ && static_cast<std::size_t>(last_grid_ctas_) * kTraceWords > trace_words_) {
    throw InvalidArgument("attention: the trace buffer holds " + std::to_string(trace_words_) +
                          " words; this grid needs " +
                          std::to_string(last_grid_ctas_ * kTraceWords));
  }
  p.trace = trace_;
  static const int interleave = env_or("KVTIER_ATTN_GPU_INTERLEAVE", "1") == "0" ? 0 : 1;
  p.interleave = interleave;
  p.kv_ready = a.kv_ready ? 1 : 0;
  l.run(p, grid, static_cast<cudaStream_t>(stream.native_handle()), use_pdl());
}

}  // namespace kvtier::attention
