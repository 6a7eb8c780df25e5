// How the transfer engine moves bytes between GPU and host, and its settings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kvtier {

// Ways to move a list of scattered segments between device memory and pinned host memory.
enum class CopyMethod {
  kAuto,         // the measured winner for the direction and segment size (docs/transfer.md)
  kKernel,       // a copy kernel on a bounded number of SMs reading/writing mapped pinned host
                 // memory with 16-byte accesses
  kMemcpyBatch,  // one cudaMemcpyBatchAsync per batch (copy engines, no SMs)
  kMemcpyRuns,   // one cudaMemcpyAsync per run of contiguous segments (copy engines, no SMs)
};
// "auto", "kernel", "batch", "runs".
const char* copy_method_name(CopyMethod m);
// Accepts auto|kernel|batch|runs; InvalidArgument otherwise.
CopyMethod parse_copy_method(std::string_view text);

// Which way a list of segments goes.
enum class Direction { kHostToDevice, kDeviceToHost, kDeviceToDevice, kHostToHost };
const char* direction_name(Direction d);  // "h2d", "d2h", "d2d", "h2h"

struct TransferConfig {
  // Method for host->device and device->host segments. The CPU backend always copies with worker
  // threads; device->device and host->host always use kMemcpyRuns.
  CopyMethod h2d = CopyMethod::kAuto;
  CopyMethod d2h = CopyMethod::kAuto;
  // Copy kernel: number of thread blocks, each on its own SM at most, so at most this many SMs
  // are used; and threads per block.
  int copy_sms = 16;
  int copy_threads = 1024;
  // kMemcpyBatch / kMemcpyRuns: the copy list is split over this many streams per direction, so
  // that several copy engines (and their per-copy overheads) work in parallel.
  int copy_streams = 4;
  // kMemcpyBatch: pass cudaMemcpyFlagPreferOverlapWithCompute (a hint to the driver).
  bool prefer_overlap = false;
  // kMemcpyBatch / kMemcpyRuns: neighbouring segments of equal size at constant pitches (a
  // layer's slices of consecutive slots) go as one 2D copy each, which costs the host one call
  // instead of one list entry per segment. Runs shorter than this many segments, or 0 to turn
  // 2D copies off, go segment by segment.
  int strided_min = 4;
  // kAuto (measured on an H200, docs/transfer.md): host->device always through the copy engines
  // (kMemcpyBatch); device->host through the copy kernel when the merged segments average fewer
  // than this many bytes (the kernel wins alone at 64 KiB slices) and no host->device batch is in
  // flight, else the copy engines. Set it to 0 while compute kernels run beside the transfers:
  // the kernel's writes to host memory slow memory-bound kernels (and the other direction, which
  // the in-flight check covers).
  std::size_t auto_d2h_kernel_below = std::size_t{128} << 10;
  // CUDA: run the copies on streams of the highest priority, so that the copy kernel's blocks
  // are scheduled before pending blocks of compute kernels.
  bool high_priority = true;
  // CPU backend: threads copying for each direction (the stream's own thread counts).
  int cpu_threads = 2;

  // InvalidArgument naming the first bad field.
  void validate() const;
};

// A setting as text, "H2D[/D2H][@SMS][xSTREAMS][+overlap][+flat]" (e.g. "batch",
// "kernel/batch@8", "batchx4+overlap"; +flat: no 2D copies), applied over `base`.
// InvalidArgument naming the part that is wrong.
TransferConfig parse_transfer_setting(std::string_view text, const TransferConfig& base = {});

}  // namespace kvtier
