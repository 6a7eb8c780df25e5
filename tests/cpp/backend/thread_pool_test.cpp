#include "kvtier/backend/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace kvtier {
namespace {

TEST(ThreadPool, EveryIndexOnce) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.size(), 4);
  for (std::size_t n : {0u, 1u, 3u, 4u, 1000u}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(n, [&](std::size_t i) { ++hits[i]; });
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1);
  }
}

TEST(ThreadPool, RethrowsAndStaysUsable) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for(100, [](std::size_t i) { if (i == 57) throw std::runtime_error("x"); }),
               std::runtime_error);
  std::atomic<int> sum{0};
  pool.parallel_for(10, [&](std::size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 45);
}

// A thread stalled inside an item must not hold back the rest: the others take its share. (Under
// a static split it would also run the 15 items after its stalled one.)
TEST(ThreadPool, StalledThreadKeepsOnlyItsChunk) {
  ThreadPool pool(4);
  std::vector<std::thread::id> ran(64);
  pool.parallel_for(ran.size(), [&](std::size_t i) {
    ran[i] = std::this_thread::get_id();
    std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? 300 : 2));
  });
  const auto by_stalled = std::count(ran.begin(), ran.end(), ran[0]);
  EXPECT_LE(by_stalled, 2) << "the thread that stalled on item 0 ran " << by_stalled << " items";
}

TEST(ThreadPool, ManyShortCallsFromTwoThreads) {
  ThreadPool pool(4);
  std::atomic<long> sum{0};
  auto caller = [&] {
    for (int k = 0; k < 300; ++k)
      pool.parallel_for(1 + k % 7, [&](std::size_t i) { sum += static_cast<long>(i) + 1; });
  };
  std::thread other(caller);
  caller();
  other.join();
  long want = 0;
  for (int k = 0; k < 300; ++k) want += (1 + k % 7) * (2 + k % 7) / 2;
  EXPECT_EQ(sum.load(), 2 * want);
}

}  // namespace
}  // namespace kvtier
