#!/usr/bin/env bash
# Runs every runner on every workload in one `go test -bench` run, in
# rounds with the runners' order rotated each round, saves the raw output
# under results/ and prints the medians, the ratios to lazysched and the
# targets of DESIGN §10 (see README.md).
#
# Environment:
#   QUICK=1        a fast run: a tenth of the tasks, 2 rounds (a minute or so)
#   BENCH_ROUNDS        rounds (default 5; 2 with QUICK=1)
#   BENCH_SPAWN_ROUNDS  W6 rounds that include the peers needing a goroutine
#                       per pending task, ~20 s a sample each (default 2)
#   BENCH_SCALE         factor on every task count (default 1; 0.1 with QUICK=1)
#   BENCH               which benchmarks, a -bench pattern (default: all)
set -euo pipefail
cd "$(dirname "$0")"

if [[ "${QUICK:-}" == 1 ]]; then
	: "${BENCH_ROUNDS:=2}" "${BENCH_SCALE:=0.1}"
fi
export BENCH_ROUNDS="${BENCH_ROUNDS:-5}" BENCH_SCALE="${BENCH_SCALE:-1}"
export BENCH_SPAWN_ROUNDS="${BENCH_SPAWN_ROUNDS:-2}"
pattern="${BENCH:-.}"

mkdir -p results
stamp="$(date +%Y%m%d-%H%M%S)"
raw="results/run-$stamp.txt"

{
	echo "# $(date -u +%FT%TZ) rounds=$BENCH_ROUNDS spawn-rounds=$BENCH_SPAWN_ROUNDS scale=$BENCH_SCALE bench=$pattern"
	echo "# nproc: $(nproc)"
	echo "# $(go version)"
	echo "# cpu model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$raw"

# One op is one whole workload, hence -benchtime=1x; the rounds are done
# inside the benchmarks (BENCH_ROUNDS) so that they can rotate the runners,
# which -count cannot (it repeats each sub-benchmark back to back).
go test -run '^$' -bench "$pattern" -benchtime 1x -count 1 -timeout 30m . | tee -a "$raw"
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$raw"

# The same without the #NN suffixes of repeated names, for benchstat.
sed -E 's/#[0-9]+//' "$raw" > "results/run-$stamp.bench"
cp "$raw" results/latest.txt

echo
go run ./cmd/report "$raw" | tee "results/report-$stamp.txt"
echo
echo "raw output: bench/$raw (benchstat-ready: bench/results/run-$stamp.bench)"
