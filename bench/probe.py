"""Where lxrun's start-up goes, phase by phase, in one process.

    python3 bench/probe.py ROOT

does what `lxrun ROOT /bin/true` does, in the order lxrun does it, and prints
one JSON line with the milliseconds of each phase:

  import lxbrand            the package: zone, supervisor, the cffi module,
                            the brand's table (lxbrand/__init__.py imports them)
  import click              click itself
  import lxbrand.cli        the CLI's decorators (lxrun's first import)
  Zone(ROOT)                validating the configuration
  resolve                   finding /bin/true in the rootfs
  brand.bpf()               compiling the table into a seccomp filter
  zone.run (first)          namespaces, mounts, pivot_root, filter, exec, wait
  zone.run (again)          the same once everything above is warm

The interpreter's own start-up (before the first line here runs) is measured
by the harness as `python3 -c pass`.
"""
from __future__ import annotations

import json
import sys
import time


def main() -> None:
    root = sys.argv[1]
    phases = {}
    t = time.perf_counter()

    def mark(name):
        nonlocal t
        now = time.perf_counter()
        phases[name] = (now - t) * 1e3
        t = now

    import lxbrand  # noqa: F401
    mark("import lxbrand")
    import click  # noqa: F401
    mark("import click")
    import lxbrand.cli  # noqa: F401
    from lxbrand.zone import Zone
    mark("import lxbrand.cli")
    zone = Zone(root)
    mark("Zone(ROOT)")
    zone.resolve(["/bin/true"])
    mark("resolve /bin/true")
    zone.brand.bpf()
    mark("brand.bpf()")
    r = zone.run(["/bin/true"])
    mark("zone.run(/bin/true) first")
    r = zone.run(["/bin/true"])
    mark("zone.run(/bin/true) again")
    if r.returncode != 0:
        sys.exit(f"probe: /bin/true exited {r.returncode} in the zone")
    print(json.dumps({"phases_ms": phases}))


if __name__ == "__main__":
    main()
