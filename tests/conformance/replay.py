"""Replay a conformance script natively and in a zone, side by side.

    python3 -m tests.conformance.replay [--zone OPTION=VALUE]... SCRIPT

SCRIPT is the base64 text a failing conformance test prints (Script.b64()).
--zone passes a Zone option (kernel_release=4.19.0, hostname=box,
ephemeral=true); the comparison then expects what normalise.EXPECTED says
that option changes.  --raw also prints sysinterp's unnormalised lines.
Exit status 0 when the zone conforms, 1 when it differs.
"""
from __future__ import annotations

import argparse
import sys

from .script import Script, compare, explain, parse_option, run_native, run_zone


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m tests.conformance.replay", description=__doc__.split("\n")[0])
    ap.add_argument("script", help="the script, base64 as a failing test prints it")
    ap.add_argument("--zone", action="append", default=[], metavar="OPTION=VALUE",
                    help="a Zone option for the zone run (repeatable)")
    ap.add_argument("--raw", action="store_true", help="also print sysinterp's raw output")
    args = ap.parse_args(argv)
    options = {}
    for item in args.zone:
        try:
            key, value = parse_option(item)
        except ValueError as e:
            ap.error(f"--zone {e}")
        options[key] = value
    script = Script.from_b64(args.script)
    native = run_native(script)
    zone = run_zone(script, **options)
    cmp = compare(script, native, zone, options)
    title = "the zone conforms" if cmp.same else "the zone differs from native"
    print(explain(cmp, title))
    if args.raw:
        for what, out in (("native", native), ("zone", zone)):
            print(f"\n--- {what} (raw), {out.returncode}")
            print("\n".join(out.lines))
    return 0 if cmp.same else 1


if __name__ == "__main__":
    sys.exit(main())
