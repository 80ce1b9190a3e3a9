#!/usr/bin/env python3
"""End-to-end tests of ops/runner/runner.py inside a real sandbox container.

The harness plays the worker (docs/runner-protocol.md): it listens on a unix
socket in a private run dir, starts the container with the production flags,
accepts the runner's connection and speaks frames (runner_harness.py).
This file: the cases that need no compiler, the case table and main;
the per-language and resident-compiler cases are in runner_resident.py.

Usage: test_runner.py <case>      (exit 0 pass, 1 fail, 77 image missing)
       test_runner.py bench       (prints startup and print(1) round trip)

Images: $CI_TEST_IMAGE_<LANG>, else code-interpreter/<lang>:latest.
$CI_TEST_RUNNER_MOUNT=/path/runner.py bind-mounts that file over
/opt/ci/runner.py and its ci_runner/ beside it over /opt/ci/ci_runner (test
a runner without rebuilding the images).
"""

import os
import shutil
import struct
import subprocess
import sys
import time

# SKIP ... find_image stay importable from here (tests/ptc, /tmp scripts)
from runner_harness import (SKIP, UID, Fail, Session, check, container_stops,  # noqa: F401
                            docker_mem_args, expect, find_image, recv_exact)
from runner_resident import (BROKEN_PROGRAMS, HELPER_MARK, LONG, SUM_PROGRAMS,  # noqa: F401
                             attack_dirs, attack_errors, attack_junk, attack_kill,
                             attack_wipe, lang_case, resident_case, until_resident)


# ------------------------------------------------------------------ cases --
def case_hello(s):
    h = s.hello
    check(h.get("type") == "hello" and h.get("version") == 1, "bad hello", h)
    check(isinstance(h.get("pid"), int), "hello pid", h)
    check("py" in h["langs"] and "bash" in h["langs"], "langs", h)
    for lang in h["langs"]:
        check(lang in ("py js ts go java c cpp php rs r f90 d bash".split()),
              "unknown lang in hello", h)


def case_print(s):
    res = s.run("print(6*7)")
    expect(res, "completed", 0, "42\n")
    check(res["stderr"] == "" and res["warnings"] == [], "clean", res)
    check(res["stdout_truncated"] is False and res["state_size"] == 0, "f", res)
    check(isinstance(res["duration_ms"], int), "duration", res)


def case_stderr_exit(s):
    res = s.run("import sys\nprint('out')\nprint('err', file=sys.stderr)\n"
                "sys.exit(3)")
    expect(res, "failed", 3, "out\n")
    check(res["stderr"] == "err\n", "stderr", res)


def case_exception(s):
    res = s.run("def f():\n    return 1/0\nf()\n")
    expect(res, "failed", 1, "")
    err = res["stderr"]
    check(err.startswith("Traceback (most recent call last):"), "tb", err)
    check('File "main.py", line 2, in f' in err and "return 1/0" in err,
          "tb frames", err)
    check("ZeroDivisionError: division by zero" in err, "tb msg", err)
    check("/opt/ci/" not in err, "runner frames leak into tb", err)


def case_timeout(s):
    t0 = time.monotonic()
    res = s.run("while True:\n    pass\n", timeout_ms=1000)
    el = time.monotonic() - t0
    expect(res, "timeout", 137)
    check(el < 2.0, "timeout took %.2fs" % el)
    expect(s.run("print('alive')"), "completed", 0, "alive\n")


def case_big_output(s):
    t0 = time.monotonic()
    res = s.run("import sys\nfor _ in range(10):\n"
                "    sys.stdout.write('x' * (1 << 20))\n"
                "sys.stderr.write('e' * (3 << 20))\n", max_output=65536)
    el = time.monotonic() - t0
    expect(res, "completed", 0)
    check(res["stdout"] == "x" * 65536 and res["stdout_truncated"] is True,
          "stdout cap", len(res["stdout"]))
    check(len(res["stderr"]) == 65536 and res["stderr_truncated"], "stderr")
    check(el < 3.0, "10 MB took %.2fs" % el)
    # 100 MB from a C-level writer (subprocess) must not block either.
    t0 = time.monotonic()
    res = s.run("import os\nos.system('head -c 100000000 /dev/zero')\n"
                "print('done')", max_output=100)
    el = time.monotonic() - t0
    expect(res, "completed", 0)
    check(res["stdout"].endswith("done\n") is False and
          len(res["stdout"]) == 100 and res["stdout_truncated"], "cap100", res)
    check(el < 5.0, "100 MB took %.2fs" % el)


def case_fd_capture(s):
    res = s.run("import os, sys\nos.write(1, b'raw\\n')\n"
                "os.system('echo from-shell; echo sh-err >&2')\n"
                "sys.stdout.flush()\nos.write(1, b'\\xff\\xfe ok\\n')")
    expect(res, "completed", 0)
    check(res["stdout"] == "raw\nfrom-shell\n\ufffd\ufffd ok\n", "fd1", res)
    check(res["stderr"] == "sh-err\n", "fd2", res)


def case_args(s):
    res = s.run("import sys\nprint(sys.argv)", args=["a", "b c", "--x"])
    expect(res, "completed", 0, "['main.py', 'a', 'b c', '--x']\n")


def case_data_file(s):
    res = s.run("import os\nopen('out.txt', 'w').write('hello')\n"
                "print(os.getcwd())")
    expect(res, "completed", 0, "/mnt/data\n")
    with open(os.path.join(s.data_dir, "out.txt")) as f:
        check(f.read() == "hello", "file content on host")
    check(sorted(os.listdir(s.data_dir)) == ["out.txt"], "stray files",
          os.listdir(s.data_dir))


def case_state(s):
    code1 = ("import math as m\nx = 42\ncounter = 0\n"
             "def inc():\n    global counter\n    counter += 1\n"
             "class P:\n    def __init__(self, v): self.v = v\n"
             "p = P(7)\nf = open('/tmp/t.txt', 'w')\nprint('saved')\n")
    r1 = s.run(code1, state_out=True)
    expect(r1, "completed", 0, "saved\n")
    out = os.path.join(s.run_dir, "state.out")
    check(r1["state_size"] > 0 and r1["state_size"] == os.path.getsize(out),
          "state_size", r1)
    check("state: skipped variable 'f' (cannot pickle TextIOWrapper)"
          in r1["warnings"], "warning for file object", r1)
    shutil.copyfile(out, os.path.join(s.run_dir, "state.in"))
    r2 = s.run("print(x + 1)\ninc(); inc()\nprint(counter, p.v, m.sqrt(16))\n"
               "print('f' in globals())", state_in=True, state_out=True)
    expect(r2, "completed", 0, "43\n2 7 4.0\nFalse\n")
    check(r2["warnings"] == [], "no warnings", r2)
    # Without state_in the namespace is fresh.
    r3 = s.run("print('x' in globals())")
    expect(r3, "completed", 0, "False\n")
    # State is also saved when the program fails.
    shutil.copyfile(out, os.path.join(s.run_dir, "state.in"))
    r4 = s.run("y = counter * 10\nraise ValueError('boom')",
               state_in=True, state_out=True)
    expect(r4, "failed", 1)
    shutil.copyfile(out, os.path.join(s.run_dir, "state.in"))
    expect(s.run("print(y)", state_in=True), "completed", 0, "20\n")


# every process of the sandbox user but the program itself
LIST_USER_PROCS = (
    "import os\nme = os.getpid()\n"
    "print([p for p in os.listdir('/proc') if p.isdigit() and int(p) != me\n"
    "       and os.stat('/proc/' + p).st_uid != 0])")


def case_fork_bomb(s):
    code = ("import os, time\n"
            "for i in range(30):\n"
            "    if os.fork() == 0:\n"
            "        if i == 0:\n"
            "            os.setsid()\n"
            "        while True:\n"
            "            time.sleep(0.1)\n"
            "while True:\n    pass\n")
    t0 = time.monotonic()
    res = s.run(code, timeout_ms=1500)
    el = time.monotonic() - t0
    expect(res, "timeout", 137)
    # generous: a loaded machine delays the kill, a missed timeout would run on
    check(el < 6.0, "timeout took %.2fs" % el)
    # (the runner's own waiting processes are root's: python.Spare, lean.py)
    res = s.run(LIST_USER_PROCS)
    expect(res, "completed", 0, "[]\n")
    # A forked child that runs off the end of the script is not "the end".
    res = s.run("import os, time\npid = os.fork()\nif pid == 0:\n"
                "    print('child', flush=True)\nelse:\n    os.waitpid(pid, 0)\n"
                "    time.sleep(0.2)\n    print('parent')\n")
    expect(res, "completed", 0, "child\nparent\n")
    # Background processes are also removed after a normal exit.
    s.run("import subprocess\nsubprocess.Popen(['sleep', '100'])")
    res = s.run(LIST_USER_PROCS)
    expect(res, "completed", 0, "[]\n")


def case_robust(s):
    s.send_raw(b"not json")
    r = s.recv()
    check(r.get("type") == "error", "bad json -> error", r)
    s.send({"type": "run", "lang": "py", "code": "print(1)"})
    r = s.recv()
    check(r.get("type") == "error" and "id" in r["message"], "missing id", r)
    s.send({"type": "run", "id": "j", "lang": "cobol", "code": "x"})
    r = s.recv()
    check(r == {"type": "error", "id": "j",
                "message": "unsupported language: cobol"}, "bad lang", r)
    s.send({"type": "bogus", "id": "k"})
    check(s.recv().get("type") == "error", "unknown type")
    expect(s.run("import os\nos.closerange(0, 1024)"), "completed", 0, "")
    # the runner (PID 1) is root's: a program cannot signal it
    expect(s.run("import os\nfor sig in (2, 9, 15, 19):\n    try:\n"
                 "        os.kill(1, sig)\n    except PermissionError:\n"
                 "        print('EPERM', sig)"),
           "completed", 0, "EPERM 2\nEPERM 9\nEPERM 15\nEPERM 19\n")
    expect(s.run("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"),
           "failed", 139)
    # A SIGKILL that is not the memory cgroup's is a plain failure.
    expect(s.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
           "failed", 137)
    expect(s.run("import sys\nsys.stdout.buffer.write(bytes(range(256)))"),
           "completed", 0)
    expect(s.run("raise SystemExit('bye')"), "failed", 1)
    expect(s.run("print(1)"), "completed", 0, "1\n")


def case_random(s):
    a = s.run("import random, numpy\nprint(random.random(), "
              "numpy.random.rand())")
    b = s.run("import random, numpy\nprint(random.random(), "
              "numpy.random.rand())")
    check(a["stdout"] != b["stdout"], "forked runs share RNG state", a, b)


def case_bash(s):
    res = s.run("echo hi; echo \"$1\"; pwd; yes | head -n 1; exit 4",
                lang="bash", args=["x y"])
    expect(res, "failed", 4, "hi\nx y\n/mnt/data\ny\n")
    check(res["stderr"] == "", "SIGPIPE restored for exec'd programs", res)
    res = s.run("sleep 30 &\nwait", lang="bash", timeout_ms=800)
    expect(res, "timeout", 137)
    check(os.listdir(s.data_dir) == [], "sources must not appear in data dir")


def case_hangup(s):
    req = {"type": "run", "id": "h", "lang": "py", "code": "while True: pass",
           "args": [], "timeout_ms": 60000, "max_output": 100}
    s.send(req)
    time.sleep(0.5)
    s.conn.close()
    s.conn = None
    check(container_stops(s, 5.0), "runner must exit when the worker hangs up")


def case_oversize(s):
    s.conn.sendall(struct.pack(">I", (64 << 20) + 1))
    s.conn.settimeout(5)
    check(s.conn.recv(1) == b"", "oversize frame must close the connection")
    check(container_stops(s, 5.0), "runner exits after a protocol error")


def case_matplotlib(s):
    res = s.run("import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\n"
                "plt.savefig('plot.png')\nprint(plt.get_backend())")
    expect(res, "completed", 0)
    check(res["stdout"].lower() == "agg\n", "backend", res)
    with open(os.path.join(s.data_dir, "plot.png"), "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", "png written")


def case_java_names(s):
    if "java" not in s.hello["langs"]:
        raise Fail("java missing from hello")
    res = s.run("package app.demo;\nclass Helper { static int n() "
                "{ return 5; } }\nclass Main {\n  public static void "
                "main(String[] a) { System.out.println(Helper.n() + a[0]); "
                "}\n}\n", lang="java", args=["!"], timeout_ms=60000)
    expect(res, "completed", 0, "5!\n")
    res = s.run("public class Greeter {\n  public static void main(String[] "
                "a) { System.out.println(\"hi\"); }\n}\n", lang="java",
                timeout_ms=60000)
    expect(res, "completed", 0, "hi\n")


def case_oom(s):
    # Touched pages: the memory cgroup's OOM killer sends SIGKILL.
    res = s.run("a = []\nwhile True:\n    a.append(b'x' * (8 << 20))\n",
                timeout_ms=20000)
    expect(res, "oom", 137)
    expect(s.run("print('after')"), "completed", 0, "after\n")
    # An allocation that cannot succeed: Python's MemoryError.
    res = s.run("b = bytearray(1 << 44)", timeout_ms=20000)
    expect(res, "oom", 1)
    check("MemoryError" in res["stderr"], "traceback", res)


def case_wipe(s):
    """The wipe frame (ci_runner/wipe.py): a run leaves files in every
    writable place and a SysV segment; the runner answers `wiped` ok with
    every count 0; the next run finds nothing, nor does the host."""
    s.run("import ctypes, os\nlibc = ctypes.CDLL(None)\n"
          "assert libc.shmget(0x77, 4096, 0o1000 | 0o666) >= 0\n"
          "for d in ('/mnt/data', '/tmp', '/dev/shm', os.environ['HOME']):\n"
          "    open(os.path.join(d, 'left'), 'w').write('x')\n")
    s.send({"type": "wipe", "id": "w1"})
    w = s.recv()
    check(w.get("type") == "wiped" and w.get("id") == "w1" and w.get("ok") is True,
          "wipe not ok", w)
    check(w.get("checks") == {"processes": 0, "ipc": 0, "files": 0, "env": 0},
          "wipe counts", w)
    check(os.listdir(s.data_dir) == [], "host data dir not empty", os.listdir(s.data_dir))
    res = s.run("import os\nprint(os.listdir('/mnt/data'), "
                "len(open('/proc/sysvipc/shm').read().splitlines()) - 1, "
                "os.path.exists('/tmp/left'), os.path.exists('/dev/shm/left'), "
                "os.listdir(os.environ['HOME']))")
    expect(res, "completed", 0, "[] 0 False False []\n")


LIST_ROOT_PYTHONS = (
    "import os\n"
    "for e in sorted(os.listdir('/proc')):\n"
    "    if not e.isdigit() or int(e) in (1, os.getpid()):\n"
    "        continue\n"
    "    try:\n"
    "        st = open('/proc/%s/status' % e).read()\n"
    "    except OSError:\n"
    "        continue\n"
    "    f = dict(l.split(':', 1) for l in st.splitlines() if ':' in l)\n"
    "    if f['Uid'].split()[0] == '0' and f['Name'].strip().startswith('python'):\n"
    "        print(e)\n")

ATTACK_ROOT_PROCS = (
    "import os, signal\n"
    "me = os.getpid()\n"
    "for e in sorted(os.listdir('/proc')):\n"
    "    if not e.isdigit() or int(e) == me:\n"
    "        continue\n"
    "    if os.stat('/proc/' + e).st_uid != 0:\n"
    "        continue\n"
    "    for sig in (signal.SIGSTOP, signal.SIGKILL):\n"
    "        try:\n"
    "            os.kill(int(e), sig)\n"
    "            print('signalled', e, sig)\n"
    "        except PermissionError:\n"
    "            pass\n"
    "    for name, mode in (('mem', 'r+b'), ('environ', 'rb'), ('fd/0', 'rb')):\n"
    "        try:\n"
    "            open('/proc/%s/%s' % (e, name), mode).close()\n"
    "            print('opened', e, name)\n"
    "        except OSError:\n"
    "            pass\n"
    "print('attack done')\n")


def root_pythons(s):
    p = subprocess.run(["docker", "exec", s.cid, "python3", "-c", LIST_ROOT_PYTHONS],
                       capture_output=True, text=True)
    check(p.returncode == 0, "listing the container's processes failed", p.stderr)
    return [int(x) for x in p.stdout.split()]


def case_wipe_keeps_spare(s):
    """The wipe keeps the pristine spare Python children (python.Spare, still
    the runner's identity while they wait: one forked from the runner, one
    from the lean fork server) and the lean fork server itself (lean.py,
    which never runs user code) for the next session, and the sandbox user
    cannot reach any of them: a uid-1000 process in the container (as a
    leftover or a resident helper would be) can neither signal them nor
    open their /proc files; a uid-1000 process alive during the wipe is
    killed; the next session runs in a kept child as the sandbox user,
    without capabilities, in /mnt/data, with nothing of the session before;
    a run that imports numpy takes the other kept child."""
    s.run("x_left_behind = 1\nopen('/tmp/left', 'w').write('x')\n")
    until = time.monotonic() + 30
    spares = root_pythons(s)
    while len(spares) != 3 and time.monotonic() < until:   # forked after the reply
        time.sleep(0.1)
        spares = root_pythons(s)
    check(len(spares) == 3, "two waiting spares and the lean fork server expected", spares)
    att = subprocess.run(["docker", "exec", "-u", "%d:%d" % (UID, UID), s.cid, "python3",
                          "-c", ATTACK_ROOT_PROCS], capture_output=True, text=True)
    check(att.stdout.strip() == "attack done", "the sandbox user reached a root process",
          att.stdout, att.stderr)
    subprocess.run(["docker", "exec", "-d", "-u", "%d:%d" % (UID, UID), s.cid,
                    "sleep", "600"], check=True)
    s.send({"type": "wipe", "id": "w-spare"})
    w = s.recv()
    check(w.get("ok") is True and w.get("checks") == {"processes": 0, "ipc": 0, "files": 0,
                                                    "env": 0}, "wipe not ok", w)
    check(root_pythons(s) == spares, "the spares were not kept", spares, root_pythons(s))
    probe = ("import os\n"
             "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')]\n"
             "print(os.getpid(), os.getuid(), os.geteuid(), caps[0].split()[1], os.getcwd(),\n"
             "      'x_left_behind' in globals(), os.path.exists('/tmp/left'))\n")
    res = s.run(probe, state_out=True)
    check(res.get("status") == "completed", "probe failed", res)
    pid, rest = res["stdout"].split(" ", 1)
    check(int(pid) in spares, "the new session did not run in a kept spare", res, spares)
    check(rest == "%d %d 0000000000000000 /mnt/data False False\n" % (UID, UID),
          "the kept spare is not the sandbox user's, or saw the session before", res)
    check(res.get("state_size", 0) > 0, "the state of the new session was not saved", res)
    res = s.run("import numpy\n" + probe)
    check(res.get("status") == "completed", "numpy probe failed", res)
    pid2 = int(res["stdout"].split(" ", 1)[0])
    check(pid2 in spares and pid2 != int(pid),
          "a numpy run did not take the other kept spare", res, spares, pid)


FORK_SERVER_PROBE = "import sys\nprint('pandas' in sys.modules, end=' ')\n"


def case_lean(s):
    """lean.py: a run whose code imports only the standard library forks
    from the lean fork server (no pandas in sys.modules), one that imports
    numpy, or restores a state naming it, from the full one; exit codes,
    signals and timeouts read the same from either (the lean server reaps
    its children and reports their status); when the lean server dies the
    runs go on, from the full fork server."""
    probe = FORK_SERVER_PROBE
    until = time.monotonic() + 60   # warm: both spares and the lean server wait
    while len(root_pythons(s)) != 3 and time.monotonic() < until:
        time.sleep(0.2)
    expect(s.run(probe + "print(1)"), "completed", 0, "False 1\n")
    expect(s.run(probe + "import json, os.path\nprint(1)"), "completed", 0, "False 1\n")
    expect(s.run(probe + "import numpy\nprint(1)"), "completed", 0, "True 1\n")
    expect(s.run(probe + "from matplotlib import pyplot\nprint(1)"), "completed", 0,
           "True 1\n")
    for lib in ("", "import numpy\n"):
        expect(s.run(lib + "import os\nos._exit(3)"), "failed", 3, "")
        expect(s.run(lib + "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"),
               "failed", 139)
        expect(s.run(lib + "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
               "failed", 137)
        expect(s.run(lib + "while True:\n    pass", timeout_ms=800), "timeout", 137)
    # state: plain values restore in the lean child, a numpy array in the full one
    def stateful(code, out):
        res = s.run(code, state_in=True, state_out=True)
        expect(res, "completed", 0, out)
        os.replace(os.path.join(s.run_dir, "state.out"), os.path.join(s.run_dir, "state.in"))
    expect(s.run("n = 41", state_out=True), "completed", 0)
    os.replace(os.path.join(s.run_dir, "state.out"), os.path.join(s.run_dir, "state.in"))
    stateful(probe + "print(n + 1)", "False 42\n")
    stateful("def f(x):\n    return 2 * x\n", "")          # cloudpickled by value
    stateful(probe + "print(f(n))", "False 82\n")
    # hostile state for the runner's own scan (a substring search, never an
    # unpickling): a plain string naming a package, a state over 1 MiB;
    # each takes the full fork server and restores intact, then lean again
    stateful("w = 'pandas'", "")
    stateful(probe + "print(w, n)\ndel w\nbig = 'x' * (2 << 20)", "True pandas 41\n")
    stateful(probe + "print(len(big), n)\ndel big", "True 2097152 41\n")
    stateful(probe + "print(n)", "False 41\n")
    stateful("import numpy as np\na = np.arange(4)", "")
    stateful(probe + "print(int(a.sum()), n)", "True 6 41\n")
    # hostile code for the runner's own scan (ast.parse, as root): too deep
    # to parse, too long to scan; the runner answers and goes on
    res = s.run("x = " + "+".join(["a"] * 30000))
    check(res.get("status") == "failed" and "RecursionError" in res.get("stderr", ""),
          "deeply nested code: not the child's own failure", res)
    expect(s.run("# " + "x" * (80 << 10) + "\n" + probe + "print(1)"), "completed", 0,
           "True 1\n")
    expect(s.run(probe + "print(1)"), "completed", 0, "False 1\n")
    # the lean server dies: runs go on from the full fork server
    # (its waiting child too: a fork of it, the same command line)
    p = subprocess.run(["docker", "exec", s.cid, "python3", "-c",
                        "import os\n"
                        "for p in os.listdir('/proc'):\n"
                        "    if p.isdigit() and int(p) != os.getpid() and b'--lean-server\\0' in "
                        "open('/proc/%s/cmdline' % p, 'rb').read():\n"
                        "        os.kill(int(p), 9)\n"], capture_output=True, text=True)
    check(p.returncode == 0, "could not kill the lean server", p.stdout, p.stderr)
    for _ in range(2):
        expect(s.run(probe + "print(1)"), "completed", 0)
    expect(s.run("import os\nos._exit(3)"), "failed", 3, "")
    expect(s.run("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"), "failed", 139)
    expect(s.run(probe + "print(1)"), "completed", 0, "True 1\n")


CASES = {
    "hello": case_hello, "print": case_print, "stderr_exit": case_stderr_exit,
    "exception": case_exception, "timeout": case_timeout,
    "big_output": case_big_output, "fd_capture": case_fd_capture,
    "args": case_args, "data_file": case_data_file, "state": case_state,
    "fork_bomb": case_fork_bomb, "robust": case_robust, "random": case_random,
    "bash": case_bash, "oom": case_oom, "hangup": case_hangup,
    "oversize": case_oversize, "matplotlib": case_matplotlib,
    "java_names": case_java_names, "wipe": case_wipe,
    "wipe_keeps_spare": case_wipe_keeps_spare, "lean": case_lean,
}
CASE_DOCKER_ARGS = {"oom": docker_mem_args()}
for _lang in SUM_PROGRAMS:
    CASES["lang_" + _lang] = lang_case(_lang)
for _lang in HELPER_MARK:
    for _name, _attack in (("errors", attack_errors), ("kill", attack_kill),
                           ("junk", attack_junk), ("dirs", attack_dirs),
                           ("wipe", attack_wipe)):
        CASES["resident_%s_%s" % (_name, _lang)] = resident_case(_lang, _attack)


def bench(n=300):
    image = find_image("py")
    if image is None:
        return SKIP
    starts = []
    for _ in range(3):
        s = Session(image)
        starts.append(s.startup_s)
        s.close()
    s = Session(image)
    try:
        for _ in range(20):
            s.run("print(1)")
        rtts = []
        for _ in range(n):
            s.run("print(1)")
            rtts.append(s.rtt_s * 1e3)
    finally:
        s.close()
    rtts.sort()
    print("image %s" % image)
    print("startup (docker run -> hello): %s ms" %
          ", ".join("%.0f" % (x * 1e3) for x in starts))
    print("print(1) round trip over %d runs: p50 %.2f ms, p99 %.2f ms, "
          "max %.2f ms" % (n, rtts[n // 2], rtts[int(n * 0.99)], rtts[-1]))
    return 0


def main(argv):
    if len(argv) != 2:
        print("usage: test_runner.py <case>|bench|list", file=sys.stderr)
        return 2
    name = argv[1]
    if name == "bench":
        return bench()
    if name == "list":
        print("\n".join(CASES))
        return 0
    if name not in CASES:
        print("unknown case %s" % name, file=sys.stderr)
        return 2
    lang = name[5:] if name.startswith("lang_") else "py"
    if name.startswith("resident_"):
        lang = name.rsplit("_", 1)[1]
    if name == "java_names":
        lang = "java"
    image = find_image(lang)
    if image is None:
        print("SKIP: no image for %s" % lang)
        return SKIP
    if shutil.which("docker") is None:
        return SKIP
    s = None
    try:
        s = Session(image, CASE_DOCKER_ARGS.get(name, ()))
        CASES[name](s)
    except Fail as e:
        print("FAIL %s: %s" % (name, e))
        return 1
    finally:
        if s is not None:
            s.close()
    print("PASS %s (startup %.0f ms)" % (name, s.startup_s * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
