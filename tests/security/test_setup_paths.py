"""Set-up never leaves the rootfs (F14): a hostile rootfs whose /etc, /dev,
/tmp, /proc or /sys is a symlink to a host directory, or whose bind
destination or --cwd goes through one, makes lxrun touch nothing outside it.

Each rootfs here is a small busybox tree of the test's own; the symlinks
point at a host directory of the test's own (writable by the user running
lxrun, as a hostile rootfs would choose), whose contents must not change.
"""
import os
import shutil

import pytest

from .conftest import make_tiny

@pytest.fixture
def tiny(zones, escape_bin):
    """make() -> a fresh busybox rootfs of this test's own, owned by the
    runner's user."""
    return lambda: make_tiny(zones.workdir, escape_bin, zones.uid, zones.gid)


def host_target(zones) -> str:
    d = zones.host_dir("target")
    with open(f"{d}/host-file", "w") as f:
        f.write("host data\n")
    os.chown(f"{d}/host-file", zones.uid, zones.gid)
    return d


def snapshot(d: str) -> list:
    out = []
    for dirpath, dirnames, filenames in os.walk(d):
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else None
            out.append((os.path.relpath(p, d), st.st_mode, st.st_uid, st.st_size, data))
    return sorted(out)


def run_in(zones, root, *cmd, opts=()):
    return zones.on(root).run(*cmd, opts=opts)


def assert_ran_or_refused(r) -> None:
    """lxrun either ran the zone or refused in one line (exit 125)."""
    if r.returncode == 125:
        assert r.stderr.startswith("lxrun: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr, r.stderr


def _link(root: str, entry: str, target: str, kind: str) -> None:
    path = f"{root}/{entry}"
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
    # relative: enough ../ to climb out of any rootfs, then the host path
    os.symlink(target if kind == "absolute" else "../" * 16 + target.lstrip("/"), path)
    os.lchown(path, *(os.lstat(root).st_uid, os.lstat(root).st_gid))


@pytest.mark.parametrize("kind", ["absolute", "relative"])
@pytest.mark.parametrize("entry", ["etc", "dev", "tmp", "proc", "sys"])
def test_rootfs_dir_symlinked_to_a_host_dir(zones, tiny, entry, kind):
    target = host_target(zones)
    before = snapshot(target)
    root = tiny()
    _link(root, entry, target, kind)
    r = run_in(zones, root, "/bin/sh", "-c", f"cat /{entry}/host-file; ls -a /{entry}/; echo x > /{entry}/new")
    assert snapshot(target) == before, f"the host directory changed: {r}"
    assert "host data" not in r.stdout
    assert_ran_or_refused(r)


def test_f14_issue_reproduction(zones, tiny):
    target = zones.host_dir("etc")
    root = tiny()
    _link(root, "etc", target, "absolute")
    r = run_in(zones, root, "/bin/busybox", "true")
    assert os.listdir(target) == [], "lxrun created files in a host directory"
    assert_ran_or_refused(r)


def test_etc_hosts_symlinked_to_a_host_file(zones, tiny):
    target = zones.host_dir("hosts")
    host_file = f"{target}/hosts"
    open(host_file, "w").close()
    os.chown(host_file, zones.uid, zones.gid)
    before = snapshot(target)
    root = tiny()
    os.symlink(host_file, f"{root}/etc/hosts")
    r = run_in(zones, root, "/bin/sh", "-c", "echo 10.6.6.6 pwned >> /etc/hosts; cat /etc/hosts")
    assert snapshot(target) == before
    assert_ran_or_refused(r)


def test_bind_destination_through_a_symlink(zones, tiny):
    target = host_target(zones)
    before = snapshot(target)
    root = tiny()
    _link(root, "lnk", target, "absolute")
    src = zones.host_dir("src")
    r = run_in(zones, root, "/bin/sh", "-c", "ls /lnk/sub; cat /lnk/host-file", opts=["--bind", f"{src}:/lnk/sub/d"])
    assert snapshot(target) == before
    assert "host data" not in r.stdout
    assert_ran_or_refused(r)


def test_cwd_through_a_symlink(zones, tiny):
    target = host_target(zones)
    root = tiny()
    _link(root, "work", target, "absolute")
    r = run_in(zones, root, "/bin/sh", "-c", "pwd; ls; cat host-file", opts=["--cwd", "/work"])
    assert "host data" not in r.stdout and "host-file" not in r.stdout
    assert_ran_or_refused(r)


def test_no_rootfs_fd_reachable_from_the_guest(zones, tiny):
    """F14's second half: init's open rootfs fd, reached as /proc/N/fd/M/.."""
    root = tiny()
    r = run_in(zones, root, "/bin/sh", "-c",
               f"for p in /proc/[0-9]*; do for f in $p/fd/*; do ls $f/..{zones.marker} 2>/dev/null; done; done; "
               "echo done")
    assert r.stdout.split() == ["done"], r


# ---- mount points: set-up writes nothing to a rootfs (issue 15) -------------

def tree_state(d: str) -> list:
    """Every entry of d with its mode, owner, size and mtime (d's own too):
    a set-up that made, removed or touched anything changes it."""
    st = os.lstat(d)
    out = [(".", st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns)]
    for dirpath, dirnames, filenames in os.walk(d):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out.append((os.path.relpath(p, d), st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns))
    return sorted(out)


def bare_tiny(zones, tiny) -> str:
    """A tiny rootfs without the zone's own mount points (/proc, /dev, /tmp,
    /sys), run once (run by root, lxrun shifts its ids first: not set-up)."""
    root = tiny()
    for d in ("proc", "dev", "tmp", "sys"):
        os.rmdir(f"{root}/{d}")
    r = run_in(zones, root, "/bin/true")
    assert r.returncode == 0, r
    return root


@pytest.mark.parametrize("opts", [[], ["--read-only"]], ids=["rw", "read-only"])
def test_mount_points_are_not_made_in_the_rootfs(zones, tiny, opts):
    root = bare_tiny(zones, tiny)
    src = zones.host_dir("src")
    with open(f"{src}/data", "w") as f:
        f.write("bound\n")
    before = tree_state(root)
    r = run_in(zones, root, "/bin/sh", "-c",
               "cat /newdir/sub/data; test -e /proc/1/status && echo proc; test -c /dev/null && echo dev; "
               "echo t > /tmp/t && echo tmp; ls -d /sys/kernel >/dev/null && echo sys; echo w > /newdir/sub/w",
               opts=["--bind", f"{src}:/newdir/sub", *opts])
    assert r.returncode == 0, r
    assert r.stdout.split() == ["bound", "proc", "dev", "tmp", "sys"], r
    assert tree_state(root) == before, "set-up wrote to the rootfs"
    assert open(f"{src}/w").read() == "w\n"


def test_mount_points_keep_the_rootfs_writable_below_them(zones, tiny):
    """The shadowed / still shows the rootfs's entries, and writes below
    them reach the rootfs; only new top-level entries live in the zone."""
    root = bare_tiny(zones, tiny)
    src = zones.host_dir("src")
    r = run_in(zones, root, "/bin/sh", "-c",
               "echo kept > /etc/new-file; mkdir /top-level && echo made; ls /",
               opts=["--bind", f"{src}:/src"])
    assert r.returncode == 0, r
    assert {"bin", "etc", "src", "proc", "top-level"} <= set(r.stdout.split()), r
    assert open(f"{root}/etc/new-file").read() == "kept\n"
    assert not os.path.lexists(f"{root}/src") and not os.path.lexists(f"{root}/top-level")
    assert not os.path.lexists(f"{root}/proc")


def test_read_only_holds_over_shadowed_directories(zones, tiny):
    root = bare_tiny(zones, tiny)
    src = zones.host_dir("src")
    before = tree_state(root)
    r = run_in(zones, root, "/bin/sh", "-c",
               "for p in /etc/x /x /bin/x; do touch $p 2>/dev/null && echo wrote $p; done; echo end",
               opts=["--read-only", "--bind", f"{src}:/src"])
    assert r.stdout.split() == ["end"], r
    assert tree_state(root) == before


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_shadowed_directory_with_symlinks_to_the_host(zones, tiny, kind):
    """A hostile rootfs's symlinks in a directory set-up shadows are copied,
    never followed: the host directory they name is neither listed nor
    changed, and a bind through one is refused or lands inside the root."""
    target = host_target(zones)
    before = snapshot(target)
    root = bare_tiny(zones, tiny)
    _link(root, "lnk", target, kind)
    _link(root, "usr", target, kind)
    src = zones.host_dir("src")
    r = run_in(zones, root, "/bin/sh", "-c", "cat /lnk/host-file; ls /lnk/ /usr/; echo x > /lnk/new; echo end",
               opts=["--bind", f"{src}:/newdir", "--bind", f"{src}:/usr/sub"])
    assert snapshot(target) == before
    assert "host data" not in r.stdout
    assert_ran_or_refused(r)
    r = run_in(zones, root, "/bin/sh", "-c", "cat /lnk/host-file; ls /lnk/; echo x > /lnk/new; echo end",
               opts=["--bind", f"{src}:/newdir"])
    assert r.returncode == 0 and r.stdout.split()[-1] == "end", r
    assert snapshot(target) == before
    assert "host data" not in r.stdout


def test_no_mount_point_is_made_in_proc_or_sys(zones, tiny):
    """/proc and /sys are never shadowed (their links answer per process):
    a bind below them is refused in one line."""
    root = tiny()
    src = zones.host_dir("src")
    for dst in ("/proc/newdir", "/sys/newdir"):
        r = run_in(zones, root, "/bin/true", opts=["--bind", f"{src}:{dst}"])
        assert r.returncode == 125 and dst in r.stderr, r
        assert_ran_or_refused(r)


# ---- the id shift (SECURITY.md, "the id shift") --------------------------------

_RACER = r"""
import os, sys, time
uid, gid, top, target, n = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
os.setgroups([]); os.setresgid(gid, gid, gid); os.setresuid(uid, uid, uid)
todo = {f"{top}/d{i}" for i in range(n)}
print("ready", flush=True)
deadline, swapped = time.monotonic() + 60, 0
while todo and time.monotonic() < deadline:
    for d in list(todo):
        try:
            st = os.lstat(d)
        except FileNotFoundError:
            todo.discard(d)
            continue
        if st.st_uid != uid:              # root's shift reached it: swap it for a symlink to the host
            os.rename(d, d + ".was")
            os.symlink(target, d)
            todo.discard(d)
            swapped += 1
print("swapped", swapped, flush=True)
"""


def test_the_owner_of_a_rootfs_cannot_steer_roots_id_shift_out_of_it(tiny_root, escape_bin):
    """Root runs lxrun on a rootfs that an ordinary user owns (theirs to
    change while lxrun shifts it).  The user watches the shift reach each of
    20 directories and swaps it for a symlink to a host directory; the shift
    must never follow one (it walked by path: it chowned the host files to
    the zone's ids, and a setuid file swapped the same way between its
    chown and chmod made root chmod a host file)."""
    import subprocess
    import sys
    from .conftest import LXB_ID_BASE, USER_GID, USER_UID, lxrun_root
    workdir = tiny_root.workdir
    target = tiny_root.host_dir("shift-target")
    os.chown(target, 0, 0)
    with open(f"{target}/host-file", "w") as f:
        f.write("host data\n")
    before = snapshot(target)
    root = make_tiny(workdir, escape_bin, USER_UID, USER_GID)
    top, n = f"{root}/var/spool", 20
    os.makedirs(top, exist_ok=True)
    for i in range(n):
        os.makedirs(f"{top}/d{i}/sub")
    for i in range(4000):                 # siblings: the shift's time between a directory's chown and its walk
        open(f"{top}/f{i}", "w").close()
    subprocess.run(["chown", "-R", "-h", f"{USER_UID}:{USER_GID}", root], check=True)
    subprocess.run(["chmod", "-R", "a+rwX", top], check=True)
    racer = subprocess.Popen([sys.executable, "-c", _RACER, str(USER_UID), str(USER_GID), top, target, str(n)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert racer.stdout.readline() == "ready\n"
        r = lxrun_root([root, "/bin/true"], timeout=120)
    finally:
        racer.terminate()
        out = racer.communicate(timeout=30)[0]
    assert snapshot(target) == before, f"root's id shift followed the user's symlink into a host directory: {r}"
    assert os.lstat(root).st_uid == LXB_ID_BASE + USER_UID, "the rootfs was not shifted: the test proves nothing"
    assert "swapped" in out and out.split()[-1] != "0", f"the racer never swapped a directory: {out!r}"
    assert r.returncode == 0, r


def test_root_never_shifts_a_tree_another_users_symlink_points_at(tiny_root, escape_bin):
    """Root runs lxrun on ~alice/tree, which alice made a symlink to a host
    directory (a tree of root's: /etc/ssh, say).  The shift followed it and
    chowned the host directory to the zone's ids; lxrun must refuse in one
    line and leave it as it was."""
    from .conftest import USER_GID, USER_UID, lxrun_root
    workdir = tiny_root.workdir
    host = make_tiny(workdir, escape_bin)                 # a root-owned tree, unshifted
    before = snapshot(host)
    alice = tiny_root.host_dir("alice-home")
    os.chown(alice, USER_UID, USER_GID)
    link = os.path.join(alice, "tree")
    os.symlink(host, link)
    os.lchown(link, USER_UID, USER_GID)
    r = lxrun_root([link, "/bin/true"], timeout=120)
    assert snapshot(host) == before, f"root's id shift followed another user's symlink: {r}"
    assert_ran_or_refused(r)
    assert r.returncode == 125 and "symlink of another user" in r.stderr, r
