"""Python runs: the runner process is a fork server (numpy, pandas,
matplotlib imported once, server.py); each run is a spare child forked ahead
of time that receives its request on a pipe, runs the code as __main__ and
reports one JSON line as its very last act."""

import atexit
import builtins
import io
import json
import linecache
import os
import random
import signal
import sys
import threading
import time
import traceback
import types

from .config import DATA_DIR, MAX_WARNINGS, STATE_OUT
from .frames import result
from .procs import Capture, Report, child_setup, classify, oom_kills, supervise
from .pystate import load_state, save_state

PKG_DIR = os.path.dirname(os.path.abspath(__file__))


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
        g.update({"__name__": "__main__", "__builtins__": builtins,
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
    while tb is not None and \
            os.path.dirname(tb.tb_frame.f_code.co_filename) == PKG_DIR:
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
