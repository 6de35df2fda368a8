"""Syscall scripts: the format, a builder, and running one natively and in a zone.

A script is a list of steps; each step is one syscall with its arguments, run
by testbins/sysinterp (see the comment at its top), which prints one line per
step.  This module is the one description of the format (construct, below);
nothing else packs it.

    s = Script()
    fd = s.openat(AT_FDCWD, "/scratch/f", os.O_RDONLY)   # fd is a Slot, $0
    s.read(fd, 16)
    s.fstat(fd)
    s.close(fd)
    native, zone = run_native(s), run_zone(s)
    assert_conforms(s)            # runs both, normalises, compares, explains

Both runs start from identical fresh trees: a tmpfs directory holding
/sysinterp and the SEED tree under /scratch.  Natively sysinterp runs chroot'ed
into its copy (we are root); in the zone the copy is the rootfs.  A failure
prints the script side by side and a command that replays it:
`python3 -m tests.conformance.replay SCRIPT`.
"""
from __future__ import annotations

import atexit
import base64
import itertools
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from construct import (Const, Enum, GreedyBytes, GreedyRange, Int8ul, Int16ul, Int32ul, Int64sl,
                       Int64ul, LazyBound, Prefixed, PrefixedArray, Struct, Switch, this)

from .normalise import Normaliser, Record, expected

REPO = Path(__file__).resolve().parents[2]
TESTBINS = REPO / "testbins"
SYSINTERP = TESTBINS / "build" / "sysinterp"
STEP_TIMEOUT = 20.0

# ---- the format -----------------------------------------------------------

TAG = Enum(Int8ul, INT=0, STR=1, SLOT=2, OUT=3, IOV=4, STEPS=5, SLOTOFF=6)
KIND = Enum(Int8ul, raw=0, bytes=1, cstr=2, stat=3, statx=4, dirents=5, int2=6, utsname=7,
            timespec=8, sigset=9, sigaction=10, wstatus=11, int=12)

ARG = Struct(
    "tag" / TAG,
    "value" / Switch(this.tag, {
        "INT": Int64sl,                                        # the value
        "STR": Prefixed(Int16ul, GreedyBytes),                 # a pointer to a NUL-terminated copy
        "SLOT": Int8ul,                                        # the value an earlier step saved
        "OUT": Struct("size" / Int32ul, "kind" / KIND),        # a zeroed buffer, printed as kind
        "IOV": PrefixedArray(Int8ul, LazyBound(lambda: ARG)),  # struct iovec[] over STR/OUT
        "STEPS": PrefixedArray(Int16ul, LazyBound(lambda: STEP)),  # fork's child
        "SLOTOFF": Struct("slot" / Int8ul, "offset" / Int64sl),   # a saved value plus an offset
    }),
)
STEP = Struct(
    "nr" / Int16ul,
    # source 0 saves the return value, k >= 1 the (k-1)th int of the first out buffer
    "save" / PrefixedArray(Int8ul, Struct("slot" / Int8ul, "source" / Int8ul)),
    "args" / PrefixedArray(Int8ul, ARG),
)
HEADER = Struct("magic" / Const(b"LXBS"), "version" / Const(1, Int8ul))
SCRIPT = Struct("header" / HEADER, "steps" / GreedyRange(STEP))
HEADER_BYTES = HEADER.build({})

# layouts a script passes by pointer
TIMESPEC = Struct("tv_sec" / Int64sl, "tv_nsec" / Int64sl)
KSIGACTION = Struct("handler" / Int64ul, "flags" / Int64ul, "restorer" / Int64ul, "mask" / Int64ul)

# pseudo-syscalls of sysinterp (above every real number)
PSEUDO = {"peek": 1000, "poke": 1001}

AT_FDCWD = -100
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


def timespecs(*pairs) -> bytes:
    """utimensat's times: (sec, nsec) pairs, nsec may be UTIME_NOW/UTIME_OMIT."""
    return b"".join(TIMESPEC.build({"tv_sec": s, "tv_nsec": n}) for s, n in pairs)


def sigaction(handler: int, flags: int = 0, mask: int = 0) -> bytes:
    """The kernel's struct sigaction (handler SIG_DFL=0 or SIG_IGN=1)."""
    return KSIGACTION.build({"handler": handler, "flags": flags, "restorer": 0, "mask": mask})


def sigset(*signals: int) -> bytes:
    return Int64ul.build(sum(1 << (s - 1) for s in signals))


# ---- syscall numbers: the brand's table -----------------------------------

def _table():
    from lxbrand.brand import BY_NAME, BY_NR
    return BY_NAME, BY_NR


def nr_of(name: str) -> int:
    if name in PSEUDO:
        return PSEUDO[name]
    by_name, _ = _table()
    if name not in by_name:
        raise KeyError(f"{name}: not a syscall in the brand's table")
    return by_name[name].nr


def name_of(nr: int) -> str:
    for k, v in PSEUDO.items():
        if v == nr:
            return k
    _, by_nr = _table()
    sc = by_nr.get(nr)
    return sc.name if sc is not None else f"syscall_{nr}"


# ---- the steps ------------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    """A value saved by an earlier step (an fd, a pid, an address)."""
    n: int

    def __repr__(self) -> str:
        return f"${self.n}"

    def __add__(self, offset: int) -> "SlotOffset":
        return SlotOffset(self.n, offset)


@dataclass(frozen=True)
class SlotOffset:
    """A saved value plus an offset: an address inside a mapping."""
    n: int
    offset: int

    def __repr__(self) -> str:
        return f"${self.n}{self.offset:+d}"


@dataclass(frozen=True)
class Out:
    """An output buffer the kernel fills, printed by sysinterp as `kind`."""
    kind: str
    size: int

    def __repr__(self) -> str:
        return f"<{self.kind}[{self.size}]>"


@dataclass(frozen=True)
class Iov:
    items: tuple   # of bytes (writev) or Out (readv)

    def __repr__(self) -> str:
        return "[" + ", ".join(repr(i) for i in self.items) + "]"


@dataclass
class Step:
    nr: int
    args: tuple
    save: tuple = ()    # ((slot, source), ...)

    @property
    def name(self) -> str:
        return name_of(self.nr)

    def to_container(self) -> dict:
        return {"nr": self.nr, "save": [{"slot": s, "source": src} for s, src in self.save],
                "args": [_arg_container(a) for a in self.args]}

    @classmethod
    def from_container(cls, c) -> "Step":
        return cls(c.nr, tuple(_arg_value(a) for a in c.args), tuple((s.slot, s.source) for s in c.save))

    def encode(self) -> bytes:
        return STEP.build(self.to_container())

    def render(self) -> str:
        params = CALLS.get(self.name)
        names = [p.name for p in params.params] if params else []
        shown = []
        for i, a in enumerate(self.args):
            pname = names[i] if i < len(names) else ""
            shown.append(_render_arg(pname, a))
        text = f"{self.name}({', '.join(shown)})"
        if self.save:
            text += " -> " + ", ".join(f"${s}" for s, _ in self.save)
        return text


def _render_arg(pname: str, a) -> str:
    if isinstance(a, bool) or not isinstance(a, int):
        if isinstance(a, list):
            return "{" + "; ".join(s.render() for s in a) + "}"
        return repr(a)
    if a == AT_FDCWD and "fd" in pname:
        return "AT_FDCWD"
    if pname in ("mode", "mask") and a >= 0:
        return oct(a)
    if pname in ("flags", "prot") and a > 0:
        return hex(a)
    return str(a)


def _arg_container(a) -> dict:
    if isinstance(a, bool):
        a = int(a)
    if isinstance(a, int):
        return {"tag": "INT", "value": a}
    if isinstance(a, str):
        a = os.fsencode(a)
    if isinstance(a, (bytes, bytearray)):
        return {"tag": "STR", "value": bytes(a)}
    if isinstance(a, Slot):
        return {"tag": "SLOT", "value": a.n}
    if isinstance(a, SlotOffset):
        return {"tag": "SLOTOFF", "value": {"slot": a.n, "offset": a.offset}}
    if isinstance(a, Out):
        return {"tag": "OUT", "value": {"size": a.size, "kind": a.kind}}
    if isinstance(a, Iov):
        return {"tag": "IOV", "value": [_arg_container(x) for x in a.items]}
    if isinstance(a, (list, tuple)) and all(isinstance(s, Step) for s in a):
        return {"tag": "STEPS", "value": [s.to_container() for s in a]}
    raise TypeError(f"cannot pass {a!r} to a syscall in a script")


def _arg_value(c):
    tag = str(c.tag)
    if tag == "INT":
        return c.value
    if tag == "STR":
        return bytes(c.value)
    if tag == "SLOT":
        return Slot(c.value)
    if tag == "SLOTOFF":
        return SlotOffset(c.value.slot, c.value.offset)
    if tag == "OUT":
        return Out(str(c.value.kind), c.value.size)
    if tag == "IOV":
        return Iov(tuple(_arg_value(x) for x in c.value))
    return [Step.from_container(s) for s in c.value]


# ---- the calls a script can make ------------------------------------------
#
# The signatures are the brand's table (lxbrand/brand/table.py), the one the
# trace decoder reads: each call's arguments in order, which are out buffers
# and which argument sizes them (`buf:out[bytes](count)`), and what the result
# is (`-> fd`).  What a script adds is below, one line per call it can make:
# `word=default` may be left out (an in-buffer's length defaults to len() of
# it, by the table's relation); `word:KIND` prints an out buffer as sysinterp's
# KIND instead of the one OUT_KINDS gives its type; `word:readiov` takes a list
# of sizes, `word:writeiov` a list of bytes, `word:steps` a child Script (and
# fork's exit status after it); `-> fd` saves a result the table does not call
# one.  An out buffer given by keyword is passed as it is (`s.uname(buf=0)`
# passes NULL).  Out buffers the table gives a size to hold that many bytes;
# the others, their layout's size (abi.size_of).  A pipe's `out[int[2]]` saves
# its two ints.  PSEUDO_LINES are sysinterp's own calls, not syscalls.

SCRIPT_LINES = """
read
write
open            mode=0
close
stat
fstat
lstat
lseek
mmap            fd=-1 offset=0
mprotect
munmap
rt_sigaction    sigsetsize=8
rt_sigprocmask  sigsetsize=8
pread64
pwrite64
readv           iov:readiov
writev          iov:writeiov
access
dup
dup2
getpid
fork            child:steps status=0
wait4           wstatus:wstatus options=0 rusage=0
kill
uname
fcntl           arg=0                                    -> fd
flock
fsync
truncate
ftruncate
getdents64
getcwd          buf:cstr
chdir
fchdir
rename
mkdir
rmdir
creat
link
unlink
symlink
readlink
chmod
fchmod
chown
fchown
lchown
umask
getuid
getgid
geteuid
getegid
getppid
gettid
getpgid
getsid
setsid
setpgid
rt_sigpending   sigsetsize=8
mknod           dev=0
clock_gettime
openat          mode=0
mkdirat
mknodat         dev=0
fchownat        flags=0
newfstatat      flags=0
unlinkat        flags=0
renameat
linkat          flags=0
symlinkat
readlinkat
fchmodat
faccessat
utimensat       flags=0
fallocate
eventfd2
pipe2
dup3
renameat2
memfd_create
statx
close_range
faccessat2
unshare
sethostname
setdomainname
reboot          arg=0
init_module
delete_module
swapoff
bpf
io_uring_setup
ioctl
mlock
munlock
getpriority
setpriority
sched_setscheduler
timerfd_create
capget
"""

PSEUDO_LINES = """
peek            addr offset length
poke            addr offset data
"""

# the table's out[T] -> the kind sysinterp prints it as; an out[T] of another
# T is an argument the script gives (a raw pointer, as capget's datap)
OUT_KINDS = {"bytes": "bytes", "stat": "stat", "statx": "statx", "utsname": "utsname", "timespec": "timespec",
             "sigset": "sigset", "sigaction": "sigaction", "int": "int", "int[2]": "int2",
             "linux_dirent64[]": "dirents"}


@dataclass
class Param:
    name: str
    kind: str = ""          # "", "out", "readiov", "writeiov", "steps"
    out_kind: str = ""
    out_size: object = None  # int, or the name of the argument that sizes it
    default: object = None
    has_default: bool = False


@dataclass
class Call:
    name: str
    params: list
    saves: int              # 0, 1 (the return value) or 2 (two ints of the first out buffer)


def _extras(words) -> tuple:
    """A script line's words after the name: ({param: kind}, {param: default})."""
    kinds, defaults = {}, {}
    for w in words:
        name, colon, kind = w.partition(":")
        if colon:
            kinds[name] = kind
            continue
        name, eq, default = w.partition("=")
        if not eq:
            raise ValueError(f"script line word {w!r}: expected NAME=DEFAULT or NAME:KIND")
        defaults[name] = int(default)
    return kinds, defaults


def _call_from_table(name: str, words, saves_extra: int) -> Call:
    from lxbrand.brand import BY_NAME, abi
    from lxbrand.brand.decode import TYPE
    sc = BY_NAME[name]
    kinds, defaults = _extras(words)
    sizes = sc.sizes
    sized_by = {n: buf for buf, n in sizes.items()}
    names = [n for n, _ in sc.params]
    for n in list(kinds) + list(defaults):
        if n not in names and not (name == "fork" and n in ("child", "status")):
            raise ValueError(f"{name}: the table's signature has no argument {n!r} ({sc.signature})")
    params, saves = [], 0
    for pname, kind in sc.params:
        m = TYPE.match(kind)
        if pname in kinds and kinds[pname] in ("readiov", "writeiov"):
            params.append(Param(pname, kinds[pname]))
            continue
        target = (m.group("target") + (m.group("array") or "")) if m and m.group("dir") else None
        if m and m.group("dir") == "out" and (pname in kinds or target in OUT_KINDS):
            size = sizes.get(pname) or abi.size_of(target)
            params.append(Param(pname, "out", kinds.get(pname) or OUT_KINDS[target], size))
            if target == "int[2]":
                saves = 2
            continue
        p = Param(pname)
        if pname in defaults:
            p.has_default, p.default = True, defaults[pname]
        elif pname in sized_by and TYPE.match(dict(sc.params)[sized_by[pname]]).group("dir") == "in":
            p.has_default, p.default = True, f"len({sized_by[pname]})"
        params.append(p)
    if name == "fork":                  # sysinterp's fork runs a child script, then exits with status
        params += [Param("child", "steps"), Param("status", default=defaults.get("status", 0), has_default=True)]
    if not saves:
        saves = 1 if sc.returns in ("fd", "pid", "addr") or saves_extra else 0
    return Call(name, params, saves)


def _pseudo(line: str) -> Call:
    words = line.split()
    return Call(words[0], [Param(w) for w in words[1:]], 0)


def _parse_calls(text: str, pseudo: str) -> dict:
    calls = {}
    for line in text.strip().splitlines():
        spec, _, ret = line.partition("->")
        words = spec.split()
        calls[words[0]] = _call_from_table(words[0], words[1:], len(ret.split()))
    for line in pseudo.strip().splitlines():
        c = _pseudo(line)
        calls[c.name] = c
    return calls


CALLS = _parse_calls(SCRIPT_LINES, PSEUDO_LINES)


class Script:
    """A list of steps, built call by call; results to reuse come back as Slots."""

    def __init__(self, steps: Optional[list] = None, _alloc=None):
        self.steps: list[Step] = list(steps or [])
        self._alloc = _alloc if _alloc is not None else itertools.count()
        self.on_step = None      # a callback, for scripts that run as they are built

    def __len__(self) -> int:
        return len(self.steps)

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in CALLS:
            raise AttributeError(name)
        return lambda *args, **kw: self.call(name, *args, **kw)

    def child(self) -> "Script":
        """A sub-script for fork: it shares this script's slot numbering."""
        return Script(_alloc=self._alloc)

    def slot(self) -> Slot:
        n = next(self._alloc)
        if n > 255:
            raise ValueError("a script holds at most 256 slots")
        return Slot(n)

    def call(self, name: str, *args, save: bool = False, **kw):
        """Append one step; returns its Slot(s) when the call saves its result."""
        spec = CALLS[name]
        given = list(args)
        values: dict[str, object] = {}
        for p in spec.params:
            if p.kind == "out":
                if p.name in kw:          # a raw pointer instead (0: NULL)
                    values[p.name] = kw.pop(p.name)
                continue
            if given:
                values[p.name] = given.pop(0)
            elif p.name in kw:
                values[p.name] = kw.pop(p.name)
            elif p.has_default and not str(p.default).startswith("len("):
                values[p.name] = p.default
            elif not p.has_default:
                raise TypeError(f"{name}: missing argument {p.name}")
        if given or kw:
            raise TypeError(f"{name}: unexpected arguments {given or kw}")
        out = []
        for p in spec.params:
            if p.kind == "out" and p.name in values:
                out.append(values[p.name])
            elif p.kind == "out":
                size = p.out_size if isinstance(p.out_size, int) else values[p.out_size]
                out.append(Out(p.out_kind, max(0, int(size)) if isinstance(size, int) else 0))
            elif p.kind == "readiov":
                out.append(Iov(tuple(Out("bytes", n) for n in values[p.name])))
            elif p.kind == "writeiov":
                out.append(Iov(tuple(os.fsencode(b) if isinstance(b, str) else bytes(b)
                                     for b in values[p.name])))
            elif p.kind == "steps":
                child = values[p.name]
                out.append(list(child.steps if isinstance(child, Script) else child))
            elif p.name in values:
                out.append(values[p.name])
            else:  # len(x)
                ref = str(p.default)[4:-1]
                out.append(len(values[ref]))
        saves = spec.saves or (1 if save else 0)
        slots = [self.slot() for _ in range(saves)]
        if saves == 2:
            save_spec = ((slots[0].n, 1), (slots[1].n, 2))
        else:
            save_spec = tuple((s.n, 0) for s in slots)
        step = Step(nr_of(name), tuple(out), save_spec)
        self.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)
        if saves == 0:
            return None
        return slots[0] if saves == 1 else tuple(slots)

    # -- encoding -------------------------------------------------------------

    def encode(self) -> bytes:
        return HEADER_BYTES + b"".join(s.encode() for s in self.steps)

    @classmethod
    def decode(cls, data: bytes) -> "Script":
        c = SCRIPT.parse(data)
        steps = [Step.from_container(s) for s in c.steps]
        used = [n for n, _ in _all_saves(steps)]
        return cls(steps, _alloc=itertools.count(max(used) + 1 if used else 0))

    def b64(self) -> str:
        return base64.urlsafe_b64encode(self.encode()).decode()

    @classmethod
    def from_b64(cls, text: str) -> "Script":
        return cls.decode(base64.urlsafe_b64decode(text.encode()))

    def indexed(self) -> dict:
        """index ("3", "3.1") -> Step, as sysinterp numbers them."""
        out = {}

        def walk(prefix, steps):
            for i, s in enumerate(steps):
                idx = f"{prefix}{i}"
                out[idx] = s
                for a in s.args:
                    if isinstance(a, list):
                        walk(idx + ".", a)
        walk("", self.steps)
        return out

    def render(self) -> str:
        return "\n".join(f"{i}: {s.render()}" for i, s in enumerate(self.steps))


def _all_saves(steps):
    for s in steps:
        yield from s.save
        for a in s.args:
            if isinstance(a, list):
                yield from _all_saves(a)


# ---- trees: a fresh root per run -------------------------------------------

# The tree every run starts from, under /scratch (mode, content or link target).
# Times are set to SEED_TIME so that stat's times of untouched entries compare.
SEED = [
    ("d", 0o755, None),
    ("d/e", 0o700, None),
    ("d/g", 0o600, b""),
    ("f", 0o644, b"hello, world\n"),
    ("x", 0o755, b"#!/bin/sh\nexit 3\n"),
    ("l", "link", "f"),
    ("dl", "link", "d"),
    ("dangling", "link", "nowhere"),
    ("loop", "link", "loop"),
]
SEED_TIME = 1_000_000_000
# mount points the zone makes in its root; the native tree has the same dirs
ROOT_DIRS = [("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("tmp", 0o1777)]

_base: Optional[str] = None
_counter = itertools.count()
_lock = threading.RLock()


def scratch_base() -> str:
    """A private directory on a tmpfs (/dev/shm) for this process's trees."""
    global _base
    with _lock:
        if _base is None:
            parent = os.environ.get("LXB_CONFORMANCE_DIR") or (
                "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir())
            _base = tempfile.mkdtemp(prefix="lxb-conformance-", dir=parent)
            atexit.register(shutil.rmtree, _base, True)
        return _base


def ensure_sysinterp() -> str:
    src = TESTBINS / "sysinterp.c"
    if not SYSINTERP.exists() or SYSINTERP.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["make", "-s", "-C", str(TESTBINS), "build/sysinterp"], check=True,
                       stdout=subprocess.DEVNULL)
    return str(SYSINTERP)


_binary: Optional[str] = None


def _our_sysinterp() -> str:
    """This process's copy of sysinterp, taken once: a rebuild while tests run
    never hands a run a half-written binary."""
    global _binary
    with _lock:
        if _binary is None:
            path = os.path.join(scratch_base(), "sysinterp")
            shutil.copy2(ensure_sysinterp(), path + ".tmp")
            os.rename(path + ".tmp", path)
            _binary = path
        return _binary


def fresh_root(native: bool) -> str:
    """A new root: /sysinterp and the SEED tree under /scratch."""
    root = os.path.join(scratch_base(), f"root-{next(_counter)}")
    os.mkdir(root, 0o755)
    os.link(_our_sysinterp(), os.path.join(root, "sysinterp"))
    scratch = os.path.join(root, "scratch")
    os.mkdir(scratch, 0o755)
    for rel, mode, content in SEED:
        path = os.path.join(scratch, rel)
        if mode == "link":
            os.symlink(content, path)
        elif content is None:
            os.mkdir(path)
            os.chmod(path, mode)
        else:
            with open(path, "wb") as f:
                f.write(content)
            os.chmod(path, mode)
    for rel, _, _ in sorted(SEED, key=lambda e: -e[0].count("/")):
        os.utime(os.path.join(scratch, rel), (SEED_TIME, SEED_TIME), follow_symlinks=False)
    os.utime(scratch, (SEED_TIME, SEED_TIME))
    # mount points, on both sides: a zone over a tree without them shadows
    # the root with a tmpfs of its entries (set-up writes nothing to a
    # rootfs), and /scratch would become a mount of its own (EXDEV, EBUSY)
    for name, mode in ROOT_DIRS:
        os.mkdir(os.path.join(root, name))
        os.chmod(os.path.join(root, name), mode)
    if native:
        for name in DEV_NODES:              # mount points for _native_preexec
            open(os.path.join(root, "dev", name), "w").close()
    return root


def remove_root(root: str) -> None:
    shutil.rmtree(root, ignore_errors=True)


def host_identity() -> dict:
    """Zone options that make a zone's names those of the native run."""
    try:
        with open("/proc/sys/kernel/domainname") as f:
            domain = f.read().strip()
    except OSError:
        domain = "(none)"
    opts = {"hostname": os.uname().nodename}
    if domain and domain != "(none)":
        opts["domainname"] = domain
    return opts


# ---- running ----------------------------------------------------------------

@dataclass
class Output:
    """What sysinterp printed (step lines only) and how it ended."""
    lines: list = field(default_factory=list)
    returncode: Optional[int] = None
    error: str = ""         # "# error" lines, a zone that did not start, a timeout
    stderr: str = ""        # what the script wrote to fds 0-2 (not compared)

    @classmethod
    def from_text(cls, text: str, returncode: Optional[int]) -> "Output":
        out = cls(returncode=returncode)
        for line in text.splitlines():
            if line.startswith("# error"):
                out.error += line + "\n"
            elif line and not line.startswith("#"):
                out.lines.append(line)
        return out


_libc = None
CLONE_NEWNS, CLONE_NEWUTS = 0x00020000, 0x04000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x1000, 0x4000, 0x40000
# the zone's minimal /dev nodes that a native run gets too (the rest is a difference)
DEV_NODES = ("null", "zero", "full", "random", "urandom")


def _native_preexec(root: str):
    """What the native run does before exec: a mount namespace in which its
    root is a mount of its own, as the zone's root is (statx reports
    STATX_ATTR_MOUNT_ROOT for / in both), with a /proc and the /dev nodes
    the zone has; a UTS namespace so that sethostname stays there; chroot."""
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
    broot = os.fsencode(root)
    proc = broot + b"/proc"
    devs = [(os.fsencode(f"/dev/{n}"), broot + os.fsencode(f"/dev/{n}")) for n in DEV_NODES]

    def enter():
        ok = (_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS) == 0
              and _libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0
              and _libc.mount(broot, broot, None, MS_BIND | MS_REC, None) == 0
              and _libc.mount(b"proc", proc, b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) == 0)
        for host, inside in devs:
            ok = ok and _libc.mount(host, inside, None, MS_BIND, None) == 0
        if not ok:
            raise OSError(ctypes_errno(), "native run: cannot set up its mount namespace")
        os.chroot(root)
        os.chdir("/")
    return enter


def ctypes_errno() -> int:
    import ctypes
    return ctypes.get_errno()


def run_native(script: Script, timeout: float = 60.0) -> Output:
    """Run the script natively: sysinterp chroot'ed into a fresh tree."""
    root = fresh_root(native=True)
    try:
        proc = subprocess.run(["/sysinterp"], input=script.encode(), capture_output=True,
                              preexec_fn=_native_preexec(root), start_new_session=True,
                              env={"PATH": "/"}, timeout=timeout)
        out = Output.from_text(proc.stdout.decode(errors="replace"), proc.returncode)
        out.stderr = proc.stderr.decode(errors="replace")
        return out
    finally:
        remove_root(root)


def parse_option(text: str) -> tuple:
    """OPTION=VALUE as --zone and LXB_ZONE_OPTIONS take it: ints, true/false/none, else a string."""
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise ValueError(f"{text!r}: expected OPTION=VALUE")
    low = value.lower()
    if low in ("true", "yes", "false", "no", "none"):
        return key, {"true": True, "yes": True, "false": False, "no": False, "none": None}[low]
    try:
        return key, int(value, 0)
    except ValueError:
        return key, value


def env_zone_options() -> dict:
    """Zone options for the generated tests from LXB_ZONE_OPTIONS ("kernel_release=4.19.0,
    hostname=box"): a campaign can check a personality against normalise.EXPECTED."""
    text = os.environ.get("LXB_ZONE_OPTIONS", "").strip()
    return dict(parse_option(t.strip()) for t in text.split(",") if t.strip())


def env_trace() -> Optional[str]:
    """LXB_TRACE=SET (`make conformance-traced`): every zone of the suite runs
    under `lxrun --trace=SET --stats --report` ("all", "%file,!close", ...),
    and must behave exactly as without it (issue 13)."""
    return os.environ.get("LXB_TRACE", "").strip() or None


class TraceWatch:
    """The callback of a traced conformance zone: keeps what a check of the
    trace needs (the events are decoded and formatted as text to /dev/null
    too, so that a decoder bug fails the run: trace.Session.finish raises a
    callback's run's error)."""

    def __init__(self):
        self.events = 0
        self.syscalls = 0
        self.exits: list = []          # (pid, exit_code, signal) of every traced exit

    def __call__(self, event: dict) -> None:
        self.events += 1
        if event["type"] == "syscall":
            self.syscalls += 1
        elif event["type"] == "exit":
            self.exits.append((event["pid"], event["exit_code"], event["signal"]))

    def check(self, returncode: Optional[int], where: str = "zone") -> Optional[str]:
        """None when the trace is consistent with how the run ended, else why not."""
        if returncode is None:
            return None
        if not self.syscalls:
            return f"# traced {where}: the trace holds no syscall\n"
        want = (None, signal.Signals(-returncode).name) if returncode < 0 else (returncode, None)
        if not any((code, sig) == want for _, code, sig in self.exits):
            return (f"# traced {where}: exit {returncode}, but the trace's exits are {self.exits[-3:]}\n")
        return None


def zone_options(**options) -> dict:
    """The options a conformance zone runs with: the host's names unless
    given; traced=SET (default LXB_TRACE) runs it under tracing, with a
    TraceWatch as its `trace` callback."""
    opts = dict(host_identity())
    traced = options.pop("traced", env_trace())
    opts.update(options)
    opts.setdefault("net", "none")
    if traced:
        opts.update(trace_set=traced, trace=TraceWatch(), trace_output=os.devnull, stats=True, report=True)
    return opts


def run_zone(script: Script, timeout: float = 60.0, **options) -> Output:
    """Run the script in a zone over a fresh tree (the tree is the zone's rootfs)."""
    from lxbrand import Zone
    root = fresh_root(native=False)
    try:
        opts = zone_options(**options)
        zone = Zone(root, **opts)
        proc = zone.run(["/sysinterp"], input=script.encode(), capture_output=True, timeout=timeout)
        out = Output.from_text(proc.stdout.decode(errors="replace"), proc.returncode)
        out.stderr = proc.stderr.decode(errors="replace")
        if isinstance(opts.get("trace"), TraceWatch):
            out.error += opts["trace"].check(proc.returncode) or ""
        return out
    finally:
        remove_root(root)


# ---- normalising and comparing ----------------------------------------------

def normalise(output: Output, transform=None) -> list[Record]:
    """sysinterp's lines as Records, with normalise.NORMALISE applied.

    `transform` (a list of Records -> a list of Records) runs before the
    renaming, so that an answer it replaces (a native statx that the zone's
    personality must answer ENOSYS) names no inode the zone never saw."""
    records = [Record.parse(line, name_of) for line in output.lines]
    if transform is not None:
        records = transform(records)
    n = Normaliser()
    return [n.record(r) for r in records]


def returncode_text(rc: Optional[int]) -> str:
    if rc is None:
        return "running"
    if rc < 0:
        return f"killed by {signal.Signals(-rc).name}"
    return f"exit {rc}"


@dataclass
class Comparison:
    script: Script
    native: Output
    zone: Output
    options: dict
    rows: list           # (step text, native line, zone line, same?)
    same: bool

    def report(self) -> str:
        lines = ["each step, then its answer (native and zone when they differ); native answers"
                 " are normalised and turned into what the zone must answer (normalise.py)"]
        for step, nat, zon, same in self.rows:
            mark = " " if same else "!"
            lines.append(f"{mark} {step}")
            if same:
                lines.append(f"    {nat}")
            else:
                lines.append(f"    native: {nat}")
                lines.append(f"    zone:   {zon}")
        nrc, zrc = returncode_text(self.native.returncode), returncode_text(self.zone.returncode)
        lines.append(f"{'  ' if nrc == zrc else '! '}end: native {nrc}, zone {zrc}")
        for what, out in (("native", self.native), ("zone", self.zone)):
            if out.error.strip():
                lines.append(f"  {what} said: {out.error.strip()}")
            if out.stderr.strip():
                lines.append(f"  {what} wrote on stderr: {out.stderr.strip()[:500]}")
        return "\n".join(lines)

    def replay_command(self) -> str:
        opts = "".join(f" --zone {k}={v}" for k, v in self.options.items())
        return f"python3 -m tests.conformance.replay{opts} {self.script.b64()}"


def compare(script: Script, native: Output, zone: Output, options: Optional[dict] = None) -> Comparison:
    options = dict(options or {})
    steps = script.indexed()
    nat = normalise(native, lambda records: expected(records, steps, options))
    zon = normalise(zone)
    rows, same = [], True
    n = max(len(nat), len(zon))
    for i in range(n):
        a = nat[i].render() if i < len(nat) else "(nothing)"
        b = zon[i].render() if i < len(zon) else "(nothing)"
        idx = (nat[i] if i < len(nat) else zon[i]).index
        step = steps.get(idx)
        text = f"{idx}: {step.render()}" if step is not None else idx
        rows.append((text, a, b, a == b))
        same &= a == b
    same &= native.returncode == zone.returncode and not native.error.strip() and not zone.error.strip()
    return Comparison(script, native, zone, options, rows, same)


class ConformanceError(AssertionError):
    pass


def explain(cmp: Comparison, title: str = "the zone differs from native") -> str:
    return (f"{title}\n{cmp.script.render()}\n\n{cmp.report()}\n\n"
            f"replay: {cmp.replay_command()}")


def check_native(script: Script, expect: Optional[Sequence] = None) -> Output:
    """Run natively and check the case tests what it says: `expect` lists, per
    top-level step, the return value it must print (None: any)."""
    native = run_native(script)
    assert not native.error.strip(), f"sysinterp failed natively: {native.error}"
    if expect is not None:
        rets = {r.index: r.ret for r in (Record.parse(line, name_of) for line in native.lines)}
        for i, want in enumerate(expect):
            if want is None:
                continue
            got = rets.get(str(i), "(nothing)")
            ok = re.fullmatch(want, got) if isinstance(want, str) else got == str(want)
            assert ok, (f"natively step {i} ({script.steps[i].render()}) answered {got}, "
                        f"the case expects {want}\n{script.render()}\n" + "\n".join(native.lines))
    return native


def assert_conforms(script: Script, expect: Optional[Sequence] = None, **options) -> Comparison:
    """Native first (checked against `expect`), then the zone; they must agree
    up to normalise.NORMALISE and the options' normalise.EXPECTED hooks."""
    native = check_native(script, expect)
    zone = run_zone(script, **options)
    cmp = compare(script, native, zone, options)
    if not cmp.same:
        raise ConformanceError(explain(cmp))
    return cmp


# ---- sessions: one script sent step by step to a live sysinterp --------------

class _Lines:
    """Lines from a pipe, with a timeout per line."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = b""
        self.eof = False

    def readline(self, timeout: float) -> Optional[str]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("sysinterp did not answer")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
        if b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
            return line.decode(errors="replace")
        if self.buf:
            line, self.buf = self.buf, b""
            return line.decode(errors="replace")
        return None


class Session:
    """A live sysinterp, natively (where="native") or in a zone, fed step by step."""

    def __init__(self, where: str, **options):
        self.where = where
        self.options = options
        self.output = Output()
        self.index = 0
        self.root = fresh_root(native=where == "native")
        self.proc = None
        self.thread = None
        self.zone = None
        self.watch = None               # a traced zone's TraceWatch
        self.result = {}
        self.dead = False
        if where == "native":
            self.proc = subprocess.Popen(["/sysinterp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, preexec_fn=_native_preexec(self.root),
                                         start_new_session=True, env={"PATH": "/"})
            self.w = self.proc.stdin.fileno()
            self.lines = _Lines(self.proc.stdout.fileno())
        else:
            self._start_zone()
        first = self.lines.readline(STEP_TIMEOUT)
        if first != "# sysinterp ready":
            self.close()
            raise RuntimeError(f"sysinterp did not start {where}: {first!r} {self.result}")
        if where != "native":
            os.close(self.guest_in)     # the guest holds its own copies now
            os.close(self.guest_out)
        self._write(HEADER_BYTES)

    def _start_zone(self) -> None:
        from lxbrand import Zone
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        self.guest_in, self.guest_out, self.w = in_r, out_w, in_w
        self.lines = _Lines(out_r)
        self.out_r = out_r
        opts = zone_options(**self.options)
        self.watch = opts.get("trace") if isinstance(opts.get("trace"), TraceWatch) else None
        self.zone = Zone(self.root, **opts)

        def run():
            try:
                self.result["proc"] = self.zone.run(["/sysinterp"], stdin=in_r, stdout=out_w,
                                                    stderr=subprocess.DEVNULL, timeout=3600)
            except BaseException as e:   # reported by close()
                self.result["error"] = e
                for fd in (self.guest_in, self.guest_out):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        self.thread = threading.Thread(target=run, name="conformance-zone", daemon=True)
        self.thread.start()

    def _write(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                n = os.write(self.w, view)
                view = view[n:]
        except (BrokenPipeError, OSError):
            self.dead = True

    def send(self, step: Step) -> list[str]:
        """Run one step; the lines it printed (none once sysinterp has died)."""
        idx = str(self.index)
        self.index += 1
        if self.dead:
            return []
        self._write(step.encode())
        got = []
        while True:
            try:
                line = self.lines.readline(STEP_TIMEOUT)
            except TimeoutError:
                self.output.error += f"# step {idx} did not answer in {STEP_TIMEOUT:.0f}s\n"
                self.kill()
                break
            if line is None:
                self.dead = True
                break
            if line.startswith("# error"):
                self.output.error += line + "\n"
                continue
            if line.startswith("#"):
                continue
            got.append(line)
            if line.split(" ", 1)[0] == idx:
                break
        self.output.lines.extend(got)
        return got

    def kill(self) -> None:
        self.dead = True
        try:
            if self.proc is not None:
                self.proc.kill()
            elif self.zone is not None and self.zone._init_pid > 0:
                os.kill(self.zone._init_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> Output:
        """End the script (EOF on sysinterp's input) and wait for its status."""
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        else:
            try:
                os.close(self.w)
            except OSError:
                pass
        rest = []
        while True:
            try:
                line = self.lines.readline(STEP_TIMEOUT)
            except TimeoutError:
                self.output.error += "# sysinterp did not end at the end of its script\n"
                self.kill()
                break
            if line is None:
                break
            rest.append(line)
        if self.proc is not None:
            self.proc.wait()
            self.output.returncode = self.proc.returncode
            self.proc.stdout.close()
        else:
            self.thread.join(STEP_TIMEOUT)
            if self.thread.is_alive():
                self.kill()
                self.thread.join()
            os.close(self.out_r)
            if "proc" in self.result:
                self.output.returncode = self.result["proc"].returncode
                if self.watch is not None:
                    self.output.error += self.watch.check(self.output.returncode) or ""
            else:
                self.output.error += f"# the zone failed: {self.result.get('error')!r}\n"
        tail = Output.from_text("\n".join(rest), None)
        self.output.lines.extend(tail.lines)
        self.output.error += tail.error
        remove_root(self.root)
        return self.output
