#!/usr/bin/env bash
# Bad settings of `kvtier-bench decode` fail with a clear error before any work: non-zero exit,
# an "error:" line naming the setting, and no floor measured.
#   decode_bad_settings.sh KVTIER_BENCH
set -uo pipefail
bench=$1
status=0
expect_refused() {  # what-the-error-must-say, then the decode options
  local want=$1
  shift
  local out
  out=$("$bench" decode --backend cpu --preset tiny --steps 1 --floor-bytes 16MiB "$@" 2>&1)
  local rc=$?
  if [[ $rc -eq 0 ]] || ! grep -q "error:.*$want" <<<"$out" || grep -q "measuring floors" <<<"$out"; then
    echo "FAIL: decode $* (exit $rc) should be refused before any work with '$want':"
    echo "$out" | tail -n 3
    status=1
  else
    echo "ok: decode $* -> $(grep 'error:' <<<"$out" | head -n 1)"
  fi
}
expect_refused "below sink + window" --gpu-budget 32KiB
expect_refused "below sink + window" --gpu-budget 1MiB --batch 64 --sink 2 --window 2
expect_refused "smaller than one block" --gpu-budget 1KiB
expect_refused "expected 0..1" --gpu-budget 1.5
expect_refused "of host memory" --context 100000000 --host-budget 1MiB
expect_refused "depth" --depth 9
expect_refused "disk-budget needs --disk" --disk-budget 1GiB
expect_refused "context must be >= 1" --context 0
exit $status
