"""Python handlers that are safe by construction (issue 10, S4/S5 and the
io_uring row): CONTINUE after reading guest memory is refused, a syscall the
brand refuses never continues, and a handler performs a path operation inside
the zone's root (Call.open_in_zone + Call.add_fd) instead.  Real programs in
the cached Debian rootfs."""
import errno
import os
import re
import warnings

import pytest

from lxbrand import CONTINUE, Zone
from lxbrand.supervisor import HandlerWarning
import lxbrand.errors

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def run(zone, argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 120)
    return zone.run(argv, **kw)


def py(zone, code, **kw):
    r = run(zone, ["python3", "-c", code], **kw)
    assert r.returncode == 0, (r.returncode, r.stderr)
    return r.stdout.decode()


def serve_openat(log):
    """An openat handler that logs the path and performs the open in the zone."""
    def openat(call):
        path = call.read_str(call.args.path)
        log.append(path)
        fd = call.open_in_zone(path, call.args.flags, call.args.mode, dirfd=call.args.dirfd)
        try:
            return call.add_fd(fd, cloexec=bool(call.args.flags & os.O_CLOEXEC))
        finally:
            os.close(fd)
    return openat


def file_in(rootfs, path):
    with open(os.path.join(rootfs, path.lstrip("/")), "rb") as f:
        return f.read().decode()


def seen_in_zone(rootfs, path):
    """path as a zone without handlers shows it: /etc/hostname is the zone's
    over the cached rootfs's, which names the host (csrc/zone_fs.c)."""
    r = Zone(rootfs).run(["cat", path], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


READ = """
import os, sys
for p in sys.argv[1:]:
    try:
        with open(p) as f: print(repr(f.read()))
    except OSError as e: print(e.errno)
"""


# -- CONTINUE is refused after a read -----------------------------------------

def test_continue_after_reading_the_path_fails_the_call(rootfs):
    """S4: a handler that reads the path, then CONTINUEs, would let the guest
    swap the path after the check; the call fails (ENOSYS) instead, and the
    handler's bug is reported as a HandlerWarning."""
    z = Zone(rootfs)
    served = []
    safe = serve_openat(served)

    @z.handler("openat")
    def openat(call):
        path = call.read_str(call.args.path)
        if path == "/etc/hostname":
            return CONTINUE                 # the bug under test
        return safe(call)

    with pytest.warns(HandlerWarning, match=r"openat handler .*openat: the handler read guest memory, "
                                            r"then answered CONTINUE"):
        out = run(z, ["python3", "-c", READ, "/etc/hostname", "/etc/debian_version"])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert lines[0] == str(errno.ENOSYS)                     # refused, not continued
    assert lines[1] == repr(file_in(rootfs, "/etc/debian_version"))   # performed: served
    assert "/etc/debian_version" in served


def test_continue_after_writing_guest_memory_fails_too(rootfs):
    z = Zone(rootfs)

    @z.handler("getcwd")
    def getcwd(call):
        call.write_bytes(call.args.buf, b"/x\0")
        return CONTINUE

    with pytest.warns(HandlerWarning, match="wrote guest memory, then answered CONTINUE"):
        out = py(z, "import os\ntry: os.getcwd()\nexcept OSError as e: print(e.errno)")
    assert out == f"{errno.ENOSYS}\n"


def test_continue_without_reading_still_continues(rootfs):
    """Registers are not guest memory: a handler that decides on them may CONTINUE."""
    z = Zone(rootfs)
    seen = []

    @z.handler("chdir")
    def chdir(call):
        seen.append(call.args.path != 0)
        return CONTINUE

    with warnings.catch_warnings():
        warnings.simplefilter("error", HandlerWarning)
        out = py(z, "import os; os.chdir('/etc/apt'); print(os.getcwd())")
    assert out == "/etc/apt\n" and seen == [True]


def test_a_handler_bug_is_reported_once(rootfs):
    z = Zone(rootfs)

    @z.handler("chdir")
    def chdir(call):
        call.read_str(call.args.path)
        return CONTINUE

    code = "import os\nfor d in ('/etc', '/usr', '/var'):\n  try: os.chdir(d)\n  except OSError as e: print(e.errno)"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")        # Python's default: each message once
        out = py(z, code)
    assert out == f"{errno.ENOSYS}\n" * 3
    reports = [w for w in caught if issubclass(w.category, HandlerWarning)]
    assert len(reports) == 1, [str(w.message) for w in reports]
    assert reports[0].filename == __file__      # points at the handler


# -- CONTINUE is refused for what the brand refuses ---------------------------

IO_URING_SETUP = ("import ctypes; l = ctypes.CDLL(None, use_errno=True); p = ctypes.create_string_buffer(120); "
                  "r = l.syscall(425, 4, p); print(r, ctypes.get_errno())")


def test_io_uring_setup_never_continues(rootfs):
    """The table marks io_uring unsupported (its requests bypass the filter):
    a handler's CONTINUE is refused and the guest gets the table's ENOSYS."""
    z = Zone(rootfs)
    z.handler("io_uring_setup", lambda call: CONTINUE)
    with pytest.warns(HandlerWarning, match=r"the brand refuses io_uring_setup \(unsupported\)"):
        out = py(z, IO_URING_SETUP)
    assert out == f"-1 {errno.ENOSYS}\n"


def test_a_denied_syscall_never_continues_but_may_be_emulated(rootfs):
    """syslog is denied (the kernel log is the host's): CONTINUE answers the
    table's EPERM; a handler that answers a value emulates it."""
    code = ("import ctypes; l = ctypes.CDLL(None, use_errno=True); b = ctypes.create_string_buffer(64); "
            "r = l.syscall(103, 3, b, 64); print(r, ctypes.get_errno())")
    z = Zone(rootfs)
    z.handler("syslog", lambda call: CONTINUE)
    with pytest.warns(HandlerWarning, match=r"refuses syslog \(denied\(EPERM\)\)"):
        assert py(z, code) == f"-1 {errno.EPERM}\n"
    z.handler("syslog", lambda call: 0)
    assert py(z, code) == "0 0\n"


# -- open_in_zone: perform the open in the zone's root ------------------------

def test_open_in_zone_serves_the_guests_opens(rootfs):
    z = Zone(rootfs)
    log = []
    z.handler("openat", serve_openat(log))
    out = run(z, ["cat", "/etc/hostname"])
    assert (out.returncode, out.stdout.decode()) == (0, seen_in_zone(rootfs, "/etc/hostname")), out.stderr
    assert "/etc/hostname" in log and any("libc.so" in p for p in log)


def test_open_in_zone_relative_to_cwd_and_dirfd(rootfs):
    z = Zone(rootfs, cwd="/etc/apt")
    log = []
    z.handler("openat", serve_openat(log))
    code = ("import os\nprint(open('../hostname').read(), end='')\nos.chdir('/usr/share')\n"
            "print(open('../../etc/hostname').read(), end='')\n"
            "d = os.open('/etc', os.O_RDONLY | os.O_DIRECTORY)\n"
            "print(os.read(os.open('hostname', os.O_RDONLY, dir_fd=d), 100).decode(), end='')\n"
            "print(os.listdir('.')[:0], open('/../../../etc/hostname').read(), end='')")
    host = seen_in_zone(rootfs, "/etc/hostname")
    assert py(z, code) == host * 3 + "[] " + host
    assert "../hostname" in log and "../../etc/hostname" in log


def test_open_in_zone_creates_with_the_guests_ids_and_umask(rootfs):
    z = Zone(rootfs, uid=1000, gid=1000)
    z.handler("openat", serve_openat([]))
    code = ("import os\nos.umask(0o077)\nfd = os.open('/tmp/new', os.O_CREAT | os.O_WRONLY, 0o666)\n"
            "os.write(fd, b'x'); st = os.stat('/tmp/new')\n"
            "print(st.st_uid, st.st_gid, oct(st.st_mode & 0o777))\n"
            "try: open('/etc/shadow')\nexcept OSError as e: print(e.errno)")
    assert py(z, code) == f"1000 1000 0o600\n{errno.EACCES}\n"
    # root in the zone may read it, through the handler as natively
    z = Zone(rootfs)
    z.handler("openat", serve_openat([]))
    out = run(z, ["python3", "-c", READ, "/etc/shadow"]).stdout.decode()
    assert out == repr(file_in(rootfs, "/etc/shadow")) + "\n"


def test_open_in_zone_symlinks_resolve_inside_the_root(rootfs, tmp_path):
    """A symlink that names a host path (absolute, or climbing with ..) is
    resolved in the zone's root, never on the host where the supervisor runs."""
    secret = tmp_path / "host-secret"
    secret.write_text("HOST SECRET\n")
    d = tmp_path / "d"
    d.mkdir()
    os.symlink(str(secret), d / "abs")
    os.symlink("../" * 40 + str(secret).lstrip("/"), d / "climb")
    os.symlink("/etc/shadow", d / "shadow")
    os.symlink("/etc/hostname", d / "hostname")
    os.symlink("/proc/1/root/etc/hostname", d / "magic")
    z = Zone(rootfs, binds=[f"{d}:/d"])
    log = []
    z.handler("openat", serve_openat(log))
    out = run(z, ["python3", "-c", READ, "/d/abs", "/d/climb", "/d/hostname", "/d/shadow", "/d/magic",
                  str(secret)])
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().splitlines() == [
        str(errno.ENOENT), str(errno.ENOENT), repr(seen_in_zone(rootfs, "/etc/hostname")),
        repr(file_in(rootfs, "/etc/shadow")), str(errno.ELOOP), str(errno.ENOENT)]
    assert "HOST SECRET" not in out.stdout.decode()


def test_open_in_zone_refuses_a_directory_outside_the_root(rootfs):
    """A relative open is resolved from the guest's directory only when that
    directory is the one its path names inside the root: the host's /etc,
    named "/etc" too, is not the zone's (ENOENT, nothing opened)."""
    z = Zone(rootfs)
    host_etc = os.open("/etc", os.O_RDONLY | os.O_DIRECTORY)
    seen = []

    @z.handler("chdir")
    def chdir(call):
        root = os.open(f"/proc/{call.pid}/root", os.O_PATH | os.O_CLOEXEC)
        try:
            seen.append(call._dir_in_root(root, f"/proc/{call.pid}/cwd"))
            call._dir_in_root(root, f"/proc/self/fd/{host_etc}")
        except OSError as e:
            seen.append(e.errno)
        finally:
            os.close(root)
        return 0

    try:
        run(z, ["/bin/sh", "-c", "cd /tmp"])
    finally:
        os.close(host_etc)
    assert seen == [b"", errno.ENOENT]


# -- the README's example ------------------------------------------------------

def readme_handler_example() -> str:
    text = open(README).read()
    m = re.search(r"```python\n(# a handler.*?)```", text, re.S)
    assert m, "README.md: the handler example (a python block starting '# a handler') is missing"
    return m.group(1)


def test_readme_handler_example_works(rootfs):
    ns = {"zone": Zone(rootfs)}
    with warnings.catch_warnings():
        warnings.simplefilter("error", HandlerWarning)
        exec(compile(readme_handler_example(), "README.md", "exec"), ns)
    r = ns["r"]
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == seen_in_zone(rootfs, "/etc/hostname")
    assert "/etc/hostname" in ns["opened"]


def test_read_bytes_is_bounded_whatever_length_the_guest_gives(rootfs):
    """A handler that reads as many bytes as the guest's argument says cannot
    be made to allocate without bound: past READ_MAX it gets E2BIG, which
    reaches the guest."""
    from lxbrand.supervisor import READ_MAX
    z = Zone(rootfs)

    @z.handler("getrandom")
    def greedy(call):
        call.read_bytes(call.args.buf, call.args.buflen)
        return call.args.buflen

    prog = ("import ctypes, os; l = ctypes.CDLL(None, use_errno=True); b = ctypes.create_string_buffer(16); "
            f"r = l.syscall(318, b, {READ_MAX + 1}, 0); print(r, ctypes.get_errno()); "
            "print(l.syscall(318, b, 16, 0))")
    r = z.run(["python3", "-c", prog], capture_output=True, timeout=60)
    assert r.stdout.decode().split() == ["-1", str(errno.E2BIG), "16"], r.stderr


def test_add_fd_answers_the_call_in_the_same_step(rootfs):
    """add_fd(answer=True) is ADDFD|SEND: the fd is the syscall's answer even
    though the handler returns something else afterwards."""
    z = Zone(rootfs)

    @z.handler("openat")
    def serve(call):
        path = call.read_str(call.args.path)
        if path != "/etc/hostname":
            fd = call.open_in_zone(path, call.args.flags, call.args.mode)
        else:
            fd = os.open("/dev/null", os.O_RDONLY)
        try:
            got = call.add_fd(fd)
        finally:
            os.close(fd)
        return got + 1000 if path == "/etc/hostname" else got

    r = z.run(["python3", "-c", "import os; fd = os.open('/etc/hostname', os.O_RDONLY); "
                                "print(fd > 2, os.read(fd, 10))"], capture_output=True, timeout=60)
    assert r.stdout == b"True b''\n", r.stderr


# -- a handler that raises ----------------------------------------------------------

@pytest.mark.parametrize("handler_errno, expect", [(None, errno.EIO), ("EAGAIN", errno.EAGAIN),
                                                   (errno.ENOMEM, errno.ENOMEM)])
def test_a_handler_that_raises_is_reported_and_fails_the_call(rootfs, handler_errno, expect):
    """Issue 15: not a silent ENOSYS: the guest gets the zone's handler_errno
    (EIO unless set), and a HandlerWarning names the syscall and the handler."""
    z = Zone(rootfs, **({} if handler_errno is None else {"handler_errno": handler_errno}))

    @z.handler("getcwd")
    def broken_getcwd(call):
        raise KeyError("a bug in the handler")

    with pytest.warns(HandlerWarning, match=r"getcwd handler .*broken_getcwd: raised KeyError"):
        out = py(z, "import os\ntry: os.getcwd()\nexcept OSError as e: print(e.errno)")
    assert out == f"{expect}\n"


def test_an_oserror_from_a_handler_is_its_errno(rootfs):
    z = Zone(rootfs)

    @z.handler("getcwd")
    def getcwd(call):
        raise PermissionError(errno.EACCES, "no")

    assert py(z, "import os\ntry: os.getcwd()\nexcept OSError as e: print(e.errno)") == f"{errno.EACCES}\n"


@pytest.mark.parametrize("bad", ["ENOPE", 0, 5000, True, 1.5])
def test_handler_errno_bad_values(rootfs, bad):
    with pytest.raises(lxbrand.errors.ZoneConfigError, match="handler_errno"):
        Zone(rootfs, handler_errno=bad)
