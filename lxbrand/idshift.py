"""Zone ids on the host, and shifting a rootfs's ownership onto them.

Run by root, a zone's ids 0-65535 are host ids BASE to BASE+65535, never host
uid 0: a zone's root is an unprivileged user of the host, and the kernel's
many uid-only checks (sysctl files, cgroupfs, device inodes, keyrings, a
setuid file planted in the rootfs) treat it as one.  The rootfs, made by
root, must still look owned by root inside the zone, so its ownership is
shifted on disk once (uid u becomes BASE+u), as podman's `--userns=auto`
chowns an image: an idmapped mount would be cheaper, but through it a zone's
root writes files owned by host uid 0, so a setuid-root binary or file
capability planted in the rootfs would be one on the host too.

A shifted tree is marked with the trusted.lxbrand.idshift xattr on its top
directory (only host root can set a trusted.* xattr; a guest cannot forge it).
`lxrun rootfs unshift ROOT` undoes the shift.  See SECURITY.md.
"""
from __future__ import annotations

import os
import stat
import struct
import sys

from .errors import RootfsError

BASE = 0x70000000          # 1879048192: above systemd's container range, below 2^31
COUNT = 65536
XATTR = "trusted.lxbrand.idshift"
MARK = f"{BASE}:{COUNT}".encode()
CAPS = "security.capability"
# struct vfs_ns_cap_data: magic_etc, 2 x (permitted, inheritable), rootid (v3 only)
_CAP_V2, _CAP_V3, _CAP_REV_MASK = 0x02000000, 0x03000000, 0xFF000000
# trees lxrun refuses to shift: the host's own system directories
_REFUSED = {"/", "/usr", "/etc", "/var", "/home", "/root", "/boot", "/opt", "/srv", "/bin", "/sbin",
            "/lib", "/lib64", "/tmp", "/proc", "/sys", "/dev", "/run", "/mnt", "/media"}


def guest_maps() -> tuple[str, str]:
    """The guest's uid and gid maps when lxrun runs as root."""
    return f"0 {BASE} {COUNT}\n", f"0 {BASE} {COUNT}\n"


def is_shifted(rootfs: str) -> bool:
    try:
        return os.getxattr(rootfs, XATTR) == MARK      # the directory's, as shift() marks it
    except OSError:
        return False


def _shift_id(i: int, undo: bool) -> int:
    if undo:
        return i - BASE if BASE <= i < BASE + COUNT else i
    return i + BASE if i < COUNT else i


def _shift_caps(raw: bytes, undo: bool) -> bytes:
    """A file-capability xattr for the shifted owner: v3 with rootid BASE
    (a v2 one means host root and is ignored in the zone's namespace)."""
    if len(raw) < 20:
        return raw
    magic = struct.unpack_from("<I", raw)[0]
    body = raw[4:20]
    if undo:
        return struct.pack("<I", (magic & ~_CAP_REV_MASK) | _CAP_V2) + body
    return struct.pack("<I", (magic & ~_CAP_REV_MASK) | _CAP_V3) + body + struct.pack("<I", BASE)


def _shift_one(dfd: int, name: str, st: os.stat_result, undo: bool) -> None:
    """Shift the entry `name` of the open directory dfd, the inode st (lstat).

    Never by path: the tree may belong to a user who swaps an entry for a
    symlink while root walks it (SECURITY.md, "the id shift").  A symlink
    is lchowned by name in dfd; anything else is opened O_PATH|O_NOFOLLOW,
    checked to be the inode listed, and changed through that fd."""
    uid, gid = _shift_id(st.st_uid, undo), _shift_id(st.st_gid, undo)
    if (uid, gid) == (st.st_uid, st.st_gid):
        return
    if stat.S_ISLNK(st.st_mode):
        os.chown(name, uid, gid, dir_fd=dfd, follow_symlinks=False)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)
        return
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
    except FileNotFoundError:
        return
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return              # replaced since it was listed: not the entry we saw
        _shift_inode(f"/proc/self/fd/{fd}", st, uid, gid, undo)
    finally:
        os.close(fd)


def _shift_inode(path: str, st: os.stat_result, uid: int, gid: int, undo: bool) -> None:
    """chown, then put back what chown cleared; path names one inode (an fd's
    /proc/self/fd link: followed to that inode, never re-resolved)."""
    caps = None
    if stat.S_ISREG(st.st_mode):
        try:
            caps = os.getxattr(path, CAPS)
        except OSError:
            caps = None
    os.chown(path, uid, gid)
    # chown clears setuid/setgid and file capabilities: put them back
    if stat.S_IMODE(st.st_mode) & (stat.S_ISUID | stat.S_ISGID):
        os.chmod(path, stat.S_IMODE(st.st_mode))
    if caps is not None:
        os.setxattr(path, CAPS, _shift_caps(caps, undo))


def _check_tree(rootfs: str) -> None:
    real = os.path.realpath(rootfs)
    if real in _REFUSED:
        raise RootfsError(f"{rootfs}: refusing to shift the ownership of a host system directory")


def _open_dir(dfd: int, name: str, st: os.stat_result) -> int:
    """The directory `name` of dfd, if it is still the inode listed; else -1."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return -1
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        return -1
    return fd


def _open_top(rootfs: str) -> int:
    """The rootfs's directory, opened one component at a time without
    following a symlink by name: a symlink on the way is followed only if it
    is root's or this user's (read through its own fd), so that another
    user who owns a directory on the way (/home/alice/tree, a symlink to
    /etc/ssh; or a directory swapped for one) never points root's shift at
    a tree of the host.  Refused if that is a host system directory."""
    euid = os.geteuid()
    todo = [c for c in os.path.abspath(rootfs).split("/") if c]
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    links = 0
    try:
        while todo:
            name = todo.pop(0)
            if name == ".":
                continue
            if name == "..":
                nfd = os.open("..", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = nfd
                continue
            nfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            try:
                st = os.fstat(nfd)
                if stat.S_ISLNK(st.st_mode):
                    links += 1
                    if st.st_uid not in (0, euid):
                        raise RootfsError(f"{rootfs}: its path goes through {name}, a symlink of another user "
                                          f"(uid {st.st_uid}): name the directory itself")
                    if links > 40:
                        raise RootfsError(f"{rootfs}: too many levels of symbolic links")
                    target = os.readlink("", dir_fd=nfd)     # the link checked, never its name again
                elif not stat.S_ISDIR(st.st_mode):
                    raise RootfsError(f"{rootfs}: {name} is not a directory")
            except BaseException:
                os.close(nfd)
                raise
            if stat.S_ISLNK(st.st_mode):
                os.close(nfd)
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                todo = [c for c in target.split("/") if c] + todo
                continue
            os.close(fd)
            fd = nfd
        top = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    finally:
        os.close(fd)
    if os.readlink(f"/proc/self/fd/{top}") in _REFUSED:
        os.close(top)
        raise RootfsError(f"{rootfs}: refusing to shift the ownership of a host system directory")
    return top


def shift(rootfs: str, undo: bool = False, quiet: bool = False) -> int:
    """Shift (or with undo, unshift) the ownership of the tree; returns the
    number of entries changed.  Stays on the rootfs's file system.

    The walk starts from the rootfs's directory opened without a symlink
    on its real path (_open_top), holds an fd of each directory on its way
    down and names an entry only relative to it (openat with O_NOFOLLOW, fchownat without
    following): a symlink swapped in for a directory or a file while root
    walks is never followed out of the tree (SECURITY.md, "the id shift")."""
    _check_tree(rootfs)
    top_fd = _open_top(rootfs)
    stack: list = []
    try:
        top = os.fstat(top_fd)
        if not quiet:
            what = "restoring host ids in" if undo else f"shifting ownership to host ids {BASE}+ in"
            print(f"lxrun: {what} {rootfs} (once; see SECURITY.md)", file=sys.stderr)
        changed = 0
        try:
            os.removexattr(top_fd, XATTR)
        except OSError:
            pass
        # reading a directory updates its atime: each directory's times are
        # put back once it was read (scandir's d_type, never following a link,
        # reads no link)
        stack.append((top_fd, top, None))   # (fd, its lstat, entries left or None)
        while stack:
            dfd, dst, entries = stack[-1]
            if entries is None:
                with os.scandir(dfd) as it:
                    entries = list(it)
                os.utime(dfd, ns=(dst.st_atime_ns, dst.st_mtime_ns))
                entries.reverse()
                stack[-1] = (dfd, dst, entries)
            if not entries:
                stack.pop()
                if dfd != top_fd:
                    os.close(dfd)
                continue
            entry = entries.pop()
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if is_dir and st.st_dev != top.st_dev:
                continue          # another file system mounted in the tree
            _shift_one(dfd, entry.name, st, undo)
            changed += 1
            if is_dir:
                cfd = _open_dir(dfd, entry.name, st)
                if cfd >= 0:
                    stack.append((cfd, st, None))
        uid, gid = _shift_id(top.st_uid, undo), _shift_id(top.st_gid, undo)
        if (uid, gid) != (top.st_uid, top.st_gid):
            _shift_inode(f"/proc/self/fd/{top_fd}", top, uid, gid, undo)
        os.utime(top_fd, ns=(top.st_atime_ns, top.st_mtime_ns))
        if not undo:
            os.setxattr(top_fd, XATTR, MARK)
    finally:
        for dfd, _, _ in stack:
            if dfd != top_fd:
                os.close(dfd)
        os.close(top_fd)
    return changed


def ensure_shifted(rootfs: str) -> None:
    """Shift the rootfs once, as root, before its first zone."""
    if is_shifted(rootfs):
        return
    try:
        shift(rootfs, quiet=not sys.stderr.isatty())
    except PermissionError as e:
        raise RootfsError(f"{rootfs}: cannot shift its ownership to the zone's host ids: {e.strerror} "
                          f"({e.filename})") from None
    except OSError as e:
        if e.errno in (95,):   # EOPNOTSUPP: no trusted xattrs on this file system
            raise RootfsError(f"{rootfs}: its file system keeps no trusted.* xattrs, which lxrun "
                              f"uses to mark a shifted rootfs") from None
        raise RootfsError(f"{rootfs}: cannot shift its ownership: {e}") from None
