#include "backend/host_pages.h"

#include <sys/mman.h>

#include <cstdlib>

namespace kvtier::detail {

HostPages allocate_host_pages(std::size_t bytes) {
  constexpr std::size_t kHuge = 2u << 20, kPage = 4096;
  const std::size_t align = bytes >= kHuge ? kHuge : kPage;
  HostPages h;
  h.bytes = (bytes + align - 1) / align * align;
  h.data = std::aligned_alloc(align, h.bytes);
  if (h.data != nullptr && align == kHuge) ::madvise(h.data, h.bytes, MADV_HUGEPAGE);
  return h;
}

}  // namespace kvtier::detail
