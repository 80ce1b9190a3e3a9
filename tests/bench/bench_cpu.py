#!/usr/bin/env python3
"""bench_cpu.py - CPU time per call for bench_exec.py: core-seconds of the
worker and ingress (/proc/<pid>/stat), the Docker engine (dockerd,
containerd) and a stack's containers (cgroup cpuacct), measured over a row
(CpuMeter), and the same for sequential docker run (docker_run_cpu).
"""
import http.client
import json
import os
import resource
import subprocess
import threading

from bench_util import DockerAPI, docker_run_ms

CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    """utime + stime (+ waited children) of `pid`, seconds; 0 if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        return sum(int(x) for x in fields[11:15]) / CLK
    except (OSError, ValueError):
        return 0.0


def engine_pids():
    """dockerd and containerd (long-lived; a container's shim exits with it
    and takes its CPU time along, so shims are not counted)."""
    out = []
    for name in ("dockerd", "containerd"):
        r = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True)
        out += [int(x) for x in r.stdout.split()]
    return out


def stack_containers(st, api):
    """Ids of the stack's containers (the ones mounting a path under the
    stack's run dir), from one Docker API call over the engine's socket
    (`api`: the meter's DockerAPI, kept open; the docker CLI here, twice
    every half second, cost the machine about a tenth of a core and slowed
    the calls being measured)."""
    prefix = os.path.join(st.tmp, "run") + "/"
    try:
        status, body = api.call("GET", "/containers/json?all=1")
    except (OSError, http.client.HTTPException):
        api.close()   # the next call opens a new connection
        return []
    if status != 200:
        return []
    return [c["Id"] for c in json.loads(body)
            if any(m.get("Source", "").startswith(prefix) for m in c.get("Mounts") or [])]


def container_cpu_s(cid):
    for path in ("/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage" % cid,
                 "/sys/fs/cgroup/system.slice/docker-%s.scope/cpu.stat" % cid):
        try:
            with open(path) as f:
                data = f.read()
        except OSError:
            continue
        if path.endswith("cpuacct.usage"):
            return int(data) / 1e9
        for line in data.splitlines():
            if line.startswith("usage_usec"):
                return int(line.split()[1]) / 1e6
    return 0.0


class CpuMeter:
    """Core-seconds spent by the worker, the ingress, the Docker engine
    (dockerd, containerd) and the stack's containers between start()
    and stop().  Containers are sampled every 0.5 s (cgroup cpuacct): one
    created and removed between two samples is missed, and one removed
    after its last sample loses its final moments, so the container figure
    is a lower bound when containers come and go."""

    def __init__(self, st):
        self.st = st

    def _procs(self):
        pids = [self.st.procs[n].pid for n in self.st.procs if n.startswith(("worker", "ingress"))]
        return sum(proc_cpu_s(p) for p in pids), sum(proc_cpu_s(p) for p in engine_pids())

    def _sample(self, initial=False):
        for cid in stack_containers(self.st, self.api):
            v = container_cpu_s(cid)
            if cid not in self.first:
                self.first[cid] = v if initial else 0.0
            self.last[cid] = v

    def _loop(self):
        while not self.halt.wait(0.5):
            self._sample()

    def start(self):
        self.api = DockerAPI()   # one keep-alive connection, used by _sample only
        self.first, self.last = {}, {}
        self._sample(initial=True)
        self.p0, self.e0 = self._procs()
        self.halt = threading.Event()
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def stop(self):
        self.halt.set()
        self.t.join()
        self._sample()
        self.api.close()
        p1, e1 = self._procs()
        c = sum(self.last[k] - self.first[k] for k in self.last)
        return {"service": p1 - self.p0, "engine": e1 - self.e0, "containers": c}


def cpu_text(cpu, n):
    if not n:
        return ""
    tot = sum(cpu.values())
    return "cpu/call %.1f ms (service %.1f, engine %.1f, containers %.1f)" % (
        tot / n * 1000, cpu["service"] / n * 1000, cpu["engine"] / n * 1000,
        cpu["containers"] / n * 1000)


def docker_run_cpu(image, argv, n):
    """Sequential docker run --rm, wall ms each and engine core-seconds
    (dockerd, containerd, the docker client) per run."""
    e0 = sum(proc_cpu_s(p) for p in engine_pids())
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = docker_run_ms(image, argv, n)
    e1 = sum(proc_cpu_s(p) for p in engine_pids())
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return out, (e1 - e0 + client) / n
