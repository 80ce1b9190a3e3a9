"""Process supervision: every program runs in its own process group with
stdout/stderr on pipes; the runner keeps at most a cap of each, enforces the
deadline, kills what the program left behind and classifies the outcome."""

import codecs
import json
import os
import selectors
import signal
import socket
import time

from .config import DATA_DIR, DRAIN_GRACE_S
from . import resident
from .identity import (SANDBOX_UID, close_fds_except, drop_to_user, harden_runner,
                       privileged)


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


_kept = set()


def keep_alive(pid):
    """Register a root process of the runner's that no clean-up may kill:
    a waiting spare Python child, the lean fork server (lean.py)."""
    _kept.add(pid)


def release(pid):
    _kept.discard(pid)


def kept_pids():
    """The processes kill_leftovers, settle and the wipe leave alone: the
    registered root ones and the resident compilers (resident.py)."""
    return _kept | set(resident.live_pids())


def kill_as_sandbox_user():
    """kill(-1, SIGKILL) with the sandbox uid as real and effective uid
    (saved uid kept 0 to come back): it reaches every process the sandbox
    user runs (they cannot change uid: no_new_privs, no capabilities) at
    once, as a fork bomb needs, and never a process of the runner's
    identity such as a waiting spare or the lean fork server.  (While the
    uid is changed a program could send the runner a signal it handles,
    SIGINT: the runner would exit, which fails the caller's own run like
    any runner exit and destroys the container; as the container's init it
    cannot be killed or stopped from inside, nor traced: not dumpable.)"""
    os.setresuid(SANDBOX_UID, SANDBOX_UID, 0)
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.setresuid(0, 0, 0)
        harden_runner()   # a uid change resets the dumpable flag


def kill_leftovers(pgid):
    """Kill the program's group and every other process but kept_pids();
    return once none of them can run user code any more.

    As PID 1 (the container's init) a kill(-1) reaches every other process
    in the container: as the sandbox user while root processes are kept
    (they are not reachable that way), else as root.  Otherwise the runner
    is a child subreaper, so orphans of the program are re-parented to it
    and found through /proc.

    "Done" is a round after which every process left is on its way out:
    each of its threads a zombie or in the kernel's exit path (PF_EXITING,
    set before the task can run anything again, after its last system call
    has returned).  The exit itself (unmapping the address space: ~4 ms for
    a child of the Python fork server) goes on while the result travels;
    settle() waits for it before the next program starts, so no program
    ever sees (in /proc) a process of the one before.
    """
    me = os.getpid()
    helpers = set(resident.live_pids())   # resident compilers stay
    keep = _kept | helpers
    for rnd in range(50):
        sent = False
        try:
            os.killpg(pgid, signal.SIGKILL)
            sent = True
        except OSError:
            pass
        if me == 1 and (not helpers or rnd >= 40):
            # with helpers alive (they are the sandbox user's), kill(-1)
            # only when naming each process did not end it (a program
            # forking away faster than /proc is read): everything dies
            # then, and is started again
            if _kept and rnd < 40 and privileged():
                kill_as_sandbox_user()
                sent = True
            else:
                try:
                    os.kill(-1, signal.SIGKILL)
                    sent = True
                except OSError:
                    pass
        else:
            for pid in child_pids(me):
                if pid in keep:
                    continue
                try:
                    os.kill(pid, signal.SIGKILL)
                    sent = True
                except OSError:
                    pass
        reap_all()
        if not sent or all_exiting(me, keep):
            break
        time.sleep(0.001)
    reap_all()
    resident.forget_dead()


def settle(keep, limit_s=2.0):
    """Before a run: reap, and wait (at most limit_s) until no process but
    the runner and `keep` is left of the earlier runs (kill_leftovers sent
    them SIGKILL; they are exiting).  Returns True when none is left."""
    me = os.getpid()
    end = time.monotonic() + limit_s
    while True:
        reap_all()
        if not others_than(me, keep):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.0005)


def alive_as_runner(pid):
    """`pid` exists, is neither a zombie nor dead, and has the runner's uid
    (a waiting spare, the lean fork server: procs the wipe may keep)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            line = f.read()
        st = os.stat("/proc/%d" % pid)
    except OSError:
        return False
    state = line[line.rindex(b")") + 2:].split()[0]
    return state not in (b"Z", b"X") and st.st_uid == os.geteuid()


PF_EXITING = 0x4   # include/linux/sched.h: the task is in do_exit()


def _task_gone(stat):
    """A /proc/<pid>/task/<tid>/stat line: zombie, dead or exiting."""
    fields = stat[stat.rindex(b")") + 2:].split()
    return fields[0] in (b"Z", b"X") or int(fields[6]) & PF_EXITING != 0


def all_exiting(me, keep):
    """True when every process but `me` and `keep` (as PID 1: all of the
    container's; otherwise the runner's children) has only exiting or dead
    threads.  Every thread is read: a thread-group leader that called
    pthread_exit() is a zombie while its other threads still run."""
    for pid in others_than(me, keep):
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue   # gone
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid), "rb") as f:
                    if not _task_gone(f.read()):
                        return False
            except OSError:
                continue
            except (ValueError, IndexError):
                return False
    return True


def other_pids(me):
    """Every pid in /proc but `me` (the runner as PID 1: the container's)."""
    try:
        return [int(e) for e in os.listdir("/proc")
                if e.isdigit() and int(e) != me]
    except OSError:
        return []


def others_than(me, keep):
    """What a run may have left: as PID 1 every other process of the
    container, otherwise the runner's children; but those in `keep`."""
    pids = other_pids(me) if me == 1 else child_pids(me)
    return [p for p in pids if p not in keep]


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
        resident.reaped(pid)


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


def own_child_status(pid):
    """The wait status of our child `pid` once it has exited, else None
    (0 when it was reaped elsewhere)."""
    try:
        wpid, st = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 0
    return st if wpid == pid else None


def supervise(pid, out_r, err_r, deadline, out_cap, err_cap, ctl,
              rep_r=None, report=None, hook=None, reaper=None):
    """Pump the child's pipes until it is done; enforce the deadline.

    "Done" is the child's exit, or (Python) its report line on rep_r: the
    child writes it as its very last act, after closing stdout/stderr, so
    the result does not wait for the child's address-space teardown.
    Returns (wait_status or None, timed_out, peer_closed).  Closes the pipe
    fds.  Leftover processes are NOT killed here: call kill_leftovers().

    `hook` (programmatic tool calling, ptc.Channel): its fileno() is watched;
    when readable, hook.on_ready() serves a round of tool calls and returns
    the seconds the program was paused (the deadline moves by as much), or
    None: the run must end (the program is killed, timed_out set).

    `reaper` (lean.LeanServer): the child is not ours but the lean fork
    server's, which reaps it and reports its status (reaper.status(pid));
    its socket (reaper.fileno()) is watched so that report wakes us.
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
    if hook is not None:
        hook.pgid = pid
        sel.register(hook.fileno(), selectors.EVENT_READ, "hook")
    wait_status = own_child_status
    if reaper is not None:
        wait_status = reaper.status
        sel.register(reaper.fileno(), selectors.EVENT_READ, "reaper")
    status, timed_out, peer_closed = None, False, False
    drain_until = None
    while True:
        open_pipes = sum(1 for k in sel.get_map().values()
                         if k.data not in ("exit", "ctl", "hook", "reaper"))
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
            elif tag == "reaper":
                if not reaper.pump():   # gone: the child is ours now
                    sel.unregister(key.fd)
            elif tag == "hook":
                paused = hook.on_ready()
                if paused is None:
                    sel.unregister(key.fd)
                    timed_out = True
                    kill_leftovers(pid)
                else:
                    deadline += paused
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
                data = read_some(key.fd)
                if data is None:
                    continue
                if data:
                    tag.feed(data)
                else:
                    sel.unregister(key.fd)
                    os.close(key.fd)
        if status is None:
            status = wait_status(pid)
            if status is None and (timed_out or time.monotonic() >= deadline):
                timed_out = True
                kill_leftovers(pid)
    for key in list(sel.get_map().values()):
        if key.data not in ("exit", "ctl", "hook", "reaper"):
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


def read_some(fd):
    """One read of a non-blocking pipe: the bytes, b"" at its end (or on an
    error: the writer is gone either way), None when nothing is there yet."""
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def exec_program(argv, env, default_sigs):
    """In a forked child, last: the default disposition for `default_sigs`
    (the runner ignores some), then exec.  Returns only by raising."""
    for sig in default_sigs:
        signal.signal(sig, signal.SIG_DFL)
    os.execvpe(argv[0], argv, env)


def own_group(pid):
    """The parent's half of a fork: the child leads its own process group
    (the child sets it too; whichever runs first wins the race)."""
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass


def child_setup(out_w, err_w, keep=()):
    """In a fresh child: own group, stdio on the pipes, every other runner
    descriptor closed (but `keep`), the sandbox user's identity
    (identity.drop_to_user), cwd /mnt/data."""
    child_detach(out_w, err_w, keep)
    child_become_user()


def child_detach(out_w, err_w, keep=()):
    """First half of child_setup: own group, stdio on the pipes, every other
    runner descriptor closed (but `keep`).  Still the runner's identity:
    a pristine spare waits like this (python.Spare), out of reach of the
    sandbox user's processes."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    close_fds_except(keep)


def child_become_user():
    """Second half of child_setup, right before user code: the sandbox
    user's identity for good, OOM-first, cwd /mnt/data."""
    try:   # the OOM killer must pick the program, never the runner
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    drop_to_user()
    try:
        os.chdir(DATA_DIR)
    except OSError:
        pass


def spawn(argv, env, deadline, out_cap, err_cap, ctl, merge_stdout=False,
          hook=None):
    """Run argv (exec) under supervision; returns supervise() tuple + captures."""
    out = Capture(out_cap)
    err = Capture(err_cap)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            child_setup(err_w if merge_stdout else out_w, err_w)
            exec_program(argv, env, (signal.SIGPIPE, signal.SIGXFSZ))
        except BaseException as e:
            try:
                os.write(2, ("exec %s: %s\n" % (argv[0], e)).encode())
            finally:
                os._exit(127)
    own_group(pid)
    os.close(out_w)
    os.close(err_w)
    status, timed_out, closed = supervise(pid, out_r, err_r, deadline,
                                          out, err, ctl, hook=hook)
    kill_leftovers(pid)
    return status, timed_out, closed, out, err
