#!/usr/bin/env bash
# ops/check.sh [build dir] - the habits check, also `cmake --build build
# --target check`:
#   1. format: every tracked .c/.h file passes `clang-format --dry-run
#      -Werror` against .clang-format, except the files named in
#      .clang-format-exempt (older files, by file name; that list only
#      shrinks);
#   2. a warnings-as-errors build: the build dir itself when it was
#      configured with -DCI_WERROR=ON, else <build dir>/check-werror
#      (configured once with the same build type and sanitizers);
#   3. the quick test tier: ctest -L unit in that build.
# Exits non-zero at the first step that fails.  Needs clang-format 14
# (ops/bootstrap.sh installs it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
jobs="${CHECK_JOBS:-2}"
cd "$root"

command -v clang-format >/dev/null || { echo "check: clang-format missing (bash ops/bootstrap.sh)" >&2; exit 1; }
exempt="$(grep -v '^#' .clang-format-exempt | sed '/^$/d' || true)"
bad=0 n=0
while IFS= read -r f; do
    if grep -qxF "$(basename "$f")" <<<"$exempt"; then continue; fi
    n=$((n + 1))
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "check: $f is not formatted (clang-format -i $f)" >&2
        bad=$((bad + 1))
    fi
done < <(git ls-files '*.c' '*.h')
[ "$bad" -eq 0 ] || { echo "check: $bad file(s) not formatted" >&2; exit 1; }
echo "check: format ok ($n files; $(grep -c . <<<"$exempt" || true) exempt)"

cache_of() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
werror="$(cache_of CI_WERROR)"
case "$werror" in
ON | on | TRUE | true | 1 | YES | yes) wbuild="$build" ;;
*)
    wbuild="$build/check-werror"
    if [ ! -f "$wbuild/CMakeCache.txt" ]; then
        cmake -S "$root" -B "$wbuild" -DCI_WERROR=ON \
            -DCMAKE_BUILD_TYPE="$(cache_of CMAKE_BUILD_TYPE)" \
            -DCI_SANITIZE="$(cache_of CI_SANITIZE)" >/dev/null
    fi
    ;;
esac
cmake --build "$wbuild" -j"$jobs"
echo "check: warnings-as-errors build ok ($wbuild)"
(cd "$wbuild" && ctest -L unit -j"$jobs" --output-on-failure)
echo "check: ok"
