"""Reuse of a container within one caller after a checked wipe (docs/pool.md,
"Reuse within one caller"; docs/sandbox.md, "The wipe"), end to end: real
dockerd, real images, real HTTP.  Never timing.

  wipe          a session leaves a daemonised process, files in every
                writable place, a huge /tmp file, a SysV shared-memory
                segment, a semaphore set, a message queue and Python globals;
                the next NEW session of the same caller is served by the same
                container (its id read from inside, and the worker's
                rebinding line) and sees none of them
  failed_wipe   a session leaves more files than a wipe may remove: the wipe
                refuses, the container is destroyed, and the new session runs
                in another container that sees none of them
  callers       200 sessions of four callers (two keys, users), interleaved
                and concurrent: no container ever served two callers, and
                containers were reused within callers
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Stack, require_docker_image, run_cases, wait_for  # noqa: E402
from test_pool import IMAGE, WORKER, WHOAMI, docker_ps  # noqa: E402

# Session A's leftovers.  The daemon double-forks and setsids so that it is
# nobody's child; it keeps a file open and rewrites a marker.
LEAVE = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT = 0o1000
shm = libc.shmget(0x5EC2E7, 1 << 20, IPC_CREAT | 0o666)
sem = libc.semget(0x5EC2E8, 1, IPC_CREAT | 0o666)
msg = libc.msgget(0x5EC2E9, IPC_CREAT | 0o666)
assert shm >= 0 and sem >= 0 and msg >= 0, (shm, sem, msg, ctypes.get_errno())
home = os.environ["HOME"]
for d in ("/mnt/data", "/tmp", "/dev/shm", home):
    with open(os.path.join(d, "secret-a.txt"), "w") as f:
        f.write("A's secret")
os.makedirs("/tmp/deep/er/est", exist_ok=True)
open("/tmp/deep/er/est/f", "w").write("x")
os.symlink("/etc/passwd", "/mnt/data/link-a")
with open("/tmp/huge.bin", "wb") as f:   # most of the 64 MB /tmp
    f.write(b"\xa5" * (48 << 20))
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        while True:
            try:
                open("/dev/shm/daemon-alive", "w").write(str(os.getpid()))
            except OSError:
                pass
            time.sleep(0.05)
    os._exit(0)
os.wait()
time.sleep(0.2)
SECRET_GLOBAL = "A's global"
import builtins
builtins.PLANTED = "A's builtin"
sys.modules["planted_a"] = sys
print("LEFT", shm, sem, msg)
"""

# What the next session looks for.
LOOK = r"""
import builtins, os, re, sys
found = []
me = os.getpid()
# every process but the runner's own (root's: the runner, its waiting spare
# children and lean fork server, tests/runner wipe_keeps_spare): a session
# can only leave the sandbox user's
for ent in os.listdir("/proc"):
    if ent.isdigit() and int(ent) not in (1, me):
        try:
            st = os.stat("/proc/" + ent)
            if st.st_uid != 0:
                found.append("process %s uid %d" % (ent, st.st_uid))
        except OSError:
            pass
for kind in ("shm", "sem", "msg"):
    lines = open("/proc/sysvipc/" + kind).read().splitlines()[1:]
    found += ["sysv %s %s" % (kind, l.split()[1]) for l in lines]
for d in ("/mnt/data", "/tmp", "/dev/shm", os.environ["HOME"]):
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            p = os.path.join(root, n)
            # (a fresh container's runner writes matplotlib's font cache)
            if p != "/tmp/matplotlib" and not re.match(r"/tmp/matplotlib/fontlist-v\d+\.json$", p):
                found.append("file " + p)
if os.path.isdir("/dev/mqueue"):
    found += ["mqueue " + n for n in os.listdir("/dev/mqueue")]
for name in ("SECRET_GLOBAL",):
    if name in globals():
        found.append("global " + name)
if hasattr(builtins, "PLANTED"):
    found.append("builtin PLANTED")
if "planted_a" in sys.modules:
    found.append("module planted_a")
print("FOUND=" + "|".join(found))
"""


def run(st, code, session=None, user=None, key=Stack.KEY):
    body = {"lang": "py", "code": code}
    if session:
        body["session_id"] = session
    if user is not None:
        body["user_id"] = user
    r = st.exec(body, key=key)
    assert r.status == 200, r.body
    j = r.json()
    assert j["status"] == "completed", j
    kv = dict(l.split("=", 1) for l in j["stdout"].splitlines() if "=" in l)
    return j, kv


def pool_metric(st, name, **labels):
    """Sum over workers of one pool series in the ingress's /metrics."""
    r = st.get("/metrics", key=Stack.KEY)
    assert r.status == 200, (r.status, r.body)
    want = ['%s="%s"' % kv for kv in labels.items()]
    total = 0.0
    for line in r.body.decode().splitlines():
        if line.startswith(name + "{") and all(w in line for w in want):
            total += float(line.rsplit(" ", 1)[1])
    return total


def worker_log(st):
    with open(os.path.join(st.tmp, WORKER + ".log")) as f:
        return f.read()


def wipe():
    require_docker_image(IMAGE)
    env = {"POOL_SIZE_PY": "1", "POOL_KEEP_IDLE_MS": "120000", "HEARTBEAT_INTERVAL_MS": "300"}
    with Stack(env=env) as st:
        j, kv = run(st, LEAVE + WHOAMI, user="alice")
        sa, cid = j["session_id"], kv["CID"]
        assert len(cid) == 64 and "LEFT" in j["stdout"], j
        # Let the fork server finish its idle-time imports (matplotlib is the
        # last): a wipe waits for the step in progress, which on a loaded
        # machine may outlast the wipe's deadline (a destroyed container,
        # correct, but not what this case looks at).
        for _ in range(240):
            _, kvp = run(st, "import sys\nprint('PRE=%s' % ('matplotlib.pyplot' in sys.modules))",
                         session=sa, user="alice")
            if kvp["PRE"] == "True":
                break
            time.sleep(0.5)
        # the same session still sees its own /tmp (no wipe within a session)
        j2, kv2 = run(st, WHOAMI + "print('SAME=' + str(os.path.exists('/tmp/secret-a.txt')))",
                      session=sa, user="alice")
        assert kv2["CID"] == cid and kv2["SAME"] == "True", j2
        # a NEW session of the same caller: the same container, wiped
        j3, kv3 = run(st, LOOK + WHOAMI, user="alice")
        sb = j3["session_id"]
        assert sb != sa
        assert kv3["CID"] == cid, "the new session was not served by the kept container"
        assert kv3["FOUND"] == "", "left behind: " + kv3["FOUND"]
        log = worker_log(st)
        assert ("container %s wiped and checked; bound to session %s" % (cid[:12], sb)) in log
        # and again after a session that left nothing: still the same one
        _, kv4 = run(st, LOOK + WHOAMI, user="alice")
        assert kv4["CID"] == cid and kv4["FOUND"] == "", kv4
        # another caller never gets it
        _, kv5 = run(st, WHOAMI, user="bob")
        assert kv5["CID"] != cid
        # both wipes counted in /metrics (heartbeat -> ingress)
        wait_for(lambda: pool_metric(st, "ci_pool_acquires_total", lang="py",
                                     result="wipe") == 2, 30, "2 wipes in /metrics")
        assert pool_metric(st, "ci_pool_wipe_failures_total", lang="py") == 0


# More entries than a wipe removes (ci_runner/wipe.py WIPE_MAX_ENTRIES).
MANY = r"""
import os
many = os.path.join(os.environ["HOME"], "many")   # the largest inode bound
os.makedirs(many, exist_ok=True)
for i in range(20050):
    open("%s/%d" % (many, i), "w").close()
print("MANY done")
"""


def failed_wipe():
    require_docker_image(IMAGE)
    env = {"POOL_SIZE_PY": "1", "POOL_KEEP_IDLE_MS": "120000", "HEARTBEAT_INTERVAL_MS": "300"}
    with Stack(env=env) as st:
        j, kv = run(st, MANY + WHOAMI, user="carol")
        cid = kv["CID"]
        assert "MANY done" in j["stdout"], j
        j2, kv2 = run(st, LOOK + WHOAMI, user="carol")
        assert kv2["CID"] != cid, "a container that failed its wipe served again"
        assert kv2["FOUND"] == "", kv2["FOUND"]
        log = worker_log(st)
        assert ("container %s failed its wipe" % cid[:12]) in log, log[-3000:]
        assert "more than 20000 files" in log
        wait_for(lambda: cid not in docker_ps(st), 60, "the failed container to be removed")
        wait_for(lambda: pool_metric(st, "ci_pool_wipe_failures_total", lang="py") == 1, 30,
                 "the failed wipe in /metrics")


CALLERS = [(Stack.KEY, "alice"), (Stack.KEY, "bob"), (Stack.OTHER_KEY, "alice"),
           (Stack.KEY, None)]


def callers():
    require_docker_image(IMAGE)
    env = {"POOL_SIZE_PY": "2", "POOL_KEEP_IDLE_MS": "120000", "POOL_KEEP_MAX": "8",
           "WORKER_CONCURRENCY": "4"}
    served = {}   # container id -> set of callers
    sessions = set()
    errors = []
    lock = threading.Lock()
    order = [CALLERS[i % len(CALLERS)] for i in range(200)]

    with Stack(env=env) as st:
        def worker(idx):
            for i in range(idx, len(order), 8):
                key, user = order[i]
                try:
                    j, kv = run(st, WHOAMI, user=user, key=key)
                except AssertionError as e:
                    with lock:
                        errors.append(str(e)[:300])
                    continue
                with lock:
                    served.setdefault(kv["CID"], set()).add((key, user))
                    sessions.add(j["session_id"])

        ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors[:3]
        assert len(sessions) == 200, len(sessions)
        shared = {c: o for c, o in served.items() if len(o) > 1}
        assert not shared, "containers served two callers: %s" % shared
        # not vacuous: containers were reused across sessions of a caller
        wipes = worker_log(st).count("wiped and checked")
        assert wipes > 0 and len(served) < 200, (wipes, len(served))
        print("200 sessions, %d containers, %d wipes" % (len(served), wipes))


def caller_limit():
    """POOL_CALLER_MAX: twelve calls of one caller at once are served by at
    most two containers (the rest wait for one of the caller's own, wiped
    for them); meanwhile another caller is not held up: its call starts
    before the limited caller's third call does."""
    require_docker_image(IMAGE)
    env = {"POOL_SIZE_PY": "2", "POOL_KEEP_IDLE_MS": "120000", "WORKER_CONCURRENCY": "6",
           "POOL_CALLER_MAX": "2", "POOL_CALLER_WAIT_MS": "60000"}
    with Stack(env=env) as st:
        out, errors, lock = [], [], threading.Lock()

        def call(user, code):
            try:
                j, kv = run(st, code + WHOAMI, user=user)
                with lock:
                    out.append((user, kv))
            except AssertionError as e:
                with lock:
                    errors.append(str(e)[:300])

        started = "import time\nprint('START=%.6f' % time.time())\n"
        ts = [threading.Thread(target=call, args=("dora", started + "time.sleep(0.2)\n"))
              for _ in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors[:3]
        cids = {kv["CID"] for _, kv in out}
        assert len(out) == 12 and len(cids) <= 2, (len(out), cids)
        assert "waiting for one" in worker_log(st), "no call waited for the caller's container"

        # two long calls hold dora's two containers, a third waits; eve's
        # call (a warm container) starts before dora's third one does
        out.clear()
        n0 = worker_log(st).count(": starting (py")
        long = [threading.Thread(target=call, args=("dora", started + "time.sleep(6)\n"))
                for _ in range(2)]
        for t in long:
            t.start()
        wait_for(lambda: worker_log(st).count(": starting (py") >= n0 + 2, 60,
                 "dora's two long calls")
        third = threading.Thread(target=call, args=("dora", started))
        third.start()
        time.sleep(0.5)   # the third is parked (not a timing claim: an order is checked)
        call("eve", started)
        for t in long + [third]:
            t.join()
        assert not errors, errors[:3]
        eve = [float(kv["START"]) for u, kv in out if u == "eve"]
        dora = sorted(float(kv["START"]) for u, kv in out if u == "dora")
        assert len(eve) == 1 and len(dora) == 3, out
        assert eve[0] < dora[2], ("eve waited for dora's containers", eve, dora)


CASES = {"wipe": wipe, "failed_wipe": failed_wipe, "callers": callers,
         "caller_limit": caller_limit}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
