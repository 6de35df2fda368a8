"""Run one guest command in a Zone with Python handlers: the lxrun runner of w9.

    python3 bench/zone_driver.py --handler=getppid=4242 ROOT -- CMD [ARGS...]

Each --handler=NAME=VALUE registers, through Zone.handler, a Python handler
that answers syscall NAME with VALUE.  The guest inherits our stdin, stdout
and stderr; we exit with its status.  On stderr, after the guest ends:

    LXBENCH notified=100000 handler_calls=100000

so that the benchmark can check that the handler answered every call (a
syscall that silently passed through would look very fast).
"""
from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="zone_driver.py")
    ap.add_argument("--handler", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("root")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command")

    from lxbrand import Zone

    zone = Zone(args.root)
    calls = [0]
    for spec in args.handler:
        name, _, value = spec.partition("=")
        value, _, sleep = value.partition(":sleep=")
        answer, delay = int(value), float(sleep or 0)

        def handler(call, answer=answer, delay=delay):
            calls[0] += 1          # an int's += under the GIL: good enough for a count
            if delay:
                time.sleep(delay)  # a slow handler: w10 measures that others go on meanwhile
            return answer

        zone.handler(name, handler)
    result = zone.run(cmd)
    sup = zone.last_supervisor
    print(f"LXBENCH notified={sup.notified if sup else -1} handler_calls={calls[0]}",
          file=sys.stderr, flush=True)
    code = result.returncode
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
