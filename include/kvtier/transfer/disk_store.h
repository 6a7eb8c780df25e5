// The disk tier: fixed-size, self-describing slots in a directory (docs/disk.md). Every slot holds
// one block (all layers of block_tokens tokens, DESIGN.md layout) behind a 4 KiB header naming its
// format version, geometry fingerprint, block hash, payload length and one checksum per layer. I/O
// is O_DIRECT straight from/to the caller's pinned host buffers, through io_uring or, where
// io_uring is not available, a pool of I/O threads.
//
// A block becomes visible (find, entries, reads) only after its payload and header are durable
// (written, then fdatasync). Reopening the directory finds every intact block by its hash. A read
// verifies header, fingerprint, hash and the checksums of the layers it returns before it reports
// success; a failed check is a Corruption error naming the file and slot, and the entry is
// dropped. Nothing wrong is served. A block can be read whole or a group of consecutive layers at
// a time (read_layers_async), as a layer-major decode step needs it.
//
// Threading: all member functions may be called from any thread. Writes and reads complete on
// store threads; their DiskFuture carries the error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/block/tier.h"
#include "kvtier/core/error.h"
#include "kvtier/core/geometry.h"
#include "kvtier/core/hash.h"
#include "kvtier/transfer/disk_future.h"

namespace kvtier {

// A second process (or a second store in this process) opened a directory that is in use.
class DirectoryLocked : public IoError {
 public:
  using IoError::IoError;
};

enum class DiskIoMode { kAuto, kUring, kThreads };
// Accepts auto|uring|io_uring|threads; InvalidArgument otherwise.
DiskIoMode parse_disk_io_mode(std::string_view text);
const char* disk_io_mode_name(DiskIoMode mode);  // "auto", "io_uring", "threads"

struct DiskStoreOptions {
  std::filesystem::path dir;              // created 0700 (parents too) when missing
  std::uint64_t capacity_bytes = 0;       // the disk budget; slots = capacity / slot stride
  std::uint64_t file_bytes = 1ull << 30;  // target size of one slot file (at least one slot)
  int queue_depth = 0;  // I/O requests in flight; 0: disk_queue_depth(geometry, 0)
  int cpu_threads = 0;  // checksum and verify workers; 0: min(4, hardware threads)
  // kAuto: io_uring when it initializes, else threads. The environment variable
  // KVTIER_DISK_IO=threads forces the thread path (uring: insist on io_uring).
  DiskIoMode io = DiskIoMode::kAuto;
  // fallocate the slot files at open, so that a full disk shows up at open and not during
  // write-back. Off: files grow as slots are written (ENOSPC/EFBIG then fail those writes).
  bool preallocate = true;
  // Group commit: while other writes are still in flight, the fdatasync that makes finished
  // writes durable (and visible) waits until this many bytes are finished or group_commit_ms
  // passed; fewer syncs, more throughput. With no other write in flight it syncs at once.
  std::uint64_t group_commit_bytes = 256ull << 20;
  int group_commit_ms = 50;
  // O_DIRECT I/O. false: buffered I/O through the page cache (still fdatasync before publishing).
  bool direct_io = true;
  // Refuse a filesystem without O_DIRECT (tmpfs) instead of falling back to buffered I/O.
  bool require_direct_io = false;
};

// One intact block on disk.
struct DiskEntry {
  Hash128 hash;
  SlotIndex slot = kNoSlot;
  std::uint32_t tokens = 0;  // tokens the block holds (block_tokens for a full block)
  friend bool operator==(const DiskEntry&, const DiskEntry&) = default;
};

struct DiskDroppedSlot {
  SlotIndex slot = kNoSlot;
  std::string file;    // path of the slot file
  std::string reason;  // what failed, e.g. "header checksum mismatch"
};

// What opening the directory found.
struct DiskOpenReport {
  bool created = false;  // the directory had no disk tier yet
  std::uint64_t slots_scanned = 0;
  std::vector<DiskEntry> entries;          // intact blocks found, by slot order
  std::vector<DiskDroppedSlot> dropped;    // damaged slots: invalidated, now free
  std::vector<std::string> missing_files;  // slot files that were missing: their slots were lost
  std::uint64_t duplicates = 0;            // second copies of a hash (slot freed, first copy kept)
  std::uint64_t removed_files = 0;         // slot files beyond the capacity, deleted
};

struct DiskStats {
  std::uint64_t capacity_slots = 0;
  std::uint64_t used_slots = 0;      // published blocks
  std::uint64_t pending_writes = 0;  // writes not yet durable (not visible)
  std::uint64_t slot_bytes = 0;      // payload bytes of a slot (Geometry::slot_bytes())
  std::uint64_t slot_stride = 0;     // bytes a slot takes in its file (header + padded payload)
  std::uint64_t files = 0;
  std::uint64_t blocks_written = 0, bytes_written = 0;
  std::uint64_t blocks_read = 0;  // whole-block reads (read_async)
  std::uint64_t layer_reads = 0;  // layer-group reads (read_layers_async)
  std::uint64_t bytes_read = 0;   // payload bytes of both
  std::uint64_t write_errors = 0, read_errors = 0, corruptions = 0;
  std::uint64_t syncs = 0;  // fdatasync calls (group commits)
  std::string io_path;      // "io_uring" or "threads"
  bool direct_io = true;    // false: buffered fallback (filesystem without O_DIRECT)
  int queue_depth = 0;
};

class DiskStore {
 public:
  // Opens (creating when needed) the disk tier in o.dir for geometry g and scans it. Throws
  // InvalidArgument for bad options, a directory holding foreign files, or one holding another
  // geometry's tier; DirectoryLocked when another process uses it; IoError when the filesystem
  // has no room for the capacity or a system call fails.
  static std::unique_ptr<DiskStore> open(const Geometry& g, const DiskStoreOptions& o);
  // Waits for every request in flight, then releases the directory. Never throws.
  ~DiskStore();
  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

  const DiskOpenReport& open_report() const;
  // Published (durable, intact as far as the header tells) blocks, by slot order.
  std::vector<DiskEntry> entries() const;
  std::optional<DiskEntry> find(const Hash128& hash) const;

  // Writes the block `hash` (payload: slot_bytes() bytes, ideally 4 KiB aligned pinned memory,
  // unchanged until the future is done) into a free slot chosen by the store. A hash already
  // published completes at once without I/O. No free slot: the future carries OutOfMemory.
  // I/O errors (ENOSPC, EFBIG, EIO) complete it with IoError; the slot is then not published.
  DiskFuture write_async(const Hash128& hash, const void* payload, std::uint32_t tokens,
                         DiskCallback callback = {});
  // Same, into the given slot (placement chosen by the block manager). A block published there
  // is replaced (unpublished at once). A slot with a read or write in flight is refused. When
  // `hash` is published at another slot, the new slot wins: that older copy stays readable until
  // this write is published, then it is unpublished (its slot freed once its reads finish); if
  // this write fails, the older copy stays.
  DiskFuture write_async(SlotIndex slot, const Hash128& hash, const void* payload,
                         std::uint32_t tokens, DiskCallback callback = {});
  // Reads the published block `hash` into dst (slot_bytes() bytes) and verifies it. Throws
  // InvalidArgument when the hash is not published. The future carries Corruption (entry
  // dropped) when a check fails, IoError when the read itself fails.
  DiskFuture read_async(const Hash128& hash, void* dst, DiskCallback callback = {});
  // Same, addressed by slot; `expected` must be the hash published there.
  DiskFuture read_async(SlotIndex slot, const Hash128& expected, void* dst,
                        DiskCallback callback = {});
  // Reads layers [first_layer, first_layer + layers) of the block published at `slot` with hash
  // `expected` into dst (layers * geometry().layer_bytes() bytes, ideally 4 KiB aligned pinned
  // memory) and verifies each layer's checksum. InvalidArgument (at the call) for a slot not
  // publishing `expected` or a layer range outside the geometry. The future carries Corruption
  // (entry dropped, as for read_async) when a check fails, IoError when the read fails.
  // One request a call: the layers' contiguous bytes, O_DIRECT straight into dst when dst and
  // the range are 4 KiB aligned (layer_bytes a multiple of 4 KiB), through a bounce copy
  // otherwise. The checksums come from the in-memory index (no header is read). Like read_async,
  // it keeps writes off the slot until it completes. Counted in stats().layer_reads, bytes_read.
  DiskFuture read_layers_async(SlotIndex slot, const Hash128& expected, int first_layer, int layers,
                               void* dst, DiskCallback callback = {});
  // Unpublishes a block; its slot becomes free once reads in flight finish. The bytes on disk
  // stay a valid copy until the slot is rewritten, so a reopen may find the block again.
  bool remove(const Hash128& hash);
  // Blocks until every request made so far has completed.
  void wait_idle();

  DiskStats stats() const;
  const Geometry& geometry() const;
  const std::filesystem::path& dir() const;
  std::uint64_t slot_bytes() const;
  SlotIndex capacity_slots() const;
  // "DIR/slots-00001.kvt, slot 7 (offset 14708736)" for messages.
  std::string slot_location(SlotIndex slot) const;

  class Impl;

 private:
  explicit DiskStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Bytes one slot of `geometry` takes in its slot file: the 4 KiB header and the payload padded to
// 4 KiB (docs/disk.md). Capacity in slots = capacity_bytes / this.
std::uint64_t disk_slot_stride(const Geometry& geometry);

// The I/O requests a store keeps in flight: `requested` when positive, else enough whole-slot
// requests for 256 MiB in flight (a device reaches its throughput by bytes in flight, not by
// request count: a virtual disk served 2 MiB requests at 1.2 GB/s with 32 in flight, 3.2 GB/s with
// 256), at least 32 and at most 256. InvalidArgument for a negative or > 1024 request.
int disk_queue_depth(const Geometry& geometry, int requested);

// Creates dir (0700, parents too) when missing and refuses one holding files that are not part of
// a disk tier (InvalidArgument naming one). Used by open() and by kvtier-bench disk.
void prepare_disk_directory(const std::filesystem::path& dir);

}  // namespace kvtier
