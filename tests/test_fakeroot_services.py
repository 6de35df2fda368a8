"""--fakeroot as services meet it (the real-software sweep of services, /work/notes/sweep-services.md).

Run by an ordinary user without subordinate ids, every process of a zone is
the one host id; the fake ids (csrc/fakeroot.c, CREDENTIALS) are what a
process believes it is.  A server that asks the kernel who its client is
must get the client's fake ids, or `su postgres -c psql` is refused by
PostgreSQL's peer authentication ("Peer authentication failed for user
postgres", seen with bookworm's postgresql 15 under lxrun as nobody).
"""

import pytest

from conftest import NOBODY, debian_of_nobody, lxrun_as_user


class DebianUser:
    """nobody with a copy of the Debian rootfs of its own (made once)."""

    def __init__(self, rootfs):
        self.rootfs = rootfs

    def lxrun(self, *args, **kw):
        r = lxrun_as_user(NOBODY, NOBODY, *args, **kw)
        if r.returncode == 125 and r.stderr.startswith("lxrun: cannot create a user namespace"):
            pytest.skip(f"this host refuses unprivileged user namespaces: {r.stderr.strip()}")
        return r


@pytest.fixture(scope="module")
def debian():
    with debian_of_nobody("lxbrand-frsvc-") as (_, root):
        yield DebianUser(root)


# A root server on a unix socket, a client that dropped to 1000:1001 (fake ids)
# before it connected: each asks SO_PEERCRED about the other.
PEERCRED = r"""
import os, socket, struct
SO_PEERCRED = 17
def cred(s, n=12):
    b = s.getsockopt(socket.SOL_SOCKET, SO_PEERCRED, n)
    return struct.unpack("%di" % (len(b) // 4), b)
srv = socket.socket(socket.AF_UNIX)
srv.bind("/tmp/s")
srv.listen()
pid = os.fork()
if pid == 0:
    os.setgroups([])
    os.setresgid(1001, 1001, 1001)
    os.setresuid(1000, 1000, 1000)
    c = socket.socket(socket.AF_UNIX)
    c.connect("/tmp/s")
    p, u, g = cred(c)
    print("client", p == os.getppid(), u, g, flush=True)
    c.recv(1)
    os._exit(0)
conn, _ = srv.accept()
p, u, g = cred(conn)
print("server", p == pid, u, g)
print("short", cred(conn, 4) == (pid,))
print("type", conn.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM)
conn.send(b"x")
os.waitpid(pid, 0)
a, b = socket.socketpair()
print("pair", cred(a) == (os.getpid(), 0, 0))
t = socket.socket()
t.bind(("127.0.0.1", 0))
t.listen()
u = socket.create_connection(t.getsockname())
print("tcp", cred(u))
"""


def test_a_unix_sockets_peer_shows_its_fake_ids(debian):
    """getsockopt(SO_PEERCRED): the peer's pid in the zone and its fake
    effective ids (the kernel knows only the one real id, root in the zone);
    a short buffer gets the pid alone, other options are the kernel's, a TCP
    socket has no peer credentials (pid 0, ids -1) as on Linux."""
    r = debian.lxrun(debian.rootfs, "python3", "-c", PEERCRED)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted([
        "client True 0 0", "server True 1000 1001", "short True", "type True", "pair True",
        "tcp (0, -1, -1)"]), (r.stdout, r.stderr)


def test_postgres_style_peer_authentication_after_su(debian):
    """What PostgreSQL's peer authentication does: su to a user, connect to a
    root server's unix socket; the server names the client by SO_PEERCRED's
    uid (getpwuid)."""
    server = ("import os, pwd, socket, struct\n"
              "s = socket.socket(socket.AF_UNIX); s.bind('/tmp/pg'); s.listen(); open('/tmp/up', 'w').close()\n"
              "c, _ = s.accept()\n"
              "p, u, g = struct.unpack('3i', c.getsockopt(socket.SOL_SOCKET, 17, 12))\n"
              "print(pwd.getpwuid(u).pw_name)\n")
    client = "import socket; socket.socket(socket.AF_UNIX).connect('/tmp/pg')"
    script = (f"python3 -c \"{server}\" & while [ ! -e /tmp/up ]; do sleep 0.05; done; "
              f"su -s /bin/sh nobody -c \"python3 -c \\\"{client}\\\"\"; wait")
    r = debian.lxrun(debian.rootfs, "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "nobody", (r.stdout, r.stderr)
