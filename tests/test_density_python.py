"""One interpreter serves many zones (issue 16, the Python-handler case).

A zone with a Python handler needs an interpreter; this process is it for
twenty zones at once, each started with Zone.start and each with a handler
of its own.  Every zone's calls must be answered by its own handler, a zone
that ends (on its own, or killed) must not disturb the others, and when all
have ended nothing of them is left: no process, no receiver thread, no fd,
no mount.  No time is asserted (bench/density.py measures what they cost).
"""
import os
import select
import signal
import threading
import time

from lxbrand import Zone

N = 20
ANSWER = 7000          # zone i's getppid answers ANSWER + i
# each line on stdin runs a fresh sh, whose $PPID is getppid(2) answered by
# the zone's handler; EOF ends the guest with status 0
GUEST = ["/bin/sh", "-c", "while read line; do /bin/sh -c 'echo $PPID'; done"]


def _children() -> set:
    out = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                out |= {int(p) for p in f.read().split()}
        except FileNotFoundError:
            pass
    return out


def _vm_size_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmSize:")).split()[1])


def _fds() -> set:
    return set(os.listdir("/proc/self/fd")) - {"."}


def _readline(fd: int, timeout: float = 60.0) -> str:
    """A line from the pipe fd, or AssertionError after timeout seconds."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"no answer within {timeout} s: {buf!r}"
        chunk = os.read(fd, 1)
        assert chunk, f"the guest's stdout closed: {buf!r}"
        buf += chunk
    return buf.decode().strip()


class _Guest:
    """One zone, its handler, and the pipes to its guest's stdin and stdout."""

    def __init__(self, rootfs, i):
        self.i = i
        self.calls = 0
        self.zone = Zone(rootfs)
        self.zone.handler("getppid", self.getppid)
        in_r, self.stdin = os.pipe2(os.O_CLOEXEC)
        self.stdout, out_w = os.pipe2(os.O_CLOEXEC)
        try:
            self.run = self.zone.start(GUEST, stdin=in_r, stdout=out_w)
        finally:
            os.close(in_r)
            os.close(out_w)

    def getppid(self, call):
        assert call.zone is self.zone        # a bug here fails the call (ENOSYS), and the test
        self.calls += 1
        return ANSWER + self.i

    def ask(self) -> None:
        os.write(self.stdin, b"?\n")

    def answer(self) -> str:
        return _readline(self.stdout)

    def end(self) -> int:
        if self.stdin >= 0:
            os.close(self.stdin)
            self.stdin = -1
        code = self.run.wait()
        return code

    def close(self) -> None:
        for fd in (self.stdin, self.stdout):
            if fd >= 0:
                os.close(fd)
        self.stdin = self.stdout = -1
        self.run.close()


def test_one_interpreter_answers_twenty_zones_each_for_itself(rootfs):
    threads_before = {t.ident for t in threading.enumerate()}
    fds_before = _fds()
    children_before = _children()
    with open("/proc/self/mountinfo") as f:
        mounts_before = set(f.read().splitlines())
    guests = []
    try:
        for i in range(N):
            guests.append(_Guest(rootfs, i))
        # all twenty run at once, each a zone of its own with its own init,
        # which is this process's child but no clone of the interpreter
        # (lxbrand-init clones it): its writes leave no private pages there
        inits = {g.run.init_pid for g in guests}
        assert len(inits) == N and inits <= _children()
        sizes = {_vm_size_kb(p) for p in inits}
        assert max(sizes) < 32 * 1024 < _vm_size_kb(os.getpid()), (sizes, _vm_size_kb(os.getpid()))

        # every zone asks before any answer is read: the calls are in flight together
        for g in guests:
            g.ask()
        assert [g.answer() for g in guests] == [str(ANSWER + g.i) for g in guests]

        # one guest ends on its own, another is ended by a signal; the rest go on
        assert guests[0].end() == 0
        os.kill(guests[1].run.init_pid, signal.SIGTERM)     # init forwards it to the guest
        assert guests[1].run.wait() == -signal.SIGTERM      # its stdin still open: no EOF raced it
        rest = guests[2:]
        for g in rest:
            g.ask()
        assert [g.answer() for g in rest] == [str(ANSWER + g.i) for g in rest]

        assert [g.end() for g in rest] == [0] * len(rest)
        # each handler answered its own zone's calls only: the first sh, then one per question
        assert [g.calls for g in guests] == [1 + 1, 1 + 1] + [1 + 2] * len(rest)
    finally:
        for g in guests:
            g.close()

    # nothing is left: no init or guest, no receiver thread, no fd, no mount
    assert _children() <= children_before
    deadline = time.monotonic() + 10
    while {t.ident for t in threading.enumerate()} - threads_before:
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()
                                             if t.ident not in threads_before]
        time.sleep(0.05)
    assert _fds() <= fds_before
    with open("/proc/self/mountinfo") as f:
        added = set(f.read().splitlines()) - mounts_before
    assert not [m for m in added if rootfs in m or "lxbrand" in m], added
