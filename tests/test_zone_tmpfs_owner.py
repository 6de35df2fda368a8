"""The tmpfs set-up mounts (/dev, /dev/shm, /tmp, --tmpfs) belong to the zone's root.

Found by the services sweep (/work/notes/sweep-services.md): in a zone run by
root they showed as the overflow id (nobody), as the zone's init mounted them
and the guest does not map init's id, so root in the zone could not chmod
/tmp nor make /dev/net or a /dev link (EACCES, where Linux's root can), and on
a host with fs.protected_symlinks or fs.protected_regular (systemd's default)
a root-owned link or file in /tmp was refused to the zone's other users,
since the sticky directory's owner matched none of them.
"""
import pytest


def test_tmpfs_mounts_are_the_zone_roots(rootfs, lxrun):
    r = lxrun("--ephemeral", "--tmpfs", "/run/scratch:mode=755", rootfs, "sh", "-c",
              "stat -c '%n %u:%g %a' /tmp /dev/shm /dev /run/scratch; "
              "chmod 1777 /tmp && echo chmod-ok; "
              "mkdir /run/scratch/body && echo tmpfs-ok; "   # nginx --read-only with --tmpfs /var/lib/nginx:mode=755
              "mkdir /dev/net && ln -s /proc/self/fd /dev/fd9 && touch /dev/x && echo dev-ok; "
              "mknod /dev/null9 c 1 3 2>/dev/null || echo mknod-refused")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "/tmp 0:0 1777", "/dev/shm 0:0 1777", "/dev 0:0 755", "/run/scratch 0:0 755",
        "chmod-ok", "tmpfs-ok", "dev-ok",
        "mknod-refused",       # CAP_MKNOD stays dropped: no device of the host's
    ], (r.stdout, r.stderr)


def test_tmpfs_mounts_are_the_zone_roots_for_a_user(unprivileged):
    """Run by a user the zone's root is that user, init too: unchanged."""
    r = unprivileged.lxrun(unprivileged.rootfs, "ls", "-ldn", "/tmp", "/dev")
    if r.returncode == 125 and r.stderr.startswith("lxrun: cannot create a user namespace"):
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr
    owners = [line.split()[2:4] for line in r.stdout.splitlines()]
    assert owners == [["0", "0"], ["0", "0"]], r.stdout
