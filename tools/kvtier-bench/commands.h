// Registration of kvtier-bench subcommands; each is defined in cmd_<name>.cpp. A subcommand's
// callback stores its exit code in *exit_code.
#pragma once

#include <CLI/CLI.hpp>

namespace kvtier::bench {

void add_info_command(CLI::App& app, int* exit_code);
void add_decode_command(CLI::App& app, int* exit_code);
void add_disk_command(CLI::App& app, int* exit_code);
void add_attention_command(CLI::App& app, int* exit_code);
void add_transfer_command(CLI::App& app, int* exit_code);

}  // namespace kvtier::bench
