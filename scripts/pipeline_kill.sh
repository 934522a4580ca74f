#!/usr/bin/env bash
# SIGKILL `tdro run` in the middle of every stage in turn, rerun it, and check
# that finished stages are skipped and that the final models, tDRO weights,
# mixtures and rankings equal those of an uninterrupted run with the same seed.
#
#   scripts/pipeline_kill.sh [PRESET]      (default: tiny; run from the repository root)
set -euo pipefail
preset=${1:-tiny}
data=${DATA:-../shared/data}
export GOEXPERIMENT=simd GOMLX_BACKEND=${GOMLX_BACKEND:-go:parallelism=-1}
go build -o bin/tdro ./cmd/tdro
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { ./bin/tdro run --preset "$preset" --data "$data" --out "$1" >"$1.log" 2>&1; }
# results: content hashes of everything the comparison covers.
results() {
  (cd "$1" && find models/reference models/*/model.safetensors dro/weights mixtures eval/*/runs -type f 2>/dev/null |
    grep -v '^models/base' | sort | xargs sha256sum)
}

echo "uninterrupted run..."
mkdir -p "$work/ref" && run "$work/ref"
results "$work/ref" >"$work/ref.sums"
stages=$(sed -n -E 's/^  ([a-z0-9-]+) +(ran|resumed|skipped) .*/\1/p' "$work/ref.log")

fail=0
for stage in $stages; do
  dir="$work/kill-$stage"
  mkdir -p "$dir"
  ./bin/tdro run --preset "$preset" --data "$data" --out "$dir" >"$dir.log" 2>&1 &
  pid=$!
  until [ -e "$dir/manifests/$stage.started.json" ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
  sleep "0.$((RANDOM % 5))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  run "$dir"
  skipped=$(grep -c "skipped$" "$dir.log" || true)
  status=$(sed -n "s/^  $stage  *\([a-z]*\) .*/\1/p" "$dir.log")
  if diff -q <(results "$dir") "$work/ref.sums" >/dev/null; then
    echo "killed in $stage: rerun $status it, skipped $skipped finished stages; results equal the uninterrupted run"
  else
    echo "killed in $stage: RESULTS DIFFER from the uninterrupted run"; diff <(results "$dir") "$work/ref.sums" || true
    fail=1
  fi
done
exit $fail
