"""The real-software suite: unmodified Debian programs, natively and in a zone.

Every case in `cases.CASES` runs twice over the same cached Debian rootfs
(lxbrand.rootfs.cached()): natively, in a plain chroot with private writable
state (native.py), and in an ephemeral zone (lxbrand.Zone).  Each side must
give the case's expected exit status and stdout; a case whose result differs
between the two is a failure.

    python3 -m tests.realworld [--only NAME,...] [--list]     (make realworld)
    python3 -m pytest -q tests/realworld                       (CI)
"""
