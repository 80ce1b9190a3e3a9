"""Language table, protocol limits, paths and log() (see server.py)."""

import os

# --------------------------------------------------------------------------
# Language table: the one place that says how each language is built and run.
# {src} source path, {bin} binary path, {dir} build dir, {cls} Java class.
# "needs": executables that must be on PATH for the language to be offered.
# "compile": None for interpreted languages.
# --------------------------------------------------------------------------
LANGS = {
    "js": {"src": "main.js", "needs": ["node"], "compile": None,
           "run": ["node", "{src}"]},
    "ts": {"src": "main.ts", "needs": ["node", "tsc"],
           "compile": ["node", "{dir}/tsc-fast.js", "{src}", "{dir}/main.js"],
           "run": ["node", "{dir}/main.js"]},
    "go": {"src": "main.go", "needs": ["go"],
           "compile": ["go", "build", "-o", "{bin}", "{src}"],
           "run": ["{bin}"]},
    "java": {"src": "{cls}.java", "needs": ["javac", "java"],
             "compile": ["javac", "-J-XX:+UseSerialGC",
                         "-J-XX:TieredStopAtLevel=1", "-encoding", "UTF-8",
                         "-d", "{dir}", "{src}"],
             # C1 only: a hello world starts in about half the time (no C2
             # compiler threads competing for the sandbox's CPU); long
             # number crunching runs slower than with C2 (docs/languages.md)
             "run": ["java", "-XX:+UseSerialGC", "-XX:-UsePerfData",
                     "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", "{dir}",
                     "{main}"]},
    "c": {"src": "main.c", "needs": ["gcc"],
          "compile": ["gcc", "-O1", "-o", "{bin}", "{src}", "-lm"],
          "run": ["{bin}"]},
    "cpp": {"src": "main.cpp", "needs": ["g++"],
            "compile": ["g++", "-O1", "-std=c++17", "-o", "{bin}", "{src}"],
            "run": ["{bin}"]},
    "php": {"src": "main.php", "needs": ["php"], "compile": None,
            "run": ["php", "{src}"]},
    "rs": {"src": "main.rs", "needs": ["rustc"],
           "compile": ["rustc", "-O", "-o", "{bin}", "{src}"],
           "run": ["{bin}"]},
    "r": {"src": "main.r", "needs": ["Rscript"], "compile": None,
          "run": ["Rscript", "{src}"]},
    "f90": {"src": "main.f90", "needs": ["gfortran"],
            "compile": ["gfortran", "-o", "{bin}", "{src}"],
            "run": ["{bin}"]},
    "d": {"src": "main.d", "needs": ["gdc"],
          "compile": ["gdc", "-o", "{bin}", "{src}"],
          "run": ["{bin}"]},
    "bash": {"src": "main.sh", "needs": ["bash"], "compile": None,
             "run": ["bash", "{src}"]},
}

PROTO_VERSION = 1
MAX_FRAME = 64 << 20
MAX_OUTPUT_CAP = 4 << 20          # per stream; keeps a result < MAX_FRAME
DEFAULT_MAX_OUTPUT = 64 << 10
DEFAULT_TIMEOUT_MS = 30000
MAX_WARNINGS = 100
MAX_WARNING_CHARS = 1024           # per warning (the worker caps again)
RUN_DIR = "/run/ci"
DATA_DIR = "/mnt/data"
STATE_IN = RUN_DIR + "/state.in"
STATE_OUT = RUN_DIR + "/state.out"
STATE_TMP = RUN_DIR + "/state.out.tmp"
WORK_DIR = RUN_DIR + "/work"      # a bounded tmpfs (exec) the worker mounts
BUILD_ROOT = WORK_DIR + "/build"
HOME_DIR = WORK_DIR + "/home"
DRAIN_GRACE_S = 0.05   # after exit, wait this long for leftover pipe writers

# Transpile-only TypeScript (no type check): one node process, no tsc CLI.
TS_FAST_JS = r"""
const fs = require('fs');
// by absolute path: a bare require('typescript') would search the user's
// home (~/.node_modules) and /mnt/data first
const ts = require(process.env.CI_TS_LIB || 'typescript');
const [src, out] = process.argv.slice(2);
const r = ts.transpileModule(fs.readFileSync(src, 'utf8'), {
  fileName: 'main.ts', reportDiagnostics: true,
  compilerOptions: { module: ts.ModuleKind.CommonJS,
                     target: ts.ScriptTarget.ES2020, esModuleInterop: true }});
const d = r.diagnostics || [];
if (d.length) {
  process.stderr.write(ts.formatDiagnostics(d, {
    getCanonicalFileName: f => f, getCurrentDirectory: () => '.',
    getNewLine: () => '\n' }));
  process.exit(1);
}
fs.writeFileSync(out, r.outputText);
"""


def log(msg):
    try:
        os.write(2, ("runner: %s\n" % msg).encode("utf-8", "replace"))
    except OSError:
        pass
