"""`lxrun syscalls`: the translation table as a user reads it.

`render(False)` is an aligned text table, one line per syscall, with a header
and a closing count by status; `render(True)` is JSON, one object per syscall,
for tools (keys: nr, name, status, errno, signature, params, since, handler,
note).
"""
from __future__ import annotations

import errno as _errno
import json
from collections import Counter

from .model import Syscall
from .table import TABLE

COLUMNS = ("nr", "name", "status", "signature", "since", "handler", "note")

# the order statuses are counted in, cheapest first (syscalls/model.py)
SIGNATURE_WIDTH = 60
STATUS_ORDER = ("pass", "emulated", "translated", "denied", "unsupported")


def _errno_name(sc: Syscall):
    if sc.status.name in ("denied", "unsupported"):
        return _errno.errorcode.get(sc.status.errno, str(sc.status.errno))
    return None


def as_dict(sc: Syscall) -> dict:
    """One syscall as the JSON output shows it."""
    return {
        "nr": sc.nr,
        "name": sc.name,
        "status": sc.status.name,
        "errno": _errno_name(sc),
        "signature": sc.signature,
        "params": [{"name": name, "type": kind} for name, kind in sc.params],
        "since": sc.since,
        "handler": sc.handler_name or None,
        "note": sc.note,
    }


def counts(table=TABLE) -> str:
    """'383 syscalls: 341 pass, 3 emulated, 0 translated, 21 denied, 18 unsupported'."""
    by = Counter(sc.status.name for sc in table)
    parts = [f"{by.get(name, 0)} {name}" for name in STATUS_ORDER]
    parts += [f"{n} {name}" for name, n in sorted(by.items()) if name not in STATUS_ORDER]
    return f"{len(table)} syscalls: " + ", ".join(parts)


def _text(table) -> str:
    rows = [COLUMNS] + [(str(sc.nr), sc.name, str(sc.status), sc.signature, sc.since, sc.handler_name, sc.note)
                        for sc in table]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    # a few very long signatures (pselect6, ...) would push every note off the
    # screen: they overflow their column instead
    widths[3] = min(widths[3], SIGNATURE_WIDTH)
    lines = []
    for row in rows:
        cells = [row[0].rjust(widths[0])] + [cell.ljust(w) for cell, w in zip(row[1:-1], widths[1:])]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    lines.append(counts(table))
    return "\n".join(lines)


def render(as_json: bool, table=TABLE) -> str:
    """The table as text (aligned columns, a count line) or as a JSON list."""
    if as_json:
        return json.dumps([as_dict(sc) for sc in table], indent=1)
    return _text(table)
