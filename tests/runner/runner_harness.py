#!/usr/bin/env python3
"""runner_harness.py - the harness of tests/runner/test_runner.py: it plays
the worker (docs/runner-protocol.md): it listens on a unix socket in a
private run dir, starts the container with the production flags, accepts
the runner's connection and speaks frames (Session), plus the checks the
cases use (check, expect, Fail) and the docker helpers.

Images: $CI_TEST_IMAGE_<LANG>, else code-interpreter/<lang>:latest.
$CI_TEST_RUNNER_MOUNT=/path/runner.py bind-mounts that file over
/opt/ci/runner.py and its ci_runner/ beside it over /opt/ci/ci_runner (test
a runner without rebuilding the images).
"""

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

SKIP = 77

UID = 1000

# what the worker gives the runner (worker/sandbox/wk_sandbox_config.c)
RUNNER_CAPS = ("SETUID", "SETGID", "SETPCAP", "KILL", "CHOWN", "DAC_OVERRIDE", "FOWNER")


class Fail(Exception):
    pass


def check(cond, msg, *ctx):
    if not cond:
        raise Fail(msg + "".join("\n  " + repr(c) for c in ctx))


def image_exists(name):
    return subprocess.run(["docker", "image", "inspect", name],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def find_image(lang):
    env = os.environ.get("CI_TEST_IMAGE_" + lang.upper())
    cands = [env] if env else ["code-interpreter/%s:%s" % (lang, os.environ.get("IMAGE_TAG", "latest"))]
    for c in cands:
        if image_exists(c):
            return c
    return None


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise Fail("runner closed the connection")
        buf += chunk
    return buf


class Session:
    """One container + its runner connection."""

    def __init__(self, image, docker_args=()):
        self.tmp = tempfile.mkdtemp(prefix="ci-runner-test-")
        self.run_dir = os.path.join(self.tmp, "run")
        self.data_dir = os.path.join(self.tmp, "data")
        # as the worker makes them: /run/ci root's, /mnt/data the sandbox user's
        os.mkdir(self.run_dir, 0o755)
        os.mkdir(self.data_dir, 0o755)
        os.chown(self.data_dir, UID, UID)
        self.cid = None
        self.conn = None
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = os.path.join(self.run_dir, "ctl.sock")
        self.lsock.bind(path)
        os.chmod(path, 0o600)   # the runner is container root
        self.lsock.listen(1)
        t0 = time.monotonic()
        cmd = ["docker", "run", "-d", "--network", "none",
               "--read-only", "--tmpfs", "/tmp:rw,noexec,nosuid,size=64m",
               "--cap-drop", "ALL"] + \
              ["--cap-add=" + c for c in RUNNER_CAPS] + \
              ["--security-opt", "no-new-privileges",
               "--user", "0:0", "-e", "CI_SANDBOX_UID=%d" % UID,
               "-e", "CI_SANDBOX_GID=%d" % UID,
               "-v", self.run_dir + ":/run/ci", "-v", self.data_dir + ":/mnt/data",
               "-w", "/mnt/data"] + list(docker_args) + \
              (["-v", os.environ["CI_TEST_RUNNER_MOUNT"] + ":/opt/ci/runner.py:ro",
                "-v", os.path.join(os.path.dirname(os.environ["CI_TEST_RUNNER_MOUNT"]),
                                   "ci_runner") + ":/opt/ci/ci_runner:ro"]
               if os.environ.get("CI_TEST_RUNNER_MOUNT") else []) + \
              [image, "python3", "/opt/ci/runner.py"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            self.close()
            raise Fail("docker run failed: " + p.stderr)
        self.cid = p.stdout.strip()
        self.lsock.settimeout(30)
        try:
            self.conn, _ = self.lsock.accept()
        except socket.timeout:
            logs = subprocess.run(["docker", "logs", self.cid],
                                  capture_output=True, text=True)
            self.close()
            raise Fail("runner did not connect: " + logs.stdout + logs.stderr)
        self.conn.settimeout(120)
        self.hello = self.recv()
        self.startup_s = time.monotonic() - t0
        self.seq = 0

    def send_raw(self, payload):
        self.conn.sendall(struct.pack(">I", len(payload)) + payload)

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode())

    def recv(self):
        (n,) = struct.unpack(">I", recv_exact(self.conn, 4))
        return json.loads(recv_exact(self.conn, n).decode("utf-8"))

    def run(self, code, lang="py", **kw):
        self.seq += 1
        req = {"type": "run", "id": "job-%d" % self.seq, "lang": lang,
               "code": code, "args": [], "timeout_ms": 10000,
               "max_output": 65536, "state_in": False, "state_out": False}
        req.update(kw)
        t0 = time.monotonic()
        self.send(req)
        res = self.recv()
        self.rtt_s = time.monotonic() - t0
        check(res.get("id") == req["id"], "result id mismatch", res)
        return res

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.lsock.close()
        if self.cid:
            subprocess.run(["docker", "rm", "-f", self.cid],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)


def expect(res, status, exit_code, stdout=None):
    check(res.get("type") == "result", "not a result", res)
    check(res["status"] == status, "status %s != %s" % (res["status"], status),
          res)
    check(res["exit_code"] == exit_code, "exit_code %r != %r"
          % (res["exit_code"], exit_code), res)
    if stdout is not None:
        check(res["stdout"] == stdout, "stdout %r != %r"
              % (res["stdout"], stdout), res)


def container_stops(s, within_s):
    t_end = time.monotonic() + within_s
    while time.monotonic() < t_end:
        p = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}",
                            s.cid], capture_output=True, text=True)
        if p.stdout.strip() == "false":
            return True
        time.sleep(0.1)
    return False


def docker_mem_args():
    return ["--memory", "128m", "--memory-swap", "128m"]


def runner_log(s):
    p = subprocess.run(["docker", "logs", s.cid], capture_output=True, text=True)
    return p.stdout + p.stderr
