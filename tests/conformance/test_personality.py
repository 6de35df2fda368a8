"""Conformance of the brand's personality: uname, the zone options that change
answers on purpose (normalise.EXPECTED), and the syscalls the brand's table
denies or does not support (their errno, whatever the host would answer).

Only calls that are harmless on the host run natively here: every one of
them fails there too (bad magic, a NULL image, a module or swap file that
does not exist).
"""
import os

import pytest

from .script import Script, assert_conforms, compare, explain, run_native, run_zone


def _status(name):
    from lxbrand.brand import BY_NAME
    sc = BY_NAME.get(name)
    return sc.status.name if sc is not None else "absent"


def test_uname_is_the_hosts_kernel_by_default():
    s = Script()
    s.uname()
    s.uname(buf=0)                        # a NULL buffer
    assert_conforms(s, expect=["0", "-EFAULT"])


def test_uname_kernel_release_option():
    """--kernel-release: uname reports it (normalise.EXPECTED["kernel_release"])."""
    s = Script()
    s.uname()
    cmp = assert_conforms(s, kernel_release="4.19.0")
    assert 'release="4.19.0"' in cmp.rows[0][2]


def test_uname_hostname_option():
    """--hostname: the zone's own name (normalise.EXPECTED["hostname"])."""
    s = Script()
    s.uname()
    cmp = assert_conforms(s, hostname="conformance")
    assert 'nodename="conformance"' in cmp.rows[0][2]


def test_an_option_without_a_hook_changes_nothing():
    """A difference an option makes must be documented by a hook; here none is."""
    s = Script()
    s.uname()
    native = run_native(s)
    zone = run_zone(s, hostname="elsewhere")
    assert not compare(s, native, zone, {}).same          # undeclared: a failure
    assert compare(s, native, zone, {"hostname": "elsewhere"}).same


# host-wide syscalls, with arguments that fail harmlessly on the host
HOST_WIDE = [
    ("reboot", (0, 0, 0)),                              # bad magic: EINVAL natively
    ("init_module", (0, 0, b"")),                       # NULL image
    ("delete_module", (b"lxb_conformance_none", os.O_NONBLOCK)),
    ("swapoff", (b"/scratch/nowhere",)),
    ("bpf", (-1, 0, 0)),
]


@pytest.mark.parametrize("name,args", HOST_WIDE, ids=[n for n, _ in HOST_WIDE])
def test_host_wide_syscall_is_denied(name, args):
    """README: host-wide syscalls answer EPERM in a zone (the table's DENY)."""
    assert _status(name) == "denied", f"the brand's table passes {name} ({_status(name)})"
    s = Script()
    s.call(name, *args)
    cmp = assert_conforms(s)
    assert cmp.rows[0][2].endswith("= -EPERM")


def test_io_uring_is_unsupported():
    """README: io_uring answers ENOSYS (its requests would bypass the filter)."""
    assert _status("io_uring_setup") == "unsupported", \
        f"the brand's table has io_uring_setup {_status('io_uring_setup')}"
    s = Script()
    s.io_uring_setup(0, 0)
    cmp = assert_conforms(s)
    assert cmp.rows[0][2].endswith("= -ENOSYS")


def test_kernel_release_hides_newer_syscalls():
    """--kernel-release 4.19.0: statx (4.11) works, faccessat2 (5.8) and
    close_range (5.9) answer ENOSYS (normalise.EXPECTED, from the table's since)."""
    s = Script()
    s.statx(-100, "/scratch/f", 0, 0xfff)
    s.faccessat2(-100, "/scratch/f", os.F_OK, 0)
    s.close_range(100, 200, 0)
    cmp = assert_conforms(s, expect=["0", "0", "0"], kernel_release="4.19.0")
    assert [r[2].split(" = ")[1].split()[0] for r in cmp.rows] == ["0", "-ENOSYS", "-ENOSYS"]


def test_sethostname_renames_the_zone():
    """Natively the run has a UTS namespace of its own, so both rename only themselves."""
    s = Script()
    s.sethostname("renamed")
    s.uname()
    s.sethostname("x" * 65)
    s.sethostname("y" * 64)
    s.uname()
    s.sethostname("")
    s.uname()
    s.sethostname(b"a\0b", 3)             # stored as given; uname stops at the NUL
    s.uname()
    s.sethostname("z", -1)
    s.sethostname(0, 4)
    assert_conforms(s, expect=["0", "0", "-EINVAL", "0", "0", "0", "0", "0", "0", "-EINVAL", "-EFAULT"])


def test_setdomainname_renames_the_zone():
    s = Script()
    s.setdomainname("example")
    s.uname()
    s.setdomainname("d" * 65)
    s.setdomainname(0, 1)
    assert_conforms(s, expect=["0", "0", "-EINVAL", "-EFAULT"])


def test_uname_into_bad_memory_efault():
    """The supervisor writes the guest's buffer; a read-only page must still be EFAULT."""
    s = Script()
    ro = s.mmap(0, 4096, 1, 0x22)         # PROT_READ, private anonymous
    s.uname(buf=ro)
    s.peek(ro, 0, 8)
    s.uname(buf=4096)
    s.sethostname(ro, 5)                  # reading a read-only page is fine
    s.uname()
    assert_conforms(s, expect=[None, "-EFAULT", "0", "-EFAULT", "0", "0"])


def test_proc_self_names_files():
    """/proc is the zone's own; the names of fds and of the program are the same."""
    s = Script()
    fd = s.openat(-100, "/scratch/f", os.O_RDWR)
    s.readlink("/proc/self/fd/3", 64)
    s.readlink("/proc/self/exe", 64)
    s.readlink("/proc/self/cwd", 64)
    s.linkat(-100, "/proc/self/fd/3", -100, "/scratch/back", 0x400)   # AT_SYMLINK_FOLLOW
    s.unlink("/scratch/f")
    s.readlink("/proc/self/fd/3", 64)     # "(deleted)"
    s.linkat(-100, "/proc/self/fd/3", -100, "/scratch/again", 0x400)  # still linked as back
    again = s.openat(-100, "/proc/self/fd/3", os.O_RDONLY)
    s.read(again, 5)
    s.stat("/scratch/back")
    assert_conforms(s, expect=["3", "10", "10", "1", "0", "0", "20", "0", "4", "5", "0"])


def test_dev_nodes_of_the_zone():
    """The nodes a zone's minimal /dev has behave as the host's (the run has binds of them)."""
    s = Script()
    null = s.openat(-100, "/dev/null", os.O_RDWR)
    s.write(null, b"gone")
    s.read(null, 4)
    s.fstat(null)
    zero = s.openat(-100, "/dev/zero", os.O_RDONLY)
    s.read(zero, 4)
    full = s.openat(-100, "/dev/full", os.O_WRONLY)
    s.write(full, b"x")
    rnd = s.openat(-100, "/dev/urandom", os.O_RDONLY)
    s.read(rnd, 0)
    assert_conforms(s, expect=["3", "4", "0", "0", "4", "4", "5", "-ENOSPC", "6", "0"])


def test_ephemeral_zone_differs_as_overlayfs_does():
    """--ephemeral: the rootfs is the lower layer of an overlay (mounted with
    userxattr, as a user namespace needs).  Documented differences
    (docs/DIFFERENCES.md): rename(2) of a directory of the rootfs answers
    EXDEV (mv copies instead; overlayfs has no redirect_dir in a user
    namespace); a hard link to a file of the rootfs is a copy-up, with its own
    inode number and the overlay's st_dev.  A directory made in the zone
    renames as natively.  This case pins exactly those rows."""
    s = Script()
    s.rename("/scratch/f", "/scratch/f2")                # a file: fine
    s.rename("/scratch/d", "/scratch/d2")                # a rootfs directory: EXDEV
    s.mkdir("/scratch/n", 0o755)
    s.rename("/scratch/n", "/scratch/n2")                # new, in a rootfs directory: fine
    s.mkdir("/scratch/n/deeper", 0o755)                  # ENOENT on both sides: n is n2 now
    s.rename("/scratch/n/deeper", "/scratch/n/moved")
    s.link("/scratch/x", "/scratch/x2")
    s.stat("/scratch/x")
    s.stat("/scratch/x2")
    native = run_native(s)
    zone = run_zone(s, ephemeral=True)
    cmp = compare(s, native, zone)
    differ = {row[0].split(":")[0]: row[2] for row in cmp.rows if not row[3]}
    assert set(differ) == {"1", "8"}, explain(cmp)
    assert differ["1"].endswith("= -EXDEV"), explain(cmp)


def test_uname_across_a_page_boundary():
    """The supervisor's write of struct utsname stops where the guest's memory
    does, as copy_to_user does: the same bytes land before the EFAULT."""
    s = Script()
    s.sethostname("before")
    m = s.mmap(0, 8192, 3, 0x22)
    s.munmap(m + 4096, 4096)
    s.uname(buf=m + 4000)
    s.peek(m, 4000, 96)
    s.sethostname(m + 4090, 10)           # a name that runs off the page
    s.sethostname(m + 4090, 6)
    s.uname(buf=m + (4096 - 390))         # ends at the page's last byte
    s.uname()
    assert_conforms(s, expect=["0", None, "0", "-EFAULT", "0", "-EFAULT", "0", "0", "0"])


def _hostname_via_proc():
    s = Script()
    s.sethostname("first")
    w = s.openat(-100, "/proc/sys/kernel/hostname", os.O_WRONLY)
    s.write(w, b"viaproc\n")
    d = s.openat(-100, "/proc/sys/kernel/domainname", os.O_WRONLY)
    s.write(d, b"viaprocdomain\n")
    s.uname()
    r = s.openat(-100, "/proc/sys/kernel/hostname", os.O_RDONLY)
    s.read(r, 64)
    return s


HOSTNAME_VIA_PROC = ["0", "3", "8", "4", "14", "0", "5", "8"]


def test_proc_sys_hostname_is_host_roots_to_write():
    """A documented difference (docs/DIFFERENCES.md): Linux lets only the
    host's root write /proc/sys/kernel/hostname and domainname (the files are
    not namespaced by owner, as net.* are), and a zone's root is not host root
    (SECURITY.md): the open fails with EACCES, sethostname(2) is the way, and
    uname and the file agree on the name it set, with or without a release."""
    if os.geteuid() == 0:
        native = run_native(_hostname_via_proc())
        assert native.lines[1] == "1 257 3"           # host root may: the test's premise
    for options in ({}, {"kernel_release": "6.1.0"}):
        zone = run_zone(_hostname_via_proc(), **options)
        assert zone.lines[1] == "1 257 -EACCES" and zone.lines[3] == "3 257 -EACCES", zone.lines
        assert 'nodename="first"' in zone.lines[5] and 'domainname="(none)"' in zone.lines[5]
        assert zone.lines[7] == '7 0 6 data="first\\x0a"'


def _nested_uts():
    s = Script()
    s.sethostname("outer")
    child = s.child()
    child.unshare(0x04000000)             # CLONE_NEWUTS
    child.sethostname("inner")
    child.uname()
    r = child.openat(-100, "/proc/sys/kernel/hostname", os.O_RDONLY)
    child.read(r, 64)
    s.fork(child)
    s.uname()                             # the zone is still "outer"
    r = s.openat(-100, "/proc/sys/kernel/hostname", os.O_RDONLY)
    s.read(r, 64)
    return s


def test_sethostname_in_a_nested_uts_namespace_stays_there():
    assert_conforms(_nested_uts(), expect=["0", None, "0", "3", "6"])


def test_sethostname_in_a_nested_uts_namespace_stays_there_with_a_release():
    assert_conforms(_nested_uts(), expect=["0", None, "0", "3", "6"], kernel_release="6.1.0")
