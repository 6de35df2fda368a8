"""Compiling the brand for one zone, and answering its syscalls in Python.

`Brand` turns the table (plus a zone's own Python handlers) into the two
things the C side needs: one seccomp action per syscall number, and the
dispatch arrays that say which notified syscall a C handler answers and which
goes up to Python.  `Supervisor` owns a zone's C loop and answers the upcalls;
`Call` is what a Python handler receives.
"""
from __future__ import annotations

import errno
import os
import threading
from collections import namedtuple
from typing import Callable, Optional

from . import syscalls as brand_table
from ._csup import check, ffi, lib
from .errors import ZoneConfigError
from .syscalls import ident
from .syscalls.model import CHandler

CONTINUE = "continue"
"""A handler's answer meaning: let the kernel run the syscall as the guest made it.
Never answer it after deciding from guest memory (DESIGN.md, rules of the path)."""

BPF_MAX = 64 * 1024

_ARGTYPES: dict[int, type] = {}


def _argtype(sc) -> type:
    t = _ARGTYPES.get(sc.nr)
    if t is None:
        names = [n for n, _ in sc.params][:6]
        t = _ARGTYPES[sc.nr] = namedtuple(f"{sc.name}_args", names, rename=True)
    return t


class Call:
    """One notified syscall, as a Python handler sees it.

    `args` holds the six argument registers, named by the table's signature
    (`call.args.buf`); pointers are addresses in the guest.  Read a pointer
    once with `read_bytes`/`read_str`: they check that the notification is still
    alive after reading, as DESIGN.md's rules of the syscall path ask.
    """

    __slots__ = ("zone", "id", "pid", "nr", "name", "args", "raw", "_listener")

    def __init__(self, zone, c_call, sc):
        self.zone = zone
        self.id = c_call.id
        self.pid = c_call.pid
        self.nr = c_call.nr
        self.raw = tuple(c_call.args)
        self._listener = c_call.listener_fd
        if sc is not None:
            self.name = sc.name
            t = _argtype(sc)
            self.args = t(*self.raw[: len(t._fields)])
        else:
            self.name = f"syscall_{self.nr}"
            self.args = self.raw

    def __repr__(self) -> str:
        return f"<Call {self.name}{tuple(self.args)} pid={self.pid}>"

    def valid(self) -> bool:
        return lib.lxb_notif_valid(self._listener, self.id) == 0

    def _check_valid(self) -> None:
        if not self.valid():
            raise OSError(errno.ENOENT, "the calling thread is gone")

    def read_bytes(self, addr: int, length: int) -> bytes:
        if length == 0:
            return b""
        buf = ffi.new("char[]", length)
        n = lib.lxb_read_mem(self.pid, addr, buf, length)
        if n != length:
            raise OSError(errno.EFAULT, f"cannot read {length} bytes at {addr:#x}")
        self._check_valid()
        return ffi.buffer(buf, length)[:]

    def read_str(self, addr: int, limit: int = 4096) -> str:
        """A NUL-terminated string, read page by page (ENAMETOOLONG past limit)."""
        out = b""
        while len(out) < limit:
            chunk = 4096 - ((addr + len(out)) % 4096)
            buf = ffi.new("char[]", chunk)
            n = lib.lxb_read_mem(self.pid, addr + len(out), buf, chunk)
            if n <= 0:
                raise OSError(errno.EFAULT, f"cannot read a string at {addr:#x}")
            data = ffi.buffer(buf, n)[:]
            nul = data.find(b"\0")
            if nul >= 0:
                out += data[:nul]
                self._check_valid()
                return out.decode(errors="surrogateescape")
            out += data
        raise OSError(errno.ENAMETOOLONG, "string too long")

    def write_bytes(self, addr: int, data: bytes) -> None:
        self._check_valid()
        n = lib.lxb_write_mem(self.pid, addr, data, len(data))
        if n != len(data):
            raise OSError(errno.EFAULT, f"cannot write {len(data)} bytes at {addr:#x}")

    def add_fd(self, host_fd: int, cloexec: bool = False) -> int:
        """Install a copy of `host_fd` in the guest; returns the guest's fd."""
        return check(lib.lxb_addfd(self._listener, self.id, host_fd, os.O_CLOEXEC if cloexec else 0),
                     f"{self.name}: ADDFD")


class Brand:
    """The table compiled for one zone: filter actions and dispatch."""

    def __init__(self, py_handlers: Optional[dict[str, Callable]] = None,
                 kernel_release: Optional[str] = None, deny: Optional[dict[str, int]] = None):
        # an emulated kernel older than a syscall answers it ENOSYS, in the
        # kernel, so that programs take their fall-back paths as on that kernel
        emulated = kernel_version(kernel_release) if kernel_release else None
        self.actions = [lib.LXB_ACT_DEFAULT] * lib.LXB_NR_MAX
        self.kind = bytearray(lib.LXB_NR_MAX)
        self.c_handler = bytearray(lib.LXB_NR_MAX)
        self.py: dict[int, tuple[Callable, object, bool]] = {}
        for sc in brand_table.TABLE:
            st = sc.status
            if emulated is not None and kernel_version(sc.since) > emulated:
                self.actions[sc.nr] = errno.ENOSYS
            elif st.notified and emulated is None and sc.name in ident.ANSWERED_BY_THE_NAMESPACE:
                self.actions[sc.nr] = lib.LXB_ACT_ALLOW
            elif st.notified:
                self.actions[sc.nr] = lib.LXB_ACT_NOTIFY
                if isinstance(sc.handler, CHandler):
                    self.kind[sc.nr] = lib.LXB_KIND_C
                    self.c_handler[sc.nr] = sc.handler.ident
                elif sc.handler is not None:
                    self.kind[sc.nr] = lib.LXB_KIND_PY
                    self.py[sc.nr] = (sc.handler, sc, True)
            elif st.name == "pass":
                self.actions[sc.nr] = lib.LXB_ACT_ALLOW
            else:   # denied, unsupported: the errno, in the kernel
                self.actions[sc.nr] = st.errno
        for name, fn in (py_handlers or {}).items():
            sc = brand_table.BY_NAME[name]
            self.actions[sc.nr] = lib.LXB_ACT_NOTIFY
            self.kind[sc.nr] = lib.LXB_KIND_PY
            self.py[sc.nr] = (fn, sc, False)
        # --deny: the zone's own policy, answered in the kernel, over everything
        for name, err in (deny or {}).items():
            sc = brand_table.BY_NAME[name]
            self.actions[sc.nr] = err
            self.kind[sc.nr] = lib.LXB_KIND_NONE
            self.py.pop(sc.nr, None)
        self._bpf: Optional[bytes] = None

    def bpf(self) -> bytes:
        if self._bpf is None:
            acts = ffi.new("int32_t[]", self.actions)
            out = ffi.new("unsigned char[]", BPF_MAX)
            n = check(lib.lxb_filter_build(acts, len(self.actions), out, BPF_MAX), "build the seccomp filter")
            self._bpf = ffi.buffer(out, n)[:]
        return self._bpf


def kernel_version(release: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a release such as "4.19.0-lx" or a table's "2.6.16"."""
    nums = []
    for part in release.split(".")[:3]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        nums.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple((nums + [0, 0, 0])[:3])


def _answer(reply, result) -> None:
    if isinstance(result, str) and result == CONTINUE:
        reply.flags = lib.LXB_REPLY_CONTINUE
        reply.error = 0
    elif isinstance(result, bool) or not isinstance(result, int):
        raise TypeError(f"a handler returns an int, a negative errno or lxbrand.CONTINUE, not {result!r}")
    elif result < 0 and result >= -4095:
        reply.error = -result
    else:
        reply.error = 0
        reply.val = result


class Supervisor:
    """A zone's notification loop (a thread running C) and its upcalls."""

    def __init__(self, zone, brand: Brand, listener_fd: int, agent_fd: int, uts: dict):
        self.zone = zone
        self.brand = brand
        self._handle = ffi.new_handle(self)
        s = self.c = ffi.new("struct lxb_sup *")
        s.py_handle = self._handle
        ffi.memmove(s.kind, bytes(brand.kind), len(brand.kind))
        ffi.memmove(s.c_handler, bytes(brand.c_handler), len(brand.c_handler))
        for field, value in uts.items():
            raw = value.encode()[: lib.LXB_UTS_LEN - 1]
            ffi.memmove(getattr(s, field), raw + b"\0", len(raw) + 1)
        check(lib.lxb_sup_init(s, listener_fd, agent_fd), "start the supervisor")
        self.error: Optional[OSError] = None
        self.on_failure: Optional[Callable[[OSError], None]] = None
        self.thread = threading.Thread(target=self._run, name="lxbrand-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        rc = lib.lxb_supervise(self.c)
        if rc < 0:
            self.error = OSError(-rc, f"the supervisor's loop failed: {os.strerror(-rc)}")
            if self.on_failure:
                self.on_failure(self.error)

    def stop(self) -> None:
        if self.thread.is_alive():
            lib.lxb_sup_stop(self.c)
            self.thread.join()
        os.close(self.c.stop_fd)

    @property
    def notified(self) -> int:
        return self.c.notified

    def uts(self, field: str) -> str:
        return ffi.string(getattr(self.c, field)).decode(errors="replace")

    def dispatch(self, c_call, reply) -> None:
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
        _answer(reply, result)


def check_handler_name(name: str) -> None:
    if name not in brand_table.BY_NAME:
        raise ZoneConfigError(f"unknown syscall {name!r}: not an x86_64 syscall in the brand's table "
                              "(see `lxrun syscalls`)")
