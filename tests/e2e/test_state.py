"""End-to-end: Python state persistence (issue 4, docs/state.md).

Two real workers (WORKER_CONCURRENCY=1 each) on one private Redis; jobs go
through POST /jobs + GET /jobs/{id}?wait so the test can read which worker
ran each one (the job hash's `worker` field).  Object storage is the local
backend in the stack's temp dir.
"""
import os
import sys
import threading
import time

from stack import Stack, require_docker_image, run_cases, wait_for

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")


def new_stack(**env):
    base = {"WORKER_CONCURRENCY": "1", "STATE_ARCHIVE_AFTER_SECONDS": "1"}
    base.update(env)
    s = Stack(env=base, workers=2, start=False)
    s.env["STORAGE_DIR"] = os.path.join(s.tmp, "storage")
    s.env["STORAGE_BACKEND"] = "local"
    s.start()
    return s


def bulk(reply):
    """The value of a RESP bulk-string reply (None for nil)."""
    if reply.startswith(b"$-1"):
        return None
    assert reply.startswith(b"$"), reply
    head, _, rest = reply.partition(b"\r\n")
    return rest[:int(head[1:])]


def run(s, code, sid=None, key=Stack.KEY):
    body = {"lang": "py", "code": code}
    if sid:
        body["session_id"] = sid
    r = s.post("/jobs", body, key=key)
    assert r.status == 202, (r.status, r.body)
    job_id = r.json()["job_id"]
    j = s.get("/jobs/%s?wait=60" % job_id, key=key).json()
    assert j["status"] in ("completed", "failed"), j
    worker = bulk(s.redis("HGET", "ci:job:" + job_id, "worker")).decode()
    return j["result"], worker


def assert_name_error(res, name):
    assert res["status"] == "failed", res
    assert "NameError" in res["stderr"] and name in res["stderr"], res


def case_cross_worker():
    """x = 42 on one worker, print(x + 1) on the other; a DataFrame and a
    module binding survive; another caller naming the session gets nothing."""
    require_docker_image(PY_IMAGE)
    with new_stack() as s:
        a, w1 = run(s, "import pandas as pd\nx = 42\n"
                       "df = pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', 'z']})")
        assert a["status"] == "completed", a
        assert a["has_state"] is True and a["state_size"] > 100, a
        sid = a["session_id"]
        # stored (and audited) right after the result went out
        wait_for(lambda: s.worker_audits("state_save", sid), 10, "the state_save audit line")
        stored = bulk(s.redis("GET", "ci:state:" + sid))
        assert stored and stored[:4] == b"CIST", stored[:16]
        save = s.worker_audits("state_save", sid)
        assert save and save[-1]["size"] == a["state_size"], save
        # each call changes the state; the workers alternate (both idle), so
        # a worker whose sandbox holds an older state.in must notice it
        seen = []
        for i in range(4):
            b, w = run(s, "x += 1\nprint(x)\nprint(df['a'].sum(), df['b'].iloc[-1], pd.__name__)",
                       sid=sid)
            assert b["session_id"] == sid, b
            assert b["stdout"] == "%d\n6 z pandas\n" % (43 + i), (i, b)
            seen.append(w)
        assert any(w != w1 for w in seen), (w1, seen)
        loads = s.worker_audits("state_load", sid)
        assert len(loads) == 4 and all(l["source"] in ("redis", "local") for l in loads), loads
        assert len({l["worker"] for l in loads + save}) == 2, (loads, save)
        # another caller naming the session gets a fresh one and a clean namespace
        c, _ = run(s, "print(x)", sid=sid, key=Stack.OTHER_KEY)
        assert c["session_id"] != sid, c
        assert_name_error(c, "x")


def case_archive():
    """The Redis key is deleted: the state comes back from the archive and
    Redis is warmed again."""
    require_docker_image(PY_IMAGE)
    with new_stack() as s:
        a, _ = run(s, "x = 42")
        sid = a["session_id"]
        assert a["has_state"], a
        wait_for(lambda: s.worker_audits("state_archive", sid), 20, "the archive sweep")
        assert os.path.exists(os.path.join(s.tmp, "storage")), os.listdir(s.tmp)
        assert s.redis("DEL", "ci:state:" + sid) == b":1\r\n"
        b, _ = run(s, "print(x + 1)", sid=sid)
        assert b["stdout"] == "43\n", b
        loads = s.worker_audits("state_load", sid)
        assert loads and loads[-1]["source"] == "archive", loads
        assert s.redis("EXISTS", "ci:state:" + sid) == b":1\r\n"  # warmed again


def case_oversize():
    """STATE_MAX_SIZE_MB=1 and a 3 MB state: the call succeeds, says so, and
    stores nothing."""
    require_docker_image(PY_IMAGE)
    with new_stack(STATE_MAX_SIZE_MB="1") as s:
        a, _ = run(s, "import os\nb = os.urandom(3 * 1024 * 1024)\nprint('ok')")
        assert a["status"] == "completed" and a["stdout"] == "ok\n", a
        assert a["has_state"] is False and a["state_size"] == 0, a
        sid = a["session_id"]
        assert any("state not saved" in w and "STATE_MAX_SIZE_MB=1" in w
                   for w in a["warnings"]), a
        ev = s.worker_audits("state_size_limit_exceeded", sid)
        assert ev and ev[0]["size"] > 3 * 1024 * 1024, ev
        assert bulk(s.redis("GET", "ci:state:" + sid)) is None
        b, _ = run(s, "print(len(b))", sid=sid)
        assert_name_error(b, "b")


def case_disabled():
    """STATE_PERSISTENCE_ENABLED=false: every run starts clean."""
    require_docker_image(PY_IMAGE)
    with new_stack(STATE_PERSISTENCE_ENABLED="false") as s:
        a, _ = run(s, "x = 42")
        assert a["status"] == "completed" and a["has_state"] is False, a
        assert a["state_size"] == 0, a
        b, _ = run(s, "print(x)", sid=a["session_id"])
        assert b["session_id"] == a["session_id"], b
        assert_name_error(b, "x")
        assert s.redis("KEYS", "ci:state:*") == b"*0\r\n"


def case_large_state():
    """A state over 1 MiB compressed (stored from the worker's thread pool over
    a blocking connection) round-trips like a small one, across workers."""
    require_docker_image(PY_IMAGE)
    with new_stack() as s:
        a, _ = run(s, "import hashlib, os\nblob = os.urandom(3 << 20)\nn = 0\n"
                      "digest = hashlib.sha256(blob).hexdigest()\nprint(digest)")
        assert a["status"] == "completed" and a["has_state"] is True, a
        assert a["state_size"] > 3 << 20, a
        key = "ci:state:" + a["session_id"]
        # the blob is stored after the result went out (behind a fence)
        wait_for(lambda: int(s.redis("STRLEN", key)[1:].strip()) > 3 << 20, 10, "stored blob")
        wait_for(lambda: s.redis("EXISTS", key + ":saving") == b":0\r\n", 10, "fence gone")
        # back to back, on whichever worker: each call sees the previous one's
        # state although its store may still be in flight (the fence is waited on)
        for i in range(1, 5):
            b, _ = run(s, "import hashlib\nn += 1\n"
                          "print(n, hashlib.sha256(blob).hexdigest() == digest)",
                       sid=a["session_id"])
            assert b["stdout"] == "%d True\n" % i, b


def case_corrupt_blob():
    """A corrupt or hostile blob in Redis: a warning, a clean namespace, no
    crash; the session saves and restores again afterwards."""
    require_docker_image(PY_IMAGE)
    with new_stack() as s:
        a, _ = run(s, "x = 42")
        sid = a["session_id"]
        key = "ci:state:" + sid
        # header claims a 9 EB raw size; then plain garbage
        hostile = "CIST\x01\x00\x00\x00" + "\x7f" * 8 + "\x00" * 48 + "junk"
        for planted in (hostile, "garbage, not lz4 at all"):
            s.redis("SET", key, planted)
            b, _ = run(s, "print(x)", sid=sid)
            assert_name_error(b, "x")
            assert any("could not be restored" in w for w in b["warnings"]), b
        c, _ = run(s, "y = 7", sid=sid)
        assert c["has_state"], c
        d, _ = run(s, "print(y * 6)", sid=sid)
        assert d["stdout"] == "42\n", d
        for name in ("worker-1", "worker-2"):
            assert s.procs[name].poll() is None, name + " died"


def case_fence():
    """A restore waits while a save of its session is in flight (the fence a
    saving worker sets before its result goes out), and not past the fence's
    lifetime when that worker died."""
    require_docker_image(PY_IMAGE)
    with new_stack(STATE_FENCE_MS="1500") as s:
        a, _ = run(s, "x = 1")
        key = "ci:state:" + a["session_id"]
        wait_for(lambda: s.redis("EXISTS", key + ":saving") == b":0\r\n", 10, "fence gone")
        # a save "in flight": the call must not run until the fence is gone
        s.redis("SET", key + ":saving", "other-worker", "PX", "60000")
        out = {}
        t = threading.Thread(target=lambda: out.update(b=run(s, "print(x)",
                                                             sid=a["session_id"])[0]))
        t.start()
        time.sleep(1.0)
        assert t.is_alive(), out
        s.redis("DEL", key + ":saving")
        t.join(60)
        assert out["b"]["stdout"] == "1\n", out
        # a fence whose worker died (never deleted): waited on for STATE_FENCE_MS,
        # then the stored state is used
        s.redis("SET", key + ":saving", "dead-worker", "PX", "600000")
        t0 = time.time()
        c, _ = run(s, "print(x + 1)", sid=a["session_id"])
        assert c["stdout"] == "2\n", c
        assert time.time() - t0 >= 1.4, time.time() - t0
        logs = s.logs()
        assert "a save still fenced after 1500 ms" in logs, logs[-3000:]


CASES = {
    "large_state": case_large_state,
    "fence": case_fence,
    "cross_worker": case_cross_worker,
    "archive": case_archive,
    "oversize": case_oversize,
    "disabled": case_disabled,
    "corrupt_blob": case_corrupt_blob,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
