#!/usr/bin/env bash
# ops/bootstrap.sh - install the Debian packages the project needs.
#
# Idempotent: asks dpkg which packages are missing and runs apt-get (update +
# install) only for those, so a second run takes about a second.  Uses the
# machine's own apt sources; never names a mirror.
#
#   bash ops/bootstrap.sh            # build, test and run dependencies
#   bash ops/bootstrap.sh --compose  # also docker-compose (v1, Debian package)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=(
    # build
    build-essential cmake pkg-config clang clang-format
    libmicrohttpd-dev libhiredis-dev libuv1-dev libmsgpack-dev
    libcurl4-openssl-dev liblz4-dev libip4tc-dev libjansson-dev libssl-dev
    # services and sandbox images
    redis-server redis-tools docker.io mmdebstrap iptables iproute2
    # per-sandbox /mnt/data images (mkfs.ext4; docs/sandbox.md "Filesystem")
    e2fsprogs
    # scripts, tests, benchmarks
    python3 curl ca-certificates openssl wrk procps psmisc jq
    # JWT-mode tests sign LibreChat-style tokens (tests/security_http/test_jwt.py)
    python3-cryptography python3-jwt
)
for arg in "$@"; do
    case "$arg" in
    --compose) PKGS+=(docker-compose) ;;
    *) ci_die "unknown argument: $arg (usage: bootstrap.sh [--compose])" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || ci_die "bootstrap.sh installs packages and must run as root"

missing=()
for p in "${PKGS[@]}"; do
    st="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
    [ "$st" = "installed" ] || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    ci_log "bootstrap: all ${#PKGS[@]} packages present"
    exit 0
fi

ci_log "bootstrap: installing ${#missing[@]} missing package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
t0=$(ci_now)
apt-get update -q
# No systemd here: keep package scripts from trying to start services; the
# ops scripts start dockerd and redis-server themselves.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
fi
rc=0
apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
[ "$own_policy" -eq 0 ] || rm -f "$policy"
[ "$rc" -eq 0 ] || ci_die "apt-get install failed (exit $rc)"
ci_log "bootstrap: installed in $(($(ci_now) - t0)) s"
