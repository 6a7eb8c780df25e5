// main of test_disk: GoogleTest, or a child role when run as `test_disk --disk-child=ROLE ...`
// (the fault tests start the binary again to get real second processes: restart, kill -9,
// file size limit, lock). Defining main here keeps GTest::gtest_main's out of the link.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "disk_test_util.h"

int main(int argc, char** argv) {
  const std::string flag = "--disk-child=";
  if (argc >= 2 && std::string(argv[1]).rfind(flag, 0) == 0) {
    std::vector<std::string> args(argv + 2, argv + argc);
    return kvtier::disk_test::run_child_role(std::string(argv[1]).substr(flag.size()), args);
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
