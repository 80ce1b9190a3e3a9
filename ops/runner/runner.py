#!/usr/bin/env python3
"""Resident runner: lives in every sandbox image as /opt/ci/runner.py.

Started as the container's command (uid 1000, read-only rootfs, no network).
It connects to the worker's unix socket (/run/ci/ctl.sock, or $CI_CTL_SOCKET),
sends `hello`, then serves `run` frames one at a time until the worker closes
the connection.  The wire contract is docs/runner-protocol.md.

Frames: 4-byte big-endian length + UTF-8 JSON object, at most 64 MiB.

Python ("py") is served by a fork server: heavy modules (numpy, pandas,
matplotlib with the Agg backend, cloudpickle) are imported once, right after
`hello` while no frame is waiting, and every run is a fork of that warm
process.  Other languages are written to
a private build directory /run/ci/build/<n>/, compiled if needed and executed
with cwd /mnt/data.  Every program runs in its own process group with stdout
and stderr on pipes; the runner keeps at most max_output bytes of each and
drains the rest, kills the group on timeout, and after every run kills any
process the program left behind (kill(-1) when the runner is PID 1).

State file format (/run/ci/state.in, /run/ci/state.out), written and read only
inside the container; the host never unpickles it:

    cloudpickle.dumps({
        "format": "ci-state", "version": 1,
        "vars":    {name: value, ...},       # picklable user globals
        "modules": {name: "module.name"},    # globals bound to modules,
    })                                       # re-imported by name on load

Dunder names are never saved; variables that fail to pickle are skipped with
a warning "state: skipped variable 'f' (cannot pickle TextIOWrapper)".
Functions defined by the user keep sharing one globals dict across restores
(the restored functions' globals dict becomes the new run's globals).
"""

import codecs
import gc
import json
import os
import re
import select
import selectors
import shutil
import signal
import socket
import struct
import sys
import time

# --------------------------------------------------------------------------
# Language table: the one place that says how each language is built and run.
# {src} source path, {bin} binary path, {dir} build dir, {cls} Java class.
# "needs": executables that must be on PATH for the language to be offered.
# "compile": None for interpreted languages.
# --------------------------------------------------------------------------
LANGS = {
    "js": {"src": "main.js", "needs": ["node"], "compile": None,
           "run": ["node", "{src}"]},
    "ts": {"src": "main.ts", "needs": ["node", "tsc"],
           "compile": ["node", "{dir}/tsc-fast.js", "{src}", "{dir}/main.js"],
           "run": ["node", "{dir}/main.js"]},
    "go": {"src": "main.go", "needs": ["go"],
           "compile": ["go", "build", "-o", "{bin}", "{src}"],
           "run": ["{bin}"]},
    "java": {"src": "{cls}.java", "needs": ["javac", "java"],
             "compile": ["javac", "-J-XX:+UseSerialGC",
                         "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF-8",
                         "-d", "{dir}", "{src}"],
             "run": ["java", "-XX:+UseSerialGC", "-cp", "{dir}", "{main}"]},
    "c": {"src": "main.c", "needs": ["gcc"],
          "compile": ["gcc", "-O1", "-o", "{bin}", "{src}", "-lm"],
          "run": ["{bin}"]},
    "cpp": {"src": "main.cpp", "needs": ["g++"],
            "compile": ["g++", "-O1", "-std=c++17", "-o", "{bin}", "{src}"],
            "run": ["{bin}"]},
    "php": {"src": "main.php", "needs": ["php"], "compile": None,
            "run": ["php", "{src}"]},
    "rs": {"src": "main.rs", "needs": ["rustc"],
           "compile": ["rustc", "-O", "-o", "{bin}", "{src}"],
           "run": ["{bin}"]},
    "r": {"src": "main.r", "needs": ["Rscript"], "compile": None,
          "run": ["Rscript", "{src}"]},
    "f90": {"src": "main.f90", "needs": ["gfortran"],
            "compile": ["gfortran", "-o", "{bin}", "{src}"],
            "run": ["{bin}"]},
    "d": {"src": "main.d", "needs": ["gdc"],
          "compile": ["gdc", "-o", "{bin}", "{src}"],
          "run": ["{bin}"]},
    "bash": {"src": "main.sh", "needs": ["bash"], "compile": None,
             "run": ["bash", "{src}"]},
}

PROTO_VERSION = 1
MAX_FRAME = 64 << 20
MAX_OUTPUT_CAP = 4 << 20          # per stream; keeps a result < MAX_FRAME
DEFAULT_MAX_OUTPUT = 64 << 10
DEFAULT_TIMEOUT_MS = 30000
MAX_WARNINGS = 100
RUN_DIR = "/run/ci"
DATA_DIR = "/mnt/data"
STATE_IN = RUN_DIR + "/state.in"
STATE_OUT = RUN_DIR + "/state.out"
BUILD_ROOT = RUN_DIR + "/build"
HOME_DIR = RUN_DIR + "/home"
DRAIN_GRACE_S = 0.05   # after exit, wait this long for leftover pipe writers

# Transpile-only TypeScript (no type check): one node process, no tsc CLI.
TS_FAST_JS = r"""
const fs = require('fs');
let ts;
try { ts = require('typescript'); }
catch (e) { ts = require(process.env.CI_TS_LIB); }
const [src, out] = process.argv.slice(2);
const r = ts.transpileModule(fs.readFileSync(src, 'utf8'), {
  fileName: 'main.ts', reportDiagnostics: true,
  compilerOptions: { module: ts.ModuleKind.CommonJS,
                     target: ts.ScriptTarget.ES2020, esModuleInterop: true }});
const d = r.diagnostics || [];
if (d.length) {
  process.stderr.write(ts.formatDiagnostics(d, {
    getCanonicalFileName: f => f, getCurrentDirectory: () => '.',
    getNewLine: () => '\n' }));
  process.exit(1);
}
fs.writeFileSync(out, r.outputText);
"""


def log(msg):
    try:
        os.write(2, ("runner: %s\n" % msg).encode("utf-8", "replace"))
    except OSError:
        pass


# ------------------------------------------------------------------ frames --
class ProtocolError(Exception):
    pass


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def recv_frame(sock):
    """Return the frame payload bytes, None on EOF; ProtocolError if too big."""
    head = recv_exact(sock, 4)
    if head is None:
        return None
    (n,) = struct.unpack(">I", head)
    if n > MAX_FRAME:
        raise ProtocolError("frame too large: %d" % n)
    return recv_exact(sock, n)


def send_frame(sock, obj):
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    sock.sendall(struct.pack(">I", len(data)) + data)


def connect(path):
    deadline = time.monotonic() + 10.0
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


# ------------------------------------------------------------- environment --
def setup_env():
    home = HOME_DIR
    try:
        os.makedirs(home, exist_ok=True)
        os.makedirs(BUILD_ROOT, exist_ok=True)
    except OSError as e:
        log("cannot create %s (%s); using /tmp/home" % (home, e))
        home = "/tmp/home"
        os.makedirs(home, exist_ok=True)
    env = {
        "HOME": home,
        "XDG_CACHE_HOME": home + "/.cache",
        "XDG_CONFIG_HOME": home + "/.config",
        "GOCACHE": home + "/.cache/go-build",
        "GOPATH": home + "/go",
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "MPLBACKEND": "Agg",
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "TMPDIR": "/tmp",
    }
    os.environ.update(env)
    os.makedirs("/tmp/matplotlib", exist_ok=True)


def available_langs():
    langs = ["py"]
    for name, spec in LANGS.items():
        if all(shutil.which(t) for t in spec["needs"]):
            langs.append(name)
    return langs


def _import_matplotlib():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


PREIMPORT_STEPS = [
    lambda: __import__("cloudpickle"),
    lambda: __import__("numpy"),
    lambda: __import__("pandas"),
    _import_matplotlib,
]


def preimport_while_idle(ctl, steps):
    """Import heavy modules one by one until a frame is waiting.

    Runs after `hello`, so the container is ready at once; a run that arrives
    meanwhile waits for at most one step, and later runs fork from a process
    that already has numpy/pandas/matplotlib loaded.
    """
    while steps:
        r, _, _ = select.select([ctl], [], [], 0)
        if r:
            return
        step = steps.pop(0)
        try:
            step()
        except Exception:
            pass
        if not steps:
            gc.collect()
            gc.freeze()


# ------------------------------------------------------------- supervision --
class Capture:
    """Keeps the first `cap` bytes of a stream, counts and drops the rest."""

    def __init__(self, cap):
        self.cap = cap
        self.buf = bytearray()
        self.truncated = False

    def feed(self, data):
        room = self.cap - len(self.buf)
        if room > 0:
            self.buf += data[:room]
        if len(data) > room:
            self.truncated = True

    def text(self):
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        # When truncated, an incomplete trailing UTF-8 sequence is dropped.
        return dec.decode(bytes(self.buf), final=not self.truncated)


def kill_leftovers(pgid):
    """Kill the program's group and every other process we are parent of.

    As PID 1 (the container's init) kill(-1) reaches every other process in
    the container; otherwise the runner is a child subreaper, so orphans of
    the program are re-parented to it and found through /proc.
    """
    me = os.getpid()
    for _ in range(50):
        sent = False
        try:
            os.killpg(pgid, signal.SIGKILL)
            sent = True
        except OSError:
            pass
        if me == 1:
            try:
                os.kill(-1, signal.SIGKILL)
                sent = True
            except OSError:
                pass
        else:
            for pid in child_pids(me):
                try:
                    os.kill(pid, signal.SIGKILL)
                    sent = True
                except OSError:
                    pass
        reap_all()
        if not sent:
            break
        time.sleep(0.001)
    reap_all()


def child_pids(parent):
    """Pids whose parent is `parent` (zombies included), from /proc."""
    pids = []
    try:
        ents = os.listdir("/proc")
    except OSError:
        return pids
    for ent in ents:
        if not ent.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % ent, "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[1]) == parent and fields[0] != b"Z":
                pids.append(int(ent))
        except (OSError, ValueError, IndexError):
            pass
    return pids


def reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def become_subreaper():
    if os.getpid() == 1:
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass


class Report:
    """Collects the Python child's one-line JSON report (see py_child)."""

    def __init__(self):
        self.buf = bytearray()
        self.info = None

    def feed(self, data):
        if self.info is not None or len(self.buf) > (1 << 20):
            return
        self.buf += data
        if b"\n" in self.buf:
            try:
                self.info = json.loads(self.buf[:self.buf.index(b"\n")])
            except ValueError:
                self.info = {}
            if not isinstance(self.info, dict):
                self.info = {}


def drain_now(fd, cap):
    """Read what is already in a non-blocking pipe, without waiting."""
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except OSError:
            return
        if not data:
            return
        cap.feed(data)


def supervise(pid, out_r, err_r, deadline, out_cap, err_cap, ctl,
              rep_r=None, report=None):
    """Pump the child's pipes until it is done; enforce the deadline.

    "Done" is the child's exit, or (Python) its report line on rep_r: the
    child writes it as its very last act, after closing stdout/stderr, so
    the result does not wait for the child's address-space teardown.
    Returns (wait_status or None, timed_out, peer_closed).  Closes the pipe
    fds.  Leftover processes are NOT killed here: call kill_leftovers().
    """
    sel = selectors.DefaultSelector()
    pipes = [(out_r, out_cap), (err_r, err_cap)]
    if rep_r is not None:
        pipes.append((rep_r, report))
    for fd, sink in pipes:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, sink)
    pidfd = None
    try:
        pidfd = os.pidfd_open(pid)
        sel.register(pidfd, selectors.EVENT_READ, "exit")
    except (AttributeError, OSError):
        pidfd = None
    if ctl is not None:
        sel.register(ctl.fileno(), selectors.EVENT_READ, "ctl")
    status, timed_out, peer_closed = None, False, False
    drain_until = None
    while True:
        open_pipes = sum(1 for k in sel.get_map().values()
                         if k.data not in ("exit", "ctl"))
        if report is not None and report.info is not None:
            break
        if status is not None and open_pipes == 0:
            break
        now = time.monotonic()
        if status is None:
            wait = max(0.0, deadline - now)
            if timed_out:
                wait = 0.005
            elif pidfd is None:
                wait = min(wait, 0.01)
        else:
            if drain_until is None:
                kill_leftovers(pid)
                drain_until = now + DRAIN_GRACE_S
            wait = drain_until - now
            if wait <= 0:
                break
        for key, _ in sel.select(wait):
            tag = key.data
            if tag == "exit":
                sel.unregister(pidfd)
            elif tag == "ctl":
                try:
                    peek = ctl.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    peek = b""
                sel.unregister(key.fd)
                if not peek:   # worker hung up: kill the program, exit
                    peer_closed = timed_out = True
                    kill_leftovers(pid)
            else:
                try:
                    data = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    tag.feed(data)
                else:
                    sel.unregister(key.fd)
                    os.close(key.fd)
        if status is None:
            try:
                wpid, st = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                wpid, st = pid, 0
            if wpid == pid:
                status = st
            elif timed_out or time.monotonic() >= deadline:
                timed_out = True
                kill_leftovers(pid)
    for key in list(sel.get_map().values()):
        if key.data not in ("exit", "ctl"):
            drain_now(key.fd, key.data)
            os.close(key.fd)
    sel.close()
    if pidfd is not None:
        os.close(pidfd)
    return status, timed_out, peer_closed


OOM_COUNTERS = ("/sys/fs/cgroup/memory.events",               # cgroup v2
                "/sys/fs/cgroup/memory/memory.oom_control")   # cgroup v1


def oom_kills():
    """The container's memory-cgroup OOM-kill count, or None if unknown."""
    for path in OOM_COUNTERS:
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
    return None


def classify(status, timed_out, oom_flag=False, oom_before=None):
    """Map a wait status to (status string, exit_code).

    A SIGKILL we did not send is an OOM kill, unless the cgroup's OOM-kill
    counter is readable and did not move (then someone else killed it).
    """
    if timed_out:
        return "timeout", 137
    if status is None:
        return "failed", 1
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL:
            after = oom_kills() if oom_before is not None else None
            if after is not None and after == oom_before:
                return "failed", 128 + sig
            return "oom", 128 + sig
        return "failed", 128 + sig
    code = os.WEXITSTATUS(status)
    if oom_flag:
        return "oom", code
    return ("completed" if code == 0 else "failed"), code


def child_setup(out_w, err_w, close_fds):
    """In a fresh child: own group, stdio on the pipes, cwd /mnt/data."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:   # the OOM killer must pick the program, never the runner
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    for fd in {devnull, out_w, err_w}:
        if fd > 2:
            os.close(fd)
    try:
        os.chdir(DATA_DIR)
    except OSError:
        pass


def spawn(argv, env, deadline, out_cap, err_cap, ctl, merge_stdout=False):
    """Run argv (exec) under supervision; returns supervise() tuple + captures."""
    out = Capture(out_cap)
    err = Capture(err_cap)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            extra = [out_w] if merge_stdout else []
            child_setup(err_w if merge_stdout else out_w, err_w,
                        [out_r, err_r, ctl.fileno()] + extra)
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(sig, signal.SIG_DFL)
            os.execvpe(argv[0], argv, env)
        except BaseException as e:
            try:
                os.write(2, ("exec %s: %s\n" % (argv[0], e)).encode())
            finally:
                os._exit(127)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    os.close(out_w)
    os.close(err_w)
    status, timed_out, closed = supervise(pid, out_r, err_r, deadline,
                                          out, err, ctl)
    kill_leftovers(pid)
    return status, timed_out, closed, out, err


# ------------------------------------------------------------------ python --
def py_child(req, rep_fd):
    """Runs in the forked child; never returns.

    Last act: flush, point fds 1 and 2 at /dev/null (EOF for the runner),
    write one JSON line {"rc", "oom", "warnings", "state_size"} to rep_fd.
    """
    import io
    import linecache
    import traceback
    import types

    code_rc = 0
    info = {"oom": False, "warnings": [], "state_size": 0}
    me = os.getpid()
    try:
        sys.stdout = io.open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = io.open(2, "w", buffering=1, encoding="utf-8",
                             errors="backslashreplace", closefd=False)
        sys.stdin = io.open(0, "r", encoding="utf-8", closefd=False)
        sys.__stdout__, sys.__stderr__, sys.__stdin__ = (
            sys.stdout, sys.stderr, sys.stdin)
        reseed()
        sys.argv = ["main.py"] + list(req["args"])
        sys.path[0] = DATA_DIR
        src = req["code"]
        linecache.cache["main.py"] = (len(src), None,
                                      src.splitlines(True), "main.py")
        mod = types.ModuleType("__main__")
        g = mod.__dict__
        if req["state_in"]:
            # Run in the restored functions' globals dict (when there is
            # one) so they and the new code share one namespace.
            restored = load_state(info["warnings"])
            if restored is not None:
                g = restored
        g.update({"__name__": "__main__", "__builtins__": __builtins__,
                  "__file__": "main.py", "__doc__": None,
                  "__loader__": None, "__spec__": None, "__package__": None})
        if g is not mod.__dict__:
            mod.__dict__.update(g)
        sys.modules["__main__"] = mod
        code_rc = exec_user(src, g, info)
        if os.getpid() == me:   # not a fork of the user's that fell through
            finish_python(g, req, info)
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
        code_rc = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    code_rc = (code_rc or 0) & 0xFF
    if os.getpid() != me:
        os._exit(code_rc)
    try:
        null = os.open("/dev/null", os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        info["rc"] = code_rc
        data = (json.dumps(info) + "\n").encode()
        while data:
            data = data[os.write(rep_fd, data):]
    except BaseException:
        pass
    os._exit(code_rc)


def reseed():
    import random
    random.seed()
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed()
        except Exception:
            pass


def exec_user(src, g, info):
    """Exec the user's code; returns the exit code (Python semantics)."""
    import traceback
    try:
        exec(compile(src, "main.py", "exec"), g)
        rc = 0
    except SystemExit as e:
        rc = system_exit_code(e)
    except MemoryError as e:
        info["oom"] = True
        print_user_tb(e)
        rc = 1
    except BaseException as e:
        print_user_tb(e)
        rc = 1
    # Like interpreter shutdown: join threads, then atexit handlers.
    try:
        import threading
        threading._shutdown()
    except BaseException:
        pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except SystemExit as e:
        rc = system_exit_code(e)
    except BaseException:
        traceback.print_exc()
    return rc


def system_exit_code(e):
    c = e.code
    if c is None:
        return 0
    if isinstance(c, int):
        return c
    try:
        print(c, file=sys.stderr)
    except BaseException:
        pass
    return 1


def print_user_tb(e):
    """Print a traceback without the runner's own frames."""
    import traceback
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    try:
        traceback.print_exception(type(e), e, tb)
    except BaseException:
        pass


def finish_python(g, req, info):
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    if req["state_out"]:
        save_state(g, info)


def pickler():
    try:
        import cloudpickle
        return cloudpickle
    except ImportError:
        import pickle
        return pickle


def load_state(warnings):
    """Returns the globals dict to run in, or None (with a warning)."""
    import importlib
    import types
    try:
        with open(STATE_IN, "rb") as f:
            blob = f.read()
    except OSError as e:
        warnings.append("state: cannot read state (%s)" % e.strerror)
        return None
    try:
        payload = pickler().loads(blob)
        if not isinstance(payload, dict) or payload.get("format") != "ci-state":
            raise ValueError("not a ci-state file")
        values = dict(payload.get("vars") or {})
        modules = dict(payload.get("modules") or {})
    except BaseException as e:
        warnings.append("state: cannot load state (%s)" % type(e).__name__)
        return None
    g = None
    for v in values.values():
        cand = getattr(v, "__globals__", None)
        if isinstance(v, types.FunctionType) and \
                cand.get("__name__") == "__main__":
            g = cand
            break
    if g is None:
        g = {}
    g.update(values)
    for name, modname in modules.items():
        try:
            g[name] = importlib.import_module(modname)
        except BaseException as e:
            warnings.append("state: cannot re-import module '%s' (%s)"
                            % (modname, type(e).__name__))
    return g


def save_state(g, info):
    import types
    pk = pickler()
    values, modules = {}, {}
    for name, v in list(g.items()):
        if name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(v, types.ModuleType):
            modules[name] = v.__name__
        else:
            values[name] = v

    def dump(vals):
        return pk.dumps({"format": "ci-state", "version": 1,
                         "vars": vals, "modules": modules})
    try:
        blob = dump(values)
    except BaseException:
        good = {}
        for name, v in values.items():
            try:
                pk.dumps(v)
                good[name] = v
            except BaseException as e:
                add_warning(info, "state: skipped variable '%s' (cannot "
                            "pickle %s)" % (name, type(v).__name__))
        try:
            blob = dump(good)
        except BaseException as e:
            add_warning(info, "state: cannot save state (%s)"
                        % type(e).__name__)
            return
    tmp = STATE_OUT + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
        os.rename(tmp, STATE_OUT)
        info["state_size"] = len(blob)
    except OSError as e:
        add_warning(info, "state: cannot write state (%s)" % e.strerror)


def add_warning(info, msg):
    if len(info["warnings"]) < MAX_WARNINGS:
        info["warnings"].append(msg)


class Spare:
    """A forked Python child waiting for its request (fork off the hot path).

    The child has its own process group, stdio on fresh pipes, cwd /mnt/data,
    and blocks reading the request JSON from req_w until EOF.
    """

    def __init__(self, ctl):
        req_r, self.req_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                child_setup(out_w, err_w, [self.out_r, self.err_r, self.rep_r,
                                           self.req_w, ctl.fileno()])
                chunks = []
                while True:
                    chunk = os.read(req_r, 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
                if not chunks:
                    os._exit(0)
                os.close(req_r)
                py_child(json.loads(b"".join(chunks)), rep_w)
            finally:
                os._exit(70)
        try:
            os.setpgid(self.pid, self.pid)
        except OSError:
            pass
        for fd in (req_r, out_w, err_w, rep_w):
            os.close(fd)

    def start(self, req):
        data = json.dumps(req).encode("utf-8")
        try:
            while data:
                n = os.write(self.req_w, data)
                data = data[n:]
        except OSError:
            pass
        os.close(self.req_w)
        self.req_w = -1

    def discard(self):
        """Kill an unused spare and release its fds."""
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        for fd in (self.req_w, self.out_r, self.err_r, self.rep_r):
            if fd >= 0:
                os.close(fd)


def run_python(req, ctl, spare):
    """Run one Python request in `spare` (consumed) or a fresh fork."""
    if req["state_out"]:
        try:
            os.unlink(STATE_OUT)
        except OSError:
            pass
    if spare is None:
        spare = Spare(ctl)
    out = Capture(req["max_output"])
    err = Capture(req["max_output"])
    report = Report()
    oom_before = oom_kills()
    t0 = time.monotonic()
    deadline = t0 + req["timeout_ms"] / 1000.0
    spare.start(req)
    status, timed_out, closed = supervise(spare.pid, spare.out_r, spare.err_r,
                                          deadline, out, err, ctl,
                                          spare.rep_r, report)
    dur = time.monotonic() - t0
    info = report.info or {}
    if not timed_out and status is None and "rc" in info:
        rc = info["rc"] if isinstance(info["rc"], int) else 1
        status = (rc & 0xFF) << 8   # as a wait status: exited with rc
    st, rc = classify(status, timed_out, bool(info.get("oom")), oom_before)
    warnings = [str(w) for w in (info.get("warnings") or [])][:MAX_WARNINGS]
    size = info.get("state_size") if req["state_out"] else 0
    size = size if isinstance(size, int) else 0
    res = result(req, st, rc, out, err, dur, warnings, size)
    return res, closed, spare.pid


# ---------------------------------------------------------- other languages --
_build_seq = 0


def java_names(code):
    """(source file stem, class to run) following Java's rules.

    The file is named after the public top-level class (javac requires it),
    else Main.  The class run is the one declaring `static void main`
    (the nearest class declared before it), package-qualified.
    """
    pkg = re.search(r"^\s*package\s+([\w.]+)\s*;", code, re.M)
    pub = re.search(r"\bpublic\s+(?:(?:final|abstract|strictfp)\s+)*"
                    r"(?:class|interface|enum|record)\s+(\w+)", code)
    stem = pub.group(1) if pub else "Main"
    main_cls = stem
    m = re.search(r"\bstatic\s+(?:final\s+)?void\s+main\s*\(", code) or \
        re.search(r"\bvoid\s+main\s*\(", code)
    if m:
        decls = list(re.finditer(
            r"\b(?:class|interface|enum|record)\s+(\w+)", code[:m.start()]))
        if decls:
            main_cls = decls[-1].group(1)
    if pkg:
        main_cls = pkg.group(1) + "." + main_cls
    return stem, main_cls


def run_compiled(req, ctl):
    global _build_seq
    spec = LANGS[req["lang"]]
    _build_seq += 1
    bdir = "%s/%d" % (BUILD_ROOT, _build_seq)
    oom_before = oom_kills()
    t0 = time.monotonic()
    deadline = t0 + req["timeout_ms"] / 1000.0
    cap = req["max_output"]
    try:
        os.makedirs(bdir, exist_ok=True)
        subst = {"dir": bdir, "bin": bdir + "/main", "cls": "Main",
                 "main": "Main"}
        if req["lang"] == "java":
            subst["cls"], subst["main"] = java_names(req["code"])
        subst["src"] = bdir + "/" + spec["src"].format(**subst)
        with open(subst["src"], "w", encoding="utf-8") as f:
            f.write(req["code"])
        env = dict(os.environ)
        if req["lang"] == "ts":
            with open(bdir + "/tsc-fast.js", "w") as f:
                f.write(TS_FAST_JS)
            tsc = shutil.which("tsc")
            if tsc:
                env["CI_TS_LIB"] = os.path.dirname(
                    os.path.dirname(os.path.realpath(tsc)))
    except OSError as e:
        return error_frame(req["id"], "cannot prepare build dir: %s" % e), False
    try:
        if spec["compile"]:
            cenv = dict(env, TMPDIR=bdir)
            argv = [a.format(**subst) for a in spec["compile"]]
            st_raw, to, closed, cout, cerr = spawn(
                argv, cenv, deadline, cap, cap, ctl, merge_stdout=True)
            if to or st_raw is None or not os.WIFEXITED(st_raw) or \
                    os.WEXITSTATUS(st_raw) != 0:
                st, rc = classify(st_raw, to, False, oom_before)
                if st == "completed":
                    st, rc = "failed", 1
                dur = time.monotonic() - t0
                return result(req, st, rc, Capture(cap), cerr, dur,
                              [], 0), closed
        argv = [a.format(**subst) for a in spec["run"]] + list(req["args"])
        st_raw, to, closed, out, err = spawn(argv, env, deadline, cap, cap,
                                             ctl)
        st, rc = classify(st_raw, to, False, oom_before)
        return result(req, st, rc, out, err, time.monotonic() - t0,
                      [], 0), closed
    finally:
        shutil.rmtree(bdir, ignore_errors=True)


# ------------------------------------------------------------------ serving --
def result(req, status, rc, out, err, dur_s, warnings, state_size):
    return {"type": "result", "id": req["id"], "status": status,
            "exit_code": rc, "stdout": out.text(), "stderr": err.text(),
            "stdout_truncated": out.truncated,
            "stderr_truncated": err.truncated,
            "duration_ms": int(round(dur_s * 1000)),
            "warnings": warnings, "state_size": state_size}


def error_frame(job_id, msg):
    return {"type": "error", "id": job_id if isinstance(job_id, str) else "",
            "message": msg}


def parse_run(obj, langs):
    """Validate a run frame; returns (request dict, None) or (None, message)."""
    jid = obj.get("id")
    if not isinstance(jid, str):
        return None, "missing or invalid 'id'"
    lang = obj.get("lang")
    if not isinstance(lang, str) or lang not in langs:
        return None, "unsupported language: %s" % (lang,)
    code = obj.get("code")
    if not isinstance(code, str):
        return None, "missing or invalid 'code'"
    args = obj.get("args", [])
    if args is None:
        args = []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return None, "'args' must be an array of strings"
    if any("\0" in a for a in args):
        return None, "'args' must not contain NUL"
    tmo = obj.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    mo = obj.get("max_output", DEFAULT_MAX_OUTPUT)
    for name, v in (("timeout_ms", tmo), ("max_output", mo)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            return None, "'%s' must be a non-negative integer" % name
    return {"id": jid, "lang": lang, "code": code, "args": args,
            "timeout_ms": max(1, tmo), "max_output": min(mo, MAX_OUTPUT_CAP),
            "state_in": obj.get("state_in") is True and lang == "py",
            "state_out": obj.get("state_out") is True and lang == "py"}, None


def parse_frame(payload, langs):
    """Returns (run request, None) or (None, error frame)."""
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return None, error_frame("", "bad frame: %s" % e)
    if not isinstance(obj, dict):
        return None, error_frame("", "bad frame: not a JSON object")
    if obj.get("type") != "run":
        return None, error_frame(obj.get("id"), "unknown frame type: %r"
                                 % (obj.get("type"),))
    req, msg = parse_run(obj, langs)
    if req is None:
        return None, error_frame(obj.get("id"), msg)
    return req, None


class Server:
    """The serve loop: one request at a time, spare Python child kept warm."""

    def __init__(self, ctl, langs):
        self.ctl = ctl
        self.langs = langs
        self.steps = list(PREIMPORT_STEPS)
        self.spare = None
        self.py_seen = False

    def want_spare(self):
        # Pre-fork only in a Python image (numpy present) or once py was used.
        if os.environ.get("CI_RUNNER_PREFORK", "1") == "0":
            return False
        return not self.steps and ("numpy" in sys.modules or self.py_seen)

    def serve_one(self):
        """Serve one frame; returns False when the runner should exit."""
        preimport_while_idle(self.ctl, self.steps)
        if self.spare is None and self.want_spare():
            self.spare = Spare(self.ctl)
        try:
            payload = recv_frame(self.ctl)
        except ProtocolError as e:
            log(str(e))
            return False
        except OSError:
            return False
        if payload is None:
            return False
        leftover_pgid, closed = None, False
        try:
            req, reply = parse_frame(payload, self.langs)
            if req is not None and req["lang"] == "py":
                self.py_seen = True
                spare, self.spare = self.spare, None
                reply, closed, leftover_pgid = run_python(req, self.ctl, spare)
            elif req is not None:
                if self.spare is not None:
                    self.spare.discard()
                    self.spare = None
                reply, closed = run_compiled(req, self.ctl)
        except Exception as e:  # a runner bug must not kill the container
            log("internal error: %r" % (e,))
            reply = error_frame("", "runner internal error")
        if closed:
            return False
        try:
            send_frame(self.ctl, reply)
        except OSError:
            return False
        if leftover_pgid is not None:
            kill_leftovers(leftover_pgid)   # after the reply: off the hot path
        return True


def main():
    path = os.environ.get("CI_CTL_SOCKET", RUN_DIR + "/ctl.sock")
    setup_env()
    become_subreaper()
    langs = available_langs()
    try:
        ctl = connect(path)
    except OSError as e:
        log("cannot connect to %s: %s" % (path, e))
        return 1
    send_frame(ctl, {"type": "hello", "version": PROTO_VERSION,
                     "pid": os.getpid(), "langs": langs})
    server = Server(ctl, langs)
    while server.serve_one():
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
