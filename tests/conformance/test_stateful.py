"""Sequences of syscalls over a small file tree, native and zone in lock step.

A RuleBasedStateMachine: each rule is a syscall, sent as one step both to a
live sysinterp chroot'ed natively and to one in a zone (script.Session); the
bundles hold fds (and mappings) and paths, `consumes()` closes them; an
invariant compares the two outputs after every step.  A failure shrinks to a
short script and prints it with the command that replays it.

The model knows little on purpose: it does not predict answers (native is the
oracle), it only keeps scripts away from what would block or leave the tree
(strategies.py) and remembers which signals are blocked or ignored, so that
kill never ends a script by accident.
"""
import os
import signal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, consumes, initialize, invariant,
                                 multiple, rule)

from . import strategies as S
from .normalise import expected_enosys
from .script import (AT_FDCWD, UTIME_NOW, UTIME_OMIT, ConformanceError, Script, Session, compare,
                     env_zone_options, explain, sigaction, sigset, timespecs)

# the zone's options (LXB_ZONE_OPTIONS="kernel_release=4.19.0" for a campaign
# against a personality); normalise.EXPECTED says what they change
ZONE_OPTIONS: dict = env_zone_options()

SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)
RELATIVE = ("f", "d", "l", "dl", "g", "e", "a", "b", ".", "..", "", "dl/g", "nowhere")
TIMES = (0, 1, 1_000_000_000, 1_234_567_890)
NSECS = (0, 999_999_999, UTIME_NOW, UTIME_OMIT)


def _offset(length: int, where: str, size: int) -> int:
    return {"start": 0, "middle": length // 2 - 3, "end": length - size}[where]


def dirfds(fds):
    return st.one_of(st.just(AT_FDCWD), fds)


class FileTreeMachine(RuleBasedStateMachine):
    fds = Bundle("fds")
    paths = Bundle("paths")
    maps = Bundle("maps")
    zone_options: dict = ZONE_OPTIONS       # test_stateful_traced.py adds traced=SET

    def __init__(self):
        super().__init__()
        self.script = Script()
        self.native = Session("native")
        try:
            self.zone = Session("zone", **self.zone_options)
        except BaseException:
            self.native.close()
            raise
        self.script.on_step = self._run
        self.blocked = set()
        self.ignored = set()
        self.pending = set()
        self.me = None
        self.ended = False

    def _run(self, step):
        self.native.send(step)
        self.zone.send(step)

    def hidden(self, name: str) -> bool:
        """True when the zone's personality (kernel_release) hides this syscall.
        A rule whose call would change the tree or the fds skips it then: the
        zone's ENOSYS is checked by the rules that change nothing, and a script
        that went on from a native success would differ ever after."""
        return expected_enosys(name, self.zone_options)

    @initialize(target=paths)
    def seed_paths(self):
        self.me = self.script.getpid()
        return multiple(*S.ALL_PATHS)

    @rule(target=paths, parent=paths, name=st.sampled_from(S.NAMES))
    def name_in(self, parent, name):
        """A new path: a name under one the script knows (no syscall)."""
        if not parent.startswith("/scratch") or parent.count("/") > 4:
            return multiple()
        return parent.rstrip("/") + "/" + name

    # -- open and close ---------------------------------------------------------

    @rule(target=fds, dirfd=dirfds(fds), path=S.paths(), flags=S.open_flags(), mode=S.modes())
    def openat(self, dirfd, path, flags, mode):
        if self.hidden("openat"):
            return multiple()
        return self.script.openat(dirfd, path, flags, mode)

    @rule(target=fds, path=paths, flags=S.open_flags(), mode=S.modes())
    def open(self, path, flags, mode):
        return self.script.open(path, flags, mode)

    @rule(target=fds, path=paths, mode=S.modes())
    def creat(self, path, mode):
        return self.script.creat(path, mode)

    @rule(fd=consumes(fds))
    def close(self, fd):
        self.script.close(fd)

    # -- I/O ---------------------------------------------------------------------

    @rule(fd=fds, count=S.counts())
    def read(self, fd, count):
        self.script.read(fd, count)

    @rule(fd=fds, data=S.data())
    def write(self, fd, data):
        self.script.write(fd, data)

    @rule(fd=fds, count=S.counts(), offset=S.offsets())
    def pread64(self, fd, count, offset):
        self.script.pread64(fd, count, offset)

    @rule(fd=fds, data=S.data(), offset=S.offsets())
    def pwrite64(self, fd, data, offset):
        self.script.pwrite64(fd, data, len(data), offset)

    @rule(fd=fds, sizes=st.lists(st.sampled_from((0, 1, 4, 16)), max_size=3))
    def readv(self, fd, sizes):
        self.script.readv(fd, sizes)

    @rule(fd=fds, parts=st.lists(S.data(), max_size=3))
    def writev(self, fd, parts):
        self.script.writev(fd, parts)

    @rule(fd=fds, offset=S.offsets(), whence=st.sampled_from(S.WHENCES))
    def lseek(self, fd, offset, whence):
        self.script.lseek(fd, offset, whence)

    @rule(fd=fds, length=S.lengths())
    def ftruncate(self, fd, length):
        self.script.ftruncate(fd, length)

    @rule(path=paths, length=S.lengths())
    def truncate(self, path, length):
        self.script.truncate(path, length)

    @rule(fd=fds, mode=st.sampled_from((0, 1, 3, 0x10)), offset=S.offsets(), length=S.lengths())
    def fallocate(self, fd, mode, offset, length):
        if self.hidden("fallocate"):
            return None
        self.script.fallocate(fd, mode, offset, length)

    @rule(fd=fds, count=st.sampled_from((0, 16, 64, 4096)))
    def getdents64(self, fd, count):
        self.script.getdents64(fd, count)

    # -- fds -----------------------------------------------------------------------

    @rule(target=fds, fd=fds)
    def dup(self, fd):
        return self.script.dup(fd)

    @rule(target=fds, fd=fds, newfd=st.integers(3, 12))
    def dup2(self, fd, newfd):
        return self.script.dup2(fd, newfd)

    @rule(target=fds, fd=fds, newfd=st.integers(3, 12), flags=st.sampled_from((0, os.O_CLOEXEC, 1)))
    def dup3(self, fd, newfd, flags):
        if self.hidden("dup3"):
            return multiple()
        return self.script.dup3(fd, newfd, flags)

    @rule(fd=fds, cmd=st.sampled_from(S.FCNTL_CMDS), setfd=st.integers(0, 1),
          setfl=S.setfl_flags(), low=st.integers(0, 20))
    def fcntl(self, fd, cmd, setfd, setfl, low):
        import fcntl as F
        arg = {F.F_SETFD: setfd, F.F_SETFL: setfl, F.F_DUPFD: low, F.F_DUPFD_CLOEXEC: low}.get(cmd, 0)
        self.script.fcntl(fd, cmd, arg)

    @rule(target=fds, flags=st.sampled_from((0, os.O_CLOEXEC)))
    def pipe2(self, flags):
        if self.hidden("pipe2"):
            return multiple()
        return multiple(*self.script.pipe2(flags | os.O_NONBLOCK))

    @rule(target=fds, initval=st.sampled_from((0, 1, 7)), semaphore=st.booleans())
    def eventfd2(self, initval, semaphore):
        if self.hidden("eventfd2"):
            return multiple()
        return self.script.eventfd2(initval, os.O_NONBLOCK | int(semaphore))

    @rule(target=fds, flags=st.sampled_from((0, 1, 2, 3)))
    def memfd_create(self, flags):
        if self.hidden("memfd_create"):
            return multiple()
        return self.script.memfd_create("lxb", flags)

    @rule(target=fds, path=paths, op=st.sampled_from((1, 2, 8)))
    def flock(self, path, op):
        """flock on a new fd of a path of the tree, always LOCK_NB (a held lock
        never blocks).  Not on any fd: eventfds share one host inode, and the
        native and zone runs, side by side, would see each other's locks."""
        if self.hidden("openat"):
            return multiple()
        fd = self.script.openat(AT_FDCWD, path, os.O_RDONLY)
        self.script.flock(fd, op | 4)
        return fd

    # -- stat and access -------------------------------------------------------------

    @rule(fd=fds)
    def fstat(self, fd):
        self.script.fstat(fd)

    @rule(path=paths, follow=st.booleans())
    def stat(self, path, follow):
        (self.script.stat if follow else self.script.lstat)(path)

    @rule(dirfd=dirfds(fds), path=st.sampled_from(RELATIVE),
          flags=S.at_flags(S.AT_SYMLINK_NOFOLLOW, S.AT_EMPTY_PATH))
    def newfstatat(self, dirfd, path, flags):
        self.script.newfstatat(dirfd, path, flags=flags)

    @rule(dirfd=dirfds(fds), path=paths, flags=S.at_flags(S.AT_SYMLINK_NOFOLLOW, S.AT_EMPTY_PATH),
          mask=st.sampled_from(S.STATX_MASKS))
    def statx(self, dirfd, path, flags, mask):
        self.script.statx(dirfd, path, flags, mask)

    @rule(path=paths, mode=S.access_modes(), flags=S.at_flags(S.AT_EACCESS, S.AT_SYMLINK_NOFOLLOW))
    def faccessat2(self, path, mode, flags):
        self.script.faccessat2(AT_FDCWD, path, mode, flags)

    # -- names -------------------------------------------------------------------------

    @rule(target=paths, path=paths, mode=S.dir_modes())
    def mkdir(self, path, mode):
        self.script.mkdir(path, mode)
        return path

    @rule(dirfd=fds, name=st.sampled_from(S.NAMES), mode=S.dir_modes())
    def mkdirat(self, dirfd, name, mode):
        if self.hidden("mkdirat"):
            return None
        self.script.mkdirat(dirfd, name, mode)

    @rule(path=paths)
    def rmdir(self, path):
        self.script.rmdir(path)

    @rule(path=paths)
    def unlink(self, path):
        self.script.unlink(path)

    @rule(dirfd=dirfds(fds), path=st.sampled_from(RELATIVE), flags=st.sampled_from((0, S.AT_REMOVEDIR)))
    def unlinkat(self, dirfd, path, flags):
        if self.hidden("unlinkat"):
            return None
        self.script.unlinkat(dirfd, path, flags)

    @rule(old=paths, new=paths, flags=S.rename_flags())
    def renameat2(self, old, new, flags):
        if self.hidden("renameat2"):
            return None
        if flags:
            self.script.renameat2(AT_FDCWD, old, AT_FDCWD, new, flags)
        else:
            self.script.rename(old, new)

    @rule(olddir=dirfds(fds), old=st.sampled_from(RELATIVE), newdir=dirfds(fds),
          new=st.sampled_from(RELATIVE))
    def renameat(self, olddir, old, newdir, new):
        if self.hidden("renameat"):
            return None
        self.script.renameat(olddir, old, newdir, new)

    @rule(old=paths, new=paths, flags=st.sampled_from((0, S.AT_SYMLINK_FOLLOW)))
    def linkat(self, old, new, flags):
        if self.hidden("linkat"):
            return None
        self.script.linkat(AT_FDCWD, old, AT_FDCWD, new, flags)

    @rule(fd=fds, new=paths)
    def link_fd(self, fd, new):
        """linkat(fd, "", ..., AT_EMPTY_PATH): how an O_TMPFILE gets a name."""
        if self.hidden("linkat"):
            return None
        self.script.linkat(fd, "", AT_FDCWD, new, S.AT_EMPTY_PATH)

    @rule(target=paths, target_=st.sampled_from(("f", "d", "../f", "/scratch/d", "nowhere", "")),
          path=paths)
    def symlink(self, target_, path):
        self.script.symlink(target_, path)
        return path

    @rule(path=paths, size=st.sampled_from((0, 1, 64)))
    def readlink(self, path, size):
        self.script.readlink(path, size)

    # -- modes, owners, times ------------------------------------------------------------

    @rule(path=paths, mode=S.modes())
    def chmod(self, path, mode):
        self.script.chmod(path, mode)

    @rule(fd=fds, mode=S.modes())
    def fchmod(self, fd, mode):
        self.script.fchmod(fd, mode)

    @rule(path=paths, owner=S.ids(), group=S.ids(), follow=st.booleans())
    def chown(self, path, owner, group, follow):
        (self.script.chown if follow else self.script.lchown)(path, owner, group)

    @rule(fd=fds, owner=S.ids(), group=S.ids())
    def fchown(self, fd, owner, group):
        self.script.fchown(fd, owner, group)

    @rule(path=paths, a=st.tuples(st.sampled_from(TIMES), st.sampled_from(NSECS)),
          m=st.tuples(st.sampled_from(TIMES), st.sampled_from(NSECS)), now=st.booleans(),
          flags=st.sampled_from((0, S.AT_SYMLINK_NOFOLLOW)))
    def utimensat(self, path, a, m, now, flags):
        if self.hidden("utimensat"):
            return None
        self.script.utimensat(AT_FDCWD, path, 0 if now else timespecs(a, m), flags)

    @rule(mask=st.sampled_from((0o022, 0o077, 0o000, 0o777)))
    def umask(self, mask):
        self.script.umask(mask)

    # -- the cwd -------------------------------------------------------------------------

    @rule(path=paths)
    def chdir(self, path):
        self.script.chdir(path)

    @rule(fd=fds)
    def fchdir(self, fd):
        self.script.fchdir(fd)

    @rule(size=st.sampled_from((1, 10, 256)))
    def getcwd(self, size):
        self.script.getcwd(size)

    # -- memory --------------------------------------------------------------------------

    @rule(target=maps, length=st.sampled_from((4096, 8192)), prot=st.sampled_from(S.PROTS),
          shared=st.booleans(), fd=st.one_of(st.none(), fds))
    def mmap(self, length, prot, shared, fd):
        flags = S.MAP_SHARED if shared else S.MAP_PRIVATE
        if fd is None:
            addr = self.script.mmap(0, length, prot, flags | S.MAP_ANONYMOUS)
        else:
            addr = self.script.mmap(0, length, prot, flags, fd, 0)
        return (addr, length)

    # peek and poke stay inside the mapping: what lies next to it is the
    # address space's business (a fault is compared, another mapping's bytes are not)
    @rule(m=maps, where=st.sampled_from(("start", "middle", "end")), data=st.binary(min_size=1, max_size=8))
    def poke(self, m, where, data):
        self.script.poke(m[0], _offset(m[1], where, len(data)), data)

    @rule(m=maps, where=st.sampled_from(("start", "middle", "end")))
    def peek(self, m, where):
        self.script.peek(m[0], _offset(m[1], where, 8), 8)

    @rule(m=maps, prot=st.sampled_from(S.PROTS))
    def mprotect(self, m, prot):
        self.script.mprotect(m[0], m[1], prot)

    @rule(m=consumes(maps))
    def munmap(self, m):
        self.script.munmap(m[0], m[1])

    # -- processes and signals --------------------------------------------------------

    @rule(fd=fds, path=paths, actions=st.lists(
        st.sampled_from(("write", "read", "close", "lseek", "unlink", "mkdir", "getppid", "die")),
        max_size=4), status=st.integers(0, 3))
    def fork(self, fd, path, actions, status):
        child = self.script.child()
        for a in actions:
            if a == "write":
                child.write(fd, b"child")
            elif a == "read":
                child.read(fd, 4)
            elif a == "close":
                child.close(fd)
            elif a == "lseek":
                child.lseek(fd, 0, os.SEEK_SET)
            elif a == "unlink":
                child.unlink(path)
            elif a == "mkdir":
                child.mkdir(path, 0o700)
            elif a == "getppid":
                child.getppid()
            else:
                pid = child.getpid()
                child.kill(pid, signal.SIGKILL)
        self.script.fork(child, status=status)

    @rule(how=st.sampled_from((0, 1, 2)), sigs=st.sets(st.sampled_from(SIGNALS)))
    def rt_sigprocmask(self, how, sigs):
        # unblocking a pending signal that is not ignored would end the script:
        # such a signal stays blocked
        if how == 1:
            sigs = sigs - self.pending
        elif how == 2:
            sigs = sigs | self.pending
        self.script.rt_sigprocmask(how, sigset(*sigs))
        if how == 0:
            self.blocked |= sigs
        elif how == 1:
            self.blocked -= sigs
        else:
            self.blocked = set(sigs)

    @rule(sig=st.sampled_from(SIGNALS), ignore=st.booleans())
    def rt_sigaction(self, sig, ignore):
        self.script.rt_sigaction(sig, sigaction(int(ignore)))
        if ignore:
            self.ignored.add(sig)
            self.pending.discard(sig)     # ignoring discards a pending signal
        else:
            self.ignored.discard(sig)

    @rule(sig=st.sampled_from(SIGNALS))
    def kill_self(self, sig):
        """kill(getpid(), sig) when the signal is blocked or ignored; else kill(.., 0)."""
        if sig in self.ignored:
            self.script.kill(self.me, int(sig))
        elif sig in self.blocked:
            self.script.kill(self.me, int(sig))
            self.pending.add(sig)
        else:
            self.script.kill(self.me, 0)

    @rule()
    def rt_sigpending(self):
        self.script.rt_sigpending()

    @rule(name=st.sampled_from((b"zone", b"", b"n" * 64, b"n" * 65, b"a\0b")))
    def sethostname(self, name):
        self.script.sethostname(name)

    @rule(which=st.sampled_from(("getppid", "gettid", "getuid", "getegid", "uname")))
    def identity(self, which):
        self.script.call(which)

    # -- the comparison ---------------------------------------------------------------

    @invariant()
    def zone_answers_as_native(self):
        if self.me is None:
            return
        cmp = compare(self.script, self.native.output, self.zone.output, self.zone_options)
        if not cmp.same:
            self.ended = True             # teardown must not hide this failure with its own
            raise ConformanceError(explain(cmp))

    def teardown(self):
        native = self.native.close()
        zone = self.zone.close()
        if self.me is None or self.ended:
            return
        cmp = compare(self.script, native, zone, self.zone_options)
        if not cmp.same:
            raise ConformanceError(explain(cmp, "the zone differs from native at the end"))


TestFileTree = FileTreeMachine.TestCase
TestFileTree.settings = settings.get_profile("lxb-conformance-stateful")
TestFileTree.machine = FileTreeMachine      # conftest seeds it in a campaign
