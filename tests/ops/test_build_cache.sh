#!/usr/bin/env bash
# ops/images/build.sh caches by recipe hash: once code-interpreter/bash is
# built, a second run rebuilds nothing (base and bash both report "cached")
# and leaves the image id unchanged.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
fail() { echo "FAIL: $*"; exit 1; }

bash "$root/ops/images/build.sh" bash || fail "first build.sh bash failed"
id1="$(docker image inspect -f '{{.Id}}' code-interpreter/bash:latest)"
hash1="$(docker image inspect -f '{{index .Config.Labels "com.code-interpreter.recipe-hash"}}' \
    code-interpreter/bash:latest)"
[ "${#hash1}" -eq 64 ] || fail "recipe-hash label missing on code-interpreter/bash"

out="$(bash "$root/ops/images/build.sh" bash 2>&1)" || { echo "$out"; fail "second build.sh bash failed"; }
echo "$out"
grep -q '^\[1/2\] building code-interpreter/base:[0-9a-f]* \.\.\. cached$' <<<"$out" ||
    fail "base was not reported cached"
grep -q '^\[2/2\] building code-interpreter/bash:latest \.\.\. cached$' <<<"$out" ||
    fail "bash was not reported cached"
! grep -q 'built in' <<<"$out" || fail "second run rebuilt something"
id2="$(docker image inspect -f '{{.Id}}' code-interpreter/bash:latest)"
[ "$id1" = "$id2" ] || fail "image id changed: $id1 -> $id2"
echo PASS
