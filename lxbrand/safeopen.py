"""lxrun's own output files (--report=FILE, -o FILE): opened as a shell opens
a redirection, except through a symlink of another user.

A zone's guest can write where a rw --bind or its rootfs lies on the host,
and a symlink it leaves there (its ids: run by root, LXB_ID_BASE and up)
would have the next run of lxrun, as root, write its report into whatever
host file the symlink names.  So a path that goes through a symlink owned by
anyone but root and the caller is refused (SECURITY.md, "lxrun's own
files").  A user's guest is that user: its symlinks cannot be told from the
user's, so name an output outside anything a zone can write.
The C front door does the same (csrc/frontdoor/lxrun.c foreign_link).
"""
from __future__ import annotations

import errno
import os
import stat


def foreign_link(path: str):
    """The owner of the first symlink on path's way that is neither root's
    nor this user's, else None (also when a part of it does not exist yet)."""
    euid = os.geteuid()
    todo = [c for c in os.path.abspath(path).split("/") if c]
    cur, links = "/", 0
    while todo:
        name = todo.pop(0)
        if name == ".":
            continue
        if name == "..":
            cur = os.path.dirname(cur)
            continue
        cand = os.path.join(cur, name)
        try:
            st = os.lstat(cand)
        except OSError:
            return None
        if not stat.S_ISLNK(st.st_mode):
            cur = cand
            continue
        if st.st_uid not in (0, euid):
            return st.st_uid
        links += 1
        try:
            target = os.readlink(cand)
        except OSError:
            return None
        if links > 40 or not target or ":[" in target:
            return None     # a loop (the open says so), or proc's link to a pipe or socket: an end
        if target.startswith("/"):
            cur = "/"
        todo = [c for c in target.split("/") if c] + todo
    return None


def open_output(path: str, mode: str):
    """open(path, mode) for one of lxrun's outputs; OSError(EPERM) naming the
    symlink's owner when foreign_link finds one."""
    uid = foreign_link(path)
    if uid is not None:
        raise OSError(errno.EPERM, f"{path}: goes through a symlink of another user (uid {uid}); "
                      "name the file itself")
    return open(path, mode)
