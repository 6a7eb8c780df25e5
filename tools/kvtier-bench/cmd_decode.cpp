// kvtier-bench decode: the streamed decode loop for a preset geometry with synthetic per-layer
// model work, against the floors measured in the same run (device memory read, PCIe each way,
// host memory read), checked for exactness against the same loop with all KV on the GPU.
// Lists (comma-separated) of contexts, GPU budgets, depths and CPU shares run as a product;
// --sweep runs the table of contexts x GPU budgets. --disk adds the disk tier below a host budget:
// its read ceiling joins the floors, and blocks an earlier run left on disk are reused.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "decode_rig.h"
#include "floors.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"
#include "kvtier/transfer/disk_ceiling.h"

namespace kvtier::bench {
namespace {

struct DecodeOptions {
  CommonOptions common;
  std::string contexts = "32768";
  int batch = 1, steps = 16, warmup = 2;
  std::string depths = "1";
  std::string cpu_shares = "auto";
  std::string weights = "auto";
  std::uint32_t sink = 1, window = 2;
  int threads = 0, cpu_spin_us = pipeline::PipelineConfig{}.cpu_spin_us;
  bool sweep = false, verify = true;
  std::string floor_bytes = "1GiB";
  std::string disk_dir, disk_budget = "auto", disk_io = "auto";
  int disk_group_layers = 0;  // 0: the pipeline's default
  int disk_buffers = pipeline::PipelineConfig{}.disk_buffers;
  std::string transfer = "auto";
};


std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  if (out.empty()) throw InvalidArgument("empty list '" + s + "'");
  return out;
}

int parse_int(const std::string& s, const char* flag) {
  try {
    std::size_t used = 0;
    const long v = std::stol(s, &used, 0);
    if (used == s.size() && v >= 0 && v <= (1L << 30)) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  throw InvalidArgument(std::string(flag) + " '" + s + "': expected a non-negative integer");
}

// Model weight bytes (bf16) of the presets, for --weights auto.
std::size_t preset_weight_bytes(const std::string& name) {
  static const std::map<std::string, double> kParams = {
      {"llama-3.1-8b", 8.03e9}, {"llama-3.1-70b", 70.6e9}, {"mistral-7b", 7.24e9},
      {"qwen2.5-7b", 7.62e9},   {"smollm2-135m", 0.135e9}, {"tiny", 0}};
  const auto it = kParams.find(name);
  return it == kParams.end() ? 0 : static_cast<std::size_t>(it->second * 2);
}

// A GPU budget: "all" (every block), "min" (sink + window), a fraction of the KV, or a size.
SlotIndex gpu_slots_for(const std::string& spec, SlotIndex needed, SlotIndex protect, const Geometry& g) {
  if (spec == "all") return needed;
  if (spec == "min") return protect;
  if (spec.find_first_not_of("0123456789.") == std::string::npos && spec.find('.') != std::string::npos) {
    const double f = std::stod(spec);
    if (f < 0 || f > 1) throw InvalidArgument("--gpu-budget fraction '" + spec + "': expected 0..1");
    return std::max(protect, static_cast<SlotIndex>(std::llround(f * needed)));
  }
  const std::uint64_t bytes = parse_size(spec);
  const std::uint64_t slots = bytes / g.slot_bytes();
  if (slots == 0) {
    throw InvalidArgument("--gpu-budget " + spec + " is smaller than one block (" + format_size(g.slot_bytes()) + ")");
  }
  const auto gs = static_cast<SlotIndex>(std::min<std::uint64_t>(slots, needed));
  if (gs < protect) {  // as the run would find, but before any work
    throw InvalidArgument("--gpu-budget " + spec + " holds " + std::to_string(gs) +
                          " blocks, below sink + window for the batch (" + std::to_string(protect) +
                          " blocks, " +
                          format_size(static_cast<std::uint64_t>(protect) * g.slot_bytes()) +
                          "; --sink and --window are per sequence)");
  }
  return gs;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b, int dim) {
  double worst = 0;
  for (std::size_t r = 0; r + dim <= a.size(); r += dim) {
    double diff = 0, mag = 0;
    for (int d = 0; d < dim; ++d) {
      if (!std::isfinite(a[r + d]) || !std::isfinite(b[r + d])) return INFINITY;
      diff = std::max(diff, std::fabs(static_cast<double>(a[r + d]) - b[r + d]));
      mag = std::max(mag, std::fabs(static_cast<double>(b[r + d])));
    }
    worst = std::max(worst, diff / std::max(mag, 1e-20));
  }
  return worst;
}

// The CPU share's gain: each run of one budget and depth (runs[first..]) against the same
// group's run with the CPU share off, as step time off / step time, printed and in the JSON.
void report_cpu_share_gain(nlohmann::json& runs, std::size_t first) {
  const nlohmann::json* off = nullptr;
  for (std::size_t i = first; i < runs.size(); ++i)
    if (runs[i]["cpu_share"] == "off") off = &runs[i];
  if (off == nullptr) return;
  const double off_ms = (*off)["step_ms"];
  for (std::size_t i = first; i < runs.size(); ++i) {
    nlohmann::json& r = runs[i];
    if (&r == off) continue;
    const double gain = off_ms / r["step_ms"].get<double>();
    r["gain_vs_cpu_share_off"] = gain;
    std::cout << "  cpu share " << r["cpu_share"].get<std::string>()
              << " vs off: " << fixed(gain, 2) << "x" << std::endl;
  }
}

int run(DecodeOptions o) {
  if (o.sweep) {
    if (o.contexts == "32768") o.contexts = "8192,16384,32768,65536,131072";
    if (o.common.gpu_budget == "0.5") o.common.gpu_budget = "all,0.75,0.5,min";
  }
  const Geometry g = resolve_geometry(o.common);
  const TransferConfig transfer = parse_transfer_setting(o.transfer);  // refused before any work
  auto backend = resolve_backend(o.common);
  ThreadPool threads(o.threads);
  std::vector<int> contexts, depths;
  for (const auto& s : split_list(o.contexts)) contexts.push_back(parse_int(s, "--context"));
  for (const auto& s : split_list(o.depths)) depths.push_back(parse_int(s, "--depth"));
  const auto budgets = split_list(o.common.gpu_budget);
  std::vector<pipeline::CpuShare> shares;
  for (const auto& s : split_list(o.cpu_shares)) shares.push_back(pipeline::CpuShare::parse(s));
  // The auto split searches for the fastest split while it runs: give it steps to get there.
  // Every run takes the same steps, so that last-step outputs compare.
  const int auto_warmup = std::max(o.warmup, 18);
  const bool any_auto = std::any_of(shares.begin(), shares.end(),
                                    [](const auto& s) { return s.mode == pipeline::CpuShare::Mode::kAuto; });
  const int max_warmup = any_auto ? auto_warmup : o.warmup;
  const std::size_t weights = o.weights == "auto" ? preset_weight_bytes(preset(o.common.preset).name)
                              : o.weights == "0"  ? 0
                                                  : parse_size(o.weights);
  std::uint64_t host_budget = 0;
  {
    CommonOptions c = o.common;
    c.gpu_budget = "auto";
    host_budget = resolve_budgets(c, *backend, g).host;
  }
  const bool with_disk = !o.disk_dir.empty();
  const DiskIoMode disk_io = parse_disk_io_mode(o.disk_io);
  std::uint64_t disk_bytes = 0;  // the disk budget
  if (with_disk) {
    std::uint64_t most = 0;
    for (int ctx : contexts) most = std::max<std::uint64_t>(most, blocks_per_sequence(g, ctx, max_warmup + o.steps));
    // auto: the whole KV of the largest run, so that all of it can persist for the next run.
    disk_bytes = o.disk_budget == "auto" ? most * static_cast<std::uint64_t>(o.batch) * disk_slot_stride(g)
                                         : parse_size(o.disk_budget);
    if (disk_bytes < disk_slot_stride(g)) {
      throw InvalidArgument("--disk-budget " + format_size(disk_bytes) + " is smaller than one disk slot (" +
                            format_size(disk_slot_stride(g)) + ")");
    }
  } else if (o.disk_budget != "auto") {
    throw InvalidArgument("--disk-budget needs --disk DIR");
  }
  const std::uint64_t host_slots_max = host_budget / g.slot_bytes();
  const std::uint64_t disk_slots_max = with_disk ? disk_bytes / disk_slot_stride(g) : 0;
  // Bad settings fail here, before any work.
  for (int ctx : contexts) {
    if (ctx < 1) throw InvalidArgument("--context must be >= 1");
    const SlotIndex needed = blocks_per_sequence(g, ctx, max_warmup + o.steps) * static_cast<SlotIndex>(o.batch);
    const SlotIndex protect = (o.sink + o.window) * static_cast<SlotIndex>(o.batch);
    for (const auto& spec : budgets) {
      const SlotIndex gs = gpu_slots_for(spec, needed, protect, g);
      const std::uint64_t off_gpu = needed - std::min(needed, gs);
      if (with_disk && off_gpu > host_slots_max + disk_slots_max) {
        throw InvalidArgument("context " + std::to_string(ctx) + " x batch " + std::to_string(o.batch) +
                              " with GPU budget " + spec + " needs " + format_size(off_gpu * g.slot_bytes()) +
                              " off the GPU; --host-budget " + format_size(host_budget) + " and --disk-budget " +
                              format_size(disk_bytes) + " hold " +
                              format_size((host_slots_max + disk_slots_max) * g.slot_bytes()));
      }
      if (!with_disk && off_gpu * g.slot_bytes() > host_budget) {
        throw InvalidArgument("context " + std::to_string(ctx) + " x batch " + std::to_string(o.batch) + " with GPU budget " +
                              spec + " needs " + format_size(static_cast<std::uint64_t>(needed - gs) * g.slot_bytes()) +
                              " of host memory; --host-budget is " + format_size(host_budget));
      }
    }
  }
  for (int d : depths) {
    if (d > 8) throw InvalidArgument("--depth " + std::to_string(d) + ": expected 0..8");
  }
  // Device memory of the largest configuration: GPU pool, staging ring of d + 1 buffers holding
  // every host block of a layer, one layer of weights.
  backend->refresh_device_info();
  const std::uint64_t free_bytes = backend->device().free_memory;
  const int max_depth = *std::max_element(depths.begin(), depths.end());
  for (int ctx : contexts) {
    const SlotIndex needed = blocks_per_sequence(g, ctx, max_warmup + o.steps) * static_cast<SlotIndex>(o.batch);
    const SlotIndex protect = (o.sink + o.window) * static_cast<SlotIndex>(o.batch);
    for (const auto& spec : budgets) {
      const SlotIndex gs = gpu_slots_for(spec, needed, protect, g);
      const std::uint64_t host_blocks = needed - std::min(needed, gs);
      const std::uint64_t vram = static_cast<std::uint64_t>(gs) * g.slot_bytes() +
                                 (host_blocks ? (max_depth + 1) * host_blocks * g.layer_bytes() : 0) +
                                 weights / static_cast<std::uint64_t>(g.layers);
      if (vram > free_bytes) {
        throw InvalidArgument("context " + std::to_string(ctx) + " with GPU budget " + spec + " and depth " +
                              std::to_string(max_depth) + " needs " + format_size(vram) +
                              " of device memory (pool, staging ring, weights); " + format_size(free_bytes) +
                              " is free: lower --gpu-budget or --depth");
      }
    }
  }

  std::cout << "kvtier-bench decode: " << g.describe() << ", batch " << o.batch << ", " << o.steps << " steps, weights "
            << format_size(weights) << "\nmeasuring floors..." << std::endl;
  const Floors floors = measure_floors(*backend, threads, parse_size(o.floor_bytes));
  std::cout << "floors: device read " << fixed(floors.device_read / 1e9, 1) << " GB/s, h2d " << fixed(floors.h2d / 1e9, 1)
            << " GB/s, d2h " << fixed(floors.d2h / 1e9, 1) << " GB/s, host read " << fixed(floors.host_read / 1e9, 1)
            << " GB/s" << std::endl;
  std::optional<DiskCeiling> disk_floor;
  if (with_disk) {
    prepare_disk_directory(o.disk_dir);
    // The device's best raw O_DIRECT figures over two request sizes: 16 MiB, and the size of the
    // pipeline's own reads (a group of layers of one block), which some devices serve faster;
    // best of three read passes over the same bytes.
    const std::uint64_t group_bytes =
        (static_cast<std::uint64_t>(pipeline::disk_group_layers(g, o.disk_group_layers)) * g.layer_bytes() + 4095) /
        4096 * 4096;
    for (std::uint64_t request : {std::uint64_t{16} << 20, group_bytes}) {
      DiskCeilingOptions co;
      co.dir = o.disk_dir;
      co.total_bytes = parse_size(o.floor_bytes);
      co.block_bytes = request;
      co.io = disk_io;
      co.queue_depth = disk_queue_depth(g, 0);  // the pipeline's store keeps as many in flight
      co.require_direct_io = false;
      co.read_passes = 3;  // a step reads the same disk blocks again every step: so does the floor
      const DiskCeiling c = measure_disk_ceiling(co);
      std::cout << "disk floor (" << o.disk_dir << ", O_DIRECT " << format_size(request) << " requests, " << c.io_path
                << "): read " << fixed(c.read_bytes_per_s / 1e9, 2) << " GB/s, write "
                << fixed(c.write_bytes_per_s / 1e9, 2) << " GB/s" << std::endl;
      if (!disk_floor || c.read_bytes_per_s > disk_floor->read_bytes_per_s) disk_floor = c;
    }
  }

  nlohmann::json doc = result_header("decode", *backend);
  doc["geometry"] = {{"name", g.name}, {"layers", g.layers}, {"q_heads", g.q_heads}, {"kv_heads", g.kv_heads},
                     {"head_dim", g.head_dim}, {"dtype", dtype_name(g.dtype)}, {"block_tokens", g.block_tokens}};
  doc["batch"] = o.batch;
  doc["steps"] = o.steps;
  doc["weight_bytes"] = weights;
  doc["transfer"] = o.transfer;
  doc["cpu_threads"] = o.threads;
  doc["cpu_spin_us"] = o.cpu_spin_us;
  doc["floors"] = floors.to_json();
  if (disk_floor) {
    doc["floors"]["disk_read_gbps"] = disk_floor->read_bytes_per_s / 1e9;
    doc["floors"]["disk_write_gbps"] = disk_floor->write_bytes_per_s / 1e9;
    doc["disk"] = {{"dir", o.disk_dir}, {"budget_bytes", disk_bytes}, {"io", disk_floor->io_path},
                   {"host_budget_bytes", host_budget}};
  }
  std::vector<std::string> columns = {"context", "GPU budget", "off GPU", "depth", "cpu share", "VRAM", "ms/step",
                                      "tok/s", "streamed/step", "CPU/step"};
  if (with_disk) columns.insert(columns.end(), {"disk/step", "reused"});
  columns.insert(columns.end(), {"floor ms", "efficiency", "vs all-GPU", "max rel err"});
  Table t(columns);
  bool all_exact = true;
  for (int ctx : contexts) {
    const SlotIndex needed = blocks_per_sequence(g, ctx, max_warmup + o.steps) * static_cast<SlotIndex>(o.batch);
    const SlotIndex protect = (o.sink + o.window) * static_cast<SlotIndex>(o.batch);
    DecodeRunConfig base;
    base.geometry = g;
    base.context = ctx;
    base.batch = o.batch;
    base.steps = o.steps;
    base.warmup = max_warmup;  // every run the same steps: outputs are compared at the last one
    base.sink_blocks = o.sink;
    base.window_blocks = o.window;
    base.weight_bytes = weights;
    base.pipeline.cpu_threads = o.threads;
    base.pipeline.cpu_spin_us = o.cpu_spin_us;
    base.transfer = transfer;
    // Hand-off prior: ~0.5 ms a layer was measured on an H200 host (q to host, wake-up, fork/join of
    // the CPU threads, result back); the search corrects it anyway.
    base.pipeline.prior = {floors.h2d * 0.9, floors.host_read * 0.6, floors.device_read * 0.8, 500e-6};
    // The all-GPU loop: the baseline of slowdown and exactness.
    std::optional<DecodeRunResult> all;
    try {
      DecodeRunConfig c = base;
      c.gpu_slots = needed;
      c.host_slots = 0;
      c.pipeline.cpu_share = pipeline::CpuShare::parse("off");
      all = run_decode(*backend, threads, c);
    } catch (const OutOfMemory& e) {
      std::cout << "context " << ctx << ": all-GPU baseline does not fit (" << e.what() << ")" << std::endl;
    }
    for (const auto& spec : budgets) {
      const SlotIndex gs = gpu_slots_for(spec, needed, protect, g);
      for (int depth : depths) {
        const std::size_t group = doc["runs"].size();  // this budget and depth's runs start here
        for (const auto& share : shares) {
          DecodeRunConfig c = base;
          c.gpu_slots = gs;
          c.host_slots = needed - std::min(needed, gs);
          if (with_disk) {
            c.host_slots = static_cast<SlotIndex>(std::min<std::uint64_t>(c.host_slots, host_slots_max));
            c.disk_dir = o.disk_dir;
            c.disk_bytes = disk_bytes;
            c.disk_io = disk_io;
            c.pipeline.disk_group_layers = o.disk_group_layers;
            c.pipeline.disk_buffers = o.disk_buffers;
          }
          c.pipeline.depth = depth;
          c.pipeline.cpu_share = share;
          const bool is_all = c.host_slots == 0 && !with_disk;
          const DecodeRunResult r = is_all && all ? *all : run_decode(*backend, threads, c);
          const auto& st = r.last;
          const double gpu_bytes = static_cast<double>(weights + st.resident_bytes + st.streamed_bytes);
          // Disk blocks cross PCIe too: the attention kernel reads them from pinned host memory.
          const double disk_s = disk_floor ? st.disk_bytes / disk_floor->read_bytes_per_s : 0.0;
          const double floor_s = std::max({gpu_bytes / floors.device_read, (st.streamed_bytes + st.disk_bytes) / floors.h2d,
                                           st.cpu_bytes / floors.host_read, disk_s});
          const double eff = floor_s / r.step_seconds;
          const double off = 1.0 - static_cast<double>(std::min(gs, needed)) / needed;
          std::optional<double> err, slowdown;
          if (all) {
            err = max_rel_diff(r.outputs, all->outputs, g.head_dim);
            slowdown = r.step_seconds / all->step_seconds;
            if (o.verify && !(*err <= 1e-3)) all_exact = false;
          }
          std::vector<std::string> row = {std::to_string(ctx), spec, fixed(100 * off, 0) + "%", std::to_string(depth),
                                          share.describe(), format_size(r.vram_bytes), fixed(r.step_seconds * 1e3, 2),
                                          fixed(o.batch / r.step_seconds, 1), format_size(st.streamed_bytes),
                                          format_size(st.cpu_bytes)};
          if (with_disk) row.insert(row.end(), {format_size(st.disk_bytes), std::to_string(r.reused_blocks)});
          row.insert(row.end(), {fixed(floor_s * 1e3, 2), fixed(eff, 3), slowdown ? fixed(*slowdown, 2) + "x" : "n/a",
                                 err ? fixed(*err, 6) : "n/a"});
          t.add(row);
          doc["runs"].push_back(
              {{"context", ctx},
               {"gpu_budget", spec},
               {"gpu_slots", gs},
               {"offloaded_fraction", off},
               {"depth", depth},
               {"cpu_share", share.describe()},
               {"cpu_fraction", st.cpu_fraction},
               {"vram_bytes", r.vram_bytes},
               {"step_ms", r.step_seconds * 1e3},
               {"tokens_per_s", o.batch / r.step_seconds},
               {"streamed_bytes", st.streamed_bytes},
               {"cpu_bytes", st.cpu_bytes},
               {"resident_bytes", st.resident_bytes},
               {"floor_ms", floor_s * 1e3},
               {"efficiency", eff},
               // Streamed copies and CPU attention read the same host memory.
               {"host_memory_floor_ms",
                (st.streamed_bytes + st.cpu_bytes) / floors.host_read * 1e3},
               {"slowdown_vs_all_gpu", slowdown ? nlohmann::json(*slowdown) : nlohmann::json()},
               {"max_rel_err_vs_all_gpu", err ? nlohmann::json(*err) : nlohmann::json()},
               {"write_back_moves", r.moves},
               {"cpu_wait_ms", st.cpu_wait_seconds * 1e3},
               {"stage_enqueue_ms", st.stage_seconds * 1e3},
               {"cpu_idle_ms", st.cpu_idle_seconds * 1e3},
               {"driver_wake_ms", st.driver_wake_seconds * 1e3},
               {"q_turnaround_ms", st.q_turnaround_seconds * 1e3},
               {"gpu_gap_ms", st.gpu_gap_seconds * 1e3},
               {"cpu_rate_gbps", r.rates.cpu / 1e9},
               {"setup_s", r.setup_seconds},
               {"warmup_steps", base.warmup}});
          nlohmann::json trace = nlohmann::json::array();
          for (const pipeline::StepStats& s : r.trace)
            trace.push_back({s.seconds * 1e3, s.cpu_fraction, s.balance_seconds * 1e3});
          doc["runs"].back()["steps_ms_cpu_fraction_balance_ms"] = std::move(trace);
          if (with_disk) {
            // What the disk tier saved: prompt tokens whose KV came from disk instead of a
            // prefill (~2 x parameters FLOPs a token: weight bytes are bf16, 2 bytes a parameter).
            doc["runs"].back()["disk"] = {
                {"host_slots", c.host_slots}, {"disk_slots", r.disk_slots}, {"disk_bytes", st.disk_bytes},
                {"disk_blocks", st.disk_blocks}, {"disk_wait_ms", st.disk_wait_seconds * 1e3},
                {"disk_floor_ms", disk_s * 1e3}, {"blocks_found_at_open", r.disk_blocks_found},
                {"reused_blocks", r.reused_blocks}, {"reused_tokens", r.reused_tokens},
                {"prefill_flops_saved", static_cast<double>(r.reused_tokens) * static_cast<double>(weights)},
                {"persisted_blocks", r.persisted_blocks}, {"persist_s", r.persist_seconds},
                {"staging_host_bytes", r.disk_staging_bytes}, {"bytes_read", r.disk.bytes_read},
                {"bytes_written", r.disk.bytes_written}, {"corruptions", r.disk.corruptions}, {"io", r.disk.io_path}};
            std::cout << "  disk: " << r.disk_blocks_found << " blocks found at open, " << r.reused_blocks
                      << " reused (" << r.reused_tokens << " prompt tokens not prefilled), "
                      << format_size(st.disk_bytes) << " read a step, " << r.persisted_blocks
                      << " blocks persisted at the end" << std::endl;
          }
          std::cout << "context " << ctx << ", GPU budget " << spec << ", depth " << depth << ", cpu share "
                    << share.describe() << ": " << fixed(r.step_seconds * 1e3, 2) << " ms/step, efficiency "
                    << fixed(eff, 3) << std::endl;
        }
        report_cpu_share_gain(doc["runs"], group);
      }
    }
  }
  std::cout << "\n";
  t.print();
  doc["exact"] = all_exact;
  write_json(o.common.json_path, doc);
  if (!all_exact) {
    std::cerr << "kvtier-bench decode: tiered outputs differ from the all-GPU outputs by more than 1e-3\n";
    return 1;
  }
  return 0;
}

}  // namespace

void add_decode_command(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<DecodeOptions>();
  o->common.gpu_budget = "0.5";
  CLI::App* cmd = app.add_subcommand(
      "decode", "Streamed decode steps (GPU / host / CPU share) vs the floors, checked against all-GPU outputs");
  add_common_options(cmd, o->common);
  cmd->get_option("--gpu-budget")
      ->description("GPU KV budget(s), comma-separated: a fraction of the KV kept on the GPU (0.5), a size (8GiB), "
                    "all, or min (sink + window only)");
  cmd->add_option("--context", o->contexts, "Context length(s) in tokens, comma-separated")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Sequences decoded together")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--steps", o->steps, "Timed decode steps")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", o->warmup, "Untimed steps first (at least 18 with --cpu-share auto, to find its split)")->capture_default_str()->check(CLI::Range(0, 1000));
  cmd->add_option("--depth", o->depths, "Prefetch depth(s) d: the staging ring has d + 1 buffers (0: no overlap)")
      ->capture_default_str();
  cmd->add_option("--cpu-share", o->cpu_shares, "CPU share(s) of the host blocks: auto, off or a fraction 0..1")
      ->capture_default_str();
  cmd->add_option("--weights", o->weights, "Model weight bytes read per step: auto (from the preset), 0, or a size")
      ->capture_default_str();
  cmd->add_option("--sink", o->sink, "First blocks of a sequence kept on the GPU")->capture_default_str();
  cmd->add_option("--window", o->window, "Last blocks of a sequence kept on the GPU")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--threads", o->threads, "Host threads for the CPU share and set-up (0: all)")->capture_default_str();
  cmd->add_option("--cpu-spin-us", o->cpu_spin_us,
                  "Microseconds the CPU share's idle threads watch for the next layer before sleeping")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--floor-bytes", o->floor_bytes, "Bytes of each floor measurement")->capture_default_str();
  cmd->add_option("--disk", o->disk_dir,
                  "Disk tier directory (created 0700): KV beyond --host-budget goes there; blocks left there "
                  "by an earlier run with the same prompts are reused");
  cmd->add_option("--disk-budget", o->disk_budget,
                  "Disk tier size (auto: the whole KV of the largest run, so all of it persists)")
      ->capture_default_str();
  cmd->add_option("--disk-io", o->disk_io, "Disk I/O path: auto, uring or threads")->capture_default_str();
  cmd->add_option("--disk-group-layers", o->disk_group_layers,
                  "Layers of a disk block read in one request (0: the pipeline's default)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_option("--disk-buffers", o->disk_buffers, "Layer groups of disk reads in flight (staging buffers)")
      ->check(CLI::Range(2, 64))
      ->capture_default_str();
  cmd->add_option("--transfer", o->transfer,
                  "Transfer setting of the streamed copies, H2D[/D2H][@SMS][xSTREAMS][+overlap][+flat] "
                  "of auto, kernel, batch, runs (as in `transfer --methods`)")
      ->capture_default_str();
  cmd->add_flag("--sweep", o->sweep,
                "Contexts 8K..128K x GPU budgets all, 0.75, 0.5, min (unless --context / --gpu-budget are given)");
  cmd->add_flag("!--no-verify", o->verify, "Do not fail when tiered outputs differ from all-GPU outputs");
  cmd->callback([o, exit_code] { *exit_code = run(*o); });
}

}  // namespace kvtier::bench
