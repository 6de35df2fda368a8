"""The runners: how each one starts a guest command inside the rootfs.

Every runner gives the guest the same rootfs, a /proc, device nodes, and a
fresh tmpfs on /tmp (w4 untars there), so that they differ only in their
mechanism:

  native  chroot into ROOT, in a private mount namespace with a tmpfs on
          ROOT/tmp and proc on ROOT/proc (bench/c/nschroot.c; chroot(8) would
          write /tmp to the rootfs's disk)
  bwrap   bwrap --bind ROOT / --proc /proc --dev /dev --tmpfs /tmp
  proot   proot -r ROOT -b /proc -b HOSTTMP:/tmp, HOSTTMP a fresh directory in
          /dev/shm (a tmpfs) for each run
  strace  strace -f -o /dev/null nschroot ROOT ... (native, every syscall traced)
  lxrun   lxrun ROOT ... (the zone's /tmp is its own tmpfs); the console script
          itself, not a pyenv shim in front of it (see lxrun_path)

and, only when asked for (--runners ...,bwrap-ns):

  bwrap-ns  bwrap --unshare-all ...: the zone's namespaces without its filter
            and supervisor

w9 needs a Python handler, which only the library can register: its lxrun
runner starts bench/zone_driver.py instead of the CLI.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Optional, Sequence

from . import BENCH_DIR

ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "HOME": "/root", "TERM": "dumb", "LC_ALL": "C", "LXRUN_DEBUG_FRONTDOOR": "1"}
"""The environment every runner passes to its guest (a zone sets the same PATH/HOME/TERM);
LXRUN_DEBUG_FRONTDOOR: lxrun says when the C front door handed a run to Python
(measure.run_one does not count such a sample: it times the Python CLI)."""
HANDED_OVER = b"lxrun: front door: "


def is_front_door(r) -> bool:
    """An lxrun runner whose lxrun is the C front door (an ELF file), not
    pip's console script, which `make build` puts there for a moment."""
    path = getattr(r, "path", None)
    if not r.name.startswith("lxrun") or not path:
        return False
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False

DRIVER = os.path.join(BENCH_DIR, "zone_driver.py")


def lxrun_path() -> Optional[str]:
    """The lxrun console script.

    Under pyenv, `lxrun` on PATH is a bash shim that runs `pyenv exec`, which
    costs ~80 ms before lxrun starts; the benchmark measures lxrun, so it
    takes the script installed beside this interpreter when there is one.
    """
    beside = os.path.join(os.path.dirname(sys.executable), "lxrun")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("lxrun")


def is_shim(path: Optional[str]) -> bool:
    if not path:
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    return head.startswith(b"#!") and b"pyenv" in head and b"bash" in head.split(b"\n", 1)[0]


class Runner:
    """One way of running a guest command in ROOT."""

    name = ""
    tool = ""          # the host executable it needs
    template = ""      # the command, for RESULTS.md

    def __init__(self, root: str, programs: dict[str, str]):
        self.root = root
        self.programs = programs

    def available(self) -> Optional[str]:
        """None when the runner can run here, else the reason it cannot."""
        if os.geteuid() != 0 and (self.name == "native" or self.name.startswith("strace")):
            return "needs root (chroot and mount in a private namespace)"
        if shutil.which(self.tool) is None and not os.path.isabs(self.tool):
            return f"{self.tool} is not installed"
        return None

    def argv(self, guest: Sequence[str], tmp: Optional[str]) -> list[str]:
        raise NotImplementedError

    def needs_tmp(self) -> bool:
        """Whether argv() wants a fresh host directory for the guest's /tmp."""
        return False

    def driver_argv(self, guest: Sequence[str], handlers: dict[str, int]) -> list[str]:
        """The command for a guest that needs Python handlers (w9); None: use argv()."""
        return self.argv(guest, None)


class Native(Runner):
    name = "native"
    tool = "nschroot"
    template = "bench/build/nschroot ROOT CMD   (unshare -m; tmpfs on ROOT/tmp; proc on ROOT/proc; chroot)"

    def available(self):
        if os.geteuid() != 0:
            return "needs root (chroot and mount in a private namespace)"
        return None

    def argv(self, guest, tmp):
        return [self.programs["nschroot"], self.root, *guest]


class Bwrap(Runner):
    name = "bwrap"
    tool = "bwrap"
    template = "bwrap --bind ROOT / --proc /proc --dev /dev --tmpfs /tmp CMD"

    def argv(self, guest, tmp):
        return ["bwrap", "--bind", self.root, "/", "--proc", "/proc", "--dev", "/dev",
                "--tmpfs", "/tmp", *guest]


class BwrapNs(Bwrap):
    """Not in the default set: bwrap with the zone's namespaces, to tell what a
    zone's namespaces cost from what its seccomp filter and supervisor cost."""
    name = "bwrap-ns"
    template = "bwrap --unshare-all --bind ROOT / --proc /proc --dev /dev --tmpfs /tmp CMD"

    def argv(self, guest, tmp):
        return ["bwrap", "--unshare-all", "--bind", self.root, "/", "--proc", "/proc", "--dev", "/dev",
                "--tmpfs", "/tmp", *guest]


class Proot(Runner):
    name = "proot"
    tool = "proot"
    template = "proot -r ROOT -b /proc -b HOSTTMP:/tmp CMD   (HOSTTMP: a fresh directory in /dev/shm)"

    def needs_tmp(self):
        return True

    def argv(self, guest, tmp):
        return ["proot", "-r", self.root, "-b", "/proc", "-b", f"{tmp}:/tmp", *guest]


class Strace(Runner):
    name = "strace"
    tool = "strace"
    template = "strace -f -o /dev/null bench/build/nschroot ROOT CMD"

    def argv(self, guest, tmp):
        return ["strace", "-f", "-o", "/dev/null", self.programs["nschroot"], self.root, *guest]


class Lxrun(Runner):
    name = "lxrun"
    tool = "lxrun"
    template = "LXRUN ROOT CMD"

    def __init__(self, root, programs):
        super().__init__(root, programs)
        self.path = lxrun_path()
        self.template = f"{self.path} ROOT CMD"

    def available(self):
        if self.path is None:
            return "lxrun is not installed (make build)"
        return None

    def argv(self, guest, tmp):
        if "uname" in guest[:4]:      # after timeit and sysloop
            # w8 measures an emulated syscall: without a kernel release to
            # emulate, the zone's UTS namespace answers uname in the kernel
            return [self.path, "--kernel-release", os.uname().release, self.root, *guest]
        return [self.path, self.root, *guest]

    def driver_argv(self, guest, handlers):
        h = [f"--handler={name}={value}" for name, value in handlers.items()]
        return [sys.executable, DRIVER, *h, self.root, "--", *guest]


# Tracing (issue 13): lxrun --trace and --stats beside strace on the same
# workloads, natively; all write to /dev/null, as the strace runner does.

class StraceSeccomp(Strace):
    name = "strace-seccomp"
    template = "strace -f --seccomp-bpf -o /dev/null bench/build/nschroot ROOT CMD"

    def argv(self, guest, tmp):
        return ["strace", "-f", "--seccomp-bpf", "-o", "/dev/null", self.programs["nschroot"], self.root, *guest]


class StraceC(Strace):
    name = "strace-c"
    template = "strace -c -f -o /dev/null bench/build/nschroot ROOT CMD"

    def argv(self, guest, tmp):
        return ["strace", "-c", "-f", "-o", "/dev/null", self.programs["nschroot"], self.root, *guest]


class LxrunTrace(Lxrun):
    """lxrun --trace -o /dev/null: every syscall traced, decoded and written."""
    name = "lxrun-trace"
    options = ("--trace", "-o", "/dev/null")

    def __init__(self, root, programs):
        super().__init__(root, programs)
        self.template = f"{self.path} {' '.join(self.options)} ROOT CMD"

    def argv(self, guest, tmp):
        argv = super().argv(guest, tmp)
        return [argv[0], *self.options, *argv[1:]]


class LxrunTracePtrace(LxrunTrace):
    """lxrun --trace by the ptrace tracer (LXBRAND_TRACE=ptrace; by BPF
    programs otherwise, as root): the former mechanism, side by side.  env(1)
    adds about a millisecond end to end."""
    name = "lxrun-trace-ptrace"

    def __init__(self, root, programs):
        super().__init__(root, programs)
        self.template = f"env LXBRAND_TRACE=ptrace {self.path} {' '.join(self.options)} ROOT CMD"

    def argv(self, guest, tmp):
        return ["env", "LXBRAND_TRACE=ptrace", *super().argv(guest, tmp)]


class LxrunStats(LxrunTrace):
    """lxrun --stats (the table to /dev/null): every syscall timed, nothing decoded."""
    name = "lxrun-stats"
    options = ("--stats", "-o", "/dev/null")


class LxrunStatsTracepoints(LxrunStats):
    """lxrun --stats from perf's syscall tracepoint rings (LXBRAND_STATS=tracepoints;
    counted in the kernel by BPF programs otherwise, as root): the former
    mechanism, side by side."""
    name = "lxrun-stats-tracepoints"

    def __init__(self, root, programs):
        super().__init__(root, programs)
        self.template = f"env LXBRAND_STATS=tracepoints {self.path} {' '.join(self.options)} ROOT CMD"

    def argv(self, guest, tmp):
        return ["env", "LXBRAND_STATS=tracepoints", *super().argv(guest, tmp)]


class LxrunReport(LxrunTrace):
    """lxrun --report=/dev/null: denied and unsupported calls counted; target 1.05x the plain zone."""
    name = "lxrun-report"
    options = ("--report=/dev/null",)


RUNNERS = {cls.name: cls for cls in (Native, Bwrap, Proot, Strace, Lxrun, BwrapNs, StraceSeccomp, StraceC,
                                     LxrunTrace, LxrunTracePtrace, LxrunStats, LxrunStatsTracepoints, LxrunReport)}
ORDER = ("native", "bwrap", "proot", "strace", "lxrun")     # the default set
TRACING = ("native", "strace", "strace-seccomp", "strace-c", "lxrun", "lxrun-trace", "lxrun-trace-ptrace",
           "lxrun-stats", "lxrun-report")                   # --runners tracing


def make(names: Sequence[str], root: str, programs: dict[str, str]) -> tuple[list[Runner], dict[str, str]]:
    """The runners asked for that can run here, and {name: reason} for the others."""
    ok, skipped = [], {}
    for name in names:
        r = RUNNERS[name](root, programs)
        why = r.available()
        if why:
            skipped[name] = why
        else:
            ok.append(r)
    return ok, skipped


def fresh_tmp() -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    return tempfile.mkdtemp(prefix="lxbench-tmp-", dir=base)
