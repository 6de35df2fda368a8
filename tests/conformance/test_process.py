"""Conformance of the process syscalls: ids, umask, fork and wait4, signals, clocks.

Pids are the zone's (normalise.NORMALISE renames them P1, P2... in order of
appearance), so what is compared is how they relate: a child's getppid is its
parent's getpid, fork returns the child's getpid.
"""
import os
import signal

from hypothesis import given, settings
from hypothesis import strategies as st

from .script import AT_FDCWD, Script, assert_conforms, sigaction, sigset

CONF = settings.get_profile("lxb-conformance")
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIG_DFL, SIG_IGN = 0, 1
USR1, USR2, TERM, KILL = signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGKILL
WNOHANG = 1


# ---- ids ---------------------------------------------------------------------

def test_ids_are_root():
    s = Script()
    s.getuid()
    s.geteuid()
    s.getgid()
    s.getegid()
    assert_conforms(s, expect=["0", "0", "0", "0"])


def test_getpid_gettid_getppid():
    s = Script()
    s.getpid()
    s.gettid()
    s.getppid()
    s.getpid()
    assert_conforms(s)


def test_session_and_process_group():
    """Both runs start as the leader of a session of their own (setsid)."""
    s = Script()
    s.getpid()
    s.getsid(0)
    s.getpgid(0)
    s.setsid()                            # already a leader: EPERM
    s.setpgid(0, 0)                       # a session leader cannot move: EPERM
    child = s.child()
    child.getpgid(0)
    child.setsid()                        # a child can lead a new session
    child.getsid(0)
    s.fork(child)
    s.getsid(99999999)
    assert_conforms(s, expect=[None, None, None, "-EPERM", "-EPERM", None, "-ESRCH"])


# ---- umask ---------------------------------------------------------------------

def test_umask_is_inherited_and_applies():
    s = Script()
    s.umask(0o077)                        # returns the inherited mask
    s.umask(0o7777)                       # only the permission bits are kept
    s.umask(0o027)
    s.mkdir("/scratch/a", 0o777)
    s.stat("/scratch/a")
    fd = s.openat(AT_FDCWD, "/scratch/b", os.O_CREAT | os.O_RDWR, 0o666)
    s.fstat(fd)
    assert_conforms(s, expect=[None, "63", "511", "0", "0", "3", "0"])


# ---- fork, wait4 ----------------------------------------------------------------

def test_fork_exit_status_and_parent():
    s = Script()
    me = s.getpid()
    child = s.child()
    child.getpid()
    child.getppid()
    child.kill(me, 0)
    s.fork(child, status=7)
    s.wait4(-1, options=0)                # already reaped: no child left
    s.wait4(-1, options=WNOHANG)
    assert_conforms(s, expect=[None, None, "-ECHILD", "-ECHILD"])


def test_fork_child_killed_by_signal():
    s = Script()
    child = s.child()
    pid = child.getpid()
    child.write(1, b"")                   # fd 1 is a copy of stderr
    child.kill(pid, KILL)
    child.getpid()                        # never runs
    s.fork(child, status=0)
    assert_conforms(s)


def test_fork_child_shares_offsets_not_fds():
    s = Script()
    fd = s.openat(AT_FDCWD, "/scratch/f", os.O_RDWR)
    child = s.child()
    child.read(fd, 5)
    child.close(fd)
    other = child.openat(AT_FDCWD, "/scratch/x", os.O_RDONLY)
    child.write(fd, b"!")
    child.unlink("/scratch/d/g")
    s.fork(child, status=0)
    s.lseek(fd, 0, os.SEEK_CUR)           # the child's read moved the shared offset
    s.fcntl(fd, 1)                        # and its close did not close ours
    s.fcntl(other, 1)                     # nor is its fd ours
    s.stat("/scratch/d/g")
    assert_conforms(s, expect=["3", None, "5", "0", "-EBADF", "-ENOENT"])


def test_fork_inherits_mask_umask_and_cwd():
    s = Script()
    s.rt_sigprocmask(SIG_BLOCK, sigset(USR1))
    s.rt_sigaction(USR2, sigaction(SIG_IGN))
    s.umask(0o002)
    s.chdir("/scratch/d")
    child = s.child()
    child.rt_sigprocmask(SIG_BLOCK, 0)
    child.rt_sigaction(USR2, 0)
    child.umask(0o022)
    child.getcwd(64)
    pid = child.getpid()
    child.kill(pid, USR1)                 # blocked: pending
    child.rt_sigpending()
    s.fork(child, status=3)
    s.umask(0o022)                        # the child's umask was its own
    assert_conforms(s)


@given(actions=st.lists(st.sampled_from(["getpid", "getppid", "write", "read", "close", "exit",
                                         "kill0", "unlink", "mkdir", "fork"]), max_size=6),
       status=st.integers(0, 255))
@CONF
def test_fork_children(actions, status):
    s = Script()
    me = s.getpid()
    fd = s.openat(AT_FDCWD, "/scratch/f", os.O_RDWR)

    def build(script, actions, depth):
        for a in actions:
            if a == "getpid":
                script.getpid()
            elif a == "getppid":
                script.getppid()
            elif a == "write":
                script.write(fd, b"w")
            elif a == "read":
                script.read(fd, 4)
            elif a == "close":
                script.close(fd)
            elif a == "kill0":
                script.kill(me, 0)
            elif a == "unlink":
                script.unlink("/scratch/x")
            elif a == "mkdir":
                script.mkdir("/scratch/a", 0o700)
            elif a == "fork" and depth < 2:
                grandchild = script.child()
                build(grandchild, ["getppid", "write"], depth + 1)
                script.fork(grandchild, status=depth)
    child = s.child()
    build(child, actions, 0)
    s.fork(child, status=status)
    s.lseek(fd, 0, os.SEEK_CUR)
    s.pread64(fd, 64, 0)
    s.lstat("/scratch/x")
    s.stat("/scratch/a")
    assert_conforms(s)


# ---- signals ----------------------------------------------------------------------

def test_kill_self_sig0_and_bad_signals():
    s = Script()
    me = s.getpid()
    s.kill(me, 0)
    s.kill(me, 65)
    s.kill(me, -1)
    s.kill(0, 0)                          # the process group: ours alone
    assert_conforms(s, expect=[None, "0", "-EINVAL", "-EINVAL", "0"])


def test_blocked_signal_stays_pending():
    s = Script()
    me = s.getpid()
    s.rt_sigprocmask(SIG_BLOCK, sigset(USR1, USR2))
    s.kill(me, USR1)
    s.kill(me, USR1)                      # not queued twice
    s.rt_sigpending()
    s.rt_sigaction(USR1, sigaction(SIG_IGN))   # ignoring discards it
    s.rt_sigpending()
    s.rt_sigprocmask(SIG_UNBLOCK, sigset(USR1))
    s.rt_sigprocmask(SIG_SETMASK, 0)
    assert_conforms(s, expect=[None, "0", "0", "0", "0", "0", "0", "0", "0"])


def test_sigaction_rules():
    s = Script()
    s.rt_sigaction(USR1, sigaction(SIG_IGN, flags=0x10000000, mask=1 << 3))   # SA_RESTART
    s.rt_sigaction(USR1, 0)
    s.rt_sigaction(KILL, sigaction(SIG_IGN))
    s.rt_sigaction(signal.SIGSTOP, 0)
    s.rt_sigaction(0, 0)
    s.rt_sigaction(65, 0)
    s.rt_sigaction(USR1, 0, sigsetsize=4)
    s.rt_sigprocmask(7, sigset(USR1))     # a bad how (only checked with a set)
    s.rt_sigprocmask(SIG_BLOCK, sigset(KILL, signal.SIGSTOP, USR2))   # KILL and STOP drop out
    s.rt_sigprocmask(SIG_BLOCK, 0)
    assert_conforms(s, expect=["0", "0", "-EINVAL", "0", "-EINVAL", "-EINVAL", "-EINVAL", "-EINVAL",
                               "0", "0"])


def test_kill_self_default_action_terminates():
    s = Script()
    me = s.getpid()
    s.rt_sigaction(TERM, sigaction(SIG_DFL))
    s.kill(me, TERM)
    s.getpid()                            # never printed
    assert_conforms(s, expect=[None, "0"])


def test_unblocking_delivers_the_pending_signal():
    s = Script()
    me = s.getpid()
    s.rt_sigprocmask(SIG_BLOCK, sigset(USR2))
    s.kill(me, USR2)
    s.getppid()
    s.rt_sigprocmask(SIG_UNBLOCK, sigset(USR2))   # delivered on the way out: death
    s.getpid()
    assert_conforms(s)


# ---- clocks -------------------------------------------------------------------------

def test_clock_gettime():
    s = Script()
    for clock in (0, 1, 4, 5, 6, 7):      # REALTIME MONOTONIC RAW COARSEs BOOTTIME
        s.clock_gettime(clock)
    s.clock_gettime(99)
    s.clock_gettime(2)                    # this process's cpu time
    assert_conforms(s, expect=["0"] * 6 + ["-EINVAL", "0"])
