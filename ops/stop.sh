#!/usr/bin/env bash
# ops/stop.sh - stop the ingress and every worker that ops/run.sh started
# (pid files var/run/ingress.pid and var/run/worker-*.pid).  dockerd and
# redis-server are left running.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

INGRESS_BIN="$CI_ROOT/build/ingress/ci-ingress"
WORKER_BIN="$CI_ROOT/build/worker/ci-worker"

# Stop taking requests first, then let workers finish their jobs.
ci_stop_pidfile "$CI_VAR/run/ingress.pid" "$INGRESS_BIN"
for f in "$CI_VAR"/run/worker-*.pid; do
    [ -e "$f" ] || continue
    ci_stop_pidfile "$f" "$WORKER_BIN" &
done
wait
ci_log "stopped"
