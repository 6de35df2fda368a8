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


# ---- lxrun rootfs export ---------------------------------------------------------

SECRET = "a host secret outside the tree\n"


@pytest.fixture(scope="module")
def flipper(workdir) -> str:
    out = os.path.join(workdir, "flipper")
    import subprocess
    from .conftest import TESTBINS
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(TESTBINS, "flipper.c")], check=True,
                   capture_output=True, timeout=120)
    os.chmod(out, 0o755)
    return out


@pytest.mark.parametrize("who", ["root", "user"])
def test_export_never_follows_a_symlink_swapped_into_the_tree(workdir, escape_bin, flipper, who):
    """`lxrun rootfs export DIR OUT` of a tree its owner (or the guest of a
    zone on it: the same user) keeps changing: 20 directories and 20 files
    trade names with symlinks to a host directory and a host file, again
    and again, while the tree is exported ten times.  No tarball may hold
    the host files (the walk went by path: lstat, then open or listdir,
    which followed what was there by then)."""
    import subprocess
    import tarfile
    from .conftest import USER_GID, USER_UID, lxrun_forked, make_tiny
    uid, gid = (0, 0) if who == "root" else (USER_UID, USER_GID)
    secret_dir = os.path.join(workdir, f"secret-{who}")
    os.makedirs(secret_dir, exist_ok=True)
    with open(os.path.join(secret_dir, "secret"), "w") as f:
        f.write(SECRET)
    for p in (secret_dir, os.path.join(secret_dir, "secret")):
        os.chown(p, uid, gid)
    os.chmod(os.path.join(secret_dir, "secret"), 0o600)
    tree = make_tiny(workdir, escape_bin, USER_UID, USER_GID)    # the user's tree, whoever exports it
    pairs = []
    for i in range(20):
        d = f"{tree}/var/d{i}"
        os.makedirs(d)
        with open(f"{d}/secret", "w") as f:
            f.write("decoy: the tree's own file\n")
        os.symlink(secret_dir, f"{tree}/var/l{i}")
        with open(f"{tree}/var/f{i}", "w") as f:
            f.write("decoy: the tree's own file, as long as the secret\n"[:len(SECRET)])
        os.symlink(os.path.join(secret_dir, "secret"), f"{tree}/var/s{i}")
        pairs += [f"{tree}/var/d{i}", f"{tree}/var/l{i}", f"{tree}/var/f{i}", f"{tree}/var/s{i}"]
    subprocess.run(["chown", "-R", "-h", f"{USER_UID}:{USER_GID}", tree], check=True)
    outdir = os.path.join(workdir, f"exports-{who}")
    os.makedirs(outdir, exist_ok=True)
    os.chown(outdir, uid, gid)

    def drop():
        os.setgroups([])
        os.setresgid(USER_GID, USER_GID, USER_GID)
        os.setresuid(USER_UID, USER_UID, USER_UID)

    racer = subprocess.Popen([flipper, "30", *pairs], stdout=subprocess.PIPE, text=True, preexec_fn=drop)
    leaked, done = [], 0
    try:
        assert racer.stdout.readline() == "flipping\n"
        # up to 30 exports, until 3 ended: under the flipping most walks may meet a
        # name mid-swap and fail (in one line), and all of 10 did in 1 of 4 runs
        for n in range(30):
            if done >= 3:
                break
            out = os.path.join(outdir, f"t{n}.tar")
            r = lxrun_forked(["rootfs", "export", tree, out], uid=None if who == "root" else uid, gid=gid,
                             timeout=60)
            assert "Traceback" not in r.stderr, r
            if r.returncode != 0:
                assert r.stderr.startswith("lxrun: ") and r.stderr.count("\n") == 1, r
                continue        # a walk that met a name mid-swap may fail, in one line; it must never leak
            done += 1
            with tarfile.open(out) as tar:
                for m in tar.getmembers():
                    if m.isfile() and tar.extractfile(m).read() == SECRET.encode():
                        leaked.append((n, m.name))
    finally:
        racer.kill()
        racer.wait()
    assert not leaked, f"the export read host files through symlinks swapped into the tree: {leaked}"
    assert done, "no export ended: the test proves nothing"


OUTPUTS_ALL = dict(OUTPUTS, trace=(lambda f: ["--trace=getpid", "-o", f]))


@pytest.mark.parametrize("door", ["frontdoor", "python"])
@pytest.mark.parametrize("output", sorted(OUTPUTS_ALL))
def test_a_symlink_an_earlier_guest_left_is_not_followed_by_root(tiny_root, output, door):
    """A guest of an earlier run leaves, in a rw bind, a symlink to a host
    file where root's next run writes an output: that run must not write
    through it (the symlink is the zone root's, LXB_ID_BASE, neither root's
    nor the caller's).  A user's guest is that user: nothing tells its
    symlinks from the user's (SECURITY.md), so this is root's case."""
    zones = tiny_root
    victim = _victim(zones)
    out = zones.host_dir(f"pre-{output}-{door}", mode=0o755)
    target = os.path.join(out, "lxrun.out")
    r = zones.run("/bin/sh", "-c", f"ln -s {victim} /out/lxrun.out", opts=["--bind", f"{out}:/out"])
    assert r.returncode == 0 and os.path.islink(target), r
    opts = [*OUTPUTS_ALL[output](target), "--bind", f"{out}:/out:ro"]
    if door == "frontdoor":
        r = zones.run("/bin/true", opts=opts)
    else:
        r = lxrun_forked([*opts, zones.rootfs, "/bin/true"])
    try:
        with open(victim) as f:
            got = f.read()
        assert got == VICTIM_TEXT, f"root's lxrun wrote its {output} through an earlier guest's symlink:\n{got}"
        assert "symlink of another user" in r.stderr, r
        assert "Traceback" not in r.stderr, r
    finally:
        os.unlink(victim)
