// Behaviour every backend must show: ordering, events, errors carried by events, copies between
// every pair of memory kinds, overlap of independent streams. Used by the CPU and CUDA tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/core/error.h"

namespace kvtier::testing {

inline void check_stream_order(Backend& b) {
  auto s = b.create_stream();
  std::vector<int> order;
  for (int i = 0; i < 200; ++i) s->host_task([&order, i] { order.push_back(i); });
  s->synchronize();
  ASSERT_EQ(order.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(order[i], i);
}

inline void check_copies_every_kind(Backend& b) {
  const MemoryKind kinds[] = {MemoryKind::kDevice, MemoryKind::kPinnedHost, MemoryKind::kHost};
  const std::size_t n = (1 << 20) + 123;
  std::mt19937 rng(42);
  auto s = b.create_stream();
  for (MemoryKind from : kinds) {
    for (MemoryKind to : kinds) {
      Buffer src_host = b.allocate(MemoryKind::kHost, n);
      for (std::size_t i = 0; i < n; ++i) src_host.as<unsigned char>()[i] = static_cast<unsigned char>(rng());
      Buffer src = b.allocate(from, n), dst = b.allocate(to, n), back = b.allocate(MemoryKind::kHost, n);
      b.fill_async(dst.data(), 0xAB, n, *s);
      b.copy_async(src.data(), src_host.data(), n, *s);
      b.copy_async(dst.data(), src.data(), n, *s);
      b.copy_async(back.data(), dst.data(), n, *s);
      s->synchronize();
      EXPECT_EQ(std::memcmp(back.data(), src_host.data(), n), 0)
          << memory_kind_name(from) << " -> " << memory_kind_name(to);
    }
  }
}

inline void check_event_orders_streams(Backend& b) {
  auto producer = b.create_stream(), consumer = b.create_stream();
  auto ev = b.create_event();
  const std::size_t n = 8 << 20;
  Buffer a = b.allocate(MemoryKind::kPinnedHost, n), dev = b.allocate(MemoryKind::kDevice, n),
         out = b.allocate(MemoryKind::kPinnedHost, n);
  for (int round = 0; round < 5; ++round) {
    std::memset(a.data(), round + 1, n);
    std::memset(out.data(), 0, n);
    producer->host_task([] { std::this_thread::sleep_for(std::chrono::milliseconds(20)); });
    b.copy_async(dev.data(), a.data(), n, *producer);
    ev->record(*producer);
    ev->wait(*consumer);
    b.copy_async(out.data(), dev.data(), n, *consumer);
    consumer->synchronize();
    EXPECT_TRUE(ev->query());
    EXPECT_EQ(out.as<unsigned char>()[0], round + 1);
    EXPECT_EQ(out.as<unsigned char>()[n - 1], round + 1);
  }
}

inline void check_event_timing_and_query(Backend& b) {
  auto s = b.create_stream();
  auto start = b.create_event(), stop = b.create_event();
  EXPECT_TRUE(stop->query());  // never recorded: complete
  stop->synchronize();
  std::atomic<bool> release{false};
  start->record(*s);
  s->host_task([&] {
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  });
  stop->record(*s);
  EXPECT_FALSE(stop->query());
  release = true;
  stop->synchronize();
  EXPECT_TRUE(stop->query());
  EXPECT_GE(stop->elapsed_ms(*start), 25.0);
}

inline void check_errors_travel_with_events(Backend& b) {
  auto s = b.create_stream();
  auto before = b.create_event(), after = b.create_event();
  std::atomic<int> ran{0};
  s->host_task([&] { ++ran; });
  before->record(*s);
  s->host_task([] { throw IoError("disk on fire"); });
  s->host_task([&] { ran += 100; });  // skipped: the stream has failed
  after->record(*s);
  before->synchronize();  // recorded before the failure: no error
  try {
    after->synchronize();
    ADD_FAILURE() << "the error did not reach the event";
  } catch (const IoError& e) {
    EXPECT_STREQ(e.what(), "disk on fire");
  }
  EXPECT_THROW(s->synchronize(), IoError);
  EXPECT_EQ(ran.load(), 1);
  // synchronize() cleared the error: the stream works again.
  s->host_task([&] { ran += 10; });
  s->synchronize();
  EXPECT_EQ(ran.load(), 11);
}

inline void check_streams_overlap(Backend& b) {
  auto s1 = b.create_stream(), s2 = b.create_stream();
  std::atomic<int> inside{0}, max_inside{0};
  auto task = [&] {
    int now = ++inside;
    int prev = max_inside.load();
    while (now > prev && !max_inside.compare_exchange_weak(prev, now)) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    --inside;
  };
  s1->host_task(task);
  s2->host_task(task);
  s1->synchronize();
  s2->synchronize();
  EXPECT_EQ(max_inside.load(), 2) << "independent streams did not run at the same time";
}

inline void check_allocation_errors(Backend& b) {
  EXPECT_THROW(b.allocate(MemoryKind::kDevice, 0), InvalidArgument);
  EXPECT_THROW(b.allocate(MemoryKind::kDevice, std::size_t{1} << 62), OutOfMemory);
}

}  // namespace kvtier::testing
