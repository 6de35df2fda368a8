"""Limits (R1/R2): bounded /tmp and /dev/shm, --memory, --pids, --cpus.

Run by root, the limits are a cgroup of the zone's own (v1 on this host, v2
where the host has it).  Run by an ordinary user without a delegated v2
cgroup, --pids falls back to RLIMIT_NPROC and --memory/--cpus are refused in
one line (a limit that would not hold is an error).  Every attempt here is
sized so that, limit or not, the host only lends a zone a few hundred MB for
a moment (released when the zone ends).
"""
import os
import re

import pytest

from .conftest import verdicts

with open("/proc/meminfo") as _f:
    MEMTOTAL = int(re.search(r"MemTotal:\s+(\d+) kB", _f.read()).group(1)) * 1024


def refused_in_one_line(r) -> bool:
    return r.returncode == 125 and r.stderr.startswith("lxrun: ") and r.stderr.count("\n") == 1


def test_tmp_and_shm_are_bounded(zones):
    """tmpfs's default is half the RAM for each; a zone gets at most a quarter."""
    r = zones.run("/bin/stat", "-f", "-c", "%b %S", "/tmp", "/dev/shm")
    assert r.returncode == 0, r.stderr
    sizes = [int(b) * int(s) for b, s in (line.split() for line in r.stdout.splitlines())]
    assert len(sizes) == 2
    for name, size in zip(("/tmp", "/dev/shm"), sizes):
        assert size <= MEMTOTAL // 4 + (1 << 20), f"{name}: {size} bytes of {MEMTOTAL}"


def test_memory_limit_stops_a_hog(zones):
    r = zones.escape("hog", "384", opts=["--memory", "64M"])
    if zones.who == "user" and refused_in_one_line(r):
        return
    assert r.returncode != 125, r.stderr
    assert "allocated=384" not in r.stdout, r


def test_memory_limit_bounds_a_tmpfs_the_guest_mounts(zones):
    r = zones.sh("echo started; mkdir -p /tmp/big && mount -t tmpfs -o size=100g lxb /tmp/big && "
                 "dd if=/dev/zero of=/tmp/big/f bs=1M count=256 2>/dev/null; echo dd=$?",
                 opts=["--memory", "64M"])
    if zones.who == "user" and refused_in_one_line(r):
        return
    assert "started" in r.stdout, r
    assert "dd=0" not in r.stdout, r


def test_shm_fill_is_bounded(zones):
    r = zones.sh("echo started; dd if=/dev/zero of=/dev/shm/f bs=1M count=256 2>/dev/null; echo dd=$?",
                 opts=["--memory", "128M"])
    if zones.who == "user" and refused_in_one_line(r):
        r = zones.sh("echo started; dd if=/dev/zero of=/dev/shm/f bs=1M count=256 2>/dev/null; echo dd=$?")
        # without --memory only the size bounds /dev/shm; 256 MB may fit
        assert "started" in r.stdout
        return
    assert "started" in r.stdout, r
    assert "dd=0" not in r.stdout, r


def test_pids_limit_stops_a_fork_bomb(zones):
    r = zones.escape("forkmany", "400", opts=["--pids", "32"])
    assert r.returncode == 0, r
    forked = int(re.search(r"forked=(\d+)", r.stdout).group(1))
    assert forked < 32, r.stdout


def test_cpus_limit(zones):
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: nothing to limit below it")
    r = zones.escape("spin", "2", "1500", opts=["--cpus", "0.5"])
    if zones.who == "user" and refused_in_one_line(r):
        return
    assert r.returncode == 0, r
    m = re.search(r"wall_ms=(\d+) cpu_ms=(\d+)", r.stdout)
    wall, cpu = int(m.group(1)), int(m.group(2))
    assert cpu <= 0.5 * wall * 1.3 + 100, r.stdout


def test_limits_hold_against_the_guest(zones):
    """The guest cannot lift its limits: a cgroup hierarchy, if it could mount
    one at all (K3 says it cannot), shows limit files it cannot write, and
    /sys/fs/cgroup is read-only.  Each is rewritten with the value it holds."""
    r = zones.escape("cgroup-mount", "/tmp/lxb-cg", opts=["--pids", "64", "--memory", "256M"])
    if zones.who == "user" and refused_in_one_line(r):
        r = zones.escape("cgroup-mount", "/tmp/lxb-cg", opts=["--pids", "64"])
    v = verdicts(r.stdout)
    assert v, r
    for what, (verdict, detail) in v.items():
        if what.startswith("rewrite "):
            assert verdict == "blocked", f"{what}: {verdict} {detail}"
    r = zones.sh("for f in /sys/fs/cgroup/*/memory.limit_in_bytes /sys/fs/cgroup/memory.max "
                 "/sys/fs/cgroup/pids.max /sys/fs/cgroup/*/pids.max; do "
                 "[ -e $f ] && (cat $f > $f) 2>/dev/null && echo WROTE $f; done; true", opts=["--pids", "64"])
    assert r.returncode == 0, r
    assert "WROTE" not in r.stdout, r
