"""--fakeroot: a fake root for an ordinary user whose zone has one id
(csrc/fakeroot.c, issue 12).

Each test runs lxrun as nobody (conftest.run_as_user), who has no
subordinate ids, so --fakeroot is on by default: chown, fchown, lchown and
fchownat of root succeed and are recorded in the file's user.lxbrand.owner
attribute, mknod of a device makes an empty file recorded as that device, and
the stat family reports the records, in this run and the next.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import NOBODY, debian_of_nobody, lxrun_as_user, run_as_user
from lxbrand import personality
from lxbrand.personality import FAKEROOT_XATTR, fakeroot_record

import lxbrand.rootfs


def _refused(r):
    if r.returncode == 125 and r.stderr.startswith("lxrun: cannot create a user namespace"):
        pytest.skip(f"this host refuses unprivileged user namespaces: {r.stderr.strip()}")


def sh(user, script, *opts):
    r = user.lxrun(*opts, user.rootfs, "/bin/sh", "-c", script)
    _refused(r)
    return r


class DebianUser:
    """nobody with a copy of the Debian rootfs of its own (made once)."""

    def __init__(self, rootfs):
        self.uid = self.gid = NOBODY
        self.rootfs = rootfs

    def lxrun(self, *args, **kw):
        return lxrun_as_user(self.uid, self.gid, *args, **kw)


@pytest.fixture(scope="module")
def debian():
    with debian_of_nobody("lxbrand-fakeroot-") as (_, root):
        yield DebianUser(root)


# ---- chown and stat --------------------------------------------------------------

def test_chown_is_recorded_and_stat_shows_it_in_the_next_run(unprivileged):
    r = sh(unprivileged, "touch /etc/f && chown 1000:1000 /etc/f && stat -c %u:%g /etc/f && ls -ln /etc/f")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "1000:1000"
    assert lines[1].split()[2:4] == ["1000", "1000"]
    r = sh(unprivileged, "stat -c %u:%g /etc/f")
    assert (r.returncode, r.stdout) == (0, "1000:1000\n"), r.stderr
    # on the host: still nobody's file, with the record beside it
    host = os.path.join(unprivileged.rootfs, "etc", "f")
    assert os.stat(host).st_uid == NOBODY
    assert fakeroot_record(host) == (1000, 1000, None)


def test_chown_of_one_id_keeps_the_other(unprivileged):
    r = sh(unprivileged, "mkdir /etc/d && chown 7 /etc/d && chown :9 /etc/d && stat -c %u:%g /etc/d")
    assert (r.returncode, r.stdout) == (0, "7:9\n"), r.stderr


def test_ephemeral_records_end_with_the_zone(unprivileged):
    """--ephemeral: the record is the overlay's (its upper layer), the rootfs untouched."""
    r = sh(unprivileged, "chown 7:8 /etc/passwd && stat -c %u:%g /etc/passwd", "--ephemeral")
    assert (r.returncode, r.stdout) == (0, "7:8\n"), r.stderr
    assert fakeroot_record(os.path.join(unprivileged.rootfs, "etc", "passwd")) is None
    r = sh(unprivileged, "stat -c %u:%g /etc/passwd")
    assert r.stdout == "0:0\n", r.stderr


def test_without_fakeroot_chown_to_an_unmapped_id_fails(unprivileged):
    r = sh(unprivileged, "touch /etc/f; chown 1000 /etc/f; echo rc=$?; stat -c %u /etc/f", "--no-fakeroot")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["rc=1", "0"]
    assert "Invalid argument" in r.stderr


def test_a_non_root_guest_may_not_chown(debian):
    # setpriv drops root's capabilities (one id: the uid stays 0)
    r = sh(debian, "touch /tmp/f; setpriv --inh-caps=-all --bounding-set=-all chown 5 /tmp/f; echo rc=$?")
    assert "rc=1" in r.stdout, (r.stdout, r.stderr)
    assert "Operation not permitted" in r.stderr


def test_stat_family_reports_the_record(debian):
    """stat, lstat, fstat, newfstatat (relative, dirfd, AT_EMPTY_PATH) and statx."""
    script = r"""
import os
os.makedirs("/srv/t/sub", exist_ok=True)
open("/srv/t/f", "w").close()
os.chown("/srv/t/f", 1001, 1002)
os.chown("/srv/t/sub", 1003, 1004)
if not os.path.lexists("/srv/t/l"):
    os.symlink("f", "/srv/t/l")
os.chdir("/srv/t/sub")
d = os.open("/srv/t", os.O_RDONLY)
fd = os.open("/srv/t/f", os.O_RDONLY)
o = lambda s: f"{s.st_uid}:{s.st_gid}"
print(o(os.stat("/srv/t/f")), o(os.stat("../f")), o(os.stat("/srv/t/l")), o(os.fstat(fd)),
      o(os.stat("f", dir_fd=d)), o(os.stat(".")), o(os.stat("/srv/t/./sub/../f")), o(os.lstat("/srv/t/l")))
"""
    r = debian.lxrun(debian.rootfs, "python3", "-c", script)
    _refused(r)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1001:1002", "1001:1002", "1001:1002", "1001:1002", "1001:1002",
                                "1003:1004", "1001:1002", "0:0"]
    # coreutils stat uses statx; find uses newfstatat
    r = sh(debian, "stat -c %u:%g /srv/t/f /srv/t/sub; find /srv/t -name f -printf '%U:%G\\n'")
    assert r.stdout.split() == ["1001:1002", "1003:1004", "1001:1002"], r.stderr


STAT_PROBE = r"""
import os, sys
os.makedirs("/srv/p/d", exist_ok=True)
for name, target in (("abs", "/etc/hostname"), ("rel", "../p/d"), ("loop", "loop"), ("dangling", "/nowhere"),
                     ("proc", "/proc/self/status"), ("up", "../../../../etc")):
    if not os.path.lexists("/srv/p/" + name):
        os.symlink(target, "/srv/p/" + name)
os.chdir("/srv/p/d")
d = os.open("/srv/p", os.O_RDONLY | os.O_DIRECTORY)
paths = ["/", ".", "..", "../abs", "/srv/p/rel", "/srv/p/loop", "/srv/p/dangling", "/srv/p/proc", "/srv/p/up/passwd",
         "/etc/passwd/", "/etc/passwd/x", "/nonexistent", "", "/dev/stdin", "/dev/fd/1", "/proc/self/fd/0",
         "/proc/self/exe", "/proc/thread-self/status", "/proc/mounts", "/proc/1", "/proc/self/cwd/../abs",
         "/proc/self/root/etc/passwd", "/dev/null", "/tmp", "/usr/bin/../lib"]
def show(f, *a, **k):
    try:
        s = f(*a, **k)
        return f"{s.st_uid}:{s.st_gid}:{s.st_mode:o}:{s.st_size if not os.path.isdir(a[0] if isinstance(a[0], str) else '.') else '-'}"
    except OSError as e:
        return "errno" + str(e.errno)
for p in paths:
    print(repr(p), show(os.stat, p), show(os.lstat, p), show(os.stat, p, dir_fd=d) if p else "",
          show(os.stat, p, follow_symlinks=False, dir_fd=d) if p else "")
for fd in (0, 1, 2, d, 99):
    print(fd, show(os.fstat, fd))
"""


def test_stat_agrees_with_the_kernel_where_nothing_is_recorded(debian):
    """Differential: with nothing recorded, the supervisor's stat family
    answers every path as the kernel does (--no-fakeroot): relative paths,
    dirfds, symlinks absolute, relative and looping, /proc/self and /dev/fd,
    trailing slashes, errors."""
    a = debian.lxrun("--no-fakeroot", debian.rootfs, "python3", "-c", STAT_PROBE)
    _refused(a)
    b = debian.lxrun(debian.rootfs, "python3", "-c", STAT_PROBE)
    assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
    assert b.stdout.splitlines() == a.stdout.splitlines()
    assert "errno40" in a.stdout and "errno2" in a.stdout and "errno20" in a.stdout


def test_absolute_symlinks_resolve_in_the_zone(debian):
    """The supervisor stats the zone's file a symlink names, never the host's."""
    r = sh(debian, "ln -sf /etc/hostname /tmp/abs; chown 4242 /etc/hostname; stat -L -c %u /tmp/abs; "
                   "stat -L -c %u /proc/self/root/etc/hostname")
    assert r.stdout.split() == ["4242", "4242"], r.stderr


def test_chown_clears_set_user_id_as_linux_does(debian):
    r = sh(debian, "touch /tmp/s; chmod 6755 /tmp/s; chown 5:5 /tmp/s; stat -c '%a %u:%g' /tmp/s; "
                   "mkdir -p /tmp/sd; chmod 2775 /tmp/sd; chown 5:5 /tmp/sd; stat -c %a /tmp/sd")
    assert r.stdout.split() == ["755", "5:5", "2775"], (r.stdout, r.stderr)


def test_read_only_file_is_recorded(debian):
    r = sh(debian, "echo x > /tmp/ro; chmod 444 /tmp/ro; chown 33:33 /tmp/ro && stat -c '%u:%g %a' /tmp/ro")
    assert (r.returncode, r.stdout) == (0, "33:33 444\n"), r.stderr


# ---- mknod ---------------------------------------------------------------------

def test_mknod_of_a_device_records_a_node_that_is_never_the_hosts(unprivileged):
    r = sh(unprivileged, "mknod /etc/null1 c 1 3 && ls -ln /etc/null1 && echo data > /etc/null1 && cat /etc/null1")
    assert r.returncode == 0, r.stderr
    ls, data = r.stdout.splitlines()
    assert ls.startswith("crw") and ls.split()[4:6] == ["1,", "3"], ls
    # a file, not the host's /dev/null (which would have swallowed the write)
    assert data == "data"
    r = sh(unprivileged, "ls -ln /etc/null1")
    assert r.stdout.startswith("c"), r.stdout
    assert fakeroot_record(os.path.join(unprivileged.rootfs, "etc", "null1")) == (0, 0, ("c", 1, 3))


def test_directory_listings_show_recorded_devices(debian):
    """getdents reports a recorded device's type (d_type), so find -type c,
    ls -l of the directory, Python's scandir and tar, which trust d_type, see
    it as stat does; tar -tvf of the archive shows the devices."""
    script = """set -e
mkdir -p /srv/devs/sub && cd /srv/devs
mknod null c 1 3; mknod sub/sda b 8 0; mkfifo fifo; echo x > file
find /srv/devs -xdev -type c; find /srv/devs -xdev -type b; find /srv/devs -xdev -type p; find /srv/devs -xdev -type f
find / -xdev -type c | grep -c '^/srv/devs/null$'
ls -l /srv/devs | awk 'NR > 1 {print substr($1, 1, 1), $NF}'
python3 -c 'import os; print(sorted((e.name, e.is_char_device() if hasattr(e, "is_char_device") else e.is_file()) for e in os.scandir("/srv/devs")))'
tar -cpf /tmp/d.tar -C /srv devs
tar --numeric-owner -tvf /tmp/d.tar | awk '{print substr($1, 1, 1), $NF}' | sort
"""
    r = sh(debian, script)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:5] == ["/srv/devs/null", "/srv/devs/sub/sda", "/srv/devs/fifo", "/srv/devs/file", "1"], r.stdout
    assert lines[5:9] == ["c null", "p fifo", "- file", "d sub"] or \
        sorted(lines[5:9]) == sorted(["c null", "p fifo", "- file", "d sub"]), r.stdout
    # scandir's is_file() trusts d_type: a device is not a file
    assert "('null', False)" in lines[9] and "('file', True)" in lines[9], lines[9]
    assert lines[10:] == sorted(["d devs/", "d devs/sub/", "b devs/sub/sda", "c devs/null", "p devs/fifo",
                                 "- devs/file"]), r.stdout


def test_getdents_keeps_the_callers_offset(debian):
    """The supervisor reads the caller's own open directory: a listing read
    in small pieces, with rewinddir, sees every entry once."""
    script = r"""
import os
os.makedirs("/srv/many", exist_ok=True)
for i in range(300):
    p = f"/srv/many/n{i:03}"
    if not os.path.exists(p):
        os.mknod(p, 0o600 | 0o020000, os.makedev(1, 3)) if i % 3 == 0 else open(p, "w").close()
import ctypes
fd = os.open("/srv/many", os.O_RDONLY | os.O_DIRECTORY)
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(256)
names, chars = [], 0
for rnd in range(2):
    os.lseek(fd, 0, 0)
    names = []
    while True:
        n = libc.syscall(217, fd, buf, 256)
        assert n >= 0, ctypes.get_errno()
        if n == 0:
            break
        pos = 0
        while pos < n:
            reclen = int.from_bytes(buf.raw[pos + 16:pos + 18], "little")
            dtype = buf.raw[pos + 18]
            name = buf.raw[pos + 19:pos + reclen].split(b"\0")[0].decode()
            if name.startswith("n"):
                names.append(name)
                chars += dtype == 2
            pos += reclen
print(len(names), len(set(names)), chars)
"""
    r = debian.lxrun(debian.rootfs, "python3", "-c", script)
    _refused(r)
    assert r.stdout.split() == ["300", "300", str(2 * 100)], (r.stdout, r.stderr)


def test_mknod_of_a_fifo_is_the_kernels(unprivileged):
    r = sh(unprivileged, "mkfifo /etc/p && ls -ln /etc/p")
    assert r.returncode == 0 and r.stdout.startswith("p"), (r.stdout, r.stderr)


# ---- real programs -------------------------------------------------------------

def test_tar_preserves_owners_and_devices(debian):
    script = """set -e
mkdir -p /tmp/src/d && cd /tmp/src
echo a > a; echo b > d/b; ln -s a s; mknod d/tty c 5 0
chown 1000:1000 a; chown 33:34 d d/b; chown 7:7 d/tty
tar -cpf /tmp/t.tar .
tar --numeric-owner -tvf /tmp/t.tar | awk '{print $2, $6}' | sort
mkdir -p /tmp/dst && cd /tmp/dst && tar -xpf /tmp/t.tar
stat -c '%n %u:%g %F' a d d/b d/tty
"""
    r = sh(debian, script)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "1000/1000 ./a" in out and "33/34 ./d/" in out and "7/7 ./d/tty" in out, out
    assert "a 1000:1000 regular file" in out
    assert "d 33:34 directory" in out and "d/b 33:34 regular file" in out
    assert "d/tty 7:7 character special file" in out


def test_dpkg_installs_a_package_that_adds_a_user_and_chowns(debian):
    """dpkg-deb builds a package in the zone (its owners from the records),
    dpkg -i installs it: its files keep the package's owners, its postinst
    adds a system user and chowns a directory to it."""
    script = r"""set -e
P=/tmp/pkg
mkdir -p $P/DEBIAN $P/usr/share/lxb-demo $P/var/lib/lxb-demo
cat > $P/DEBIAN/control <<EOF
Package: lxb-demo
Version: 1.0
Architecture: all
Maintainer: t <t@example.org>
Description: fakeroot demo
EOF
cat > $P/DEBIAN/postinst <<'EOF'
#!/bin/sh
set -e
useradd --system --no-create-home lxbdemo
chown lxbdemo:lxbdemo /var/lib/lxb-demo
EOF
chmod 755 $P/DEBIAN/postinst
echo hi > $P/usr/share/lxb-demo/owned
chown 123:456 $P/usr/share/lxb-demo/owned
dpkg-deb --build $P /tmp/lxb-demo.deb >/dev/null
dpkg -i /tmp/lxb-demo.deb >/dev/null
id -u lxbdemo
stat -c '%u:%g' /usr/share/lxb-demo/owned
stat -c '%U' /var/lib/lxb-demo
dpkg -s lxb-demo | grep Status
"""
    r = sh(debian, script)
    assert r.returncode == 0, r.stderr
    uid, owned, var, status = r.stdout.splitlines()
    assert int(uid) > 0 and owned == "123:456" and var == "lxbdemo", r.stdout
    assert status == "Status: install ok installed"
    r = sh(debian, "stat -c %U /var/lib/lxb-demo")
    assert r.stdout == "lxbdemo\n", r.stderr


def test_apt_get_installs_local_packages_with_their_dependencies(debian):
    """apt-get resolves a local package's dependency among the files given
    and installs both through dpkg, its _apt sandbox dropping to the fake
    uid 42 (and checking that it cannot regain root) without
    APT::Sandbox::User=root."""
    script = r"""set -e
mk() {  # mk NAME DEPENDS OWNER
    P=/srv/build/$1; mkdir -p $P/DEBIAN $P/usr/share/$1
    printf 'Package: %s\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: t\n' $1 > $P/DEBIAN/control
    [ -n "$2" ] && echo "Depends: $2" >> $P/DEBIAN/control
    echo $1 > $P/usr/share/$1/file; chown $3 $P/usr/share/$1/file
    dpkg-deb --build $P /srv/$1.deb >/dev/null
}
mk lxb-lib "" 11:12
mk lxb-app lxb-lib 21:22
apt-get install -y -q /srv/lxb-app.deb /srv/lxb-lib.deb >/srv/apt.log 2>&1 || { cat /srv/apt.log >&2; exit 1; }
dpkg-query -W -f='${Package} ${Status}\n' lxb-app lxb-lib
stat -c '%u:%g' /usr/share/lxb-lib/file /usr/share/lxb-app/file
"""
    r = sh(debian, script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["lxb-app install ok installed", "lxb-lib install ok installed",
                                     "11:12", "21:22"], r.stdout


# ---- credentials ---------------------------------------------------------------

CREDS_PROBE = r"""
import os, subprocess
def tryit(name, f, *a):
    try:
        f(*a)
        return name + "=ok"
    except OSError as e:
        return f"{name}={e.errno}"
print(os.getuid(), os.geteuid(), os.getgid())
os.setgroups([42]); os.setresgid(42, 42, 42); os.setresuid(42, 42, 42)
print(os.getresuid(), os.getresgid(), os.getgroups())
print(tryit("setuid0", os.setuid, 0), tryit("seteuid0", os.seteuid, 0), tryit("setgroups", os.setgroups, []),
      tryit("setuid42", os.setuid, 42), tryit("chown", os.chown, "/tmp", 5, 5))
print(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip())
print(subprocess.run(["sh", "-c", "python3 -c 'import os; print(os.geteuid())'"], capture_output=True,
                     text=True).stdout.strip())
"""


def test_setuid_is_faked_per_process_and_a_dropped_process_cannot_regain_root(debian):
    r = debian.lxrun(debian.rootfs, "python3", "-c", CREDS_PROBE)
    _refused(r)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "0 0 0", "(42, 42, 42) (42, 42, 42) [42]",
        "setuid0=1 seteuid0=1 setgroups=1 setuid42=ok chown=1",
        "42",       # a child inherits the fake ids, across execve
        "42",       # and a grandchild
    ], r.stdout
    # the next process of the zone starts from root again
    r = sh(debian, "id -u; python3 -c 'import os; os.setuid(0); print(os.getuid())'")
    assert r.stdout.split() == ["0", "0"], r.stderr


def test_setpriv_and_su_show_the_fake_id(debian):
    """setpriv --reuid --regid --clear-groups (its setresgid after the
    setresuid needs the CAP_SETGID that PR_SET_KEEPCAPS kept and capset
    raised again: fake capabilities); su and runuser set groups, gid and uid."""
    r = sh(debian, "setpriv --reuid=1000 id -u; setpriv --reuid=1000 --regid=1000 --clear-groups id; "
                   "su -s /bin/sh nobody -c 'id -u; id -g'; runuser -u nobody -- id")
    assert r.stdout.splitlines() == ["1000", "uid=1000 gid=1000 groups=1000", "65534", "65534",
                                     "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"], \
        (r.stdout, r.stderr)


def test_an_orphan_keeps_the_fake_ids_of_its_parent(debian):
    """su -c 'job &': the shell exits before its background child makes its
    first credential call, so the child's parent is the zone's init by then;
    it keeps su's fake ids (the exiting shell hands them down), and so do a
    double-forked daemon and its children.  The zone's next process is root."""
    r = sh(debian, "su -s /bin/sh nobody -c '(sleep 0.3; id -u; sh -c \"id -un\") > /tmp/o & exit 0'; "
                   "python3 -c 'import os,time\n"
                   "os.setresuid(42, 42, 42)\n"
                   "if os.fork() == 0:\n"
                   "    os.setsid()\n"
                   "    if os.fork() == 0:\n"
                   "        time.sleep(0.3); os.system(\"id -u > /tmp/d\"); os._exit(0)\n"
                   "    os._exit(0)\n"
                   "os._exit(0)'; "
                   "sleep 1.2; cat /tmp/o /tmp/d; id -u")
    assert r.stdout.split() == ["65534", "nobody", "42", "0"], (r.stdout, r.stderr)


def test_a_set_user_id_file_moves_the_fake_ids_as_execve_does(debian):
    """A fake user (su) running a set-user-id root copy of id(1) has euid 0
    and its own real uid, a set-group-id one egid 50, as Linux's execve
    gives them (sudo and passwd need it); not under no_new_privs, nor from
    the zone's nosuid /tmp."""
    r = sh(debian, "id sdev >/dev/null 2>&1 || useradd -u 1235 sdev; "
                   "cp /usr/bin/id /usr/local/bin/sid && chmod 4755 /usr/local/bin/sid && "
                   "cp /usr/bin/id /usr/local/bin/sgid && chgrp 50 /usr/local/bin/sgid && chmod 2755 /usr/local/bin/sgid && "
                   "cp /usr/local/bin/sid /tmp/sid && "
                   "su sdev -c '/usr/local/bin/sid -u; /usr/local/bin/sid -ru; /usr/local/bin/sgid -g; "
                   "/usr/local/bin/sgid -rg; setpriv --no-new-privs /usr/local/bin/sid -u; /tmp/sid -u; id -u'; "
                   "rm -f /usr/local/bin/sid /usr/local/bin/sgid")
    assert r.stdout.split() == ["0", "1235", "50", "1235", "1235", "1235", "1235"], (r.stdout, r.stderr)


OWN_PROBE = r"""
import fcntl, os
# what git's safe.directory, postgres' initdb and ssh check: a new file is the creator's
os.mkdir("q")
fd = os.open("n", os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
print(os.stat("q").st_uid == os.geteuid(), os.fstat(fd).st_uid == os.geteuid(),
      oct(os.fstat(fd).st_mode & 0o7777), fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
try:
    os.open("n", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
except FileExistsError:
    print("EEXIST")
"""


def test_a_fake_users_new_files_are_its_own(debian):
    """A process on a fake id other than root (su, runuser) makes files and
    directories that stat shows as its own, not root's: open/creat with
    O_CREAT, mkdir, through a symlink to nowhere, under a set-group-id
    directory (the directory's group); root's new files stay root's; a
    FIFO and /dev/null opened with O_CREAT are the kernel's."""
    probe = os.path.join(debian.rootfs, "opt", "own_probe.py")
    with open(probe, "w") as f:
        f.write(OWN_PROBE)
    os.chmod(probe, 0o644)
    r = sh(debian, "useradd -m -u 1234 dev && cd /home/dev && "
                   "su dev -c 'umask 027; mkdir d && touch f && echo x > g && echo y >> g && mkdir -p a/b && "
                   "ln -s nowhere l && echo z > l && cat g && stat -c \"%n %u %g %a\" d f g a a/b nowhere && "
                   "python3 /opt/own_probe.py && mkfifo p && (cat p &) && echo fifo > p && echo n > /dev/null' && "
                   "touch /tmp/rootfile && stat -c '%n %u %g' /tmp/rootfile /home/dev/d && "
                   "mkdir /tmp/s && chgrp 50 /tmp/s && chmod 2777 /tmp/s && su dev -c 'touch /tmp/s/f; mkdir /tmp/s/d' && "
                   "stat -c '%n %u %g %a' /tmp/s/f /tmp/s/d")
    assert r.stdout.splitlines() == [
        "x", "y",
        "d 1234 1234 750", "f 1234 1234 640", "g 1234 1234 640", "a 1234 1234 750", "a/b 1234 1234 750",
        "nowhere 1234 1234 640",
        "True True 0o600 1", "EEXIST",
        "fifo",     # an existing name is the kernel's to open (the supervisor would block on a FIFO)
        "/tmp/rootfile 0 0", "/home/dev/d 1234 1234",
        "/tmp/s/f 1234 50 644", "/tmp/s/d 1234 50 2755",
    ], (r.stdout, r.stderr)


CAPS_PROBE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class H(ctypes.Structure):
    _fields_ = [("v", ctypes.c_uint32), ("pid", ctypes.c_int)]
class D(ctypes.Structure):
    _fields_ = [("e", ctypes.c_uint32), ("p", ctypes.c_uint32), ("i", ctypes.c_uint32)]
def caps():
    h, d = H(0x20080522, 0), (D * 2)()
    assert libc.capget(ctypes.byref(h), d) == 0, ctypes.get_errno()
    return " ".join(f"{k}={d[0].__getattribute__(k) | d[1].__getattribute__(k) << 32:x}" for k in "epi")
def tryit(f, *a):
    try:
        f(*a)
        return "ok"
    except OSError as e:
        return str(e.errno)
def real():
    return [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
mode = sys.argv[1]
if mode == "keepcaps":
    print(os.geteuid(), caps(), libc.prctl(7, 0, 0, 0, 0))
    assert libc.prctl(8, 1, 0, 0, 0) == 0          # PR_SET_KEEPCAPS
    os.setresuid(1000, 1000, 1000)
    print(os.geteuid(), caps(), libc.prctl(7, 0, 0, 0, 0), tryit(os.setresgid, 5, 5, 5), real())
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[2], "after"])
elif mode == "nokeep":
    os.setresuid(1000, 1000, 1000)
    print(os.geteuid(), caps(), libc.prctl(7, 0, 0, 0, 0), tryit(os.setuid, 0), real())
else:
    print(os.geteuid(), caps(), tryit(os.setuid, 0), tryit(os.setresgid, 5, 5, 5), tryit(os.chown, "/srv", 5, 5),
          libc.prctl(47, 1, 13, 0, 0), real())
"""


def test_capabilities_move_with_the_fake_ids_as_linux_moves_them(debian):
    """capget as fake root shows the zone's set; setresuid away from 0 clears
    it unless PR_SET_KEEPCAPS (which keeps the permitted set only); execve
    by a non-root uid ends with the ambient set; the real sets never change."""
    full = f"{personality.zone_capabilities():x}"
    r = debian.lxrun(debian.rootfs, "python3", "-c", CAPS_PROBE, "keepcaps", CAPS_PROBE)
    _refused(r)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"0 e={full} p={full} i=0 0",
        f"1000 e=0 p={full} i=0 1 1 {int(full, 16):016x}",     # no CAP_SETGID effective: EPERM
        f"1000 e=0 p=0 i=0 1 1 1 0 {int(full, 16):016x}",      # exec'd: nothing left, setuid(0) EPERM
    ], r.stdout
    r = debian.lxrun(debian.rootfs, "python3", "-c", CAPS_PROBE, "nokeep")
    assert r.stdout.split() == ["1000", "e=0", "p=0", "i=0", "0", "1", f"{int(full, 16):016x}"], r.stderr


def test_setpriv_inheritable_and_ambient_capabilities(debian):
    """setpriv --inh-caps and --ambient-caps as fake root, then a uid drop:
    the ambient capability survives the exec, as on Linux (CAP_NET_RAW is 13)."""
    r = debian.lxrun(debian.rootfs, "/bin/sh", "-c", "setpriv --reuid=1000 --regid=1000 --clear-groups "
                     "--inh-caps=+net_raw --ambient-caps=+net_raw python3 -c \"$0\" other", CAPS_PROBE)
    assert r.stdout.split()[:6] == ["1000", "e=2000", "p=2000", "i=2000", "1", "1"], (r.stdout, r.stderr)
    assert r.stdout.split()[7] == "1", r.stdout     # PR_CAP_AMBIENT_IS_SET
    # without it in the inheritable set there is none to raise (setpriv
    # carries on, as natively: the ambient set stays empty)
    r = debian.lxrun(debian.rootfs, "/bin/sh", "-c", "setpriv --inh-caps=-all --ambient-caps=+net_raw "
                     "python3 -c \"$0\" other", CAPS_PROBE)
    assert r.stdout.split()[3:8] == ["i=0", "ok", "ok", "ok", "0"], (r.stdout, r.stderr)


def test_a_fake_capability_is_never_more_than_a_real_one(debian):
    """A process whose real sets are empty (bounding set dropped, then exec)
    holds no fake capability either: no setresgid, no chown, no negative nice."""
    r = debian.lxrun(debian.rootfs, "/bin/sh", "-c", "setpriv --bounding-set=-all --inh-caps=-all python3 -c "
                     "\"$0\" other; setpriv --bounding-set=-all --inh-caps=-all nice -n -5 true; echo rc=$?",
                     CAPS_PROBE)
    lines = r.stdout.splitlines()
    # setuid(0) keeps the uid it has (any process may); setresgid and chown need what it lacks
    assert lines[0].split() == ["0", "e=0", "p=0", "i=0", "ok", "1", "1", "0", "0000000000000000"], r.stdout
    # nice(1) warns and runs the command
    assert lines[1] == "rc=0" and "cannot set niceness: Permission denied" in r.stderr, (r.stdout, r.stderr)


# ---- niceness ------------------------------------------------------------------

NICE_SCRIPT = """
nice -n -5 nice
nice -n -5 sh -c 'nice; cut -d" " -f19 /proc/self/stat'
python3 -c 'import os; print(os.nice(-3), os.nice(0), os.nice(10), os.getpriority(os.PRIO_PROCESS, 0))'
setpriv --reuid=1000 nice -n -5 nice 2>&1
nice -n 3 setpriv --reuid=1000 nice -n 1 nice
renice -n -5 -p $$ >/dev/null 2>&1 || echo renice-other-refused
"""


def test_nice_below_zero_is_emulated_for_fake_root(debian):
    """nice -n -5, Python's os.nice and setpriority by the zone's (fake) root:
    recorded and reported back (inherited by children), while the host's
    value (/proc/PID/stat) stays where the zone started; a fake uid 1000 may
    not lower its nice, and another process's is the kernel's (csrc/fakeroot.c
    NICENESS)."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base > 10:
        pytest.skip(f"the suite runs at nice {base}")
    r = sh(debian, NICE_SCRIPT)
    assert r.stdout.splitlines() == [
        str(base - 5),
        str(base - 5), str(base),          # the child inherits; /proc/PID/stat shows the host's value
        f"{base - 3} {base - 3} {base + 7} {base + 7}",
        "nice: cannot set niceness: Permission denied", str(base),   # a user below its nice: EACCES
        str(base + 4),                     # raising needs nothing
        "renice-other-refused",            # another process's: the kernel's, EACCES
    ], (r.stdout, r.stderr)


# ---- lxrun rootfs create without subordinate ids -----------------------------------

def _mirror_answers(mirror="http://deb.debian.org/debian", suite="bookworm"):
    import urllib.request
    try:
        with urllib.request.urlopen(f"{mirror}/dists/{suite}/Release", timeout=10):
            return True
    except Exception:
        return False


def test_rootfs_create_without_subordinate_ids_bootstraps_in_a_fake_root_zone(debian):
    """nobody has no subordinate ids: `lxrun rootfs create` runs debootstrap
    as the fake root of a zone over the host's /usr and /etc, so the tree's
    owners (shadow's group, /var/mail's mail) and its device nodes are
    records, and a zone on the tree (--fakeroot, nobody's default) shows
    them; su works in it.  Needs the Debian mirror (~2 minutes)."""
    if not shutil.which("debootstrap") and not os.access("/usr/sbin/debootstrap", os.X_OK):
        pytest.skip("debootstrap is not installed")
    if not _mirror_answers():
        pytest.skip("deb.debian.org does not answer")
    top = tempfile.mkdtemp(prefix="lxbrand-create-", dir="/tmp")
    try:
        os.chown(top, NOBODY, NOBODY)
        target = os.path.join(top, "tree")
        r = debian.lxrun("rootfs", "create", target, timeout=900)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "rootfs ready in" in r.stdout + r.stderr
        assert os.stat(os.path.join(target, "etc", "shadow")).st_uid == NOBODY
        assert fakeroot_record(os.path.join(target, "etc", "shadow"))[:2] == (0, 42)
        assert not os.path.exists(os.path.join(target, "debootstrap"))
        r = debian.lxrun(target, "/bin/sh", "-c", "stat -c '%n %u:%g' /etc/shadow /var/mail; id -u; "
                                                  "su -s /bin/sh nobody -c 'id -u'; dpkg -s dpkg | grep Status")
        assert r.stdout.splitlines() == ["/etc/shadow 0:42", "/var/mail 0:8", "0", "65534",
                                         "Status: install ok installed"], (r.stdout, r.stderr)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_rootfs_create_without_subordinate_ids_fails_in_one_line_and_leaves_nothing(debian):
    """A mirror that does not answer: debootstrap fails in its zone, the
    partial tree goes, the error is one line naming the target."""
    if not shutil.which("debootstrap") and not os.access("/usr/sbin/debootstrap", os.X_OK):
        pytest.skip("debootstrap is not installed")
    top = tempfile.mkdtemp(prefix="lxbrand-create-", dir="/tmp")
    try:
        os.chown(top, NOBODY, NOBODY)
        target = os.path.join(top, "tree")
        r = debian.lxrun("rootfs", "create", target, "--mirror", "http://127.0.0.1:9/debian")
        assert r.returncode == 1, (r.stdout, r.stderr)
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("lxrun: debootstrap in a fake-root zone failed with status ") and \
            f"making {target}; the partial tree was removed" in last, last
        assert "Traceback" not in r.stderr
        assert not os.path.exists(target)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_rootfs_create_without_debootstrap_says_what_to_install(monkeypatch, tmp_path):
    """No subordinate ids and no debootstrap: one line naming both ways out (and root)."""
    monkeypatch.setattr(lxbrand.rootfs.shutil, "which", lambda name: None)
    monkeypatch.setattr(lxbrand.rootfs.os, "access", lambda path, mode: False)
    with pytest.raises(lxbrand.rootfs.RootfsError) as e:
        lxbrand.rootfs._create_fakeroot(str(tmp_path), "bookworm", [], lxbrand.rootfs.DEFAULT_MIRROR, True)
    text = str(e.value)
    assert "\n" not in text
    for what in ("apt-get install debootstrap", "uidmap", "/etc/subuid", "usermod --add-subuids", "run it as root"):
        assert what in text, (what, text)


# ---- lxrun rootfs export ---------------------------------------------------------

def _entries(path):
    import tarfile
    with tarfile.open(path) as t:
        return {m.name.rstrip("/") or ".": (m.uid, m.gid, m.type, m.devmajor, m.devminor) for m in t.getmembers()}


def test_export_writes_the_recorded_owners_and_devices_and_agrees_with_tar_in_the_zone(debian):
    script = """set -e
rm -rf /srv/ex && mkdir -p /srv/ex/d && cd /srv/ex
echo a > a; ln a hard; ln -s a s; mknod d/tty c 5 0; mknod d/sda b 8 0; mkfifo d/p
chown 1000:1000 a; chown 33:34 d; chown 7:5 d/tty; chmod 4755 a
tar -cpf /srv/ex.tar .
"""
    r = sh(debian, script)
    assert r.returncode == 0, r.stderr
    out = os.path.join(debian.rootfs, "srv", "export.tar")
    r = debian.lxrun("rootfs", "export", os.path.join(debian.rootfs, "srv", "ex"), out)
    assert r.returncode == 0, r.stderr
    got = _entries(out)
    import tarfile
    assert got["./a"][:3] == (1000, 1000, tarfile.REGTYPE)
    assert got["./hard"][:3] == (1000, 1000, tarfile.LNKTYPE)
    assert got["./d"][:3] == (33, 34, tarfile.DIRTYPE)
    assert got["./d/tty"] == (7, 5, tarfile.CHRTYPE, 5, 0)
    assert got["./d/sda"] == (0, 0, tarfile.BLKTYPE, 8, 0)
    assert got["./s"][:3] == (0, 0, tarfile.SYMTYPE)
    assert got["./d/p"][:3] == (0, 0, tarfile.FIFOTYPE)
    # tar -tvf on the host reads it alike: the owners' names from the zone's /etc/passwd
    r = subprocess.run(["tar", "--numeric-owner", "-tvf", out], capture_output=True, text=True, check=True)
    assert any(line.startswith("crw") and "7/5" in line and "5,0" in line for line in r.stdout.splitlines()), r.stdout
    with tarfile.open(out) as t:
        # DIR has no /etc/passwd: no names (never the host's)
        assert t.getmember("./d").uname == "" and t.getmember("./a").mode == 0o4755
    # what tar -cpf wrote inside the zone, entry by entry (which of a and
    # hard is the link depends on the walk's order)
    same = lambda e: {k: (v[0], v[1], tarfile.REGTYPE if v[2] == tarfile.LNKTYPE else v[2]) + v[3:]
                      for k, v in e.items()}
    assert same(_entries(os.path.join(debian.rootfs, "srv", "ex.tar"))) == same(got)


def test_export_errors_are_one_line(debian):
    r = debian.lxrun("rootfs", "export", os.path.join(debian.rootfs, "nowhere"), "/tmp/never.tar")
    assert r.returncode == 1 and r.stderr.strip().endswith("nowhere: no such directory"), r.stderr
    assert len(r.stderr.splitlines()) == 1 and not os.path.exists("/tmp/never.tar")
    r = debian.lxrun("rootfs", "export", os.path.join(debian.rootfs, "etc"), "/root/out.tar")
    assert r.returncode == 1 and r.stderr.startswith("lxrun: rootfs export: cannot write /root/out.tar"), r.stderr
    assert len(r.stderr.splitlines()) == 1


# ---- options -------------------------------------------------------------------

def test_fakeroot_on_a_rootfs_the_user_cannot_write(scratch_rootfs):
    if os.geteuid() != 0:
        pytest.skip("dropping to another user needs root")
    d = tempfile.mkdtemp(prefix="lxbrand-user-", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        root = os.path.join(d, "root")
        shutil.copytree(scratch_rootfs, root, symlinks=True)
        r = lxrun_as_user(NOBODY, NOBODY, "--fakeroot", root, "/bin/true")
        assert r.returncode == 125, r.stderr
        assert r.stderr.startswith("lxrun: ") and len(r.stderr.splitlines()) == 1, r.stderr
        assert "--fakeroot" in r.stderr and "cannot write" in r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_root_has_no_fake_root_by_default(rootfs):
    from lxbrand.config import ZoneConfig
    if os.geteuid() != 0:
        pytest.skip("run as root")
    assert ZoneConfig(rootfs).fakeroot_on() is False


def test_fakeroot_is_refused_to_root(lxrun, rootfs):
    """Run by root the supervisor would act as host root: one line, 125."""
    if os.geteuid() != 0:
        pytest.skip("run as root")
    r = lxrun("--fakeroot", rootfs, "/bin/true")
    assert r.returncode == 125 and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("lxrun: --fakeroot: run by root"), r.stderr


def test_the_front_door_takes_a_fake_root_zone_from_the_cache(unprivileged, tmp_path):
    """`lxrun` (C) run by a user without subordinate ids looks for the fake
    root's brand in the cache (Python compiles it once; key "fakeroot 1").
    tests/test_shared_install.py runs both sides for real, where nobody can
    exec the Python CLI."""
    front = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "frontdoor", "lxrun")
    if not os.path.exists(front):
        pytest.skip("the front door is not built (make build)")
    d = os.path.dirname(unprivileged.rootfs)
    copy = os.path.join(d, "lxrun")
    shutil.copy2(front, copy)
    os.chmod(copy, 0o755)
    cache = os.path.join(d, "cache")
    os.mkdir(cache)
    os.chown(cache, NOBODY, NOBODY)

    def main():
        os.environ.update(LXRUN_DEBUG_FRONTDOOR="1", LXBRAND_CACHE=cache)
        os.execv(copy, [copy, unprivileged.rootfs, "/bin/true"])
    r = run_as_user(NOBODY, NOBODY, main)
    if "changed since the front door was built" in r.stderr:
        pytest.skip("the front door is older than the command line: make build")
    assert "front door: no compiled brand in the cache for these options" in r.stderr, r.stderr


def test_info_says_the_fake_root_is_on(unprivileged):
    r = unprivileged.lxrun("info")
    assert r.returncode == 0, r.stderr
    assert any(line.startswith("fake root:  on (--fakeroot)") for line in r.stdout.splitlines()), r.stdout
    assert "new files are its own" in r.stdout and "set-user-id files move the fake ids" in r.stdout, r.stdout
