"""The supervisor (csrc/supervisor.c, lxbrand.supervisor.Supervisor): uname
under an emulated release answers from the caller's own UTS namespace,
sethostname/setdomainname are the kernel's, several receivers answer at
once, and a zone's end never waits for a Python handler.

Nothing here asserts a time (DESIGN.md): concurrency is shown by two handler
calls that must meet, and "does not wait" by a handler still inside when
Zone.run has returned.
"""
import os
import subprocess
import threading

import pytest

from conftest import UNAME_SAME_THREAD as SAME_THREAD

from lxbrand import Zone

RELEASE = "4.19.0-lx"


def sh(zone, script, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 120)
    r = zone.run(["/bin/sh", "-c", script], **kw)
    assert r.returncode == 0, (r.returncode, r.stderr)
    return r.stdout.decode()


# -- uname under --kernel-release: the caller's names, the brand's kernel ----------

def test_uname_shows_the_zones_names_and_the_brands_release(rootfs):
    z = Zone(rootfs, hostname="db1", domainname="corp", kernel_release=RELEASE)
    # domainname(1) asks uname(2) too (glibc's getdomainname)
    out = sh(z, "uname -n; uname -r; uname -s -m; domainname")
    assert out == f"db1\n{RELEASE}\nLinux x86_64\ncorp\n"
    assert z.last_supervisor.notified >= 4      # the C handler answered, not the kernel


def test_uname_follows_a_namespace_the_caller_unshared(rootfs):
    """Zone root unshares its UTS namespace and renames it: uname in there
    says the new name; the zone's own name is untouched outside."""
    z = Zone(rootfs, hostname="db1", kernel_release=RELEASE)
    out = sh(z, "unshare -u sh -c 'hostname x; domainname d; uname -n; uname -r; domainname'; "
                "uname -n; domainname; hostname")
    assert out == f"x\n{RELEASE}\nd\ndb1\n(none)\ndb1\n"



def test_uname_follows_the_same_thread_into_a_namespace_and_back(rootfs):
    """A thread that called uname, unshares, renames and calls it again sees
    its new name; back in the zone's namespace by setns, the zone's again."""
    z = Zone(rootfs, hostname="db1", kernel_release=RELEASE)
    r = z.run(["python3", "-c", SAME_THREAD], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"db1 db1 mine db1 {RELEASE}\n"


def test_unshare_and_setns_reach_the_supervisor_only_when_uname_does():
    """The brand notifies unshare and setns for uname's sake only (compile.UTS_WATCH)."""
    from lxbrand.brand import Options, compile_brand
    by = {e.sc.name: e for e in compile_brand(Options(kernel_release=RELEASE))}
    assert by["unshare"].status.name == by["setns"].status.name == "translated"
    assert by["unshare"].origin == "uname"
    by = {e.sc.name: e for e in compile_brand(Options())}
    assert by["unshare"].status.name == by["setns"].status.name == "pass"


def test_uname_back_and_forth_between_namespaces(rootfs):
    """One receiver answers callers in different namespaces in turn (it
    re-joins the caller's each time the namespace differs)."""
    z = Zone(rootfs, hostname="db1", kernel_release=RELEASE)
    script = "unshare -u sh -c 'hostname x; for i in 1 2 3; do uname -n; done' & uname -n; wait; uname -n"
    out = sh(z, script)
    assert sorted(out.split()) == ["db1", "db1", "x", "x", "x"]


def test_a_user_in_a_nested_user_namespace_renames_only_its_own(rootfs):
    """Issue 10, S3: uid 1000 with a user namespace of its own renames that
    namespace, never the zone."""
    z = Zone(rootfs, hostname="db1", uid=1000, gid=1000, kernel_release=RELEASE)
    r = z.run(["/bin/sh", "-c", "unshare -U -r -u sh -c 'hostname hacked; uname -n'; uname -n; hostname"],
              capture_output=True, timeout=120)
    if b"unshare failed" in r.stderr and b"Operation not permitted" in r.stderr:
        pytest.skip(f"nested user namespaces refused here: {r.stderr.decode().strip()}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "hacked\ndb1\ndb1\n"


# -- sethostname/setdomainname: the kernel's --------------------------------------

SETNAMES = ("import socket, ctypes, os\n"
            "socket.sethostname('renamed')\n"
            "print(ctypes.CDLL(None).setdomainname(b'corp2', 5))\n"
            "print(os.uname().nodename)\n")


@pytest.mark.parametrize("kernel_release", [None, RELEASE])
def test_sethostname_renames_the_zone(rootfs, kernel_release):
    host = os.uname().nodename
    z = Zone(rootfs, hostname="db1", kernel_release=kernel_release)
    out = sh(z, f"python3 -c \"{SETNAMES}\"; hostname; cat /proc/sys/kernel/hostname; uname -n; "
                "domainname; cat /proc/sys/kernel/domainname")
    assert out == "0\nrenamed\n" + "renamed\n" * 3 + "corp2\n" * 2
    assert os.uname().nodename == host


def test_uname_as_an_ordinary_user(unprivileged):
    """Run by an ordinary user, lxrun may not setns(2) into a UTS namespace
    from its own threads; uname still answers the caller's own names."""
    for applet in ("unshare", "domainname"):
        os.symlink("busybox", os.path.join(unprivileged.rootfs, "bin", applet))
    script = "uname -n; uname -r; unshare -u sh -c 'hostname x; uname -n'; hostname y; uname -n"
    r = unprivileged.lxrun("--hostname", "db1", "--kernel-release", RELEASE, unprivileged.rootfs,
                           "/bin/sh", "-c", script)
    if r.returncode != 0 and "user namespace" in r.stderr:
        pytest.skip(f"this host refuses unprivileged user namespaces: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["db1", RELEASE, "x", "y"]


# -- several receivers ---------------------------------------------------------------

# ctypes, not os.getppid: the guest's Python must let its GIL go while the
# thread waits in the syscall, or its threads could not make calls at once
TWO_THREADS = ("import ctypes, threading\n"
               "libc = ctypes.CDLL(None)\n"
               "out = []\n"
               "ts = [threading.Thread(target=lambda: out.append(libc.getppid())) for _ in range(2)]\n"
               "[t.start() for t in ts]; [t.join() for t in ts]\n"
               "print(*sorted(out))\n")


def test_two_python_handlers_run_at_once(rootfs):
    """Two guest threads' getppid upcalls meet at a barrier: with one
    receiver the first would wait there alone until the barrier breaks."""
    meet = threading.Barrier(2, timeout=60)
    z = Zone(rootfs)

    @z.handler("getppid")
    def getppid(call):
        meet.wait()
        return 4242

    r = z.run(["python3", "-c", TWO_THREADS], capture_output=True, timeout=120)
    assert not meet.broken
    assert (r.returncode, r.stdout) == (0, b"4242 4242\n"), r.stderr


def test_a_slow_python_handler_does_not_stall_the_c_handlers(rootfs):
    """While one guest thread is held in a Python handler, another thread's
    uname (a C handler, under --kernel-release) is answered: the guest then
    lets the first one go (through a second Python handler)."""
    inside, release = threading.Event(), threading.Event()
    z = Zone(rootfs, kernel_release=RELEASE)

    @z.handler("getppid")
    def held(call):
        inside.set()
        release.wait(60)
        return 7 if release.is_set() else 0

    @z.handler("getpgrp")
    def let_go(call):
        if inside.is_set():
            release.set()
        return 1 if release.is_set() else 0

    code = ("import ctypes, os, threading\n"
            "out = []\n"
            "t = threading.Thread(target=lambda: out.append(ctypes.CDLL(None).getppid())); t.start()\n"
            "while os.getpgrp() != 1: os.uname()\n"
            "t.join(); print(out[0], os.uname().release)\n")
    r = z.run(["python3", "-c", code], capture_output=True, timeout=120)
    assert (r.returncode, r.stdout.decode()) == (0, f"7 {RELEASE}\n"), r.stderr


# -- the zone's end never waits for a Python handler -----------------------------

def _stuck_zone(rootfs):
    """A zone whose getppid handler stays inside until released."""
    state = {"inside": threading.Event(), "release": threading.Event(), "done": threading.Event()}
    z = Zone(rootfs)

    @z.handler("getppid")
    def stuck(call):
        state["inside"].set()
        state["release"].wait(120)
        state["done"].set()
        return 1

    @z.handler("getpgrp")
    def entered(call):
        return 1 if state["inside"].is_set() else 0

    return z, state


def test_run_timeout_does_not_wait_for_a_handler(rootfs):
    z, state = _stuck_zone(rootfs)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            z.run(["python3", "-c", "import os; os.getppid()"], capture_output=True, timeout=2)
        assert not state["done"].is_set()       # run() returned with the handler still inside
    finally:
        state["release"].set()


def test_guest_exit_does_not_wait_for_a_handler(rootfs):
    """The guest's main thread exits while another of its threads is inside
    a Python handler: run() returns the guest's status at once."""
    z, state = _stuck_zone(rootfs)
    code = ("import ctypes, os, threading\n"
            "threading.Thread(target=ctypes.CDLL(None).getppid, daemon=True).start()\n"
            "while os.getpgrp() != 1: pass\n"
            "os._exit(3)\n")
    try:
        r = z.run(["python3", "-c", code], capture_output=True, timeout=120)
        assert r.returncode == 3, r.stderr
        assert state["inside"].is_set() and not state["done"].is_set()
    finally:
        state["release"].set()
