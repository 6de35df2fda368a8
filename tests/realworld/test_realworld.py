"""The real-world table (cases.py) under pytest: one test per case, native and zone.

Not marked slow: CI runs it (three to four minutes on two shared cores; the
native and the zone side of a case run at the same time).  The same
table runs from the command line with `python3 -m tests.realworld`.
"""
import os
import shutil

import pytest

from .cases import CASES
from .runner import run_case

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the native side chroots: run as root"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare(1) missing: install util-linux"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_realworld(case, rootfs):
    r = run_case(case, rootfs)
    if not r.passed:
        pytest.fail(r.details(), pytrace=False)
