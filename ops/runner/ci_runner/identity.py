"""Two identities in one container (docs/sandbox.md, "Identity"):

    the runner   container root (uid 0) with only CAP_SETUID, CAP_SETGID,
                 CAP_SETPCAP, CAP_KILL, CAP_CHOWN, CAP_DAC_OVERRIDE,
                 CAP_FOWNER (the worker's create body), PR_SET_DUMPABLE 0;
    the program  every process that runs user code or a compiler on it:
                 forked by the runner, then drop_to_user() before anything
                 of the user's runs: empty capability bounding set, no
                 supplementary groups, real = effective
                 = saved uid/gid SANDBOX_UID/GID (1000), so every capability
                 is gone (and cannot come back: no_new_privs), and every
                 descriptor of the runner's closed.

User code therefore cannot signal, ptrace (also refused by seccomp), open
/proc/1/mem of, or write into the runner; it cannot connect to the worker's
socket (root's, 0600) or write into /run/ci (root's, 0755).

The runner never lets root touch a path the user could have prepared: user
areas (HOME, per-run build dirs) are created fresh by root and only then
handed over with chown; removal goes through shutil.rmtree, which works on
directory descriptors and never follows a symlink.
"""

import ctypes
import os

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
CAP_LAST = 63   # dropping past the kernel's last capability fails (EINVAL): ignored

SANDBOX_UID = int(os.environ.get("CI_SANDBOX_UID", "1000"))
SANDBOX_GID = int(os.environ.get("CI_SANDBOX_GID", "1000"))
# The only descriptor numbers a program may keep besides the ones it is given.
MAX_FD_SCAN = 1 << 16

_libc = None


def _prctl(option, arg):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0),
                   ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def privileged():
    """True when the runner runs as root (the production layout)."""
    return os.geteuid() == 0


def harden_runner():
    """Runner start: not dumpable (no core, /proc/1/* root-only, no
    ptrace attach even by a same-uid process)."""
    _prctl(PR_SET_DUMPABLE, 0)


def close_fds_except(keep):
    """Closes every descriptor >= 3 not in `keep` (close_range where the
    kernel has it, which Python's closerange uses)."""
    lo = 3
    for fd in sorted(k for k in keep if k >= 3) + [MAX_FD_SCAN]:
        if fd > lo:
            os.closerange(lo, fd)
        lo = fd + 1


def drop_to_user():
    """In a freshly forked child, before any user code: become the sandbox
    user for good.  Any failure ends the child (exit 70): user code never
    runs with the runner's identity."""
    try:
        if privileged():
            for cap in range(CAP_LAST + 1):   # CapBnd 0 (needs CAP_SETPCAP)
                try:
                    _prctl(PR_CAPBSET_DROP, cap)
                except OSError:
                    pass
            os.setgroups([])
            os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
            os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        if os.getresuid() != (SANDBOX_UID,) * 3 and privileged():
            raise OSError("uid not dropped")
        # A uid change made the child non-dumpable; the program's own
        # processes are ordinary again (its /proc/self readable by itself).
        _prctl(PR_SET_DUMPABLE, 1)
    except BaseException:
        os._exit(70)


def make_user_dir(path, mode=0o700):
    """Creates `path` (parents as root) owned by the sandbox user.  An
    existing `path` is removed first (it may hold what a program planted)."""
    import shutil
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.mkdir(path, mode)
    if privileged():
        os.chown(path, SANDBOX_UID, SANDBOX_GID)


def give_to_user(path):
    """chown a directory root has just made and filled to the sandbox user."""
    if privileged():
        os.chown(path, SANDBOX_UID, SANDBOX_GID)
