#!/bin/sh
# Tunes the from-scratch recipe on the training domains' held-out split, never
# on the evaluation sets: each variant (NAME=JSON, read over the preset) trains
# the uniform reference and scores it on prepare's held-out records only
# (tdro run --until heldout-reference), for every seed; prints one table.
# Usage: scripts/tune/heldout.sh [-s "1 2"] [-p PRESET] NAME='{"train":{...}}' ...
set -eu
seeds="1"; preset=default; out=${OUT:-runs/tune}; data=${DATA:-../shared/data}
while getopts s:p: o; do case $o in s) seeds=$OPTARG;; p) preset=$OPTARG;; *) exit 2;; esac; done
shift $((OPTIND - 1))
mkdir -p "$out"
for v in "$@"; do
	name=${v%%=*}; json=${v#*=}
	printf '%s\n' "$json" > "$out/$name.json"
	mkdir -p "$out/$name"
	for s in $seeds; do
		./bin/tdro run --preset "$preset" --config "$out/$name.json" --seed "$s" --data "$data" \
			--out "$out/$name/seed-$s" --until heldout-reference >"$out/$name/seed-$s.log" 2>&1 ||
			{ echo "$name seed $s failed: see $out/$name/seed-$s.log" >&2; exit 1; }
	done
done
python3 "$(dirname "$0")/table.py" "$out" "$@"
