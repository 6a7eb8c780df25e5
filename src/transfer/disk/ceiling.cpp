#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <vector>

#include "kvtier/core/log.h"
#include "kvtier/core/units.h"
#include "kvtier/transfer/disk_ceiling.h"
#include "transfer/disk/aligned_buffer.h"
#include "transfer/disk/directory.h"
#include "transfer/disk/io_engine.h"
#include "transfer/disk/layout.h"
#include "transfer/disk/unique_fd.h"

namespace kvtier {
namespace fs = std::filesystem;

namespace {

struct ScratchFiles {
  std::vector<fs::path> paths;
  std::vector<disk::UniqueFd> fds;
  bool keep = false;
  ~ScratchFiles() {
    fds.clear();
    if (!keep) {
      for (const auto& p : paths) ::unlink(p.c_str());
    }
  }
};

// Runs every block of the files through the engine, request i using buffer i % ring of `bufs`
// (each `block` bytes); returns seconds, fdatasync included for writes. Throws IoError naming the
// first failure.
double run_pass(disk::IoEngine& engine, const ScratchFiles& files,
                const std::vector<std::uint64_t>& sizes, std::uint64_t block, bool write,
                unsigned char* bufs, std::uint64_t ring) {
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t outstanding = 0;
  std::string first_error;
  std::uint64_t i = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t f = 0; f < files.fds.size(); ++f) {
    for (std::uint64_t off = 0; off < sizes[f]; off += block, ++i) {
      disk::IoRequest r;
      r.fd = files.fds[f].get();
      r.write = write;
      r.offset = off;
      r.iov[0] = {bufs + (i % ring) * block, block};
      const fs::path path = files.paths[f];
      r.done = [&, path, off, block](std::int64_t res) {
        std::lock_guard<std::mutex> lock(mu);
        if (res != static_cast<std::int64_t>(block) && first_error.empty()) {
          first_error = std::string(write ? "write" : "read") + " of " + format_size(block) +
                        " at offset " + std::to_string(off) + " of '" + path.string() +
                        "' failed: " +
                        (res < 0 ? std::strerror(static_cast<int>(-res))
                                 : "moved " + std::to_string(res) + " bytes");
        }
        if (--outstanding == 0) cv.notify_all();
      };
      {
        std::lock_guard<std::mutex> lock(mu);
        ++outstanding;
      }
      engine.submit(std::move(r));
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
  }
  if (write) {
    for (std::size_t f = 0; f < files.fds.size(); ++f) {
      if (::fdatasync(files.fds[f].get()) != 0) {
        throw IoError(disk::errno_text("fdatasync", files.paths[f], errno));
      }
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!first_error.empty()) throw IoError("disk ceiling: " + first_error);
  return s;
}

}  // namespace

DiskCeiling measure_disk_ceiling(const DiskCeilingOptions& o) {
  if (o.read_passes < 1) {
    throw InvalidArgument("disk ceiling: read_passes " + std::to_string(o.read_passes) + "; expected >= 1");
  }
  if (o.block_bytes == 0 || o.block_bytes % disk::kDirectAlign != 0) {
    throw InvalidArgument("disk ceiling block of " + std::to_string(o.block_bytes) +
                          " bytes; expected a positive multiple of 4096");
  }
  const std::uint64_t blocks = o.total_bytes / o.block_bytes;
  if (blocks == 0) {
    throw InvalidArgument("disk ceiling over " + format_size(o.total_bytes) +
                          "; expected at least one block of " + format_size(o.block_bytes));
  }
  const std::uint64_t per_file = std::max<std::uint64_t>(1, o.file_bytes / o.block_bytes);
  auto engine = disk::make_io_engine(o.io, o.queue_depth);
  DiskCeiling c;
  c.io_path = engine->name();
  c.bytes = blocks * o.block_bytes;
  ScratchFiles files;
  files.keep = o.keep_files;
  const int create = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (o.keep_files ? 0 : O_TRUNC);
  std::vector<std::uint64_t> sizes;
  for (std::uint64_t left = blocks, i = 0; left > 0; ++i) {
    const std::uint64_t n = std::min(left, per_file);
    left -= n;
    char name[64];
    std::snprintf(name, sizeof name, "%s%llu-%05llu.tmp", std::string(disk::kCeilingPrefix).c_str(),
                  static_cast<unsigned long long>(o.block_bytes),
                  static_cast<unsigned long long>(i));
    const fs::path p = o.dir / name;
    int fd = ::open(p.c_str(), create | O_DIRECT, 0600);
    if (fd < 0 && errno == EINVAL) {
      if (o.require_direct_io) {
        throw IoError("the filesystem of '" + o.dir.string() +
                      "' does not support O_DIRECT (tmpfs?); expected a disk-backed filesystem");
      }
      c.direct_io = false;
      fd = ::open(p.c_str(), create, 0600);
    }
    if (fd < 0) throw IoError(disk::errno_text("open", p, errno));
    files.paths.push_back(p);
    files.fds.emplace_back(fd);
    sizes.push_back(n * o.block_bytes);
    if (::fallocate(fd, 0, 0, static_cast<off_t>(sizes.back())) != 0 && errno != EOPNOTSUPP) {
      throw IoError(disk::errno_text("fallocate (" + format_size(sizes.back()) + ")", p, errno));
    }
  }
  // Distinct random bytes in every request in flight (and beyond), as a cache writes: one buffer
  // written over and over is data a virtual disk or a deduplicating device may store cheaper.
  const std::uint64_t ring = std::min<std::uint64_t>(
      blocks, std::max<std::uint64_t>(2 * static_cast<std::uint64_t>(o.queue_depth),
                                      (256ull << 20) / o.block_bytes));
  disk::AlignedBuffer wbuf(ring * o.block_bytes), rbuf(ring * o.block_bytes);
  std::mt19937_64 rng(0x6b7674);
  for (std::size_t i = 0; i + 8 <= wbuf.bytes(); i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(wbuf.data() + i, &v, 8);
  }
  c.write_seconds = run_pass(*engine, files, sizes, o.block_bytes, true, wbuf.data(), ring);
  c.read_seconds = run_pass(*engine, files, sizes, o.block_bytes, false, rbuf.data(), ring);
  for (int pass = 1; pass < o.read_passes; ++pass) {
    c.read_seconds = std::min(
        c.read_seconds, run_pass(*engine, files, sizes, o.block_bytes, false, rbuf.data(), ring));
  }
  c.write_bytes_per_s = static_cast<double>(c.bytes) / c.write_seconds;
  c.read_bytes_per_s = static_cast<double>(c.bytes) / c.read_seconds;
  return c;
}

}  // namespace kvtier
