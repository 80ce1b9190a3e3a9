"""Huge pages for the Python fork server: cheaper forks and exits.

Every Python run is a fork of the fork server (server.py).  A fork copies
one page-table entry per 4 KiB page of the parent's anonymous memory
(about 60 MB once numpy, pandas and matplotlib are imported) and takes a
reference on every page; the child's exit drops them all again.  On this
kind of virtual machine that was most of a call's CPU time (docs/pool.md).
A 2 MiB transparent huge page is one entry and one reference.

Two steps, both best effort (a kernel with THP "never" or without
MADV_COLLAPSE leaves everything as it was):

1. use_huge_heap(), first thing in runner.py: a runner that will import the
   scientific stack (numpy is installed) re-executes itself once with
   PYTHONMALLOC=malloc and glibc's hugetlb=1 tunable, so Python objects live
   on glibc's heap, which glibc marks MADV_HUGEPAGE and grows in 2 MiB
   steps (pymalloc's 1 MiB arenas never fill an aligned 2 MiB stretch).
   Both variables are removed from the runner's environment right after,
   so no program inherits them.  Measured in the py image: about 43 of the
   63 MB in huge pages, a fork plus the child's exit 45 % less CPU (the
   programs' own speed within noise: their allocations are glibc's too).
2. collapse(), after the idle imports: MADV_COLLAPSE on every 2 MiB-aligned
   stretch of private anonymous memory that is (nearly) full.

A child that writes into a huge page gets its own 4 KiB copy as before:
the kernel splits the mapping in the writer only; contents never change.
CI_RUNNER_HUGEPAGES=0 turns both off.
"""

import ctypes
import os
import struct
import sys

MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE = 2 << 20
PAGE = 4096
# a stretch is collapsed only when at least this many of its 512 pages are
# in use: a huge page for a sparse stretch would raise the resident size
MIN_PRESENT = 480
MARK = "CI_RUNNER_HEAP"
ALLOC_ENV = {"PYTHONMALLOC": "malloc", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}


def enabled():
    return os.environ.get("CI_RUNNER_HUGEPAGES", "1") != "0"


def use_huge_heap():
    """Re-exec this runner once with the allocator settings (when the
    image has numpy and huge pages are not turned off); in the re-executed
    runner, drop the settings from the environment.  Returns normally."""
    if os.environ.pop(MARK, None) is not None:
        for k in ALLOC_ENV:
            os.environ.pop(k, None)
        return
    if not enabled():
        return
    try:
        import importlib.util
        if importlib.util.find_spec("numpy") is None:
            return
    except (ImportError, ValueError):
        return
    env = dict(os.environ, **ALLOC_ENV)
    env[MARK] = "1"
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    except OSError:
        pass   # run as we are


def _anon_ranges():
    """(start, end) of every private writable anonymous mapping (the brk
    heap included)."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 5 or "w" not in parts[1] or parts[1][3] != "p":
                continue
            path = parts[5] if len(parts) > 5 else ""
            if path and path != "[heap]":
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append((lo, hi))
    return out


def _present(pagemap, start):
    """How many of the 512 pages of the stretch at `start` are resident."""
    data = os.pread(pagemap, 8 * (HUGE // PAGE), 8 * (start // PAGE))
    return sum(1 for (v,) in struct.iter_unpack("<Q", data) if v >> 63)


def collapse():
    """Returns the bytes collapsed into huge pages (0 when nothing could be
    done)."""
    if not enabled():
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        pagemap = os.open("/proc/self/pagemap", os.O_RDONLY)
    except (OSError, AttributeError):
        return 0
    done = 0
    try:
        for lo, hi in _anon_ranges():
            start = (lo + HUGE - 1) // HUGE * HUGE
            while start + HUGE <= hi:
                try:
                    full = _present(pagemap, start) >= MIN_PRESENT
                except OSError:
                    full = False
                if full and madvise(start, HUGE, MADV_HUGEPAGE) == 0 and \
                        madvise(start, HUGE, MADV_COLLAPSE) == 0:
                    done += HUGE
                start += HUGE
    finally:
        os.close(pagemap)
    return done
