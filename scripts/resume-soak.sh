#!/bin/sh
# Resume soak: kill a training run with SIGKILL at a random step, resume it,
# and check that its final weights equal an uninterrupted run's (max abs diff
# <= 1e-6) — N times (default 20), each with its own kill step.
#
#   scripts/resume-soak.sh [N]
#
# Each round is train.TestResumeAfterSIGKILL with TDRO_RESUME_SEED=round, so a
# failing round reproduces with:
#   TDRO_RESUME_SEED=<round> go test ./train -run TestResumeAfterSIGKILL -v
set -eu
cd "$(dirname "$0")/.."
N=${1:-20}
export GOEXPERIMENT=simd
export GOMLX_BACKEND="${GOMLX_BACKEND:-go:parallelism=-1}"
bin=$(mktemp -d)/train.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./train
cd train
fail=0
i=1
while [ "$i" -le "$N" ]; do
	if out=$(TDRO_RESUME_SEED=$i "$bin" -test.run '^TestResumeAfterSIGKILL$' -test.count=1 -test.v 2>&1); then
		echo "round $i: ok: $(echo "$out" | grep -o 'SIGKILL after [0-9]* logged steps; resuming from the checkpoint at step [0-9]*')"
	else
		echo "round $i: FAILED"
		echo "$out" | tail -20
		fail=$((fail + 1))
	fi
	i=$((i + 1))
done
echo "$((N - fail))/$N rounds resumed to identical weights"
[ "$fail" -eq 0 ]
