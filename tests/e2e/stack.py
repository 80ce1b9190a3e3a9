"""A private stack for end-to-end tests: redis-server, ci-ingress, ci-worker.

Everything real: a redis-server on a free loopback port in a temp dir, the
ingress and worker binaries from the build tree (paths from the environment:
CI_INGRESS, CI_WORKER), the machine's dockerd and the locally built images.
Each test case builds its own Stack, so cases never share state.

Only loopback addresses are used (DESIGN.md section 7).
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SKIP = 77


def free_port(host="127.0.0.1"):
    """A port that binds now, drawn at random below the kernel's ephemeral
    range (32768+): a port from bind(0) is ephemeral, and any outgoing
    connection on the machine (parallel tests open thousands) may take it
    before the server that was meant to get it binds. Callers that spawn a
    server still retry on a lost race (Stack._spawn_server)."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port on " + host)


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Stack:
    KEY = "test-key-0123456789abcdef"
    OTHER_KEY = "other-key-fedcba9876543210"

    def __init__(self, env=None, workers=1, start=True, redis_host="127.0.0.1",
                 redis_password=None):
        # redis_host: the address redis-server binds and every process uses
        # (test_scaleout.py: a bridge address that network namespaces reach;
        # Redis refuses non-loopback clients without a password)
        self.tmp = tempfile.mkdtemp(prefix="ci-e2e-")
        self.redis_host = redis_host
        self.redis_password = redis_password
        self.redis_port = free_port(redis_host)
        self.port = free_port()
        self.procs = {}
        self.env = dict(os.environ)
        self.env.update({
            "API_KEYS": self.KEY + "," + self.OTHER_KEY,
            "REDIS_HOST": redis_host,
            "REDIS_PORT": str(self.redis_port),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "RUN_DIR": os.path.join(self.tmp, "run"),
            "DATA_DIR": os.path.join(self.tmp, "data"),
            "STORAGE_DIR": os.path.join(self.tmp, "storage"),
            "ENV_FILE": os.path.join(self.tmp, "no.env"),
            "LOG_LEVEL": "debug",
        })
        self.env.pop("API_KEY", None)
        if redis_password:
            self.env["REDIS_PASSWORD"] = redis_password
        self.env.update(env or {})
        self.nworkers = workers
        if start:
            self.start()

    # -- processes -------------------------------------------------------
    def _spawn(self, name, argv, env=None):
        log = open(os.path.join(self.tmp, name + ".log"), "ab")
        self.procs[name] = subprocess.Popen(argv, env=env or self.env, stdout=log, stderr=log,
                                            start_new_session=True)

    def _spawn_server(self, name, spawn, ready, timeout, repick):
        """Starts a listening server and waits until ready() holds. If the
        process exits first (its port was taken between free_port and its
        bind), picks a new port with repick() and tries again; on failure
        raises with the process's log so the cause is in the test output."""
        for attempt in range(3):
            spawn()
            p = self.procs[name]
            end = time.time() + timeout
            while time.time() < end and p.poll() is None:
                try:
                    if ready():
                        return
                except OSError:
                    pass
                time.sleep(0.05)
            if p.poll() is None:
                break
            repick()
        print(self.logs())
        raise AssertionError("timed out waiting for " + name)

    def start_redis(self):
        d = os.path.join(self.tmp, "redis")
        os.makedirs(d, exist_ok=True)

        def spawn():
            self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind",
                                  self.redis_host, "--dir", d, "--appendonly", "yes",
                                  "--save", ""] +
                        (["--requirepass", self.redis_password] if self.redis_password
                         else []))

        def repick():
            self.redis_port = free_port(self.redis_host)
            self.env["REDIS_PORT"] = str(self.redis_port)

        self._spawn_server("redis", spawn, lambda: self.redis("PING") == b"+PONG\r\n", 10,
                           repick)

    def start_ingress(self):
        def repick():
            self.port = free_port()
            self.env["PORT"] = str(self.port)

        self._spawn_server("ingress", lambda: self._spawn("ingress", [os.environ["CI_INGRESS"]]),
                           lambda: self.get("/health").status == 200, 20, repick)

    def start_worker(self, i=1, env=None, prefix=()):
        """env: extra variables for this worker only; prefix: argv words put
        before the binary (e.g. ["ip", "netns", "exec", ns])."""
        env_id = "worker-%s" % i
        self.env["WORKER_ID"] = env_id
        wenv = dict(self.env)
        wenv.update(env or {})
        self._spawn(env_id, list(prefix) + [os.environ["CI_WORKER"]], env=wenv)

    def start(self):
        self.start_redis()
        self.start_ingress()
        for i in range(1, self.nworkers + 1):
            self.start_worker(i)

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.get(name)
        if p and p.poll() is None:
            os.killpg(p.pid, sig)
            p.wait(timeout=30)

    def stop(self):
        for name in list(self.procs):
            if name != "redis":
                self.kill(name, signal.SIGTERM)
        self.kill("redis", signal.SIGTERM)
        # leave nothing behind: containers this stack started carry its RUN_DIR
        self.remove_leftover_sandboxes()
        subprocess.run(["rm", "-rf", self.tmp], check=False)   # any depth
        shutil.rmtree(self.tmp, ignore_errors=True)

    def remove_leftover_sandboxes(self):
        """Sandboxes of a worker that was SIGKILLed (and not restarted) are
        still there: remove their containers, then unmount their /mnt/data
        images (loop mounts below this stack's DATA_DIR, docs/sandbox.md)."""
        try:
            ids = subprocess.run(["docker", "ps", "-aq", "--filter",
                                  "label=com.code-interpreter.managed=true"],
                                 capture_output=True, text=True, timeout=60).stdout.split()
            if ids:
                out = subprocess.run(["docker", "inspect", "-f",
                                      "{{.Id}} {{range .Mounts}}{{.Source}} {{end}}"] + ids,
                                     capture_output=True, text=True, timeout=60).stdout
                mine = [l.split()[0] for l in out.splitlines()
                        if any(src.startswith(self.tmp + "/") for src in l.split()[1:])]
                if mine:
                    subprocess.run(["docker", "rm", "-f"] + mine, capture_output=True,
                                   timeout=120)
        except (OSError, subprocess.SubprocessError):
            pass
        try:
            with open("/proc/self/mountinfo") as f:
                points = [l.split()[4].encode().decode("unicode_escape") for l in f]
        except OSError:
            points = []
        for mp in sorted((p for p in points if p.startswith(self.tmp + "/")),
                         key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)

    def logs(self):
        out = []
        for name in self.procs:
            path = os.path.join(self.tmp, name + ".log")
            try:
                with open(path, "rb") as f:
                    data = f.read()[-4000:]
                out.append("==== %s ====\n%s" % (name, data.decode("utf-8", "replace")))
            except OSError:
                pass
        return "\n".join(out)

    def worker_audits(self, event_type, sid=None):
        """The audit lines of event_type (of session sid when given) that the
        stack's workers have logged so far, oldest first per worker."""
        out = []
        for name in self.procs:
            if not name.startswith("worker"):
                continue
            try:
                with open(os.path.join(self.tmp, name + ".log"), "rb") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            for line in lines:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if o.get("audit") and o.get("event_type") == event_type and \
                        (sid is None or o.get("session_id") == sid):
                    out.append(o)
        return out

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            print(self.logs())
        self.stop()

    # -- clients ---------------------------------------------------------
    def redis(self, *args):
        """One raw RESP command; returns the raw reply bytes."""
        with socket.create_connection((self.redis_host, self.redis_port), timeout=5) as s:
            if self.redis_password:
                s.sendall(("AUTH %s\r\n" % self.redis_password).encode())
                assert s.recv(64) == b"+OK\r\n"
            cmd = "*%d\r\n" % len(args) + "".join(
                "$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args)
            s.sendall(cmd.encode())
            return s.recv(65536)

    def request(self, method, path, body=None, key=None, headers=None, timeout=120,
                raw=None, bearer=False):
        h = dict(headers or {})
        if key is not None:
            if bearer:
                h["Authorization"] = "Bearer " + key
            else:
                h["x-api-key"] = key
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Response(r.status, dict((k.lower(), v) for k, v in r.getheaders()),
                            r.read())
        finally:
            c.close()

    def send_tolerant(self, method, path, body, headers):
        """Sends a request whose body the server may refuse before reading it
        (413 at the headers): tolerates a broken pipe, then reads the answer."""
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % (
            method, path, len(body))
        head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(head.encode())
            try:
                for i in range(0, len(body), 65536):
                    s.sendall(body[i:i + 65536])
            except (BrokenPipeError, ConnectionResetError):
                pass
            data = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if b"\r\n\r\n" in data:
                        hdr, _, rest = data.partition(b"\r\n\r\n")
                        m = [l for l in hdr.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                        if m and len(rest) >= int(m[0].split(b":")[1]):
                            break
            except ConnectionResetError:
                pass
        hdr, _, rest = data.partition(b"\r\n\r\n")
        lines = hdr.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.decode().partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return Response(status, hdrs, rest)

    def get(self, path, key=None, **kw):
        return self.request("GET", path, key=key, **kw)

    def post(self, path, body, key=KEY, **kw):
        return self.request("POST", path, body=body, key=key, **kw)

    def exec(self, body, key=KEY, **kw):
        return self.post("/exec", body, key=key, **kw)


def require_docker_image(name):
    """Exit with the skip code when dockerd or the image is missing."""
    if shutil.which("docker") is None:
        print("skip: no docker client")
        raise SystemExit(SKIP)
    r = subprocess.run(["docker", "image", "inspect", name], capture_output=True)
    if r.returncode != 0:
        print("skip: image %s is not built (run ops/images/build.sh)" % name)
        raise SystemExit(SKIP)


def run_cases(cases, argv):
    """Runs the case named in argv[1] (one process per case)."""
    if len(argv) < 2:
        for name, fn in cases.items():
            print("--", name)
            fn()
        return 0
    fn = cases.get(argv[1])
    if not fn:
        print("no such case:", argv[1])
        return 2
    fn()
    return 0
