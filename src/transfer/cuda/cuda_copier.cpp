// The CUDA copier: copy lists through the copy kernel, cudaMemcpyBatchAsync or merged
// cudaMemcpyAsync; for the latter two, strided runs (a layer's slices of consecutive slots) as
// one cudaMemcpy2DAsync each. The copies run on internal streams (of the highest priority when
// high_priority is set, so that the copy kernel's blocks are scheduled ahead of pending blocks of
// compute kernels), joined to the engine's stream by events before and after: ordering on the
// engine's stream is kept. The copy-engine methods split a list over copy_streams internal streams,
// so that several copy engines work on it at once.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>

#include "backend/cuda/cuda_check.h"
#include "kvtier/core/error.h"
#include "transfer/copier.h"
#include "transfer/cuda/kernels.h"

namespace kvtier::detail {
namespace {

class CudaCopier final : public Copier {
 public:
  CudaCopier(Backend& backend, const TransferConfig& config) : backend_(backend), config_(config) {
    int least = 0, greatest = 0;
    KVT_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    const int priority = config_.high_priority ? greatest : least;
    KVT_CUDA_CHECK(cudaEventCreateWithFlags(&join_in_, cudaEventDisableTiming));
    inner_.resize(static_cast<std::size_t>(config_.copy_streams));
    join_out_.resize(inner_.size());
    for (std::size_t k = 0; k < inner_.size(); ++k) {
      KVT_CUDA_CHECK(cudaStreamCreateWithPriority(&inner_[k], cudaStreamNonBlocking, priority));
      KVT_CUDA_CHECK(cudaEventCreateWithFlags(&join_out_[k], cudaEventDisableTiming));
    }
    for (DescBuffer& d : descs_)
      KVT_CUDA_CHECK(cudaEventCreateWithFlags(&d.done, cudaEventDisableTiming));
    int device = 0, max_pitch = 0;
    KVT_CUDA_CHECK(cudaGetDevice(&device));
    KVT_CUDA_CHECK(cudaDeviceGetAttribute(&max_pitch, cudaDevAttrMaxPitch, device));
    max_pitch_ = static_cast<std::size_t>(max_pitch);
  }

  ~CudaCopier() override {
    // Destructors never throw: wait for the work that uses our buffers, then free.
    for (DescBuffer& d : descs_) {
      if (d.done) {
        cudaEventSynchronize(d.done);
        cudaEventDestroy(d.done);
      }
    }
    for (cudaStream_t s : inner_) {
      if (s) {
        cudaStreamSynchronize(s);
        cudaStreamDestroy(s);
      }
    }
    for (cudaEvent_t e : join_out_) {
      if (e) cudaEventDestroy(e);
    }
    if (join_in_) cudaEventDestroy(join_in_);
  }

  void enqueue(std::vector<Segment> segs, Direction dir, CopyMethod method,
               Stream& stream) override {
    if (segs.empty()) return;
    auto outer = static_cast<cudaStream_t>(stream.native_handle());
    KVT_CHECK(outer != nullptr, "CUDA copier used with a stream that is not a CUDA stream");
    KVT_CHECK(method != CopyMethod::kAuto, "copy method auto reached the copier unresolved");
    (void)dir;
    // The kernel is one launch; the copy-engine methods take up to copy_streams streams, each a
    // contiguous share of the list.
    const std::size_t used =
        method == CopyMethod::kKernel ? 1 : std::min(inner_.size(), segs.size());
    KVT_CUDA_CHECK(cudaEventRecord(join_in_, outer));
    for (std::size_t k = 0; k < used; ++k) {
      cudaStream_t s = inner_[k];
      KVT_CUDA_CHECK(cudaStreamWaitEvent(s, join_in_, 0));
      const std::size_t lo = segs.size() * k / used, hi = segs.size() * (k + 1) / used;
      const std::vector<Segment> part(segs.begin() + static_cast<std::ptrdiff_t>(lo),
                                      segs.begin() + static_cast<std::ptrdiff_t>(hi));
      if (method == CopyMethod::kKernel)
        copy_kernel(part, s);
      else if (method == CopyMethod::kMemcpyBatch)
        copy_batch(part, s);
      else
        copy_runs(part, s);
      KVT_CUDA_CHECK(cudaEventRecord(join_out_[k], s));
      KVT_CUDA_CHECK(cudaStreamWaitEvent(outer, join_out_[k], 0));
    }
  }

 private:
  // Descriptor lists of the copy kernel: written in pinned host memory, copied to the device
  // ahead of the kernel; reused once the event recorded after that kernel completes.
  struct DescBuffer {
    Buffer host, device;
    std::size_t capacity = 0;  // descriptors
    cudaEvent_t done = nullptr;
  };
  static constexpr int kDescBuffers = 4;

  void copy_kernel(const std::vector<Segment>& segs, cudaStream_t s) {
    const std::vector<Segment> pieces = split_pieces(segs, kCopyPieceBytes);
    const std::size_t n = pieces.size();
    KVT_CHECK(n < (std::size_t{1} << 31), "copy list too long for one kernel launch");
    DescBuffer& d = descs_[next_desc_];
    next_desc_ = (next_desc_ + 1) % kDescBuffers;
    KVT_CUDA_CHECK(cudaEventSynchronize(d.done));  // the buffer's last kernel is done
    if (d.capacity < n) {
      const std::size_t cap = std::max<std::size_t>(n, 2 * d.capacity);
      d.host = backend_.allocate(MemoryKind::kPinnedHost, cap * sizeof(CopyDesc));
      d.device = backend_.allocate(MemoryKind::kDevice, cap * sizeof(CopyDesc));
      d.capacity = cap;
    }
    auto* h = d.host.as<CopyDesc>();
    for (std::size_t i = 0; i < n; ++i)
      h[i] = CopyDesc{pieces[i].src, pieces[i].dst, pieces[i].bytes};
    KVT_CUDA_CHECK(
        cudaMemcpyAsync(d.device.data(), h, n * sizeof(CopyDesc), cudaMemcpyHostToDevice, s));
    const int blocks =
        static_cast<int>(std::min<std::size_t>(n, static_cast<std::size_t>(config_.copy_sms)));
    launch_copy_kernel(d.device.as<CopyDesc>(), static_cast<int>(n), blocks, config_.copy_threads,
                       s);
    KVT_CUDA_CHECK(cudaEventRecord(d.done, s));
  }

  // 2D copies for the strided runs (when turned on); the remaining segments through `rest`.
  template <class Rest>
  void copy_strided(const std::vector<Segment>& segs, cudaStream_t s, Rest rest) {
    if (config_.strided_min == 0) {
      rest(segs);
      return;
    }
    std::vector<Segment> left;
    const auto min_count = static_cast<std::size_t>(config_.strided_min);
    for (const StridedRun& r : strided_runs(segs, min_count, max_pitch_)) {
      const Segment& g = segs[r.first];
      if (r.count == 1) {
        left.push_back(g);
        continue;
      }
      KVT_CUDA_CHECK(cudaMemcpy2DAsync(g.dst, r.dst_pitch, g.src, r.src_pitch, g.bytes, r.count,
                                       cudaMemcpyDefault, s));
    }
    if (!left.empty()) rest(left);
  }

  void copy_batch(const std::vector<Segment>& segs, cudaStream_t s) {
    copy_strided(segs, s, [&](const std::vector<Segment>& list) {
      const std::size_t n = list.size();
      dsts_.resize(n);
      srcs_.resize(n);
      sizes_.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        dsts_[i] = list[i].dst;
        srcs_[i] = list[i].src;
        sizes_[i] = list[i].bytes;
      }
      cudaMemcpyAttributes attr{};
      attr.srcAccessOrder = cudaMemcpySrcAccessOrderStream;
      attr.flags = config_.prefer_overlap ? cudaMemcpyFlagPreferOverlapWithCompute : 0;
      std::size_t first = 0;
      KVT_CUDA_CHECK(
          cudaMemcpyBatchAsync(dsts_.data(), srcs_.data(), sizes_.data(), n, &attr, &first, 1, s));
    });
  }

  void copy_runs(const std::vector<Segment>& segs, cudaStream_t s) {
    copy_strided(segs, s, [&](const std::vector<Segment>& list) {
      for (const Segment& g : list)
        KVT_CUDA_CHECK(cudaMemcpyAsync(g.dst, g.src, g.bytes, cudaMemcpyDefault, s));
    });
  }

  Backend& backend_;
  TransferConfig config_;
  std::vector<cudaStream_t> inner_;
  cudaEvent_t join_in_ = nullptr;
  std::vector<cudaEvent_t> join_out_;
  std::array<DescBuffer, kDescBuffers> descs_;
  int next_desc_ = 0;
  std::size_t max_pitch_ = 0;  // the device's limit on a 2D copy's pitches
  std::vector<void*> dsts_;
  std::vector<const void*> srcs_;
  std::vector<std::size_t> sizes_;
};

}  // namespace

std::unique_ptr<Copier> make_cuda_copier(Backend& backend, const TransferConfig& config) {
  return std::make_unique<CudaCopier>(backend, config);
}

}  // namespace kvtier::detail
