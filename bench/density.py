"""Density: what an idle zone costs, against an idle bubblewrap sandbox.

N sandboxes of `sleep` are started at once under each runner; when every
guest sleeps, the PSS of every process involved (the runner's own, the
zone's init or bwrap's pid 1, and the guest) is summed from
/proc/PID/smaps_rollup, and MemAvailable is read before the first start and
after the last (kernel memory too: namespaces, mounts, page tables).  The
runners are then ended (lxrun with SIGTERM, which reaches the guest;
bwrap --die-with-parent with SIGKILL), and the benchmark checks that no
process of theirs is left.

    lxrun  LXRUN ROOT /bin/sleep S
    bwrap  bwrap --unshare-all --die-with-parent --bind ROOT / --proc /proc --dev /dev /bin/sleep S

S is a number of seconds unique to the run, so that the guests can be told
from any other sleep on the machine.
"""
from __future__ import annotations

import os
import shutil
import signal
import time
from typing import Callable, Optional

from . import runners as runners_mod

Log = Callable[[str], None]


def _mem_available_kb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _cmdline(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _guest_sleeping(root_pid: int, seconds: str) -> bool:
    """The sandbox's guest (`sleep S`, exec'd) exists."""
    for p in _tree(root_pid)[1:]:
        c = _cmdline(p)
        if len(c) >= 2 and c[0].endswith(b"sleep") and c[1] == seconds.encode():
            return True
    return False


def _leftovers(seconds: str) -> int:
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            c = _cmdline(int(d))
            if len(c) >= 2 and c[0].endswith(b"sleep") and c[1] == seconds.encode():
                n += 1
    return n


def commands(root: str) -> dict[str, Callable[[str], list[str]]]:
    cmds = {}
    lx = runners_mod.lxrun_path()
    if lx:
        cmds["lxrun"] = lambda s: [lx, root, "/bin/sleep", s]
    if shutil.which("bwrap"):
        cmds["bwrap"] = lambda s: ["bwrap", "--unshare-all", "--die-with-parent", "--bind", root, "/",
                                   "--proc", "/proc", "--dev", "/dev", "/bin/sleep", s]
    return cmds


def run_one(label: str, argv_of: Callable[[str], list[str]], n: int, log: Log,
            timeout: float = 600.0) -> dict:
    seconds = str(86400 + os.getpid() % 1000 * 100 + n + (1 if label == "bwrap" else 0))
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    errs = os.memfd_create("density-stderr", os.MFD_CLOEXEC)     # what the sandboxes said, if anything
    actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, errs, 2)]
    env = dict(os.environ)
    time.sleep(1.0)
    avail_before = _mem_available_kb()
    pids: list[int] = []
    cell: dict = {"n": n, "command": " ".join(argv_of("S"))}
    t0 = time.perf_counter()
    try:
        for _ in range(n):
            argv = argv_of(seconds)
            pids.append(os.posix_spawnp(argv[0], argv, env, file_actions=actions))
        waiting = set(pids)
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for p in list(waiting):
                if _guest_sleeping(p, seconds):
                    waiting.discard(p)
                else:
                    done, status = os.waitpid(p, os.WNOHANG)
                    if done == p:
                        pids.remove(p)
                        said = os.pread(errs, 2000, 0).decode(errors="replace").strip()
                        raise RuntimeError(f"{label}: a sandbox ended (status {status:#x}) before its guest "
                                           f"slept: {said[-500:]}")
            if waiting:
                time.sleep(0.01)
        if waiting:
            raise RuntimeError(f"{label}: {len(waiting)} of {n} guests not up after {timeout:.0f} s")
        cell["start_all_s"] = time.perf_counter() - t0
        time.sleep(1.0)      # let lazily freed memory settle
        procs = [q for p in pids for q in _tree(p)]
        pss = sum(_pss_kb(q) for q in procs)
        avail_after = _mem_available_kb()
        cell.update(processes=len(procs), pss_kb=pss, pss_per_sandbox_kb=pss / n,
                    mem_available_drop_kb=avail_before - avail_after,
                    mem_available_drop_per_sandbox_kb=(avail_before - avail_after) / n)
        # one sandbox, process by process
        first = _tree(pids[0])
        cell["one_sandbox"] = [{"comm": _comm(q), "pss_kb": _pss_kb(q)} for q in first]
    finally:
        t1 = time.perf_counter()
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM if label == "lxrun" else signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in pids:
            try:
                os.waitpid(p, 0)
            except ChildProcessError:
                pass
        cell["stop_all_s"] = time.perf_counter() - t1
        os.close(null)
        os.close(errs)
    deadline = time.monotonic() + 30
    while _leftovers(seconds) and time.monotonic() < deadline:
        time.sleep(0.1)
    cell["left_over_processes"] = _leftovers(seconds)
    log(f"  density {label} N={n}: {cell['pss_kb'] / n:.0f} kB PSS per sandbox, MemAvailable "
        f"-{cell['mem_available_drop_kb'] / 1024:.0f} MB, all started in {cell['start_all_s']:.1f} s, "
        f"left over {cell['left_over_processes']}")
    return cell


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def run_density(root: str, ns: list[int], big: Optional[int], log: Log) -> dict:
    """{"runs": {str(N): {runner: cell}}, "big": {runner: cell}}: every N for
    each runner, interleaved runner by runner; `big` (1000) once."""
    out: dict = {"runs": {}}
    cmds = commands(root)
    for n in ns:
        out["runs"][str(n)] = {}
        for label, argv_of in cmds.items():
            out["runs"][str(n)][label] = run_one(label, argv_of, n, log)
    if big:
        out["big"] = {}
        for label, argv_of in cmds.items():
            out["big"][label] = run_one(label, argv_of, big, log, timeout=1200.0)
    return out
