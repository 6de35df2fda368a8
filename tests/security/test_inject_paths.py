"""--inject with a path rule (csrc/inject.c): the supervisor performs the
path syscalls its rules name, as the caller, so that a racing thread cannot
change the path after the decision.  What the supervisor opens must be what
the guest would open itself: never lxrun's own terminal behind /dev/tty
(the opener's controlling terminal: the user's), never a /proc file that
lxrun's credentials open and the guest's do not (kernels_own)."""
import shlex
import shutil
import subprocess

import pytest

GUEST = r"""
import os
for p, flags in [("/dev/tty", os.O_RDWR), ("/proc/1/maps", os.O_RDONLY), ("/proc/1/environ", os.O_RDONLY),
                 ("/etc/hostname", os.O_RDONLY), ("/nonexistent", os.O_RDONLY)]:
    try:
        os.close(os.open(p, flags))
        print(p, "opened")
    except OSError as e:
        print(p, e.errno)
"""


def _run_under_a_terminal(rootfs, inject):
    lxrun = shutil.which("lxrun")
    cmd = shlex.join([lxrun, "--no-tty", *inject, rootfs, "python3", "-c", GUEST])
    # script(1) makes a pty lxrun's controlling terminal, as an interactive shell's is
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return [l.strip() for l in r.stdout.splitlines() if l.strip()]


@pytest.mark.skipif(not shutil.which("script"), reason="script(1) (util-linux) gives lxrun a terminal")
def test_an_injected_open_is_the_guests_own(rootfs):
    plain = _run_under_a_terminal(rootfs, [])
    assert plain == ["/dev/tty 6", "/proc/1/maps 13", "/proc/1/environ 13", "/etc/hostname opened",
                     "/nonexistent 2"], plain
    injected = _run_under_a_terminal(rootfs, ["--inject", "openat:error=EIO:path=/nonexistent"])
    # the same, but the rule's own file: /dev/tty was lxrun's terminal (opened),
    # /proc/1/maps opened with lxrun's credentials
    assert injected == plain[:-1] + ["/nonexistent 5"], injected
