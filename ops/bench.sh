#!/usr/bin/env bash
# ops/bench.sh - THE benchmark command: prints every DESIGN.md section 8 figure
# beside a baseline measured in the same run (ratios), never fails on a figure.
#
#   bash ops/bench.sh            # everything (about 5-8 minutes on 2 cores)
#   bash ops/bench.sh --quick    # a short smoke run of each program
#   BENCH_ONLY=exec,held bash ops/bench.sh   # some sections of bench_exec.py
#
# Builds an optimised tree in build-bench/ (Release, no sanitizers), makes sure
# redis-server, dockerd and the images are there, then runs:
#   build-bench/tests/bench/bench_queue     queue alone: jobs/s vs redis-benchmark
#   tests/bench/bench_exec.py               /exec latency, numpy, languages, fresh
#                                           sessions, held waits, wrk POST /jobs
# Every stack is private (own redis-server on a free loopback port).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$CI_ROOT"

quick=()
for arg in "$@"; do
    case "$arg" in
    --quick) quick=(--quick) ;;
    *) ci_die "unknown argument: $arg (usage: bench.sh [--quick])" ;;
    esac
done

command -v wrk >/dev/null || bash ops/bootstrap.sh
bash ops/start-deps.sh
bash ops/images/build.sh

ci_log "building build-bench/ (Release)"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCI_SANITIZE=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target ci-ingress ci-worker bench_queue >/dev/null

export CI_INGRESS="$CI_ROOT/build-bench/ingress/ci-ingress"
export CI_WORKER="$CI_ROOT/build-bench/worker/ci-worker"

echo
echo "######## queue alone (bench_queue) ########"
if [ "${#quick[@]}" -gt 0 ]; then
    build-bench/tests/bench/bench_queue -n 2000 --quick
else
    build-bench/tests/bench/bench_queue
fi

echo
echo "######## service end to end (bench_exec.py) ########"
only=()
[ -z "${BENCH_ONLY:-}" ] || only=(--only "$BENCH_ONLY")
python3 tests/bench/bench_exec.py "${quick[@]}" "${only[@]}"

echo
echo "######## programmatic tool calling (bench_ptc.py) ########"
python3 tests/bench/bench_ptc.py "${quick[@]}"
