"""The timing loops: workloads, zone start-up, memory, and mech.c.

Commands are started with posix_spawn (no shell, no Python fork in between)
and reaped with wait4, so that a sample's wall time is the runner's, end to
end, and its CPU time (user + system) covers the runner and every process it
reaped.  stdout and stderr go to memfds, read after the run.

Runners are interleaved: in repetition k every runner runs once, in an order
rotated by k, so that noise from other work on the machine spreads over all
runners instead of landing on one.  Every (workload, runner) pair first runs
once unrecorded (page cache, dentries, Python's .pyc).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from . import BENCH_DIR, BUILD_DIR, runners as runners_mod
from .workloads import Workload, parse

Log = Callable[[str], None]


@dataclass
class Proc:
    returncode: int
    wall_ns: int
    user_ns: int
    sys_ns: int
    maxrss_kb: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False

    @property
    def cpu_ns(self) -> int:
        return self.user_ns + self.sys_ns


class Spawner:
    """Runs one command at a time, timed from spawn to reap."""

    def __init__(self, env: Optional[dict] = None):
        self.env = dict(env or runners_mod.ENV)
        self.out = os.memfd_create("lxbench-stdout", os.MFD_CLOEXEC)
        self.err = os.memfd_create("lxbench-stderr", os.MFD_CLOEXEC)
        self.null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def close(self) -> None:
        for fd in (self.out, self.err, self.null):
            os.close(fd)

    def _read(self, fd: int) -> bytes:
        size = os.fstat(fd).st_size
        return os.pread(fd, size, 0) if size else b""

    def spawn(self, argv: Sequence[str], env: Optional[dict] = None) -> int:
        for fd in (self.out, self.err):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        actions = [(os.POSIX_SPAWN_DUP2, self.null, 0), (os.POSIX_SPAWN_DUP2, self.out, 1),
                   (os.POSIX_SPAWN_DUP2, self.err, 2)]
        return os.posix_spawnp(argv[0], list(argv), env or self.env, file_actions=actions)

    def run(self, argv: Sequence[str], timeout: float = 600.0, env: Optional[dict] = None,
            while_running: Optional[Callable[[int], None]] = None) -> Proc:
        t0 = time.perf_counter_ns()
        pid = self.spawn(argv, env)
        killed = []

        def kill():
            killed.append(True)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            if while_running is not None:
                while_running(pid)
            _, status, ru = os.wait4(pid, 0)
            t1 = time.perf_counter_ns()
        finally:
            timer.cancel()
        return Proc(os.waitstatus_to_exitcode(status), t1 - t0, int(ru.ru_utime * 1e9),
                    int(ru.ru_stime * 1e9), ru.ru_maxrss, self._read(self.out), self._read(self.err),
                    bool(killed))


def median(xs):
    return statistics.median(xs) if xs else None


def summarize(values: list) -> Optional[dict]:
    if not values:
        return None
    s = sorted(values)
    q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0], s[0], s[0]]
    return {"median": statistics.median(s), "min": s[0], "max": s[-1], "q1": q[0], "q3": q[2],
            "n": len(s)}


# ---- workloads ----------------------------------------------------------

def run_one(sp: Spawner, w: Workload, r, quick: bool, timeout: float, warm: bool = False) -> dict:
    guest = w.guest_argv(quick, r.name)
    tmp = runners_mod.fresh_tmp() if r.needs_tmp() else None
    # an lxrun that was the C front door at the warm-up must be it throughout
    lxrun = not w.handlers and r.name.startswith("lxrun")
    if warm and lxrun:
        r.front_door = runners_mod.is_front_door(r)
    lxrun = lxrun and getattr(r, "front_door", False)
    front = lxrun and runners_mod.is_front_door(r)
    try:
        argv = r.driver_argv(guest, w.handlers) if w.handlers else r.argv(guest, tmp)
        p = sp.run(argv, timeout=timeout)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if p.timed_out:
        raise ValueError(f"timed out after {timeout:.0f} s")
    if not warm and lxrun and not (front and runners_mod.is_front_door(r)):
        # a build (pip's console script, then the front door again) ran meanwhile
        raise ValueError(f"{r.path} was not the C front door throughout (a build under way)")
    if not warm and runners_mod.HANDED_OVER in p.stderr:
        # lxrun's front door sent it to the Python CLI (a source edited or a
        # module rebuilt since `make build`, a cache miss): not lxrun's figure
        line = p.stderr[p.stderr.index(runners_mod.HANDED_OVER):].split(b"\n", 1)[0]
        raise ValueError(line.decode(errors="replace"))
    figures = parse(w, r.name, p.returncode, p.stdout, p.stderr)
    figures.update(wall_ns=p.wall_ns, cpu_ns=p.cpu_ns, user_ns=p.user_ns, sys_ns=p.sys_ns)
    return figures


def workload_command(w: Workload, r, quick: bool) -> str:
    guest = w.guest_argv(quick, r.name)
    argv = r.driver_argv(guest, w.handlers) if w.handlers else r.argv(guest, "HOSTTMP")
    return " ".join(_quote(a) for a in argv)


def _quote(a: str) -> str:
    import shlex
    return shlex.quote(a)


def run_workloads(workloads: Sequence[Workload], runners: list, reps: int, quick: bool, log: Log,
                  timeout: float = 600.0, mech: Optional[str] = None) -> dict:
    sp = Spawner()
    results = {}
    try:
        for w in workloads:
            rs = [r for r in runners if w.runners is None or r.name in w.runners]
            entry = {"title": w.label(quick), "count": w.count(quick), "unit": w.unit, "per_call": w.per_call,
                     "runners": {}}
            results[w.id] = entry
            for r in rs:
                entry["runners"][r.name] = {"command": workload_command(w, r, quick), "samples": [],
                                            "errors": []}
            live = []
            for r in rs:     # warm-up, unrecorded; a runner that fails here is out
                try:
                    run_one(sp, w, r, quick, timeout, warm=True)
                    live.append(r)
                except (ValueError, OSError) as e:
                    entry["runners"][r.name]["errors"].append(f"warm-up: {e}")
                    log(f"  {w.id} {r.name}: FAILED in warm-up: {e}")
            floor_argv = None
            if w.floor and mech and live:
                filt = brand_filter_file()
                modes = [m for m in w.floor if filt or "brand" not in m]
                floor_argv = [mech, "-n", str(w.count(quick))] + (["--filter", filt] if filt else []) + modes
                entry["floor"] = {"command": " ".join(floor_argv), "samples": []}
            for k in range(reps):
                order = live[k % len(live):] + live[:k % len(live)] if live else []
                for r in order:
                    try:
                        s = run_one(sp, w, r, quick, timeout)
                        s["rep"] = k
                        entry["runners"][r.name]["samples"].append(s)
                    except (ValueError, OSError) as e:
                        entry["runners"][r.name]["errors"].append(str(e))
                        log(f"  {w.id} {r.name}: rep {k + 1} failed: {e}")
                if floor_argv:      # the floor, measured in the same repetition
                    p = sp.run(floor_argv, timeout=timeout)
                    rec = {"rep": k}
                    for line in p.stdout.decode().splitlines():
                        d = json.loads(line)
                        if "ns_per_call" in d:
                            rec[d["mech"]] = d["ns_per_call"]
                    entry["floor"]["samples"].append(rec)
                log(f"  {w.id} rep {k + 1}/{reps}: " + ", ".join(
                    f"{r.name} {_last(entry, r.name, w)}" for r in live))
            for name, cell in entry["runners"].items():
                ss = cell["samples"]
                cell["wall_ns"] = summarize([s["wall_ns"] for s in ss])
                cell["guest_ns"] = summarize([s["guest_ns"] for s in ss])
                cell["cpu_ns"] = summarize([s["cpu_ns"] for s in ss])
                cell["guest_cpu_ns"] = summarize([s["guest_cpu_ns"] for s in ss if "guest_cpu_ns" in s])
                if w.per_call:
                    cell["ns_per_call"] = summarize([s["ns_per_call"] for s in ss])
                checks = sorted({str(s.get("check")) for s in ss})
                cell["check"] = checks[0] if len(checks) == 1 else checks
            _ratios(entry, w)
            if entry.get("floor"):
                fl = entry["floor"]
                for mode in w.floor:
                    fl[mode] = summarize([r[mode] for r in fl["samples"] if mode in r])
                # each repetition's lxrun sample over the floor measured right after it
                lx = {s["rep"]: s["ns_per_call"] for s in entry["runners"].get("lxrun", {}).get("samples", [])}
                fl["paired_ratio"] = {mode: summarize([lx[r["rep"]] / r[mode] for r in fl["samples"]
                                                       if mode in r and r["rep"] in lx])
                                      for mode in w.floor}
    finally:
        sp.close()
    return results


def _last(entry, name, w) -> str:
    ss = entry["runners"][name]["samples"]
    if not ss:
        return "-"
    s = ss[-1]
    if w.per_call:
        return f"{s['ns_per_call']:.0f} ns/call"
    return f"{s['wall_ns'] / 1e6:.1f} ms"


def _ratios(entry: dict, w: Workload) -> None:
    """ratio of each runner's median to native's, per metric."""
    cells = entry["runners"]
    native = cells.get("native")
    checks = {n: c["check"] for n, c in cells.items() if c["samples"] and n not in w.check_differs}
    entry["checks_agree"] = len({json.dumps(v) for v in checks.values()}) <= 1
    entry["checks"] = {n: c["check"] for n, c in cells.items()}
    for name, cell in cells.items():
        cell["ratio"], cell["ratio_best"] = {}, {}
        for metric in ("wall_ns", "guest_ns", "guest_cpu_ns", "cpu_ns", "ns_per_call"):
            mine, base = cell.get(metric), (native or {}).get(metric)
            if mine and base and base["median"]:
                cell["ratio"][metric] = mine["median"] / base["median"]
            # best of the repetitions: noise from other work on the machine only ever adds time
            if mine and base and base["min"]:
                cell["ratio_best"][metric] = mine["min"] / base["min"]


# ---- zone start-up --------------------------------------------------------

PYTHON_FLOOR = {
    "python3 -S -c pass": ["-S", "-c", "pass"],
    "python3 -c pass": ["-c", "pass"],
    "python3 -c 'import os, lxbrand.cli, lxbrand.zone; os._exit(0)'": [
        "-c", "import os, lxbrand.cli, lxbrand.zone; os._exit(0)"],
    "python3 -c 'import lxbrand.cli, lxbrand.zone'": ["-c", "import lxbrand.cli, lxbrand.zone"],
}


def startup_commands(root: str, programs: dict, runner_names: Sequence[str]) -> dict[str, list[str]]:
    """{label: argv} for `... /bin/true` under each runner, plus the Python floor."""
    cmds = {}
    if os.geteuid() == 0 and "native" in runner_names:
        cmds["native"] = ["chroot", root, "/bin/true"]
        cmds["native (nschroot)"] = [programs["nschroot"], root, "/bin/true"]
    if "bwrap" in runner_names and shutil.which("bwrap"):
        cmds["bwrap"] = ["bwrap", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev",
                         "--tmpfs", "/tmp", "/bin/true"]
        # with every namespace a zone has (user, mount, pid, uts, ipc, net, cgroup)
        cmds["bwrap --unshare-all"] = ["bwrap", "--unshare-all", "--bind", root, "/", "--proc", "/proc",
                                       "--dev", "/dev", "--tmpfs", "/tmp", "/bin/true"]
    if "proot" in runner_names and shutil.which("proot"):
        cmds["proot"] = ["proot", "-r", root, "/bin/true"]
    lx = runners_mod.lxrun_path()
    if "lxrun" in runner_names and lx:
        cmds["lxrun"] = [lx, root, "/bin/true"]
        # the Python CLI, which the C front door hands over to
        py_cli = os.path.join(os.path.dirname(lx), "lxrun-py")
        if os.access(py_cli, os.X_OK):
            cmds["lxrun-py (the Python CLI)"] = [py_cli, root, "/bin/true"]
        # `python3 -m bench` run through pyenv has the version's bin first on
        # PATH: look for the shim a user's shell finds
        on_path = next((p for p in [os.path.join(d, "lxrun") for d in os.environ.get("PATH", "").split(":")]
                        + [os.path.expanduser("~/.pyenv/shims/lxrun")] if runners_mod.is_shim(p)), None)
        if on_path and on_path != lx:
            cmds["lxrun (PATH: pyenv shim)"] = [on_path, root, "/bin/true"]
        # the floor under lxrun, layer by layer: the bare interpreter, site
        # (its .pth hooks), lxrun's imports, and the interpreter's
        # finalization after them (os._exit skips it)
        for label in PYTHON_FLOOR:
            cmds[label] = [sys.executable, *PYTHON_FLOOR[label]]
    return cmds


def run_startup(cmds: dict[str, list[str]], reps: int, log: Log, hyperfine_runs: int = 0) -> dict:
    sp = Spawner(env=dict(os.environ))
    out = {label: {"command": " ".join(_quote(a) for a in argv), "samples": []}
           for label, argv in cmds.items()}
    labels = list(cmds)
    try:
        for label in labels:        # warm-up
            p = sp.run(cmds[label], timeout=60)
            if p.returncode != 0:
                out[label]["error"] = f"exit status {p.returncode}: {p.stderr.decode(errors='replace')[-300:]}"
        live = [lb for lb in labels if "error" not in out[lb]]
        for k in range(reps):
            order = live[k % len(live):] + live[:k % len(live)]
            for label in order:
                p = sp.run(cmds[label], timeout=60)
                if p.returncode == 0:
                    out[label]["samples"].append({"wall_ns": p.wall_ns, "user_ns": p.user_ns,
                                                  "sys_ns": p.sys_ns})
        log("  start-up: " + ", ".join(
            f"{lb} {median([s['wall_ns'] for s in out[lb]['samples']]) / 1e6:.1f} ms"
            for lb in live if out[lb]["samples"]))
    finally:
        sp.close()
    for label, cell in out.items():
        ss = cell["samples"]
        cell["wall_ns"] = summarize([s["wall_ns"] for s in ss])
        cell["user_ns"] = summarize([s["user_ns"] for s in ss])
        cell["sys_ns"] = summarize([s["sys_ns"] for s in ss])
    if hyperfine_runs and shutil.which("hyperfine"):
        out_json = os.path.join(BUILD_DIR, "startup-hyperfine.json")
        main = [lb for lb in ("native", "bwrap", "proot", "lxrun") if lb in cmds and "error" not in out[lb]]
        cmd = ["hyperfine", "-N", "--warmup", "3", "--runs", str(hyperfine_runs), "--export-json", out_json,
               "--style", "none"]
        for lb in main:
            cmd += ["-n", lb, " ".join(_quote(a) for a in cmds[lb])]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            with open(out_json) as f:
                hf = json.load(f)
            for res in hf["results"]:
                out[res["command"]]["hyperfine"] = {"median_ns": res["median"] * 1e9,
                                                    "mean_ns": res["mean"] * 1e9,
                                                    "stddev_ns": (res.get("stddev") or 0) * 1e9}
            out["_hyperfine_command"] = " ".join(_quote(a) for a in cmd)
            log("  hyperfine: " + ", ".join(f"{r['command']} {r['median'] * 1e3:.1f} ms" for r in hf["results"]))
        else:
            out["_hyperfine_error"] = proc.stderr[-500:]
    return out


# ---- memory ---------------------------------------------------------------

def _status(pid: int) -> dict:
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
                    vals[k] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return vals


def _smaps(pid: int) -> list[tuple[str, int]]:
    """Rss (kB) per mapped file (or [heap], [anon]...), largest first."""
    per: dict[str, int] = {}
    name = None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
                    name = parts[5] if len(parts) >= 6 else "[anon]"
                elif parts[0] == "Rss:" and name is not None:
                    per[name] = per.get(name, 0) + int(parts[1])
    except OSError:
        return []
    return sorted(per.items(), key=lambda kv: -kv[1])


def _pss_kb(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def peak_rss(argv: Sequence[str], with_smaps: bool = False) -> dict:
    """Peak RSS of the process started by argv (not its children), sampled from /proc.

    With with_smaps (lxrun), also its largest mappings and, half a second in, the
    RSS and PSS of its first child (a zone's init) and of lxrun itself."""
    sp = Spawner(env=dict(os.environ))
    peak: dict = {}
    maps: list = []
    extra: dict = {}

    def watch(pid: int) -> None:
        t0 = time.monotonic()
        while True:
            st = _status(pid)
            if not st or os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            if st.get("VmHWM", 0) >= peak.get("VmHWM", 0):
                peak.update(st)
            if with_smaps and not maps and time.monotonic() - t0 > 0.5:
                maps.extend(_smaps(pid)[:12])
                extra["self_pss_kb"] = _pss_kb(pid)
                kids = _children(pid)
                if kids:
                    kst = _status(kids[0])
                    extra["child_rss_kb"] = kst.get("VmRSS")
                    extra["child_pss_kb"] = _pss_kb(kids[0])
                    try:
                        with open(f"/proc/{kids[0]}/comm") as f:
                            extra["child_comm"] = f.read().strip()
                    except OSError:
                        pass
            time.sleep(0.01)
    try:
        p = sp.run(argv, timeout=60, while_running=watch)
    finally:
        sp.close()
    return {"command": " ".join(_quote(a) for a in argv), "returncode": p.returncode,
            "vmhwm_kb": peak.get("VmHWM"), "rss_anon_kb": peak.get("RssAnon"),
            "rss_file_kb": peak.get("RssFile"), "threads": peak.get("Threads"),
            # wait4's maxrss is not reported: posix_spawn's vfork-like clone runs the
            # child on our (the harness's) address space until exec, and exec
            # records that address space's peak as the child's
            "top_mappings_kb": maps, **extra}


def memory_commands(root: str, runner_names: Sequence[str]) -> dict[str, list[str]]:
    cmds = {}
    lx = runners_mod.lxrun_path()
    if "lxrun" in runner_names and lx:
        cmds["lxrun"] = [lx, root, "/bin/sleep", "1"]
    if "bwrap" in runner_names and shutil.which("bwrap"):
        cmds["bwrap"] = ["bwrap", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev",
                         "--tmpfs", "/tmp", "/bin/sleep", "1"]
    if "proot" in runner_names and shutil.which("proot"):
        cmds["proot"] = ["proot", "-r", root, "/bin/sleep", "1"]
    if "lxrun" in runner_names and lx:
        cmds["python3 (floor)"] = [sys.executable, "-c", "import time; time.sleep(1)"]
        cmds["python3 + lxrun's imports"] = [
            sys.executable, "-c", "import lxbrand.cli, lxbrand.zone, time; time.sleep(1)"]
    return cmds


def run_memory(cmds: dict[str, list[str]], reps: int, log: Log) -> dict:
    out = {}
    for label, argv in cmds.items():
        runs = [peak_rss(argv, with_smaps=(label == "lxrun" and k == 0)) for k in range(reps)]
        ok = [r for r in runs if r["returncode"] == 0 and r["vmhwm_kb"]]
        cell = {"command": runs[0]["command"], "runs": runs}
        if ok:
            cell["vmhwm_kb"] = median([r["vmhwm_kb"] for r in ok])
            cell["rss_anon_kb"] = median([r["rss_anon_kb"] or 0 for r in ok])
            cell["rss_file_kb"] = median([r["rss_file_kb"] or 0 for r in ok])
            cell["top_mappings_kb"] = runs[0]["top_mappings_kb"]
            for k in ("self_pss_kb", "child_rss_kb", "child_pss_kb", "child_comm"):
                if runs[0].get(k) is not None:
                    cell[k] = runs[0][k]
        else:
            cell["error"] = f"exit status {runs[0]['returncode']}"
        out[label] = cell
    log("  memory (VmHWM): " + ", ".join(f"{lb} {c.get('vmhwm_kb', 0) / 1024:.1f} MB" for lb, c in out.items()))
    return out


# ---- mech.c ---------------------------------------------------------------

def brand_filter_file() -> Optional[str]:
    """lxbrand's own seccomp filter, as w8's zone gets it (--kernel-release, the
    host's: uname notified), for mech's notif-uname-brand and notif-uname-zone."""
    try:
        from lxbrand.brand import Brand
        bpf = Brand(kernel_release=os.uname().release).bpf()
    except Exception:   # lxbrand being rebuilt: that one row is skipped
        return None
    path = os.path.join(BUILD_DIR, "brand.bpf")
    with open(path, "wb") as f:
        f.write(bpf)
    return path


def run_mech(mech: str, n: int, reps: int, modes: Sequence[str], log: Log) -> dict:
    filt = brand_filter_file()
    argv = [mech, "-n", str(n)] + (["--filter", filt] if filt else []) + list(modes)
    out: dict = {"command": " ".join(argv), "modes": {}}
    sp = Spawner(env=dict(os.environ))
    try:
        for k in range(reps):
            p = sp.run(argv, timeout=900)
            for line in p.stdout.decode().splitlines():
                rec = json.loads(line)
                cell = out["modes"].setdefault(rec["mech"], {"samples": []})
                if "error" in rec:
                    cell["error"] = rec["error"]
                else:
                    cell["samples"].append(rec["ns_per_call"])
            log(f"  mech rep {k + 1}/{reps}: " + ", ".join(
                f"{m} {c['samples'][-1]:.0f}" for m, c in out["modes"].items() if c["samples"]))
    finally:
        sp.close()
    for cell in out["modes"].values():
        cell["ns_per_call"] = summarize(cell["samples"])
    return out


# ---- where lxrun's start-up goes -------------------------------------------

def run_probe(root: str, reps: int, log: Log) -> dict:
    """bench/probe.py: lxrun's start-up phase by phase, -X importtime, cProfile."""
    probe = os.path.join(BENCH_DIR, "probe.py")
    phases: dict[str, list] = {}
    importtime = None
    for k in range(reps):
        argv = [sys.executable, "-X", "importtime", probe, root] if k == 0 else [sys.executable, probe, root]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            return {"error": p.stderr[-500:]}
        rec = json.loads(p.stdout.strip().splitlines()[-1])
        for name, ms in rec["phases_ms"].items():
            phases.setdefault(name, []).append(ms)
        if k == 0:
            importtime = _importtime(p.stderr)
    out = {"command": f"{sys.executable} bench/probe.py ROOT",
           "phases_ms": {name: median(v) for name, v in phases.items()},
           "importtime_top": importtime}
    lx = runners_mod.lxrun_path()
    if lx:
        prof = os.path.join(BUILD_DIR, "lxrun.cprofile")
        subprocess.run([sys.executable, "-m", "cProfile", "-o", prof, lx, root, "/bin/true"],
                       capture_output=True, timeout=60)
        out["cprofile_top"] = _cprofile_top(prof)
        out["cprofile_command"] = f"{sys.executable} -m cProfile -o {prof} {lx} ROOT /bin/true"
    log("  probe: " + ", ".join(f"{k} {v:.1f} ms" for k, v in out["phases_ms"].items()))
    return out


def _importtime(stderr: str, top: int = 15) -> list:
    """-X importtime's lines, the modules with the largest cumulative time first.

    Only top-level imports (those at the shallowest nesting) are summed into
    the total, so the total is the whole import time."""
    rows = []
    pending: list = []      # depth-1 imports seen since the last top-level one
    children = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cum_us, raw = line[len("import time:"):].split("|", 2)
        depth = (len(raw) - len(raw.lstrip()) - 1) // 2
        row = {"module": raw.strip(), "self_us": int(self_us), "cumulative_us": int(cum_us), "depth": depth}
        rows.append(row)
        # importtime prints a module after the ones it imported
        if depth == 1:
            pending.append(row)
        elif depth == 0:
            children[row["module"]] = sorted(pending, key=lambda r: -r["cumulative_us"])[:5]
            pending = []
    rows.sort(key=lambda r: -r["cumulative_us"])
    total = sum(r["cumulative_us"] for r in rows if r["depth"] == 0)
    return {"total_us": total, "top": rows[:top],
            "children": {m: [(c["module"], c["cumulative_us"]) for c in cs] for m, cs in children.items()
                         if m in ("site", "lxbrand", "click", "lxbrand.cli")}}


def _short(path: str) -> str:
    from . import REPO_DIR
    if path.startswith(REPO_DIR + "/"):
        return os.path.relpath(path, REPO_DIR)
    i = path.find("/lib/python3")
    return path[i + 5:] if i >= 0 else path


def _cprofile_top(path: str, top: int = 15) -> list:
    import pstats
    try:
        st = pstats.Stats(path)
    except (OSError, TypeError, ValueError):
        return []
    rows = []
    for (fname, line, func), (cc, nc, tt, ct, callers) in st.stats.items():
        rows.append({"function": f"{_short(fname)}:{line}({func})",
                     "calls": nc, "tottime_ms": tt * 1e3, "cumtime_ms": ct * 1e3})
    rows.sort(key=lambda r: -r["tottime_ms"])
    return rows[:top]


def run_perf(root: str, n: int, log: Log) -> dict:
    """perf record over n runs of `lxrun ROOT /bin/true`: samples by command and DSO."""
    lx = runners_mod.lxrun_path()
    if not shutil.which("perf") or not lx:
        return {"error": "perf or lxrun missing"}
    data = os.path.join(BUILD_DIR, "perf-lxrun.data")
    loop = f"for i in $(seq {n}); do {lx} {root} /bin/true; done"
    rec = subprocess.run(["perf", "record", "-q", "-F", "4999", "-g", "-o", data, "--", "sh", "-c", loop],
                         capture_output=True, text=True, timeout=300)
    if rec.returncode != 0:
        return {"error": rec.stderr[-500:]}
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso",
                          "-g", "none", "--percent-limit", "1"], capture_output=True, text=True, timeout=300)
    rows = []
    for line in rep.stdout.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "%" in line:
            pct, _, dso = line.partition("%")
            try:
                rows.append({"percent": float(pct), "dso": dso.strip()})
            except ValueError:
                pass
    sym = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,sym",
                          "-g", "none", "--percent-limit", "1.5"], capture_output=True, text=True, timeout=300)
    syms = []
    for line in sym.stdout.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "%" in line:
            pct, _, rest = line.partition("%")
            try:
                syms.append({"percent": float(pct), "where": " ".join(rest.split())})
            except ValueError:
                pass
    log("  perf: " + ", ".join(f"{r['dso']} {r['percent']:.0f}%" for r in rows[:6]))
    return {"command": f"perf record -F 4999 -g -o {data} -- sh -c '{loop}'", "by_dso": rows,
            "by_symbol": syms[:25]}


def run_perf_w8(root: str, mech: str, filt: Optional[str], n: int, log: Log) -> dict:
    """w8 in a zone against mech's notif-uname-brand, under perf stat and perf record:
    CPU, context switches and migrations per call, and where the supervisor's time goes."""
    from .workloads import SYSLOOP
    lx = runners_mod.lxrun_path()
    if not shutil.which("perf") or not lx:
        return {"error": "perf or lxrun missing"}
    cases = {"w8 in lxrun": [lx, root, SYSLOOP, "uname", str(n)]}
    if filt:
        cases["mech notif-uname-brand"] = [mech, "-n", str(n), "--filter", filt, "notif-uname-brand"]
    cases["mech notif-uname"] = [mech, "-n", str(n), "notif-uname"]
    out: dict = {"n": n, "cases": {}}
    for label, argv in cases.items():
        p = subprocess.run(["perf", "stat", "-x", ",", "-e", "task-clock,context-switches,cpu-migrations",
                            "--", *argv], capture_output=True, text=True, timeout=600)
        stat = {}
        for line in p.stderr.splitlines():
            f = line.split(",")
            if len(f) >= 3 and f[2] in ("task-clock", "context-switches", "cpu-migrations"):
                try:
                    stat[f[2]] = float(f[0])
                except ValueError:
                    pass
        loop_ns = None
        for line in p.stdout.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            loop_ns = rec.get("ns")
        case = {"command": " ".join(_quote(a) for a in argv),
                "ns_per_call": loop_ns / n if loop_ns else None,
                "cpu_ns_per_call": stat.get("task-clock", 0) * 1e6 / n if stat else None,
                "switches_per_call": stat.get("context-switches", 0) / n if stat else None,
                "migrations": stat.get("cpu-migrations")}
        data = os.path.join(BUILD_DIR, f"perf-{label.replace(' ', '-')}.data")
        rec = subprocess.run(["perf", "record", "-q", "-F", "4999", "-o", data, "--", *argv],
                             capture_output=True, text=True, timeout=600)
        if rec.returncode == 0:
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort",
                                  "pid,sym", "-n", "-g", "none", "--percent-limit", "0.8"],
                                 capture_output=True, text=True, timeout=300)
            rows = []
            for line in rep.stdout.splitlines():
                line = line.strip()
                if not line or line.startswith("#") or "%" not in line:
                    continue
                parts = line.split(None, 2)
                if len(parts) == 3:
                    rows.append({"percent": float(parts[0].rstrip("%")), "samples": int(parts[1]),
                                 "where": " ".join(parts[2].split())})
            case["top"] = rows[:14]
            case["perf_command"] = f"perf record -F 4999 -o {data} -- {case['command']}"
        out["cases"][label] = case
    log("  perf w8: " + ", ".join(f"{k} {c['ns_per_call'] or 0:.0f} ns/call, "
                                   f"{c['switches_per_call'] or 0:.2f} switches/call"
                                   for k, c in out["cases"].items()))
    return out
