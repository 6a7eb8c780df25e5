#!/usr/bin/env bash
# Restart test of the disk tier through the CLI, two processes: the first `kvtier-bench decode
# --disk DIR` fills the disk tier and writes every full block there before it exits; the second,
# with the same prompt, must reuse every full prompt block (none filled again) and still compute
# outputs equal to the all-GPU loop (the command fails otherwise).
#   decode_disk_restart.sh KVTIER_BENCH
set -euo pipefail
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args=(decode --backend cpu --preset tiny --context 1000 --gpu-budget 0.25 --host-budget 128KiB
      --disk "$dir/disk" --steps 3 --warmup 1 --cpu-share off --floor-bytes 16MiB)
"$bench" "${args[@]}" --json "$dir/first.json" >"$dir/first.log"
"$bench" "${args[@]}" --json "$dir/second.json" >"$dir/second.log"
python3 - "$dir/first.json" "$dir/second.json" <<'PY'
import json, sys
first, second = (json.load(open(p)) for p in sys.argv[1:3])
a, b = first["runs"][0]["disk"], second["runs"][0]["disk"]
full_prompt_blocks = 1000 // 16
assert first["exact"] and second["exact"], "outputs differ from the all-GPU loop"
assert a["reused_blocks"] == 0, a
assert a["persisted_blocks"] > 0 and a["disk_bytes"] > 0, a
assert b["blocks_found_at_open"] >= full_prompt_blocks, b
assert b["reused_blocks"] == full_prompt_blocks, (b["reused_blocks"], full_prompt_blocks)
assert b["reused_tokens"] == full_prompt_blocks * 16, b
assert b["corruptions"] == 0, b
print(f"first run: {a['persisted_blocks']} blocks persisted; second run: {b['reused_blocks']} "
      f"blocks reused ({b['reused_tokens']} prompt tokens not prefilled), outputs exact")
PY
