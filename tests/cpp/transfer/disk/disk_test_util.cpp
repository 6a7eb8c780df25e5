#include "disk_test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <stdexcept>

#include "transfer/disk/io_engine.h"

extern char** environ;

namespace kvtier::disk_test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ =
      std::string(base != nullptr && *base ? base : "/tmp") + "/kvtier-disk-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void EngineTest::SetUp() {
  std::string why;
  if (GetParam() == DiskIoMode::kUring && !disk::make_uring_engine(1, &why)) {
    GTEST_SKIP() << "io_uring is not available here: " << why;
  }
}

Geometry tiny() { return preset("tiny"); }

Hash128 block_hash(std::uint64_t i) { return hash128(&i, sizeof i, {0x74657374626c6b31ull, 7}); }

void fill_block(const Hash128& hash, void* dst, std::size_t bytes) {
  std::uint64_t x = hash.lo ^ (hash.hi * 0x9E3779B97F4A7C15ull);
  auto* p = static_cast<unsigned char*>(dst);
  for (std::size_t i = 0; i < bytes; i += 8) {
    const std::uint64_t z = splitmix64(x);
    std::memcpy(p + i, &z, std::min<std::size_t>(8, bytes - i));
  }
}

Aligned::Aligned(std::size_t n) : bytes(n) {
  data = static_cast<unsigned char*>(std::aligned_alloc(4096, (n + 4095) / 4096 * 4096));
  if (data == nullptr) throw std::bad_alloc();
  std::memset(data, 0, n);
}
Aligned::~Aligned() { std::free(data); }

DiskStoreOptions options(const fs::path& dir, std::uint64_t slots, std::uint64_t slots_per_file,
                         DiskIoMode io) {
  const std::uint64_t stride = disk_slot_stride(tiny());
  DiskStoreOptions o;
  o.dir = dir;
  o.capacity_bytes = slots * stride;
  if (slots_per_file != 0) o.file_bytes = slots_per_file * stride;
  o.queue_depth = 8;
  o.cpu_threads = 2;
  o.io = io;
  return o;
}

std::vector<SlotIndex> write_blocks(DiskStore& store, std::uint64_t first, std::uint64_t n) {
  const std::size_t bytes = store.slot_bytes();
  std::deque<Aligned> bufs;
  std::vector<DiskFuture> futures;
  for (std::uint64_t i = first; i < first + n; ++i) {
    bufs.emplace_back(bytes);
    fill_block(block_hash(i), bufs.back().data, bytes);
    futures.push_back(store.write_async(block_hash(i), bufs.back().data,
                                        static_cast<std::uint32_t>(store.geometry().block_tokens)));
  }
  std::vector<SlotIndex> slots;
  for (auto& f : futures) {
    f.wait();
    slots.push_back(f.slot());
  }
  return slots;
}

std::string read_check(DiskStore& store, const Hash128& hash) {
  const std::size_t bytes = store.slot_bytes();
  Aligned got(bytes), want(bytes);
  fill_block(hash, want.data, bytes);
  try {
    store.read_async(hash, got.data).wait();
  } catch (const std::exception& e) {
    return e.what();
  }
  return std::memcmp(got.data, want.data, bytes) == 0 ? "" : "wrong bytes";
}

fs::path slot_file(const fs::path& dir, std::uint32_t file) {
  char name[32];
  std::snprintf(name, sizeof name, "slots-%05u.kvt", file);
  return dir / name;
}

void flip_byte(const fs::path& file, std::uint64_t offset) {
  const int fd = ::open(file.c_str(), O_RDWR);
  if (fd < 0) throw std::runtime_error("open " + file.string() + ": " + std::strerror(errno));
  unsigned char b = 0;
  if (::pread(fd, &b, 1, static_cast<off_t>(offset)) != 1) throw std::runtime_error("pread");
  b ^= 0x10;
  if (::pwrite(fd, &b, 1, static_cast<off_t>(offset)) != 1) throw std::runtime_error("pwrite");
  ::close(fd);
}

void write_bytes(const fs::path& file, std::uint64_t offset, const void* data, std::size_t n) {
  const int fd = ::open(file.c_str(), O_RDWR);
  if (fd < 0) throw std::runtime_error("open " + file.string() + ": " + std::strerror(errno));
  if (::pwrite(fd, data, n, static_cast<off_t>(offset)) != static_cast<ssize_t>(n)) {
    throw std::runtime_error("pwrite");
  }
  ::close(fd);
}

Child::Child(const std::string& role, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::vector<std::string> argv_s = {"/proc/self/exe", "--disk-child=" + role};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  exe[n] = '\0';
  const int rc = ::posix_spawn(&pid_, exe, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  out_ = fds[0];
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn failed: ") + std::strerror(rc));
}

Child::~Child() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (out_ >= 0) ::close(out_);
}

bool Child::read_line(std::string* line) {
  for (;;) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      *line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return true;
    }
    char buf[4096];
    const ssize_t n = ::read(out_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (buffer_.empty()) return false;
      *line = buffer_;
      buffer_.clear();
      return true;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string Child::read_all() {
  std::string all, line;
  while (read_line(&line)) all += line + "\n";
  return all;
}

void Child::kill9() { ::kill(pid_, SIGKILL); }

int Child::wait() {
  if (!reaped_) {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

}  // namespace kvtier::disk_test
