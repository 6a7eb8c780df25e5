// The transfer engine on the GPU: every copy method, both directions, byte for byte; the staging
// ring in flight; errors on the event, a device error included.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "transfer/transfer_conformance.h"

namespace kvtier {
namespace {

class CudaTransferTest : public ::testing::TestWithParam<CopyMethod> {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda_device_count(&why) == 0) GTEST_FAIL() << "cuda tests need a GPU: " << why;
    b_ = make_backend(BackendChoice::kCuda);
  }
  TransferConfig config() const {
    TransferConfig c;
    c.h2d = c.d2h = GetParam();
    return c;
  }
  std::unique_ptr<Backend> b_;
};

TEST_P(CudaTransferTest, RandomMovesBothWays) {
  for (std::uint64_t seed : {1, 2}) testing::check_random_moves(*b_, config(), seed);
}
TEST_P(CudaTransferTest, GatherScatter) {
  for (std::uint64_t seed : {4, 5}) testing::check_gather_scatter(*b_, config(), seed);
}
TEST_P(CudaTransferTest, StagingRingInFlight) { testing::check_staging_ring(*b_, config(), 6); }
TEST_P(CudaTransferTest, ErrorsOnTheEvent) { testing::check_errors(*b_, config()); }
TEST_P(CudaTransferTest, FewSmsOneStreamNormalPriority) {
  TransferConfig c = config();
  c.copy_sms = 2;
  c.copy_threads = 128;
  c.copy_streams = 1;
  c.high_priority = false;
  c.strided_min = 0;  // no 2D copies
  testing::check_random_moves(*b_, c, 9, 2);
  testing::check_gather_scatter(*b_, c, 10);
}
TEST_P(CudaTransferTest, ManyStreamsOverlapHint) {
  TransferConfig c = config();
  c.copy_streams = 5;
  c.prefer_overlap = true;
  c.strided_min = 2;  // 2D copies for every strided pair
  testing::check_random_moves(*b_, c, 12, 2);
  testing::check_gather_scatter(*b_, c, 13);
}

INSTANTIATE_TEST_SUITE_P(Methods, CudaTransferTest,
                         ::testing::Values(CopyMethod::kAuto, CopyMethod::kKernel,
                                           CopyMethod::kMemcpyBatch, CopyMethod::kMemcpyRuns),
                         [](const auto& info) {
                           return std::string(copy_method_name(info.param));
                         });

// Layer slices of real size (Llama-3.1-8B: 64 KiB at 16 tokens) through the copy kernel, with
// more pieces than thread blocks.
TEST(CudaTransfer, LlamaSlicesThroughKernel) {
  std::string why;
  if (cuda_device_count(&why) == 0) GTEST_FAIL() << why;
  auto b = make_backend(BackendChoice::kCuda);
  Geometry g = preset("llama-3.1-8b");
  g.layers = 4;  // keeps the pools small; the slice size is the model's
  TransferConfig c;
  c.h2d = c.d2h = CopyMethod::kKernel;
  testing::TransferRig rig(*b, g, 4, 64, c, 3);
  const std::size_t lb = g.layer_bytes();
  auto slots = rig.random_slots(Tier::kHost, 48);
  Buffer dst = b->allocate(MemoryKind::kDevice, slots.size() * lb);
  rig.engine().gather_layer(2, slots, dst.data(), dst.bytes()).synchronize();
  const auto got = rig.read_device(dst.data(), dst.bytes());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    ASSERT_EQ(
        std::memcmp(got.data() + i * lb, rig.shadow({Tier::kHost, slots[i]}).data() + 2 * lb, lb),
        0)
        << "slice " << i;
  }
}

// A device error (the copy kernel writing to an address that is not mapped) reaches the event as a
// CudaError. The CUDA context is lost after it, so it runs in a child process.
void run_device_error_child() {
  auto b = make_backend(BackendChoice::kCuda);
  const Geometry g = testing::test_geometry();
  const SlotPool host(*b, Tier::kHost, g, 4);
  PoolView gpu;
  gpu.tier = Tier::kGpu;
  gpu.kind = MemoryKind::kDevice;
  // Above the host's 47-bit user address space (so not reachable through HMM either) and inside
  // the GPU's virtual address space, where nothing is mapped.
  gpu.base = reinterpret_cast<std::byte*>(std::uintptr_t{0xF} << 48);
  gpu.slot_bytes = g.slot_bytes();
  gpu.slots = 4;
  TransferConfig c;
  c.h2d = CopyMethod::kKernel;
  TransferEngine e(*b, g, gpu, view_of(host), c);
  const std::vector<SlotMove> moves{{SlotMove::Kind::kMove, 0, {Tier::kHost, 1}, {Tier::kGpu, 2}, {}, 0}};
  auto ev = e.submit(moves);
  if (ev.rejected()) std::_Exit(3);  // the batch itself must be valid: the error is the device's
  try {
    ev.synchronize();
  } catch (const CudaError& err) {
    std::fprintf(stderr, "device error on the event: %s\n", err.what());
    std::_Exit(7);
  }
  std::_Exit(0);
}

TEST(CudaTransferDeathTest, DeviceErrorReachesTheEvent) {
  std::string why;
  if (cuda_device_count(&why) == 0) GTEST_FAIL() << why;
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_device_error_child(), ::testing::ExitedWithCode(7),
              "device error on the event: .*illegal");
}

}  // namespace
}  // namespace kvtier
