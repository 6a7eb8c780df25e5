// kvtier-bench disk: the raw O_DIRECT write/read ceiling of a directory's device, then slot
// write-back, verified slot reads and verified layer-group reads (as a layer-major decode step
// reads disk blocks) through the disk store, each as a ratio to the ceiling.
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>
#include <vector>

#include "commands.h"
#include "common.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"
#include "kvtier/transfer/disk_ceiling.h"
#include "kvtier/transfer/disk_store.h"

namespace kvtier::bench {
namespace {
namespace fs = std::filesystem;

struct DiskOptions {
  CommonOptions common;
  std::string dir = "/tmp/kvtier-disk-bench";
  std::string budget = "4GiB";
  std::string file_size = "1GiB";
  std::string ceiling_block = "16MiB";
  std::string io = "auto";
  int queue_depth = 0;  // 0: the store's automatic depth
  int cpu_threads = 0;
  std::string group_commit = "256MiB";
  int group_commit_ms = 50;
  int repeat = 4;
  int read_layers = 0;  // layers a layer-group read asks for; 0: >= 512 KiB a request
  bool keep = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string gbps(double bytes_per_s) { return fixed(bytes_per_s / 1e9, 3) + " GB/s"; }

// Free bytes of the filesystem holding dir.
std::uint64_t free_bytes(const fs::path& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) {
    throw IoError("statvfs of '" + dir.string() + "' failed: " + std::strerror(errno));
  }
  return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
}

struct Phase {
  double seconds = 0;
  double bytes_per_s = 0;
};

// Runs submit(hash of block base + i, ring buffer) for blocks i in [0, n), keeping at most
// `ring_slots` in flight (each buffer reused once its operation is done).
template <class Submit>
Phase pump(DiskStore& store, std::uint64_t base, std::uint64_t n, unsigned char* ring, std::size_t ring_slots,
           Submit submit) {
  const std::size_t bytes = store.slot_bytes();
  std::deque<DiskFuture> window;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (window.size() == ring_slots) {
      window.front().wait();
      window.pop_front();
    }
    const std::uint64_t id = base + i;
    window.push_back(submit(hash128(&id, sizeof id), ring + (i % ring_slots) * bytes));
  }
  for (auto& f : window) f.wait();
  Phase p;
  p.seconds = seconds_since(t0);
  p.bytes_per_s = static_cast<double>(n * bytes) / p.seconds;
  return p;
}

// Writes every slot of the store (blocks 0..n-1), `ring` payload buffers rotating.
Phase write_all(DiskStore& store, std::uint64_t base, std::uint64_t n, unsigned char* ring,
                std::size_t ring_slots) {
  const auto tokens = static_cast<std::uint32_t>(store.geometry().block_tokens);
  return pump(store, base, n, ring, ring_slots,
              [&](const Hash128& h, unsigned char* buf) { return store.write_async(h, buf, tokens); });
}

// Reads every block back (verified by the store) into the rotating ring.
Phase read_all(DiskStore& store, std::uint64_t base, std::uint64_t n, unsigned char* ring,
               std::size_t ring_slots) {
  return pump(store, base, n, ring, ring_slots,
              [&](const Hash128& h, unsigned char* buf) { return store.read_async(h, buf); });
}

// Reads every block in groups of `group` consecutive layers (the last group of a block may be
// shorter), at most `depth` requests in flight, each verified by the store. Group j of block i
// lands where the whole-slot pass puts those bytes, so the ring can be compared the same way.
Phase read_layers_all(DiskStore& store, std::uint64_t base, std::uint64_t n, unsigned char* ring,
                      std::size_t ring_slots, int group, int depth) {
  const std::size_t bytes = store.slot_bytes();
  const std::size_t layer_bytes = store.geometry().layer_bytes();
  const int layers = store.geometry().layers;
  std::vector<DiskEntry> blocks;  // looked up before the clock starts
  blocks.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t id = base + i;
    const auto e = store.find(hash128(&id, sizeof id));
    if (!e) {
      throw InternalError("kvtier-bench disk: block " + std::to_string(i) + " is not on disk");
    }
    blocks.push_back(*e);
  }
  std::deque<DiskFuture> window;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    unsigned char* slot = ring + (i % ring_slots) * bytes;
    for (int first = 0; first < layers; first += group) {
      if (window.size() == static_cast<std::size_t>(depth)) {
        window.front().wait();
        window.pop_front();
      }
      const int count = std::min(group, layers - first);
      window.push_back(store.read_layers_async(blocks[i].slot, blocks[i].hash, first, count,
                                               slot + first * layer_bytes));
    }
  }
  for (auto& f : window) f.wait();
  Phase p;
  p.seconds = seconds_since(t0);
  p.bytes_per_s = static_cast<double>(n * bytes) / p.seconds;
  return p;
}

// The default layer group: the fewest layers whose bytes reach 512 KiB (a request large enough
// for the device), at most all of them.
int default_read_layers(const Geometry& g) {
  constexpr std::uint64_t kTarget = 512ull << 10;
  const std::uint64_t n = (kTarget + g.layer_bytes() - 1) / g.layer_bytes();
  return static_cast<int>(std::min<std::uint64_t>(n, static_cast<std::uint64_t>(g.layers)));
}

struct Setup {
  Geometry g;
  std::uint64_t budget = 0, file_bytes = 0, block = 0;
  DiskIoMode io = DiskIoMode::kAuto;
  int queue_depth = 0;  // resolved: the store's and every raw pass's
  int read_layers = 0;
};

Setup check_options(const DiskOptions& o) {
  Setup s;
  s.g = resolve_geometry(o.common);
  s.budget = parse_size(o.budget);
  s.file_bytes = parse_size(o.file_size);
  s.block = parse_size(o.ceiling_block);
  s.io = parse_disk_io_mode(o.io);
  if (o.queue_depth < 0 || o.queue_depth > 1024) {
    throw InvalidArgument("--queue-depth " + std::to_string(o.queue_depth) +
                          "; expected 1..1024, or 0 for the store's automatic depth");
  }
  s.queue_depth = disk_queue_depth(s.g, o.queue_depth);
  if (o.repeat < 1 || o.repeat > 100) {
    throw InvalidArgument("--repeat " + std::to_string(o.repeat) + "; expected 1..100");
  }
  if (o.read_layers < 0 || o.read_layers > s.g.layers) {
    throw InvalidArgument("--read-layers " + std::to_string(o.read_layers) + "; expected 1.." +
                          std::to_string(s.g.layers) + " (the geometry's layers), or 0 for the " +
                          "default (requests of at least 512 KiB)");
  }
  s.read_layers = o.read_layers > 0 ? o.read_layers : default_read_layers(s.g);
  if (s.block % 4096 != 0 || s.block > (1ull << 30)) {
    throw InvalidArgument("--ceiling-block " + o.ceiling_block +
                          "; expected a multiple of 4 KiB up to 1 GiB");
  }
  if (s.budget < 16 * s.block) {
    throw InvalidArgument("--disk-budget " + format_size(s.budget) + " is too small to measure; " +
                          "expected at least 16 ceiling blocks (" + format_size(16 * s.block) +
                          ")");
  }
  return s;
}

double best(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Ratios paired by round: the store's figure of round i over the best raw figure of round i
// (passes seconds apart, so the device's swings between rounds cancel), for rounds [from, end).
// The best-of-rounds ratio compares the best of the store's rounds with the best of twice as
// many raw passes (two request sizes), a maximum of more noisy draws.
std::vector<double> paired(const std::vector<double>& store,
                           const std::vector<std::vector<double>>& raw, std::size_t from) {
  std::vector<double> r;
  for (std::size_t i = from; i < store.size(); ++i) {
    double ceiling = 0;
    for (const auto& v : raw) ceiling = std::max(ceiling, v[i]);
    r.push_back(store[i] / ceiling);
  }
  return r;
}
// Throughput of rounds [from, end) taken together: their bytes over their summed time (every pass
// of a kind moves the same bytes, so the harmonic mean of the per-round figures).
double aggregate(const std::vector<double>& v, std::size_t from) {
  double inv = 0;
  for (std::size_t i = from; i < v.size(); ++i) inv += 1 / v[i];
  return static_cast<double>(v.size() - from) / inv;
}
// The store's aggregate over the steady rounds against the raw aggregate of the request size that
// did best in them: one pass of each a round, interleaved, so a device that swings between rounds
// weighs on both alike and neither side gets more draws. The figure the 0.90 bar is judged by.
double aggregate_ratio(const std::vector<double>& store,
                       const std::vector<std::vector<double>>& raw, std::size_t from) {
  double ceiling = 0;
  for (const auto& v : raw) ceiling = std::max(ceiling, aggregate(v, from));
  return aggregate(store, from) / ceiling;
}
std::string spread(const std::vector<double>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fixed(*lo / 1e9, 3) + " - " + fixed(*hi / 1e9, 3);
}

int run_disk(const DiskOptions& o) {
  const Setup su = check_options(o);
  const Geometry& g = su.g;
  const fs::path dir = o.dir;
  const bool existed = fs::exists(dir);
  prepare_disk_directory(dir);
  // The run fills the directory and empties it afterwards: it must hold nothing of value.
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("kvtier-ceiling-", 0) == 0) continue;  // old scratch
    throw InvalidArgument("--dir " + dir.string() + " is not empty (it holds '" +
                          e.path().filename().string() +
                          "'); expected an empty or new directory, which the benchmark fills "
                          "and empties again");
  }
  // From here on the directory holds only what this run writes: emptied (and removed when this
  // run created it) however the run ends, unless --keep.
  const auto clear_dir = [&] {
    for (const auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
  };
  struct Cleanup {
    std::function<void()> fn;
    ~Cleanup() {
      try {
        fn();
      } catch (const std::exception& e) {
        std::cerr << "kvtier-bench disk: cleanup failed: " << e.what() << "\n";
      }
    }
  } cleanup{[&] {
    if (o.keep) return;
    clear_dir();
    if (!existed) fs::remove(dir);
  }};
  const std::uint64_t avail = free_bytes(dir);
  constexpr std::uint64_t kMargin = 256ull << 20;
  if (avail < 2 * su.budget + kMargin) {
    throw InvalidArgument("--disk-budget " + format_size(su.budget) +
                          " does not fit: the filesystem of " + dir.string() + " has " +
                          format_size(avail) +
                          " free; expected twice the budget (store and raw "
                          "scratch files) plus 256 MiB of room");
  }
  auto backend = resolve_backend(o.common);
  DiskStoreOptions so;
  so.dir = dir;
  so.capacity_bytes = su.budget;
  so.file_bytes = su.file_bytes;
  so.queue_depth = su.queue_depth;
  so.cpu_threads = o.cpu_threads;
  so.io = su.io;
  so.group_commit_bytes = parse_size(o.group_commit, true);
  so.group_commit_ms = o.group_commit_ms;
  std::cout << "disk: " << dir.string() << ", budget " << format_size(su.budget) << ", "
            << format_size(avail) << " free\ngeometry: " << g.describe() << std::endl;

  // The ceiling: raw sequential O_DIRECT at large requests and at the store's own request size
  // (header + slot), same queue depth and file size; the best of them is what the store is held
  // to. Round 1 writes fresh, preallocated files (first fill: the filesystem converts extents
  // and journals that); later rounds overwrite the same files (steady state of a tier in use).
  // Raw and store passes alternate (and which goes first alternates over the steady rounds), so
  // a noisy device treats both alike.
  const std::uint64_t stride = disk_slot_stride(g);
  std::vector<std::uint64_t> request_sizes = {su.block};
  if (stride != su.block && su.budget >= 16 * stride) request_sizes.push_back(stride);
  std::vector<std::vector<double>> raw_w(request_sizes.size()), raw_r(request_sizes.size());
  std::vector<double> store_w, store_r, store_l;
  std::uint64_t raw_bytes = 0;
  bool direct = true;
  auto store = DiskStore::open(g, so);
  const std::uint64_t slots = store->capacity_slots();
  const std::size_t ring_slots = static_cast<std::size_t>(
      std::min<std::uint64_t>(slots, std::max<std::uint64_t>(8 * su.queue_depth, 64)));
  Buffer wring = backend->allocate(MemoryKind::kPinnedHost, ring_slots * g.slot_bytes());
  Buffer rring = backend->allocate(MemoryKind::kPinnedHost, ring_slots * g.slot_bytes());
  // Touched before any clock runs: first-touch page faults inside O_DIRECT reads made the first
  // round's reads look 5x slower than later ones on the CPU backend (whose pinned memory is
  // plain pages).
  std::memset(rring.data(), 0, rring.bytes());
  // One raw pass a request size (write, then read): the ceilings of the round.
  const auto raw_passes = [&] {
    for (std::size_t i = 0; i < request_sizes.size(); ++i) {
      DiskCeilingOptions co;
      co.dir = dir;
      co.total_bytes = su.budget;
      co.file_bytes = su.file_bytes;
      co.block_bytes = request_sizes[i];
      co.queue_depth = su.queue_depth;
      co.io = su.io;
      co.require_direct_io = false;
      co.keep_files = true;
      const DiskCeiling c = measure_disk_ceiling(co);
      raw_w[i].push_back(c.write_bytes_per_s);
      raw_r[i].push_back(c.read_bytes_per_s);
      raw_bytes = c.bytes;
      direct = direct && c.direct_io;
    }
  };
  for (int round = 0; round < o.repeat; ++round) {
    // Steady rounds alternate which goes first, raw or store, so that a device drifting within a
    // round favours neither; the first fill runs raw first (both on fresh files).
    const bool store_first = round % 2 == 0 && round > 0;
    if (!store_first) raw_passes();
    for (const DiskEntry& e : store->entries()) store->remove(e.hash);  // all slots free again
    std::mt19937_64 rng(42 + round);
    for (std::size_t i = 0; i + 8 <= wring.bytes(); i += 8) {
      const std::uint64_t v = rng();
      std::memcpy(wring.as<unsigned char>() + i, &v, 8);
    }
    const std::uint64_t base = static_cast<std::uint64_t>(round) << 40;  // new blocks each round
    store_w.push_back(
        write_all(*store, base, slots, wring.as<unsigned char>(), ring_slots).bytes_per_s);
    store_r.push_back(
        read_all(*store, base, slots, rring.as<unsigned char>(), ring_slots).bytes_per_s);
    if (std::memcmp(wring.data(), rring.data(), ring_slots * g.slot_bytes()) != 0) {
      throw InternalError("kvtier-bench disk: blocks read back differ from those written");
    }
    std::memset(rring.data(), 0, rring.bytes());
    store_l.push_back(read_layers_all(*store, base, slots, rring.as<unsigned char>(), ring_slots,
                                      su.read_layers, su.queue_depth)
                          .bytes_per_s);
    if (std::memcmp(wring.data(), rring.data(), ring_slots * g.slot_bytes()) != 0) {
      throw InternalError("kvtier-bench disk: layers read back differ from those written");
    }
    if (store_first) raw_passes();
    std::cout << "round " << round + 1 << "/" << o.repeat << (round == 0 ? " (first fill)" : "")
              << ": store write " << gbps(store_w.back()) << ", read " << gbps(store_r.back())
              << ", layer reads " << gbps(store_l.back()) << std::endl;
  }
  const DiskStats stats = store->stats();
  direct = direct && stats.direct_io;
  store.reset();
  if (!direct) {
    std::cout << "warning: the filesystem of " << dir.string()
              << " has no O_DIRECT: figures are buffered (page cache), not the device's\n";
  }

  // Round 0 is the first fill; rounds 1.. the steady state (best of them, and their spread).
  const auto first = [](const std::vector<double>& v) { return v.front(); };
  const auto steady = [&](const std::vector<double>& v) {
    return v.size() > 1 ? best(std::vector<double>(v.begin() + 1, v.end())) : v.front();
  };
  const auto steady_spread = [&](const std::vector<double>& v) {
    return v.size() > 1 ? spread(std::vector<double>(v.begin() + 1, v.end())) : std::string("-");
  };
  double ceil_w0 = 0, ceil_r0 = 0, ceil_w = 0, ceil_r = 0;
  Table t({"what", "first fill", "ratio", "steady state (best)", "steady rounds, GB/s", "ratio"});
  nlohmann::json raw = nlohmann::json::array();
  for (std::size_t i = 0; i < request_sizes.size(); ++i) {
    ceil_w0 = std::max(ceil_w0, first(raw_w[i]));
    ceil_r0 = std::max(ceil_r0, first(raw_r[i]));
    ceil_w = std::max(ceil_w, steady(raw_w[i]));
    ceil_r = std::max(ceil_r, steady(raw_r[i]));
    const std::string req = format_size(request_sizes[i]) + " requests";
    t.add({"raw O_DIRECT write, " + req, gbps(first(raw_w[i])), "", gbps(steady(raw_w[i])),
           steady_spread(raw_w[i]), ""});
    t.add({"raw O_DIRECT read, " + req, gbps(first(raw_r[i])), "", gbps(steady(raw_r[i])),
           steady_spread(raw_r[i]), ""});
    raw.push_back({{"request_bytes", request_sizes[i]},
                   {"bytes", raw_bytes},
                   {"write_bytes_per_s", raw_w[i]},
                   {"read_bytes_per_s", raw_r[i]}});
  }
  const std::uint64_t stored = slots * g.slot_bytes();
  t.add({"slot write-back (" + format_size(g.slot_bytes()) + " slots, durable)",
         gbps(first(store_w)), fixed(first(store_w) / ceil_w0, 3), gbps(steady(store_w)),
         steady_spread(store_w), fixed(steady(store_w) / ceil_w, 3)});
  t.add({"slot read (verified)", gbps(first(store_r)), fixed(first(store_r) / ceil_r0, 3),
         gbps(steady(store_r)), steady_spread(store_r), fixed(steady(store_r) / ceil_r, 3)});
  const std::uint64_t layer_request = su.read_layers * g.layer_bytes();
  t.add({"layer reads (" + std::to_string(su.read_layers) + " layers, " +
             format_size(layer_request) + " requests, verified)",
         gbps(first(store_l)), fixed(first(store_l) / ceil_r0, 3), gbps(steady(store_l)),
         steady_spread(store_l), fixed(steady(store_l) / ceil_r, 3)});
  const std::size_t from = o.repeat > 1 ? 1 : 0;
  const auto pw = paired(store_w, raw_w, from), pr = paired(store_r, raw_r, from),
             pl = paired(store_l, raw_r, from);
  const auto paired_text = [](const std::vector<double>& v) {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    return fixed(median(v), 3) + " (" + fixed(*lo, 3) + " - " + fixed(*hi, 3) + ")";
  };
  std::cout << "I/O: " << stats.io_path << ", queue depth " << su.queue_depth << ", "
            << (direct ? "O_DIRECT" : "buffered") << "; " << format_count(slots) << " slots ("
            << format_size(stored) << ") a round; " << o.repeat << " rounds\n"
            << "ceiling (best raw): first fill write " << gbps(ceil_w0) << ", read "
            << gbps(ceil_r0) << "; steady state write " << gbps(ceil_w) << ", read " << gbps(ceil_r)
            << "\n\n";
  t.print();
  std::cout << "\nratio to the same round's best raw pass, median (range) of the "
            << (from == 1 ? "steady rounds" : "rounds") << ": write " << paired_text(pw) << ", read "
            << paired_text(pr) << ", layer reads " << paired_text(pl) << "\n";
  const double aw = aggregate_ratio(store_w, raw_w, from),
               ar = aggregate_ratio(store_r, raw_r, from),
               al = aggregate_ratio(store_l, raw_r, from);
  std::cout << "ratio of the " << (from == 1 ? "steady rounds" : "rounds")
            << " taken together (bytes over summed time; raw: its best request size): write "
            << fixed(aw, 3) << ", read " << fixed(ar, 3) << ", layer reads " << fixed(al, 3)
            << "\n";

  nlohmann::json doc = result_header("disk", *backend);
  doc["geometry"] = {
      {"name", g.name}, {"slot_bytes", g.slot_bytes()}, {"block_tokens", g.block_tokens}};
  doc["dir"] = dir.string();
  doc["budget_bytes"] = su.budget;
  doc["rounds"] = o.repeat;
  doc["io"] = {{"path", stats.io_path},
               {"queue_depth", su.queue_depth},
               {"direct_io", direct},
               {"file_bytes", su.file_bytes},
               {"cpu_threads", o.cpu_threads},
               {"group_commit_bytes", so.group_commit_bytes},
               {"group_commit_ms", so.group_commit_ms}};
  doc["ceiling"] = {{"raw", raw},
                    {"first_fill", {{"write_bytes_per_s", ceil_w0}, {"read_bytes_per_s", ceil_r0}}},
                    {"steady", {{"write_bytes_per_s", ceil_w}, {"read_bytes_per_s", ceil_r}}}};
  doc["store"] = {
      {"slots", slots},
      {"bytes", stored},
      {"syncs", stats.syncs},
      {"write_bytes_per_s", store_w},
      {"read_bytes_per_s", store_r},
      {"first_fill",
       {{"write_ratio", first(store_w) / ceil_w0}, {"read_ratio", first(store_r) / ceil_r0}}},
      {"steady",
       {{"write_ratio", steady(store_w) / ceil_w}, {"read_ratio", steady(store_r) / ceil_r}}},
      {"paired_ratios", {{"write", pw}, {"read", pr}, {"layer_reads", pl}}},
      {"aggregate_ratios", {{"write", aw}, {"read", ar}, {"layer_reads", al}}},
      {"layer_reads",
       {{"layers", su.read_layers},
        {"request_bytes", layer_request},
        {"queue_depth", su.queue_depth},
        {"read_bytes_per_s", store_l},
        {"first_fill_read_ratio", first(store_l) / ceil_r0},
        {"steady_read_ratio", steady(store_l) / ceil_r}}}};
  write_json(o.common.json_path, doc);
  return 0;
}

}  // namespace

void add_disk_command(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<DiskOptions>();
  CLI::App* cmd = app.add_subcommand(
      "disk",
      "Disk tier: raw O_DIRECT ceiling, then slot write-back, verified slot reads and layer-group "
      "reads, as ratios");
  add_common_options(cmd, opts->common);
  cmd->add_option("--dir", opts->dir, "Directory of the disk tier (created 0700; emptied after)")
      ->capture_default_str();
  cmd->add_option("--disk-budget", opts->budget, "Bytes of disk to fill, e.g. 8GiB")
      ->capture_default_str();
  cmd->add_option("--file-size", opts->file_size, "Size of one slot file")->capture_default_str();
  cmd->add_option("--ceiling-block", opts->ceiling_block, "Request size of the raw ceiling")
      ->capture_default_str();
  cmd->add_option("--queue-depth", opts->queue_depth,
                  "I/O requests in flight, of the store and of every raw pass (0: the store's "
                  "automatic depth, 256 MiB of slots in flight)")
      ->capture_default_str();
  cmd->add_option("--cpu-threads", opts->cpu_threads,
                  "Checksum threads of the store (0: automatic)")
      ->capture_default_str();
  cmd->add_option("--io", opts->io, "I/O path: auto, uring or threads")->capture_default_str();
  cmd->add_option("--group-commit", opts->group_commit,
                  "Finished write-back bytes one fdatasync may wait for (0: sync at once)")
      ->capture_default_str();
  cmd->add_option("--group-commit-ms", opts->group_commit_ms, "Longest wait of a group commit")
      ->capture_default_str();
  cmd->add_option("--repeat", opts->repeat,
                  "Rounds: a first fill, then steady-state rounds (raw and store passes alternate)")
      ->capture_default_str();
  cmd->add_option("--read-layers", opts->read_layers,
                  "Layers a layer-group read asks for (0: the fewest giving >= 512 KiB requests)")
      ->capture_default_str();
  cmd->add_flag("--keep", opts->keep, "Keep the disk tier's files after the run");
  cmd->callback([opts, exit_code] { *exit_code = run_disk(*opts); });
}

}  // namespace kvtier::bench
