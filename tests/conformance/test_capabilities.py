"""Root that behaves as root: capability-gated operations, run as root in a
zone against native root.

Linux checks some capabilities against the host's user namespace, so root in
a zone would hold them and still be refused.  The zone drops each of those
from its bounding set (lxbrand.personality.CAPABILITIES, docs/DIFFERENCES.md
"Capabilities"): the operations answer as they do for a process without the
capability, and normalise.KNOWN turns native root's answer into that one.
The host-wide syscalls the table denies are in test_personality.py.

Every operation here is harmless natively (a moment of SCHED_FIFO or of a
lower nice for sysinterp itself, an immutable flag set and cleared on the
run's own scratch file).
"""
import codecs
import os
import resource
import struct

import pytest

from .normalise import FS_IOC_SETFLAGS, FS_IMMUTABLE_FL, FS_APPEND_FL
from .script import Script, assert_conforms, check_native, run_zone

PRIO_PROCESS = 0
SCHED_OTHER, SCHED_FIFO = 0, 1
CLOCK_MONOTONIC, CLOCK_REALTIME_ALARM = 1, 8


def test_nice_below_zero_without_cap_sys_nice():
    """nice(-5) as root: EACCES in a zone (CAP_SYS_NICE dropped); raising the nice works."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base >= 19:
        pytest.skip("the suite runs at nice 19: nothing to lower from or raise to")
    s = Script()
    s.getpriority(PRIO_PROCESS, 0)              # the raw syscall answers 20 - nice
    s.setpriority(PRIO_PROCESS, 0, base - 5)
    s.setpriority(PRIO_PROCESS, 0, 19)          # raising: any process may
    s.getpriority(PRIO_PROCESS, 0)
    assert_conforms(s, expect=[str(20 - base), "0", "0", "1"])


def test_realtime_policy_without_cap_sys_nice():
    s = Script()
    s.sched_setscheduler(0, SCHED_FIFO, struct.pack("i", 1))
    s.sched_setscheduler(0, SCHED_OTHER, struct.pack("i", 0))
    cmp = assert_conforms(s, expect=["0", "0"])
    assert cmp.rows[0][2].endswith("= -EPERM")


def test_mlock_beyond_rlimit_without_cap_ipc_lock():
    """mlock past RLIMIT_MEMLOCK: ENOMEM in a zone; within it, it locks."""
    soft = resource.getrlimit(resource.RLIMIT_MEMLOCK)[0]
    if soft == resource.RLIM_INFINITY or soft > 256 << 20:
        pytest.skip(f"RLIMIT_MEMLOCK is {soft}: no limit to pass in a zone")
    length = (soft + (8 << 20)) & ~4095
    s = Script()
    m = s.mmap(0, length, 3, 0x22)              # PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    s.mlock(m, length)
    s.munlock(m, length)
    s.mlock(m, 4096)
    s.munlock(m, 4096)
    cmp = assert_conforms(s, expect=[None, "0", "0", "0", "0"])
    assert cmp.rows[1][2].endswith("= -ENOMEM")


@pytest.mark.parametrize("flag", [FS_IMMUTABLE_FL, FS_APPEND_FL], ids=["immutable", "append-only"])
def test_chattr_without_cap_linux_immutable(flag):
    """chattr +i / +a (FS_IOC_SETFLAGS) on the run's tmpfs file: EPERM in a zone."""
    s = Script()
    fd = s.openat(-100, "/scratch/f", os.O_RDONLY)
    s.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flag))
    s.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", 0))   # and natively cleared again
    s.unlink("/scratch/f")
    cmp = assert_conforms(s, expect=["3", "0", "0", "0"])
    assert cmp.rows[1][2].endswith("= -EPERM")


def test_alarm_timer_without_cap_wake_alarm():
    s = Script()
    s.timerfd_create(CLOCK_MONOTONIC, 0)
    s.timerfd_create(CLOCK_REALTIME_ALARM, 0)
    cmp = assert_conforms(s, expect=["3", None])
    assert cmp.rows[1][2].endswith("= -EPERM")


def test_mknod_of_a_device_without_cap_mknod():
    """A character device: EPERM (as for any process without CAP_MKNOD); a fifo works."""
    s = Script()
    s.mknod("/scratch/null2", 0o20600, os.makedev(1, 3))
    s.mknod("/scratch/fifo", 0o10600)
    cmp = assert_conforms(s, expect=["0", "0"])
    assert cmp.rows[0][2].endswith("= -EPERM")


def _oom_score_adj():
    s = Script()
    w = s.openat(-100, "/proc/self/oom_score_adj", os.O_WRONLY)
    s.write(w, b"-100")
    s.write(w, b"100")
    s.write(w, b"50")
    return s


def test_negative_oom_score_adj_without_cap_sys_resource():
    """A negative oom_score_adj: EACCES in a zone (CAP_SYS_RESOURCE dropped);
    raising it works.  Native root may lack CAP_SYS_RESOURCE too (a host that
    drops it from its own bounding set): then both agree as they are."""
    native = check_native(_oom_score_adj(), expect=["3", None, "3", "2"])
    zone = run_zone(_oom_score_adj())
    assert [l.split()[2] for l in zone.lines] == ["3", "-EACCES", "3", "2"], zone.lines
    assert native.lines[0].split()[2] == "3"


def test_capabilities_of_root_in_a_zone():
    """capget(2): root's effective and permitted sets are the zone's (personality.zone_capabilities)."""
    from lxbrand.personality import zone_capabilities
    zone = run_zone(_capget())
    want = zone_capabilities()
    assert zone.lines[1].split()[2] == "0", zone.lines
    text = zone.lines[2].split('data="', 1)[1].rsplit('"', 1)[0]
    data = codecs.escape_decode(text.encode())[0]        # sysinterp's \xNN escapes
    eff0, perm0, _, eff1, perm1, _ = struct.unpack("6I", data[:24])
    assert (eff1 << 32 | eff0, perm1 << 32 | perm0) == (want, want)


def _capget():
    s = Script()
    data = s.mmap(0, 4096, 3, 0x22)
    s.call("capget", struct.pack("Ii", 0x20080522, 0), data)
    s.peek(data, 0, 24)
    return s
