#!/bin/sh
# Train-step benchmark: GoMLX (go test -bench TrainStep) next to PyTorch CPU
# training the same architecture on the same shapes, in the same run, printed
# as a ratio. Config: BERT hidden 256, 4 layers, 4 heads, ffn 1024, vocab
# 30522, seq 128, 32 queries + 32 passages.
#
#   scripts/train/bench.sh [STEPS]        (default 3 timed steps each)
#
# PyTorch comes from Debian (scripts/torch/install.sh); it runs with as many
# threads as Go may use (GOMAXPROCS, default: all cores), and with 1.
set -eu
cd "$(dirname "$0")/../.."
STEPS=${1:-3}
THREADS=${GOMAXPROCS:-$(nproc)}
export GOEXPERIMENT=simd
export GOMLX_BACKEND="${GOMLX_BACKEND:-go:parallelism=-1}"
scripts/torch/install.sh >/dev/null
PROFILE=${PROFILE:-}
go test -c -o /tmp/tdro-train.test ./train
goline=$(/tmp/tdro-train.test -test.run '^$' -test.bench 'TrainStep/h256' -test.benchtime "${STEPS}x" \
	${PROFILE:+-test.cpuprofile "$PROFILE"} | grep '^BenchmarkTrainStep')
metric() { echo "$goline" | awk -v unit="$1" '{for (i = 2; i <= NF; i++) if ($i == unit) print $(i-1)}'; }
go_sec=$(metric ns/op | awk '{print $1/1e9}')
go_tps=$(metric tokens/s)
go_cpu=$(metric cpu-s/op)
torchN=$(/usr/bin/python3 scripts/train/bench_torch.py 256 4 1024 128 32 "$STEPS" "$THREADS")
torch1=$(/usr/bin/python3 scripts/train/bench_torch.py 256 4 1024 128 32 "$STEPS" 1)
# Wall time is what users wait for; CPU time per step is the work done, and
# stays comparable when other processes share the machine.
printf '%-30s %8s %10s %10s %12s %12s\n' "train step (h256 l4 s128 b32)" "s/step" "tokens/s" "cpu-s/step" "Go/torch wall" "Go/torch cpu"
printf '%-30s %8.3f %10.0f %10.3f %12s %12s\n' "GoMLX ($GOMLX_BACKEND)" "$go_sec" "$go_tps" "$go_cpu" "1.00" "1.00"
for line in "$torchN" "$torch1"; do
	set -- $line
	printf '%-30s %8.3f %10.0f %10.3f %11.2fx %11.2fx\n' "PyTorch CPU, $2 thread(s)" "$3" "$4" "$5" \
		"$(echo "$go_sec $3" | awk '{print $1/$2}')" "$(echo "$go_cpu $5" | awk '{print $1/$2}')"
done
