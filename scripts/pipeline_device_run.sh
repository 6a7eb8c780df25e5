#!/usr/bin/env bash
# On a GPU machine: build kvtier-bench and the CUDA tests (sm_90 unless KVTIER_CUDA_ARCHS is set),
# run the backend and pipeline tests, then decode benchmarks of the pipeline (Llama-3.1-8B, block
# 16): depth 0/1/2, CPU share off/auto/fixed, budgets that leave 25%, 50% and ~100% of the KV off
# the GPU; `disk`: the disk tier (its bench, then decode over GPU, host and disk, run twice on one
# directory: the second run reuses the blocks); `transfer`: kvtier-bench transfer at block sizes 16 and
# 64 in a 32 GiB pool, beside memory-bound kernels too. Logs and JSON land in $OUT (or
# build/pipeline-logs). `matrix`: issue 5's acceptance matrix; `splits`: fixed splits beside auto
# (`splits-flat`: the same without 2D copies); `spin`: the CPU share's thread settings at batch 1.
#   scripts/pipeline_device_run.sh [tests|quick|full|matrix|splits|splits-flat|spin|sweep|disk|transfer]...  (several run in order)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
out=${OUT:-build/pipeline-logs}
mkdir -p "$out"
log="$out/pipeline-log.txt"
cmake -S . -B build/pipe-dev -G Ninja -DKVTIER_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES="${KVTIER_CUDA_ARCHS:-90}" >>"$log" 2>&1 || { tail -20 "$log"; exit 1; }
ninja -C build/pipe-dev -j "$(nproc)" kvtier-bench test_backend_cuda test_pipeline_cpu test_pipeline_cuda test_disk \
  test_transfer_cuda \
  >>"$log" 2>&1 \
  || { tail -40 "$log"; exit 1; }
B=build/pipe-dev/tools/kvtier-bench/kvtier-bench
status=0
build/pipe-dev/tests/cpp/backend/test_backend_cuda >"$out/test_backend_cuda.log" 2>&1 || status=1
tail -3 "$out/test_backend_cuda.log"
run() {
  local name=$1; shift
  timeout 300 $B decode --backend cuda --preset llama-3.1-8b --block-tokens 16 --json "$out/decode-$name.json" "$@" \
    2>&1 | tail -n 30 | tee -a "$log" || status=1
}
for mode in "${@:-quick}"; do
case $mode in
  tests)
    for t in pipeline/test_pipeline_cuda pipeline/test_pipeline_cpu transfer/disk/test_disk transfer/test_transfer_cuda; do
      timeout 300 build/pipe-dev/tests/cpp/$t >"$out/$(basename $t).log" 2>&1 || status=1
      echo "$t: $(grep -E '^\[  (PASSED|FAILED)' "$out/$(basename $t).log" | tr '\n' ' ')" | tee -a "$log"
    done ;;
  disk)
    d=${DISK_DIR:-/tmp/kvtier-disk}
    rm -rf "$d" "$d-bench"
    if [ -z "${DISK_DECODE_ONLY:-}" ]; then
      timeout 300 $B disk --dir "$d-bench" --disk-budget 4GiB --repeat 3 --json "$out/disk-bench.json" 2>&1 | tail -n 20 \
        | tee -a "$log" || status=1
      rm -rf "$d-bench"
    fi
    # 32K (4 GiB of KV): 1 GiB on the GPU, 1.5 GiB on the host, the rest on disk. DISK_DECODE_ARGS: more
    # options (e.g. --disk-group-layers 8), DISK_TAG: a suffix for the result files.
    for pass in first second; do
      run disk-$pass${DISK_TAG:-} --context 32768 --gpu-budget 0.25 --host-budget 1536MiB --disk "$d" --depth 1 \
        --cpu-share off --steps 6 ${DISK_DECODE_ARGS:-}
    done
    rm -rf "$d" ;;
  transfer)
    for bt in 16 64; do
      timeout 300 $B transfer --backend cuda --preset llama-3.1-8b --block-tokens $bt --host-budget 32GiB \
        --batch-bytes 256MiB --coexist-methods single,batch,kernel@8 --loads copy,read \
        --json "$out/transfer-bt$bt.json" 2>&1 | tail -n 40 | tee -a "$log" || status=1
    done ;;
  quick) run quick --context 32768 --gpu-budget 0.5,min --depth 0,1,2 --cpu-share off,auto --steps 8 ;;
  matrix)  # issue 5's acceptance matrix (about 4 minutes on an H200), then the split sweeps
    run b1-32k-matrix --context 32768 --gpu-budget 0.75,0.5,min --depth 1 --cpu-share off,auto --steps 8
    run b8-32k-matrix --batch 8 --context 32768 --gpu-budget 0.75,0.5,min --depth 1 --cpu-share off,auto --steps 8
    run b1-128k-matrix --context 131072 --gpu-budget 0.75,0.5,min --depth 1 --cpu-share off,auto --steps 8 ;;
  splits|splits-flat)  # -flat: the same without 2D copies (one list entry per layer slice)
    t=; x=; [ $mode = splits-flat ] && { t=-flat; x="--transfer batch+flat"; }
    run b8-split$t --batch 8 --context 32768 --gpu-budget min --depth 1 --cpu-share auto,off,0.3,0.4,0.5,auto --steps 8 $x
    run b1-split$t --context 32768 --gpu-budget min --depth 1 --cpu-share auto,off,0.3,0.4,0.5 --steps 16 $x ;;
  spin)  # the CPU share's thread settings at batch 1 (hand-off latency), and CPU attention alone by size
    for c in 4096 13312 32768 131072; do
      timeout 120 $B attention --backend cpu --preset llama-3.1-8b --context $c --json "$out/attn-cpu-$c.json" 2>&1 \
        | tail -n 3 | head -n 1 | tee -a "$log" || status=1
    done
    for v in ${SPIN_SETTINGS:-30:0 300:0 1000:0 1000:15}; do  # spin us:threads
      set -- ${v/:/ }
      run b1-spin$1-t$2 --context 32768 --gpu-budget min --depth 1 --cpu-share off,auto,0.4 --steps 16 \
        --cpu-spin-us $1 --threads $2
    done ;;
  full)
    run b1-32k --context 32768 --gpu-budget 0.75,0.5,min --depth 0,1,2 --cpu-share off,auto --steps 12
    run b1-128k --context 131072 --gpu-budget 0.75,0.5,min --depth 1 --cpu-share off,auto --steps 8
    run b8-32k --batch 8 --context 32768 --gpu-budget 0.75,0.5,min --depth 1 --cpu-share off,auto --steps 8
    run split --context 32768 --gpu-budget min --depth 1 --cpu-share off,0.2,0.3,0.4,0.5,0.6,auto --steps 8 ;;
  sweep)
    run sweep --sweep --cpu-share off,auto --steps 8
    python3 scripts/plot_decode_sweep.py "$out/decode-sweep.json" "$out/decode-sweep.png" || status=1 ;;
esac
done
exit $status
