// Randomized model-based test of the disk store, on both I/O engines: random batches of writes
// (slots chosen by the store, explicit slots, hashes new and already stored), whole-block and
// layer-group reads, reads and writes in flight together, removals, damage to headers and payload
// layers (bytes flipped in the slot files while the store is open) and reopens, against a model of
// what every slot holds on disk and what is published. After every step: entries() equals the
// model, every read returns the exact bytes or the predicted Corruption, and the counters agree. No
// read may ever return wrong bytes. Fixed seeds (KVTIER_MODEL_SEEDS=N runs seeds 1..N); a failure
// names seed and step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "disk_test_util.h"
#include "model_seeds.h"

namespace kvtier::disk_test {
namespace {

constexpr std::uint64_t kSlots = 24, kPerFile = 6;
constexpr int kSteps = 700;
constexpr int kHeader = -2;  // OnDisk::damage: the header; >= 0: that payload layer

// What a slot holds on disk: the last block written there in full, published or not (a removed
// block stays a valid copy until the slot is rewritten, so a reopen finds it again).
struct OnDisk {
  Hash128 hash;
  std::uint32_t tokens = 0;
  int damage = -1;  // -1: intact
};

// What a run exercised: the test also checks that every kind of event happened.
struct Totals {
  std::uint64_t writes = 0, already = 0, full = 0, moved = 0, reads = 0, layer_reads = 0,
                caught = 0, removed_in_flight = 0, reopens = 0, ghosts_found = 0, duplicates = 0,
                dropped_at_open = 0;
};

unsigned long long ull(std::uint64_t v) { return v; }

class DiskStoreModel : public EngineTest {
 protected:
  void run(std::uint64_t seed) {
    TempDir dir;
    dir_ = dir.store();
    rng_.seed(seed);
    disk_.assign(kSlots, std::nullopt);
    published_.clear();
    corruptions_ = 0;
    next_id_ = 0;
    open();
    for (step_ = 0; step_ < kSteps && !HasFailure(); ++step_) {
      const int op = pick(100);
      if (op < 24) {
        write_auto_batch();
      } else if (op < 34) {
        write_explicit();
      } else if (op < 46) {
        read_batch();
      } else if (op < 54) {
        mixed_batch();
      } else if (op < 66) {
        read_layers();
      } else if (op < 84) {
        remove();
      } else if (op < 92) {
        damage();
      } else {
        reopen();
      }
      check_entries();
    }
    store_.reset();
  }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
  std::string where() const { return "step " + std::to_string(step_) + " (" + last_op_ + ")"; }

  // A hash: mostly new ones, sometimes one the store has or had (content-addressed: the same
  // hash always carries the same bytes, fill_block).
  Hash128 some_hash() {
    if (next_id_ > 0 && pick(4) == 0) return block_hash(rng_() % next_id_);
    return block_hash(next_id_++);
  }
  std::uint32_t some_tokens() { return 1 + static_cast<std::uint32_t>(pick(16)); }

  void open() { store_ = DiskStore::open(tiny(), options(dir_, kSlots, kPerFile, GetParam())); }

  std::optional<SlotIndex> slot_of(const Hash128& h) const {
    auto it = published_.find(h);
    return it == published_.end() ? std::nullopt : std::optional<SlotIndex>(it->second);
  }

  // Writes 1-3 blocks at once into slots the store chooses: the lowest free slot each, or
  // OutOfMemory when none is left; a hash already published completes at once, where it is.
  void write_auto_batch() {
    last_op_ = "write batch";
    struct Pending {
      Hash128 hash;
      std::uint32_t tokens;
      std::optional<SlotIndex> want;  // none: OutOfMemory expected
      bool already;
      DiskFuture f;
    };
    std::deque<Aligned> bufs;
    std::vector<Pending> batch;
    std::vector<bool> taken(kSlots);
    for (const auto& [h, s] : published_) taken[s] = true;
    const int n = 1 + pick(3);
    for (int i = 0; i < n; ++i) {
      Pending p{some_hash(), some_tokens(), std::nullopt, false, {}};
      if (auto s = slot_of(p.hash)) {
        p.want = *s;
        p.already = true;
      } else {
        bool duplicate = false;  // the same new hash twice in one batch: skip the second
        for (const Pending& q : batch) duplicate = duplicate || q.hash == p.hash;
        if (duplicate) continue;
        for (SlotIndex s = 0; s < kSlots; ++s) {
          if (!taken[s]) {
            p.want = s;
            taken[s] = true;
            break;
          }
        }
      }
      bufs.emplace_back(store_->slot_bytes());
      fill_block(p.hash, bufs.back().data, bufs.back().bytes);
      p.f = store_->write_async(p.hash, bufs.back().data, p.tokens);
      batch.push_back(p);
    }
    for (Pending& p : batch) p.f.error();  // all done before any check may return early
    for (Pending& p : batch) {
      const std::exception_ptr e = p.f.error();
      if (!p.want) {
        EXPECT_TRUE(e) << where() << ": a write into a full store succeeded";
        if (e) {
          EXPECT_THROW(std::rethrow_exception(e), OutOfMemory) << where();
        }
        ++totals_.full;
        continue;
      }
      ASSERT_FALSE(e) << where() << ": write failed";
      ASSERT_EQ(p.f.slot(), *p.want) << where() << (p.already ? " (already stored)" : "");
      ++(p.already ? totals_.already : totals_.writes);
      if (p.already) continue;
      disk_[*p.want] = OnDisk{p.hash, p.tokens, -1};
      published_[p.hash] = *p.want;
    }
  }

  // One block into a chosen slot: what was published there is replaced; a hash published at
  // another slot moves here (its old copy stays on disk, unpublished).
  void write_explicit() {
    last_op_ = "explicit write";
    const SlotIndex s = static_cast<SlotIndex>(pick(kSlots));
    const Hash128 h = some_hash();
    const std::uint32_t tokens = some_tokens();
    Aligned buf(store_->slot_bytes());
    fill_block(h, buf.data, buf.bytes);
    DiskFuture f = store_->write_async(s, h, buf.data, tokens);
    ASSERT_FALSE(f.error()) << where();
    ASSERT_EQ(f.slot(), s) << where();
    if (slot_of(h) == s) return;  // already there: no I/O
    ++totals_.writes;
    if (slot_of(h)) ++totals_.moved;
    for (auto it = published_.begin(); it != published_.end();) {
      it = it->second == s ? published_.erase(it) : std::next(it);
    }
    disk_[s] = OnDisk{h, tokens, -1};
    published_[h] = s;
  }

  // Reads 1-3 published blocks at once (or refuses an unpublished hash at the call): exact bytes,
  // or Corruption where the model damaged the block (which then disappears).
  void read_batch() {
    last_op_ = "read batch";
    const Hash128 unknown = block_hash(1'000'000 + pick(1000));
    Aligned scratch(store_->slot_bytes());
    EXPECT_THROW(store_->read_async(unknown, scratch.data), InvalidArgument) << where();
    if (published_.empty()) return;
    std::vector<std::pair<Hash128, SlotIndex>> all(published_.begin(), published_.end());
    std::shuffle(all.begin(), all.end(), rng_);
    all.resize(std::min<std::size_t>(all.size(), 1 + pick(3)));
    std::deque<Aligned> bufs;
    std::vector<DiskFuture> fs;
    for (const auto& [h, s] : all) {
      bufs.emplace_back(store_->slot_bytes());
      fs.push_back(store_->read_async(h, bufs.back().data));
    }
    for (const DiskFuture& f : fs) f.error();  // all done before any check may return early
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto [h, s] = all[i];
      expect_read(h, s, fs[i].error(), bufs[i].data, 0, tiny().layers, disk_[s]->damage != -1);
    }
  }

  // Reads and writes in flight together: 1-2 reads of stored blocks, one of them removed while
  // its read is in flight (the read still returns the exact bytes; the slot is freed only when
  // it is done), then 1-2 writes of new blocks. The store may or may not find the removed slot
  // free yet: a write takes the lowest free slot of either view.
  void mixed_batch() {
    last_op_ = "mixed batch";
    // Intact blocks only: a damaged one is dropped and its slot freed when its read completes,
    // which may be before or after the writes below choose their slots.
    std::vector<std::pair<Hash128, SlotIndex>> reads;
    for (const auto& [h, s] : published_)
      if (disk_[s]->damage == -1) reads.emplace_back(h, s);
    if (reads.empty()) return;
    std::shuffle(reads.begin(), reads.end(), rng_);
    reads.resize(std::min<std::size_t>(reads.size(), 1 + pick(2)));
    std::deque<Aligned> bufs;
    std::vector<DiskFuture> rf;
    for (const auto& [h, s] : reads) {
      bufs.emplace_back(store_->slot_bytes());
      rf.push_back(store_->read_async(h, bufs.back().data));
    }
    const bool removed = pick(2) == 0;
    if (removed) {
      EXPECT_TRUE(store_->remove(reads[0].first)) << where();
      published_.erase(reads[0].first);
    }
    std::vector<bool> taken(kSlots);
    for (const auto& [h, s] : published_) taken[s] = true;
    const auto lowest_free = [&](SlotIndex also_taken) -> std::optional<SlotIndex> {
      for (SlotIndex s = 0; s < kSlots; ++s)
        if (!taken[s] && s != also_taken) return s;
      return std::nullopt;
    };
    std::vector<std::pair<Hash128, std::uint32_t>> writes;
    std::vector<DiskFuture> wf;
    for (int i = 1 + pick(2); i > 0; --i) {
      const Hash128 h = block_hash(next_id_++);
      writes.emplace_back(h, some_tokens());
      bufs.emplace_back(store_->slot_bytes());
      fill_block(h, bufs.back().data, bufs.back().bytes);
      wf.push_back(store_->write_async(h, bufs.back().data, writes.back().second));
    }
    for (const DiskFuture& f : rf) f.error();  // all done before any check may return early
    for (const DiskFuture& f : wf) f.error();
    for (std::size_t i = 0; i < reads.size(); ++i) {
      const auto [h, s] = reads[i];
      // Intact, so the exact bytes, also for the block removed while its read was in flight.
      expect_read(h, s, rf[i].error(), bufs[i].data, 0, tiny().layers, false);
      if (i == 0 && removed) ++totals_.removed_in_flight;
    }
    const SlotIndex busy = removed ? reads[0].second : kNoSlot;
    for (std::size_t i = 0; i < writes.size(); ++i) {
      const auto [h, tokens] = writes[i];
      const std::optional<SlotIndex> a = lowest_free(kNoSlot), b = lowest_free(busy);
      const std::exception_ptr e = wf[i].error();
      if (!b && !a) {
        EXPECT_TRUE(e) << where() << ": a write into a full store succeeded";
        ++totals_.full;
        continue;
      }
      if (e && !b) {  // full in the store's view: the removed slot was not free yet
        EXPECT_THROW(std::rethrow_exception(e), OutOfMemory) << where();
        ++totals_.full;
        continue;
      }
      ASSERT_FALSE(e) << where() << ": write failed";
      const SlotIndex got = wf[i].slot();
      ASSERT_TRUE(got == a || got == b) << where() << ": wrote slot " << got;
      taken[got] = true;
      disk_[got] = OnDisk{h, tokens, -1};
      published_[h] = got;
      ++totals_.writes;
    }
  }

  // A group of consecutive layers of a published block: verified against the index's checksums
  // (the header is not read), so only damage within the group is caught.
  void read_layers() {
    last_op_ = "layer read";
    if (published_.empty()) return;
    auto it = published_.begin();
    std::advance(it, pick(static_cast<int>(published_.size())));
    const auto [h, s] = *it;
    const int layers = tiny().layers, first = pick(layers), count = 1 + pick(layers - first);
    Aligned buf(count * tiny().layer_bytes());
    DiskFuture f = store_->read_layers_async(s, h, first, count, buf.data);
    const int d = disk_[s]->damage;
    expect_read(h, s, f.error(), buf.data, first, count, d >= first && d < first + count);
  }

  void expect_read(const Hash128& h, SlotIndex s, std::exception_ptr e, const unsigned char* got,
                   int first, int count, bool damaged) {
    if (damaged) {
      EXPECT_TRUE(e) << where() << ": damaged block " << h.hex() << " at slot " << s
                     << " was served";
      if (e) {
        EXPECT_THROW(std::rethrow_exception(e), Corruption) << where();
      }
      ++corruptions_;
      ++totals_.caught;
      published_.erase(h);
      disk_[s].reset();  // its header is zeroed
      return;
    }
    ASSERT_FALSE(e) << where() << ": read of intact block " << h.hex() << " at slot " << s
                    << " failed";
    Aligned want(store_->slot_bytes());
    fill_block(h, want.data, want.bytes);
    const std::size_t lb = tiny().layer_bytes();
    ASSERT_EQ(std::memcmp(got, want.data + first * lb, count * lb), 0)
        << where() << ": WRONG BYTES served for block " << h.hex() << " at slot " << s;
    ++(count == tiny().layers && first == 0 ? totals_.reads : totals_.layer_reads);
  }

  void remove() {
    last_op_ = "remove";
    Hash128 h = some_hash();
    if (!published_.empty() && pick(10) < 7) {  // mostly a stored block
      auto it = published_.begin();
      std::advance(it, pick(static_cast<int>(published_.size())));
      h = it->first;
    }
    EXPECT_EQ(store_->remove(h), published_.erase(h) == 1) << where();
  }

  // Flips one byte of a slot's header (fields and layer table) or of one payload layer.
  void damage() {
    last_op_ = "damage";
    std::vector<SlotIndex> candidates;
    for (SlotIndex s = 0; s < kSlots; ++s)
      if (disk_[s] && disk_[s]->damage == -1) candidates.push_back(s);
    if (candidates.empty()) return;
    const SlotIndex s = candidates[pick(static_cast<int>(candidates.size()))];
    const Geometry g = tiny();
    const std::uint64_t base = (s % kPerFile) * disk_slot_stride(g);
    int what = kHeader;
    std::uint64_t offset = base + pick(128 + 4 * g.layers);
    if (pick(10) < 7) {
      what = pick(g.layers);
      offset = base + 4096 + what * g.layer_bytes() + pick(static_cast<int>(g.layer_bytes()));
    }
    flip_byte(slot_file(dir_, static_cast<std::uint32_t>(s / kPerFile)), offset);
    disk_[s]->damage = what;
  }

  // Reopening rebuilds the index from the headers in slot order: the first intact-header copy of
  // each hash is published (payloads are not read at open), later copies are duplicates, and
  // damaged headers are dropped (zeroed).
  void reopen() {
    last_op_ = "reopen";
    store_.reset();
    open();
    std::map<Hash128, SlotIndex> expect;
    std::uint64_t dropped = 0, duplicates = 0;
    for (SlotIndex s = 0; s < kSlots; ++s) {
      if (!disk_[s]) continue;
      if (disk_[s]->damage == kHeader) {
        ++dropped;
        disk_[s].reset();
      } else if (!expect.emplace(disk_[s]->hash, s).second) {
        ++duplicates;
      }
    }
    for (const auto& [h, s] : expect) totals_.ghosts_found += slot_of(h) != s;
    ++totals_.reopens;
    totals_.duplicates += duplicates;
    totals_.dropped_at_open += dropped;
    published_ = expect;
    const DiskOpenReport& r = store_->open_report();
    EXPECT_EQ(r.dropped.size(), dropped) << where();
    EXPECT_EQ(r.duplicates, duplicates) << where();
    EXPECT_TRUE(r.missing_files.empty()) << where();
    corruptions_ = 0;  // counters start again
  }

  void check_entries() {
    if (HasFailure()) return;
    std::vector<DiskEntry> want;
    for (const auto& [h, s] : published_) want.push_back({h, s, disk_[s]->tokens});
    std::sort(want.begin(), want.end(),
              [](const DiskEntry& a, const DiskEntry& b) { return a.slot < b.slot; });
    EXPECT_EQ(store_->entries(), want) << where();
    const DiskStats st = store_->stats();
    EXPECT_EQ(st.used_slots, published_.size()) << where();
    EXPECT_EQ(st.corruptions, corruptions_) << where();
    EXPECT_EQ(st.pending_writes, 0u) << where();
  }

  std::filesystem::path dir_;
  std::unique_ptr<DiskStore> store_;
  std::mt19937_64 rng_;
  std::vector<std::optional<OnDisk>> disk_;
  std::map<Hash128, SlotIndex> published_;
  std::uint64_t corruptions_ = 0, next_id_ = 0;
  int step_ = 0;
  const char* last_op_ = "";

 protected:
  Totals totals_;
};

TEST_P(DiskStoreModel, RandomOperationsNeverServeWrongBytes) {
  for (std::uint64_t seed : testing_support::model_seeds(3)) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    run(seed);
    if (HasFailure()) return;
  }
  const Totals& t = totals_;
  std::printf(
      "[disk model] %llu writes (%llu moved a stored hash), %llu already stored, %llu "
      "refused as full, %llu whole and %llu layer reads exact, %llu damaged reads caught, "
      "%llu reads of blocks removed in flight, %llu reopens (%llu blocks found at another slot or "
      "again after removal, %llu "
      "duplicates, %llu damaged headers dropped)\n",
      ull(t.writes), ull(t.moved), ull(t.already), ull(t.full), ull(t.reads), ull(t.layer_reads),
      ull(t.caught), ull(t.removed_in_flight), ull(t.reopens), ull(t.ghosts_found),
      ull(t.duplicates), ull(t.dropped_at_open));
  // The run reached every kind of event the model predicts.
  for (std::uint64_t n :
       {t.writes, t.moved, t.already, t.full, t.reads, t.layer_reads, t.caught, t.removed_in_flight,
        t.reopens, t.ghosts_found, t.duplicates, t.dropped_at_open}) {
    EXPECT_GT(n, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, DiskStoreModel,
                         ::testing::Values(DiskIoMode::kUring, DiskIoMode::kThreads), engine_name);

}  // namespace
}  // namespace kvtier::disk_test
