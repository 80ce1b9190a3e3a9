#!/usr/bin/env python3
"""runner_resident.py - the per-language cases of tests/runner/test_runner.py
(lang_<lang>: a sum program and a broken one in every language) and the
resident-compiler cases (resident_<attack>_<lang>).

ops/runner/ci_runner/resident.py: one warm compiler per container (node +
typescript, a javac JVM), uid 1000 like the programs.  The attacks are
bash programs of the same container (the ts and java images offer bash):
they run as the user the helper runs as.
"""

import os
import time

from runner_harness import Fail, check, expect, runner_log

SUM_PROGRAMS = {
    "js": "let s = 0; for (let i = 1; i <= 10; i++) s += i; console.log(s);",
    "ts": "const n: number[] = [1,2,3,4,5,6,7,8,9,10];\n"
          "console.log(n.reduce((a: number, b: number) => a + b, 0));",
    "go": "package main\nimport \"fmt\"\nfunc main() {\n s := 0\n"
          " for i := 1; i <= 10; i++ { s += i }\n fmt.Println(s)\n}\n",
    "java": "import java.util.*;\npublic class Summer {\n"
            "  public static void main(String[] a) {\n    int s = 0;\n"
            "    for (int i = 1; i <= 10; i++) s += i;\n"
            "    System.out.println(s);\n  }\n}\n",
    "c": "#include <stdio.h>\n#include <math.h>\nint main(void){int s=0;"
         "for(int i=1;i<=10;i++)s+=i;printf(\"%d\\n\",(int)sqrt(s*s));"
         "return 0;}\n",
    "cpp": "#include <iostream>\n#include <vector>\n#include <numeric>\n"
           "int main(){std::vector<int> v(10);std::iota(v.begin(),v.end(),1);"
           "std::cout<<std::accumulate(v.begin(),v.end(),0)<<std::endl;}\n",
    "php": "<?php\necho array_sum(range(1, 10)), \"\\n\";\n",
    "rs": "fn main() { let s: i32 = (1..=10).sum(); println!(\"{}\", s); }\n",
    "r": "cat(sum(1:10), \"\\n\", sep = \"\")\n",
    "f90": "program sum\n  integer :: i, s\n  s = 0\n  do i = 1, 10\n"
           "    s = s + i\n  end do\n  print '(I0)', s\nend program sum\n",
    "d": "import std.stdio;\nvoid main() { int s = 0; "
         "foreach (i; 1 .. 11) s += i; writeln(s); }\n",
    "bash": "s=0; for i in $(seq 1 10); do s=$((s+i)); done; echo $s\n",
}

BROKEN_PROGRAMS = {
    "js": "console.log(;", "ts": "let x: number = ;", "go": "package main\nfunc main() { x }",
    "java": "public class Main { void }", "c": "int main(void) { return x; }",
    "cpp": "int main() { return x; }", "php": "<?php echo (;",
    "rs": "fn main() { let x: i32 = \"s\"; }", "r": "cat((1,\n",
    "f90": "program p\n  x = \nend program p\n", "d": "void main() { x }",
    "bash": "if then fi",
}


def lang_case(lang):
    def run_case(s):
        check(lang in s.hello["langs"], "hello lacks %s" % lang, s.hello)
        res = s.run(SUM_PROGRAMS[lang], lang=lang, timeout_ms=60000)
        expect(res, "completed", 0, "55\n")
        t0 = time.monotonic()
        res = s.run(SUM_PROGRAMS[lang], lang=lang, timeout_ms=60000)
        print("%s: second run %.0f ms" % (lang, (time.monotonic() - t0) * 1e3))
        res = s.run(BROKEN_PROGRAMS[lang], lang=lang, timeout_ms=60000)
        check(res["status"] == "failed" and res["exit_code"] != 0,
              "broken program must fail", res)
        check(res["stderr"] != "", "compile/parse error text in stderr", res)
        check(os.listdir(s.data_dir) == [], "sources leaked into data dir",
              os.listdir(s.data_dir))
    return run_case


HELPER_MARK = {"ts": "ts-server.js", "java": "CiJavacServer"}
FIND_HELPER = ("hp=; for p in /proc/[0-9]*; do "
               "if tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q %s; then "
               "hp=${p#/proc/}; fi; done; echo \"helper=$hp\"\n")
LONG = 180000   # ms: a loaded 2-core machine; never a timing assertion


def helper_pids(s, lang):
    """Pids of uid-1000 processes running the helper, seen from inside."""
    res = s.run(FIND_HELPER % HELPER_MARK[lang], lang="bash", timeout_ms=LONG)
    expect(res, "completed", 0)
    return [int(x) for x in res["stdout"].split("=", 1)[1].split()]


def until_resident(s, lang):
    """Runs the sum program until a run is compiled by a warm helper (no
    "warming up"/"one-shot" line logged during it); fails after 60 runs."""
    for _ in range(60):
        before = runner_log(s).count("resident %s:" % lang)
        res = s.run(SUM_PROGRAMS[lang], lang=lang, timeout_ms=LONG)
        expect(res, "completed", 0, "55\n")
        if runner_log(s).count("resident %s:" % lang) == before:
            return
        time.sleep(0.5)
    raise Fail("the %s helper never served a run" % lang)


def resident_case(lang, attack):
    def run_case(s):
        check(lang in s.hello["langs"], "hello lacks %s" % lang, s.hello)
        until_resident(s, lang)
        attack(s, lang)
    return run_case


def attack_errors(s, lang):
    """Compile errors through the helper: failed, the compiler's text."""
    before = runner_log(s).count("resident %s:" % lang)
    res = s.run(BROKEN_PROGRAMS[lang], lang=lang, timeout_ms=LONG)
    check(res["status"] == "failed" and res["exit_code"] != 0, "must fail", res)
    want = "error TS" if lang == "ts" else "error:"
    check(want in res["stderr"], "compiler text in stderr", res)
    check(res["stdout"] == "", "no output", res)
    if lang == "java":   # javac's own message, file and line
        res = s.run("public class Main { public static void main(String[] a) "
                    "{ int x = \"s\"; } }\n", lang=lang, timeout_ms=LONG)
        check(res["status"] == "failed" and "incompatible types" in res["stderr"]
              and "Main.java:1" in res["stderr"], "javac type error", res)
    else:   # a type error does not stop transpilation (as before): it runs
        res = s.run("const x: number = 'a' as any; console.log(typeof x);",
                    lang=lang, timeout_ms=LONG)
        expect(res, "completed", 0, "string\n")
    check(runner_log(s).count("resident %s:" % lang) == before,
          "the helper served these compiles", runner_log(s)[-2000:])
    expect(s.run(SUM_PROGRAMS[lang], lang=lang, timeout_ms=LONG), "completed", 0, "55\n")


def attack_kill(s, lang):
    """A program kills the helper (and, before that, leaves it stopped):
    the next runs are still right, a fresh helper serves later ones."""
    (pid,) = helper_pids(s, lang)
    # leftovers still die while the helper is spared (named, not kill(-1))
    res = s.run("(setsid sleep 1000 &); (sleep 1001 &); echo left", lang="bash",
                timeout_ms=LONG)
    expect(res, "completed", 0, "left\n")
    res = s.run("grep -l '^sleep' /proc/[0-9]*/comm 2>/dev/null | wc -l", lang="bash",
                timeout_ms=LONG)
    expect(res, "completed", 0, "0\n")
    check(helper_pids(s, lang) == [pid], "helper spared by the cleanup")
    res = s.run("kill -STOP %d && echo stopped" % pid, lang="bash", timeout_ms=LONG)
    expect(res, "completed", 0, "stopped\n")
    res = s.run(SUM_PROGRAMS[lang], lang=lang, timeout_ms=LONG)
    expect(res, "completed", 0, "55\n")   # SIGCONTed by the runner
    res = s.run("kill -KILL %d && echo killed; sleep 0.2" % pid, lang="bash",
                timeout_ms=LONG)
    expect(res, "completed", 0, "killed\n")
    res = s.run(SUM_PROGRAMS[lang], lang=lang, timeout_ms=LONG)
    expect(res, "completed", 0, "55\n")
    check("resident %s: helper gone" % lang in runner_log(s), "restart logged",
          runner_log(s)[-2000:])
    until_resident(s, lang)
    pids = helper_pids(s, lang)
    check(len(pids) == 1 and pids[0] != pid, "one fresh helper", pids, pid)


def attack_junk(s, lang):
    """A program writes garbage and forged requests into the helper's stdin
    and forged replies into its stdout (both through /proc/<pid>/fd; where
    the kernel refuses that open, the same bytes go through a pipe the
    program opens on the helper's stdin path: either way the next runs must
    be served right)."""
    (pid,) = helper_pids(s, lang)
    prog = (
        "hp=%d\n"
        "if ! (: > /proc/$hp/fd/0) 2>/dev/null; then echo refused >&2; exit 0; fi\n"
        "set -e\n"
        "n=$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \\n')\n"
        "printf 'junk\\0\\t\\t\\n%%s\\t/etc/passwd\\t/tmp\\n' $n > /proc/$hp/fd/0\n"
        "head -c 300000 /dev/urandom > /proc/$hp/fd/0\n"
        "printf '\\n%%s\\t/mnt/data/x.src\\t/mnt/data\\n' $n > /proc/$hp/fd/0\n"
        "printf '%%032d\\t0\\t5\\nhello00000000000000000000000000000000\\t7\\t999999999\\n' 0"
        " > /proc/$hp/fd/1\n"
        "head -c 30000 /dev/urandom > /proc/$hp/fd/1\n"
        "echo wrote\n") % pid
    res = s.run(prog, lang="bash", timeout_ms=LONG)
    expect(res, "completed", 0)
    check(res["stdout"] == "wrote\n" or res["stderr"] == "refused\n", "junk", res)
    print("junk on the helper's pipes: %s" % ("written" if res["stdout"] else
                                             "open refused by the kernel"))
    res = s.run(SUM_PROGRAMS[lang], lang=lang, timeout_ms=LONG)
    expect(res, "completed", 0, "55\n")
    res = s.run(BROKEN_PROGRAMS[lang], lang=lang, timeout_ms=LONG)
    check(res["status"] == "failed" and res["stderr"] != "", "still fails", res)
    until_resident(s, lang)
    check(os.listdir(s.data_dir) == [], "nothing written in /mnt/data",
          os.listdir(s.data_dir))


def attack_dirs(s, lang):
    """The helper's directories are root's: a program can neither replace
    its source nor plant files beside it; modules planted where a node or
    java would look (home, /mnt/data, /tmp) are never loaded by it."""
    prog = (
        "for f in /run/ci/resident/x /run/ci/resident/ts-server.js "
        "/run/ci/resident/CiJavacServer.java /run/ci/build/x; do\n"
        "  if (echo pwned > $f) 2>/dev/null; then echo \"wrote $f\"; fi\n"
        "done\n"
        "for d in $HOME/.node_modules/typescript /mnt/data/node_modules/typescript "
        "/tmp/node_modules/typescript; do mkdir -p $d && "
        "echo 'process.stdout.write(\"PLANTED\\n\"); process.exit(0)' > $d/index.js; done\n"
        "echo '-XX:+PrintFlagsFinal' > $HOME/.hotspotrc; cp $HOME/.hotspotrc /mnt/data/.hotspotrc\n"
        "mkdir -p /tmp/hsperfdata_sandbox && echo x > /tmp/hsperfdata_sandbox/1\n"
        "hp=; for p in /proc/[0-9]*; do if tr '\\0' ' ' < $p/cmdline 2>/dev/null "
        "| grep -q %s; then hp=${p#/proc/}; fi; done; kill -KILL $hp; echo done\n"
    ) % HELPER_MARK[lang]
    res = s.run(prog, lang="bash", timeout_ms=LONG)
    expect(res, "completed", 0, "done\n")   # no "wrote ..." line
    until_resident(s, lang)                   # a fresh helper, same planted files
    res = s.run(SUM_PROGRAMS[lang], lang=lang, timeout_ms=LONG)
    expect(res, "completed", 0, "55\n")
    check("PLANTED" not in res["stdout"] + res["stderr"], "planted module used", res)


def attack_wipe(s, lang):
    """The wipe between two sessions of one caller (wipe.py) ends the
    helper; the next session is served by a fresh one, never the old."""
    (pid,) = helper_pids(s, lang)
    s.send({"type": "wipe", "id": "w-1"})
    res = s.recv()
    check(res.get("type") == "wiped" and res.get("ok") is True, "wipe ok", res)
    until_resident(s, lang)
    pids = helper_pids(s, lang)
    check(len(pids) == 1 and pids[0] != pid, "a fresh helper after the wipe", pids, pid)
