#include <gtest/gtest.h>

#include "backend/backend_conformance.h"

namespace kvtier {
namespace {

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda_device_count(&why) == 0) GTEST_FAIL() << "cuda tests need a GPU: " << why;
    b_ = make_backend(BackendChoice::kCuda);
  }
  std::unique_ptr<Backend> b_;
};

TEST_F(CudaBackendTest, DeviceInfo) {
  EXPECT_EQ(b_->kind(), BackendKind::kCuda);
  EXPECT_GT(b_->device().multiprocessors, 0);
  EXPECT_GE(b_->device().compute_major, 8);
  EXPECT_GT(b_->device().free_memory, 0u);
  EXPECT_NE(b_->create_stream()->native_handle(), nullptr);
  EXPECT_EQ(make_backend(BackendChoice::kAuto)->kind(), BackendKind::kCuda);
}
TEST_F(CudaBackendTest, StreamOrder) { testing::check_stream_order(*b_); }
TEST_F(CudaBackendTest, CopiesEveryKind) { testing::check_copies_every_kind(*b_); }
TEST_F(CudaBackendTest, EventOrdersStreams) { testing::check_event_orders_streams(*b_); }
TEST_F(CudaBackendTest, EventTimingAndQuery) { testing::check_event_timing_and_query(*b_); }
TEST_F(CudaBackendTest, ErrorsTravelWithEvents) { testing::check_errors_travel_with_events(*b_); }
// Host tasks run on the driver's callback thread (serialized across streams, see backend.h), so
// overlap of CUDA streams is shown with device work: an H2D and a D2H copy on two streams.
TEST_F(CudaBackendTest, StreamsOverlapDeviceWork) {
  const std::size_t n = 512u << 20;
  Buffer h1 = b_->allocate(MemoryKind::kPinnedHost, n), h2 = b_->allocate(MemoryKind::kPinnedHost, n);
  Buffer d1 = b_->allocate(MemoryKind::kDevice, n), d2 = b_->allocate(MemoryKind::kDevice, n);
  std::memset(h1.data(), 1, n);
  auto s1 = b_->create_stream(), s2 = b_->create_stream();
  auto time_it = [&](bool together) {
    auto t0 = std::chrono::steady_clock::now();
    b_->copy_async(d1.data(), h1.data(), n, *s1);
    if (!together) s1->synchronize();
    b_->copy_async(h2.data(), d2.data(), n, *s2);
    s1->synchronize();
    s2->synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  time_it(true);  // warm-up
  double apart = 1e9, together = 1e9;
  for (int i = 0; i < 3; ++i) {
    apart = std::min(apart, time_it(false));
    together = std::min(together, time_it(true));
  }
  EXPECT_LT(together, 0.8 * apart) << "copies on two streams did not overlap: " << together << " s together vs "
                                   << apart << " s one after the other";
}
TEST_F(CudaBackendTest, AllocationErrors) { testing::check_allocation_errors(*b_); }
TEST_F(CudaBackendTest, BadDeviceIndex) { EXPECT_THROW(make_backend(BackendChoice::kCuda, 999), InvalidArgument); }

}  // namespace
}  // namespace kvtier
