// What every backend of the transfer engine must do: random block sets moved both ways through
// every path, byte for byte; overlapping batches; the staging ring reused while transfers are in
// flight; errors on the event with nothing corrupted. Used by the CPU and CUDA tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kvtier/core/error.h"
#include "kvtier/transfer/memory_load.h"
#include "kvtier/transfer/staging_ring.h"
#include "transfer/transfer_rig.h"

namespace kvtier::testing {

inline Geometry test_geometry(int block_tokens = 16) {
  Geometry g = preset("tiny");  // 2 layers, 2 kv heads, head_dim 64, bf16: 8 KiB a layer at 16
  g.block_tokens = block_tokens;
  return g;
}

// Several batches of whole-slot and layer moves in flight at once, all four directions mixed; the
// result must be as if they ran one after the other in submission order.
inline void check_random_moves(Backend& b, TransferConfig cfg, std::uint64_t seed, int rounds = 6) {
  TransferRig rig(b, test_geometry(), 48, 96, cfg, seed);
  const Geometry& g = rig.g();
  for (int round = 0; round < rounds; ++round) {
    std::vector<TransferEvent> events;
    for (int batch = 0; batch < 5; ++batch) {
      const std::size_t n = 1 + rig.rng()() % 24;
      auto moves = rig.random_moves(n);
      const int layer = static_cast<int>(rig.rng()() % (g.layers + 1)) - 1;  // -1: whole slots
      if (layer < 0) {
        events.push_back(rig.engine().submit(moves));
        for (const auto& m : moves) rig.apply(m, 0, g.slot_bytes());
      } else {
        events.push_back(rig.engine().submit_layer(layer, moves));
        for (const auto& m : moves) rig.apply(m, layer * g.layer_bytes(), g.layer_bytes());
      }
      ASSERT_FALSE(events.back().rejected());
    }
    for (auto& e : events) e.synchronize();
    rig.expect_all_match("random moves");
  }
}

// Gathers of random host slots' layer slices into device buffers and scatters from device buffers
// into host slots, interleaved without waiting (the engine orders them through the slots).
inline void check_gather_scatter(Backend& b, TransferConfig cfg, std::uint64_t seed) {
  TransferRig rig(b, test_geometry(), 8, 128, cfg, seed);
  const Geometry& g = rig.g();
  const std::size_t lb = g.layer_bytes();
  constexpr int kRounds = 8;
  std::vector<Buffer> gathered, sources;
  std::vector<Bytes> expected;
  std::vector<TransferEvent> events;
  std::vector<std::size_t> offsets;
  for (int r = 0; r < kRounds; ++r) {
    const int layer = static_cast<int>(rig.rng()() % g.layers);
    // Gather (every other round into a destination 4 bytes off 16-byte alignment; every other
    // pair of rounds from runs of evenly spaced slots).
    auto slots = (r / 2) % 2 ? rig.slots_in_runs(Tier::kHost, 1 + rig.rng()() % 40)
                             : rig.random_slots(Tier::kHost, 1 + rig.rng()() % 40);
    const std::size_t off = (r % 2) ? 4 : 0;
    gathered.push_back(b.allocate(MemoryKind::kDevice, slots.size() * lb + off));
    offsets.push_back(off);
    Bytes exp(slots.size() * lb);
    for (std::size_t i = 0; i < slots.size(); ++i) {
      std::memcpy(exp.data() + i * lb, rig.shadow({Tier::kHost, slots[i]}).data() + layer * lb, lb);
    }
    expected.push_back(std::move(exp));
    events.push_back(rig.engine().gather_layer(layer, slots, gathered.back().as<std::byte>() + off,
                                               slots.size() * lb));
    // Scatter into random host slots, some of them just gathered from (write after read).
    auto targets = r % 3 ? rig.slots_in_runs(Tier::kHost, 1 + rig.rng()() % 40)
                         : rig.random_slots(Tier::kHost, 1 + rig.rng()() % 40);
    const Bytes src = random_bytes(rig.rng(), targets.size() * lb);
    sources.push_back(b.allocate(MemoryKind::kDevice, src.size()));
    b.copy_async(sources.back().data(), src.data(), src.size(), rig.engine().d2h_stream());
    events.push_back(rig.engine().scatter_layer(layer, sources.back().data(), src.size(), targets));
    rig.engine().d2h_stream().synchronize();  // `src` (pageable) must stay valid until copied
    for (std::size_t i = 0; i < targets.size(); ++i) {
      std::memcpy(rig.shadow({Tier::kHost, targets[i]}).data() + layer * lb, src.data() + i * lb,
                  lb);
    }
  }
  for (auto& e : events) {
    ASSERT_FALSE(e.rejected());
    e.synchronize();
  }
  for (int r = 0; r < kRounds; ++r) {
    const Bytes got = rig.read_device(gathered[r].as<std::byte>() + offsets[r], expected[r].size());
    EXPECT_TRUE(got == expected[r]) << "gather " << r << " (offset " << offsets[r] << ") differs";
  }
  rig.expect_all_match("gather/scatter");
}

// A depth-2 staging ring streamed over many layers while a slow consumer reads each buffer on a
// compute stream and scatters overwrite the source slots behind the gathers.
inline void check_staging_ring(Backend& b, TransferConfig cfg, std::uint64_t seed) {
  TransferRig rig(b, test_geometry(), 8, 96, cfg, seed);
  const Geometry& g = rig.g();
  const std::size_t lb = g.layer_bytes(), max_blocks = 24;
  StagingRing ring(b, g, max_blocks, 2);
  EXPECT_EQ(ring.buffer_bytes(), max_blocks * lb);
  auto compute = b.create_stream();
  MemoryLoad load(b, std::size_t{4} << 20);  // keeps the compute stream busy before each read
  constexpr int kSteps = 16;
  std::vector<Buffer> results;
  std::vector<Bytes> expected;
  std::vector<TransferEvent> events;
  for (int step = 0; step < kSteps; ++step) {
    const int layer = step % g.layers;
    auto slots = step % 2 ? rig.slots_in_runs(Tier::kHost, 1 + rig.rng()() % max_blocks)
                          : rig.random_slots(Tier::kHost, 1 + rig.rng()() % max_blocks);
    Bytes exp(slots.size() * lb);
    for (std::size_t i = 0; i < slots.size(); ++i) {
      std::memcpy(exp.data() + i * lb, rig.shadow({Tier::kHost, slots[i]}).data() + layer * lb, lb);
    }
    auto staged = rig.engine().stage_layer(ring, layer, slots);
    ASSERT_FALSE(staged.event.rejected());
    ring.wait_full(staged.buffer, *compute);
    load.enqueue(*compute, 2);
    results.push_back(b.allocate(MemoryKind::kDevice, exp.size()));
    b.copy_async(results.back().data(), ring.data(staged.buffer), exp.size(), *compute);
    ring.release(staged.buffer, *compute);
    expected.push_back(std::move(exp));
    events.push_back(staged.event);
    // Overwrite some of the slots just gathered from: must wait for the gather.
    std::vector<SlotMove> moves;
    for (std::size_t i = 0; i < slots.size() && i < 4; ++i) {
      const SlotIndex from = static_cast<SlotIndex>(rig.rng()() % rig.gpu().slots());
      moves.push_back(
          SlotMove{SlotMove::Kind::kCopy, i, {Tier::kGpu, from}, {Tier::kHost, slots[i]}, {}, 0});
    }
    events.push_back(rig.engine().submit_layer(layer, moves));
    for (const auto& m : moves) rig.apply(m, layer * lb, lb);
  }
  compute->synchronize();
  for (auto& e : events) e.synchronize();
  for (int step = 0; step < kSteps; ++step) {
    const Bytes got = rig.read_device(results[step].data(), expected[step].size());
    EXPECT_TRUE(got == expected[step]) << "staged layer of step " << step << " differs";
  }
  rig.expect_all_match("staging ring");
  // Misuse: acquiring more buffers than the ring has, without releasing, is an error.
  auto copy = b.create_stream();
  ring.acquire(*copy);
  ring.acquire(*copy);
  EXPECT_THROW(ring.acquire(*copy), InvalidArgument);
  // After a step that failed part way (buffers acquired, a gather in flight, nothing released):
  // reset() waits for the gather and frees every buffer, buffer 0 first.
  ring.reset();
  auto slots = rig.random_slots(Tier::kHost, max_blocks);
  const int layer = 1;
  auto staged = rig.engine().stage_layer(ring, layer, slots);
  ASSERT_FALSE(staged.event.rejected());
  EXPECT_EQ(staged.buffer, 0);
  ring.reset();
  EXPECT_TRUE(staged.event.query()) << "reset() returned before the gather into the ring ended";
  Bytes exp(slots.size() * lb);
  for (std::size_t i = 0; i < slots.size(); ++i)
    std::memcpy(exp.data() + i * lb, rig.shadow({Tier::kHost, slots[i]}).data() + layer * lb, lb);
  EXPECT_TRUE(rig.read_device(ring.data(0), exp.size()) == exp);
  EXPECT_EQ(ring.acquire(*copy), 0);
}

template <typename E>
void expect_rejected(const TransferEvent& e, const std::string& needle) {
  EXPECT_TRUE(e.rejected());
  EXPECT_TRUE(e.query());
  try {
    e.synchronize();
    ADD_FAILURE() << "no error on the event (expected one mentioning '" << needle << "')";
  } catch (const E& err) {
    EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
  }
}

// Bad batches are rejected whole, with a clear error on their event; nothing moves; the engine
// keeps working.
inline void check_errors(Backend& b, TransferConfig cfg) {
  TransferRig rig(b, test_geometry(), 8, 16, cfg, 7);
  auto& e = rig.engine();
  const SlotMove good{SlotMove::Kind::kMove, 1, {Tier::kHost, 3}, {Tier::kGpu, 2}, {}, 0};
  auto with = [&](SlotMove bad) { return std::vector<SlotMove>{good, bad}; };
  expect_rejected<InvalidArgument>(
      e.submit(with({SlotMove::Kind::kMove, 2, {Tier::kHost, 16}, {Tier::kGpu, 3}, {}, 0})),
      "out of range");
  expect_rejected<InvalidArgument>(
      e.submit(with({SlotMove::Kind::kMove, 2, {Tier::kDisk, 0}, {Tier::kGpu, 3}, {}, 0})), "disk");
  expect_rejected<InvalidArgument>(
      e.submit(with({SlotMove::Kind::kMove, 2, {Tier::kHost, 4}, {Tier::kGpu, 2}, {}, 0})),
      "written twice");
  expect_rejected<InvalidArgument>(
      e.submit(with({SlotMove::Kind::kMove, 2, {Tier::kGpu, 2}, {Tier::kHost, 5}, {}, 0})),
      "both read and written");
  expect_rejected<InvalidArgument>(e.submit_layer(rig.g().layers, with(good)), "layer");
  rig.host_used().free(9);
  expect_rejected<InvalidArgument>(
      e.submit(with({SlotMove::Kind::kMove, 2, {Tier::kHost, 9}, {Tier::kGpu, 3}, {}, 0})), "not owned");
  Buffer small = b.allocate(MemoryKind::kDevice, rig.g().layer_bytes());
  const std::vector<SlotIndex> two{1, 2};
  expect_rejected<InvalidArgument>(e.gather_layer(0, two, small.data(), small.bytes()), "need");
  // Exhausted pool: 1 slot free (9), 2 asked for.
  const std::vector<SlotIndex> gpu_slots{0, 1};
  auto off = e.offload(gpu_slots, rig.host_used());
  expect_rejected<OutOfMemory>(off.event, "exhausted");
  EXPECT_TRUE(off.host_slots.empty());
  EXPECT_EQ(rig.host_used().available(), 1u);
  rig.expect_all_match("after rejected batches");  // nothing moved
  // The engine still works: an offload that fits, and a good batch.
  const std::vector<SlotIndex> one{5};
  auto ok = e.offload(one, rig.host_used());
  ok.event.synchronize();
  ASSERT_EQ(ok.host_slots.size(), 1u);
  EXPECT_EQ(ok.host_slots[0], 9u);
  rig.apply({SlotMove::Kind::kMove, 0, {Tier::kGpu, 5}, {Tier::kHost, 9}, {}, 0}, 0, rig.g().slot_bytes());
  const std::vector<SlotMove> fine{good};
  e.submit(fine).synchronize();
  rig.apply(good, 0, rig.g().slot_bytes());
  rig.expect_all_match("after errors");
}

}  // namespace kvtier::testing
