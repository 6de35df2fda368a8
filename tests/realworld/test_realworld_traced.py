"""A few cases of the real-world table with the zone traced (issue 13: a
zone's behaviour does not change under tracing).

Every zone runs under `--trace=all --stats --report`: each call is decoded
and formatted (to /dev/null), and the trace must agree with the run
(runner.TraceWatch: an execve, an exit record with the run's status, --stats
counting what the trace saw); the case's expected result must not change.
The cases are the cheap ones that exercise what a tracer can break: signals
and traps, job-control stops, fork and pipes, threads and processes, exec
chains, exit statuses.  `make realworld-traced` runs the whole table so.
"""
import os
import shutil

import pytest

from .cases import by_name
from .runner import run_case

TRACED = ("busybox-ps-kill", "sh-traps", "sh-subshells", "bash-job-control-signals", "perl-fork-pipe",
          "tar-gzip-roundtrip", "python3-multiprocessing", "dpkg-query-verify")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the native side chroots: run as root"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare(1) missing: install util-linux"),
]


@pytest.mark.parametrize("name", TRACED)
def test_realworld_traced(name, rootfs):
    # the cases' own budgets (a minute or two; they run in seconds): a tracer
    # bug that hangs a guest fails in that time, not in TRACE_SLOWDOWN times it
    r = run_case(by_name()[name], rootfs, trace="all", slowdown=1)
    if not r.passed:
        pytest.fail(r.details(), pytrace=False)
