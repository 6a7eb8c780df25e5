// The directory of a disk tier: creation (0700), the foreign-file check, the lock that keeps a
// second process out, and the meta file naming the geometry and layout of the slot files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "kvtier/core/hash.h"

namespace kvtier::disk {

// flock(LOCK_EX) on DIR/kvtier-disk.lock for the object's lifetime; the file holds the PID.
class DirLock {
 public:
  // Throws DirectoryLocked naming the directory and the holder's PID when it is taken.
  explicit DirLock(const std::filesystem::path& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

struct DiskMeta {
  std::uint32_t format_version = 0;
  Hash128 fingerprint;
  std::string geometry;  // Geometry::describe() of the writer, for messages
  std::uint64_t payload_bytes = 0;
  std::uint64_t stride = 0;
  std::uint32_t slots_per_file = 0;
};

enum class MetaState { kMissing, kDamaged, kValid };
struct MetaRead {
  MetaState state = MetaState::kMissing;
  DiskMeta meta;
  std::string problem;  // for kDamaged
};

MetaRead read_meta(const std::filesystem::path& dir);
// Atomically (temporary file, fsync, rename, fsync of the directory); file mode 0600.
void write_meta(const std::filesystem::path& dir, const DiskMeta& meta);

// fsync of a directory, so that created, renamed and deleted names are durable.
void sync_directory(const std::filesystem::path& dir);

// "open of 'PATH' failed: No such file or directory" style text for an errno.
std::string errno_text(const std::string& what, const std::filesystem::path& path, int err);

}  // namespace kvtier::disk
