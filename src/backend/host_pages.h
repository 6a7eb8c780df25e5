// Internal: host memory for I/O and pinning. From 2 MiB on, allocations are 2 MiB-aligned and
// advised into huge pages (THP "always" or "madvise"; advice only, the kernel may refuse):
// physically contiguous pages take a fraction of the DMA segments of scattered 4 KiB pages (on a
// virtio disk, O_DIRECT reads into 4 KiB pages were split and ran at 1.1-1.6 GB/s, into huge pages
// at 2.6-3.2 GB/s) and pin 2-3x faster. Used by the CPU and CUDA backends and the disk store.
#pragma once

#include <cstddef>

namespace kvtier::detail {

struct HostPages {
  void* data = nullptr;  // null when the allocation failed
  std::size_t bytes = 0;  // the size rounded up to the alignment (4 KiB, or 2 MiB from 2 MiB on)
};

// Free with std::free(data).
HostPages allocate_host_pages(std::size_t bytes);

}  // namespace kvtier::detail
