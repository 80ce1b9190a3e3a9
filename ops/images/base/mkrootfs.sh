#!/usr/bin/env bash
# ops/images/base/mkrootfs.sh CODENAME OUT.tar - build the base rootfs tarball.
#
# mmdebstrap minbase + packages.txt, using this machine's own Debian apt
# sources (apt-sources.py, piped in, never written to the repo).  Docs, man
# pages and translations are excluded through dpkg options that stay in the
# image, so the language layers stay lean too; recommends are off likewise.
# The hash of this file, packages.txt, customize.sh and apt-sources.py is the
# base image's cache key (see ../build.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
codename="$1"
out="$2"
include="$(sed 's/#.*//' "$here/packages.txt" | xargs | tr ' ' ',')"

python3 "$here/apt-sources.py" "$codename" |
    mmdebstrap --variant=minbase --format=tar \
        --include="$include" \
        --aptopt='APT::Install-Recommends "false"' \
        --aptopt='APT::Install-Suggests "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --customize-hook="sh '$here/customize.sh' \"\$1\"" \
        "$codename" "$out" -
