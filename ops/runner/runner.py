#!/usr/bin/env python3
"""Resident runner: lives in every sandbox image as /opt/ci/runner.py
(this entry point) and /opt/ci/ci_runner/ (the modules, listed in
ci_runner/__init__.py).

Started as the container's command (container root with a few capabilities,
read-only rootfs, no network); every program runs as uid 1000 with none
(ci_runner/identity.py).
It connects to the worker's unix socket (/run/ci/ctl.sock, or $CI_CTL_SOCKET),
sends `hello`, then serves `run` frames one at a time until the worker closes
the connection.  The wire contract is docs/runner-protocol.md.

Frames: 4-byte big-endian length + UTF-8 JSON object, at most 64 MiB.

Python ("py") is served by a fork server: heavy modules (numpy, pandas,
matplotlib with the Agg backend, cloudpickle) are imported once, right after
`hello` while no frame is waiting, and every run is a fork of that warm
process.  Other languages are written to
a private build directory /run/ci/work/build/<n>/, compiled if needed and executed
with cwd /mnt/data.  Every program runs in its own process group with stdout
and stderr on pipes; the runner keeps at most max_output bytes of each and
drains the rest, kills the group on timeout, and after every run kills any
process the program left behind (kill(-1) when the runner is PID 1).

The state file format is in ci_runner/pystate.py.
"""

import sys

if __name__ == "__main__":
    # sys.path[0] is this file's directory
    if sys.argv[1:2] == ["--lean-server"]:   # ci_runner/lean.py
        from ci_runner.lean import serve
        sys.exit(serve(int(sys.argv[2])))
    from ci_runner.server import main
    sys.exit(main())
