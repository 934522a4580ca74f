# tdro: every target builds with the AVX2 SIMD kernels and runs the pure-Go
# backend in the mode that is safe on 2-core machines (see README).
export GOEXPERIMENT := simd
export GOMLX_BACKEND ?= go:parallelism=-1
GO ?= go
DATA ?= ../shared/data
RUN ?= runs/quickstart

.PHONY: build test quickstart bench fuzz clean

build:
	$(GO) build -o bin/tdro ./cmd/tdro

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

quickstart: build
	./bin/tdro run --data $(DATA) --out $(RUN)

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf bin runs
