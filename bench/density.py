"""Density: what an idle zone costs, against an idle bubblewrap sandbox.

N sandboxes of `sleep` are started at once under each runner; when every
guest sleeps, the PSS of every process involved (the runner's own, the
zone's init or bwrap's pid 1, and the guest) is summed from
/proc/PID/smaps_rollup, and MemAvailable is read before the first start and
after the last (kernel memory too: namespaces, mounts, page tables), and so
are /proc/meminfo's kernel fields (KERNEL_FIELDS: slab, kernel stacks, page
tables, per-cpu), per sandbox.  The runners are then ended (lxrun with SIGTERM, which reaches the guest;
bwrap --die-with-parent with SIGKILL), and the benchmark checks that no
process of theirs is left.

    lxrun  LXRUN ROOT /bin/sleep S
    bwrap  bwrap --unshare-all --die-with-parent --bind ROOT / --proc /proc --dev /dev /bin/sleep S

S is a number of seconds unique to the run, so that the guests can be told
from any other sleep on the machine.

A zone with a Python handler needs an interpreter; one serves them all
(PY_LABEL): `python3 -m bench.density serve ROOT N S` starts N zones with
lxbrand.Zone, each with a getppid handler of its own, whose guest is
`/bin/sh -c 'echo $PPID; exec /bin/sleep S'`: the driver checks that every
zone's handler answered (4242) before it says `ready`, then waits for EOF on
its stdin, ends every zone (SIGTERM to its init, which the guest gets) and
exits.  Its PSS is the driver's, every zone's init (the driver's child,
cloned by lxbrand-init, not by the driver: csrc/launcher.c) and every
guest, summed as above.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
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


# kernel memory, from /proc/meminfo: what namespaces, mounts, tasks and page
# tables take (MemAvailable also moves with anything else the machine does)
KERNEL_FIELDS = ("Slab", "SUnreclaim", "KernelStack", "PageTables", "Percpu")


def _kernel_kb() -> dict:
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in KERNEL_FIELDS:
                out[key] = int(value.split()[0])
    return out


def _kernel_per(before: dict, after: dict, n: int) -> dict:
    return {k: (after.get(k, 0) - before.get(k, 0)) / n for k in KERNEL_FIELDS}


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
    avail_before, kernel_before = _mem_available_kb(), _kernel_kb()
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
        cell["kernel_kb_per_sandbox"] = _kernel_per(kernel_before, _kernel_kb(), n)
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


PY_LABEL = "Zone + Python handler, one python3"
PY_ANSWER = 4242
PY_GUEST = "echo $PPID; exec /bin/sleep "     # $PPID: getppid(2), answered by the zone's handler


def serve_main(root: str, n: int, seconds: str) -> int:
    """The driver of PY_LABEL: N zones with Python handlers in this one process."""
    from lxbrand import Zone
    runs, outs, calls = [], [], [0] * n
    try:
        for i in range(n):
            zone = Zone(root)

            def getppid(call, i=i):
                calls[i] += 1
                return PY_ANSWER
            zone.handler("getppid", getppid)
            r, w = os.pipe2(os.O_CLOEXEC)
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            try:
                runs.append(zone.start(["/bin/sh", "-c", PY_GUEST + seconds], stdin=null, stdout=w))
            finally:
                os.close(w)
                os.close(null)
            outs.append(r)
        for i, fd in enumerate(outs):
            said = b""
            while not said.endswith(b"\n"):
                chunk = os.read(fd, 64)
                if not chunk:
                    break
                said += chunk
            if said.strip() != str(PY_ANSWER).encode() or calls[i] != 1:
                print(f"density serve: zone {i} said {said!r} after {calls[i]} handler calls", file=sys.stderr)
                return 1
        print(f"ready {n} handler_calls={sum(calls)}", flush=True)
        while os.read(0, 4096):
            pass
        return 0
    finally:
        for run in runs:
            if run.init_pid > 0:
                try:
                    os.kill(run.init_pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for run in runs:
            try:
                run.wait()
            finally:
                run.close()
        for fd in outs:
            os.close(fd)


def run_served(root: str, n: int, log: Log, timeout: float = 600.0) -> dict:
    """PY_LABEL: the driver (serve_main) and everything it started, measured as run_one does."""
    seconds = str(86400 + os.getpid() % 1000 * 100 + n + 2)
    argv = [sys.executable, "-m", "bench.density", "serve", root, str(n), seconds]
    errs = os.memfd_create("density-stderr", os.MFD_CLOEXEC)
    cell: dict = {"n": n, "command": " ".join(argv[:5] + ["N", "S"])}
    time.sleep(1.0)
    avail_before, kernel_before = _mem_available_kb(), _kernel_kb()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errs,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
                raise RuntimeError(f"{PY_LABEL}: {n} zones not up after {timeout:.0f} s")
            chunk = os.read(p.stdout.fileno(), 256)
            if not chunk:
                said = os.pread(errs, 2000, 0).decode(errors="replace").strip()
                raise RuntimeError(f"{PY_LABEL}: the driver ended (status {p.wait()}) before its zones "
                                   f"were up: {said[-500:]}")
            line += chunk
        cell["start_all_s"] = time.perf_counter() - t0
        cell["ready"] = line.decode().strip()
        time.sleep(1.0)      # let lazily freed memory settle
        procs = _tree(p.pid)
        pss = {q: _pss_kb(q) for q in procs}
        avail_after = _mem_available_kb()
        cell["kernel_kb_per_sandbox"] = _kernel_per(kernel_before, _kernel_kb(), n)
        total = sum(pss.values())
        cell.update(processes=len(procs), pss_kb=total, pss_per_sandbox_kb=total / n,
                    mem_available_drop_kb=avail_before - avail_after,
                    mem_available_drop_per_sandbox_kb=(avail_before - avail_after) / n)
        by_comm: dict = {}
        for q, kb in pss.items():
            c = by_comm.setdefault(_comm(q), [0, 0])
            c[0] += 1
            c[1] += kb
        cell["by_process"] = [{"comm": c, "count": k, "pss_kb": kb} for c, (k, kb) in by_comm.items()]
    finally:
        t1 = time.perf_counter()
        p.stdin.close()
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        cell["stop_all_s"] = time.perf_counter() - t1
        cell["driver_status"] = p.returncode
        p.stdout.close()
        os.close(errs)
    deadline = time.monotonic() + 30
    while _leftovers(seconds) and time.monotonic() < deadline:
        time.sleep(0.1)
    cell["left_over_processes"] = _leftovers(seconds)
    log(f"  density {PY_LABEL} N={n}: {cell['pss_kb'] / n:.0f} kB PSS per zone, MemAvailable "
        f"-{cell['mem_available_drop_kb'] / 1024:.0f} MB, all started in {cell['start_all_s']:.1f} s, "
        f"driver status {cell['driver_status']}, left over {cell['left_over_processes']}")
    return cell


def run_density(root: str, ns: list[int], big: Optional[int], log: Log) -> dict:
    """{"runs": {str(N): {runner: cell}}, "big": {runner: cell}}: every N for
    each runner, interleaved runner by runner, then PY_LABEL (with lxrun);
    `big` (1000) once, without PY_LABEL."""
    out: dict = {"runs": {}}
    cmds = commands(root)
    for n in ns:
        out["runs"][str(n)] = {}
        for label, argv_of in cmds.items():
            out["runs"][str(n)][label] = run_one(label, argv_of, n, log)
        if "lxrun" in cmds:
            out["runs"][str(n)][PY_LABEL] = run_served(root, n, log)
    if big:
        out["big"] = {}
        for label, argv_of in cmds.items():
            out["big"][label] = run_one(label, argv_of, big, log, timeout=1200.0)
    return out


if __name__ == "__main__":
    # python3 -m bench.density serve ROOT N S: PY_LABEL's driver
    if len(sys.argv) != 5 or sys.argv[1] != "serve":
        sys.exit("usage: python3 -m bench.density serve ROOT N SECONDS")
    sys.exit(serve_main(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
