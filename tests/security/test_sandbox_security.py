"""Security, default mode (issue 5, docs/sandbox.md): hostile programs sent
through the real service (ci-ingress -> redis -> ci-worker -> dockerd -> the
Python image) are contained, reported, and the next request is served.

No network is used beyond loopback: sandboxes here have no network at all.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from stack import Stack, require_docker_image, run_cases  # noqa: E402

PY_IMAGE = "code-interpreter/py:" + os.environ.get("IMAGE_TAG", "latest")
LIMITS = {"MAX_EXECUTION_TIME": "4", "MAX_MEMORY_MB": "128", "MAX_PIDS": "64",
          "MAX_OUTPUT_BYTES": "65536", "MAX_OPEN_FILES": "256"}


def run(s, code):
    r = s.exec({"lang": "py", "code": code})
    assert r.status == 200, (r.status, r.body)
    return r.json()


def served(s):
    j = run(s, "print('next')")
    assert j["status"] == "completed" and j["stdout"] == "next\n", j


PIDS_COUNT = r"""
import os, time
n = 0
try:
    while n < 10000:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    print("forked", n, "then", type(e).__name__)
"""

FORK_BOMB = r"""
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

BALLOON = r"""
chunks = []
while True:
    chunks.append(bytearray(16 << 20))
"""

FLOOD = r"""
import sys
line = "x" * 1048575 + "\n"
for _ in range(100):
    sys.stdout.write(line)
print("done", file=sys.stderr)
"""


def case_resource_limits():
    require_docker_image(PY_IMAGE)
    with Stack(env=LIMITS) as s:
        # pids: the process count stops at the limit (64, the runner included)
        j = run(s, PIDS_COUNT)
        words = j["stdout"].split()
        assert j["status"] == "completed" and words[0] == "forked", j
        assert 10 < int(words[1]) < 64 and words[3] == "BlockingIOError", j
        served(s)
        # a real fork bomb: ends at the wall-clock limit (timeout), or earlier
        # when 64 Pythons outgrow the 128 MB cgroup (oom); killed either way
        j = run(s, FORK_BOMB)
        assert j["status"] in ("timeout", "oom") and j["exit_code"] == 137, j
        served(s)
        # memory balloon: killed by the cgroup, reported as oom
        j = run(s, BALLOON)
        assert j["status"] == "oom", j
        assert j["exit_code"] != 0, j
        served(s)
        # infinite loop: timeout
        j = run(s, "while True: pass")
        assert j["status"] == "timeout" and j["exit_code"] != 0, j
        served(s)
        # 100 MB of stdout: capped, and done within the 4 s limit ("completed",
        # not "timeout": no wall-clock assertion, the machine may be loaded)
        j = run(s, FLOOD)
        assert j["status"] == "completed", j
        assert len(j["stdout"].encode()) <= 65536 + 200, len(j["stdout"])
        assert "[output truncated" in j["stdout"], j["stdout"][-200:]
        assert j["stderr"] == "done\n", j["stderr"]
        served(s)


PROBE = r"""
import ctypes, errno, json, os, resource, shutil, socket, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)
r = {}
def name(e):
    return errno.errorcode.get(e, str(e))
def call(rc):
    return "ok" if rc == 0 else name(ctypes.get_errno())

w = {}
for p in ["/x", "/etc/x", "/usr/x", "/usr/bin/x", "/home/x", "/var/x", "/root/x",
          "/opt/x", "/sys/x", "/proc/x", "/var/tmp/x"]:
    try:
        with open(p, "w") as f:
            f.write("x")
        w[p] = "ok"
    except OSError as e:
        w[p] = name(e.errno)
r["writes"] = w
for p in ["/mnt/data/ok.txt", "/tmp/ok.txt"]:
    with open(p, "w") as f:
        f.write("ok")
r["writable"] = "ok"
shutil.copy("/bin/true", "/tmp/true")
os.chmod("/tmp/true", 0o755)
try:
    subprocess.run(["/tmp/true"])
    r["exec_tmp"] = "ok"
except OSError as e:
    r["exec_tmp"] = name(e.errno)

r["docker_sock"] = [p for p in ("/var/run/docker.sock", "/run/docker.sock",
                                "/var/run/docker", "/run/containerd") if os.path.exists(p)]
r["sethostname"] = call(libc.sethostname(b"evil", 4))
os.makedirs("/mnt/data/m", exist_ok=True)
r["mount"] = call(libc.mount(b"none", b"/mnt/data/m", b"tmpfs", 0, None))
r["unshare_user"] = call(libc.unshare(0x10000000))   # CLONE_NEWUSER
r["chroot"] = call(libc.chroot(b"/tmp"))

st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
for k in ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
    r[k] = st[k].split()

suid = {}
for b in ("/usr/bin/su", "/usr/bin/passwd"):
    if not os.path.exists(b):
        continue
    p = subprocess.Popen([b], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    uid = None
    for _ in range(100):   # until it waits at its password prompt
        try:
            line = [l for l in open("/proc/%d/status" % p.pid) if l.startswith("Uid:")]
            uid = line[0].split()[1:]
            if open("/proc/%d/wchan" % p.pid).read() not in ("0", ""):
                break
        except OSError:
            break
        time.sleep(0.02)
    p.kill()
    p.communicate()
    suid[b] = uid
r["setuid"] = suid
r["is_setuid"] = [b for b in suid if os.stat(b).st_mode & 0o4000]

r["hostname"] = socket.gethostname()
r["uname_node"] = os.uname().nodename
r["resolv"] = open("/etc/resolv.conf").read()
r["ifaces"] = sorted(os.listdir("/sys/class/net"))
r["nofile"] = list(resource.getrlimit(resource.RLIMIT_NOFILE))
binds = []
for l in open("/proc/self/mountinfo"):
    f = l.split()
    fstype = f[f.index("-") + 1]
    if fstype not in ("overlay", "proc", "tmpfs", "devpts", "mqueue", "sysfs", "cgroup",
                      "cgroup2", "shm"):
        binds.append(f[4])
r["host_mounts"] = sorted(set(binds))
print(json.dumps(r))
"""


def case_isolation_probes():
    require_docker_image(PY_IMAGE)
    with Stack(env=LIMITS) as s:
        j = run(s, PROBE)
        assert j["status"] == "completed", j
        r = json.loads(j["stdout"])
        print(json.dumps(r, indent=1))
        # writes outside /mnt/data and /tmp fail
        for p, res in r["writes"].items():
            assert res != "ok", (p, res)
        assert r["writes"]["/x"] == "EROFS" and r["writes"]["/usr/bin/x"] == "EROFS", r
        assert r["exec_tmp"] == "EACCES", r              # /tmp is noexec
        # no Docker socket, no host paths beyond /mnt/data (and Docker's own files)
        assert r["docker_sock"] == [], r
        allowed = {"/mnt/data", "/run/ci", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}
        assert set(r["host_mounts"]) <= allowed, r["host_mounts"]
        # no capabilities, no way to gain any
        assert r["sethostname"] == "EPERM" and r["mount"] == "EPERM", r
        assert r["chroot"] == "EPERM", r
        assert r["unshare_user"] == "EPERM", r   # Docker's seccomp profile refuses it
        for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
            assert int(r[k][0], 16) == 0, (k, r[k])
        assert r["NoNewPrivs"] == ["1"] and r["Seccomp"] == ["2"], r
        assert r["Uid"] == ["1000"] * 4 and r["Gid"] == ["1000"] * 4, r
        # setuid-root binaries run, but with no-new-privileges they stay uid 1000
        assert r["is_setuid"], r   # the image does ship setuid binaries
        for b, uid in r["setuid"].items():
            assert uid == ["1000", "1000", "1000", "1000"], (b, uid)
        # host info masked; no network but loopback
        assert r["hostname"] == "sandbox" and r["uname_node"] == "sandbox", r
        # no network: Docker writes no resolver file; the image's is empty
        lines = [l for l in r["resolv"].splitlines() if l.strip() and not l.startswith("#")]
        assert set(lines) <= {"nameserver 127.0.0.1"}, r["resolv"]
        assert r["ifaces"] == ["lo"], r["ifaces"]
        assert r["nofile"] == [256, 256], r["nofile"]
        served(s)


if __name__ == "__main__":
    sys.exit(run_cases({n[5:]: f for n, f in list(globals().items())
                        if n.startswith("case_")}, sys.argv))
