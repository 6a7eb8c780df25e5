// Opening a disk tier: options, directory, lock, meta file, slot files, and the scan of slot
// headers that rebuilds the index of intact blocks.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "kvtier/core/log.h"
#include "kvtier/core/units.h"
#include "transfer/disk/slot_header.h"
#include "transfer/disk/store_impl.h"

namespace kvtier {
namespace fs = std::filesystem;
using disk::kHeaderBytes;

namespace {

bool has_slot_files(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (disk::parse_slot_file_name(e.path().filename().string())) return true;
  }
  return false;
}

void check_options(const Geometry& g, const DiskStoreOptions& o) {
  g.validate();
  if (o.capacity_bytes == 0) {
    throw InvalidArgument("disk budget is 0; expected a size such as 8GiB");
  }
  if (o.file_bytes == 0) throw InvalidArgument("disk slot file size is 0; expected e.g. 1GiB");
  if (o.group_commit_ms < 0 || o.group_commit_ms > 10000) {
    throw InvalidArgument("disk group commit delay " + std::to_string(o.group_commit_ms) +
                          " ms; expected 0..10000");
  }
  if (static_cast<std::uint64_t>(g.layers) > disk::kMaxLayers) {
    throw InvalidArgument("geometry " + g.describe() + " has " + std::to_string(g.layers) +
                          " layers; a disk tier slot header holds the checksums of at most " +
                          std::to_string(disk::kMaxLayers) + " layers (4 KiB header)");
  }
  (void)disk_queue_depth(g, o.queue_depth);  // throws for a bad depth before anything opens
  if (o.cpu_threads < 0 || o.cpu_threads > 64) {
    throw InvalidArgument("disk checksum threads " + std::to_string(o.cpu_threads) +
                          "; expected 0 (automatic) to 64");
  }
}

}  // namespace

DiskStore::Impl::Impl(const Geometry& g, const DiskStoreOptions& o)
    : geometry_(g),
      fingerprint_(g.fingerprint()),
      options_(o),
      layers_(static_cast<std::uint32_t>(g.layers)),
      layer_bytes_(g.layer_bytes()) {
  check_options(g, o);
  prepare_disk_directory(o.dir);
  lock_ = std::make_unique<disk::DirLock>(o.dir);
  const bool had_slot_files = has_slot_files(o.dir);
  const disk::MetaRead mr = disk::read_meta(o.dir);
  std::optional<std::uint32_t> slots_per_file;
  bool write_new_meta = true;
  const std::uint64_t stride = disk_slot_stride(g);
  if (mr.state == disk::MetaState::kValid) {
    const disk::DiskMeta& m = mr.meta;
    if (m.format_version != disk::kFormatVersion) {
      throw InvalidArgument(
          "disk tier directory '" + o.dir.string() + "' has slot format version " +
          std::to_string(m.format_version) + "; this kvtier reads only version " +
          std::to_string(disk::kFormatVersion) +
          " (per-layer checksums) and does not convert old tiers: delete the directory (its "
          "blocks are a cache and are computed again) or give another one");
    }
    if (m.fingerprint != fingerprint_) {
      throw InvalidArgument("disk tier directory '" + o.dir.string() +
                            "' holds blocks of another geometry (" + m.geometry + ", fingerprint " +
                            m.fingerprint.hex() + "); expected " + g.describe() + " (fingerprint " +
                            fingerprint_.hex() + "): give another directory or delete this one");
    }
    if (m.payload_bytes == g.slot_bytes() && m.stride == stride) {
      slots_per_file = m.slots_per_file;
      write_new_meta = false;
    } else {
      KVT_LOG(kWarn, "disk tier " << o.dir.string() << ": meta file disagrees with the geometry "
                                  << "(slot stride " << m.stride << ", expected " << stride
                                  << "); rewritten, slot headers are checked one by one");
    }
  } else if (mr.state == disk::MetaState::kDamaged) {
    KVT_LOG(kWarn, "disk tier " << o.dir.string() << ": meta file " << disk::kMetaName
                                << " is damaged (" << mr.problem
                                << "); rewritten, slot headers are checked one by one");
  } else if (had_slot_files) {
    KVT_LOG(kWarn, "disk tier " << o.dir.string() << ": meta file " << disk::kMetaName
                                << " is missing; rewritten, slot headers are checked one by one");
  }
  report_.created = mr.state == disk::MetaState::kMissing && !had_slot_files;
  layout_ = disk::DiskLayout::make(g.slot_bytes(), o.capacity_bytes, o.file_bytes, slots_per_file);
  if (write_new_meta) {
    disk::write_meta(o.dir, {disk::kFormatVersion, fingerprint_, g.describe(), g.slot_bytes(),
                             layout_.stride, layout_.slots_per_file});
  }
  direct_io_ = o.direct_io;
  engine_ = disk::make_io_engine(o.io, disk_queue_depth(g, o.queue_depth));
  open_files();
  for (SlotIndex s = 0; s < layout_.total_slots; ++s) {
    if (slots_[s].state == SlotState::kFree) free_.insert(s);
  }
  counters_.capacity_slots = layout_.total_slots;
  counters_.slot_bytes = layout_.payload_bytes;
  counters_.slot_stride = layout_.stride;
  counters_.files = layout_.files;
  counters_.io_path = engine_->name();
  counters_.direct_io = direct_io_;
  counters_.queue_depth = engine_->queue_depth();
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_ = std::make_unique<disk::TaskQueue>(o.cpu_threads > 0 ? o.cpu_threads : std::min(4, hw));
  sync_thread_ = std::thread([this] { sync_loop(); });
  KVT_LOG(kInfo, "disk tier " << o.dir.string() << ": " << format_count(layout_.total_slots)
                              << " slots of " << format_size(layout_.payload_bytes) << " in "
                              << layout_.files << " files, " << engine_->name() << ", "
                              << (direct_io_ ? "O_DIRECT" : "buffered") << "; found "
                              << report_.entries.size() << " blocks, dropped "
                              << report_.dropped.size() << " damaged slots, "
                              << report_.missing_files.size() << " files missing");
}

disk::ExpectedHeader DiskStore::Impl::expected_header() const {
  return {fingerprint_, layout_.payload_bytes, layers_,
          static_cast<std::uint32_t>(geometry_.block_tokens)};
}

disk::UniqueFd DiskStore::Impl::open_slot_file(const fs::path& path, bool* created) {
  // Whether it existed is asked first: a refused O_DIRECT open may still have created the file.
  struct stat before {};
  *created = ::lstat(path.c_str(), &before) != 0 && errno == ENOENT;
  for (;;) {
    const int flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (direct_io_ ? O_DIRECT : 0);
    const int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0 && errno == EINVAL && direct_io_) {
      if (options_.require_direct_io) {
        throw IoError("the filesystem of disk tier directory '" + options_.dir.string() +
                      "' does not support O_DIRECT (tmpfs?); expected a disk-backed filesystem "
                      "(or allow the buffered fallback)");
      }
      KVT_LOG(kWarn, "disk tier: the filesystem of "
                         << options_.dir.string()
                         << " does not support O_DIRECT (tmpfs?); falling back to buffered I/O "
                            "with fdatasync: data passes through the page cache and throughput "
                            "is not the device's");
      direct_io_ = false;
      continue;
    }
    if (fd < 0) throw IoError(disk::errno_text("open", path, errno));
    disk::UniqueFd owned(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw IoError(disk::errno_text("fstat", path, errno));
    if (!S_ISREG(st.st_mode)) {
      throw InvalidArgument("disk tier slot file '" + path.string() +
                            "' is not a regular file; expected a file made by kvtier");
    }
    return owned;
  }
}

void DiskStore::Impl::open_files() {
  const fs::path& dir = options_.dir;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto index = disk::parse_slot_file_name(name);
    if (name.rfind(disk::kCeilingPrefix, 0) == 0 || (index && *index >= layout_.files)) {
      if (index) {
        KVT_LOG(kInfo, "disk tier: " << e.path().string()
                                     << " lies beyond the capacity; deleted with its blocks");
        ++report_.removed_files;
      }
      if (::unlink(e.path().c_str()) != 0)
        throw IoError(disk::errno_text("unlink", e.path(), errno));
    }
  }
  if (options_.preallocate) {
    std::uint64_t need = 0;
    for (std::uint32_t f = 0; f < layout_.files; ++f) {
      struct stat st {};
      const fs::path p = dir / disk::slot_file_name(f);
      const std::uint64_t have = ::stat(p.c_str(), &st) == 0 ? st.st_blocks * 512ull : 0;
      need += layout_.file_size(f) > have ? layout_.file_size(f) - have : 0;
    }
    struct statvfs vfs {};
    if (::statvfs(dir.c_str(), &vfs) == 0) {
      const std::uint64_t avail = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
      if (need > avail) {
        throw IoError("disk tier in '" + dir.string() + "' needs " + format_size(need) +
                      " more for a budget of " + format_size(options_.capacity_bytes) + " (" +
                      format_count(layout_.total_slots) + " slots of " +
                      format_size(layout_.stride) + ") but the filesystem has " +
                      format_size(avail) + " free; expected a smaller budget or more free space");
      }
    }
  }
  std::vector<std::uint64_t> sizes(layout_.files);
  fds_.resize(layout_.files);
  for (std::uint32_t f = 0; f < layout_.files; ++f) {
    const fs::path p = dir / disk::slot_file_name(f);
    bool created = false;
    fds_[f] = open_slot_file(p, &created);
    if (created && !report_.created) {
      KVT_LOG(kWarn, "disk tier: slot file " << p.string() << " was missing: its "
                                             << layout_.slots_in_file(f)
                                             << " slots are lost; created again, empty");
      report_.missing_files.push_back(p.string());
    }
    struct stat st {};
    if (::fstat(fds_[f].get(), &st) != 0) throw IoError(disk::errno_text("fstat", p, errno));
    sizes[f] = static_cast<std::uint64_t>(st.st_size);
    if (sizes[f] > layout_.file_size(f)) {  // the capacity shrank
      if (::ftruncate(fds_[f].get(), static_cast<off_t>(layout_.file_size(f))) != 0) {
        throw IoError(disk::errno_text("ftruncate", p, errno));
      }
      sizes[f] = layout_.file_size(f);
    }
  }
  slots_.resize(layout_.total_slots);
  layer_crcs_.resize(std::size_t{layout_.total_slots} * layers_);
  scan_files(sizes);
  for (std::uint32_t f = 0; f < layout_.files && options_.preallocate; ++f) {
    const fs::path p = dir / disk::slot_file_name(f);
    if (::fallocate(fds_[f].get(), 0, 0, static_cast<off_t>(layout_.file_size(f))) != 0) {
      if (errno == EOPNOTSUPP) {
        KVT_LOG(kWarn, "disk tier: the filesystem of "
                           << dir.string()
                           << " cannot preallocate (fallocate); slot files grow as written");
        break;
      }
      throw IoError(
          disk::errno_text("fallocate (" + format_size(layout_.file_size(f)) + ")", p, errno));
    }
  }
  invalidate_dropped();
  disk::sync_directory(dir);
}

}  // namespace kvtier
