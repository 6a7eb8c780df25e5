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
TEST_F(CudaBackendTest, StreamsOverlap) { testing::check_streams_overlap(*b_); }
TEST_F(CudaBackendTest, AllocationErrors) { testing::check_allocation_errors(*b_); }
TEST_F(CudaBackendTest, BadDeviceIndex) { EXPECT_THROW(make_backend(BackendChoice::kCuda, 999), InvalidArgument); }

}  // namespace
}  // namespace kvtier
