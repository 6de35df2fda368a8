"""OCI: podman with lxbrand as its runtime, against podman with runc.

Issue 14's figures, side by side in one run, the runtimes interleaved:

    run     podman --runtime R run --rm IMAGE /bin/true            (wall, ms)
    exec    podman --runtime R exec CTR /bin/true  (CTR: `sleep` run -d)
    burst   32 `podman --runtime R run --rm IMAGE /bin/true` at once: every
            one must succeed, and afterwards nothing may be left (podman's
            containers, the runtime's processes, state directories, mounts)

crun is not measured: it refuses this machine's hybrid cgroups.  The image
is `podman import` of a static busybox tree, as tests/test_oci.py makes it.
lxbrand's runtime is the installed `lxbrand-oci` script itself (not a pyenv
shim, which adds about 100 ms by itself).
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Optional

Log = Callable[[str], None]

IMAGE = "localhost/lxbrand-bench:busybox"
APPLETS = ("sh", "true", "sleep", "cat")
LXBRAND_STATE = "/run/lxbrand-oci"


def _runtime_paths() -> dict[str, str]:
    out = {}
    oci = os.path.join(os.path.dirname(sys.executable), "lxbrand-oci")
    if os.access(oci, os.X_OK):
        out["lxbrand"] = oci
    runc = shutil.which("runc")
    if runc:
        out["runc"] = runc
    return out


class _Podman:
    def __init__(self, work: str):
        self.conf = os.path.join(work, "containers.conf")
        with open(self.conf, "w") as f:
            # this machine's hard RLIMIT_NOFILE is 20000: podman's default (1048576) cannot be set
            f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]\n'
                    '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)

    def __call__(self, runtime: str, *args, timeout: float = 300, check: bool = False):
        r = subprocess.run(["podman", "--runtime", runtime, *args], env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        return r

    def timed(self, runtime: str, *args) -> float:
        t0 = time.perf_counter_ns()
        self(runtime, *args, check=True)
        return (time.perf_counter_ns() - t0) / 1e6


def _image(p: _Podman, work: str) -> None:
    bb = shutil.which("busybox")
    if not bb:
        raise RuntimeError("busybox is not installed (apt-get install busybox-static)")
    tree = os.path.join(work, "tree")
    for d in ("bin", "etc", "tmp"):
        os.makedirs(os.path.join(tree, d))
    shutil.copy2(bb, os.path.join(tree, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(tree, "bin", a))
    with open(os.path.join(tree, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    tar = os.path.join(work, "tree.tar")
    subprocess.run(["tar", "-C", tree, "-cf", tar, "."], check=True)
    r = subprocess.run(["podman", "import", tar, IMAGE], env=p.env, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"podman import: {r.stderr.strip()[-300:]}")


def _stats(samples: list[float]) -> dict:
    s = sorted(samples)
    return {"samples_ms": samples, "median_ms": statistics.median(s), "min_ms": s[0], "max_ms": s[-1]}


def _processes_naming(ids: list[str]) -> int:
    """Processes whose command line names one of the containers (the runtime's
    monitor, conmon, a zone's init): none may be left once podman is done."""
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            n += any(i in cmd for i in ids)
    return n


def _mounts_naming(ids: list[str]) -> int:
    with open("/proc/self/mountinfo") as f:
        text = f.read()
    return sum(1 for i in ids if i in text)


def _burst(p: _Podman, label: str, runtime: str, n: int, work: str, log: Log) -> dict:
    cidfiles = [os.path.join(work, f"cid-{label}-{i}") for i in range(n)]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["podman", "--runtime", runtime, "run", "--rm", "--cidfile", c, IMAGE, "/bin/true"],
                              env=p.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for c in cidfiles]
    failed = []
    for c, pr in zip(cidfiles, procs):
        _, err = pr.communicate(timeout=600)
        if pr.returncode != 0:
            failed.append(f"exit {pr.returncode}: {err.strip()[-200:]}")
    wall = time.perf_counter() - t0
    ids = []
    for c in cidfiles:
        try:
            with open(c) as f:
                ids.append(f.read().strip())
        except OSError:
            pass
    time.sleep(1.0)
    ps = p(runtime, "ps", "-a", "--no-trunc", "--format", "{{.ID}}").stdout.split()
    state = sum(os.path.exists(os.path.join(LXBRAND_STATE, i)) for i in ids) if label == "lxbrand" else 0
    cell = {"n": n, "ok": n - len(failed), "failed": failed[:5], "wall_s": round(wall, 2),
            "left_containers": len(set(ps) & set(ids)), "left_processes": _processes_naming(ids),
            "left_state_dirs": state, "left_mounts": _mounts_naming(ids)}
    log(f"bench: oci burst {label}: {cell['ok']}/{n} ok in {wall:.1f} s, left: {cell['left_containers']} "
        f"containers, {cell['left_processes']} processes, {state} state dirs, {cell['left_mounts']} mounts")
    return cell


def run_oci(reps: int, log: Log, burst: int = 32) -> dict:
    if os.geteuid() != 0:
        return {"skipped": "podman runs its containers as root here"}
    if not shutil.which("podman"):
        return {"skipped": "podman is not installed (make setup installs it)"}
    rts = _runtime_paths()
    if len(rts) < 2:
        return {"skipped": f"runtimes missing: have {', '.join(rts) or 'none'}, need lxbrand-oci and runc"}
    out: dict = {"runtimes": rts, "image": IMAGE, "reps": reps}
    with tempfile.TemporaryDirectory(prefix="lxb-bench-oci-") as work:
        os.chmod(work, 0o755)
        p = _Podman(work)
        _image(p, work)
        ctrs: dict[str, str] = {}
        try:
            for label, rt in rts.items():          # warm: first run of an image, the runtime's caches
                p(rt, "run", "--rm", IMAGE, "/bin/true", check=True)
            run: dict[str, list] = {k: [] for k in rts}
            for _ in range(reps):
                for label, rt in rts.items():
                    run[label].append(p.timed(rt, "run", "--rm", IMAGE, "/bin/true"))
            out["run"] = {k: _stats(v) for k, v in run.items()}
            log("bench: oci run: " + ", ".join(f"{k} {v['median_ms']:.0f} ms" for k, v in out["run"].items()))
            for label, rt in rts.items():
                nm = f"lxb-bench-exec-{label}-{os.getpid()}"
                p(rt, "run", "-d", "--name", nm, IMAGE, "sleep", "3600", check=True)
                ctrs[label] = nm
                p(rt, "exec", nm, "/bin/true", check=True)
            ex: dict[str, list] = {k: [] for k in rts}
            for _ in range(reps):
                for label, rt in rts.items():
                    ex[label].append(p.timed(rt, "exec", ctrs[label], "/bin/true"))
            out["exec"] = {k: _stats(v) for k, v in ex.items()}
            log("bench: oci exec: " + ", ".join(f"{k} {v['median_ms']:.0f} ms" for k, v in out["exec"].items()))
        finally:
            for label, nm in ctrs.items():
                p(rts[label], "rm", "-f", "-t", "0", nm)
        if burst:
            out["burst"] = {label: _burst(p, label, rt, burst, work, log) for label, rt in rts.items()}
        subprocess.run(["podman", "rmi", "-f", IMAGE], env=p.env, capture_output=True, timeout=120)
    return out


def markdown(oci: Optional[dict]) -> list[str]:
    if not oci:
        return []
    L = ["## OCI: podman with lxbrand against podman with runc", ""]
    if oci.get("skipped"):
        return L + [f"Not measured: {oci['skipped']}.", ""]
    L += [f"podman {', '.join(f'--runtime {v}' for v in oci['runtimes'].values())}; image `{oci['image']}` "
          f"(a static busybox); {oci['reps']} repetitions, runtimes interleaved; wall ms, median (min-max). "
          "crun is not measured: it refuses this machine's hybrid cgroups.", "",
          "| command | runtime | median ms | min-max | vs runc |", "|---|---|---|---|---|"]
    for what, cmd in (("run", "`podman run --rm IMAGE /bin/true`"), ("exec", "`podman exec CTR /bin/true`")):
        cells = oci.get(what) or {}
        base = (cells.get("runc") or {}).get("median_ms")
        for label, c in cells.items():
            ratio = f"{c['median_ms'] / base:.2f}x" if base else "-"
            L.append(f"| {cmd} | {label} | {c['median_ms']:.0f} | {c['min_ms']:.0f}-{c['max_ms']:.0f} | {ratio} |")
    b = oci.get("burst")
    if b:
        L += ["", f"{next(iter(b.values()))['n']} `podman run --rm IMAGE /bin/true` at once:", "",
              "| runtime | succeeded | wall s | containers left | processes left | state dirs left | "
              "mounts left |", "|---|---|---|---|---|---|---|"]
        for label, c in b.items():
            L.append(f"| {label} | {c['ok']}/{c['n']} | {c['wall_s']:.1f} | {c['left_containers']} | "
                     f"{c['left_processes']} | "
                     f"{c['left_state_dirs'] if label == 'lxbrand' else '-'} | {c['left_mounts']} |")
            for f in c.get("failed") or []:
                L.append(f"|  | failed: {f} | | | | | |")
    L.append("")
    return L


def targets(oci: Optional[dict]) -> list[dict]:
    out = []
    for what, doc in (("run", "`podman run --rm IMAGE /bin/true` with lxbrand no slower than with runc"),
                      ("exec", "`podman exec` into a zone no slower than into a runc container")):
        cells = (oci or {}).get(what) or {}
        if cells.get("lxbrand") and cells.get("runc"):
            r = cells["lxbrand"]["median_ms"] / cells["runc"]["median_ms"]
            out.append({"target": doc, "measured": f"{cells['lxbrand']['median_ms']:.0f} vs "
                        f"{cells['runc']['median_ms']:.0f} ms: {r:.2f}x", "value": r,
                        "verdict": "met" if r <= 1.0 else "MISSED"})
        else:
            out.append({"target": doc, "verdict": "not measured"})
    b = ((oci or {}).get("burst") or {}).get("lxbrand")
    doc = "32 zones run by podman at once: all succeed, nothing left behind"
    if b:
        clean = not (b["left_containers"] or b["left_processes"] or b["left_state_dirs"] or b["left_mounts"])
        out.append({"target": doc, "measured": f"{b['ok']}/{b['n']} succeeded, "
                    + ("nothing left" if clean else "left: " + ", ".join(
                        f"{b[k]} {k[5:].replace('_', ' ')}" for k in
                        ("left_containers", "left_processes", "left_state_dirs", "left_mounts") if b[k])),
                    "verdict": "met" if clean and b["ok"] == b["n"] else "MISSED"})
    else:
        out.append({"target": doc, "verdict": "not measured"})
    return out
