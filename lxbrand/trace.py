"""Watching a zone: --trace, --stats, --report (issue 13).

The mechanism (docs/DESIGN.md, "Watching a program"): traced syscalls are
SECCOMP_RET_TRACE in the zone's filter and a tracer thread in C
(csrc/trace.c) ptrace-seizes the guest before its execve, follows every
fork, clone and exec, and writes one fixed-size record per call (entry
registers, result, times, bounded copies of path and buffer arguments) to a
pipe.  This module says what to trace and copy (from the table: signatures
and classes).  The per-call path is C end to end: the tracer thread formats
each call's line itself (strace-like text or JSON lines, csrc/trace_fmt.c,
from a table csrc/trace_gen.py generates from the brand's at build time) and
keeps the statistics and the counts of the calls it answered; Python reads
them once, at the end.  Only a Zone(trace=callback) still gets records,
decoded here into events (Recorder, which is also the reference the C lines
are tested against).

    SET     strace's -e trace= (parse_set): names, numbers, %classes,
            /REGEX, ?ITEM, a leading "!" inverting the set; !NAME or !%CLASS
            after the first item excludes; "all" (the default).  Classes:
            model.CLASSES and FINE_CLASSES, from the table (Syscall.classes).

A syscall the brand emulates is answered by the supervisor, never by the
kernel, so the tracer does not see it; the report counts it instead.  A
syscall the brand denies or does not support is, when traced, answered by
the tracer with the filter's own errno and recorded.  A traced zone answers
ptrace(2) with EPERM (a task has one tracer: lxrun), and says so once on
stderr.

The report (--report) needs no tracer: under it the brand's denied and
unsupported syscalls are notified instead of answered in the kernel
(`ReportBrand`), and the C supervisor answers them with the same errno and
counts every call it answered, per syscall, with the first caller's command
line (struct lxb_report, csrc/supervisor.c); pass-through syscalls stay in
the kernel at no cost.  The C front door (csrc/frontdoor/lxrun.c) runs such
a zone the same way, from the brand the Python CLI stored for it, and writes
the report with the wording below (REPORT_*, which csrc/frontdoor/options.py
hands it at build time): one format, one place.
"""
from __future__ import annotations

import difflib
import errno as _errno
import json
import math
import os
import struct
import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Callable, Optional

from ._csup import Tracer, ffi, lib
from .brand import BY_NAME, BY_NR, TABLE, decode
from .brand.model import CLASSES, FINE_CLASSES
from .errors import ZoneConfigError

# struct lxb_trace_rec (csrc/lxbrand.h); the binding knows its size
RECORD = struct.Struct("<IIiiii6QqQQi3BB3HH768s")
assert RECORD.size == Tracer.RECORD_SIZE, "struct lxb_trace_rec changed: update trace.RECORD"
HEADER = struct.Struct("<IIiiii6QqQQ")
SLOT = 256
SHOW = decode.SHOW
PTRACE_NR = BY_NAME["ptrace"].nr
# the numbers the table has no name for: the filter answers them ENOSYS in the
# kernel; traced and counted (with no SET, or "all") as strace names them,
# syscall_0x1f4, with their six raw arguments.  LXB_NR_PAST's spec stands for
# every number outside the arrays too, negative or past them (csrc/trace.c,
# csrc/bpf/trace.bpf.c, csrc/bpf/stats.bpf.c, csrc/filter.c).
UNNAMED = tuple(nr for nr in range(lib.LXB_NR_MAX) if nr not in BY_NR)
assert lib.LXB_NR_PAST in UNNAMED


def unnamed_name(nr: int) -> str:
    """strace's name for a syscall number it has no name for: syscall_0x1f4."""
    return f"syscall_{nr & 0xFFFFFFFFFFFFFFFF:#x}"
FORMATS = ("text", "json")



def drain_records(fd: int, record, recorder) -> None:
    """Read fixed-size records (struct `record`, its last field the record's
    kind) from fd until EOF and feed each to recorder; closes fd.  The C
    tracer's pipe and the injector's log both come this way."""
    size = record.size
    buf = b""
    try:
        while True:
            chunk = os.read(fd, size * 256)
            if not chunk:
                break
            buf += chunk
            n = len(buf) // size
            for i in range(n):
                rec = record.unpack_from(buf, i * size)
                try:
                    recorder.feed(rec, rec[-1])
                except Exception as e:       # a bug of ours, or the callback's: keep draining
                    if recorder.error is None:
                        recorder.error = e
            buf = buf[n * size:]
    finally:
        os.close(fd)

class TraceError(ZoneConfigError):
    """A malformed SET, an unknown syscall or class name."""


# --- SET ---------------------------------------------------------------------------

def _names_of_class(cls: str) -> set:
    return {sc.nr for sc in TABLE if cls in sc.classes}


# strace's class names (basic_filters.c qualify_syscall_class, matched
# without regard to case): %CLASS, %%stat and %%statfs, %net, and the
# legacy bare names; each maps to a table class (model.CLASSES and
# FINE_CLASSES), None for every syscall
_CLASS_NAMES = {**{"%" + c: c for c in CLASSES + FINE_CLASSES if not c.endswith("_like")},
                "%%stat": "stat_like", "%%statfs": "statfs_like", "%net": "network", "%all": None, "all": None,
                **{c: c for c in ("desc", "file", "memory", "process", "signal", "ipc", "network")}}


def set_is_all(text: Optional[str]) -> bool:
    """No SET or "all": the unnamed numbers (UNNAMED, and those outside the
    arrays) are traced and counted too; any other SET names syscalls, and
    leaves them out."""
    return text is None or text.strip() in ("", "all", "%all")


def _set_item(item: str, text: str, what: str) -> set:
    """The numbers one item of a SET names (without its "!" or "?"):
    NAME, a number, %CLASS (or strace's other class names), /REGEX; an
    error naming the item when it names none."""
    if item.lower() in _CLASS_NAMES:
        cls = _CLASS_NAMES[item.lower()]
        return {sc.nr for sc in TABLE} if cls is None else _names_of_class(cls)
    if item in BY_NAME:
        return {BY_NAME[item].nr}
    if item.isdigit():
        if int(item) in BY_NR:
            return {int(item)}
        raise TraceError(f"{what} {text!r}: no syscall has number {item}")
    if item.startswith("/"):
        import re
        try:
            pattern = re.compile(item[1:])
        except re.error as e:
            raise TraceError(f"{what} {text!r}: {item!r} is not a regular expression ({e})") from None
        found = {sc.nr for sc in TABLE if pattern.search(sc.name)}
        if not found:
            raise TraceError(f"{what} {text!r}: {item!r} matches no syscall name")
        return found
    if item.startswith("%"):
        close = difflib.get_close_matches(item, [c for c in _CLASS_NAMES if c.startswith("%")], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise TraceError(f"{what} {text!r}: unknown class {item!r}{hint}; classes are "
                         + " ".join("%" + c for c in CLASSES))
    close = difflib.get_close_matches(item, list(BY_NAME), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise TraceError(f"{what} {text!r}: unknown syscall {item!r}{hint}; expected syscall names "
                     "(`lxrun syscalls`), %CLASS, /REGEX, !NAME to exclude, or all")


def parse_set(text: Optional[str], what: str = "--trace") -> set:
    """The syscall numbers a SET names ("openat,%process,!close"; "all"),
    in strace's -e trace= grammar: comma-separated names, numbers, classes
    (%file ..., %net, %stat %lstat %fstat %%stat %statfs %fstatfs %%statfs
    %pure, and the legacy bare file, desc, process, network, signal, ipc,
    memory), /REGEX (a syscall name search), "?" before an item that may
    name nothing, "none"; each leading "!" inverts the whole set ("!mmap,brk"
    leaves out both).  Beyond strace: "!" before a later item excludes that
    item only ("%file,!openat"; strace refuses it)."""
    every = {sc.nr for sc in TABLE}
    if text is None or text.strip() in ("", "all", "%all"):
        return every
    body = text.strip()
    negated = False
    while body.startswith("!"):
        negated = not negated
        body = body[1:]
    if body == "none":
        return every if negated else set()
    chosen: set = set()
    excluded: set = set()
    positive = False
    for k, raw in enumerate(body.split(",")):
        item = raw.strip()
        neg = k > 0 and item.startswith("!")
        if neg:
            item = item[1:]
        quiet = item.startswith("?")
        item = item.lstrip("?")
        if not item:
            raise TraceError(f"{what} {text!r}: an empty item (expected NAME, %CLASS, /REGEX, !NAME or all, "
                             "comma-separated)")
        try:
            nrs = _set_item(item, text, what)
        except TraceError:
            if not quiet:
                raise
            nrs = set()
        if neg:
            excluded |= nrs
        else:
            positive = True
            chosen |= nrs
    if negated:
        return every - chosen - excluded
    return (chosen if positive else every) - excluded


# --- what the tracer copies, from the signatures ------------------------------------

_SPECS: dict = {}


def copies(sc) -> list:
    """[(arg, how, lenarg, size, lenmul)], at most LXB_TRACE_SLOTS, most
    telling first; lenmul multiplies args[lenarg] (an array's count: bytes
    of one, 0 for 1)."""
    got = _SPECS.get(sc.nr)
    if got is not None:
        return got
    params = sc.params[:6]
    index = {name: i for i, (name, _) in enumerate(params)}
    found = []
    for i, (name, kind) in enumerate(params):
        m = decode.TYPE.match(kind)
        sized = index.get(sc.sizes.get(name), 6)      # the table's buf:in[bytes](count)
        if kind in ("path", "str"):
            found.append((0, i, lib.LXB_COPY_STR, 6, SLOT, 0))
        elif isinstance(decode.KINDS.get(kind), decode.Switch) and any(
                k in decode.POINTED for k in decode.KINDS[kind].cases.values()):
            # what a pointer a Switch picks points to (prctl's task name, ioctl's int): at entry
            # for the cases read then (PR_SET_NAME, FIONBIO), at exit for the others (PR_GET_NAME, FIONREAD)
            for when, how in (("in", lib.LXB_COPY_IN), ("out", lib.LXB_COPY_OUT)):
                sizes = [decode.POINTED[k][1] for k in decode.KINDS[kind].cases.values()
                         if decode.POINTED.get(k, ("",))[0] == when]
                if sizes:
                    found.append((2, i, how, 6, max(sizes), 0))
        elif m and decode.STYLES.get((sc.name, name)) in ("fdset", "select_timeout", "sigset_argpack"):
            # select, pselect6: the sets, the timeout and the sigmask, at entry and at exit, packed
            # over every slot (trace.c copy_select): the call's only copy, in slot 0, keyed by nfds
            if not any(f[2] == lib.LXB_COPY_SELECT for f in found):
                pack = index.get("sigmask", 6) if sc.name == "pselect6" else 6
                found.append((-1, 0, lib.LXB_COPY_SELECT, pack, SLOT * lib.LXB_TRACE_SLOTS, 0))
        elif m and decode.STYLES.get((sc.name, name)) == "timeout_left":
            found.append((2, i, lib.LXB_COPY_PAIR, 6, 16, 0))      # ppoll's timeout, and what was left
        elif m and decode.STYLES.get((sc.name, name)) == "off_change":
            found.append((2, i, lib.LXB_COPY_PAIR, 6, 8, 0))       # sendfile's offset, before and after
        elif m and decode.STYLES.get((sc.name, name)) == "off_in":
            found.append((2, i, lib.LXB_COPY_IN, 6, 8, 0))         # splice's offsets, as given
        elif m and decode.STYLES.get((sc.name, name)) in ("erestart", "erestart_abs"):
            found.append((2, i, lib.LXB_COPY_OUT_RESTART, 6, 16, 0))  # nanosleep's rem, when interrupted
        elif m and decode.STYLES.get((sc.name, name)) in ("iov_in", "iov_out") and sized < 6:
            # an iovec array and its buffers' first bytes, packed over the slots from its own on
            # (trace.c copy_iov): the call's last copy
            how = lib.LXB_COPY_IOV_IN if decode.STYLES[(sc.name, name)] == "iov_in" else lib.LXB_COPY_IOV_OUT
            found.append((-1, i, how, sized, SLOT * lib.LXB_TRACE_SLOTS, 0))
        elif m and decode.STYLES.get((sc.name, name)) == "iov_addr" and sized < 6:
            found.append((-1, i, lib.LXB_COPY_IN, sized, SLOT, 16))     # process_vm's remote entries
        elif m and decode.STYLES.get((sc.name, name)) in ("msghdr_in", "msghdr_out"):
            # a struct msghdr, its name, control and iovec array packed over every slot (trace.c
            # copy_msghdr): at entry (sendmsg), or at the exit up to the result (recvmsg: lenarg LEN_RET)
            out = decode.STYLES[(sc.name, name)] == "msghdr_out"
            found.append((-1, i, lib.LXB_COPY_MSGHDR, lib.LXB_COPY_LEN_RET if out else 6,
                          SLOT * lib.LXB_TRACE_SLOTS, 0))
        elif m and decode.STYLES.get((sc.name, name)) in ("mmsghdr_send", "mmsghdr_recv") and sized < 6:
            # a struct mmsghdr array, each entry's msghdr packed as above, at the exit (trace.c copy_mmsghdr);
            # lenmul non-zero: recvmmsg's (the namelens at entry, the entries it returned), its timeout
            # argument lenmul - 1 (decode.HELD_TIMEOUTS; 6: none) kept at entry and at the exit
            recv = decode.STYLES[(sc.name, name)] == "mmsghdr_recv"
            ts = next((j for j, (p, _) in enumerate(params) if decode.HELD_TIMEOUTS.get((sc.name, p)) == name), 6)
            found.append((-1, i, lib.LXB_COPY_MMSGHDR, sized, SLOT * lib.LXB_TRACE_SLOTS, ts + 1 if recv else 0))
        elif m and m.group("dir"):
            direction, target, array, n = m.group("dir"), m.group("target"), m.group("array"), m.group("n")
            out = direction in ("out", "inout")
            if target == "bytes":
                cpuset = decode.STYLES.get((sc.name, name)) == "cpuset"      # a CPU mask: its first 128 bytes
                if direction == "in":
                    found.append((1, i, lib.LXB_COPY_IN, sized, decode.CPUSET_MAX if cpuset else SHOW + 1, 0))
                elif direction == "out" and decode.STYLES.get((sc.name, name)) == "sockopt":
                    found.append((1, i, lib.LXB_COPY_OUT, 6, SHOW + 1, 0))     # getsockopt's: as long as *optlen
                elif direction == "out":       # a path-like one (getcwd's) whole, as strace prints it
                    size = SLOT if decode.STYLES.get((sc.name, name)) == "cstr" else SHOW + 1
                    size = decode.CPUSET_MAX if cpuset else size
                    found.append((1, i, lib.LXB_COPY_OUT, lib.LXB_COPY_LEN_RET, size, 0))
            elif target == "str" and array == "[]":
                found.append((1, i, lib.LXB_COPY_STRV, 6, SLOT, 0))
            elif target == "int" and n == "2":
                found.append((2, i, lib.LXB_COPY_OUT if out else lib.LXB_COPY_IN, 6, 8, 0))
            elif decode.STYLES.get((sc.name, name)) == "clone_args":       # clone3's struct, at entry
                found.append((2, i, lib.LXB_COPY_IN, 6, decode.CLONE_ARGS_SIZE, 0))
            elif decode.STYLES.get((sc.name, name)) == "sigframe":
                # rt_sigreturn: the signal frame's mask at the stack pointer, its address put in the register
                found.append((0, i, lib.LXB_COPY_SIGFRAME, 6, 8, 0))
            elif target in ("timespec", "timeval") and n == "2":       # utimensat's, utimes' two times
                found.append((2, i, lib.LXB_COPY_OUT if out else lib.LXB_COPY_IN, 6, 32, 0))
            elif target in ("int", "uid", "gid", "sched_param") and not array and decode.STYLES.get(
                    (sc.name, name)) in ("wait_status", "int_ref"):
                found.append((2, i, lib.LXB_COPY_OUT if out else lib.LXB_COPY_IN, 6, 4, 0))
            elif target in ("int", "uint") and not array and direction == "inout":
                # a length the call reads and writes (accept's addrlen): at exit, and at entry when
                # there is room (recvfrom has none): [16], [128 => 16]
                found.append((3, i, lib.LXB_COPY_INT_INOUT, 6, 8, 0))
            elif target in decode.FAST_STRUCTS and not array:
                size = decode.FAST_STRUCTS[target][0]
                if target == "sockaddr" and direction == "in" and sized < 6:
                    found.append((2, i, lib.LXB_COPY_IN, sized, size, 0))
                else:
                    found.append((2, i, lib.LXB_COPY_OUT if out else lib.LXB_COPY_IN, 6, size, 0))
            elif decode.STYLES.get((sc.name, name)) == "dirent_count" and sized < 6:
                # getdents64: its records counted in the tracer (the call's only copy, in slot 0)
                found.append((-1, i, lib.LXB_COPY_DIRENTS, sized, 8, 0))
            elif target in decode.FAST_ARRAYS and array == "[]" and sized < 6:
                # poll's fds: copied at entry and again over it at its exit (on success),
                # where each entry still has its fd and events and now its revents: a
                # call that fails (interrupted) keeps the fds it was given
                one = decode.FAST_ARRAYS[target][0]
                how = lib.LXB_COPY_REFRESH if direction == "inout" else lib.LXB_COPY_OUT if out else lib.LXB_COPY_IN
                found.append((2, i, how, sized, SLOT, one))
    found.sort(key=lambda f: f[0])
    if found and found[0][0] == -1:
        found = [f for f in found if f[0] == -1]    # an iovec, select or msghdr copy runs on into the slots after it
    kept = found[: lib.LXB_TRACE_SLOTS]
    # an argument copied at entry and at exit: the entry's slot first, so that
    # the last is the exit's (trace._Copies.first, trace_fmt.c slot_first);
    # an iovec copy last, its room the slots from its own on
    iovs = (lib.LXB_COPY_IOV_IN, lib.LXB_COPY_IOV_OUT)
    twice = {f[1] for f in kept if sum(g[1] == f[1] for g in kept) > 1}
    kept.sort(key=lambda f: (f[2] in iovs,) + ((f[1], f[2] != lib.LXB_COPY_IN) if f[1] in twice else (f[1], 0)))
    kept = [f[:4] + (SLOT * (lib.LXB_TRACE_SLOTS - k),) + f[5:] if f[2] in iovs else f for k, f in enumerate(kept)]
    got = _SPECS[sc.nr] = [f[1:] for f in kept]
    return got


# --- the records, decoded ---------------------------------------------------------------

class _Copies:
    """The tracer's copies of one call's arguments, as decode.args reads memory."""

    __slots__ = ("by_addr", "first", "cut", "slot0")

    def __init__(self, raw, slot_arg, slot_len, trunc, data):
        self.by_addr = {}
        self.first = {}         # an address copied twice (at entry, then at exit): the entry's
        self.slot0 = None       # slot 0 when it holds argument 0's copy (select's, keyed by nfds)
        for i in range(3):
            a = slot_arg[i]
            if a < 6:
                self.by_addr[raw[a]] = got = (data[i * SLOT: i * SLOT + slot_len[i]], bool(trunc >> i & 1))
                self.first.setdefault(raw[a], got)
                if i == 0 and a == 0:
                    self.slot0 = got[0]

    def read_select(self):
        """A select/pselect6 copy (trace.c copy_select's packing), in slot 0 under nfds."""
        if self.slot0 is None:
            raise OSError(_errno.EFAULT, "not copied")
        return self.slot0

    def read_both(self, addr, n):
        """A LXB_COPY_PAIR copy: (n bytes at entry, n bytes at exit or None)."""
        try:
            data = self.by_addr[addr][0]
        except KeyError:
            raise OSError(_errno.EFAULT, "not copied") from None
        return data[:n], (data[n:2 * n] if len(data) >= 2 * n else None)

    def read_iov(self, addr):
        """An iovec copy (trace.c copy_iov's packing): (bytes, cut)."""
        try:
            return self.by_addr[addr]
        except KeyError:
            raise OSError(_errno.EFAULT, "not copied") from None

    read_msghdr = read_iov      # a msghdr copy (trace.c copy_msghdr's packing): (bytes, cut)
    read_mmsghdr = read_iov     # an mmsghdr array's (trace.c copy_mmsghdr's)
    def read_dirents(self, addr):
        """An LXB_COPY_DIRENTS count: (records, bytes not walked)."""
        try:
            data = self.by_addr[addr][0]
        except KeyError:
            raise OSError(_errno.EFAULT, "not copied") from None
        if len(data) < 8:
            raise OSError(_errno.EFAULT, "short copy")
        return struct.unpack("<II", data[:8])

    def read_pair(self, addr, n):
        """(first copy, last copy) of addr, each n bytes: the same copy when there was one; an
        LXB_COPY_INT_INOUT's 8 bytes are the int after the call, then before it."""
        try:
            data = self.by_addr[addr][0]
            if n == 4 and len(data) >= 8:
                return data[4:8], data[:4]
            return self.first[addr][0][:n], data[:n]
        except KeyError:
            raise OSError(_errno.EFAULT, "not copied") from None

    def read_str(self, addr, limit=0):
        try:
            data, cut = self.by_addr[addr]
        except KeyError:
            raise OSError(_errno.EFAULT, "not copied") from None
        return data.decode(errors="surrogateescape") + ("..." if cut else "")

    def read_bytes(self, addr, n):
        try:
            data, cut = self.by_addr[addr]
        except KeyError:
            raise OSError(_errno.EFAULT, "not copied") from None
        return data[:n]

    def read_strv(self, addr):
        try:
            data, cut = self.by_addr[addr]
        except KeyError:
            raise OSError(_errno.EFAULT, "not copied") from None
        items = [s.decode(errors="surrogateescape") for s in data.split(b"\0")[:-1]] if data else []
        if cut:
            items.append(...)
        return items


def _jsonable(v):
    if v is ...:
        return "..."
    if isinstance(v, decode.Addr):
        return str(v)
    if isinstance(v, (decode.Name, str)):
        return str(v)
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if hasattr(v, "items"):
        return {k: _jsonable(x) for k, x in v.items() if not str(k).startswith("_")}
    return str(v)


def _signame(sig: int) -> str:
    for name, value in decode.SIGNALS.items():
        if value == sig and not name.startswith("SIG_"):
            return name
    return str(sig)


class Event(dict):
    """One traced thing, with the fields of a JSON line: type ("syscall", "signal",
    "stop", "exit"), pid, tid, time (s since the zone started); for a syscall:
    syscall, nr, args ({name: value}), result (None when it never returned), errno
    (a name, or None), duration (s), answered (the brand answered it; it never
    ran); for a stop (the task's group-stop, strace's "--- stopped by SIGSTOP
    ---"): signal."""

    __slots__ = ("line",)


class Recorder:
    """A callback's events from the tracer's records (the C sink writes the
    lines, keeps the statistics and counts the answered calls).
    reference=True: each event also gets its line as Python prints it, and
    statistics are kept here too: the reference csrc/trace_fmt.c is tested
    against (tests/test_trace.py)."""

    def __init__(self, options: "Observe", reference: bool = False):
        self.o = options
        self.reference = reference
        self.t0 = time.monotonic_ns()
        self.calls: dict[str, list] = defaultdict(list)        # name -> durations (ns), reference only
        self.errors: dict[str, Counter] = defaultdict(Counter)
        self.answered: dict[int, list] = {}                     # nr -> [count, errno, cmdline], from C
        self.records = 0
        self.error: Optional[BaseException] = None
        self.lines: list = []                                   # reference only

    # one record
    def feed(self, rec: tuple, data: bytes) -> None:
        (kind, flags, pid, tid, nr, code, a0, a1, a2, a3, a4, a5, ret, t_entry, t_exit, host_tid,
         s0, s1, s2, trunc, l0, l1, l2, _pad, _slots) = rec
        self.records += 1
        o = self.o
        if kind == lib.LXB_REC_SYSCALL:
            sc = BY_NR.get(nr)
            name = sc.name if sc else unnamed_name(nr)
            noresult = bool(flags & lib.LXB_RECF_NORESULT)
            answered = bool(flags & lib.LXB_RECF_ANSWERED)
            err = -ret if not noresult and -4096 < ret < 0 else 0
            dur = max(0, t_exit - t_entry)
            if self.reference and o.stats_wanted(nr):
                self.calls[name].append(dur)
                if err:
                    self.errors[name][decode.errno_name(err)] += 1
            if not o.lines_wanted(nr):
                return
            raw = (a0, a1, a2, a3, a4, a5)
            mem = _Copies(raw, (s0, s1, s2), (l0, l1, l2), trunc, data) if o.decode_args else None
            args = (decode.args(sc, raw, mem, structs=True, done=not noresult, ret=None if noresult else ret)
                    if sc else list(enumerate(raw)))
            note = decode.result_note(sc, args, ret) if not noresult else ""
            keep = decode.shown(sc, raw) if sc else None         # what strace prints of the call
            labels = decode.named(sc, raw)                         # clone's child_stack=..., in strace's order
            if labels is not None:
                keep = [i for _, i in labels]
            if keep is not None:
                args = [args[i] for i in keep]
            ev = Event(type="syscall", pid=pid, tid=tid, time=(t_entry - self.t0) / 1e9, syscall=name, nr=nr,
                       args={str(k): _jsonable(v) for k, v in args},
                       result=None if noresult else ret, errno=decode.errno_name(err) if err else None,
                       duration=dur / 1e9, answered=answered,
                       injected=bool(flags & lib.LXB_RECF_INJECTED))
            if self.reference and o.format == "text":
                res = "?" if noresult else decode.result_text(decode.result_of(sc, raw), ret) + note
                if answered:
                    res += " (answered by the brand)"
                if flags & lib.LXB_RECF_INJECTED:
                    res += " (INJECTED)"
                shown = ([f"{label}={decode.show(v)}" for (label, _), (_, v) in zip(labels, args)] if labels is not None
                         else [decode.show(v) for _, v in args] if sc
                         else [f"{v:#x}" if v else "0" for _, v in args])     # strace's printargs
                ev.line = (f"[pid {tid}] {name}(" + ", ".join(shown)
                           + f") = {res} <{dur / 1e9:.6f}>")
            self._deliver(ev)
        elif kind == lib.LXB_REC_SIGNAL:
            if not (o.lines_wanted(None)):
                return
            sig, si_code = _signame(nr), decode.si_code(nr, code)      # CLD_EXITED, SI_USER, or the number
            ev = Event(type="signal", pid=pid, tid=tid, time=(t_entry - self.t0) / 1e9, signal=sig,
                       si_code=_jsonable(si_code), si_pid=_int32(a0), si_uid=a1 & 0xFFFFFFFF)
            info = None
            if s0 == 0 and l0 >= lib.LXB_SIGINFO_COPY:      # the siginfo the tracer kept, its sender as args say
                si = data[:lib.LXB_SIGINFO_COPY]
                info = decode._siginfo(si[:16] + struct.pack("<iI", _int32(a0), a1 & 0xFFFFFFFF) + si[24:])
                ev["siginfo"] = _jsonable(info)
            if self.reference and o.format == "text":
                ev.line = (f"[pid {tid}] --- {sig} {decode.show(info)} ---" if info is not None else
                           f"[pid {tid}] --- {sig} {{si_signo={sig}, si_code={si_code}, si_pid={_int32(a0)}, "
                           f"si_uid={a1 & 0xFFFFFFFF}}} ---")
            self._deliver(ev)
        elif kind == lib.LXB_REC_STOP:
            # the task's group-stop, as strace -f shows it (csrc/trace.c, trace.bpf.c bt_stop)
            if not o.lines_wanted(None):
                return
            ev = Event(type="stop", pid=pid, tid=tid, time=(t_entry - self.t0) / 1e9, signal=_signame(nr))
            if self.reference and o.format == "text":
                ev.line = f"[pid {tid}] --- stopped by {ev['signal']} ---"
            self._deliver(ev)
        elif kind == lib.LXB_REC_EXIT:
            if not o.lines_wanted(None):
                return
            status = ret & 0xFFFF
            if os.WIFSIGNALED(status):
                ev = Event(type="exit", pid=pid, tid=tid, time=(t_entry - self.t0) / 1e9, exit_code=None,
                           signal=_signame(os.WTERMSIG(status)))
                text = f"+++ killed by {ev['signal']} +++"
            else:
                ev = Event(type="exit", pid=pid, tid=tid, time=(t_entry - self.t0) / 1e9,
                           exit_code=os.WEXITSTATUS(status), signal=None)
                text = f"+++ exited with {ev['exit_code']} +++"
            if self.reference and o.format == "text":
                ev.line = f"[pid {tid}] {text}"
            self._deliver(ev)

    def _deliver(self, ev: Event) -> None:
        o = self.o
        if o.callback is not None:
            o.callback(dict(ev))
        if self.reference:
            self.lines.append(json.dumps(ev) + "\n" if o.format == "json" else ev.line + "\n")

    # statistics (reference only: a run's come from C, Session.finish)
    def stats(self) -> dict:
        out = {}
        for name, durs in sorted(self.calls.items()):
            durs = sorted(durs)
            n = len(durs)
            total = sum(durs)
            hist: Counter = Counter()
            for d in durs:
                hist[1 << max(0, d.bit_length() - 1) if d else 0] += 1
            out[name] = {"calls": n, "errors": dict(self.errors.get(name, {})),
                         "total": total / 1e9, "mean": total / n / 1e9 if n else 0.0,
                         "p50": _pct(durs, 50) / 1e9, "p99": _pct(durs, 99) / 1e9,
                         "histogram_ns": {str(k): v for k, v in sorted(hist.items())}}
        return out


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _pct(sorted_vals, p) -> int:
    if not sorted_vals:
        return 0
    k = max(0, math.ceil(p / 100 * len(sorted_vals)) - 1)
    return sorted_vals[k]


def format_stats(stats: dict) -> str:
    """strace -c's table with p50, p99 and errors by errno, then a log2
    histogram per syscall as DTrace's quantize prints it."""
    lines = [f"{'syscall':<20} {'calls':>8} {'errors':>7} {'total(s)':>11} {'mean(us)':>10} "
             f"{'p50(us)':>9} {'p99(us)':>9}  errors by errno"]
    calls = errors = 0
    total = 0.0
    for name, s in sorted(stats.items(), key=lambda kv: -kv[1]["total"]):
        nerr = sum(s["errors"].values())
        calls += s["calls"]
        errors += nerr
        total += s["total"]
        by = " ".join(f"{e}:{n}" for e, n in sorted(s["errors"].items(), key=lambda kv: -kv[1]))
        lines.append(f"{name:<20} {s['calls']:>8} {nerr:>7} {s['total']:>11.6f} {s['mean'] * 1e6:>10.1f} "
                     f"{s['p50'] * 1e6:>9.1f} {s['p99'] * 1e6:>9.1f}  {by}".rstrip())
    lines.append(f"{'total':<20} {calls:>8} {errors:>7} {total:>11.6f}")
    for name, s in sorted(stats.items(), key=lambda kv: -kv[1]["calls"]):
        hist = {int(k): v for k, v in s["histogram_ns"].items()}
        if not hist:
            continue
        top = max(hist.values())
        lines.append("")
        lines.append(f"  {name} (ns)")
        lines.append(f"  {'value':>12}  {'------------- Distribution -------------':<40} count")
        lo, hi = min(hist), max(hist)
        b = lo
        while True:
            n = hist.get(b, 0)
            lines.append(f"  {b:>12} |{'@' * round(40 * n / top):<40} {n}")
            if b >= hi:
                break
            b = b * 2 if b else 1
        lines.append(f"  {hi * 2 if hi else 1:>12} |{'':<40} 0")
    return "\n".join(lines) + "\n"


# --- the options of one observed run ---------------------------------------------------

# said once on stderr when a traced guest calls ptrace(2); the C front door
# says the same (csrc/frontdoor/options.py hands it this string)
PTRACE_REFUSED = ("lxrun: the guest called ptrace(2), refused with EPERM: under --trace or --stats lxrun is "
                  "the zone's tracer; run without them to use strace or gdb inside the zone")


class Observe:
    """What a zone's runs watch: trace lines (a SET, a callback, an output and
    a format), statistics, the compatibility report.  Checked on creation."""

    def __init__(self, trace_set: Optional[str] = None, trace: bool = False,
                 callback: Optional[Callable[[dict], None]] = None, output=None, format: str = "text",
                 stats: bool = False, stats_format: str = "text", report=None):
        if callback is not None and not callable(callback):
            raise TraceError(f"trace {callback!r}: expected a callable that takes an event dict")
        if format not in FORMATS:
            raise TraceError(f"--trace-format {format!r}: expected one of {', '.join(FORMATS)}")
        if stats_format not in FORMATS:
            raise TraceError(f"--stats-format {stats_format!r}: expected one of {', '.join(FORMATS)}")
        self.trace = bool(trace or callback is not None or trace_set is not None)
        self.lines = bool(trace)        # strace-like lines (or JSON lines) to `output`
        self.traced = parse_set(trace_set) if (self.trace or stats) else set()
        # UNNAMED's numbers (and those outside the arrays): their lines and counts
        self.unnamed = bool(self.trace or stats) and set_is_all(trace_set)
        self.callback = callback
        self.output = output            # None: stderr when trace lines are written
        self.format = format
        self.stats = bool(stats)
        self.stats_format = stats_format
        self.report = report            # None/False: no report; True: stderr (or returned); a path
        self.out = None
        self._warned_ptrace = False
        self.decode_args = self.trace

    @property
    def active(self) -> bool:
        return self.trace or self.stats or bool(self.report)

    @property
    def writes_text(self) -> bool:
        return self.trace and self.format == "text" and self.out is not None

    def lines_wanted(self, nr) -> bool:
        return self.trace and (nr is None or nr in self.traced or (self.unnamed and nr not in BY_NR))

    def stats_wanted(self, nr) -> bool:
        return self.stats and (nr in self.traced or (self.unnamed and nr not in BY_NR))

    def ptrace_refused(self) -> None:
        if not self._warned_ptrace:
            self._warned_ptrace = True
            sys.stderr.write(PTRACE_REFUSED + "\n")
            sys.stderr.flush()

    # the filter and the tracer's specs
    def actions(self, brand) -> tuple[list, list]:
        """(filter actions, [(nr, mode, errno)]) for `brand` under these options."""
        actions = list(ReportBrand(brand).actions if self.report else brand.actions)
        tracer = self.trace or self.stats
        modes = []
        for e in brand.entries:
            nr, st = e.sc.nr, e.status
            if e.origin == "inject" and nr in brand.inject_traceable and nr in self.traced:
                # --inject without path rules: the tracer applies the rules (csrc/inject.c)
                actions[nr] = lib.LXB_ACT_TRACE
                modes.append((nr, lib.LXB_TRACE_RECORD, 0))
                continue
            if st.notified:
                continue        # the supervisor's: counted there, never seen by the tracer
            if st.name == "pass":
                if nr in self.traced or (nr == PTRACE_NR and tracer):
                    actions[nr] = lib.LXB_ACT_TRACE
                    modes.append((nr, lib.LXB_TRACE_RECORD, 0))
            elif nr in self.traced:
                # denied or unsupported: answered by the tracer with the filter's errno
                # (untraced, under --report: by the supervisor, ReportBrand)
                actions[nr] = lib.LXB_ACT_TRACE
                modes.append((nr, lib.LXB_TRACE_ANSWER, st.errno or _errno.ENOSYS))
        if self.unnamed:
            # the filter's ENOSYS (under --report the supervisor's, ReportBrand),
            # answered by the ptrace tracer instead (and counted there, as a
            # denied one, those outside the arrays too: lxb_trace_past);
            # LXB_NR_PAST's TRACE: every number outside the array too, csrc/filter.c.
            # BPF and perf (the brand's own filter, Session) see each at its exit
            for nr in UNNAMED:
                if actions[nr] in (lib.LXB_ACT_DEFAULT, _errno.ENOSYS) or (
                        self.report and actions[nr] == lib.LXB_ACT_NOTIFY):
                    actions[nr] = lib.LXB_ACT_TRACE
                modes.append((nr, lib.LXB_TRACE_ANSWER, _errno.ENOSYS))
        return actions, modes


def stats_by_perf() -> bool:
    """--stats alone counted in the kernel (csrc/perfstats.c: BPF counters
    on the syscall tracepoints, csrc/bpf/stats.bpf.c, or perf's samples of
    them; no ptrace stop) when that can be done here (root), else from the
    ptrace tracer.  LXBRAND_STATS=ptrace forces the tracer, =tracepoints
    perf's samples, =perf refuses to run without one of the two; the C
    front door reads it the same way."""
    want = os.environ.get("LXBRAND_STATS")
    if want == "ptrace":
        return False
    rc = lib.lxb_perfstats_probe()
    if rc < 0:
        if want == "perf":
            raise TraceError(f"LXBRAND_STATS=perf: perf cannot count the guest's syscalls here: {os.strerror(-rc)}")
        return False
    return True


def trace_by_bpf() -> bool:
    """--trace from BPF programs on the syscall tracepoints (csrc/bpftrace.c,
    no ptrace stop) when they can be loaded here (root), else from the ptrace
    tracer.  LXBRAND_TRACE=ptrace forces the tracer, =bpf refuses to run
    without BPF; the C front door reads it the same way."""
    want = os.environ.get("LXBRAND_TRACE")
    if want == "ptrace":
        return False
    rc = lib.lxb_bpftrace_probe()
    if rc < 0:
        if want == "bpf":
            raise TraceError(f"LXBRAND_TRACE=bpf: BPF cannot trace the guest here: {os.strerror(-rc)}")
        return False
    return True


class Session:
    """One observed run: the tracer thread (C) and the reader thread (Python),
    or, for --stats alone, the tracepoints' reader (csrc/perfstats.c), or,
    for --trace, the BPF programs' reader (csrc/bpftrace.c)."""

    def __init__(self, options: Observe, brand, argv):
        self.o = options
        self.brand = brand
        self.argv = list(argv)
        self.actions, self.modes = options.actions(brand)
        # --stats alone: counted from the tracepoints under the brand's own
        # filter (the modes still say which syscalls count, as for the tracer)
        self.perf = bool(options.stats and not options.trace and options.callback is None
                         and not getattr(brand, "inject_rules", None) and stats_by_perf())
        # --trace: from BPF programs under the brand's own filter (not with
        # --inject, whose rules the ptrace tracer applies; nor for a
        # callback unless LXBRAND_TRACE=bpf: its events are decoded in Python,
        # tens of thousands a second, and the BPF ring has no backpressure, so
        # a guest's burst past the ring's 16 MiB lost records (python3 -m test
        # lost 285k-1.5M in make realworld-traced); the ptrace tracer's stops
        # wait for the callback)
        self.bpf_trace = bool(options.trace and not self.perf and not getattr(brand, "inject_rules", None)
                              and (options.callback is None or os.environ.get("LXBRAND_TRACE") == "bpf")
                              and trace_by_bpf())
        if self.perf or self.bpf_trace:
            self.actions = list(ReportBrand(brand).actions if options.report else brand.actions)
        self.perf_c = None              # struct lxb_perfstats *
        self.bpf_c = None               # struct lxb_bpftrace *
        self.stats_lost = 0             # events the kernel dropped (perf): the counts are short
        self.outputs_failed = False     # an output could not be written (output_failed)
        self.lines_failed = False       # -o FILE failed for the lines: the statistics are not tried there
        self.rec = Recorder(options)
        self.t = None
        self.reader: Optional[threading.Thread] = None
        self._own_out = False
        self.stats: Optional[dict] = None
        self.report: Optional[dict] = None
        self.report_c = None            # struct lxb_report * (supervisor_brand)
        self.paths: Optional[PathWatch] = None     # --report: the personality's files, watched
        self.finished = False
        self._fds: list = []            # the lines' fd (ours to close)
        self._copier: Optional[threading.Thread] = None

    def bpf(self) -> bytes:
        from .brand.compile import filter_bpf
        return filter_bpf(self.actions)

    def supervisor_brand(self, brand):
        """The brand the supervisor answers from: under --report, ReportBrand
        with its counters (struct lxb_report, `report_c`), else the same."""
        if not self.o.report:
            return brand
        rb = ReportBrand(brand)
        rb.report_c = self.report_c = ffi.new("struct lxb_report *")
        for nr, err in rb.wide.items():
            self.report_c.err[nr] = err
        return rb

    def attach(self, guest_pidfd: int) -> None:
        """Seize the held guest (before lxb_zone_release)."""
        o = self.o
        if o.report:
            self.paths = PathWatch(personality_paths(self.brand.options), guest_pidfd)
        if not (o.trace or o.stats):
            return      # --report alone: the supervisor counts (ReportBrand), no tracer
        if self.perf:
            self.t = Tracer([(nr, mode, err, []) for nr, mode, err in self.modes], -1, guest_pidfd)
            c = self.t.c
            c.text_fd = -1
            for nr in o.traced:
                c.spec[nr].show = lib.LXB_SHOW_STATS
            if o.unnamed:
                for nr in UNNAMED:
                    c.spec[nr].show = lib.LXB_SHOW_STATS
            out = ffi.new("struct lxb_perfstats **")
            rc = lib.lxb_perfstats_start(c, guest_pidfd, out)
            if rc < 0:
                raise OSError(-rc, "--stats: cannot count the guest's syscalls with perf (LXBRAND_STATS=ptrace "
                                   f"counts them with ptrace): {os.strerror(-rc)}")
            self.perf_c = out[0]
            return
        text_fd = self._open_output() if o.lines else -1
        specs = [(nr, mode, err, copies(BY_NR[nr]) if o.decode_args and nr in BY_NR else [])
                 for nr, mode, err in self.modes]
        r = w = -1
        if o.callback is not None:      # records for the callback's events
            r, w = os.pipe2(os.O_CLOEXEC)
            try:
                import fcntl
                fcntl.fcntl(w, 1031, 1 << 20)      # F_SETPIPE_SZ: room for bursts
            except OSError:
                pass
        inject_c = getattr(self.brand, "inject_c", None)
        self.t = Tracer(specs, w, guest_pidfd, inject_c)
        c = self.t.c
        c.text_fd = text_fd
        c.format = lib.LXB_TRACE_JSON if o.format == "json" else lib.LXB_TRACE_TEXT
        c.t0 = self.rec.t0
        show = (lib.LXB_SHOW_LINE if o.lines else 0) | (lib.LXB_SHOW_STATS if o.stats else 0)
        for nr in o.traced:
            c.spec[nr].show = show
        if o.unnamed:
            for nr in UNNAMED:
                c.spec[nr].show = show
        if inject_c is not None:        # --inject (lxbrand/inject.py): the supervisor's records
            from .inject import Follower
            self.inject_follower = Follower(inject_c, _Feed(self))
        if r >= 0:
            self.reader = threading.Thread(target=self._read, args=(r,), name="lxbrand-trace", daemon=True)
            self.reader.start()
        try:
            if self.bpf_trace:
                out = ffi.new("struct lxb_bpftrace **")
                why = ffi.new("char[256]")
                rc = lib.lxb_bpftrace_start(c, guest_pidfd, out, why, 256)
                if rc < 0:
                    raise OSError(-rc, "--trace: cannot trace the guest with BPF (LXBRAND_TRACE=ptrace traces it "
                                       f"with ptrace): {ffi.string(why).decode(errors='replace')}")
                self.bpf_c = out[0]
            else:
                self.t.start()
        except OSError:
            if w >= 0:
                os.close(w)
            if self.reader is not None:
                self.reader.join()
            raise

    def _open_output(self) -> int:
        """The fd the C tracer writes lines to: stderr, a file it opens, or
        the file object's own; a file object without one (io.StringIO) gets
        them through a pipe and a copying thread."""
        o = self.o
        target = sys.stderr if o.output is None else o.output
        if isinstance(target, (str, bytes, os.PathLike)):
            from .safeopen import foreign_link
            uid = foreign_link(os.fsdecode(target))
            if uid is not None:         # SECURITY.md, "lxrun's own files"
                raise TraceError(f"-o {os.fsdecode(target)}: goes through a symlink of another user (uid {uid}); "
                                 "name the file itself")
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
            self._fds.append(fd)
            return fd
        try:
            target.flush()
            fd = os.dup(target.fileno())
        except (AttributeError, OSError, ValueError):
            r, w = os.pipe2(os.O_CLOEXEC)
            self._copier = threading.Thread(target=_copy_text, args=(r, target), name="lxbrand-trace-out",
                                            daemon=True)
            self._copier.start()
            fd = w
        self._fds.append(fd)
        return fd

    def _read(self, fd: int) -> None:
        drain_records(fd, RECORD, self.rec)

    def finish(self, returncode: Optional[int], supervisor=None) -> None:
        """After the zone's end: join the threads, then stats and report."""
        if self.finished:
            return
        self.finished = True
        o = self.o
        if self.perf_c is not None:
            self.stats_lost = lib.lxb_perfstats_finish(self.perf_c)
            lib.lxb_perfstats_free(self.perf_c)
            self.perf_c = None
        if self.bpf_c is not None:
            # every task is gone: the last records (and out_fd closed)
            self.stats_lost = lib.lxb_bpftrace_finish(self.bpf_c)
            lib.lxb_bpftrace_free(self.bpf_c)
            self.bpf_c = None
            if self.stats_lost:
                sys.stderr.write(f"lxrun: trace: {self.stats_lost} records lost (the BPF ring buffer or task table was full); "
                                 "the trace is not whole\n")
        if self.t is not None:
            self.t.join()
        if getattr(self, "inject_follower", None) is not None:
            self.inject_follower.close()
        if self.reader is not None:
            self.reader.join()
        if self.t is not None:
            c = self.t.c
            lib.lxb_trace_flush(c)
            if c.text_error:
                self.lines_failed = True
                self.output_failed(f"-o {os.fsdecode(o.output)}" if isinstance(o.output, (str, bytes, os.PathLike))
                                   else "the trace" + (" (stderr)" if o.output is None else ""), c.text_error)
            for fd in self._fds:
                os.close(fd)
            self._fds = []
            if self._copier is not None:
                self._copier.join()
            if c.refused_ptrace:
                o.ptrace_refused()
            if o.stats:
                self.stats = _stats_of(c)
                self.stats_lost += lib.lxb_trace_past_lost(c)   # numbers outside the table past the sink's 64
            # under BPF the calls the brand answers are the supervisor's to
            # count (ReportBrand), as with perf
            self.rec.answered = {} if self.bpf_trace else _answered_of(c, self.modes)
            lib.lxb_trace_free(c)
        elif o.stats:
            self.stats = {}
        if self.rec.error is not None:
            sys.stderr.write(f"lxrun: trace: {self.rec.error!r}\n")
            if isinstance(self.rec.error, Exception) and o.callback is not None:
                raise self.rec.error
        if o.report:
            self.report = self._report(returncode, supervisor)

    def output_failed(self, what: str, err: int) -> None:
        """An output that could not be written (a full disk, a closed pipe):
        said in one line naming it, as csrc/frontdoor/lxrun.c says it; the
        run went on, the CLI fails after it (125)."""
        sys.stderr.write(f"lxrun: {what}: {os.strerror(err)}; it is not whole\n")
        sys.stderr.flush()
        self.outputs_failed = True

    def _report(self, returncode, supervisor=None) -> dict:
        """The supervisor's counts (struct lxb_report) and the tracer's
        answers (a traced denied call), by the zone's status of each syscall."""
        got = report_counts(self.report_c)
        for nr, (count, err, cmd) in self.rec.answered.items():
            n, first = got.get(nr, (0, None))
            got[nr] = (n + count, first or cmd)
        paths = self.paths.opened() if self.paths is not None else {}
        return make_report(self.argv, returncode, self.brand.entries, got, paths)


# --- the tracer's part of a command-line run, for the C front door --------------------
#
# The front door (csrc/frontdoor/lxrun.c) serves --trace[=SET], -o, --trace-format,
# --stats and --stats-format from the brand cache: beside the brand
# (compile.store_frontdoor, the supervisor's arrays), a file with what the
# tracer needs for this SET, written when the Python CLI runs such a zone:
#
#   "lxbrand-trace-1\n"  u32 nr_max  u32 spec_size  u32 key_len  u32 deps_len
#   u32 bpf_len  key  deps  bpf  struct lxb_trace_spec[nr_max]
#
# key: the brand's key (compile.frontdoor_key) then "trace SET" (as the
# command line gave it, "-" for none) and "stats 0|1"; deps: the brand's and
# this file's sources ("path\tsize\tmtime_ns"); bpf: the zone's filter with
# the traced syscalls RET_TRACE (Observe.actions); the specs: mode, errno,
# copies and show of each syscall, as Session.attach gives them to Tracer.

TRACE_MAGIC = b"lxbrand-trace-1\n"
_TRACE_HEAD = struct.Struct("<16s5I")


def frontdoor_trace_key(kernel_release, deny_items, report: bool, trace_set: Optional[str], stats: bool,
                        fakeroot: bool = False) -> bytes:
    from .brand.compile import frontdoor_key
    return frontdoor_key(kernel_release, list(deny_items), report, fakeroot) + (
        f"trace {'-' if trace_set is None else trace_set}\nstats {int(bool(stats))}\n").encode()


def frontdoor_trace_path(key: bytes) -> str:
    from .brand.compile import _fnv1a64
    from .rootfs import cache_dir
    return os.path.join(cache_dir(), "frontdoor", f"{_fnv1a64(key):016x}.trace")


def frontdoor_trace_bytes(brand, observe: "Observe", key: bytes) -> bytes:
    from .brand.compile import _frontdoor_deps, filter_bpf
    actions, modes = observe.actions(brand)
    n = lib.LXB_NR_MAX
    specs = ffi.new("struct lxb_trace_spec[]", n)
    for nr, mode, err in modes:
        sp = specs[nr]
        cps = copies(BY_NR[nr]) if observe.decode_args and nr in BY_NR else []
        sp.mode, sp.err, sp.ncopy = mode, err, len(cps)
        for i, (arg, how, lenarg, size, lenmul) in enumerate(cps[: lib.LXB_TRACE_SLOTS]):
            c = sp.copy[i]
            c.arg, c.how, c.lenarg, c.size, c.lenmul = arg, how, lenarg, size, lenmul
    show = (lib.LXB_SHOW_LINE if observe.lines else 0) | (lib.LXB_SHOW_STATS if observe.stats else 0)
    for nr in observe.traced:
        specs[nr].show = show
    if observe.unnamed:
        for nr in UNNAMED:
            specs[nr].show = show
    here = os.path.abspath(__file__)
    st = os.stat(here)
    deps = _frontdoor_deps() + f"{here}\t{st.st_size}\t{st.st_mtime_ns}\n".encode()
    bpf = filter_bpf(actions)
    raw = bytes(ffi.buffer(specs))
    return _TRACE_HEAD.pack(TRACE_MAGIC, n, ffi.sizeof("struct lxb_trace_spec"), len(key), len(deps),
                            len(bpf)) + key + deps + bpf + raw


def store_frontdoor_trace(brand, kernel_release, deny_items, observe: "Observe",
                          trace_set: Optional[str]) -> Optional[str]:
    """Leave the tracer's part of this command-line run (--trace, --stats) for
    the front door, beside the brand compile.store_frontdoor leaves; the
    path, or None (unchanged, or not a run the front door serves)."""
    from .brand.compile import _store_if_changed
    if not (observe.trace or observe.stats) or observe.callback is not None:
        return None
    shaped = {k: v for k, v in brand.options._asdict().items() if k not in ("kernel_release", "deny", "fakeroot")}
    if any(shaped.values()) or getattr(brand, "inject_rules", None) or brand.py:
        return None
    key = frontdoor_trace_key(kernel_release, deny_items, bool(observe.report), trace_set, observe.stats,
                              brand.options.fakeroot)
    data = frontdoor_trace_bytes(brand, observe, key)
    path = frontdoor_trace_path(key)
    return _store_if_changed(path, data)


def personality_paths(options) -> list:
    """The /proc and /sys paths the zone's personality answers instead of the
    host's kernel (--kernel-release, --memory, --cpus: personality.View and
    compile.personality_files), sorted."""
    from .personality import View
    if not View.wanted(options.memory, options.cpus, options.kernel_release):
        return []
    paths = set(View(options.memory, options.cpus, options.kernel_release).texts())
    if options.kernel_release:
        paths |= {"/proc/version", "/proc/sys/kernel/osrelease"}
    return sorted(paths)


class PathWatch:
    """How often the guest opened each of `paths` (the personality's files):
    inotify IN_OPEN on the files the zone shows there, seen through the held
    guest's root before it runs; the guest's other opens cost nothing.  An
    open follows a close (IN_CLOSE_NOWRITE is watched too) so that the
    kernel never merges two opens into one event, except opens that overlap.
    The C front door does the same (csrc/frontdoor/lxrun.c watch_paths)."""

    IN_OPEN, IN_CLOSE_NOWRITE, IN_NONBLOCK, IN_CLOEXEC = 0x20, 0x10, 0o4000, 0o2000000
    EVENT = struct.Struct("iIII")

    def __init__(self, paths: list, guest_pidfd: int):
        self.fd = -1
        self.wds: dict = {}
        if not paths or guest_pidfd < 0:
            return
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        pid = _pidfd_pid(guest_pidfd)
        fd = libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
        if pid is None or fd < 0:
            return
        self.fd = fd
        for path in paths:
            wd = libc.inotify_add_watch(fd, f"/proc/{pid}/root{path}".encode(),
                                        self.IN_OPEN | self.IN_CLOSE_NOWRITE)
            if wd >= 0:
                self.wds[wd] = path

    def opened(self) -> dict:
        """{path: opens}, the paths opened at least once; closes the watch."""
        counts: Counter = Counter()
        if self.fd < 0:
            return {}
        try:
            while True:
                try:
                    buf = os.read(self.fd, 65536)
                except BlockingIOError:
                    break
                i = 0
                while i + self.EVENT.size <= len(buf):
                    wd, mask, _cookie, length = self.EVENT.unpack_from(buf, i)
                    if mask & self.IN_OPEN and wd in self.wds:
                        counts[self.wds[wd]] += 1
                    i += self.EVENT.size + length
        finally:
            os.close(self.fd)
            self.fd = -1
        return dict(sorted(counts.items()))


def _pidfd_pid(pidfd: int) -> Optional[int]:
    try:
        with open(f"/proc/self/fdinfo/{pidfd}") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


class _Feed:
    """The supervisor's records of the calls it answered (--inject path
    rules, lxbrand/inject.py Follower): to the C sink, and to the callback."""

    def __init__(self, session: "Session"):
        self.session = session
        self.error = None

    def feed(self, rec: tuple, data: bytes) -> None:
        s = self.session
        raw = ffi.from_buffer(RECORD.pack(*rec))
        lib.lxb_trace_feed(s.t.c, ffi.cast("struct lxb_trace_rec *", raw))
        if s.o.callback is not None:
            s.rec.feed(rec, data)


def _copy_text(fd: int, target) -> None:
    """The C tracer's lines (ASCII) into a file object without an fd."""
    try:
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            target.write(chunk.decode("ascii", "replace"))
    finally:
        os.close(fd)


def _stats_of(c) -> dict:
    """--stats from the C sink (lxb_trace_stat): per syscall name, as
    Recorder.stats computes them."""
    st = ffi.new("struct lxb_trace_stat *")
    out = {}
    # the table's, the numbers it has no name for, those outside the arrays
    names = {sc.nr: sc.name for sc in TABLE}
    names.update((nr, unnamed_name(nr)) for nr in UNNAMED + _past_of(c))
    for nr, name in sorted(names.items(), key=lambda kv: kv[1]):
        if not lib.lxb_trace_stat(c, nr, st):
            continue
        n, total = st.calls, st.total_ns
        out[name] = {"calls": n,
                        "errors": {decode.errno_name(st.err[i]): st.err_count[i] for i in range(st.nerr)},
                        "total": total / 1e9, "mean": total / n / 1e9 if n else 0.0,
                        "p50": st.p50_ns / 1e9, "p99": st.p99_ns / 1e9,
                        "histogram_ns": {str(1 << (k - 1) if k else 0): st.hist[k] for k in range(65) if st.hist[k]}}
    return out


def _past_of(c) -> tuple:
    """The numbers outside the arrays (negative, or past them) the C sink
    counted (lxb_trace_past), in first-seen order."""
    nr = ffi.new("int32_t *")
    out = []
    while lib.lxb_trace_past(c, len(out), nr):
        out.append(int(nr[0]))
    return tuple(out)


def _answered_of(c, modes) -> dict:
    """{nr: [count, errno, first caller's command line]} of the calls the
    tracer answered (lxb_trace_answered), those outside the arrays too."""
    out = {}
    err = ffi.new("int32_t *")
    n = ffi.new("int *")
    buf = ffi.new("char[]", SLOT)
    for nr, mode, _ in list(modes) + [(nr, lib.LXB_TRACE_ANSWER, 0) for nr in _past_of(c)]:
        if mode != lib.LXB_TRACE_ANSWER or nr == PTRACE_NR:
            continue
        count = lib.lxb_trace_answered(c, nr, err, buf, SLOT, n)
        if count:
            raw = ffi.buffer(buf, n[0])[:]
            cmd = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace") if n[0] else None
            out[nr] = [count, err[0], cmd]
    return out


def report_counts(report_c) -> dict:
    """{nr: (count, first caller's command line or None)} of a struct lxb_report."""
    out = {}
    if report_c is None:
        return out
    for nr in range(lib.LXB_NR_MAX):
        n = report_c.count[nr]
        if n:
            first = (ffi.string(report_c.first[nr]).decode(errors="replace")
                     if report_c.first_state[nr] == 2 else "")
            out[nr] = (int(n), first or None)
    for i in range(lib.LXB_REPORT_PAST):      # numbers outside the arrays (supervisor.c report_count)
        if report_c.past_nr[i] and report_c.past_count[i]:
            out[int(report_c.past_nr[i])] = (int(report_c.past_count[i]), None)
    return out


class ReportBrand:
    """`brand` as a --report zone runs it: each denied or unsupported syscall
    the filter would answer in the kernel is notified instead (the
    supervisor's LXB_KIND_DENIED or LXB_KIND_UNSUPPORTED, its errno in
    c_handler[nr], or, above 255 (a --deny of a made-up one), in the
    report's err[nr], `wide`) and counted there; everything else as in
    `brand`.  The C front door runs the same arrays and filter
    (compile.store_frontdoor(..., report=True)), and hands a brand with a
    wide errno to Python (its cache has no err[])."""

    def __init__(self, brand):
        self.base = brand
        self.entries, self.options, self.py = brand.entries, brand.options, brand.py
        self.inject_c = getattr(brand, "inject_c", None)
        self.inject_rules = getattr(brand, "inject_rules", [])
        self.inject_traceable = getattr(brand, "inject_traceable", set())
        self.actions = list(brand.actions)
        self.kind = bytearray(brand.kind)
        self.c_handler = bytearray(brand.c_handler)
        self.report_c = None
        self.wide: dict = {}            # nr -> errno above 255, for struct lxb_report's err[]
        for e in brand.entries:
            nr, st = e.sc.nr, e.status
            if st.name not in ("denied", "unsupported"):
                continue
            err = st.errno or _errno.ENOSYS
            if self.actions[nr] == err and 0 < err < 4096:
                self.actions[nr] = lib.LXB_ACT_NOTIFY
                self.kind[nr] = lib.LXB_KIND_DENIED if st.name == "denied" else lib.LXB_KIND_UNSUPPORTED
                self.c_handler[nr] = err if err < 256 else 0
                if err >= 256:
                    self.wide[nr] = err
        # the numbers the table has no name for: their ENOSYS from the
        # supervisor, counted; LXB_NR_PAST's NOTIFY makes it the filter's
        # default, for every number past the arrays (csrc/filter.c)
        for nr in UNNAMED:
            if self.actions[nr] in (lib.LXB_ACT_DEFAULT, _errno.ENOSYS):
                self.actions[nr] = lib.LXB_ACT_NOTIFY
                self.kind[nr] = lib.LXB_KIND_UNSUPPORTED
                self.c_handler[nr] = _errno.ENOSYS
        self._bpf: Optional[bytes] = None

    def bpf(self) -> bytes:
        if self._bpf is None:
            from .brand.compile import filter_bpf
            self._bpf = filter_bpf(self.actions)
        return self._bpf


def make_report(argv, returncode, entries, counts: dict, paths: Optional[dict] = None) -> dict:
    """The report of one run: counts {nr: (count, first)} sorted by the zone's
    status of each syscall (entries: compile_brand's), in number order, and
    the personality's paths the guest opened {path: opens}."""
    by_nr = {e.sc.nr: e for e in entries}
    emulated, denied, unsupported = {}, {}, {}
    # by number, a negative one as the unsigned one strace names (after the others)
    for nr, (count, first) in sorted(counts.items(), key=lambda kv: kv[0] & 0xFFFFFFFFFFFFFFFF):
        e = by_nr.get(nr)
        if e is None:
            if nr not in BY_NR:     # a number the table has no name for: the filter's ENOSYS
                unsupported[unnamed_name(nr)] = {"count": count, "errno": decode.errno_name(_errno.ENOSYS),
                                                 "first": first, "note": "ENOSYS: a number the table has no name for"}
            continue
        if e.status.notified:
            emulated[e.sc.name] = {"count": count, "first": first}
        elif e.status.name in ("denied", "unsupported"):
            item = {"count": count, "errno": decode.errno_name(e.status.errno or _errno.ENOSYS),
                    "first": first, "note": e.note}
            (unsupported if e.status.name == "unsupported" else denied)[e.sc.name] = item
    return {"command": list(argv), "exit": returncode, "emulated": emulated, "denied": denied,
            "unsupported": unsupported, "paths": {p: {"count": n} for p, n in sorted((paths or {}).items())},
            "verdict": verdict(denied, unsupported)}


# The report's wording, here only: format_report writes it, and the C front
# door (csrc/frontdoor/lxrun.c) writes the same from these strings, which
# csrc/frontdoor/options.py turns into printf formats at build time (fields
# in this order, each {name}, {name:<N} or {name:>N}).
REPORT_HEAD = "lxrun report: {command} ({exit})"
REPORT_LINE = "  {what:<12} {name:<20} {count:>6}{errno}{first}"
REPORT_ERRNO = " {errno}"
REPORT_FIRST = "; first: {first}"
REPORT_VERDICT = "  verdict: {verdict}"
VERDICT_CLEAN = "ran on the brand's pass-through and emulation only"
VERDICT_HIT = "hit {n} {what} syscall{s}: {names}"
REPORT_WHATS = ("emulated", "denied", "unsupported")
REPORT_PATHS = "personality"        # REPORT_LINE's what for a /proc or /sys path it answered


def verdict(denied: dict, unsupported: dict) -> str:
    for what, hit in (("unsupported", unsupported), ("denied", denied)):
        if hit:
            return VERDICT_HIT.format(n=len(hit), what=what, s="s" if len(hit) > 1 else "",
                                      names=", ".join(hit))
    return VERDICT_CLEAN


def _how_it_ended(returncode) -> str:
    """The report's "(exit 0)" or "(killed by SIGINT)" (returncode < 0:
    subprocess's -N for signal N), as csrc/frontdoor/lxrun.c write_report."""
    if returncode is None or returncode >= 0:
        return f"exit {returncode}"
    import signal
    n = -returncode
    if signal.SIGRTMIN <= n <= signal.SIGRTMAX:
        name = f"SIGRTMIN+{n - signal.SIGRTMIN}"
    else:
        try:
            name = signal.Signals(n).name
        except ValueError:
            name = str(n)
    return f"killed by {name}"


def format_report(report: dict) -> str:
    lines = [REPORT_HEAD.format(command=" ".join(report["command"]), exit=_how_it_ended(report["exit"]))]
    for what in REPORT_WHATS:
        for name, item in report[what].items():
            err = REPORT_ERRNO.format(errno=item["errno"]) if "errno" in item else ""
            first = REPORT_FIRST.format(first=item["first"]) if item.get("first") else ""
            lines.append(REPORT_LINE.format(what=what, name=name, count=item["count"], errno=err, first=first))
    for path, item in report.get("paths", {}).items():
        lines.append(REPORT_LINE.format(what=REPORT_PATHS, name=path, count=item["count"], errno="", first=""))
    lines.append(REPORT_VERDICT.format(verdict=report["verdict"]))
    return "\n".join(lines) + "\n"


def write_outputs(session: Session, stats_file=None, report_file=None) -> None:
    """The CLI's end of a run: statistics and report, as text or JSON."""
    o = session.o
    if session.stats is not None:
        lost = session.stats_lost       # said as csrc/trace_fmt.c says it
        if o.stats_format == "json":
            # after --trace-format json's lines (the same stream): one JSON line too
            one_line = o.lines and o.format == "json"
            text = json.dumps(dict(session.stats, lost_events=lost) if lost else session.stats,
                              indent=None if one_line else 1) + "\n"
        else:
            text = format_stats(session.stats) + (
                f"\nlost_events {lost}: the kernel's buffers were full; the counts above are short\n" if lost else "")
        # after the lines in -o FILE: not tried where they failed (the sink writes no more there)
        if stats_file is None or not (o.lines and session.lines_failed):
            _write(session, stats_file, text, "the statistics (stderr)" if stats_file is None
                   else f"-o {getattr(stats_file, 'name', stats_file)}")
    if session.report is not None:
        path = o.report if isinstance(o.report, (str, os.PathLike)) and o.report != "-" else None
        _write(session, report_file if report_file is not None else path, format_report(session.report),
               f"--report={os.fsdecode(path)}" if path is not None else "--report")


def _write(session: Session, path, text: str, what: str) -> None:
    try:
        if path is None:
            sys.stderr.write(text)
            sys.stderr.flush()
        elif hasattr(path, "write"):
            path.write(text)
            path.flush()
        else:
            with open(path, "w") as f:
                f.write(text)
    except OSError as e:
        if e.errno is None:
            raise
        session.output_failed(what, e.errno)


__all__ = ["Observe", "Session", "TraceError", "parse_set", "copies", "format_stats", "format_report",
           "Event", "RECORD", "ReportBrand", "make_report"]
