#!/usr/bin/env python3
"""bench_util.py - the machinery of bench_exec.py's sections: the stack
and its HTTP client, timing and table helpers (pct, row, ms, timed), the
docker run / Docker API exec baselines, waits for a settled warm pool
(wait_warm, wait_idle), concurrent clients (run_threads, share_calls) and
the latency table (latency_levels, print_latency).  CPU metering is in
bench_cpu.py.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from stack import Stack, wait_for  # noqa: E402

QUICK = "--quick" in sys.argv
PY = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
NUMPY = ("import numpy as np, pandas as pd\n"
         "df = pd.DataFrame({'a': np.arange(1000), 'b': np.random.rand(1000)})\n"
         "print(int(df.a.sum()), round(float(df.b.mean()) * 0, 1))\n")


# ---- small helpers ----------------------------------------------------------

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def row(*cols, w=(34, 10, 10, 10, 12)):
    out = ""
    for i, c in enumerate(cols):
        width = w[i] if i < len(w) else 12
        out += (str(c).ljust(width) if i == 0 else str(c).rjust(width))
    print(out, flush=True)


def ms(x):
    return "%.1f" % x


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000.0


class Client:
    """One keep-alive HTTP connection to the ingress."""

    def __init__(self, st):
        self.st = st
        self.c = http.client.HTTPConnection("127.0.0.1", st.port, timeout=300)

    def exec(self, body):
        self.c.request("POST", "/exec", body=json.dumps(body),
                       headers={"x-api-key": Stack.KEY, "Content-Type": "application/json"})
        r = self.c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("HTTP %d: %s" % (r.status, data[:200]))
        j = json.loads(data)
        if j.get("status") != "completed":
            raise RuntimeError("job %s: %s" % (j.get("status"), j.get("stderr", "")[:200]))
        return j


class DockerAPI(http.client.HTTPConnection):
    """HTTP over /var/run/docker.sock (the baseline's own client)."""

    def __init__(self):
        super().__init__("localhost", timeout=120)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.environ.get("DOCKER_SOCKET", "/var/run/docker.sock"))

    def call(self, method, path, body=None):
        h = {"Content-Type": "application/json"} if body is not None else {}
        self.request(method, "/v1.41" + path, body=json.dumps(body) if body is not None else None,
                     headers=h)
        r = self.getresponse()
        return r.status, r.read()


def docker_run_ms(image, argv, n):
    out = []
    for _ in range(n):
        out.append(timed(lambda: subprocess.run(
            ["docker", "run", "--rm", "--network", "none", image] + argv,
            check=True, capture_output=True)))
    return out


def docker_exec_ms(image, argv, n):
    """Docker API exec (create + start, attached output) into one running
    container: the cost of a `docker exec` per job."""
    api = DockerAPI()
    cid = subprocess.run(["docker", "run", "-d", "--rm", "--network", "none", "--entrypoint",
                          "sleep", image, "600"], check=True, capture_output=True,
                         text=True).stdout.strip()
    out = []
    try:
        for _ in range(n):
            def one():
                st, body = api.call("POST", "/containers/%s/exec" % cid,
                                    {"Cmd": argv, "AttachStdout": True, "AttachStderr": True})
                eid = json.loads(body)["Id"]
                st, body = api.call("POST", "/exec/%s/start" % eid, {"Detach": False,
                                                                      "Tty": False})
                assert st == 200, (st, body)
            out.append(timed(one))
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
    return out


def worker_pid(st):
    return st.procs["worker-1"].pid


def stack(env):
    e = {"LOG_LEVEL": "warn"}
    e.update(env)
    return Stack(env=e)


def wait_warm(st, n, lang="py", timeout=120, settle_s=4.0):
    """Waits until this stack has at least n containers of `lang` and every
    one of them started settle_s ago or more (a new warm container imports
    numpy/pandas right after its hello: CPU taken from the measured path)."""
    prefix = os.path.join(st.tmp, "run") + "/"
    time.sleep(0.3)  # a refill's create is issued at the take: let it show

    def ok():
        ids = subprocess.run(["docker", "ps", "-a", "-q", "--filter",
                              "label=com.code-interpreter.language=" + lang],
                             capture_output=True, text=True).stdout.split()
        if not ids:
            return n == 0
        out = subprocess.run(["docker", "inspect", "--format",
                              "{{.State.Running}} {{.State.StartedAt}}"
                              "{{range .Mounts}} {{.Source}}{{end}}"] + ids,
                             capture_output=True, text=True).stdout.splitlines()
        mine = [l.split() for l in out if prefix in l]
        if len(mine) < n:
            return False
        now = time.time()
        for f in mine:
            if f[0] != "true":
                return False
            started = time.mktime(time.strptime(f[1][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            if now - started < settle_s:
                return False
        return True
    wait_for(ok, timeout, "%d settled %s containers" % (n, lang))


def pool_idle(st, lang="py"):
    """Warm containers bound to nobody, from /metrics (the worker's heartbeat):
    a bound warm container keeps its "unassigned" label, so docker ps cannot
    tell."""
    r = st.get("/metrics", key=Stack.KEY)
    if r.status != 200:
        return 0
    import re
    m = re.findall(r'ci_pool_containers\{[^}]*lang="%s"[^}]*state="idle"\} (\d+)' % lang,
                   r.body.decode())
    return sum(int(x) for x in m)


def wait_idle(st, n, lang="py", settle_s=4.0, timeout=180):
    """At least n idle warm containers, then settle_s for their imports."""
    wait_for(lambda: pool_idle(st, lang) >= n, timeout, "%d idle warm %s containers" % (n, lang))
    time.sleep(settle_s)


def run_threads(target, n):
    """Runs target(k) for k = 0 .. n-1, each in its own thread, started
    together; returns the wall seconds from the first start to the last
    join."""
    ts = [threading.Thread(target=target, args=(k,)) for k in range(n)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def share_calls(st, n, clients, body):
    """`clients` threads, each with its own Client, make n /exec calls in
    all, taking them from one shared count; body(k, i) is the request of
    client k for call i (i counts down from n - 1).  Returns (calls
    completed, error texts, wall seconds)."""
    todo, done, errors = [n], [0], []
    lock = threading.Lock()

    def client(k):
        c = Client(st)
        while True:
            with lock:
                if todo[0] == 0:
                    return
                todo[0] -= 1
                i = todo[0]
            try:
                c.exec(body(k, i))
                with lock:
                    done[0] += 1
            except Exception as e:  # noqa: BLE001 - a figure, reported
                errors.append(str(e))
    wall = run_threads(client, clients)
    return done[0], errors, wall


def latency_levels(st, code, levels, per_client, lang="py", pool=2, callers=False):
    """Each client keeps its own session.  Its first request (a pool hit or
    miss, not counted) binds it; then the pool refills and the new warm
    containers finish their imports before the measured requests start.
    `callers`: every client is a caller of its own (a user_id each: one
    container each); else all are one caller (the key), whose sessions
    share POOL_CALLER_MAX containers, wiped between them."""
    results = {}
    for c in levels:
        clients = [Client(st) for _ in range(c)]
        extra = [{"user_id": "lat-%d-%d" % (c, i)} if callers else {} for i in range(c)]
        sids = [cl.exec(dict({"lang": lang, "code": code}, **x))["session_id"]
                for cl, x in zip(clients, extra)]
        # one call of every session at once, not measured: the bindings
        # were one after the other (a caller's sessions could share one
        # container); now each takes the container it keeps
        run_threads(lambda i: clients[i].exec(
            dict({"lang": lang, "code": code, "session_id": sids[i]}, **extra[i])), c)
        wait_warm(st, pool)
        # the burst of new sessions raised the pool's demand-driven target
        # (a rate averaged over ~5 s): let it fall back, and the refills it
        # started finish, before measuring
        time.sleep(6)
        wait_warm(st, pool)
        lat = [[] for _ in range(c)]
        errors = []

        def client(i):
            try:
                for _ in range(per_client):
                    lat[i].append(timed(lambda: clients[i].exec(
                        dict({"lang": lang, "code": code, "session_id": sids[i]}, **extra[i]))))
            except Exception as e:  # noqa: BLE001 - a figure, reported
                errors.append(str(e))

        wall = run_threads(client, c)
        flat = [x for l in lat for x in l]
        results[(c, "callers") if callers else c] = (flat, errors,
                                                      len(flat) / wall if wall > 0 else 0)
    return results


def print_latency(title, results, base_run, base_exec, targets=None):
    print("\n== %s ==" % title)
    b_run, b_exec = pct(base_run, 50), pct(base_exec, 50)
    row("case", "p50 ms", "p95 ms", "p99 ms", "n", w=(34, 10, 10, 10, 8))
    row("baseline docker run --rm", ms(b_run), ms(pct(base_run, 95)), ms(pct(base_run, 99)),
        len(base_run), w=(34, 10, 10, 10, 8))
    row("baseline Docker API exec", ms(b_exec), ms(pct(base_exec, 95)),
        ms(pct(base_exec, 99)), len(base_exec), w=(34, 10, 10, 10, 8))
    def label(c):
        if isinstance(c, int):
            return "/exec, concurrency %d" % c
        if isinstance(c, tuple):
            return "/exec, concurrency %d, a caller each" % c[0]
        return str(c)
    for c, (flat, errors, rate) in results.items():
        name = label(c)
        row(name, ms(pct(flat, 50)), ms(pct(flat, 95)), ms(pct(flat, 99)), len(flat),
            w=(34, 10, 10, 10, 8))
        if errors:
            print("   errors: %d (first: %s)" % (len(errors), errors[0]))
    print("ratios (baseline p50 / ours p50):")
    for c, (flat, _, rate) in results.items():
        p50 = pct(flat, 50)
        print("   %-30s docker run %6.1fx   docker exec %6.1fx   (%.0f req/s)" % (
            label(c).replace("/exec, concurrency ", "c="),
            b_run / p50, b_exec / p50, rate))
    for t in targets or []:
        print("   target: " + t(results))
