"""python3 -m tests.realworld [--only NAME,...] [--list] [--serial] [--trace[=SET]] [-v]

Runs the real-world table (tests/realworld/cases.py) natively and in a zone,
prints one row per case and a closing line `N passed, N failed`, and exits 1
when a case failed (2 on bad usage).
"""
from __future__ import annotations

import argparse
import sys
import time

from . import cases as table
from .runner import run_case


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m tests.realworld",
                                 description="Run real Debian programs natively and in a zone; "
                                             "compare each with its expected result.")
    ap.add_argument("--only", metavar="NAME,...",
                    help="run only these cases (comma-separated names, see --list)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--serial", action="store_true",
                    help="run the native and the zone side one after the other, not at the same time")
    ap.add_argument("--rootfs", metavar="DIR",
                    help="the Debian rootfs [default: lxbrand.rootfs.cached()]")
    ap.add_argument("--trace", metavar="SET", nargs="?", const="all", default=None,
                    help="run every zone under lxrun --trace=SET --stats --report (default SET: all; "
                         "also LXB_TRACE=SET); its result must not change")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="show the output of every failed side (default: the first lines)")
    args = ap.parse_args(argv)

    known = table.by_name()
    selected = table.CASES
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown:
            ap.error(f"--only: no case named {', '.join(unknown)} (see --list)")
        selected = [known[n] for n in names]
    if args.list:
        width = max(len(c.name) for c in selected)
        for c in selected:
            print(f"{c.name:<{width}}  {c.name.split('-')[0]:<10}  expects exit {c.status}, "
                  f"stdout {c.stdout}" + (f"; in the zone {c.zone_stdout}" if c.zone_stdout else ""))
        return 0

    if args.rootfs:
        rootfs = args.rootfs
    else:
        import lxbrand.rootfs
        rootfs = lxbrand.rootfs.cached()

    width = max(len(c.name) for c in selected)
    header = f"{'program':<{width}}  {'native':<12}  {'zone':<12}  {'result':<6}  {'seconds (native/zone)'}"
    print(header)
    print("-" * len(header), flush=True)
    passed = failed = 0
    failures = []
    start = time.monotonic()
    for case in selected:
        r = run_case(case, rootfs, parallel=not args.serial, trace=args.trace)
        ok = r.passed
        passed += ok
        failed += not ok
        print(f"{case.name:<{width}}  {r.native.summary(case):<12}  {r.zone.summary(case):<12}  "
              f"{'pass' if ok else 'FAIL':<6}  {r.native.seconds:6.1f} / {r.zone.seconds:6.1f}", flush=True)
        if not ok:
            failures.append(r)
    print("-" * len(header))
    print(f"total {time.monotonic() - start:.0f} s")
    for r in failures:
        text = r.details()
        if not args.verbose:
            lines = text.splitlines()
            text = "\n".join(lines[:40] + (["... (-v shows all)"] if len(lines) > 40 else []))
        print(f"\n=== {r.case.name}\n{text}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
