#!/usr/bin/env bash
# The one-shot GPU check (issue: "GPU: a one-shot device check"). Run on the
# device machine from the repository root, with .gpu/ from scripts/gpu/build.sh
# carried along:
#
#   bash scripts/gpu/check.sh              # on the GPU machine, under 8 minutes
#   bash scripts/gpu/check.sh --dry-run    # here, without a GPU: unpacks and
#                                          # checks the carried files, runs the
#                                          # golden and gradient-cache checks on
#                                          # the CPU backend, prints the plan and
#                                          # writes the table
#
# It finds the PJRT CUDA plugin and the CUDA libraries inside the installed
# Python packages (jax-cuda*-pjrt, nvidia-*), prints what it found, and runs,
# each with a pass/fail line and its time: the golden checks on xla:cuda
# (llama2.c logits, the PyTorch BERT/decoder fixtures, pooling; the CPU
# tests' own tolerances), gradient-cache equality, the train-step benchmark
# next to PyTorch CUDA (fp32 and bf16 on PyTorch's side; tdro trains in fp32),
# a tiny `tdro run` end to end (tDRO included), and sentence-transformers
# loading a BERT and a Qwen2 model tdro saved and embedding the same texts
# within 1e-4. The table goes to stdout and $OUT/gpu_check.md; logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
G=$PWD/.gpu
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
OUT=${OUT:-$G/out}
mkdir -p "$OUT"
TABLE=$OUT/gpu_check.md
FAILED=0
START=$(date +%s)
: > "$TABLE.rows"

row() { # name, status, seconds, detail
	printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" >> "$TABLE.rows"
	printf '%-34s %-5s %7s s  %s\n' "$1" "$2" "$3" "$4"
	[ "$2" = FAIL ] && FAILED=$((FAILED + 1))
	return 0
}

# step NAME DETAIL CMD...: runs CMD (log in $OUT/NAME.log), one row; a
# dry run only plans it. cpustep runs it in a dry run too, on the CPU backend.
cpustep() { CPU_TOO=1 step "$@"; }
step() {
	local name=$1 detail=$2
	shift 2
	if [ $DRY = 1 ] && [ "${CPU_TOO:-0}" = 1 ]; then
		detail="$detail (dry run: on the CPU backend)"
	elif [ $DRY = 1 ]; then
		row "$name" plan - "$detail"
		return 0
	fi
	local t0=$(date +%s.%N) status=PASS
	"$@" > "$OUT/$name.log" 2>&1 || status=FAIL
	local sec=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
	[ $status = FAIL ] && detail="$detail; log tail: $(tail -c 300 "$OUT/$name.log" | tr '\n|' ' /')"
	row "$name" $status "$sec" "$detail"
}

echo "== carried files"
for f in bin/tdro-xla.gz bin/model.test.gz bin/train.test.gz shared-data.tar.gz; do
	if [ ! -s "$G/$f" ]; then
		echo "missing $G/$f: run scripts/gpu/build.sh here and carry .gpu" >&2
		exit 2
	fi
done
mkdir -p "$G/run"
for f in tdro-xla model.test train.test; do
	gzip -dc "$G/bin/$f.gz" > "$G/run/$f" && chmod +x "$G/run/$f"
done
# The carried data, always (a dry run checks it too).
rm -rf "$G/shared" && mkdir -p "$G/shared" && tar -xzf "$G/shared-data.tar.gz" -C "$G/shared" || exit 2
SHARED=$G/shared/data
for f in models/llama2c/stories260K.bin tokenizers/qwen3/tokenizer.json tokenizers/all-MiniLM-L6-v2/tokenizer.json eval/xquadr/zh.json eval/classic/adi train/conala; do
	[ -e "$SHARED/$f" ] || { echo "carried data lacks $f" >&2; exit 2; }
done
export TDRO_SHARED_DATA=$SHARED CI=true # a test that cannot find its data fails, never skips
echo "commit $(cat "$G/commit" 2>/dev/null); data $SHARED"
"$G/run/tdro-xla" --version || { echo "tdro-xla does not run" >&2; exit 2; }
GOLDEN='^(TestStories260KGoldenLogits|TestMatchesPyTorch|TestPoolingMatchesHiddenStates)$'
GRADCACHE='^TestGradCache'
for t in "model.test $GOLDEN 3" "train.test $GRADCACHE 3"; do
	set -- $t
	n=$(cd "${1%.test}" && "$G/run/$1" -test.list "$2" | grep -c '^Test')
	if [ "$n" -lt "$3" ]; then
		echo "$1 lists $n tests matching $2, want $3: the plan is stale" >&2
		exit 2
	fi
done

echo "== device"
if [ $DRY = 0 ]; then
	nvidia-smi -L || true
	SITES=$(python3 -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))')
	PLUGIN=$(for s in $SITES; do find "$s" -name 'xla_cuda_plugin.so' 2>/dev/null; done | head -1)
	if [ -z "$PLUGIN" ]; then
		echo "no xla_cuda_plugin.so in $SITES (pip package jax-cuda*-pjrt)" >&2
		exit 2
	fi
	mkdir -p "$G/pjrt"
	ln -sf "$PLUGIN" "$G/pjrt/pjrt_c_api_cuda_plugin.so"
	LIBS=$(for s in $SITES; do find "$s/nvidia" -maxdepth 2 -type d -name lib 2>/dev/null; done | tr '\n' ':')
	export LD_LIBRARY_PATH="${LIBS}${LD_LIBRARY_PATH:-}"
	export PJRT_PLUGIN_LIBRARY_PATH=$G/pjrt GOMLX_BACKEND=xla:cuda GOMLX_NO_AUTO_INSTALL=1
	echo "PJRT plugin: $PLUGIN"
	echo "CUDA libraries: $LIBS"
	python3 -c 'import torch, sentence_transformers as st; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "sentence-transformers", st.__version__)' || true
else
	echo "dry run: no device; the plugin would be found in the Python packages' jax-cuda*-pjrt wheel"
	export GOMLX_BACKEND=go:parallelism=-1
fi

echo "== checks"
cpustep golden "llama2.c logits, PyTorch BERT/decoder fixtures, pooling on xla:cuda" \
	bash -c "cd model && '$G/run/model.test' -test.run '$GOLDEN' -test.v -test.count=1"
cpustep gradient-cache "gradient cache = direct gradients on xla:cuda" \
	bash -c "cd train && '$G/run/train.test' -test.run '$GRADCACHE' -test.v -test.count=1"

# Train-step benchmark: name hidden layers ffn seq batch [arch heads kv vocab].
bench() {
	local name=$1 h=$2 l=$3 f=$4 s=$5 b=$6 arch=${7:-bert} heads=${8:-4} kv=${9:-4} vocab=${10:-30522}
	if [ $DRY = 1 ]; then
		row "bench $name" plan - "tdro fp32 vs PyTorch CUDA fp32 and bf16, tokens/s"
		return 0
	fi
	local t0=$(date +%s) go tps status=PASS detail
	go=$(cd train && TDRO_BENCH_GPU=1 "$G/run/train.test" -test.run '^$' -test.bench "TrainStep/$name\$" -test.benchtime 3x 2>> "$OUT/bench.log" | grep '^BenchmarkTrainStep')
	echo "$go" >> "$OUT/bench.log"
	tps=$(echo "$go" | awk '{for (i = 2; i <= NF; i++) if ($i == "tokens/s") print $(i-1)}')
	detail="tdro fp32 ${tps:-?} tok/s"
	for dt in fp32 bf16; do
		local tl tt
		tl=$(python3 scripts/train/bench_torch.py "$h" "$l" "$f" "$s" "$b" 3 16 cuda "$dt" "$arch" "$heads" "$kv" "$vocab" 2>> "$OUT/bench.log")
		echo "$tl" >> "$OUT/bench.log"
		tt=$(echo "$tl" | awk '{print $4}')
		detail="$detail; torch $dt ${tt:-?} tok/s"
		if [ -n "$tps" ] && [ -n "$tt" ]; then
			detail="$detail (tdro/torch $(echo "$tps $tt" | awk '{printf "%.2f", $1 / $2}'))"
		fi
	done
	[ -z "$tps" ] && status=FAIL
	row "bench $name" $status "$(( $(date +%s) - t0 ))" "$detail"
}
bench h256-l4-seq128-b32 256 4 1024 128 32
bench bertbase-seq128-b32 768 12 3072 128 32 bert 12 12 30522
bench qwen2-0.5b-seq128-b8 896 24 4864 128 8 qwen2 14 2 151936

step tiny-run "tdro run --preset tiny on xla:cuda: prepare, reference, tDRO, transfer, fine-tune, eval, report" \
	"$G/run/tdro-xla" run --preset tiny --data "$SHARED" --out "$OUT/tiny-run"
step qwen2-model "tdro model init tiny-qwen2 (Qwen3 BPE) for the sentence-transformers check" \
	"$G/run/tdro-xla" model init --preset tiny-qwen2 --tokenizer "$SHARED/tokenizers/qwen3" --out "$OUT/qwen2-model"
step static-model "tdro model init static (StaticEmbedding layout, MiniLM WordPiece) for the sentence-transformers check" \
	"$G/run/tdro-xla" model init --preset static --tokenizer "$SHARED/tokenizers/all-MiniLM-L6-v2" --out "$OUT/static-model"
step sentence-transformers "sentence-transformers loads tdro's BERT (reference), Qwen2 and static models and embeds as tdro, within 1e-4" \
	python3 scripts/gpu/st_check.py "$G/run/tdro-xla" "$OUT/tiny-run/models/reference" "$OUT/qwen2-model" "$OUT/static-model"

TOTAL=$(( $(date +%s) - START ))
{
	echo "# GPU check ($( [ $DRY = 1 ] && echo "dry run, no device" || nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"
	echo
	echo "commit $(cat "$G/commit" 2>/dev/null), $(date -u +%Y-%m-%dT%H:%MZ), total ${TOTAL} s"
	echo
	echo "| check | status | seconds | detail |"
	echo "|---|---|---:|---|"
	cat "$TABLE.rows"
} > "$TABLE"
rm -f "$TABLE.rows"
echo "== wrote $TABLE ($FAILED failed, ${TOTAL} s)"
[ $FAILED = 0 ]
