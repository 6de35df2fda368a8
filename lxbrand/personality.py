"""The zone's personality beyond the syscall table: which capabilities its
root holds, what it reads about its resources, and its kernel's version.

Capabilities.  Root in a zone holds every capability of the zone's user
namespace, but Linux checks some of them against the host's (initial) user
namespace: a program is told it has CAP_X and is then refused.  For each such
capability the zone is consistent one way: the capability is dropped from
the zone's bounding set (`CAP_DROP`, lxb_config.cap_drop), so root never has
it and programs take their unprivileged paths, as they do under Docker's
default set.  `CAPABILITIES` holds the decision for every capability of
capabilities(7), with the operations it gates and why; docs/DIFFERENCES.md's
table is made from it and tests/test_personality_resources.py checks the
zone against it.

Resources.  With --memory or --cpus the guest reads its own limits and usage
where programs look (as LXCFS does for containers): /proc/meminfo and
/proc/swaps (--memory), /proc/cpuinfo, /proc/stat and
/sys/devices/system/cpu/online (--cpus), /proc/loadavg (either).  Each is a
file lxrun makes in a private directory and the zone binds read-only over
the path (locked: the guest cannot unmount, remount or write it); lxrun keeps
one descriptor of each, opened before the zone starts, and rewrites it from
the zone's cgroup every second (`View`), never by path.  sysinfo(2) and
sched_getaffinity(2) are emulated from the same view (the brand's table:
emulated with --memory or --cpus, else they pass through untouched).

Kernel version.  With --kernel-release, uname's version, /proc/version and
/proc/sys/kernel/version say one made-up build of that release
(`kernel_version`); the release must be one the brand can emulate
(`check_kernel_release`).
"""
from __future__ import annotations

import math
import os
import re
import shutil
import struct
import tempfile
import threading
import time
from collections import namedtuple
from typing import Optional

from .errors import ZoneConfigError

# ---- capabilities ---------------------------------------------------------------

Cap = namedtuple("Cap", "nr name decision operations why")
KEEP, DROP = "kept", "dropped"

# fmt: off
CAPABILITIES = [
    Cap( 0, "CAP_CHOWN",            KEEP, "chown to the zone's ids",                  "checked in the zone's namespace"),
    Cap( 1, "CAP_DAC_OVERRIDE",     KEEP, "file permission checks",                   "checked in the zone's namespace (files of unmapped owners excepted, as on Linux)"),
    Cap( 2, "CAP_DAC_READ_SEARCH",  DROP, "open_by_handle_at",                        "checked against the host's namespace (EPERM); reading past permissions stays root's through CAP_DAC_OVERRIDE"),
    Cap( 3, "CAP_FOWNER",           KEEP, "chmod, utimes, xattrs of others' files",   "checked in the zone's namespace"),
    Cap( 4, "CAP_FSETID",           KEEP, "keep set-id bits on write, chmod g+s",     "checked in the zone's namespace (see the set-id row above)"),
    Cap( 5, "CAP_KILL",             KEEP, "signal any of the zone's processes",       "checked in the zone's namespace"),
    Cap( 6, "CAP_SETGID",           KEEP, "setgid, setgroups",                        "checked in the zone's namespace"),
    Cap( 7, "CAP_SETUID",           KEEP, "setuid",                                   "checked in the zone's namespace"),
    Cap( 8, "CAP_SETPCAP",          KEEP, "bounding set, securebits",                 "checked in the zone's namespace"),
    Cap( 9, "CAP_LINUX_IMMUTABLE",  DROP, "chattr +i, +a (FS_IOC_SETFLAGS)",          "checked against the host's namespace (EPERM)"),
    Cap(10, "CAP_NET_BIND_SERVICE", KEEP, "bind ports below 1024",                    "the zone's network namespace"),
    Cap(11, "CAP_NET_BROADCAST",    KEEP, "(unused by Linux)",                        "harmless"),
    Cap(12, "CAP_NET_ADMIN",        KEEP, "interfaces, routes, firewall",             "the zone's network namespace (with --net host, the host's network refuses it)"),
    Cap(13, "CAP_NET_RAW",          KEEP, "raw and packet sockets (ping)",            "the zone's network namespace"),
    Cap(14, "CAP_IPC_LOCK",         DROP, "mlock, mlockall, SHM_LOCK beyond RLIMIT_MEMLOCK", "checked against the host's namespace (ENOMEM/EPERM); locking within RLIMIT_MEMLOCK works"),
    Cap(15, "CAP_IPC_OWNER",        KEEP, "System V IPC permission checks",           "the zone's IPC namespace"),
    Cap(16, "CAP_SYS_MODULE",       DROP, "init_module, delete_module",               "host-wide; the table denies them (EPERM)"),
    Cap(17, "CAP_SYS_RAWIO",        DROP, "iopl, ioperm, /dev/mem, FIBMAP",           "host-wide; the table denies iopl and ioperm (EPERM)"),
    Cap(18, "CAP_SYS_CHROOT",       KEEP, "chroot",                                   "checked in the zone's namespace"),
    Cap(19, "CAP_SYS_PTRACE",       KEEP, "ptrace, process_vm_readv of any zone process", "checked in the zone's namespace"),
    Cap(20, "CAP_SYS_PACCT",        DROP, "acct",                                     "host-wide; the table denies acct (EPERM)"),
    Cap(21, "CAP_SYS_ADMIN",        KEEP, "mount, unshare, setns, sethostname...",    "most uses are checked in the zone's namespaces; the host-wide ones answer EPERM (see below)"),
    Cap(22, "CAP_SYS_BOOT",         DROP, "reboot, kexec_load",                       "host-wide; the table denies them (EPERM)"),
    Cap(23, "CAP_SYS_NICE",         DROP, "nice and setpriority below the current value, realtime policies (sched_setscheduler), the realtime I/O class (ioprio_set), move_pages and mbind of others' pages", "checked against the host's namespace (EACCES/EPERM): each would change the host's scheduling; under --fakeroot a thread's own nice below zero is emulated instead (recorded, reported by getpriority; the host's value kept)"),
    Cap(24, "CAP_SYS_RESOURCE",     DROP, "negative oom_score_adj, raising hard rlimits, pipe-max-size", "checked against the host's namespace (EACCES/EPERM)"),
    Cap(25, "CAP_SYS_TIME",         DROP, "settimeofday, clock_settime, adjtimex",    "host-wide; the table denies them (EPERM)"),
    Cap(26, "CAP_SYS_TTY_CONFIG",   DROP, "vhangup",                                  "host-wide; the table denies it (EPERM)"),
    Cap(27, "CAP_MKNOD",            DROP, "mknod of character and block devices",     "checked against the host's namespace (EPERM); fifos and sockets need no capability"),
    Cap(28, "CAP_LEASE",            KEEP, "leases on others' files",                  "checked in the zone's namespace"),
    Cap(29, "CAP_AUDIT_WRITE",      KEEP, "write to the audit log",                   "as Docker's default set: login and sudo write audit records, which the host's audit keeps or refuses"),
    Cap(30, "CAP_AUDIT_CONTROL",    DROP, "audit rules and status",                   "host-wide (EPERM)"),
    Cap(31, "CAP_SETFCAP",          KEEP, "setcap (file capabilities)",               "checked in the zone's namespace (v3 file capabilities)"),
    Cap(32, "CAP_MAC_OVERRIDE",     DROP, "override a MAC policy",                    "the host's policy"),
    Cap(33, "CAP_MAC_ADMIN",        DROP, "change a MAC policy",                      "the host's policy"),
    Cap(34, "CAP_SYSLOG",           DROP, "syslog, dmesg, kernel addresses in /proc/kallsyms", "host-wide; the table denies syslog (EPERM)"),
    Cap(35, "CAP_WAKE_ALARM",       DROP, "CLOCK_REALTIME_ALARM and CLOCK_BOOTTIME_ALARM timers", "checked against the host's namespace (EPERM)"),
    Cap(36, "CAP_BLOCK_SUSPEND",    DROP, "EPOLLWAKEUP",                               "checked against the host's namespace (the flag is ignored)"),
    Cap(37, "CAP_AUDIT_READ",       DROP, "read the audit log (multicast netlink)",   "host-wide"),
    Cap(38, "CAP_PERFMON",          DROP, "perf_event_open",                          "host-wide; the table denies it (EPERM)"),
    Cap(39, "CAP_BPF",              DROP, "bpf",                                      "host-wide; the table denies it (EPERM)"),
    Cap(40, "CAP_CHECKPOINT_RESTORE", DROP, "ns_last_pid, clone3 set_tid, /proc/PID/map_files", "the zone's pid namespace belongs to its init, above the guest (EPERM/EROFS)"),
]
# fmt: on

CAP_DROP = sum(1 << c.nr for c in CAPABILITIES if c.decision == DROP)
CAP_LAST = max(c.nr for c in CAPABILITIES)


def zone_capabilities() -> int:
    """The capability mask root holds in a zone (CapEff in /proc/self/status)."""
    return ((1 << (CAP_LAST + 1)) - 1) & ~CAP_DROP


# the cases that check a capability's operations (tests/conformance/test_capabilities.py,
# tests/conformance/test_personality.py); every decision is checked by
# test_root_in_a_zone_holds_the_zones_capabilities (tests/test_personality_resources.py)
CAP_TESTS = {
    "CAP_LINUX_IMMUTABLE": "`test_chattr_without_cap_linux_immutable`",
    "CAP_IPC_LOCK": "`test_mlock_beyond_rlimit_without_cap_ipc_lock`",
    "CAP_SYS_NICE": "`test_nice_below_zero_without_cap_sys_nice`, `test_realtime_policy_without_cap_sys_nice`, `test_nice_below_zero_is_emulated_for_fake_root`",
    "CAP_SYS_RESOURCE": "`test_negative_oom_score_adj_without_cap_sys_resource`",
    "CAP_MKNOD": "`test_mknod_of_a_device_without_cap_mknod`",
    "CAP_WAKE_ALARM": "`test_alarm_timer_without_cap_wake_alarm`",
    "CAP_SYS_MODULE": "`test_host_wide_syscall_is_denied`",
    "CAP_SYS_BOOT": "`test_host_wide_syscall_is_denied`",
    "CAP_BPF": "`test_host_wide_syscall_is_denied`",
}


def capability_table() -> str:
    """docs/DIFFERENCES.md's table of capabilities, from CAPABILITIES."""
    rows = ["| capability | operations | in a zone | why | checked by |", "|---|---|---|---|---|"]
    for c in CAPABILITIES:
        test = CAP_TESTS.get(c.name, "`test_capabilities_of_root_in_a_zone`")
        rows.append(f"| `{c.name}` | {c.operations} | {c.decision} | {c.why} | {test} |")
    return "\n".join(rows) + "\n"


# ---- fake root ------------------------------------------------------------------

def _fakeroot_handlers() -> dict:
    """--fakeroot's C handlers (csrc/fakeroot.c), by syscall name: chown and
    mknod of root recorded in the file's FAKEROOT_XATTR, the stat family
    reporting it; the set*id and get*id families on per-process fake ids.
    brand/compile.py notifies these syscalls in a fakeroot zone."""
    from .brand.model import CHandler
    doc = {
        "stat": "stat(2): the path's stat, owner and device from its fake-root record",
        "fstat": "fstat(2): the fd's stat, owner and device from its fake-root record",
        "lstat": "lstat(2): as stat, the link itself",
        "newfstatat": "newfstatat(2): as stat, from dirfd",
        "statx": "statx(2): as stat, the fields asked for",
        "chown": "chown(2): root's change recorded in user.lxbrand.owner, the file stays the user's",
        "fchown": "fchown(2): as chown, the fd's file",
        "lchown": "lchown(2): as chown, the link itself (a symlink cannot carry a record: not kept)",
        "fchownat": "fchownat(2): as chown, from dirfd",
        "mknod": "mknod(2): a device is an empty file recorded as that device, never the host's",
        "mknodat": "mknodat(2): as mknod, from dirfd",
        "getdents": "getdents(2): the kernel's entries, a recorded device's d_type its record's (DT_CHR, DT_BLK)",
        "getdents64": "getdents64(2): as getdents",
    }
    # credentials: faked per process, never the host's (CREDENTIALS in csrc/fakeroot.c)
    setid = "the process's fake ids moved by Linux's rules and recorded; its real ids stay"
    getid = "the process's fake ids (inherited from its parent, else its real ones)"
    doc.update({
        "setuid": f"setuid(2): {setid}",
        "setgid": f"setgid(2): {setid}",
        "setreuid": f"setreuid(2): {setid}",
        "setregid": f"setregid(2): {setid}",
        "setresuid": f"setresuid(2): {setid}",
        "setresgid": f"setresgid(2): {setid}",
        "setfsuid": f"setfsuid(2): {setid}",
        "setfsgid": f"setfsgid(2): {setid}",
        "setgroups": "setgroups(2): the process's fake groups recorded (a fake euid 0 only)",
        "getuid": f"getuid(2): {getid}",
        "getgid": f"getgid(2): {getid}",
        "geteuid": f"geteuid(2): {getid}",
        "getegid": f"getegid(2): {getid}",
        "getresuid": f"getresuid(2): {getid}",
        "getresgid": f"getresgid(2): {getid}",
        "getgroups": f"getgroups(2): {getid}",
        "exit_group": "exit_group(2): the process's fake ids handed to its children that have none, "
                      "so an orphan keeps them; then the kernel's",
        "open": "open(2) with O_CREAT of a process on a fake id other than root: performed, the new file recorded as its fsuid's and fsgid's; else the kernel's",
        "openat": "openat(2): as open",
        "creat": "creat(2): as open",
        "mkdir": "mkdir(2) of a process on a fake id other than root: performed, the new file recorded as its fsuid's and fsgid's; else the kernel's",
        "mkdirat": "mkdirat(2): as mkdir",
        "getsockopt": "getsockopt(2) SO_PEERCRED: the peer's fake effective ids (as it has them now, not at "
                      "connect); every other option the kernel's",
    })
    # capabilities: faked per process with the ids (CAPABILITIES in csrc/fakeroot.c)
    doc.update({
        "capget": "capget(2): the process's fake sets, moved with its fake ids as Linux moves them",
        "capset": "capset(2): the process's fake sets changed by Linux's rules and recorded; the real ones stay",
        "prctl": "prctl(2): KEEPCAPS, SECUREBITS and CAP_AMBIENT on the fake record, CAPBSET_DROP checked "
                 "against the fake sets; every other operation the kernel's",
    })
    # niceness: a thread's own, emulated below the zone's floor (NICENESS in csrc/fakeroot.c)
    doc.update({
        "setpriority": "setpriority(2): of the thread itself, recorded (root may lower it); the host's value "
                       "never below the zone's",
        "getpriority": "getpriority(2): of the thread itself, its recorded niceness",
    })
    return {name: CHandler(name, text) for name, text in doc.items()}


FAKEROOT_XATTR = "user.lxbrand.owner"
FAKEROOT_NOTE = "--fakeroot: performed by the supervisor (csrc/fakeroot.c); owners and devices from the files' records"
FAKEROOT_HANDLERS = _fakeroot_handlers()


def fakeroot_record(path: str):
    """(uid, gid, device) recorded for path, device a ("c"|"b", major, minor) or None; None without a record."""
    try:
        text = os.getxattr(path, FAKEROOT_XATTR, follow_symlinks=False).decode()
    except OSError:
        return None
    parts = text.split(":")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    dev = (parts[2], int(parts[3]), int(parts[4])) if len(parts) == 5 and parts[2] in ("c", "b") else None
    return int(parts[0]), int(parts[1]), dev


# ---- kernel version -------------------------------------------------------------

# The oldest release the brand emulates: glibc (2.26 and later, bookworm's 2.36)
# supports no x86_64 kernel older than 3.2, and the table's `since` column
# hides syscalls by release from there on.  The newest: the table's (Linux 6.18,
# syscall_64.tbl), past which the brand cannot know a kernel's syscalls.
MIN_RELEASE = (3, 2)
MAX_RELEASE = (6, 18)
_RELEASE = re.compile(r"^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,5}))?([-+~_.a-zA-Z0-9]*)$")


def check_kernel_release(release) -> None:
    """A release such as 4.19.0, 5.4 or 4.19.0-25-amd64, within the range the brand emulates."""
    accepted = (f"from {MIN_RELEASE[0]}.{MIN_RELEASE[1]} to {MAX_RELEASE[0]}.{MAX_RELEASE[1]}.x, "
                "such as 4.19.0 or 5.10.0-28-amd64")
    m = _RELEASE.match(release) if isinstance(release, str) and len(release.encode()) <= 64 else None
    if m is None:
        raise ZoneConfigError(f"kernel release {release!r}: expected a version {accepted} (at most 64 bytes)")
    version = (int(m.group(1)), int(m.group(2)))
    if not MIN_RELEASE <= version <= MAX_RELEASE:
        raise ZoneConfigError(f"kernel release {release!r}: the brand emulates Linux {accepted}")


def kernel_version(release: str) -> str:
    """uname's version (and /proc/sys/kernel/version) for an emulated release:
    a plain build string naming the release, the same for every zone."""
    return f"#1 SMP lxbrand {release}"


def proc_version(release: str, host_text: Optional[str] = None) -> str:
    """/proc/version for an emulated release: the host's builder and compiler,
    with the zone's release and version, so that it agrees with uname."""
    host = os.uname()
    if host_text is None:
        try:
            with open("/proc/version") as f:
                host_text = f.read()
        except OSError:
            host_text = ""
    text = host_text.rstrip("\n")
    if text.startswith(f"Linux version {host.release} ") and text.endswith(host.version):
        middle = text[len(f"Linux version {host.release} "):len(text) - len(host.version)]
    else:
        middle = "(lxbrand@zone) "
    return f"Linux version {release} {middle}{kernel_version(release)}\n"


# ---- resources: the files -----------------------------------------------------

MIN_MEMORY = 4 << 20   # --memory below it: the zone's init and guest cannot start

PROC_MEMINFO, PROC_SWAPS, PROC_CPUINFO = "/proc/meminfo", "/proc/swaps", "/proc/cpuinfo"
PROC_STAT, PROC_LOADAVG, CPU_ONLINE = "/proc/stat", "/proc/loadavg", "/sys/devices/system/cpu/online"
KERNEL_VERSION = "/proc/sys/kernel/version"
USER_HZ = 100
REFRESH = 1.0          # seconds between two rewrites
SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
# load averages as the kernel computes them, sampled every second
_DECAY = tuple(math.exp(-REFRESH / s) for s in (60, 300, 900))


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cpu_list(cpus) -> str:
    """[0, 1, 2, 5] -> "0-2,5" (the kernel's cpulist format)."""
    out, cpus = [], sorted(cpus)
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)


def _kv(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            out[parts[0].rstrip(":")] = int(parts[1])
    return out


def meminfo(host_text: str, limit: int, usage: int, stat: dict) -> str:
    """/proc/meminfo for a zone of `limit` bytes using `usage` (its cgroup's
    counters; `stat` is memory.stat with v1's total_ names or v2's names)."""
    def g(*names):
        for n in names:
            if n in stat:
                return stat[n]
        return 0
    host = _kv(host_text)
    total = min(limit, host.get("MemTotal", limit // 1024) * 1024)
    free = max(0, total - usage)
    active_file, inactive_file = g("total_active_file", "active_file"), g("total_inactive_file", "inactive_file")
    active_anon, inactive_anon = g("total_active_anon", "active_anon"), g("total_inactive_anon", "inactive_anon")
    mine = {
        "MemTotal": total, "MemFree": free, "MemAvailable": min(total, free + active_file + inactive_file),
        "Buffers": 0, "Cached": g("total_cache", "file"), "SwapCached": 0,
        "Active": active_anon + active_file, "Inactive": inactive_anon + inactive_file,
        "Active(anon)": active_anon, "Inactive(anon)": inactive_anon,
        "Active(file)": active_file, "Inactive(file)": inactive_file,
        "SwapTotal": 0, "SwapFree": 0, "AnonPages": g("total_rss", "anon"),
        "Mapped": g("total_mapped_file", "file_mapped"), "Shmem": g("total_shmem", "shmem"),
        # the kernel's memory of the zone (v2 counts it; v1's memory.stat does not)
        "KReclaimable": g("slab_reclaimable"), "Slab": g("slab"), "SReclaimable": g("slab_reclaimable"),
        "SUnreclaim": g("slab_unreclaimable"), "KernelStack": g("kernel_stack"), "PageTables": g("pagetables"),
        "Unevictable": g("total_unevictable", "unevictable"), "Mlocked": g("total_unevictable", "unevictable"),
        "Dirty": g("total_dirty", "file_dirty"), "Writeback": g("total_writeback", "file_writeback"),
    }
    lines = []
    for line in host_text.splitlines():
        name = line.split(":", 1)[0]
        if name in mine:
            lines.append(f"{name + ':':<16}{mine[name] // 1024:>8} kB")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def cpuinfo(host_text: str, cpus: list) -> str:
    """The host's /proc/cpuinfo, only the blocks of the zone's CPUs, each
    saying that its package has len(cpus) of them."""
    blocks = [b for b in host_text.strip("\n").split("\n\n") if b.strip()]
    out = []
    for b in blocks:
        m = re.search(r"^processor\s*:\s*(\d+)", b, re.M)
        if m is None or int(m.group(1)) not in cpus:
            continue
        b = re.sub(r"^(siblings\s*:\s*)\d+", lambda x: f"{x.group(1)}{len(cpus)}", b, flags=re.M)
        b = re.sub(r"^(cpu cores\s*:\s*)\d+", lambda x: f"{x.group(1)}{len(cpus)}", b, flags=re.M)
        out.append(b)
    return "\n\n".join(out) + "\n\n"


def proc_stat(host_text: str, cpus: list, user: int, system: int, elapsed: float, btime_shift: int = 0) -> str:
    """/proc/stat with the zone's CPUs: its usage (user, system, in USER_HZ
    ticks) spread over them, the rest of their time since the zone started
    idle; the other lines are the host's, btime moved by btime_shift seconds
    (the zone's boot is its start: its time namespace)."""
    n = len(cpus)
    idle = max(0, int(elapsed * USER_HZ * n) - user - system)

    def line(name, u, s, i):
        return f"{name} {u} 0 {s} {i} 0 0 0 0 0 0"
    out = [line("cpu ", user, system, idle)]
    for k, c in enumerate(cpus):
        share = (lambda v: v // n + (1 if k < v % n else 0))
        out.append(line(f"cpu{c}", share(user), share(system), share(idle)))
    for l in host_text.splitlines():
        if l.startswith("btime ") and l[6:].strip().isdigit():
            l = f"btime {int(l[6:]) + btime_shift}"
        if not l.startswith("cpu"):
            out.append(l)
    return "\n".join(out) + "\n"


# ---- resources: the counters ----------------------------------------------------

Sample = namedtuple("Sample", "usage_ticks user system running threads last_pid")


class Counters:
    """The zone's usage, read from its cgroup (files opened once, read with pread)."""

    def __init__(self, dirs: list):
        self.fds: dict[str, int] = {}
        self.v2 = False
        # cgroup.procs is opened anew each time: v1 keeps the pid list an open
        # file read first, for as long as it is read again within a second
        self.procs_path = next((os.path.join(d, "cgroup.procs") for d in dirs
                                if os.path.exists(os.path.join(d, "cgroup.procs"))), None)
        for d in dirs:
            for name in ("memory.usage_in_bytes", "memory.current", "memory.stat", "cpu.stat"):
                p = os.path.join(d, name)
                if name not in self.fds and os.path.exists(p):
                    if name == "cpu.stat" and "usage_usec" not in _read(p):
                        continue        # v1's cpu.stat counts throttling only
                    self.fds[name] = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
            if os.path.exists(os.path.join(d, "memory.current")):
                self.v2 = True

    def _pread(self, name: str) -> str:
        fd = self.fds.get(name)
        if fd is None:
            return ""
        try:
            return os.pread(fd, 1 << 20, 0).decode(errors="replace")
        except OSError:
            return ""

    def memory(self) -> tuple[int, dict]:
        usage = self._pread("memory.usage_in_bytes") or self._pread("memory.current")
        stat = {}
        for line in self._pread("memory.stat").splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                stat[k] = int(v)
        # v1's usage counts the page cache, as v2's does
        return (int(usage) if usage.strip().isdigit() else 0), stat

    def procs(self) -> list[int]:
        text = _read(self.procs_path) if self.procs_path else ""
        return [int(p) for p in text.split() if p.isdigit()]

    def sample(self) -> Sample:
        """CPU time (ticks), threads running and in all, and the zone's last pid."""
        user = system = running = threads = last = 0
        for pid in self.procs():
            try:
                tasks = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tasks:
                st = _read(f"/proc/{pid}/task/{tid}/stat")
                f = st[st.rfind(")") + 2:].split()
                if len(f) < 15:
                    continue
                threads += 1
                running += f[0] == "R"
            st = _read(f"/proc/{pid}/stat")
            f = st[st.rfind(")") + 2:].split()
            if len(f) >= 15:
                # a process's own time and its waited-for children's (which
                # holds what the zone's exited processes used)
                user += int(f[11]) + int(f[13])
                system += int(f[12]) + int(f[14])
            m = re.search(r"^NSpid:\s*(.*)$", _read(f"/proc/{pid}/status"), re.M)
            ids = m.group(1).split() if m else []
            if len(ids) >= 2 and ids[1].isdigit():
                last = max(last, int(ids[1]))
        cpu = self._pread("cpu.stat")
        if cpu:                                     # v2: exact, exited processes included
            v = _kv(cpu)
            user = v.get("user_usec", 0) * USER_HZ // 1_000_000
            system = v.get("system_usec", 0) * USER_HZ // 1_000_000
        return Sample(user + system, user, system, running, threads, last)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}


# ---- resources: the view --------------------------------------------------------

class View:
    """What a zone with --memory/--cpus (or --kernel-release) reads about its
    kernel and resources: files made before the zone starts, bound over their
    paths, and rewritten every second while it runs."""

    def __init__(self, memory: Optional[int] = None, cpus: Optional[float] = None,
                 kernel_release: Optional[str] = None):
        self.memory, self.cpus, self.release = memory, cpus, kernel_release
        self.resources = memory is not None or cpus is not None
        self.zone_cpus = self._zone_cpus(cpus) if cpus is not None else None
        self.dir: Optional[str] = None
        self.fds: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.counters: Optional[Counters] = None
        self.started_at = time.monotonic()
        self.booted_at = time.clock_gettime(time.CLOCK_BOOTTIME)
        self.loads = [0.0, 0.0, 0.0]
        self.last: Optional[Sample] = None
        self.last_time = 0.0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._cpuinfo = _read("/proc/cpuinfo") if cpus is not None else ""

    @classmethod
    def wanted(cls, memory, cpus, kernel_release) -> bool:
        return memory is not None or cpus is not None or bool(kernel_release)

    @staticmethod
    def _zone_cpus(cpus: float) -> list:
        """The zone's CPUs: as many as its quota rounds up to, the first of
        those lxrun may run on (its cpu.cfs_quota_us/cpu.max enforces the share)."""
        mine = sorted(os.sched_getaffinity(0))
        return mine[:max(1, min(len(mine), math.ceil(cpus - 1e-9)))]

    # -- the files --------------------------------------------------------------

    def texts(self) -> dict[str, str]:
        """zone path -> its contents now."""
        out = {}
        if self.release:
            out[KERNEL_VERSION] = kernel_version(self.release) + "\n"
        if not self.resources:
            return out
        sample = self.last or Sample(0, 0, 0, 0, 0, 0)
        if self.memory is not None:
            usage, stat = self.counters.memory() if self.counters else (0, {})
            out[PROC_MEMINFO] = meminfo(_read("/proc/meminfo"), self.memory, usage, stat)
            out[PROC_SWAPS] = SWAPS_HEADER
        if self.zone_cpus is not None:
            out[PROC_CPUINFO] = cpuinfo(self._cpuinfo, self.zone_cpus)
            out[PROC_STAT] = proc_stat(_read("/proc/stat"), self.zone_cpus, sample.user, sample.system,
                                       time.monotonic() - self.started_at, int(round(self.booted_at)))
            out[CPU_ONLINE] = cpu_list(self.zone_cpus) + "\n"
        out[PROC_LOADAVG] = "{:.2f} {:.2f} {:.2f} {}/{} {}\n".format(
            *self.loads, sample.running, sample.threads, sample.last_pid)
        return out

    def binds(self) -> list:
        """Make the files (in a private directory) and return the binds that
        show them in the zone, read-only: (host path, zone path, True)."""
        texts = self.texts()
        if not texts:
            return []
        from . import idshift
        self.dir = tempfile.mkdtemp(prefix="lxbrand-view-")
        out = []
        for i, (dst, text) in enumerate(sorted(texts.items())):
            path = os.path.join(self.dir, f"{i}-{os.path.basename(dst)}")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o444)
            if os.geteuid() == 0:
                # the zone's root owns it, as host root owns the kernel's; the
                # bind is read-only and locked, so owning it grants no write
                os.fchown(fd, idshift.BASE, idshift.BASE)
            self.fds[dst] = fd
            self._write(dst, text)
            out.append((path, dst, True))
        return out

    def _write(self, dst: str, text: str) -> None:
        """Rewrite one file through the descriptor opened at start (the guest
        cannot make it another file): the new text, then its length."""
        data = text.encode()
        fd = self.fds[dst]
        os.pwrite(fd, data, 0)
        if len(data) < self.sizes.get(dst, 0):
            os.ftruncate(fd, len(data))
        self.sizes[dst] = len(data)

    def started(self, cgroup_dirs: list) -> None:
        """The zone runs (its mounts hold the files): forget their names, and
        rewrite the resource files every second from the zone's cgroup."""
        self._unlink()
        self.started_at = time.monotonic()
        self.booted_at = time.clock_gettime(time.CLOCK_BOOTTIME)
        if not self.resources:
            return
        self.counters = Counters(cgroup_dirs)
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="lxbrand-view", daemon=True)
        self._thread.start()

    def refresh(self) -> None:
        with self.lock:
            now = time.monotonic()
            sample = self.counters.sample() if self.counters else Sample(0, 0, 0, 0, 0, 0)
            if self.last is not None and now > self.last_time:
                # the load: threads running (what the kernel counts), or the
                # CPUs' worth of time the zone used since the last sample
                busy = (sample.usage_ticks - self.last.usage_ticks) / USER_HZ / (now - self.last_time)
                n = max(sample.running, busy)
                self.loads = [l * d + n * (1 - d) for l, d in zip(self.loads, _DECAY)]
            self.last, self.last_time = sample, now
            for dst, text in self.texts().items():
                if dst in self.fds and dst != KERNEL_VERSION and dst != PROC_CPUINFO:
                    try:
                        self._write(dst, text)
                    except OSError:
                        pass

    def _loop(self) -> None:
        while not self._stop.wait(REFRESH):
            self.refresh()

    def _unlink(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._unlink()
        with self.lock:
            for fd in self.fds.values():
                os.close(fd)
            self.fds = {}
            if self.counters is not None:
                self.counters.close()
                self.counters = None

    # -- what sysinfo and sched_getaffinity answer -------------------------------

    def sysinfo_fields(self) -> dict:
        with self.lock:
            sample = self.last or Sample(0, 0, 0, 0, 0, 0)
            out = {"loads": [int(l * 65536) for l in self.loads], "procs": min(sample.threads, 0xFFFF),
                   # the zone's clocks start at its start (its time namespace, csrc/zone_init.c);
                   # the kernel rounds a started second up
                   "uptime": math.ceil(time.clock_gettime(time.CLOCK_BOOTTIME) - self.booted_at)}
            if self.memory is not None:
                usage, stat = self.counters.memory() if self.counters else (0, {})
                total = _kv(meminfo(_read("/proc/meminfo"), self.memory, usage, stat))
                out.update(totalram=total["MemTotal"] * 1024, freeram=total["MemFree"] * 1024,
                           sharedram=total.get("Shmem", 0) * 1024, bufferram=0, totalswap=0, freeswap=0)
            return out


# struct sysinfo (x86_64): long uptime; unsigned long loads[3], totalram,
# freeram, sharedram, bufferram, totalswap, freeswap; unsigned short procs,
# pad; unsigned long totalhigh, freehigh; unsigned int mem_unit; char _f[4]
SYSINFO = struct.Struct("=q3Q6QHH4xQQI4x")
assert SYSINFO.size == 112


def pack_sysinfo(host: bytes, fields: dict) -> bytes:
    """The host's struct sysinfo with the zone's fields, in bytes (mem_unit 1)."""
    v = list(SYSINFO.unpack(host))
    unit = v[-1] or 1
    for i, name in enumerate(("totalram", "freeram", "sharedram", "bufferram", "totalswap", "freeswap")):
        v[4 + i] = fields[name] if name in fields else v[4 + i] * unit
    v[-3] = v[-3] * unit
    v[-2] = v[-2] * unit
    v[-1] = 1
    if "loads" in fields:
        v[1:4] = fields["loads"]
    if "procs" in fields:
        v[10] = fields["procs"]
    if "uptime" in fields:
        v[0] = fields["uptime"]
    return SYSINFO.pack(*v)
