"""The brand: lxbrand's translation table of every x86_64 syscall, and the one
step that compiles it for a zone.

    table.py    one line per syscall (model.py: its shape and statuses)
    abi.py      the layouts a signature's types name (construct)
    decode.py   arguments and results decoded by the signatures
    ident.py    the identity family's handlers (uname, in C)
    compile.py  table + a zone's options -> what the zone does with each
                syscall; filter actions, C and Python dispatch; cached filters
    report.py   `lxrun syscalls` and docs/DIFFERENCES.md's lists

`TABLE` lists the syscalls in number order; `BY_NAME` and `BY_NR` index it.
"""
from .compile import (Brand, BrandError, Entry, Options, check_handler_name, compile_brand, deny_errno,
                      kernel_version)
from .model import CHandler, DENY, EMULATE, PASS, Status, Syscall, TRANSLATE, UNSUPPORTED
from .table import BY_NAME, BY_NR, TABLE

__all__ = ["TABLE", "BY_NAME", "BY_NR", "Syscall", "Status", "PASS", "EMULATE", "TRANSLATE", "DENY",
           "UNSUPPORTED", "CHandler", "Brand", "BrandError", "Entry", "Options", "compile_brand",
           "check_handler_name", "deny_errno", "kernel_version"]
