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


# Trace classes (lxrun --trace=%file...), as strace's -e trace=%CLASS groups
# them; each table line names its own (the classes column), and
# tests/test_trace.py checks them against what the signature tells (a path
# argument is %file, a sockaddr %network, a sigset %signal...).
CLASSES = ("file", "desc", "network", "process", "signal", "memory", "ipc", "clock", "creds")
# strace's finer classes (its TST TLST TFST TSTA TSF TFSF TSFA PU flags):
# %stat %lstat %fstat %%stat (stat_like) %statfs %fstatfs %%statfs
# (statfs_like) %pure; named in the table as the others
FINE_CLASSES = ("stat", "lstat", "fstat", "stat_like", "statfs", "fstatfs", "statfs_like", "pure")


class Syscall(namedtuple("Syscall", "nr name status signature classes since handler note")):
    """One line of the table: signature is "name:type name:type ..." (types:
    lxbrand/brand/abi.py); classes, the trace classes it is in (a frozenset
    of CLASSES names); since is the Linux version it appeared in ("2.6"
    means always); handler is a CHandler, a Python function, or None."""

    __slots__ = ()

    @property
    def params(self) -> list[tuple[str, str]]:
        """[(name, type)] from the signature; a bare name is an integer."""
        return [(name, kind) for name, kind, _ in _parse_signature(self.signature)[0]]

    @property
    def sizes(self) -> dict[str, str]:
        """{buffer argument: the argument that gives its length}, from the
        signature's `buf:out[bytes](count)`: a length in bytes for bytes and
        for records sized by a field (linux_dirent64[]), in elements for an
        array of a fixed-size layout (iovec[])."""
        return {name: size for name, _, size in _parse_signature(self.signature)[0] if size}

    @property
    def returns(self) -> str:
        """What the result is, from the signature's `-> KIND`: "fd" (a new
        descriptor), "pid", "addr", or "int" (a number or 0, the default)."""
        return _parse_signature(self.signature)[1]

    @property
    def handler_name(self) -> str:
        return handler_name(self.handler)


RETURNS = ("int", "fd", "pid", "addr")
_SIGNATURES: dict = {}


def _parse_signature(signature: str) -> tuple:
    """([(name, type, size argument or None)], return kind) of a signature:
    "fd:fd buf:out[bytes](count) count:size", "path:path flags mode -> fd"."""
    got = _SIGNATURES.get(signature)
    if got is not None:
        return got
    args, arrow, ret = signature.partition("->")
    ret = ret.strip() or "int"
    if ret not in RETURNS:
        raise ValueError(f"signature {signature!r}: unknown return kind {ret!r}: expected {' '.join(RETURNS)}")
    params = []
    for word in args.split():
        name, _, kind = word.partition(":")
        size = None
        if kind.endswith(")") and "(" in kind:
            kind, _, size = kind[:-1].partition("(")
        params.append((name, kind or "int", size))
    names = {n for n, _, _ in params}
    for name, _, size in params:
        if size is not None and size not in names:
            raise ValueError(f"signature {signature!r}: {name}'s length {size!r} is not an argument")
    got = _SIGNATURES[signature] = (params, ret)
    return got


def handler_name(handler) -> str:
    """"C:sys_uname" for a C handler, "module.function" for a Python one, "" for none."""
    if handler is None:
        return ""
    if isinstance(handler, CHandler):
        return f"C:{handler.__name__}"
    module = getattr(handler, "__module__", None) or "?"
    return f"{module.rsplit('.', 1)[-1]}.{getattr(handler, '__name__', type(handler).__name__)}"


def sc(nr, name, status, signature, classes, since, handler, note) -> Syscall:
    """A table line; classes: space-separated CLASSES names ("file desc")."""
    cls = frozenset(classes.split())
    if not cls <= set(CLASSES + FINE_CLASSES):
        raise ValueError(f"{name}: unknown trace class {' '.join(sorted(cls - set(CLASSES + FINE_CLASSES)))}: "
                         f"expected {' '.join(CLASSES + FINE_CLASSES)}")
    _parse_signature(signature)         # a malformed relation or return kind fails at import
    return Syscall(nr, name, status, signature, cls, since, handler, note)
