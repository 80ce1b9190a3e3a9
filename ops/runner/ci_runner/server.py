"""The serve loop: hello, then one run frame at a time until the worker
closes the connection; heavy Python modules imported while idle."""

import gc
import os
import select
import shutil
import sys

from . import hugepages, lean, resident
from .compiled import run_compiled
from .config import BUILD_ROOT, HOME_DIR, LANGS, PROTO_VERSION, RUN_DIR, log
from .frames import (ProtocolError, connect, error_frame, parse_frame, recv_frame,
                     send_frame)
from .identity import harden_runner, make_user_dir
from .procs import become_subreaper, kept_pids, kill_leftovers, settle
from .python import Spare, run_python
from .wipe import remember_env, wipe


def setup_env():
    home = HOME_DIR
    try:
        make_user_dir(home)
        os.makedirs(BUILD_ROOT, 0o755, exist_ok=True)
    except OSError as e:
        log("cannot create %s (%s); using /tmp/home" % (home, e))
        home = "/tmp/home"
        make_user_dir(home)
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
    make_user_dir("/tmp/matplotlib")


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


def _settle_heap():
    """Once, after the imports: what they allocated is frozen (the cyclic
    GC never walks it again, so children do not copy it page by page) and
    moved into huge pages (hugepages.py)."""
    gc.collect()
    gc.freeze()
    hugepages.collapse()


PREIMPORT_STEPS = [
    lambda: __import__("cloudpickle"),
    lambda: __import__("numpy"),
    lambda: __import__("pandas"),
    _import_matplotlib,
    _settle_heap,
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


class Server:
    """The serve loop: one request at a time, spare Python children kept
    warm: one forked from this process (numpy, pandas, matplotlib
    imported) and, when the lean fork server runs (lean.py), one forked
    from it for runs that need none of them."""

    def __init__(self, ctl, langs):
        self.ctl = ctl
        self.langs = langs
        # resident compilers first (resident.py): a JVM or node warming up
        # while the container waits in the pool, not during a run
        self.steps = [lambda: resident.warm(langs)] + list(PREIMPORT_STEPS)
        self.spare = None        # forked from this process
        self.lean_spare = None   # forked from the lean fork server
        self.py_seen = False
        self.lean = None
        if "py" in langs and has_stack():
            self.lean = lean.start()

    def want_spare(self):
        # Pre-fork only in a Python image (numpy present) or once py was used.
        if os.environ.get("CI_RUNNER_PREFORK", "1") == "0":
            return False
        return not self.steps and ("numpy" in sys.modules or self.py_seen)

    def drop_lean(self):
        if self.lean is not None:
            self.lean.stop()
            self.lean = None

    def new_spare(self, from_lean):
        sp = Spare(self.ctl, self.lean if from_lean else None)
        if from_lean and not sp.lean:
            log("lean fork server gone; Python runs fork from the runner")
            self.drop_lean()
        return sp

    def fill_spares(self):
        if not self.want_spare():
            return
        if self.spare is None:
            self.spare = self.new_spare(False)
        if self.lean_spare is None and self.lean is not None:
            self.lean_spare = self.new_spare(True)

    def spares(self):
        return [sp for sp in (self.spare, self.lean_spare) if sp is not None]

    def discard_spares(self, only_spoilt=False):
        for name in ("spare", "lean_spare"):
            sp = getattr(self, name)
            if sp is not None and (not only_spoilt or not sp.pristine()):
                sp.discard()
                setattr(self, name, None)

    def take_spare(self, req):
        """The spare this Python run takes (removed from its slot), or None
        (run_python forks one)."""
        name = "spare"
        if self.lean_spare is not None and not lean.needs_stack(req):
            name = "lean_spare"
        sp = getattr(self, name)
        setattr(self, name, None)
        if sp is not None and not sp.pristine():   # killed meanwhile (a last-resort kill(-1))
            sp.discard()
            sp = None
        return sp

    def wipe(self, req):
        """A wipe frame: returns the `wiped` reply."""
        # the spares were forked from pristine fork servers and never given
        # a request: they may serve the next session (wipe.py); so may the
        # lean fork server, which never runs user code
        self.discard_spares(only_spoilt=True)
        if self.lean is not None and not self.lean.pristine():
            self.drop_lean()
        # the helpers served the previous session: never the next
        # one; fresh ones are started (and warmed) once idle again
        resident.stop_all()
        reply = wipe(req, self.spares(), self.lean)
        if not reply.get("ok"):
            self.discard_spares()
            self.drop_lean()
        self.steps.insert(0, lambda: resident.warm(self.langs))
        return reply

    def serve_one(self):
        """Serve one frame; returns False when the runner should exit."""
        preimport_while_idle(self.ctl, self.steps)
        self.fill_spares()
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
            if req is None:
                pass
            elif req.get("wipe"):
                reply = self.wipe(req)
            else:
                # the last run's processes are exiting (kill_leftovers):
                # gone before the next program can look
                settle(kept_pids())
                if req["lang"] == "py":
                    self.py_seen = True
                    reply, closed, leftover_pgid = run_python(
                        req, self.ctl, self.take_spare(req))
                else:
                    self.discard_spares()
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


def has_stack():
    """numpy importable: a Python image whose fork server imports the
    scientific stack (the lean fork server is worth its process)."""
    try:
        import importlib.util
        return importlib.util.find_spec("numpy") is not None
    except (ImportError, ValueError):
        return False


def main():
    path = os.environ.get("CI_CTL_SOCKET", RUN_DIR + "/ctl.sock")
    harden_runner()
    setup_env()
    remember_env()
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
    server.drop_lean()
    return 0
