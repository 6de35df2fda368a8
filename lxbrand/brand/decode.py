"""Arguments and results decoded by the table's signatures, as strace prints them.

A signature (table.py, types in abi.py) says what each argument register
holds; this module turns the six raw registers of a notification into values
a handler or a tracer can read, and prints a call the way strace does:

    >>> format_call(BY_NAME["openat"], (-100, 0x7ffd0000, 0o2000000, 0, 0, 0), mem)
    'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC, 0)'

Register values decode without touching the guest: integers by their C
type, fds (AT_FDCWD by name), open flags, signal numbers and clock ids by
name.  Pointers are `Addr`s (an int that prints in hex, NULL for 0) unless a
`mem` is given: an object with `read_str(addr, limit)` and
`read_bytes(addr, n)` (a `Call` is one), through which paths and strings are
read, `in[bytes]` buffers (their length is the argument the signature
names: `buf:in[bytes](count)`), and argv-like `in[str[]]` arrays.  With `structs=True`, an
`in[T]`/`inout[T]` of a fixed-size layout is read and parsed with abi.py
(which needs `construct`; nothing else here does).  A read that fails leaves
the address.  Decoding for display reads guest memory again: never decide on
what it shows (DESIGN.md, rules of the syscall path).
"""
from __future__ import annotations

import errno as _errno
import os as _os
import re
import signal as _signal
from typing import Any

AT_FDCWD = -100

# open(2) flags, x86_64 values (asm-generic/fcntl.h); O_RDONLY is no bit.
OPEN_FLAGS = dict(
    O_WRONLY=0o1, O_RDWR=0o2, O_CREAT=0o100, O_EXCL=0o200, O_NOCTTY=0o400, O_TRUNC=0o1000,
    O_APPEND=0o2000, O_NONBLOCK=0o4000, O_DSYNC=0o10000, O_ASYNC=0o20000, O_DIRECT=0o40000,
    O_LARGEFILE=0o100000, O_DIRECTORY=0o200000, O_NOFOLLOW=0o400000, O_NOATIME=0o1000000,
    O_CLOEXEC=0o2000000, __O_SYNC=0o4000000, O_PATH=0o10000000, __O_TMPFILE=0o20000000,
)

# include/uapi/linux/sched.h: clone(2)'s flags (its low byte is the exit
# signal) and unshare(2)'s (where 0x80 is CLONE_NEWTIME)
CLONE_FLAGS = dict(
    CLONE_VM=0x100, CLONE_FS=0x200, CLONE_FILES=0x400, CLONE_SIGHAND=0x800, CLONE_PIDFD=0x1000,
    CLONE_PTRACE=0x2000, CLONE_VFORK=0x4000, CLONE_PARENT=0x8000, CLONE_THREAD=0x10000, CLONE_NEWNS=0x20000,
    CLONE_SYSVSEM=0x40000, CLONE_SETTLS=0x80000, CLONE_PARENT_SETTID=0x100000, CLONE_CHILD_CLEARTID=0x200000,
    CLONE_DETACHED=0x400000, CLONE_UNTRACED=0x800000, CLONE_CHILD_SETTID=0x1000000,
    CLONE_NEWCGROUP=0x2000000, CLONE_NEWUTS=0x4000000, CLONE_NEWIPC=0x8000000, CLONE_NEWUSER=0x10000000,
    CLONE_NEWPID=0x20000000, CLONE_NEWNET=0x40000000, CLONE_IO=0x80000000,
)
UNSHARE_FLAGS = dict(CLONE_FLAGS, CLONE_NEWTIME=0x80)

# include/uapi/asm-generic/mman-common.h, arch/x86/include/uapi/asm/mman.h
PROT_FLAGS = dict(PROT_READ=0x1, PROT_WRITE=0x2, PROT_EXEC=0x4, PROT_SEM=0x8, PROT_GROWSDOWN=0x01000000,
                  PROT_GROWSUP=0x02000000)
MAP_TYPES = {1: "MAP_SHARED", 2: "MAP_PRIVATE", 3: "MAP_SHARED_VALIDATE"}     # the low 4 bits
MAP_FLAGS = dict(
    MAP_FIXED=0x10, MAP_ANONYMOUS=0x20, MAP_32BIT=0x40, MAP_GROWSDOWN=0x100, MAP_DENYWRITE=0x800,
    MAP_EXECUTABLE=0x1000, MAP_LOCKED=0x2000, MAP_NORESERVE=0x4000, MAP_POPULATE=0x8000,
    MAP_NONBLOCK=0x10000, MAP_STACK=0x20000, MAP_HUGETLB=0x40000, MAP_SYNC=0x80000,
    MAP_FIXED_NOREPLACE=0x100000, MAP_UNINITIALIZED=0x4000000,
)

# include/uapi/linux/time.h
CLOCKS = dict(
    CLOCK_REALTIME=0, CLOCK_MONOTONIC=1, CLOCK_PROCESS_CPUTIME_ID=2, CLOCK_THREAD_CPUTIME_ID=3,
    CLOCK_MONOTONIC_RAW=4, CLOCK_REALTIME_COARSE=5, CLOCK_MONOTONIC_COARSE=6, CLOCK_BOOTTIME=7,
    CLOCK_REALTIME_ALARM=8, CLOCK_BOOTTIME_ALARM=9, CLOCK_TAI=11,
)

SIGNALS = {s.name: s.value for s in _signal.Signals}

# a signature's type: a kind, or in/out/inout[T], [T[N]], [T[]] (abi.py)
TYPE = re.compile(r"^(?:(?P<dir>in|out|inout)\[(?P<target>[a-z_0-9]+)(?P<array>\[(?P<n>\d*)\])?\]"
                  r"|(?P<kind>[a-z_0-9]+))$")

# (bits, signed) of the register kinds; the rest are named below
_INTS = {
    "int": (32, True), "uint": (32, False), "long": (64, True), "ulong": (64, False),
    "size": (64, False), "off": (64, True), "fd": (32, True), "pid": (32, True),
    "uid": (32, False), "gid": (32, False), "dev": (32, False),
    "open_flags": (32, False), "signo": (32, True), "clockid": (32, True),
    "clone_flags": (64, False), "unshare_flags": (64, False), "mmap_prot": (64, False), "mmap_flags": (64, False),
}
_ADDRS = ("ptr", "path", "str")

STRING_LIMIT = 4096     # what a path or string read may take
SHOW = 32               # bytes and string characters printed before "..."
ARRAY_LIMIT = 32        # argv entries read


class Addr(int):
    """A guest address: an int that prints as strace prints pointers."""

    def __repr__(self) -> str:
        return "NULL" if self == 0 else f"{int(self):#x}"

    __str__ = __repr__


class Name(str):
    """A value decoded to a symbolic name ("AT_FDCWD", "SIGKILL"): printed bare."""

    __slots__ = ()


class PathStr(str):
    """A path read from the guest: printed whole, as strace prints paths."""

    __slots__ = ()


class Flags(Name):
    """Flags decoded by name ("O_WRONLY|O_CREAT"); `value` keeps the number."""

    value: int

    def __new__(cls, text: str, value: int):
        self = super().__new__(cls, text)
        self.value = value
        return self


def _int(raw: int, bits: int, signed: bool) -> int:
    raw &= (1 << bits) - 1
    if signed and raw >> (bits - 1):
        raw -= 1 << bits
    return raw


def open_flags(value: int) -> Flags:
    """O_* names of an open(2) flags word; O_RDONLY when no access bit is set."""
    names = [] if value & 0o3 else ["O_RDONLY"]
    rest = value
    for name, bit in OPEN_FLAGS.items():
        if value & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(f"{rest:#o}")
    return Flags("|".join(names), value)


def _flags(value: int, table: dict[str, int], first: list, zero: str = "0") -> Flags:
    """NAME|NAME|0xREST of the bits of `value` that `table` names, after `first`."""
    names, rest = list(first), value
    for name, bit in table.items():
        if value & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(f"{rest:#x}")
    return Flags("|".join(names) or zero, value)


def clone_flags(value: int) -> Flags:
    """clone(2)'s flags as strace shows them: CLONE_* names, then the exit signal's."""
    sig = value & 0xFF
    names = {v: k for k, v in SIGNALS.items()}
    tail = [names.get(sig, str(sig))] if sig else []
    f = _flags(value & ~0xFF, CLONE_FLAGS, [])
    text = "|".join(x for x in (str(f) if value & ~0xFF else "", *tail) if x) or "0"
    return Flags(text, value)


def mmap_flags(value: int) -> Flags:
    kind = value & 0xF
    first = [MAP_TYPES[kind]] if kind in MAP_TYPES else ([f"{kind:#x}"] if kind else [])
    return Flags(str(_flags(value & ~0xF, MAP_FLAGS, first)), value)


def _named(table: dict[str, int], value: int):
    for name, v in table.items():
        if v == value:
            return Name(name)
    return value


def register(kind: str, raw: int) -> Any:
    """One register's value as its kind says, without reading guest memory."""
    if kind in _ADDRS:
        return Addr(raw & (1 << 64) - 1)
    bits, signed = _INTS[kind]
    v = _int(raw, bits, signed)
    if kind == "fd" and v == AT_FDCWD:
        return Name("AT_FDCWD")
    if kind == "open_flags":
        return open_flags(v)
    if kind == "clone_flags":
        return clone_flags(v)
    if kind == "unshare_flags":
        return _flags(v, UNSHARE_FLAGS, [])
    if kind == "mmap_prot":
        return _flags(v, PROT_FLAGS, [], zero="PROT_NONE")
    if kind == "mmap_flags":
        return mmap_flags(v)
    if kind == "signo":
        return _named(SIGNALS, v)
    if kind == "clockid":
        return _named(CLOCKS, v)
    return v


def args(sc, raw, mem=None, structs: bool = False, done: bool = False) -> list[tuple[str, Any]]:
    """[(name, value)] for the arguments of `sc` (a table line) in registers `raw`;
    done=True: the call has returned, so what it wrote (out[T]) is read too."""
    params = sc.params
    index = {name: i for i, (name, _) in enumerate(params)}
    sizes = {index[buf]: index[n] for buf, n in sc.sizes.items()}
    out = []
    for i, (name, kind) in enumerate(params):
        value = raw[i] if i < len(raw) else 0
        m = TYPE.match(kind)
        if m is None:
            raise ValueError(f"{sc.name}: malformed type {kind!r}")
        if m.group("kind"):
            v = register(kind, value)
            if mem is not None and kind in ("path", "str") and v:
                v = _read(lambda: mem.read_str(v, STRING_LIMIT), v)
                if kind == "path" and isinstance(v, str):
                    v = PathStr(v)
            out.append((name, v))
            continue
        addr = Addr(value & (1 << 64) - 1)
        v = addr
        if mem is not None and addr and (m.group("dir") in ("in", "inout") or (done and m.group("dir") == "out")):
            target, array = m.group("target"), m.group("array")
            if target == "bytes":
                j = sizes.get(i)          # the table's buf:in[bytes](count)
                if j is not None and j < len(raw) and params[j][1] in _INTS:
                    n = register(params[j][1], raw[j])
                    if isinstance(n, int) and n >= 0:
                        v = _read(lambda: mem.read_bytes(addr, min(n, SHOW + 1)), addr)
            elif target == "str" and array == "[]":
                strv = getattr(mem, "read_strv", None)   # a tracer's copy holds the strings
                v = _read(lambda: strv(addr) if strv else _strings(mem, addr), addr)
            elif structs and target == "int" and m.group("n") == "2":
                v = _read(lambda: list(_S_INT2.unpack(mem.read_bytes(addr, 8))), addr)
            elif structs and not array:
                v = _struct(mem, addr, target)
        out.append((name, v))
    return out


def _read(fn, addr):
    try:
        return fn()
    except (OSError, UnicodeDecodeError):
        return addr


def _strings(mem, addr: int) -> list:
    out = []
    for i in range(ARRAY_LIMIT):
        p = int.from_bytes(mem.read_bytes(addr + 8 * i, 8), "little")
        if p == 0:
            return out
        out.append(mem.read_str(p, STRING_LIMIT))
    out.append(...)
    return out


def _struct(mem, addr: Addr, layout: str):
    fast = FAST_STRUCTS.get(layout)
    if fast is not None:
        size, fn = fast
        return _read(lambda: fn(mem.read_bytes(addr, size)), addr)
    from . import abi   # construct: only when structs are asked for
    size = abi.size_of(layout)
    if size is None:
        return addr
    return _read(lambda: abi.parse(layout, mem.read_bytes(addr, size)), addr)


# --- printing ------------------------------------------------------------------

def _quote(data) -> str:
    if isinstance(data, str):
        data = data.encode(errors="surrogateescape")
    more = len(data) > SHOW
    text = "".join(_CHAR.get(b) or (chr(b) if 32 <= b < 127 else f"\\x{b:02x}") for b in data[:SHOW])
    return f'"{text}"' + ("..." if more else "")


_CHAR = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r", 0: "\\0"}


def show(value) -> str:
    """One decoded value as strace prints it."""
    if isinstance(value, Name):
        return str(value)
    if isinstance(value, PathStr):
        return '"' + "".join(_CHAR.get(ord(c)) or (c if " " <= c < "\x7f" else f"\\x{ord(c) & 0xff:02x}")
                             for c in value) + '"'
    if isinstance(value, (str, bytes)):
        return _quote(value)
    if isinstance(value, list):
        return "[" + ", ".join("..." if v is ... else show(v) for v in value) + "]"
    if hasattr(value, "items") and not isinstance(value, (str, bytes)):
        fields = [(k, v) for k, v in value.items() if not k.startswith("_")]
        return "{" + ", ".join(f"{k}={show(v)}" for k, v in fields) + "}"
    return str(value)


def format_call(sc, raw, mem=None, structs: bool = False) -> str:
    """`name(arg, ...)` as strace prints a call on entry."""
    return f"{sc.name}(" + ", ".join(show(v) for _, v in args(sc, raw, mem, structs)) + ")"


def format_result(value: int) -> str:
    """A syscall's return: "-1 ENOENT (No such file or directory)", or the value
    (in hex when it can only be an address)."""
    value = _int(value, 64, True)
    if -4096 < value < 0:
        if -value in KERNEL_ERRNOS and -value not in _errno.errorcode:
            return f"? {KERNEL_ERRNOS[-value]}"
        return f"-1 {_errno.errorcode.get(-value, -value)} ({_os.strerror(-value)})"
    if value >= 1 << 32:
        return f"{value:#x}"
    return str(value)


# --- structs printed without construct (a tracer's hot path) ----------------------

import struct as _st  # noqa: E402

_S_INT2 = _st.Struct("<ii")
_NUL = b"\0"
_S_STAT = _st.Struct("<QQQIII4xQqqq")           # struct stat, x86_64, up to st_blocks
_S_STATX = _st.Struct("<IIQIIIH2xQQ")          # struct statx, up to stx_size
_S_TIMESPEC = _st.Struct("<qq")
_FILE_TYPES = {0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG", 0o060000: "S_IFBLK",
               0o040000: "S_IFDIR", 0o020000: "S_IFCHR", 0o010000: "S_IFIFO"}


def file_mode(mode: int) -> str:
    """st_mode as strace prints it: S_IFREG|0644."""
    kind = _FILE_TYPES.get(mode & 0o170000)
    perm = f"{mode & 0o7777:#o}".replace("0o", "0")
    return f"{kind}|{perm}" if kind else perm


def _stat(data: bytes) -> Name:
    dev, ino, nlink, mode, uid, gid, rdev, size, blksize, blocks = _S_STAT.unpack_from(data)
    return Name(f"{{st_mode={file_mode(mode)}, st_size={size}, ...}}")


def _statx(data: bytes) -> Name:
    mask, blksize, attrs, nlink, uid, gid, mode, ino, size = _S_STATX.unpack_from(data)
    return Name(f"{{stx_mask={mask:#x}, stx_mode={file_mode(mode)}, stx_size={size}, ...}}")


def _timespec(data: bytes) -> Name:
    sec, nsec = _S_TIMESPEC.unpack_from(data)
    return Name(f"{{tv_sec={sec}, tv_nsec={nsec}}}")


def _sockaddr(data: bytes) -> Name:
    import socket
    family = int.from_bytes(data[:2], "little")
    if family == socket.AF_UNIX:
        path = data[2:]
        if path[:1] == b"\0":
            return Name(f"{{sa_family=AF_UNIX, sun_path=@{_quote(path[1:].split(_NUL)[0])}}}")
        return Name(f"{{sa_family=AF_UNIX, sun_path={_quote(path.split(_NUL)[0])}}}")
    if family == socket.AF_INET and len(data) >= 8:
        return Name(f"{{sa_family=AF_INET, sin_port=htons({int.from_bytes(data[2:4], 'big')}), "
                    f"sin_addr=inet_addr(\"{socket.inet_ntop(socket.AF_INET, data[4:8])}\")}}")
    if family == socket.AF_INET6 and len(data) >= 24:
        return Name(f"{{sa_family=AF_INET6, sin6_port=htons({int.from_bytes(data[2:4], 'big')}), "
                    f"sin6_addr={socket.inet_ntop(socket.AF_INET6, data[8:24])}}}")
    return Name(f"{{sa_family={family}, ...}}")


# layout -> (bytes to read, formatter): decoded for display without construct
FAST_STRUCTS = {"stat": (144, _stat), "statx": (48, _statx), "timespec": (16, _timespec),
                "sockaddr": (128, _sockaddr)}

# the kernel's restart codes a tracer sees at a syscall's exit (include/linux/errno.h)
KERNEL_ERRNOS = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
                 516: "ERESTART_RESTARTBLOCK"}


def errno_name(err: int) -> str:
    return _errno.errorcode.get(err) or KERNEL_ERRNOS.get(err) or str(err)


__all__ = ["Addr", "Name", "Flags", "AT_FDCWD", "OPEN_FLAGS", "CLOCKS", "SIGNALS", "TYPE", "register", "args",
           "open_flags", "show", "format_call", "format_result", "PathStr", "FAST_STRUCTS", "file_mode", "errno_name"]
