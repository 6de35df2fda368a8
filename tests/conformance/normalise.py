"""What may differ between a native run and a zone run, in one place.

These tables decide whether a zone's answer conforms:

`NORMALISE`, keyed by syscall, names the output fields that are legitimately
not comparable between two runs of the same script (and are not comparable
between two native runs either): process ids, inode and device numbers,
addresses, times.  Such a value is replaced, in both outputs, by a name given
in order of first appearance within the run (the first pid seen is P1, the
next distinct one P2...), so relations survive: a child's getppid must still
equal its parent's getpid, a hard link must still share its inode, rename must
keep it.  Times are masked as <now> when they are recent (an explicit time set
by utimensat is compared as it is).  The scratch tree lives on a tmpfs, whose
inode numbers only grow, so a renamed inode never aliases a freed one.

`KNOWN`, keyed by syscall, holds the differences every zone has on purpose
(chown to an unmapped id, mknod of a device); after it, `_by_table` applies
the brand's table: a syscall it denies or does not support answers its errno.

`EXPECTED`, keyed by zone option, says how the zone answers differently on
purpose when that option is given: a hook receives the option's value, the
step and the native answer, and returns the answer the zone must give.  A
future personality (another kernel release, a fake-root identity) is checked
against this documented behaviour instead of against native.

KNOWN, the table and EXPECTED turn native answers into expected ones before
NORMALISE renames anything.  They change one step's answer only: a script
that goes on using what such a step changed differs further, so generated
scripts avoid those steps.  Every entry is explained in docs/DIFFERENCES.md;
anything else that differs is a failure.
"""
from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

# kinds of values that are renamed consistently within one run
PID, INO, DEV, ADDR = "P", "I", "D", "A"
TIME = "time"          # masked as <now> when recent, else kept
DROP = "drop"          # not comparable at all (a clock's reading)
DIRENTS = "dirents"    # getdents64's NAME:TYPE:INO list, INO renamed

RECENT = 1_500_000_000   # 2017-07-14: scripts never set times past this

_STAT = {"ino": INO, "dev": DEV, "atime": TIME, "mtime": TIME, "ctime": TIME}
_STATX = dict(_STAT, btime=TIME)

# syscall -> {field: kind}; "ret" is the return value
NORMALISE: dict[str, dict[str, str]] = {
    # the zone has its own pid namespace: its pids are small, native ones are not
    "getpid": {"ret": PID},
    "getppid": {"ret": PID},
    "gettid": {"ret": PID},
    "getpgid": {"ret": PID},
    "getsid": {"ret": PID},
    "setsid": {"ret": PID},
    "fork": {"ret": PID},
    "wait4": {"ret": PID},
    # two fresh copies of the same tree: same shape, other inodes; the devices
    # (tmpfs, pipefs, the memfd mount) are the host's and numbered at boot
    "stat": _STAT,
    "fstat": _STAT,
    "lstat": _STAT,
    "newfstatat": _STAT,
    "statx": _STATX,
    "getdents64": {"dirents": DIRENTS},
    # address space layout is randomised
    "mmap": {"ret": ADDR},
    # clocks run on
    "clock_gettime": {"ts": DROP},
}


# ---- parsing sysinterp's lines --------------------------------------------

_LINE = re.compile(r"^(\S+) (\d+) (\S+)(.*)$")
_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


@dataclass
class Record:
    """One line of sysinterp output: INDEX NR RET key=value..."""
    index: str
    nr: int
    ret: str
    fields: dict = field(default_factory=dict)
    name: str = ""

    @classmethod
    def parse(cls, line: str, names: Callable[[int], str]) -> "Record":
        m = _LINE.match(line)
        if not m:
            return cls("?", -1, line, {}, "?")
        fields = dict(_FIELD.findall(m.group(4)))
        nr = int(m.group(2))
        return cls(m.group(1), nr, m.group(3), fields, names(nr))

    def render(self, with_index: bool = True) -> str:
        body = " ".join([f"= {self.ret}"] + [f"{k}={v}" for k, v in self.fields.items()])
        head = f"{self.index} {self.name}" if with_index else self.name
        return f"{head} {body}"


class Normaliser:
    """Renames pids, inodes, devices and addresses of one run consistently."""

    def __init__(self):
        self.names: dict[str, dict[str, str]] = {}

    def rename(self, kind: str, value: str) -> str:
        if value.startswith("-E"):          # an error is compared as it is
            return value
        table = self.names.setdefault(kind, {})
        if value not in table:
            table[value] = f"{kind}{len(table) + 1}"
        return table[value]

    def value(self, kind: str, value: str) -> Optional[str]:
        if kind == DROP:
            return None
        if kind == TIME:
            sec = value.split(".")[0]
            return "<now>" if sec.isdigit() and int(sec) >= RECENT else value
        if kind == DIRENTS:
            out = []
            for ent in value.strip('"').split(";"):
                if not ent:
                    continue
                name, typ, ino = ent.rsplit(":", 2)
                out.append(f"{name}:{typ}:{self.rename(INO, ino)}")
            return '"' + ";".join(out) + '"'
        return self.rename(kind, value)

    def record(self, rec: Record) -> Record:
        rules = NORMALISE.get(rec.name, {})
        ret = rec.ret
        if "ret" in rules:
            ret = self.value(rules["ret"], ret) or "<dropped>"
        fields = {}
        for k, v in rec.fields.items():
            if k in rules:
                v = self.value(rules[k], v)
                if v is None:
                    continue
            fields[k] = v
        return Record(rec.index, rec.nr, ret, fields, rec.name)


# ---- differences on purpose ----------------------------------------------
#
# A rule receives the step (its arguments by name: step_args) and the native
# record, and returns the record the zone must print.  Rules only change a
# step's own answer: a script that goes on using what such a step changed
# differs further, so generated scripts avoid these steps (strategies.py).

# the ids a zone maps: 0-65535 (lxbrand.idshift.COUNT, the host range a
# root-run zone gets; a user's subordinate ids at most)
ID_RANGE = 65536
S_IFMT, S_IFCHR, S_IFBLK = 0o170000, 0o020000, 0o060000


def step_args(step) -> dict:
    """A step's arguments by the names script.CALLS gives them."""
    from .script import CALLS
    call = CALLS.get(step.name) if step is not None else None
    if call is None:
        return {}
    return {p.name: a for p, a in zip(call.params, step.args)}


def _unmapped_ids_einval(step, rec: Record) -> Record:
    """chown to an id the zone does not map: EINVAL (the kernel's answer in a user namespace)."""
    args = step_args(step)
    ids = [args.get("owner"), args.get("group")]
    unmapped = any(isinstance(i, int) and i != -1 and not 0 <= i < ID_RANGE
                   and (i & 0xFFFFFFFF) != 0xFFFFFFFF for i in ids)
    if unmapped and rec.ret == "0":
        return Record(rec.index, rec.nr, "-EINVAL", {}, rec.name)
    return rec


def _device_nodes_eperm(step, rec: Record) -> Record:
    """mknod of a char or block device (other than the 0:0 whiteout): EPERM, no CAP_MKNOD in a zone."""
    args = step_args(step)
    mode, dev = args.get("mode"), args.get("dev", 0)
    if isinstance(mode, int) and rec.ret == "0":
        kind = mode & S_IFMT
        if kind == S_IFBLK or (kind == S_IFCHR and dev != 0):
            return Record(rec.index, rec.nr, "-EPERM", {}, rec.name)
    return rec


# the host's device nodes a zone's /dev binds in (csrc/zone_fs.c dev_nodes)
HOST_DEVICES = {"1:3", "1:5", "1:7", "1:8", "1:9", "5:0"}


def _host_devices_unowned(step, rec: Record) -> Record:
    """stat of /dev/null and the other host nodes bound in, or of an anonymous
    inode (eventfd, epoll, signalfd, timerfd: no file type): owned by host
    root, which is no id of the zone, so they show as the overflow id 65534."""
    mode = rec.fields.get("mode", "")
    host_node = mode.startswith("02") and rec.fields.get("rdev") in HOST_DEVICES
    anon = mode.startswith("0") and len(mode) <= 4
    if (host_node or anon) and rec.fields.get("uid") == "0":
        fields = dict(rec.fields, uid="65534", gid="65534")
        return Record(rec.index, rec.nr, rec.ret, fields, rec.name)
    return rec


# Capabilities a zone's root does not hold (lxbrand.personality.CAPABILITIES,
# dropped from its bounding set): the operations answer as for a process
# without them.  Native runs are root with every capability.

def _refused(rec: Record, err: str) -> Record:
    if rec.ret.startswith("-"):
        return rec
    return Record(rec.index, rec.nr, err, {}, rec.name)


def _no_cap_ipc_lock(step, rec: Record) -> Record:
    """mlock beyond RLIMIT_MEMLOCK: ENOMEM without CAP_IPC_LOCK (the run inherits our limit)."""
    import resource
    soft = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
    length = step_args(step).get("len")
    if soft != resource.RLIM_INFINITY and isinstance(length, int) and length > soft:
        return _refused(rec, "-ENOMEM")
    return rec


def _no_cap_sys_nice(step, rec: Record) -> Record:
    """setpriority below the nice the run started at: EACCES without CAP_SYS_NICE;
    sched_setscheduler to SCHED_FIFO or SCHED_RR: EPERM."""
    args = step_args(step)
    if rec.name == "setpriority" and isinstance(args.get("prio"), int) \
            and args["prio"] < os.getpriority(os.PRIO_PROCESS, 0):
        return _refused(rec, "-EACCES")
    if rec.name == "sched_setscheduler" and args.get("policy") in (1, 2):
        return _refused(rec, "-EPERM")
    return rec


FS_IOC_SETFLAGS, FS_IMMUTABLE_FL, FS_APPEND_FL = 0x40086602, 0x10, 0x20


def _no_cap_linux_immutable(step, rec: Record) -> Record:
    """chattr +i or +a (FS_IOC_SETFLAGS): EPERM without CAP_LINUX_IMMUTABLE."""
    args = step_args(step)
    arg = args.get("arg")
    if args.get("op") == FS_IOC_SETFLAGS and isinstance(arg, (bytes, str)):
        flags = int.from_bytes(os.fsencode(arg)[:4].ljust(4, b"\0"), "little")
        if flags & (FS_IMMUTABLE_FL | FS_APPEND_FL):
            return _refused(rec, "-EPERM")
    return rec


def _no_cap_wake_alarm(step, rec: Record) -> Record:
    """timerfd_create of CLOCK_REALTIME_ALARM or CLOCK_BOOTTIME_ALARM: EPERM without CAP_WAKE_ALARM."""
    if step_args(step).get("clockid") in (8, 9):
        return _refused(rec, "-EPERM")
    return rec


# syscall -> rules; the brand's table (DENY, UNSUPPORTED) is applied after these
KNOWN: dict[str, list[Callable]] = {
    "mlock": [_no_cap_ipc_lock],
    "setpriority": [_no_cap_sys_nice],
    "sched_setscheduler": [_no_cap_sys_nice],
    "ioctl": [_no_cap_linux_immutable],
    "timerfd_create": [_no_cap_wake_alarm],
    "fstat": [_host_devices_unowned],
    "stat": [_host_devices_unowned],
    "lstat": [_host_devices_unowned],
    "newfstatat": [_host_devices_unowned],
    "statx": [_host_devices_unowned],
    "chown": [_unmapped_ids_einval],
    "fchown": [_unmapped_ids_einval],
    "lchown": [_unmapped_ids_einval],
    "fchownat": [_unmapped_ids_einval],
    "mknod": [_device_nodes_eperm],
    "mknodat": [_device_nodes_eperm],
}


def _by_table(step, rec: Record) -> Record:
    """A syscall the brand denies or does not support answers its errno, whatever native said."""
    try:
        from lxbrand.brand import BY_NAME
    except ImportError:
        return rec
    sc = BY_NAME.get(rec.name)
    if sc is None or sc.status.name not in ("denied", "unsupported"):
        return rec
    return Record(rec.index, rec.nr, "-" + errno.errorcode[sc.status.errno], {}, rec.name)


def _version(release: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", release)[:3])


def expected_enosys(name: str, zone_options: dict) -> bool:
    """Whether a zone with these options must answer `name` with ENOSYS (EXPECTED's rule)."""
    release = zone_options.get("kernel_release")
    since = _since(name) if release else None
    return bool(since) and _version(since) > _version(release)


def _expect_kernel_release(value: str, step, rec: Record) -> Record:
    """--kernel-release: uname says it (and the version string of that release,
    lxbrand.personality.kernel_version), and syscalls that appeared later are ENOSYS."""
    if rec.name == "uname" and rec.ret == "0":
        from lxbrand.personality import kernel_version
        rec.fields["release"] = f'"{value}"'
        rec.fields["version"] = f'"{kernel_version(value)}"'
        return rec
    if expected_enosys(rec.name, {"kernel_release": value}):
        return Record(rec.index, rec.nr, "-ENOSYS", {}, rec.name)
    return rec


def _expect_hostname(value: str, step, rec: Record) -> Record:
    """--hostname: uname's nodename is the zone's."""
    if rec.name == "uname" and rec.ret == "0":
        rec.fields["nodename"] = f'"{value}"'
    return rec


def _expect_domainname(value: Optional[str], step, rec: Record) -> Record:
    """--domainname: uname's domainname is the zone's."""
    if rec.name == "uname" and rec.ret == "0" and value is not None:
        rec.fields["domainname"] = f'"{value}"'
    return rec


def _since(name: str) -> Optional[str]:
    try:
        from lxbrand.brand import BY_NAME
    except ImportError:
        return None
    sc = BY_NAME.get(name)
    return sc.since if sc is not None and sc.since != "2.6" else None


# zone option -> hook(value, step, native record) -> the record the zone must print
EXPECTED: dict[str, Callable] = {
    "kernel_release": _expect_kernel_release,
    "hostname": _expect_hostname,
    "domainname": _expect_domainname,
}


def expected(records: list[Record], steps: dict, zone_options: dict) -> list[Record]:
    """The native records turned into what the zone must answer.

    `steps` maps an index ("3", "3.1") to its Step.  KNOWN and the brand's
    table apply to every zone; EXPECTED's hooks to zones given that option.
    An option without a hook must not change any answer.
    """
    out = []
    for rec in records:
        step = steps.get(rec.index)
        rec = Record(rec.index, rec.nr, rec.ret, dict(rec.fields), rec.name)
        for rule in KNOWN.get(rec.name, ()):
            rec = rule(step, rec)
        rec = _by_table(step, rec)
        for option, value in zone_options.items():
            hook = EXPECTED.get(option)
            if hook is not None and value is not None:
                rec = hook(value, step, rec)
        out.append(rec)
    return out
