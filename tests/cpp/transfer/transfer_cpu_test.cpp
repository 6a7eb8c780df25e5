#include <gtest/gtest.h>

#include "transfer/transfer_conformance.h"

namespace kvtier {
namespace {

class CpuTransferTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> b_ = make_backend(BackendChoice::kCpu);
};

TEST_F(CpuTransferTest, RandomMovesBothWays) {
  for (std::uint64_t seed : {1, 2, 3}) testing::check_random_moves(*b_, {}, seed);
}
TEST_F(CpuTransferTest, RandomMovesOneThread) {
  TransferConfig cfg;
  cfg.cpu_threads = 1;
  testing::check_random_moves(*b_, cfg, 11, 3);
}
TEST_F(CpuTransferTest, GatherScatter) {
  for (std::uint64_t seed : {4, 5}) testing::check_gather_scatter(*b_, {}, seed);
}
TEST_F(CpuTransferTest, StagingRingInFlight) { testing::check_staging_ring(*b_, {}, 6); }
TEST_F(CpuTransferTest, ErrorsOnTheEvent) { testing::check_errors(*b_, {}); }

TEST_F(CpuTransferTest, BadConfigAndViews) {
  const Geometry g = testing::test_geometry();
  const SlotPool gpu_pool(*b_, Tier::kGpu, g, 4), host_pool(*b_, Tier::kHost, g, 4);
  const PoolView gpu = view_of(gpu_pool), host = view_of(host_pool);
  TransferConfig bad;
  bad.copy_sms = 0;
  EXPECT_THROW(TransferEngine(*b_, g, gpu, host, bad), InvalidArgument);
  EXPECT_THROW(TransferEngine(*b_, g, host, gpu), InvalidArgument);  // tiers swapped
  Geometry other = g;
  other.block_tokens = 32;
  EXPECT_THROW(TransferEngine(*b_, other, gpu, host), InvalidArgument);  // slot size
  // SlotPool's host tier is always pinned; pageable host memory needs a view of its own.
  Buffer pageable_memory = b_->allocate(MemoryKind::kHost, host.bytes());
  PoolView pageable = host;
  pageable.kind = MemoryKind::kHost;
  pageable.base = pageable_memory.as<std::byte>();
  TransferConfig kernel;
  kernel.h2d = CopyMethod::kKernel;
  EXPECT_THROW(TransferEngine(*b_, g, gpu, pageable, kernel), InvalidArgument);
  EXPECT_EQ(parse_copy_method("batch"), CopyMethod::kMemcpyBatch);
  EXPECT_THROW(parse_copy_method("dma"), InvalidArgument);
}

TEST(TransferSetting, Parse) {
  const TransferConfig a = parse_transfer_setting("kernel/batch@8x3+overlap");
  EXPECT_EQ(a.h2d, CopyMethod::kKernel);
  EXPECT_EQ(a.d2h, CopyMethod::kMemcpyBatch);
  EXPECT_EQ(a.copy_sms, 8);
  EXPECT_EQ(a.copy_streams, 3);
  EXPECT_TRUE(a.prefer_overlap);
  TransferConfig base;
  base.copy_sms = 5;
  const TransferConfig b = parse_transfer_setting("runs", base);
  EXPECT_EQ(b.d2h, CopyMethod::kMemcpyRuns);
  EXPECT_EQ(b.copy_sms, 5);
  EXPECT_FALSE(b.prefer_overlap);
  EXPECT_GT(b.strided_min, 0);
  for (const char* text : {"batchx2+flat+overlap", "batchx2+overlap+flat"}) {
    const TransferConfig c = parse_transfer_setting(text);
    EXPECT_EQ(c.copy_streams, 2) << text;
    EXPECT_TRUE(c.prefer_overlap) << text;
    EXPECT_EQ(c.strided_min, 0) << text;
  }
  EXPECT_THROW(parse_transfer_setting("kernel@"), InvalidArgument);
  EXPECT_THROW(parse_transfer_setting("batchxq"), InvalidArgument);
  EXPECT_THROW(parse_transfer_setting("dma/batch"), InvalidArgument);
  EXPECT_THROW(parse_transfer_setting("kernel@0"), InvalidArgument);
}

TEST_F(CpuTransferTest, EmptyBatchIsComplete) {
  testing::TransferRig rig(*b_, testing::test_geometry(), 2, 2, {}, 1);
  auto e = rig.engine().submit({});
  EXPECT_TRUE(e.query());
  e.synchronize();
  EXPECT_EQ(e.bytes(), 0u);
}

}  // namespace
}  // namespace kvtier
