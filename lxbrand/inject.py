"""Fault injection: lxrun --inject RULE, Zone(inject=[RULE, ...]) (issue 13).

    RULE  SYSCALL[,SYSCALL...]:error=ERRNO|retval=N[:when=N[+STEP]][:path=GLOB][:delay=DURATION][:pid=N]

As strace's --inject: error= fails the call with ERRNO (a name such as
ENOSPC, or a number), retval= answers N without running it; delay= sleeps
before the call is answered or run, with or without error/retval.  when=N
is the Nth matching call only, N+ the Nth and every later one, N+STEP the
Nth and every STEP-th after it (default: every call).  Calls are counted
per rule across the zone (strace counts per thread): pid=N (the zone's pid
of a process, as the guest sees it) counts that process's calls only.
path=GLOB (fnmatch, `*` crosses `/`) matches the path as the program
passes it, for syscalls the supervisor can perform itself (open, creat,
openat; stat, lstat, newfstatat, statx; access, faccessat, faccessat2;
unlink, unlinkat, rmdir, mkdir, mkdirat: path_syscalls()): the path is read
once, the rules decide on that copy, and the call is then failed or
performed by the supervisor, never let run after the check (csrc/inject.c,
PATHS).

This module parses rules and compiles them into the C table (struct
lxb_inject); the decision per call is C's (csrc/inject.c).  The brand makes
the named syscalls, and only those, leave the kernel (compile.py); --deny
stays the in-kernel, zero-cost form.
"""
from __future__ import annotations

import difflib
import errno as _errno
import os
import re
import threading
from collections import namedtuple
from typing import Iterable, Optional

from .errors import ZoneConfigError

FORM = "SYSCALL[,SYSCALL...]:error=ERRNO|retval=N[:when=N[+STEP]][:path=GLOB][:delay=DURATION][:pid=N]"
KEYS = ("error", "retval", "when", "path", "delay", "pid")
MAX_RULES = 32                                   # LXB_INJECT_MAX
GLOB_MAX = 255                                   # LXB_INJECT_GLOB - 1
DELAY_MAX_NS = 3600 * 10**9
_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9}


class InjectError(ZoneConfigError):
    """A malformed --inject RULE: one line naming the bad part and the form."""


Rule = namedtuple("Rule", "text syscalls error retval first step path delay_ns pid")
Rule.__doc__ = """One parsed rule: syscalls (names), error (errno or None), retval
(int or None), first and step (when=; step 0: once), path (glob or None),
delay_ns, pid (0: any)."""


def path_syscalls() -> list:
    """The syscalls a path rule may name: those the supervisor can perform
    itself (csrc/inject.c lxb_inject_path_ok, the one list)."""
    from ._csup import lib
    from .brand.table import TABLE
    return [sc.name for sc in TABLE if lib.lxb_inject_path_ok(sc.nr)]


def _bad(text: str, why: str) -> InjectError:
    return InjectError(f"--inject {text!r}: {why}; expected {FORM}")


def _errno_of(text: str, value: str) -> int:
    code = getattr(_errno, value.upper(), None) if value.upper().startswith("E") else None
    if code is None and value.isdigit():
        code = int(value)
    if not isinstance(code, int) or not 0 < code < 4096:
        raise _bad(text, f"unknown errno {value!r} (a name such as ENOSPC, EINTR, EIO, or a number 1-4095)")
    return code


def _duration_ns(text: str, value: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s)?", value)
    if not m:
        raise _bad(text, f"delay={value!r}: expected a duration such as 100us, 5ms, 1.5s "
                         "(a bare number is microseconds, as strace's)")
    ns = int(float(m.group(1)) * _UNITS[m.group(2) or "us"])
    if ns > DELAY_MAX_NS:
        raise _bad(text, f"delay={value!r}: at most 1 hour")
    return ns


def parse_rule(text: str) -> Rule:
    """One RULE, checked: an InjectError names the bad part."""
    from .brand.table import BY_NAME
    if not isinstance(text, str):
        raise InjectError(f"--inject {text!r}: expected a rule string, {FORM}")
    head, sep, rest = text.partition(":")
    if not head or not sep:
        raise _bad(text, "no syscall, or no error=, retval= or delay=")
    names = []
    for name in head.split(","):
        name = name.strip()
        if name not in BY_NAME:
            close = difflib.get_close_matches(name, list(BY_NAME), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _bad(text, f"unknown syscall {name!r}{hint}")
        if name not in names:
            names.append(name)
    items: dict = {}
    last = None
    for part in rest.split(":"):
        key, eq, value = part.partition("=")
        if eq and key in KEYS:
            if key in items:
                raise _bad(text, f"{key}= given twice")
            items[key] = value
            last = key
        elif last == "path":            # a ':' inside the glob
            items["path"] += ":" + part
        else:
            raise _bad(text, f"{part!r}: unknown key (keys: {', '.join(k + '=' for k in KEYS)})")
    error = retval = None
    if "error" in items and "retval" in items:
        raise _bad(text, "error= and retval= together (give one)")
    if "error" in items:
        error = _errno_of(text, items["error"])
    if "retval" in items:
        v = items["retval"]
        if not re.fullmatch(r"\d+", v) or int(v) >= 1 << 63:
            raise _bad(text, f"retval={v!r}: expected a number from 0 (a failure is error=ERRNO)")
        retval = int(v)
    delay = _duration_ns(text, items["delay"]) if "delay" in items else 0
    if error is None and retval is None and "delay" not in items:
        raise _bad(text, "nothing to inject: give error=, retval= or delay=")
    first, step = 1, 1
    if "when" in items:
        m = re.fullmatch(r"(\d+)(?:(\+)(\d+)?)?", items["when"])
        if not m or int(m.group(1)) < 1 or (m.group(3) is not None and int(m.group(3)) < 1):
            raise _bad(text, f"when={items['when']!r}: expected N (the Nth call), N+ (the Nth and later) "
                             "or N+STEP (the Nth and every STEP-th after it), N and STEP from 1")
        first = int(m.group(1))
        step = 0 if not m.group(2) else int(m.group(3) or 1)
        if first >= 1 << 63 or step >= 1 << 63:
            raise _bad(text, f"when={items['when']!r}: too large")
    path = items.get("path")
    if path is not None:
        if not path:
            raise _bad(text, "path= is empty")
        if len(os.fsencode(path)) > GLOB_MAX or "\0" in path:
            raise _bad(text, f"path= longer than {GLOB_MAX} bytes")
        allowed = path_syscalls()
        for name in names:
            if name not in allowed:
                raise InjectError(f"--inject {text!r}: path= is not supported for {name} (the supervisor "
                                  f"performs a path-filtered call itself: {', '.join(allowed)} only)")
    pid = 0
    if "pid" in items:
        if not re.fullmatch(r"\d+", items["pid"]) or not 0 < int(items["pid"]) < 1 << 22:
            raise _bad(text, f"pid={items['pid']!r}: expected a pid of the zone, from 1")
        pid = int(items["pid"])
    return Rule(text, tuple(names), error, retval, first, step, path, delay, pid)


def parse_rules(items: Optional[Iterable]) -> list:
    """Rules from strings (or Rules), in order; at most MAX_RULES."""
    if items is None:
        return []
    if isinstance(items, (str, Rule)):
        items = [items]
    out = [r if isinstance(r, Rule) else parse_rule(r) for r in items]
    if len(out) > MAX_RULES:
        raise InjectError(f"--inject: {len(out)} rules; at most {MAX_RULES}")
    return out


def c_table(rules: list):
    """struct lxb_inject for `rules` (a cffi object; keep it alive while a
    supervisor or tracer uses it)."""
    from ._csup import ffi, lib
    from .brand.table import BY_NAME
    t = ffi.new("struct lxb_inject *")
    t.log_fd = -1
    t.nrules = len(rules)
    for i, r in enumerate(rules):
        c = t.rule[i]
        for name in r.syscalls:
            nr = BY_NAME[name].nr
            c.nrs[nr >> 3] |= 1 << (nr & 7)
            t.on[nr] |= lib.LXB_INJ_ON | (lib.LXB_INJ_ON_PATH if r.path else 0) \
                | (lib.LXB_INJ_ON_PID if r.pid else 0)
        if r.error is not None:
            c.action, c.error = lib.LXB_INJ_ERROR, r.error
        elif r.retval is not None:
            c.action, c.retval = lib.LXB_INJ_RETVAL, r.retval
        c.first, c.step, c.delay_ns, c.pid = r.first, r.step, r.delay_ns, r.pid
        if r.path:
            raw = os.fsencode(r.path)
            ffi.memmove(c.path, raw + b"\0", len(raw) + 1)
    return t


def path_nrs(rules: list) -> set:
    """Syscall numbers a path rule names: the supervisor performs them."""
    from .brand.table import BY_NAME
    return {BY_NAME[n].nr for r in rules if r.path for n in r.syscalls}


# --- under --trace: the supervisor's records of the calls it answered ---------------

class Follower:
    """Reads the supervisor's trace records of path-filtered calls (a pipe of
    their own, csrc/inject.c TRACING) into a trace Recorder."""

    def __init__(self, table, recorder):
        from ._csup import lib
        from .trace import RECORD
        self.table = table
        r, w = os.pipe2(os.O_CLOEXEC)
        self._record = RECORD
        self._rec = recorder
        self.thread = threading.Thread(target=self._read, args=(r,), name="lxbrand-inject-trace", daemon=True)
        self.thread.start()
        lib.lxb_inject_set_log(table, w)

    def _read(self, fd: int) -> None:
        from .trace import drain_records
        drain_records(fd, self._record, self._rec)

    def close(self) -> None:
        """Once the supervisor's receivers are out of C: EOF for the reader."""
        from ._csup import lib
        lib.lxb_inject_set_log(self.table, -1)
        self.thread.join()


__all__ = ["Rule", "InjectError", "parse_rule", "parse_rules", "c_table", "path_nrs", "path_syscalls", "FORM"]
