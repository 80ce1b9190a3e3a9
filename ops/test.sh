#!/usr/bin/env bash
# ops/test.sh - THE test command (CI runs it through .ci/run).
#
#   bash ops/test.sh            # everything: deps, all images, all tests
#   bash ops/test.sh --quick    # unit tests only; no services, no images
#   TEST_LABELS=unit bash ops/test.sh    # ctest -L <regex> (e.g. 'unit|integration')
#
# Phases: bootstrap.sh, start-deps.sh, images/build.sh (all languages), the
# npm set-ups (ops/s3/install.sh, tests/librechat/install.sh), then a
# sanitized, warnings-as-errors Debug build in build-ci/ and
# `ctest --output-on-failure -j2` there.  Prints a timing summary per phase and
# exits non-zero when any phase or test fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$CI_ROOT"

quick=0
for arg in "$@"; do
    case "$arg" in
    --quick) quick=1 ;;
    *) ci_die "unknown argument: $arg (usage: test.sh [--quick])" ;;
    esac
done
labels="${TEST_LABELS:-}"
[ "$quick" -eq 0 ] || labels=unit

phases=()
t_all=$(ci_now)
summary() {
    local rc=$?
    echo
    echo "==== timing summary ===="
    local p
    for p in "${phases[@]}"; do echo "  $p"; done
    printf '  %-22s %5d s\n' "total" "$(($(ci_now) - t_all))"
    if [ "$rc" -eq 0 ]; then echo "==== PASSED ===="; else echo "==== FAILED (exit $rc) ===="; fi
}
trap summary EXIT

# phase NAME CMD...: runs CMD, records its duration; a failure ends the run.
phase() {
    local name=$1 t0 rc=0
    shift
    echo
    ci_log "==== $name ===="
    t0=$(ci_now)
    "$@" || rc=$?
    phases+=("$(printf '%-22s %5d s%s' "$name" "$(($(ci_now) - t0))" \
        "$([ "$rc" -eq 0 ] || echo "  FAILED (exit $rc)")")")
    return "$rc"
}

configure() {
    cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=Debug -DCI_SANITIZE=ON -DCI_WERROR=ON
}
run_ctest() {
    local args=(--output-on-failure -j2 --no-tests=error)
    [ -z "$labels" ] || args+=(-L "$labels")
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    (cd build-ci && ctest "${args[@]}")
}

# The full run also installs docker-compose: ops.compose_deploy must run, not skip.
if [ "$quick" -eq 0 ]; then
    phase bootstrap bash ops/bootstrap.sh --compose
else
    phase bootstrap bash ops/bootstrap.sh
fi
if [ "$quick" -eq 0 ]; then
    phase services bash ops/start-deps.sh
    phase images bash ops/images/build.sh
    phase s3rver bash ops/s3/install.sh  # the S3 server the storage tests start
    phase librechat-client bash tests/librechat/install.sh  # @librechat/agents, pinned
fi
phase configure configure
phase build cmake --build build-ci -j2
phase "ctest${labels:+ -L $labels}" run_ctest
