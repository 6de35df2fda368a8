"""The zone's personality (lxbrand/personality.py, issue 12): the resources a
guest sees under --memory/--cpus, root's capabilities, and the kernel version
under --kernel-release.  Differential cases are in tests/conformance
(test_capabilities.py, test_personality.py); these run real programs."""
import os
import re

import pytest

from lxbrand import Zone, personality
from lxbrand.errors import ZoneConfigError

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="--memory and --cpus need cgroups: run as root")
MiB = 1 << 20


def sh(zone, script, timeout=120):
    r = zone.run(["/bin/sh", "-c", script], capture_output=True, timeout=timeout)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout.decode()


# -- resources ---------------------------------------------------------------------

SYSINFO = r"""
import ctypes, struct
buf = ctypes.create_string_buffer(112)
assert ctypes.CDLL(None).sysinfo(buf) == 0
v = struct.unpack("=q3Q6QHH4xQQI4x", buf.raw)
print(v[4] * v[14], v[5] * v[14], v[8], v[10])
"""


@root_only
def test_free_nproc_top_and_python_see_the_zones_caps(rootfs):
    z = Zone(rootfs, memory="256M", cpus=1)
    out = sh(z, "free -b | sed -n 2,3p; nproc; "
                "python3 -c 'import os; print(os.cpu_count(), sorted(os.sched_getaffinity(0)))'; "
                "grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online; "
                "grep -c '^cpu' /proc/stat; cat /proc/swaps | wc -l; top -bn1 | sed -n 4p; "
                f"python3 -c '{SYSINFO}'")
    lines = out.splitlines()
    mem, swap = lines[0].split(), lines[1].split()
    assert mem[0] == "Mem:" and int(mem[1]) == 256 * MiB, out
    assert swap[:2] == ["Swap:", "0"], out
    cpu = personality.View._zone_cpus(1)
    assert lines[2] == "1", out                                  # nproc: sched_getaffinity
    assert lines[3] == f"1 {cpu}", out                           # os.cpu_count(): cpu/online
    assert lines[4:8] == ["1", personality.cpu_list(cpu), "2", "1"], out   # cpu + cpuN; swaps header
    assert re.match(r"MiB Mem :\s+256\.0 total", lines[8]), out
    total, free, totalswap, procs = map(int, lines[9].split())
    assert total == 256 * MiB and 0 < free <= total and totalswap == 0 and 0 < procs < 50, out


@root_only
def test_cpus_round_up_and_affinity_of_another_thread(rootfs):
    """--cpus 1.5 is two CPUs (ceil); pid 1 (the zone's init) is found by its zone pid."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU here")
    z = Zone(rootfs, cpus=1.5)
    out = sh(z, "nproc; python3 -c 'import os; print(len(os.sched_getaffinity(1)))'")
    assert out.split() == ["2", "2"]


AFFINITY_ERRORS = r"""
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(128)
def call(pid, size, ptr):
    r = libc.syscall(204, pid, size, ptr)
    return r if r >= 0 else errno.errorcode[ctypes.get_errno()]
print(call(0, 4, buf), call(0, 12, buf), call(99999, 128, buf), call(0, 128, None), call(0, 128, buf))
"""


@root_only
def test_sched_getaffinity_fails_as_linux_does(rootfs):
    """EINVAL for a short or unaligned size, ESRCH for no such thread, EFAULT; else the mask's size."""
    z = Zone(rootfs, cpus=1)
    assert sh(z, f"python3 -c '{AFFINITY_ERRORS}'").split() == ["EINVAL", "EINVAL", "ESRCH", "EFAULT", "8"]


@root_only
def test_meminfo_follows_the_zones_usage(rootfs):
    """The view is rewritten every second from the cgroup: 64 MiB more in use shows."""
    z = Zone(rootfs, memory="256M")
    out = sh(z, "python3 -c '"
                "import time\n"
                "def free(): return int(open(\"/proc/meminfo\").read().split(\"MemFree:\")[1].split()[0])\n"
                "time.sleep(1.5); before = free(); x = bytearray(64 << 20); time.sleep(2.5)\n"
                "print(before - free())'")
    assert int(out) >= 60 * 1024, out          # kB


@root_only
def test_loadavg_counts_the_zones_work(rootfs):
    z = Zone(rootfs, cpus=1)
    out = sh(z, "timeout 4 sh -c 'while :; do :; done' & sleep 3.5; cat /proc/loadavg")
    load1, _, _, running, last = out.split()
    assert float(load1) > 0.01 and running.split("/")[1] != "0" and int(last) > 1, out


@root_only
def test_view_files_are_read_only_and_locked(rootfs):
    z = Zone(rootfs, memory="64M", cpus=1)
    out = sh(z, "stat -c '%U %a' /proc/meminfo; "
                "echo x > /proc/meminfo 2>/dev/null && echo written; "
                "umount /proc/meminfo 2>/dev/null && echo unmounted; "
                "mount -o remount,rw,bind /proc/meminfo 2>/dev/null && echo remounted; "
                "chmod 666 /proc/meminfo 2>/dev/null && echo chmodded; "
                "grep -c MemTotal /proc/meminfo")
    assert out.split("\n")[:2] == ["root 444", "1"], out


@root_only
def test_view_leaves_nothing_on_the_host(rootfs):
    import tempfile
    before = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("lxbrand-view-")}
    z = Zone(rootfs, memory="64M", cpus=1, kernel_release="5.4")
    inside = sh(z, "sleep 0.2; ls /tmp | grep -c lxbrand-view- || true")
    after = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("lxbrand-view-")}
    assert after <= before and inside.strip() == "0"


def test_a_default_zone_passes_sysinfo_and_affinity_through(rootfs):
    """Without --memory/--cpus the brand leaves both to the kernel and binds no file."""
    z = Zone(rootfs)
    status = {e.sc.name: e.status.name for e in z.brand.entries}
    assert status["sysinfo"] == "pass" and status["sched_getaffinity"] == "pass"
    assert "meminfo" not in sh(z, "cat /proc/self/mountinfo")
    z = Zone(rootfs, cpus=1) if os.geteuid() == 0 else None
    if z is not None:
        status = {e.sc.name: e.status.name for e in z.brand.entries}
        assert status["sysinfo"] == "emulated" and status["sched_getaffinity"] == "emulated"


UPTIME = r"""
import ctypes, struct, time
buf = ctypes.create_string_buffer(112)
assert ctypes.CDLL(None).sysinfo(buf) == 0
btime = int([l for l in open("/proc/stat") if l.startswith("btime")][0].split()[1])
start = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / 100
print(open("/proc/uptime").read().split()[0], time.monotonic(), time.clock_gettime(time.CLOCK_BOOTTIME),
      struct.unpack("=q", buf.raw[:8])[0], btime + start - time.time())
"""


def _host_uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


@pytest.mark.parametrize("cpus", [None, 1], ids=["default", "cpus"])
def test_uptime_and_clocks_count_from_the_zones_start(rootfs, cpus):
    """The zone's time namespace (csrc/zone_init.c): /proc/uptime,
    CLOCK_MONOTONIC, CLOCK_BOOTTIME and sysinfo's uptime (emulated under
    --cpus) start at zero when the zone starts, not at the host's boot."""
    if cpus and os.geteuid() != 0:
        pytest.skip("--cpus needs cgroups: run as root")
    host_before = _host_uptime()
    out = sh(Zone(rootfs, cpus=cpus), f"sleep 1; python3 -c '{UPTIME}'").split()
    uptime, mono, boot, sys_uptime, started_ago = (float(x) for x in out)
    assert 1.0 <= uptime < 30 and 1.0 <= mono < 30 and 1.0 <= boot < 30, out
    assert 1 <= sys_uptime <= 31, out
    # ps's start time (btime plus the process's start in /proc/PID/stat) is now, not the host's boot
    assert abs(started_ago) < 3, out
    if host_before > 60:
        assert uptime < host_before - 30, (uptime, host_before)


def test_init_started_when_the_zone_did(rootfs):
    """Init is made before the zone's clock offsets, and the kernel shows
    every process's start (/proc/PID/stat field 22) in the reader's time
    namespace: offset by -now, init's start was negative there and ps showed
    it started centuries ahead.  The offsets count from init's start."""
    out = sh(Zone(rootfs), "sleep 1; cut -d' ' -f22 /proc/1/stat; cut -d' ' -f22 /proc/self/stat; "
                           "ps -o etimes= -p 1; TZ=UTC0 ps -o lstart= -p 1; date +%s")
    init_start, self_start, etimes, *lstart, now = out.split()
    assert 0 <= int(init_start) <= int(self_start), out
    assert 1 <= int(etimes) < 30, out
    import datetime
    started = datetime.datetime.strptime(" ".join(lstart), "%a %b %d %H:%M:%S %Y").replace(
        tzinfo=datetime.timezone.utc)
    assert abs(started.timestamp() - int(now)) < 30, out


def test_a_command_run_in_a_booted_zone_has_its_clocks(rootfs):
    """A process started in a running zone (Zone.boot, as lxbrand-oci exec)
    joins the zone's time namespace with the others (csrc/zone_exec.c
    lxb_guest_ns_flags): its uptime is the zone's, not the host's."""
    host = _host_uptime()
    if host < 120:
        pytest.skip("the host has been up less than 2 minutes: its uptime and the zone's cannot be told apart")
    with Zone(rootfs).boot() as z:
        r = z.run(["cat", "/proc/uptime"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split()[0]) < 60, (r.stdout, host)


def test_uptime_for_an_unprivileged_user(unprivileged):
    r = unprivileged.lxrun(unprivileged.rootfs, "/bin/sh", "-c", "cat /proc/uptime")
    if r.returncode == 125 and "user namespace" in r.stderr:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split()[0]) < 30


# -- capabilities ------------------------------------------------------------------

def test_root_in_a_zone_holds_the_zones_capabilities(rootfs):
    out = sh(Zone(rootfs), "grep -E '^Cap(Eff|Bnd)' /proc/self/status")
    eff, bnd = (int(l.split()[1], 16) for l in out.splitlines())
    assert eff == bnd == personality.zone_capabilities()
    for cap in personality.CAPABILITIES:
        assert bool(eff >> cap.nr & 1) == (cap.decision == personality.KEEP), cap.name


def test_every_capability_has_a_decision():
    """capabilities(7) up to CAP_CHECKPOINT_RESTORE (40), each once."""
    assert [c.nr for c in personality.CAPABILITIES] == list(range(41))
    assert {c.decision for c in personality.CAPABILITIES} == {personality.KEEP, personality.DROP}


def test_differences_lists_each_capability():
    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "DIFFERENCES.md")) as f:
        text = f.read()
    assert personality.capability_table() in text, "docs/DIFFERENCES.md: regenerate the capability table " \
        "(python3 -c 'from lxbrand import personality; print(personality.capability_table())')"


def test_dropped_capabilities_take_the_unprivileged_path(rootfs):
    """Programs see they lack the capability: capsh-like checks and the operations agree.
    (Under --fakeroot a thread's own nice below zero is emulated instead:
    tests/test_fakeroot.py test_nice_below_zero_is_emulated_for_fake_root.)"""
    out = sh(Zone(rootfs), "nice -n -5 true 2>&1 | grep -c 'cannot set niceness' || true; "
                           "mknod /tmp/d c 1 3 2>&1 | grep -c 'Operation not permitted' || true; "
                           "echo -100 > /proc/self/oom_score_adj 2>/dev/null || echo refused")
    assert out.split() == ["1", "1", "refused"], out


# -- kernel version ----------------------------------------------------------------

@pytest.mark.parametrize("release", ["3.10", "4.4", "4.19", "5.4"])
def test_kernel_release_is_consistent_and_programs_run(rootfs, release):
    """uname -r/-v, /proc/version, /proc/sys/kernel/{osrelease,version} agree,
    and glibc programs, busybox and python3 run on that kernel's syscalls."""
    out = sh(Zone(rootfs, kernel_release=release),
             "uname -r; uname -v; cat /proc/sys/kernel/osrelease /proc/sys/kernel/version /proc/version; "
             "busybox uname -r; busybox sh -c 'busybox ls / >/dev/null && busybox sha256sum /etc/passwd' >/dev/null; "
             "tar -C /etc -cf /tmp/t.tar passwd && tar -tf /tmp/t.tar; sort /etc/passwd >/dev/null; "
             "python3 -c 'import os, asyncio, subprocess, threading, shutil, tempfile\n"
             "os.urandom(8); d = tempfile.mkdtemp(); open(d + \"/a\", \"w\").write(\"x\" * 99999)\n"
             "shutil.copy(d + \"/a\", d + \"/b\"); assert subprocess.run([\"true\"]).returncode == 0\n"
             "t = threading.Thread(target=print, args=(\"thread\",)); t.start(); t.join()\n"
             "print(os.uname().release, os.uname().version)'")
    version = personality.kernel_version(release)
    lines = out.splitlines()
    assert lines[:4] == [release, version, release, version], out
    assert lines[4] == f"Linux version {release} " + lines[4].split(" ", 3)[3] and lines[4].endswith(version)
    assert lines[5:] == [release, "passwd", "thread", f"{release} {version}"], out


@pytest.mark.parametrize("release", ["4", "2.6.32", "3.1", "6.19", "99.1", "4.19 x", "x4.19", "", "4." + "1" * 70])
def test_kernel_release_outside_the_range(rootfs, release):
    with pytest.raises(ZoneConfigError, match=r"kernel release .*3\.2 to 6\.18"):
        Zone(rootfs, kernel_release=release)


@pytest.mark.parametrize("release", ["3.2", "4.19.0-25-amd64", "5.10.0+", "6.18.44-fc-v1098", "4.4.0~rc1"])
def test_kernel_release_within_the_range(rootfs, release):
    Zone(rootfs, kernel_release=release)


def test_release_and_capabilities_for_an_unprivileged_user(unprivileged):
    """Run by an ordinary user (nobody): the same version files, and the same
    capabilities dropped (the launcher drops them in the guest's namespace)."""
    r = unprivileged.lxrun("--kernel-release", "4.19", unprivileged.rootfs, "/bin/sh", "-c",
                           "uname -v; cat /proc/sys/kernel/version; cat /proc/self/status")
    if r.returncode == 125 and r.stderr.startswith("lxrun: cannot create a user namespace"):
        pytest.skip(f"this host refuses unprivileged user namespaces: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == [personality.kernel_version("4.19")] * 2, r.stdout
    eff = [l for l in lines if l.startswith("CapEff:")][0]
    assert int(eff.split()[1], 16) == personality.zone_capabilities(), r.stdout
