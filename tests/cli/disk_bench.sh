#!/usr/bin/env bash
# `kvtier-bench disk` end to end on a small budget: it refuses a directory holding other files,
# then runs, leaves its directory as it found it (removed, since it created it), and reports every
# ratio (best of rounds, same-round pairs, rounds taken together) as a positive finite number, the
# aggregate one consistent with the per-round figures in the JSON.
#   disk_bench.sh KVTIER_BENCH
set -euo pipefail
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args=(disk --backend cpu --preset tiny --disk-budget 32MiB --ceiling-block 1MiB --repeat 3)
mkdir -m 700 "$dir/busy" && touch "$dir/busy/notes.txt"
if out=$("$bench" "${args[@]}" --dir "$dir/busy" 2>&1); then
  echo "FAIL: a directory holding notes.txt was accepted"; exit 1
fi
grep -q "error:.*not made by kvtier" <<<"$out" || { echo "FAIL: unclear refusal: $out"; exit 1; }
[[ -f "$dir/busy/notes.txt" ]] || { echo "FAIL: the refused directory lost its file"; exit 1; }
"$bench" "${args[@]}" --dir "$dir/tier" --json "$dir/disk.json" >"$dir/disk.log"
[[ ! -e "$dir/tier" ]] || { echo "FAIL: the run left $dir/tier behind"; exit 1; }
python3 - "$dir/disk.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
s, raw = d["store"], d["ceiling"]["raw"]
def hm(v): return len(v) / sum(1 / x for x in v)
for kind, key, own in (("write", "write_bytes_per_s", s["write_bytes_per_s"]),
                       ("read", "read_bytes_per_s", s["read_bytes_per_s"]),
                       ("layer_reads", "read_bytes_per_s", s["layer_reads"]["read_bytes_per_s"])):
    assert len(own) == d["rounds"] == 3, own
    paired = s["paired_ratios"][kind]
    assert len(paired) == 2 and all(0 < x < math.inf for x in paired), paired
    agg = s["aggregate_ratios"][kind]
    want = hm(own[1:]) / max(hm(r[key][1:]) for r in raw)
    assert 0 < agg < math.inf and abs(agg - want) < 1e-9 * want, (kind, agg, want)
print("disk bench: aggregate ratios", {k: round(v, 3) for k, v in s["aggregate_ratios"].items()})
PY
