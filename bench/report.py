"""RESULTS.md and results.json from one run's results.

results.json holds every sample; RESULTS.md holds medians and ratios to
native, the issue's targets with their verdicts, the machine, the date and
the exact commands.
"""
from __future__ import annotations

import json
import os
from typing import Optional

TARGETS_DOC = {
    "w1-w7": "zone within 1.05x of native (median)",
    "w8": "per-call cost within 1.5x of the raw user-notification round trip (mech notif-value, same run)",
    "w9": "per-call cost within 3x of w8's",
    "startup-bwrap": "`lxrun ROOT /bin/true` within 2x of bwrap's (median)",
    "startup-15ms": "`lxrun ROOT /bin/true` under 15 ms (median)",
    "rss": "lxrun's own peak RSS under 30 MB",
    "density": "an idle zone's PSS (lxrun + init + guest) at most 1.5x an idle bwrap sandbox's (N=200)",
    "density-1000": "1000 idle zones at once, started and stopped cleanly",
}

MECH_DOC = {
    "raw": "getppid(), no filter",
    "seccomp-allow": "getppid() under a one-instruction RET_ALLOW filter",
    "seccomp-brand": "getppid() under lxbrand's own filter (pass-through: the kernel's action cache skips the filter)",
    "seccomp-brand-deny": "bpf(-1, NULL, 0) under lxbrand's filter, which answers EPERM: the whole filter runs",
    "notif-continue": "user notification, supervisor process, answered CONTINUE",
    "notif-value": "user notification, supervisor process, answered with a value",
    "notif-addfd": "user notification answered by ADDFD|SEND (+ the guest's close)",
    "notif-uname": "uname() notified, answered as the brand's C handler does (ID_VALID, process_vm_writev, value)",
    "notif-value-poll": "notif-value with poll() before each NOTIF_RECV (lxbrand's loop)",
    "notif-value-nosync": "notif-value without SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP",
    "notif-value-thread": "notif-value, supervisor a thread of the guest's process",
    "notif-value-samecpu": "notif-value, guest and supervisor pinned to CPU 0",
    "notif-uname-brand": "notif-uname under lxbrand's own filter: w8's floor",
    "notif-value-setsid": "notif-value, the guest in a session of its own (setsid, as a zone's init does): another autogroup",
    "notif-uname-zone": "notif-uname as lxbrand does it all: its filter, poll() before NOTIF_RECV, the guest in its own session",
    "ptrace-sysemu": "PTRACE_SYSEMU stop, answered by setting rax",
    "ptrace-syscall": "PTRACE_SYSCALL stops at entry and exit",
}


def _ms(ns: Optional[float]) -> str:
    if ns is None:
        return "-"
    ms = ns / 1e6
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 1 else f"{ms:.2f}"


def _x(r: Optional[float]) -> str:
    return "" if r is None else f" ({r:.2f}x)"


def _med(cell: Optional[dict], metric: str) -> Optional[float]:
    if not cell or not cell.get(metric):
        return None
    return cell[metric]["median"]


# ---- targets ----------------------------------------------------------------

def targets(res: dict) -> list[dict]:
    out = []
    wl = res.get("workloads", {})
    for wid in ("w1", "w2", "w3", "w4", "w5", "w6", "w7"):
        cell = wl.get(wid, {}).get("runners", {}).get("lxrun")
        if not cell or "native" not in wl[wid]["runners"] or not cell.get("ratio", {}).get("wall_ns"):
            out.append({"target": f"{wid}: {TARGETS_DOC['w1-w7']}", "verdict": "not measured"})
            continue
        e2e, guest = cell["ratio"]["wall_ns"], cell["ratio"].get("guest_ns")
        gcpu = cell["ratio"].get("guest_cpu_ns")
        verdict = ("met" if e2e <= 1.05 else "MISSED") + " end to end"
        note = ""
        if guest is not None:
            note = f"; inside the guest: wall {'met' if guest <= 1.05 else 'missed'}"
            if gcpu is not None:
                note += f", CPU {'met' if gcpu <= 1.05 else 'missed'}"
        best = cell.get("ratio_best", {})
        out.append({"target": f"{wid}: {TARGETS_DOC['w1-w7']}", "measured":
                    f"end to end {e2e:.2f}x ({_ms(_med(cell, 'wall_ns'))} vs "
                    f"{_ms(_med(wl[wid]['runners']['native'], 'wall_ns'))} ms); inside the guest "
                    + (f"{guest:.2f}x" if guest else "-")
                    + (f", its CPU time {gcpu:.2f}x" if gcpu else "")
                    + (f" (best of the repetitions: {best['wall_ns']:.2f}x, {best.get('guest_ns', 0):.2f}x)"
                       if best.get("wall_ns") else ""),
                    "value": e2e, "guest_value": guest, "guest_cpu_value": gcpu, "verdict": verdict + note})
    w8 = _med(wl.get("w8", {}).get("runners", {}).get("lxrun"), "ns_per_call")
    fl = wl.get("w8", {}).get("floor") or {}
    paired = (fl.get("paired_ratio") or {}).get("notif-value")
    if w8 and paired:
        # the floor measured in every repetition right after the runners: the
        # ratio of each pair, then the median, so that load drifting over the
        # run cancels out
        r = paired["median"]
        extra = []
        for mode in ("notif-uname", "notif-uname-brand", "notif-uname-zone"):
            pr = (fl.get("paired_ratio") or {}).get(mode)
            if pr:
                extra.append(f"{pr['median']:.2f}x {mode}")
        out.append({"target": f"w8: {TARGETS_DOC['w8']}", "measured":
                    f"{w8:.0f} ns/call vs notif-value {fl['notif-value']['median']:.0f} ns/call: {r:.2f}x "
                    f"(median of per-repetition ratios; against the same work as the C handler: "
                    + ", ".join(extra) + ")",
                    "value": r, "verdict": "met" if r <= 1.5 else "MISSED"})
    else:
        mech = res.get("mech", {}).get("modes", {})
        floor = _med(mech.get("notif-value"), "ns_per_call")
        uname_floor = _med(mech.get("notif-uname"), "ns_per_call")
        if w8 and floor:
            r = w8 / floor
            out.append({"target": f"w8: {TARGETS_DOC['w8']}", "measured":
                        f"{w8:.0f} ns/call vs {floor:.0f} ns/call: {r:.2f}x"
                        + (f" (vs notif-uname, the same work as the C handler: {w8 / uname_floor:.2f}x)"
                           if uname_floor else ""),
                        "value": r, "verdict": "met" if r <= 1.5 else "MISSED"})
        else:
            out.append({"target": f"w8: {TARGETS_DOC['w8']}", "verdict": "not measured"})
    w9 = _med(wl.get("w9", {}).get("runners", {}).get("lxrun"), "ns_per_call")
    if w9 and w8:
        r = w9 / w8
        out.append({"target": f"w9: {TARGETS_DOC['w9']}", "measured":
                    f"{w9:.0f} vs {w8:.0f} ns/call: {r:.2f}x", "value": r,
                    "verdict": "met" if r <= 3 else "MISSED"})
    else:
        out.append({"target": f"w9: {TARGETS_DOC['w9']}", "verdict": "not measured"})
    st = res.get("startup", {})
    lx, bw = _med(st.get("lxrun"), "wall_ns"), _med(st.get("bwrap"), "wall_ns")
    if lx and bw:
        r = lx / bw
        out.append({"target": TARGETS_DOC["startup-bwrap"], "measured":
                    f"{_ms(lx)} vs {_ms(bw)} ms: {r:.1f}x", "value": r,
                    "verdict": "met" if r <= 2 else "MISSED"})
    else:
        out.append({"target": TARGETS_DOC["startup-bwrap"], "verdict": "not measured"})
    if lx:
        out.append({"target": TARGETS_DOC["startup-15ms"], "measured": f"{_ms(lx)} ms", "value": lx / 1e6,
                    "verdict": "met" if lx < 15e6 else "MISSED"})
    else:
        out.append({"target": TARGETS_DOC["startup-15ms"], "verdict": "not measured"})
    dens = res.get("density", {})
    runs = dens.get("runs", {})
    n = "200" if "200" in runs else (max(runs, key=int) if runs else None)
    cell = runs.get(n, {}) if n else {}
    if cell.get("lxrun", {}).get("pss_kb") and cell.get("bwrap", {}).get("pss_kb"):
        r = cell["lxrun"]["pss_kb"] / cell["bwrap"]["pss_kb"]
        out.append({"target": TARGETS_DOC["density"], "measured":
                    f"N={n}: {cell['lxrun']['pss_per_sandbox_kb']:.0f} vs "
                    f"{cell['bwrap']['pss_per_sandbox_kb']:.0f} kB per sandbox: {r:.2f}x", "value": r,
                    "verdict": "met" if r <= 1.5 else "MISSED"})
    else:
        out.append({"target": TARGETS_DOC["density"], "verdict": "not measured"})
    big = dens.get("big", {}).get("lxrun")
    if big and big.get("pss_kb"):
        ok = big.get("left_over_processes") == 0
        out.append({"target": TARGETS_DOC["density-1000"], "measured":
                    f"{big['n']} started in {big['start_all_s']:.1f} s, PSS {big['pss_kb'] / 1024:.0f} MB, "
                    f"MemAvailable -{big['mem_available_drop_kb'] / 1024:.0f} MB, stopped in "
                    f"{big['stop_all_s']:.1f} s, {big.get('left_over_processes')} left over",
                    "verdict": "met" if ok else "MISSED"})
    else:
        out.append({"target": TARGETS_DOC["density-1000"], "verdict": "not measured"})
    if "oci" in res:
        from . import oci
        out += oci.targets(res["oci"])
    mem = res.get("memory", {}).get("lxrun", {})
    if mem.get("vmhwm_kb"):
        mb = mem["vmhwm_kb"] / 1024
        out.append({"target": TARGETS_DOC["rss"], "measured": f"VmHWM {mb:.1f} MB", "value": mb,
                    "verdict": "met" if mb < 30 else "MISSED"})
    else:
        out.append({"target": TARGETS_DOC["rss"], "verdict": "not measured"})
    return out


# ---- markdown ---------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def markdown(res: dict) -> str:
    meta = res["meta"]
    L = ["# lxbrand benchmarks", "",
         f"Written by `{meta['command']}` on {meta['date']} ({meta['mode']}: "
         f"{meta['reps']} repetitions of each workload, runners interleaved round-robin; "
         f"medians). Times in ms unless marked; `(1.23x)` is the ratio to native.", ""]
    L += ["## Machine", ""]
    L += _table(["", ""], [[k, f"{v}"] for k, v in meta["machine"].items()])
    L.append("")

    L += ["## Targets (issue 6)", ""]
    L += _table(["target", "measured", "verdict"],
                [[t["target"], t.get("measured", "-"), f"**{t['verdict']}**" if "MISSED" in t["verdict"]
                  else t["verdict"]] for t in res.get("targets", [])])
    L.append("")

    wl = res.get("workloads", {})
    if wl:
        names = res["meta"]["runners"]
        long = [w for w in wl if not wl[w]["per_call"]]
        if long:
            for title, metric, what in (
                    ("Workloads, end to end", "wall_ns",
                     "Host wall time from spawning the runner to reaping it: the runner's start-up and "
                     "tear-down included."),
                    ("Workloads, inside the guest", "guest_ns",
                     "The command's own time measured inside the guest by `timeit` (fork, exec, wait): "
                     "the runner's start-up excluded."),
                    ("Workloads, CPU time inside the guest", "guest_cpu_ns",
                     "User + system CPU of the command and the processes it reaped, from `timeit`'s wait4: "
                     "unlike wall time, not inflated by waiting for a CPU that other work on the machine "
                     "holds."),
                    ("Workloads, CPU time end to end", "cpu_ns",
                     "User + system CPU of the runner and every process it reaped (wait4), end to end.")):
                L += [f"## {title}", "", what, ""]
                rows = []
                for wid in long:
                    e = wl[wid]
                    row = [f"{wid} {e['title']}"]
                    for n in names:
                        c = e["runners"].get(n)
                        if c is None:
                            row.append("")
                        elif not c.get(metric):
                            row.append("error" if c["errors"] else "-")
                        else:
                            row.append(_ms(c[metric]["median"]) + (_x(c["ratio"].get(metric)) if n != "native" else ""))
                    rows.append(row)
                L += _table(["workload"] + names, rows)
                L.append("")
        per = [w for w in wl if wl[w]["per_call"]]
        if per:
            L += ["## w8, w9: per call, timed by the guest's own loop", "",
                  "ns per call (median); the zone's start-up is excluded. w9's lxrun column runs "
                  "`bench/zone_driver.py`, a Zone with a Python getppid handler; elsewhere getppid "
                  "runs in the kernel.", ""]
            rows = []
            for wid in per:
                e = wl[wid]
                row = [f"{wid} {e['title']}"]
                for n in names:
                    c = e["runners"].get(n)
                    if c is None:
                        row.append("")
                    elif not c.get("ns_per_call"):
                        row.append("error" if c["errors"] else "-")
                    else:
                        row.append(f"{c['ns_per_call']['median']:.0f} ns"
                                   + (_x(c["ratio"].get("ns_per_call")) if n != "native" else ""))
                rows.append(row)
            L += _table(["workload"] + names, rows)
            for wid in per:
                fl = wl[wid].get("floor")
                if fl and fl.get("samples"):
                    L += ["", f"{wid}'s floor, measured in every repetition right after the runners "
                          f"(`{fl['command']}`): " + ", ".join(
                              f"{m} {fl[m]['median']:.0f} ns (lxrun/{m}: {fl['paired_ratio'][m]['median']:.2f}x)"
                              for m in fl if isinstance(fl.get(m), dict) and "median" in fl[m]
                              and fl.get("paired_ratio", {}).get(m)) + "."]
            L.append("")
        bad = [f"{wid}: {e['checks']}" for wid, e in wl.items() if not e.get("checks_agree", True)]
        errs = [f"{wid} {n}: {c['errors'][0]}" for wid, e in wl.items() for n, c in e["runners"].items()
                if c["errors"]]
        if bad or errs:
            L += ["Problems in this run:", ""] + [f"- outputs differ, {b}" for b in bad] + \
                 [f"- {x}" for x in errs] + [""]

    st = res.get("startup")
    if st:
        L += ["## Zone start-up: `/bin/true` end to end", "",
              "Spawn to reap, interleaved round-robin; `native` is chroot(8), `native (nschroot)` the "
              "runner the workloads use. `lxrun` is the installed C front door (csrc/frontdoor/), which "
              "runs a zone without Python; `lxrun-py` the Python CLI it hands everything else to, and the "
              "python3 rows the floor under that: the interpreter with site (its .pth hooks), then lxrun's "
              "imports.", ""]
        nat = _med(st.get("native"), "wall_ns")
        bw = _med(st.get("bwrap"), "wall_ns")
        rows = []
        for label, c in st.items():
            if label.startswith("_"):
                continue
            if not c.get("wall_ns"):
                rows.append([label, c.get("error", "-")[:80], "", "", "", "", "", ""])
                continue
            m = c["wall_ns"]["median"]
            hf = c.get("hyperfine", {}).get("median_ns")
            rows.append([label, _ms(m), f"{_ms(c['wall_ns']['q1'])}-{_ms(c['wall_ns']['q3'])}",
                         _ms(_med(c, "user_ns")), _ms(_med(c, "sys_ns")),
                         f"{m / nat:.1f}x" if nat else "-", f"{m / bw:.1f}x" if bw else "-",
                         _ms(hf) if hf else "-"])
        L += _table(["command", "median", "q1-q3", "user", "sys", "vs native", "vs bwrap", "hyperfine median"],
                    rows)
        L.append("")

    mem = res.get("memory")
    if mem:
        L += ["## Memory: peak RSS of the runner's own process", "",
              "VmHWM of the process we start (not its children), sampled every 10 ms from "
              "/proc/PID/status while the guest runs `sleep 1`.", ""]
        rows = []
        for label, c in mem.items():
            if not c.get("vmhwm_kb"):
                rows.append([label, c.get("error", "-"), "", ""])
                continue
            rows.append([label, f"{c['vmhwm_kb'] / 1024:.1f}", f"{c['rss_anon_kb'] / 1024:.1f}",
                         f"{c['rss_file_kb'] / 1024:.1f}"])
        L += _table(["process", "VmHWM MB", "RssAnon MB", "RssFile MB"], rows)
        lxm = mem.get("lxrun", {})
        if lxm.get("child_rss_kb"):
            L += ["", f"Half a second in, lxrun's PSS (its RSS with shared pages divided among their "
                  f"sharers) is {(lxm.get('self_pss_kb') or 0) / 1024:.1f} MB; its child "
                  f"`{lxm.get('child_comm', '?')}` (the zone's init, a fork of lxrun that does not exec) "
                  f"shows RSS {lxm['child_rss_kb'] / 1024:.1f} MB, PSS "
                  f"{(lxm.get('child_pss_kb') or 0) / 1024:.1f} MB."]
        tops = mem.get("lxrun", {}).get("top_mappings_kb")
        if tops:
            L += ["", "lxrun's largest mappings (Rss, from /proc/PID/smaps, 0.5 s in):", ""]
            L += _table(["mapping", "Rss kB"], [[os.path.basename(n) if n.startswith("/") else n, str(kb)]
                                               for n, kb in tops])
        L.append("")

    dens = res.get("density")
    if dens and dens.get("runs"):
        L += ["## Density: N idle sandboxes of `sleep` at once", "",
              "Every sandbox started at once, then, when every guest sleeps, the PSS of every process "
              "involved summed from /proc/PID/smaps_rollup (lxrun: lxrun, the zone's init, the guest; "
              "bwrap: bwrap, its pid 1, the guest), and MemAvailable before the first start and after the "
              "last (it also counts kernel memory: namespaces, mounts, page tables, and whatever else the "
              "machine did meanwhile). lxrun's zones need no Python handler, so the C front door runs "
              "them. The row \"Zone + Python handler, one python3\" is N zones with a Python handler each, "
              "all started and served by one python3 (bench/density.py serve): each zone's init is a fork "
              "of that interpreter, which is where its memory goes (Findings).", ""]
        rows = []
        for n, cells in list(dens["runs"].items()) + [("1000 (once)", dens.get("big") or {})]:
            bw = (cells.get("bwrap") or {}).get("pss_kb")
            for label, c in cells.items():
                if not c.get("pss_kb"):
                    continue
                rows.append([str(n).split()[0] if label else "", label, f"{c['pss_per_sandbox_kb']:.0f}",
                             f"{c['pss_kb'] / 1024:.1f}",
                             f"{c['pss_kb'] / bw:.2f}x" if bw else "-",
                             f"{c['mem_available_drop_kb'] / 1024:.0f}",
                             f"{c['mem_available_drop_per_sandbox_kb']:.0f}",
                             f"{c['start_all_s']:.1f}", f"{c['stop_all_s']:.1f}", str(c["left_over_processes"])])
        L += _table(["N", "runner", "PSS kB / sandbox", "PSS MB, all", "vs bwrap", "MemAvailable drop MB",
                     "drop kB / sandbox", "start all s", "stop all s", "left over"], rows)
        one = ((dens["runs"].get("20") or {}).get("lxrun") or {}).get("one_sandbox")
        obw = ((dens["runs"].get("20") or {}).get("bwrap") or {}).get("one_sandbox")
        if one and obw:
            L += ["", "One sandbox of N=20, process by process (PSS kB): lxrun "
                  + ", ".join(f"{p['comm']} {p['pss_kb']}" for p in one) + "; bwrap "
                  + ", ".join(f"{p['comm']} {p['pss_kb']}" for p in obw) + "."]
        L += ["", "Commands: " + "; ".join(f"`{c['command']}`" for c in (dens["runs"].get("20") or {}).values()), ""]

    mech = res.get("mech")
    if mech and mech.get("modes"):
        raw = _med(mech["modes"].get("raw"), "ns_per_call")
        L += ["## Mechanisms (bench/c/mech.c): the floor under w8 and w9", "",
              f"`{mech['command']}`, median over repetitions; ns per call.", ""]
        rows = []
        for mode, c in mech["modes"].items():
            if not c.get("ns_per_call"):
                rows.append([mode, c.get("error", "-"), "", MECH_DOC.get(mode, "")])
                continue
            v = c["ns_per_call"]["median"]
            rows.append([mode, f"{v:.0f}", f"{v / raw:.1f}x" if raw else "-", MECH_DOC.get(mode, "")])
        L += _table(["mode", "ns/call", "vs raw", "what"], rows)
        L.append("")

    prof = res.get("probe")
    if prof and prof.get("phases_ms"):
        L += ["## Where lxrun's start-up goes", "",
              f"`{prof['command']}` does what lxrun does, phase by phase (median ms):", ""]
        L += _table(["phase", "ms"], [[k, f"{v:.1f}"] for k, v in prof["phases_ms"].items()])
        it = prof.get("importtime_top")
        if it:
            L += ["", f"`python3 -X importtime` of the same (total of top-level imports "
                  f"{it['total_us'] / 1e3:.1f} ms); largest cumulative:", ""]
            L += _table(["module", "depth", "cumulative ms", "self ms"],
                        [[r["module"], str(r["depth"]), f"{r['cumulative_us'] / 1e3:.1f}",
                          f"{r['self_us'] / 1e3:.1f}"] for r in it["top"]])
        cp = prof.get("cprofile_top")
        if cp:
            L += ["", f"`{prof['cprofile_command']}`, by own time:", ""]
            L += _table(["function", "calls", "own ms", "cumulative ms"],
                        [[f"`{r['function']}`", str(r["calls"]), f"{r['tottime_ms']:.1f}",
                          f"{r['cumtime_ms']:.1f}"] for r in cp])
        L.append("")
    perf = res.get("perf")
    if perf and perf.get("by_dso"):
        L += ["## perf: where lxrun's CPU goes", "", f"`{perf['command']}`", ""]
        L += _table(["DSO", "% of samples"], [[r["dso"], f"{r['percent']:.1f}"] for r in perf["by_dso"]])
        if perf.get("by_symbol"):
            L += ["", "Largest symbols:", ""]
            L += _table(["% of samples", "DSO, symbol"], [[f"{r['percent']:.1f}", r["where"]]
                                                           for r in perf["by_symbol"]])
        L.append("")

    pw = res.get("perf_w8")
    if pw and pw.get("cases"):
        L += ["## perf: w8 in a zone against its floor", "",
              f"{pw['n']} uname() calls each, under `perf stat` (CPU and context switches per call) and "
              "`perf record` (samples by process and symbol; in the lxrun case `lxrun` is the supervisor "
              "thread and `sysloop` the guest).", ""]
        L += _table(["case", "ns/call (guest's loop)", "CPU ns/call", "context switches/call", "migrations"],
                    [[k, f"{c['ns_per_call']:.0f}" if c.get("ns_per_call") else "-",
                      f"{c['cpu_ns_per_call']:.0f}" if c.get("cpu_ns_per_call") else "-",
                      f"{c['switches_per_call']:.2f}" if c.get("switches_per_call") is not None else "-",
                      f"{c['migrations']:.0f}" if c.get("migrations") is not None else "-"]
                     for k, c in pw["cases"].items()])
        for k, c in pw["cases"].items():
            if c.get("top"):
                L += ["", f"{k}: `{c.get('perf_command', '')}`", ""]
                L += _table(["%", "samples", "pid:command, symbol"],
                            [[f"{r['percent']:.1f}", str(r["samples"]), r["where"]] for r in c["top"]])
        L.append("")

    if res.get("findings"):
        L += ["## Findings", ""] + [f"- {f}" for f in res["findings"]] + [""]

    if res.get("oci"):
        from . import oci
        L += oci.markdown(res["oci"])
    L += ["## Commands", "", f"ROOT is `{meta['root']}`; guest programs are in ROOT/opt/lxbrand-bench/ "
          "(bench/c/sysloop.c, bench/c/timeit.c; static).", ""]
    L += _table(["runner", "command"], [[n, f"`{t}`"] for n, t in meta["runner_templates"].items()])
    if meta.get("skipped"):
        L += ["", "Skipped runners: " + "; ".join(f"{k}: {v}" for k, v in meta["skipped"].items())]
    if wl:
        L += ["", "Exact commands, one per workload and runner:", "", "```"]
        for wid, e in wl.items():
            for n, c in e["runners"].items():
                L.append(f"{wid} {n:7s} {c['command'].replace(meta['root'], 'ROOT')}")
        L += ["```"]
    if st:
        L += ["", "Start-up commands:", "", "```"]
        L += [f"{label}: {c['command'].replace(meta['root'], 'ROOT')}" for label, c in st.items()
              if not label.startswith("_")]
        if st.get("_hyperfine_command"):
            L.append("hyperfine: " + st["_hyperfine_command"].replace(meta["root"], "ROOT"))
        L += ["```"]
    L.append("")
    return "\n".join(L)


def write(res: dict, outdir: str) -> tuple[str, str]:
    os.makedirs(outdir, exist_ok=True)
    md = os.path.join(outdir, "RESULTS.md")
    js = os.path.join(outdir, "results.json")
    with open(js + ".tmp", "w") as f:
        json.dump(res, f, indent=1, sort_keys=False, default=str)
    os.replace(js + ".tmp", js)
    with open(md + ".tmp", "w") as f:
        f.write(markdown(res))
    os.replace(md + ".tmp", md)
    return md, js
