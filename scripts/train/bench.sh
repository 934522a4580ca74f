#!/bin/sh
# Train-step benchmark: GoMLX (go test -bench TrainStep) next to PyTorch CPU
# training the same architecture on the same shapes, in the same run, printed
# as ratios. Configs: the issue's BERT hidden 256, 4 layers, 4 heads, ffn
# 1024, vocab 30522, seq 128, 32 queries + 32 passages; and tiny-bert's shape
# (hidden 128, 2 layers, ffn 512, seq 32, 16 + 16).
#
#   scripts/train/bench.sh [STEPS]        (default 3 timed steps each)
#   ONLY=h128 scripts/train/bench.sh      (only the configs whose name contains h128)
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
PROFILE=${PROFILE:-} # set PROFILE=/tmp/train.prof for CPU profiles (one per config)
bin=$(mktemp -d)/train.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./train
# Wall time is what users wait for; CPU time per step is the work done, and
# stays comparable when other processes share the machine.
printf '%-34s %8s %10s %10s %13s %12s\n' "train step" "s/step" "tokens/s" "cpu-s/step" "Go/torch wall" "Go/torch cpu"
# name hidden layers ffn seq batch: the issue's fixed config, then tiny-bert's shape.
for cfg in "h256-l4-seq128-b32 256 4 1024 128 32" "h128-l2-seq32-b16 128 2 512 32 16"; do
	set -- $cfg
	name=$1
	shift
	args="$*"
	case "$name" in *"${ONLY:-}"*) ;; *) continue ;; esac
	goline=$(cd train && "$bin" -test.run '^$' -test.bench "TrainStep/$name\$" -test.benchtime "${STEPS}x" \
		${PROFILE:+-test.cpuprofile "$PROFILE.$name"} | grep '^BenchmarkTrainStep')
	metric() { echo "$goline" | awk -v unit="$1" '{for (i = 2; i <= NF; i++) if ($i == unit) print $(i-1)}'; }
	go_sec=$(metric ns/op | awk '{print $1/1e9}')
	go_cpu=$(metric cpu-s/op)
	printf '%-34s %8.3f %10.0f %10.3f %13s %12s\n' "$name GoMLX" "$go_sec" "$(metric tokens/s)" "$go_cpu" "1.00" "1.00"
	for threads in "$THREADS" 1; do
		set -- $(/usr/bin/python3 scripts/train/bench_torch.py $args "$STEPS" "$threads")
		printf '%-34s %8.3f %10.0f %10.3f %12.2fx %11.2fx\n' "$name PyTorch CPU, $2 thread(s)" "$3" "$4" "$5" \
			"$(echo "$go_sec $3" | awk '{print $1/$2}')" "$(echo "$go_cpu $5" | awk '{print $1/$2}')"
	done
done
