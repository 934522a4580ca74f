#!/usr/bin/env bash
# Builds what scripts/gpu/check.sh carries to a GPU machine (which has no Go
# and no network) into .gpu/ (git-ignored), compressed to stay well under the
# device tool's 64 MiB: the XLA build of tdro, the model and train test
# binaries (golden checks, gradient cache, train-step benchmark) and the
# slice of the bundled data those need.
#
#   scripts/gpu/build.sh                 # then: device run with carry [".gpu"]:
#                                        #   bash scripts/gpu/check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
G=.gpu
DATA=${DATA:-../shared/data}
rm -rf "$G"
mkdir -p "$G/bin"
export GOEXPERIMENT=simd
flags=(-tags xla -trimpath -ldflags=-s\ -w)
go build "${flags[@]}" -o "$G/bin/tdro-xla" ./cmd/tdro
go test -c "${flags[@]}" -o "$G/bin/model.test" ./model
go test -c "${flags[@]}" -o "$G/bin/train.test" ./train
gzip -9 "$G"/bin/*
# The bundled data the checks read: the tiny Llama and its golden logits,
# the tokenizers, the evaluation sets (the tiny run deduplicates against all
# of them) and the tiny preset's training domains.
tar -czf "$G/shared-data.tar.gz" -C "$DATA/.." \
	data/MANIFEST.md data/models/llama2c data/tokenizers data/eval \
	data/train/ko_chatbot data/train/conala data/train/sick \
	data/train/stsb_mt/stsb-de-train.csv data/train/stsb_mt/stsb-de-dev.csv data/train/stsb_mt/stsb-de-test.csv
git rev-parse HEAD > "$G/commit" 2>/dev/null || echo unknown > "$G/commit"
size=$(du -sb "$G" | cut -f1)
echo "built $G: $((size / 1024 / 1024)) MiB"
ls -l "$G" "$G/bin"
if [ "$size" -ge $((60 * 1024 * 1024)) ]; then
	echo "$G is over 60 MiB: the device tool carries at most 64 MiB" >&2
	exit 1
fi
