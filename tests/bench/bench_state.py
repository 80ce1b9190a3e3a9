"""Benchmark: the latency Python state persistence adds to a call.

Two private stacks (tests/e2e/stack.py), one worker each, run in turn:
  with state     STATE_PERSISTENCE_ENABLED=true: a session holds an N MB
                 bytes object (os.urandom: incompressible, the worst case for
                 size), then K calls of `pass` in it: each restores and saves
                 N MB (worker: GET + lz4 + state.in, state.out + lz4 + SET;
                 runner: unpickle + pickle).
  baseline       STATE_PERSISTENCE_ENABLED=false: K calls of `pass`.
Printed per size and pacing: /exec p50 with state and baseline, the ratio,
the added latency (difference of the p50s), and the worker-side timings from
the audit lines (state_load.ms; state_save.ms, which now runs after the
result is out: a save is fenced, the result posted, then the blob stored).
Two pacings: back to back (the next call waits for the previous store: its
slot and sandbox are busy until then) and paced, 300 ms between calls (how
a chat user or an agent calls; the store is over by then).  Target: added
< 50 ms at 10 MB.

usage: python3 bench_state.py [--quick]     (CI_INGRESS, CI_WORKER set)
"""
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
    return [o["ms"] for o in s.worker_audits(event_type)]


def p50(xs):
    return statistics.median(xs) if xs else float("nan")


def calls(s, sid, n, pause_s):
    """n calls of `pass` in session sid; pause_s before each (0: back to back)."""
    lat = []
    for _ in range(n):
        if pause_s:
            time.sleep(pause_s)
        j, dt = timed_exec(s, "pass", sid)
        lat.append((j, dt))
    return lat


def main():
    quick = "--quick" in sys.argv
    k = 3 if quick else 15
    sizes = [1] if quick else [1, 10]
    pause = 0.3
    require_docker_image("code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest"))
    env = {"LOG_LEVEL": "info", "WORKER_CONCURRENCY": "1", "STATE_MAX_SIZE_MB": "64"}

    base = {}
    with Stack(env=dict(env, STATE_PERSISTENCE_ENABLED="false"), workers=1) as s:
        j, _ = timed_exec(s, "pass")
        for mode, ps in (("b2b", 0), ("paced", pause)):
            base[mode] = [dt for _, dt in calls(s, j["session_id"], k + 2, ps)[2:]]

    rows = []
    with Stack(env=dict(env, STATE_PERSISTENCE_ENABLED="true"), workers=1) as s:
        for mb in sizes:
            j, _ = timed_exec(s, "import os\nb = os.urandom(%d)" % (mb * 1024 * 1024))
            assert j["has_state"] and j["state_size"] > mb * 1024 * 1024, j
            sid = j["session_id"]
            for mode, ps in (("b2b", 0), ("paced", pause)):
                n_load, n_save = len(audit_ms(s, "state_load")), len(audit_ms(s, "state_save"))
                got = calls(s, sid, k + 2, ps)
                assert all(jj["has_state"] for jj, _ in got), got
                time.sleep(0.5)  # the last store's audit line
                loads = audit_ms(s, "state_load")[n_load:][2:]
                saves = audit_ms(s, "state_save")[n_save:][2:]
                rows.append((mb, mode, p50([dt for _, dt in got[2:]]), p50(loads), p50(saves)))

    print("bench_state: %d calls per figure, state = os.urandom(N) bytes" % k)
    print("  b2b:   each call sent the moment the previous answered")
    print("  paced: %.0f ms between calls (a chat user or an agent never comes back faster)"
          % (pause * 1000))
    for mode in ("b2b", "paced"):
        print("baseline (persistence off) %-5s /exec p50: %.1f ms" % (mode, p50(base[mode])))
    for mb, mode, lat, ld, sv in rows:
        b = p50(base[mode])
        print("state %2d MB %-5s: /exec p50 %.1f ms vs %.1f ms baseline (ratio %.2f), "
              "added %.1f ms; worker: restore %.1f ms, save %.1f ms (its Redis store after the result)"
              % (mb, mode, lat, b, lat / b, lat - b, ld, sv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
