"""lxbrand: Linux syscall emulation zones.

A zone isolates a guest (its own rootfs, pids, hostname and network); the
brand, a translation table over a seccomp user-notification supervisor, gives
it its Linux personality.  See README.md and ../shared/DESIGN.md.
"""
import os as _os

# In the source tree the translation table sits beside the package, in
# syscalls/; installed, it is lxbrand/syscalls.  Let the source tree resolve
# lxbrand.syscalls too (python3 -m pytest from the checkout imports from here).
_src = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_src, "syscalls", "table.py")) and _src not in __path__:
    __path__.append(_src)

from .errors import (CommandNotFound, CommandNotRunnable, LxbrandError, RootfsError, SupervisorError,
                     ZoneConfigError, ZoneStartError)
from .supervisor import CONTINUE, Call
from .zone import Bind, Zone, ZoneConfig

__all__ = ["Zone", "ZoneConfig", "Bind", "Call", "CONTINUE", "LxbrandError", "ZoneConfigError",
           "ZoneStartError", "CommandNotFound", "CommandNotRunnable", "SupervisorError", "RootfsError"]
__version__ = "0.1.0"
