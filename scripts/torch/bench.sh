#!/bin/sh
# Encoder forward throughput: tdro (GoMLX, Go backend) next to PyTorch CPU on
# the same config and batch, in the same run, alternating rounds so that
# machine load hits both alike. Prints medians, ranges and the median of the
# per-round ratios.
#   scripts/torch/install.sh && scripts/torch/bench.sh
set -eu
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-5}
export GOEXPERIMENT=simd GOMLX_BACKEND=${GOMLX_BACKEND:-go:parallelism=-1}
threads=${THREADS:-$(nproc)} # the Go backend uses every core too
go test -c -o /tmp/tdro-model-bench.test ./model/
results=""
i=0
while [ $i -lt "$rounds" ]; do
	g=$(/tmp/tdro-model-bench.test -test.run '^$' -test.bench 'EncoderForward' -test.benchtime 3x | awk '/tokens\/s/ {for (i = 1; i < NF; i++) if ($(i+1) == "tokens/s") print $i}')
	t=$(THREADS=$threads ITERS=3 /usr/bin/python3 scripts/torch/bench.py | awk '{print $2}')
	echo "round $((i + 1)): tdro $g tokens/s, torch $t tokens/s" >&2
	results="$results$g $t
"
	i=$((i + 1))
done
echo "encoder forward, BERT 4x256 (FFN 1024, vocab 30522), batch 32 x 128 tokens, $(nproc) cores, torch threads $threads, $rounds alternating rounds"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s' "$results" | /usr/bin/python3 scripts/torch/bench.py --summarize
