#!/usr/bin/env bash
# The test command: installs what is missing, builds kvtier (CUDA code too where nvcc exists),
# runs every `cpu` test, then the same tests under AddressSanitizer + UndefinedBehaviorSanitizer,
# then under ThreadSanitizer.
# On a machine with a GPU, also runs the `cuda` tests (KVTIER_TEST_CUDA=0 skips them).
#   KVTIER_CUDA_ARCHS   CUDA architectures to build (default: 90 here, for speed; the cuda preset
#                       alone builds 80;86;89;90)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

jobs=$(nproc)
archs=${KVTIER_CUDA_ARCHS:-90}
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="$PATH:/usr/local/cuda/bin"
  preset=cuda
  cmake --preset cuda -DCMAKE_CUDA_ARCHITECTURES="$archs" >/dev/null
else
  preset=cpu
  cmake --preset cpu >/dev/null
fi
echo "== build ($preset)"
cmake --build "build/$preset" -j "$jobs"
echo "== cpu tests ($preset build)"
ctest --test-dir "build/$preset" -L cpu --output-on-failure -j "$jobs"

if [ "$preset" = cuda ] && [ "${KVTIER_TEST_CUDA:-1}" = 1 ] && nvidia-smi -L >/dev/null 2>&1; then
  echo "== cuda tests"
  ctest --test-dir build/cuda -L cuda --output-on-failure
fi

echo "== cpu tests under ASan/UBSan"
cmake --preset asan >/dev/null
cmake --build build/asan -j "$jobs"
ctest --test-dir build/asan -L cpu --output-on-failure -j "$jobs"

echo "== cpu tests under TSan"
cmake --preset tsan >/dev/null
cmake --build build/tsan -j "$jobs"
# allocator_may_return_null: the backend tests ask for 4 EiB on purpose and expect OutOfMemory.
TSAN_OPTIONS="allocator_may_return_null=1 ${TSAN_OPTIONS:-}" \
  ctest --test-dir build/tsan -L cpu --output-on-failure -j "$jobs"
