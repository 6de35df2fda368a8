"""The shape of one line of the translation table, and the statuses a syscall
can have in the brand.

A status says where a syscall is answered, cheapest first: PASS runs in the
kernel untouched; DENY(errno) and UNSUPPORTED are answered by the seccomp
filter in the kernel; EMULATE and TRANSLATE reach the supervisor, which answers
with a C handler or a Python one.
"""
from __future__ import annotations

import errno as _errno
from collections import namedtuple
from typing import Callable, Optional


# namedtuples rather than dataclasses: the table is imported on every lxrun
# start, and dataclasses (with inspect) cost more than the whole table

class Status(namedtuple("Status", "name errno", defaults=(0,))):
    """name: "pass", "emulated", "translated", "denied", "unsupported";
    errno: for denied, the errno the kernel answers."""

    __slots__ = ()

    @property
    def notified(self) -> bool:
        """True when the supervisor answers this syscall."""
        return self.name in ("emulated", "translated")

    def __str__(self) -> str:
        if self.name == "denied":
            return f"denied({_errno.errorcode.get(self.errno, self.errno)})"
        return self.name


PASS = Status("pass")
EMULATE = Status("emulated")
TRANSLATE = Status("translated")
UNSUPPORTED = Status("unsupported", _errno.ENOSYS)


def DENY(err: int) -> Status:
    """Answered in the kernel with errno `err`, never reaching the host."""
    return Status("denied", err)


class CHandler:
    """A handler implemented in csrc/supervisor.c, named from the table.

    `ident` is the LXB_C_* id of csrc/lxbrand.h; the Python object exists so
    that the table names a real thing and a typo fails at import.
    """

    def __init__(self, name: str, ident: int, doc: str):
        self.__name__ = name
        self.ident = ident
        self.__doc__ = doc

    def __repr__(self) -> str:
        return f"C:{self.__name__}"


class Syscall(namedtuple("Syscall", "nr name status signature since handler note")):
    """One line of the table: signature is "name:type name:type ..." (types:
    syscalls/abi.py); since is the Linux version it appeared in ("2.6" means
    always); handler is a CHandler, a Python function, or None."""

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
        if self.handler is None:
            return ""
        if isinstance(self.handler, CHandler):
            return f"C:{self.handler.__name__}"
        return f"{self.handler.__module__.rsplit('.', 1)[-1]}.{self.handler.__name__}"


def sc(nr, name, status, signature, since, handler, note) -> Syscall:
    return Syscall(nr, name, status, signature, since, handler, note)
