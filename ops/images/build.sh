#!/usr/bin/env bash
# ops/images/build.sh [lang...] - build the sandbox images, cached by recipe hash.
#
#   code-interpreter/base:<hash>, :latest   mmdebstrap rootfs (base/), imported
#   code-interpreter/<lang>-tools:latest    + toolchain (<lang>/Dockerfile)
#   code-interpreter/<lang>:$IMAGE_TAG      + /opt/ci/runner.py (runner-layer/)
#
# The runner is the last, thin layer, so a runner change rebuilds about a
# second per language and never a toolchain or the rootfs.
# Every image carries the label com.code-interpreter.recipe-hash; an image
# whose label already matches its recipe is not rebuilt, so a second run does
# nothing.  Hashes chain: base = sha256(base recipe files, codename, arch);
# <lang>-tools = sha256(base hash, <lang>/Dockerfile);
# <lang> = sha256(<lang>-tools hash, runner-layer/Dockerfile, runner.py,
# ci_runner/*.py).
# The rootfs tarball is kept in var/cache/images/ so a lost base image is
# re-imported without running mmdebstrap again.
#
# Env: IMAGE_TAG (tag of the per-language images, default latest: a private
# tag such as `sbx` builds a runner under test without touching :latest),
# RUNNER_PY (default ops/runner/runner.py; its ci_runner/ beside it), JOBS (parallel language
# builds, default 2), FORCE=1 (ignore the cache).  Logs: var/log/images/.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

ALL_LANGS=(py js ts go java c cpp php rs r f90 d bash)
LABEL=com.code-interpreter.recipe-hash
IMG_DIR="$CI_ROOT/ops/images"
CACHE="$CI_VAR/cache/images"
LOGS="$CI_VAR/log/images"
RUNNER_PY="${RUNNER_PY:-$CI_ROOT/ops/runner/runner.py}"
JOBS="${JOBS:-2}"
FORCE="${FORCE:-0}"
IMAGE_TAG="${IMAGE_TAG:-latest}"
[[ "$IMAGE_TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || ci_die "bad IMAGE_TAG '$IMAGE_TAG'"
mkdir -p "$CACHE" "$LOGS"
# One build at a time per checkout (two would race on tags and the tarball).
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
    ci_log "another build.sh is running; waiting for it"
    flock 9
fi
# The legacy builder: dockerd 20.10's BuildKit needs the buildx plugin with
# newer clients, and these builds need nothing BuildKit adds.
export DOCKER_BUILDKIT=0

langs=("$@")
[ "${#langs[@]}" -gt 0 ] || langs=("${ALL_LANGS[@]}")
for l in "${langs[@]}"; do
    [ -f "$IMG_DIR/$l/Dockerfile" ] && [ "$l" != runner-layer ] ||
        ci_die "unknown language '$l' (known: ${ALL_LANGS[*]})"
done
[ -f "$RUNNER_PY" ] || ci_die "runner not found: $RUNNER_PY (set RUNNER_PY to override)"
ci_docker_ok || ci_die "dockerd does not answer (run ops/start-deps.sh)"

sha() { sha256sum | cut -c1-64; }
# image_hash IMAGE: the recipe-hash label of IMAGE, empty when absent.
image_hash() {
    docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true
}
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
# drop_old OLD_ID NEW_REF: remove the image a rebuild replaced (best effort;
# it stays when a container still uses it).
drop_old() {
    local new
    new="$(image_id "$2")"
    if [ -n "$1" ] && [ "$1" != "$new" ]; then
        docker rmi "$1" >/dev/null 2>&1 || true
    fi
}
fail_log() {
    ci_warn "$1 failed; last lines of $2:"
    tail -n 30 "$2" >&2 || true
}

t_start=$(ci_now)
total=$((${#langs[@]} + 1))

# ---- 1. base rootfs -------------------------------------------------------
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
arch="$(dpkg --print-architecture)"
base_hash="$( (cat "$IMG_DIR/base/packages.txt" "$IMG_DIR/base/mkrootfs.sh" \
    "$IMG_DIR/base/customize.sh" "$IMG_DIR/base/apt-sources.py"
    echo "$codename $arch") | sha)"
base_tag="${base_hash:0:16}"
base_ref="code-interpreter/base:$base_tag"
log="$LOGS/base.log"
printf '[1/%d] building %s ... ' "$total" "$base_ref"
t0=$(ci_now)
if [ "$FORCE" != 1 ] && [ "$(image_hash "$base_ref")" = "$base_hash" ]; then
    echo "cached"
else
    echo "(log $log)"
    tar="$CACHE/base-$base_tag.tar"
    : >"$log"
    if [ "$FORCE" = 1 ] || [ ! -s "$tar" ]; then
        ci_log "  mmdebstrap $codename -> $tar"
        if ! bash "$IMG_DIR/base/mkrootfs.sh" "$codename" "$tar.tmp" >>"$log" 2>&1; then
            rm -f "$tar.tmp"
            fail_log "mmdebstrap" "$log"
            exit 1
        fi
        mv "$tar.tmp" "$tar"
        # keep only the current tarball
        find "$CACHE" -maxdepth 1 -name 'base-*.tar' ! -name "base-$base_tag.tar" -delete
    fi
    ci_log "  docker import $tar"
    if ! docker import \
        --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change "ENV LANG=C.UTF-8" \
        --change "LABEL $LABEL=$base_hash" \
        --change 'CMD ["/bin/bash"]' \
        "$tar" "$base_ref" >>"$log" 2>&1; then
        fail_log "docker import" "$log"
        exit 1
    fi
    echo "[1/$total] building $base_ref ... built in $(($(ci_now) - t0)) s"
    # untag older bases (their layers go once no image uses them)
    for t in $(docker images code-interpreter/base --format '{{.Tag}}'); do
        [ "$t" = latest ] || [ "$t" = "$base_tag" ] ||
            docker rmi "code-interpreter/base:$t" >/dev/null 2>&1 || true
    done
fi
docker tag "$base_ref" code-interpreter/base:latest

# ---- 2. languages: toolchain, then runner layer ---------------------------
RUNNER_PKG="$(dirname "$RUNNER_PY")/ci_runner"
[ -d "$RUNNER_PKG" ] || ci_die "runner modules not found: $RUNNER_PKG"
runner_sum="$( (sha <"$RUNNER_PY"; for f in "$RUNNER_PKG"/*.py; do basename "$f"; sha <"$f"; done
    cat "$IMG_DIR/runner-layer/Dockerfile") | sha)"
ctx="$CACHE/ctx-runner-layer"
rm -rf "$ctx"
mkdir -p "$ctx"
install -m 0644 "$RUNNER_PY" "$ctx/runner.py"
install -d "$ctx/ci_runner"
install -m 0644 "$RUNNER_PKG"/*.py "$ctx/ci_runner/"
cp "$IMG_DIR/runner-layer/Dockerfile" "$ctx/Dockerfile"

# build_image REF HASH LOG DOCKER-BUILD-ARGS...: builds REF unless its label
# is HASH; appends the build output to LOG.  Prints "cached" or "built".
build_image() {
    local ref=$1 h=$2 log=$3 old
    shift 3
    if [ "$FORCE" != 1 ] && [ "$(image_hash "$ref")" = "$h" ]; then
        echo cached
        return 0
    fi
    old="$(image_id "$ref")"
    echo "=== docker build $ref" >>"$log"
    docker build --network host --label "$LABEL=$h" -t "$ref" "$@" >>"$log" 2>&1 || return 1
    drop_old "$old" "$ref"
    echo built
}

# build_lang INDEX LANG: builds code-interpreter/LANG-tools and
# code-interpreter/LANG; prints one result line.
build_lang() {
    local i=$1 l=$2 ref="code-interpreter/$2:$IMAGE_TAG" tools="code-interpreter/$2-tools:latest"
    local log="$LOGS/$2.log" th h t0 r1 r2
    th="$( (echo "$base_hash"; cat "$IMG_DIR/$l/Dockerfile") | sha)"
    h="$( (echo "$th" "$runner_sum") | sha)"
    t0=$(ci_now)
    if [ "$FORCE" != 1 ] && [ "$(image_hash "$ref")" = "$h" ] &&
        [ "$(image_hash "$tools")" = "$th" ]; then
        echo "[$i/$total] building $ref ... cached"
        return 0
    fi
    echo "[$i/$total] building $ref ... started (log $log)"
    : >"$log"
    if ! r1="$(build_image "$tools" "$th" "$log" -f "$IMG_DIR/$l/Dockerfile" "$IMG_DIR/$l")" ||
        ! r2="$(build_image "$ref" "$h" "$log" --build-arg "TOOLS=$tools" "$ctx")"; then
        echo "[$i/$total] building $ref ... FAILED after $(($(ci_now) - t0)) s"
        fail_log "docker build $ref" "$log"
        return 1
    fi
    echo "[$i/$total] building $ref ... built in $(($(ci_now) - t0)) s (toolchain $r1, runner $r2)"
}

# Each build leaves <lang>.ok or <lang>.failed in $status (parallel-safe).
status="$(mktemp -d)"
trap 'rm -rf "$status"' EXIT
run_one() { if build_lang "$@"; then : >"$status/$2.ok"; else : >"$status/$2.failed"; fi; }
i=1
for l in "${langs[@]}"; do
    i=$((i + 1))
    if [ "$JOBS" -le 1 ]; then
        run_one "$i" "$l"
        continue
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
        wait -n || true
    done
    run_one "$i" "$l" &
done
wait
failed="$(find "$status" -name '*.failed' | wc -l)"
if [ "$failed" -gt 0 ]; then
    ci_die "$failed image(s) failed to build (logs in $LOGS)"
fi
# Drop our own replaced (dangling) images; images of others are untouched.
docker image prune -f --filter "label=$LABEL" >/dev/null 2>&1 || true
ci_log "images ready in $(($(ci_now) - t_start)) s: ${langs[*]}"
