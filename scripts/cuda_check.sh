#!/usr/bin/env bash
# On a GPU machine: build everything (CUDA, sm_90 unless KVTIER_CUDA_ARCHS is set), run every test
# (labels cpu and cuda), then the `cuda` test binaries under compute-sanitizer (memcheck, racecheck,
# synccheck). Tests that fault or fail an allocation on purpose are left out of the sanitizer runs
# (memcheck counts the API error of a deliberate failed cudaMalloc as an error). Logs go to $OUT (or
# build/cuda-check-logs). SAN_BINARIES="test_pipeline_cuda ...": build and sanitize only those
# (no ctest); SAN_TOOLS, SAN_TIMEOUT (seconds a run) as below.
set -uo pipefail
set -f  # the gtest filters below hold * : no globbing
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
out=${OUT:-build/cuda-check-logs}
mkdir -p "$out"
cmake --preset cuda -DCMAKE_CUDA_ARCHITECTURES="${KVTIER_CUDA_ARCHS:-90}" >"$out/configure.log" 2>&1 || { tail "$out/configure.log"; exit 1; }
only=${SAN_BINARIES:-}
cmake --build build/cuda -j "$(nproc)" ${only:+--target $only} >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
nvidia-smi -L | tee "$out/gpu.txt"
status=0
if [ -z "$only" ]; then
  ctest --test-dir build/cuda -L cpu -j 8 >"$out/ctest-cpu.log" 2>&1 || status=1
  tail -n 4 "$out/ctest-cpu.log" | head -n 1
  ctest --test-dir build/cuda -L cuda --timeout 600 >"$out/ctest-cuda.log" 2>&1 || status=1
  grep -E "tests passed|Failed|\*\*\*" "$out/ctest-cuda.log" | head -n 20
fi
# binary, then a gtest filter for the sanitizer runs
sanitize=(
  "tests/cpp/backend/test_backend_cuda -CudaBackendTest.AllocationErrors"  # asks cudaMalloc for 4 EiB
  "tests/cpp/pipeline/test_pipeline_cuda *"
  "tests/cpp/transfer/test_transfer_cuda -CudaTransferDeathTest.*"
  "tests/cpp/attention/test_attention_cuda ${ATTN_SAN_FILTER:-AttentionCuda.ForcedSplitsMerge:AttentionCuda.BlockSizesMultipleOf8:AttentionCudaMerge.*}"
)
for entry in "${sanitize[@]}"; do
  set -- $entry
  bin=build/cuda/$1 filter=$2 name=$(basename "$1")
  [ -n "$only" ] && [[ " $only " != *" $name "* ]] && continue
  for tool in ${SAN_TOOLS:-memcheck racecheck synccheck}; do
    if timeout "${SAN_TIMEOUT:-300}" compute-sanitizer --tool "$tool" --error-exitcode 99 "$bin" --gtest_filter="$filter" \
        >"$out/sanitizer-$tool-$name.log" 2>&1; then
      echo "compute-sanitizer $tool $name ($filter): clean, $(grep -c '^\[       OK' "$out/sanitizer-$tool-$name.log") tests"
    else
      echo "compute-sanitizer $tool $name: FAILED (rc $?)"; status=1
      tail -n 15 "$out/sanitizer-$tool-$name.log"
    fi
  done
done
exit $status
