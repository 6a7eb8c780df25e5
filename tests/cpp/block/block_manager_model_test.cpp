// Randomized model-based test of the BlockManager: random operations (create, create from a
// prompt with prefix reuse, append, fork, free, budget changes, promote, restart over the disk
// catalog, bad input) against ReferenceModel, with every invariant checked after every step by
// ModelChecker. Fixed seeds; a failure prints the seed and the step.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "block_model_checker.h"
#include "kvtier/core/error.h"
#include "model_seeds.h"

namespace kvtier::testing {
namespace {

struct ModelConfig {
  const char* name;
  std::array<SlotIndex, kNumTiers> capacity;
  std::uint32_t sink, window;
  bool disk_index;
};

struct RunTotals {
  std::uint64_t ops = 0, oom = 0, bad_input = 0, restarts = 0, reused_blocks = 0;
  std::uint64_t moves = 0, copies = 0, looked_up = 0;  // over all managers of the run
  double max_fragmentation = 0, mean_fragmentation = 0;
  std::uint64_t stuck_steps = 0;
};

class ModelRun {
 public:
  ModelRun(const ModelConfig& cfg, std::uint64_t seed) : cfg_(cfg), rng_(seed) {
    geometry_ = preset("tiny");
    geometry_.block_tokens = 4;
    ref_.block_tokens = geometry_.block_tokens;
    ref_.root = geometry_.fingerprint();
    for (int t = 0; t < kNumTiers; ++t) budget_[t] = cfg.capacity[t];
    for (int d = 0; d < 3; ++d) {
      std::vector<TokenId> doc(40);
      for (auto& tok : doc) tok = static_cast<TokenId>(rng_() % 50);
      docs_.push_back(doc);
    }
    start();
    checker_ = std::make_unique<ModelChecker>(*m_, ref_, cfg.disk_index ? &disk_ : nullptr);
  }

  RunTotals run(int ops) {
    RunTotals tot;
    for (int i = 0; i < ops; ++i) {
      step(tot);
      if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) {
        ADD_FAILURE() << "config " << cfg_.name << ": failed at step " << i << " (op " << last_op_
                      << ")";
        return tot;
      }
    }
    tot.ops = ops;
    tot.max_fragmentation = checker_->max_fragmentation;
    tot.mean_fragmentation = checker_->fragmentation_sum / checker_->steps;
    tot.stuck_steps = checker_->stuck_steps;
    return tot;
  }

 private:
  void start() {
    BlockManagerConfig c;
    c.geometry = geometry_;
    c.capacity = cfg_.capacity;
    c.budget = budget_;
    c.sink_blocks = cfg_.sink;
    c.window_blocks = cfg_.window;
    m_ = std::make_unique<BlockManager>(c, nullptr, cfg_.disk_index ? &disk_ : nullptr);
  }
  std::uint64_t pick(std::uint64_t n) { return rng_() % n; }
  SeqId any_live() {
    auto it = ref_.seqs.begin();
    std::advance(it, pick(ref_.seqs.size()));
    return it->first;
  }
  std::uint64_t total_budget() const {
    std::uint64_t s = 0;
    for (int t = 0; t < kNumTiers; ++t) s += m_->tier_present(Tier(t)) ? budget_[t] : 0;
    return s;
  }
  std::vector<TokenId> random_tokens(std::size_t n) {
    std::vector<TokenId> v(n);
    for (auto& t : v) t = static_cast<TokenId>(pick(50));
    return v;
  }

  // Runs `op`; checks that it throws OutOfMemory exactly when `fits` is false, and that a failed
  // operation changes nothing.
  template <typename Op>
  bool run_op(bool fits, RunTotals& tot, Op op) {
    try {
      op();
    } catch (const OutOfMemory& e) {
      EXPECT_FALSE(fits) << "OutOfMemory although the blocks fit: " << e.what();
      EXPECT_TRUE(m_->take_plan().empty()) << "a failed operation planned moves";
      ++tot.oom;
      return false;
    }
    EXPECT_TRUE(fits) << "no OutOfMemory although live blocks exceed the budgets";
    return true;
  }

  void step(RunTotals& tot) {
    const int bt = geometry_.block_tokens;
    const std::uint64_t room = total_budget();
    const std::int64_t in_use = static_cast<std::int64_t>(m_->stats().live_blocks);
    const bool crowded = in_use * 10 > static_cast<std::int64_t>(room * 7);
    const std::uint64_t r = pick(1000);
    BlockId copy_source = 0, copy_dest = 0;
    if (ref_.seqs.empty() || (r < 250 && !crowded) || r < 120) {
      // Create: empty, a prefix of a document or of a live sequence, plus random tokens.
      last_op_ = "create";
      std::vector<TokenId> prompt;
      const std::uint64_t kind = pick(10);
      if (kind >= 2 && kind < 7) {
        const auto& doc = docs_[pick(docs_.size())];
        prompt.assign(doc.begin(), doc.begin() + pick(doc.size() + 1));
      } else if (kind >= 7 && !ref_.seqs.empty()) {
        const auto& toks = ref_.seqs[any_live()];
        prompt.assign(toks.begin(), toks.begin() + pick(toks.size() + 1));
      }
      const auto extra = random_tokens(pick(7));
      prompt.insert(prompt.end(), extra.begin(), extra.end());
      // Expected reuse: the leading full blocks the cache holds (live ones always).
      const auto hashes = ref_.full_hashes(prompt);
      const auto live = checker_->live_full_hashes();
      std::size_t expect = 0, at_least = 0;
      std::int64_t revived = 0;
      for (const Hash128& h : hashes) {
        const auto id = m_->find_cached(h);
        if (!id) break;
        ++expect;
        revived += m_->block_info(*id).refs == 0;
      }
      while (at_least < hashes.size() && live.contains(hashes[at_least])) ++at_least;
      ASSERT_GE(expect, at_least) << "a live block's prefix is missing from the cache";
      const std::int64_t need = in_use + revived + ref_.blocks_of(prompt.size()) - expect;
      BlockManager::Created c;
      if (run_op(need <= std::int64_t(room), tot, [&] { c = m_->create(prompt); })) {
        ASSERT_EQ(c.reused_tokens, expect * bt);
        tot.reused_blocks += expect;
        tot.looked_up += hashes.size();
        ref_.seqs[c.seq] = prompt;
      }
    } else if (r < 600) {
      last_op_ = "append";
      const SeqId s = any_live();
      const auto toks = random_tokens(pick(4) == 0 ? 1 + pick(2 * bt) : 1);
      auto& ref = ref_.seqs[s];
      const std::int64_t need =
          in_use + ref_.blocks_of(ref.size() + toks.size()) - ref_.blocks_of(ref.size());
      if (run_op(need <= std::int64_t(room), tot, [&] { m_->append(s, toks); })) {
        ref.insert(ref.end(), toks.begin(), toks.end());
      }
    } else if (r < 680) {
      last_op_ = "fork";
      const SeqId s = any_live();
      const auto& toks = ref_.seqs[s];
      const bool partial = toks.size() % bt != 0;
      if (partial) copy_source = m_->block_table(s).blocks.back().block;
      SeqId child = 0;
      if (run_op(in_use + partial <= std::int64_t(room), tot, [&] { child = m_->fork(s); })) {
        ref_.seqs[child] = ref_.seqs[s];
        if (partial) copy_dest = m_->block_table(child).blocks.back().block;
      } else {
        copy_source = 0;
      }
    } else if (r < 900) {
      last_op_ = "free";
      const SeqId s = any_live();
      m_->free(s);
      ref_.seqs.erase(s);
      freed_.push_back(s);
    } else if (r < 960) {
      last_op_ = "set_budget";
      const Tier t = static_cast<Tier>(pick(kNumTiers));
      if (!m_->tier_present(t)) return;
      const SlotIndex cap = cfg_.capacity[static_cast<int>(t)];
      const SlotIndex lo = t == Tier::kGpu ? cfg_.sink + cfg_.window : 1;
      const SlotIndex b = lo + static_cast<SlotIndex>(pick(cap - lo + 1));
      const std::uint64_t new_room = room - budget_[static_cast<int>(t)] + b;
      if (run_op(in_use <= std::int64_t(new_room), tot, [&] { m_->set_budget(t, b); })) {
        budget_[static_cast<int>(t)] = b;
      }
    } else if (r < 985) {
      last_op_ = "promote";
      m_->promote(any_live());
    } else if (r < 988 && cfg_.disk_index) {
      // Restart: every sequence and every GPU/host block is gone; the disk catalog remains.
      last_op_ = "restart";
      checker_->check_all();  // records the hashes of what is on disk now
      m_.reset();
      ref_.seqs.clear();
      freed_.clear();  // ids of the old manager mean nothing to the new one
      start();
      checker_->restart(*m_);
      ++tot.restarts;
    } else {
      last_op_ = "bad input";
      bad_input();
      ++tot.bad_input;
      return;
    }
    if (::testing::Test::HasFailure()) return;
    const std::vector<SlotMove> plan = m_->take_plan();
    for (const SlotMove& mv : plan) ++(mv.kind == SlotMove::Kind::kMove ? tot.moves : tot.copies);
    checker_->apply(plan, copy_source, copy_dest);
    if (::testing::Test::HasFailure()) return;
    checker_->check_all();
  }

  // Bad input is rejected with InvalidArgument naming the value, and changes nothing.
  void bad_input() {
    auto expect_invalid = [&](auto op, const std::string& needle) {
      try {
        op();
        ADD_FAILURE() << "accepted bad input (" << needle << ")";
      } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("expected"), std::string::npos) << e.what();
      }
    };
    const std::vector<TokenId> one{1};
    if (!freed_.empty()) {
      const SeqId s = freed_[pick(freed_.size())];
      expect_invalid([&] { m_->append(s, one); }, "sequence " + std::to_string(s) + " was freed");
      expect_invalid([&] { m_->fork(s); }, "was freed");
      expect_invalid([&] { m_->free(s); }, "was freed");
    }
    expect_invalid([&] { m_->append(1u << 30, one); }, "unknown sequence");
    expect_invalid([&] { m_->set_budget(Tier::kGpu, 0); }, "budget 0");
    if (cfg_.sink + cfg_.window > 1) {
      expect_invalid([&] { m_->set_budget(Tier::kGpu, cfg_.sink + cfg_.window - 1); },
                     "sink_blocks + window_blocks");
    }
    if (m_->tier_present(Tier::kHost)) {
      expect_invalid([&] { m_->set_budget(Tier::kHost, cfg_.capacity[1] + 1); },
                     "budget " + std::to_string(cfg_.capacity[1] + 1));
    } else {
      expect_invalid([&] { m_->set_budget(Tier::kHost, 1); }, "tier host is absent");
    }
    EXPECT_TRUE(m_->take_plan().empty());
    checker_->check_all();
  }

  ModelConfig cfg_;
  std::mt19937_64 rng_;
  Geometry geometry_;
  std::array<SlotIndex, kNumTiers> budget_{};
  InMemoryDiskIndexForTests disk_;
  std::unique_ptr<BlockManager> m_;
  ReferenceModel ref_;
  std::unique_ptr<ModelChecker> checker_;
  std::vector<std::vector<TokenId>> docs_;
  std::vector<SeqId> freed_;
  const char* last_op_ = "";
};

unsigned long long ull(std::uint64_t v) { return v; }

constexpr ModelConfig kConfigs[] = {
    {"gpu+host+disk, catalog", {6, 10, 16}, 1, 2, true},
    {"gpu+host+disk, roomy", {8, 16, 32}, 1, 2, true},
    {"gpu+host", {6, 12, 0}, 1, 1, false},
    {"gpu only", {10, 0, 0}, 2, 2, false},
    {"gpu+disk, no sink", {6, 0, 20}, 0, 1, true},
};
constexpr int kOpsPerRun = 6000;  // 5 configs x 4 seeds x 6000 = 120,000 operations

TEST(BlockManagerModel, RandomOperationsKeepEveryInvariant) {
  RunTotals sum;
  const auto t0 = std::chrono::steady_clock::now();
  for (const ModelConfig& cfg : kConfigs) {
    for (std::uint64_t seed : testing_support::model_seeds(4)) {
      SCOPED_TRACE(std::string("config '") + cfg.name + "', seed " + std::to_string(seed));
      ModelRun run(cfg, seed);
      const RunTotals t = run.run(kOpsPerRun);
      if (HasFailure()) return;
      std::printf(
          "[model] %-24s seed %llu: %llu ops, %llu OOM, %llu restarts, %llu of %llu "
          "prompt blocks reused, %llu moves, %llu copies, fragmentation max %.3f mean "
          "%.3f, %llu steps with sink/window off the GPU for lack of room\n",
          cfg.name, ull(seed), ull(t.ops), ull(t.oom), ull(t.restarts), ull(t.reused_blocks),
          ull(t.looked_up), ull(t.moves), ull(t.copies), t.max_fragmentation, t.mean_fragmentation,
          ull(t.stuck_steps));
      sum.ops += t.ops;
      sum.oom += t.oom;
      sum.reused_blocks += t.reused_blocks;
      sum.restarts += t.restarts;
      sum.max_fragmentation = std::max(sum.max_fragmentation, t.max_fragmentation);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "[model] total %llu ops in %.1f s; %llu OOM, %llu reused blocks, %llu restarts, "
      "max fragmentation %.3f\n",
      ull(sum.ops), secs, ull(sum.oom), ull(sum.reused_blocks), ull(sum.restarts),
      sum.max_fragmentation);
  EXPECT_GE(sum.ops, 100000u);
  EXPECT_GT(sum.reused_blocks, 1000u) << "prefix reuse was hardly exercised";
  EXPECT_GT(sum.oom, 0u) << "out-of-memory paths were not exercised";
}

}  // namespace
}  // namespace kvtier::testing
