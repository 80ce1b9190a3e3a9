#!/usr/bin/env bash
# ops/run.sh - set up everything and run the service on this machine.
#
#   bash ops/run.sh
#
# 1. installs missing Debian packages (bootstrap.sh)
# 2. starts dockerd and redis-server when they don't answer (start-deps.sh)
# 3. builds the C code into build/ (RelWithDebInfo)
# 4. builds the sandbox images (images/build.sh; IMAGES="py bash" limits them)
# 5. makes sure there is an API key: $API_KEY, else API_KEY in .env, else a
#    new one appended to .env (mode 600)
# 6. (re)starts build/ingress/ci-ingress and WORKERS (default 1) copies of
#    build/worker/ci-worker with WORKER_ID=worker-<i>, in the background
#    (logs var/log/ingress.log, var/log/worker-<i>.log; pids var/run/*.pid),
#    each with WORKER_CONCURRENCY slots (default 4 per core) and a pool
#    memory budget POOL_MEMORY_MB (default a quarter of the machine's memory)
# 7. waits for GET /health on PORT (default 8000) and prints how to call it.
# Running it again restarts the service with the current code.  Stop with
# bash ops/stop.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$CI_ROOT"

WORKERS="${WORKERS:-1}"
[[ "$WORKERS" =~ ^[1-9][0-9]*$ ]] || ci_die "WORKERS must be a positive number, not '$WORKERS'"
INGRESS_BIN="$CI_ROOT/build/ingress/ci-ingress"
WORKER_BIN="$CI_ROOT/build/worker/ci-worker"

bash ops/bootstrap.sh
bash ops/start-deps.sh

ci_log "building the C code in build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$CI_VAR/log/cmake-configure.log" 2>&1 ||
    { tail -n 40 "$CI_VAR/log/cmake-configure.log" >&2; ci_die "cmake configure failed"; }
# only what the service runs: the test programs are built by ops/test.sh
cmake --build build -j2 --target ci-ingress ci-worker ci-keys ci-wan-rules
for b in "$INGRESS_BIN" "$WORKER_BIN"; do
    [ -x "$b" ] || ci_die "build did not produce $b"
done

# shellcheck disable=SC2086  # IMAGES is a list of language names
bash ops/images/build.sh ${IMAGES:-}

# ---- API key ----
api_key="${API_KEY:-}"
key_note="from the environment"
if [ -z "$api_key" ]; then
    api_key="$(ci_dotenv_get API_KEY)"
    key_note="from .env"
fi
if [ -z "$api_key" ]; then
    api_key="$(openssl rand -hex 24)"
    touch .env
    chmod 600 .env
    # keep the file's last line intact when it has no trailing newline
    [ ! -s .env ] || [ "$(tail -c1 .env)" = "" ] || echo >>.env
    echo "API_KEY=$api_key" >>.env
    key_note="new, saved in .env"
fi
export API_KEY="$api_key"

# ---- (re)start the service ----
bash ops/stop.sh
port="$(ci_cfg PORT 8000)"
# Worker slots per core unless configured (env or .env): a Python call is a
# fork of a pre-imported interpreter, mostly waiting on I/O, so a few slots per
# core keep the cores busy; compose and a bare ci-worker keep the binary's 2.
WORKER_CONCURRENCY="$(ci_cfg WORKER_CONCURRENCY $((4 * $(nproc))))"
export WORKER_CONCURRENCY
# The pool's memory budget: a quarter of the machine's memory unless
# configured (the binary's 2048 MB keeps twelve Python containers: sixteen
# users at once would then have their containers evicted and re-created,
# seconds of CPU each, on every call; docs/pool.md).
POOL_MEMORY_MB="$(ci_cfg POOL_MEMORY_MB $(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 4096 )))"
export POOL_MEMORY_MB

# start_bg NAME EXE: runs EXE in its own session from the repo root (so it
# finds .env), appending to var/log/NAME.log, pid in var/run/NAME.pid.
start_bg() {
    local name=$1 exe=$2 log="$CI_VAR/log/$1.log"
    echo "=== $(date -Is) start" >>"$log"
    setsid "$exe" >>"$log" 2>&1 </dev/null &
    echo $! >"$CI_VAR/run/$name.pid"
    ci_log "started $name (pid $!, log $log)"
}

start_bg ingress "$INGRESS_BIN"
for i in $(seq 1 "$WORKERS"); do
    WORKER_ID="worker-$i" start_bg "worker-$i" "$WORKER_BIN"
done

# Wait for GET /health; give up at once when the ingress exits.
ci_wait_started "the ingress (GET /health on port $port)" "$CI_VAR/log/ingress.log" 30 \
    ci_pid_alive "$CI_VAR/run/ingress.pid" "$INGRESS_BIN" -- \
    curl -sf --max-time 2 "http://localhost:$port/health"
sleep 0.5
ci_pid_alive "$CI_VAR/run/ingress.pid" "$INGRESS_BIN" || {
    tail -n 30 "$CI_VAR/log/ingress.log" >&2 || true
    ci_die "the ingress exited (is another server on port $port? log var/log/ingress.log)"
}
for i in $(seq 1 "$WORKERS"); do
    ci_pid_alive "$CI_VAR/run/worker-$i.pid" "$WORKER_BIN" || {
        tail -n 30 "$CI_VAR/log/worker-$i.log" >&2 || true
        ci_die "worker-$i exited (log var/log/worker-$i.log)"
    }
done

cat <<MSG

  Service ready: http://localhost:$port   ($WORKERS worker(s) x $WORKER_CONCURRENCY slots; stop: bash ops/stop.sh)
  API key ($key_note): $api_key
  Logs: var/log/ingress.log var/log/worker-*.log

  Try it:
    curl -s http://localhost:$port/exec \\
      -H 'x-api-key: $api_key' -H 'Content-Type: application/json' \\
      -d '{"lang":"py","code":"print(6*7)"}'

MSG
