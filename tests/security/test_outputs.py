"""lxrun's own files: what lxrun writes on the host for a run is never
redirected by the guest.

--report=FILE and -o FILE (--stats) are written after the guest ran.  Where
the guest can write (a rw --bind, its rootfs), it could replace FILE with a
symlink to any host file while it runs, and lxrun, as root or as the user,
would truncate that file and write the report into it (the report quotes
the guest's command lines).  lxrun opens them before the guest runs, as a
shell opens a redirection (SECURITY.md, "lxrun's own files").

Each case runs through the C front door (lxrun as a command, run by root)
and through the Python CLI (run by root and by the ordinary user).
"""
import os

import pytest

from .conftest import lxrun_forked

VICTIM_TEXT = "a host file the zone was never given\n"

# (option words, the file name in the bound directory)
OUTPUTS = {
    "report": (lambda f: [f"--report={f}"]),
    "stats": (lambda f: ["--stats", "-o", f]),
}


def _victim(zones) -> str:
    """A host file outside everything the zone was given, owned by the user
    who runs lxrun (root's, or the user's own), mode 0600."""
    path = os.path.join(zones.workdir, f"victim-{zones.who}")
    with open(path, "w") as f:
        f.write(VICTIM_TEXT)
    os.chown(path, zones.uid, zones.gid)
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize("door", ["frontdoor", "python"])
@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_the_guest_cannot_redirect_lxruns_output_to_a_host_file(zones, output, door):
    """The guest turns the output file, in a rw bind, into a symlink to a
    host file of lxrun's user; the host file must stay as it was."""
    if door == "frontdoor" and zones.who != "root":
        pytest.skip("the ordinary user runs the Python CLI (conftest.lxrun_forked)")
    victim = _victim(zones)
    out = zones.host_dir(f"out-{output}", mode=0o777)
    target = os.path.join(out, "lxrun.out")
    script = f"rm -f /out/lxrun.out; ln -s {victim} /out/lxrun.out; echo planted"
    opts = [*OUTPUTS[output](target), "--bind", f"{out}:/out"]
    if door == "frontdoor":
        r = zones.run("/bin/sh", "-c", script, opts=opts)
    else:
        r = lxrun_forked([*opts, zones.rootfs, "/bin/sh", "-c", script],
                         uid=None if zones.who == "root" else zones.uid, gid=zones.gid)
    try:
        assert "planted" in r.stdout, r
        assert os.path.islink(target), "the guest could not plant its symlink: the test proves nothing"
        with open(victim) as f:
            got = f.read()
        assert got == VICTIM_TEXT, f"lxrun wrote its {output} into a host file through the guest's symlink:\n{got}"
        st = os.stat(victim)
        assert (st.st_uid, st.st_mode & 0o7777) == (zones.uid, 0o600)
    finally:
        os.unlink(victim)


def test_root_never_writes_its_cache_where_another_users_symlinks_point(tiny_root):
    """Root runs lxrun with a cache directory another user owns (that
    user's HOME left by `sudo -E`, or LXBRAND_CACHE): the user's symlinks
    `frontdoor` and `filters` point at a root-owned directory and at one
    that does not exist; root must create nothing in either (it wrote its
    brands and filters there), and a cache of root's own still works."""
    import subprocess
    from .conftest import USER_GID, USER_UID
    work = tiny_root.workdir
    theirs = tiny_root.host_dir("their-cache")
    os.chown(theirs, USER_UID, USER_GID)
    os.chmod(theirs, 0o755)
    rootdir = tiny_root.host_dir("root-owned")
    os.chown(rootdir, 0, 0)
    missing = os.path.join(work, "made-by-root")
    for name, target in (("frontdoor", rootdir), ("filters", missing)):
        os.symlink(target, os.path.join(theirs, name))
        os.lchown(os.path.join(theirs, name), USER_UID, USER_GID)

    def run(cache):
        env = dict(os.environ, LXBRAND_CACHE=cache)
        return subprocess.run(["lxrun", "--deny", "sethostname", tiny_root.rootfs, "/bin/true"], env=env,
                              capture_output=True, text=True, timeout=120)

    r = run(theirs)
    assert r.returncode == 0, r
    assert os.listdir(rootdir) == [], f"root wrote its cache through another user's symlink: {os.listdir(rootdir)}"
    assert not os.path.lexists(missing), "root made a directory where another user's symlink points"
    ours = os.path.join(work, "root-cache")          # a cache of root's own, below the sticky /var/tmp
    r = run(ours)
    assert r.returncode == 0, r
    assert os.listdir(os.path.join(ours, "frontdoor")), "root's own cache was not written: the test proves nothing"
