"""The shape of one line of the translation table, and the statuses a syscall
can have in the brand.

A status says where a syscall is answered, cheapest first: PASS runs in the
kernel untouched; DENY(errno) and UNSUPPORTED are answered by the seccomp
filter in the kernel; EMULATE and TRANSLATE reach the supervisor, which answers
with a C handler or a Python one.

A status may hold only under a zone option: `EMULATE.when("kernel_release")`
is emulated in a zone with a kernel personality (--kernel-release) and passes
through in every other zone.  The compile step (lxbrand/brand/compile.py)
decides, per zone; there is no second list of names.
"""
from __future__ import annotations

import errno as _errno
from collections import namedtuple

# namedtuples rather than dataclasses: the table is imported on every lxrun
# start, and dataclasses (with inspect) cost more than the whole table

# the zone options a status may depend on (fields of compile.Options)
OPTIONS = ("kernel_release", "memory", "cpus")


class Status(namedtuple("Status", "name errno option", defaults=(0, None))):
    """name: "pass", "emulated", "translated", "denied", "unsupported";
    errno: for denied, the errno the kernel answers; option: None, or the
    zone option (one of OPTIONS; several, space-separated, when any of them
    will do) without which the syscall passes through."""

    __slots__ = ()

    @property
    def notified(self) -> bool:
        """True when the supervisor answers this syscall (given its option, if any)."""
        return self.name in ("emulated", "translated")

    def when(self, *options: str) -> "Status":
        """This status in a zone that has any of `options`; pass-through in any other."""
        for option in options:
            if option not in OPTIONS:
                raise ValueError(f"unknown zone option {option!r}: expected one of {', '.join(OPTIONS)}")
        return self._replace(option=" ".join(options))

    def under(self, options) -> "Status":
        """The status in a zone with `options` (an object with OPTIONS as attributes)."""
        if self.option is None:
            return self
        if any(getattr(options, o, None) for o in self.option.split()):
            return self._replace(option=None)
        return PASS

    def __str__(self) -> str:
        if self.name == "denied":
            text = f"denied({_errno.errorcode.get(self.errno, self.errno)})"
        else:
            text = self.name
        if self.option:
            text += " with " + " or ".join(f"--{o.replace('_', '-')}" for o in self.option.split())
        return text


PASS = Status("pass")
EMULATE = Status("emulated")
TRANSLATE = Status("translated")
UNSUPPORTED = Status("unsupported", _errno.ENOSYS)


def DENY(err: int) -> Status:
    """Answered in the kernel with errno `err`, never reaching the host."""
    return Status("denied", err)


class CHandler:
    """A handler implemented in C (csrc/), named from the table.

    `name` is the syscall's: the C function is `sys_NAME` and its id the
    constant `LXB_C_NAME` of csrc/lxbrand.h, looked up by name in one place
    (compile.c_handler_id); the Python object exists so that the table names a
    real thing and a typo fails at import.
    """

    def __init__(self, name: str, doc: str):
        self.name = name
        self.__name__ = f"sys_{name}"
        self.__doc__ = doc

    @property
    def constant(self) -> str:
        return "LXB_C_" + self.name.upper()

    def __repr__(self) -> str:
        return f"C:{self.__name__}"


class Syscall(namedtuple("Syscall", "nr name status signature since handler note")):
    """One line of the table: signature is "name:type name:type ..." (types:
    lxbrand/brand/abi.py); since is the Linux version it appeared in ("2.6"
    means always); handler is a CHandler, a Python function, or None."""

    __slots__ = ()

    @property
    def params(self) -> list[tuple[str, str]]:
        """[(name, type)] from the signature; a bare name is an integer."""
        out = []
        for word in self.signature.split():
            name, _, kind = word.partition(":")
            out.append((name, kind or "int"))
        return out

    @property
    def handler_name(self) -> str:
        return handler_name(self.handler)

    @property
    def classes(self) -> frozenset:
        """The trace classes (strace's -e trace=%CLASS) this syscall is in,
        derived from its signature and its family's name: see syscall_classes."""
        return syscall_classes(self.name, self.params)


# Trace classes (lxrun --trace=%file...), as strace's -e trace=%CLASS groups
# them: an argument's kind or pointee says file, desc, network, signal, clock;
# where a signature cannot say (fork and getuid take nothing, mmap's
# arguments are plain numbers), table.CLASS_FAMILIES names the families, next
# to the table.
CLASSES = ("file", "desc", "network", "process", "signal", "memory", "ipc", "clock", "creds")
_IPC = ("shm", "sem", "msg")        # System V IPC: name prefixes


def syscall_classes(name: str, params, families=None) -> frozenset:
    """The classes of syscall `name` with signature `params`; families:
    {class: name prefixes} for what the signature cannot say (table.CLASS_FAMILIES)."""
    if families is None:
        from .table import CLASS_FAMILIES as families
    kinds = [k for _, k in params]
    names = [n for n, _ in params]
    fam = {cls for cls, prefixes in families.items() if name.startswith(prefixes)}
    out = set()
    if "path" in kinds or "exec" in name:
        out.add("file")
    if ("sockfd" in names or any(t in k for k in kinds for t in ("sockaddr", "msghdr"))
            or params[:3] == [("domain", "int"), ("type", "int"), ("protocol", "int")]):
        out.add("network")
    elif "fd" in kinds or "desc" in fam:
        out.add("desc")
    if "signo" in kinds or any(t in k for k in kinds for t in ("sigset", "sigaction", "siginfo", "stack_t")):
        out.add("signal")
    if name.startswith(_IPC):
        out.add("ipc")
    if "clockid" in kinds or any(t in k for k in kinds for t in ("timex", "timezone")):
        out.add("clock")
    out |= fam - {"desc"}
    return frozenset(out)


def handler_name(handler) -> str:
    """"C:sys_uname" for a C handler, "module.function" for a Python one, "" for none."""
    if handler is None:
        return ""
    if isinstance(handler, CHandler):
        return f"C:{handler.__name__}"
    module = getattr(handler, "__module__", None) or "?"
    return f"{module.rsplit('.', 1)[-1]}.{getattr(handler, '__name__', type(handler).__name__)}"


def sc(nr, name, status, signature, since, handler, note) -> Syscall:
    return Syscall(nr, name, status, signature, since, handler, note)
