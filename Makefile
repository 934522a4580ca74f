# tdro: every target builds with the AVX2 SIMD kernels and runs the pure-Go
# backend in the mode that is safe on 2-core machines (see README).
export GOEXPERIMENT := simd
export GOMLX_BACKEND ?= go:parallelism=-1
GO ?= go
DATA ?= ../shared/data
RUN ?= runs/quickstart

.PHONY: build test quickstart study study-ablation bench bench-torch fuzz clean

build:
	$(GO) build -o bin/tdro ./cmd/tdro

test:
	$(GO) vet ./...
	$(GO) vet -tags xla ./...   # the GPU build (GoMLX XLA backend) must keep compiling
	$(GO) test -count=1 -timeout 60m ./...

quickstart: build
	./bin/tdro run --data $(DATA) --out $(RUN)

study: build
	./bin/tdro run --preset study --data $(DATA) --out runs/study

# The loss-measure ablation in the same run directory, after (or instead of) make study.
study-ablation: build
	DATA=$(DATA) scripts/study/ablation.sh runs/study

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

# Every fuzz target for FUZZTIME each (their seed corpora already run in make test).
FUZZTIME ?= 30s
fuzz:
	for dir in $$(grep -rl '^func Fuzz' --include='*_test.go' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -d' ' -f2); do \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir || exit 1; \
		done; \
	done

# tdro next to PyTorch CPU on the same architectures, in the same run, as
# ratios (installs Debian's python3-torch on first use).
bench-torch:
	scripts/train/bench.sh
	scripts/torch/bench.sh

clean:
	rm -rf bin runs
