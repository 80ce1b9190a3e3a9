"""Fault test: a session's line of calls while the workers running them are
SIGKILLed (issue 14 finding 8; docs/queue.md "Sessions: one call at a time").

Six calls `n = n + 1` of one session are queued at once on three workers;
the worker running call 0, then the one running call 2, then call 4 is
SIGKILLed mid-run (and started again under its id, which reaps what it left).
Each killed call goes back to another worker after the lease and still holds
the session's turn: every call completes once, prints its arrival number,
starts only after the one before it ended, and the session ends with n == 6.
Real redis-server, ingress, workers, dockerd and the py image; no timing
assertions.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

from stack import Stack, require_docker_image, run_cases, wait_for  # noqa: E402

PY_IMAGE = "code-interpreter/py:latest"
SLOW_INC = "import time\nn = n + 1\ntime.sleep(3)\nprint(n)"


def job(s, jid, wait=0):
    return s.get("/jobs/%s" % jid + ("?wait=%d" % wait if wait else ""), key=s.KEY).json()


def field(s, jid, name):
    raw = s.redis("HGET", "ci:job:" + jid, name)
    return None if raw.startswith(b"$-1") else raw.split(b"\r\n")[1].decode()


def case_line_under_kills():
    require_docker_image(PY_IMAGE)
    env = {"LEASE_MS": "2000", "WORKER_CONCURRENCY": "2", "MAX_EXECUTION_TIME": "120",
           "LOG_LEVEL": "info"}
    with Stack(env=env, workers=3) as s:
        r = s.exec({"lang": "py", "code": "n = 0"}).json()
        assert r["status"] == "completed", r
        sid = r["session_id"]
        ids = []
        for _ in range(6):
            p = s.post("/jobs", {"lang": "py", "code": SLOW_INC, "session_id": sid})
            assert p.status == 202, p.body
            ids.append(p.json()["job_id"])
        for k in (0, 2, 4):
            wait_for(lambda: job(s, ids[k])["status"] == "running", 120, "call %d running" % k)
            victim = field(s, ids[k], "worker")  # WORKER_ID == process name here
            s.kill(victim, signal.SIGKILL)
            s.start_worker(int(victim.split("-")[1]))
        for i, jid in enumerate(ids):
            j = job(s, jid, wait=120)
            assert j["status"] == "completed", (i, j)
            assert j["result"]["stdout"] == "%d\n" % (i + 1), (i, j)
            assert j["attempts"] == (2 if i in (0, 2, 4) else 1), (i, j)
        for i in range(1, len(ids)):
            assert int(field(s, ids[i], "started_at")) >= int(field(s, ids[i - 1], "finished_at"))
        r = s.exec({"lang": "py", "code": "print(n)", "session_id": sid}).json()
        assert r["stdout"] == "6\n", r
        assert s.redis("EXISTS", "ci:turn:" + sid) == b":0\r\n"
        assert s.redis("ZCARD", "ci:turn:due") == b":0\r\n"


CASES = {"line_under_kills": case_line_under_kills}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
