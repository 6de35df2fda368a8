"""The state machine of test_stateful.py with its zone traced (issue 13: a
zone's behaviour does not change under tracing).

`make test` runs this small derandomized budget; `make conformance-traced`
(LXB_TRACE=all) runs the whole directory, every zone traced, at full size.
Every traced call is decoded and formatted (to /dev/null), statistics and the
report are kept, and the trace must agree with the run (script.TraceWatch:
an exit record with sysinterp's status); the zone's answers must still be
native's, step by step.
"""
from hypothesis import HealthCheck, settings

from .script import env_trace
from .test_stateful import ZONE_OPTIONS, FileTreeMachine


class TracedFileTreeMachine(FileTreeMachine):
    zone_options = {**ZONE_OPTIONS, "traced": "all"}


TestTracedFileTree = TracedFileTreeMachine.TestCase
TestTracedFileTree.machine = TracedFileTreeMachine
if env_trace():
    # the traced campaign runs test_stateful.py itself traced: no second copy
    TestTracedFileTree.settings = settings(max_examples=1, stateful_step_count=5, deadline=None,
                                           derandomize=True, database=None)
else:
    TestTracedFileTree.settings = settings(settings.get_profile("lxb-conformance-stateful"), max_examples=30,
                                           stateful_step_count=30,
                                           suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large,
                                                                  HealthCheck.filter_too_much])
