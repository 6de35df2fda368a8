"""Answering a zone's syscalls in Python.

The brand is compiled for a zone in lxbrand.brand (compile.py: `Brand`, the
filter and the C and Python dispatch).  `Supervisor` owns a zone's C loop and answers the upcalls;
`Call` is what a Python handler receives.
"""
from __future__ import annotations

import errno
import os
import threading
from collections import namedtuple
from typing import Callable, Optional

from . import _csup
# the brand is compiled in lxbrand.brand (compile.py); the names stay importable from here
from .brand import Brand, check_handler_name, kernel_version  # noqa: F401

READ_MAX = 16 << 20
"""The most Call.read_bytes reads at once (bytes)."""

CONTINUE = "continue"
"""A handler's answer meaning: let the kernel run the syscall as the guest made it.
Never answer it after deciding from guest memory (DESIGN.md, rules of the path)."""

_ARGTYPES: dict[int, type] = {}


def _argtype(sc) -> type:
    t = _ARGTYPES.get(sc.nr)
    if t is None:
        names = [n for n, _ in sc.params][:6]
        t = _ARGTYPES[sc.nr] = namedtuple(f"{sc.name}_args", names, rename=True)
    return t


class HandlerWarning(RuntimeWarning):
    """A Python handler broke a rule of the syscall path (CONTINUE after reading
    guest memory, or CONTINUE of a syscall the brand refuses).  The guest's call
    failed instead of running; the warning names the handler, once per bug
    (Python's warnings filter: turn it into an error with
    `warnings.simplefilter("error", HandlerWarning)`)."""


def refuses_continue(sc) -> bool:
    """The brand refuses this syscall for the boundary's sake (the table's
    status says denied or unsupported: host-wide effect, or, like io_uring,
    requests the filter never sees), so no handler may let it run."""
    return sc is None or sc.status.name in ("denied", "unsupported")


_WARNED: dict = {}      # warnings.warn_explicit's registry: each handler bug shown once

# openat2(2), which Python's os module lacks
_SYS_openat2 = 437
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_IN_ROOT = 0x10
# open(2) ignores flags it does not know and openat2(2) refuses them: keep the
# kernel's VALID_OPEN_FLAGS (include/linux/fcntl.h), O_PATH's few, and the mode
# only where a file may be created (fs/open.c build_open_how)
_VALID_OPEN_FLAGS = 0o37777703
_O_PATH_FLAGS = os.O_DIRECTORY | os.O_NOFOLLOW | os.O_PATH | os.O_CLOEXEC
_AT_FDCWD = -100
_libc = None


def _openat2(dirfd: int, path: bytes, flags: int, mode: int, resolve: int) -> int:
    global _libc
    import ctypes
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    how = (ctypes.c_uint64 * 3)(flags, mode, resolve)
    for _ in range(32):     # EAGAIN: a rename or mount raced the lookup; Linux asks to retry
        fd = _libc.syscall(ctypes.c_long(_SYS_openat2), ctypes.c_int(dirfd), ctypes.c_char_p(path),
                           ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err != errno.EAGAIN:
            break
    raise OSError(err, f"openat2 {os.fsdecode(path)!r}: {os.strerror(err)}")


def _thread_syscall(nr: int, *args) -> int:
    """A raw syscall: setfsuid/setfsgid/setgroups through it change the calling
    thread only (glibc's wrappers would change every thread of lxrun)."""
    import ctypes
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc.syscall(ctypes.c_long(nr), *args)


_SYS_setgroups, _SYS_setfsuid, _SYS_setfsgid = 116, 122, 123


class _GuestIds:
    """Run an open as the calling guest thread would be checked: its fsuid,
    fsgid and groups as the host sees them (/proc/TID/status shows them in
    lxrun's user namespace).  Where they are lxrun's own, nothing changes;
    else lxrun, when root, takes them for this thread only (leaving fsuid 0
    drops the file capabilities, as Linux does); else it refuses (EACCES)
    rather than act for the guest with more than the guest has."""

    def __init__(self, pid: int):
        self.uid = self.gid = None
        self.groups: list[int] = []
        self.umask = 0o022
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "Uid":
                    self.uid = int(value.split()[3])
                elif key == "Gid":
                    self.gid = int(value.split()[3])
                elif key == "Groups":
                    self.groups = [int(g) for g in value.split()]
                elif key == "Umask":
                    self.umask = int(value, 8)
        self.switched = False

    def __enter__(self):
        import ctypes
        mine = self.uid == os.geteuid() and self.gid == os.getegid()
        if mine and set(os.getgroups()) <= set(self.groups) | {self.gid}:
            return self
        if os.geteuid() != 0:
            raise OSError(errno.EACCES, f"the guest's ids (uid {self.uid}, gid {self.gid}) are not "
                                        "lxrun's, which cannot take them")
        self.old_groups = os.getgroups()
        groups = (ctypes.c_uint32 * max(1, len(self.groups)))(*self.groups)
        self.switched = True
        if _thread_syscall(_SYS_setgroups, ctypes.c_size_t(len(self.groups)), groups) < 0:
            self._restore()
            raise OSError(ctypes.get_errno(), "setgroups for the guest's ids failed")
        _thread_syscall(_SYS_setfsgid, ctypes.c_uint32(self.gid))
        _thread_syscall(_SYS_setfsuid, ctypes.c_uint32(self.uid))
        # setfsuid/setfsgid answer the previous id and no error: ask again
        if (_thread_syscall(_SYS_setfsuid, ctypes.c_uint32(0xFFFFFFFF)) != self.uid
                or _thread_syscall(_SYS_setfsgid, ctypes.c_uint32(0xFFFFFFFF)) != self.gid):
            self._restore()
            raise OSError(errno.EACCES, f"cannot take the guest's ids (uid {self.uid}, gid {self.gid})")
        return self

    def _restore(self) -> None:
        import ctypes
        _thread_syscall(_SYS_setfsuid, ctypes.c_uint32(os.geteuid()))
        _thread_syscall(_SYS_setfsgid, ctypes.c_uint32(os.getegid()))
        old = (ctypes.c_uint32 * max(1, len(self.old_groups)))(*self.old_groups)
        if _thread_syscall(_SYS_setgroups, ctypes.c_size_t(len(self.old_groups)), old) < 0:
            # never go on answering syscalls with the guest's groups: fail closed
            os.write(2, b"lxbrand: cannot restore lxrun's groups after a handler's open\n")
            os._exit(125)

    def __exit__(self, *exc) -> None:
        if self.switched:
            self._restore()


def _int32(value: int) -> int:
    """An int argument as the kernel reads it: the register's low 32 bits, signed."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


class Call:
    """One notified syscall, as a Python handler sees it.

    `args` holds the six argument registers, named by the table's signature
    (`call.args.buf`); pointers are addresses in the guest.  Read a pointer
    once with `read_bytes`/`read_str`: they check that the notification is still
    alive after reading, as DESIGN.md's rules of the syscall path ask.

    Safe by construction: once a handler has touched guest memory or acted
    for the guest (read_bytes, read_str, write_bytes, open_in_zone, add_fd),
    answering CONTINUE is refused: the guest could change what was read
    before the kernel reads it again.  Perform the operation instead
    (`open_in_zone` + `add_fd`) and answer its result.  A syscall the brand
    refuses (the table's denied and unsupported ones, io_uring among them)
    never continues either.  A refused CONTINUE fails the guest's call
    (ENOSYS after a read, the table's own errno for a refused syscall) and
    is reported once as a HandlerWarning.
    """

    __slots__ = ("zone", "id", "pid", "nr", "name", "args", "raw", "_listener", "_sc", "_touched")

    def __init__(self, zone, c_call, sc):
        self.zone = zone
        self.id = c_call.id
        self.pid = c_call.pid
        self.nr = c_call.nr
        self.raw = tuple(c_call.args)
        self._listener = c_call.listener_fd
        self._sc = sc
        self._touched = ""      # what the handler did that forbids CONTINUE
        if sc is not None:
            self.name = sc.name
            t = _argtype(sc)
            self.args = t(*self.raw[: len(t._fields)])
        else:
            self.name = f"syscall_{self.nr}"
            self.args = self.raw

    def __repr__(self) -> str:
        return f"<Call {self.name}{tuple(self.args)} pid={self.pid}>"

    def decoded(self, read: bool = False) -> list:
        """[(name, value)] by the table's signature (lxbrand.brand.decode): fds,
        open flags, signals and clocks by name, pointers as addresses; with
        read=True, paths, strings and in[bytes] buffers are read from the guest
        through read_str/read_bytes (so, like any read, CONTINUE is refused after).
        `decode.format_call(BY_NR[call.nr], call.raw, call)` prints it as strace does."""
        from .brand import decode
        if self._sc is None:
            return list(enumerate(self.raw))
        return decode.args(self._sc, self.raw, self if read else None)

    def valid(self) -> bool:
        return _csup.notif_valid(self._listener, self.id)

    def _check_valid(self) -> None:
        if not self.valid():
            raise OSError(errno.ENOENT, "the calling thread is gone")

    def read_bytes(self, addr: int, length: int) -> bytes:
        """`length` bytes of guest memory (at most READ_MAX: a length taken
        from a guest's argument cannot make lxrun allocate without bound)."""
        self._touched = self._touched or "read guest memory"
        if length == 0:
            return b""
        if not 0 < length <= READ_MAX:
            raise OSError(errno.E2BIG, f"{self.name}: read of {length} bytes of guest memory "
                                       f"(at most {READ_MAX} at once: read in pieces)")
        data = _csup.read_mem(self.pid, addr, length)
        if len(data) != length:
            raise OSError(errno.EFAULT, f"cannot read {length} bytes at {addr:#x}")
        self._check_valid()
        return data

    def read_str(self, addr: int, limit: int = 4096) -> str:
        """A NUL-terminated string, read page by page (ENAMETOOLONG past limit)."""
        self._touched = self._touched or "read guest memory"
        out = b""
        while len(out) < limit:
            chunk = 4096 - ((addr + len(out)) % 4096)
            data = _csup.read_mem(self.pid, addr + len(out), chunk)
            if not data:
                raise OSError(errno.EFAULT, f"cannot read a string at {addr:#x}")
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                self._check_valid()
                return out.decode(errors="surrogateescape")
            out += data
        raise OSError(errno.ENAMETOOLONG, "string too long")

    def write_bytes(self, addr: int, data: bytes) -> None:
        self._touched = self._touched or "wrote guest memory"
        self._check_valid()
        n = _csup.write_mem(self.pid, addr, data)
        if n != len(data):
            raise OSError(errno.EFAULT, f"cannot write {len(data)} bytes at {addr:#x}")

    def add_fd(self, host_fd: int, cloexec: bool = False, answer: bool = True) -> int:
        """Install a copy of `host_fd` in the guest; returns the guest's fd.

        With answer=True (the default) the fd is also the syscall's answer,
        given in the same step (SECCOMP_ADDFD_FLAG_SEND): the guest never holds
        an fd its call did not return, even if the call is interrupted; the
        handler's own return value is then not used (return the fd anyway).
        answer=False installs it and leaves the answer to the handler (an fd
        passed some other way, e.g. in a struct the handler writes)."""
        self._touched = "installed an fd in the guest"
        return _csup.add_fd(self._listener, self.id, host_fd, cloexec, answer, f"{self.name}: ADDFD")

    def open_in_zone(self, path, flags: int = os.O_RDONLY, mode: int = 0, dirfd: int = _AT_FDCWD) -> int:
        """Open `path` for the guest, as the calling thread would see it, and
        return the host fd (the handler closes it, usually after `add_fd`).

        An absolute path is resolved in the guest's root, a relative one from
        `dirfd` (the guest's fd, or AT_FDCWD: its working directory), and
        either way with openat2's RESOLVE_IN_ROOT on the guest's root: `..`
        and absolute symlinks stop at the zone's root, magic links
        (/proc/PID/root, /proc/PID/fd/N) are refused, so nothing outside the
        zone is reached.  The open is checked with the guest thread's fsuid,
        fsgid and groups (see _GuestIds), and its umask applies to `mode`
        (lxrun's umask too).  `flags` and `mode` are taken as open(2) does:
        unknown flags ignored, the mode only with O_CREAT or O_TMPFILE.
        The notification is checked alive after the open; OSError carries
        the errno to answer.
        """
        self._touched = self._touched or "opened a file for the guest"
        raw = os.fsencode(path)
        if not raw:
            raise OSError(errno.ENOENT, "open_in_zone: empty path")
        if b"\0" in raw:
            raise OSError(errno.EINVAL, "open_in_zone: NUL in the path")
        flags = _int32(flags) & _VALID_OPEN_FLAGS
        if flags & os.O_PATH:
            flags &= _O_PATH_FLAGS
        ids = _GuestIds(self.pid)
        if flags & (os.O_CREAT | (os.O_TMPFILE & ~os.O_DIRECTORY)):
            mode = mode & 0o7777 & ~ids.umask
        else:
            mode = 0
        proc = f"/proc/{self.pid}"
        root = os.open(f"{proc}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if not raw.startswith(b"/"):
                dirfd = _int32(dirfd)
                raw = self._dir_in_root(root, f"{proc}/cwd" if dirfd == _AT_FDCWD else f"{proc}/fd/{dirfd}") \
                    + b"/" + raw
            # the pid was the caller's when the root was opened (it still waits)
            self._check_valid()
            with ids:
                fd = _openat2(root, raw, flags | os.O_CLOEXEC, mode,
                              _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
        finally:
            os.close(root)
        try:
            self._check_valid()
        except OSError:
            os.close(fd)
            raise
        return fd

    def _dir_in_root(self, root: int, link: str) -> bytes:
        """The path inside the guest's root of the directory `link`
        (/proc/PID/cwd or /proc/PID/fd/N) names, checked to be that
        directory: a directory outside the zone's root is ENOENT here."""
        import stat
        try:
            where = os.readlink(link)
            want = os.stat(link)
        except FileNotFoundError:
            raise OSError(errno.EBADF, f"{self.name}: no such directory fd in the guest") from None
        if not stat.S_ISDIR(want.st_mode):
            raise OSError(errno.ENOTDIR, f"{self.name}: the dirfd is not a directory")
        raw = os.fsencode(where)
        if raw.startswith(b"/"):
            try:
                fd = _openat2(root, raw, os.O_PATH | os.O_CLOEXEC, 0, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
            except OSError:
                fd = -1
            if fd >= 0:
                try:
                    got = os.fstat(fd)
                finally:
                    os.close(fd)
                if (got.st_dev, got.st_ino) == (want.st_dev, want.st_ino):
                    return raw.rstrip(b"/")
        raise OSError(errno.ENOENT, f"{self.name}: the directory {where!r} is not inside the zone's root")

    def _continue_refused(self):
        """(errno for the guest, why) when this call may not CONTINUE, else None."""
        if refuses_continue(self._sc):
            status = self._sc.status if self._sc is not None else "not in the table"
            err = (self._sc.status.errno if self._sc is not None else 0) or errno.ENOSYS
            return err, (f"the brand refuses {self.name} ({status}) for the zone's boundary; "
                         f"the call failed with {errno.errorcode.get(err, err)}")
        if self._touched:
            return errno.ENOSYS, (f"the handler {self._touched}, then answered CONTINUE: the guest "
                                  "can change its memory before the kernel reads it, so the call "
                                  "failed with ENOSYS; perform the operation (e.g. call.open_in_zone "
                                  "and call.add_fd) and answer its result")
        return None


def _answer(reply, result, call: Optional[Call] = None, fn=None) -> None:
    if isinstance(result, str) and result == CONTINUE:
        refused = call._continue_refused() if call is not None else None
        if refused is not None:     # fail the call, never continue; say so once
            reply.flags = 0
            reply.error = refused[0]
            _warn_handler(fn, call, refused[1])
            return
        reply.flags = _csup.REPLY_CONTINUE
        reply.error = 0
    elif isinstance(result, bool) or not isinstance(result, int):
        raise TypeError(f"a handler returns an int, a negative errno or lxbrand.CONTINUE, not {result!r}")
    elif result < 0 and result >= -4095:
        reply.error = -result
    else:
        reply.error = 0
        reply.val = result


def _warn_handler(fn, call: Call, why: str) -> None:
    """Report a handler's bug once, at the handler's own line (stderr by default)."""
    import warnings
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", None) or repr(fn)
    warnings.warn_explicit(f"{call.name} handler {name}: {why}", HandlerWarning,
                           code.co_filename if code else __file__, code.co_firstlineno if code else 1,
                           registry=_WARNED)


RECEIVERS = 4
"""Threads receiving one zone's notifications, at most: a slow Python handler
holds one of them while the others keep answering the zone's other threads.
One starts with the zone; another only when every one started is inside a
Python handler: an idle zone holds one thread (its stack, its thread state)
in the interpreter that serves it (issue 16)."""


class Supervisor:
    """A zone's notification loop (receiver threads running C) and its upcalls.

    Each receiver runs lxb_supervise on the same struct (csrc/supervisor.c,
    RECEIVERS); a Python upcall runs on the receiver that received it, and
    when no other receiver is left in C, it starts one more (up to
    `receivers`) before it runs the handler.
    `stop` wakes them all and waits for those running C, never for one inside
    a Python handler: that one finishes on its own time (its caller was
    killed with the zone), and the C struct with its fds is released when the
    last receiver is out.
    """

    def __init__(self, zone, brand: Brand, listener_fd: int, uts: dict, receivers: int = RECEIVERS):
        if receivers < 1:
            raise ValueError(f"receivers {receivers!r}: at least one")
        self.zone = zone
        self.brand = brand
        # the kernel the brand shows; nodename and domainname are the caller's own
        self.c = _csup.SupervisorStruct(self, brand.kind, brand.c_handler, uts, listener_fd,
                                        inject=getattr(brand, "inject_c", None),
                                        report=getattr(brand, "report_c", None))
        self.error: Optional[OSError] = None
        self.on_failure: Optional[Callable[[OSError], None]] = None
        self._cond = threading.Condition(threading.Lock())
        self._in_c = 0          # receivers started and not inside a Python handler
        self._refs = 1          # holders of self.c's fds: stop(), and each receiver
        self._stopped = False
        self._receivers = receivers
        self._started = 0       # receivers started or being started
        self.threads: list[threading.Thread] = []     # the receivers started

    def start(self) -> None:
        with self._cond:
            self._refs += 1
            self._in_c += 1
            self._started += 1
        self._add_receiver()

    def _add_receiver(self) -> None:
        """Start a receiver the caller counted in _refs, _in_c and _started."""
        t = threading.Thread(target=self._run, name=f"lxbrand-supervisor-{len(self.threads)}", daemon=True)
        try:
            t.start()
        except BaseException:
            with self._cond:
                self._refs -= 1
                self._in_c -= 1
                self._started -= 1
                self._cond.notify_all()
            raise
        self.threads.append(t)

    def _run(self) -> None:
        try:
            rc = self.c.supervise()
        finally:
            with self._cond:
                self._in_c -= 1
                self._cond.notify_all()
        try:
            if rc < 0:
                with self._cond:
                    first = self.error is None
                    if first:
                        self.error = OSError(-rc, f"the supervisor's loop failed: {os.strerror(-rc)}")
                if first and self.on_failure:
                    self.on_failure(self.error)
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._refs -= 1
            last = self._refs == 0
        if last:
            self.c.close()

    def stop(self) -> None:
        """Stop receiving; wait for the receivers in C, not for a Python handler."""
        with self._cond:
            if self._stopped:
                return
            self._stopped = True
        self.c.stop()
        with self._cond:
            self._cond.wait_for(lambda: self._in_c == 0)
        self._release()

    @property
    def notified(self) -> int:
        return self.c.notified

    def uts(self, field: str) -> str:
        return self.c.uts(field)

    def dispatch(self, c_call, reply) -> None:
        # out of C for as long as the handler takes: stop() does not wait for it
        with self._cond:
            self._in_c -= 1
            if self._stopped:
                self._cond.notify_all()
            grow = not self._stopped and self._in_c == 0 and self._started < self._receivers
            if grow:        # none left receiving while this handler runs: one more
                self._refs += 1
                self._in_c += 1
                self._started += 1
        if grow:
            try:
                self._add_receiver()
            except RuntimeError:
                pass        # no thread to be had: the receivers there are go on
        try:
            self._answer_upcall(c_call, reply)
        finally:
            with self._cond:
                self._in_c += 1

    def _answer_upcall(self, c_call, reply) -> None:
        entry = self.brand.py.get(c_call.nr)
        if entry is None:
            reply.error = errno.ENOSYS
            return
        fn, sc, from_table = entry
        call = Call(self.zone, c_call, sc)
        try:
            result = fn(call, *call.args) if from_table else fn(call)
        except OSError as e:
            reply.error = e.errno or errno.EIO
            return
        except Exception as e:          # the handler's bug: say where, fail the call as the zone says
            h = self.zone.config.handler_errno
            reply.error = getattr(errno, h) if isinstance(h, str) else h
            reply.flags = 0
            _warn_handler(fn, call, f"raised {e!r}; the call failed with "
                                    f"{errno.errorcode.get(reply.error, reply.error)}")
            return
        _answer(reply, result, call, fn)
