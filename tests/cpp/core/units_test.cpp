#include <gtest/gtest.h>

#include "kvtier/core/error.h"
#include "kvtier/core/units.h"

namespace kvtier {
namespace {

TEST(Units, ParsesBinaryAndDecimalUnits) {
  EXPECT_EQ(parse_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_size("8GiB"), 8ull << 30);
  EXPECT_EQ(parse_size("16GB"), 16'000'000'000ull);
  EXPECT_EQ(parse_size("1.5 GiB"), 3ull << 29);
  EXPECT_EQ(parse_size("4096"), 4096ull);
  EXPECT_EQ(parse_size("64kib"), 65536ull);
  EXPECT_EQ(parse_size(" 2TiB "), 2ull << 40);
  EXPECT_EQ(parse_size("10B"), 10ull);
  EXPECT_EQ(parse_size("0", /*allow_zero=*/true), 0ull);
}

TEST(Units, RejectsBadSizesNamingTheValue) {
  for (const char* bad : {"", "0", "0GiB", "-1GiB", "GiB", "12XB", "1.2.3MiB", "1e400", "99999999999TiB"}) {
    try {
      parse_size(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("expected"), std::string::npos) << e.what();
    }
  }
}

TEST(Units, FormatsSizesAndCounts) {
  EXPECT_EQ(format_size(100), "100 B");
  EXPECT_EQ(format_size(2 << 20), "2.00 MiB");
  EXPECT_EQ(format_size(3ull << 29), "1.50 GiB");
  EXPECT_EQ(format_count(0), "0");
  EXPECT_EQ(format_count(1234567), "1,234,567");
}

}  // namespace
}  // namespace kvtier
