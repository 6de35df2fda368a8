"""Escape attempts beyond issue 10's table, each as root and as an ordinary user.

Each test runs one subcommand of testbins/escape.c in a zone (or a shell
line of the rootfs) and checks that the attempt failed the documented way
(SECURITY.md) and that the host did not change.
"""
import ctypes
import os
import pty
import signal
import socket

import pytest

from .conftest import _libc, assert_contained, assert_lines, verdicts

SIGSYS_EXIT = 128 + signal.SIGSYS
_cache: dict = {}


def cached(zones, *args, **kw):
    """One zone run shared by the tests that check different lines of it."""
    key = (zones.who, zones.rootfs, args, tuple(sorted(kw.items())))
    if key not in _cache:
        _cache[key] = zones.escape(*args, **kw)
    return _cache[key]


# ---- paths out of the zone -----------------------------------------------------

def test_classic_chroot_break(zones):
    v = assert_contained(zones.escape("chroot-break", zones.marker))
    assert v["chroot-break"][0] == "contained"


def test_proc_1_root_and_cwd(zones):
    assert_lines(cached(zones, "proc-init", zones.marker),
                 {"/proc/1/root + marker": ("contained", None), "/proc/1/cwd + marker": ("contained", None)})


def test_proc_1_fd_of_init(zones):
    r = cached(zones, "proc-init", zones.marker)
    assert "init's fds: info" in r.stdout, r
    assert "readlink /proc/1/fd/N" not in r.stdout and "open /proc/1/fd/N" not in r.stdout


def test_proc_1_mem_and_environ(zones):
    assert_lines(cached(zones, "proc-init", zones.marker),
                 {"open /proc/1/mem": ("blocked", ("EACCES", "EPERM")),
                  "open /proc/1/environ": ("blocked", ("EACCES", "EPERM"))})


def test_ptrace_init(zones):
    assert_lines(cached(zones, "proc-init", zones.marker),
                 {"ptrace attach init": ("blocked", "EPERM"), "ptrace seize init": ("blocked", "EPERM")})


def test_process_vm_readv_init(zones):
    assert_lines(cached(zones, "proc-init", zones.marker),
                 {"process_vm_readv init": ("blocked", ("EPERM", "EACCES", "ESRCH"))})


def test_pidfd_getfd_init(zones):
    assert_lines(cached(zones, "proc-init", zones.marker), {"pidfd_getfd init": ("blocked", "EPERM")})


def test_no_host_fd_is_reachable(zones):
    v = assert_contained(zones.escape("fds"))
    assert v["fds"] == ("contained", "only stdio")


class _FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * 128)]


def test_open_by_handle_at_a_host_file(zones):
    """A handle the host made for its marker (same file system as the rootfs)."""
    fh = _FileHandle(handle_bytes=128)
    mount_id = ctypes.c_int()
    rc = _libc.name_to_handle_at(-100, zones.marker.encode(), ctypes.byref(fh), ctypes.byref(mount_id), 0)
    if rc != 0:
        pytest.skip(f"name_to_handle_at: {os.strerror(ctypes.get_errno())}")
    hexh = bytes(fh.f_handle[:fh.handle_bytes]).hex()
    assert_contained(zones.escape("handle", hexh, str(fh.handle_type)),
                     blocked_with={"open_by_handle_at host marker": "EPERM"})


def test_pivot_root_stays_in_the_zone(zones):
    v = assert_contained(zones.escape("pivot", zones.marker))
    assert v["pivot_root"][0] == "contained"


def test_setns_to_init_namespaces(zones):
    v = assert_contained(zones.escape("setns", zones.marker))
    assert v["setns to init's namespaces"][0] == "contained"


def test_hardlink_to_a_rootfs_file_through_a_bind(zones):
    d = zones.host_dir("link")
    r = zones.escape("hardlink", "/bin/busybox", "/mnt/l/busybox", opts=["--bind", f"{d}:/mnt/l"])
    assert os.listdir(d) == []
    assert_contained(r, blocked_with={"link across a bind": "EXDEV"})


def test_host_root_file_in_a_bind_is_not_readable(zones):
    """A rw bind is not idmapped: the zone acts there as its host ids, which
    do not own (nor override the mode of) host root's 0600 file."""
    d = zones.host_dir("secret")
    path = os.path.join(d, "secret")
    with open(path, "w") as f:
        f.write("host root only\n")
    os.chmod(path, 0o600)
    os.chown(path, 0, 0)
    r = zones.escape("read", "/mnt/s/secret", opts=["--bind", f"{d}:/mnt/s"])
    assert "host root only" not in r.stdout
    assert_contained(r, blocked_with={"read /mnt/s/secret": "EACCES"})


# ---- mounts lxrun made are locked --------------------------------------------------

@pytest.mark.parametrize("path", ["/proc", "/dev/null", "/dev/shm", "/tmp", "/sys", "/ro"])
def test_lxruns_mounts_cannot_be_unmounted(zones, path):
    d = zones.host_dir("ro")
    v = assert_contained(zones.escape("umount", path, opts=["--bind", f"{d}:/ro:ro"]))
    assert v["umount"][0] == "blocked" and v["umount -l"][0] == "blocked"


def test_ro_bind_cannot_be_moved(zones):
    d = zones.host_dir("ro")
    assert_contained(zones.escape("move", "/ro", opts=["--bind", f"{d}:/ro:ro"]),
                     blocked_with={"mount --move": ("EINVAL", "EPERM")})


def test_open_tree_clone_of_a_ro_bind_stays_read_only(zones):
    d = zones.host_dir("ro")
    r = zones.escape("opentree-rw", "/ro", opts=["--bind", f"{d}:/ro:ro"])
    assert os.listdir(d) == []
    v = assert_contained(r)
    if v["open_tree clone"][1].startswith("ok"):
        assert v["mount_setattr clear ro on the clone"] == ("blocked", "EPERM")
        assert v["write through the clone"] == ("blocked", "EROFS")


def test_nested_namespace_cannot_unlock_a_ro_bind(zones):
    d = zones.host_dir("ro")
    r = zones.escape("nested-remount", "/ro", opts=["--bind", f"{d}:/ro:ro"])
    assert_contained(r, blocked_with={"nested remount,bind,rw": "EPERM",
                                      "nested umount -l": ("EINVAL", "EPERM")})


@pytest.mark.parametrize("path", ["/sys", "/proc/sys"])
def test_read_only_kernel_trees_cannot_be_remounted_rw(zones, path):
    v = assert_contained(zones.escape("remount-rw", path))
    assert v["remount,bind,rw"][0] == "blocked"
    assert v["write after remount"][0] == "blocked"


def test_mounts_do_not_propagate_to_the_host(zones):
    def host_mounts():
        with open("/proc/self/mountinfo") as f:
            return [line for line in f if "lxb-prop" in line]
    assert host_mounts() == []
    try:
        r = zones.sh("mount -t tmpfs lxb-prop /mnt && mount -t tmpfs lxb-prop /tmp")
        assert host_mounts() == []
    finally:
        for line in host_mounts():   # never leave one behind, even on failure
            os.system(f"umount -l {line.split()[4]}")


# ---- the filter -------------------------------------------------------------------

def test_x32_syscalls_are_killed(zones):
    r = zones.escape("x32")
    assert "ESCAPE" not in r.stdout
    assert r.returncode in (SIGSYS_EXIT, 0), r
    if r.returncode == 0:
        assert verdicts(r.stdout)["x32 getpid"][0] == "blocked"


def test_int_0x80_is_killed(zones):
    r = zones.escape("int80")
    assert "ESCAPE" not in r.stdout
    assert r.returncode in (SIGSYS_EXIT, 0), r
    if r.returncode == 0:
        assert verdicts(r.stdout)["int 0x80 getpid"][0] == "blocked"


def test_a_second_listener_cannot_take_the_brands_calls(zones):
    """With --kernel-release the brand notifies (uname...): its listener is
    open, and Linux refuses a second one in the same filter chain."""
    assert_contained(zones.escape("listener", opts=["--kernel-release", "4.19.0"]),
                     blocked_with={"second NEW_LISTENER": "EBUSY"})


def test_a_stacked_filter_cannot_loosen_the_brands(zones):
    """A zone whose brand notifies nothing closes its listener; the guest may
    then load a listener of its own, which sees only its own filter's calls."""
    r = zones.escape("listener")
    assert_lines(r, {"second NEW_LISTENER": (("blocked", "ESCAPE"), "EBUSY"),
                     "syslog after stacking": ("blocked", "EPERM"),
                     "io_uring_setup after stacking": ("blocked", "ENOSYS")})
    assert r.returncode in (0, 1), r


# ---- the terminal, sockets, pids, network ---------------------------------------------

def test_tiocsti_on_the_callers_terminal(zones):
    master, slave = pty.openpty()
    try:
        r = zones.escape("tiocsti", stdin=slave)
        os.set_blocking(slave, False)
        try:
            injected = os.read(slave, 64)
        except BlockingIOError:
            injected = b""
        assert b"#" not in injected
        assert_contained(r, blocked_with={"TIOCSTI on stdin": ("EPERM", "EIO")})
    finally:
        os.close(master)
        os.close(slave)


def test_host_abstract_socket_with_net_none(zones):
    name = f"lxb-sec-{os.getpid()}-{os.urandom(4).hex()}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind("\0" + name)
        s.listen(4)
        s.setblocking(False)
        r = zones.escape("abstract", name, opts=["--net", "none"])
        with pytest.raises(BlockingIOError):
            s.accept()
        assert_contained(r, blocked_with={"connect to the host's abstract socket": "ECONNREFUSED"})
    finally:
        s.close()


def test_host_pids_are_invisible(zones):
    assert_contained(zones.escape("kill", str(os.getpid())), blocked_with={"kill(host pid, 0)": "ESRCH"})


def test_only_loopback_with_net_none(zones):
    r = zones.sh("ls /sys/class/net; tail -n +3 /proc/net/dev | cut -d: -f1", opts=["--net", "none"])
    assert r.returncode == 0, r.stderr
    assert set(r.stdout.split()) == {"lo"}, r.stdout


# ---- host-wide syscalls: EPERM (io_uring: ENOSYS) in the kernel ---------------------------

HOSTWIDE = [("init_module", "EPERM"), ("finit_module", "EPERM"), ("kexec_load", "EPERM"),
            ("kexec_file_load", "EPERM"), ("reboot", "EPERM"), ("swapon", "EPERM"), ("swapoff", "EPERM"),
            ("perf_event_open (all processes, cpu 0)", "EPERM"), ("bpf", "EPERM"),
            ("clock_settime", "EPERM"), ("settimeofday", "EPERM"), ("adjtimex", "EPERM"),
            ("clock_adjtime", "EPERM"), ("acct", "EPERM"), ("iopl", "EPERM"), ("ioperm", "EPERM"),
            ("syslog read size", "EPERM"), ("quotactl", "EPERM"), ("vhangup", "EPERM"),
            ("io_uring_setup", "ENOSYS")]


def _modules():
    try:
        with open("/proc/modules") as f:
            return sorted(line.split()[0] for line in f)
    except FileNotFoundError:   # a kernel without modules
        return []


@pytest.mark.parametrize("attempt,err", HOSTWIDE, ids=[a.split()[0] for a, _ in HOSTWIDE])
def test_host_wide_syscall(zones, attempt, err):
    before = _modules()
    assert_lines(cached(zones, "hostwide"), {attempt: ("blocked", err)})
    assert _modules() == before


def test_userfaultfd_for_kernel_faults(zones):
    with open("/proc/sys/vm/unprivileged_userfaultfd") as f:
        if f.read().strip() != "0":
            pytest.skip("vm.unprivileged_userfaultfd is 1 on this host: anyone may")
    assert_contained(zones.escape("userfaultfd"), blocked_with={"userfaultfd (kernel faults)": "EPERM"})


def test_rlimits_cannot_be_raised_past_hard(zones):
    r = zones.escape("rlimit")
    v = assert_contained(r)
    raised = [k for k in v if k.startswith("raise ")]
    assert raised, r.stdout
    for k in raised:
        assert v[k] == ("blocked", "EPERM"), k


def test_mknod_of_the_host_disk_and_dev_mem(zones):
    dev = os.stat("/").st_dev
    r = zones.escape("mknod", str(os.major(dev)), str(os.minor(dev)))
    v = assert_contained(r)
    for k in v:
        if k.startswith("mknod "):
            assert v[k] == ("blocked", "EPERM") or v[k][1] == "created", k
        if k.startswith("open "):
            assert v[k][0] == "blocked", k


# ---- /sys and /proc -------------------------------------------------------------------------

SYS_FILES = ["/sys/kernel/uevent_helper", "/sys/power/state", "/sys/kernel/mm/transparent_hugepage/enabled",
             "/sys/module/printk/parameters/time", "/sys/kernel/profiling"]


def test_sys_is_not_writable(zones):
    v = assert_contained(zones.escape("open-w", *SYS_FILES))
    assert any(verdict == "blocked" for verdict, _ in v.values())


def test_a_fresh_sysfs_is_not_writable(zones):
    assert_contained(zones.escape("fresh-sysfs", *SYS_FILES))


def test_sysrq_trigger(zones):
    v = assert_contained(zones.escape("open-w", "/proc/sysrq-trigger"))
    assert v["open /proc/sysrq-trigger for writing"][0] in ("blocked", "contained")


MASKED = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/kpagecount",
          "/proc/kpageflags", "/proc/kpagecgroup", "/proc/acpi", "/sys/firmware"]


@pytest.mark.parametrize("path", MASKED)
def test_host_kernel_files_are_masked(zones, path):
    v = assert_lines(cached(zones, "masked", *MASKED), {path: (("blocked", "contained", "info"), None)})
    assert v[path][0] != "info" or v[path][1] == "absent"


# ---- a nested user namespace, the guest's own /proc -----------------------------------------

def test_a_nested_user_namespace_gains_nothing_on_the_host(zones):
    before = os.stat("/dev/null")
    r = zones.escape("unshare-caps", zones.marker)
    assert os.stat("/dev/null") == before
    assert_contained(r, blocked_with={"nested: open core_pattern for writing": ("EACCES", "EROFS", "EPERM"),
                                      "nested: sethostname": "EPERM",
                                      "nested: chmod /dev/null (same mode)": "EPERM",
                                      "nested: mount cgroup": "EPERM"})


def test_oom_score_adj_and_id_maps(zones):
    assert_contained(zones.escape("self-proc"),
                     blocked_with={"oom_score_adj -1000": "EACCES", "rewrite uid_map": "EPERM",
                                   "rewrite gid_map": "EPERM"})
