"""Every language but Python: the code is written to a private build
directory /run/ci/work/build/<n>/, compiled if the language needs it (LANGS in
config.py), run with cwd /mnt/data, and the directory removed.  The runner
(root) writes the sources into a directory it has just made, then hands the
directory to the sandbox user; compiler and program run as that user."""

import os
import re
import shutil
import sys
import time

from . import resident
from .config import BUILD_ROOT, LANGS, TS_FAST_JS
from .frames import error_frame, result
from .identity import give_to_user
from .procs import Capture, classify, oom_kills, spawn
from .ptc import Channel, bash_env

_build_seq = 0


def java_names(code):
    """(source file stem, class to run) following Java's rules.

    The file is named after the public top-level class (javac requires it),
    else Main.  The class run is the one declaring `static void main`
    (the nearest class declared before it), package-qualified.
    """
    pkg = re.search(r"^\s*package\s+([\w.]+)\s*;", code, re.M)
    pub = re.search(r"\bpublic\s+(?:(?:final|abstract|strictfp)\s+)*"
                    r"(?:class|interface|enum|record)\s+(\w+)", code)
    stem = pub.group(1) if pub else "Main"
    main_cls = stem
    m = re.search(r"\bstatic\s+(?:final\s+)?void\s+main\s*\(", code) or \
        re.search(r"\bvoid\s+main\s*\(", code)
    if m:
        decls = list(re.finditer(
            r"\b(?:class|interface|enum|record)\s+(\w+)", code[:m.start()]))
        if decls:
            main_cls = decls[-1].group(1)
    if pkg:
        main_cls = pkg.group(1) + "." + main_cls
    return stem, main_cls


def resident_compile(req, subst, deadline, ctl):
    """Compile with the container's resident compiler (resident.py) when
    the language has one: (0, b"") compiled, (rc, diagnostics) failed,
    ("timeout", b""), "closed" (the worker hung up), or None: no helper or
    it failed, take the one-shot compiler of config.LANGS."""
    h = resident.helper(req["lang"])
    if h is None:
        return None
    got = h.compile(subst["src"], subst["dir"], deadline, ctl)
    if got == "timeout":
        return "timeout", b""
    return got


def run_compiled(req, ctl):
    global _build_seq
    spec = LANGS[req["lang"]]
    _build_seq += 1
    bdir = "%s/%d" % (BUILD_ROOT, _build_seq)
    oom_before = oom_kills()
    t0 = time.monotonic()
    deadline = t0 + req["timeout_ms"] / 1000.0
    cap = req["max_output"]
    try:
        os.makedirs(BUILD_ROOT, exist_ok=True)
        if os.path.lexists(bdir):
            shutil.rmtree(bdir, ignore_errors=True)
        os.mkdir(bdir, 0o755)   # root's until the sources are in
        subst = {"dir": bdir, "bin": bdir + "/main", "cls": "Main",
                 "main": "Main"}
        if req["lang"] == "java":
            subst["cls"], subst["main"] = java_names(req["code"])
        subst["src"] = bdir + "/" + spec["src"].format(**subst)
        with open(subst["src"], "w", encoding="utf-8") as f:
            f.write(req["code"])
        env = dict(os.environ)
        if req["lang"] == "ts":
            with open(bdir + "/tsc-fast.js", "w") as f:
                f.write(TS_FAST_JS)
            tsc = shutil.which("tsc")
            if tsc:
                env["CI_TS_LIB"] = os.path.dirname(
                    os.path.dirname(os.path.realpath(tsc)))
        give_to_user(bdir)   # the compiler (the sandbox user) writes here
    except OSError as e:
        return error_frame(req["id"], "cannot prepare build dir: %s" % e), False
    try:
        got = resident_compile(req, subst, deadline, ctl)
        if got == "closed":
            return None, True
        if got is not None:
            rc, diag = got
            if rc != 0:
                cerr = Capture(cap)
                cerr.feed(diag)
                st = "timeout" if rc == "timeout" else "failed"
                return result(req, st, 137 if st == "timeout" else 1,
                              Capture(cap), cerr, time.monotonic() - t0,
                              [], 0), False
        elif spec["compile"]:
            cenv = dict(env, TMPDIR=bdir)
            argv = [a.format(**subst) for a in spec["compile"]]
            st_raw, to, closed, cout, cerr = spawn(
                argv, cenv, deadline, cap, cap, ctl, merge_stdout=True)
            if to or st_raw is None or not os.WIFEXITED(st_raw) or \
                    os.WEXITSTATUS(st_raw) != 0:
                st, rc = classify(st_raw, to, False, oom_before)
                if st == "completed":
                    st, rc = "failed", 1
                dur = time.monotonic() - t0
                return result(req, st, rc, Capture(cap), cerr, dur,
                              [], 0), closed
        argv = [a.format(**subst) for a in spec["run"]] + list(req["args"])
        chan = None
        if req.get("tools"):   # programmatic tool calling: bash functions
            with open(bdir + "/ptc_tools.sh", "w") as f:
                f.write(bash_env(req["tools"], sys.executable))
            env["BASH_ENV"] = bdir + "/ptc_tools.sh"
            chan = Channel(req, ctl)
        try:
            st_raw, to, closed, out, err = spawn(argv, env, deadline, cap, cap,
                                                 ctl, hook=chan)
        finally:
            if chan is not None:
                chan.close()
        st, rc = classify(st_raw, to, False, oom_before)
        if chan is not None and chan.end_reason:
            end_note(err, chan.end_reason)
            st, rc = "failed", 1
        return result(req, st, rc, out, err, time.monotonic() - t0,
                      [], 0), closed
    finally:
        shutil.rmtree(bdir, ignore_errors=True)
