"""End-to-end: calls of one session run one at a time, in arrival order, on
any worker (issue 14 finding 8; docs/queue.md "Sessions: one call at a
time").

Everything real: a private redis-server, the ingress, two or three
ci-worker processes, the machine's dockerd and the py image.  LLM agents
make parallel tool calls into one session; before the line, eight parallel
`n = n + 1` calls left n == 2 (each loaded the same state, the last save
won).  No timing assertions: order is read from the job records
(started_at / finished_at, attempts) and from the programs' own output.
"""
import signal
import sys
import threading

from stack import Stack, require_docker_image, run_cases, wait_for

PY_IMAGE = "code-interpreter/py:latest"
INC = "n = n + 1\nprint(n)"
# A call waits for its turn at most its own timeout (default
# MAX_EXECUTION_TIME): generous here, so that a loaded machine (container
# starts of several seconds) does not time out the calls that wait on purpose.
SLOW_OK = {"MAX_EXECUTION_TIME": "120"}


def job(s, jid, wait=0):
    path = "/jobs/%s" % jid + ("?wait=%d" % wait if wait else "")
    return s.get(path, key=s.KEY).json()


def field(s, jid, name):
    raw = s.redis("HGET", "ci:job:" + jid, name)
    return None if raw.startswith(b"$-1") else raw.split(b"\r\n")[1].decode()


def submit(s, code, sid, **extra):
    body = dict({"lang": "py", "code": code, "session_id": sid}, **extra)
    r = s.post("/jobs", body)
    assert r.status == 202, (r.status, r.body)
    return r.json()["job_id"]


def new_session(s, code="n = 0"):
    r = s.exec({"lang": "py", "code": code})
    assert r.status == 200, r.body
    j = r.json()
    assert j["status"] == "completed" and j["has_state"], j
    return j["session_id"]


def case_parallel_increment():
    """8 parallel /exec `n = n + 1` of one session -> n == 8, each value once;
    then 8 calls queued back to back through /jobs run in arrival order, one
    at a time (each starts after the one before it ended)."""
    require_docker_image(PY_IMAGE)
    with Stack(env=dict(SLOW_OK, WORKER_CONCURRENCY="2"), workers=3) as s:
        sid = new_session(s)
        out, errs = [], []

        def call():
            try:
                r = s.exec({"lang": "py", "code": INC, "session_id": sid})
                out.append((r.status, r.json()))
            except Exception as e:  # noqa: BLE001 - reported below
                errs.append(repr(e))

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errs, errs
        assert all(st == 200 and j["status"] == "completed" for st, j in out), out
        assert sorted(int(j["stdout"]) for _, j in out) == list(range(1, 9)), out
        r = s.exec({"lang": "py", "code": "print(n)", "session_id": sid}).json()
        assert r["stdout"] == "8\n", r

        ids = [submit(s, INC, sid) for _ in range(8)]
        jobs = [job(s, jid, wait=120) for jid in ids]
        for i, j in enumerate(jobs):
            assert j["status"] == "completed", j
            assert j["result"]["stdout"] == "%d\n" % (9 + i), (i, j)
        for i in range(1, len(ids)):
            before = int(field(s, ids[i - 1], "finished_at"))
            assert int(field(s, ids[i], "started_at")) >= before, i
        workers = [field(s, jid, "worker") for jid in ids]
        print("workers that ran the queued calls:", workers)
        assert s.redis("EXISTS", "ci:turn:" + sid) == b":0\r\n"  # the line is empty


def case_worker_killed_holding_turn():
    """SIGKILL of the worker that runs a session's call: the next call waits,
    the lease hands the killed call to the other worker (attempt 2), then the
    next call runs on its state; nothing is lost."""
    require_docker_image(PY_IMAGE)
    env = dict(SLOW_OK, LEASE_MS="2000", WORKER_CONCURRENCY="1")
    with Stack(env=env, workers=2) as s:
        sid = new_session(s, "n = 1")
        a = submit(s, "import time\nn = n + 1\ntime.sleep(3)\nprint(n)", sid)
        wait_for(lambda: job(s, a)["status"] == "running", 60, "a running")
        b = submit(s, INC, sid)
        owner = field(s, a, "worker")
        s.kill(owner, signal.SIGKILL)  # WORKER_ID == process name in the stack
        jb = job(s, b, wait=90)
        ja = job(s, a)
        assert ja["status"] == "completed" and ja["attempts"] == 2, ja
        assert ja["result"]["stdout"] == "2\n", ja
        assert field(s, a, "worker") != owner
        assert jb["status"] == "completed" and jb["attempts"] == 1, jb
        assert jb["result"]["stdout"] == "3\n", jb  # a's second run's state
        assert int(field(s, b, "started_at")) >= int(field(s, a, "finished_at"))
        r = s.exec({"lang": "py", "code": "print(n)", "session_id": sid}).json()
        assert r["stdout"] == "3\n", r
        s.start_worker(int(owner.split("-")[1]))  # same id: reaps what the killed one left


def case_wait_timeout():
    """A call whose timeout passes while an earlier call of its session runs
    is answered with a clear timeout at once, and never runs: the session's
    state is what the earlier call left."""
    require_docker_image(PY_IMAGE)
    with Stack(env=dict(SLOW_OK, WORKER_CONCURRENCY="2"), workers=2) as s:
        sid = new_session(s, "n = 1")
        a = submit(s, "import time\ntime.sleep(6)\nn = n + 1\nprint(n)", sid)
        wait_for(lambda: job(s, a)["status"] == "running", 60, "a running")
        r = s.exec({"lang": "py", "code": "n = 100\nprint('ran')", "session_id": sid,
                    "timeout": 1000})
        assert r.status == 200, r.body
        j = r.json()
        assert j["status"] == "timeout", j
        assert "ran" not in j["stdout"], j
        assert "not run" in j["stderr"] and "earlier call" in j["stderr"], j
        assert j["has_state"] is False, j
        ja = job(s, a, wait=60)
        assert ja["status"] == "completed" and ja["result"]["stdout"] == "2\n", ja
        c = s.exec({"lang": "py", "code": "print(n)", "session_id": sid}).json()
        assert c["status"] == "completed" and c["stdout"] == "2\n", c


CASES = {
    "parallel_increment": case_parallel_increment,
    "worker_killed_holding_turn": case_worker_killed_holding_turn,
    "wait_timeout": case_wait_timeout,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
