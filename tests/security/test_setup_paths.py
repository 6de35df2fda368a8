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
