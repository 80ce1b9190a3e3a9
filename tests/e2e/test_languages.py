"""End-to-end: every language through POST /exec (real HTTP, real worker,
real images): a program printing the sum of 1..10 answers "55\\n"; a C,
ts or java compile error is a failed run with the compiler's message in
stderr (ts and java twice in one session: the resident compilers too).
"""
import os
import sys

from stack import SKIP, Stack, require_docker_image, run_cases

SUM = {
    "py": "print(sum(range(1, 11)))",
    "js": "let s = 0; for (let i = 1; i <= 10; i++) s += i; console.log(s);",
    "ts": "const n: number[] = [...Array(10).keys()].map(i => i + 1);\n"
          "console.log(n.reduce((a: number, b: number) => a + b, 0));",
    "go": "package main\nimport \"fmt\"\nfunc main() {\n s := 0\n for i := 1; i <= 10; i++ { s += i }\n"
          " fmt.Println(s)\n}\n",
    "java": "public class Sum {\n  public static void main(String[] a) {\n    int s = 0;\n"
            "    for (int i = 1; i <= 10; i++) s += i;\n    System.out.println(s);\n  }\n}\n",
    "c": "#include <stdio.h>\nint main(void) { int s = 0; for (int i = 1; i <= 10; i++) s += i;"
         " printf(\"%d\\n\", s); return 0; }\n",
    "cpp": "#include <iostream>\n#include <numeric>\n#include <vector>\nint main() {\n"
           " std::vector<int> v(10); std::iota(v.begin(), v.end(), 1);\n"
           " std::cout << std::accumulate(v.begin(), v.end(), 0) << std::endl; }\n",
    "php": "<?php echo array_sum(range(1, 10)), \"\\n\";",
    "rs": "fn main() { let s: i32 = (1..=10).sum(); println!(\"{}\", s); }\n",
    "r": "cat(sum(1:10), \"\\n\", sep = \"\")",
    "f90": "program sum10\n  integer :: i, s\n  s = 0\n  do i = 1, 10\n    s = s + i\n  end do\n"
           "  print '(I0)', s\nend program sum10\n",
    "d": "import std.stdio;\nvoid main() { int s = 0; foreach (i; 1 .. 11) s += i; writeln(s); }\n",
    "bash": "s=0; for i in $(seq 1 10); do s=$((s + i)); done; echo $s",
}


def run_sum(lang):
    require_docker_image("code-interpreter/%s:%s" % (lang, os.environ.get("IMAGE_TAG", "latest")))
    with Stack() as s:
        r = s.exec({"lang": lang, "code": SUM[lang]}, timeout=180)
        j = r.json()
        assert r.status == 200, (r.status, r.body)
        assert j["status"] == "completed" and j["exit_code"] == 0, j
        assert j["stdout"] == "55\n", j


def case_compile_error_c():
    require_docker_image("code-interpreter/c:" + os.environ.get("IMAGE_TAG", "latest"))
    with Stack() as s:
        j = s.exec({"lang": "c", "code": "int main(void) { return undefined_name; }\n"}).json()
        assert j["status"] == "failed" and j["exit_code"] != 0, j
        assert "undefined_name" in j["stderr"] and "error" in j["stderr"], j
        assert j["stdout"] == "", j


def compile_error(lang, code, needles):
    """A compile error through the stack, twice in one session (the second
    compile is the resident compiler's once it is warm): failed, non-zero
    exit code, the compiler's message in stderr, nothing run."""
    require_docker_image("code-interpreter/%s:%s" % (lang, os.environ.get("IMAGE_TAG", "latest")))
    with Stack() as s:
        sid = None
        for _ in range(2):
            body = {"lang": lang, "code": code}
            if sid:
                body["session_id"] = sid
            j = s.exec(body, timeout=180).json()
            sid = j.get("session_id", sid)
            assert j["status"] == "failed" and j["exit_code"] != 0, j
            for n in needles:
                assert n in j["stderr"], (n, j)
            assert j["stdout"] == "", j


CASES = {lang: (lambda l=lang: run_sum(l)) for lang in SUM}
CASES["compile_error_c"] = case_compile_error_c
CASES["compile_error_ts"] = lambda: compile_error(
    "ts", "let x: number = ;\nconsole.log('ran');\n", ["error TS1109", "Expression expected"])
CASES["compile_error_java"] = lambda: compile_error(
    "java", "public class Main {\n  public static void main(String[] a) {\n"
    "    int x = \"s\";\n    System.out.println(\"ran\");\n  }\n}\n",
    ["Main.java:3", "incompatible types"])

if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv))
