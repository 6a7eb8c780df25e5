#include "transfer/disk/io_engine.h"

#include <cstdlib>
#include <cstring>

#include "kvtier/core/error.h"
#include "kvtier/core/log.h"

namespace kvtier::disk {

std::uint64_t request_bytes(const IoRequest& r) {
  std::uint64_t n = 0;
  for (int i = 0; i < r.iov_count; ++i) n += r.iov[i].iov_len;
  return n;
}

void advance_request(IoRequest& r, std::uint64_t moved) {
  r.offset += moved;
  int first = 0;
  while (first < r.iov_count && moved >= r.iov[first].iov_len) moved -= r.iov[first++].iov_len;
  for (int i = first; i < r.iov_count; ++i) r.iov[i - first] = r.iov[i];
  r.iov_count -= first;
  if (r.iov_count > 0) {
    r.iov[0].iov_base = static_cast<char*>(r.iov[0].iov_base) + moved;
    r.iov[0].iov_len -= moved;
  }
}

std::unique_ptr<IoEngine> make_io_engine(DiskIoMode mode, int queue_depth) {
  if (queue_depth < 1 || queue_depth > 1024) {
    throw InvalidArgument("disk queue depth " + std::to_string(queue_depth) + "; expected 1..1024");
  }
  if (mode == DiskIoMode::kAuto) {
    if (const char* env = std::getenv("KVTIER_DISK_IO"); env != nullptr && *env != '\0') {
      mode = parse_disk_io_mode(env);
      if (mode != DiskIoMode::kAuto) {
        KVT_LOG(kInfo, "disk tier: KVTIER_DISK_IO=" << env << " selects the "
                                                    << disk_io_mode_name(mode) << " path");
      }
    }
  }
  if (mode == DiskIoMode::kThreads) {
    KVT_LOG(kInfo, "disk tier: I/O through " << queue_depth << " threads (thread-pool path)");
    return make_thread_engine(queue_depth);
  }
  std::string why;
  if (auto e = make_uring_engine(queue_depth, &why)) {
    KVT_LOG(kInfo, "disk tier: I/O through io_uring, queue depth " << queue_depth);
    return e;
  }
  if (mode == DiskIoMode::kUring) {
    throw IoError("disk tier: io_uring was asked for but is not available: " + why);
  }
  KVT_LOG(kInfo, "disk tier: io_uring not available (" << why << "); I/O through " << queue_depth
                                                       << " threads (thread-pool path)");
  return make_thread_engine(queue_depth);
}

}  // namespace kvtier::disk

namespace kvtier {

DiskIoMode parse_disk_io_mode(std::string_view text) {
  if (text == "auto") return DiskIoMode::kAuto;
  if (text == "uring" || text == "io_uring") return DiskIoMode::kUring;
  if (text == "threads") return DiskIoMode::kThreads;
  throw InvalidArgument("disk I/O mode '" + std::string(text) +
                        "'; expected auto, uring (io_uring) or threads");
}

const char* disk_io_mode_name(DiskIoMode mode) {
  switch (mode) {
    case DiskIoMode::kAuto:
      return "auto";
    case DiskIoMode::kUring:
      return "io_uring";
    case DiskIoMode::kThreads:
      return "threads";
  }
  return "?";
}

}  // namespace kvtier
