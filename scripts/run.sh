#!/usr/bin/env bash
# The main job: builds kvtier-bench (release, CUDA where nvcc exists) and runs it. With no
# arguments it prints the capacity report of the default preset (`kvtier-bench info`); any
# arguments are passed to kvtier-bench, e.g. `bash scripts/run.sh info --preset llama-3.1-70b`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="$PATH:/usr/local/cuda/bin"
  preset=cuda
else
  preset=cpu
fi
# CUDA architectures: KVTIER_CUDA_ARCHS, else this machine's GPU (native), else sm_90 only (no GPU
# here: the CUDA code is not run, so one architecture is enough). `cmake --preset cuda` alone
# builds sm_80, 86, 89 and 90.
archs=${KVTIER_CUDA_ARCHS:-}
if [ -z "$archs" ]; then
  if nvidia-smi -L >/dev/null 2>&1; then archs=native; else archs=90; fi
fi
args=()
[ "$preset" = cuda ] && args+=("-DCMAKE_CUDA_ARCHITECTURES=$archs")
cmake --preset "$preset" "${args[@]}" >/dev/null
cmake --build "build/$preset" -j "$(nproc)" --target kvtier-bench >&2
[ $# -eq 0 ] && set -- info
exec "build/$preset/tools/kvtier-bench/kvtier-bench" "$@"
