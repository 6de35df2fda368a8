"""Hypothesis budget of the conformance suite, and what it needs to run.

Two profiles, used explicitly by the tests of this directory (never loaded as
the global default, so other suites keep theirs):

- "lxb-conformance": @given cases; "lxb-conformance-stateful": the state
  machine of test_stateful.py.  By default (CI) they are derandomized with a
  small max_examples: the same examples every run, the whole directory in
  well under 4 minutes on 2 cores.
- With LXB_EXAMPLES=N (`make conformance EXAMPLES=N`) they become a campaign:
  N examples per test (a tenth of that for the state machine, each of whose
  examples is a whole script), random, from one seed that is printed and can
  be given back with LXB_SEED to replay the campaign.
- LXB_ZONE_OPTIONS="kernel_release=4.19.0,hostname=box" runs the state
  machine's zones with those options, checked against normalise.EXPECTED
  (a personality campaign).
"""
import os
import random

import pytest
from hypothesis import HealthCheck, seed, settings

CI_EXAMPLES = 40
CI_STATEFUL_EXAMPLES = 100
STEPS = 40

_health = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
_campaign = os.environ.get("LXB_EXAMPLES")
CAMPAIGN_SEED = None

if _campaign:
    _n = int(_campaign)
    CAMPAIGN_SEED = int(os.environ.get("LXB_SEED") or random.SystemRandom().getrandbits(32))
    settings.register_profile("lxb-conformance", max_examples=_n, deadline=None, derandomize=False,
                              suppress_health_check=_health, print_blob=True)
    settings.register_profile("lxb-conformance-stateful", max_examples=max(1, _n // 10),
                              stateful_step_count=STEPS * 2, deadline=None, derandomize=False,
                              suppress_health_check=_health, print_blob=True)
else:
    settings.register_profile("lxb-conformance", max_examples=CI_EXAMPLES, deadline=None,
                              derandomize=True, database=None, suppress_health_check=_health)
    settings.register_profile("lxb-conformance-stateful", max_examples=CI_STATEFUL_EXAMPLES,
                              stateful_step_count=STEPS, deadline=None, derandomize=True,
                              database=None, suppress_health_check=_health)


def pytest_report_header(config):
    if CAMPAIGN_SEED is not None:
        return (f"lxbrand conformance campaign: LXB_EXAMPLES={_campaign} LXB_SEED={CAMPAIGN_SEED} "
                f"(rerun it: make conformance EXAMPLES={_campaign} LXB_SEED={CAMPAIGN_SEED})")
    return None


def pytest_configure(config):
    if CAMPAIGN_SEED is not None:
        print(f"\nlxbrand conformance campaign: LXB_EXAMPLES={_campaign} LXB_SEED={CAMPAIGN_SEED}")


def pytest_collection_modifyitems(config, items):
    """In a campaign, every hypothesis test of this directory draws from the one seed."""
    if CAMPAIGN_SEED is None:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if not str(item.fspath).startswith(here):
            continue
        machine = getattr(getattr(item, "cls", None), "machine", None)
        if machine is not None:
            seed(CAMPAIGN_SEED)(machine)
        elif hasattr(getattr(item, "obj", None), "hypothesis"):
            seed(CAMPAIGN_SEED)(item.obj)


@pytest.fixture(scope="session", autouse=True)
def _conformance_preconditions():
    """Native runs chroot: they need root.  Both need the static sysinterp."""
    if os.geteuid() != 0:
        pytest.skip("conformance runs chroot natively: run as root")
    from .script import ensure_sysinterp
    ensure_sysinterp()
