"""Conformance of the fd syscalls: close, dup, fcntl, pipes, eventfd, memfd,
close_range, flock, and memory mappings.
"""
import fcntl
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from . import strategies as S
from .script import AT_FDCWD, Script, assert_conforms, sigset

CONF = settings.get_profile("lxb-conformance")
O_RDONLY, O_RDWR = os.O_RDONLY, os.O_RDWR
F_GETFD, F_SETFD, F_GETFL, F_SETFL = fcntl.F_GETFD, fcntl.F_SETFD, fcntl.F_GETFL, fcntl.F_SETFL
F_DUPFD, F_DUPFD_CLOEXEC = fcntl.F_DUPFD, fcntl.F_DUPFD_CLOEXEC
F_ADD_SEALS, F_GET_SEALS, F_SEAL_WRITE, F_SEAL_SHRINK = 1033, 1034, 0x8, 0x2
EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC = 1, os.O_NONBLOCK, os.O_CLOEXEC
MFD_CLOEXEC, MFD_ALLOW_SEALING = 1, 2
PROT_READ, PROT_WRITE = 1, 2
SIGPIPE = 13


# ---- close, dup ------------------------------------------------------------

def test_close_ebadf():
    s = Script()
    fd = s.openat(AT_FDCWD, "/scratch/f", O_RDONLY)
    s.close(fd)
    s.close(fd)
    s.close(-1)
    s.close(1 << 20)
    assert_conforms(s, expect=["3", "0", "-EBADF", "-EBADF", "-EBADF"])


def test_dup_takes_the_lowest_fd():
    s = Script()
    a = s.openat(AT_FDCWD, "/scratch/f", O_RDONLY)
    b = s.openat(AT_FDCWD, "/scratch/x", O_RDONLY)
    s.close(a)
    c = s.dup(b)
    s.read(c, 3)
    s.read(b, 3)                          # a dup shares the offset
    s.dup(99)
    assert_conforms(s, expect=["3", "4", "0", "3", "3", "3", "-EBADF"])


def test_dup2_and_dup3():
    s = Script()
    a = s.openat(AT_FDCWD, "/scratch/f", O_RDONLY | os.O_CLOEXEC)
    s.dup2(a, a)                          # dup2 onto itself: the fd, untouched
    s.fcntl(a, F_GETFD)
    s.dup2(a, 7)
    s.fcntl(7, F_GETFD)                   # the copy has no FD_CLOEXEC
    s.dup2(99, 8)
    s.dup2(a, -1)
    s.dup3(a, a, 0)                       # unlike dup2: EINVAL
    s.dup3(a, 9, os.O_CLOEXEC)
    s.fcntl(9, F_GETFD)
    s.dup3(a, 10, os.O_APPEND)
    s.dup2(a, 7)                          # over an open fd: closes it first
    assert_conforms(s, expect=["3", "3", "1", "7", "0", "-EBADF", "-EBADF", "-EINVAL", "9", "1",
                               "-EINVAL", "7"])


# ---- fcntl -----------------------------------------------------------------------

def test_fcntl_fd_and_status_flags():
    s = Script()
    fd = s.openat(AT_FDCWD, "/scratch/f", O_RDWR)
    s.fcntl(fd, F_GETFD)
    s.fcntl(fd, F_SETFD, 1)
    s.fcntl(fd, F_GETFD)
    s.fcntl(fd, F_GETFL)
    s.fcntl(fd, F_SETFL, os.O_APPEND | os.O_NONBLOCK | os.O_RDONLY)   # the access mode stays
    s.fcntl(fd, F_GETFL)
    s.write(fd, b"!")
    s.pread64(fd, 32, 0)
    s.fcntl(fd, 9999)
    s.fcntl(77, F_GETFD)
    p = s.openat(AT_FDCWD, "/scratch/f", os.O_PATH)
    s.fcntl(p, F_GETFL)
    s.fcntl(p, F_SETFL, os.O_APPEND)
    assert_conforms(s, expect=["3", "0", "0", "1", "32770", "0", "35842", "1", "14", "-EINVAL",
                               "-EBADF", "4", None, "-EBADF"])


def test_fcntl_dupfd_minimum():
    s = Script()
    fd = s.openat(AT_FDCWD, "/scratch/f", O_RDONLY)
    s.fcntl(fd, F_DUPFD_CLOEXEC, 10)
    s.fcntl(10, F_GETFD)
    s.fcntl(fd, F_DUPFD, 10)
    s.fcntl(11, F_GETFD)
    s.fcntl(fd, F_DUPFD, -1)
    s.fcntl(fd, F_DUPFD, 1 << 30)
    assert_conforms(s, expect=["3", "10", "1", "11", "0", "-EINVAL", "-EINVAL"])


@given(ops=st.lists(st.tuples(st.sampled_from(["dup", "dup2", "dup3", "close", "fcntl"]),
                              st.integers(0, 3), st.integers(3, 12), st.sampled_from(S.FCNTL_CMDS),
                              st.sampled_from([0, 1, os.O_CLOEXEC, os.O_APPEND | os.O_NONBLOCK])),
                    min_size=1, max_size=12))
@CONF
def test_fd_juggling(ops):
    s = Script()
    fds = [s.openat(AT_FDCWD, "/scratch/f", O_RDWR), s.openat(AT_FDCWD, "/scratch/d", O_RDONLY)]
    fds += list(s.pipe2(os.O_NONBLOCK))
    for op, i, n, cmd, arg in ops:
        fd = fds[i % len(fds)]
        if op == "dup":
            fds.append(s.dup(fd))
        elif op == "dup2":
            fds.append(s.dup2(fd, n))
        elif op == "dup3":
            fds.append(s.dup3(fd, n, arg if arg != 1 else 0))
        elif op == "close":
            s.close(fd)
        else:
            if cmd == F_SETFL:
                arg |= os.O_NONBLOCK
            s.fcntl(fd, cmd, arg if cmd != F_DUPFD and cmd != F_DUPFD_CLOEXEC else n)
    for fd in fds:
        s.fcntl(fd, F_GETFD)
        s.fcntl(fd, F_GETFL)
        s.fstat(fd)
    assert_conforms(s)


# ---- pipes, eventfd, memfd -------------------------------------------------------

def test_pipe2_nonblocking():
    s = Script()
    r, w = s.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    s.fcntl(r, F_GETFL)
    s.fcntl(w, F_GETFD)
    s.read(r, 8)
    s.write(w, b"one two")
    s.read(r, 3)
    s.read(r, 8)
    s.fstat(r)
    s.close(w)
    s.read(r, 8)                          # no writer left: end of file
    s.pipe2(0x1)                          # an unknown flag
    assert_conforms(s, expect=["0", "2048", "1", "-EAGAIN", "7", "3", "4", "0", "0", "0", "-EINVAL"])


def test_pipe_write_without_reader_epipe():
    s = Script()
    s.rt_sigprocmask(0, sigset(SIGPIPE))  # SIG_BLOCK: EPIPE, not death
    r, w = s.pipe2(os.O_NONBLOCK)
    s.close(r)
    s.write(w, b"lost")
    s.rt_sigpending()
    assert_conforms(s, expect=["0", "0", "0", "-EPIPE", "0"])


def test_pipe_full_eagain():
    s = Script()
    r, w = s.pipe2(os.O_NONBLOCK)
    s.fcntl(w, 1032)                      # F_GETPIPE_SZ
    for _ in range(17):
        s.write(w, b"z" * 4096)
    s.read(r, 10)
    assert_conforms(s, expect=["0", "65536"] + ["4096"] * 16 + ["-EAGAIN", "10"])


def test_eventfd_counter_and_semaphore():
    s = Script()
    e = s.eventfd2(3, EFD_NONBLOCK)
    s.read(e, 8)
    s.read(e, 8)
    s.write(e, (5).to_bytes(8, "little"))
    s.write(e, b"abcd")
    s.write(e, (2**64 - 1).to_bytes(8, "little"))
    s.read(e, 4)
    s.read(e, 8)
    sem = s.eventfd2(2, EFD_NONBLOCK | EFD_SEMAPHORE | EFD_CLOEXEC)
    s.read(sem, 8)
    s.read(sem, 8)
    s.read(sem, 8)
    s.eventfd2(0, 0x4)                    # an unknown flag
    assert_conforms(s, expect=["3", "8", "-EAGAIN", "8", "-EINVAL", "-EINVAL", "-EINVAL", "8", "4",
                               "8", "8", "-EAGAIN", "-EINVAL"])


def test_memfd_create_and_seals():
    s = Script()
    m = s.memfd_create("lxb", MFD_ALLOW_SEALING)
    s.write(m, b"sealed data")
    s.fstat(m)
    s.fcntl(m, F_GET_SEALS)
    s.fcntl(m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK)
    s.fcntl(m, F_GET_SEALS)
    s.write(m, b"more")
    s.ftruncate(m, 1)
    s.pread64(m, 32, 0)
    plain = s.memfd_create("plain", MFD_CLOEXEC)
    s.fcntl(plain, F_GETFD)
    s.fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE)
    s.memfd_create("x" * 250, 0)
    s.memfd_create("lxb", 0x100)
    assert_conforms(s, expect=["3", "11", "0", "0", "0", "10", "-EPERM", "-EPERM", "11", "4", "1",
                               "-EPERM", "-EINVAL", "-EINVAL"])


def test_close_range():
    s = Script()
    fds = [s.openat(AT_FDCWD, "/scratch/f", O_RDONLY) for _ in range(5)]    # 3..7
    s.close_range(4, 5, 0)
    s.close_range(6, 7, 4)                # CLOSE_RANGE_CLOEXEC
    for fd in fds:
        s.fcntl(fd, F_GETFD)
    s.close_range(5, 4, 0)
    s.close_range(3, 3, 0x8)
    assert_conforms(s, expect=["3", "4", "5", "6", "7", "0", "0", "0", "-EBADF", "-EBADF", "1", "1",
                               "-EINVAL", "-EINVAL"])


def test_flock_between_descriptions():
    s = Script()
    a = s.openat(AT_FDCWD, "/scratch/f", O_RDONLY)
    b = s.openat(AT_FDCWD, "/scratch/f", O_RDONLY)
    s.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
    s.flock(b, fcntl.LOCK_SH | fcntl.LOCK_NB)
    s.flock(a, fcntl.LOCK_UN)
    s.flock(b, fcntl.LOCK_SH | fcntl.LOCK_NB)
    s.flock(a, fcntl.LOCK_SH | fcntl.LOCK_NB)
    s.flock(a, 0)
    assert_conforms(s, expect=["3", "4", "0", "-EWOULDBLOCK|-EAGAIN", "0", "0", "0", "-EINVAL"])


# ---- mmap, mprotect, munmap ------------------------------------------------------

def test_mmap_anonymous_and_mprotect():
    s = Script()
    m = s.mmap(0, 8192, PROT_READ | PROT_WRITE, S.MAP_PRIVATE | S.MAP_ANONYMOUS)
    s.peek(m, 0, 4)
    s.poke(m, 4096, b"page two")
    s.peek(m, 4096, 8)
    s.mprotect(m, 4096, PROT_READ)
    s.poke(m, 0, b"x")                    # write to a read-only page: SIGSEGV
    s.peek(m, 0, 1)
    s.mprotect(m, 4095, PROT_READ)        # lengths round up
    s.mprotect(m, 4096, 0x40)             # an unknown protection bit
    s.munmap(m, 4096)
    s.peek(m, 0, 1)
    s.peek(m, 4096, 8)
    s.munmap(m, 0)
    assert_conforms(s, expect=[None, "0", "0", "0", "0", "0", "0", "0", "-EINVAL", "0", "0", "0",
                               "-EINVAL"])


def test_mmap_shared_file():
    s = Script()
    fd = s.openat(AT_FDCWD, "/scratch/f", O_RDWR)
    m = s.mmap(0, 4096, PROT_READ | PROT_WRITE, S.MAP_SHARED, fd, 0)
    s.peek(m, 0, 13)
    s.poke(m, 0, b"J")
    s.pread64(fd, 13, 0)                  # the file sees the write
    s.pwrite64(fd, b"W", 1, 7)
    s.peek(m, 0, 13)                      # the mapping sees the file's
    s.peek(m, 100, 4)                     # past EOF within the page: zeroes
    ro = s.openat(AT_FDCWD, "/scratch/f", O_RDONLY)
    s.mmap(0, 4096, PROT_READ | PROT_WRITE, S.MAP_SHARED, ro, 0)
    s.mmap(0, 4096, PROT_READ | PROT_WRITE, S.MAP_PRIVATE, ro, 0)
    r, w = s.pipe2(os.O_NONBLOCK)
    s.mmap(0, 4096, PROT_READ, S.MAP_SHARED, r, 0)
    s.mmap(0, 0, PROT_READ, S.MAP_SHARED, fd, 0)
    s.mmap(0, 4096, PROT_READ, S.MAP_SHARED, fd, 1)       # unaligned offset
    s.mmap(0, 4096, PROT_READ, 0, fd, 0)                  # neither shared nor private
    big = s.mmap(0, 8192, PROT_READ, S.MAP_SHARED, fd, 0)
    s.peek(big, 4096, 1)                  # a page past EOF: SIGBUS
    assert_conforms(s, expect=["3", None, "0", "0", "13", "1", "0", "0", "4", "-EACCES", None, "0",
                               "-ENODEV", "-EINVAL", "-EINVAL", "-EINVAL", None, "0"])


def test_mmap_memfd_grows():
    s = Script()
    m = s.memfd_create("map", 0)
    s.ftruncate(m, 4096)
    a = s.mmap(0, 4096, PROT_READ | PROT_WRITE, S.MAP_SHARED, m, 0)
    s.poke(a, 10, b"via map")
    s.pread64(m, 7, 10)
    s.fstat(m)
    assert_conforms(s, expect=["3", "0", None, "0", "7", "0"])
