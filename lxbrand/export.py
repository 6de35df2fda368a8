"""`lxrun rootfs export DIR OUT.tar`: a tarball of a fake-root zone's tree as
the zone sees it (issue 12).

Under --fakeroot every file stays the user's on the host; the owners root gave
them, and the devices mknod made, live in each file's user.lxbrand.owner
record (csrc/fakeroot.c).  A plain `tar -cpf` on the host would write the
user's id for everything and empty files for the devices; this writes what
`tar -cpf` inside the zone writes: the recorded owners, a recorded device as
that device (char or block, its numbers), everything else as it is (modes,
mtimes, symlinks, hard links, fifos).  Names come from DIR's own /etc/passwd
and /etc/group, never the host's.

Ids without a record are the zone's view of the host's: the user's own ids
are the zone's root (0), and, run by an ordinary user, any other id is the
overflow id 65534, as the zone's stat shows it.  Run by root, other ids are
written as they are.  Sockets are left out (as tar does).  The walk opens each
entry O_PATH|O_NOFOLLOW in its directory's fd and reads it through that fd: it
never follows a symlink, also one swapped in while it reads, and needs only
read access: an ordinary user exports a tree they own.
"""
from __future__ import annotations

import os
import stat
import tarfile

from .errors import LxbrandError
from .personality import FAKEROOT_XATTR

OVERFLOW_ID = 65534


class ExportError(LxbrandError, OSError):
    """DIR cannot be read or OUT cannot be written."""


def _names(path: str) -> dict:
    """id -> name from DIR's passwd or group file (the zone's, not the host's)."""
    names = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    names.setdefault(int(parts[2]), parts[0])
    except OSError:
        pass
    return names


class _Exporter:
    def __init__(self, root: str, tar: tarfile.TarFile, skip: tuple | None):
        self.root = root
        self.tar = tar
        self.skip = skip
        self.links = {}
        self.users = _names(os.path.join(root, "etc", "passwd"))
        self.groups = _names(os.path.join(root, "etc", "group"))
        self.euid, self.egid = os.geteuid(), os.getegid()
        self.count = 0

    def _zone_id(self, host: int, own: int) -> int:
        if host == own:
            return 0
        return host if self.euid == 0 else OVERFLOW_ID

    def add(self, dfd, name: str, arcname: str) -> None:
        """The entry `name` of the open directory dfd (dfd None: the path
        name, the top).  Never by path below the top: the tree's owner (or
        the guest of a zone on it) may swap any entry for a symlink to a host
        file while it is read, so each entry is opened O_PATH|O_NOFOLLOW in
        its parent's fd and read through that fd (SECURITY.md, "lxrun's own
        files")."""
        if dfd is None:
            pfd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            pfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        try:
            self._add(dfd, name, pfd, arcname)
        finally:
            os.close(pfd)

    def _add(self, dfd, name: str, pfd: int, arcname: str) -> None:
        st = os.fstat(pfd)
        if self.skip == (st.st_dev, st.st_ino) or stat.S_ISSOCK(st.st_mode):
            return
        self_path = f"/proc/self/fd/{pfd}"      # followed to this inode, never re-resolved
        info = tarfile.TarInfo(arcname)
        info.mode = stat.S_IMODE(st.st_mode)
        info.mtime = int(st.st_mtime)
        info.uid = self._zone_id(st.st_uid, self.euid)
        info.gid = self._zone_id(st.st_gid, self.egid)
        record = _record(self_path) if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) else None
        if record:
            info.uid, info.gid, device = record
        else:
            device = None
        info.uname = self.users.get(info.uid, "")
        info.gname = self.groups.get(info.gid, "")
        key = (st.st_dev, st.st_ino)
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1 and key in self.links:
            info.type = tarfile.LNKTYPE
            info.linkname = self.links[key]
            self.tar.addfile(info)
            self.count += 1
            return
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            self.links[key] = arcname
        if device:
            info.type = tarfile.CHRTYPE if device[0] == "c" else tarfile.BLKTYPE
            info.devmajor, info.devminor = device[1], device[2]
            self.tar.addfile(info)
        elif stat.S_ISREG(st.st_mode):
            info.size = st.st_size
            with open(os.open(self_path, os.O_RDONLY | os.O_CLOEXEC), "rb") as f:
                self.tar.addfile(info, f)
        elif stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            self.tar.addfile(info)
        elif stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(name, dir_fd=dfd)   # text only, never followed
            self.tar.addfile(info)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
            self.tar.addfile(info)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            # a real device node (a tree made by root)
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(info)
        else:
            return
        self.count += 1
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(self_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                for child in sorted(os.listdir(fd)):
                    self.add(fd, child, f"{arcname}/{child}")
            finally:
                os.close(fd)


def _record(path: str):
    """personality.fakeroot_record of the inode path names (a /proc/self/fd
    link, followed), a malformed record none (it is the tree's text)."""
    try:
        text = os.getxattr(path, FAKEROOT_XATTR).decode(errors="replace")
    except OSError:
        return None
    parts = text.split(":")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    dev = None
    if len(parts) == 5 and parts[2] in ("c", "b") and parts[3].isdigit() and parts[4].isdigit():
        dev = (parts[2], int(parts[3]), int(parts[4]))
    return int(parts[0]), int(parts[1]), dev


def export(directory: str, out: str) -> int:
    """Write DIR as the zone sees it to the tarball OUT; the number of entries.
    A failure removes the partial OUT and raises ExportError naming the file."""
    if not os.path.isdir(directory):
        what = "not a directory" if os.path.lexists(directory) else "no such directory"
        raise ExportError(f"rootfs export: {directory}: {what}")
    try:
        f = open(out, "wb")
    except OSError as e:
        raise ExportError(f"rootfs export: cannot write {out}: {e.strerror}") from None
    ok = False
    try:
        st = os.fstat(f.fileno())
        with tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as tar:
            ex = _Exporter(directory, tar, (st.st_dev, st.st_ino))
            ex.add(None, directory, ".")
        f.close()
        ok = True
        return ex.count
    except OSError as e:
        name = e.filename or out
        raise ExportError(f"rootfs export: {name}: {e.strerror}") from None
    finally:
        if not ok:
            f.close()
            try:
                os.unlink(out)
            except OSError:
                pass
