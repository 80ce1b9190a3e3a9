# ops/lib.sh - helpers shared by the ops scripts (sourced, never run).
#
# Sets CI_ROOT (the repo root), creates var/{log,run,cache}, and offers
# logging, phase timing and wait-for helpers.  Every script that sources this
# works from any current directory.

CI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CI_VAR="$CI_ROOT/var"
mkdir -p "$CI_VAR/log" "$CI_VAR/run" "$CI_VAR/cache"

ci_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
ci_warn() { printf '[%s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ci_die() {
    printf '[%s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
    exit 1
}

# ci_now: seconds since the epoch (integer).
ci_now() { date +%s; }

# ci_wait_for SECONDS DESCRIPTION CMD...: runs CMD every 0.2 s until it
# succeeds; returns 1 after SECONDS.
ci_wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$(($(ci_now) + secs))
    until "$@" >/dev/null 2>&1; do
        if [ "$(ci_now)" -ge "$deadline" ]; then
            ci_warn "timed out after ${secs}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

# ci_wait_started WHAT LOG SECS ALIVE... -- READY...: a daemon just started
# answers: polls READY every 0.2 s; dies with LOG's tail when ALIVE fails
# (it exited) or SECS pass.
ci_wait_started() {
    local what=$1 log=$2 secs=$3
    shift 3
    local alive=()
    while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
        alive+=("$1")
        shift
    done
    shift
    local deadline=$(($(ci_now) + secs))
    until "$@" >/dev/null 2>&1; do
        if ! "${alive[@]}"; then
            tail -n 20 "$log" >&2 || true
            ci_die "$what exited during start-up (log: $log)"
        fi
        if [ "$(ci_now)" -ge "$deadline" ]; then
            tail -n 20 "$log" >&2 || true
            ci_die "$what did not answer within ${secs}s (log: $log)"
        fi
        sleep 0.2
    done
}

# ci_docker_ok [SOCKET]: the Docker daemon answers on its unix socket
# (default /var/run/docker.sock).
ci_docker_ok() {
    curl -sf --max-time 3 --unix-socket "${1:-/var/run/docker.sock}" \
        http://localhost/_ping >/dev/null 2>&1
}

# ci_redis_ok HOST PORT: the Redis server answers PING.
ci_redis_ok() {
    [ "$(timeout 3 redis-cli -h "$1" -p "$2" --no-auth-warning ping 2>/dev/null)" = "PONG" ]
}

# ci_dotenv_get NAME: the value of NAME in $CI_ROOT/.env (last one wins),
# quotes stripped; empty when absent.
ci_dotenv_get() {
    local f="$CI_ROOT/.env"
    [ -f "$f" ] || return 0
    sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?$1=(.*)$/\2/p" "$f" | tail -n1 |
        sed -E 's/^"(.*)"$/\1/; s/^'"'"'(.*)'"'"'$/\1/'
}

# ci_cfg NAME DEFAULT: the environment value, else .env, else DEFAULT (the
# same precedence the binaries use, see common/ci_env.h).
ci_cfg() {
    local v="${!1:-}"
    [ -n "$v" ] || v="$(ci_dotenv_get "$1")"
    printf '%s' "${v:-$2}"
}

# ci_pid_alive PIDFILE EXE: the pid in PIDFILE is alive and runs EXE (an
# absolute path), so a recycled pid is never mistaken for ours.
ci_pid_alive() {
    local pid exe
    [ -f "$1" ] || return 1
    pid="$(cat "$1" 2>/dev/null)"
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    # a binary relinked since the start reads "<path> (deleted)"
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null)"
    [ "${exe% (deleted)}" = "$(readlink -f "$2")" ]
}

# ci_stop_pidfile PIDFILE EXE: SIGTERM the process, SIGKILL after 10 s,
# remove PIDFILE.  Quiet no-op when it is not running.
ci_stop_pidfile() {
    local f=$1 exe=$2 pid i
    if ci_pid_alive "$f" "$exe"; then
        pid="$(cat "$f")"
        ci_log "stopping $(basename "$f" .pid) (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 50); do
            [ -d "/proc/$pid" ] || break
            sleep 0.2
        done
        if [ -d "/proc/$pid" ]; then
            ci_warn "$(basename "$f" .pid) ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$f"
}
