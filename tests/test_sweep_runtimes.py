"""What the real-software sweep of language runtimes and toolchains found in
lxrun itself (/work/notes/sweep-runtimes.md); --fakeroot's findings are in
tests/test_fakeroot_runtimes.py.
"""
import os
import subprocess

import pytest

MISSING = "/nonexistent-h36/dir/out"


@pytest.mark.parametrize("opts", [("--trace", "-o", MISSING), ("--stats", "-o", MISSING),
                                  (f"--report={MISSING}",)],
                         ids=["trace", "stats", "report"])
def test_an_output_file_that_cannot_be_opened_is_named(lxrun, rootfs, opts):
    """DESIGN.md: errors name the thing.  `lxrun --trace -o FILE` with FILE in a
    directory that does not exist said only "lxrun: No such file or directory"
    (the OSError's filename was dropped), leaving the user to guess which path;
    the C front door said the same of --stats -o, and for --report=FILE named
    it but ran on to the guest's status 0 where the Python CLI fails (125)."""
    for _ in range(2):      # the first may be the Python CLI's (it fills the front door's cache)
        r = lxrun(*opts, rootfs, "true")
        assert r.returncode == 125, (r.stdout, r.stderr)
        assert r.stderr in (f"lxrun: {MISSING}: No such file or directory\n",
                            f"lxrun: --report={MISSING}: No such file or directory\n"), r.stderr


def test_home_is_the_users_home_in_the_zones_passwd(lxrun, scratch_rootfs):
    """--uid N: HOME is N's home in the zone's /etc/passwd, as Docker and
    podman take it from the image's; it was / for every id but root, so
    `lxrun --uid 1000 ROOT go build` failed (mkdir /.cache: permission
    denied) for a user with a home, and npm and pip --user alike.  An id
    without an entry keeps / (root /root).  The passwd is read inside the
    rootfs: an absolute symlink is the zone's, never the host's path.  The
    C front door (lxrun, second run) and the Python CLI (lxrun-py) agree."""
    etc = os.path.join(scratch_rootfs, "etc")
    with open(os.path.join(etc, "passwd"), "a") as f:
        f.write("www:x:33:33:www:/var/www:/bin/sh\nbroken:x:44:44::relative:/bin/sh\n")
    want = {"0": "/root", "33": "/var/www", "44": "/", "4242": "/"}
    for cli in ("lxrun", "lxrun", "lxrun-py"):
        for uid, home in want.items():
            r = subprocess.run([cli, "--uid", uid, scratch_rootfs, "sh", "-c", "echo $HOME"],
                               capture_output=True, text=True, timeout=60)
            assert (r.returncode, r.stdout) == (0, home + "\n"), (cli, uid, r.stderr)
    # /etc/passwd an absolute symlink: resolved in the zone's root
    os.rename(os.path.join(etc, "passwd"), os.path.join(etc, "passwd.zone-h36"))
    os.symlink("/etc/passwd.zone-h36", os.path.join(etc, "passwd"))
    for cli in ("lxrun", "lxrun-py"):
        r = subprocess.run([cli, "--uid", "33", scratch_rootfs, "sh", "-c", "echo $HOME"],
                           capture_output=True, text=True, timeout=60)
        assert (r.returncode, r.stdout) == (0, "/var/www\n"), (cli, r.stderr)
