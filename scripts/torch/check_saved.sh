#!/bin/sh
# Cross-checks a checkpoint written by tdro with PyTorch: `tdro model init`
# writes a random tiny-bert, check_saved.py reads it with its own
# safetensors reader and torch.nn modules and embeds "hello world"
# ([CLS] hello world [SEP] = 101 7592 2088 102 with MiniLM's WordPiece);
# `tdro model encode` embeds the same text. Prints the max abs difference.
set -eu
cd "$(dirname "$0")/../.."
data=${DATA:-../shared/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOEXPERIMENT=simd go build -o "$tmp/tdro" ./cmd/tdro
"$tmp/tdro" model init --preset "${PRESET:-tiny-bert}" --tokenizer "$data/tokenizers/all-MiniLM-L6-v2" --seed 7 --out "$tmp/ckpt" >&2
echo "hello world" | "$tmp/tdro" model encode "$tmp/ckpt" 2>/dev/null > "$tmp/go.json"
/usr/bin/python3 scripts/torch/check_saved.py "$tmp/ckpt" 101 7592 2088 102 > "$tmp/torch.json"
/usr/bin/python3 -c '
import json, sys
g, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert len(g) == len(t), (len(g), len(t))
d = max(abs(a - b) for a, b in zip(g, t))
print(f"{len(g)}-dim embedding of \"hello world\": max abs difference tdro vs PyTorch = {d:.2e}")
sys.exit(0 if d < 1e-4 else 1)' "$tmp/go.json" "$tmp/torch.json"
