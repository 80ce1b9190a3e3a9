#!/usr/bin/env bash
# tests/librechat/install.sh - installs LibreChat's client library
# (@librechat/agents, pinned in package.json and package-lock.json) into
# tests/librechat/node_modules with `npm ci` from the committed lock file,
# for the real-client tests (test_librechat.py).  Uses the machine's default
# npm configuration.  Idempotent: does nothing when the installed tree
# matches the lock file.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
    echo "librechat install: npm missing; installing Debian's nodejs and npm" >&2
    apt-get install -y -q --no-install-recommends nodejs npm
fi
if [ -f node_modules/@librechat/agents/package.json ] &&
    [ node_modules/.package-lock.json -nt package-lock.json ]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
