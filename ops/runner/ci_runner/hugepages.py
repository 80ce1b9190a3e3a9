"""Huge pages for the Python fork server: cheaper forks and exits.

Every Python run that needs the scientific stack is a fork of the full
fork server (server.py).  A fork copies one page-table entry per 4 KiB
page of the parent's private memory (about 60 MB once numpy, pandas and
matplotlib are imported) and takes a reference on every page; the child's
exit drops them all again.  On this kind of virtual machine that is most
of such a call's CPU time (docs/pool.md).  A 2 MiB transparent huge page
is one entry and one reference.

So after the idle imports, collapse() asks the kernel (MADV_COLLAPSE,
Linux 6.1+) to back every 2 MiB-aligned stretch of private anonymous
memory that is (nearly) full by one huge page: about 20-30 MB of the 60
here (the rest sits in pymalloc's 1 MiB arenas, which rarely fill an
aligned 2 MiB stretch).  A process that writes into a huge page shared
with a child gets its own 4 KiB copy as before (the kernel splits the
mapping in the writer only), so the fork server slowly loses some of them
to its own writes: about 12 MB stay, measured over hundreds of calls.
Contents never change.

Rejected: running the fork server with PYTHONMALLOC=malloc and glibc's
hugetlb tunable (twice the memory in huge pages, but every fault in the
heap may then stall in compaction: container start-up cost 0.2-0.6 s more
CPU in half the runs here, and user programs would run on another
allocator).

Best effort: a kernel without MADV_COLLAPSE or with THP "never" leaves
everything as it was.  CI_RUNNER_HUGEPAGES=0 turns it off.
"""

import ctypes
import os
import struct

MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25
HUGE = 2 << 20
PAGE = 4096
# a stretch is collapsed only when at least this many of its 512 pages are
# in use: a huge page for a sparse stretch would raise the resident size
MIN_PRESENT = 480


def enabled():
    return os.environ.get("CI_RUNNER_HUGEPAGES", "1") != "0"


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
