#!/bin/sh
# Encoder forward throughput: tdro (GoMLX, Go backend) next to PyTorch CPU on
# the same config and batch, in the same run, alternating rounds so that
# machine load hits both alike. Prints both and the ratio (best round each).
#   scripts/torch/install.sh && scripts/torch/bench.sh
set -eu
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-2}
export GOEXPERIMENT=simd GOMLX_BACKEND=${GOMLX_BACKEND:-go:parallelism=-1}
threads=${THREADS:-$(nproc)} # the Go backend uses every core too
go test -c -o /tmp/tdro-model-bench.test ./model/
go_best=0 torch_best=0
i=0
while [ $i -lt "$rounds" ]; do
	g=$(/tmp/tdro-model-bench.test -test.run '^$' -test.bench 'EncoderForward' -test.benchtime 3x | awk '/tokens\/s/ {for (i = 1; i < NF; i++) if ($(i+1) == "tokens/s") print $i}')
	t=$(THREADS=$threads ITERS=3 /usr/bin/python3 scripts/torch/bench.py | awk '{print $2}')
	echo "round $((i + 1)): tdro $g tokens/s, torch $t tokens/s" >&2
	go_best=$(echo "$go_best $g" | awk '{print ($2 > $1) ? $2 : $1}')
	torch_best=$(echo "$torch_best $t" | awk '{print ($2 > $1) ? $2 : $1}')
	i=$((i + 1))
done
echo "encoder forward, BERT 4x256 (FFN 1024, vocab 30522), batch 32 x 128 tokens, $(nproc) cores, torch threads $threads"
printf '%-28s %12s\n' "implementation" "tokens/s"
printf '%-28s %12.0f\n' "tdro (GoMLX Go backend)" "$go_best"
printf '%-28s %12.0f\n' "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') CPU" "$torch_best"
echo "$go_best $torch_best" | awk '{printf "ratio tdro/torch: %.2f\n", $1 / $2}'
