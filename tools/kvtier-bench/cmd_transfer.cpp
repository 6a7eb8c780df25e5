// kvtier-bench transfer: the transfer engine against the PCIe ceiling measured in the same run.
// 1. Ceiling: one large pinned copy host->device, device->host, both at once. Exits 1 when bytes
//    moved differ from what was expected.
// 2. Per setting: gather (H2D) of one layer's slices of random blocks of a pinned pool into a
//    device buffer, scatter (D2H) back, both at once, whole slots; GB/s, ratio; bytes verified.
// 3. Sweeps: the copy kernel by SMs, the copy engines by streams. 4. Coexistence: a memory-bound
//    kernel beside gathers (and scatters): its slowdown and the transfers' ratio to the ceiling;
//    `single` runs the ceiling's own large copies beside it, the most the load leaves to any
//    method.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <functional>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "kvtier/attention/cpu.h"
#include "kvtier/attention/gpu.h"
#include "kvtier/backend/thread_pool.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"
#include "kvtier/transfer/memory_load.h"
#include "kvtier/transfer/pool_view.h"
#include "kvtier/transfer/transfer_engine.h"

namespace kvtier::bench {
namespace {

struct TransferOptions {
  CommonOptions common;
  std::string batch_bytes = "256MiB";
  std::string ceiling_bytes = "1GiB";
  std::string methods = "auto,batch,kernel,runs,kernel/batch";
  std::string sweep_sms = "2,4,8,16";
  std::string sweep_streams = "1,2,4,8";
  std::string coexist_methods = "single,batch,kernel@4,kernel@16";
  std::string load_bytes = "1GiB";
  std::string loads = "copy";
  int copy_sms = TransferConfig{}.copy_sms;
  int copy_streams = TransferConfig{}.copy_streams;
  int iterations = 10;
  int repeats = 3;
  int layer = 0;
  std::uint64_t seed = 1;
};

std::uint64_t mix(std::uint64_t x) { return splitmix64(x); }
std::uint64_t word_of(std::uint64_t slot, int layer, std::uint64_t i) {
  return mix((slot << 32) ^ (static_cast<std::uint64_t>(layer) << 26) ^ i);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) out.push_back(x);
  std::erase(out, std::string());
  return out;
}

class TransferBench {
 public:
  explicit TransferBench(const TransferOptions& o)
      : o_(o),
        g_(resolve_geometry(o.common)),
        backend_(resolve_backend(o.common)),
        threads_(0),
        rng_(o.seed) {
    batch_ = parse_size(o.batch_bytes);
    ceiling_ = parse_size(o.ceiling_bytes);
    lb_ = g_.layer_bytes();
    if (o.layer < 0 || o.layer + 1 >= g_.layers)
      throw InvalidArgument("--layer must be in 0..layers-2");
    if (o.iterations < 1 || o.repeats < 1)
      throw InvalidArgument("--iterations and --repeats must be >= 1");
    n_ = batch_ / lb_;
    if (n_ == 0)
      throw InvalidArgument("--batch-bytes " + o.batch_bytes + " holds no layer slice of " +
                            format_size(lb_));
    const Budgets budgets = resolve_budgets(o.common, *backend_, g_);
    host_ =
        std::make_unique<SlotPool>(*backend_, Tier::kHost, g_, slots_in_bytes(budgets.host, g_));
    half_ = host_->slots() / 2;
    if (half_ < n_) {
      throw InvalidArgument("the host pool (" + format_size(host_->bytes()) + ", " +
                            std::to_string(host_->slots()) + " slots) needs 2 x " +
                            std::to_string(n_) + " slots for --batch-bytes " + o.batch_bytes);
    }
    if (2 * ceiling_ > host_->bytes())
      throw InvalidArgument("--ceiling-bytes: twice it must fit in the host pool");
    gpu_slots_ = static_cast<SlotIndex>(std::max<std::size_t>(1, batch_ / g_.slot_bytes()));
    gpu_ = std::make_unique<SlotPool>(*backend_, Tier::kGpu, g_, gpu_slots_);
    dst_ = backend_->allocate(MemoryKind::kDevice, n_ * lb_);
    src_ = backend_->allocate(MemoryKind::kDevice, n_ * lb_);
    aux_ = backend_->create_stream();
    doc_ = result_header("transfer", *backend_);
  }

  int run() {
    const DeviceInfo& d = backend_->device();
    std::cout << "transfer: " << backend_name(backend_->kind()) << " — " << d.name << "\n"
              << "geometry: " << g_.describe() << "\nslice: " << format_size(lb_)
              << " (one layer of a block), " << n_ << " slices = " << format_size(n_ * lb_)
              << " a batch\n"
              << "host pool: " << format_size(host_->bytes()) << " pinned, " << host_->slots()
              << " slots, allocated in " << fixed(host_->allocation_seconds(), 2) << " s ("
              << fixed(host_->bytes() / host_->allocation_seconds() / 1e9, 1) << " GB/s)\n\n";
    doc_["geometry"] = {
        {"describe", g_.describe()}, {"layer_bytes", lb_}, {"block_tokens", g_.block_tokens}};
    doc_["host_pool"] = {{"bytes", host_->bytes()},
                         {"slots", host_->slots()},
                         {"allocation_seconds", host_->allocation_seconds()}};
    doc_["batch_bytes"] = n_ * lb_;  // the rest of the setting is in command_line
    measure_ceilings();
    fill_layer(o_.layer);
    Table t({"method", "gather h2d GB/s", "ratio", "scatter d2h GB/s", "ratio", "both GB/s",
             "ratio", "slots h2d GB/s", "slots d2h GB/s"});
    for (const std::string& m : split(o_.methods)) measure_method(m, spec(m), t);
    t.print();
    std::cout << "\n";
    sweeps();
    coexistence();
    doc_["mismatches"] = mismatches_;
    std::cout << (mismatches_ == 0
                      ? "bytes verified: all moved bytes match\n"
                      : "BYTES DIFFER: " + std::to_string(mismatches_) + " mismatched slices\n");
    write_json(o_.common.json_path, doc_);
    return mismatches_ == 0 ? 0 : 1;
  }

 private:
  // Runs submit(i) for i in [0, n) after a start event; GB/s over all streams' ends.
  double timed(int n, std::size_t bytes_each, const std::vector<Stream*>& streams,
               const std::function<void(int)>& submit) {
    auto start = backend_->create_event();
    start->record(*streams[0]);
    for (std::size_t k = 1; k < streams.size(); ++k) start->wait(*streams[k]);
    for (int i = 0; i < n; ++i) submit(i);
    double ms = 0;
    for (Stream* s : streams) {
      auto end = backend_->create_event();
      end->record(*s);
      end->synchronize();
      ms = std::max(ms, end->elapsed_ms(*start));
    }
    return static_cast<double>(bytes_each) * n / (ms * 1e-3) / 1e9;
  }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }

  void measure_ceilings() {
    auto s2 = backend_->create_stream();
    Buffer d1 = backend_->allocate(MemoryKind::kDevice, ceiling_),
           d2 = backend_->allocate(MemoryKind::kDevice, ceiling_);
    std::byte* h1 = host_->base();
    std::byte* h2 = host_->base() + ceiling_;
    std::vector<double> up, down, both;
    for (int r = 0; r < o_.repeats + 1; ++r) {  // the first round warms up
      const double u = timed(2, ceiling_, {aux_.get()},
                             [&](int) { backend_->copy_async(d1.data(), h1, ceiling_, *aux_); });
      const double w = timed(2, ceiling_, {aux_.get()},
                             [&](int) { backend_->copy_async(h2, d2.data(), ceiling_, *aux_); });
      const double b = timed(2, 2 * ceiling_, {aux_.get(), s2.get()}, [&](int) {
        backend_->copy_async(d1.data(), h1, ceiling_, *aux_);
        backend_->copy_async(h2, d2.data(), ceiling_, *s2);
      });
      if (r > 0) up.push_back(u), down.push_back(w), both.push_back(b);
    }
    ceil_h2d_ = median(up), ceil_d2h_ = median(down), ceil_both_ = median(both);
    std::cout << "ceiling (one " << format_size(ceiling_) << " pinned copy): h2d "
              << fixed(ceil_h2d_, 1) << " GB/s, d2h " << fixed(ceil_d2h_, 1)
              << " GB/s, both at once " << fixed(ceil_both_, 1) << " GB/s\n\n";
    doc_["ceiling"] = {{"bytes", ceiling_},
                       {"h2d_gbps", ceil_h2d_},
                       {"d2h_gbps", ceil_d2h_},
                       {"both_gbps", ceil_both_}};
  }

  // Layer `layer` of every host slot gets its pattern.
  void fill_layer(int layer) {
    threads_.parallel_for(host_->slots(), [&](std::size_t s) {
      auto* w = reinterpret_cast<std::uint64_t*>(host_->slot_address(static_cast<SlotIndex>(s)) +
                                                 layer * lb_);
      for (std::size_t i = 0; i < lb_ / 8; ++i) w[i] = word_of(s, layer, i);
    });
  }

  // `count` random distinct slots of [lo, lo + span).
  std::vector<SlotIndex> random_set(SlotIndex lo, SlotIndex span, std::size_t count) {
    std::vector<SlotIndex> all(span);
    std::iota(all.begin(), all.end(), lo);
    std::shuffle(all.begin(), all.end(), rng_);
    all.resize(count);
    return all;
  }
  std::vector<std::vector<SlotIndex>> random_sets(SlotIndex lo, int n) {
    std::vector<std::vector<SlotIndex>> v;
    for (int i = 0; i < n; ++i) v.push_back(random_set(lo, half_, n_));
    return v;
  }

  void count_bad(std::size_t bad, const std::string& what) {
    if (bad) std::cout << "MISMATCH: " << what << ": " << bad << " slices differ\n";
    mismatches_ += bad;
  }

  // The device buffer dst_ holds layer `layer` of `slots`, in order.
  void verify_gather(const std::vector<SlotIndex>& slots, int layer, const std::string& what) {
    Buffer back = backend_->allocate(MemoryKind::kPinnedHost, slots.size() * lb_);
    backend_->copy_async(back.data(), dst_.data(), back.bytes(), *aux_);
    aux_->synchronize();
    std::atomic<std::size_t> bad{0};
    threads_.parallel_for(slots.size(), [&](std::size_t k) {
      const auto* w = reinterpret_cast<const std::uint64_t*>(back.as<std::byte>() + k * lb_);
      for (std::size_t i = 0; i < lb_ / 8; ++i) {
        if (w[i] != word_of(slots[k], layer, i)) {
          ++bad;
          return;
        }
      }
    });
    count_bad(bad, what);
  }

  // Host slices (layer, slots[k]) hold slice k of src_ (whose host copy is src_host_).
  void verify_scatter(const std::vector<SlotIndex>& slots, int layer, const std::string& what) {
    std::atomic<std::size_t> bad{0};
    threads_.parallel_for(slots.size(), [&](std::size_t k) {
      if (std::memcmp(host_->slot_address(slots[k]) + layer * lb_,
                      src_host_.as<std::byte>() + k * lb_, lb_) != 0)
        ++bad;
    });
    count_bad(bad, what);
  }

  void prepare_source() {
    if (src_host_) return;
    src_host_ = backend_->allocate(MemoryKind::kPinnedHost, n_ * lb_);
    threads_.parallel_for(n_, [&](std::size_t k) {
      auto* w = reinterpret_cast<std::uint64_t*>(src_host_.as<std::byte>() + k * lb_);
      for (std::size_t i = 0; i < lb_ / 8; ++i) w[i] = mix(0xABCDEFull << 40 ^ (k << 20) ^ i);
    });
    backend_->copy_async(src_.data(), src_host_.data(), n_ * lb_, *aux_);
    aux_->synchronize();
  }

  TransferConfig spec(const std::string& text) const {
    TransferConfig base;
    base.copy_sms = o_.copy_sms;
    base.copy_streams = o_.copy_streams;
    return parse_transfer_setting(text, base);
  }
  std::unique_ptr<TransferEngine> engine(const TransferConfig& c) {
    return std::make_unique<TransferEngine>(*backend_, g_, view_of(*gpu_), view_of(*host_), c);
  }

  // Gather / scatter / both of one method; returns {gather, scatter, both} GB/s (median).
  std::array<double, 3> gather_scatter(TransferEngine& e, bool verify, const std::string& name) {
    const int L = o_.layer, L2 = o_.layer + 1, it = o_.iterations;
    const std::size_t bytes = n_ * lb_;
    std::vector<double> g, s, b;
    for (int r = 0; r < o_.repeats + 1; ++r) {
      auto gs = random_sets(0, it), ss = random_sets(half_, it);
      const double gv = timed(it, bytes, {&e.h2d_stream()},
                              [&](int i) { e.gather_layer(L, gs[i], dst_.data(), bytes); });
      const double sv = timed(it, bytes, {&e.d2h_stream()},
                              [&](int i) { e.scatter_layer(L2, src_.data(), bytes, ss[i]); });
      const double bv = timed(it, 2 * bytes, {&e.h2d_stream(), &e.d2h_stream()}, [&](int i) {
        e.gather_layer(L, gs[i], dst_.data(), bytes);
        e.scatter_layer(L2, src_.data(), bytes, ss[it - 1 - i]);
      });
      if (r > 0) g.push_back(gv), s.push_back(sv), b.push_back(bv);
    }
    if (verify) {
      auto gset = random_set(0, half_, n_), sset = random_set(half_, half_, n_);
      backend_->fill_async(dst_.data(), 0xCD, bytes, e.h2d_stream());
      for (SlotIndex x : sset) std::memset(host_->slot_address(x) + L2 * lb_, 0xEE, lb_);
      auto ge = e.gather_layer(L, gset, dst_.data(), bytes);
      auto se = e.scatter_layer(L2, src_.data(), bytes, sset);
      ge.synchronize();
      se.synchronize();
      verify_gather(gset, L, name + " gather");
      verify_scatter(sset, L2, name + " scatter");
    }
    return {median(g), median(s), median(b)};
  }

  // Whole slots: random host slots -> GPU slots and back to random host slots (second half).
  std::array<double, 2> whole_slots(TransferEngine& e, const std::string& name) {
    const int it = o_.iterations;
    const std::size_t bytes = std::size_t{gpu_slots_} * g_.slot_bytes();
    auto moves = [&](bool up) {
      auto hs = random_set(up ? 0 : half_, half_, gpu_slots_);
      std::vector<SlotMove> v(gpu_slots_);
      for (SlotIndex i = 0; i < gpu_slots_; ++i) {
        const SlotRef h{Tier::kHost, hs[i]}, d{Tier::kGpu, i};
        v[i] = SlotMove{SlotMove::Kind::kCopy, i, up ? h : d, up ? d : h, {}, 0};
      }
      return v;
    };
    std::vector<std::vector<SlotMove>> ups, downs;
    for (int i = 0; i < it; ++i) ups.push_back(moves(true)), downs.push_back(moves(false));
    const double u = timed(it, bytes, {&e.h2d_stream()}, [&](int i) { e.submit(ups[i]); });
    e.synchronize();
    const double d = timed(it, bytes, {&e.d2h_stream()}, [&](int i) { e.submit(downs[i]); });
    e.synchronize();  // verify: layer L of GPU slot i is the pattern of its last source
    std::vector<SlotIndex> srcs;
    for (const SlotMove& m : ups.back()) srcs.push_back(m.from.slot);
    for (SlotIndex i = 0; i < gpu_slots_; ++i) {
      backend_->copy_async(dst_.as<std::byte>() + i * lb_, gpu_->slot_address(i) + o_.layer * lb_,
                           lb_, *aux_);
    }
    aux_->synchronize();
    verify_gather(srcs, o_.layer, name + " whole slots");
    return {u, d};
  }

  void measure_method(const std::string& name, const TransferConfig& c, Table& t) {
    prepare_source();
    auto e = engine(c);
    auto [g, s, b] = gather_scatter(*e, true, name);
    auto [su, sd] = whole_slots(*e, name);
    t.add({name, fixed(g, 1), fixed(g / ceil_h2d_, 3), fixed(s, 1), fixed(s / ceil_d2h_, 3),
           fixed(b, 1), fixed(b / ceil_both_, 3), fixed(su, 1), fixed(sd, 1)});
    doc_["methods"][name] = {{"gather_h2d_gbps", g},  {"gather_ratio", g / ceil_h2d_},
                             {"scatter_d2h_gbps", s}, {"scatter_ratio", s / ceil_d2h_},
                             {"both_gbps", b},        {"both_ratio", b / ceil_both_},
                             {"slots_h2d_gbps", su},  {"slots_d2h_gbps", sd}};
  }

  // The copy kernel by number of SMs, and the copy-engine batch by number of streams.
  void sweeps() {
    if (backend_->kind() != BackendKind::kCuda) return;
    std::vector<std::string> specs;
    for (const std::string& x : split(o_.sweep_sms)) specs.push_back("kernel@" + x);
    for (const std::string& x : split(o_.sweep_streams)) specs.push_back("batchx" + x);
    if (specs.empty()) return;
    Table t(
        {"setting", "gather h2d GB/s", "ratio", "scatter d2h GB/s", "ratio", "both GB/s", "ratio"});
    for (const std::string& name : specs) {
      auto e = engine(spec(name));
      auto [g, s, b] = gather_scatter(*e, false, name);
      t.add({name, fixed(g, 1), fixed(g / ceil_h2d_, 3), fixed(s, 1), fixed(s / ceil_d2h_, 3),
             fixed(b, 1), fixed(b / ceil_both_, 3)});
      doc_["sweeps"][name] = {{"gather_h2d_gbps", g},
                              {"scatter_d2h_gbps", s},
                              {"both_gbps", b},
                              {"gather_ratio", g / ceil_h2d_},
                              {"scatter_ratio", s / ceil_d2h_},
                              {"both_ratio", b / ceil_both_}};
    }
    t.print();
    std::cout << "\n";
  }

  // The load runs P passes with an event after each; transfers start with it and cover about half
  // of its time. Slowdown: mean pass time while transfers ran / after they ended (same run).
  // A bandwidth-bound kernel to run beside transfers: `copy` (MemoryLoad: reads and writes device
  // memory) or `read` (the read probe: reads only, as decode does with weights and KV).
  struct Load {
    std::function<void(Stream&, int)> enqueue;
    std::size_t bytes_per_pass = 0;
    std::unique_ptr<MemoryLoad> copy;
    Buffer data, sink;
  };
  Load make_load(const std::string& kind) {
    Load l;
    const std::size_t bytes = parse_size(o_.load_bytes) / 16 * 16;
    if (kind == "copy") {
      l.copy = std::make_unique<MemoryLoad>(*backend_, bytes);
      l.bytes_per_pass = l.copy->bytes_per_pass();
      l.enqueue = [m = l.copy.get()](Stream& s, int passes) { m->enqueue(s, passes); };
      return l;
    }
    if (kind != "read") throw InvalidArgument("--loads '" + kind + "': expected copy or read");
    // Twice the copy load's buffer: the same bytes a pass, all of them reads.
    l.data = backend_->allocate(MemoryKind::kDevice, 2 * bytes);
    l.sink = backend_->allocate(MemoryKind::kDevice, 64);
    {
      auto s = backend_->create_stream();
      backend_->fill_async(l.data.data(), 0x3C, l.data.bytes(), *s);
      s->synchronize();
    }
    l.bytes_per_pass = l.data.bytes();
    l.enqueue = [this, d = l.data.data(), n = l.data.bytes(), sink = l.sink.as<unsigned long long>()](Stream& s,
                                                                                                      int passes) {
      for (int p = 0; p < passes; ++p) {
        if (backend_->kind() == BackendKind::kCuda) {
          attention::gpu_read_probe(d, n, sink, s);
        } else {
          s.host_task([this, d, n, sink] { *sink += attention::cpu_read_probe(d, n, threads_); });
        }
      }
    };
    return l;
  }

  void coexistence() {
    if (o_.coexist_methods.empty()) return;
    for (const std::string& m : split(o_.coexist_methods)) {
      if (m == "single" && !big_dst_) {
        big_dst_ = backend_->allocate(MemoryKind::kDevice, ceiling_);
        big_src_ = backend_->allocate(MemoryKind::kDevice, ceiling_);
      }
    }
    for (const std::string& kind : split(o_.loads)) coexistence(kind);
  }

  void coexistence(const std::string& kind) {
    Load load = make_load(kind);
    auto compute = backend_->create_stream();
    load.enqueue(*compute, 3);  // warm-up
    compute->synchronize();
    const double pass_gbps =
        timed(20, load.bytes_per_pass, {compute.get()}, [&](int) { load.enqueue(*compute, 1); });
    const double pass_ms = load.bytes_per_pass / (pass_gbps * 1e9) * 1e3;
    const int passes = std::clamp(static_cast<int>(300.0 / pass_ms), 20, 2000);
    std::cout << "coexistence (" << kind << " load): load kernel moves " << fixed(pass_gbps, 0)
              << " GB/s of device memory alone (" << fixed(pass_ms, 3) << " ms a pass, " << passes
              << " passes)\n";
    nlohmann::json& out = kind == "copy" ? doc_["coexistence"] : doc_["coexistence_read_load"];
    out["load_alone_gbps"] = pass_gbps;
    Table t(
        {"method", "transfers", "GB/s", "ratio to ceiling", "load slowdown", "load GB/s during"});
    for (const std::string& mname : split(o_.coexist_methods)) {
      for (bool both : {false, true}) {
        const bool single = mname == "single";
        std::unique_ptr<TransferEngine> e;
        std::unique_ptr<Stream> up, down;
        if (single) {
          up = backend_->create_stream(), down = backend_->create_stream();
        } else {
          e = engine(spec(mname));
        }
        Stream& h2d = single ? *up : e->h2d_stream();
        Stream& d2h = single ? *down : e->d2h_stream();
        const std::size_t bytes = single ? ceiling_ : n_ * lb_;
        const double ceil = both ? ceil_both_ : ceil_h2d_;
        const int batches = std::max(4, static_cast<int>(0.5 * passes * pass_ms * 1e-3 * ceil *
                                                         1e9 / (bytes * (both ? 2 : 1))));
        std::vector<std::vector<SlotIndex>> gs, ss;
        if (!single) gs = random_sets(0, batches), ss = random_sets(half_, batches);
        std::vector<std::unique_ptr<Event>> marks(passes + 1);
        for (auto& m : marks) m = backend_->create_event();
        marks[0]->record(*compute);
        marks[0]->wait(h2d);
        marks[0]->wait(d2h);
        for (int p = 0; p < passes; ++p) {
          load.enqueue(*compute, 1);
          marks[p + 1]->record(*compute);
        }
        for (int i = 0; i < batches; ++i) {
          if (single) {  // the ceiling's own copies, ceiling_ bytes each way
            backend_->copy_async(big_dst_.data(), host_->base(), bytes, h2d);
            if (both) backend_->copy_async(host_->base() + bytes, big_src_.data(), bytes, d2h);
            continue;
          }
          e->gather_layer(o_.layer, gs[i], dst_.data(), bytes);
          if (both) e->scatter_layer(o_.layer + 1, src_.data(), bytes, ss[i]);
        }
        double end_ms = 0;
        for (Stream* s : {&h2d, &d2h}) {
          auto end = backend_->create_event();
          end->record(*s);
          end->synchronize();
          end_ms = std::max(end_ms, end->elapsed_ms(*marks[0]));
        }
        compute->synchronize();
        double in_ms = 0, out_ms = 0;
        int in_n = 0, out_n = 0;
        for (int p = 0; p < passes; ++p) {
          const double a = marks[p]->elapsed_ms(*marks[0]), b = marks[p + 1]->elapsed_ms(*marks[0]);
          if (b <= end_ms)
            in_ms += b - a, ++in_n;
          else if (a >= end_ms)
            out_ms += b - a, ++out_n;
        }
        const double gbps = bytes * batches * (both ? 2.0 : 1.0) / (end_ms * 1e-3) / 1e9;
        const double slow = (in_n && out_n) ? (in_ms / in_n) / (out_ms / out_n) - 1 : -1;
        const double load_during = in_n ? load.bytes_per_pass / (in_ms / in_n * 1e-3) / 1e9 : 0;
        const std::string what = both ? "gather+scatter" : "gather";
        t.add({mname, what, fixed(gbps, 1), fixed(gbps / ceil, 3),
               slow < 0 ? "n/a (windows did not separate)" : fixed(100 * slow, 1) + "%",
               fixed(load_during, 0)});
        out[mname][what] = {
            {"gbps", gbps},          {"ratio", gbps / ceil},
            {"load_slowdown", slow}, {"load_gbps_during", load_during},
            {"passes_during", in_n}, {"passes_after", out_n},
            {"transfer_ms", end_ms}};
      }
    }
    t.print();
    std::cout << "\n";
  }

  const TransferOptions& o_;
  Geometry g_;
  std::unique_ptr<Backend> backend_;
  ThreadPool threads_;
  std::size_t batch_ = 0, ceiling_ = 0, lb_ = 0, n_ = 0;
  SlotIndex half_ = 0, gpu_slots_ = 0;
  std::unique_ptr<SlotPool> host_, gpu_;  // every slot holds a block: views own them all
  Buffer dst_, src_, src_host_;
  Buffer big_dst_, big_src_;  // the single large copy's device ends, for coexistence
  std::unique_ptr<Stream> aux_;
  nlohmann::json doc_;
  double ceil_h2d_ = 0, ceil_d2h_ = 0, ceil_both_ = 0;
  std::size_t mismatches_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace

void add_transfer_command(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<TransferOptions>();
  CLI::App* cmd = app.add_subcommand(
      "transfer",
      "Gather/scatter of scattered KV blocks between GPU and pinned host vs the PCIe ceiling");
  add_common_options(cmd, o->common);
  cmd->add_option("--batch-bytes", o->batch_bytes, "Bytes of layer slices a batch")
      ->capture_default_str();
  cmd->add_option("--ceiling-bytes", o->ceiling_bytes,
                  "Size of the single pinned copy (the ceiling)")
      ->capture_default_str();
  cmd->add_option(
         "--methods", o->methods,
         "Settings to measure, each H2D[/D2H][@SMS][xSTREAMS][+overlap] of kernel, batch, runs")
      ->capture_default_str();
  cmd->add_option("--copy-sms", o->copy_sms, "Thread blocks (SMs) of the copy kernel")
      ->capture_default_str();
  cmd->add_option("--copy-streams", o->copy_streams,
                  "Streams a direction for the copy-engine methods")
      ->capture_default_str();
  cmd->add_option("--sweep-sms", o->sweep_sms,
                  "SM counts to measure the copy kernel at (empty: none)")
      ->capture_default_str();
  cmd->add_option(
         "--sweep-streams", o->sweep_streams,
         "Stream counts (N or N+overlap) to measure the copy-engine batch at (empty: none)")
      ->capture_default_str();
  cmd->add_option("--coexist-methods", o->coexist_methods,
                  "Settings to run beside a memory-bound kernel (empty: none); 'single' is the "
                  "ceiling's one large pinned copy, to show what the load leaves to any method")
      ->capture_default_str();
  cmd->add_option("--load-bytes", o->load_bytes, "Buffer size of the memory-bound kernel")
      ->capture_default_str();
  cmd->add_option("--loads", o->loads,
                  "Kernels to coexist with, comma-separated: copy (reads and writes device memory), read "
                  "(reads only, as decode's weight and KV reads)")
      ->capture_default_str();
  cmd->add_option("--iterations", o->iterations, "Batches a measurement")->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "Measurements (the median is reported)")
      ->capture_default_str();
  cmd->add_option("--layer", o->layer,
                  "Layer whose slices are gathered (the next one is scattered)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random block placement")->capture_default_str();
  cmd->callback([o, exit_code] { *exit_code = TransferBench(*o).run(); });
}

}  // namespace kvtier::bench
