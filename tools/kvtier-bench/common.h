// Flags shared by every kvtier-bench subcommand, and helpers for output (table, JSON).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kvtier/backend/backend.h"
#include "kvtier/core/geometry.h"

namespace kvtier::bench {

struct CommonOptions {
  std::string backend = "auto";
  std::string preset = "llama-3.1-8b";
  int layers = 0, q_heads = 0, kv_heads = 0, head_dim = 0;  // 0: from the preset
  std::string dtype;                                          // empty: from the preset
  std::string gpu_budget = "auto";
  std::string host_budget = "auto";
  int block_tokens = 16;
  std::string json_path;
};

// Adds --backend, --preset, --layers, --q-heads, --kv-heads, --head-dim, --dtype, --gpu-budget,
// --host-budget, --block-tokens and --json to a subcommand.
void add_common_options(CLI::App* cmd, CommonOptions& o);

// The preset with any explicit geometry flags applied, validated.
Geometry resolve_geometry(const CommonOptions& o);
std::unique_ptr<Backend> resolve_backend(const CommonOptions& o);

struct Budgets {
  std::uint64_t gpu = 0;   // bytes of the GPU tier (CPU backend: host memory standing in for it)
  std::uint64_t host = 0;  // bytes of the pinned host tier
  std::string gpu_source, host_source;  // "given" or how "auto" was derived
};
// "auto": GPU 90% of free device memory (CPU backend: 1 GiB), host 50% of physical memory.
// Throws InvalidArgument when a budget holds less than one slot.
Budgets resolve_budgets(const CommonOptions& o, const Backend& backend, const Geometry& g);

// A readable table on stdout: columns sized to their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Result document with the fields every benchmark records: command, date, git revision, device.
nlohmann::json result_header(const std::string& command, const Backend& backend);
void write_json(const std::string& path, const nlohmann::json& doc);  // no-op for empty path

// The command line of this process (set by main), for result headers.
void set_command_line(int argc, char** argv);
const std::string& command_line();

std::string fixed(double v, int decimals);

}  // namespace kvtier::bench
