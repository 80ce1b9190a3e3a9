#!/bin/sh
# mmdebstrap --customize-hook for the base rootfs; $1 is the rootfs directory.
# Adds the unprivileged user `sandbox` (uid/gid 1000) and the directories the
# runner protocol uses (docs/runner-protocol.md): /mnt/data (working dir) and
# /opt/ci (runner program).  /run/ci is made in base/Dockerfile, because
# mmdebstrap empties /run after this hook.
set -eu
root="$1"
grep -q '^sandbox:' "$root/etc/group" || echo 'sandbox:x:1000:' >>"$root/etc/group"
grep -q '^sandbox:' "$root/etc/passwd" ||
    echo 'sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/bash' >>"$root/etc/passwd"
grep -q '^sandbox:' "$root/etc/shadow" || echo 'sandbox:*:19000:0:99999:7:::' >>"$root/etc/shadow"
mkdir -p "$root/home/sandbox" "$root/mnt/data" "$root/opt/ci"
chown 1000:1000 "$root/home/sandbox" "$root/mnt/data"
chmod 0755 "$root/home/sandbox" "$root/mnt/data" "$root/opt/ci"
# Some JDK postinst scripts need this even though man pages are excluded.
mkdir -p "$root/usr/share/man/man1"
# Docker provides resolv.conf and hosts at run time.
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
