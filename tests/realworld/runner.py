"""Running one case natively and in a zone, and judging the two results.

Native: `unshare --mount --pid --net --fork` runs native.py, which chroots
into an overlay over the rootfs with fresh /proc and /tmp (a plain chroot,
with private writable state and, like a zone's `--net none`, only loopback,
so that servers on 127.0.0.1 meet neither the host's nor each other's ports).
Zone: lxbrand.Zone(rootfs, ephemeral=True).  Both sides get the same argv,
cwd /, environment and stdin, and run at the same time unless asked not to.
A server case (Case.port, Case.client) runs its client on the host: natively
inside the native side's network namespace (nsenter), against the zone
through a port published by --net private.  Case.unchanged trees of the
rootfs are compared on disk before and after the case.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

from .cases import Case

HERE = os.path.dirname(os.path.abspath(__file__))
NATIVE_HELPER = os.path.join(HERE, "native.py")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # lxbrand.zone.DEFAULT_PATH
ENV = {"PATH": PATH, "HOME": "/root", "TERM": "dumb"}                   # the zone's clean environment


@dataclass
class Outcome:
    """One side's run: status is the exit status, or -N for signal N."""
    side: str
    status: Optional[int]          # None: did not finish (timeout, or the runner failed)
    stdout: bytes
    stderr: bytes
    seconds: float
    error: Optional[str] = None    # why the run itself failed, if it did

    def verdict(self, case: Case) -> Optional[str]:
        """None when this side gave the case's expected result, else why not."""
        if self.error:
            return self.error
        if self.status != case.status:
            return f"exit status {_status(self.status)}, want {_status(case.status)}"
        return case.expected(self.side).check(self.stdout)

    def summary(self, case: Case) -> str:
        if self.error:
            return self.error.split(":")[0]
        why = self.verdict(case)
        return f"{_status(self.status)} {'ok' if why is None else 'stdout ✗' if self.status == case.status else '✗'}"


def _status(status: Optional[int]) -> str:
    if status is None:
        return "-"
    if status < 0:
        try:
            return signal.Signals(-status).name
        except ValueError:
            return f"signal {-status}"
    return str(status)


@dataclass
class Result:
    case: Case
    native: Outcome
    zone: Outcome
    changed: tuple = ()            # Case.unchanged paths that changed on disk

    @property
    def problems(self) -> list[str]:
        out = [f"the rootfs changed on disk: {p}" for p in self.changed]
        for o in (self.native, self.zone):
            why = o.verdict(self.case)
            if why is not None:
                out.append(f"{o.side}: {why}")
        if not out and self.case.same and self.native.stdout != self.zone.stdout:
            out.append("native and zone stdout differ: native "
                       f"{_tail(self.native.stdout)!r}, zone {_tail(self.zone.stdout)!r}")
        return out

    @property
    def passed(self) -> bool:
        return not self.problems

    def details(self) -> str:
        """What a failure report shows: the problems and each failing side's output."""
        problems = self.problems
        lines = [f"{self.case.name}: {p}" for p in problems]
        for o in (self.native, self.zone):
            if problems and (o.verdict(self.case) is not None or problems[0].startswith("native and zone")):
                lines.append(f"--- {o.side} stdout (last 2000 bytes)\n{_tail(o.stdout, 2000)}")
                lines.append(f"--- {o.side} stderr (last 2000 bytes)\n{_tail(o.stderr, 2000)}")
        return "\n".join(lines)


def _tail(data: bytes, n: int = 200) -> str:
    return data[-n:].decode(errors="replace")


def _stdin(case: Case):
    return (subprocess.PIPE, case.input) if case.input is not None else (subprocess.DEVNULL, None)


def tree_digest(rootfs: str, path: str) -> str:
    """A digest of the tree at rootfs/path as it is on disk: names, types,
    modes, owners, sizes, mtimes, file contents and link targets."""
    h = hashlib.sha256()
    top = os.path.join(rootfs, path.lstrip("/"))

    def one(p: str) -> None:
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            h.update(f"{os.path.relpath(p, top)} absent\n".encode())
            return
        h.update(f"{os.path.relpath(p, top)} {st.st_mode:o} {st.st_uid}:{st.st_gid} {st.st_size} "
                 f"{st.st_mtime_ns}\n".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(p).encode())
        elif stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    one(top)
    if os.path.isdir(top) and not os.path.islink(top):
        for d, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                one(os.path.join(d, name))
    return h.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_client(case: Case, address: str, netns: Optional[str] = None) -> tuple[Optional[str], bytes]:
    """Case.client on the host against ADDRESS (HOST:PORT), in the network
    namespace NETNS if given: (why it failed or None, its stdout)."""
    argv = [sys.executable, "-c", case.client, address]
    if netns:
        argv = ["nsenter", f"--net={netns}", *argv]
    try:
        r = subprocess.run(argv, capture_output=True, timeout=case.timeout)
    except subprocess.TimeoutExpired as e:
        return f"client: no exit after {case.timeout:.0f} s", e.stdout or b""
    if r.returncode != 0:
        return f"client: exit {_status(r.returncode)}: {_tail(r.stderr).strip()}", r.stdout
    return None, r.stdout


def _native_netns(pid: int, timeout: float = 10.0) -> str:
    """/proc/PID/ns/net once `unshare --net` (PID) has its own network namespace."""
    ours = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + timeout
    path = f"/proc/{pid}/ns/net"
    while os.readlink(path) == ours:
        if time.monotonic() > deadline:
            raise OSError(f"unshare (pid {pid}) made no network namespace in {timeout:.0f} s")
        time.sleep(0.01)
    return path


def run_native(case: Case, rootfs: str) -> Outcome:
    if shutil.which("unshare") is None:
        return Outcome("native", None, b"", b"", 0.0, "unshare(1) not found: install util-linux")
    stage = tempfile.mkdtemp(prefix="lxb-realworld-")
    r, w = os.pipe()
    argv = ["unshare", "--mount", "--pid", "--net", "--fork", sys.executable, NATIVE_HELPER,
            stage, rootfs, "/", json.dumps(ENV), str(w), "--", *case.argv]
    stdin, data = _stdin(case)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=(w,), start_new_session=True)
        os.close(w)
        w = -1
        client = None
        if case.client:
            pool = ThreadPoolExecutor(1, thread_name_prefix=f"client-{case.name}")
            client = pool.submit(lambda: run_client(case, f"127.0.0.1:{case.port}", _native_netns(proc.pid)))
            pool.shutdown(wait=False)
        try:
            out, err = proc.communicate(data, timeout=case.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return Outcome("native", None, out, err, time.monotonic() - start,
                           f"timeout: no exit after {case.timeout:.0f} s")
        seconds = time.monotonic() - start
        report = os.read(r, 64).decode().strip()
        if not report:
            return Outcome("native", None, out, err, seconds,
                           f"setup failed: native.py exited {proc.returncode} "
                           f"({_tail(err).strip().splitlines()[-1:] or ['no message']})")
        status = os.waitstatus_to_exitcode(int(report))
        if client is not None:
            try:
                why, client_out = client.result(timeout=case.timeout)
            except Exception as e:
                why, client_out = f"client: {type(e).__name__}: {e}", b""
            out += client_out
            if why:
                return Outcome("native", status, out, err, seconds, why)
        return Outcome("native", status, out, err, seconds)
    finally:
        if w >= 0:
            os.close(w)
        os.close(r)
        shutil.rmtree(stage, ignore_errors=True)   # its tmpfs went with the mount namespace


# A traced zone stops at every traced syscall, fork and exec: fork-heavy
# programs run 5 to 30 times slower, as under strace -f (CPython's
# test_leaking_fds_on_error: 1024 failed spawns).  The time budgets of a
# traced run grow by this factor; what the programs do must not change.
TRACE_SLOWDOWN = 5


def env_trace() -> Optional[str]:
    """LXB_TRACE=SET (`make realworld-traced`, `--trace`): every zone runs
    under `lxrun --trace=SET --stats --report` and must give the same result."""
    return os.environ.get("LXB_TRACE", "").strip() or None


class TraceWatch:
    """A traced zone's callback: counts what a check of the trace needs (the
    lines are also formatted, to /dev/null, so that a decoder bug fails the
    case: trace.Session.finish raises a callback's run's error)."""

    def __init__(self):
        self.syscalls = 0
        self.execs = 0
        self.exits: list = []          # (pid, exit_code, signal)

    def __call__(self, event: dict) -> None:
        if event["type"] == "syscall":
            self.syscalls += 1
            self.execs += event["syscall"] == "execve" and event["result"] == 0
        elif event["type"] == "exit":
            self.exits.append((event["pid"], event["exit_code"], event["signal"]))

    def check(self, status: Optional[int], stats: Optional[dict]) -> Optional[str]:
        """None when the trace agrees with the run (it ran the program, its
        exit is the run's, stats count what the trace saw), else why not."""
        if status is None:
            return None
        if not self.execs:
            return "traced zone: the trace shows no successful execve"
        want = (None, signal.Signals(-status).name) if status < 0 else (status, None)
        if not any((code, sig) == want for _, code, sig in self.exits):
            return f"traced zone: exit {_status(status)}, but the trace's last exits are {self.exits[-3:]}"
        counted = sum(s["calls"] for s in (stats or {}).values())
        if counted != self.syscalls:
            return f"traced zone: --stats counted {counted} calls, the trace {self.syscalls}"
        return None


def run_zone(case: Case, rootfs: str, trace: Optional[str] = None, slowdown: float = TRACE_SLOWDOWN) -> Outcome:
    """The zone's side; trace=SET (default LXB_TRACE) runs it traced, with
    its time budgets `slowdown` times the case's."""
    try:
        from lxbrand import Zone
    except ImportError as e:           # lxbrand's C extension being rebuilt
        return Outcome("zone", None, b"", b"", 0.0, f"import lxbrand failed: {e}")
    stdin, data = _stdin(case)
    trace = trace or env_trace()
    watch = TraceWatch() if trace else None
    observe = dict(trace_set=trace, trace=watch, trace_output=os.devnull, stats=True, report=True) if trace else {}
    env = {"TERM": "dumb"}
    timeout = case.timeout
    if trace:
        env["LXB_TEST_TIMEOUT"] = str(int(180 * slowdown))      # cases.stdlib's per-test budget
        timeout *= slowdown
    options = dict(case.zone or {})
    client = None
    start = time.monotonic()
    try:
        if case.client:
            host_port = free_port()
            options.update(net="private", publish=[f"127.0.0.1:{host_port}:{case.port}"])
        zone = Zone(rootfs, **{"ephemeral": True, "env": env, **options, **observe})
        if case.client:
            pool = ThreadPoolExecutor(1, thread_name_prefix=f"client-{case.name}")
            client = pool.submit(run_client, case, f"127.0.0.1:{host_port}")
            pool.shutdown(wait=False)
        kw = {"input": data} if data is not None else {"stdin": stdin}
        r = zone.run(list(case.argv), capture_output=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        return Outcome("zone", None, e.stdout or b"", e.stderr or b"", time.monotonic() - start,
                       f"timeout: no exit after {timeout:.0f} s")
    except Exception as e:             # a zone that fails to start is a failed case, not a crash
        return Outcome("zone", None, b"", b"", time.monotonic() - start,
                       f"zone failed: {type(e).__name__}: {e}")
    seconds = time.monotonic() - start
    out = r.stdout
    if client is not None:
        why, client_out = client.result(timeout=timeout)
        out += client_out
        if why:
            return Outcome("zone", r.returncode, out, r.stderr, seconds, why)
    if watch is not None:
        why = watch.check(r.returncode, r.stats)
        if why is not None:
            return Outcome("zone", r.returncode, out, r.stderr, seconds, why)
    return Outcome("zone", r.returncode, out, r.stderr, seconds)


def run_case(case: Case, rootfs: str, parallel: bool = True, trace: Optional[str] = None,
             slowdown: float = TRACE_SLOWDOWN) -> Result:
    """Both sides of `case`; trace=SET traces the zone's (default LXB_TRACE)."""
    before = {p: tree_digest(rootfs, p) for p in case.unchanged}
    if not parallel:
        native, zone = run_native(case, rootfs), run_zone(case, rootfs, trace, slowdown)
    else:
        with ThreadPoolExecutor(2, thread_name_prefix=f"realworld-{case.name}") as pool:
            native_f = pool.submit(run_native, case, rootfs)
            zone_f = pool.submit(run_zone, case, rootfs, trace, slowdown)
            native, zone = native_f.result(), zone_f.result()
    changed = tuple(p for p in case.unchanged if tree_digest(rootfs, p) != before[p])
    return Result(case, native, zone, changed)
