// kvtier-bench: capacity reports and benchmarks of kvtier against the hardware's floors.
#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.h"
#include "common.h"
#include "kvtier/core/error.h"

int main(int argc, char** argv) {
  kvtier::bench::set_command_line(argc, argv);
  CLI::App app{
      "kvtier-bench: tiered KV cache (GPU / pinned host / disk) benchmarks.\n"
      "Every benchmark measures the hardware's ceilings in the same run and reports ratios.",
      "kvtier-bench"};
  app.require_subcommand(1);
  int exit_code = 0;
  kvtier::bench::add_info_command(app, &exit_code);
  kvtier::bench::add_decode_command(app, &exit_code);
  kvtier::bench::add_disk_command(app, &exit_code);
  kvtier::bench::add_attention_command(app, &exit_code);
  kvtier::bench::add_transfer_command(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const kvtier::Error& e) {
    std::cerr << "kvtier-bench: error: " << e.what() << "\n";
    return 2;
  }
  return exit_code;
}
