#!/bin/sh
# Regenerates tokenize/testdata/parity.json.gz: >= 2,000 real strings from the
# bundled training data and the ids Hugging Face's Rust tokenizers (npm
# @anush008/tokenizers 0.6.0) give them, for both bundled tokenizers and for
# the vocabulary tdro's trainer fits to those strings (tokenize/train_test.go).
# Needs node/npm, python3 and go; `make test` does not (the output is committed).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${DATA:-$root/../shared/data}
cd "$here"
npm install --no-audit --no-fund --silent
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 strings.py "$data" > "$tmp/strings.json"
node reference.js "$tmp/strings.json" "$data/tokenizers/all-MiniLM-L6-v2" "$data/tokenizers/qwen3" > "$tmp/expected.json"
gzip -9n < "$tmp/expected.json" > "$root/tokenize/testdata/parity.json.gz"
# The trained vocabulary: tdro fits it to the fixture's strings, Rust encodes them with it.
mkdir -p "$tmp/trained"
(cd "$root" && TDRO_WRITE_TRAINED="$tmp/trained" GOEXPERIMENT=simd go test -count=1 -run '^TestTrainedTokenizerParity$' ./tokenize >/dev/null)
node reference.js "$tmp/strings.json" "$tmp/trained" > "$tmp/trained.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['ids'].update(json.load(open(sys.argv[2]))['ids']); json.dump(d, open(sys.argv[1], 'w'))" "$tmp/expected.json" "$tmp/trained.json"
gzip -9n < "$tmp/expected.json" > "$root/tokenize/testdata/parity.json.gz"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d['strings']), 'strings,', len(set(s['source'] for s in d['strings'])), 'sources')" "$tmp/expected.json"
ls -l "$root/tokenize/testdata/parity.json.gz"
