"""lxbrand-init: a zone started from Python (the library, the Python CLI) has
its init cloned by lxbrand-init, which the interpreter posix_spawns
(csrc/launcher.c spawn_starter, csrc/init/lxbrand-init.c).  Whatever the
interpreter holds must not reach it or the zone:

- its environment: lxbrand-init runs with an empty one, so an LD_PRELOAD
  (or any other loader variable) set in the embedding program, run by root
  or by a user, never loads into lxbrand-init, nor into init, its clone;
- its fds: an fd the embedding program left inheritable (a host directory,
  a host file) is inherited by lxbrand-init, and init closes every fd but
  its own before anything of the zone runs (lxb_init_main's
  lxb_close_except), so the guest sees only its stdio.
"""
import os
import subprocess

import pytest

from lxbrand import Zone

from .conftest import ESCAPE, TESTBINS, TIMEOUT, _libc, PR_SET_DUMPABLE, in_child, verdicts


@pytest.fixture(scope="module")
def preload(workdir) -> str:
    """testbins/lib/preload_marker.c, built into the module's directory."""
    out = os.path.join(workdir, "preload_marker.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", out, os.path.join(TESTBINS, "lib", "preload_marker.c")],
                   check=True, capture_output=True, timeout=120)
    os.chmod(out, 0o755)
    return out


def _as(zones):
    """In the forked child: become the runner (root stays root)."""
    if zones.who != "root":
        os.setgroups([])
        os.setresgid(zones.gid, zones.gid, zones.gid)
        os.setresuid(zones.uid, zones.uid, zones.uid)
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


def test_lxbrand_init_gets_none_of_the_interpreters_environment(zones, preload):
    marker_dir = zones.host_dir("preload", mode=0o777)
    marker = os.path.join(marker_dir, "loaded")

    def run():
        _as(zones)
        os.environ["LD_PRELOAD"] = preload
        os.environ["LXB_PRELOAD_MARKER"] = marker
        # the marker works: a program spawned with this environment loads it
        subprocess.run(["/bin/true"], check=True)
        r = Zone(zones.rootfs).run([ESCAPE, "fds"], capture_output=True, timeout=TIMEOUT)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    code, out, err = in_child(run)
    assert code == 0, (out, err)
    with open(marker) as f:
        loaded = f.read()
    assert "loaded in /usr/bin/true" in loaded, f"the marker library does not work: {loaded!r}"
    assert "lxbrand-init" not in loaded, f"LD_PRELOAD of the embedding program reached lxbrand-init:\n{loaded}"
    assert all(line.startswith("loaded in /usr/bin/true") for line in loaded.splitlines()), loaded


def test_inheritable_host_fds_never_reach_the_guest(zones):
    """A host directory and the host marker, left inheritable by the
    embedding program at low and high numbers, are neither init's (looked
    at from the host: init is not dumpable, so as root only) nor the
    guest's."""

    def run():
        _as(zones)
        fds = [os.open(zones.workdir, os.O_RDONLY | os.O_DIRECTORY), os.open(zones.marker, os.O_RDONLY)]
        fds.append(os.dup2(fds[0], 200))
        for fd in fds:
            os.set_inheritable(fd, True)
        r, w = os.pipe()
        zone = Zone(zones.rootfs)
        run = zone.start([ESCAPE, "fds"], stdout=w, hold=True)
        os.close(w)
        init_fds = {}
        if zones.who == "root":
            d = f"/proc/{run.init_pid}/fd"
            for n in os.listdir(d):
                try:
                    init_fds[n] = os.readlink(f"{d}/{n}")
                except OSError:
                    pass
        run.release()
        code = run.wait()
        out = b""
        while chunk := os.read(r, 65536):
            out += chunk
        run.close()
        return code, out.decode(errors="replace"), init_fds

    code, out, init_fds = in_child(run)
    held = {n: t for n, t in init_fds.items() if zones.workdir in t}
    assert not held, f"the zone's init holds the embedding program's fds: {held}"
    v = verdicts(out)
    assert code == 0 and v.get("fds") == ("contained", "only stdio"), out
