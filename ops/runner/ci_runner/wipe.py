"""The wipe between two sessions of one caller (docs/pool.md, "Reuse within
one caller"; docs/sandbox.md, "The wipe").

The worker sends {"type": "wipe", "id": ...} only while no run is in
flight; the runner (container root, which programs cannot signal, trace or
impersonate) then

  1. kills every other process of the container (SIGKILL to -1 as PID 1,
     else to every descendant; repeated until /proc lists none) and reaps;
  2. removes every SysV IPC object (shm, sem, msg: IPC_RMID with the
     sandbox uid as effective uid, the only identity that ever creates
     them) and every POSIX message queue;
  3. empties every place a program can write: /mnt/data, /tmp, /dev/shm,
     HOME and the build dirs under /run/ci, the state files; HOME and
     /tmp/matplotlib are made again, empty, for the sandbox user;
  4. checks each of those from scratch (/proc, /proc/sysvipc/*, the dirs,
     the environment against the one taken at start) and answers
     {"type": "wiped", "id", "ok", "reason", "checks": {...}} where every
     count is what the check found left over (all 0 when ok).

Only as the container's init (PID 1) and root: anywhere else the wipe
refuses, since /tmp and /dev/shm would be the host's.  A wipe that meets
more than WIPE_MAX_ENTRIES files refuses (ok false): a
tree that large costs more to remove than a fresh container.  The Python
fork server itself never runs user code; the spare child (forked before the
wipe, never given a request, still root: python.Spare) is kept when it is
still pristine afterwards (Spare.pristine), which saves forking and
exiting the whole interpreter on every new session; only the sandbox uid's
processes are killed wholesale then (_kill_as_sandbox_user), any other
process by pid.
"""

import ctypes
import os
import signal
import time

from .config import BUILD_ROOT, DATA_DIR, HOME_DIR, STATE_IN, STATE_OUT, STATE_TMP
from .identity import SANDBOX_UID, make_user_dir, privileged
from .procs import kill_as_sandbox_user, other_pids, reap_all

WIPE_MAX_ENTRIES = 20000
KILL_ROUNDS = 200          # x 1 ms: processes still listed after this fail the wipe
MQUEUE_DIR = "/dev/mqueue"
# Writable places a program can reach; each is emptied and then checked.
# The root filesystem is read-only (ReadonlyRootfs); /run/ci is root's.
USER_DIRS = [DATA_DIR, "/tmp", "/dev/shm", HOME_DIR, BUILD_ROOT]
# What may be left, fresh and empty, made by the runner: {dir: {name}}.
EXPECTED = {"/tmp": {"matplotlib"}}
IPC_RMID = 0

_start_env = None


def remember_env():
    """Called once after setup_env(): the environment every program gets."""
    global _start_env
    _start_env = dict(os.environ)


class TooMany(Exception):
    pass


def _others(keep=frozenset()):
    """Pids of every process but this one and those in `keep` (zombies
    included) and their uids, from /proc."""
    out = []
    for pid in other_pids(os.getpid()):
        if pid in keep:
            continue
        try:
            st = os.stat("/proc/%d" % pid)
        except OSError:
            continue
        out.append((pid, st.st_uid))
    return out


def kill_all(keep=frozenset()):
    """As PID 1: SIGKILL to every other process but those in `keep` until
    /proc lists none (at most KILL_ROUNDS rounds); returns what is left.
    Without `keep` one kill(-1) as root; with it, the sandbox user's
    processes at once and any other stray process by name."""
    left = _others(keep)
    for _ in range(KILL_ROUNDS):
        if not left:
            break
        if not keep:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
        else:
            kill_as_sandbox_user()
            for pid, uid in left:
                if uid != SANDBOX_UID:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        reap_all()
        left = _others(keep)
        if left:
            time.sleep(0.001)
    reap_all()
    return left


_libc = None


def _ipc_ids(kind):
    """Ids listed in /proc/sysvipc/<kind> (second column of every line but
    the header)."""
    try:
        with open("/proc/sysvipc/" + kind) as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    ids = []
    for line in lines:
        parts = line.split()
        if len(parts) > 1 and parts[1].lstrip("-").isdigit():
            ids.append(int(parts[1]))
    return ids


def remove_ipc():
    """IPC_RMID every SysV object.  Only their creator (the sandbox uid) or
    CAP_SYS_ADMIN may: the runner takes the sandbox uid as its effective
    uid for the calls (no process of that uid exists any more) and goes
    back to root."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    todo = [(k, _ipc_ids(k)) for k in ("shm", "sem", "msg")]
    if not any(ids for _, ids in todo):
        return
    as_user = privileged()
    if as_user:
        os.seteuid(SANDBOX_UID)
    try:
        for kind, ids in todo:
            for i in ids:
                if kind == "shm":
                    _libc.shmctl(i, IPC_RMID, None)
                elif kind == "sem":
                    _libc.semctl(i, 0, IPC_RMID)
                else:
                    _libc.msgctl(i, IPC_RMID, None)
    finally:
        if as_user:
            os.seteuid(0)


def _empty_dir(path, budget):
    """Removes everything inside `path` without following a symlink
    (directory descriptors; lstat).  Returns the budget left; TooMany when
    it runs out."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return budget
    try:
        return _empty_fd(fd, budget)
    finally:
        os.close(fd)


def _empty_fd(dfd, budget):
    for ent in os.scandir(dfd):
        budget -= 1
        if budget < 0:
            raise TooMany()
        name = ent.name
        try:
            isdir = ent.is_dir(follow_symlinks=False)
        except OSError:
            isdir = False
        if isdir:
            try:
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                              dir_fd=dfd)
            except OSError:
                continue
            try:
                budget = _empty_fd(sub, budget)
            finally:
                os.close(sub)
            try:
                os.rmdir(name, dir_fd=dfd)
            except OSError:
                pass
        else:
            try:
                os.unlink(name, dir_fd=dfd)
            except OSError:
                pass
    return budget


def _listing(path):
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []
    except OSError as e:
        return ["<%s>" % e.strerror]


def _state_files():
    """The state files in /run/ci: state.in, state.out, every spare's."""
    run_dir, tmp = os.path.split(STATE_TMP)
    try:
        names = os.listdir(run_dir)
    except OSError:
        return [p for p in (STATE_IN, STATE_OUT) if os.path.lexists(p)]
    return [os.path.join(run_dir, n) for n in sorted(names)
            if n in (os.path.basename(STATE_IN), os.path.basename(STATE_OUT))
            or n.startswith(tmp)]


def check(keep=frozenset(), keep_files=frozenset()):
    """What is left: {"processes", "ipc", "files", "env"} counts and the
    first thing found, for the reason.  The pids in `keep` (the pristine
    spares, the lean fork server) and `keep_files` (the spares' empty state
    files, checked by Spare.pristine) are not counted."""
    found = []
    procs = _others(keep)
    for pid, uid in procs[:3]:
        found.append("process %d (uid %d)" % (pid, uid))
    ipc = 0
    for kind in ("shm", "sem", "msg"):
        n = len(_ipc_ids(kind))
        ipc += n
        if n:
            found.append("%d SysV %s object(s)" % (n, kind))
    mq = _listing(MQUEUE_DIR)
    ipc += len(mq)
    if mq:
        found.append("POSIX message queue %s" % mq[0])
    files = 0
    for d in USER_DIRS:
        extra = [n for n in _listing(d) if n not in EXPECTED.get(d, ())]
        for n in EXPECTED.get(d, ()):
            extra += ["%s/%s" % (n, m) for m in _listing(d + "/" + n)]
        files += len(extra)
        if extra:
            found.append("%s/%s" % (d, extra[0]))
    for p in _state_files():
        if p not in keep_files:
            files += 1
            found.append(p)
    env = 0
    if _start_env is not None and dict(os.environ) != _start_env:
        env = 1
        found.append("the runner's environment changed")
    return {"processes": len(procs), "ipc": ipc, "files": files, "env": env}, found


def wipe(obj, spares=(), lean=None):
    """Handles a wipe frame; returns the `wiped` frame.  `spares` are the
    pristine Python children (python.Spare) to keep and `lean` the lean fork
    server (lean.LeanServer) or None: each must still be pristine after the
    wipe, else the wipe fails (the caller discards them)."""
    wid = obj.get("id") if isinstance(obj.get("id"), str) else ""
    if os.getpid() != 1 or not privileged():
        # Outside its container (a runner started by hand or by the runner
        # tests) /tmp and /dev/shm are the host's: never empty them.
        return {"type": "wiped", "id": wid, "ok": False, "duration_ms": 0,
                "reason": "wipe refused: the runner is not the container's init",
                "checks": {"processes": -1, "ipc": -1, "files": -1, "env": -1}}
    t0 = time.monotonic()
    reason = ""
    refused = False
    keep = frozenset([sp.pid for sp in spares] + ([lean.pid] if lean else []))
    keep_files = frozenset(sp.state_path for sp in spares
                           if sp.state_id is not None)
    kill_all(keep)
    try:
        remove_ipc()
    except OSError as e:
        reason = "cannot remove IPC objects: %s" % e
    for q in _listing(MQUEUE_DIR):
        try:
            os.unlink(MQUEUE_DIR + "/" + q)
        except OSError:
            pass
    budget = WIPE_MAX_ENTRIES
    try:
        for d in USER_DIRS:
            budget = _empty_dir(d, budget)
        for p in _state_files():
            if p not in keep_files:
                try:
                    os.unlink(p)
                except OSError:
                    pass
        make_user_dir(HOME_DIR)
        make_user_dir("/tmp/matplotlib")
    except TooMany:
        refused = True
        reason = "more than %d files to remove" % WIPE_MAX_ENTRIES
    except OSError as e:
        reason = "cannot reset the user dirs: %s" % e
    if _start_env is not None and dict(os.environ) != _start_env:
        os.environ.clear()
        os.environ.update(_start_env)
    checks, found = check(keep, keep_files)
    if not all(sp.pristine() for sp in spares):
        reason = reason or "a spare Python child is no longer pristine"
    if lean is not None and not lean.pristine():
        reason = reason or "the lean fork server is no longer pristine"
    ok = not refused and not reason and not any(checks.values())
    if not ok and not reason:
        reason = "left behind: " + ", ".join(found[:4])
    return {"type": "wiped", "id": wid, "ok": ok, "reason": reason[:512],
            "checks": checks, "duration_ms": int(round((time.monotonic() - t0) * 1000))}
