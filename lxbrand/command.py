"""Finding CMD inside a zone's rootfs before the zone starts.

A guest's execve would fail with a bare errno; checking first lets lxrun say
what is wrong and where it looked: the command is looked up along the zone's
PATH, symlinks are resolved inside the rootfs (an absolute link target is
relative to the zone's root, as after pivot_root), and the file must be an
x86_64 ELF, a script whose interpreter is itself runnable, or a file that the
zone's /bin/sh can run (execvp's ENOEXEC rule, which the guest follows).

`login_shell()` is what `lxrun ROOTFS` runs without a CMD.
"""
from __future__ import annotations

import errno
import os
import posixpath
import stat

from .errors import CommandNotFound, CommandNotRunnable

ELF_MAGIC = b"\x7fELF"
EM_X86_64 = 62
# e_machine values a user might meet, for the error message
MACHINES = {3: "i386", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "s390", 40: "ARM",
            62: "x86_64", 183: "AArch64", 243: "RISC-V", 258: "LoongArch"}
MAX_SYMLINKS = 40
MAX_INTERPRETERS = 4
FALLBACK_SHELL = "/bin/sh"
NO_LOGIN = ("nologin", "false")      # a passwd shell that refuses a session


def host_path(rootfs: str, zone_path: str, cwd: str = "/", follow_last: bool = True) -> str:
    """The host path of `zone_path`, resolving symlinks inside `rootfs`.

    Raises OSError(ENOENT/ELOOP/ENOTDIR) as the kernel would inside the zone.
    """
    if not zone_path.startswith("/"):
        zone_path = posixpath.join(cwd, zone_path)
    todo = [p for p in zone_path.split("/") if p]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(rootfs, *done, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), "/" + "/".join(done + [part])) from None
        if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
            links += 1
            if links > MAX_SYMLINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), zone_path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        if todo and not stat.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), "/" + "/".join(done + [part]))
        done.append(part)
    return os.path.join(rootfs, *done) if done else rootfs


def _display(rootfs: str, zone_path: str) -> str:
    return rootfs.rstrip("/") + zone_path


def resolve(rootfs: str, cmd: str, path_env: str, cwd: str = "/") -> str:
    """The absolute path inside the zone that execve should get for `cmd`."""
    if "/" in cmd:
        zone_path = cmd if cmd.startswith("/") else posixpath.normpath(posixpath.join(cwd, cmd))
        check_runnable(rootfs, zone_path, cwd)
        return zone_path
    looked = []
    for d in path_env.split(":"):
        d = d or "."
        zone_path = posixpath.join(d if d.startswith("/") else posixpath.join(cwd, d), cmd)
        looked.append(d)
        try:
            hp = host_path(rootfs, zone_path, cwd)
            st = os.stat(hp)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            check_runnable(rootfs, zone_path, cwd)
            return zone_path
    raise CommandNotFound(
        f"{cmd}: command not found in the zone's rootfs {rootfs} (looked in PATH={':'.join(looked)})")


def check_runnable(rootfs: str, zone_path: str, cwd: str = "/", depth: int = 0) -> None:
    """Raise CommandNotFound or CommandNotRunnable unless execve could run it."""
    shown = _display(rootfs, zone_path)
    try:
        hp = host_path(rootfs, zone_path, cwd)
        st = os.stat(hp)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            raise CommandNotFound(f"{shown}: no such file in the zone's rootfs") from None
        raise CommandNotRunnable(f"{shown}: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CommandNotRunnable(f"{shown}: is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise CommandNotRunnable(f"{shown}: not a regular file")
    if not st.st_mode & 0o111:
        raise CommandNotRunnable(f"{shown}: not executable (mode {stat.S_IMODE(st.st_mode):04o})")
    try:
        with open(hp, "rb") as f:
            head = f.read(256)
    except OSError as e:
        raise CommandNotRunnable(f"{shown}: {e.strerror}") from None
    if head.startswith(ELF_MAGIC):
        _check_elf(shown, head)
    elif head.startswith(b"#!"):
        _check_script(rootfs, shown, head, cwd, depth)
    elif depth == 0:
        # the kernel says ENOEXEC; the guest then runs it with /bin/sh
        try:
            check_runnable(rootfs, FALLBACK_SHELL, cwd, depth + 1)
        except (CommandNotFound, CommandNotRunnable) as e:
            raise CommandNotRunnable(f"{shown}: not an ELF binary nor a #! script, and {FALLBACK_SHELL} "
                                     f"cannot run it: {e}") from None
    else:
        raise CommandNotRunnable(f"{shown}: not an ELF binary nor a #! script (exec format error)")


def _check_elf(shown: str, head: bytes) -> None:
    if len(head) < 20:
        raise CommandNotRunnable(f"{shown}: truncated ELF header")
    if head[4] == 1:
        raise CommandNotRunnable(f"{shown} is a 32-bit ELF; only x86_64 guests are supported")
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    if head[4] != 2 or machine != EM_X86_64:
        name = MACHINES.get(machine, f"machine {machine}")
        raise CommandNotRunnable(f"{shown} is a {name} ELF; only x86_64 guests are supported")


def _check_script(rootfs: str, shown: str, head: bytes, cwd: str, depth: int) -> None:
    raw = head[2:].split(b"\n", 1)[0]
    line = raw.strip()
    if not line:
        raise CommandNotRunnable(f"{shown}: empty #! line")
    if raw.endswith(b"\r") and len(line.split()) == 1:
        # the kernel reads the interpreter up to the newline: "/bin/sh\r"
        interp = line.decode(errors="replace")
        raise CommandNotFound(f"{shown}: its #! line ends in a carriage return (DOS line endings), so the "
                              f"interpreter is '{interp}\\r'; convert it with: sed -i 's/\\r$//' FILE")
    interp = line.split()[0].decode(errors="replace")
    if depth >= MAX_INTERPRETERS:
        raise CommandNotRunnable(f"{shown}: too many levels of #! interpreters")
    try:
        check_runnable(rootfs, interp, cwd, depth + 1)
    except CommandNotFound:
        raise CommandNotFound(
            f"{shown}: its interpreter {interp} is not in the zone's rootfs") from None
    except CommandNotRunnable as e:
        raise CommandNotRunnable(f"{shown}: its interpreter cannot run: {e}") from None


def _read_in_root(rootfs: str, zone_path: str, limit: int = 1 << 20) -> bytes:
    """The bytes of zone_path, opened with openat2(RESOLVE_IN_ROOT |
    RESOLVE_NO_MAGICLINKS) on rootfs: its symlinks and ".." never leave the
    rootfs, however the tree changes meanwhile (lxrun may be root)."""
    import ctypes
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        how = struct.pack("QQQ", os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK, 0,
                          0x10 | 0x02)          # RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
        fd = libc.syscall(437, root, zone_path.lstrip("/").encode() or b".", how, len(how))   # openat2
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), zone_path)
    finally:
        os.close(root)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", zone_path)
        return os.read(fd, limit)
    finally:
        os.close(fd)


def home(rootfs: str, uid: int) -> str:
    """HOME for `uid` in a zone: its home directory in the zone's /etc/passwd,
    as Docker and podman take it from the image's (a toolchain keeps its
    caches there: go build, npm, pip --user), else /root for root and / for
    an id that has none."""
    try:
        for line in _read_in_root(rootfs, "/etc/passwd").decode(errors="replace").splitlines():
            fields = line.split(":")
            if len(fields) >= 7 and fields[2] == str(uid) and fields[5].startswith("/"):
                return fields[5]
    except OSError:
        pass
    return "/root" if uid == 0 else "/"


def login_shell(rootfs: str, uid: int = 0) -> list[str]:
    """argv of an interactive shell for `uid`, as chroot(1) starts one without
    a command: the user's shell from the zone's /etc/passwd when it is there
    and runnable, else /bin/sh; with -i."""
    shell = None
    try:
        with open(host_path(rootfs, "/etc/passwd"), encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 7 and fields[2] == str(uid):
                    shell = fields[6].strip() or None
                    break
    except OSError:
        pass
    if shell and posixpath.basename(shell) not in NO_LOGIN:
        try:
            check_runnable(rootfs, shell)
            return [shell, "-i"]
        except (CommandNotFound, CommandNotRunnable):
            pass
    return [FALLBACK_SHELL, "-i"]
