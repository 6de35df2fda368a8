"""Shared fixtures: the Debian rootfs every zone test runs on, and lxbrand
run by an ordinary user.

The tree is built once with mmdebstrap and cached outside the repository
(lxbrand.rootfs.cached(): $LXBRAND_CACHE or ~/.cache/lxbrand); later runs
reuse it, and a missing or incomplete tree is rebuilt.

An ordinary user may not be able to reach the installed lxbrand at all: on a
machine whose Python lives in root's 0700 home (pyenv under /root), uid 65534
cannot exec `lxrun` or the interpreter.  `run_as_user` therefore does what
setpriv(1) would, but without exec: it forks this (root) test process,
imports in the child, as root, every module lxbrand can need, drops to the
user there and calls lxrun's entry point or the library.
"""
import ast
import contextlib
import ctypes
import io
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import click
import pytest

import lxbrand.rootfs


# python3 in a zone: one thread, the same tid throughout, calls uname before
# and after it changes its own UTS namespace (the supervisor keeps the
# namespace it found per thread; unshare and setns make it forget); prints
# the four nodenames and the release: "ZONE ZONE mine ZONE RELEASE"
UNAME_SAME_THREAD = r"""
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUTS = 0x04000000
home = os.open("/proc/thread-self/ns/uts", os.O_RDONLY)
names = [os.uname().nodename]
assert libc.unshare(CLONE_NEWUTS) == 0, ctypes.get_errno()
names.append(os.uname().nodename)
socket.sethostname("mine")
names.append(os.uname().nodename)
assert libc.setns(home, CLONE_NEWUTS) == 0, ctypes.get_errno()
names.append(os.uname().nodename)
print(" ".join(names), os.uname().release)
"""


def one_line(r, code=None) -> str:
    """lxrun's error as DESIGN.md has it: one line starting "lxrun: ", the exit
    status `code` (any non-zero one when None); returns the line."""
    if code is None:
        assert r.returncode != 0, (r.returncode, r.stdout, r.stderr)
    else:
        assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    err = r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) else r.stderr
    assert err.startswith("lxrun: ") and len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.fixture(scope="session")
def rootfs() -> str:
    return lxbrand.rootfs.cached()


@pytest.fixture
def scratch_rootfs(tmp_path) -> str:
    """A small private rootfs (static busybox) that a test may change freely."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox-static is not installed on the host (apt-get install busybox-static)")
    out = subprocess.run(["file", "-L", busybox], capture_output=True, text=True).stdout \
        if shutil.which("file") else "statically linked"
    if "statically linked" not in out and "static-pie" not in out:
        pytest.skip(f"{busybox} is not statically linked (install busybox-static)")
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in ("sh", "echo", "cat", "ls", "true", "false", "sleep", "hostname", "uname", "id",
                   "touch", "rm", "mkdir", "ps", "kill", "env", "pwd", "ip", "wc", "tr"):
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    return str(root)


@pytest.fixture(scope="session")
def lxrun():
    """Run the lxrun command line as a user would, capturing its output."""
    def run(*args, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 120)
        return subprocess.run(["lxrun", *map(str, args)], **kw)
    return run


# --- lxbrand as an ordinary user ---------------------------------------------------

NOBODY = 65534
PR_SET_DUMPABLE = 4
EXIT_CHILD_BUG = 99      # the helper itself failed in the child; stderr has the traceback


def _preload(package_dirs, follow_dirs=()) -> None:
    """Import, in this process, every module of package_dirs and every module
    that their code imports: at the top of a module or inside a function
    (lxbrand.cli imports the zone, the brand and termios on first use),
    following the imports into any module that lives under package_dirs or
    follow_dirs too.  After the drop the user may not be able to read the
    interpreter's files, so nothing may be left to import then."""
    roots = tuple(os.path.realpath(d) + os.sep for d in (*package_dirs, *follow_dirs))
    seen, todo = set(), []
    for d in package_dirs:
        base = os.path.dirname(os.path.realpath(d))
        for dirpath, _, files in os.walk(d):
            for f in files:
                if f.endswith(".py") and f not in ("__main__.py", "_build.py"):
                    rel = os.path.relpath(os.path.join(dirpath, f[:-3]), base)
                    todo.append(rel.replace(os.sep, ".").removesuffix(".__init__"))
    while todo:
        name = todo.pop()
        if name in seen or name.endswith("__main__"):
            continue
        seen.add(name)
        try:
            __import__(name)
        except Exception:
            continue       # an optional import, guarded where it is made; or not a module
        module = sys.modules.get(name)
        path = os.path.realpath(getattr(module, "__file__", None) or "")
        if not path.endswith(".py") or not path.startswith(roots):
            continue
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                todo += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    parent = ".".join(parts[:len(parts) - node.level + 1])
                    base = f"{parent}.{node.module}" if node.module else parent
                else:
                    base = node.module
                # `from X import y`: y may be a submodule
                todo += [base] + [f"{base}.{a.name}" for a in node.names if a.name != "*"]


PRELOAD = [os.path.dirname(lxbrand.__file__), os.path.dirname(click.__file__)]
# a checkout's other top-level packages (an editable install), not site-packages
_project = os.path.dirname(os.path.dirname(os.path.realpath(lxbrand.__file__)))
FOLLOW = [] if os.path.basename(_project) in ("site-packages", "dist-packages") else [_project]


def _drop_to(uid: int, gid: int) -> None:
    """setpriv --reuid --regid --clear-groups, in this process."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # a process that changed its ids is not dumpable: its /proc/PID would stay
    # root's, and the user could not write its own uid_map. Be as a process
    # that never was root.
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE)")
    assert os.getresuid() == (uid,) * 3 and os.getresgid() == (gid,) * 3 and os.getgroups() == []
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise AssertionError("still privileged after the drop")


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    print(e.code, file=sys.stderr)
    return 1


def run_as_user(uid: int, gid: int, fn, *, args=(), cwd: str = "/", input: bytes = b"",
                timeout: float = 120) -> subprocess.CompletedProcess:
    """Call fn() in a forked child that has dropped to uid:gid, as a process
    of that user would run it; fn's return value (an int) or SystemExit is
    the exit status.  Returns a CompletedProcess with the child's status
    (negative: killed by that signal) and its stdout and stderr as text."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:      # the child: never return into pytest
        code = EXIT_CHILD_BUG
        try:
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
                os.close(fd)
            sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _preload(PRELOAD, FOLLOW)
            try:
                home = pwd.getpwuid(uid).pw_dir
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                home, name = "/", str(uid)
            os.environ.update(HOME=home, USER=name, LOGNAME=name)
            _drop_to(uid, gid)
            os.chdir(cwd)
            try:
                rv = fn()
                code = rv if isinstance(rv, int) else 0
            except SystemExit as e:
                code = _exit_code(e)
        except BaseException:
            traceback.print_exc()
            code = EXIT_CHILD_BUG
        finally:
            for f in (sys.stdout, sys.stderr):
                try:
                    f.flush()
                except BaseException:
                    pass
            os._exit(code)

    for fd in (in_r, out_w, err_w):
        os.close(fd)
    try:
        os.write(in_w, input)      # small: fits the pipe
    finally:
        os.close(in_w)
    out = {out_r: b"", err_r: b""}
    sel = selectors.DefaultSelector()
    for fd in out:
        sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise subprocess.TimeoutExpired(list(args), timeout, out[out_r], out[err_r])
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 65536)
                if chunk:
                    out[key.fd] += chunk
                else:
                    sel.unregister(key.fd)
    finally:
        sel.close()
        os.close(out_r)
        os.close(err_r)
    _, status = os.waitpid(pid, 0)
    return subprocess.CompletedProcess(list(args), os.waitstatus_to_exitcode(status),
                                       out[out_r].decode(errors="replace"), out[err_r].decode(errors="replace"))


def lxrun_as_user(uid: int, gid: int, *args, **kw) -> subprocess.CompletedProcess:
    """`lxrun ARGS...` run by uid:gid: lxrun's console-script entry point,
    called in a child that dropped to the user (see run_as_user)."""
    argv = ["lxrun", *map(str, args)]

    def main():
        from lxbrand.cli import entry
        sys.argv = argv
        entry()
    return run_as_user(uid, gid, main, args=argv, **kw)


@contextlib.contextmanager
def debian_of_nobody(prefix: str = "lxbrand-nobody-"):
    """A copy of the cached Debian rootfs that nobody owns, in a directory
    nobody can reach (/tmp, not root's 0700 tmp_path), removed afterwards;
    yields (its directory, the copy's path).  Skips unless run as root."""
    if os.geteuid() != 0:
        pytest.skip("dropping to another user needs root")
    src = lxbrand.rootfs.cached()
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    try:
        os.chmod(d, 0o755)
        root = os.path.join(d, "root")
        subprocess.run(["cp", "-a", src, root], check=True)
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", root], check=True)
        yield d, root
    finally:
        shutil.rmtree(d, ignore_errors=True)


class UnprivilegedUser:
    """An ordinary user of the host (nobody: 65534) with a rootfs of its own."""

    def __init__(self, uid: int, gid: int, rootfs: str):
        self.uid, self.gid, self.rootfs = uid, gid, rootfs

    def lxrun(self, *args, **kw) -> subprocess.CompletedProcess:
        return lxrun_as_user(self.uid, self.gid, *args, **kw)

    def call(self, fn, **kw) -> subprocess.CompletedProcess:
        return run_as_user(self.uid, self.gid, fn, **kw)


@pytest.fixture
def unprivileged(scratch_rootfs):
    """nobody (65534:65534), and a copy of scratch_rootfs that it owns, in a
    directory it can reach (tmp_path is under root's 0700 /tmp/pytest-of-root)."""
    if os.geteuid() != 0:
        pytest.skip("dropping to another user needs root; run as an ordinary user, every zone test is one")
    d = tempfile.mkdtemp(prefix="lxbrand-user-", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        root = os.path.join(d, "root")
        shutil.copytree(scratch_rootfs, root, symlinks=True)
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", root], check=True)
        yield UnprivilegedUser(NOBODY, NOBODY, root)
    finally:
        shutil.rmtree(d, ignore_errors=True)
