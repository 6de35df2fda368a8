"""The escape battery's fixtures: private rootfs copies, and lxrun run by root
and by an ordinary user.

Every guest-side attempt is a subcommand of testbins/escape.c, installed in
each private rootfs as /usr/local/bin/lxb-escape; it prints one verdict line
per attempt (blocked / contained / info / ESCAPE) and exits 1 if anything
escaped.  See SECURITY.md for the defences each test checks.

The host is never changed, even where a defence is missing: attempts write
values already there, the setuid files are made in the test's own temporary
directory and removed with it, and every lxrun call has a timeout.
"""
from __future__ import annotations

import ctypes
import io
import os
import pickle
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import namedtuple

import pytest

import lxbrand
import lxbrand.cli  # imported before any fork: the child runs as a user who cannot read /root
import lxbrand.zone  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTBINS = os.path.join(REPO, "testbins")
ESCAPE = "/usr/local/bin/lxb-escape"    # where each private rootfs has testbins/escape
LXB_ID_BASE = 0x70000000                # the host id of zone id 0 when root runs lxrun
ID_RANGE = 65536
USER_UID = int(os.environ.get("LXB_TEST_UID", "4711"))   # an ordinary user; no passwd entry needed
USER_GID = int(os.environ.get("LXB_TEST_GID", str(USER_UID)))
TIMEOUT = 30                            # seconds, for any one zone

Result = namedtuple("Result", "returncode stdout stderr")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
PR_SET_DUMPABLE = 4


# ---- reading escape's verdicts -------------------------------------------

def verdicts(out: str) -> dict:
    """{attempt: (verdict, detail)} from escape's output lines."""
    v = {}
    for line in out.splitlines():
        what, sep, rest = line.rpartition(": ")
        if not sep:
            continue
        verdict, _, detail = rest.partition(" ")
        if verdict in ("blocked", "contained", "info", "ESCAPE"):
            v[what] = (verdict, detail)
    return v


def assert_contained(r: Result, *, blocked_with: dict | None = None) -> dict:
    """escape ran to its end, nothing escaped, and the named attempts failed
    with the documented errno ({attempt: "EPERM"} or {attempt: ("EPERM", "EACCES")})."""
    v = verdicts(r.stdout)
    escapes = {k: d for k, (verdict, d) in v.items() if verdict == "ESCAPE"}
    assert not escapes, f"escaped: {escapes}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    for what, errnos in (blocked_with or {}).items():
        errnos = (errnos,) if isinstance(errnos, str) else tuple(errnos)
        assert what in v, f"{what!r} was not attempted:\n{r.stdout}\n{r.stderr}"
        verdict, detail = v[what]
        assert verdict == "blocked" and detail in errnos, f"{what}: {verdict} {detail}, expected one of {errnos}"
    return v


def assert_lines(r: Result, expected: dict) -> dict:
    """Only the named attempts of a run shared by several tests:
    {attempt: (verdict or verdicts, errno or errnos or None)}."""
    v = verdicts(r.stdout)
    for what, (want, errnos) in expected.items():
        want = (want,) if isinstance(want, str) else tuple(want)
        assert what in v, f"{what!r} was not attempted:\n{r.stdout}\n{r.stderr}"
        verdict, detail = v[what]
        assert verdict in want, f"{what}: {verdict} {detail}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        if errnos is not None and verdict == "blocked":
            errnos = (errnos,) if isinstance(errnos, str) else tuple(errnos)
            assert detail in errnos, f"{what}: blocked {detail}, expected one of {errnos}"
    return v


# ---- running lxrun ---------------------------------------------------------

def _read_until(fds: tuple, timeout: float, kill) -> tuple:
    """Read fds to EOF; at the deadline kill() and give them 5 s more (a
    process that kept a copy of a pipe must not hang the battery).
    Returns (timed_out, [bytes per fd])."""
    bufs = {fd: [] for fd in fds}
    sel = selectors.DefaultSelector()
    for fd in fds:
        sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    timed_out = False
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            if timed_out:
                break
            timed_out = True
            kill()
            deadline = time.monotonic() + 5
            continue
        for key, _ in sel.select(left):
            chunk = os.read(key.fd, 65536)
            if chunk:
                bufs[key.fd].append(chunk)
            else:
                sel.unregister(key.fd)
    sel.close()
    return timed_out, [b"".join(bufs[fd]) for fd in fds]


def _kill(pid: int):
    def kill():
        try:
            os.kill(pid, signal.SIGKILL)   # init has PDEATHSIG: the zone goes with it
        except ProcessLookupError:
            pass
    return kill


def lxrun_forked(args, *, uid=None, gid=None, pre=None, stdin=None, timeout=TIMEOUT) -> Result:
    """lxrun's CLI entry point in a forked child, as root or, with uid/gid, as
    an ordinary user (the interpreter lives under /root, mode 0700, so
    `setpriv ... lxrun` cannot start it).  pre(), run in the child after the
    privilege drop and before lxrun, returns words appended to args."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        code = 125
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.dup2(stdin if stdin is not None else os.open(os.devnull, os.O_RDONLY), 0)
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            # pytest replaced sys.stdout/err with its capture: speak to the pipes
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
            os.chdir("/")
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if uid is not None:
                os.setgroups([])
                os.setresgid(gid, gid, gid)
                os.setresuid(uid, uid, uid)
                # a uid change clears dumpable; lxrun writes its child's id maps
                _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
            extra = list(pre()) if pre else []
            sys.argv = ["lxrun", *map(str, args), *extra]
            lxbrand.cli.entry()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(out_w)
    os.close(err_w)
    timed_out, (out, err) = _read_until((out_r, err_r), timeout, _kill(pid))
    os.close(out_r)
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        pytest.fail(f"lxrun {' '.join(map(str, args))}: no end after {timeout} s (killed)")
    return Result(os.waitstatus_to_exitcode(status), out.decode(errors="replace"), err.decode(errors="replace"))


def lxrun_root(args, *, timeout=TIMEOUT) -> Result:
    """The lxrun command, run by root."""
    p = subprocess.Popen(["lxrun", *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    timed_out, (out, err) = _read_until((p.stdout.fileno(), p.stderr.fileno()), timeout, p.kill)
    p.stdout.close()
    p.stderr.close()
    rc = p.wait()
    if timed_out:
        pytest.fail(f"lxrun {' '.join(map(str, args))}: no end after {timeout} s (killed)")
    return Result(rc, out.decode(errors="replace"), err.decode(errors="replace"))


def in_child(fn, timeout=TIMEOUT):
    """fn() in a forked child (library tests: Zone.run in-process): its value,
    or its exception raised here; a hang kills the child and fails the test."""
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        try:
            os.close(r)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                payload = ("ok", fn())
            except BaseException as e:
                payload = ("raised", e)
            try:
                data = pickle.dumps(payload)
            except Exception:
                data = pickle.dumps(("raised", RuntimeError(repr(payload[1]))))
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
        finally:
            os._exit(0)
    os.close(w)
    timed_out, (data,) = _read_until((r,), timeout, _kill(pid))
    os.close(r)
    os.waitpid(pid, 0)
    if timed_out or not data:
        pytest.fail(f"{getattr(fn, '__name__', fn)}: no end after {timeout} s (killed)" if timed_out
                    else f"{getattr(fn, '__name__', fn)}: the child died without an answer")
    kind, value = pickle.loads(data)
    if kind == "raised":
        raise value
    return value


class Zones:
    """lxrun over one private rootfs, run by root or by the ordinary user."""

    def __init__(self, who: str, rootfs: str, workdir: str):
        self.who = who
        self.rootfs = rootfs
        self.workdir = workdir
        self.marker = os.path.join(workdir, "host-marker")   # exists on the host only
        self.uid, self.gid = (0, 0) if who == "root" else (USER_UID, USER_GID)
        # the host id of the zone's root: what it writes in a bind belongs to it
        self.host_uid = LXB_ID_BASE if who == "root" else USER_UID
        self.host_gid = LXB_ID_BASE if who == "root" else USER_GID

    def __repr__(self) -> str:
        return f"<Zones {self.who} {self.rootfs}>"

    def run(self, *cmd, opts=(), timeout=TIMEOUT, pre=None, stdin=None) -> Result:
        args = [*opts, self.rootfs, *cmd]
        if self.who == "root" and pre is None and stdin is None:
            return lxrun_root(args, timeout=timeout)
        uid = None if self.who == "root" else self.uid
        return lxrun_forked(args, uid=uid, gid=self.gid, pre=pre, stdin=stdin, timeout=timeout)

    def escape(self, *args, opts=(), **kw) -> Result:
        return self.run(ESCAPE, *args, opts=opts, **kw)

    def sh(self, script: str, opts=(), **kw) -> Result:
        return self.run("/bin/sh", "-c", script, opts=opts, **kw)

    def host_dir(self, name: str, mode=0o755) -> str:
        """A fresh host directory for --bind, owned by the zone's root as the
        host sees it (LXB_ID_BASE as root, the user as a user)."""
        d = tempfile.mkdtemp(prefix=f"{name}-", dir=self.workdir)
        os.chmod(d, mode)
        os.chown(d, self.host_uid, self.host_gid)
        return d

    def on(self, rootfs: str) -> "Zones":
        """The same runner over another rootfs."""
        return Zones(self.who, rootfs, self.workdir)


# ---- fixtures ----------------------------------------------------------------

# host-global sysctls a zone must not write (K1); the battery only ever
# rewrites them with the values they hold
HOST_SYSCTLS = ["kernel/core_pattern", "kernel/core_uses_pid", "kernel/randomize_va_space",
                "kernel/panic_on_oops", "kernel/modprobe", "kernel/sysrq", "kernel/kptr_restrict",
                "kernel/dmesg_restrict", "fs/protected_symlinks", "fs/protected_hardlinks",
                "fs/lease-break-time", "fs/suid_dumpable", "vm/overcommit_memory", "vm/swappiness"]


def host_sysctls() -> dict:
    out = {}
    for name in HOST_SYSCTLS:
        try:
            with open(f"/proc/sys/{name}") as f:
                out[name] = f.read()
        except OSError:
            pass
    return out


def host_facts(workdir: str) -> dict:
    """What no attempt may change on the host."""
    facts = {"uname": os.uname(), "sysctls": host_sysctls(),
             "devs": {d: tuple(os.stat(d))[:7] for d in ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom")}}
    with open("/proc/self/mountinfo") as f:
        facts["mounts under the workdir"] = [line for line in f if workdir in line or "lxb-" in line]
    with open(os.path.join(workdir, "host-marker")) as f:
        facts["marker"] = f.read()
    try:
        with open("/proc/modules") as f:
            facts["modules"] = sorted(line.split()[0] for line in f)
    except FileNotFoundError:
        pass
    return facts


@pytest.fixture(autouse=True)
def host_unchanged(workdir):
    """Every test: the host's names, sysctls, device nodes, mounts and modules
    are as they were."""
    before = host_facts(workdir)
    yield
    assert host_facts(workdir) == before, "the host changed"


@pytest.fixture(scope="session")
def escape_bin() -> str:
    """testbins/build/escape, built if missing or older than escape.c."""
    src = os.path.join(TESTBINS, "escape.c")
    out = os.path.join(TESTBINS, "build", "escape")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run(["make", "-C", TESTBINS, "build/escape"], check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def workdir():
    """A host directory of the module's own, traversable by the ordinary user,
    with a marker file that only the host can see."""
    # /var/tmp, not /tmp: lxrun mounts its staging tmpfs on /tmp in the zone's
    # namespace, which would hide a target under /tmp from a set-up that escapes
    d = tempfile.mkdtemp(prefix="lxbsec-", dir="/var/tmp")
    os.chmod(d, 0o755)
    with open(os.path.join(d, "host-marker"), "w") as f:
        f.write("on the host only\n")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _private_copy(rootfs: str, workdir: str, name: str, escape_bin: str) -> str:
    """cp -a of the cached rootfs (same file system: /tmp and ~/.cache), with
    escape installed and owned like the rest of the tree."""
    dst = os.path.join(workdir, name)
    subprocess.run(["cp", "-a", rootfs, dst], check=True, timeout=120)
    target = dst + ESCAPE
    shutil.copy(escape_bin, target)
    st = os.stat(os.path.dirname(target))
    os.chown(target, st.st_uid, st.st_gid)
    os.chmod(target, 0o755)
    return dst


def busybox() -> str:
    bb = shutil.which("busybox")
    if bb is None:
        pytest.skip("busybox-static is not installed on the host (apt-get install busybox-static)")
    out = subprocess.run(["file", "-L", bb], capture_output=True, text=True).stdout if shutil.which("file") else ""
    if out and "statically linked" not in out and "static-pie" not in out:
        pytest.skip(f"{bb} is not statically linked (install busybox-static)")
    return bb


def make_tiny(parent: str, escape_bin: str, uid: int = 0, gid: int = 0) -> str:
    """A small rootfs: static busybox with its applets, escape, /etc/passwd;
    owned by uid:gid (the ordinary user's own, or root's)."""
    root = tempfile.mkdtemp(prefix="tiny-", dir=parent)
    os.chmod(root, 0o755)
    for d in ("bin", "etc", "dev", "tmp", "proc", "sys", "mnt", "root", "var/tmp", "usr/local/bin"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    os.chmod(f"{root}/tmp", 0o1777)
    os.chmod(f"{root}/var/tmp", 0o1777)
    shutil.copy2(busybox(), f"{root}/bin/busybox")
    applets = subprocess.run([f"{root}/bin/busybox", "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        if a != "busybox" and "/" not in a:
            os.symlink("busybox", f"{root}/bin/{a}")
    os.symlink("bin", f"{root}/sbin")
    shutil.copy(escape_bin, root + ESCAPE)
    os.chmod(root + ESCAPE, 0o755)
    with open(f"{root}/etc/passwd", "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/:/bin/sh\n")
    with open(f"{root}/etc/group", "w") as f:
        f.write("root:x:0:\nuser:x:1000:\n")
    if (uid, gid) != (0, 0):
        subprocess.run(["chown", "-R", "-h", f"{uid}:{gid}", root], check=True)
    return root


def _can_run_unprivileged(rootfs: str) -> None:
    r = lxrun_forked([rootfs, "/bin/true"], uid=USER_UID, gid=USER_GID)
    if r.returncode != 0 and "user namespace" in r.stderr:
        pytest.skip(f"this host refuses unprivileged user namespaces: {r.stderr.strip()}")


@pytest.fixture(scope="module")
def tiny_root(workdir, escape_bin) -> Zones:
    """Root runs lxrun over the module's own busybox rootfs."""
    return Zones("root", make_tiny(workdir, escape_bin), workdir)


@pytest.fixture(scope="module")
def tiny_user(workdir, escape_bin) -> Zones:
    """The ordinary user runs lxrun over the module's own busybox rootfs (theirs)."""
    z = Zones("user", make_tiny(workdir, escape_bin, USER_UID, USER_GID), workdir)
    _can_run_unprivileged(z.rootfs)
    return z


@pytest.fixture(params=["root", "user"])
def zones(request) -> Zones:
    """Each test that takes `zones` runs twice, over a busybox rootfs: lxrun
    run by root, and by an ordinary user."""
    return request.getfixturevalue(f"tiny_{request.param}")


@pytest.fixture(scope="module")
def deb_root(rootfs, workdir, escape_bin) -> Zones:
    """Root runs lxrun over the module's private copy of the Debian rootfs."""
    return Zones("root", _private_copy(rootfs, workdir, "rootfs", escape_bin), workdir)


@pytest.fixture(scope="module")
def deb_user(rootfs, workdir, escape_bin) -> Zones:
    """The ordinary user runs lxrun over a private copy of the Debian rootfs
    that the user owns, as a rootless user's own rootfs is (no id shift:
    that is root's)."""
    dst = _private_copy(rootfs, workdir, "rootfs-user", escape_bin)
    subprocess.run(["chown", "-R", "-h", f"{USER_UID}:{USER_GID}", dst], check=True, timeout=120)
    for name in os.listxattr(dst):
        if name.startswith("trusted."):
            os.removexattr(dst, name)
    _can_run_unprivileged(dst)
    return Zones("user", dst, workdir)


@pytest.fixture(params=["root", "user"])
def deb_zones(request) -> Zones:
    """Each test that takes `deb_zones` runs twice, over the Debian rootfs:
    lxrun run by root, and by an ordinary user."""
    return request.getfixturevalue(f"deb_{request.param}")
