"""Resources a zone sees: sysinfo(2) and sched_getaffinity(2) under --memory/--cpus.

Linux answers sysinfo from the whole machine (its RAM, swap, load and
number of threads) and sched_getaffinity from the thread's real CPU mask, so
a zone limited to 512 MB and one CPU would see the host's 64 GB and 32 CPUs
and size its heaps and thread pools for them.  With --memory or --cpus the
zone's view (lxbrand.personality.View: the cgroup's counters, refreshed every
second, as /proc/meminfo and /proc/loadavg show them) answers instead; the
uptime and the rest stay the host's.  Without those options both syscalls
pass through in the kernel (the table's status depends on the options).

sched_getaffinity shows the thread's real mask cut to the zone's CPUs (the
first ceil(--cpus) CPUs lxrun may use); sched_setaffinity passes through.
"""
from __future__ import annotations

import ctypes
import errno
import os
import re

from .. import personality

_libc = None


def _host_sysinfo() -> bytes:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(personality.SYSINFO.size)
    if _libc.sysinfo(buf) != 0:
        raise OSError(ctypes.get_errno(), "sysinfo")
    return buf.raw


def sysinfo(call, info):
    """sysinfo(2): the zone's memory (total, free, shared, no swap), load and threads."""
    view = getattr(call.zone, "_view", None)
    data = personality.pack_sysinfo(_host_sysinfo(), view.sysinfo_fields() if view is not None else {})
    call.write_bytes(info, data)
    return 0


def _nr_cpu_ids() -> int:
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            return max(int(n) for n in re.split(r"[-,]", f.read().strip()) if n) + 1
    except (OSError, ValueError):
        return os.cpu_count() or 1


def _host_tid(call, view, pid: int) -> int:
    """The host tid of the zone's thread `pid`, as the caller's pid namespace numbers it."""
    def nspid(path):
        try:
            with open(path) as f:
                m = re.search(r"^NSpid:\s*(.*)$", f.read(), re.M)
        except OSError:
            return []
        return m.group(1).split() if m else []
    level = len(nspid(f"/proc/{call.pid}/status")) - 1
    if level < 1 or pid <= 0 or view is None or view.counters is None:
        raise OSError(errno.ESRCH, "no such thread in the zone")
    for proc in view.counters.procs():
        try:
            tids = os.listdir(f"/proc/{proc}/task")
        except OSError:
            continue
        for tid in tids:
            ids = nspid(f"/proc/{proc}/task/{tid}/status")
            if len(ids) > level and ids[level] == str(pid):
                return int(tid)
    raise OSError(errno.ESRCH, "no such thread in the zone")


def sched_getaffinity(call, pid, cpusetsize, mask):
    """sched_getaffinity(2): the thread's CPUs among the zone's (EINVAL, ESRCH, EFAULT as Linux)."""
    pid = (pid & 0xFFFFFFFF) - ((pid & 0x80000000) << 1)     # pid_t, as the kernel reads it
    cpusetsize &= 0xFFFFFFFF                                   # unsigned int len
    nr_cpu_ids = _nr_cpu_ids()
    if cpusetsize * 8 < nr_cpu_ids or cpusetsize & 7:
        raise OSError(errno.EINVAL, "cpusetsize too small or not a multiple of 8")
    view = getattr(call.zone, "_view", None)
    tid = call.pid if pid == 0 else _host_tid(call, view, pid)
    try:
        real = os.sched_getaffinity(tid)
    except ProcessLookupError:
        raise OSError(errno.ESRCH, "no such thread") from None
    zone_cpus = view.zone_cpus if view is not None and view.zone_cpus else sorted(real)
    shown = sorted(real & set(zone_cpus)) or sorted(real)[:len(zone_cpus)]
    size = min(cpusetsize, (nr_cpu_ids + 63) // 64 * 8)
    call.write_bytes(mask, sum(1 << c for c in shown).to_bytes(size, "little"))
    return size
