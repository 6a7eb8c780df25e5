// The raw O_DIRECT ceiling measurement used by kvtier-bench disk.
#include <gtest/gtest.h>

#include "disk_test_util.h"
#include "kvtier/transfer/disk_ceiling.h"

namespace kvtier::disk_test {
namespace {

TEST(DiskCeiling, MeasuresAndCleansUp) {
  TempDir t;
  prepare_disk_directory(t.store());
  DiskCeilingOptions o;
  o.dir = t.store();
  o.total_bytes = 8 << 20;
  o.file_bytes = 4 << 20;
  o.block_bytes = 1 << 20;
  o.queue_depth = 4;
  o.require_direct_io = false;
  const DiskCeiling c = measure_disk_ceiling(o);
  EXPECT_EQ(c.bytes, 8u << 20);
  EXPECT_GT(c.write_bytes_per_s, 0);
  EXPECT_GT(c.read_bytes_per_s, 0);
  EXPECT_TRUE(std::filesystem::is_empty(t.store()));
  o.block_bytes = 1000;
  EXPECT_THROW(measure_disk_ceiling(o), InvalidArgument);
  o.block_bytes = 16 << 20;
  EXPECT_THROW(measure_disk_ceiling(o), InvalidArgument);  // less than one block
}

}  // namespace
}  // namespace kvtier::disk_test
