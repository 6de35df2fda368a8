"""Hypothesis strategies for syscall arguments over the scratch tree.

Paths stay inside /scratch (the SEED tree of script.py and names made from
NAMES); values that would make a run block (a pipe read without O_NONBLOCK,
flock without LOCK_NB, opening a FIFO) or touch the host (kill of another
process) are never drawn.  Ids stay among those a zone maps, and no device
nodes are made: those are documented differences (normalise.KNOWN) that
would make the rest of a script differ too.
"""
from __future__ import annotations

import fcntl
import os

from hypothesis import strategies as st

from .script import SEED

NAMES = ("a", "b", "c")
SCRATCH = "/scratch"
SEED_PATHS = tuple(f"{SCRATCH}/{rel}" for rel, _, _ in SEED)
# paths a script can always name: the seed, new names, and some odd spellings
EXTRA_PATHS = (
    SCRATCH, f"{SCRATCH}/", f"{SCRATCH}/a", f"{SCRATCH}/b", f"{SCRATCH}/d/a", f"{SCRATCH}/a/b",
    f"{SCRATCH}/d/../f", f"{SCRATCH}/dl/", f"{SCRATCH}/dl/g", f"{SCRATCH}/f/", f"{SCRATCH}/f/x",
    f"{SCRATCH}/l/", f"{SCRATCH}/nowhere/a", f"{SCRATCH}/d/e/.", f"{SCRATCH}/d/.",
    f"{SCRATCH}//d//g", "", "scratch/f", "f", "d", "a", ".", "..",
)
ALL_PATHS = SEED_PATHS + EXTRA_PATHS


def paths() -> st.SearchStrategy[str]:
    return st.sampled_from(ALL_PATHS)


ACCESS_MODES = (os.O_RDONLY, os.O_WRONLY, os.O_RDWR)
OPEN_FLAGS = (os.O_CREAT, os.O_EXCL, os.O_TRUNC, os.O_APPEND, os.O_DIRECTORY, os.O_NOFOLLOW,
              os.O_CLOEXEC, os.O_NONBLOCK, os.O_PATH, os.O_NOATIME, os.O_SYNC, os.O_TMPFILE)


@st.composite
def open_flags(draw) -> int:
    flags = draw(st.sampled_from(ACCESS_MODES))
    for f in draw(st.lists(st.sampled_from(OPEN_FLAGS), max_size=3, unique=True)):
        flags |= f
    return flags


def modes() -> st.SearchStrategy[int]:
    """Modes for files: no set-id bits.  A write to a set-id file drops them in a
    zone and not natively (docs/DIFFERENCES.md), and the scripts go on."""
    return st.sampled_from((0o644, 0o600, 0o755, 0o700, 0o000, 0o444, 0o777, 0o1777, 0o1644,
                            0o10644))


def dir_modes() -> st.SearchStrategy[int]:
    """Modes for directories: set-group-id and sticky bits too."""
    return st.sampled_from((0o755, 0o700, 0o000, 0o777, 0o2755, 0o1777, 0o3777, 0o7777))


def access_modes() -> st.SearchStrategy[int]:
    return st.sampled_from((os.F_OK, os.R_OK, os.W_OK, os.X_OK, os.R_OK | os.W_OK, 0o10))


def ids() -> st.SearchStrategy[int]:
    """Owners a zone maps (0-65535), and -1 (no change)."""
    return st.sampled_from((0, -1, 1, 1000, 65534))


def data() -> st.SearchStrategy[bytes]:
    return st.binary(max_size=48)


def counts() -> st.SearchStrategy[int]:
    return st.sampled_from((0, 1, 5, 13, 64, 4096))


def offsets() -> st.SearchStrategy[int]:
    return st.sampled_from((0, 1, 5, 12, 13, 14, 100, 4096, -1))


def lengths() -> st.SearchStrategy[int]:
    return st.sampled_from((0, 1, 5, 13, 100, 4096, 8192, -1))


WHENCES = (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END, os.SEEK_DATA, os.SEEK_HOLE, 7)

AT_SYMLINK_NOFOLLOW = 0x100
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
AT_EACCESS = 0x200
RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT = 1, 2, 4


def at_flags(*allowed: int) -> st.SearchStrategy[int]:
    return st.lists(st.sampled_from(allowed), max_size=2, unique=True).map(sum)


def rename_flags() -> st.SearchStrategy[int]:
    return st.sampled_from((0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_NOREPLACE | RENAME_EXCHANGE))


FCNTL_CMDS = (fcntl.F_GETFD, fcntl.F_SETFD, fcntl.F_GETFL, fcntl.F_SETFL, fcntl.F_DUPFD_CLOEXEC,
              fcntl.F_DUPFD)


def setfl_flags() -> st.SearchStrategy[int]:
    """F_SETFL arguments: always O_NONBLOCK, so that no fd ever starts to block.
    Not O_NOATIME: on an fd of host root's inode (eventfd, epoll, timerfd,
    signalfd, the host's /dev nodes) it needs CAP_FOWNER over an id the zone
    does not map, EPERM in a zone where native root gets 0, and a step's
    record does not say whose its fd is (docs/DIFFERENCES.md, Users; openat's
    O_NOATIME on the zone's own files stays in open_flags)."""
    return st.lists(st.sampled_from((os.O_APPEND, os.O_DIRECT, os.O_ASYNC)),
                    max_size=2, unique=True).map(lambda fs: sum(fs) | os.O_NONBLOCK)


PROTS = (0, 1, 2, 3, 4, 5, 7)
MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS = 0x01, 0x02, 0x20
STATX_MASKS = (0, 0x7ff, 0xfff, 0x1, 0x200)
