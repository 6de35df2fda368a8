"""lxrun for every user of the host: `make setup` run by root installs a copy
of lxbrand into SHARED (/opt/lxbrand; Makefile install-shared) with a venv of
the system's python3, because the interpreter that runs these tests may be
out of other users' reach (pyenv in root's 0700 home).  Here an ordinary
user (nobody) execs that install directly, as a user of the host would type
`lxrun`: no fork from this interpreter, no files of root's.
"""
from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import NOBODY, debian_of_nobody

SHARED = os.environ.get("LXBRAND_SHARED", "/opt/lxbrand")     # Makefile LXBRAND_SHARED
LXRUN = os.path.join(SHARED, "venv", "bin", "lxrun")


def _differs_from_checkout():
    """The first source of lxbrand/ or csrc/ whose copy in SHARED/src is not
    this checkout's, else None."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for top in ("lxbrand", "csrc"):
        for d, dirs, files in os.walk(os.path.join(here, top)):
            dirs[:] = [x for x in dirs if x != "__pycache__"]
            for f in files:
                if f.endswith((".py", ".c", ".h")):
                    mine = os.path.join(d, f)
                    theirs = os.path.join(SHARED, "src", os.path.relpath(mine, here))
                    if not os.path.exists(theirs) or not filecmp.cmp(mine, theirs, shallow=False):
                        return os.path.relpath(mine, here)
    return None


@pytest.fixture(scope="module")
def users_tree():
    """A copy of the cached Debian rootfs that nobody owns, and nobody's home."""
    if os.geteuid() != 0:
        pytest.skip("becoming nobody needs root")
    if not os.access(LXRUN, os.X_OK):
        pytest.skip(f"no shared install at {SHARED} (`make setup` as root, or `make install-shared`, makes it)")
    stale = _differs_from_checkout()
    if stale:
        pytest.skip(f"the shared install at {SHARED} is older than this checkout ({stale} differs): "
                    "make install-shared")
    with debian_of_nobody("lxbrand-shared-") as (d, root):
        home = os.path.join(d, "home")
        os.mkdir(home)
        os.chown(home, NOBODY, NOBODY)
        yield root, home


def as_nobody(home: str, *argv: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LXRUN_DEBUG_FRONTDOOR": "1"}
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--",
                           *argv], capture_output=True, text=True, env=env, cwd="/", timeout=120)


def test_an_ordinary_user_runs_the_shared_lxrun(users_tree):
    root, home = users_tree
    r = as_nobody(home, LXRUN, root, "python3", "-c",
                  "import os, platform; print(os.getuid(), platform.node()); open('/made', 'w').write('x')")
    assert (r.returncode, r.stdout) == (0, "0 zone\n"), r.stderr
    st = os.stat(os.path.join(root, "made"))
    assert st.st_uid == NOBODY                      # the user's own file on the host, root's in the zone
    r = as_nobody(home, LXRUN, root, "sh", "-c", "dpkg -s bash | grep ^Status; id -un")
    assert (r.returncode, r.stdout) == (0, "Status: install ok installed\nroot\n"), r.stderr
    # the C front door ran, and handed over to the shared Python CLI only
    # for what it does not serve (a fake root without subordinate ids), not
    # because something of the install was out of nobody's reach
    handed = [line for line in r.stderr.splitlines() if "handing over" in line]
    assert handed in ([], [f"lxrun: front door: --fakeroot (a user without subordinate ids); "
                           f"handing over to {SHARED}/venv/bin/lxrun-py"]), r.stderr
    assert os.path.isdir(os.path.join(home, ".cache", "lxbrand"))


def test_an_ordinary_user_finds_the_shared_lxrun_on_path(users_tree):
    """BINDIR (/usr/local/bin; .ci/run points it into its own directory)
    links lxrun and lxrun-py to the shared install."""
    root, home = users_tree
    bindir = os.environ.get("BINDIR", "/usr/local/bin")
    for name in ("lxrun", "lxrun-py"):
        assert os.path.realpath(os.path.join(bindir, name)) == os.path.realpath(os.path.join(SHARED, "venv", "bin", name))
    r = as_nobody(home, "env", f"PATH={bindir}:/usr/bin:/bin", "sh", "-c", f"command -v lxrun; lxrun {root} hostname")
    assert (r.returncode, r.stdout) == (0, f"{bindir}/lxrun\nzone\n"), r.stderr


FAKE_ROOT_SCRIPT = ("touch /f && chown 123:456 /f && stat -c %u:%g /f; mknod /dev/n2 c 1 3 && ls -ln /dev/n2 | cut -c1-10,20-;"
                    "id; su -s /bin/sh nobody -c 'id; touch /tmp/mine; stat -c %U /tmp/mine'; rm -f /f /dev/n2")


def test_an_ordinary_users_fake_root_zone_is_served_by_the_front_door(users_tree):
    """A user without subordinate ids gets a fake root (csrc/fakeroot.c, C
    handlers only): the Python CLI compiles its brand once and leaves it in
    the cache (key "fakeroot 1"), and from then on the C front door runs
    such a zone without Python, with the same results."""
    root, home = users_tree
    py = as_nobody(home, os.path.join(SHARED, "venv", "bin", "lxrun-py"), root, "sh", "-c", FAKE_ROOT_SCRIPT)
    assert py.returncode == 0 and "123:456" in py.stdout and "uid=65534(nobody)" in py.stdout, py.stderr
    as_nobody(home, LXRUN, root, "/bin/true")            # the cache has the brand after this one at the latest
    c = as_nobody(home, LXRUN, root, "sh", "-c", FAKE_ROOT_SCRIPT)
    assert "handing over" not in c.stderr, c.stderr
    assert (c.returncode, c.stdout) == (0, py.stdout), c.stderr


def test_an_ordinary_users_fake_root_over_a_rootfs_it_cannot_write_runs_as_python_runs_it(users_tree):
    _, home = users_tree
    theirs = tempfile.mkdtemp(prefix="lxbrand-roots-", dir="/tmp")      # root's, 0700 -> 0755
    try:
        os.chmod(theirs, 0o755)
        os.mkdir(os.path.join(theirs, "bin"))
        shutil.copy2(shutil.which("busybox"), os.path.join(theirs, "bin", "sh"))    # static: the applet sh
        script = "id -u; touch /x; echo $?; echo ok > /tmp/t; cat /tmp/t"
        py = as_nobody(home, os.path.join(SHARED, "venv", "bin", "lxrun-py"), theirs, "/bin/sh", "-c", script)
        as_nobody(home, LXRUN, theirs, "/bin/true")
        c = as_nobody(home, LXRUN, theirs, "/bin/sh", "-c", script)
    finally:
        shutil.rmtree(theirs)
    assert "handing over" not in c.stderr, c.stderr
    assert (c.returncode, c.stdout, c.stderr) == (py.returncode, py.stdout, py.stderr), (c.stderr, py.stderr)
    assert py.stdout == "0\n0\nok\n", py.stdout        # / is a scaffold of mountpoints: /x is made there
