// The raw O_DIRECT ceiling of a directory's device: large sequential aligned writes (then one
// fdatasync per file) and reads through the same I/O path and queue depth the disk store uses,
// into preallocated scratch files named kvtier-ceiling-SIZE-NNNNN.tmp, deleted afterwards (unless
// keep_files).
// kvtier-bench disk reports the store's throughput as a ratio to these figures.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "kvtier/transfer/disk_store.h"

namespace kvtier {

struct DiskCeilingOptions {
  std::filesystem::path dir;                // an existing directory (prepare_disk_directory)
  std::uint64_t total_bytes = 0;            // bytes written, then read (rounded down to blocks)
  std::uint64_t file_bytes = 1ull << 30;    // scratch file size, as the store's slot files
  std::uint64_t block_bytes = 16ull << 20;  // one request
  int queue_depth = 32;
  DiskIoMode io = DiskIoMode::kAuto;
  bool require_direct_io = true;  // false: a filesystem without O_DIRECT is measured buffered
  // Keep the scratch files afterwards and overwrite existing ones in place (steady state: the
  // extents are written already) instead of starting from fresh, preallocated files.
  bool keep_files = false;
  // Read passes over the written files; the fastest counts. More than one shows what a device
  // that caches recently read data (a virtual disk backed by a host's page cache) delivers to a
  // reader of the same bytes again, as a decode step reading its disk blocks every step is.
  int read_passes = 1;
};

struct DiskCeiling {
  std::uint64_t bytes = 0;  // written and read
  double write_seconds = 0, read_seconds = 0;
  double write_bytes_per_s = 0, read_bytes_per_s = 0;
  std::string io_path;  // "io_uring" or "threads"
  bool direct_io = true;
};

// Throws InvalidArgument for bad options, IoError when a system call fails (the scratch files are
// removed in any case).
DiskCeiling measure_disk_ceiling(const DiskCeilingOptions& o);

}  // namespace kvtier
