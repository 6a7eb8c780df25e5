// Helpers of the disk-tier tests: temporary directories, deterministic block contents, raw file
// surgery, and child processes (the test binary run again with --disk-child=ROLE).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kvtier/core/geometry.h"
#include "kvtier/transfer/disk_store.h"

namespace kvtier::disk_test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // A not-yet-existing store directory inside.
  std::filesystem::path store() const { return path_ / "store"; }

 private:
  std::filesystem::path path_;
};

// Test names of suites run with both I/O engines: "Uring", "Threads".
inline std::string engine_name(const ::testing::TestParamInfo<DiskIoMode>& info) {
  return info.param == DiskIoMode::kUring ? "Uring" : "Threads";
}

// Base of the suites run with both I/O engines (parameter: the engine): the io_uring instance is
// skipped, with the reason, where io_uring does not start.
class EngineTest : public ::testing::TestWithParam<DiskIoMode> {
 protected:
  void SetUp() override;
};

Geometry tiny();
// The hash of test block number i.
Hash128 block_hash(std::uint64_t i);
// Deterministic contents of block `hash`: bytes bytes.
void fill_block(const Hash128& hash, void* dst, std::size_t bytes);
// 4 KiB aligned zeroed memory, freed on destruction.
struct Aligned {
  explicit Aligned(std::size_t bytes);
  ~Aligned();
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
  unsigned char* data;
  std::size_t bytes;
};

DiskStoreOptions options(const std::filesystem::path& dir, std::uint64_t slots,
                         std::uint64_t slots_per_file = 0, DiskIoMode io = DiskIoMode::kAuto);
// Writes blocks [first, first + n) and waits for them; returns their slots.
std::vector<SlotIndex> write_blocks(DiskStore& store, std::uint64_t first, std::uint64_t n);
// Reads `hash` and compares it with fill_block: "" when exact, else what went wrong (the error
// message, or "wrong bytes" — the one outcome that must never happen).
std::string read_check(DiskStore& store, const Hash128& hash);

// Slot file surgery.
std::filesystem::path slot_file(const std::filesystem::path& dir, std::uint32_t file);
void flip_byte(const std::filesystem::path& file, std::uint64_t offset);
void write_bytes(const std::filesystem::path& file, std::uint64_t offset, const void* data,
                 std::size_t n);

// The test binary run with --disk-child=ROLE ARGS...; stdout piped to the parent.
class Child {
 public:
  Child(const std::string& role, const std::vector<std::string>& args);
  ~Child();  // kills (SIGKILL) and reaps a child still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // A line of the child's stdout, without the newline; false at end of output.
  bool read_line(std::string* line);
  std::string read_all();
  void kill9();
  // Waits; the exit code, or 128 + signal number.
  int wait();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs the role named in argv (--disk-child=ROLE); returns the process exit code.
int run_child_role(const std::string& role, const std::vector<std::string>& args);

}  // namespace kvtier::disk_test
