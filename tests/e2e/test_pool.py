"""Warm pools (docs/pool.md), end to end: real dockerd, real images, real HTTP.

Observable behaviour only (never timing):
  isolation   another caller's session never lands in a container a first
              caller used (the same caller's: test_reuse.py)
  refill      a warm container taken by a job is replaced; the job ran in it
  shutdown    a stopped worker leaves none of its containers behind
  reap        a worker removes its own stale containers at start
  no_image    a missing image leaves the pool empty, logged once, no loop
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Stack, require_docker_image, run_cases, wait_for  # noqa: E402

IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
WORKER = "worker-1"

# The container's own id, read from inside: Docker bind-mounts
# /etc/hostname from /var/lib/docker/containers/<id>/hostname (the hostname
# itself is the generic "sandbox").
WHOAMI = r"""
import os, re
cid = ""
for line in open("/proc/self/mountinfo"):
    m = re.search(r"/containers/([0-9a-f]{64})/hostname", line)
    if m:
        cid = m.group(1)
print("CID=" + cid)
print("MARK=" + ("yes" if os.path.exists("/tmp/pool-marker") else "no"))
"""
MARK = "open('/tmp/pool-marker', 'w').write('A')\nGLOBAL_A = 1\n"


def docker_ps(st, *labels):
    """Ids of this stack's containers with `labels`.  Every test stack calls
    its worker worker-1, so the stack's own RUN_DIR (the /run/ci bind
    source) tells its containers apart from parallel stacks'."""
    argv = ["docker", "ps", "-a", "-q", "--no-trunc",
            "--filter", "label=com.code-interpreter.worker=" + WORKER]
    for l in labels:
        argv += ["--filter", "label=" + l]
    ids = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    if not ids:
        return set()
    r = subprocess.run(["docker", "inspect", "--format",
                        "{{.Id}}{{range .Mounts}} {{.Source}}{{end}}"] + ids,
                       capture_output=True, text=True)  # some may be gone already
    mine = set()
    prefix = os.path.join(st.tmp, "run") + "/"
    for line in r.stdout.splitlines():
        parts = line.split()
        if parts and any(src.startswith(prefix) for src in parts[1:]):
            mine.add(parts[0])
    return mine


def warm_ids(st, lang="py"):
    return docker_ps(st, "com.code-interpreter.language=" + lang,
                     "com.code-interpreter.session=unassigned")


def whoami(st, session=None, extra="", user=None):
    body = {"lang": "py", "code": extra + WHOAMI}
    if session:
        body["session_id"] = session
    if user:
        body["user_id"] = user
    r = st.exec(body)
    assert r.status == 200, r.body
    j = r.json()
    assert j["status"] == "completed", j
    kv = dict(l.split("=", 1) for l in j["stdout"].splitlines() if "=" in l)
    assert len(kv.get("CID", "")) == 64, j["stdout"]
    return j["session_id"], kv["CID"], kv["MARK"]


def isolation():
    require_docker_image(IMAGE)
    env = {"POOL_SIZE_PY": "1", "POOL_KEEP_IDLE_MS": "60000"}
    with Stack(env=env) as st:
        wait_for(lambda: len(warm_ids(st)) == 1, 60, "one warm py container")
        sa, cid_a, _ = whoami(st, extra=MARK)
        # the same session comes back to its own container: the marker is
        # there (so the check below can see a shared container)
        sa2, cid_a2, mark_a2 = whoami(st, session=sa)
        assert sa2 == sa and cid_a2 == cid_a and mark_a2 == "yes", (cid_a, cid_a2, mark_a2)
        seen = {cid_a}
        for i in range(4):
            # (bound warm containers keep their "unassigned" label: docs/pool.md)
            # (at least one: the pool may grow with the rate of new sessions)
            wait_for(lambda: len(warm_ids(st) - seen) >= 1, 120, "the pool to refill")
            # another caller each time (the same caller's new session may
            # reuse its container after a wipe: test_reuse.py)
            sb, cid_b, mark_b = whoami(st, user="other-%d" % i)
            assert sb != sa
            assert cid_b not in seen, "a new session landed in a used container"
            assert mark_b == "no", "a new session saw another session's file"
            seen.add(cid_b)
        # session A still gets only its own container, never one of B's
        _, cid_a3, mark_a3 = whoami(st, session=sa)
        assert cid_a3 == cid_a and mark_a3 == "yes"


def ready_count(st):
    """Warm containers that became READY so far (the worker's debug log)."""
    with open(os.path.join(st.tmp, WORKER + ".log")) as f:
        return sum(1 for l in f if "warm container" in l and " ready (" in l)


def refill():
    require_docker_image(IMAGE)
    env = {"POOL_SIZE_PY": "2", "POOL_KEEP_IDLE_MS": "0"}
    with Stack(env=env) as st:
        wait_for(lambda: ready_count(st) == 2, 60, "two warm py containers")
        before = warm_ids(st)
        assert len(before) == 2
        _, cid, _ = whoami(st)
        assert cid in before, "the job did not run in a warm container"
        # refilled to its size with one new container; the used one is gone
        wait_for(lambda: ready_count(st) == 3, 60, "the refill")
        wait_for(lambda: cid not in docker_ps(st), 30, "the used container to go")
        after = warm_ids(st)
        assert len(after) == 2 and len(after - before) == 1, (before, after)
        log = open(os.path.join(st.tmp, WORKER + ".log")).read()
        assert ("container %s bound to session" % cid[:12]) in log, "no binding record"


def shutdown():
    require_docker_image(IMAGE)
    with Stack(env={"POOL_SIZE_PY": "2", "POOL_KEEP_IDLE_MS": "60000"}) as st:
        wait_for(lambda: len(warm_ids(st)) == 2, 60, "two warm py containers")
        whoami(st)  # one kept for its session too
        wait_for(lambda: len(docker_ps(st)) == 3, 60, "two warm and one kept container")
        st.kill(WORKER, signal.SIGTERM)
        assert st.procs[WORKER].returncode == 0
        assert docker_ps(st) == set(), "containers left behind: %s" % docker_ps(st)


def reap():
    require_docker_image(IMAGE)
    st = Stack(env={"POOL_SIZE_PY": "1"}, start=False)
    made = []

    def create(worker, token, run_dir, entry=("sleep", "600")):
        os.makedirs(os.path.join(run_dir, token), exist_ok=True)
        made.append(subprocess.run(
            ["docker", "create", "--name", "ci-" + token,
             "--label", "com.code-interpreter.managed=true",
             "--label", "com.code-interpreter.worker=" + worker,
             "--label", "com.code-interpreter.session=old", "--network", "none",
             "-v", os.path.join(run_dir, token) + ":/run/ci",
             "--entrypoint", entry[0], IMAGE] + list(entry[1:]),
            capture_output=True, text=True, check=True).stdout.strip())
        return made[-1]

    tok = os.urandom(12).hex()
    run_dir = os.path.join(st.tmp, "run")
    try:
        stale = create(WORKER, tok, run_dir)
        other = create("another-worker", os.urandom(12).hex(), run_dir)
        # same worker id, another RUN_DIR: another stack's, not ours
        foreign = create(WORKER, os.urandom(12).hex(), os.path.join(st.tmp, "elsewhere"))
        # an exited sandbox of some other (killed) worker: garbage for anyone
        exited = create("killed-worker", os.urandom(12).hex(), os.path.join(st.tmp, "gone"),
                        entry=("true",))
        subprocess.run(["docker", "start", "-a", exited], capture_output=True, timeout=60)
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", exited],
                               capture_output=True, text=True).stdout.strip()
        assert state == "exited", state
        with st:
            st.start()
            wait_for(lambda: stale not in docker_ps(st), 60, "the stale container to go")
            wait_for(lambda: subprocess.run(["docker", "inspect", exited],
                                            capture_output=True).returncode != 0,
                     60, "the exited container to go")
            wait_for(lambda: len(warm_ids(st) - {foreign}) == 1, 60, "the pool to fill")
            assert not os.path.exists(os.path.join(run_dir, tok)), "its run dir is left"
            for keep in (other, foreign):
                r = subprocess.run(["docker", "inspect", keep], capture_output=True)
                assert r.returncode == 0, "another worker's container was removed"
            whoami(st)
    finally:
        subprocess.run(["docker", "rm", "-f"] + made, capture_output=True)


def no_image():
    require_docker_image(IMAGE)
    env = {"POOL_SIZE_PY": "2", "IMAGE_TAG": "no-such-tag", "POOL_STATS_LOG_MS": "1000"}
    with Stack(env=env) as st:
        path = os.path.join(st.tmp, WORKER + ".log")
        wait_for(lambda: "image missing" in open(path).read(), 30, "the missing-image log")
        # several stats periods later: still empty, still one log line, and
        # the counters show one failed attempt, not a loop
        wait_for(lambda: open(path).read().count("refill_failures") >= 3, 30, "stats lines")
        log = open(path).read()
        assert log.count("image missing;") == 1, log[-3000:]
        assert docker_ps(st) == set()
        last = [json.loads(l)["msg"] for l in log.splitlines()
                if "refill_failures" in l][-1]
        assert "refill_failures 1 " in last, last


CASES = {"isolation": isolation, "refill": refill, "shutdown": shutdown, "reap": reap,
         "no_image": no_image}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
