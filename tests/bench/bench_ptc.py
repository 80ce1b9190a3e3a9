"""Benchmark: the server-side round trip of one programmatic tool call.

One private stack (tests/e2e/stack.py), one worker.  In the same run:
  plain /exec    K calls of `x = 1` in one warm session: the latency of a
                 whole run through the stack (ingress, queue, worker, runner).
  tool call      one POST /exec/programmatic whose program makes N tool calls
                 in a loop (`await count()`); the client answers each at once,
                 so the time from posting a continuation to the next
                 tool_call_required is the server's round trip of one call
                 (ingress claim, RPUSH, worker BLPOP, runner resume, the
                 program's next call, SIGSTOP, the round's record and notice,
                 the waiting ingress's token), excluding the tool itself.
Printed: p50/p99 of both, the ratio of the p50s.  Target: one round <= 5 ms
added at p50, i.e. a continuation's p50 at most 5 ms above what an HTTP
request to the ingress costs (the /health p50 is printed too).

usage: python3 bench_ptc.py [--quick]     (CI_INGRESS, CI_WORKER set)
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, require_docker_image  # noqa: E402

TAG = os.environ.get("IMAGE_TAG", "latest")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main(argv):
    quick = "--quick" in argv
    n_calls = 30 if quick else 300
    k_exec = 10 if quick else 60
    require_docker_image("code-interpreter/py:" + TAG)
    with Stack(env={"IMAGE_TAG": TAG, "LOG_LEVEL": "warn",
                    "PTC_MAX_ROUNDS": str(n_calls + 10)}) as s:
        # plain /exec of the same kind of program, warm session
        r = s.exec({"lang": "py", "code": "x = 1"}).json()
        sid = r["session_id"]
        ex = []
        for _ in range(k_exec):
            t0 = time.monotonic()
            r = s.exec({"lang": "py", "code": "x = 1", "session_id": sid, "timeout": 120000})
            ex.append((time.monotonic() - t0) * 1000.0)
            assert r.status == 200 and r.json()["status"] == "completed", r.body
        health = []
        for _ in range(k_exec):
            t0 = time.monotonic()
            s.get("/health")
            health.append((time.monotonic() - t0) * 1000.0)
        # one program, n_calls rounds
        code = "for i in range(%d):\n    await count()\nprint('done')\n" % n_calls
        r = s.post("/exec/programmatic", {"code": code, "session_id": sid,
                                          "tools": [{"name": "count"}]}).json()
        rounds = []
        while r["status"] == "tool_call_required":
            body = {"continuation_token": r["continuation_token"], "tool_results": [
                {"call_id": c["id"], "result": 1, "is_error": False} for c in r["tool_calls"]]}
            t0 = time.monotonic()
            resp = s.post("/exec/programmatic", body)
            rounds.append((time.monotonic() - t0) * 1000.0)
            r = resp.json()
        assert r["status"] == "completed" and r["stdout"] == "done\n", r
        rounds = rounds[:-1]   # the last continuation ends the run (not a round)
    print("programmatic tool calling (bench_ptc.py): %d rounds, %d plain /exec" %
          (len(rounds), len(ex)))
    print("  %-34s %9s %9s" % ("", "p50 ms", "p99 ms"))
    print("  %-34s %9.2f %9.2f" % ("plain /exec (x = 1, warm session)", pct(ex, 50),
                                   pct(ex, 99)))
    print("  %-34s %9.2f %9.2f" % ("one tool call round trip", pct(rounds, 50),
                                   pct(rounds, 99)))
    print("  %-34s %9.2f %9.2f" % ("GET /health (HTTP alone)", pct(health, 50),
                                   pct(health, 99)))
    print("  round / plain /exec (p50 ratio): %.2f" % (pct(rounds, 50) / pct(ex, 50)))
    print("  added per round at p50 beyond HTTP: %.2f ms (target <= 5 ms)" %
          (pct(rounds, 50) - pct(health, 50)))
    print("  mean round %.2f ms" % statistics.mean(rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
