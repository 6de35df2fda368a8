"""--fakeroot as language runtimes meet it (the real-software sweep of
runtimes and toolchains, /work/notes/sweep-runtimes.md).

Run by an ordinary user without subordinate ids, every process of a zone is
the one host id; the fake ids (csrc/fakeroot.c) are what a process believes
it is.  Linux lets a file's owner chown it to itself and to a group of its
own (fs/attr.c chown_ok, chgrp_ok); the JVM's attach listener, running as
a service user, does exactly that to its socket (bind, chmod 0600,
chown(geteuid(), getegid()), rename to /tmp/.java_pidPID), and jcmd then
refuses a socket that is not its own.  Seen with bookworm's openjdk-17 under
lxrun as an ordinary user: `su nobody -c 'java ... & jcmd PID VM.uptime'`
failed with "Unable to open socket file /tmp/.java_pidPID: target process
doesn't respond" (the listener's chown was EPERM, so it gave up), where a
root-run zone and Linux attach.  The test replays those syscalls in python3,
in the cached Debian rootfs.
"""
import textwrap

import pytest

from conftest import NOBODY, debian_of_nobody, lxrun_as_user


@pytest.fixture(scope="module")
def rootfs():
    with debian_of_nobody("lxbrand-frrt-") as (_, root):
        yield root


def lxrun(rootfs, *argv, **kw):
    r = lxrun_as_user(NOBODY, NOBODY, rootfs, *argv, **kw)
    if r.returncode == 125 and r.stderr.startswith("lxrun: cannot create a user namespace"):
        pytest.skip(f"this host refuses unprivileged user namespaces: {r.stderr.strip()}")
    return r


# run by a fake nobody (setpriv), as the JVM's attach listener and jcmd are
ATTACH = textwrap.dedent(r"""
    import errno, os, socket
    def chown(path, uid, gid, **kw):
        try:
            os.chown(path, uid, gid, **kw)
            return "ok"
        except OSError as e:
            return errno.errorcode[e.errno]
    uid, gid = os.geteuid(), os.getegid()
    open("/tmp/mine", "w").close()
    print("own file to itself", chown("/tmp/mine", uid, gid))
    print("own file to its group", chown("/tmp/mine", -1, gid))
    print("own file to root", chown("/tmp/mine", 0, -1))
    print("own file to group root", chown("/tmp/mine", -1, 0))
    print("root's file to itself", chown("/tmp/roots", uid, -1))
    print("root's file, no change", chown("/tmp/roots", -1, -1))
    s = socket.socket(socket.AF_UNIX)
    s.bind("/tmp/.java_pid42.tmp")
    s.listen(5)
    os.chmod("/tmp/.java_pid42.tmp", 0o600)
    print("socket to itself", chown("/tmp/.java_pid42.tmp", uid, gid))
    os.rename("/tmp/.java_pid42.tmp", "/tmp/.java_pid42")
    st = os.stat("/tmp/.java_pid42")
    print("jcmd sees", st.st_uid == uid, st.st_gid == gid, oct(st.st_mode & 0o777))
    print("socket to root", chown("/tmp/.java_pid42", 0, -1))
""").strip()


def test_an_owner_chowns_its_own_files_and_socket_to_itself(rootfs):
    r = lxrun(rootfs, "sh", "-c",
              "touch /tmp/roots && ln -s nowhere /tmp/link && chown -h 4242:4343 /tmp/link && "
              "stat -c '%u %g %F' /tmp/link && "
              "cat > /tmp/attach.py && setpriv --reuid=65534 --regid=65534 --clear-groups python3 /tmp/attach.py",
              input=ATTACH.encode())
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout == ("4242 4343 symbolic link\n"
                        "own file to itself ok\n"
                        "own file to its group ok\n"
                        "own file to root EPERM\n"
                        "own file to group root EPERM\n"
                        "root's file to itself EPERM\n"
                        "root's file, no change ok\n"
                        "socket to itself ok\n"
                        "jcmd sees True True 0o600\n"
                        "socket to root EPERM\n"), r.stderr
