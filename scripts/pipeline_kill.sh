#!/usr/bin/env bash
# SIGKILL `tdro run` while each stage in turn is running, rerun the same
# command, and check that
#   - every stage finished before the kill is skipped (its manifest untouched),
#     the stage the kill interrupted is resumed, and the stages after it run;
#   - the final results equal those of an uninterrupted run with the same seed,
#     byte for byte: every model, the prepared data, the tDRO weights and plots,
#     the mixtures and their statistics, the TREC runs, the report's figures;
#     and, with their wall-time fields left out, the evaluation JSON files, the
#     training and tDRO logs and report.md from its weights section on.
#
#   scripts/pipeline_kill.sh [PRESET]      (default: tiny, about 3 minutes on 2 cores)
#
# The stages are read from the uninterrupted run's manifests (in the order
# they started), so the list follows the code. The kill waits for the stage's
# started marker (manifests/STAGE.started.json) and lands at a random moment
# within the stage's wall time in the uninterrupted run (SEED=n repeats the
# draw). A stage so short that it finished before the kill landed is
# reported as such and not counted as killed: the rerun is still checked
# against what the run directory held at the kill. KEEP=1 keeps the work
# directory; STAGES="dro report" kills only in those. Needs jq. Exit status 0
# when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-tiny}
data=${DATA:-../shared/data}
export GOEXPERIMENT=simd GOMLX_BACKEND=${GOMLX_BACKEND:-go:parallelism=-1}
command -v jq >/dev/null || { echo "pipeline_kill.sh needs jq" >&2; exit 2; }
RANDOM=${SEED:-$$}
t0=$(date +%s)
work=$(mktemp -d)
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "work directory: $work"; fi
tdro=$work/tdro # its own binary: bin/tdro may be someone else's build
go build -o "$tdro" ./cmd/tdro

run() { "$tdro" run --preset "$preset" --data "$data" --out "$1"; }

# statuses LOG: "stage status" per line, from the summary `tdro run` prints at the end.
statuses() { sed -n -E 's/^  ([a-z0-9-]+) +(ran|resumed|skipped) .*/\1 \2/p' "$1"; }

# results DIR: one line per result file, its hash; wall-time fields are left
# out of the files that record them.
results() {
	(
		cd "$1"
		# atomicfile's temporary files (.NAME.tmp-*) are left out, as the manifests' hashes leave them out
		find models data dro/weights dro/plots mixtures eval/*/runs plots -name '.*.tmp-*' -prune -o -type f -print | sort | xargs sha256sum
		for f in $(find eval/*/json -name '*.json' | sort); do
			echo "$(jq -S 'del(.evaluation_time, .tdro.timing)' "$f" | sha256sum | cut -d' ' -f1)  $f (timings left out)"
		done
		for f in logs/*.jsonl dro/log.jsonl; do
			echo "$(jq -cS 'del(.step_s, .tokens_per_s)' "$f" | sha256sum | cut -d' ' -f1)  $f (timings left out)"
		done
		echo "$(sed -n '/^## Learned domain weights/,$p' report.md | sha256sum | cut -d' ' -f1)  report.md (from the weights section on)"
	)
}

echo "uninterrupted run ($preset)..."
ref=$work/ref
run "$ref" >"$ref.log" 2>&1 || { tail -20 "$ref.log"; exit 1; }
results "$ref" >"$work/ref.sums"
# The stages, in the order they started (fractions of a second padded so the
# timestamps sort as text).
stages=$(jq -r '(.started | capture("^(?<s>[^.Z]+)(\\.(?<f>[0-9]+))?Z$") | .s + "." + (((.f // "") + "000000000")[0:9])) + " " + .stage' \
	$(ls "$ref"/manifests/*.json | grep -v '\.started\.json$') | sort | cut -d' ' -f2)
if [ "$(echo "$stages" | sort)" != "$(statuses "$ref.log" | cut -d' ' -f1 | sort)" ] || statuses "$ref.log" | grep -qv ' ran$'; then
	echo "the uninterrupted run's manifests and summary disagree:"; statuses "$ref.log"; echo "$stages"
	exit 1
fi
echo "stages: $(echo $stages)"
all=$stages
stages=${STAGES:-$stages} # STAGES="dro report": kill only in these
seconds() { jq -r .seconds "$ref/manifests/$1.json"; }

fail=0 killed=0 total=0 inside=""
for stage in $stages; do
	total=$((total + 1))
	dir=$work/kill-$stage
	mkdir -p "$dir"
	delay=$(awk -v s="$(seconds "$stage")" -v r=$((RANDOM % 90)) 'BEGIN { printf "%.3f", s * r / 100 }')
	"$tdro" run --preset "$preset" --data "$data" --out "$dir" >"$dir.first.log" 2>&1 &
	pid=$!
	until [ -e "$dir/manifests/$stage.started.json" ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.005; done
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null || true
	rc=0
	wait "$pid" 2>/dev/null || rc=$?
	# What the run directory held when the kill landed decides what the rerun must do.
	expect=""
	for s in $all; do
		if [ -e "$dir/manifests/$s.json" ]; then
			expect+="$s skipped"$'\n'
			cp "$dir/manifests/$s.json" "$dir.manifest-$s.json"
		elif [ -e "$dir/manifests/$s.started.json" ]; then
			expect+="$s resumed"$'\n'
			inside=$s
		else
			expect+="$s ran"$'\n'
		fi
	done
	if [ "$rc" -ne 137 ]; then
		what="the run had ended (status $rc) before the kill: nothing killed"
	elif [ -e "$dir/manifests/$stage.json" ]; then
		what="$stage finished before the kill landed ($delay s after its start), which hit ${inside:-the gap between stages}: $stage not really killed"
	else
		what="killed $delay s into $stage (uninterrupted: $(seconds "$stage") s)"
		killed=$((killed + 1))
	fi
	inside=""

	if ! run "$dir" >"$dir.log" 2>&1; then
		echo "$stage: $what; RERUN FAILED:"; tail -20 "$dir.log"
		fail=1
		continue
	fi
	problems=""
	got=$(statuses "$dir.log")
	if [ "$got" != "$(printf '%s' "$expect")" ]; then
		problems+=" rerun statuses differ from what the kill left (want | got): $(diff <(printf '%s' "$expect") <(echo "$got") | sed -n '/^[<>]/p' | tr '\n' ' ')"
	fi
	for m in "$dir".manifest-*.json; do
		[ -e "$m" ] || continue
		s=${m#"$dir".manifest-}
		cmp -s "$m" "$dir/manifests/$s" || problems+=" manifest of skipped stage ${s%.json} changed;"
	done
	if ! diff -q <(results "$dir") "$work/ref.sums" >/dev/null; then
		problems+=" RESULTS DIFFER from the uninterrupted run (< this run, > uninterrupted): $(diff <(results "$dir") "$work/ref.sums" | sed -n 's/^\([<>]\) [0-9a-f]*  /\1 /p' | tr '\n' ' ')"
	fi
	# SIGKILL skips the clean-up of a temporary file being written; the engine
	# does not remove such files on resume. Listed, not counted as a failure.
	left=$(cd "$dir" && find . -name '.*.tmp-*' -prune -print | sed 's|^\./||' | sort | tr '\n' ' ' | sed 's/ $//')
	count() { echo "$got" | grep -c " $1\$" || true; }
	summary="rerun: $(count skipped) skipped, $(count resumed) resumed$(echo "$got" | sed -n 's/^\(.*\) resumed$/ (\1)/p'), $(count ran) ran"
	if [ -n "$problems" ]; then
		echo "$stage: $what; $summary;$problems${left:+; temporary files left behind by the kill: $left}"
		fail=1
	else
		echo "$stage: $what; $summary; results byte-identical to the uninterrupted run${left:+; temporary files left behind by the kill: $left}"
	fi
done
echo "$killed of $total stages killed mid-run; $([ "$fail" -eq 0 ] && echo "every rerun skipped what was done, resumed what was interrupted and matched the uninterrupted run" || echo FAILURES above); $(($(date +%s) - t0)) s"
exit $fail
