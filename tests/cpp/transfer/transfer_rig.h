// Test rig of the transfer engine: a GPU and a host slot pool with random contents, an allocator
// per pool (which slots hold blocks), the engine, and a host-side shadow of what every slot must
// hold. Used by the CPU and CUDA tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/core/geometry.h"
#include "kvtier/transfer/pool_view.h"
#include "kvtier/transfer/transfer_engine.h"

namespace kvtier::testing {

using Bytes = std::vector<unsigned char>;

inline Bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
  Bytes b(n);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(&b[i], &v, 8);
  }
  for (; i < n; ++i) b[i] = static_cast<unsigned char>(rng());
  return b;
}

class TransferRig {
 public:
  TransferRig(Backend& b, Geometry g, SlotIndex gpu_slots, SlotIndex host_slots, TransferConfig cfg,
              std::uint64_t seed)
      : b_(b),
        g_(std::move(g)),
        gpu_(b, Tier::kGpu, g_, gpu_slots),
        host_(b, Tier::kHost, g_, host_slots),
        gpu_used_(gpu_slots, Tier::kGpu),
        host_used_(host_slots, Tier::kHost),
        rng_(seed),
        stream_(b.create_stream()) {
    gpu_shadow_.resize(gpu_slots);
    host_shadow_.resize(host_slots);
    for (SlotIndex s = 0; s < gpu_slots; ++s) {
      gpu_shadow_[s] = random_bytes(rng_, g_.slot_bytes());
      b_.copy_async(gpu_.slot_address(s), gpu_shadow_[s].data(), g_.slot_bytes(), *stream_);
    }
    for (SlotIndex s = 0; s < host_slots; ++s) {
      host_shadow_[s] = random_bytes(rng_, g_.slot_bytes());
      std::memcpy(host_.slot_address(s), host_shadow_[s].data(), g_.slot_bytes());
    }
    stream_->synchronize();
    engine_ = std::make_unique<TransferEngine>(b_, g_, view_of(gpu_, gpu_used_),
                                               view_of(host_, host_used_), cfg);
    // Every slot holds a block unless a test frees it.
    gpu_used_.allocate(gpu_slots);
    host_used_.allocate(host_slots);
  }

  Backend& backend() { return b_; }
  const Geometry& g() const { return g_; }
  const SlotPool& gpu() const { return gpu_; }
  // Which host slots hold blocks (what offload() takes slots from).
  SlotAllocator& host_used() { return host_used_; }
  TransferEngine& engine() { return *engine_; }
  std::mt19937_64& rng() { return rng_; }
  Stream& stream() { return *stream_; }
  Bytes& shadow(SlotRef r) {
    return r.tier == Tier::kGpu ? gpu_shadow_[r.slot] : host_shadow_[r.slot];
  }
  const SlotPool& pool(Tier t) const { return t == Tier::kGpu ? gpu_ : host_; }

  // Bytes now in a slot (after all the engine's work is done).
  Bytes read_slot(SlotRef r) {
    Bytes out(g_.slot_bytes());
    b_.copy_async(out.data(), pool(r.tier).slot_address(r.slot), out.size(), *stream_);
    stream_->synchronize();
    return out;
  }
  Bytes read_device(const void* p, std::size_t n) {
    Bytes out(n);
    b_.copy_async(out.data(), p, n, *stream_);
    stream_->synchronize();
    return out;
  }

  // The shadow after a move of `bytes` at `offset` (whole slot: 0 and slot_bytes).
  void apply(const SlotMove& m, std::size_t offset, std::size_t bytes) {
    Bytes& dst = shadow(m.to);
    const Bytes& src = shadow(m.from);
    std::memcpy(dst.data() + offset, src.data() + offset, bytes);
  }

  // Every slot against its shadow; reports the first few mismatches.
  void expect_all_match(const char* what) {
    int bad = 0;
    for (Tier t : {Tier::kGpu, Tier::kHost}) {
      for (SlotIndex s = 0; s < pool(t).slots() && bad < 5; ++s) {
        const Bytes got = read_slot({t, s});
        if (got != shadow({t, s})) {
          ADD_FAILURE() << what << ": " << tier_name(t) << " slot " << s
                        << " differs from what was moved there";
          ++bad;
        }
      }
    }
  }

  // A random batch of n moves in which no slot is written twice or both read and written.
  // kinds: which of h2d, d2h, d2d, h2h to draw from.
  std::vector<SlotMove> random_moves(std::size_t n, bool h2d = true, bool d2h = true,
                                     bool d2d = true, bool h2h = true) {
    std::vector<std::pair<Tier, Tier>> kinds;  // from, to
    if (h2d) kinds.push_back({Tier::kHost, Tier::kGpu});
    if (d2h) kinds.push_back({Tier::kGpu, Tier::kHost});
    if (d2d) kinds.push_back({Tier::kGpu, Tier::kGpu});
    if (h2h) kinds.push_back({Tier::kHost, Tier::kHost});
    std::vector<char> written_gpu(gpu_.slots(), 0), written_host(host_.slots(), 0);
    std::vector<char> read_gpu(gpu_.slots(), 0), read_host(host_.slots(), 0);
    auto w = [&](Tier t) -> std::vector<char>& {
      return t == Tier::kGpu ? written_gpu : written_host;
    };
    auto rd = [&](Tier t) -> std::vector<char>& { return t == Tier::kGpu ? read_gpu : read_host; };
    std::vector<SlotMove> out;
    for (int attempts = 0; out.size() < n && attempts < 100000; ++attempts) {
      auto [from, to] = kinds[rng_() % kinds.size()];
      const SlotIndex fs = static_cast<SlotIndex>(rng_() % pool(from).slots());
      const SlotIndex ts = static_cast<SlotIndex>(rng_() % pool(to).slots());
      if (from == to && fs == ts) continue;
      if (w(from)[fs] || w(to)[ts] || rd(to)[ts]) continue;
      w(to)[ts] = 1;
      rd(from)[fs] = 1;
      out.push_back(SlotMove{SlotMove::Kind::kCopy, out.size(), {from, fs}, {to, ts}, {}, 0});
    }
    return out;
  }

  // n distinct random slots of a tier.
  std::vector<SlotIndex> random_slots(Tier t, std::size_t n) {
    std::vector<SlotIndex> all(pool(t).slots());
    for (SlotIndex s = 0; s < all.size(); ++s) all[s] = s;
    std::shuffle(all.begin(), all.end(), rng_);
    all.resize(std::min(n, all.size()));
    return all;
  }
  // Like random_slots, but often in runs of evenly spaced slots (what 2D copies move), with
  // random slots between the runs; distinct.
  std::vector<SlotIndex> slots_in_runs(Tier t, std::size_t n) {
    const SlotIndex total = pool(t).slots();
    std::vector<bool> used(total, false);
    std::vector<SlotIndex> out;
    while (out.size() < std::min<std::size_t>(n, total)) {
      const SlotIndex start = static_cast<SlotIndex>(rng_() % total);
      const SlotIndex pitch = 1 + static_cast<SlotIndex>(rng_() % 3);
      const std::size_t len = rng_() % 3 == 0 ? 1 : 2 + rng_() % 12;
      for (SlotIndex k = 0, s = start; k < len && s < total && out.size() < n; ++k, s += pitch) {
        if (used[s]) break;
        used[s] = true;
        out.push_back(s);
      }
    }
    return out;
  }

 private:
  Backend& b_;
  Geometry g_;
  SlotPool gpu_, host_;
  SlotAllocator gpu_used_, host_used_;  // outlive the engine, whose views ask them
  std::mt19937_64 rng_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<TransferEngine> engine_;
  std::vector<Bytes> gpu_shadow_, host_shadow_;
};

}  // namespace kvtier::testing
