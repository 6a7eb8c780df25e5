// kvtier-bench info: devices and tiers found, and the capacity in tokens and sequences that a
// preset and budgets give.
#include <iostream>

#include "commands.h"
#include "common.h"
#include "kvtier/core/error.h"
#include "kvtier/core/units.h"
#include "kvtier_revision.h"

namespace kvtier::bench {
namespace {

struct InfoOptions {
  CommonOptions common;
  int context = 32768;
};

int run_info(const InfoOptions& o) {
  if (o.context <= 0) {
    throw InvalidArgument("--context " + std::to_string(o.context) + "; expected a positive token count");
  }
  const Geometry g = resolve_geometry(o.common);
  auto backend = resolve_backend(o.common);
  const Budgets budgets = resolve_budgets(o.common, *backend, g);
  const DeviceInfo& d = backend->device();

  std::string why;
  const int cuda_devices = cuda_device_count(&why);
  std::cout << "kvtier " << KVTIER_GIT_REVISION << "\n";
  std::cout << "CUDA: " << (cuda_compiled() ? "compiled in" : "not compiled in") << "; "
            << (cuda_devices > 0 ? std::to_string(cuda_devices) + " device(s)" : why) << "\n";
  std::cout << "backend: " << backend_name(d.kind) << " — " << d.name;
  if (d.kind == BackendKind::kCuda) {
    std::cout << ", " << d.multiprocessors << " SMs, compute " << d.compute_major << "."
              << d.compute_minor << ", " << format_size(d.total_memory) << " ("
              << format_size(d.free_memory) << " free)";
  }
  std::cout << "\nhost: " << d.host_threads << " hardware threads\n";
  std::cout << "geometry: " << g.describe() << "\n";
  std::cout << "block: " << format_size(g.slot_bytes()) << " a slot, " << format_size(g.layer_bytes())
            << " a layer, " << format_size(g.token_bytes()) << " of KV a token\n\n";

  const std::uint64_t blocks_per_seq = (static_cast<std::uint64_t>(o.context) + g.block_tokens - 1) / g.block_tokens;
  struct Row {
    const char* tier;
    std::uint64_t budget;
    const std::string& source;
  };
  const std::string total_source = "GPU + host";
  const Row rows[] = {{"gpu", budgets.gpu, budgets.gpu_source},
                      {"host", budgets.host, budgets.host_source},
                      {"total", budgets.gpu + budgets.host, total_source}};
  Table t({"tier", "budget", "slots", "tokens", "sequences@" + std::to_string(o.context), "budget from"});
  nlohmann::json doc = result_header("info", *backend);
  doc["geometry"] = {{"name", g.name}, {"layers", g.layers}, {"q_heads", g.q_heads},
                     {"kv_heads", g.kv_heads}, {"head_dim", g.head_dim},
                     {"dtype", dtype_name(g.dtype)}, {"block_tokens", g.block_tokens},
                     {"slot_bytes", g.slot_bytes()}, {"token_bytes", g.token_bytes()}};
  doc["context"] = o.context;
  doc["cuda"] = {{"compiled", cuda_compiled()}, {"devices", cuda_devices}};
  for (const Row& r : rows) {
    // Slots of each tier are counted separately: a block never straddles tiers.
    const std::uint64_t slots = r.tier == std::string("total")
                                    ? budgets.gpu / g.slot_bytes() + budgets.host / g.slot_bytes()
                                    : r.budget / g.slot_bytes();
    const std::uint64_t tokens = slots * static_cast<std::uint64_t>(g.block_tokens);
    const std::uint64_t seqs = slots / blocks_per_seq;
    t.add({r.tier, format_size(r.budget), format_count(slots), format_count(tokens), format_count(seqs), r.source});
    doc["tiers"][r.tier] = {{"budget_bytes", r.budget}, {"slots", slots}, {"tokens", tokens},
                            {"sequences", seqs}, {"source", r.source}};
  }
  t.print();
  std::cout << "\ndisk tier: not configured\n";
  write_json(o.common.json_path, doc);
  return 0;
}

}  // namespace

void add_info_command(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Devices and tiers found; KV capacity of a preset under the budgets");
  add_common_options(cmd, opts->common);
  cmd->add_option("--context", opts->context, "Context length (tokens) a sequence is counted with")
      ->capture_default_str();
  cmd->callback([opts, exit_code] { *exit_code = run_info(*opts); });
}

}  // namespace kvtier::bench
