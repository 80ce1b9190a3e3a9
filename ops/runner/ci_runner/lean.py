"""The lean fork server: Python runs that do not need the scientific stack
fork from a process that never imported it.

A fork copies the parent's page tables and the child's exit tears them
down: for the runner, with numpy, pandas and matplotlib imported (about
60 MB of private memory), that was most of a call's CPU (docs/pool.md).
The lean server is this runner's code and cloudpickle only, a few MB: a
fork and an exit of it cost a fraction.  It is a second process of the
runner's identity (root, not dumpable, never runs user code), started
once per container by fork+exec of runner.py --lean-server, talking to
the runner over a socketpair, one line per message:

    runner -> lean  "spawn1" (or "spawn0": no state file) + 5 descriptors
                    (SCM_RIGHTS): the spare's request pipe, stdout,
                    stderr, report pipe and state file (/dev/null for none)
    lean -> runner  "p <pid>"            the new child (0: fork failed)
                    "x <pid> <status>"   a child exited: its wait status

The child is the lean server's: it makes the child lead its own process
group, watches it with a pidfd, reaps it and sends its wait status, which
the runner's supervise() takes in place of its own waitpid (procs.py:
`reaper`).  Its orphans go to the runner (PID 1) as before.  The child runs
python.spare_child, the same code as a spare forked by the runner.  If the
lean server dies, its children become the runner's, which then reaps them
itself.

Which spare a run takes (needs_stack): the lean one unless the code imports
a module outside the standard library, or the state it restores mentions
one.  A lean child that imports numpy anyway still works: the import only
costs what it costs outside a fork server.

Everything here is best effort: if the lean server cannot start or dies,
spares fork from the runner as before.  CI_RUNNER_LEAN=0 turns it off.
"""

import ast
import gc
import os
import select
import selectors
import signal
import socket
import sys

from .config import STATE_IN, log
from .identity import close_fds_except, harden_runner
from .procs import alive_as_runner, keep_alive, own_child_status, release
from .pystate import pickler
from .python import spare_child

SPAWN_TIMEOUT_S = 5.0
MAX_SCAN_CODE = 64 << 10      # longer code: the full fork server (ast.parse ~0.2 ms per KB)
MAX_SCAN_STATE = 1 << 20      # a larger state: full fork server


def enabled():
    return os.environ.get("CI_RUNNER_LEAN", "1") != "0"


class LeanServer:
    """The runner's handle on the lean fork server process."""

    MAX_EXITS = 64   # statuses nobody asked for (a discarded spare's) are dropped

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
        keep_alive(self.pid)   # no clean-up kills it
        self.sock.setblocking(False)
        self.buf = b""
        self.exits = {}
        self.gone = False

    def fileno(self):
        return self.sock.fileno()

    def pristine(self):
        """Alive, not a zombie, still the runner's identity."""
        return not self.gone and alive_as_runner(self.pid)

    def _read(self, block):
        """One recv into the buffer (block: waiting at most SPAWN_TIMEOUT_S
        for it); False once the server is gone (or hangs)."""
        try:
            if block and not select.select([self.sock], [], [], SPAWN_TIMEOUT_S)[0]:
                data = b""
            else:
                data = self.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            data = b""
        if not data:
            self.gone = True
            return False
        self.buf += data
        return True

    def _lines(self):
        """Complete lines in the buffer, in order: exit statuses are noted,
        new pids returned.  A new pid drops a status noted for that pid
        before: an earlier child's (the server reaps a child, and reports
        it, before the kernel can give its pid to another), which must not
        end the new one's run."""
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            parts = line.split()
            try:
                if len(parts) == 3 and parts[0] == b"x":
                    if len(self.exits) >= self.MAX_EXITS:
                        self.exits.pop(next(iter(self.exits)))
                    self.exits[int(parts[1])] = int(parts[2])
                elif len(parts) == 2 and parts[0] == b"p":
                    self.exits.pop(int(parts[1]), None)
                    out.append(int(parts[1]))
            except ValueError:
                pass
        return out

    def pump(self):
        """Take what the server sent (without waiting); False once gone."""
        ok = self._read(False)
        self._lines()
        return ok

    def status(self, pid):
        """The wait status of our spawned child `pid` once it has exited,
        else None.  Once the server is gone its children are ours."""
        if pid not in self.exits and not self.gone:
            self.pump()
        if pid in self.exits:
            return self.exits.pop(pid)
        if self.gone:
            return own_child_status(pid)
        return None

    def forget(self, pid):
        self.exits.pop(pid, None)

    def spawn(self, fds):
        """A new spare child with these descriptors (req_r, out_w, err_w,
        rep_w, state_fd or -1); returns its pid, or None (then the lean
        server is of no further use: stop() it)."""
        if self.gone:
            return None
        null = -1
        try:
            send = list(fds)
            if send[4] < 0:
                null = os.open("/dev/null", os.O_WRONLY)
                send[4] = null
            socket.send_fds(self.sock, [b"spawn1" if fds[4] >= 0 else b"spawn0"], send)
            while True:
                pids = self._lines()
                if pids:
                    return pids[0] if pids[0] > 1 else None
                if not self._read(True):
                    return None
        except OSError:
            self.gone = True
            return None
        finally:
            if null >= 0:
                os.close(null)

    def stop(self):
        self.gone = True
        release(self.pid)
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
    """The lean server's main loop (runner.py --lean-server FD): spawn
    children on request, report each one's exit status."""
    harden_runner()
    pickler()   # cloudpickle, imported once here rather than per run
    gc.collect()
    gc.freeze()   # the children's collections never walk (and copy) all this
    sock = socket.socket(fileno=fd)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select():
            if key.data is not None:   # a child's pidfd: it exited
                sel.unregister(key.fd)
                os.close(key.fd)
                try:
                    _, st = os.waitpid(key.data, 0)
                except ChildProcessError:
                    continue
                msg = b"x %d %d\n" % (key.data, st)
            else:
                try:
                    req, fds, _, _ = socket.recv_fds(sock, 16, 8)
                except OSError:
                    return 0
                if not req:
                    return 0
                if req not in (b"spawn0", b"spawn1") or len(fds) != 5:
                    for f in fds:
                        os.close(f)
                    return 1
                if req == b"spawn0":
                    os.close(fds[4])
                    fds[4] = -1
                pid = _fork_spare(fds)
                for f in fds:
                    if f >= 0:
                        os.close(f)
                if pid > 0:
                    try:
                        sel.register(os.pidfd_open(pid), selectors.EVENT_READ, pid)
                    except OSError:
                        pass   # cannot watch it: reaped when the server exits
                msg = b"p %d\n" % pid
            try:
                sock.sendall(msg)
            except OSError:
                return 0


def _fork_spare(fds):
    """Fork a spare child (python.spare_child) leading its own process
    group; returns its pid, 0 on failure."""
    try:
        pid = os.fork()
    except OSError:
        return 0
    if pid == 0:
        spare_child(*fds)   # never returns
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    return pid


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
        names.discard(b"cloudpickle")   # the lean server has it (functions in a state)
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
