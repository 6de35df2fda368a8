"""The x86_64 ABI the table's signatures name: what each argument register
holds, and the layout of what a pointer argument points to.

A signature (table.py) is a list of `name:type` words, one per
argument register in order; a bare `name` is an `int`.  A type is

    kind            a value in the register itself: one of SCALARS
    in[T]           a pointer to a T the kernel reads
    out[T]          a pointer to a T the kernel writes
    inout[T]        a pointer to a T the kernel reads, then writes
    T[N], T[]       inside a wrapper: N of them, or as many as another
                    argument (or a terminator) says

where T is a LAYOUTS name (a struct, named as in the uapi headers and laid
out as on x86_64, fields named as there) or a SCALARS kind (`out[int]`,
`in[str[]]`: an array of string pointers, as execve's argv).  `bytes` is
memory the kernel does not interpret: its length is another argument.

The kinds, kept few on purpose:

    int uint long ulong   C integers (a bare argument is int)
    size off              size_t, loff_t
    ptr                   an address the brand does not decode (nor read)
    fd pid uid gid dev    a file descriptor (AT_FDCWD for a dirfd), a pid or
                          tid, ids, an old-encoded dev_t
    path str              the address of a NUL-terminated path / string
    open_flags            O_* flags, decoded by name
    signo clockid         a signal number, a clock id, decoded by name
    at_flags mode_t ...   integers decode.KINDS prints by name, as strace does
                          (AT_*, octal modes, ioctl requests, fcntl ops...)

`size_of(type)` is the size in bytes of what a type describes (the pointee of
a wrapper), or None when that size is not fixed; `parse(type, data)` decodes
guest bytes into a construct Container (a ListContainer for arrays, an int
for a scalar); `build(type, value)` encodes.  Layouts checked against the
kernel by tests/test_table.py.  The names of flags, signals and clocks, and
the grammar of a type, live in decode.py, which needs no construct.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from construct import (Array, Bytes, Construct, Enum, FixedSized, FlagsEnum, GreedyBytes, GreedyRange,
                       Int8ul, Int16sl, Int16ul, Int32sl, Int32ul, Int64sl, Int64ul, NullStripped,
                       Padding, PaddedString, SizeofError, Struct, this)

from .decode import _INTS, CLOCKS, KINDS, OPEN_FLAGS, SIGNALS, TYPE, Switch

# --- the kinds of register values ------------------------------------------


SCALARS: dict[str, tuple[Construct, str]] = {
    "int":        (Int32sl, "a C int; what a bare argument name means"),
    "uint":       (Int32ul, "a C unsigned int"),
    "long":       (Int64sl, "a C long"),
    "ulong":      (Int64ul, "a C unsigned long (or a __u64)"),
    "size":       (Int64ul, "a size_t"),
    "off":        (Int64sl, "an loff_t: a file offset"),
    "ptr":        (Int64ul, "an address the brand does not decode"),
    "fd":         (Int32sl, "a file descriptor; AT_FDCWD (-100) for a dirfd"),
    "pid":        (Int32sl, "a pid_t: a process, thread, or (negative) process group"),
    "uid":        (Int32ul, "a uid_t; -1 means unchanged where the call allows it"),
    "gid":        (Int32ul, "a gid_t; -1 means unchanged where the call allows it"),
    "dev":        (Int32ul, "a dev_t as the syscall takes it (old encoding)"),
    "path":       (Int64ul, "the address of a NUL-terminated path, resolved in the zone"),
    "str":        (Int64ul, "the address of a NUL-terminated string that is not a path"),
    "open_flags": (FlagsEnum(Int32ul, **OPEN_FLAGS), "O_* flags of open(2)"),
    "clone_flags": (Int64ul, "CLONE_* flags of clone(2), the exit signal in the low byte"),
    "unshare_flags": (Int64ul, "CLONE_* flags of unshare(2) (CLONE_NEWTIME is 0x80)"),
    "mmap_prot": (Int64ul, "PROT_* of mmap(2) and mprotect(2)"),
    "mmap_flags": (Int64ul, "MAP_* of mmap(2): the type in the low 4 bits, then flags"),
    "signo":      (Enum(Int32sl, **SIGNALS), "a signal number (0 checks only)"),
    "clockid":    (Enum(Int32sl, **CLOCKS), "a clockid_t; negative ids name CPU clocks and fds"),
}
# the other kinds decode.KINDS prints by name (at_flags, mode_t, ioctl_op...):
# integers here, their names are decode's; a kind only a Switch picks (fcntl's
# fd_flags) is no signature's
_INT = {(32, True): Int32sl, (32, False): Int32ul, (64, True): Int64sl, (64, False): Int64ul}
_CASES = {c for k in KINDS.values() if isinstance(k, Switch) for c in k.cases.values()}
SCALARS.update({name: (_INT[_INTS[name]], f"an integer printed by name (decode.KINDS[{name!r}])")
                for name in KINDS if name not in SCALARS and name not in _CASES})

# --- the layouts pointers point to -----------------------------------------

timespec = Struct("tv_sec" / Int64sl, "tv_nsec" / Int64sl)
timeval = Struct("tv_sec" / Int64sl, "tv_usec" / Int64sl)
statx_timestamp = Struct("tv_sec" / Int64sl, "tv_nsec" / Int32ul, "__reserved" / Int32sl)
io_sqring_offsets = Struct(
    "head" / Int32ul, "tail" / Int32ul, "ring_mask" / Int32ul, "ring_entries" / Int32ul,
    "flags" / Int32ul, "dropped" / Int32ul, "array" / Int32ul, "resv1" / Int32ul, "user_addr" / Int64ul,
)
io_cqring_offsets = Struct(
    "head" / Int32ul, "tail" / Int32ul, "ring_mask" / Int32ul, "ring_entries" / Int32ul,
    "overflow" / Int32ul, "cqes" / Int32ul, "flags" / Int32ul, "resv1" / Int32ul, "user_addr" / Int64ul,
)
msghdr = Struct(  # struct user_msghdr
    "msg_name" / Int64ul, "msg_namelen" / Int32sl, Padding(4), "msg_iov" / Int64ul,
    "msg_iovlen" / Int64ul, "msg_control" / Int64ul, "msg_controllen" / Int64ul,
    "msg_flags" / Int32ul, Padding(4),
)

LAYOUTS: dict[str, Construct] = {
    # memory the kernel does not interpret; another argument gives its length
    "bytes": GreedyBytes,

    # identity and files
    "utsname": Struct(*(name / PaddedString(65, "utf8") for name in
                        ("sysname", "nodename", "release", "version", "machine", "domainname"))),
    "stat": Struct(  # arch/x86/include/uapi/asm/stat.h, x86_64
        "st_dev" / Int64ul, "st_ino" / Int64ul, "st_nlink" / Int64ul,
        "st_mode" / Int32ul, "st_uid" / Int32ul, "st_gid" / Int32ul, "__pad0" / Int32ul,
        "st_rdev" / Int64ul, "st_size" / Int64sl, "st_blksize" / Int64sl, "st_blocks" / Int64sl,
        "st_atime" / Int64ul, "st_atime_nsec" / Int64ul, "st_mtime" / Int64ul, "st_mtime_nsec" / Int64ul,
        "st_ctime" / Int64ul, "st_ctime_nsec" / Int64ul, "__unused" / Array(3, Int64sl),
    ),
    "statx": Struct(  # include/uapi/linux/stat.h, as of 6.18
        "stx_mask" / Int32ul, "stx_blksize" / Int32ul, "stx_attributes" / Int64ul,
        "stx_nlink" / Int32ul, "stx_uid" / Int32ul, "stx_gid" / Int32ul, "stx_mode" / Int16ul,
        "__spare0" / Int16ul, "stx_ino" / Int64ul, "stx_size" / Int64ul, "stx_blocks" / Int64ul,
        "stx_attributes_mask" / Int64ul,
        "stx_atime" / statx_timestamp, "stx_btime" / statx_timestamp,
        "stx_ctime" / statx_timestamp, "stx_mtime" / statx_timestamp,
        "stx_rdev_major" / Int32ul, "stx_rdev_minor" / Int32ul,
        "stx_dev_major" / Int32ul, "stx_dev_minor" / Int32ul,
        "stx_mnt_id" / Int64ul, "stx_dio_mem_align" / Int32ul, "stx_dio_offset_align" / Int32ul,
        "stx_subvol" / Int64ul, "stx_atomic_write_unit_min" / Int32ul,
        "stx_atomic_write_unit_max" / Int32ul, "stx_atomic_write_segments_max" / Int32ul,
        "stx_dio_read_offset_align" / Int32ul, "stx_atomic_write_unit_max_opt" / Int32ul,
        "__spare2" / Array(1, Int32ul), "__spare3" / Array(8, Int64ul),
    ),
    "statfs": Struct(  # struct statfs, x86_64
        "f_type" / Int64sl, "f_bsize" / Int64sl, "f_blocks" / Int64ul, "f_bfree" / Int64ul,
        "f_bavail" / Int64ul, "f_files" / Int64ul, "f_ffree" / Int64ul, "f_fsid" / Array(2, Int32sl),
        "f_namelen" / Int64sl, "f_frsize" / Int64sl, "f_flags" / Int64sl, "f_spare" / Array(4, Int64sl),
    ),
    "ustat": Struct(
        "f_tfree" / Int32sl, Padding(4), "f_tinode" / Int64ul,
        "f_fname" / PaddedString(6, "utf8"), "f_fpack" / PaddedString(6, "utf8"), Padding(4),
    ),
    "utimbuf": Struct("actime" / Int64sl, "modtime" / Int64sl),
    # one record of getdents64(2); d_reclen includes the padded name
    "linux_dirent64": Struct(
        "d_ino" / Int64ul, "d_off" / Int64sl, "d_reclen" / Int16ul, "d_type" / Int8ul,
        "d_name" / FixedSized(this.d_reclen - 19, NullStripped(GreedyBytes)),
    ),
    # one record of getdents(2): d_type is the record's last byte
    "linux_dirent": Struct(
        "d_ino" / Int64ul, "d_off" / Int64ul, "d_reclen" / Int16ul,
        "d_name" / FixedSized(this.d_reclen - 19, NullStripped(GreedyBytes)), "d_type" / Int8ul,
    ),
    "open_how": Struct("flags" / Int64ul, "mode" / Int64ul, "resolve" / Int64ul),
    "file_handle": Struct("handle_bytes" / Int32ul, "handle_type" / Int32sl,
                          "f_handle" / Bytes(this.handle_bytes)),
    "xattr_args": Struct("value" / Int64ul, "size" / Int32ul, "flags" / Int32ul),
    "file_attr": Struct("fa_xflags" / Int64ul, "fa_extsize" / Int32ul, "fa_nextents" / Int32ul,
                        "fa_projid" / Int32ul, "fa_cowextsize" / Int32ul),
    "mount_attr": Struct("attr_set" / Int64ul, "attr_clr" / Int64ul, "propagation" / Int64ul,
                         "userns_fd" / Int64ul),
    "mnt_id_req": Struct("size" / Int32ul, "mnt_ns_fd" / Int32ul,  # mnt_ns_fd was spare before 6.18
                         "mnt_id" / Int64ul, "param" / Int64ul, "mnt_ns_id" / Int64ul),
    "cachestat_range": Struct("off" / Int64ul, "len" / Int64ul),
    "cachestat": Struct("nr_cache" / Int64ul, "nr_dirty" / Int64ul, "nr_writeback" / Int64ul,
                        "nr_evicted" / Int64ul, "nr_recently_evicted" / Int64ul),

    # I/O
    "iovec": Struct("iov_base" / Int64ul, "iov_len" / Int64ul),
    "pollfd": Struct("fd" / Int32sl, "events" / Int16sl, "revents" / Int16sl),
    "fd_set": Struct("fds_bits" / Array(16, Int64ul)),
    "epoll_event": Struct("events" / Int32ul, "data" / Int64ul),  # packed on x86_64
    "iocb": Struct(
        "aio_data" / Int64ul, "aio_key" / Int32ul, "aio_rw_flags" / Int32sl,
        "aio_lio_opcode" / Int16ul, "aio_reqprio" / Int16sl, "aio_fildes" / Int32ul,
        "aio_buf" / Int64ul, "aio_nbytes" / Int64ul, "aio_offset" / Int64sl,
        "aio_reserved2" / Int64ul, "aio_flags" / Int32ul, "aio_resfd" / Int32ul,
    ),
    "io_event": Struct("data" / Int64ul, "obj" / Int64ul, "res" / Int64sl, "res2" / Int64sl),
    "aio_sigset": Struct("sigmask" / Int64ul, "sigsetsize" / Int64ul),  # struct __aio_sigset
    "io_uring_params": Struct(
        "sq_entries" / Int32ul, "cq_entries" / Int32ul, "flags" / Int32ul, "sq_thread_cpu" / Int32ul,
        "sq_thread_idle" / Int32ul, "features" / Int32ul, "wq_fd" / Int32ul, "resv" / Array(3, Int32ul),
        "sq_off" / io_sqring_offsets, "cq_off" / io_cqring_offsets,
    ),
    "mq_attr": Struct("mq_flags" / Int64sl, "mq_maxmsg" / Int64sl, "mq_msgsize" / Int64sl,
                      "mq_curmsgs" / Int64sl, "__reserved" / Array(4, Int64sl)),

    # sockets
    "sockaddr": Struct("sa_family" / Int16ul, "sa_data" / Bytes(14)),
    "msghdr": msghdr,
    "mmsghdr": Struct("msg_hdr" / msghdr, "msg_len" / Int32ul, Padding(4)),

    # time
    "timespec": timespec,
    "timeval": timeval,
    "timezone": Struct("tz_minuteswest" / Int32sl, "tz_dsttime" / Int32sl),
    "itimerval": Struct("it_interval" / timeval, "it_value" / timeval),
    "itimerspec": Struct("it_interval" / timespec, "it_value" / timespec),
    "tms": Struct("tms_utime" / Int64sl, "tms_stime" / Int64sl, "tms_cutime" / Int64sl,
                  "tms_cstime" / Int64sl),
    "timex": Struct(  # struct __kernel_timex
        "modes" / Int32ul, Padding(4), "offset" / Int64sl, "freq" / Int64sl, "maxerror" / Int64sl,
        "esterror" / Int64sl, "status" / Int32sl, Padding(4), "constant" / Int64sl,
        "precision" / Int64sl, "tolerance" / Int64sl, "time" / timeval, "tick" / Int64sl,
        "ppsfreq" / Int64sl, "jitter" / Int64sl, "shift" / Int32sl, Padding(4), "stabil" / Int64sl,
        "jitcnt" / Int64sl, "calcnt" / Int64sl, "errcnt" / Int64sl, "stbcnt" / Int64sl,
        "tai" / Int32sl, Padding(44),
    ),

    # signals
    "sigset": Struct("sig" / Int64ul),  # the kernel's sigset_t: 64 signals
    "sigaction": Struct("sa_handler" / Int64ul, "sa_flags" / Int64ul, "sa_restorer" / Int64ul,
                        "sa_mask" / Int64ul),  # the kernel's struct sigaction
    "siginfo": Struct("si_signo" / Int32sl, "si_errno" / Int32sl, "si_code" / Int32sl, Padding(4),
                      "_sifields" / Bytes(112)),
    "stack_t": Struct("ss_sp" / Int64ul, "ss_flags" / Int32sl, Padding(4), "ss_size" / Int64ul),
    "sigevent": Struct("sigev_value" / Int64ul, "sigev_signo" / Int32sl, "sigev_notify" / Int32sl,
                       "_sigev_un" / Bytes(48)),
    "sigset_argpack": Struct("p" / Int64ul, "size" / Int64ul),  # pselect6's sixth argument

    # processes and resources
    "clone_args": Struct(*(name / Int64ul for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls",
        "set_tid", "set_tid_size", "cgroup"))),
    "rlimit": Struct("rlim_cur" / Int64ul, "rlim_max" / Int64ul),
    "rusage": Struct("ru_utime" / timeval, "ru_stime" / timeval, *(name / Int64sl for name in (
        "ru_maxrss", "ru_ixrss", "ru_idrss", "ru_isrss", "ru_minflt", "ru_majflt", "ru_nswap",
        "ru_inblock", "ru_oublock", "ru_msgsnd", "ru_msgrcv", "ru_nsignals", "ru_nvcsw", "ru_nivcsw"))),
    "sysinfo": Struct(
        "uptime" / Int64sl, "loads" / Array(3, Int64ul), "totalram" / Int64ul, "freeram" / Int64ul,
        "sharedram" / Int64ul, "bufferram" / Int64ul, "totalswap" / Int64ul, "freeswap" / Int64ul,
        "procs" / Int16ul, "pad" / Int16ul, Padding(4), "totalhigh" / Int64ul, "freehigh" / Int64ul,
        "mem_unit" / Int32ul, Padding(4),
    ),
    "sched_param": Struct("sched_priority" / Int32sl),
    "sched_attr": Struct(
        "size" / Int32ul, "sched_policy" / Int32ul, "sched_flags" / Int64ul, "sched_nice" / Int32sl,
        "sched_priority" / Int32ul, "sched_runtime" / Int64ul, "sched_deadline" / Int64ul,
        "sched_period" / Int64ul, "sched_util_min" / Int32ul, "sched_util_max" / Int32ul,
    ),
    "cap_user_header": Struct("version" / Int32ul, "pid" / Int32sl),
    "cap_user_data": Struct("effective" / Int32ul, "permitted" / Int32ul, "inheritable" / Int32ul),
    "robust_list_head": Struct("list" / Int64ul, "futex_offset" / Int64sl, "list_op_pending" / Int64ul),
    "rseq": Struct("cpu_id_start" / Int32ul, "cpu_id" / Int32ul, "rseq_cs" / Int64ul, "flags" / Int32ul,
                   "node_id" / Int32ul, "mm_cid" / Int32ul, Padding(4)),
    "futex_waitv": Struct("val" / Int64ul, "uaddr" / Int64ul, "flags" / Int32ul, "__reserved" / Int32ul),
    "sembuf": Struct("sem_num" / Int16ul, "sem_op" / Int16sl, "sem_flg" / Int16sl),
    "landlock_ruleset_attr": Struct("handled_access_fs" / Int64ul, "handled_access_net" / Int64ul,
                                    "scoped" / Int64ul),
    "lsm_ctx": Struct("id" / Int64ul, "flags" / Int64ul, "len" / Int64ul, "ctx_len" / Int64ul,
                      "ctx" / Bytes(this.ctx_len)),
}

# --- types ------------------------------------------------------------------

_TYPE = TYPE


@dataclass(frozen=True)
class Type:
    """One argument type of a signature, resolved."""
    text: str                  # as written: "in[iovec[]]"
    direction: Optional[str]   # None for a register value; "in", "out", "inout" for a pointer
    name: str                  # the kind, or the pointee's layout or kind
    count: Optional[int]       # None: one; 0: an array of unknown length ("[]"); N: "[N]"
    element: Construct         # the construct of one register value / one pointee element

    @property
    def pointer(self) -> bool:
        return self.direction is not None

    @property
    def construct(self) -> Construct:
        """The construct of the whole value: one element, N of them, or as many as there are."""
        if self.count is None:
            return self.element
        if self.count == 0:
            return GreedyRange(self.element)
        return Array(self.count, self.element)


def _element(name: str) -> Construct:
    if name in LAYOUTS:
        return LAYOUTS[name]
    if name in SCALARS:
        return SCALARS[name][0]
    raise KeyError(f"unknown ABI type {name!r}: not a kind of abi.SCALARS nor a layout of abi.LAYOUTS")


def resolve(type_name: str) -> Type:
    """Resolve a signature's type (`fd`, `out[stat]`, `in[iovec[]]`, `stat`, `timeval[2]`).

    A bare layout or array name (`stat`, `timeval[2]`) is accepted too, as the
    pointee of a wrapper.  Raises KeyError for a name not in the vocabulary and
    ValueError for a malformed type.
    """
    m = _TYPE.match(type_name)
    if m is None:
        m2 = re.match(r"^(?P<target>[a-z_0-9]+)\[(?P<n>\d*)\]$", type_name)
        if m2 is None:
            raise ValueError(f"malformed ABI type {type_name!r}")
        n = m2.group("n")
        return Type(type_name, None, m2.group("target"), int(n) if n else 0, _element(m2.group("target")))
    if m.group("kind"):
        kind = m.group("kind")
        return Type(type_name, None, kind, None, _element(kind))
    target = m.group("target")
    count = None
    if m.group("array"):
        n = m.group("n")
        count = int(n) if n else 0
        if count == 0 and n:
            raise ValueError(f"malformed ABI type {type_name!r}: an array of 0")
    if target == "bytes" and count is not None:
        raise ValueError(f"malformed ABI type {type_name!r}: bytes is already an array")
    return Type(type_name, m.group("dir"), target, count, _element(target))


def arg_type(type_name: str) -> Type:
    """Resolve the type of an argument register: a kind, or a wrapper (a pointer).

    Stricter than `resolve`: a bare layout (`stat`) or `bytes` cannot sit in a
    register.  Raises KeyError or ValueError like `resolve`.
    """
    t = resolve(type_name)
    if not t.pointer and (t.name not in SCALARS or t.count is not None):
        raise ValueError(f"ABI type {type_name!r} cannot be a register value: wrap it, as in[{type_name}]")
    return t


def size_of(type_name: str) -> Optional[int]:
    """The size in bytes of what `type_name` describes, or None when not fixed.

    For a kind, the size of the value (a path is an 8-byte address); for a
    wrapper, of what it points to: size_of("out[stat]") == size_of("stat") == 144.
    None for `bytes`, `T[]`, a path's string, and records sized by a field
    (linux_dirent64, file_handle, lsm_ctx).
    """
    t = resolve(type_name)
    if t.count == 0:
        return None
    try:
        return t.construct.sizeof()
    except SizeofError:
        return None


def parse(type_name: str, data: bytes) -> Any:
    """Decode guest bytes as `type_name` (a Container, a ListContainer for arrays)."""
    return resolve(type_name).construct.parse(data)


def build(type_name: str, value: Any) -> bytes:
    """Encode `value` as `type_name`, to write into the guest."""
    return resolve(type_name).construct.build(value)


__all__ = ["SCALARS", "LAYOUTS", "Type", "resolve", "arg_type", "size_of", "parse", "build"]
