// kvtier-bench attention: partial decode attention (GPU or CPU kernel) over paged blocks of
// random data, verified against the fp64 reference, timed against the same run's read ceiling
// (a plain read of the same bytes: GPU read kernel, or all host threads).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "attention/cpu/convert.h"
#include "commands.h"
#include "common.h"
#include "kvtier/attention/cpu.h"
#include "kvtier/attention/gpu.h"
#include "kvtier/attention/reference.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"

namespace kvtier::bench {
namespace {

using namespace kvtier::attention;

struct AttnOptions {
  CommonOptions common;
  int context = 32768, batch = 1, q_tokens = 1, iters = 0, reps = 5, threads = 0, splits = 0;
  int verify_seqs = 4, verify_heads = 2, trace = 0;
  bool verify = true, causal = true, kv_ready = true;
  std::string isa = "auto";
  std::string layout = "shuffled";
};

struct HostData {
  DecodeShape shape;
  std::vector<unsigned char> pool;   // blocks in shuffled order
  std::vector<std::size_t> offsets;  // [total_blocks] offset of each table entry
  std::vector<const void*> blocks;   // host addresses
  std::vector<int> block_begin, seq_lens;
  std::vector<unsigned char> q;
  std::size_t kv_bytes = 0;  // bytes of K and V the call reads
};

// Uniform values in [-amp, amp), never zero, in `t`.
void fill_random(unsigned char* dst, std::size_t n, DType t, float amp, std::uint64_t seed) {
  std::uint64_t s = seed;
  for (std::size_t i = 0; i < n; i += 4) {
    std::uint64_t bits = splitmix64(s);
    for (std::size_t k = i; k < std::min(n, i + 4); ++k, bits >>= 16) {
      float v = (static_cast<float>(bits & 0xffff) / 32768.f - 1.f) * amp;
      if (v == 0.f) v = 0.5f * amp;
      attention::cpu::store_float(v, dst, k, t);
    }
  }
}

HostData make_data(const Geometry& g, const AttnOptions& o, ThreadPool& pool) {
  HostData d;
  DecodeShape& s = d.shape;
  s.batch = o.batch;
  s.q_tokens = o.q_tokens;
  s.q_heads = g.q_heads;
  s.kv_heads = g.kv_heads;
  s.head_dim = g.head_dim;
  s.block_tokens = g.block_tokens;
  s.dtype = g.dtype;
  s.scale = 1.f / std::sqrt(static_cast<float>(g.head_dim));
  s.causal = o.causal;
  const int per_seq = (o.context + g.block_tokens - 1) / g.block_tokens;
  const std::size_t nblocks = static_cast<std::size_t>(per_seq) * o.batch;
  d.block_begin.push_back(0);
  for (int b = 0; b < o.batch; ++b) {
    d.seq_lens.push_back(o.context);
    d.block_begin.push_back(d.block_begin.back() + per_seq);
  }
  const std::size_t lb = s.layer_bytes();
  std::vector<std::size_t> slot(nblocks);
  std::iota(slot.begin(), slot.end(), 0);
  if (o.layout == "shuffled") {
    std::shuffle(slot.begin(), slot.end(),
                 std::mt19937_64(42));  // paged: table order != memory order
  } else if (o.layout != "ordered") {
    throw InvalidArgument("--layout " + o.layout + "; expected shuffled or ordered");
  }
  d.pool.resize(nblocks * lb);
  for (std::size_t i = 0; i < nblocks; ++i) d.offsets.push_back(slot[i] * lb);
  const std::size_t elems = lb / dtype_size(s.dtype);
  pool.parallel_for(nblocks, [&](std::size_t i) {
    fill_random(d.pool.data() + i * lb, elems, s.dtype, 1.f, 1000 + i);
  });
  for (auto off : d.offsets) d.blocks.push_back(d.pool.data() + off);
  d.q.resize(s.q_elems() * dtype_size(s.dtype));
  fill_random(d.q.data(), s.q_elems(), s.dtype, 2.f, 7);
  d.kv_bytes = static_cast<std::size_t>(o.context) * o.batch * s.kv_heads * 2 * s.head_dim *
               dtype_size(s.dtype);
  return d;
}

DecodeArgs host_args(const HostData& d, float* o, float* lse) {
  DecodeArgs a;
  a.shape = d.shape;
  a.q = d.q.data();
  a.tables = {d.blocks.data(), d.block_begin.data(), d.seq_lens.data()};
  a.host_block_begin = d.block_begin;
  a.host_seq_lens = d.seq_lens;
  a.o = o;
  a.lse = lse;
  return a;
}

struct VerifyResult {
  double o_rel = 0, lse_abs = 0;
  int bad = 0, rows = 0;
  bool ok = true;
};

// Compares sampled sequences and kv heads with the fp64 reference (in parallel).
VerifyResult verify(const HostData& d, const std::vector<float>& o, const std::vector<float>& lse,
                    const AttnOptions& opt, ThreadPool& pool) {
  const DecodeShape& s = d.shape;
  std::vector<std::pair<int, int>> picks;
  const int seq_step = std::max(1, s.batch / std::max(1, opt.verify_seqs));
  const int head_step = std::max(1, s.kv_heads / std::max(1, opt.verify_heads));
  for (int b = 0; b < s.batch; b += seq_step) {
    for (int h = (b / seq_step) % head_step; h < s.kv_heads; h += head_step)
      picks.push_back({b, h});
  }
  std::vector<VerifyResult> res(picks.size());
  std::vector<float> dummy(1);
  const DecodeArgs a = host_args(d, dummy.data(), dummy.data());
  pool.parallel_for(picks.size(), [&](std::size_t i) {
    const auto [b, h] = picks[i];
    const ReferenceHead ref = reference_head(a, b, h);
    const int g = s.group(), dim = s.head_dim;
    VerifyResult& r = res[i];
    for (int t = 0; t < s.q_tokens; ++t) {
      for (int k = 0; k < g; ++k) {
        const std::size_t row =
            (static_cast<std::size_t>(b) * s.q_tokens + t) * s.q_heads + h * g + k;
        const std::size_t rr = static_cast<std::size_t>(t) * g + k;
        double max_ref = 0, max_err = 0;
        bool bad = std::isnan(lse[row]);
        for (int x = 0; x < dim; ++x) {
          const double v = o[row * dim + x], rv = ref.o[rr * dim + x];
          if (!std::isfinite(v)) bad = true;
          max_ref = std::max(max_ref, std::abs(rv));
          max_err = std::max(max_err, std::abs(v - rv));
        }
        ++r.rows;
        if (std::isinf(ref.lse[rr])) {
          bad = bad || !(std::isinf(lse[row]) && lse[row] < 0) || max_err != 0;
        } else if (!bad) {
          r.o_rel = std::max(r.o_rel, max_ref > 0 ? max_err / max_ref : max_err);
          r.lse_abs = std::max(r.lse_abs, std::abs(lse[row] - ref.lse[rr]));
        }
        r.bad += bad ? 1 : 0;
      }
    }
  });
  VerifyResult out;
  for (const auto& r : res) {
    out.o_rel = std::max(out.o_rel, r.o_rel);
    out.lse_abs = std::max(out.lse_abs, r.lse_abs);
    out.bad += r.bad;
    out.rows += r.rows;
  }
  const double tol = s.dtype == DType::kF32 ? 1e-5 : 2e-3;
  out.ok = out.bad == 0 && out.o_rel <= tol && out.lse_abs <= 1e-3;
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timing {
  double attn_s = 0, ceiling_s = 0;
  double attn_wait_s = 0;  // GPU: the same calls without DecodeArgs::kv_ready
  int splits = 0, copies = 1;
  std::string isa;
  nlohmann::json trace;  // GPU --trace: launch timeline summary
};

double median(std::vector<double> v);

// Which CTAs end a launch: per launch (after the first), the tenth of CTAs whose main loop ended
// last. Do they start late (own grid-dependency wait) or run long (wait -> loop done), sit on SMs
// that hold more CTAs, and are their SMs the same from one launch to the next (a structural
// cause) or not (noise)? Medians over the launches, printed and returned as JSON.
nlohmann::json late_ctas(const std::vector<unsigned long long>& w, int launches, long long ctas) {
  constexpr int W = GpuDecoder::kTraceWords;
  std::vector<double> run_med, run_late, start_med, start_late, crowd_all, crowd_late, repeat;
  std::vector<double> entry_med, entry_late, id_repeat, partner_late, id_late;
  std::vector<int> prev_late_sms;
  std::vector<long long> prev_late_ids;
  for (int l = 0; l < launches; ++l) {
    const unsigned long long* t = w.data() + static_cast<std::size_t>(l) * ctas * W;
    struct Cta {
      double start, end, entry;
      int sm;
      long long id;
    };
    std::vector<Cta> v;
    std::map<int, int> per_sm;
    double t0 = 1e300;  // the first wait's end (a CTA without work may return before its wait)
    for (long long c = 0; c < ctas; ++c)
      if (t[c * W + 7] != 2) t0 = std::min(t0, static_cast<double>(t[c * W + 1]));
    for (long long c = 0; c < ctas; ++c) {
      if (t[c * W + 7] == 2) continue;  // no work
      const int sm = static_cast<int>(t[c * W + 6]);
      v.push_back({(static_cast<double>(t[c * W + 1]) - t0) * 1e-3,
                   (static_cast<double>(t[c * W + 2]) - t0) * 1e-3,
                   (static_cast<double>(t[c * W + 0]) - t0) * 1e-3, sm, c});
      ++per_sm[sm];
    }
    if (v.size() < 10) return {};
    std::sort(v.begin(), v.end(), [](const Cta& a, const Cta& b) { return a.end < b.end; });
    const std::size_t n_late = std::max<std::size_t>(1, v.size() / 10);
    std::vector<double> runs, starts, runs_l, starts_l, crowd, crowd_l, entries, entries_l, ids_l;
    std::vector<int> late_sms;
    std::vector<long long> late_ids;
    std::map<int, int> late_on_sm;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const bool late = i + n_late >= v.size();
      (late ? runs_l : runs).push_back(v[i].end - v[i].start);
      (late ? starts_l : starts).push_back(v[i].start);
      (late ? crowd_l : crowd).push_back(per_sm[v[i].sm]);
      (late ? entries_l : entries).push_back(v[i].entry);
      if (late) {
        late_sms.push_back(v[i].sm);
        late_ids.push_back(v[i].id);
        ids_l.push_back(static_cast<double>(v[i].id) / static_cast<double>(ctas));
        ++late_on_sm[v[i].sm];
      }
    }
    // Late CTAs whose SM holds another CTA: how often that one is late too (chance: ~10%).
    int shared = 0, both_late = 0;
    for (std::size_t i = v.size() - n_late; i < v.size(); ++i) {
      if (per_sm[v[i].sm] < 2) continue;
      ++shared;
      if (late_on_sm[v[i].sm] >= 2) ++both_late;
    }
    std::sort(late_sms.begin(), late_sms.end());
    late_sms.erase(std::unique(late_sms.begin(), late_sms.end()), late_sms.end());
    std::sort(late_ids.begin(), late_ids.end());
    if (l == 0) {
      prev_late_sms = late_sms;
      prev_late_ids = late_ids;
      continue;  // as in the summary: the first launch follows no launch of its own kind
    }
    std::vector<int> both;
    std::set_intersection(late_sms.begin(), late_sms.end(), prev_late_sms.begin(),
                          prev_late_sms.end(), std::back_inserter(both));
    repeat.push_back(static_cast<double>(both.size()) / static_cast<double>(late_sms.size()));
    std::vector<long long> both_ids;
    std::set_intersection(late_ids.begin(), late_ids.end(), prev_late_ids.begin(),
                          prev_late_ids.end(), std::back_inserter(both_ids));
    id_repeat.push_back(static_cast<double>(both_ids.size()) /
                        static_cast<double>(late_ids.size()));
    prev_late_sms = late_sms;
    prev_late_ids = late_ids;
    entry_med.push_back(median(entries)), entry_late.push_back(median(entries_l));
    id_late.push_back(median(ids_l));
    if (shared > 0) partner_late.push_back(static_cast<double>(both_late) / shared);
    run_med.push_back(median(runs)), run_late.push_back(median(runs_l));
    start_med.push_back(median(starts)), start_late.push_back(median(starts_l));
    crowd_all.push_back(median(crowd)), crowd_late.push_back(median(crowd_l));
  }
  if (repeat.empty()) return {};
  nlohmann::json j = {{"run_us_others", median(run_med)},
                      {"run_us_late", median(run_late)},
                      {"start_us_others", median(start_med)},
                      {"start_us_late", median(start_late)},
                      {"ctas_on_sm_others", median(crowd_all)},
                      {"ctas_on_sm_late", median(crowd_late)},
                      {"late_sms_also_late_before", median(repeat)},
                      {"late_ctas_also_late_before", median(id_repeat)},
                      {"entry_us_others", median(entry_med)},
                      {"entry_us_late", median(entry_late)},
                      {"late_cta_index_fraction", median(id_late)},
                      {"late_partner_late", partner_late.empty() ? 0.0 : median(partner_late)}};
  std::cout << "last-ending tenth of CTAs against the others (median over launches): main loop "
            << fixed(j["run_us_late"], 1) << " vs " << fixed(j["run_us_others"], 1)
            << " us, started " << fixed(j["start_us_late"], 1) << " vs "
            << fixed(j["start_us_others"], 1) << " us after the first, CTAs on their SM "
            << fixed(j["ctas_on_sm_late"], 1) << " vs " << fixed(j["ctas_on_sm_others"], 1)
            << "; their SMs were among the previous launch's late ones: "
            << fixed(100 * j["late_sms_also_late_before"].get<double>(), 0)
            << "%, the same CTAs: " << fixed(100 * j["late_ctas_also_late_before"].get<double>(), 0)
            << "%; entered " << fixed(j["entry_us_late"], 1) << " vs "
            << fixed(j["entry_us_others"], 1) << " us; median index "
            << fixed(j["late_cta_index_fraction"], 2)
            << " of the grid; partner on the SM late too: "
            << fixed(100 * j["late_partner_late"].get<double>(), 0) << "%\n";
  return j;
}

// Summary of `launches` traced back-to-back launches of `ctas` CTAs each (GpuDecoder::set_trace):
// per launch, microseconds from its first CTA's entry to each mark (over the CTAs that had work),
// the split merge's length and the gap after the previous launch; the median of each over the
// launches, printed and returned as JSON.
nlohmann::json summarize_trace(const std::vector<unsigned long long>& w, int launches,
                               long long ctas) {
  constexpr int W = GpuDecoder::kTraceWords;
  const std::vector<std::string> names = {
      "entry (last CTA)",      "wait done (last)",       "main loop done (median)",
      "main loop done (last)", "partial written (last)", "split counted (last)",
      "done (last)",           "split merge (longest)",  "merging CTA: loop done -> done",
      "gap after previous launch", "launch period"};
  std::vector<std::vector<double>> v(names.size());
  double prev_end = 0, prev_start = 0;
  for (int l = 0; l < launches; ++l) {
    const unsigned long long* t = w.data() + static_cast<std::size_t>(l) * ctas * W;
    double t0 = 1e300;
    for (long long c = 0; c < ctas; ++c) t0 = std::min(t0, static_cast<double>(t[c * W]));
    auto rel = [&](long long c, int k) { return (static_cast<double>(t[c * W + k]) - t0) * 1e-3; };
    double entry = 0, waited = 0, loop_last = 0, written = 0, counted = 0, done = 0, merge = 0;
    double merger_path = 0, merger_done = -1;
    std::vector<double> loops;
    for (long long c = 0; c < ctas; ++c) {
      entry = std::max(entry, rel(c, 0));
      waited = std::max(waited, rel(c, 1));
      if (t[c * W + 7] == 2) continue;  // no work
      loops.push_back(rel(c, 2));
      loop_last = std::max(loop_last, rel(c, 2));
      written = std::max(written, rel(c, 3));
      counted = std::max(counted, rel(c, 4));
      done = std::max(done, rel(c, 5));
      if (t[c * W + 7] == 1) {
        merge = std::max(merge, rel(c, 5) - rel(c, 4));
        if (rel(c, 5) > merger_done) {
          merger_done = rel(c, 5);
          merger_path = rel(c, 5) - rel(c, 2);
        }
      }
    }
    const double end_abs = t0 * 1e-3 + done;
    const std::vector<double> row = {entry, waited, median(loops), loop_last, written, counted,
                                     done, merge, merger_path,
                                     l > 0 ? t0 * 1e-3 - prev_end : 0.0,
                                     l > 0 ? t0 * 1e-3 - prev_start : 0.0};
    prev_end = end_abs;
    prev_start = t0 * 1e-3;
    if (l == 0) continue;  // the gap and period need a previous launch
    for (std::size_t k = 0; k < row.size(); ++k) v[k].push_back(row[k]);
  }
  nlohmann::json out;
  out["launches"] = launches;
  out["ctas"] = ctas;
  Table tab({"trace (us from the launch's first CTA entry)", "median", "min", "max"});
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (v[k].empty()) continue;
    const double med = median(v[k]), lo = *std::min_element(v[k].begin(), v[k].end()),
                 hi = *std::max_element(v[k].begin(), v[k].end());
    tab.add({names[k], fixed(med, 2), fixed(lo, 2), fixed(hi, 2)});
    out["median_us"][names[k]] = med;
  }
  tab.print();
  out["late_ctas"] = late_ctas(w, launches, ctas);
  return out;
}

// GPU: KV in device memory, rotated over enough copies that repeated runs do not hit in L2.
Timing time_gpu(Backend& be, const HostData& d, const AttnOptions& opt, std::vector<float>& o_host,
                std::vector<float>& lse_host) {
  const DecodeShape& s = d.shape;
  const std::unique_ptr<Stream> st_owner = be.create_stream();
  Stream& st = *st_owner;
  const std::size_t l2 = std::max<std::size_t>(be.device().l2_bytes, 50ull << 20);
  const int copies = static_cast<int>(
      std::clamp<std::size_t>((4 * l2 + d.pool.size() - 1) / d.pool.size(), 1, 64));
  std::vector<Buffer> pools, tables;
  Buffer begin = be.allocate(MemoryKind::kDevice, d.block_begin.size() * 4);
  Buffer lens = be.allocate(MemoryKind::kDevice, d.seq_lens.size() * 4);
  Buffer q = be.allocate(MemoryKind::kDevice, d.q.size());
  Buffer o = be.allocate(MemoryKind::kDevice, s.q_elems() * 4),
         lse = be.allocate(MemoryKind::kDevice, s.rows() * 4);
  Buffer sink = be.allocate(MemoryKind::kDevice, 64);
  be.copy_async(begin.data(), d.block_begin.data(), begin.bytes(), st);
  be.copy_async(lens.data(), d.seq_lens.data(), lens.bytes(), st);
  be.copy_async(q.data(), d.q.data(), q.bytes(), st);
  std::vector<std::vector<const void*>> ptrs(copies);
  for (int c = 0; c < copies; ++c) {
    pools.push_back(be.allocate(MemoryKind::kDevice, d.pool.size()));
    be.copy_async(pools[c].data(), d.pool.data(), d.pool.size(), st);
    for (auto off : d.offsets) ptrs[c].push_back(static_cast<const char*>(pools[c].data()) + off);
    tables.push_back(be.allocate(MemoryKind::kDevice, ptrs[c].size() * sizeof(void*)));
    be.copy_async(tables[c].data(), ptrs[c].data(), tables[c].bytes(), st);
  }
  st.synchronize();
  GpuDecoder dec(be);
  dec.force_splits(opt.splits);
  auto args_for = [&](int c, bool kv_ready = false) {
    DecodeArgs a;
    a.shape = s;
    a.kv_ready = kv_ready;
    a.q = q.data();
    a.tables = {tables[c].as<const void*>(), begin.as<int>(), lens.as<int>()};
    a.host_block_begin = d.block_begin;
    a.host_seq_lens = d.seq_lens;
    a.o = o.as<float>();
    a.lse = lse.as<float>();
    return a;
  };
  // Verification run into poisoned outputs.
  be.fill_async(o.data(), 0xff, o.bytes(), st);
  be.fill_async(lse.data(), 0xff, lse.bytes(), st);
  dec.run(args_for(0), st);
  o_host.resize(s.q_elems());
  lse_host.resize(s.rows());
  be.copy_async(o_host.data(), o.data(), o.bytes(), st);
  be.copy_async(lse_host.data(), lse.data(), lse.bytes(), st);
  st.synchronize();

  const double one_ms =
      std::max(1e-3, static_cast<double>(d.kv_bytes) / 3e9 * 1e3);  // rough guess at 3 TB/s
  const int iters =
      opt.iters > 0 ? opt.iters : static_cast<int>(std::clamp(20.0 / one_ms, 20.0, 2000.0));
  auto e0 = be.create_event(), e1 = be.create_event();
  auto time_loop = [&](auto&& body) {
    for (int i = 0; i < 3; ++i) body(i);
    std::vector<double> per;
    for (int r = 0; r < opt.reps; ++r) {
      e0->record(st);
      for (int i = 0; i < iters; ++i) body(i);
      e1->record(st);
      e1->synchronize();
      per.push_back(e1->elapsed_ms(*e0) * 1e-3 / iters);
    }
    return median(per);
  };
  Timing t;
  t.copies = copies;
  // Interleave attention and ceiling measurements so clocks and heat treat both alike. The KV is
  // written before the loop: each call may read it while the previous one finishes (kv_ready,
  // unless --no-kv-ready); the same calls waiting for the previous one are timed too.
  std::vector<double> attn, attn_wait, ceil;
  for (int k = 0; k < 3; ++k) {
    attn.push_back(time_loop([&](int i) { dec.run(args_for(i % copies, opt.kv_ready), st); }));
    attn_wait.push_back(time_loop([&](int i) { dec.run(args_for(i % copies), st); }));
    ceil.push_back(time_loop([&](int i) {
      gpu_read_probe(pools[i % copies].data(), d.kv_bytes, sink.as<unsigned long long>(), st);
    }));
  }
  t.attn_s = median(attn);
  t.attn_wait_s = median(attn_wait);
  t.ceiling_s = median(ceil);
  t.splits = dec.last_splits();
  if (opt.trace > 0) {  // back-to-back launches, as in the timed loop, each with its timeline
    const long long ctas = dec.last_grid_ctas();
    const std::size_t per = static_cast<std::size_t>(ctas) * GpuDecoder::kTraceWords;
    Buffer tr = be.allocate(MemoryKind::kDevice, per * opt.trace * 8);
    be.fill_async(tr.data(), 0, tr.bytes(), st);
    for (int i = 0; i < opt.trace; ++i) {
      dec.set_trace(tr.as<unsigned long long>() + i * per, per);
      dec.run(args_for(i % copies, opt.kv_ready), st);
    }
    dec.set_trace(nullptr, 0);
    std::vector<unsigned long long> w(per * opt.trace);
    be.copy_async(w.data(), tr.data(), tr.bytes(), st);
    st.synchronize();
    t.trace = summarize_trace(w, opt.trace, ctas);
  }
  return t;
}

// CPU: KV in host memory, rotated over copies (>= 1 GiB together) so that repeated runs read
// host memory rather than a large last-level cache; the read ceiling rotates the same way.
Timing time_cpu(ThreadPool& pool, const HostData& d, const AttnOptions& opt, std::vector<float>& o,
                std::vector<float>& lse) {
  const CpuIsa isa =
      opt.isa == "auto"       ? best_cpu_isa()
      : opt.isa == "portable" ? CpuIsa::kPortable
      : opt.isa == "avx2"     ? CpuIsa::kAvx2
      : opt.isa == "avx512"   ? CpuIsa::kAvx512
      : opt.isa == "avx512bf16"
          ? CpuIsa::kAvx512Bf16
          : throw InvalidArgument("--isa " + opt.isa +
                                  "; expected auto, portable, avx2, avx512 or avx512bf16");
  o.assign(d.shape.q_elems(), NAN);
  lse.assign(d.shape.rows(), NAN);
  decode_cpu(host_args(d, o.data(), lse.data()), pool, isa);  // verification run, poisoned outputs
  const int copies = static_cast<int>(
      std::clamp<std::size_t>(((1ull << 30) + d.pool.size() - 1) / d.pool.size(), 1, 8));
  std::vector<std::vector<unsigned char>> pools(copies - 1);
  std::vector<std::vector<const void*>> blocks(copies);
  blocks[0] = d.blocks;
  for (int c = 1; c < copies; ++c) {
    pools[c - 1].resize(d.pool.size());
    pool.parallel_for(64, [&](std::size_t i) {
      const std::size_t lo = d.pool.size() * i / 64, hi = d.pool.size() * (i + 1) / 64;
      std::copy(d.pool.begin() + lo, d.pool.begin() + hi, pools[c - 1].begin() + lo);
    });
    for (auto off : d.offsets) blocks[c].push_back(pools[c - 1].data() + off);
  }
  auto pool_of = [&](int c) { return c == 0 ? d.pool.data() : pools[c - 1].data(); };
  const int iters = opt.iters > 0 ? opt.iters : 4 * copies;
  std::vector<float> scratch_o(o.size()), scratch_lse(lse.size());
  std::vector<DecodeArgs> args;
  for (int c = 0; c < copies; ++c) {
    DecodeArgs a = host_args(d, scratch_o.data(), scratch_lse.data());
    a.tables.blocks = blocks[c].data();
    args.push_back(a);
  }
  auto time_one = [&](auto&& body) {
    std::vector<double> v;
    for (int i = 0; i < iters; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      body(i % copies);
      v.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return median(v);
  };
  Timing t;
  t.isa = cpu_isa_name(isa);
  t.copies = copies;
  volatile unsigned long long sink = 0;
  std::vector<double> attn, ceil;
  for (int k = 0; k < 3; ++k) {
    attn.push_back(time_one([&](int c) { decode_cpu(args[c], pool, isa); }));
    ceil.push_back(
        time_one([&](int c) { sink = sink + cpu_read_probe(pool_of(c), d.kv_bytes, pool); }));
  }
  t.attn_s = median(attn);
  t.ceiling_s = median(ceil);
  return t;
}

int run_attention(const AttnOptions& opt) {
  if (opt.context < 1 || opt.batch < 1)
    throw InvalidArgument("--context and --batch must be positive");
  const Geometry g = resolve_geometry(opt.common);
  auto backend = resolve_backend(opt.common);
  if (opt.trace < 0 || (opt.trace > 0 && backend->kind() != BackendKind::kCuda))
    throw InvalidArgument("--trace " + std::to_string(opt.trace) +
                          ": expected 0, or launches to trace on the CUDA backend");
  ThreadPool pool(opt.threads);
  const HostData d = make_data(g, opt, pool);
  validate(host_args(d, reinterpret_cast<float*>(1), reinterpret_cast<float*>(1)),
           backend->kind() == BackendKind::kCuda);
  std::vector<float> o, lse;
  const Timing t = backend->kind() == BackendKind::kCuda ? time_gpu(*backend, d, opt, o, lse)
                                                         : time_cpu(pool, d, opt, o, lse);
  VerifyResult v;
  if (opt.verify) v = verify(d, o, lse, opt, pool);

  const double gbs = d.kv_bytes / t.attn_s / 1e9, ceil_gbs = d.kv_bytes / t.ceiling_s / 1e9;
  const double ratio = t.ceiling_s / t.attn_s;
  std::cout << "device: " << backend->device().name << " (" << backend_name(backend->kind())
            << ")\n"
            << "geometry: " << g.describe() << "\n";
  Table tab({"batch", "context", "q tokens", "KV read", "time", "GB/s", "read ceiling GB/s",
             "ratio", backend->kind() == BackendKind::kCuda ? "splits" : "isa/threads",
             "max o rel err", "max lse err"});
  tab.add({std::to_string(opt.batch), std::to_string(opt.context), std::to_string(opt.q_tokens),
           format_size(d.kv_bytes), fixed(t.attn_s * 1e6, 1) + " us", fixed(gbs, 1),
           fixed(ceil_gbs, 1), fixed(ratio, 3),
           backend->kind() == BackendKind::kCuda ? std::to_string(t.splits)
                                                 : t.isa + "/" + std::to_string(pool.size()),
           opt.verify ? fixed(v.o_rel * 1e6, 2) + "e-6" : "-",
           opt.verify ? fixed(v.lse_abs * 1e6, 2) + "e-6" : "-"});
  tab.print();
  if (backend->kind() == BackendKind::kCuda) {
    std::cout << "kv_ready " << (opt.kv_ready ? "on" : "off") << "; every call waiting for the "
              << "previous one (kv_ready off): " << fixed(t.attn_wait_s * 1e6, 1) << " us, ratio "
              << fixed(t.ceiling_s / t.attn_wait_s, 3) << "\n";
  }
  if (opt.verify) {
    std::cout << "verify: " << v.rows
              << " rows of sampled sequences/heads vs fp64 reference: " << (v.ok ? "ok" : "FAILED")
              << (v.bad ? " (" + std::to_string(v.bad) + " bad rows)" : "") << "\n";
  }
  nlohmann::json doc = result_header("attention", *backend);
  doc["geometry"] = {
      {"name", g.name},         {"q_heads", g.q_heads},         {"kv_heads", g.kv_heads},
      {"head_dim", g.head_dim}, {"dtype", dtype_name(g.dtype)}, {"block_tokens", g.block_tokens}};
  doc["batch"] = opt.batch;
  doc["context"] = opt.context;
  doc["q_tokens"] = opt.q_tokens;
  doc["layout"] = opt.layout;
  doc["kv_bytes"] = d.kv_bytes;
  doc["time_us"] = t.attn_s * 1e6;
  doc["gbps"] = gbs;
  doc["read_ceiling_gbps"] = ceil_gbs;
  doc["ratio_to_ceiling"] = ratio;
  if (backend->kind() == BackendKind::kCuda) {
    doc["splits"] = t.splits;
    doc["kv_ready"] = opt.kv_ready;
    doc["time_us_kv_wait"] = t.attn_wait_s * 1e6;
    doc["ratio_to_ceiling_kv_wait"] = t.ceiling_s / t.attn_wait_s;
    doc["kv_copies_rotated"] = t.copies;
    if (!t.trace.is_null()) doc["trace"] = t.trace;
    // A/B switches of the GPU kernel in effect (docs/attention.md), unset ones as "default".
    for (const char* name : {"KVTIER_ATTN_GPU_PDL", "KVTIER_ATTN_GPU_INTERLEAVE"}) {
      const char* v = std::getenv(name);
      doc["gpu_switches"][name] = v ? v : "default";
    }
  } else {
    doc["isa"] = t.isa;
    doc["threads"] = pool.size();
    doc["kv_copies_rotated"] = t.copies;
    const char* pf = std::getenv("KVTIER_ATTN_CPU_PREFETCH");
    doc["cpu_prefetch"] = pf ? pf : "default";
  }
  if (opt.verify) {
    doc["verify"] = {{"ok", v.ok},
                     {"rows", v.rows},
                     {"bad_rows", v.bad},
                     {"max_o_rel_err", v.o_rel},
                     {"max_lse_abs_err", v.lse_abs}};
  }
  write_json(opt.common.json_path, doc);
  return opt.verify && !v.ok ? 1 : 0;
}

}  // namespace

void add_attention_command(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<AttnOptions>();
  CLI::App* cmd = app.add_subcommand(
      "attention",
      "Partial decode attention over paged blocks vs the read ceiling; verified vs fp64");
  add_common_options(cmd, opts->common);
  cmd->add_option("--context", opts->context, "Tokens of each sequence")->capture_default_str();
  cmd->add_option("--batch", opts->batch, "Sequences")->capture_default_str();
  cmd->add_option("--q-tokens", opts->q_tokens, "Query tokens a sequence (1..8, causal)")
      ->capture_default_str();
  cmd->add_option("--iters", opts->iters, "Calls a timed loop (0: automatic)")
      ->capture_default_str();
  cmd->add_option("--reps", opts->reps, "Timed loops (median)")->capture_default_str();
  cmd->add_option("--threads", opts->threads, "CPU threads (0: all hardware threads)")
      ->capture_default_str();
  cmd->add_option("--isa", opts->isa, "CPU kernel: auto, portable, avx2, avx512, avx512bf16")
      ->capture_default_str();
  cmd->add_option("--splits", opts->splits, "GPU: force splits a sequence (0: automatic)")
      ->capture_default_str();
  cmd->add_option("--trace", opts->trace,
                  "GPU: launches to trace after the timing (per-CTA %globaltimer marks; 0: off)")
      ->capture_default_str();
  cmd->add_option("--verify-seqs", opts->verify_seqs, "Sequences sampled for verification")
      ->capture_default_str();
  cmd->add_option("--verify-heads", opts->verify_heads, "KV heads a sampled sequence verified")
      ->capture_default_str();
  cmd->add_option(
         "--layout", opts->layout,
         "Blocks in memory: shuffled (scattered, as slots of a pool) or ordered (table order)")
      ->capture_default_str();
  cmd->add_flag("--kv-ready,!--no-kv-ready", opts->kv_ready,
                "GPU: each timed call reads its K/V while the previous call finishes (DecodeArgs::"
                "kv_ready; default on: the KV is written before the loop). Calls that wait are "
                "timed too and reported beside");
  cmd->add_flag("--verify,!--no-verify", opts->verify,
                "Verify against the fp64 reference (default on)");
  cmd->callback([opts, exit_code] { *exit_code = run_attention(*opts); });
}

}  // namespace kvtier::bench
