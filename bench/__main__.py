"""python3 -m bench: run the benchmarks and write RESULTS.md and results.json.

    python3 -m bench                           everything -> bench/RESULTS.md, bench/results.json
    python3 -m bench --quick                   fewer repetitions, smaller counts (< 5 minutes)
    python3 -m bench --only w1,w8 --runners native,lxrun
    python3 -m bench --only startup,memory     sections: startup memory density mech profile oci
    python3 -m bench --list

A full run with every workload, section and runner writes bench/RESULTS.md;
any other run (--quick, --only, --runners) writes bench/build/RESULTS.md, so
that a partial run never replaces the full one (--output DIR to choose).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import time

from . import BENCH_DIR, BUILD_DIR, BenchError, build, density, measure, oci, report, runners
from .workloads import WORKLOADS

SECTIONS = ("startup", "memory", "density", "mech", "profile", "oci")


class Plan:
    """Repetitions and sizes for a full or a quick run."""

    def __init__(self, quick: bool, reps: int | None):
        self.quick = quick
        self.reps = reps or (3 if quick else 9)
        self.startup_reps = 10 if quick else 30
        self.hyperfine_runs = 5 if quick else 20
        self.memory_reps = 1 if quick else 3
        self.mech_reps = 3 if quick else 5
        self.mech_n = 20_000 if quick else 100_000
        self.probe_reps = 3 if quick else 5
        self.perf_runs = 10 if quick else 30
        self.density_ns = [20] if quick else [20, 200]
        self.density_big = None if quick else 1000     # once: the 1000 idle zones


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _rootfs(root: str | None) -> str:
    if root:
        return os.path.abspath(root)
    # lxbrand's C extension may be being rebuilt by someone else: wait a little
    for attempt in range(12):
        try:
            import lxbrand.rootfs
            return lxbrand.rootfs.cached()
        except ImportError as e:
            _log(f"bench: import lxbrand failed ({e}); retrying in 5 s")
            time.sleep(5)
        except Exception as e:
            if type(e).__name__ == "LxbrandError" and attempt < 11:
                _log(f"bench: {e}; retrying in 5 s")
                time.sleep(5)
            else:
                raise
    raise BenchError("cannot import lxbrand; run: make build")


def _version(argv: list[str]) -> str:
    """The tool's name and version number, from its --version output."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "-"
    text = p.stdout + p.stderr
    m = re.search(r"\b\d+\.\d+(?:\.\d+)?\b", text)
    version = f"{os.path.basename(argv[0])} {m.group(0)}" if m else text.strip()[:60]
    acc = re.search(r"built-in accelerators: (.*)", text)     # proot: is seccomp used?
    return version + (f" ({acc.group(1).strip()})" if acc else "")


def machine() -> dict:
    cpu = "-"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except OSError:
        mem = 0
    u = os.uname()
    return {
        "nproc": f"{len(os.sched_getaffinity(0))} (of {os.cpu_count()})",
        "kernel": f"{u.release} {u.version}",
        "CPU": cpu,
        "memory": f"{mem} MB",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": f"{platform.python_version()} ({sys.executable})",
        "bwrap": _version(["bwrap", "--version"]) if shutil.which("bwrap") else "not installed",
        "proot": _version(["proot", "--version"]) if shutil.which("proot") else "not installed",
        "strace": _version(["strace", "-V"]) if shutil.which("strace") else "not installed",
        "hyperfine": _version(["hyperfine", "--version"]) if shutil.which("hyperfine") else "not installed",
        "gcc": _version(["gcc", "--version"]),
        "sched_autogroup_enabled": _read("/proc/sys/kernel/sched_autogroup_enabled"),
    }


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "-"


def findings(res: dict) -> list[str]:
    """Sentences on where lxrun's time and memory go, from this run's figures."""
    out = []
    st = res.get("startup", {})

    def med(label):
        c = st.get(label) or {}
        return c["wall_ns"]["median"] / 1e6 if c.get("wall_ns") else None

    def cpu(label):
        c = st.get(label) or {}
        if not c.get("user_ns") or not c.get("sys_ns"):
            return None
        return (c["user_ns"]["median"] + c["sys_ns"]["median"]) / 1e6
    lx, bw = med("lxrun"), med("bwrap")
    for what, f in (("wall time", med), ("CPU time (user + system, less sensitive to a busy machine)", cpu)):
        floor = [f(lb) for lb in measure.PYTHON_FLOOR]     # -S, site, imports + _exit, imports
        total = f("lxrun-py (the Python CLI)")
        if not total or not all(floor):
            continue
        bare, site, imp, imp_fin = floor
        out.append(f"`lxrun ROOT /bin/true`, {what}: {f('lxrun') or 0:.1f} ms with the C front door, "
                   f"{total:.0f} ms with the Python CLI (`lxrun-py`, what the front door hands over to; "
                   f"bwrap: {f('bwrap') or 0:.1f} ms). "
                   f"Layer by layer, the Python CLI (differences of the python3 rows of the start-up table): the bare "
                   f"interpreter (`python3 -S`) {bare:.0f} ms; site and its .pth hooks {site - bare:.0f} ms; "
                   f"importing lxrun's modules {imp - site:.0f} ms; the interpreter's finalization after "
                   f"those imports {imp_fin - imp:.0f} ms (what `os._exit` would save); lxrun's own work "
                   f"(compiling the brand, starting, supervising and waiting for the zone) "
                   f"{total - imp_fin:.0f} ms.")
    sh = med("lxrun (PATH: pyenv shim)")
    if sh and lx:
        out.append(f"`lxrun` as found on PATH is a pyenv bash shim: {sh:.0f} ms instead of {lx:.1f} ms; "
                   "the benchmark runs the installed front door directly.")
    prof = res.get("probe", {})
    ph = prof.get("phases_ms") or {}
    if ph:
        out.append("In-process phases (bench/probe.py): " + "; ".join(f"{k} {v:.1f} ms" for k, v in ph.items()) + ".")
    imp_t = prof.get("importtime_top") or {}
    for mod, kids in (imp_t.get("children") or {}).items():
        if kids:
            out.append(f"`{mod}` imports (-X importtime, cumulative ms): "
                       + ", ".join(f"{k} {us / 1e3:.1f}" for k, us in kids) + ".")
    mem = res.get("memory", {})
    m = lambda label: (mem.get(label) or {}).get("vmhwm_kb")  # noqa: E731
    lx_kb, floor_kb, imp_kb = m("lxrun"), m("python3 (floor)"), m("python3 + lxrun's imports")
    if lx_kb and floor_kb and imp_kb:
        out.append(f"lxrun's peak RSS is {lx_kb / 1024:.1f} MB: the interpreter alone "
                   f"{floor_kb / 1024:.1f} MB, with lxrun's imports {imp_kb / 1024:.1f} MB, so running "
                   f"the zone (threads, buffers) adds {(lx_kb - imp_kb) / 1024:.1f} MB.")
    wl = res.get("workloads", {})
    mech = res.get("mech", {}).get("modes", {})
    g = lambda d, k: (d.get(k) or {}).get("ns_per_call", {}) and d[k]["ns_per_call"]["median"]  # noqa: E731
    w8 = g(wl.get("w8", {}).get("runners", {}), "lxrun")
    npoll, nv = g(mech, "notif-value-poll"), g(mech, "notif-value")
    fl = wl.get("w8", {}).get("floor") or {}
    pr = fl.get("paired_ratio") or {}
    fm = lambda k: (fl.get(k) or {}).get("median")  # noqa: E731
    if w8 and fm("notif-value"):
        fv = fm("notif-value")
        text = (f"w8 (uname in the zone, answered in C) costs {w8:.0f} ns per call. Its floors, measured in "
                f"the same repetitions (mech.c, median ns; in brackets lxrun's w8 over each, the median of "
                f"per-repetition ratios): " + ", ".join(
                    f"{k} {fm(k):.0f} ({pr[k]['median']:.2f}x)" for k in
                    ("notif-value", "notif-uname", "notif-uname-brand", "notif-value-setsid", "notif-uname-zone")
                    if fm(k) and pr.get(k)) + ".")
        if fm("notif-uname"):
            text += (f" The C handler's own work (NOTIF_ID_VALID + process_vm_writev of the 390-byte utsname) "
                     f"is notif-uname - notif-value = {fm('notif-uname') - fv:.0f} ns")
            if fm("notif-uname-brand"):
                text += f"; lxbrand's filter adds {fm('notif-uname-brand') - fm('notif-uname'):.0f} ns"
            if fm("notif-value-setsid"):
                text += (f"; the guest's own session (setsid: a scheduling autogroup of its own) adds "
                         f"{fm('notif-value-setsid') - fv:.0f} ns")
            if fm("notif-uname-zone") and pr.get("notif-uname-zone"):
                text += (f"; all of these together with poll() before NOTIF_RECV (notif-uname-zone) come to "
                         f"{fm('notif-uname-zone'):.0f} ns, and w8 is {pr['notif-uname-zone']['median']:.2f}x that")
            text += "."
        out.append(text)
    if npoll and nv:
        out.append(f"Mechanisms section: poll() before each NOTIF_RECV, as lxbrand's loop does, costs "
                   f"{npoll - nv:.0f} ns per notification (notif-value-poll - notif-value)"
                   + (f"; without SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP the round trip takes "
                      f"{g(mech, 'notif-value-nosync'):.0f} ns against {nv:.0f}" if g(mech, "notif-value-nosync") else "")
                   + (f"; with the supervisor a thread of the guest's process, {g(mech, 'notif-value-thread'):.0f} ns"
                      if g(mech, "notif-value-thread") else "") + ".")
    if fl.get("notif-value-setsid") and fl.get("notif-value"):
        sv, ss = fl["notif-value"]["median"], fl["notif-value-setsid"]["median"]
        text = (f"A guest in a session of its own, as a zone's init makes it (setsid), pays {ss:.0f} ns per "
                f"notification against {sv:.0f} ns in its supervisor's session (mech notif-value-setsid vs "
                f"notif-value, same repetitions)")
        if res["meta"]["machine"].get("sched_autogroup_enabled") == "1":
            text += ("; with sched_autogroup_enabled=1 each session is its own scheduling group, so the "
                     "synchronous wake-up hands the CPU across groups, which costs most when the machine "
                     "is busy")
        if pr.get("notif-value-setsid"):
            text += f". w8 is {pr['notif-value-setsid']['median']:.2f}x notif-value-setsid (paired)"
        out.append(text + ".")
    w9 = g(wl.get("w9", {}).get("runners", {}), "lxrun")
    if w9 and w8:
        text = f"w9 (getppid answered by a Python handler) costs {w9:.0f} ns per call against w8's {w8:.0f} ns."
        base = npoll or nv
        if base:
            text += (f" Against the same round trip answered with a value in C (notif-value"
                     f"{'-poll' if npoll else ''}, {base:.0f} ns) the upcall to Python (cffi callback, "
                     f"the GIL, a Call with its namedtuple of arguments, the handler, the answer's checks) "
                     f"costs about {w9 - base:.0f} ns; w9 is not slower than w8 only because uname's C "
                     f"handler also writes guest memory.")
        out.append(text)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and smaller counts")
    ap.add_argument("--only", default="", metavar="ITEMS",
                    help="comma-separated workloads (w1..w9) and sections (" + ", ".join(SECTIONS) + ")")
    ap.add_argument("--runners", default=",".join(runners.ORDER), metavar="NAMES",
                    help="comma-separated runners, or `tracing` for lxrun --trace, --stats and --report "
                         "beside strace [default: %(default)s]")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per workload [9; --quick 3]")
    ap.add_argument("--root", default=None, help="the rootfs [default: lxbrand.rootfs.cached()]")
    ap.add_argument("--output", default=None, metavar="DIR",
                    help="where RESULTS.md and results.json go [bench/ for a full run, else bench/build/]")
    ap.add_argument("--list", action="store_true", help="list workloads, sections and runners")
    ap.add_argument("--render", metavar="JSON", default=None,
                    help="measure nothing: write RESULTS.md again from a results.json (beside it, or --output)")
    args = ap.parse_args(argv)

    if args.render:
        import json
        with open(args.render) as f:
            res = json.load(f)
        res["targets"] = report.targets(res)
        res["findings"] = findings(res)
        md, js = report.write(res, args.output or os.path.dirname(os.path.abspath(args.render)))
        _log(f"bench: wrote {md} and {js}")
        return 0

    if args.list:
        for w in WORKLOADS.values():
            print(f"{w.id}  {w.label(False)}   (--quick: {w.count(True)} {w.unit})")
        print("sections: " + " ".join(SECTIONS))
        print("runners: " + " ".join(runners.ORDER) + "   (also, on request: "
              + " ".join(n for n in runners.RUNNERS if n not in runners.ORDER) + ")")
        return 0

    items = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in items if x not in WORKLOADS and x not in SECTIONS]
    if bad:
        ap.error(f"--only: unknown {', '.join(bad)} (workloads: {' '.join(WORKLOADS)}; sections: {' '.join(SECTIONS)})")
    names = [x.strip() for x in args.runners.split(",") if x.strip()]
    if names == ["tracing"]:            # lxrun --trace/--stats/--report beside strace (issue 13)
        names = list(runners.TRACING)
    badr = [x for x in names if x not in runners.RUNNERS]
    if badr:
        ap.error(f"--runners: unknown {', '.join(badr)} (runners: {' '.join(runners.RUNNERS)})")
    wl_ids = [w for w in WORKLOADS if not items or w in items]
    sections = [s for s in SECTIONS if not items or s in items]
    full_run = not items and not args.quick and set(names) == set(runners.ORDER) and args.reps is None
    outdir = args.output or (BENCH_DIR if full_run else BUILD_DIR)
    plan = Plan(args.quick, args.reps)

    t_start = time.monotonic()
    try:
        root = _rootfs(args.root)
        programs = build.compile_all()
        build.install(root, programs)
    except BenchError as e:
        _log(f"bench: {e}")
        return 2
    rs, skipped = runners.make(names, root, programs)
    for name, why in skipped.items():
        _log(f"bench: runner {name} skipped: {why}")
    meta = {
        "command": "python3 -m bench" + (" " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else
                                        (" " + " ".join(argv) if argv else "")),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "reps": plan.reps,
        "machine": machine(),
        "root": root,
        "runners": [r.name for r in rs],
        "runner_templates": {r.name: r.template for r in rs},
        "skipped": skipped,
        "lxrun": runners.lxrun_path(),
    }
    res: dict = {"meta": meta}
    if "w9" in wl_ids and any(r.name == "lxrun" for r in rs):
        meta["runner_templates"]["lxrun (w9)"] = f"{sys.executable} bench/zone_driver.py --handler=getppid=4242 ROOT -- CMD"

    def save():
        res["targets"] = report.targets(res)
        res["findings"] = findings(res)
        meta["machine"]["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
        return report.write(res, outdir)

    if "mech" in sections or any(w in wl_ids for w in ("w8", "w9")):
        _log("bench: mechanisms (mech.c)")
        modes = [] if "mech" in sections else ["raw", "notif-value", "notif-uname"]
        res["mech"] = measure.run_mech(programs["mech"], plan.mech_n, plan.mech_reps, modes, _log)
        save()
    if wl_ids and rs:
        _log(f"bench: workloads {','.join(wl_ids)} x runners {','.join(r.name for r in rs)}, {plan.reps} reps")
        res["workloads"] = measure.run_workloads([WORKLOADS[w] for w in wl_ids], rs, plan.reps, args.quick, _log,
                                                 mech=programs["mech"])
        save()
    if "startup" in sections:
        _log("bench: zone start-up")
        cmds = measure.startup_commands(root, programs, [r.name for r in rs])
        res["startup"] = measure.run_startup(cmds, plan.startup_reps, _log, plan.hyperfine_runs)
        save()
    if "memory" in sections:
        _log("bench: memory")
        res["memory"] = measure.run_memory(measure.memory_commands(root, [r.name for r in rs]),
                                           plan.memory_reps, _log)
        save()
    if "density" in sections and any(r.name in ("lxrun", "bwrap") for r in rs):
        _log("bench: density (N idle sandboxes at once)")
        res["density"] = density.run_density(root, plan.density_ns, plan.density_big, _log)
        save()
    if "oci" in sections:
        _log("bench: OCI runtime under podman, against runc")
        res["oci"] = oci.run_oci(3 if args.quick else 10, _log, burst=32)
        save()
    if "profile" in sections and any(r.name == "lxrun" for r in rs):
        _log("bench: profile of lxrun's start-up")
        res["probe"] = measure.run_probe(root, plan.probe_reps, _log)
        save()
        if os.geteuid() == 0 and shutil.which("perf"):
            res["perf"] = measure.run_perf(root, plan.perf_runs, _log)
            save()
            res["perf_w8"] = measure.run_perf_w8(root, programs["mech"], measure.brand_filter_file(),
                                                 plan.mech_n, _log)
    md, js = save()
    _log(f"bench: wrote {md} and {js} in {meta['elapsed_s']:.0f} s")
    for t in res["targets"]:
        _log(f"  {t['verdict']:>12}  {t['target']}: {t.get('measured', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
