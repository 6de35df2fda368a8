"""The one importer of the compiled module lxbrand._lxbrand_c.

C functions return -errno; `check` turns that into an OSError naming the
operation.  `lxb_py_dispatch` is the upcall the C loop makes for syscalls
handled in Python: it finds the Supervisor object behind the handle and lets
it answer.  It runs on whichever of the zone's receiver threads received the
notification (csrc/supervisor.c, RECEIVERS), taking the GIL for the time of
the handler; the other receivers keep answering meanwhile.
"""
from __future__ import annotations

import errno
import os
import sys

try:
    from ._lxbrand_c import ffi, lib
except ImportError as e:  # pragma: no cover - only on a broken install
    from .errors import LxbrandError

    raise LxbrandError(f"lxbrand's C supervisor is not built ({e}); run: make build") from None


def check(rc: int, what: str) -> int:
    if rc < 0:
        raise OSError(-rc, f"{what}: {os.strerror(-rc)}")
    return rc


@ffi.def_extern()
def lxb_py_dispatch(handle, call, reply):
    try:
        ffi.from_handle(handle).dispatch(call, reply)
    except BaseException as e:  # our bug: fail the call, never continue
        reply.error = errno.ENOSYS
        reply.flags = 0
        print(f"lxbrand: handler for syscall {call.nr} failed: {e!r}", file=sys.stderr)
    return 0
