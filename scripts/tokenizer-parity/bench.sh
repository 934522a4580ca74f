#!/bin/sh
# Tokenizer throughput on the 2,407 parity strings: tokenize/ (Go) next to
# Hugging Face's Rust tokenizers (npm @anush008/tokenizers, encodeBatch),
# both using every core, in the same run. Prints tokens/s and the ratio.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${DATA:-$root/../shared/data}
cd "$here"
npm install --no-audit --no-fund --silent
rust=$(node bench.js "$root/tokenize/testdata/parity.json.gz" "$data/tokenizers/all-MiniLM-L6-v2" "$data/tokenizers/qwen3")
cd "$root"
gores=$(GOEXPERIMENT=simd go test -run '^$' -bench EncodeParityStrings -benchtime 5x ./tokenize/ |
	awk '/tokens\/s/ {split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); for (i = 1; i < NF; i++) if ($(i+1) == "tokens/s") print a[2], $i}')
printf '%-18s %14s %14s %8s\n' tokenizer "Go tokens/s" "Rust tokens/s" "Go/Rust"
echo "$gores" | while read -r name g; do
	r=$(echo "$rust" | awk -v n="$name" '$1 == n {print $2}')
	printf '%-18s %14.0f %14.0f %8.2f\n' "$name" "$g" "$r" "$(echo "$g $r" | awk '{print $1 / $2}')"
done
