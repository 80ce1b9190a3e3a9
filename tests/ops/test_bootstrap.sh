#!/usr/bin/env bash
# bootstrap.sh, run when everything is installed, installs nothing and says so.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(bash "$root/ops/bootstrap.sh" 2>&1)" || { echo "$out"; echo "FAIL: bootstrap.sh exited non-zero"; exit 1; }
echo "$out"
# A first run may have had to install; the run after it must not.
out="$(bash "$root/ops/bootstrap.sh" 2>&1)"
echo "$out"
grep -Eq 'bootstrap: all [0-9]+ packages present' <<<"$out" ||
    { echo "FAIL: second bootstrap.sh run did not report all packages present"; exit 1; }
if grep -q 'installing' <<<"$out"; then
    echo "FAIL: second bootstrap.sh run installed something"
    exit 1
fi
echo PASS
