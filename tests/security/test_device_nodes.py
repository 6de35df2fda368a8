"""A device node in the rootfs is never a device in the zone.

A rootfs is the guest's (SECURITY.md, threat model): an image that root
unpacked (podman's layers for lxbrand-oci, `lxrun rootfs import`, any tar -x
as root) may hold device nodes anywhere, say /var/x as the host's disk.  The
id shift makes them the zone root's, a mode 0666 needs no owner at all, and
the zone's root holds no CAP_MKNOD but needs none to open a node that is
already there: the kernel's only check is the mount's nodev.  lxrun binds
the rootfs nodev (csrc/zone_fs.c); its own /dev is a tmpfs with binds of the
host's null, zero, full, random, urandom and tty.

The nodes here are the numbers of /dev/null and /dev/full (1:3, 1:7): the
attempt changes nothing on the host even where the defence is missing.
"""
import os

import pytest

from .conftest import LXB_ID_BASE, make_tiny


@pytest.mark.parametrize("ephemeral", [False, True])
def test_device_nodes_in_the_rootfs_cannot_be_opened(zones, escape_bin, ephemeral):
    if ephemeral and zones.who != "root":
        pytest.skip("--ephemeral of an unshifted rootfs: root's case")
    root = make_tiny(zones.workdir, escape_bin, zones.uid, zones.gid)
    owner = zones.uid if zones.who == "user" else 0
    for name, minor, mode in (("null-0666", 3, 0o666), ("full-0600", 7, 0o600)):
        path = f"{root}/var/{name}"
        os.mknod(path, 0o020000 | mode, os.makedev(1, minor))     # S_IFCHR, as an image unpacked by root
        os.chown(path, owner, owner)
        os.chmod(path, mode)
    script = ("for n in null-0666 full-0600; do if ( : > /var/$n ) 2>/dev/null; then echo \"$n: OPENED\"; "
              "else echo \"$n: refused\"; fi; done; ls -ln /var/full-0600")
    r = zones.on(root).sh(script, opts=["--ephemeral"] if ephemeral else [])
    assert r.returncode == 0, r
    if zones.who == "root" and not ephemeral:
        # the shift made the 0600 node the zone root's, as it makes every file
        assert os.stat(f"{root}/var/full-0600").st_uid == LXB_ID_BASE, r
    assert "OPENED" not in r.stdout, f"the guest opened a device node of the rootfs:\n{r.stdout}{r.stderr}"
    assert r.stdout.count("refused") == 2, r
