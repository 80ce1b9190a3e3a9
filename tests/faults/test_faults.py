"""Fault tests through real processes (issue 7): workers killed with SIGKILL
and restarted, redis killed and restarted (AOF), redis frozen with SIGSTOP
for 20 s (FAULT_BLACKHOLE_S), webhook URL guard, SIGTERM
draining, dockerd stopped and started again.  Real ingress, workers, redis-server, dockerd and images; a webhook
receiver on 127.0.0.1.

FAULT_BATCH_N (default 1000, the issue's size; about 30 s here) sets the
batch of batch_chaos; FAULT_REDIS_N (40) the jobs of redis_restart;
FAULT_SEED fixes the kill schedule; FAULT_DOCKERD_N (30) the jobs of
dockerd_restart, which stops the machine's dockerd and so runs alone
(RUN_SERIAL in CMakeLists.txt).
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from receiver import Receiver, signature_ok  # noqa: E402
from stack import SKIP, Stack, require_docker_image, run_cases, wait_for  # noqa: E402

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
SECRET = "whsec_" + "ZmF1bHQtdGVzdHMtc2VjcmV0LTAxMjM0NTY3ODlhYmNk"
HOOK_ENV = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_CIDRS": "127.0.0.1/32",
            "WEBHOOK_POLL_MS": "50", "WEBHOOK_RETRY_BASE_MS": "200"}


def restart_worker(s, i, gen):
    """Starts worker i again under a fresh consumer name (as a new process would be)."""
    s.env["WORKER_ID"] = "worker-%d-%d" % (i, gen)
    s._spawn("worker-%d" % i, [os.environ["CI_WORKER"]])


def job(s, jid):
    return s.get("/jobs/" + jid, key=s.KEY).json()


def case_batch_chaos():
    """N-job batch while two of three workers are SIGKILLed and restarted at random."""
    require_docker_image(PY_IMAGE)
    n = int(os.environ.get("FAULT_BATCH_N", "1000"))
    rx = Receiver()
    env = dict(HOOK_ENV, LEASE_MS="2000", MAX_ATTEMPTS="50", WORKER_CONCURRENCY="2",
               LOG_LEVEL="info", MAX_BATCH_JOBS=str(max(n, 1000)))
    try:
        with Stack(env=env, workers=3) as s:
            t0 = time.time()
            jobs = [{"lang": "py", "code": "print(%d)" % i, "entity_id": "chaos"} for i in range(n)]
            r = s.post("/jobs/batch", {"jobs": jobs, "callback_url": rx.url()})
            assert r.status == 202, r.body
            b = r.json()
            path = "/jobs/batch/" + b["batch_id"]
            done = lambda: s.get(path, key=s.KEY).json()["status"] == "completed"  # noqa: E731
            kills, gen, rnd = 0, 0, random.Random(os.environ.get("FAULT_SEED"))
            deadline = time.time() + float(os.environ.get("FAULT_BUDGET_S", "330"))
            while not done():
                assert time.time() < deadline, s.get(path, key=s.KEY).body
                time.sleep(rnd.uniform(0.7, 2.0))
                if done():
                    break
                victim = rnd.choice([2, 3])
                s.kill("worker-%d" % victim, signal.SIGKILL)
                kills += 1
                time.sleep(rnd.uniform(0.1, 0.8))
                gen += 1
                restart_worker(s, victim, gen)
            elapsed = time.time() - t0
            g = s.get(path, key=s.KEY).json()
            assert g["total"] == n and g["done"] == n, g
            assert g["counts"]["completed"] == n, g["counts"]
            assert s.redis("SCARD", "ci:batch:%s:done" % b["batch_id"]) == (":%d\r\n" % n).encode()
            attempts = 0
            for i, jid in enumerate(b["job_ids"]):
                j = job(s, jid)
                assert j["status"] == "completed", j
                assert j["result"]["stdout"] == "%d\n" % i, j
                assert j["attempts"] >= 1, j
                attempts += j["attempts"]
            wait_for(lambda: len(rx.of_type("batch.completed")) >= 1, 30, "batch.completed")
            time.sleep(1.5)
            hooks = rx.of_type("batch.completed")
            assert len(hooks) == 1, [h["headers"] for h in hooks]
            assert signature_ok(SECRET, hooks[0]["headers"], hooks[0]["body"])
            data = json.loads(hooks[0]["body"])["data"]
            assert data["counts"]["completed"] == n and data["total"] == n, data
            assert kills >= 2, kills
            print("batch_chaos: %d jobs, %d kills, %d attempts in all, %.1f s, "
                  "batch webhook delivered once" % (n, kills, attempts, elapsed))
    finally:
        rx.close()


def case_kill_running():
    """SIGKILL of the worker running a job: another worker completes it; one result."""
    require_docker_image(PY_IMAGE)
    env = {"LEASE_MS": "2000", "WORKER_CONCURRENCY": "1"}
    with Stack(env=env, workers=2) as s:
        jid = s.post("/jobs", {"lang": "py", "code": "import time\ntime.sleep(3)\nprint('done')"}
                     ).json()["job_id"]
        wait_for(lambda: job(s, jid)["status"] == "running", 60, "running")
        owner = s.redis("HGET", "ci:job:" + jid, "worker").split(b"\r\n")[1].decode()
        s.kill(owner, signal.SIGKILL)  # WORKER_ID == process name in the stack
        g = s.get("/jobs/%s?wait=60" % jid, key=s.KEY).json()
        assert g["status"] == "completed", g
        assert g["result"]["stdout"] == "done\n", g
        assert g["attempts"] == 2, g
        other = s.redis("HGET", "ci:job:" + jid, "worker").split(b"\r\n")[1].decode()
        assert other != owner, (owner, other)
        time.sleep(0.5)
        assert s.redis("XLEN", "ci:jobs") == b":0\r\n"  # acknowledged, nothing left behind
        assert s.redis("HLEN", "ci:job:" + jid) != b":0\r\n"


def case_redis_restart():
    """redis SIGKILLed and restarted (AOF) under load: every accepted job ends terminal."""
    require_docker_image(PY_IMAGE)
    total = int(os.environ.get("FAULT_REDIS_N", "40"))
    # all calls share one session (entity "r"), so they run one at a time in
    # arrival order: their timeout must cover the whole line, not one run
    with Stack(workers=1, env={"LOG_LEVEL": "info", "MAX_EXECUTION_TIME": "300"}) as s:
        accepted, refused = [], [0]
        restarted = threading.Event()

        def submit():
            i = 0
            # on past the restart: a fast intake could otherwise accept all
            # `total` before the kill below, and nothing would be refused
            while len(accepted) < total or not restarted.is_set():
                try:
                    r = s.post("/jobs", {"lang": "py", "code": "print(%d)" % i, "entity_id": "r"},
                               timeout=10)
                except OSError:
                    r = None
                if r is not None and r.status == 202:
                    accepted.append((r.json()["job_id"], i))
                    i += 1
                else:
                    refused[0] += 1
                    time.sleep(0.1)

        t = threading.Thread(target=submit)
        t.start()
        wait_for(lambda: len(accepted) >= total // 3, 60, "some accepted jobs")
        s.kill("redis", signal.SIGKILL)
        time.sleep(1.0)
        s.start_redis()
        restarted.set()
        t.join(timeout=120)
        assert not t.is_alive()
        for jid, i in accepted:
            g = s.get("/jobs/%s?wait=60" % jid, key=s.KEY, timeout=90).json()
            assert g["status"] == "completed", g
            assert g["result"]["stdout"] == "%d\n" % i, g
        assert refused[0] > 0  # redis really was away for a while
        print("redis_restart: %d accepted jobs all completed, %d submissions refused while "
              "redis was down" % (len(accepted), refused[0]))


def case_redis_blackhole():
    """Redis frozen (SIGSTOP: the process stopped, its sockets open, nothing
    answers) for 20 s under load, then SIGCONT: command timeouts fire (no
    hang for the kernel's retransmission time), links reconnect, every
    accepted job completes exactly once, no process hangs or crashes."""
    require_docker_image(PY_IMAGE)
    stop_s = float(os.environ.get("FAULT_BLACKHOLE_S", "20"))
    # calls of one session run one at a time: a call queued behind the freeze
    # and its session's earlier calls must not time out waiting for its turn
    env = {"LOG_LEVEL": "info", "WORKER_CONCURRENCY": "2", "POOL_SIZE_PY": "2",
           "MAX_EXECUTION_TIME": "300"}
    with Stack(workers=2, env=env) as s:
        redis = s.procs["redis"]
        accepted, refused_n = [], [0]
        resumed, stop = threading.Event(), threading.Event()
        slow = "import time\ntime.sleep(0.5)\nprint(%d)"

        def submit():
            i = 0
            while not stop.is_set():
                try:
                    r = s.post("/jobs", {"lang": "py", "code": slow % i,
                                         "entity_id": "bh%d" % (i % 4)}, timeout=15)
                except OSError:
                    r = None
                if r is not None and r.status == 202:
                    accepted.append((r.json()["job_id"], i))
                    i += 1
                    time.sleep(0.15)
                else:
                    refused_n[0] += 1
                    time.sleep(0.2)

        t = threading.Thread(target=submit)
        t.start()
        try:
            wait_for(lambda: len(accepted) >= 12, 90, "jobs accepted before the freeze")
            # the workers are busy (the first jobs done, more queued and running)
            first = accepted[0][0]
            wait_for(lambda: b"completed" in s.redis("HGET", "ci:job:" + first, "status"),
                     90, "the workers to run jobs")
            os.killpg(redis.pid, signal.SIGSTOP)
            t_stop = time.time()
            time.sleep(stop_s)
            os.killpg(redis.pid, signal.SIGCONT)
            resumed.set()
            t_cont = time.time()
            # the ingress answers while and after Redis was away (not hung)
            wait_for(lambda: s.get("/health", timeout=10).status == 200, 30, "ingress health")
            n_at_cont = len(accepted)
            wait_for(lambda: len(accepted) >= n_at_cont + 8, 120, "jobs accepted after SIGCONT")
        finally:
            os.killpg(redis.pid, signal.SIGCONT)
            stop.set()
            t.join(timeout=60)
        assert not t.is_alive()
        for jid, i in accepted:
            g = s.get("/jobs/%s?wait=90" % jid, key=s.KEY, timeout=120).json()
            assert g["status"] == "completed", g
            assert g["result"]["stdout"] == "%d\n" % i, g
        time.sleep(1.0)
        # no process hung or crashed
        for name, p in s.procs.items():
            assert p.poll() is None, (name, p.returncode, s.logs())
        logs = {n: open(os.path.join(s.tmp, n + ".log"), errors="replace").read()
                for n in s.procs if n.startswith("worker")}
        every = "".join(logs.values())
        # each job completed exactly once (no duplicate run to the end)
        for jid, _ in accepted:
            assert every.count("job %s: completed" % jid) == 1, (jid, every.count(jid))
        # nothing left behind, nothing dead-lettered
        assert s.redis("XLEN", "ci:dead") == b":0\r\n"
        assert s.redis("XPENDING", "ci:jobs", "workers")[:4] == b"*4\r\n"
        assert b":0\r\n" in s.redis("XPENDING", "ci:jobs", "workers")[:8]
        # the links saw the silence through their command timeout and came
        # back: each worker connection that had a command pending during the
        # freeze is a fresh one (named by its link, CLIENT SETNAME), not the
        # old connection that merely survived the stop
        now = time.time()
        clients = [dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
                   for line in s.redis("CLIENT", "LIST").decode(errors="replace").splitlines()
                   if "name=" in line]
        for name in ("ci-heartbeat", "ci-queue-read", "ci-queue-cmd", "ci-webhooks"):
            conns = [c for c in clients if c.get("name") == name]
            assert len(conns) == 2, (name, clients)  # one per worker
            for c in conns:
                assert int(c["age"]) < now - t_stop, (name, c, now - t_stop)
        assert "no reply for" in every, every[-3000:]
        assert "up again" in every, every[-3000:]
        # heartbeats resumed: both workers' records are fresh
        for w in ("worker-1", "worker-2"):
            hb = s.redis("HGET", "ci:workers:" + w, "last_heartbeat").split(b"\r\n")[1]
            assert int(hb) / 1000.0 > t_cont, (w, hb, t_cont)
        # and they drain and exit cleanly on SIGTERM
        for name in ("worker-1", "worker-2", "ingress"):
            p = s.procs[name]
            os.killpg(p.pid, signal.SIGTERM)
            assert p.wait(timeout=60) == 0, (name, s.logs())
        print("redis_blackhole: redis stopped %.0f s; %d accepted jobs all completed once, "
              "%d submissions refused meanwhile; links timed out and reconnected"
              % (t_cont - t_stop, len(accepted), refused_n[0]))


def refused(s, jid):
    w = job(s, jid).get("webhook", {})
    return w.get("status") == "refused" and w.get("error")


def case_url_guard():
    """Callbacks to loopback / private / link-local are refused before connecting."""
    rx = Receiver()
    env = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_POLL_MS": "50"}  # no allow-list
    try:
        with Stack(env=env, workers=0) as s:
            def cancelled(url):
                jid = s.post("/jobs", {"lang": "py", "code": "1", "callback_url": url}).json()["job_id"]
                assert s.request("DELETE", "/jobs/" + jid, key=s.KEY).json()["status"] == "cancelled"
                return jid

            local = {"loopback": cancelled(rx.url()),
                     "name": cancelled("http://localhost:%d/hook" % rx.port),
                     "v6": cancelled("http://[::1]:%d/hook" % rx.port),
                     "any": cancelled("http://0.0.0.0:%d/hook" % rx.port)}
            s.start_worker(1)
            for what, jid in local.items():
                wait_for(lambda: refused(s, jid), 20, "refusal of " + what)
            assert "loopback" in job(s, local["loopback"])["webhook"]["error"]
            assert "unspecified" in job(s, local["any"])["webhook"]["error"]
            assert rx.requests == []  # no connection reached the receiver
            # Only now that the guard is proven to refuse before connecting: private and
            # metadata addresses (used as URLs only; the guard refuses before connect()).
            s.kill("worker-1", signal.SIGTERM)  # so the next jobs can be cancelled unrun
            far = {"private": cancelled("http://10.1.2.3:8080/hook"),
                   "metadata": cancelled("http://169.254.169.254/latest/meta-data/")}
            s.start_worker(1)
            for what, jid in far.items():
                wait_for(lambda: refused(s, jid), 20, "refusal of " + what)
            assert "private" in job(s, far["private"])["webhook"]["error"]
            assert "link-local" in job(s, far["metadata"])["webhook"]["error"]
            for jid in list(local.values()) + list(far.values()):
                assert job(s, jid)["webhook"]["attempts"] == 1  # refused is final
            log = open(os.path.join(s.tmp, "worker-1.log")).read()
            assert "refused before connecting" in log
    finally:
        rx.close()


def case_sigterm_drain():
    """SIGTERM: the ingress stops accepting; the worker finishes its job, then exits 0."""
    require_docker_image(PY_IMAGE)
    with Stack(workers=1) as s:
        jid = s.post("/jobs", {"lang": "py", "code": "import time\ntime.sleep(3)\nprint('done')"}
                     ).json()["job_id"]
        wait_for(lambda: job(s, jid)["status"] == "running", 60, "running")
        ing, wk = s.procs["ingress"], s.procs["worker-1"]
        os.killpg(ing.pid, signal.SIGTERM)
        os.killpg(wk.pid, signal.SIGTERM)
        assert ing.wait(timeout=30) == 0
        try:
            s.post("/jobs", {"lang": "py", "code": "print(1)"}, timeout=5)
            raise AssertionError("the ingress still accepts after SIGTERM")
        except OSError:
            pass
        assert wk.wait(timeout=60) == 0
        st = s.redis("HGET", "ci:job:" + jid, "status")
        assert b"completed" in st, st
        log = open(os.path.join(s.tmp, "worker-1.log")).read()
        assert "job %s: completed" % jid in log, log[-2000:]


def dockerd_pid():
    """The pid of the dockerd serving /var/run/docker.sock (its pid file)."""
    with open("/var/run/docker.pid") as f:
        return int(f.read().strip())


def restart_dockerd(down_s):
    """Stops the machine's dockerd (SIGTERM, as an upgrade or a crash-restart
    would), keeps it down for down_s, then starts it with ops/start-deps.sh."""
    pid = dockerd_pid()
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), 60, "dockerd to stop")
    time.sleep(down_s)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    subprocess.run(["bash", os.path.join(root, "ops", "start-deps.sh"), "--docker-only"],
                   check=True, stdout=subprocess.DEVNULL)


def case_dockerd_restart():
    """dockerd stopped and started under load (its containers die with it): every
    accepted job ends completed; the worker rebuilds its pool on its own."""
    require_docker_image(PY_IMAGE)
    if not os.path.exists("/var/run/docker.pid") or os.geteuid() != 0:
        print("SKIP: needs root and the machine's dockerd pid file")
        raise SystemExit(SKIP)
    total = int(os.environ.get("FAULT_DOCKERD_N", "30"))
    env = {"LOG_LEVEL": "info", "POOL_SIZE_PY": "2", "WORKER_CONCURRENCY": "2"}
    with Stack(workers=1, env=env) as s:
        first = s.post("/exec", {"lang": "py", "code": "print('before')"}).json()
        assert first["stdout"] == "before\n", first
        accepted = []
        stop = threading.Event()

        def submit():
            i = 0
            while not stop.is_set() and len(accepted) < total:
                # a caller each: a new session of a known caller may take its
                # wiped container without asking the engine, and this test is
                # about the jobs that must ask it
                r = s.post("/jobs", {"lang": "py", "code": "print(%d)" % i,
                                     "user_id": "restart-%d" % i}, timeout=10)
                assert r.status == 202, (r.status, r.body)  # intake never needs docker
                accepted.append((r.json()["job_id"], i))
                i += 1
                time.sleep(0.1)

        # one job is mid-run when the engine goes: its container dies with it
        slow = s.post("/jobs", {"lang": "py", "code": "import time\ntime.sleep(4)\nprint('slow')"}
                      ).json()["job_id"]
        wait_for(lambda: job(s, slow)["status"] == "running", 60, "the slow job running")
        t = threading.Thread(target=submit)
        t.start()
        wait_for(lambda: len(accepted) >= 5, 60, "some accepted jobs")
        restart_dockerd(2.0)
        t.join(timeout=120)
        assert not t.is_alive()
        stop.set()
        for jid, i in accepted:
            g = s.get("/jobs/%s?wait=90" % jid, key=s.KEY, timeout=120,
                      headers={"User-Id": "restart-%d" % i}).json()
            assert g["status"] == "completed", g
            assert g["result"]["stdout"] == "%d\n" % i, g
        g = s.get("/jobs/%s?wait=90" % slow, key=s.KEY, timeout=120).json()
        assert g["status"] == "completed" and g["result"]["stdout"] == "slow\n", g
        after = s.post("/exec", {"lang": "py", "code": "print('after')"}).json()
        assert after["stdout"] == "after\n", after
        log = open(os.path.join(s.tmp, "worker-1.log")).read()
        # the outage was seen as the engine's, not the jobs': paused, then resumed
        assert "then until it answers" in log, log[-3000:]
        assert "docker engine answers again: taking jobs" in log, log[-3000:]
        for line in log.splitlines():
            if "attempt" in line and "starting" not in line:
                print(line)
        retried = sum(1 for jid, _ in accepted if job(s, jid).get("attempts", 1) > 1)
        print("dockerd_restart: %d accepted jobs all completed (%d needed another attempt)"
              % (len(accepted), retried))


CASES = {
    "batch_chaos": case_batch_chaos,
    "kill_running": case_kill_running,
    "redis_restart": case_redis_restart,
    "redis_blackhole": case_redis_blackhole,
    "url_guard": case_url_guard,
    "sigterm_drain": case_sigterm_drain,
    "dockerd_restart": case_dockerd_restart,
}

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
