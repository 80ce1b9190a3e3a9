"""Benchmark: the latency Python state persistence adds to a call.

Two private stacks (tests/e2e/stack.py), one worker each, run in turn:
  with state     STATE_PERSISTENCE_ENABLED=true: a session holds an N MB
                 bytes object (os.urandom: incompressible, the worst case for
                 size), then K calls of `pass` in it: each restores and saves
                 N MB (worker: GET + lz4 + state.in, state.out + lz4 + SET;
                 runner: unpickle + pickle).
  baseline       STATE_PERSISTENCE_ENABLED=false: K calls of `pass`.
Printed per size: /exec p50 with state and baseline, the ratio, the added
latency (difference of the p50s), and the worker-side stage timings from the
audit lines (state_load.ms, state_save.ms).  Target: added < 50 ms at 10 MB.

usage: python3 bench_state.py [--quick]     (CI_INGRESS, CI_WORKER set)
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, require_docker_image  # noqa: E402


def timed_exec(s, code, sid=None):
    body = {"lang": "py", "code": code}
    if sid:
        body["session_id"] = sid
    t0 = time.monotonic()
    r = s.exec(body)
    dt = (time.monotonic() - t0) * 1000.0
    assert r.status == 200, r.body
    j = r.json()
    assert j["status"] == "completed", j
    return j, dt


def audit_ms(s, event_type):
    out = []
    for name in s.procs:
        if name.startswith("worker"):
            with open(os.path.join(s.tmp, name + ".log"), "rb") as f:
                for line in f.read().splitlines():
                    try:
                        o = json.loads(line)
                    except ValueError:
                        continue
                    if o.get("audit") and o.get("event_type") == event_type:
                        out.append(o["ms"])
    return out


def p50(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    quick = "--quick" in sys.argv
    k = 3 if quick else 15
    sizes = [1] if quick else [1, 10]
    require_docker_image("code-interpreter/py:latest")
    env = {"LOG_LEVEL": "info", "WORKER_CONCURRENCY": "1", "STATE_MAX_SIZE_MB": "64"}

    base = []
    with Stack(env=dict(env, STATE_PERSISTENCE_ENABLED="false"), workers=1) as s:
        j, _ = timed_exec(s, "pass")
        for _ in range(k + 2):
            base.append(timed_exec(s, "pass", j["session_id"])[1])
    base = base[2:]

    rows = []
    with Stack(env=dict(env, STATE_PERSISTENCE_ENABLED="true"), workers=1) as s:
        for mb in sizes:
            j, _ = timed_exec(s, "import os\nb = os.urandom(%d)" % (mb * 1024 * 1024))
            assert j["has_state"] and j["state_size"] > mb * 1024 * 1024, j
            sid = j["session_id"]
            n_load, n_save = len(audit_ms(s, "state_load")), len(audit_ms(s, "state_save"))
            lat = []
            for _ in range(k + 2):
                j, dt = timed_exec(s, "pass", sid)
                assert j["has_state"], j
                lat.append(dt)
            loads = audit_ms(s, "state_load")[n_load:][2:]
            saves = audit_ms(s, "state_save")[n_save:][2:]
            rows.append((mb, p50(lat[2:]), p50(loads), p50(saves)))

    b = p50(base)
    print("bench_state: %d calls per figure, state = os.urandom(N) bytes" % k)
    print("baseline (persistence off) /exec p50: %.1f ms" % b)
    for mb, lat, ld, sv in rows:
        print("state %2d MB: /exec p50 %.1f ms vs %.1f ms baseline (ratio %.2f), "
              "added %.1f ms; worker stages p50: restore %.1f ms + save %.1f ms = %.1f ms"
              % (mb, lat, b, lat / b, lat - b, ld, sv, ld + sv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
