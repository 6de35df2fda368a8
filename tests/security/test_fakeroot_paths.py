"""--fakeroot's supervisor never acts outside the zone.

Under --fakeroot (an ordinary user without subordinate ids) the supervisor
performs chown, mknod and the stat family itself, as that user, in the
host's mount namespace (csrc/fakeroot.c, THE PATH): a guest path it resolved
out of the zone would let the guest record owners on (set user.* xattrs of,
chmod) and create files among the user's host files, which the zone was
never given.  testbins/fr_escape.c aims every call at a host directory of
the user through "..", /proc/self, /proc/PID/root and cwd, a chroot with a
process outside it, a dirfd kept across the chroot, and a directory swapped
for a symlink while the calls run; the directory must stay as it was.
"""
import os
import shutil

import pytest

from .conftest import TESTBINS

XATTR = "user.lxbrand.owner"


@pytest.fixture(scope="module")
def fr_escape(escape_bin) -> str:
    import subprocess
    out = os.path.join(TESTBINS, "build", "fr_escape")
    src = os.path.join(TESTBINS, "fr_escape.c")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run(["make", "-C", TESTBINS, "build/fr_escape"], check=True, capture_output=True, timeout=120)
    return out


def test_fakeroot_chown_and_mknod_never_reach_a_host_file(tiny_user, fr_escape):
    zones = tiny_user
    shutil.copy(fr_escape, f"{zones.rootfs}/usr/local/bin/fr_escape")
    os.chown(f"{zones.rootfs}/usr/local/bin/fr_escape", zones.uid, zones.gid)
    os.chmod(f"{zones.rootfs}/usr/local/bin/fr_escape", 0o755)
    target = zones.host_dir("fr-target")                  # the user's own host directory
    victim = os.path.join(target, "victim")
    with open(victim, "w") as f:
        f.write("the user's host file\n")
    os.chown(victim, zones.uid, zones.gid)
    os.chmod(victim, 0o644)
    r = zones.run("/usr/local/bin/fr_escape", target, opts=["--fakeroot"], timeout=120)
    assert "done" in r.stdout, r
    assert sorted(os.listdir(target)) == ["victim"], f"the supervisor made files in a host directory: {r.stdout}"
    assert XATTR not in os.listxattr(victim), f"the supervisor recorded an owner on a host file:\n{r.stdout}"
    st = os.stat(victim)
    assert (st.st_uid, st.st_mode & 0o7777) == (zones.uid, 0o644)
    assert "control: chown recorded" in r.stdout, f"--fakeroot is not on: the test proves nothing\n{r}"
