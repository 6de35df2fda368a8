"""lxbrand: Linux syscall emulation zones.

A zone isolates a guest (its own rootfs, pids, hostname and network); the
brand, a translation table over a seccomp user-notification supervisor, gives
it its Linux personality.  See README.md and ../shared/DESIGN.md.
"""
from .errors import (CommandNotFound, CommandNotRunnable, LxbrandError, RootfsError, SupervisorError,
                     ZoneConfigError, ZoneStartError)
from .supervisor import CONTINUE, Call
from .zone import Bind, Zone, ZoneConfig

__all__ = ["Zone", "ZoneConfig", "Bind", "Call", "CONTINUE", "LxbrandError", "ZoneConfigError",
           "ZoneStartError", "CommandNotFound", "CommandNotRunnable", "SupervisorError", "RootfsError"]
__version__ = "0.1.0"
