"""The workloads, w1-w9: what runs in the guest, and how its output is read.

Every guest command runs under GUEST_DIR/timeit, which reports the time the
command took as seen from inside the guest (runner start-up excluded); the
harness also times the whole runner from the host (end to end).  sysloop
(w1-w3, w8, w9) also times its own loop.  `check` is a value that must be the
same under every runner (a file count, a byte count), except where noted.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import GUEST_DIR

SYSLOOP = f"{GUEST_DIR}/sysloop"
TIMEIT = f"{GUEST_DIR}/timeit"
TIMEIT_RE = re.compile(rb"LXBENCH elapsed_ns=(\d+) status=(\d+)(?: cpu_ns=(\d+))?")
DRIVER_RE = re.compile(rb"LXBENCH notified=(-?\d+) handler_calls=(\d+)")
W9_ANSWER = 4242


@dataclass
class Workload:
    id: str
    title: str                      # {n}: the count, {n10}: a tenth of it
    full: int                       # the count the issue asks for
    quick: int                      # the count under --quick
    unit: str                       # what the count counts
    command: Callable[[int], list[str]]
    per_call: bool = False          # w8, w9: the metric is the loop's ns per call
    runners: Optional[tuple] = None  # None: every runner
    handlers: dict = field(default_factory=dict)   # Python handlers (w9: the driver)
    check_differs: tuple = ()       # runners whose check legitimately differs
    floor: tuple = ()               # mech.c modes run in every repetition, beside the runners

    def count(self, quick: bool) -> int:
        return self.quick if quick else self.full

    def label(self, quick: bool) -> str:
        n = self.count(quick)
        return self.title.format(n=n, n10=n // 10)

    def guest_argv(self, quick: bool, runner: str) -> list[str]:
        argv = self.command(self.count(quick))
        if self.handlers and runner == "lxrun" and argv[:2] == [SYSLOOP, "getppid"]:
            argv = argv + [str(W9_ANSWER)]     # the guest checks every answer
        return [TIMEIT, *argv]


def _sh_loop(n: int) -> list[str]:
    builtins, externals = n, n // 10
    script = (f"i=0; while [ $i -lt {builtins} ]; do i=$((i+1)); : ; done; "
              f"j=0; while [ $j -lt {externals} ]; do /bin/true; j=$((j+1)); done; echo $i $j")
    return ["/bin/sh", "-c", script]


WORKLOADS = {w.id: w for w in (
    Workload("w1", "stat() x {n}, static C", 200_000, 50_000, "stat calls",
             lambda n: [SYSLOOP, "stat", str(n), "/usr/bin/env"]),
    Workload("w2", "open/read/close x {n} of small files", 2000, 500, "files",
             lambda n: [SYSLOOP, "files", str(n), f"{GUEST_DIR}/data/small", "200"]),
    Workload("w3", "fork+execve /bin/true x {n}", 300, 100, "execs",
             lambda n: [SYSLOOP, "forkexec", str(n), "/bin/true"]),
    Workload("w4", "untar {n} small files into /tmp (tmpfs)", 5000, 1000, "files",
             lambda n: ["/bin/tar", "-xf", f"{GUEST_DIR}/data/tree-{n}.tar", "-C", "/tmp"]),
    Workload("w5", "python3 -c 'import json, email.parser, http.client, sqlite3'", 1, 1, "run",
             lambda n: ["/usr/bin/python3", "-c", "import json, email.parser, http.client, sqlite3"]),
    Workload("w6", "find /usr -type f | wc -l", 1, 1, "run",
             lambda n: ["/bin/sh", "-c", "find /usr -type f | wc -l"]),
    Workload("w7", "sh loop: {n} builtins, {n10} external commands", 2000, 500, "builtins",
             _sh_loop),
    Workload("w8", "uname() x {n}, static C (the brand answers in C)", 100_000, 20_000, "calls",
             lambda n: [SYSLOOP, "uname", str(n)], per_call=True,
             check_differs=("native", "bwrap", "proot", "strace", "strace-seccomp", "strace-c"),  # nodename
             floor=("notif-value", "notif-uname", "notif-uname-brand", "notif-value-setsid",
                    "notif-uname-zone")),
    Workload("w9", "getppid() x {n}, a Python handler (Zone.handler)", 100_000, 20_000, "calls",
             lambda n: [SYSLOOP, "getppid", str(n)], per_call=True, runners=("native", "lxrun"),
             handlers={"getppid": W9_ANSWER}, check_differs=("native",)),
    Workload("w10", "4 threads x {n} getppid(), a Python handler that sleeps 2 ms (receivers in parallel)",
             100, 25, "calls per thread",
             lambda n: [SYSLOOP, "threads", "4", str(n)], runners=("native", "lxrun"),
             handlers={"getppid": f"{W9_ANSWER}:sleep=0.002"}),
)}


def parse(w: Workload, runner: str, returncode: int, stdout: bytes, stderr: bytes) -> dict:
    """The sample's figures from the guest's output; raises ValueError when it failed."""
    if returncode != 0:
        raise ValueError(f"exit status {returncode}: {_tail(stderr)}")
    m = TIMEIT_RE.search(stderr)
    if not m:
        raise ValueError(f"no timeit line on stderr: {_tail(stderr)}")
    out = {"guest_ns": int(m.group(1))}
    if m.group(3) is not None:
        out["guest_cpu_ns"] = int(m.group(3))
    text = stdout.strip().splitlines()
    if w.command(1)[0] == SYSLOOP:
        rec = json.loads(text[-1])
        out["loop_ns"] = int(rec["ns"])
        out["n"] = int(rec["n"])
        out["check"] = rec["check"]
        if w.per_call:
            out["ns_per_call"] = rec["ns"] / rec["n"]
    else:
        out["check"] = text[-1].decode(errors="replace") if text else ""
    if w.handlers and runner == "lxrun":
        d = DRIVER_RE.search(stderr)
        if not d:
            raise ValueError(f"zone_driver.py printed no LXBENCH line: {_tail(stderr)}")
        out["notified"] = int(d.group(1))
        if int(d.group(2)) < out.get("n", 1):
            raise ValueError(f"the Python handler ran {d.group(2).decode()} times, "
                             f"fewer than the {out.get('n')} calls")
    return out


def _tail(data: bytes, n: int = 300) -> str:
    s = data.decode(errors="replace").strip()
    return s[-n:] if s else "(no output)"
