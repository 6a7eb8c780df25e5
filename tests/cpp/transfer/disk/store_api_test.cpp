// Opening a disk tier: directory and file modes, foreign files, the lock inside one process,
// another geometry, the free-space check, the I/O path choice and the O_DIRECT fallback.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "disk_test_util.h"
#include "kvtier/core/units.h"

namespace kvtier::disk_test {
namespace {
namespace fs = std::filesystem;

template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(DiskStoreOpen, DirectoryIs0700AndFiles0600) {
  TempDir t;
  const fs::path dir = t.path() / "a" / "b";
  auto store = DiskStore::open(tiny(), options(dir, 8, 4));
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((t.path() / "a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
    ++files;
  }
  EXPECT_EQ(files, 4);  // lock, meta, 2 slot files
  EXPECT_EQ(fs::file_size(slot_file(dir, 0)), 4u * store->stats().slot_stride);
}

TEST(DiskStoreOpen, RefusesADirectoryWithForeignFiles) {
  TempDir t;
  fs::create_directories(t.store());
  std::ofstream(t.store() / "notes.txt") << "mine";
  const std::string msg =
      error_of<InvalidArgument>([&] { DiskStore::open(tiny(), options(t.store(), 8)); });
  EXPECT_NE(msg.find("notes.txt"), std::string::npos) << msg;
  EXPECT_NE(msg.find(t.store().string()), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(t.store() / "kvtier-disk.lock"));  // nothing created there
  EXPECT_THROW(DiskStore::open(tiny(), options(t.store() / "notes.txt", 8)), InvalidArgument);
}

TEST(DiskStoreOpen, SecondOpenInTheSameProcessIsRefused) {
  TempDir t;
  auto store = DiskStore::open(tiny(), options(t.store(), 8));
  const std::string msg =
      error_of<DirectoryLocked>([&] { DiskStore::open(tiny(), options(t.store(), 8)); });
  EXPECT_NE(msg.find(t.store().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("process " + std::to_string(::getpid())), std::string::npos) << msg;
  store.reset();
  EXPECT_NO_THROW(DiskStore::open(tiny(), options(t.store(), 8)));  // released on close
}

TEST(DiskStoreOpen, RefusesAnotherGeometrysDirectory) {
  TempDir t;
  DiskStore::open(tiny(), options(t.store(), 8));
  Geometry other = tiny();
  other.block_tokens = 8;
  const std::string msg =
      error_of<InvalidArgument>([&] { DiskStore::open(other, options(t.store(), 8)); });
  EXPECT_NE(msg.find("another geometry"), std::string::npos) << msg;
  EXPECT_NE(msg.find("8 tokens a block"), std::string::npos) << msg;
}

// Format 1 (one checksum over the whole payload) is not read: its directory is refused at open,
// with what to do about it, and left as it was.
TEST(DiskStoreOpen, RefusesAFormatVersion1Directory) {
  TempDir t;
  { write_blocks(*DiskStore::open(tiny(), options(t.store(), 8)), 0, 2); }
  const fs::path meta = t.store() / "kvtier-disk.meta";
  std::string text;
  {
    std::ifstream in(meta);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto at = text.find("format_version 2");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 16, "format_version 1");
  std::ofstream(meta, std::ios::trunc) << text;
  const std::string msg =
      error_of<InvalidArgument>([&] { DiskStore::open(tiny(), options(t.store(), 8)); });
  EXPECT_NE(msg.find("format version 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reads only version 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("delete the directory"), std::string::npos) << msg;
  EXPECT_NE(msg.find(t.store().string()), std::string::npos) << msg;
  EXPECT_TRUE(fs::exists(slot_file(t.store(), 0)));
}

TEST(DiskStoreOpen, RefusesGeometriesWithMoreLayersThanTheHeaderHolds) {
  TempDir t;
  Geometry g = tiny();
  g.layers = 993;
  DiskStoreOptions o = options(t.store(), 1);
  o.capacity_bytes = 4096 + g.slot_bytes();
  const std::string msg = error_of<InvalidArgument>([&] { DiskStore::open(g, o); });
  EXPECT_NE(msg.find("993 layers"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at most 992 layers"), std::string::npos) << msg;
  g.layers = 992;
  o.capacity_bytes = 4096 + g.slot_bytes();
  auto store = DiskStore::open(g, o);
  write_blocks(*store, 0, 1);
  EXPECT_EQ(read_check(*store, block_hash(0)), "");
}

TEST(DiskStoreOpen, RefusesABudgetLargerThanTheFreeSpace) {
  TempDir t;
  DiskStoreOptions o;
  o.dir = t.store();
  o.capacity_bytes = parse_size("1024TiB");
  o.file_bytes = parse_size("64GiB");
  const std::string msg = error_of<IoError>([&] { DiskStore::open(preset("llama-3.1-8b"), o); });
  EXPECT_NE(msg.find("free"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(slot_file(t.store(), 0)));
  o.capacity_bytes = 0;
  EXPECT_THROW(DiskStore::open(preset("llama-3.1-8b"), o), InvalidArgument);
}

TEST(DiskStoreOpen, EnvironmentForcesTheThreadPath) {
  TempDir t;
  ::setenv("KVTIER_DISK_IO", "threads", 1);
  auto store = DiskStore::open(tiny(), options(t.store(), 8));
  ::unsetenv("KVTIER_DISK_IO");
  EXPECT_EQ(store->stats().io_path, "threads");
  write_blocks(*store, 0, 3);
  EXPECT_EQ(read_check(*store, block_hash(1)), "");
  EXPECT_THROW(parse_disk_io_mode("fast"), InvalidArgument);
}

TEST(DiskStoreOpen, DamagedMetaFileIsRebuiltAndBlocksSurvive) {
  TempDir t;
  { write_blocks(*DiskStore::open(tiny(), options(t.store(), 8)), 0, 3); }
  std::ofstream(t.store() / "kvtier-disk.meta", std::ios::trunc) << "garbage";
  auto store = DiskStore::open(tiny(), options(t.store(), 8));
  EXPECT_EQ(store->open_report().entries.size(), 3u);
  EXPECT_EQ(read_check(*store, block_hash(2)), "");
}

TEST(DiskStoreOpen, ShrinkingTheBudgetDropsTheSlotsBeyondIt) {
  TempDir t;
  { write_blocks(*DiskStore::open(tiny(), options(t.store(), 12, 4)), 0, 12); }
  auto store = DiskStore::open(tiny(), options(t.store(), 6, 4));
  EXPECT_EQ(store->open_report().removed_files, 1u);
  EXPECT_EQ(store->open_report().entries.size(), 6u);
  EXPECT_FALSE(fs::exists(slot_file(t.store(), 2)));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(read_check(*store, block_hash(i)), "");
}

TEST(DiskStoreOpen, BufferedIoWhenAskedFor) {
  TempDir t;
  DiskStoreOptions o = options(t.store(), 8);
  o.direct_io = false;
  {
    auto store = DiskStore::open(tiny(), o);
    EXPECT_FALSE(store->stats().direct_io);
    write_blocks(*store, 0, 3);
    EXPECT_EQ(read_check(*store, block_hash(2)), "");
  }
  flip_byte(slot_file(t.store(), 0), 4096 + 5);
  auto store = DiskStore::open(tiny(), o);
  EXPECT_NE(read_check(*store, block_hash(0)).find("payload checksum mismatch"), std::string::npos);
  EXPECT_EQ(read_check(*store, block_hash(1)), "");
}

// tmpfs (/dev/shm) without O_DIRECT: buffered fallback with a warning, or a clear refusal.
TEST(DiskStoreOpen, FilesystemWithoutDirectIo) {
  const fs::path shm = "/dev/shm";
  struct statvfs vfs {};
  if (::statvfs(shm.c_str(), &vfs) != 0 || ::access(shm.c_str(), W_OK) != 0) {
    GTEST_SKIP() << "no writable /dev/shm";
  }
  const fs::path dir = shm / ("kvtier-disk-test-" + std::to_string(::getpid()));
  const int probe =
      ::open((shm / "kvtier-odirect-probe").c_str(), O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  ::unlink((shm / "kvtier-odirect-probe").c_str());
  if (probe >= 0) {
    ::close(probe);
    GTEST_SKIP() << "this kernel's tmpfs supports O_DIRECT";
  }
  {
    DiskStoreOptions o = options(dir, 8);
    o.require_direct_io = true;
    const std::string msg = error_of<IoError>([&] { DiskStore::open(tiny(), o); });
    EXPECT_NE(msg.find("O_DIRECT"), std::string::npos) << msg;
  }
  {
    auto store = DiskStore::open(tiny(), options(dir, 8));
    EXPECT_FALSE(store->stats().direct_io);
    write_blocks(*store, 0, 2);
    EXPECT_EQ(read_check(*store, block_hash(1)), "");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kvtier::disk_test
