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
import stat
import sys
import threading
import time
import traceback
import types

from .config import DATA_DIR, MAX_WARNING_CHARS, MAX_WARNINGS, STATE_OUT, STATE_TMP
from .frames import result
from .procs import (Capture, Report, alive_as_runner, child_become_user, child_detach, classify,
                    keep_alive, kill_leftovers, oom_kills, own_group, release, supervise)
from .ptc import Channel, end_note
from .pystate import load_state, save_state

PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def py_child(req, rep_fd, state_fd):
    """Runs in the forked child; never returns.

    Last act: flush, point fds 1 and 2 at /dev/null (EOF for the runner),
    write one JSON line {"rc", "oom", "warnings", "state_saved"} to rep_fd
    (the runner trusts none of it blindly: clean_report()).
    """
    import io
    import linecache
    import traceback
    import types

    code_rc = 0
    info = {"oom": False, "warnings": [], "state_saved": False}
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
        runner = None
        if req.get("tools"):   # programmatic tool calling
            from .ptc_py import install, run as runner
            install(g, req["tools"])
        code_rc = exec_user(src, g, info, runner)
        if os.getpid() == me:   # not a fork of the user's that fell through
            finish_python(g, req, info, state_fd)
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


def exec_user(src, g, info, runner=None):
    """Exec the user's code (or runner(src, g)); returns the exit code
    (Python semantics)."""
    import traceback
    try:
        if runner is not None:
            runner(src, g)
        else:
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
    aio = sys.modules.get("asyncio")
    skip = {PKG_DIR, os.path.dirname(aio.__file__) if aio else PKG_DIR}
    while tb is not None and \
            os.path.dirname(tb.tb_frame.f_code.co_filename) in skip:
        tb = tb.tb_next
    try:
        te = traceback.TracebackException(type(e), e, tb)
        # and the runner's frames further down (a tool stub's await)
        te.stack = traceback.StackSummary.from_list(
            [f for f in te.stack if os.path.dirname(f.filename) != PKG_DIR])
        sys.stderr.write("".join(te.format()))
    except BaseException:
        pass


def finish_python(g, req, info, state_fd):
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    if req["state_out"] and state_fd >= 0:
        save_state(g, info, state_fd)


def spare_child(req_r, out_w, err_w, rep_w, state_fd):
    """The body of a spare Python child, in the freshly forked child (of the
    runner, or of the lean fork server: lean.py); never returns.  Waits, as
    the runner's identity, for its request on req_r; then takes the sandbox
    user's identity and runs it (py_child)."""
    try:
        keep = [req_r, rep_w] + ([state_fd] if state_fd >= 0 else [])
        child_detach(out_w, err_w, keep)
        chunks = []
        while True:
            chunk = os.read(req_r, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        if not chunks:
            os._exit(0)
        os.close(req_r)
        child_become_user()
        py_child(json.loads(b"".join(chunks)), rep_w, state_fd)
    finally:
        os._exit(70)


_state_seq = 0


class Spare:
    """A forked Python child waiting for its request (fork off the hot path).

    The child has its own process group and stdio on fresh pipes, and blocks
    reading the request JSON from req_w until EOF.  It keeps exactly three
    descriptors besides stdio: the request pipe, its report pipe, and its
    own state file (state_path, opened by the runner, root, for it), the
    only way it can write state into the runner's directory.

    While it waits it is still the runner's identity (root, not dumpable,
    no user code ever ran in it): the sandbox user's processes can neither
    signal, trace nor read it, so it survives the wipe between two sessions
    untouched (wipe.py kills the sandbox uid's processes only, and checks
    that nothing but the kept pids is left).  Only once the request is read
    does it take the sandbox user's identity and cwd (child_become_user),
    before any user code.  Keeping it saves a fork and an exit of the whole
    interpreter on every new session of a caller (docs/pool.md).

    `lean` (lean.LeanServer or None): fork the child from the lean fork
    server (no numpy/pandas/matplotlib: a fraction of the fork and exit
    cost) instead of from this process; if that fails, fork here.
    """

    def __init__(self, ctl, lean=None):
        global _state_seq
        req_r, self.req_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        _state_seq += 1
        self.state_path = "%s.%d" % (STATE_TMP, _state_seq)
        state_fd = open_state_tmp(self.state_path)
        self.state_id = None
        if state_fd >= 0:
            st = os.fstat(state_fd)
            self.state_id = (st.st_dev, st.st_ino)
        fds = (req_r, out_w, err_w, rep_w, state_fd)
        self.pid = lean.spawn(fds) if lean is not None else None
        self.lean = self.pid is not None
        self.reaper = lean if self.lean else None   # it reaps the child
        if self.pid is None:
            self.pid = os.fork()
            if self.pid == 0:
                spare_child(*fds)
        keep_alive(self.pid)   # no clean-up kills it while it waits
        own_group(self.pid)
        for fd in fds:
            if fd >= 0:
                os.close(fd)

    def start(self, req):
        release(self.pid)   # it runs user code now: killed like any program
        data = json.dumps(req).encode("utf-8")
        try:
            while data:
                n = os.write(self.req_w, data)
                data = data[n:]
        except OSError:
            pass
        os.close(self.req_w)
        self.req_w = -1

    def pristine(self):
        """True when the child still waits as it was forked: alive, not a
        zombie, the runner's identity, and its state file the empty file
        made for it (the wipe keeps such a spare for the next session)."""
        if not alive_as_runner(self.pid):
            return False
        if self.state_id is not None:
            try:
                s = os.lstat(self.state_path)
            except OSError:
                return False
            if (s.st_dev, s.st_ino) != self.state_id or s.st_size != 0:
                return False
        return True

    def discard(self):
        """Kill an unused spare and release its fds."""
        release(self.pid)
        try:
            os.kill(self.pid, signal.SIGKILL)
            if self.reaper is None:
                os.waitpid(self.pid, 0)
        except OSError:
            pass
        if self.reaper is not None:
            self.reaper.forget(self.pid)
        for fd in (self.req_w, self.out_r, self.err_r, self.rep_r):
            if fd >= 0:
                os.close(fd)
        drop_state_tmp(self.state_path)


def open_state_tmp(path):
    """`path`, fresh and empty, root's, in root's /run/ci; -1 if not.
    (Each spare's path is new: one left over is removed only if met.)"""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        drop_state_tmp(path)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError:
            return -1
    except OSError:
        return -1
    try:   # it becomes state.in: the next program (uid 1000) reads it
        os.fchmod(fd, 0o644)
    except OSError:
        pass
    return fd


def drop_state_tmp(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def publish_state(path):
    """After a state_out run (its processes gone): the run's state file
    becomes STATE_OUT.  The size is measured here, never taken from the
    program."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            drop_state_tmp(path)
            return 0
        os.rename(path, STATE_OUT)
        return st.st_size
    except OSError:
        drop_state_tmp(path)
        return 0


def clean_report(info):
    """The child's report is written by the process that ran the user's
    code: it may say anything.  Keep well-typed, bounded fields only."""
    if not isinstance(info, dict):
        return {}
    out = {}
    rc = info.get("rc")
    if isinstance(rc, int) and not isinstance(rc, bool):
        out["rc"] = rc & 0xFF
    out["oom"] = info.get("oom") is True
    out["state_saved"] = info.get("state_saved") is True
    ws = info.get("warnings")
    out["warnings"] = [w[:MAX_WARNING_CHARS] for w in ws[:MAX_WARNINGS]
                       if isinstance(w, str)] if isinstance(ws, list) else []
    return out


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
    chan = Channel(req, ctl) if req.get("tools") else None
    spare.start(req)
    try:
        status, timed_out, closed = supervise(spare.pid, spare.out_r, spare.err_r,
                                              deadline, out, err, ctl,
                                              spare.rep_r, report, hook=chan,
                                              reaper=spare.reaper)
    finally:
        if chan is not None:
            chan.close()
    dur = time.monotonic() - t0
    info = clean_report(report.info)
    if not timed_out and status is None and "rc" in info:
        status = info["rc"] << 8   # as a wait status: exited with rc
    st, rc = classify(status, timed_out, info.get("oom", False), oom_before)
    if chan is not None and chan.end_reason:
        end_note(err, chan.end_reason)
        st, rc = "failed", 1
    size = 0
    if req["state_out"] and info.get("state_saved") and not timed_out:
        kill_leftovers(spare.pid)   # nobody writes the state any more
        size = publish_state(spare.state_path)
    else:
        drop_state_tmp(spare.state_path)
    res = result(req, st, rc, out, err, dur, info.get("warnings", []), size)
    return res, closed, spare.pid
