#!/usr/bin/env bash
# start-deps.sh starts redis-server on a free private port when nothing
# answers there (AOF on, data under var/redis/<port>/), and a second run
# leaves the running one alone.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
pidf="$root/var/run/redis-$port.pid"
cleanup() {
    local pid=""
    [ ! -f "$pidf" ] || pid="$(cat "$pidf")"
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
        # redis writes its data dir while it shuts down: wait before removing it
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$root/var/redis/$port" "$pidf" "$root/var/log/redis-$port.log"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

export REDIS_HOST=127.0.0.1 REDIS_PORT=$port
out1="$(bash "$root/ops/start-deps.sh" --redis-only 2>&1)" || { echo "$out1"; fail "first run exited non-zero"; }
echo "$out1"
grep -q "redis: ready on 127.0.0.1:$port" <<<"$out1" || fail "first run did not start redis"
[ "$(redis-cli -p "$port" ping)" = PONG ] || fail "no PONG on port $port"
[ "$(redis-cli -p "$port" config get appendonly | tail -n1)" = yes ] || fail "appendonly is not on"
[ "$(redis-cli -p "$port" config get dir | tail -n1)" = "$root/var/redis/$port" ] || fail "wrong data dir"
pid1="$(cat "$pidf")"

out2="$(bash "$root/ops/start-deps.sh" --redis-only 2>&1)" || { echo "$out2"; fail "second run exited non-zero"; }
echo "$out2"
grep -q "redis: already answering on 127.0.0.1:$port" <<<"$out2" || fail "second run did not find it running"
[ "$(cat "$pidf")" = "$pid1" ] || fail "second run replaced the server"
[ "$(redis-cli -p "$port" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')" = "$pid1" ] ||
    fail "the answering server is not the one started first"
echo PASS
