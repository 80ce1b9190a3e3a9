"""Resident compilers: a warm TypeScript transpiler (node + typescript) and
an in-process javac (one JVM, javax.tools), one of each per container, so a
ts or java run does not start a compiler (docs/sandbox.md, "Resident
compilers").

A helper is user-identity code: forked by the runner, then the sandbox
user's identity (identity.drop_to_user), every runner descriptor closed but
its own stdin/stdout pipes, cwd and sources in /run/ci/resident/ (root's,
read-only for it).  A program of the same container can kill it, stop it,
or write junk into its pipes (through /proc/<pid>/fd).  So the runner:

  - talks to it only between runs (no user process is alive then: every
    run ends with procs.kill_leftovers, which spares the helpers and
    nothing else), SIGCONTs it first;
  - tags each request with a fresh random nonce, skips whatever else is in
    the pipe, bounds what it reads (header, diagnostics, total) and waits
    at most until the run's deadline;
  - does not wait for a helper still warming up (it says "ready" when
    warm): that run takes the one-shot path;
  - on any failure (dead, EOF, junk, oversize, exec error) stops the
    helper and the run takes the one-shot compiler path of config.LANGS;
    the next run starts a fresh helper (at most MAX_STARTS per container).

Nothing the helper writes is read by root: the output goes into the run's
own build dir (the user's), and only the pipe reply is parsed.  stop_all()
kills every helper (the wipe between two sessions of one caller calls it;
a helper is never carried from one session to the next).

CI_RESIDENT=0 in the container's environment disables the helpers (the
one-shot path; the benchmark's baseline).
"""

import os
import select
import shutil
import signal

from .config import RUN_DIR, log
from .identity import close_fds_except, drop_to_user, privileged
from .resident_src import DIAG_MAX, JAVA_SERVER_SRC, TS_SERVER_JS

HELPER_DIR = RUN_DIR + "/resident"
MAX_STARTS = 20            # per helper per container: then the one-shot path for good
MAX_READ = 4 * DIAG_MAX    # bytes read for one request before giving up
HEADER_MAX = 128


def enabled():
    return os.environ.get("CI_RESIDENT", "1") != "0"


def _ts_lib():
    tsc = shutil.which("tsc")
    if not tsc:
        return None
    return os.path.dirname(os.path.dirname(os.path.realpath(tsc)))


def _write_root_file(path, text):
    """A fresh file root's, 0644, in root's HELPER_DIR (never followed)."""
    tmp = path + ".tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _prepare_dir():
    if os.path.islink(HELPER_DIR):
        os.unlink(HELPER_DIR)
    os.makedirs(HELPER_DIR, 0o755, exist_ok=True)
    if privileged():
        os.chown(HELPER_DIR, 0, 0)
    os.chmod(HELPER_DIR, 0o755)


def ts_spec():
    lib = _ts_lib()
    if lib is None or not shutil.which("node"):
        return None
    return {"file": "ts-server.js", "text": TS_SERVER_JS,
            "argv": ["node", "--max-old-space-size=256", HELPER_DIR + "/ts-server.js"],
            "env": {"CI_TS_LIB": lib}}


def java_spec():
    if not shutil.which("java") or not shutil.which("javac"):
        return None
    return {"file": "CiJavacServer.java", "text": JAVA_SERVER_SRC,
            "argv": ["java", "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xshare:auto",
                     "-Xss4m", "-XX:MaxRAMPercentage=25",
                     HELPER_DIR + "/CiJavacServer.java"],
            "env": {}}


SPECS = {"ts": ts_spec, "java": java_spec}


class Helper:
    """One resident compiler process and the runner's ends of its pipes."""

    def __init__(self, lang):
        self.lang = lang
        self.pid = -1
        self.w = -1      # its stdin
        self.r = -1      # its stdout
        self.starts = 0
        self.spec = None
        self.ready = False
        self.pre = bytearray()   # what it wrote before "ready"

    def alive(self):
        """Still running.  Its exit is seen here (waitpid) or when
        procs.reap_all reaps it (reaped()): either way before its pid can
        be reused, so a pid kept here always names this helper."""
        if self.pid <= 0:
            return False
        try:
            wpid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            wpid = self.pid
        if wpid == self.pid:
            self.pid = -1
            self.stop()
            return False
        return True

    def start(self):
        if self.starts >= MAX_STARTS:
            return False
        if self.spec is None:
            make = SPECS.get(self.lang)
            self.spec = (make() if make else None) or {}
        if not self.spec:
            return False
        self.starts += 1
        try:
            _prepare_dir()
            _write_root_file(HELPER_DIR + "/" + self.spec["file"], self.spec["text"])
        except OSError as e:
            log("resident %s: cannot write helper: %s" % (self.lang, e))
            return False
        from .procs import exec_program, own_group   # procs imports this module
        env = dict(os.environ, **self.spec["env"])
        env.pop("BASH_ENV", None)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setpgid(0, 0)
                try:
                    with open("/proc/self/oom_score_adj", "w") as f:
                        f.write("500")
                except OSError:
                    pass
                os.dup2(in_r, 0)
                os.dup2(out_w, 1)
                devnull = os.open("/dev/null", os.O_WRONLY)
                os.dup2(devnull, 2)
                close_fds_except(())
                drop_to_user()
                os.chdir(HELPER_DIR)
                exec_program(self.spec["argv"], env,
                             (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT))
            finally:
                os._exit(127)
        own_group(pid)
        os.close(in_r)
        os.close(out_w)
        self.pid, self.w, self.r = pid, in_w, out_r
        os.set_blocking(self.r, False)
        return True

    def stop(self):
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(self.pid, 0)   # SIGKILLed: no zombie left
            except OSError:
                pass
        for fd in (self.w, self.r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.pid = self.w = self.r = -1
        self.ready = False
        self.pre = bytearray()

    def poll_ready(self):
        """True once the helper said "ready" (read without waiting)."""
        while not self.ready:
            try:
                data = os.read(self.r, 4096)
            except OSError:
                return False
            if not data:
                self.stop()
                return False
            self.pre += data
            if b"ready\n" in self.pre:
                self.ready = True
                self.pre = bytearray()
            elif len(self.pre) > 4096:
                del self.pre[:-8]
        return True

    def compile(self, src, outdir, deadline, ctl=None):
        """(rc, diagnostics bytes) from the helper, "timeout", or None (the
        helper is unusable: stopped; the caller takes the one-shot path)."""
        import time

        from .procs import read_some   # procs imports this module
        if not self.alive():
            if self.starts:
                log("resident %s: helper gone, starting another" % self.lang)
            if not self.start():
                return None
        if not self.poll_ready():   # still warming: not worth waiting for
            log("resident %s: warming up, one-shot compile" % self.lang)
            return None
        for p in (src, outdir):
            if "\t" in p or "\n" in p:
                return None
        try:
            os.kill(self.pid, signal.SIGCONT)
        except OSError:
            pass
        self._drain()
        nonce = os.urandom(16).hex()
        req = ("\n%s\t%s\t%s\n" % (nonce, src, outdir)).encode("utf-8")
        try:
            while req:
                rd, wr, _ = select.select([], [self.w], [], max(0.0, deadline - time.monotonic()))
                if not wr:
                    self.stop()
                    return "timeout"
                n = os.write(self.w, req)
                req = req[n:]
        except OSError:
            return self.fail("cannot write its pipe")
        tag = (nonce + "\t").encode()
        buf = bytearray()
        total = 0
        watch = [self.r] + ([ctl] if ctl is not None else [])
        while True:
            got = _parse(buf, tag)
            if got == "junk":
                return self.fail("malformed reply")
            if got is not None:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                return "timeout"
            rd, _, _ = select.select(watch, [], [], left)
            if ctl is not None and ctl in rd and self.r not in rd:
                if _peer_gone(ctl):
                    self.stop()
                    return "closed"
                watch = [self.r]
                continue
            if self.r not in rd:
                continue
            data = read_some(self.r)
            if data is None:
                continue
            if not data:
                return self.fail("exited during a compile")
            total += len(data)
            if total > MAX_READ:
                return self.fail("reply too long")
            buf += data
            # keep only from the nonce on (or a tail that may hold its start)
            i = buf.find(tag)
            if i > 0:
                del buf[:i]
            elif i < 0 and len(buf) > len(tag):
                del buf[:len(buf) - len(tag)]

    def fail(self, why):
        log("resident %s: %s; stopped, one-shot compile" % (self.lang, why))
        self.stop()
        return None

    def _drain(self):
        """Drop whatever is waiting in the helper's stdout (stale replies,
        junk a program wrote there): bounded, never blocks."""
        for _ in range(64):
            try:
                if not os.read(self.r, 1 << 16):
                    return
            except OSError:
                return


def _peer_gone(ctl):
    import socket
    try:
        return ctl.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _parse(buf, tag):
    """(rc, diag) once buf holds the nonce's full reply; None: need more;
    "junk": a malformed header."""
    if not buf.startswith(tag):
        return None
    nl = buf.find(b"\n")
    if nl < 0:
        return "junk" if len(buf) > HEADER_MAX else None
    f = bytes(buf[len(tag):nl]).split(b"\t")
    if len(f) != 2 or not f[0].lstrip(b"-").isdigit() or not f[1].isdigit() or \
            len(f[0]) > 6 or len(f[1]) > 9:
        return "junk"
    rc, n = int(f[0]), int(f[1])
    if n > DIAG_MAX:
        return "junk"
    if len(buf) < nl + 1 + n:
        return None
    return rc, bytes(buf[nl + 1:nl + 1 + n])


_helpers = {}


def helper(lang):
    """The container's helper for `lang` (created on first use), or None
    when helpers are disabled or `lang` has none."""
    if not enabled() or lang not in SPECS:
        return None
    h = _helpers.get(lang)
    if h is None:
        h = _helpers[lang] = Helper(lang)
    return h


def warm(langs):
    """Start the helpers of the languages this image offers (runner start,
    while idle): the first run then finds a warm compiler."""
    for lang in langs:
        h = helper(lang)
        if h is not None and not h.alive():
            h.start()


def live_pids():
    """Pids of the helpers still running (kill_leftovers spares these)."""
    return {h.pid for h in _helpers.values() if h.alive()}


def stop_all():
    """Kill every helper (a wipe; a run that could not clean up).  The next
    ts/java run starts a fresh one."""
    for h in _helpers.values():
        h.stop()


def reaped(pid):
    """procs.reap_all reaped `pid`: if it was a helper, forget it."""
    for h in _helpers.values():
        if h.pid == pid:
            h.pid = -1
            h.stop()


def forget_dead():
    """After kill_leftovers reaped: drop helpers that exited meanwhile."""
    for h in _helpers.values():
        h.alive()

