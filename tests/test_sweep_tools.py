"""Everyday tools in a zone against the same tools natively (sweep h54).

Each case is a difference the sweep found between a program run in a zone and
the same program run natively (a user namespace chroot'ed into the same
Debian tree), fixed in the zone.
"""
import ctypes
import os
import shutil
import sys
import subprocess

import pytest

from conftest import NOBODY
from lxbrand import Zone

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYRING = os.path.join(REPO, "testbins", "build", "keyring")

_libc = ctypes.CDLL(None, use_errno=True)
SYS_add_key, SYS_keyctl = 248, 250
KEYCTL_JOIN_SESSION_KEYRING = 1
KEY_SPEC_SESSION_KEYRING = -3


@pytest.fixture(scope="module")
def keyring_bin() -> str:
    """testbins/keyring.c, static (built if missing or older than its source)."""
    src = os.path.join(REPO, "testbins", "keyring.c")
    if not os.path.exists(KEYRING) or os.path.getmtime(KEYRING) < os.path.getmtime(src):
        subprocess.run(["make", "-C", os.path.join(REPO, "testbins"), "build/keyring"], check=True,
                       capture_output=True, timeout=120)
    return KEYRING


def _with_keyring(root: str, keyring_bin: str, owner=None) -> str:
    dst = os.path.join(root, "bin", "keyring")
    shutil.copy2(keyring_bin, dst)
    if owner is not None:
        os.chown(dst, owner, owner)
    return root


def test_a_key_added_to_the_user_keyring_is_read_back(scratch_rootfs, keyring_bin):
    """keyctl add user k v @u; keyctl print %user:k: natively the session
    keyring (_uid_ses.0) links the user keyring, so the key is possessed and
    its possessor reads it; the zone's fresh session keyring linked nothing
    (keyctl said 'keyctl_read_alloc: Permission denied')."""
    root = _with_keyring(scratch_rootfs, keyring_bin)
    r = Zone(root).run(["keyring", "own"], capture_output=True, text=True)
    assert r.stdout == "v4lue\n", r
    with Zone(root).boot() as z:
        r = z.run(["keyring", "own"], capture_output=True, text=True)
    assert r.stdout == "v4lue\n", r


def test_a_key_of_the_user_keyring_as_an_ordinary_user(unprivileged, keyring_bin):
    root = _with_keyring(unprivileged.rootfs, keyring_bin, NOBODY)
    r = unprivileged.lxrun(root, "keyring", "own")
    assert r.stdout == "v4lue\n", r


def _host_key_then_boot(root: str):
    """With a session keyring of its own holding a key (as lxbrand-oci exec's
    caller, or a program using the library, may have), a process exec'd into
    a booted zone looks for that key, then reads a key of its own."""
    session = _libc.syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, None)
    key = _libc.syscall(SYS_add_key, b"user", b"lxb-host", b"s3cret", 6, KEY_SPEC_SESSION_KEYRING)
    if session < 0 or key < 0:
        raise OSError(ctypes.get_errno(), "keyctl on the host")
    with Zone(root).boot() as z:
        z.run(["keyring", "host", str(key), "lxb-host", str(session)])
        z.run(["keyring", "own"])
    return 0


def _forked(fn) -> str:
    """fn() in a forked child of root's; its stdout (and its zones')."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:    # pragma: no cover - the child
        code = 1
        try:
            os.dup2(w, 1)
            os.close(r)
            code = fn()
        finally:
            os._exit(code)
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == 0, out
    return out.decode()


def test_a_process_execd_into_a_zone_does_not_keep_the_callers_keyring(scratch_rootfs, keyring_bin,
                                                                       unprivileged):
    """Zone.boot().run (and lxbrand-oci exec: csrc/zone_exec.c) started the
    process with its caller's session keyring, so it read the caller's key
    (SECURITY.md P10 held for the guest only); it now joins one of its own,
    which holds its user keyring as the guest's does.  Run by root (in a
    forked child: the test's keyrings stay as they are) and by a user."""
    expected = ["search ENOKEY", "read EACCES", "session own", "v4lue"]
    root = _with_keyring(scratch_rootfs, keyring_bin)
    out = _forked(lambda: _host_key_then_boot(root))
    assert "s3cret" not in out
    assert out.splitlines() == expected, out
    uroot = _with_keyring(unprivileged.rootfs, keyring_bin, NOBODY)
    r = unprivileged.call(lambda: _host_key_then_boot(uroot))
    assert "s3cret" not in r.stdout
    # the user's own key: its owner may read it (keyrings(7)), the zone is that user
    assert r.stdout.splitlines()[0] == "search ENOKEY" and r.stdout.splitlines()[2:] == expected[2:], r


PYCLI = os.path.join(os.path.dirname(sys.executable), "lxrun-py")


@pytest.mark.parametrize("closed, opts", [(">&-", ()), ("2>&-", ()), ("2>&-", ("--stats",)),
                                          ("2>&-", ("--trace",))])
def test_the_python_cli_started_with_stdout_or_stderr_closed(rootfs, closed, opts):
    """`lxrun-py ROOT CMD >&-` (the front door's hand-over, or run directly):
    the guest got /dev/null for the closed fd, as from the front door, but the
    interpreter had started with sys.stdout (sys.stderr) None, so the flush
    at the exit (or --stats' table) raised AttributeError: a traceback and
    status 1, not the guest's 3."""
    r = subprocess.run(["sh", "-c", f'exec "$@" {closed}', "sh", PYCLI, *opts, rootfs, "sh", "-c",
                        "echo out; echo err >&2; exit 3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r
    assert "Traceback" not in r.stdout + r.stderr
    assert (r.stdout, r.stderr) == (("", "err\n") if closed == ">&-" else ("out\n", ""))


REOPEN = "echo out > /dev/stdout; echo err > /dev/stderr; cat /dev/stdin; echo again > /proc/self/fd/1"


@pytest.mark.parametrize("uid", [0, 1000])
def test_the_librarys_pipes_reopen_as_dev_stdout(rootfs, uid):
    """Zone.run(capture_output=True) and a booted zone's run: the pipes the
    library made were host root's, so a root-run zone's process could not open
    them again: `echo x > /dev/stdout` said Permission denied (nginx's
    access_log /dev/stdout, tee /dev/stderr).  They are given to the guest's ids."""
    zone = Zone(rootfs, uid=uid, gid=uid)
    r = zone.run(["sh", "-c", REOPEN], input="in\n", capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "out\nin\nagain\n", "err\n"), r
    with zone.boot() as z:
        r = z.run(["sh", "-c", REOPEN], input="in\n", capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "out\nin\nagain\n", "err\n"), r


def test_rootfs_create_where_the_user_cannot_write(unprivileged):
    """`lxrun rootfs create /var/DIR` run by a user: a Python traceback ending in
    PermissionError (os.makedirs in rootfs.create) instead of lxrun's one line."""
    r = unprivileged.lxrun("rootfs", "create", "/var/lxbrand-no-such-dir")
    assert r.returncode == 1, r
    assert r.stderr == "lxrun: /var/lxbrand-no-such-dir: Permission denied\n", r
