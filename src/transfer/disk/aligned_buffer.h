// A zero-filled host buffer aligned for O_DIRECT (4 KiB), owned; for headers, bounce copies and
// the raw ceiling's buffers. From 2 MiB on it is in huge pages (backend/host_pages.h), as the
// backends' host buffers are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "backend/host_pages.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"

namespace kvtier::disk {

inline constexpr std::size_t kDirectAlign = 4096;

inline std::size_t align_up(std::size_t n, std::size_t a = kDirectAlign) {
  return (n + a - 1) / a * a;
}
inline bool is_aligned(const void* p, std::size_t a = kDirectAlign) {
  return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t bytes) {
    const kvtier::detail::HostPages h = kvtier::detail::allocate_host_pages(bytes);
    data_ = static_cast<unsigned char*>(h.data);
    bytes_ = h.bytes;
    if (data_ == nullptr) {
      throw OutOfMemory("disk tier: could not allocate an aligned buffer of " +
                        format_size(bytes_));
    }
    std::memset(data_, 0, bytes_);
  }
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), bytes_(o.bytes_) {
    o.data_ = nullptr;
    o.bytes_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = o.data_;
      bytes_ = o.bytes_;
      o.data_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  unsigned char* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  unsigned char* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace kvtier::disk
