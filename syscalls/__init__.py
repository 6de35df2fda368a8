"""The brand: lxbrand's translation table of every x86_64 syscall.

`TABLE` lists them in number order; `BY_NAME` and `BY_NR` index it.
"""
from .model import CHandler, DENY, EMULATE, PASS, Status, Syscall, TRANSLATE, UNSUPPORTED
from .table import TABLE

BY_NAME = {s.name: s for s in TABLE}
BY_NR = {s.nr: s for s in TABLE}

__all__ = ["TABLE", "BY_NAME", "BY_NR", "Syscall", "Status", "PASS", "EMULATE",
           "TRANSLATE", "DENY", "UNSUPPORTED", "CHandler"]
