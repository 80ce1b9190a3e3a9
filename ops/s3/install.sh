#!/usr/bin/env bash
# ops/s3/install.sh - installs s3rver, the S3-compatible server that the
# storage tests (tests/storage, tests/e2e/test_files.py flow_s3) start on
# loopback, into ops/s3/node_modules with `npm ci` from the committed
# package-lock.json.  Uses the machine's default npm configuration.
# Idempotent: does nothing when the installed tree matches the lock file.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
    echo "s3 install: npm missing; installing Debian's nodejs and npm" >&2
    apt-get install -y -q --no-install-recommends nodejs npm
fi
if [ -x node_modules/.bin/s3rver ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
