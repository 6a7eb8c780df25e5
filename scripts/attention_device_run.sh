#!/usr/bin/env bash
# On a GPU machine: build the attention targets (sm_90 unless KVTIER_CUDA_ARCHS is set), run the
# attention tests, the acceptance benchmarks (GPU: Llama-3.1-8B, block 16, batch 1 at 4K/32K/128K
# and batch 32 at 4K; CPU: batch 1 at 32K), PyTorch SDPA on the same shapes, and optionally
# compute-sanitizer (SANITIZE=1). Everything lands in $OUT (or build/attention-logs).
#   scripts/attention_device_run.sh [tests] [bench] [ab] [ncu] [sdpa] [sanitize]
# ab: the GPU shapes again under each line of $VARIANTS, "name;ENV=v ENV=v;extra bench args[;shapes]"
#     (A/B in the same run, e.g. "base;KVTIER_ATTN_GPU_PDL=0;" or "s32;;--splits 32;1 32768,1 131072").
# ncu: Nsight Compute sections of one decode launch at batch 1, 32K (NCU_CONTEXT).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
out=${OUT:-build/attention-logs}
mkdir -p "$out"
steps=${*:-tests bench sdpa}
log="$out/attention-log.txt"
has() { [[ " $steps " == *" $1 "* ]]; }
{
  nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv
  lscpu | grep -E "Model name|^CPU\(s\)|Flags" | cut -c1-200
} >>"$log" 2>&1
t0=$(date +%s)
cmake -S . -B build/attn-dev -G Ninja -DKVTIER_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES="${KVTIER_CUDA_ARCHS:-90}" >>"$log" 2>&1 || { tail -20 "$log"; exit 1; }
ninja -C build/attn-dev -j "$(nproc)" test_attention_cuda test_attention_cpu kvtier-bench >>"$log" 2>&1 \
  || { tail -40 "$log"; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s" | tee -a "$log"
status=0
T=build/attn-dev/tests/cpp/attention
B=build/attn-dev/tools/kvtier-bench/kvtier-bench
if has tests; then
  for bin in ${TEST_BINS:-test_attention_cpu test_attention_cuda}; do
    timeout 400 $T/$bin >"$out/$bin.log" 2>&1 && echo "$bin: passed" || { echo "$bin: FAILED"; status=1; grep -E "FAILED|Failure|error" "$out/$bin.log" | head -20; }
    grep -E "^\[  (PASSED|FAILED)|worst" "$out/$bin.log"
  done | tee -a "$log"
  # The contiguous split partition too (KVTIER_ATTN_GPU_INTERLEAVE=0), on the tests that split.
  KVTIER_ATTN_GPU_INTERLEAVE=0 timeout 400 $T/test_attention_cuda --gtest_filter='*Split*:*Long*:*BackToBack*:*Agrees*' \
    >"$out/test_attention_cuda-static.log" 2>&1 && echo "test_attention_cuda (contiguous splits): passed" | tee -a "$log" \
    || { echo "test_attention_cuda (contiguous splits): FAILED" | tee -a "$log"; status=1; grep -E "Failure|FAILED" "$out/test_attention_cuda-static.log" | head; }
fi
if has bench; then
  for shape in "1 4096" "1 32768" "1 131072" "32 4096" ${EXTRA_SHAPES:-}; do
    set -- $shape
    timeout 120 $B attention --backend cuda --batch $1 --context $2 --json "$out/gpu-b$1-c$2.json" 2>&1 | tail -4 | tee -a "$log" || status=1
  done
  for pf in ${CPU_PREFETCH:-0 2}; do  # CPU software-prefetch variants (KVTIER_ATTN_CPU_PREFETCH)
    KVTIER_ATTN_CPU_PREFETCH=$pf timeout 120 $B attention --backend cpu --batch 1 --context 32768 \
      --json "$out/cpu-b1-c32768-pf$pf.json" 2>&1 | tail -4 | tee -a "$log" || status=1
  done
fi
if has ab; then
  while IFS=';' read -r name envs extra shapes; do
    [[ -z $name ]] && continue
    IFS=, read -ra shape_list <<<"${shapes:-1 4096,1 32768,1 131072,32 4096}"
    for shape in "${shape_list[@]}"; do
      set -- $shape
      env $envs timeout 120 $B attention --backend cuda --batch $1 --context $2 $extra \
        --json "$out/gpu-b$1-c$2-$name.json" 2>&1 | tail -1 | sed "s/^/[$name] /" | tee -a "$log" || status=1
    done
  done <<<"${VARIANTS:-}"
fi
if has ncu; then
  # NCU_ENVS: one profile for each (space-separated ENV=v,ENV=v; "-" for none; NCU_SPLITS=n in
  # one adds --splits n).
  ncu_bin=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  for e in ${NCU_ENVS:--}; do
    [[ $e == - ]] && e=""
    xs=""; [[ $e == *NCU_SPLITS=* ]] && xs="--splits ${e##*NCU_SPLITS=}" && e=${e%NCU_SPLITS=*} && e=${e%,}
    echo "### ncu ${e:-default} $xs" >>"$out/ncu.txt"
    env ${e//,/ } timeout 240 $ncu_bin --clock-control none -k regex:decode_warp --launch-skip 40 --launch-count 1 \
      --section SpeedOfLight --section WarpStateStats --section SchedulerStats \
      --metrics sm__cycles_active.min,sm__cycles_active.avg,sm__cycles_active.max,gpc__cycles_elapsed.max,sm__ctas_launched.min,sm__ctas_launched.max,sm__ctas_launched.sum \
      $B attention --backend cuda --batch 1 --context ${NCU_CONTEXT:-32768} --no-verify --iters 20 --reps 1 $xs \
      >>"$out/ncu.txt" 2>&1 || { echo "ncu failed"; tail -5 "$out/ncu.txt"; }
  done
fi
if has sdpa; then
  timeout 200 python3 scripts/attention_sdpa_baseline.py --reps ${SDPA_REPS:-7} --json "$out/sdpa.json" 2>&1 | tee -a "$log" || status=1
fi
if has sanitize; then
  for tool in memcheck racecheck; do
    filter=${SAN_FILTER:-}
    [[ $tool == racecheck && -n ${RACE_FILTER:-} ]] && filter=$RACE_FILTER
    if timeout ${SAN_TIMEOUT:-240} compute-sanitizer --tool $tool --error-exitcode 99 $T/test_attention_cuda ${filter:+--gtest_filter=$filter} >"$out/sanitizer-$tool.log" 2>&1; then
      echo "compute-sanitizer $tool: clean ($(grep -c '^\[       OK' "$out/sanitizer-$tool.log") tests OK)" | tee -a "$log"
    else
      echo "compute-sanitizer $tool: FAILED or timed out (rc $?)" | tee -a "$log"; tail -15 "$out/sanitizer-$tool.log"; status=1
    fi
  done
fi
# One JSON with every benchmark result of this run.
python3 - "$out" <<'PY' || true
import glob, json, os, sys
out = sys.argv[1]
files = sorted(glob.glob(os.path.join(out, "*-b*-c*.json")))
docs = [json.load(open(f)) for f in files]
for f, d in zip(files, docs):
    parts = os.path.basename(f)[:-5].split("-")  # gpu-b1-c4096[-variant]
    d["variant"] = "-".join(parts[3:]) or "default" if d["backend"] == "cuda" else "-"
sdpa = os.path.join(out, "sdpa.json")
doc = {"kvtier": docs, "sdpa": json.load(open(sdpa)) if os.path.exists(sdpa) else None}
json.dump(doc, open(os.path.join(out, "attention-results.json"), "w"), indent=2)
for d in docs:
    print(f"{d['backend']:4s} pf {d.get('cpu_prefetch', '-')} {d['variant']:9s} splits {d.get('splits', '-')!s:4s} b{d['batch']:<3d} ctx {d['context']:<7d} {d['time_us']:9.1f} us {d['gbps']:8.1f} GB/s ceiling {d['read_ceiling_gbps']:8.1f} ratio {d['ratio_to_ceiling']:.3f} verify {d.get('verify', {}).get('ok')}")
PY
for f in "$out"/*-b*-c*.json; do rm -f "$f"; done  # folded into attention-results.json
exit $status
