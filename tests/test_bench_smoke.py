"""The benchmark harness (bench/, `make bench`) builds and runs: one tiny
workload under every runner, the Python-handler driver, mech.c and the
report.  Nothing here asserts a time (DESIGN.md: performance is measured by
benchmarks, never by timed tests); a runner whose tool is missing is skipped."""
import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:      # `pytest tests/` from elsewhere: bench/ sits beside tests/
    sys.path.insert(0, REPO)

from bench import GUEST_DIR, build, measure, report, runners  # noqa: E402
from bench.workloads import SYSLOOP, WORKLOADS, Workload  # noqa: E402

TINY_STAT = Workload("w1", "stat() x {n}", 100, 100, "stat calls",
                     lambda n: [SYSLOOP, "stat", str(n), "/usr/bin/env"])
TINY_W9 = Workload("w9", "getppid() x {n}", 200, 200, "calls", WORKLOADS["w9"].command, per_call=True,
                   runners=("native", "lxrun"), handlers=dict(WORKLOADS["w9"].handlers))


@pytest.fixture(scope="module")
def programs():
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (apt-get install gcc)")
    return build.compile_all()


@pytest.fixture(scope="module")
def bench_root(rootfs, programs):
    build.install(rootfs, programs)
    return rootfs


@pytest.fixture
def spawner():
    sp = measure.Spawner()
    yield sp
    sp.close()


def _runner(name, root, programs):
    r = runners.RUNNERS[name](root, programs)
    why = r.available()
    if why:
        pytest.skip(f"runner {name}: {why}")
    return r


def test_build_installs_guest_programs(bench_root, programs):
    for name in build.GUEST_PROGRAMS:
        assert os.access(os.path.join(bench_root, GUEST_DIR.lstrip("/"), name), os.X_OK)
    for name in build.HOST_PROGRAMS:
        assert os.access(programs[name], os.X_OK)


@pytest.mark.parametrize("name", list(runners.RUNNERS))
def test_runner_runs_a_tiny_workload(bench_root, programs, spawner, name):
    r = _runner(name, bench_root, programs)
    # a warm-up first, as the bench makes one: the front door's cache entry for
    # the runner's options may be missing or stale (an earlier test's run with
    # other sources), and the warm-up's hand-over to Python refills it; a
    # sample that is still handed over raises
    measure.run_one(spawner, TINY_STAT, r, quick=True, timeout=60, warm=True)
    s = measure.run_one(spawner, TINY_STAT, r, quick=True, timeout=60)
    assert s["n"] == 100
    assert s["guest_ns"] > 0 and s["wall_ns"] > 0 and s["loop_ns"] >= 0
    assert int(s["check"]) > 0          # the size of /usr/bin/env, the same file everywhere


def test_w9_driver_answers_with_the_python_handler(bench_root, programs, spawner):
    r = _runner("lxrun", bench_root, programs)
    s = measure.run_one(spawner, TINY_W9, r, quick=True, timeout=60)
    assert s["check"] == "4242"        # the guest saw the handler's answer...
    assert s["notified"] >= 200        # ...for every call
    assert s["ns_per_call"] > 0


def test_density_python_handler_driver_serves_every_zone_and_leaves_nothing(rootfs):
    """bench/density.py's Python-handler row: one driver process, N zones, each
    zone's handler answered its guest before `ready`; nothing left after."""
    from bench import density
    cell = density.run_served(rootfs, 3, lambda msg: None, timeout=120)
    assert cell["ready"] == "ready 3 handler_calls=3"
    assert cell["driver_status"] == 0 and cell["left_over_processes"] == 0
    counts = {p["comm"]: p["count"] for p in cell["by_process"]}
    assert counts.get("lxbrand-init") == 3 and counts.get("sleep") == 3
    assert cell["pss_kb"] > 0


def test_mech_prints_one_json_line_per_mode(programs):
    modes = ["raw", "seccomp-allow", "notif-value", "ptrace-sysemu"]
    p = subprocess.run([programs["mech"], "-n", "200", *modes], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["mech"] for r in recs] == modes
    for r in recs:
        assert "ns_per_call" in r or "error" in r
    assert recs[0]["ns_per_call"] > 0


def test_cli_writes_results(bench_root, programs, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the native runner needs root")
    from bench.__main__ import main
    rc = main(["--quick", "--reps", "1", "--only", "w2", "--runners", "native", "--root", bench_root,
               "--output", str(tmp_path)])
    assert rc == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["workloads"]["w2"]["runners"]["native"]["samples"]
    md = (tmp_path / "RESULTS.md").read_text()
    assert "## Targets (issue 6)" in md and "w2" in md
    assert any(t["verdict"] == "not measured" for t in report.targets(res))
