#!/usr/bin/env bash
# Installs what kvtier needs to build and test (Debian/Ubuntu), where it is missing. Safe to run
# again. On a machine without a package registry, the headers must already be there.
set -euo pipefail

need=()
have_header() { [ -e "/usr/include/$1" ] || [ -e "/usr/local/include/$1" ]; }
command -v cmake >/dev/null || need+=(cmake)
command -v ninja >/dev/null || need+=(ninja-build)
command -v g++ >/dev/null || need+=(g++)
command -v git >/dev/null || need+=(git)
command -v python3 >/dev/null || need+=(python3)  # tests/cli checks result JSON with it
have_header gtest/gtest.h || need+=(libgtest-dev)
have_header benchmark/benchmark.h || need+=(libbenchmark-dev)
have_header CLI/CLI.hpp || need+=(libcli11-dev)
have_header nlohmann/json.hpp || need+=(nlohmann-json3-dev)
have_header liburing.h || need+=(liburing-dev)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  if ! command -v apt-get >/dev/null; then
    echo "setup: apt-get not found; install these by hand: ${need[*]}" >&2
    exit 1
  fi
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# cmake >= 3.25 is required (CMakePresets version 6).
ver=$(cmake --version | head -1 | awk '{print $3}')
if ! printf '3.25.0\n%s\n' "$ver" | sort -V -C; then
  echo "setup: cmake $ver is older than 3.25; install a newer cmake (e.g. pip install cmake)" >&2
  exit 1
fi
