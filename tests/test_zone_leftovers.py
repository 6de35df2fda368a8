"""Leftovers of earlier sessions, each checked on real programs of the cached
Debian rootfs, by the C front door (lxrun) and the Python CLI (lxrun-py):

- /etc/hostname says the zone's name, as hostname(1) does, over an empty one
  or one that names the host (debootstrap and mmdebstrap copy the host's);
  `lxrun rootfs create` leaves it empty (csrc/zone_fs.c, lxbrand/rootfs.py);
- init (pid 1) is the zone's root to ps, not "nobody", and the guest reaches
  it no more than before (csrc/zone_init.c init_as_zone_root);
- the launch configuration's memfd is sealed before lxbrand-init reads it,
  and lxbrand-init refuses one that is not (csrc/launcher.c);
- under script(1) with input at its end, lxrun --tty's output has no stray
  NUL (^@): the EOF script sends is the guest's EOF (csrc/pty.c).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest

import lxbrand
from conftest import NOBODY, debian_of_nobody, lxrun_as_user

ENTRIES = ["lxrun", "lxrun-py"]
HANDOVER = "lxrun: front door: "        # what the C front door says, debugging, as it hands over to Python
FRONT_DEBUG = dict(os.environ, LXRUN_DEBUG_FRONTDOOR="1")


def run(entry, *args, **kw):
    """entry (the C front door, lxrun, or the Python CLI, lxrun-py) run
    with args; the front door must serve the run itself."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    kw.setdefault("env", FRONT_DEBUG)
    r = subprocess.run([entry, *map(str, args)], **kw)
    assert HANDOVER not in r.stderr, r.stderr
    return r


@pytest.fixture
def small_root(rootfs, tmp_path):
    """A rootfs of its own /etc with the cached rootfs's /usr bound read-only
    (bookworm's merged /usr: /bin, /lib, /lib64 and /sbin are links into it);
    returns (its path, the --bind option for /usr)."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("bin", "lib", "lib64", "sbin"):
        os.symlink(os.readlink(os.path.join(rootfs, name)), root / name)
    for name in ("passwd", "group"):
        shutil.copy2(os.path.join(rootfs, "etc", name), root / "etc" / name)
    if os.geteuid() == 0:
        # shifted to the zone's host ids now, as lxrun-py would on first use:
        # the front door hands an unshifted tree over to Python
        from lxbrand import idshift
        idshift.ensure_shifted(str(root))
    return str(root), f"{rootfs}/usr:/usr:ro"


# ---- /etc/hostname ------------------------------------------------------------

@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("content", ["host", "", "host-no-newline"])
def test_etc_hostname_is_the_zones_over_an_empty_or_the_hosts(small_root, entry, content):
    root, usr = small_root
    text = {"host": socket.gethostname() + "\n", "": "", "host-no-newline": socket.gethostname()}[content]
    with open(os.path.join(root, "etc", "hostname"), "w") as f:
        f.write(text)
    owner = os.stat(os.path.join(root, "etc", "hostname")).st_uid
    r = run(entry, "--hostname", "box", "--bind", usr, root, "/bin/sh", "-c",
            "cat /etc/hostname; hostname; echo typed > /etc/hostname; cat /etc/hostname")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "box\nbox\ntyped\n"
    # the rootfs keeps its own (the zone's writes end with it), and set-up
    # changes the owner of none with content
    assert open(os.path.join(root, "etc", "hostname")).read() == text
    if text:
        assert os.stat(os.path.join(root, "etc", "hostname")).st_uid == owner


@pytest.mark.parametrize("entry", ENTRIES)
def test_etc_hostname_of_the_rootfs_own_is_kept(small_root, entry):
    root, usr = small_root
    with open(os.path.join(root, "etc", "hostname"), "w") as f:
        f.write("appliance\n")
    r = run(entry, "--hostname", "box", "--bind", usr, root, "/bin/cat", "/etc/hostname")
    assert (r.returncode, r.stdout) == (0, "appliance\n"), r.stderr
    os.unlink(os.path.join(root, "etc", "hostname"))       # none: none made in the rootfs
    r = run(entry, "--bind", usr, root, "/bin/sh", "-c", "test -e /etc/hostname; echo $?")
    assert (r.returncode, r.stdout) == (0, "1\n"), r.stderr
    assert not os.path.exists(os.path.join(root, "etc", "hostname"))


@pytest.mark.parametrize("entry", ENTRIES)
def test_etc_hostname_that_is_a_symlink_to_the_hosts_is_left_alone(small_root, entry):
    """Set-up opens the rootfs's /etc/hostname without following a link: an
    absolute link to the host's /etc/hostname (which names the host) is not
    read on the host nor shown over; in the zone it resolves in the zone."""
    root, usr = small_root
    os.symlink("/etc/hostname", os.path.join(root, "etc", "hostname"))
    r = run(entry, "--hostname", "box", "--bind", usr, root, "/bin/sh", "-c",
            "readlink /etc/hostname; cat /etc/hostname 2>&1; hostname")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "/etc/hostname" and "Too many levels of symbolic links" in lines[1] and lines[2] == "box", r.stdout


@pytest.fixture(scope="module")
def nobodys_debian():
    """The cached rootfs copied for nobody (conftest.debian_of_nobody), once."""
    with debian_of_nobody("lxbrand-leftovers-") as (_, root):
        yield root


def test_etc_hostname_is_the_zones_run_by_a_user(nobodys_debian):
    root = nobodys_debian
    with open(os.path.join(root, "etc", "hostname"), "w") as f:
        f.write(socket.gethostname() + "\n")
    r = lxrun_as_user(NOBODY, NOBODY, "--hostname", "box", root, "/bin/sh", "-c", "cat /etc/hostname; hostname")
    assert (r.returncode, r.stdout) == (0, "box\nbox\n"), r.stderr


def test_rootfs_create_leaves_no_hostname_of_the_hosts(tmp_path):
    """mmdebstrap's hook and debootstrap's (and the fake-root zone's) after
    step empty /etc/hostname, make /etc/hosts where there is none, and leave
    a tree without /etc/hostname without one."""
    from lxbrand import rootfs as rf
    for made_by in ("hook", "after"):
        tree = tmp_path / made_by
        (tree / "etc").mkdir(parents=True)
        (tree / "etc" / "hostname").write_text(socket.gethostname() + "\n")
        if made_by == "hook":
            subprocess.run(["sh", "-c", rf.HOSTS_HOOK, "sh", str(tree)], check=True)
        else:
            rf._zone_files(str(tree))
        assert (tree / "etc" / "hostname").read_text() == ""
        assert (tree / "etc" / "hosts").read_text() == ""
        os.unlink(tree / "etc" / "hostname")
        os.unlink(tree / "etc" / "hosts")
        if made_by == "hook":
            subprocess.run(["sh", "-c", rf.HOSTS_HOOK, "sh", str(tree)], check=True)
        else:
            rf._zone_files(str(tree))
        assert sorted(os.listdir(tree / "etc")) == ["hosts"]


# ---- init is the zone's root ----------------------------------------------------

PS = "ps -o pid=,user=,group= -p 1; ps -o user= -p 2"
REACH = ("kill -0 1 2>/dev/null || echo refused; (echo 1000 > /proc/1/oom_score_adj) 2>/dev/null || echo refused; "
         "for c in 'prlimit --pid 1 --nofile=5' 'renice -n 5 -p 1' 'taskset -p 1 1' 'chrt -i -p 0 1' "
         "'ionice -c3 -p 1' 'cat /proc/1/environ' 'readlink /proc/1/exe' 'cat /proc/1/maps'; do "
         "$c >/dev/null 2>&1 && echo \"done: $c\" || echo refused; done; "
         "kill -KILL 1; kill -STOP 1; sleep 0.2; ps -o pid=,stat= -p 1")


@pytest.mark.parametrize("entry", ENTRIES)
def test_init_is_the_zones_root_to_ps_and_out_of_reach(rootfs, entry):
    """ps says init is root, as the guest's root is; and the guest's root
    reaches init no more than before (tests/test_zone.py
    test_init_is_out_of_a_root_run_guests_reach, here by both entry points):
    pid 1 of the zone ignores KILL and STOP from inside and sleeps on."""
    if os.geteuid() != 0:
        pytest.skip("run by a user, init has always had the zone root's ids")
    r = run(entry, rootfs, "/bin/sh", "-c", PS + "; " + REACH)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].split() == ["1", "root", "root"] and lines[1] == "root", r.stdout
    assert lines[2:12] == ["refused"] * 10, r.stdout
    assert lines[12].split()[0] == "1" and lines[12].split()[1].startswith("S"), r.stdout


def test_init_is_the_zones_root_to_ps_run_by_a_user(nobodys_debian):
    r = lxrun_as_user(NOBODY, NOBODY, nobodys_debian, "/bin/sh", "-c", PS)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "root", "root", "root"], r.stdout


def test_init_has_the_zone_roots_effective_ids_only(rootfs):
    """Seen from the host, init's effective and file system ids are the zone
    root's (LXB_ID_BASE, run by root), its real and saved ids host root's of
    its own namespace, as before; its capabilities are those it had."""
    if os.geteuid() != 0:
        pytest.skip("run by a user, init has the user's ids")
    from lxbrand import idshift
    p = subprocess.Popen(["lxrun", rootfs, "/bin/sleep", "30"])
    try:
        found = None
        for _ in range(200):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/status") as f:
                        st = f.read()
                except OSError:
                    continue
                if f"PPid:\t{p.pid}\n" in st and "Name:\tlxbrand-init" in st:
                    found = st
            if found and f"\t{idshift.BASE}\t" in found:
                break
            threading.Event().wait(0.05)
        assert found, "no lxbrand-init below lxrun"
        ids = {line.split(":")[0]: line.split()[1:] for line in found.splitlines()
               if line.startswith(("Uid:", "Gid:"))}
        base = str(idshift.BASE)
        assert ids["Uid"] == ["0", base, "0", base], found
        assert ids["Gid"] == ["0", base, "0", base], found
    finally:
        p.kill()
        p.wait()


# ---- the launch configuration's memfd is sealed ------------------------------------

F_GET_SEALS = 1034
SEALS = 0x0001 | 0x0002 | 0x0004 | 0x0008        # F_SEAL_SEAL, SHRINK, GROW, WRITE


def test_launch_memfd_is_sealed_before_lxbrand_init_reads_it(rootfs):
    """Another thread of the caller (the library's), watching its own fds,
    opens the configuration's memfd again while lxbrand-init reads it: it is
    sealed, and a write, a truncation and a growth all fail (EPERM)."""
    seen, stop = [], threading.Event()

    def watch():
        while not stop.is_set() and not seen:
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if "lxbrand-zone-config" not in os.readlink(f"/proc/self/fd/{fd}"):
                        continue
                    w = os.open(f"/proc/self/fd/{fd}", os.O_RDWR)
                except OSError:
                    continue
                try:
                    seals = fcntl.fcntl(w, F_GET_SEALS)
                    tries = []
                    for attempt in (lambda: os.pwrite(w, b"\0" * 8, 0), lambda: os.ftruncate(w, 1),
                                    lambda: os.ftruncate(w, 1 << 20)):
                        try:
                            attempt()
                            tries.append("done")
                        except OSError as e:
                            tries.append(e.errno)
                    seen.append((seals, tries))
                finally:
                    os.close(w)
                break

    t = threading.Thread(target=watch)
    t.start()
    try:
        for _ in range(20):
            r = lxbrand.Zone(rootfs).run(["/bin/true"])
            assert r.returncode == 0
            if seen:
                break
    finally:
        stop.set()
        t.join()
    assert seen, "the watching thread never saw the configuration's memfd"
    seals, tries = seen[0]
    assert seals & SEALS == SEALS, hex(seals)
    assert tries == [1, 1, 1], tries           # EPERM, EPERM, EPERM


def test_lxbrand_init_refuses_a_configuration_that_is_not_sealed():
    init = os.path.join(os.path.dirname(lxbrand.__file__), "lxbrand-init")
    ctl_ours, ctl_its = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sync_r, sync_w = os.pipe()
    mfd = os.memfd_create("lxbrand-zone-config", os.MFD_CLOEXEC)
    try:
        os.write(mfd, b"\0" * 4096)
        os.set_inheritable(mfd, True)
        r = subprocess.run([init, str(mfd), str(ctl_its.fileno()), str(sync_r)],
                           pass_fds=(mfd, ctl_its.fileno(), sync_r), timeout=30)
        assert r.returncode == 125
        msg = ctl_ours.recv(4096)
        value = int.from_bytes(msg[4:8], "little")
        assert value == 1 and b"read the zone's configuration" in msg, msg     # EPERM
    finally:
        for fd in (mfd, sync_r, sync_w):
            os.close(fd)
        ctl_ours.close()
        ctl_its.close()


# ---- script(1): no stray NUL ---------------------------------------------------

@pytest.mark.parametrize("entry", ENTRIES)
def test_tty_under_script_at_eof_has_no_stray_nul(rootfs, entry):
    if not shutil.which("script"):
        pytest.skip("script(1) (util-linux) is not installed")
    # script sends its EOF (^D) as its input ends, at once: the sleep makes
    # sure it waits in the terminal before lxrun makes the terminal raw
    # (the front door says so on the terminal if it hands over to Python)
    lxrun = f"sleep 0.3; exec {shutil.which(entry)} --tty {rootfs}"
    r = subprocess.run(["script", "-qc", f"{lxrun} /bin/echo hi", "/dev/null"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60, env=FRONT_DEBUG)
    assert (r.returncode, r.stdout) == (0, b"hi\r\n"), r
    # the EOF script sends is the guest's, as natively: cat ends
    r = subprocess.run(["script", "-qc", f"{lxrun} /bin/cat", "/dev/null"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=FRONT_DEBUG)
    assert (r.returncode, r.stdout) == (0, b""), r


def test_tty_typed_ahead_lines_still_reach_the_guest(rootfs):
    """Only EOF marks are taken before the terminal goes raw: a line script
    types first (its input is a file) reaches the guest as it was."""
    if not shutil.which("script"):
        pytest.skip("script(1) (util-linux) is not installed")
    with tempfile.TemporaryFile() as f:
        f.write(b"one line\n")
        f.seek(0)
        for entry in ENTRIES:
            r = subprocess.run(["script", "-qc", f"{shutil.which(entry)} --tty {rootfs} /bin/sh -c 'read l; "
                                "echo got=$l'", "/dev/null"], stdin=f, capture_output=True, timeout=60,
                               env=FRONT_DEBUG)
            f.seek(0)
            assert r.returncode == 0, r
            assert b"got=one line" in r.stdout and b"\0" not in r.stdout and b"^@" not in r.stdout, r
            assert HANDOVER.encode() not in r.stdout, r


def test_rootfs_create_empties_netbases_default_hosts(tmp_path):
    """netbase's postinst writes /etc/hosts (localhost and ip6 names, not the
    zone's) when --include brings it in: emptied, so each zone shows its own;
    a hosts file with lines of its own, or a symlink, is left alone."""
    from lxbrand import rootfs as rf
    netbase = "\n".join(rf.NETBASE_HOSTS[1:]) + "\n\n"
    for made_by in ("hook", "after"):
        trees = {}
        for name, content in (("netbase", netbase), ("own", netbase + "10.1.2.3\tdb\n")):
            tree = tmp_path / made_by / name
            (tree / "etc").mkdir(parents=True)
            (tree / "etc" / "hosts").write_text(content)
            trees[name] = tree
        link = tmp_path / made_by / "link"
        (link / "etc").mkdir(parents=True)
        target = tmp_path / made_by / "elsewhere"
        target.write_text(netbase)
        os.symlink(target, link / "etc" / "hosts")
        for tree in (*trees.values(), link):
            if made_by == "hook":
                subprocess.run(["sh", "-c", rf.HOSTS_HOOK, "sh", str(tree)], check=True)
            else:
                rf._zone_files(str(tree))
        assert (trees["netbase"] / "etc" / "hosts").read_text() == ""
        assert (trees["own"] / "etc" / "hosts").read_text() == netbase + "10.1.2.3\tdb\n"
        assert target.read_text() == netbase


def test_the_zone_name_resolves_over_an_emptied_netbase_hosts(scratch_rootfs):
    from lxbrand import rootfs as rf
    hosts = os.path.join(scratch_rootfs, "etc", "hosts")
    with open(hosts, "w") as f:
        f.write("\n".join(rf.NETBASE_HOSTS[1:]) + "\n\n")
    rf._zone_files(scratch_rootfs)
    r = subprocess.run(["lxrun", "--hostname", "web1", scratch_rootfs, "cat", "/etc/hosts"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "127.0.1.1\tweb1" in r.stdout, (r.stdout, r.stderr)
