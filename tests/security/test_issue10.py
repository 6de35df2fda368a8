"""The reproductions of issue 10, each contained: as root and as an ordinary user.

Zone root is never host root (run by root, zone ids 0-65535 are host ids
LXB_ID_BASE.., the rootfs shifted on disk once); host-global sysctls,
cgroupfs and host keyrings are out of reach; :ro binds are locked; the
guest's start-up belongs to lxbrand, not to the user's handlers.  The setup
paths (F14) are in test_setup_paths.py, the limits (R1/R2) in test_limits.py.
"""
import os
import shutil
import stat
import subprocess

import pytest

import lxbrand
from lxbrand import Zone, ZoneConfigError

from .conftest import (ESCAPE, LXB_ID_BASE, TIMEOUT, USER_GID, USER_UID, _libc, assert_contained, in_child,
                       host_sysctls, lxrun_root, make_tiny, verdicts)

def expected_owner(zones) -> int:
    """The host uid of zone uid 0: LXB_ID_BASE as root, the user as a user."""
    return LXB_ID_BASE if zones.who == "root" else USER_UID


# ---- K1: host-global sysctls --------------------------------------------

def test_k1_host_sysctls_are_read_only(deb_zones):
    before = host_sysctls()
    r = deb_zones.escape("sysctl", *(f"/proc/sys/{s}" for s in before))
    v = assert_contained(r)
    assert host_sysctls() == before
    for s in before:
        assert v[f"rewrite /proc/sys/{s}"][0] == "blocked", r.stdout


def test_k1_issue_reproduction_core_pattern(deb_zones):
    before = host_sysctls()
    r = deb_zones.sh("cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern && echo WRITABLE")
    assert "WRITABLE" not in r.stdout
    assert host_sysctls() == before


def test_k1_the_zones_own_sysctls_stay_writable(deb_zones):
    """net.* belongs to the zone's network namespace (--net none): a container
    may write it.  The zone's hostname is its own (sethostname)."""
    host = os.uname().nodename
    r = deb_zones.escape("sysctl", "+/proc/sys/net/ipv4/ip_forward", "+/proc/sys/net/ipv4/ip_default_ttl",
                         opts=["--net", "none"])
    v = assert_contained(r)
    assert v["rewrite /proc/sys/net/ipv4/ip_forward"][1].startswith("ok"), r.stdout
    assert v["rewrite /proc/sys/net/ipv4/ip_default_ttl"][1].startswith("ok"), r.stdout
    r = deb_zones.sh("hostname lxb-renamed && hostname")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["lxb-renamed"]
    assert os.uname().nodename == host


# ---- F12: zone root is not host root ---------------------------------------

def _run_as_host_user(path: str) -> str:
    return subprocess.run([path, "whoami"], user=USER_UID, group=USER_GID, extra_groups=[],
                          capture_output=True, text=True, timeout=TIMEOUT).stdout


def _check_planted(zones, path: str) -> None:
    """A setuid file planted by the zone's root is not setuid host root, and a
    host user who runs it does not become root."""
    try:
        st = os.lstat(path)
        assert not (st.st_mode & stat.S_ISUID and st.st_uid == 0), f"{path}: setuid host root"
        assert not (st.st_mode & stat.S_ISGID and st.st_gid == 0), f"{path}: setgid host root"
        assert st.st_uid == expected_owner(zones), f"{path}: owned by host uid {st.st_uid}"
        out = _run_as_host_user(path)
        assert out.startswith("euid ") and not out.startswith("euid 0 "), out
    finally:
        if os.path.lexists(path):
            os.unlink(path)


def test_f12_setuid_planted_in_the_rootfs(deb_zones):
    r = deb_zones.escape("plant", "/usr/local/bin/.lxb-suid")
    assert r.returncode == 0, r.stdout + r.stderr
    _check_planted(deb_zones, deb_zones.rootfs + "/usr/local/bin/.lxb-suid")


def test_f12_setuid_planted_in_a_rw_bind(deb_zones):
    d = deb_zones.host_dir("rw")
    r = deb_zones.escape("plant", "/mnt/rw/.lxb-suid", opts=["--bind", f"{d}:/mnt/rw"])
    assert r.returncode == 0, r.stdout + r.stderr
    _check_planted(deb_zones, os.path.join(d, ".lxb-suid"))


def test_f12_issue_reproduction_dash(deb_root):
    path = deb_root.rootfs + "/usr/local/bin/.x"
    try:
        r = deb_root.sh("cp /bin/dash /usr/local/bin/.x; chmod 4755 /usr/local/bin/.x")
        assert r.returncode == 0, r.stderr
        st = os.lstat(path)
        assert not (st.st_mode & stat.S_ISUID and st.st_uid == 0)
    finally:
        if os.path.lexists(path):
            os.unlink(path)


def test_zone_root_maps_to_the_id_base(deb_root):
    r = deb_root.sh("cat /proc/self/uid_map /proc/self/gid_map")
    assert r.returncode == 0, r.stderr
    assert [line.split() for line in r.stdout.splitlines()] == [["0", str(LXB_ID_BASE), "65536"]] * 2


@pytest.fixture
def fresh_tree(deb_root, escape_bin):
    """A busybox rootfs root has just made: owned by host ids 0 and 1000, a
    setuid-root file in it, never run (so never shifted)."""
    root = make_tiny(deb_root.workdir, escape_bin)
    shutil.copy(f"{root}/bin/busybox", f"{root}/bin/suid")
    os.chmod(f"{root}/bin/suid", 0o4755)
    with open(f"{root}/etc/user-file", "w") as f:
        f.write("user's\n")
    os.chown(f"{root}/etc/user-file", 1000, 1000)
    return root


def test_rootfs_looks_root_owned_inside(deb_root, fresh_tree):
    r = deb_root.on(fresh_tree).run("/bin/stat", "-c", "%u:%g %a", "/", "/etc/passwd", "/bin/suid",
                                    "/etc/user-file")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:4] == ["0:0 755", "0:0 644", "0:0 4755", "1000:1000 644"], r.stdout


def test_rootfs_shift_is_on_disk_and_recorded(deb_root, fresh_tree):
    """lchown u -> LXB_ID_BASE+u once, modes kept, a trusted.* xattr on the top."""
    assert not any(n.startswith("trusted.") for n in os.listxattr(fresh_tree))
    r = deb_root.on(fresh_tree).run("/bin/true")
    assert r.returncode == 0, r.stderr
    assert any(n.startswith("trusted.") for n in os.listxattr(fresh_tree)), os.listxattr(fresh_tree)
    for path, owner, mode in (("", LXB_ID_BASE, 0o755), ("/etc/passwd", LXB_ID_BASE, 0o644),
                              ("/bin/suid", LXB_ID_BASE, 0o4755), ("/etc/user-file", LXB_ID_BASE + 1000, 0o644)):
        st = os.lstat(fresh_tree + path)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (owner, owner, mode), path
    assert os.lstat(fresh_tree + "/bin/sh").st_uid == LXB_ID_BASE, "symlinks too (lchown)"
    r = deb_root.on(fresh_tree).run("/bin/true")     # once: a second run changes nothing
    assert os.lstat(fresh_tree + "/etc/user-file").st_uid == LXB_ID_BASE + 1000


def test_files_the_zone_makes_belong_to_its_host_range(deb_zones):
    d = deb_zones.host_dir("owners")
    r = deb_zones.sh("touch /mnt/o/a && mkdir /mnt/o/c && touch /mnt/o/b && chown 1000:1000 /mnt/o/b",
                     opts=["--bind", f"{d}:/mnt/o"])
    base = expected_owner(deb_zones)
    if deb_zones.who == "user":   # only one id maps without subordinate ids: no chown to 1000
        assert (os.lstat(f"{d}/a").st_uid, os.lstat(f"{d}/c").st_uid) == (base, base)
        return
    assert r.returncode == 0, r.stderr
    assert (os.lstat(f"{d}/a").st_uid, os.lstat(f"{d}/a").st_gid) == (base, base)
    assert (os.lstat(f"{d}/b").st_uid, os.lstat(f"{d}/b").st_gid) == (base + 1000, base + 1000)
    assert os.lstat(f"{d}/c").st_uid == base


def test_setuid_in_the_zone_gains_only_zone_root(deb_root):
    """no_new_privs stays off: a setuid-root program works inside the zone,
    and zone root is the unprivileged host id LXB_ID_BASE."""
    path = deb_root.rootfs + "/usr/local/bin/.lxb-suid2"
    try:
        r = deb_root.escape("plant", "/usr/local/bin/.lxb-suid2")
        assert r.returncode == 0, r.stderr
        r = deb_root.sh("/usr/local/bin/.lxb-suid2 whoami; grep NoNewPrivs /proc/self/status; cat /proc/self/uid_map",
                       opts=["--uid", "1000", "--gid", "1000"])
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].startswith("euid 0 uid 1000"), r.stdout
        assert lines[1].split() == ["NoNewPrivs:", "0"]
        assert lines[2].split()[:2] == ["0", str(LXB_ID_BASE)]
    finally:
        if os.path.lexists(path):
            os.unlink(path)


# ---- F11: :ro binds stay read-only -------------------------------------------

def test_f11_ro_bind_cannot_be_remounted_rw(deb_zones):
    d = deb_zones.host_dir("ro")
    r = deb_zones.escape("remount-rw", "/ro", opts=["--bind", f"{d}:/ro:ro"])
    assert os.listdir(d) == []
    assert_contained(r, blocked_with={"remount,bind,rw": "EPERM", "write after remount": "EROFS"})


def test_f11_issue_reproduction(deb_zones):
    d = deb_zones.host_dir("ro")
    r = deb_zones.sh("mount -o remount,bind,rw /ro && echo x > /ro/f", opts=["--bind", f"{d}:/ro:ro"])
    assert r.returncode != 0
    assert os.listdir(d) == []


# ---- P10, P9: keyrings ----------------------------------------------------------

KEYCTL_JOIN_SESSION_KEYRING = 1
KEY_SPEC_SESSION_KEYRING = -3


def _host_key(desc: str, payload: bytes):
    """pre-hook: in lxrun's process (root, or the user), a session keyring of
    its own holding a `user` key; lxrun then runs with it.  The test's own
    keyrings are untouched, and the key goes with the process."""
    def pre():
        session = _libc.syscall(250, KEYCTL_JOIN_SESSION_KEYRING, None)
        serial = _libc.syscall(248, b"user", desc.encode(), payload, len(payload), KEY_SPEC_SESSION_KEYRING)
        if session < 0 or serial < 0:
            raise OSError("keyctl/add_key failed on the host")
        return [str(serial), desc, str(session)]
    return pre


def test_p10_the_callers_session_keyring_is_not_inherited(deb_zones):
    desc = f"lxb-p10-{os.getpid()}"
    r = deb_zones.escape("keys", pre=_host_key(desc, b"s3cret-p10"))
    assert "s3cret" not in r.stdout
    v = verdicts(r.stdout)
    assert v["session keyring"][0] == "contained", r.stdout
    assert v["keyctl search the session keyring"][0] == "blocked"
    assert v["keyctl read the host's key"][0] == "blocked"


def test_p9_host_keys_are_neither_listed_nor_linkable(deb_zones):
    desc = f"lxb-p9-{os.getpid()}"
    r = deb_zones.escape("keys", pre=_host_key(desc, b"s3cret-p9"))
    v = verdicts(r.stdout)
    assert desc not in r.stdout
    assert v["/proc/keys"][0] == "contained", r.stdout
    assert v["keyctl link the host's key"][0] == "blocked", r.stdout
    if deb_zones.who == "root":
        # run by a user, the zone is that user: Linux lets it view (not read)
        # the user's own keys by serial, as any process of the user may
        assert_contained(r)
        assert v["keyctl describe the host's key"][0] == "blocked"
        assert v["keyctl describe the host's session keyring"][0] == "blocked"


# ---- K3: cgroupfs ----------------------------------------------------------------

K3_SCRIPT = r"""
try() { sh -c "$1" 2>/dev/null && echo "ESCAPE: $2"; }
mkdir -p /tmp/v1 /tmp/v1p /tmp/v2
if mount -t cgroup -o memory none /tmp/v1 2>/dev/null; then
  echo "v1 limit $(cat /tmp/v1/memory.limit_in_bytes)"
  try 'echo 8589934592 > /tmp/v1/memory.limit_in_bytes' 'raised the v1 memory limit'
  try 'echo 1 > /tmp/v1/memory.oom_control' 'disabled the OOM killer'
  try 'mkdir /tmp/v1/x' 'made a v1 cgroup'
  try 'echo $$ > /tmp/v1/cgroup.procs' 'moved itself'
  echo "v1 dirs $(find /tmp/v1 -mindepth 1 -type d | wc -l)"
fi
if mount -t cgroup -o pids none /tmp/v1p 2>/dev/null; then
  try 'echo max > /tmp/v1p/pids.max' 'lifted pids.max'
fi
if mount -t cgroup2 none /tmp/v2 2>/dev/null; then
  try 'echo +memory > /tmp/v2/cgroup.subtree_control' 'enabled v2 controllers'
  try 'mkdir /tmp/v2/x' 'made a v2 cgroup'
fi
echo done
"""


def test_k3_cgroupfs_gives_no_way_to_lift_limits(deb_zones):
    """Mounting cgroupfs in the zone is allowed (as in any container with a
    cgroup namespace) and harmless: it shows the zone's own cgroup, as the
    namespace's root, and its files belong to host root, so nothing can be
    raised, created or moved (SECURITY.md, K3)."""
    opts = ["--memory", "256M", "--pids", "200"] if deb_zones.who == "root" else []
    r = deb_zones.sh(K3_SCRIPT, opts=opts)
    assert r.returncode == 0 and r.stdout.endswith("done\n"), r.stdout + r.stderr
    assert "ESCAPE" not in r.stdout, r.stdout
    if deb_zones.who == "root":
        assert "v1 limit 268435456\n" in r.stdout, r.stdout    # the zone's own cgroup, not the host's
        assert "v1 dirs 0\n" in r.stdout, r.stdout


# ---- F13: host device inodes ---------------------------------------------------

DEVS = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]


def test_f13_host_device_nodes_cannot_be_chmoded(deb_zones):
    before = {d: os.stat(d) for d in DEVS}
    r = deb_zones.escape("chmod-same", *DEVS)
    assert {d: os.stat(d) for d in DEVS} == before
    assert_contained(r, blocked_with={f"chmod {d} (same mode)": "EPERM" for d in DEVS})


def test_f13_issue_reproduction(deb_zones):
    before = os.stat("/dev/null")
    r = deb_zones.sh("chmod 666 /dev/null")
    assert r.returncode != 0
    assert os.stat("/dev/null") == before


# ---- S3: renaming the zone from a nested user namespace -------------------------

def test_s3_nested_namespace_cannot_rename_the_zone(deb_zones):
    r = deb_zones.sh("unshare -U -r hostname hacked; hostname",
                 opts=["--uid", "1000", "--gid", "1000", "--kernel-release", "4.19.0"])
    assert r.stdout.split()[-1:] == ["zone"], r.stdout + r.stderr


def test_s3_without_a_kernel_release(deb_zones):
    r = deb_zones.sh("unshare -U -r hostname hacked; hostname", opts=["--uid", "1000", "--gid", "1000"])
    assert r.stdout.split()[-1:] == ["zone"], r.stdout + r.stderr


# ---- P6/P7: the library's stdio -----------------------------------------------------
# Library calls run in a forked child (in_child): a hang fails the test, not the battery.

def test_p6_directory_stdin_is_refused(deb_root):
    fd = os.open(deb_root.workdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(ZoneConfigError):
            in_child(lambda: Zone(deb_root.rootfs).run([ESCAPE, "stdin-dir", deb_root.marker], stdin=fd,
                                                        capture_output=True, timeout=TIMEOUT))
    finally:
        os.close(fd)


@pytest.mark.parametrize("which", ["stdin", "stdout", "stderr"])
def test_p6_o_path_stdio_is_refused(deb_root, which):
    fd = os.open(deb_root.workdir, os.O_PATH)
    try:
        with pytest.raises(ZoneConfigError):
            in_child(lambda: Zone(deb_root.rootfs).run([ESCAPE, "fds"], timeout=TIMEOUT, **{which: fd}))
    finally:
        os.close(fd)


def test_p7_a_host_file_as_stdout_cannot_be_made_setuid_root(deb_root):
    path = os.path.join(deb_root.workdir, "p7-stdout")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        r = in_child(lambda: Zone(deb_root.rootfs).run([ESCAPE, "stdout-setuid"], stdout=fd,
                                                        stderr=subprocess.PIPE, timeout=TIMEOUT))
        st = os.stat(path)
        assert not (st.st_mode & stat.S_ISUID), oct(st.st_mode)
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o644
        with open(path) as f:
            out = f.read()
        v = verdicts(out)
        assert v["fchown stdout 0:0"] == ("blocked", "EPERM"), out
        assert v["fchmod stdout 4755"] == ("blocked", "EPERM"), out
        assert r.returncode == 0
    finally:
        os.close(fd)
        os.unlink(path)


# ---- S4/S5: Python handlers cannot CONTINUE after reading --------------------------

MKDIR = "mkdir /tmp/lxb-s4 2>/dev/null; test -d /tmp/lxb-s4 && echo MADE || echo REFUSED"


def _mkdir_with_handler(root, read_first: bool):
    def run():
        z = Zone(root)

        def handler(call):
            if read_first:
                call.read_str(call.raw[1] if call.name == "mkdirat" else call.raw[0])
            return lxbrand.CONTINUE
        z.handler("mkdir")(handler)
        z.handler("mkdirat")(handler)
        return z.run(["/bin/sh", "-c", MKDIR], capture_output=True, timeout=TIMEOUT)
    return in_child(run)


def test_s4_continue_after_reading_guest_memory_is_refused(deb_root):
    try:
        r = _mkdir_with_handler(deb_root.rootfs, True)
    except lxbrand.LxbrandError:
        return   # refused outright: also contained
    assert r.stdout.split() == [b"REFUSED"], r


def test_s4_continue_without_reading_still_works(deb_root):
    r = _mkdir_with_handler(deb_root.rootfs, False)
    assert r.stdout.split() == [b"MADE"], r


# ---- the guest's start-up is not the user's ---------------------------------------

def test_startup_deny_sendmsg_leaves_the_guest_supervised(deb_zones):
    r = deb_zones.run("/bin/uname", "-r", opts=["--deny", "sendmsg", "--kernel-release", "4.19.0"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["4.19.0"]


@pytest.mark.parametrize("syscall", ["setresuid", "setresgid", "setgroups"])
def test_startup_deny_cannot_keep_root(deb_root, syscall):
    r = deb_root.run("/usr/bin/id", opts=["--deny", syscall, "--uid", "1000", "--gid", "1000"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["uid=1000", "gid=1000", "groups=1000"], r.stdout


@pytest.mark.parametrize("syscall", ["setresuid", "setresgid", "setgroups"])
def test_startup_handler_cannot_keep_root(deb_root, syscall):
    def run():
        z = Zone(deb_root.rootfs, uid=1000, gid=1000)
        z.handler(syscall)(lambda call: 0)
        return z.run(["/usr/bin/id"], capture_output=True, timeout=TIMEOUT)
    r = in_child(run)
    assert r.returncode == 0, r
    assert r.stdout.split()[:3] == [b"uid=1000", b"gid=1000", b"groups=1000"], r.stdout


def test_startup_sendmsg_handler_does_not_hang(deb_root):
    """A handler for sendmsg must not catch the listener's hand-off (it would
    wait for a supervisor that waits for it)."""
    def run():
        z = Zone(deb_root.rootfs)
        z.handler("sendmsg")(lambda call: lxbrand.CONTINUE)
        return z.run(["/bin/sh", "-c", "echo started"], capture_output=True, timeout=15)
    r = in_child(run, timeout=25)
    assert (r.returncode, r.stdout) == (0, b"started\n"), r


# ---- io_uring: a handler cannot CONTINUE what the brand refuses -----------------------

def test_io_uring_handler_cannot_continue(deb_root):
    def run():
        z = Zone(deb_root.rootfs)
        z.handler("io_uring_setup")(lambda call: lxbrand.CONTINUE)
        return z.run([ESCAPE, "io_uring"], capture_output=True, timeout=TIMEOUT)
    try:
        r = in_child(run)
    except lxbrand.LxbrandError:
        return   # refused when registered or when the zone starts: contained
    out = r.stdout.decode()
    v = verdicts(out)
    assert v.get("io_uring_setup", ("?",))[0] == "blocked", out


# ---- A1: --hostname ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["evil\n10.0.0.1 victim", "a\tb", "a b", "a\rb"])
def test_a1_hostname_with_whitespace_is_refused(deb_root, name):
    r = lxrun_root(["--hostname", name, deb_root.rootfs, "/bin/true"])
    assert r.returncode == 125
    assert r.stderr.startswith("lxrun:") and r.stderr.count("\n") == 1, r.stderr
    with pytest.raises(ZoneConfigError):
        Zone(deb_root.rootfs, hostname=name)
