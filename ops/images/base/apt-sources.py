#!/usr/bin/env python3
"""Print this machine's Debian apt sources for one codename as deb822 text.

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources the
way apt does, keeps only entries for CODENAME, CODENAME-updates and
CODENAME-security (so third-party repositories stay out of the images), and
prints them as deb822 paragraphs on stdout.  ops/images/build.sh pipes this
into mmdebstrap, so no mirror address is ever written into the repository.
"""
import glob
import os
import re
import sys


def suites_ok(suites, codename):
    ok = {codename, codename + "-updates", codename + "-security"}
    return [s for s in suites if s in ok]


def from_list(path, codename):
    out = []
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
        if not m:
            continue
        opts, uri, suite, comps = m.groups()
        if not suites_ok([suite], codename):
            continue
        para = {"Types": "deb", "URIs": uri, "Suites": suite, "Components": comps}
        for kv in (opts or "").strip("[] \t").split():
            k, _, v = kv.partition("=")
            if k == "signed-by":
                para["Signed-By"] = v
        out.append(para)
    return out


def from_sources(path, codename):
    out = []
    text = open(path, encoding="utf-8").read()
    for block in re.split(r"\n\s*\n", text):
        para, key = {}, None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:  # continuation line
                para[key] += "\n" + line
                continue
            k, sep, v = line.partition(":")
            if sep:
                key = k.strip()
                para[key] = v.strip()
        if "deb" not in para.get("Types", "").split():
            continue
        if para.get("Enabled", "yes").lower() == "no":
            continue
        suites = suites_ok(para.get("Suites", "").split(), codename)
        if not suites:
            continue
        para["Types"] = "deb"
        para["Suites"] = " ".join(suites)
        out.append(para)
    return out


def main():
    codename = sys.argv[1] if len(sys.argv) > 1 else "bookworm"
    paras = []
    if os.path.exists("/etc/apt/sources.list"):
        paras += from_list("/etc/apt/sources.list", codename)
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*")):
        if path.endswith(".list"):
            paras += from_list(path, codename)
        elif path.endswith(".sources"):
            paras += from_sources(path, codename)
    if not paras:
        sys.exit("apt-sources.py: no apt source for %s on this machine" % codename)
    keys = ["Types", "URIs", "Suites", "Components", "Signed-By"]
    for p in paras:
        for k in keys:
            if k in p:
                print("%s: %s" % (k, p[k]))
        print()


main()
