#!/usr/bin/env bash
# ops/start-deps.sh - make sure dockerd and redis-server answer.
#
# Idempotent: starts each service only when it does not answer (no systemd
# needed), then waits up to 60 s for it.
#   dockerd: when DOCKER_SOCKET (default /var/run/docker.sock) does not
#            answer /_ping; started in the background, log var/log/dockerd.log.
#            A non-default socket gets a private daemon (state under
#            var/docker/<name>/, no bridge) - used by the tests.
#   redis:   when REDIS_HOST:REDIS_PORT (env, else .env, else 127.0.0.1:6379)
#            does not answer PING; started daemonized with appendonly yes,
#            data in var/redis/<port>/, log var/log/redis-<port>.log.
#            REDIS_PASSWORD, when set, becomes requirepass.
#
#   bash ops/start-deps.sh [--docker-only | --redis-only]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

want_docker=1
want_redis=1
for arg in "$@"; do
    case "$arg" in
    --docker-only) want_redis=0 ;;
    --redis-only) want_docker=0 ;;
    *) ci_die "unknown argument: $arg (usage: start-deps.sh [--docker-only|--redis-only])" ;;
    esac
done
TIMEOUT="${START_DEPS_TIMEOUT:-60}"

start_docker() {
    local sock args=()
    sock="$(ci_cfg DOCKER_SOCKET /var/run/docker.sock)"
    if ci_docker_ok "$sock"; then
        ci_log "dockerd: already answering on $sock"
        return 0
    fi
    command -v dockerd >/dev/null || ci_die "dockerd not installed (run ops/bootstrap.sh)"
    local log="$CI_VAR/log/dockerd.log" pid
    if [ "$sock" != /var/run/docker.sock ]; then
        # A private daemon (tests): own socket, state, pid file; no bridge.
        local d="$CI_VAR/docker/$(basename "$sock" .sock)"
        mkdir -p "$d"
        log="$CI_VAR/log/dockerd-$(basename "$sock" .sock).log"
        args=(-H "unix://$sock" --data-root "$d/data" --exec-root "$d/exec"
            --pidfile "$CI_VAR/run/dockerd-$(basename "$sock" .sock).pid"
            --bridge none --iptables=false --ip-masq=false)
    fi
    ci_log "dockerd: not answering on $sock; starting it (log $log)"
    # setsid: its own session, so it outlives this script and its caller.
    # dockerd writes its own pid file (/var/run/docker.pid by default).
    setsid dockerd "${args[@]}" >>"$log" 2>&1 </dev/null &
    pid=$!
    ci_wait_started "dockerd (on $sock)" "$log" "$TIMEOUT" kill -0 "$pid" -- ci_docker_ok "$sock"
    ci_log "dockerd: ready on $sock"
}

start_redis() {
    local host port pass
    host="$(ci_cfg REDIS_HOST 127.0.0.1)"
    port="$(ci_cfg REDIS_PORT 6379)"
    pass="$(ci_cfg REDIS_PASSWORD '')"
    [ -z "$pass" ] || export REDISCLI_AUTH="$pass"
    if ci_redis_ok "$host" "$port"; then
        ci_log "redis: already answering on $host:$port"
        return 0
    fi
    command -v redis-server >/dev/null || ci_die "redis-server not installed (run ops/bootstrap.sh)"
    local dir="$CI_VAR/redis/$port" log="$CI_VAR/log/redis-$port.log"
    mkdir -p "$dir"
    ci_log "redis: not answering on $host:$port; starting it (data $dir, log $log)"
    local args=(--bind "$host" --port "$port" --dir "$dir" --appendonly yes
        --daemonize yes --logfile "$log" --pidfile "$CI_VAR/run/redis-$port.pid")
    [ -z "$pass" ] || args+=(--requirepass "$pass")
    if ! redis-server "${args[@]}"; then
        tail -n 20 "$log" >&2 || true
        ci_die "redis-server failed to start on $host:$port (log: $log)"
    fi
    if ! ci_wait_for "$TIMEOUT" "redis on $host:$port" ci_redis_ok "$host" "$port"; then
        tail -n 20 "$log" >&2 || true
        ci_die "redis did not answer PING on $host:$port within ${TIMEOUT}s (log: $log)"
    fi
    ci_log "redis: ready on $host:$port"
}

[ "$want_docker" -eq 0 ] || start_docker
[ "$want_redis" -eq 0 ] || start_redis
