"""The lean fork server: Python runs that do not need the scientific stack
fork from a process that never imported it.

A fork copies the parent's page tables and the child's exit tears them
down: for the runner, with numpy, pandas and matplotlib imported (about
60 MB of private memory), that was most of a call's CPU (docs/pool.md).
The lean server is this runner's code and cloudpickle only, a few MB: a
fork and an exit of it cost a fraction.  It is a second process of the
runner's identity (root, not dumpable, never runs user code), started
once per container by fork+exec of runner.py --lean-server, talking to
the runner over a socketpair:

    runner -> lean  "spawn" + 5 descriptors (SCM_RIGHTS): the spare's
                    request pipe, stdout, stderr, report pipe and state
                    file (or /dev/null when it has none: b"spawn0")
    lean -> runner  the new child's pid, in ASCII

The child is made by a double fork (lean -> x -> child; x exits at once),
so it is re-parented to the runner (PID 1, or its subreaper): the runner
waits for it, signals its group and reads its exit status exactly as for a
child of its own.  The child runs python.spare_child, the same code as a
spare forked by the runner.

Which spare a run takes (choose()): the lean one unless the code imports a
module outside the standard library, or the state it restores mentions one
(see needs_stack).  A lean child that imports numpy anyway still works: the
import only costs what it costs outside a fork server.

Everything here is best effort: if the lean server cannot start or dies,
spares fork from the runner as before.  CI_RUNNER_LEAN=0 turns it off.
"""

import ast
import os
import signal
import socket
import sys

from .config import STATE_IN, log
from .identity import close_fds_except, harden_runner
from .pystate import pickler
from .python import spare_child

SPAWN_TIMEOUT_S = 5.0
MAX_SCAN_CODE = 256 << 10     # longer code: take the full fork server
MAX_SCAN_STATE = 1 << 20      # a larger state: full fork server


def enabled():
    return os.environ.get("CI_RUNNER_LEAN", "1") != "0"


class LeanServer:
    """The runner's handle on the lean fork server process."""

    def __init__(self):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                fd = theirs.fileno()
                close_fds_except([0, 1, 2, fd])
                os.set_inheritable(fd, True)
                script = os.path.abspath(sys.argv[0])
                os.execv(sys.executable,
                         [sys.executable, script, "--lean-server", str(fd)])
            finally:
                os._exit(127)
        theirs.close()
        self.sock.settimeout(SPAWN_TIMEOUT_S)

    def alive(self):
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def pristine(self):
        """Alive, not a zombie, still the runner's identity."""
        try:
            with open("/proc/%d/stat" % self.pid, "rb") as f:
                line = f.read()
            st = os.stat("/proc/%d" % self.pid)
        except OSError:
            return False
        state = line[line.rindex(b")") + 2:].split()[0]
        return state not in (b"Z", b"X") and st.st_uid == os.geteuid()

    def spawn(self, fds):
        """A new spare child with these descriptors (req_r, out_w, err_w,
        rep_w, state_fd or -1); returns its pid, or None (then the lean
        server is of no further use: stop() it)."""
        null = -1
        try:
            send = list(fds)
            if send[4] < 0:
                null = os.open("/dev/null", os.O_WRONLY)
                send[4] = null
            socket.send_fds(self.sock, [b"spawn1" if fds[4] >= 0 else b"spawn0"], send)
            data = b""
            while not data.endswith(b"\n") and len(data) < 32:
                chunk = self.sock.recv(32)
                if not chunk:
                    break
                data += chunk
            pid = int(data)
            if pid <= 1:
                raise ValueError("bad pid")
            return pid
        except (OSError, ValueError):
            return None
        finally:
            if null >= 0:
                os.close(null)

    def stop(self):
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass


def serve(fd):
    """The lean server's main loop (runner.py --lean-server FD)."""
    harden_runner()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pickler()   # cloudpickle, imported once here rather than per run
    sock = socket.socket(fileno=fd)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 16, 8)
        except OSError:
            return 0
        if not msg:
            return 0
        if msg not in (b"spawn0", b"spawn1") or len(fds) != 5:
            for f in fds:
                os.close(f)
            return 1
        if msg == b"spawn0":
            os.close(fds[4])
            fds[4] = -1
        pid = _double_fork(fds)
        for f in fds:
            if f >= 0:
                os.close(f)
        try:
            sock.sendall(b"%d\n" % pid)
        except OSError:
            return 0


def _double_fork(fds):
    """Fork x, which forks the child and exits: the child is re-parented to
    the runner.  Returns the child's pid (0 on failure)."""
    r, w = os.pipe()
    try:
        x = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return 0
    if x == 0:
        try:
            os.close(r)
            child = os.fork()
            if child == 0:
                os.close(w)
                spare_child(*fds)
            os.write(w, b"%d" % child)
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 32)
        if not chunk:
            break
        data += chunk
    os.close(r)
    try:
        os.waitpid(x, 0)
    except OSError:
        pass
    try:
        return int(data)
    except ValueError:
        return 0


# ---- which spare a run takes ---------------------------------------------

_third_party = None


def third_party_names():
    """Top-level names installed outside the standard library (the
    interpreter's site and dist packages), as bytes."""
    global _third_party
    if _third_party is None:
        names = set()
        for d in sys.path:
            if not d.endswith(("site-packages", "dist-packages")):
                continue
            try:
                ents = os.listdir(d)
            except OSError:
                continue
            for e in ents:
                base = e.split(".")[0].split("-")[0]
                if base and base.isidentifier() and not base.startswith("_") \
                        and base not in sys.stdlib_module_names:
                    names.add(base.encode())
        _third_party = names
    return _third_party


def code_needs_stack(code):
    """True when the code imports anything but standard-library modules
    (relative imports and code too long to scan included)."""
    if len(code) > MAX_SCAN_CODE:
        return True
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False   # it fails the same way in either child
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                return True
            names = [node.module or ""]
        else:
            continue
        for n in names:
            if n.split(".")[0] not in sys.stdlib_module_names:
                return True
    return False


def state_needs_stack():
    """True when the state to restore (STATE_IN) is large or names a module
    installed outside the standard library (pickles name the modules of
    their classes and functions; the saved module globals by name)."""
    try:
        with open(STATE_IN, "rb") as f:
            blob = f.read(MAX_SCAN_STATE + 1)
    except OSError:
        return False   # no state: the child warns either way
    if len(blob) > MAX_SCAN_STATE:
        return True
    return any(n in blob for n in third_party_names())


def needs_stack(req):
    """Should this Python run fork from the full fork server?"""
    if code_needs_stack(req["code"]):
        return True
    return bool(req["state_in"]) and state_needs_stack()


def start():
    """A LeanServer, or None (turned off, or it cannot start)."""
    if not enabled():
        return None
    try:
        return LeanServer()
    except OSError as e:
        log("lean fork server not started: %s" % e)
        return None
