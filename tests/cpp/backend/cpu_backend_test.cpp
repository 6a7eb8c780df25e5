#include <gtest/gtest.h>

#include "backend/backend_conformance.h"

namespace kvtier {
namespace {

class CpuBackendTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> b_ = make_backend(BackendChoice::kCpu);
};

TEST_F(CpuBackendTest, Kind) {
  EXPECT_EQ(b_->kind(), BackendKind::kCpu);
  EXPECT_GT(b_->device().total_memory, 0u);
  EXPECT_EQ(b_->create_stream()->native_handle(), nullptr);
}
TEST_F(CpuBackendTest, StreamOrder) { testing::check_stream_order(*b_); }
TEST_F(CpuBackendTest, CopiesEveryKind) { testing::check_copies_every_kind(*b_); }
TEST_F(CpuBackendTest, EventOrdersStreams) { testing::check_event_orders_streams(*b_); }
TEST_F(CpuBackendTest, EventTimingAndQuery) { testing::check_event_timing_and_query(*b_); }
TEST_F(CpuBackendTest, ErrorsTravelWithEvents) { testing::check_errors_travel_with_events(*b_); }
TEST_F(CpuBackendTest, StreamsOverlap) { testing::check_streams_overlap(*b_); }
TEST_F(CpuBackendTest, AllocationErrors) { testing::check_allocation_errors(*b_); }

TEST(BackendChoice, ParsesAndRejects) {
  EXPECT_EQ(parse_backend_choice("auto"), BackendChoice::kAuto);
  EXPECT_EQ(parse_backend_choice("cpu"), BackendChoice::kCpu);
  EXPECT_EQ(parse_backend_choice("cuda"), BackendChoice::kCuda);
  EXPECT_THROW(parse_backend_choice("rocm"), InvalidArgument);
}

TEST(BackendChoice, AutoFallsBackToCpuAndCudaIsAClearErrorWithoutGpu) {
  std::string why;
  if (cuda_device_count(&why) > 0) GTEST_SKIP() << "a GPU is present";
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(make_backend(BackendChoice::kAuto)->kind(), BackendKind::kCpu);
  try {
    make_backend(BackendChoice::kCuda);
    ADD_FAILURE() << "asking for CUDA without a GPU did not fail";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kvtier
