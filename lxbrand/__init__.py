"""lxbrand: Linux syscall emulation zones.

A zone isolates a guest (its own rootfs, pids, hostname and network); the
brand (lxbrand.brand: a translation table, compiled for each zone, over a
seccomp user-notification supervisor) gives it its Linux personality.  See
README.md and docs/DESIGN.md.

The names below are imported on first use (PEP 562), so that `import
lxbrand.cli` costs neither the compiled module nor the table until a command
needs them.
"""
from .errors import (CommandNotFound, CommandNotRunnable, LxbrandError, RootfsError, SupervisorError,
                     ZoneConfigError, ZoneStartError)

_LAZY = {
    "Zone": "zone", "ZoneConfig": "zone", "Bind": "zone",
    "ZoneProcess": "zone", "BootedZone": "zone", "AsyncZoneProcess": "zone",
    "Call": "supervisor", "CONTINUE": "supervisor", "HandlerWarning": "supervisor",
}

__all__ = ["Zone", "ZoneConfig", "Bind", "ZoneProcess", "BootedZone", "AsyncZoneProcess", "Call", "CONTINUE",
           "HandlerWarning", "LxbrandError", "ZoneConfigError",
           "ZoneStartError", "CommandNotFound", "CommandNotRunnable", "SupervisorError", "RootfsError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lxbrand' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
