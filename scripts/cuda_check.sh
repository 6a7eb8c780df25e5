#!/usr/bin/env bash
# On a GPU machine: build (CUDA, sm_90 unless KVTIER_CUDA_ARCHS is set), run every test (cpu and
# cuda labels), then each `cuda` test binary under compute-sanitizer memcheck, racecheck and
# synccheck. Logs go to $OUT (or build/cuda-check-logs) when set.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
out=${OUT:-build/cuda-check-logs}
mkdir -p "$out"
cmake --preset cuda -DCMAKE_CUDA_ARCHITECTURES="${KVTIER_CUDA_ARCHS:-90}" >/dev/null
cmake --build build/cuda -j "$(nproc)" "$@"
nvidia-smi -L | tee "$out/gpu.txt"
ctest --test-dir build/cuda --output-on-failure -j 4 -L cpu | tail -n 3
ctest --test-dir build/cuda --output-on-failure -L cuda 2>&1 | tee "$out/ctest-cuda.log" | tail -n 15
status=0
for bin in $(find build/cuda/tests -type f -name 'test_*cuda*' -perm -u+x); do
  for tool in memcheck racecheck synccheck; do
    name=$(basename "$bin")
    if compute-sanitizer --tool "$tool" --error-exitcode 99 "$bin" >"$out/sanitizer-$tool-$name.log" 2>&1; then
      echo "compute-sanitizer $tool $name: clean"
    else
      echo "compute-sanitizer $tool $name: FAILED (see $out/sanitizer-$tool-$name.log)"; status=1
      tail -n 20 "$out/sanitizer-$tool-$name.log"
    fi
  done
done
exit $status
