#include "common.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "kvtier/core/error.h"
#include "kvtier/core/units.h"
#include "kvtier_revision.h"

namespace kvtier::bench {

void add_common_options(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("--backend", o.backend, "Where to run: auto (CUDA if a GPU is present), cpu or cuda")
      ->capture_default_str();
  std::string presets;
  for (const auto& n : preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  cmd->add_option("--preset", o.preset, "Model geometry preset: " + presets)->capture_default_str();
  cmd->add_option("--layers", o.layers, "Override the preset's number of layers");
  cmd->add_option("--q-heads", o.q_heads, "Override the preset's number of query heads");
  cmd->add_option("--kv-heads", o.kv_heads, "Override the preset's number of KV heads");
  cmd->add_option("--head-dim", o.head_dim, "Override the preset's head dimension");
  cmd->add_option("--dtype", o.dtype, "Override the preset's KV dtype: bf16, fp16 or fp32");
  cmd->add_option("--gpu-budget", o.gpu_budget,
                  "Bytes of GPU memory for the KV cache, e.g. 40GiB, or auto (90% of free)")
      ->capture_default_str();
  cmd->add_option("--host-budget", o.host_budget,
                  "Bytes of pinned host memory for the KV cache, e.g. 64GiB, or auto (50% of RAM)")
      ->capture_default_str();
  cmd->add_option("--block-tokens", o.block_tokens, "Tokens a block")->capture_default_str();
  cmd->add_option("--json", o.json_path, "Also write machine-readable results to this file");
}

Geometry resolve_geometry(const CommonOptions& o) {
  Geometry g = preset(o.preset);
  if (o.layers != 0) g.layers = o.layers;
  if (o.q_heads != 0) g.q_heads = o.q_heads;
  if (o.kv_heads != 0) g.kv_heads = o.kv_heads;
  if (o.head_dim != 0) g.head_dim = o.head_dim;
  if (!o.dtype.empty()) g.dtype = parse_dtype(o.dtype);
  g.block_tokens = o.block_tokens;
  if (o.layers || o.q_heads || o.kv_heads || o.head_dim || !o.dtype.empty()) g.name += "+custom";
  g.validate();
  return g;
}

std::unique_ptr<Backend> resolve_backend(const CommonOptions& o) {
  return make_backend(parse_backend_choice(o.backend));
}

Budgets resolve_budgets(const CommonOptions& o, const Backend& backend, const Geometry& g) {
  Budgets b;
  const DeviceInfo& d = backend.device();
  if (o.gpu_budget == "auto") {
    if (backend.kind() == BackendKind::kCuda) {
      b.gpu = d.free_memory / 10 * 9;
      b.gpu_source = "auto: 90% of " + format_size(d.free_memory) + " free on the GPU";
    } else {
      b.gpu = std::uint64_t{1} << 30;
      b.gpu_source = "auto: 1 GiB of host memory standing in for the GPU (CPU backend)";
    }
  } else {
    b.gpu = parse_size(o.gpu_budget);
    b.gpu_source = "given";
  }
  std::uint64_t host_total = d.total_memory;
  if (backend.kind() == BackendKind::kCuda) {
    host_total = make_backend(BackendChoice::kCpu)->device().total_memory;
  }
  if (o.host_budget == "auto") {
    b.host = host_total / 2;
    b.host_source = "auto: 50% of " + format_size(host_total) + " of host memory";
  } else {
    b.host = parse_size(o.host_budget);
    b.host_source = "given";
  }
  const std::uint64_t slot = g.slot_bytes();
  if (b.gpu < slot) {
    throw InvalidArgument("--gpu-budget " + format_size(b.gpu) + " is smaller than one block (" +
                          format_size(slot) + " for " + g.name + "); expected at least one block");
  }
  if (b.host < slot) {
    throw InvalidArgument("--host-budget " + format_size(b.host) + " is smaller than one block (" +
                          format_size(slot) + " for " + g.name + "); expected at least one block");
  }
  return b;
}

void Table::print() const {
  std::vector<std::size_t> width;
  for (const auto& r : rows_) {
    width.resize(std::max(width.size(), r.size()), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (std::size_t ri = 0; ri < rows_.size(); ++ri) {
    const auto& r = rows_[ri];
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      std::string cell = r[i];
      cell.resize(width[i], ' ');
      line += (i ? "  " : "") + cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
    if (ri == 0) {
      std::size_t total = 0;
      for (std::size_t i = 0; i < width.size(); ++i) total += width[i] + (i ? 2 : 0);
      std::cout << std::string(total, '-') << "\n";
    }
  }
  std::cout.flush();
}

namespace {
std::string& command_line_storage() {
  static std::string s;
  return s;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  command_line_storage() = s;
}
const std::string& command_line() { return command_line_storage(); }

nlohmann::json result_header(const std::string& command, const Backend& backend) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  const DeviceInfo& d = backend.device();
  nlohmann::json j;
  j["command"] = command;
  j["command_line"] = command_line();
  j["date"] = date;
  j["git_revision"] = KVTIER_GIT_REVISION;
  j["backend"] = backend_name(backend.kind());
  j["device"] = {{"name", d.name},
                 {"total_memory", d.total_memory},
                 {"multiprocessors", d.multiprocessors},
                 {"compute_capability", std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor)},
                 {"host_threads", d.host_threads}};
  if (backend.kind() == BackendKind::kCuda) {
    // Hardware queues the streams share (the CUDA backend asks for 32 unless set: backend.h).
    const char* q = std::getenv("CUDA_DEVICE_MAX_CONNECTIONS");
    j["cuda_device_max_connections"] = q ? q : "unset";
  }
  return j;
}

void write_json(const std::string& path, const nlohmann::json& doc) {
  if (path.empty()) return;
  std::ofstream f(path);
  if (!f) throw IoError("cannot open '" + path + "' for writing the JSON results");
  f << doc.dump(2) << "\n";
  if (!f) throw IoError("writing '" + path + "' failed");
  std::cout << "results written to " << path << "\n";
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace kvtier::bench
