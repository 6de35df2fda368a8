"""Differential conformance: syscall scripts run natively and in a zone.

    python3 -m pytest -q tests/conformance            # CI budget, derandomized
    make conformance EXAMPLES=20000                   # a campaign (LXB_EXAMPLES)
    python3 -m tests.conformance.replay SCRIPT        # a failure, side by side

script.py is the format and the runners, normalise.py what may differ (and
docs/DIFFERENCES.md why), strategies.py the arguments hypothesis draws.
"""
