// The I/O engines' post(): it never blocks, even with the queue full and completions held up, and
// every request posted beyond the queue depth runs later with its own result (bytes, or -errno).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "disk_test_util.h"
#include "transfer/disk/io_engine.h"

namespace kvtier::disk_test {
namespace {

constexpr std::size_t kBlock = 4096;
constexpr int kDepth = 2;
constexpr int kRequests = 64;

class DiskIoEngineTest : public ::testing::TestWithParam<DiskIoMode> {
 protected:
  void SetUp() override {
    std::string why;
    if (GetParam() == DiskIoMode::kUring) {
      engine_ = disk::make_uring_engine(kDepth, &why);
      if (!engine_) GTEST_SKIP() << "io_uring is not available here: " << why;
    } else {
      engine_ = disk::make_thread_engine(kDepth);
    }
    path_ = dir_.path() / "blocks";
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd_, 0) << std::strerror(errno);
  }
  void TearDown() override {
    engine_.reset();  // waits for every request
    if (fd_ >= 0) ::close(fd_);
  }
  // Posts one request per block i of `mem` (kBlock bytes each) at offset i * kBlock; the first
  // callbacks wait until every request is posted, so the queue stays full meanwhile. Returns the
  // results once all are done; *posted_while_held tells whether every post() returned while
  // completions were held up.
  std::vector<std::int64_t> post_all(bool write, unsigned char* mem, int bad_request,
                                     bool* posted_while_held) {
    std::vector<std::int64_t> results(kRequests, 1);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> done{0};
    std::atomic<bool> timed_out{false};
    for (int i = 0; i < kRequests; ++i) {
      disk::IoRequest r;
      r.fd = i == bad_request ? -1 : fd_;
      r.write = write;
      r.offset = static_cast<std::uint64_t>(i) * kBlock;
      r.iov[0] = {mem + i * kBlock, kBlock};
      r.done = [&, i](std::int64_t res) {
        if (i < kDepth && released.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
          timed_out = true;
        }
        results[static_cast<std::size_t>(i)] = res;
        ++done;
      };
      engine_->post(std::move(r));
    }
    release.set_value();
    while (done.load() < kRequests) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    *posted_while_held = !timed_out;
    return results;
  }

  TempDir dir_;
  std::filesystem::path path_;
  int fd_ = -1;
  std::unique_ptr<disk::IoEngine> engine_;
};

TEST_P(DiskIoEngineTest, PostNeverBlocksAndRunsEveryRequest) {
  Aligned out(kRequests * kBlock), in(kRequests * kBlock);
  for (std::size_t i = 0; i < out.bytes; ++i) out.data[i] = static_cast<unsigned char>(i * 7 + 3);
  bool held = false;
  for (std::int64_t res : post_all(true, out.data, -1, &held)) {
    EXPECT_EQ(res, static_cast<std::int64_t>(kBlock));
  }
  EXPECT_TRUE(held) << "post() waited for the queue to drain";
  for (std::int64_t res : post_all(false, in.data, -1, &held)) {
    EXPECT_EQ(res, static_cast<std::int64_t>(kBlock));
  }
  EXPECT_TRUE(held);
  EXPECT_EQ(std::memcmp(out.data, in.data, out.bytes), 0);
}

TEST_P(DiskIoEngineTest, PostedRequestFailsAloneBehindAFullQueue) {
  Aligned out(kRequests * kBlock), in(kRequests * kBlock);
  std::memset(out.data, 0x5a, out.bytes);
  bool held = false;
  post_all(true, out.data, -1, &held);
  const int bad = kRequests / 2;  // posted while the queue is full: submitted by the engine later
  const std::vector<std::int64_t> results = post_all(false, in.data, bad, &held);
  for (int i = 0; i < kRequests; ++i) {
    if (i == bad) {
      EXPECT_EQ(results[i], -EBADF);
    } else {
      EXPECT_EQ(results[i], static_cast<std::int64_t>(kBlock)) << "request " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, DiskIoEngineTest,
                         ::testing::Values(DiskIoMode::kUring, DiskIoMode::kThreads),
                         engine_name);

}  // namespace
}  // namespace kvtier::disk_test
