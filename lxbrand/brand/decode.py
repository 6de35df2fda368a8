"""Arguments and results decoded by the table's signatures, as strace prints them.

A signature (table.py, types in abi.py) says what each argument register
holds; this module turns the six raw registers of a notification into values
a handler or a tracer can read, and prints a call the way strace does:

    >>> format_call(BY_NAME["openat"], (-100, 0x7ffd0000, 0o2000000, 0, 0, 0), mem)
    'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC, 0)'

Register values decode without touching the guest: integers by their C
type, fds (AT_FDCWD by name), signal numbers by name, and every kind of
KINDS (open and at-flags, modes in octal, ioctl requests, fcntl ops...) by
its names: data, which csrc/trace_gen.py hands to the C tracer, so a new
kind is a KINDS entry and a signature naming it.  Pointers are `Addr`s (an int that prints in hex, NULL for 0) unless a
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
import struct as _st
import time as _time
from typing import Any, NamedTuple, Optional

AT_FDCWD = -100

# errno names as strace prints them (its errnoent.h): where Python's errorcode
# names a number otherwise (35 EDEADLOCK, 95 ENOTSUP), strace's name
ERRNO_NAMES = {**_errno.errorcode, 35: "EDEADLK", 95: "EOPNOTSUPP"}

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

# the kernel's signal names; real-time signals as strace names them (32 is
# SIGRTMIN, then SIGRT_1..SIGRT_32: glibc keeps 32 and 33 for itself, so its
# SIGRTMIN, 34, is SIGRT_2 here)
SIGNALS = {s.name: s.value for s in _signal.Signals if s.value < 32}
SIGNALS.update(SIGRTMIN=32, **{f"SIGRT_{i}": 32 + i for i in range(1, 33)})


# --- kinds decoded by name: data, one formatter (here and csrc/trace_fmt.c) ----------

class Kind(NamedTuple):
    """A register kind whose values print by name, as strace prints them.

    An enum (flags=False) is one of `names` (name -> value), else the number
    (`other`: "d" decimal, kept an int; "x" 0x-hex).  A flags word
    (flags=True) prints `field`'s value by `values` first (an access mode,
    a mapping or socket type, a file type; an unnamed non-zero field in hex),
    then each of `names` whose bits are all still set (strace's printflags:
    several-bit names such as STATX_BASIC_STATS first), then the bits left
    (`rest`: "x" 0x1f, "oct" 0644 as C's %#03o), or `zero` when
    nothing was printed.  `dflt` is strace's word for a value it does not
    know: an enum's prints 0x4d /* MADV_??? */ (a number in JSON), a flags
    word's unnamed field and its bits left when no bit was named the same
    (SOCK_STREAM|0x10000 /* SOCK_??? */).  other "i": an ioctl request
    strace does not name, _IOC(_IOC_READ, 0x54, 0x1, 0x8).  A flags word is unsigned.  trace_gen.py writes each
    Kind as a C table row; trace_fmt.c's kind_text is the C of `kind_text`."""
    bits: int
    signed: bool
    names: dict
    flags: bool = False
    field: int = 0
    values: dict = {}
    zero: str = "0"
    rest: str = "x"
    other: str = "d"
    dflt: str = ""


class Switch(NamedTuple):
    """A register whose kind is chosen by another argument of the same call
    (fcntl's arg by its op, socket's protocol by its domain): `cases` maps the
    value of argument `on` (& `mask`: futex's command without its flags) to a
    kind name, `default` is the kind otherwise."""
    on: str
    cases: dict
    default: str
    mask: int = -1


def _enum(bits=32, signed=True, other="d", dflt="", **names) -> Kind:
    return Kind(bits, signed, names, other=other, dflt=dflt)


def _bits(bits=32, zero="0", rest="x", field=0, values=None, dflt="", **names) -> Kind:
    return Kind(bits, False, names, True, field, values or {}, zero, rest, dflt=dflt)


# include/uapi/linux/fcntl.h: the AT_* flags of the *at calls
AT_FLAGS = dict(AT_SYMLINK_NOFOLLOW=0x100, AT_REMOVEDIR=0x200, AT_SYMLINK_FOLLOW=0x400, AT_NO_AUTOMOUNT=0x800,
                AT_EMPTY_PATH=0x1000, AT_RECURSIVE=0x8000)
# include/uapi/linux/stat.h
STATX_MASK = dict(
    STATX_ALL=0xFFF, STATX_BASIC_STATS=0x7FF, STATX_TYPE=0x1, STATX_MODE=0x2, STATX_NLINK=0x4, STATX_UID=0x8,
    STATX_GID=0x10, STATX_ATIME=0x20, STATX_MTIME=0x40, STATX_CTIME=0x80, STATX_INO=0x100, STATX_SIZE=0x200,
    STATX_BLOCKS=0x400, STATX_BTIME=0x800, STATX_MNT_ID=0x1000, STATX_DIOALIGN=0x2000,
    STATX_MNT_ID_UNIQUE=0x4000, STATX_SUBVOL=0x8000, STATX_WRITE_ATOMIC=0x10000, STATX_DIO_READ_ALIGN=0x20000,
)
FILE_TYPES = dict(S_IFSOCK=0o140000, S_IFLNK=0o120000, S_IFREG=0o100000, S_IFBLK=0o060000, S_IFDIR=0o040000,
                  S_IFCHR=0o020000, S_IFIFO=0o010000)
# include/uapi/asm-generic/ioctls.h, linux/fs.h: the requests programs make most
IOCTLS = dict(
    TCGETS=0x5401, TCSETS=0x5402, TCSETSW=0x5403, TCSETSF=0x5404, TCGETA=0x5405, TCSETA=0x5406,
    TCSETAW=0x5407, TCSETAF=0x5408, TCSBRK=0x5409, TCXONC=0x540A, TCFLSH=0x540B, TIOCEXCL=0x540C,
    TIOCNXCL=0x540D, TIOCSCTTY=0x540E, TIOCGPGRP=0x540F, TIOCSPGRP=0x5410, TIOCOUTQ=0x5411, TIOCSTI=0x5412,
    TIOCGWINSZ=0x5413, TIOCSWINSZ=0x5414, TIOCMGET=0x5415, TIOCMBIS=0x5416, TIOCMBIC=0x5417, TIOCMSET=0x5418,
    FIONREAD=0x541B, TIOCLINUX=0x541C, TIOCCONS=0x541D, TIOCPKT=0x5420, FIONBIO=0x5421, TIOCNOTTY=0x5422,
    TIOCSETD=0x5423, TIOCGETD=0x5424, TCSBRKP=0x5425, TIOCSBRK=0x5427, TIOCCBRK=0x5428, TIOCGSID=0x5429,
    TCGETS2=0x802C542A, TCSETS2=0x402C542B, TCSETSW2=0x402C542C, TCSETSF2=0x402C542D, TIOCGPTN=0x80045430,
    TIOCSPTLCK=0x40045431, TIOCGDEV=0x80045432, TIOCSIG=0x40045436, TIOCVHANGUP=0x5437, TIOCGPKT=0x80045438,
    TIOCGPTLCK=0x80045439, TIOCGEXCL=0x80045440, TIOCGPTPEER=0x5441, FIONCLEX=0x5450, FIOCLEX=0x5451,
    FIOASYNC=0x5452, FIOQSIZE=0x5460, FS_IOC_GETFLAGS=0x80086601, FS_IOC_SETFLAGS=0x40086602,
    FICLONE=0x40049409, FIFREEZE=0xC0045877, FITHAW=0xC0045878, BLKGETSIZE64=0x80081272,
)
# include/uapi/asm-generic/fcntl.h, linux/fcntl.h
FCNTL_CMDS = dict(
    F_DUPFD=0, F_GETFD=1, F_SETFD=2, F_GETFL=3, F_SETFL=4, F_GETLK=5, F_SETLK=6, F_SETLKW=7, F_SETOWN=8,
    F_GETOWN=9, F_SETSIG=10, F_GETSIG=11, F_SETOWN_EX=15, F_GETOWN_EX=16, F_GETOWNER_UIDS=17, F_OFD_GETLK=36,
    F_OFD_SETLK=37, F_OFD_SETLKW=38, F_SETLEASE=1024, F_GETLEASE=1025, F_NOTIFY=1026, F_DUPFD_QUERY=1027,
    F_CREATED_QUERY=1028, F_CANCELLK=1029, F_DUPFD_CLOEXEC=1030, F_SETPIPE_SZ=1031, F_GETPIPE_SZ=1032,
    F_ADD_SEALS=1033, F_GET_SEALS=1034,
)
# include/linux/socket.h, include/uapi/linux/in.h, linux/netlink.h
ADDRESS_FAMILIES = dict(
    AF_UNSPEC=0, AF_UNIX=1, AF_INET=2, AF_AX25=3, AF_IPX=4, AF_APPLETALK=5, AF_NETROM=6, AF_BRIDGE=7,
    AF_X25=9, AF_INET6=10, AF_KEY=15, AF_NETLINK=16, AF_PACKET=17, AF_RDS=21, AF_IRDA=23, AF_LLC=26,
    AF_CAN=29, AF_TIPC=30, AF_BLUETOOTH=31, AF_ALG=38, AF_VSOCK=40, AF_KCM=41, AF_QIPCRTR=42, AF_SMC=43,
    AF_XDP=44, AF_MCTP=45,
)
SOCK_TYPES = dict(SOCK_STREAM=1, SOCK_DGRAM=2, SOCK_RAW=3, SOCK_RDM=4, SOCK_SEQPACKET=5, SOCK_DCCP=6,
                  SOCK_PACKET=10)
IP_PROTOCOLS = dict(IPPROTO_IP=0, IPPROTO_ICMP=1, IPPROTO_IGMP=2, IPPROTO_IPIP=4, IPPROTO_TCP=6, IPPROTO_EGP=8,
                    IPPROTO_PUP=12, IPPROTO_UDP=17, IPPROTO_IDP=22, IPPROTO_TP=29, IPPROTO_DCCP=33,
                    IPPROTO_IPV6=41, IPPROTO_RSVP=46, IPPROTO_GRE=47, IPPROTO_ESP=50, IPPROTO_AH=51,
                    IPPROTO_ICMPV6=58, IPPROTO_MTP=92, IPPROTO_BEETPH=94, IPPROTO_ENCAP=98, IPPROTO_PIM=103,
                    IPPROTO_COMP=108, IPPROTO_L2TP=115, IPPROTO_SCTP=132, IPPROTO_UDPLITE=136, IPPROTO_MPLS=137,
                    IPPROTO_ETHERNET=143, IPPROTO_RAW=255, IPPROTO_MPTCP=262)
NETLINK_PROTOCOLS = dict(
    NETLINK_ROUTE=0, NETLINK_UNUSED=1, NETLINK_USERSOCK=2, NETLINK_FIREWALL=3, NETLINK_SOCK_DIAG=4,
    NETLINK_NFLOG=5, NETLINK_XFRM=6, NETLINK_SELINUX=7, NETLINK_ISCSI=8, NETLINK_AUDIT=9,
    NETLINK_FIB_LOOKUP=10, NETLINK_CONNECTOR=11, NETLINK_NETFILTER=12, NETLINK_IP6_FW=13,
    NETLINK_DNRTMSG=14, NETLINK_KOBJECT_UEVENT=15, NETLINK_GENERIC=16, NETLINK_SCSITRANSPORT=18,
    NETLINK_ECRYPTFS=19, NETLINK_RDMA=20, NETLINK_CRYPTO=21, NETLINK_SMC=22,
)
# include/uapi/linux/futex.h: the command (with FUTEX_PRIVATE_FLAG, 128), then FUTEX_CLOCK_REALTIME
_FUTEX = ("WAIT", "WAKE", "FD", "REQUEUE", "CMP_REQUEUE", "WAKE_OP", "LOCK_PI", "UNLOCK_PI", "TRYLOCK_PI",
          "WAIT_BITSET", "WAKE_BITSET", "WAIT_REQUEUE_PI", "CMP_REQUEUE_PI", "LOCK_PI2")
FUTEX_OPS = {**{f"FUTEX_{n}": i for i, n in enumerate(_FUTEX)},
             **{f"FUTEX_{n}_PRIVATE": i | 128 for i, n in enumerate(_FUTEX) if n != "FD"}}
# include/uapi/asm-generic/mman-common.h
MADVISE = dict(
    MADV_NORMAL=0, MADV_RANDOM=1, MADV_SEQUENTIAL=2, MADV_WILLNEED=3, MADV_DONTNEED=4, MADV_FREE=8,
    MADV_REMOVE=9, MADV_DONTFORK=10, MADV_DOFORK=11, MADV_MERGEABLE=12, MADV_UNMERGEABLE=13,
    MADV_HUGEPAGE=14, MADV_NOHUGEPAGE=15, MADV_DONTDUMP=16, MADV_DODUMP=17, MADV_WIPEONFORK=18,
    MADV_KEEPONFORK=19, MADV_COLD=20, MADV_PAGEOUT=21, MADV_POPULATE_READ=22, MADV_POPULATE_WRITE=23,
    MADV_DONTNEED_LOCKED=24, MADV_COLLAPSE=25, MADV_HWPOISON=100, MADV_SOFT_OFFLINE=101,
    MADV_GUARD_INSTALL=102, MADV_GUARD_REMOVE=103,
)
# include/uapi/linux/prctl.h
PRCTL_OPS = dict(
    PR_SET_PDEATHSIG=1, PR_GET_PDEATHSIG=2, PR_GET_DUMPABLE=3, PR_SET_DUMPABLE=4, PR_GET_UNALIGN=5,
    PR_SET_UNALIGN=6, PR_GET_KEEPCAPS=7, PR_SET_KEEPCAPS=8, PR_GET_FPEMU=9, PR_SET_FPEMU=10, PR_GET_FPEXC=11,
    PR_SET_FPEXC=12, PR_GET_TIMING=13, PR_SET_TIMING=14, PR_SET_NAME=15, PR_GET_NAME=16, PR_GET_ENDIAN=19,
    PR_SET_ENDIAN=20, PR_GET_SECCOMP=21, PR_SET_SECCOMP=22, PR_CAPBSET_READ=23, PR_CAPBSET_DROP=24,
    PR_GET_TSC=25, PR_SET_TSC=26, PR_GET_SECUREBITS=27, PR_SET_SECUREBITS=28, PR_SET_TIMERSLACK=29,
    PR_GET_TIMERSLACK=30, PR_TASK_PERF_EVENTS_DISABLE=31, PR_TASK_PERF_EVENTS_ENABLE=32, PR_MCE_KILL=33,
    PR_MCE_KILL_GET=34, PR_SET_MM=35, PR_SET_CHILD_SUBREAPER=36, PR_GET_CHILD_SUBREAPER=37,
    PR_SET_NO_NEW_PRIVS=38, PR_GET_NO_NEW_PRIVS=39, PR_GET_TID_ADDRESS=40, PR_SET_THP_DISABLE=41,
    PR_GET_THP_DISABLE=42, PR_MPX_ENABLE_MANAGEMENT=43, PR_MPX_DISABLE_MANAGEMENT=44, PR_SET_FP_MODE=45,
    PR_GET_FP_MODE=46, PR_CAP_AMBIENT=47, PR_SVE_SET_VL=50, PR_SVE_GET_VL=51, PR_GET_SPECULATION_CTRL=52,
    PR_SET_SPECULATION_CTRL=53, PR_PAC_RESET_KEYS=54, PR_SET_TAGGED_ADDR_CTRL=55, PR_GET_TAGGED_ADDR_CTRL=56,
    PR_SET_IO_FLUSHER=57, PR_GET_IO_FLUSHER=58, PR_SET_SYSCALL_USER_DISPATCH=59, PR_PAC_SET_ENABLED_KEYS=60,
    PR_PAC_GET_ENABLED_KEYS=61, PR_SCHED_CORE=62, PR_SME_SET_VL=63, PR_SME_GET_VL=64, PR_SET_MDWE=65,
    PR_GET_MDWE=66, PR_SET_MEMORY_MERGE=67, PR_GET_MEMORY_MERGE=68, PR_SET_VMA=0x53564D41,
)
# arch/x86/include/uapi/asm/prctl.h
ARCH_PRCTL_OPS = dict(
    ARCH_SET_GS=0x1001, ARCH_SET_FS=0x1002, ARCH_GET_FS=0x1003, ARCH_GET_GS=0x1004, ARCH_GET_CPUID=0x1011,
    ARCH_SET_CPUID=0x1012, ARCH_GET_XCOMP_SUPP=0x1021, ARCH_GET_XCOMP_PERM=0x1022, ARCH_REQ_XCOMP_PERM=0x1023,
    ARCH_GET_XCOMP_GUEST_PERM=0x1024, ARCH_REQ_XCOMP_GUEST_PERM=0x1025, ARCH_MAP_VDSO_X32=0x2001,
    ARCH_MAP_VDSO_32=0x2002, ARCH_MAP_VDSO_64=0x2003, ARCH_GET_UNTAG_MASK=0x4001,
    ARCH_ENABLE_TAGGED_ADDR=0x4002, ARCH_GET_MAX_TAG_BITS=0x4003, ARCH_FORCE_TAGGED_SVA=0x4004,
    ARCH_SHSTK_ENABLE=0x5001, ARCH_SHSTK_DISABLE=0x5002, ARCH_SHSTK_LOCK=0x5003, ARCH_SHSTK_UNLOCK=0x5004,
    ARCH_SHSTK_STATUS=0x5005,
)
# include/uapi/asm-generic/resource.h
RLIMITS = dict(RLIMIT_CPU=0, RLIMIT_FSIZE=1, RLIMIT_DATA=2, RLIMIT_STACK=3, RLIMIT_CORE=4, RLIMIT_RSS=5,
               RLIMIT_NPROC=6, RLIMIT_NOFILE=7, RLIMIT_MEMLOCK=8, RLIMIT_AS=9, RLIMIT_LOCKS=10,
               RLIMIT_SIGPENDING=11, RLIMIT_MSGQUEUE=12, RLIMIT_NICE=13, RLIMIT_RTPRIO=14, RLIMIT_RTTIME=15)
# include/uapi/linux/wait.h
WAIT_OPTIONS = dict(WNOHANG=1, WSTOPPED=2, WEXITED=4, WCONTINUED=8, WNOWAIT=0x1000000, __WNOTHREAD=0x20000000,
                    __WALL=0x40000000, __WCLONE=0x80000000)
# include/linux/socket.h
MSG_FLAGS = dict(
    MSG_OOB=0x1, MSG_PEEK=0x2, MSG_DONTROUTE=0x4, MSG_CTRUNC=0x8, MSG_PROXY=0x10, MSG_TRUNC=0x20,
    MSG_DONTWAIT=0x40, MSG_EOR=0x80, MSG_WAITALL=0x100, MSG_FIN=0x200, MSG_SYN=0x400, MSG_CONFIRM=0x800,
    MSG_RST=0x1000, MSG_ERRQUEUE=0x2000, MSG_NOSIGNAL=0x4000, MSG_MORE=0x8000, MSG_WAITFORONE=0x10000,
    MSG_BATCH=0x40000, MSG_SOCK_DEVMEM=0x2000000, MSG_ZEROCOPY=0x4000000, MSG_FASTOPEN=0x20000000,
    MSG_CMSG_CLOEXEC=0x40000000,
)
# include/uapi/asm-generic/socket.h, include/uapi/linux/tcp.h
SOCKET_OPTIONS = dict(
    SO_DEBUG=1, SO_REUSEADDR=2, SO_TYPE=3, SO_ERROR=4, SO_DONTROUTE=5, SO_BROADCAST=6, SO_SNDBUF=7,
    SO_RCVBUF=8, SO_KEEPALIVE=9, SO_OOBINLINE=10, SO_NO_CHECK=11, SO_PRIORITY=12, SO_LINGER=13,
    SO_BSDCOMPAT=14, SO_REUSEPORT=15, SO_PASSCRED=16, SO_PEERCRED=17, SO_RCVLOWAT=18, SO_SNDLOWAT=19,
    SO_RCVTIMEO_OLD=20, SO_SNDTIMEO_OLD=21, SO_BINDTODEVICE=25, SO_ATTACH_FILTER=26, SO_DETACH_FILTER=27,
    SO_PEERNAME=28, SO_TIMESTAMP_OLD=29, SO_ACCEPTCONN=30, SO_PEERSEC=31, SO_SNDBUFFORCE=32,
    SO_RCVBUFFORCE=33, SO_PASSSEC=34, SO_MARK=36, SO_PROTOCOL=38, SO_DOMAIN=39, SO_RXQ_OVFL=40,
    SO_PEEK_OFF=42, SO_BUSY_POLL=46, SO_INCOMING_CPU=49, SO_PEERGROUPS=59, SO_ZEROCOPY=60,
    SO_COOKIE=57, SO_RCVTIMEO_NEW=66, SO_SNDTIMEO_NEW=67, SO_PEERPIDFD=77,
)
TCP_OPTIONS = dict(TCP_NODELAY=1, TCP_MAXSEG=2, TCP_CORK=3, TCP_KEEPIDLE=4, TCP_KEEPINTVL=5, TCP_KEEPCNT=6,
                   TCP_SYNCNT=7, TCP_LINGER2=8, TCP_DEFER_ACCEPT=9, TCP_WINDOW_CLAMP=10, TCP_INFO=11,
                   TCP_QUICKACK=12, TCP_CONGESTION=13, TCP_USER_TIMEOUT=18, TCP_FASTOPEN=23,
                   TCP_NOTSENT_LOWAT=25)
# include/uapi/linux/capability.h
CAPABILITIES = {f"CAP_{n}": i for i, n in enumerate((
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE"))}
# include/uapi/linux/ptrace.h
PTRACE_OPS = dict(
    PTRACE_TRACEME=0, PTRACE_PEEKTEXT=1, PTRACE_PEEKDATA=2, PTRACE_PEEKUSER=3, PTRACE_POKETEXT=4,
    PTRACE_POKEDATA=5, PTRACE_POKEUSER=6, PTRACE_CONT=7, PTRACE_KILL=8, PTRACE_SINGLESTEP=9, PTRACE_GETREGS=12,
    PTRACE_SETREGS=13, PTRACE_GETFPREGS=14, PTRACE_SETFPREGS=15, PTRACE_ATTACH=16, PTRACE_DETACH=17,
    PTRACE_SYSCALL=24, PTRACE_SETOPTIONS=0x4200, PTRACE_GETEVENTMSG=0x4201, PTRACE_GETSIGINFO=0x4202,
    PTRACE_SETSIGINFO=0x4203, PTRACE_GETREGSET=0x4204, PTRACE_SETREGSET=0x4205, PTRACE_SEIZE=0x4206,
    PTRACE_INTERRUPT=0x4207, PTRACE_LISTEN=0x4208, PTRACE_PEEKSIGINFO=0x4209, PTRACE_GETSIGMASK=0x420A,
    PTRACE_SETSIGMASK=0x420B, PTRACE_SECCOMP_GET_FILTER=0x420C, PTRACE_GET_SYSCALL_INFO=0x420E,
)
# include/uapi/linux/mount.h
MOUNT_FLAGS = dict(
    MS_RDONLY=1, MS_NOSUID=2, MS_NODEV=4, MS_NOEXEC=8, MS_SYNCHRONOUS=16, MS_REMOUNT=32, MS_MANDLOCK=64,
    MS_DIRSYNC=128, MS_NOSYMFOLLOW=256, MS_NOATIME=1024, MS_NODIRATIME=2048, MS_BIND=4096, MS_MOVE=8192,
    MS_REC=16384, MS_SILENT=32768, MS_POSIXACL=1 << 16, MS_UNBINDABLE=1 << 17, MS_PRIVATE=1 << 18,
    MS_SLAVE=1 << 19, MS_SHARED=1 << 20, MS_RELATIME=1 << 21, MS_KERNMOUNT=1 << 22, MS_I_VERSION=1 << 23,
    MS_STRICTATIME=1 << 24, MS_LAZYTIME=1 << 25,
)
# the mode_t of chmod, mkdir, mknod, umask: a file type, then the permission bits in octal
# struct statfs's f_type: strace's src/xlat/fsmagic.in (include/uapi/linux/magic.h)
FS_MAGICS = dict(QNX4_SUPER_MAGIC=0x0000002f, Z3FOLD_MAGIC=0x00000033, AUTOFS_SUPER_MAGIC=0x00000187,
    DEVFS_SUPER_MAGIC=0x00001373, EXT_SUPER_MAGIC=0x0000137d, MINIX_SUPER_MAGIC=0x0000137f,
    MINIX_SUPER_MAGIC2=0x0000138f, DEVPTS_SUPER_MAGIC=0x00001cd1, MINIX2_SUPER_MAGIC=0x00002468,
    MINIX2_SUPER_MAGIC2=0x00002478, NILFS_SUPER_MAGIC=0x00003434, HFS_SUPER_MAGIC=0x00004244,
    HFSPLUS_SUPER_MAGIC=0x0000482b, MSDOS_SUPER_MAGIC=0x00004d44, MINIX3_SUPER_MAGIC=0x00004d5a,
    SMB_SUPER_MAGIC=0x0000517b, NCP_SUPER_MAGIC=0x0000564c, EXOFS_SUPER_MAGIC=0x00005df5, NFS_SUPER_MAGIC=0x00006969,
    ROMFS_MAGIC=0x00007275, JFFS2_SUPER_MAGIC=0x000072b6, ISOFS_SUPER_MAGIC=0x00009660, PROC_SUPER_MAGIC=0x00009fa0,
    OPENPROM_SUPER_MAGIC=0x00009fa1, USBDEVICE_SUPER_MAGIC=0x00009fa2, ADFS_SUPER_MAGIC=0x0000adf5,
    AFFS_SUPER_MAGIC=0x0000adff, EXT2_OLD_SUPER_MAGIC=0x0000ef51, EXT2_SUPER_MAGIC=0x0000ef53,
    ECRYPTFS_SUPER_MAGIC=0x0000f15f, UFS_MAGIC=0x00011954, CGROUP_SUPER_MAGIC=0x0027e0eb, EFS_SUPER_MAGIC=0x00414a53,
    HOSTFS_SUPER_MAGIC=0x00c0ffee, CEPH_SUPER_MAGIC=0x00c36400, TMPFS_MAGIC=0x01021994, V9FS_MAGIC=0x01021997,
    GFS2_MAGIC=0x01161970, XIAFS_SUPER_MAGIC=0x012fd16d, XENIX_SUPER_MAGIC=0x012ff7b4, SYSV4_SUPER_MAGIC=0x012ff7b5,
    SYSV2_SUPER_MAGIC=0x012ff7b6, COH_SUPER_MAGIC=0x012ff7b7, SHMFS_SUPER_MAGIC=0x02011994,
    ANON_INODE_FS_MAGIC=0x09041934, FUTEXFS_SUPER_MAGIC=0x0bad1dea, LL_SUPER_MAGIC=0x0bd00bd0,
    LUSTRE_SUPER_MAGIC=0x0bd00bd1, MTD_INODE_FS_MAGIC=0x11307854, BALLOON_KVM_MAGIC=0x13661366,
    UDF_SUPER_MAGIC=0x15013346, BFS_MAGIC=0x1badface, EXFAT_SUPER_MAGIC=0x2011bab0, UBIFS_SUPER_MAGIC=0x24051905,
    CRAMFS_MAGIC=0x28cd3d45, ZFS_SUPER_MAGIC=0x2fc12fc1, JFS_SUPER_MAGIC=0x3153464a, BEFS_SUPER_MAGIC=0x42465331,
    BINFMTFS_MAGIC=0x42494e4d, SMACK_MAGIC=0x43415d53, DMA_BUF_MAGIC=0x444d4142, CRAMFS_MAGIC_WEND=0x453dcd28,
    DEVMEM_MAGIC=0x454d444d, GPFS_SUPER_MAGIC=0x47504653, PID_FS_MAGIC=0x50494446, PIPEFS_MAGIC=0x50495045,
    REISERFS_SUPER_MAGIC=0x52654973, SECRETMEM_MAGIC=0x5345434d, AFS_SUPER_MAGIC=0x5346414f,
    NTFS_SB_MAGIC=0x5346544e, SOCKFS_MAGIC=0x534f434b, UFS_CIGAM=0x54190100, VZFS_SUPER_MAGIC=0x565a4653,
    STACK_END_MAGIC=0x57ac6e9d, ZSMALLOC_MAGIC=0x58295829, XFS_SUPER_MAGIC=0x58465342, AAFS_MAGIC=0x5a3c69f0,
    ZONEFS_MAGIC=0x5a4f4653, PSTOREFS_MAGIC=0x6165676c, AUFS_SUPER_MAGIC=0x61756673, BDEVFS_MAGIC=0x62646576,
    CONFIGFS_MAGIC=0x62656570, SYSFS_MAGIC=0x62656572, CGROUP2_SUPER_MAGIC=0x63677270, DEBUGFS_MAGIC=0x64626720,
    DAXFS_MAGIC=0x64646178, FUSE_CTL_SUPER_MAGIC=0x65735543, FUSE_SUPER_MAGIC=0x65735546,
    QNX6_SUPER_MAGIC=0x68191122, AFS_FS_MAGIC=0x6b414653, BINDERFS_SUPER_MAGIC=0x6c6f6f70, NSFS_MAGIC=0x6e736673,
    SECURITYFS_MAGIC=0x73636673, SQUASHFS_MAGIC=0x73717368, BTRFS_TEST_MAGIC=0x73727279, CODA_SUPER_MAGIC=0x73757245,
    OCFS2_SUPER_MAGIC=0x7461636f, TRACEFS_MAGIC=0x74726163, OVERLAYFS_SUPER_MAGIC=0x794c7630, RAMFS_MAGIC=0x858458f6,
    BTRFS_SUPER_MAGIC=0x9123683e, HUGETLBFS_MAGIC=0x958458f6, VXFS_SUPER_MAGIC=0xa501fcf5,
    XENFS_SUPER_MAGIC=0xabba1974, PPC_CMM_MAGIC=0xc7571590, LOGFS_MAGIC=0xc97e8168, BCACHEFS_SUPER_MAGIC=0xca451a4e,
    BPF_FS_MAGIC=0xcafe4a11, EFIVARFS_MAGIC=0xde5e81e4, EROFS_SUPER_MAGIC_V1=0xe0f5e1e2, F2FS_SUPER_MAGIC=0xf2f52010,
    SELINUX_MAGIC=0xf97cff8c, HPFS_SUPER_MAGIC=0xf995e849, SMB2_SUPER_MAGIC=0xfe534d42, CIFS_SUPER_MAGIC=0xff534d42)
_MODE = dict(field=0o170000, values=FILE_TYPES, rest="oct")

KINDS: dict = {
    "at_flags": _bits(**AT_FLAGS),
    # faccessat2(2): AT_EACCESS is AT_REMOVEDIR's bit
    "faccessat_flags": _bits(AT_SYMLINK_NOFOLLOW=0x100, AT_EACCESS=0x200, AT_EMPTY_PATH=0x1000),
    # statx(2): the sync type (a field) always shown, as strace shows it
    "statx_flags": _bits(field=0x6000, values=dict(AT_STATX_SYNC_AS_STAT=0, AT_STATX_FORCE_SYNC=0x2000,
                                                  AT_STATX_DONT_SYNC=0x4000), **AT_FLAGS),
    "statx_mask": _bits(**STATX_MASK),
    "access_mode": _bits(zero="F_OK", R_OK=4, W_OK=2, X_OK=1),
    # preadv2(2), pwritev2(2): include/uapi/linux/fs.h RWF_*
    "rwf_flags": _bits(RWF_HIPRI=0x1, RWF_DSYNC=0x2, RWF_SYNC=0x4, RWF_NOWAIT=0x8, RWF_APPEND=0x10),
    "mode_t": _bits(zero="000", **_MODE),
    # open(2)'s mode: 0 (no O_CREAT, where strace prints nothing) stays 0
    "open_mode": _bits(**_MODE),
    # O_* with the access mode as a field (O_RDONLY is no bit), in strace's order
    # (its xlat/open_mode_flags.in: O_SYNC before __O_SYNC, O_TMPFILE before O_DIRECTORY)
    "open_flags": _bits(field=0o3, values=dict(O_RDONLY=0, O_WRONLY=1, O_RDWR=2, O_ACCMODE=3),
                        O_CREAT=0o100, O_EXCL=0o200, O_NOCTTY=0o400, O_TRUNC=0o1000, O_APPEND=0o2000,
                        O_NONBLOCK=0o4000, O_SYNC=0o4010000, __O_SYNC=0o4000000, O_DSYNC=0o10000,
                        O_DIRECT=0o40000, O_LARGEFILE=0o100000, O_NOFOLLOW=0o400000, O_NOATIME=0o1000000,
                        O_CLOEXEC=0o2000000, O_PATH=0o10000000, O_TMPFILE=0o20200000, __O_TMPFILE=0o20000000,
                        O_DIRECTORY=0o200000, FASYNC=0o20000),
    "unshare_flags": _bits(64, **UNSHARE_FLAGS),
    "mmap_prot": _bits(64, zero="PROT_NONE", **PROT_FLAGS),
    "mmap_flags": _bits(64, field=0xF, values={v: k for k, v in MAP_TYPES.items()}, **MAP_FLAGS),
    "clockid": _enum(dflt="CLOCK_???", **CLOCKS),
    "ioctl_op": _enum(32, False, other="i", **IOCTLS),
    "fcntl_op": _enum(dflt="F_???", **FCNTL_CMDS),
    "fd_flags": _bits(FD_CLOEXEC=1),
    "seek_whence": _enum(32, False, dflt="SEEK_???", SEEK_SET=0, SEEK_CUR=1, SEEK_END=2, SEEK_DATA=3, SEEK_HOLE=4),
    "address_family": _enum(dflt="AF_???", **ADDRESS_FAMILIES),
    "socket_type": _bits(field=0xF, values=SOCK_TYPES, dflt="SOCK_???", SOCK_CLOEXEC=0o2000000, SOCK_NONBLOCK=0o4000),
    "ip_protocol": _enum(dflt="IPPROTO_???", **IP_PROTOCOLS),
    "netlink_protocol": _enum(dflt="NETLINK_???", **NETLINK_PROTOCOLS),
    "wait_options": _bits(dflt="W???", **WAIT_OPTIONS),
    "sigprocmask_how": _enum(dflt="SIG_???", SIG_BLOCK=0, SIG_UNBLOCK=1, SIG_SETMASK=2),
    "futex_op": _bits(field=0xFF, values=FUTEX_OPS, dflt="FUTEX_???", FUTEX_CLOCK_REALTIME=0x100),
    "madvise_advice": _enum(dflt="MADV_???", **MADVISE),
    "prctl_op": _enum(dflt="PR_???", **PRCTL_OPS),
    "arch_prctl_op": _enum(dflt="ARCH_???", **ARCH_PRCTL_OPS),
    "rlimit_resource": _enum(32, False, dflt="RLIMIT_???", **RLIMITS),
    "getrandom_flags": _bits(GRND_NONBLOCK=1, GRND_RANDOM=2, GRND_INSECURE=4),
    # the CLOEXEC/NONBLOCK words of the calls that make an fd, each as strace names it
    "pipe_flags": _bits(O_NONBLOCK=0o4000, O_DIRECT=0o40000, O_CLOEXEC=0o2000000, O_NOTIFICATION_PIPE=0o200),
    "epoll_flags": _bits(EPOLL_CLOEXEC=0o2000000),
    "eventfd_flags": _bits(EFD_SEMAPHORE=1, EFD_CLOEXEC=0o2000000, EFD_NONBLOCK=0o4000),
    "inotify_flags": _bits(IN_CLOEXEC=0o2000000, IN_NONBLOCK=0o4000),
    "signalfd_flags": _bits(dflt="SFD_???", SFD_CLOEXEC=0o2000000, SFD_NONBLOCK=0o4000),
    "timerfd_flags": _bits(TFD_CLOEXEC=0o2000000, TFD_NONBLOCK=0o4000),
    "memfd_flags": _bits(MFD_CLOEXEC=1, MFD_ALLOW_SEALING=2, MFD_HUGETLB=4, MFD_NOEXEC_SEAL=8, MFD_EXEC=0x10),
    "timer_flags": _bits(TIMER_ABSTIME=1),
    "timerfd_settime_flags": _bits(TFD_TIMER_ABSTIME=1, TFD_TIMER_CANCEL_ON_SET=2),
    "epoll_op": _enum(dflt="EPOLL_CTL_???", EPOLL_CTL_ADD=1, EPOLL_CTL_DEL=2, EPOLL_CTL_MOD=3),
    "fadvise_advice": _enum(dflt="POSIX_FADV_???", POSIX_FADV_NORMAL=0, POSIX_FADV_RANDOM=1, POSIX_FADV_SEQUENTIAL=2,
                            POSIX_FADV_WILLNEED=3, POSIX_FADV_DONTNEED=4, POSIX_FADV_NOREUSE=5),
    "shutdown_how": _enum(dflt="SHUT_???", SHUT_RD=0, SHUT_WR=1, SHUT_RDWR=2),
    "flock_op": _bits(LOCK_SH=1, LOCK_EX=2, LOCK_NB=4, LOCK_UN=8),
    "msg_flags": _bits(**MSG_FLAGS),
    "msync_flags": _bits(MS_ASYNC=1, MS_INVALIDATE=2, MS_SYNC=4),
    "mremap_flags": _bits(MREMAP_MAYMOVE=1, MREMAP_FIXED=2, MREMAP_DONTUNMAP=4),
    "mlock_flags": _bits(MLOCK_ONFAULT=1),
    "rename_flags": _bits(RENAME_NOREPLACE=1, RENAME_EXCHANGE=2, RENAME_WHITEOUT=4),
    "close_range_flags": _bits(CLOSE_RANGE_UNSHARE=2, CLOSE_RANGE_CLOEXEC=4),
    "mount_flags": _bits(64, **MOUNT_FLAGS),
    "umount_flags": _bits(MNT_FORCE=1, MNT_DETACH=2, MNT_EXPIRE=4, UMOUNT_NOFOLLOW=8),
    "setns_type": _bits(**{k: v for k, v in CLONE_FLAGS.items() if k.startswith("CLONE_NEW")}),
    "sched_policy": _enum(dflt="SCHED_???", SCHED_OTHER=0, SCHED_FIFO=1, SCHED_RR=2, SCHED_BATCH=3, SCHED_IDLE=5,
                          SCHED_DEADLINE=6, SCHED_EXT=7),
    "sockopt_level": _enum(dflt="SOL_??", SOL_IP=0, SOL_SOCKET=1, SOL_TCP=6, SOL_UDP=17, SOL_IPV6=41, SOL_ICMPV6=58,
                           SOL_RAW=255, SOL_NETLINK=270, SOL_PACKET=263, SOL_ALG=279),
    "sockopt_socket": _enum(dflt="SO_???", **SOCKET_OPTIONS),
    "sockopt_tcp": _enum(dflt="TCP_???", **TCP_OPTIONS),
    # include/uapi/linux/netlink.h, strace's xlat/sock_netlink_options.in
    "sockopt_netlink": _enum(dflt="NETLINK_???", NETLINK_ADD_MEMBERSHIP=1, NETLINK_DROP_MEMBERSHIP=2,
                             NETLINK_PKTINFO=3, NETLINK_BROADCAST_ERROR=4, NETLINK_NO_ENOBUFS=5, NETLINK_RX_RING=6,
                             NETLINK_TX_RING=7, NETLINK_LISTEN_ALL_NSID=8, NETLINK_LIST_MEMBERSHIPS=9,
                             NETLINK_CAP_ACK=10, NETLINK_EXT_ACK=11, NETLINK_GET_STRICT_CHK=12),
    # setsockopt(2)'s optname, by its level
    "sockopt_name": Switch("level", {1: "sockopt_socket", 6: "sockopt_tcp", 270: "sockopt_netlink"}, "int"),
    "priority_which": _enum(dflt="PRIO_???", PRIO_PROCESS=0, PRIO_PGRP=1, PRIO_USER=2),
    "itimer_which": _enum(dflt="ITIMER_???", ITIMER_REAL=0, ITIMER_VIRTUAL=1, ITIMER_PROF=2),
    "rusage_who": _enum(dflt="RUSAGE_???", RUSAGE_SELF=0, RUSAGE_CHILDREN=-1, RUSAGE_THREAD=1),
    "waitid_type": _enum(dflt="P_???", P_ALL=0, P_PID=1, P_PGID=2, P_PIDFD=3),
    "ptrace_op": _enum(64, True, dflt="PTRACE_???", **PTRACE_OPS),
    "seccomp_op": _enum(32, False, dflt="SECCOMP_SET_MODE_???", SECCOMP_SET_MODE_STRICT=0, SECCOMP_SET_MODE_FILTER=1,
                        SECCOMP_GET_ACTION_AVAIL=2, SECCOMP_GET_NOTIF_SIZES=3),
    "capability": _enum(dflt="CAP_???", **CAPABILITIES),
    # prctl PR_GET/SET_SPECULATION_CTRL's second argument (strace's xlat/pr_spec_cmds.in)
    "pr_spec_cmd": _enum(64, False, dflt="PR_SPEC_???", PR_SPEC_STORE_BYPASS=0, PR_SPEC_INDIRECT_BRANCH=1,
                         PR_SPEC_L1D_FLUSH=2),
    "cap_ambient_op": _enum(dflt="PR_CAP_AMBIENT_???", PR_CAP_AMBIENT_IS_SET=1, PR_CAP_AMBIENT_RAISE=2,
                            PR_CAP_AMBIENT_LOWER=3,
                            PR_CAP_AMBIENT_CLEAR_ALL=4),
    # numbers strace prints in hex (its PRINT_VAL_X: 0 is 0): mmap's offset, rseq's length and signature
    "hex64": _bits(64),
    "hex32": _bits(32),
    # futex(2)'s val3: a bitset of FUTEX_WAIT_BITSET/FUTEX_WAKE_BITSET (strace's futexbitset)
    "futex_bitset": _enum(32, False, other="x", FUTEX_BITSET_MATCH_ANY=0xFFFFFFFF),
    "futex_val3": Switch("futex_op", {FUTEX_OPS["FUTEX_WAIT_BITSET"]: "futex_bitset",
                                      FUTEX_OPS["FUTEX_WAKE_BITSET"]: "futex_bitset"}, "uint", mask=0x7F),
    # prctl(2)'s second argument, by its op
    "prctl_arg2": Switch("op", {PRCTL_OPS["PR_CAPBSET_READ"]: "capability", PRCTL_OPS["PR_CAPBSET_DROP"]: "capability",
                                PRCTL_OPS["PR_SET_PDEATHSIG"]: "signo", PRCTL_OPS["PR_CAP_AMBIENT"]: "cap_ambient_op",
                                PRCTL_OPS["PR_SET_NAME"]: "comm_in", PRCTL_OPS["PR_GET_NAME"]: "comm_out",
                                # printnum_int: [0], NULL; and those strace prints as more than an address
                                **{PRCTL_OPS[n]: "int_out" for n in ("PR_GET_CHILD_SUBREAPER", "PR_GET_ENDIAN",
                                                                    "PR_GET_FPEMU", "PR_GET_FPEXC")},
                                **{PRCTL_OPS[n]: "ptr" for n in ("PR_GET_PDEATHSIG", "PR_GET_TSC", "PR_GET_UNALIGN",
                                                                "PR_GET_TID_ADDRESS")},
                                PRCTL_OPS["PR_GET_SPECULATION_CTRL"]: "pr_spec_cmd",
                                PRCTL_OPS["PR_SET_SPECULATION_CTRL"]: "pr_spec_cmd"},
                         "ulong"),
    # ioctl(2)'s argument, by its request: the int strace prints ([1]), else the address
    "ioctl_arg": Switch("op", {IOCTLS["FIONBIO"]: "int_in", IOCTLS["FIOASYNC"]: "int_in",
                               IOCTLS["FIONREAD"]: "int_out"}, "ptr"),
    # fcntl(2)'s third argument, by its op
    "fcntl_arg": Switch("op", {FCNTL_CMDS["F_SETFD"]: "fd_flags", FCNTL_CMDS["F_SETFL"]: "open_flags",
                               FCNTL_CMDS["F_DUPFD"]: "fd", FCNTL_CMDS["F_DUPFD_CLOEXEC"]: "fd",
                               FCNTL_CMDS["F_SETSIG"]: "signo", FCNTL_CMDS["F_SETOWN"]: "pid",
                               **{FCNTL_CMDS[n]: "flock_in" for n in ("F_SETLK", "F_SETLKW", "F_OFD_SETLK",
                                                                     "F_OFD_SETLKW")},
                               FCNTL_CMDS["F_GETLK"]: "flock_out", FCNTL_CMDS["F_OFD_GETLK"]: "flock_out"}, "hex64"),
    # struct sigaction's sa_flags (include/uapi/asm-generic/signal-defs.h,
    # arch/x86): in strace's order (its xlat/sigact_flags.in)
    # socket(2)'s protocol, by its domain
    "socket_protocol": Switch("domain", {ADDRESS_FAMILIES["AF_INET"]: "ip_protocol",
                                         ADDRESS_FAMILIES["AF_INET6"]: "ip_protocol",
                                         ADDRESS_FAMILIES["AF_NETLINK"]: "netlink_protocol"}, "int"),
}

# --- the arguments strace prints of a call ------------------------------------------

class Shown(NamedTuple):
    """The arguments strace prints of a call whose other arguments the
    kernel ignores, chosen by one argument's value: `on`'s value & `mask`
    is looked up in `cases` (value -> argument names, in order), else
    `default` (None: every argument).  The tracer's lines and JSON leave
    out the others (decode.args, for handlers, keeps them all);
    trace_gen.py writes each as a C row of bitmasks, as kind tables are."""
    on: str
    mask: int
    cases: dict
    default: Optional[tuple] = None


def _ops(names: tuple, table: dict, shown: tuple) -> dict:
    return {table[n]: shown for n in names}


_FUTEX_SHOWN = {   # strace's futex.c, by the command (futex_op & 0x7f)
    **_ops(("FUTEX_WAIT",), FUTEX_OPS, ("uaddr", "futex_op", "val", "timeout")),
    **_ops(("FUTEX_WAKE", "FUTEX_FD"), FUTEX_OPS, ("uaddr", "futex_op", "val")),
    **_ops(("FUTEX_LOCK_PI", "FUTEX_LOCK_PI2"), FUTEX_OPS, ("uaddr", "futex_op", "timeout")),
    **_ops(("FUTEX_UNLOCK_PI", "FUTEX_TRYLOCK_PI"), FUTEX_OPS, ("uaddr", "futex_op")),
    **_ops(("FUTEX_WAIT_BITSET",), FUTEX_OPS, ("uaddr", "futex_op", "val", "timeout", "val3")),
    **_ops(("FUTEX_WAKE_BITSET",), FUTEX_OPS, ("uaddr", "futex_op", "val", "val3")),
    **_ops(("FUTEX_REQUEUE", "FUTEX_WAIT_REQUEUE_PI"), FUTEX_OPS, ("uaddr", "futex_op", "val", "timeout", "uaddr2")),
}
_OPEN_MODE = OPEN_FLAGS["O_CREAT"] | OPEN_FLAGS["__O_TMPFILE"]     # strace prints the mode only with these
SHOWN = {
    "open": Shown("flags", _OPEN_MODE, {0: ("path", "flags")}),
    "openat": Shown("flags", _OPEN_MODE, {0: ("dirfd", "path", "flags")}),
    # strace's fcntl.c: the F_GET* ops that take no argument
    "fcntl": Shown("op", 0xFFFFFFFF, _ops(("F_GETFD", "F_GETFL", "F_GETOWN", "F_GETSIG", "F_GETLEASE",
                                           "F_GETPIPE_SZ", "F_GET_SEALS"), FCNTL_CMDS, ("fd", "op"))),
    "futex": Shown("futex_op", 0x7F, _FUTEX_SHOWN),
    # strace's io.c: the offset is pos_l alone on a 64-bit kernel (pos_h unused)
    "preadv": Shown("iovcnt", 0, {0: ("fd", "iov", "iovcnt", "pos_l")}),
    "pwritev": Shown("iovcnt", 0, {0: ("fd", "iov", "iovcnt", "pos_l")}),
    "preadv2": Shown("iovcnt", 0, {0: ("fd", "iov", "iovcnt", "pos_l", "flags")}),
    "pwritev2": Shown("iovcnt", 0, {0: ("fd", "iov", "iovcnt", "pos_l", "flags")}),
    # strace's mem.c: new_address only when both MREMAP_MAYMOVE and MREMAP_FIXED are set
    "mremap": Shown("flags", 3, {3: None}, ("old_address", "old_size", "new_size", "flags")),
    # strace's mknod.c: the device only for a character or block special file
    "mknod": Shown("mode", 0o170000, {0o020000: None, 0o060000: None}, ("path", "mode")),
    "mknodat": Shown("mode", 0o170000, {0o020000: None, 0o060000: None}, ("dirfd", "path", "mode")),
    # strace's prctl.c: the options that print no argument, and those that print one
    "prctl": Shown("op", 0xFFFFFFFF, {
        **_ops(("PR_GET_KEEPCAPS", "PR_GET_SECCOMP", "PR_GET_TIMERSLACK", "PR_GET_TIMING", "PR_GET_DUMPABLE",
                "PR_GET_SECUREBITS", "PR_TASK_PERF_EVENTS_DISABLE", "PR_TASK_PERF_EVENTS_ENABLE"), PRCTL_OPS, ("op",)),
        **_ops(("PR_SET_CHILD_SUBREAPER", "PR_SET_ENDIAN", "PR_SET_FPEMU", "PR_SET_FPEXC", "PR_SET_KEEPCAPS",
                "PR_SET_TIMING", "PR_SET_DUMPABLE", "PR_CAPBSET_DROP", "PR_CAPBSET_READ", "PR_SET_NAME",
                "PR_SET_PDEATHSIG", "PR_SET_SECUREBITS", "PR_SET_TIMERSLACK", "PR_SET_TSC", "PR_SET_UNALIGN",
                "PR_SET_FP_MODE", "PR_GET_CHILD_SUBREAPER", "PR_GET_ENDIAN", "PR_GET_FPEMU", "PR_GET_FPEXC",
                "PR_GET_NAME", "PR_GET_PDEATHSIG", "PR_GET_TID_ADDRESS", "PR_GET_TSC", "PR_GET_UNALIGN",
                "PR_GET_SPECULATION_CTRL"),
              PRCTL_OPS, ("op", "arg2"))}),
}


class Result(NamedTuple):
    """How strace prints a result beyond its number: "named" (the number and
    its name: 1 (SUID_DUMP_USER), RVAL_STR), "hexnamed" (in hex and its names:
    0x2 (PR_SPEC_ENABLE), RVAL_HEX|RVAL_STR; 0 alone unless `kind` names 0),
    "octal" (umask's 022, its
    RVAL_OCTAL), "flags" (fcntl F_GETFL's 0x8001 (flags O_WRONLY|O_LARGEFILE),
    RVAL_HEX|RVAL_STR with the names of `kind`), "flags0" (the same, but 0 alone:
    F_GETFD), "hex" (an address: brk, mmap; RVAL_HEX: 0x1c6b000, 0 is 0).
    RESULTS maps a syscall to one, or to a ResultBy; a call whose signature
    returns an address (-> addr) is "hex"."""
    form: str
    kind: Optional[str] = None


class ResultBy(NamedTuple):
    """The Result chosen by argument `on`'s value (fcntl's op), else none."""
    on: str
    cases: dict


RESULTS = {
    "umask": Result("octal"),
    "sched_getscheduler": Result("named", "sched_policy"),
    # strace's RVAL_STR results: the signal taken (12 (SIGUSR2)), prctl's dumpable mode
    "rt_sigtimedwait": Result("named", "signal_names"),
    # and its RVAL_HEX|RVAL_STR ones (0x2 (PR_SPEC_ENABLE); 0 alone unless the kind names 0)
    "prctl": ResultBy("op", {PRCTL_OPS["PR_GET_DUMPABLE"]: Result("named", "suid_dump"),
                             PRCTL_OPS["PR_MCE_KILL_GET"]: Result("named", "mce_kill_policy"),
                             PRCTL_OPS["PR_GET_SECUREBITS"]: Result("hexnamed", "secbits"),
                             PRCTL_OPS["PR_GET_SPECULATION_CTRL"]: Result("hexnamed", "spec_flags")}),
    "fcntl": ResultBy("op", {FCNTL_CMDS["F_GETFL"]: Result("flags", "open_flags"),
                             FCNTL_CMDS["F_GETFD"]: Result("flags0", "fd_flags")}),
}
RESULT_FORMS = {"octal": 1, "flags": 2, "flags0": 3, "hex": 4, "named": 5, "hexnamed": 6}       # trace_fmt.c: RES_*
_HEX_RESULT = Result("hex")


def result_of(sc, raw) -> Optional[Result]:
    """The Result of this call (RESULTS), or None for the number alone."""
    rule = RESULTS.get(sc.name) if sc is not None else None
    if rule is None and sc is not None and sc.returns == "addr":
        return _HEX_RESULT
    if isinstance(rule, ResultBy):
        j = [n for n, _ in sc.params].index(rule.on)
        bits, signed = _INTS[switched(sc.params[j][1], (), ())]
        rule = rule.cases.get(_int(raw[j] if j < len(raw) else 0, bits, signed))
    return rule


def result_text(rule: Optional[Result], value: int) -> str:
    """A call's result as strace prints it (format_result, then `rule`'s form)."""
    v = _int(value, 64, True)
    if rule is None or -4096 < v < 0:
        return format_result(value)
    if rule.form == "octal":       # C's %#03o (strace's RVAL_OCTAL): 000, 022, 0777
        return f"{'0' + format(v & (1 << 64) - 1, 'o'):0>3}"
    if rule.form == "hex":
        return _hex0(v & (1 << 64) - 1)
    if rule.form == "flags0" and v == 0:
        return "0"
    if rule.form == "named":        # the number, then its name when the kind has one: 12 (SIGUSR2)
        name = kind_text(KINDS.get(rule.kind) or FIELD_KINDS[rule.kind], v)
        return f"{v} ({name})" if isinstance(name, Flags) else str(v)
    if rule.form == "hexnamed":     # the number in hex, then its names: 0x2 (PR_SPEC_ENABLE); 0 alone unless named
        k = KINDS.get(rule.kind) or FIELD_KINDS[rule.kind]
        if v == 0 and k.zero == "0":
            return "0"
        return f"{_hex0(v & (1 << 64) - 1)} ({kind_text(k, v)})"
    return f"{_hex0(v & (1 << 64) - 1)} (flags {kind_text(KINDS[rule.kind], v)})"


class Named(NamedTuple):
    """A call strace prints as name=value in an order of its own (clone(2):
    child_stack=NULL, flags=...|SIGCHLD, child_tidptr=0x7f...): each (strace's
    name, the argument, the bits of argument `on` that show it, 0: always).
    Only the text has strace's names; JSON keeps the signature's, in this order."""
    on: str
    args: tuple


_C = CLONE_FLAGS
NAMED = {
    "clone": Named("flags", (("child_stack", "stack", 0), ("flags", "flags", 0),
                             ("parent_tid", "parent_tid", _C["CLONE_PARENT_SETTID"] | _C["CLONE_PIDFD"]),
                             ("tls", "tls", _C["CLONE_SETTLS"]),
                             ("child_tidptr", "child_tid", _C["CLONE_CHILD_SETTID"] | _C["CLONE_CHILD_CLEARTID"]))),
}


def named(sc, raw) -> Optional[list]:
    """[(strace's name, argument index)] of a call strace prints as name=value (NAMED), else None."""
    rule = NAMED.get(sc.name) if sc is not None else None
    if rule is None:
        return None
    names = [n for n, _ in sc.params]
    on = raw[names.index(rule.on)] if names.index(rule.on) < len(raw) else 0
    return [(label, names.index(arg)) for label, arg, bits in rule.args if not bits or on & bits]


def shown(sc, raw) -> Optional[tuple]:
    """The indexes of the arguments strace prints of this call (SHOWN), or
    None for every one."""
    rule = SHOWN.get(sc.name)
    if rule is None:
        return None
    names = [n for n, _ in sc.params]
    j = names.index(rule.on)
    bits, signed = _INTS[switched(sc.params[j][1], (), ())]
    v = _int(raw[j] if j < len(raw) else 0, bits, signed) & rule.mask
    keep = rule.cases.get(v, rule.default)
    return None if keep is None else tuple(names.index(n) for n in keep)


# the kinds of structures' fields (not of a signature's registers): printed by
# name in the structures strace prints field by field (struct_fields, trace_fmt.c)
FIELD_KINDS: dict = {
    # struct clone_args' flags (clone3): clone(2)'s, then strace's xlat/clone3_flags.in
    "clone3_flags": _bits(64, **CLONE_FLAGS, CLONE_NEWTIME=0x80, CLONE_CLEAR_SIGHAND=1 << 32,
                          CLONE_INTO_CGROUP=1 << 33),
    # struct flock's l_type (include/uapi/asm-generic/fcntl.h), strace's xlat/lockfcmds.in
    "lock_type": _enum(32, False, dflt="F_???", F_RDLCK=0, F_WRLCK=1, F_UNLCK=2, F_EXLCK=4, F_SHLCK=8),
    "statx_attrs": _bits(64, STATX_ATTR_COMPRESSED=0x4, STATX_ATTR_IMMUTABLE=0x10, STATX_ATTR_APPEND=0x20,
                         STATX_ATTR_NODUMP=0x40, STATX_ATTR_ENCRYPTED=0x800, STATX_ATTR_AUTOMOUNT=0x1000,
                         STATX_ATTR_MOUNT_ROOT=0x2000, STATX_ATTR_VERITY=0x100000, STATX_ATTR_DAX=0x200000),
    # a wait status's ptrace event (include/uapi/linux/ptrace.h), strace's xlat/ptrace_events.in
    "ptrace_event": _enum(32, False, other="x", PTRACE_EVENT_FORK=1, PTRACE_EVENT_VFORK=2, PTRACE_EVENT_CLONE=3,
                          PTRACE_EVENT_EXEC=4, PTRACE_EVENT_VFORK_DONE=5, PTRACE_EVENT_EXIT=6,
                          PTRACE_EVENT_SECCOMP=7, PTRACE_EVENT_STOP=128),
    "sigaction_flags": _bits(64, SA_RESTORER=0x04000000, SA_ONSTACK=0x08000000, SA_RESTART=0x10000000,
                             SA_INTERRUPT=0x20000000, SA_NODEFER=0x40000000, SA_RESETHAND=0x80000000,
                             SA_SIGINFO=4, SA_NOCLDSTOP=1, SA_NOCLDWAIT=2),
    # struct sigaction's sa_handler: these three by name, else the address
    "sa_handler": _enum(64, False, other="x", SIG_DFL=0, SIG_IGN=1, SIG_ERR=(1 << 64) - 1),
    # a signal as a result names it (rt_sigtimedwait's), decode._named(SIGNALS)'s first name
    "signal_names": _enum(**{n: v for v, n in sorted({v: n for n, v in reversed(list(SIGNALS.items()))}.items())}),
    # struct sigevent's sigev_notify (include/uapi/asm-generic/siginfo.h)
    "sigev_notify": _enum(dflt="SIGEV_???", SIGEV_SIGNAL=0, SIGEV_NONE=1, SIGEV_THREAD=2, SIGEV_THREAD_ID=4),
    # prctl PR_GET_DUMPABLE's result (include/linux/sched/coredump.h), strace's xlat/pr_dumpable.in
    # prctl's results (include/uapi/linux/prctl.h, securebits.h; strace's xlat/pr_mce_kill_policy.in,
    # secbits.in, pr_spec_get_store_bypass_flags.in)
    "mce_kill_policy": _enum(PR_MCE_KILL_LATE=0, PR_MCE_KILL_EARLY=1, PR_MCE_KILL_DEFAULT=2),
    "secbits": _bits(dflt="SECBIT_???", SECBIT_NOROOT=1, SECBIT_NOROOT_LOCKED=2, SECBIT_NO_SETUID_FIXUP=4,
                     SECBIT_NO_SETUID_FIXUP_LOCKED=8, SECBIT_KEEP_CAPS=0x10, SECBIT_KEEP_CAPS_LOCKED=0x20,
                     SECBIT_NO_CAP_AMBIENT_RAISE=0x40, SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED=0x80),
    "spec_flags": _bits(zero="PR_SPEC_NOT_AFFECTED", dflt="PR_SPEC_???", PR_SPEC_PRCTL=1, PR_SPEC_ENABLE=2,
                        PR_SPEC_DISABLE=4, PR_SPEC_FORCE_DISABLE=8, PR_SPEC_DISABLE_NOEXEC=0x10),
    "suid_dump": _enum(SUID_DUMP_DISABLE=0, SUID_DUMP_USER=1, SUID_DUMP_ROOT=2),
    # stack_t's ss_flags (include/uapi/linux/signal.h)
    "ss_flags": _bits(dflt="SS_???", SS_ONSTACK=1, SS_DISABLE=2, SS_AUTODISARM=1 << 31),
    # struct epoll_event's events (include/uapi/linux/eventpoll.h), strace's order
    "epoll_events": _bits(dflt="EPOLL???", EPOLLIN=0x1, EPOLLPRI=0x2, EPOLLOUT=0x4, EPOLLERR=0x8, EPOLLHUP=0x10,
                          EPOLLNVAL=0x20, EPOLLRDNORM=0x40, EPOLLRDBAND=0x80, EPOLLWRNORM=0x100, EPOLLWRBAND=0x200,
                          EPOLLMSG=0x400, EPOLLRDHUP=0x2000, EPOLLEXCLUSIVE=1 << 28, EPOLLWAKEUP=1 << 29,
                          EPOLLONESHOT=1 << 30, EPOLLET=1 << 31),
    # struct statfs's f_type (include/uapi/linux/magic.h), strace's xlat/fsmagic.in; else in hex
    "fs_magic": _enum(64, False, other="x", **FS_MAGICS),
    # struct statfs's f_flags (include/linux/statfs.h), strace's order (xlat/statfs_flags.in)
    "statfs_flags": _bits(64, dflt="ST_???", ST_VALID=0x20, ST_RDONLY=0x1, ST_NOSUID=0x2, ST_NODEV=0x4,
                          ST_NOEXEC=0x8, ST_SYNCHRONOUS=0x10, ST_MANDLOCK=0x40, ST_WRITE=0x80, ST_APPEND=0x100,
                          ST_IMMUTABLE=0x200, ST_NOATIME=0x400, ST_NODIRATIME=0x800, ST_RELATIME=0x1000,
                          ST_NOSYMFOLLOW=0x2000),
    # a cmsghdr's cmsg_level and, at SOL_SOCKET and SOL_IP, its cmsg_type (strace 6.1's xlat/socketlayers.in,
    # scmvals.in, ip_cmsg_types.in)
    "sol_level": _enum(dflt="SOL_???", SOL_IP=0, SOL_SOCKET=1, SOL_TCP=6, SOL_UDP=17, AF_VSOCK=40, SOL_IPV6=41,
                       SOL_ICMPV6=58, SOL_CAN_BASE=100, SOL_CAN_RAW=101, SOL_SCTP=132, SOL_UDPLITE=136, SOL_RAW=255,
                       SOL_IPX=256, SOL_AX25=257, SOL_ATALK=258, SOL_NETROM=259, SOL_ROSE=260, SOL_DECNET=261,
                       SOL_X25=262, SOL_PACKET=263, SOL_ATM=264, SOL_AAL=265, SOL_IRDA=266, SOL_NETBEUI=267,
                       SOL_LLC=268, SOL_DCCP=269, SOL_NETLINK=270, SOL_TIPC=271, SOL_RXRPC=272, SOL_PPPOL2TP=273,
                       SOL_BLUETOOTH=274, SOL_PNPIPE=275, SOL_RDS=276, SOL_IUCV=277, SOL_CAIF=278, SOL_ALG=279,
                       SOL_NFC=280, SOL_KCM=281, SOL_TLS=282, SOL_XDP=283),
    "scm_type": _enum(dflt="SCM_???", SCM_RIGHTS=1, SCM_CREDENTIALS=2, SCM_SECURITY=3, SO_TIMESTAMP_OLD=29,
                      SO_TIMESTAMPNS_OLD=35, SO_TIMESTAMPING_OLD=37, SO_WIFI_STATUS=41, SCM_TIMESTAMPING_OPT_STATS=0x36,
                      SCM_TIMESTAMPING_PKTINFO=0x3a, SO_TXTIME=61, SO_TIMESTAMP_NEW=63, SO_TIMESTAMPNS_NEW=64,
                      SO_TIMESTAMPING_NEW=65),
    "ip_cmsg_type": _enum(dflt="IP_???", IP_TOS=1, IP_TTL=2, SCM_SECURITY=3, IP_RECVOPTS=6, IP_RETOPTS=7,
                          IP_PKTINFO=8, IP_RECVERR=11, IP_ORIGDSTADDR=20, IP_CHECKSUM=23, IP_PROTOCOL=52),
    # struct pollfd's events and revents (include/uapi/asm-generic/poll.h)
    "poll_events": _bits(POLLIN=0x1, POLLPRI=0x2, POLLOUT=0x4, POLLERR=0x8, POLLHUP=0x10, POLLNVAL=0x20,
                         POLLRDNORM=0x40, POLLRDBAND=0x80, POLLWRNORM=0x100, POLLWRBAND=0x200, POLLMSG=0x400,
                         POLLREMOVE=0x1000, POLLRDHUP=0x2000, POLL_BUSY_LOOP=0x8000),
}

# a signal's si_code (include/uapi/asm-generic/siginfo.h): the signal's own
# codes first (CLD_EXITED for SIGCHLD), then those of any signal (SI_USER...)
SI_CODES = _enum(SI_USER=0, SI_KERNEL=0x80, SI_QUEUE=-1, SI_TIMER=-2, SI_MESGQ=-3, SI_ASYNCIO=-4, SI_SIGIO=-5,
                 SI_TKILL=-6, SI_DETHREAD=-7, SI_ASYNCNL=-60)
SIGNAL_CODES = {
    _signal.SIGCHLD: _enum(CLD_EXITED=1, CLD_KILLED=2, CLD_DUMPED=3, CLD_TRAPPED=4, CLD_STOPPED=5,
                           CLD_CONTINUED=6),
    _signal.SIGSEGV: _enum(SEGV_MAPERR=1, SEGV_ACCERR=2, SEGV_BNDERR=3, SEGV_PKUERR=4, SEGV_ACCADI=5,
                           SEGV_ADIDERR=6, SEGV_ADIPERR=7, SEGV_MTEAERR=8, SEGV_MTESERR=9, SEGV_CPERR=10),
    _signal.SIGBUS: _enum(BUS_ADRALN=1, BUS_ADRERR=2, BUS_OBJERR=3, BUS_MCEERR_AR=4, BUS_MCEERR_AO=5),
    _signal.SIGILL: _enum(ILL_ILLOPC=1, ILL_ILLOPN=2, ILL_ILLADR=3, ILL_ILLTRP=4, ILL_PRVOPC=5, ILL_PRVREG=6,
                          ILL_COPROC=7, ILL_BADSTK=8, ILL_BADIADDR=9),
    _signal.SIGFPE: _enum(FPE_INTDIV=1, FPE_INTOVF=2, FPE_FLTDIV=3, FPE_FLTOVF=4, FPE_FLTUND=5, FPE_FLTRES=6,
                          FPE_FLTINV=7, FPE_FLTSUB=8, FPE_FLTUNK=14, FPE_CONDTRAP=15),
    _signal.SIGTRAP: _enum(TRAP_BRKPT=1, TRAP_TRACE=2, TRAP_BRANCH=3, TRAP_HWBKPT=4, TRAP_UNK=5, TRAP_PERF=6),
    _signal.SIGIO: _enum(POLL_IN=1, POLL_OUT=2, POLL_MSG=3, POLL_ERR=4, POLL_PRI=5, POLL_HUP=6),
    _signal.SIGSYS: _enum(SYS_SECCOMP=1, SYS_USER_DISPATCH=2),
}

# a signature's type: a kind, or in/out/inout[T], [T[N]], [T[]] (abi.py)
TYPE = re.compile(r"^(?:(?P<dir>in|out|inout)\[(?P<target>[a-z_0-9]+)(?P<array>\[(?P<n>\d*)\])?\]"
                  r"|(?P<kind>[a-z_0-9]+))$")

# (bits, signed) of the register kinds: plain integers, the four printed by
# code of their own (fd: AT_FDCWD; signo; clone_flags: its exit signal last; dev: makedev(0x1, 0x3)),
# and every KINDS entry (a Switch: its default's)
_INTS = {
    "int": (32, True), "uint": (32, False), "long": (64, True), "ulong": (64, False),
    "size": (64, False), "off": (64, True), "fd": (32, True), "pid": (32, True),
    "uid": (32, False), "gid": (32, False), "dev": (32, False),
    "signo": (32, True), "clone_flags": (64, False),
}
# pointers a Switch picks by another argument (a register kind's case): kind ->
# (when it is read: "in" at entry, "out" after the call succeeded, bytes); a task's
# name (prctl PR_SET_NAME, PR_GET_NAME: TASK_COMM_LEN bytes), an int (ioctl FIONBIO's
# [1], FIONREAD's [5]); "ptr" (a Switch's default) stays an address
POINTED = {"comm_in": ("in", 16), "comm_out": ("out", 16), "int_in": ("in", 4), "int_out": ("out", 4),
           "flock_in": ("in", 32), "flock_out": ("out", 32)}      # fcntl's struct flock: F_SETLK's, F_GETLK's
TASK_COMM_LEN = 16
_INTS.update({k: (64, False) for k in (*POINTED, "ptr")})
_INTS.update({name: (k.bits, k.signed) for name, k in KINDS.items() if isinstance(k, Kind)})
_INTS.update({name: _INTS[k.default] for name, k in KINDS.items() if isinstance(k, Switch)})
_ADDRS = ("ptr", "path", "str")

STRING_LIMIT = 4096     # what a path or string read may take
ARRAY_SLOTS = 256       # bytes of a struct array read (csrc/lxbrand.h LXB_TRACE_SLOT): 32 pollfds
# pointer arguments strace prints in a way of their own, as (syscall, argument):
# "hex" a buffer all in hex (QUOTE_FORCE_HEX), "cstr" a buffer up to its NUL as
# a path, "wait_status" an int wait status ([{WIFEXITED(s) && WEXITSTATUS(s) == 0}])
STYLES = {("getrandom", "buf"): "hex", ("getcwd", "buf"): "cstr", ("wait4", "wstatus"): "wait_status",
          ("clone", "parent_tid"): "int_ref", ("execve", "envp"): "env_count", ("execveat", "envp"): "env_count",
          ("epoll_ctl", "event"): "epoll_ctl_event", ("getdents64", "dirp"): "dirent_count",
          ("timer_create", "timerid"): "int_ref",
          ("getresuid", "ruid"): "int_ref", ("getresuid", "euid"): "int_ref", ("getresuid", "suid"): "int_ref",
          # struct sched_param, one int: [0] (strace's sched.c)
          ("sched_getparam", "param"): "int_ref", ("sched_setparam", "param"): "int_ref",
          ("sched_setscheduler", "param"): "int_ref",
          ("getresgid", "rgid"): "int_ref", ("getresgid", "egid"): "int_ref", ("getresgid", "sgid"): "int_ref",
          # rt_sigreturn's "argument": the signal frame's uc_sigmask, at the stack pointer (the tracers'
          # LXB_COPY_SIGFRAME puts its address in the register), printed {mask=[...]} as strace does
          ("rt_sigreturn", "mask"): "sigframe",
          # a CPU mask as strace's print_affinitylist: [0 1], its first CPUSET_MAX bytes
          ("clone3", "cl_args"): "clone_args",
          ("sched_setaffinity", "mask"): "cpuset", ("sched_getaffinity", "mask"): "cpuset",
          # an option's value as strace's print_setsockopt/print_getsockopt: an int [1], SO_LINGER's struct
          ("setsockopt", "optval"): "sockopt", ("getsockopt", "optval"): "sockopt",
          # struct iovec[]: strace's tprint_iov, the buffers' bytes at entry (writev) or, up to the
          # result, at exit (readv; a failed one: their addresses)
          ("writev", "iov"): "iov_in", ("pwritev", "iov"): "iov_in", ("pwritev2", "iov"): "iov_in",
          ("vmsplice", "iov"): "iov_in",
          ("readv", "iov"): "iov_out", ("preadv", "iov"): "iov_out", ("preadv2", "iov"): "iov_out",
          # strace's decode_select: the sets (nfds bits) and the timeout at entry, what is ready and
          # left after (result_note), pselect6's {sigmask=[USR1], sigsetsize=8}: one packed copy
          ("select", "readfds"): "fdset", ("select", "writefds"): "fdset", ("select", "exceptfds"): "fdset",
          ("select", "timeout"): "select_timeout",
          ("pselect6", "readfds"): "fdset", ("pselect6", "writefds"): "fdset", ("pselect6", "exceptfds"): "fdset",
          ("pselect6", "timeout"): "select_timeout", ("pselect6", "sigmask"): "sigset_argpack",
          # ppoll: the timeout at entry, left {...} after it (result_note); its sigmask only when
          # sigsetsize is 8 (strace's print_sigset_addr_len), else the address
          ("ppoll", "tmo_p"): "timeout_left", ("ppoll", "sigmask"): "sigset_sized",
          # what is left of a sleep: only when a signal interrupted it (strace's nanosleep), and for
          # clock_nanosleep only without TIMER_ABSTIME; else the address
          ("nanosleep", "rem"): "erestart", ("clock_nanosleep", "remain"): "erestart_abs",
          # process_vm_readv/writev: the local array as readv's/writev's, the remote one's entries
          # alone (strace's IOV_DECODE_ADDR: [{iov_base=0x7f..., iov_len=11}])
          ("process_vm_readv", "local_iov"): "iov_out", ("process_vm_writev", "local_iov"): "iov_in",
          ("process_vm_readv", "remote_iov"): "iov_addr", ("process_vm_writev", "remote_iov"): "iov_addr",
          # a file offset the call reads and moves: sendfile's [0] => [3] (after a call that moved
          # data), splice's and copy_file_range's as given ([1]: strace decodes them at entry)
          ("sendfile", "offset"): "off_change", ("splice", "off_in"): "off_in", ("splice", "off_out"): "off_in",
          ("copy_file_range", "off_in"): "off_in", ("copy_file_range", "off_out"): "off_in",
          # struct msghdr: strace's print_struct_msghdr, at entry (sendmsg) or at the exit with the data up
          # to the result and msg_namelen as the caller set it (recvmsg; a failed one: {msg_namelen=N})
          ("sendmsg", "msg"): "msghdr_in", ("recvmsg", "msg"): "msghdr_out",
          # struct mmsghdr[]: strace's decode_mmsgvec, at the exit: sendmmsg's vlen entries (msg_len of those
          # sent), recvmmsg's as many as it returned, each msghdr's data up to its msg_len
          ("sendmmsg", "msgvec"): "mmsghdr_send", ("recvmmsg", "msgvec"): "mmsghdr_recv"}
# a timeout kept in another argument's copy, by that argument's name: recvmmsg's, at entry and at its
# exit, in its msgvec packing (strace prints the entry's, and the exit's as " (left {...})")
HELD_TIMEOUTS = {("recvmmsg", "timeout"): "msgvec"}
EPOLL_CTL_DEL = 2       # epoll_ctl_event: strace prints the event's address for EPOLL_CTL_DEL
# (env_count: an environment strace counts, 0x7ffd... /* 4 vars */, when the tracer copied all of it)
STYLE_CODES = {"hex": 1, "cstr": 2, "wait_status": 3, "int_ref": 4, "env_count": 5, "epoll_ctl_event": 6,
               "dirent_count": 7, "iov_in": 8, "iov_out": 9,
               # csrc/trace_gen.py gives each of these a target of its own (T_MSGHDR...): one code per pair
               "msghdr_in": 10, "msghdr_out": 10, "mmsghdr_send": 11, "mmsghdr_recv": 11,
               "fdset": 12, "select_timeout": 13, "sigset_argpack": 14, "timeout_left": 15, "sigset_sized": 16,
               "erestart": 17, "erestart_abs": 18, "iov_addr": 19, "off_change": 20,
               "off_in": 21, "sigframe": 22, "cpuset": 23, "sockopt": 24, "clone_args": 25}   # trace_fmt.c: tg_param.special
SHOW = 32               # bytes and string characters printed before "..."
ARRAY_LIMIT = 32        # argv entries read
IOV_MAX = 32            # iovec entries printed before "..." (csrc/lxbrand.h LXB_IOV_MAX)
CPUSET_MAX = 128        # bytes of a CPU mask read (strace's get_cpuset_size on a kernel of <= 1024 CPUs)
IOV_ROOM = 768          # bytes of a tracer's iovec copy (its three slots)
MSGHDR_HEAD = 16        # a msghdr copy's head (csrc/trace.c copy_msghdr), then the struct's 56 bytes
MSGHDR_NAME = 128       # bytes of msg_name copied at most (strace: sizeof(struct sockaddr_storage))
MSGHDR_CONTROL = 128    # bytes of msg_control copied at most (strace reads up to optmem_max)
MMSG_MAX = 8            # struct mmsghdr entries a tracer's copy holds at most (then "...")


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
    return kind_text(KINDS["open_flags"], value)


def _octal(v: int) -> str:
    """C's %#03o: 0644, 007, 000."""
    text = format(v, "o")
    return (text if text.startswith("0") else "0" + text).zfill(3)


def kind_text(k: Kind, value: int):
    """A value of kind `k` as strace prints it: a Flags (its text, its number),
    or the int an unnamed enum value stays (csrc/trace_fmt.c: kind_text)."""
    v = _int(value, k.bits, k.signed)
    if not k.flags:
        for name, x in k.names.items():
            if x == v:
                return Flags(name, v)
        if k.other == "x":
            return Flags(f"{v & (1 << k.bits) - 1:#x}", v)
        if k.other == "i":
            return Flags(_ioc(v & (1 << k.bits) - 1), v)
        if k.dflt:
            return Unknown(v, f"{_hex0(v & (1 << k.bits) - 1)} /* {k.dflt} */")
        return v
    names, rest = [], v
    if k.field:
        f = v & k.field
        rest &= ~k.field
        name = next((n for n, x in k.values.items() if x == f), None)
        if name is not None:
            names.append(name)
        elif f:
            names.append(f"{f:#x} /* {k.dflt} */" if k.dflt else f"{f:#x}")
    named = False
    for name, bits in k.names.items():
        if bits and rest & bits == bits:
            names.append(name)
            rest &= ~bits
            named = True
    if rest:
        text = f"{rest:#x}" if k.rest == "x" else _octal(rest)
        names.append(f"{text} /* {k.dflt} */" if k.dflt and not named else text)
    return Flags("|".join(names) or k.zero, v)


class Unknown(int):
    """An enum value strace does not name: 0x4d /* MADV_??? */ in a line, the number in JSON."""

    def __new__(cls, value: int, text: str):
        self = super().__new__(cls, value)
        self.text = text
        return self

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


_IOC_DIRS = {0: "_IOC_NONE", 1: "_IOC_WRITE", 2: "_IOC_READ", 3: "_IOC_READ|_IOC_WRITE"}


def _ioc(v: int) -> str:
    """An ioctl request strace does not name, by its fields (ioctl.c ioctl_print_code)."""
    return (f"_IOC({_IOC_DIRS[(v >> 30) & 3]}, {_hex0((v >> 8) & 0xFF)}, {_hex0(v & 0xFF)}, "
            f"{_hex0((v >> 16) & 0x3FFF)})")


def si_code(signo: int, code: int):
    """A signal's si_code by name (CLD_EXITED, SI_USER), else the number."""
    code = _int(code, 32, True)
    for k in (SIGNAL_CODES.get(signo), SI_CODES):
        if k is not None:
            v = kind_text(k, code)
            if isinstance(v, Flags):
                return v
    return code


_CLONE = _bits(64, **CLONE_FLAGS)


def clone_flags(value: int) -> Flags:
    """clone(2)'s flags as strace shows them: CLONE_* names, then the exit signal's."""
    sig = value & 0xFF
    names = {v: k for k, v in SIGNALS.items()}
    tail = [names.get(sig, str(sig))] if sig else []
    f = kind_text(_CLONE, value & ~0xFF)
    text = "|".join(x for x in (str(f) if value & ~0xFF else "", *tail) if x) or "0"
    return Flags(text, value)


def mmap_flags(value: int) -> Flags:
    return kind_text(KINDS["mmap_flags"], value)


def _named(table: dict[str, int], value: int):
    for name, v in table.items():
        if v == value:
            return Name(name)
    return value


def switched(kind: str, params, raw) -> str:
    """The kind a Switch picks by its `on` argument's value (else `kind`)."""
    sw = KINDS.get(kind)
    if not isinstance(sw, Switch):
        return kind
    for j, (name, k) in enumerate(params):
        if name == sw.on:
            bits, signed = _INTS[switched(k, (), ())]
            v = _int(raw[j] if j < len(raw) else 0, bits, signed)
            return sw.cases.get(v & sw.mask, sw.default)
    return sw.default


def register(kind: str, raw: int) -> Any:
    """One register's value as its kind says, without reading guest memory
    (a Switch kind: as its default; decode.args picks the case)."""
    if kind in _ADDRS or kind in POINTED:
        return Addr(raw & (1 << 64) - 1)
    kind = switched(kind, (), ())
    k = KINDS.get(kind)
    if k is not None:
        return kind_text(k, raw)
    bits, signed = _INTS[kind]
    v = _int(raw, bits, signed)
    if kind == "fd" and v == AT_FDCWD:
        return Name("AT_FDCWD")
    if kind == "clone_flags":
        return clone_flags(v)
    if kind == "signo":
        return _named(SIGNALS, v)
    if kind == "dev":
        return Name(makedev(v))
    return v


def args(sc, raw, mem=None, structs: bool = False, done: bool = False, ret: Optional[int] = None
         ) -> list[tuple[str, Any]]:
    """[(name, value)] for the arguments of `sc` (a table line) in registers `raw`;
    done=True: the call has returned, so what it wrote (out[T]) is read too
    (ret: its result, when known: a buffer it filled with 0 bytes is b"")."""
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
            chosen = switched(kind, params, raw)
            v = register(chosen, value)
            when = POINTED.get(chosen, ("",))[0]
            if mem is not None and v and (when == "in" or (when == "out" and done and ret is not None and ret >= 0)):
                v = _read(lambda: _pointed(chosen, mem.read_bytes(v, POINTED[chosen][1])), v)
            if mem is not None and kind in ("path", "str") and v:
                v = _read(lambda: mem.read_str(v, STRING_LIMIT), v)
                if kind == "path" and isinstance(v, str):
                    v = PathStr(v)
            out.append((name, v))
            continue
        addr = Addr(value & (1 << 64) - 1)
        v = addr
        style = STYLES.get((sc.name, name))
        held = HELD_TIMEOUTS.get((sc.name, name))
        reader = getattr(mem, "read_mmsghdr", None)
        if held and structs and reader and addr and held in index:      # a tracer's copy: the entry's
            v = _read(lambda: held_timeout(reader(Addr(raw[index[held]] & (1 << 64) - 1))[0], addr), addr)
            out.append((name, v))
            continue
        if style == "dirent_count" and mem is not None and addr and done and ret is not None:
            j = sizes.get(i, 6)
            counted = getattr(mem, "read_dirents", None)     # a tracer's count (LXB_COPY_DIRENTS)
            if j < len(raw) and 0 <= ret <= register(params[j][1], raw[j]):    # else the address, as strace
                if counted and ret:
                    v = _read(lambda: _dirent_count(addr, *counted(addr)), addr)
                else:
                    v = _read(lambda: dirents(addr, mem.read_bytes(addr, ret) if ret else b"", ret), addr)
            out.append((name, v))
            continue
        if mem is not None and addr and (m.group("dir") in ("in", "inout") or (done and m.group("dir") == "out")):
            target, array = m.group("target"), m.group("array")
            if style == "clone_args" and structs and len(raw) > 1:
                size = raw[1] & (1 << 64) - 1
                if size >= CLONE_ARGS_MIN:
                    v = _read(lambda: _clone_args(_exactly(mem.read_bytes(addr, min(size, CLONE_ARGS_SIZE)),
                                                           min(size, CLONE_ARGS_SIZE)), done, ret), addr)
            elif target == "bytes" and style == "sockopt":
                v = _sockopt_arg(mem, addr, raw, m.group("dir"), sizes.get(i, 6), done, ret)
            elif target == "bytes" and style == "cpuset":
                if m.group("dir") == "in" and sizes.get(i, 6) < len(raw):
                    v = _read(lambda: _cpuset(mem, addr, raw[sizes[i]] & 0xFFFFFFFF), addr)
                elif m.group("dir") == "out" and ret is not None and ret >= 0:     # failed: the address
                    v = _read(lambda: _cpuset(mem, addr, ret & 0xFFFFFFFF), addr)
            elif (target == "bytes" and m.group("dir") == "out" and ret == 0 and sizes.get(i, 6) < 6
                    and params[sizes[i]][1] in _INTS):
                v = HexBytes() if style == "hex" else b""     # read's 0 bytes: strace's ""
            elif target == "bytes" and style == "cstr":
                v = _read(lambda: PathStr(mem.read_bytes(addr, ARRAY_SLOTS).split(_NUL)[0].decode(
                    errors="surrogateescape")), addr)
            elif structs and target == "int" and not array and style == "wait_status":
                if ret is not None and ret > 0:     # else no child reaped, or failed: the address, as strace
                    v = _read(lambda: WaitStatus(_S_INT.unpack(_exactly(mem.read_bytes(addr, 4), 4))[0]), addr)
            elif structs and target in ("int", "uid", "gid", "sched_param") and not array and style == "int_ref":
                v = _read(lambda: IntRef(_S_INT.unpack(_exactly(mem.read_bytes(addr, 4), 4))[0]), addr)
            elif structs and target in ("int", "uint") and not array and m.group("dir") == "inout":
                v = _read(lambda: _inout_int(mem, addr), addr)
            elif target == "bytes":
                j = sizes.get(i)          # the table's buf:in[bytes](count)
                if j is not None and j < len(raw) and params[j][1] in _INTS:
                    n = register(params[j][1], raw[j])
                    if isinstance(n, int) and n >= 0:
                        v = _read(lambda: mem.read_bytes(addr, min(n, SHOW + 1)), addr)
                        if style == "hex" and isinstance(v, bytes):
                            v = HexBytes(v)
            elif structs and style in ("fdset", "select_timeout", "sigset_argpack"):
                v = _select_arg(mem, addr, raw, i, style, sc.name == "pselect6", done, ret)
            elif structs and style == "timeout_left":
                v = _read(lambda: _timeout_left(mem, addr, done, ret), addr)
            elif structs and style == "sigset_sized":
                if i + 1 < len(raw) and raw[i + 1] == 8:     # sigsetsize (strace: else the address)
                    v = _struct(mem, addr, target)
            elif structs and style in ("erestart", "erestart_abs"):
                # strace's nanosleep: rem only when a signal interrupted the sleep (-ERESTART*)
                if (done and ret is not None and -ret in RESTART_MSGS
                        and not (style == "erestart_abs" and raw[1] & TIMER_ABSTIME)):
                    v = _struct(mem, addr, target)
            elif structs and style in ("off_change", "off_in"):
                v = _read(lambda: _offset(mem, addr, style, done, ret), addr)
            elif structs and target == "iovec" and array == "[]" and style == "iov_addr":
                v = _iov_addrs(mem, addr, raw, sizes.get(i, 6))
            elif structs and target == "iovec" and array == "[]" and style in ("iov_in", "iov_out"):
                v = _iov_arg(mem, addr, raw, sizes.get(i, 6), style, done, ret)
            elif structs and target == "msghdr" and style in ("msghdr_in", "msghdr_out"):
                v = _msghdr_arg(mem, addr, style, done, ret)
            elif structs and target == "mmsghdr" and style in ("mmsghdr_send", "mmsghdr_recv"):
                v = _mmsghdr_arg(mem, addr, raw, sizes.get(i, 6), style == "mmsghdr_recv", done, ret)
            elif target == "str" and array == "[]":
                strv = getattr(mem, "read_strv", None)   # a tracer's copy holds the strings
                v = _read(lambda: strv(addr) if strv else _strings(mem, addr), addr)
                if style == "env_count" and isinstance(v, list) and (not v or v[-1] is not ...):
                    v = EnvList(v, addr)
            elif structs and target == "int" and m.group("n") == "2":
                v = _read(lambda: list(_S_INT2.unpack(mem.read_bytes(addr, 8))), addr)
            elif structs and target in ("timespec", "timeval") and m.group("n") == "2":
                v = _read(lambda: _utimes(_exactly(mem.read_bytes(addr, 32), 32), target == "timespec"), addr)
            elif structs and not array and target == "sockaddr" and m.group("dir") == "out":
                v = _read(lambda: _sockaddr(_sockaddr_bytes(mem, addr, params, raw)), addr)
            elif structs and not array:
                if not (style == "epoll_ctl_event" and raw[1] & 0xFFFFFFFF == EPOLL_CTL_DEL):   # strace: the address
                    v = _struct(mem, addr, target)
                if style == "sigframe" and isinstance(v, SigSet):     # rt_sigreturn({mask=[]})
                    v = {"mask": v}
            elif structs and array == "[]" and target in FAST_ARRAYS and sizes.get(i, 6) < len(raw):
                j = sizes[i]
                one, fn, by_ret = FAST_ARRAYS[target]
                count = register(params[j][1], raw[j])
                if by_ret and (target != "gid" or m.group("dir") == "out"):
                    # as many as the call filled (epoll_wait's result); failed: the address
                    count = ret if ret is not None and ret >= 0 and m.group("dir") == "out" else None
                if target == "gid" and isinstance(count, int) and 0 <= count <= NGROUPS_MAX:
                    count &= 0xFFFFFFFF
                    v = [] if count == 0 else _read(lambda: fn(mem.read_bytes(addr, min(count, ARRAY_SLOTS // one) * one),
                                                               count), addr)
                elif target == "gid":
                    pass
                elif isinstance(count, int) and count >= 0:
                    v = _read(lambda: fn(mem.read_bytes(addr, min(count, ARRAY_SLOTS // one) * one), count), addr)
        out.append((name, v))
    return out


class Iovec(list):
    """struct iovec[] as strace's tprint_iov_upto prints it: each
    {iov_base="ab", iov_len=2} (the base's address when the call failed,
    readv's, or its buffer could not be read), "..." after 32 entries or
    what the tracer's copy held, "... /* 0x7ffd... */" where an entry could
    not be read.  Entries are {"iov_base": bytes or Addr, "iov_len": int,
    "_more": the buffer went on past 32 bytes}; JSON gets the list (a bytes
    base as its latin-1 text), "..." last when cut."""

    fault: int = 0           # the address of the first entry not read, 0: none

    def __str__(self) -> str:
        out = []
        for e in self:
            if e is ...:
                out.append("..." + (f" /* {self.fault:#x} */" if self.fault else ""))
                continue
            b = e["iov_base"]
            base = show(b) + ("..." if e["_more"] else "") if isinstance(b, bytes) else str(b)
            out.append(f"{{iov_base={base}, iov_len={e['iov_len']}}}")
        return "[" + ", ".join(out) + "]"


def iov_packed(mem, addr: int, count: int, left: Optional[int], room: int = IOV_ROOM) -> tuple[bytes, bool]:
    """The tracer's packing of an iovec array (csrc/trace.c copy_iov), read
    through mem.read_bytes: (bytes, cut).  left: the bytes the buffers hold
    in all (readv's result), None for no limit (writev); room: the bytes of
    the slots it has (process_vm_readv's: two)."""
    body, bad, n, cut = bytearray(), 0, 0, False
    left = (1 << 64) - 1 if left is None else max(left, 0)
    for k in range(min(count, IOV_MAX)):
        if 8 + len(body) + 16 > room:
            cut = True
            break
        try:
            base, length = _st.unpack("<QQ", _exactly(mem.read_bytes(addr + 16 * k, 16), 16))
        except OSError:
            break
        d = min(length, left)
        left -= d
        d = min(d, SHOW)
        if 8 + len(body) + 16 + d > room:
            cut = True
            break
        data = bytes(d)
        if d and base:
            try:
                data = _exactly(mem.read_bytes(base, d), d)[:d]
            except OSError:
                bad |= 1 << k
        body += _st.pack("<QQ", base, length) + data
        n += 1
    if not n:
        raise OSError(_errno.EFAULT, "iovec not read")
    return _st.pack("<II", n, bad) + bytes(body), cut


def iovecs(data: bytes, cut: bool, addr: int, count: int, left: Optional[int]) -> Iovec:
    """An Iovec of the packed copy `data` (iov_packed's); left: as there,
    or -1 for a call that failed (the bases' addresses)."""
    n, bad = _st.unpack_from("<II", data)
    out, off = Iovec(), 8
    total = (1 << 64) - 1 if left is None else max(left, 0)
    for k in range(n):
        base, length = _st.unpack_from("<QQ", data, off)
        d = min(length, total)
        total -= d
        shown = min(d, SHOW)
        if left is not None and left < 0 or not base or bad >> k & 1:
            b, more = Addr(base), False
        else:
            b, more = bytes(data[off + 16: off + 16 + shown]), d > SHOW
        if off + 16 + shown > len(data):
            raise OSError(_errno.EFAULT, "short iovec copy")
        out.append({"iov_base": b, "iov_len": length, "_more": more})
        off += 16 + shown
    if count > n:
        if not cut and n < IOV_MAX:
            out.fault = addr + 16 * n
        out.append(...)
    return out


def _iov_arg(mem, addr: "Addr", raw, j: int, style: str, done: bool, ret: Optional[int]):
    """An iovec[] argument (decode.args): its Iovec, [] for none, or its address."""
    if j >= len(raw):
        return addr
    count = raw[j] & (1 << 64) - 1                  # strace's print_array: the register, unsigned
    if count * 16 >= 1 << 64 or addr + count * 16 >= 1 << 64:
        return addr
    if count == 0:
        return Iovec()
    if style == "iov_out":
        if not done or ret is None:
            return addr
        left = ret if ret >= 0 else -1
    else:
        left = None
    reader = getattr(mem, "read_iov", None)           # a tracer's copy holds the packing
    try:
        data, cut = reader(addr) if reader else iov_packed(mem, addr, count, None if left is None else max(left, 0))
        return iovecs(data, cut, addr, count, left)
    except (OSError, _st.error):
        return addr


# --- select, pselect6 (strace's decode_select), ppoll's and the sleeps' timeouts -----------

TIMER_ABSTIME = 1
SELECT_HEAD = 64        # csrc/lxbrand.h LXB_SELECT_HEAD: the packing's header (select_packed)
# bytes of each fd_set a tracer's copy holds, by the number of sets given (1024 fds in one, 896 in three)
SELECT_PER = (0, 256, 176, 112)
SEL_TV_IN, SEL_TV_OUT, SEL_PACK, SEL_SIGSET, SEL_EXIT = 1 << 6, 1 << 7, 1 << 8, 1 << 9, 1 << 10
_SET_WORDS = ("in", "out", "except")


def select_nfds(raw0: int) -> int:
    """strace's nfds: the register as an int, negative as 0, at most 1024*1024."""
    return min(max(_int(raw0, 32, True), 0), 1 << 20)


def select_packed(entry, after, raw, pselect: bool, ret: Optional[int]) -> bytes:
    """The tracer's copy of a select/pselect6 call (csrc/trace.c copy_select),
    read through entry.read_bytes at the call's entry and, when it returned
    > 0, through after.read_bytes at its exit:
        u32 flags (bit k: set k read at entry; 3 + k: at exit; SEL_*), u32 per;
        the timeout at entry (8), at exit (24), pselect6's argpack (40) and
        its sigset (56, 8 bytes when sigsetsize is 8); from SELECT_HEAD the
        sets given, `per` bytes each (strace's fdsize, at most SELECT_PER),
        those at entry, then those at exit."""
    nfds = select_nfds(raw[0])
    fdsize = ((nfds + 7) // 8 + 7) & ~7
    sets = [k for k in range(3) if raw[1 + k]]
    per = min(fdsize, SELECT_PER[len(sets)])
    buf = bytearray(SELECT_HEAD + 2 * len(sets) * per)
    flags = 0
    phases = [(0, entry)] + ([(1, after)] if ret is not None and ret > 0 else [])
    for phase, mem in phases:
        if phase:
            flags |= SEL_EXIT
        for j, k in enumerate(sets):
            if not per:
                break
            try:
                at = SELECT_HEAD + (phase * len(sets) + j) * per
                buf[at:at + per] = _exactly(mem.read_bytes(raw[1 + k], per), per)[:per]
                flags |= 1 << (3 * phase + k)
            except OSError:
                pass
        if raw[4]:
            try:
                buf[8 + 16 * phase:24 + 16 * phase] = _exactly(mem.read_bytes(raw[4], 16), 16)[:16]
                flags |= SEL_TV_OUT if phase else SEL_TV_IN
            except OSError:
                pass
    if pselect and raw[5]:
        try:
            buf[40:56] = _exactly(entry.read_bytes(raw[5], 16), 16)[:16]
            flags |= SEL_PACK
            ptr, size = _st.unpack_from("<QQ", buf, 40)
            if ptr and size == 8:
                buf[56:64] = _exactly(entry.read_bytes(ptr, 8), 8)[:8]
                flags |= SEL_SIGSET
        except OSError:
            pass
    _st.pack_into("<II", buf, 0, flags, per)
    return bytes(buf)


class FdSet(dict):
    """An fd_set as strace prints it: [3 5] (the fds below nfds set at entry;
    " ..." last where the tracer's copy ends before nfds).  JSON gets
    {"fds": [3, 5], "ready": [5]}: "ready", the fds set after a call that
    returned > 0, only when known."""

    def __str__(self) -> str:
        return "[" + " ".join("..." if f is ... else str(f) for f in self["fds"]) + "]"


class TimeoutArg(Name):
    """A timeout as given at entry ({tv_sec=1, tv_nsec=0}); `left`: its text
    after the call (strace's "left {...}"), None when not copied then."""

    left: Optional[str] = None
    addr: int = 0


def _timepair(data: bytes, sub: str) -> str:
    sec, frac = _S_TIMESPEC.unpack_from(data)
    return f"{{tv_sec={sec}, {sub}={frac}}}"


def _fd_bits(data: bytes, limit: int) -> list:
    return [b for b in range(limit) if data[b >> 3] >> (b & 7) & 1]


def _select_arg(mem, addr: Addr, raw, i: int, style: str, pselect: bool, done: bool, ret: Optional[int]):
    """A select/pselect6 argument from the call's packed copy (select_packed):
    an FdSet, the timeout (a TimeoutArg), pselect6's {sigmask=[...],
    sigsetsize=8}; else its address."""
    reader = getattr(mem, "read_select", None)          # a tracer's copy
    try:
        data = reader() if reader else select_packed(mem, None, raw, pselect, None)
        flags, per = _st.unpack_from("<II", data)
    except (OSError, _st.error):
        return addr
    sets = [k for k in range(3) if raw[1 + k]]
    if len(data) < SELECT_HEAD + 2 * len(sets) * per:
        return addr                                     # a copy shorter than its header says
    nfds = select_nfds(raw[0])
    if style == "fdset":
        k = i - 1
        if not nfds or not flags >> k & 1:
            return addr
        limit = min(nfds, per * 8)
        at = SELECT_HEAD + sets.index(k) * per
        out = FdSet(fds=_fd_bits(data[at:at + per], limit) + ([...] if per * 8 < nfds else []))
        if flags & SEL_EXIT and flags >> (3 + k) & 1:
            at += len(sets) * per
            out["ready"] = _fd_bits(data[at:at + per], limit)
        return out
    if style == "select_timeout":
        if not flags & SEL_TV_IN:
            return addr
        sub = "tv_nsec" if pselect else "tv_usec"
        v = TimeoutArg(_timepair(data[8:24], sub))
        v.addr = addr
        if flags & SEL_EXIT and flags & SEL_TV_OUT:
            v.left = _timepair(data[24:40], sub)
        return v
    if not flags & SEL_PACK:                            # sigset_argpack
        return addr
    ptr, size = _st.unpack_from("<QQ", data, 40)
    mask = sigset(int.from_bytes(data[56:64], "little")) if size == 8 and ptr and flags & SEL_SIGSET else Addr(ptr)
    return {"sigmask": mask, "sigsetsize": size}


def _timeout_left(mem, addr: Addr, done: bool, ret: Optional[int]) -> TimeoutArg:
    """ppoll's timeout: at entry, and what was left of it after (a LXB_COPY_PAIR copy)."""
    both = getattr(mem, "read_both", None)
    first, last = both(addr, 16) if both else (mem.read_bytes(addr, 16), None)
    v = TimeoutArg(_timepair(_exactly(first, 16), "tv_nsec"))
    v.addr = addr
    if last is not None and len(last) >= 16:
        v.left = _timepair(last, "tv_nsec")
    return v


def _left_text(v) -> str:
    """strace's sprint_timespec of a timeout after the call: its value, else its address."""
    return v.left if isinstance(v, TimeoutArg) and v.left is not None else str(Addr(getattr(v, "addr", v)))


def _select_note(values: dict, ret: int) -> str:
    """strace's decode_select at exit: (in [3], out [4], left {...}), with its
    1024-byte buffer's limits; an fd_set's ready fds counted down from the result."""
    out, sep, ready = "", "", ret
    for k, name in enumerate(("readfds", "writefds", "exceptfds")):
        if ready <= 0:
            break
        v = values.get(name)
        if not isinstance(v, FdSet) or "ready" not in v:
            continue
        first = True
        for j in v["ready"]:
            if len(out) < 1024 - 25:
                if first:
                    out += f"{sep}{_SET_WORDS[k]} [{j}"
                    first, sep = False, ", "
                else:
                    out += f" {j}"
            ready -= 1
            if ready == 0:
                break
        if out:
            out += "]"
    t = values.get("timeout")
    if t:
        left = _left_text(t)
        if len(out) + 6 + len(sep) + len(left) < 1024:
            out += f"{sep}left {left}"
    return f" ({out})"


class OffChange(int):
    """[0] => [3]: a file offset a call moved (sendfile's; the number after, in JSON)."""

    def __new__(cls, value: int, before: int):
        self = super().__new__(cls, value)
        self.before = before
        return self

    def __str__(self) -> str:
        return f"[{self.before}] => [{int(self)}]"
# --- struct msghdr (sendmsg, recvmsg): strace's print_struct_msghdr -----------------

_S_MSGHDR = _st.Struct("<QI4xQQQQi4x")      # msg_name, msg_namelen, msg_iov, msg_iovlen, msg_control, msg_controllen,
#                                             msg_flags (struct user_msghdr, x86_64: 56 bytes)
_S_MSGHEAD = _st.Struct("<IHHB7x")          # a copy's head: the namelen at entry, name and control bytes, bits
MSGF_ENTRY = 1          # the head's namelen was read at entry (recvmsg; sendmsg: the struct's)
MSGF_NAME_BAD = 2       # msg_name could not be read (its address)
MSGF_CONTROL_BAD = 4    # msg_control could not be read (its address)
MSGF_CONTROL_CUT = 8    # msg_controllen is more than the bytes copied


def _name_len(namelen: int, entry: Optional[int]) -> int:
    """The bytes of msg_name strace reads: msg_namelen (an int), or the caller's when it set less."""
    n = _int(namelen, 32, True)
    if entry is not None and n > _int(entry, 32, True):
        n = _int(entry, 32, True)
    return n


def msghdr_packed(mem, addr: int, entry: Optional[int], left: Optional[int], room: int = IOV_ROOM
                  ) -> tuple[bytes, bool]:
    """The tracer's packing of a struct msghdr (csrc/trace.c copy_msghdr),
    read through mem.read_bytes: (bytes, cut).  entry: msg_namelen as the
    caller set it (recvmsg), None for the struct's own; left: the bytes its
    buffers hold in all (recvmsg's result), None for no limit (sendmsg).
        u32 entry namelen, u16 name bytes, u16 control bytes, u8 MSGF_* bits, 7 pad;
        the struct's 56 bytes; the name's first bytes, the control's, then
        the iovec array as iov_packed packs it (up to `room` in all; an
        empty head when its first entry could not be read).  Raises
        OSError when the struct cannot be read, or (in a room less than the
        whole) when its name and control do not fit."""
    hdr = _exactly(mem.read_bytes(addr, 56), 56)[:56]
    name, namelen, iov, iovlen, control, controllen, _ = _S_MSGHDR.unpack(hdr)
    bits = MSGF_ENTRY
    nlen = _name_len(namelen, entry)
    want = min(nlen, MSGHDR_NAME) if name and nlen >= 2 else 0
    if MSGHDR_HEAD + 56 + want + (min(controllen, MSGHDR_CONTROL) if controllen >= 16 else 0) + 8 > room:
        raise OSError(_errno.ENOSPC, "no room")
    name_data = b""
    if want:
        try:
            name_data = _exactly(mem.read_bytes(name, want), want)[:want]
        except OSError:
            bits |= MSGF_NAME_BAD
    ctl = b""
    if controllen >= 16:
        want = min(controllen, MSGHDR_CONTROL)
        if controllen > want:
            bits |= MSGF_CONTROL_CUT
        try:
            ctl = _exactly(mem.read_bytes(control, want), want)[:want] if control else b""
            if not control:
                bits |= MSGF_CONTROL_BAD
        except OSError:
            bits |= MSGF_CONTROL_BAD
    head = _S_MSGHEAD.pack(namelen if entry is None else entry & 0xFFFFFFFF, len(name_data), len(ctl), bits)
    out = head + hdr + name_data + ctl
    cut = False
    iov_data = _st.pack("<II", 0, 0)
    if iov and iovlen and iovlen * 16 < 1 << 64 and iov + iovlen * 16 < 1 << 64:
        try:
            iov_data, cut = iov_packed(mem, iov, iovlen, left, room - len(out))
        except OSError:
            pass
    return out + iov_data, cut


class NameLen(int):
    """msg_namelen as strace prints it: 16, or 110 => 0 when the call changed
    the caller's (the value after in JSON)."""

    before: Optional[int] = None

    def __str__(self) -> str:
        return f"{self.before} => {int(self)}" if self.before is not None else str(int(self))

    __repr__ = __str__


def _offset(mem, addr, style: str, done: bool, ret: Optional[int]):
    """A loff_t the call reads (and sendfile moves), as strace's printnum_int64:
    [1] (splice, copy_file_range: signed, at entry), sendfile's [0] => [3] after
    a call that moved data (unsigned), else as given."""
    both = getattr(mem, "read_both", None)
    first, last = both(addr, 8) if both else (mem.read_bytes(addr, 8), None)
    if style == "off_in":
        return IntRef(_st.unpack("<q", _exactly(first, 8)[:8])[0])
    before = _st.unpack("<Q", _exactly(first, 8)[:8])[0]
    if done and ret is not None and ret > 0 and last is not None and len(last) >= 8:
        return OffChange(_st.unpack("<Q", last[:8])[0], before)
    return IntRef(before)


IOV_ADDRS = 16          # entries of an array printed by address alone a tracer copies (one slot)


def _iov_addrs(mem, addr: "Addr", raw, j: int):
    """An iovec[] strace prints by address (process_vm_readv's remote array):
    {iov_base=0x7f..., iov_len=11} each, "..." past what was copied; [] for none."""
    if j >= len(raw):
        return addr
    count = raw[j] & (1 << 64) - 1
    if count * 16 >= 1 << 64 or addr + count * 16 >= 1 << 64:
        return addr
    out = Iovec()
    if count:
        data = _read(lambda: mem.read_bytes(addr, min(count, IOV_ADDRS) * 16), addr)
        if not isinstance(data, bytes) or len(data) < 16:
            return addr
        for k in range(min(count, len(data) // 16)):
            base, length = _st.unpack_from("<QQ", data, 16 * k)
            out.append({"iov_base": Addr(base), "iov_len": length, "_more": False})
        if count > len(out):
            out.append(...)
    return out


class Control(list):
    """msg_control's cmsghdrs as strace's decode_msg_control prints them:
    [{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[5]}],
    "..." last when the copy held less than msg_controllen or a header
    ran past it ("... /* 0x... */": where it stopped)."""

    fault: int = 0

    def __str__(self) -> str:
        out = [show(c) for c in self if c is not ...]
        if self and self[-1] is ...:
            out.append("..." + (f" /* {self.fault:#x} */" if self.fault else ""))
        return "[" + ", ".join(out) + "]"


def _uid(v: int):
    return -1 if v == 0xFFFFFFFF else v


def _cmsgs(data: bytes, addr: int, more: bool) -> Control:
    """decode_msg_control over the bytes copied of msg_control (x86_64: a 16-byte cmsghdr)."""
    out = Control()
    size = len(data)
    left, off = size, 0
    while left >= 16:
        clen, level, ctype = _st.unpack_from("<Qii", data, off)
        n = min(clen, left)
        item = {"cmsg_len": clen, "cmsg_level": kind_text(FIELD_KINDS["sol_level"], level)}
        body = data[off + 16: off + n] if n > 16 else b""
        if level == 1:
            item["cmsg_type"] = kind_text(FIELD_KINDS["scm_type"], ctype)
            if ctype == 1 and len(body) >= 4:             # SCM_RIGHTS: the fds
                fds = [v for (v,) in _st.iter_unpack("<i", body[:len(body) // 4 * 4])]
                item["cmsg_data"] = fds[:SHOW] + [...] if len(fds) > SHOW else fds
            elif ctype == 2 and len(body) >= 12:          # SCM_CREDENTIALS
                pid, uid, gid = _st.unpack_from("<iII", body)
                item["cmsg_data"] = {"pid": pid, "uid": _uid(uid), "gid": _uid(gid)}
            elif ctype in (29, 63) and len(body) >= 16:   # SO_TIMESTAMP_OLD, _NEW: a timeval
                sec, usec = _st.unpack_from("<qQ", body)
                item["cmsg_data"] = {"tv_sec": sec, "tv_usec": usec}
            elif ctype in (35, 64) and len(body) >= 16:   # SO_TIMESTAMPNS_OLD, _NEW: a timespec
                sec, nsec = _st.unpack_from("<qQ", body)
                item["cmsg_data"] = {"tv_sec": sec, "tv_nsec": nsec}
            elif ctype in (37, 65) and len(body) >= 48:   # SO_TIMESTAMPING_OLD, _NEW: three timespecs
                item["cmsg_data"] = [{"tv_sec": a, "tv_nsec": b} for a, b in _st.iter_unpack("<qQ", body[:48])]
        elif level == 0:
            item["cmsg_type"] = kind_text(FIELD_KINDS["ip_cmsg_type"], ctype)
            if ctype in (2, 23) and len(body) >= 4:        # IP_TTL, IP_CHECKSUM: unsigned ints
                item["cmsg_data"] = [v for (v,) in _st.iter_unpack("<I", body[:len(body) // 4 * 4])]
            elif ctype in (1, 6, 7) and body:              # IP_TOS, IP_RECVOPTS, IP_RETOPTS: bytes in hex
                item["cmsg_data"] = [Name(_hex0(b)) for b in body[:SHOW]] + ([...] if len(body) > SHOW else [])
        else:
            item["cmsg_type"] = Name(_hex0(ctype & 0xFFFFFFFF))
        out.append(item)
        if n < 16:
            left -= 16
            break
        step = (clen + 7) & ~7 & (1 << 64) - 1
        if step >= left:
            left = 0
            break
        off += step
        left -= step
    if left:
        out.fault = addr + (size - left)
        out.append(...)
    elif more:
        out.append(...)
    return out


class Msghdr(dict):
    """struct msghdr as strace prints it; JSON gets its fields (msg_namelen
    the value after the call, msg_iov and msg_control lists)."""


def msghdr(data: bytes, cut: bool, addr: int, left: Optional[int]):
    """A Msghdr of the packed copy `data` (msghdr_packed's); left: as there,
    or -1 for a recvmsg that failed ({msg_namelen=N}, the caller's)."""
    entry, nlen, clen, bits = _S_MSGHEAD.unpack_from(data)
    if left is not None and left < 0:
        if not bits & MSGF_ENTRY:
            raise OSError(_errno.EFAULT, "not read at entry")
        return Msghdr(msg_namelen=NameLen(_int(entry, 32, True)))
    name, namelen, iov, iovlen, control, controllen, flags = _S_MSGHDR.unpack_from(data, MSGHDR_HEAD)
    off = MSGHDR_HEAD + 56
    if off + nlen + clen + 8 > len(data):
        raise OSError(_errno.EFAULT, "short msghdr copy")
    user = _int(entry, 32, True) if left is not None else None
    got = _name_len(namelen, user)
    v: Any = Addr(name)
    if name and got >= 2 and not bits & MSGF_NAME_BAD:
        v = _read(lambda: _sockaddr(data[off:off + nlen]), Addr(name))
    out = Msghdr(msg_name=v)
    ln = NameLen(_int(namelen, 32, True))
    if user is not None and user != int(ln):
        ln.before = user
    out["msg_namelen"] = ln
    off += nlen
    if not iov:
        out["msg_iov"] = Addr(0)
    elif not iovlen:
        out["msg_iov"] = Iovec()
    elif iovlen * 16 >= 1 << 64 or iov + iovlen * 16 >= 1 << 64:
        out["msg_iov"] = Addr(iov)
    else:
        body = data[off + clen:]
        try:
            if _st.unpack_from("<I", body)[0] == 0:
                raise OSError(_errno.EFAULT, "iovec not read")
            out["msg_iov"] = iovecs(body, cut, iov, iovlen, left)
        except (OSError, _st.error):
            out["msg_iov"] = Addr(iov)
    out["msg_iovlen"] = iovlen
    if controllen:
        if controllen < 16 or bits & MSGF_CONTROL_BAD:
            out["msg_control"] = Addr(control)
        else:
            out["msg_control"] = _cmsgs(data[off:off + clen], control, bool(bits & MSGF_CONTROL_CUT))
    out["msg_controllen"] = controllen
    out["msg_flags"] = kind_text(KINDS["msg_flags"], flags)
    return out


def _msghdr_arg(mem, addr: "Addr", style: str, done: bool, ret: Optional[int]):
    """A struct msghdr argument (decode.args): its Msghdr, or its address."""
    if style == "msghdr_out":
        if not done or ret is None:
            return addr
        left = ret if ret >= 0 else -1
    else:
        left = None
    reader = getattr(mem, "read_msghdr", None)        # a tracer's copy holds the packing
    try:
        data, cut = reader(addr) if reader else msghdr_packed(mem, addr, None, None if left is None else max(left, 0))
        return msghdr(data, cut, addr, left)
    except (OSError, _st.error):
        return addr


# --- struct mmsghdr[] (sendmmsg, recvmmsg): strace's decode_mmsgvec -------------------

_S_MMSGHEAD = _st.Struct("<II")     # a copy's head: entries packed, MMSGF_* bits; each entry: msg_len, its bytes
MMSGF_CUT = 1           # more entries than the copy holds (MMSG_MAX, or no room)
MMSGF_FAULT = 2         # the entry after the last packed could not be read
MMSGF_ENTRY = 4         # recvmmsg: the namelens at entry were read
MSGF_IOV_CUT = 16       # an entry's msghdr head: its iovec array was cut (a msghdr copy's slot_trunc)


MMSG_TS = 40            # recvmmsg's packing: u32 MMSGT_* bits, 4 pad, its timeout at entry, at the exit
MMSGT_ENTRY = 1
MMSGT_EXIT = 2


def held_timeout(data: bytes, addr: int) -> "HeldTimespec":
    """recvmmsg's timeout from its msgvec packing: the entry's, `left` the exit's (or its address)."""
    if len(data) < 8 + MMSG_TS:
        raise OSError(_errno.EFAULT, "short mmsghdr copy")
    bits = _st.unpack_from("<I", data, 8)[0]
    if not bits & MMSGT_ENTRY:
        raise OSError(_errno.EFAULT, "timeout not read at entry")
    out = HeldTimespec(_timespec(data[16:32]))
    out.left = _timespec(data[32:48]) if bits & MMSGT_EXIT else Addr(addr)
    return out


class HeldTimespec(Name):
    """A timespec as it was at entry (recvmmsg's timeout); `left`: as it was after the call."""

    left: Any = None


def mmsghdr_packed(mem, addr: int, count: int, entries: Optional[list], recv: bool, ts: bytes = b"") -> bytes:
    """The tracer's packing of a struct mmsghdr array (csrc/trace.c
    copy_mmsghdr), read through mem.read_bytes: count entries (sendmmsg's
    vlen, recvmmsg's result), each as u32 msg_len, u32 its packing's size,
    then msghdr_packed's bytes (recvmmsg: entries[k] its namelen at entry,
    its buffers up to msg_len), after an 8-byte head (entries, MMSGF_*) and,
    for recvmmsg, MMSG_TS bytes of its timeout (`ts`, else none read)."""
    out, n, bits = bytearray(ts.ljust(MMSG_TS, b"\0")[:MMSG_TS] if recv else b""), 0, 0
    bits |= MMSGF_ENTRY if entries is not None else 0
    for k in range(count):
        if k >= MMSG_MAX or 8 + len(out) + 8 > IOV_ROOM:
            bits |= MMSGF_CUT
            break
        try:
            one = _exactly(mem.read_bytes(addr + 64 * k, 64), 64)
        except OSError:
            bits |= MMSGF_FAULT
            break
        msg_len = _st.unpack_from("<I", one, 56)[0]
        entry = entries[k] if entries is not None and k < len(entries) else None
        try:
            data, cut = msghdr_packed(mem, addr + 64 * k, entry, msg_len if recv else None,
                                      IOV_ROOM - 8 - len(out) - 8)
        except OSError as e:
            bits |= MMSGF_CUT if e.errno == _errno.ENOSPC else MMSGF_FAULT
            break
        if cut:
            data = data[:8] + bytes([data[8] | MSGF_IOV_CUT]) + data[9:]
        out += _st.pack("<II", msg_len, len(data)) + data
        n += 1
    return _S_MMSGHEAD.pack(n, bits) + bytes(out)


class Mmsgs(list):
    """struct mmsghdr[] as strace prints it: [{msg_hdr={...}, msg_len=7}, ...],
    "..." where the copy ended ("... /* 0x... */" at an entry not read);
    JSON gets the list of {msg_hdr, msg_len} objects, "..." last when cut."""

    fault: int = 0

    def __str__(self) -> str:
        out = [show(e) for e in self if e is not ...]
        if self and self[-1] is ...:
            out.append("..." + (f" /* {self.fault:#x} */" if self.fault else ""))
        return "[" + ", ".join(out) + "]"


def mmsgs(data: bytes, addr: int, count: int, sent: int, recv: bool):
    """An Mmsgs of the packed copy `data` (mmsghdr_packed's); sent: the
    entries whose msg_len is shown (the result; 0 for a failed sendmmsg)."""
    n, bits = _S_MMSGHEAD.unpack_from(data)
    out, off = Mmsgs(), 8 + (MMSG_TS if recv else 0)
    if len(data) < off:
        raise OSError(_errno.EFAULT, "short mmsghdr copy")
    for k in range(n):
        msg_len, size = _st.unpack_from("<II", data, off)
        one = data[off + 8: off + 8 + size]
        if len(one) < size:
            raise OSError(_errno.EFAULT, "short mmsghdr copy")
        if len(one) < MSGHDR_HEAD:
            raise OSError(_errno.EFAULT, "short msghdr copy")
        hdr = msghdr(one, bool(one[8] & MSGF_IOV_CUT), addr + 64 * k, msg_len if recv else None)
        item = {"msg_hdr": hdr}
        if k < sent:
            item["msg_len"] = msg_len
        out.append(item)
        off += 8 + size
    if count > n:
        if not n and bits & MMSGF_FAULT:
            raise OSError(_errno.EFAULT, "first entry not read")
        if bits & MMSGF_FAULT:
            out.fault = addr + 64 * n
        out.append(...)
    return out


def _mmsghdr_arg(mem, addr: "Addr", raw, j: int, recv: bool, done: bool, ret: Optional[int]):
    """A struct mmsghdr[] argument (decode.args): its Mmsgs, [] for none, or its address."""
    if not done or ret is None or j >= len(raw):
        return addr
    if recv:
        if ret < 0:
            return addr
        count = sent = ret
    else:
        count, sent = raw[j] & 0xFFFFFFFF, max(ret, 0)      # strace: vlen as an unsigned int
    if count == 0:
        return Mmsgs()
    reader = getattr(mem, "read_mmsghdr", None)         # a tracer's copy holds the packing
    try:
        data = reader(addr)[0] if reader else mmsghdr_packed(mem, addr, count, None, recv)
        return mmsgs(data, addr, count, sent, recv)
    except (OSError, _st.error):
        return addr


def _exactly(data: bytes, n: int) -> bytes:
    if len(data) < n:
        raise OSError(_errno.EFAULT, "short copy")
    return data


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


def _sockaddr_bytes(mem, addr: int, params, raw) -> bytes:
    """An address a call wrote (getsockname, accept): as long as its length
    argument says after the call (the int an inout[uint] points to), as strace
    takes it ({sa_family=AF_UNIX} for an unnamed socket's 2 bytes)."""
    data = mem.read_bytes(addr, FAST_STRUCTS["sockaddr"][0])
    for j, (_, kind) in enumerate(params):
        m = TYPE.match(kind)
        if m and m.group("dir") == "inout" and m.group("target") in ("int", "uint") and not m.group("array"):
            try:
                got = mem.read_bytes(Addr(raw[j] & (1 << 64) - 1), 4) if j < len(raw) and raw[j] else b""
            except OSError:
                got = b""
            if len(got) == 4 and 0 <= _S_INT.unpack(got)[0] < len(data):
                data = data[:_S_INT.unpack(got)[0]]
            break
    return data


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

_ESC = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\f"): "\\f", ord("\n"): "\\n", ord("\r"): "\\r",
        ord("\t"): "\\t", ord("\v"): "\\v"}


def _escape(data: bytes) -> str:
    """Bytes as strace's string_quote writes them (util.c): \\n \\t and the
    like, printable ASCII as is, any other byte in octal, \\0 or \\177, three
    digits when an octal digit follows (\\0001 is NUL then "1")."""
    out = []
    for i, b in enumerate(data):
        e = _ESC.get(b)
        if e is None:
            if 32 <= b < 127:
                e = chr(b)
            elif i + 1 < len(data) and 0x30 <= data[i + 1] <= 0x37:
                e = f"\\{b:03o}"
            else:
                e = f"\\{b:o}"
        out.append(e)
    return "".join(out)


class HexBytes(bytes):
    """A buffer strace prints all in hex (its QUOTE_FORCE_HEX: getrandom's)."""


def _quote(data) -> str:
    if isinstance(data, str):
        data = data.encode(errors="surrogateescape")
    more = len(data) > SHOW
    if isinstance(data, HexBytes):
        text = "".join(f"\\x{b:02x}" for b in data[:SHOW])
    else:
        text = _escape(data[:SHOW])
    return f'"{text}"' + ("..." if more else "")


def show(value) -> str:
    """One decoded value as strace prints it."""
    if isinstance(value, Name):
        return str(value)
    if isinstance(value, CommStr):
        return '"' + _escape(value.encode(errors="surrogateescape")) + '"' + ("..." if value.more else "")
    if isinstance(value, PathStr):
        return '"' + _escape(value.encode(errors="surrogateescape")) + '"'
    if isinstance(value, (str, bytes)):
        return _quote(value)
    if isinstance(value, (SigSet, PollFds, EnvList, DirentCount, Iovec, FdSet, Control, Mmsgs, UTime, CpuSet,
                          CloneArgs)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join("..." if v is ... else show(v) for v in value) + "]"
    if hasattr(value, "items") and not isinstance(value, (str, bytes)):
        fields = [(k, v) for k, v in value.items() if not k.startswith("_")]
        return "{" + ", ".join(f"{k}={show(v)}" for k, v in fields) + (", ...}" if isinstance(value, More) else "}")
    return str(value)


def format_call(sc, raw, mem=None, structs: bool = False) -> str:
    """`name(arg, ...)` as strace prints a call on entry."""
    return f"{sc.name}(" + ", ".join(show(v) for _, v in args(sc, raw, mem, structs)) + ")"


def format_result(value: int) -> str:
    """A syscall's return: "-1 ENOENT (No such file or directory)", or the value
    (in hex when it can only be an address)."""
    value = _int(value, 64, True)
    if -4096 < value < 0:
        if -value in RESTART_MSGS and -value not in _errno.errorcode:     # strace's syscall.c
            return f"? {KERNEL_ERRNOS[-value]} ({RESTART_MSGS[-value]})"
        name = ERRNO_NAMES.get(-value) or KERNEL_ERRNOS.get(-value) or -value
        return f"-1 {name} ({_os.strerror(-value)})"
    if value >= 1 << 32:
        return f"{value:#x}"
    return str(value)


# --- structs printed without construct (a tracer's hot path) ----------------------

_S_INT2 = _st.Struct("<ii")
_S_INT = _st.Struct("<i")
_NUL = b"\0"
_S_STAT = _st.Struct("<QQQIII4xQqqq")           # struct stat, x86_64, up to st_blocks
_S_STATX = _st.Struct("<IIQIIIH2xQQ")          # struct statx, up to stx_size
_S_TIMESPEC = _st.Struct("<qq")
_FILE_TYPES = {0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG", 0o060000: "S_IFBLK",
               0o040000: "S_IFDIR", 0o020000: "S_IFCHR", 0o010000: "S_IFIFO"}


def file_mode(mode: int) -> str:
    """st_mode as strace prints it (print_symbolic_mode_t): S_IFREG|0644,
    S_IFDIR|S_ISVTX|0777, S_ISUID|0755, 000; an unknown file type in hex."""
    kind = _FILE_TYPES.get(mode & 0o170000, "")
    if mode & 0o170000 and not kind:
        return f"{mode:#x}"
    bits = "".join(f"{n}|" for b, n in ((0o4000, "S_ISUID"), (0o2000, "S_ISGID"), (0o1000, "S_ISVTX")) if mode & b)
    rest = mode & 0o777
    perm = (f"0{rest:o}" if rest else "0").rjust(3, "0")        # C's %#03o
    return f"{kind}{'|' if kind else ''}{bits}{perm}"


def _hex0(v: int) -> str:
    """C's %#x: 0 is 0."""
    return f"{v:#x}" if v else "0"


def makedev(dev: int) -> str:
    """A dev_t as strace prints it (print_dev_t.c): makedev(0x1, 0x3)."""
    major = (dev >> 8) & 0xFFF | (dev >> 32) & ~0xFFF
    minor = dev & 0xFF | (dev >> 12) & ~0xFF
    return f"makedev({_hex0(major)}, {_hex0(minor)})"


def _stat(data: bytes) -> Name:
    """strace's abbreviated struct stat (print_struct_stat.c): a device's st_rdev, else st_size."""
    dev, ino, nlink, mode, uid, gid, rdev, size, blksize, blocks = _S_STAT.unpack_from(data)
    if mode & 0o170000 in (0o020000, 0o060000):
        return Name(f"{{st_mode={file_mode(mode)}, st_rdev={makedev(rdev)}, ...}}")
    return Name(f"{{st_mode={file_mode(mode)}, st_size={size}, ...}}")


def _statx(data: bytes) -> Name:
    """strace's abbreviated struct statx (statx.c): stx_mode and stx_size as the mask says."""
    mask, blksize, attrs, nlink, uid, gid, mode, ino, size = _S_STATX.unpack_from(data)
    text = (f"{{stx_mask={kind_text(KINDS['statx_mask'], mask)}, "
            f"stx_attributes={kind_text(FIELD_KINDS['statx_attrs'], attrs)}")
    if mask & 0x3:          # STATX_TYPE|STATX_MODE
        text += f", stx_mode={file_mode(mode)}"
    if mask & 0x200:        # STATX_SIZE
        text += f", stx_size={size}"
    return Name(text + ", ...}")


def _timespec(data: bytes) -> Name:
    sec, nsec = _S_TIMESPEC.unpack_from(data)
    return Name(f"{{tv_sec={sec}, tv_nsec={nsec}}}")


def _sockaddr(data: bytes) -> Name:
    import socket
    if len(data) < 2:           # strace's decode_sockaddr: shorter than its family, the address
        raise OSError(_errno.EFAULT, "sockaddr shorter than its family")
    family = int.from_bytes(data[:2], "little")
    if family == socket.AF_UNIX:
        path = data[2:]
        if not path or (len(path) > 1 and not any(path)):    # unnamed (length 2): strace's {sa_family=AF_UNIX}
            return Name("{sa_family=AF_UNIX}")
        if path[:1] == b"\0":
            return Name(f"{{sa_family=AF_UNIX, sun_path=@{_quote(path[1:].split(_NUL)[0])}}}")
        return Name(f"{{sa_family=AF_UNIX, sun_path={_quote(path.split(_NUL)[0])}}}")
    if family == socket.AF_INET and len(data) >= 8:
        return Name(f"{{sa_family=AF_INET, sin_port=htons({int.from_bytes(data[2:4], 'big')}), "
                    f"sin_addr=inet_addr(\"{socket.inet_ntop(socket.AF_INET, data[4:8])}\")}}")
    if family == socket.AF_NETLINK and len(data) >= 12:     # strace's print_sockaddr_data_nl
        pad, pid, groups = _st.unpack_from("<HiI", data, 2)      # nl_groups as C's %#08x
        return Name(f"{{sa_family=AF_NETLINK, {f'nl_pad={pad:#x}, ' if pad else ''}nl_pid={pid}, "
                    f"nl_groups={'0x' + format(groups, '06x') if groups else '00000000'}}}")
    if family == socket.AF_INET6 and len(data) >= 24:     # strace's print_sockaddr_data_in6
        scope = f", sin6_scope_id={int.from_bytes(data[24:28], 'little')}" if len(data) >= 28 else ""
        return Name(f"{{sa_family=AF_INET6, sin6_port=htons({int.from_bytes(data[2:4], 'big')}), "
                    f"sin6_flowinfo=htonl({int.from_bytes(data[4:8], 'big')}), "
                    f"inet_pton(AF_INET6, \"{socket.inet_ntop(socket.AF_INET6, data[8:24])}\", &sin6_addr){scope}}}")
    if family == socket.AF_NETLINK:         # strace's print_sockaddr_data_nl: the bytes past the copy are 0
        pad, pid, groups = _st.unpack_from("<HiI", data[2:12].ljust(10, b"\0"))    # nl_pad, nl_pid, nl_groups
        return Name(f"{{sa_family=AF_NETLINK, {f'nl_pad={pad:#x}, ' if pad else ''}nl_pid={pid}, "
                    f"nl_groups={'0x' + format(groups, '06x') if groups else '00000000'}}}")
    return Name(f"{{sa_family={family}, ...}}")


# a signal set's members as strace names them: HUP..SYS, RTMIN, RT_1..RT_32
SIGSET_NAMES = {}
for _name, _v in SIGNALS.items():
    if not _name.startswith("SIG_"):
        SIGSET_NAMES.setdefault(_v, _name[3:])


class SigSet(list):
    """A signal set: the names of its members (JSON gets this list).  It
    prints as strace prints it: [INT TERM], [] for none, and, with 2/3 of
    the 64 or more set, ~[...] naming those not in it (signal.c
    sprintsigmask_n)."""

    mask: int = 0

    def __str__(self) -> str:
        mask, tilde = self.mask, ""
        if bin(mask).count("1") >= 64 * 2 // 3:
            mask, tilde = ~mask & (1 << 64) - 1, "~"
        return tilde + "[" + " ".join(sigset_names(mask)) + "]"


def sigset_names(mask: int) -> list:
    return [SIGSET_NAMES.get(i, str(i)) for i in range(1, 65) if mask >> (i - 1) & 1]


def sigset(mask: int) -> SigSet:
    out = SigSet(sigset_names(mask))
    out.mask = mask
    return out


def _sigset(data: bytes) -> SigSet:
    if len(data) < 8:
        raise OSError(_errno.EFAULT, "short")
    return sigset(int.from_bytes(data[:8], "little"))


def _sigaction(data: bytes) -> dict:
    """The kernel's struct sigaction as strace prints it (signal.c
    decode_new_sigaction): sa_restorer only with SA_RESTORER."""
    handler, flags, restorer, mask = _st.unpack_from("<QQQQ", data)
    out = {"sa_handler": kind_text(FIELD_KINDS["sa_handler"], handler), "sa_mask": sigset(mask),
           "sa_flags": kind_text(FIELD_KINDS["sigaction_flags"], flags)}
    if flags & 0x04000000:
        out["sa_restorer"] = Addr(restorer)
    return out


class Limit(int):
    """An rlim_t as strace prints it (resource.c print_rlim64_t): 8192*1024
    for a multiple of 1024 above it; a number in JSON."""

    def __str__(self) -> str:
        v = int(self)
        return f"{v // 1024}*1024" if v > 1024 and v % 1024 == 0 else str(v)

    __repr__ = __str__


RLIM64_INFINITY = (1 << 64) - 1


def _limit(v: int):
    return Name("RLIM64_INFINITY") if v == RLIM64_INFINITY else Limit(v)


def _rlimit(data: bytes) -> dict:
    cur, top = _st.unpack_from("<QQ", data)
    return {"rlim_cur": _limit(cur), "rlim_max": _limit(top)}


class PollFds(list):
    """struct pollfd[] (poll.c): each {fd=3, events=POLLIN} ({fd=-1} for a
    negative fd), "..." after the entries copied when there were more; JSON
    gets fd, events and revents of each.  revents() is strace's note of the
    result: the entries with revents set."""

    def __str__(self) -> str:
        return "[" + ", ".join("..." if p is ... else (f"{{fd={p['fd']}, events={p['events']}}}" if p["fd"] >= 0
                                                       else f"{{fd={p['fd']}}}") for p in self) + "]"

    def revents(self) -> str:
        got = [f"{{fd={p['fd']}, revents={p['revents']}}}" for p in self if p is not ... and p["revents"].value]
        return "[" + ", ".join(got) + "]" if got else ""


def _pollfds(data: bytes, count: int) -> PollFds:
    out = PollFds()
    ev = FIELD_KINDS["poll_events"]
    for i in range(min(count, len(data) // 8)):
        fd, events, revents = _st.unpack_from("<iHH", data, 8 * i)
        out.append({"fd": fd, "events": kind_text(ev, events), "revents": kind_text(ev, revents)})
    if count > len(out):
        out.append(...)
    return out


class DirentCount(dict):
    """getdents64's buffer as strace prints it (xgetdents.c, abbreviated):
    0x55d0c4a0 /* 5 entries */, "5+" when a header could not be read (the
    tracers count the whole result, LXB_COPY_DIRENTS); JSON: {"addr",
    "entries"[, "more": true]}."""

    def __str__(self) -> str:
        return f"{self['addr']} /* {self['entries']}{'+' if self.get('more') else ''} entries */"


def _dirent_count(addr: int, count: int, left: int) -> DirentCount:
    out = DirentCount(addr=str(Addr(addr)), entries=count)
    if left:
        out["more"] = True
    return out


def dirents(addr: int, data: bytes, length: int) -> DirentCount:
    """Count the linux_dirent64 records of a getdents64 result of `length`
    bytes from the copy `data` of its first bytes, as strace walks them (a
    record's header is 19 bytes, d_reclen at 16)."""
    count, off, left = 0, 0, length
    while left >= 19:
        if off + 19 > len(data):        # the copy ends here: more entries follow
            break
        count += 1
        reclen = int.from_bytes(data[off + 16:off + 18], "little")
        reclen = left if reclen > left else 19 if reclen < 19 else reclen
        left -= reclen
        off += reclen
    out = DirentCount(addr=str(Addr(addr)), entries=count)
    if left:                            # strace's "+": bytes it did not walk
        out["more"] = True
    return out


CLONE_ARGS_SIZE, CLONE_ARGS_MIN = 88, 64       # struct clone_args: all of it, up to tls (strace's minsz)


class CloneArgs(dict):
    """clone3's struct clone_args as strace prints it: {flags=..., child_tid=0x..., parent_tid=0x...,
    exit_signal=0, stack=0x..., stack_size=0x..., tls=0x...} and, after a call with CLONE_PARENT_SETTID,
    => {parent_tid=[4]} (the child's tid: the result); JSON gets the fields."""

    after: str = ""

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}={show(v)}" for k, v in self.items()) + "}" + self.after


def _clone_args(data: bytes, done: bool, ret: Optional[int]) -> CloneArgs:
    c = _CLONE
    flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls = _st.unpack_from("<8Q", data)
    out = CloneArgs(flags=kind_text(FIELD_KINDS["clone3_flags"], flags))
    if flags & c.names["CLONE_PIDFD"]:
        out["pidfd"] = Addr(pidfd)
    if flags & (c.names["CLONE_CHILD_SETTID"] | c.names["CLONE_CHILD_CLEARTID"]):
        out["child_tid"] = Addr(child_tid)
    if flags & c.names["CLONE_PARENT_SETTID"]:
        out["parent_tid"] = Addr(parent_tid)
    out["exit_signal"] = _named(SIGNALS, exit_signal) if exit_signal < 0x7FFFFFFF else exit_signal
    out["stack"] = Addr(stack)
    out["stack_size"] = Name(_hex0(stack_size))
    if flags & c.names["CLONE_SETTLS"]:
        out["tls"] = Addr(tls)
    if len(data) >= 80:
        set_tid, set_tid_size = _st.unpack_from("<QQ", data, 64)
        if set_tid or set_tid_size:
            out["set_tid"] = Addr(set_tid)
            out["set_tid_size"] = set_tid_size
    if len(data) >= 88:
        cgroup = _st.unpack_from("<Q", data, 80)[0]
        if cgroup or flags & (1 << 33):
            out["cgroup"] = cgroup
    if done and ret is not None and ret > 0 and flags & c.names["CLONE_PARENT_SETTID"] \
            and not flags & c.names["CLONE_PIDFD"]:
        out.after = f" => {{parent_tid=[{ret}]}}"
    return out


SOL_SOCKET, SO_LINGER, SOL_NETLINK = 1, 13, 270


def _sockopt(data: bytes, level: int, name: int, length: int):
    """A socket option's value as strace prints it: an int ([1]) when it is
    4 bytes (or of SOL_NETLINK), SO_LINGER's {l_onoff=1, l_linger=5}, else
    None (its bytes)."""
    if level == SOL_SOCKET and name == SO_LINGER and length >= 8 and len(data) >= 8:
        on, linger = _st.unpack_from("<ii", data)
        return {"l_onoff": on, "l_linger": linger}
    if (length == 4 or (level == SOL_NETLINK and length >= 4)) and len(data) >= 4:
        return IntRef(_S_INT.unpack_from(data)[0])
    return None


def _sockopt_arg(mem, addr: "Addr", raw, direction: str, j: int, done: bool, ret: Optional[int]):
    """setsockopt's optval (its length optlen), getsockopt's (after the call, as long as
    *optlen then; failed: the address): _sockopt, else up to SHOW bytes."""
    level, name = _int(raw[1], 32, True), _int(raw[2], 32, True)
    if direction == "in":
        if j >= len(raw):
            return addr
        length = _int(raw[j], 32, True)
    else:
        if not done or ret is None or ret < 0 or len(raw) < 5 or not raw[4]:
            return addr
        try:
            length = int(_inout_int(mem, Addr(raw[4] & (1 << 64) - 1)))
        except OSError:
            return addr
        if length <= 0:
            return addr
    if length == 0:
        return b""          # strace's printstrn of nothing: ""
    try:
        data = mem.read_bytes(addr, min(max(length, 0), SHOW + 1))
    except OSError:
        return addr
    v = _sockopt(data, level, name, length)
    if v is not None:
        return v
    return data if length >= 0 else addr


class CpuSet(list):
    """A CPU mask as strace's print_affinitylist prints it: [0 1], [0 1 ...]
    when the mask went on past what was read; JSON the CPUs' numbers, "..." last."""

    def __str__(self) -> str:
        return "[" + " ".join("..." if c is ... else str(c) for c in self) + "]"


def _cpuset(mem, addr: int, length: int) -> CpuSet:
    """`length` bytes of a CPU mask at addr, the first CPUSET_MAX of them read (all of them or the address)."""
    want = min(length, CPUSET_MAX)
    data = mem.read_bytes(addr, want) if want else b""
    if len(data) < want:
        raise OSError(_errno.EFAULT, "short read")
    out = CpuSet(i for i in range(want * 8) if data[i // 8] >> i % 8 & 1)
    if (want + 7) // 8 * 8 < length:
        out.append(...)
    return out


class EnvList(list):
    """An execve environment, whole: strace prints its address and count
    (0x7ffd5c3a7b58 /* 4 vars */, execve.c printargc); JSON gets the strings."""

    def __init__(self, items, addr: int):
        super().__init__(items)
        self.addr = addr

    def __str__(self) -> str:
        return f"{self.addr:#x} /* {len(self)} var{'' if len(self) == 1 else 's'} */"


class IntRef(int):
    """An int a pointer argument points to, as strace prints it: [1234]; a number in JSON."""

    def __str__(self) -> str:
        return f"[{int(self)}]"

    __repr__ = __str__


def _inout_int(mem, addr):
    """An int the call reads and writes, as strace prints a socklen: [16], or
    [128 => 16] when the call changed it (the tracer's copies at entry and exit)."""
    pair = getattr(mem, "read_pair", None)
    first, last = pair(addr, 4) if pair else (mem.read_bytes(addr, 4),) * 2
    a, b = _S_INT.unpack(_exactly(first, 4))[0], _S_INT.unpack(_exactly(last, 4))[0]
    return IntRef(b) if a == b else IntChange(b, a)


class IntChange(int):
    """[128 => 16]: an int a call changed (its value after, in JSON)."""

    def __new__(cls, value: int, before: int):
        self = super().__new__(cls, value)
        self.before = before
        return self

    def __str__(self) -> str:
        return f"[{self.before} => {int(self)}]"

    __repr__ = __str__


class WaitStatus(int):
    """A wait status as strace prints it (wait.c printstatus):
    [{WIFEXITED(s) && WEXITSTATUS(s) == 0}]; a number in JSON."""

    def __str__(self) -> str:
        s = int(self) & 0xFFFFFFFF
        sig = lambda n: str(_named(SIGNALS, n))     # noqa: E731
        if s & 0xFF == 0x7F:
            n = (s >> 8) & 0xFF
            text = f"{{WIFSTOPPED(s) && WSTOPSIG(s) == {sig(n & 0x7F)}{' | 0x80' if n & 0x80 else ''}}}"
            s &= ~(n << 8 | 0x7F)
        elif 0 < s & 0x7F < 0x7F:
            text = f"{{WIFSIGNALED(s) && WTERMSIG(s) == {sig(s & 0x7F)}{' && WCOREDUMP(s)' if s & 0x80 else ''}}}"
            s &= ~(s & 0x7F | 0x80)
        elif s & 0x7F == 0:
            text = f"{{WIFEXITED(s) && WEXITSTATUS(s) == {(s >> 8) & 0xFF}}}"
            s &= ~(s & 0xFF00)
        elif s == 0xFFFF:
            text = "{WIFCONTINUED(s)}"
            s &= ~0xFFFF
        else:
            return f"[{_hex0(s)}]"
        if s >> 16:
            text += f" | {kind_text(FIELD_KINDS['ptrace_event'], s >> 16)} << 16"
            s &= 0xFFFF
        if s:
            text += f" | {_hex0(s)}"
        return f"[{text}]"

    __repr__ = __str__


def _utsname(data: bytes) -> Name:
    """struct utsname as strace abbreviates it: {sysname="Linux", nodename="vm", ...}."""
    field = lambda b: '"' + _escape(b.split(_NUL)[0]) + '"'      # noqa: E731
    data = _exactly(data, 130)
    return Name(f"{{sysname={field(data[:65])}, nodename={field(data[65:130])}, ...}}")


def _stack_t(data: bytes) -> dict:
    """stack_t (sigaltstack) as strace prints it: {ss_sp=0x55..., ss_flags=0, ss_size=16384}."""
    sp, flags, size = _st.unpack_from("<Qi4xQ", data)
    return {"ss_sp": Addr(sp), "ss_flags": kind_text(FIELD_KINDS["ss_flags"], flags), "ss_size": size}


class More(dict):
    """A structure strace abbreviates: its fields, then ", ..." (struct
    rusage: {ru_utime={...}, ru_stime={...}, ...}); JSON gets the fields."""


def _timeval(sec: int, usec: int) -> dict:
    return {"tv_sec": sec, "tv_usec": usec}


def _rusage(data: bytes) -> More:
    """struct rusage as strace abbreviates it (rusage.c printrusage): ru_utime, ru_stime, ..."""
    us, uu, ss, su = _st.unpack_from("<qqqq", _exactly(data, 32))
    return More(ru_utime=_timeval(us, uu), ru_stime=_timeval(ss, su))


def _statfs(data: bytes) -> dict:
    """struct statfs (x86_64) as strace prints it (print_struct_statfs.c): f_type by name,
    f_fsid's two ints in hex, f_flags only with ST_VALID."""
    (ftype, bsize, blocks, bfree, bavail, files, ffree, fsid0, fsid1, namelen, frsize,
     flags) = _st.unpack_from("<QQQQQQQIIQQQ", _exactly(data, 88))
    out = {"f_type": kind_text(FIELD_KINDS["fs_magic"], ftype), "f_bsize": bsize, "f_blocks": blocks,
           "f_bfree": bfree, "f_bavail": bavail, "f_files": files, "f_ffree": ffree,
           "f_fsid": {"val": [Name(_hex0(fsid0)), Name(_hex0(fsid1))]}, "f_namelen": namelen, "f_frsize": frsize}
    if flags & 0x20:        # ST_VALID
        out["f_flags"] = kind_text(FIELD_KINDS["statfs_flags"], flags)
    return out


def _sysinfo(data: bytes) -> dict:
    """struct sysinfo (x86_64) as strace prints it (sysinfo.c), every field."""
    (uptime, l1, l2, l3, totalram, freeram, sharedram, bufferram, totalswap, freeswap, procs, totalhigh, freehigh,
     mem_unit) = _st.unpack_from("<qQQQQQQQQQH6xQQI", _exactly(data, 108))
    return {"uptime": uptime, "loads": [l1, l2, l3], "totalram": totalram, "freeram": freeram,
            "sharedram": sharedram, "bufferram": bufferram, "totalswap": totalswap, "freeswap": freeswap,
            "procs": procs, "totalhigh": totalhigh, "freehigh": freehigh, "mem_unit": mem_unit}


def when(sec: int, part: int, width: int) -> str:
    """A time as strace's sprinttime_ex writes it in a comment, in the local
    time zone: 1970-01-01T00:16:40+0000, 1970-01-01T00:00:01.500000000+0000
    (width 9 for nanoseconds, 6 for microseconds); "" for 0 or a bad part."""
    if (sec == 0 and part == 0) or not 0 <= part < 10 ** width:
        return ""
    try:
        tm = _time.localtime(sec)
        text = _time.strftime("%Y-%m-%dT%H:%M:%S", tm)
    except (OverflowError, OSError, ValueError):
        return ""
    return text + (f".{part:0{width}d}" if part else "") + _time.strftime("%z", tm)


class UTime(dict):
    """A time utimensat, utimes, futimesat set, as strace prints it:
    {tv_sec=1000, tv_nsec=0} /* 1970-01-01T00:16:40+0000 */ (the comment:
    decode.when); JSON gets the fields."""

    def __str__(self) -> str:
        sub = "tv_nsec" if "tv_nsec" in self else "tv_usec"
        part = self[sub]
        comment = when(self["tv_sec"], part & (1 << 64) - 1, 9 if sub == "tv_nsec" else 6)
        return f"{{tv_sec={self['tv_sec']}, {sub}={part}}}" + (f" /* {comment} */" if comment else "")


UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2    # include/uapi/linux/stat.h


def _utimes(data: bytes, nsec: bool) -> list:
    """struct timespec[2] (utimensat) or timeval[2] (utimes, futimesat) as strace's
    print_timespec_utime_pair, print_timeval_utimes: [UTime, UTime], UTIME_NOW and
    UTIME_OMIT by name."""
    out = []
    for sec, part in _st.iter_unpack("<qq", data[:32]):
        if nsec and part in (UTIME_NOW, UTIME_OMIT):
            out.append(Name("UTIME_NOW" if part == UTIME_NOW else "UTIME_OMIT"))
        else:
            out.append(UTime(tv_sec=sec, **{"tv_nsec" if nsec else "tv_usec": part}))
    return out


def _itimerval(data: bytes) -> dict:
    """struct itimerval (setitimer, getitimer): {it_interval={tv_sec=0, tv_usec=0}, it_value={...}}."""
    a, b, c, d = _st.unpack_from("<qqqq", _exactly(data, 32))
    return {"it_interval": _timeval(a, b), "it_value": _timeval(c, d)}


def _itimerspec(data: bytes) -> dict:
    """struct itimerspec (timer_settime, timerfd_settime): {it_interval={tv_sec=0, tv_nsec=0}, it_value={...}}."""
    a, b, c, d = _st.unpack_from("<qqqq", _exactly(data, 32))
    return {"it_interval": {"tv_sec": a, "tv_nsec": b}, "it_value": {"tv_sec": c, "tv_nsec": d}}


class CommStr(str):
    """A task's name (prctl PR_SET_NAME, PR_GET_NAME) as strace prints it
    (printstr_ex, QUOTE_0_TERMINATED, 16 bytes): up to its NUL, "..." after
    the quotes when the 16 bytes hold none; JSON gets the string."""

    more: bool = False


def _pointed(kind: str, data: bytes):
    """What a POINTED kind points to: a task's name (CommStr), or an int ([1], IntRef)."""
    if kind.startswith("comm"):
        return _comm(data)
    if kind.startswith("flock"):
        return _flock(data, kind == "flock_out")
    return IntRef(_S_INT.unpack(_exactly(data, 4))[0])


def _flock(data: bytes, getlk: bool) -> dict:
    """struct flock as strace's print_struct_flock64: {l_type=F_RDLCK, l_whence=SEEK_SET, l_start=0,
    l_len=0}, and l_pid for F_GETLK (at its exit)."""
    l_type, whence, start, length, pid = _st.unpack_from("<hh4xqqi", _exactly(data, 28))
    out = {"l_type": kind_text(FIELD_KINDS["lock_type"], l_type & 0xFFFF),
           "l_whence": kind_text(KINDS["seek_whence"], whence & 0xFFFF), "l_start": start, "l_len": length}
    if getlk:
        out["l_pid"] = pid
    return out


def _comm(data: bytes) -> CommStr:
    end = data.find(_NUL)
    out = CommStr((data if end < 0 else data[:end]).decode(errors="surrogateescape"))
    out.more = end < 0
    return out


class ClockT(int):
    """A clock_t (si_utime) as strace prints it (print_clock_t, USER_HZ 100): 4 /* 0.04 s */; a number in JSON."""

    def __str__(self) -> str:
        v = int(self)
        return f"{v} /* {v // 100}.{v % 100:02d} s */" if v else "0"

    __repr__ = __str__


def _tms(data: bytes) -> dict:
    """struct tms (times): {tms_utime=0, tms_stime=3 /* 0.03 s */, tms_cutime=0, tms_cstime=0}."""
    return dict(zip(("tms_utime", "tms_stime", "tms_cutime", "tms_cstime"),
                    map(ClockT, _st.unpack_from("<QQQQ", _exactly(data, 32)))))


AUDIT_ARCHES = {0xC000003E: "AUDIT_ARCH_X86_64", 0x40000003: "AUDIT_ARCH_I386"}
_FAULTS = (_signal.SIGILL, _signal.SIGFPE, _signal.SIGBUS, _signal.SIGSEGV, _signal.SIGTRAP)


def _si_errno(e: int) -> Any:
    return Name(ERRNO_NAMES.get(e) or KERNEL_ERRNOS.get(e) or str(e))


def _siginfo(data: bytes) -> dict:
    """siginfo_t (waitid, rt_sigtimedwait, rt_sigqueueinfo) as strace prints it
    (printsiginfo.c): {} when si_signo is 0; the signal and its code, then the
    fields of its kind: a sender's si_pid and si_uid, SIGCHLD's status and
    times, a fault's si_addr, SIGIO's band and fd, SIGSYS's call, a queued
    value (si_int, si_ptr)."""
    signo, err, code = _st.unpack_from("<iIi", _exactly(data, 48))
    if not signo:
        return {}
    out = {"si_signo": _named(SIGNALS, signo), "si_code": si_code(signo, code)}
    if err:
        out["si_errno"] = _si_errno(err)
    pid, uid, value = _st.unpack_from("<iIi", data, 16)
    ptr, = _st.unpack_from("<Q", data, 24)
    source = {"si_pid": pid, "si_uid": -1 if uid == 0xFFFFFFFF else uid}
    sigval = {"si_int": value, "si_ptr": Addr(ptr)}
    if code <= 0:                           # SI_FROMUSER
        if code in (0, -6):                 # SI_USER, SI_TKILL
            out.update(source)
        elif code == -2:                    # SI_TIMER
            out.update(si_timerid=Name(_hex0(pid & 0xFFFFFFFF)), si_overrun=_int(uid, 32, True), **sigval)
        elif code == -5:                    # SI_SIGIO
            out.update(si_band=_st.unpack_from("<q", data, 16)[0], si_fd=value)
        else:
            out.update(source)
            if ptr:
                out.update(sigval)
    elif signo == _signal.SIGCHLD:
        utime, stime = _st.unpack_from("<QQ", data, 32)
        out.update(source, si_status=value if code == 1 else _named(SIGNALS, value),   # CLD_EXITED: a number
                   si_utime=ClockT(utime), si_stime=ClockT(stime))
    elif signo in _FAULTS:
        out["si_addr"] = Addr(_st.unpack_from("<Q", data, 16)[0])
    elif signo == _signal.SIGIO:
        if code in (1, 2, 3):               # POLL_IN, POLL_OUT, POLL_MSG
            out.update(si_band=_st.unpack_from("<q", data, 16)[0], si_fd=value)
    elif signo == _signal.SIGSYS:
        call, nr, arch = _st.unpack_from("<QiI", data, 16)
        from .table import BY_NR     # the table imports this module
        name = BY_NR[nr].name if nr in BY_NR and arch == 0xC000003E else None
        out.update(si_call_addr=Addr(call), si_syscall=Name(f"__NR_{name}") if name else nr & 0xFFFFFFFF,
                   si_arch=Name(AUDIT_ARCHES.get(arch) or f"{arch:#x} /* AUDIT_ARCH_??? */"))
    else:
        if pid or uid:
            out.update(source)
        if ptr:
            out.update(sigval)
    return out


def _sigevent(data: bytes) -> dict:
    """struct sigevent (timer_create, mq_notify) as strace prints it (print_sigevent.c):
    sigev_value only when set, the signal by name when one is sent, then the way, and
    SIGEV_THREAD_ID's thread or SIGEV_THREAD's function and attributes."""
    value, signo, notify, tid = _st.unpack_from("<QiIi", _exactly(data, 32))
    out = {}
    if value:
        out["sigev_value"] = {"sival_int": _int(value, 32, True), "sival_ptr": Addr(value)}
    out["sigev_signo"] = _named(SIGNALS, signo) if notify in (0, 2, 4) else signo & 0xFFFFFFFF
    out["sigev_notify"] = kind_text(FIELD_KINDS["sigev_notify"], notify)
    if notify == 4:                 # SIGEV_THREAD_ID
        out["sigev_notify_thread_id"] = tid
    elif notify == 2:               # SIGEV_THREAD
        fn, attr = _st.unpack_from("<QQ", data, 16)
        out.update(sigev_notify_function=Addr(fn), sigev_notify_attributes=Addr(attr))
    return out


def _epoll_event(data: bytes) -> dict:
    """struct epoll_event (packed: 12 bytes) as strace prints it (epoll.c): {events=EPOLLIN, data={u32=5, u64=5}}."""
    events, u64 = _st.unpack_from("<IQ", data)
    return {"events": kind_text(FIELD_KINDS["epoll_events"], events), "data": {"u32": u64 & 0xFFFFFFFF, "u64": u64}}


def _epoll_events(data: bytes, count: int) -> list:
    out = [_epoll_event(data[12 * i:]) for i in range(min(count, len(data) // 12))]
    return out + [...] if count > len(out) else out


def _gids(data: bytes, count: int) -> list:
    """getgroups' and setgroups' lists as strace's print_groups: [0, 1], (gid_t)-1 as -1, 32 then "..."."""
    have = min(count, len(data) // 4, SHOW)
    out = [-1 if g == 0xFFFFFFFF else g for g in _st.unpack_from(f"<{have}I", data)]
    return out + [...] if count > have else out


NGROUPS_MAX = 65536     # strace's print_groups: a longer list is its address


# layout -> (bytes of one, formatter of (bytes, count), counted by the result when out): arrays sized by
# an argument (fds:inout[pollfd[]](nfds)); epoll_wait's events, getgroups' list are as many as it returns
FAST_ARRAYS = {"pollfd": (8, _pollfds, False), "epoll_event": (12, _epoll_events, True), "gid": (4, _gids, True)}
# layout -> (bytes to read, formatter): decoded for display without construct
FAST_STRUCTS = {"stat": (144, _stat), "statx": (48, _statx), "timespec": (16, _timespec),
                "sockaddr": (128, _sockaddr), "sigset": (8, _sigset), "sigaction": (32, _sigaction),
                "rlimit": (16, _rlimit), "epoll_event": (12, _epoll_event), "stack_t": (24, _stack_t),
                "utsname": (130, _utsname), "rusage": (32, _rusage), "statfs": (88, _statfs),
                "sysinfo": (108, _sysinfo), "tms": (32, _tms), "itimerval": (32, _itimerval), "itimerspec": (32, _itimerspec),
                "siginfo": (48, _siginfo), "sigevent": (32, _sigevent)}


def has_note(sc) -> bool:
    """A call strace notes the result of: one with a pollfd[] argument (poll, ppoll), select, pselect6."""
    return any((m := TYPE.match(k)) and m.group("target") in ("pollfd", "fd_set") for _, k in sc.params)


def has_mmsg_note(sc) -> bool:
    """recvmmsg: " (Timeout)" for 0, " (left {...})" of a timeout it was given."""
    return any(STYLES.get((sc.name, name)) == "mmsghdr_recv" for name, _ in sc.params)


def result_note(sc, args: list, ret: int) -> str:
    """What strace adds after a result: poll's ready fds (" ([{fd=3,
    revents=POLLIN}])", ppoll's then ", left {...}"), select's
    " (in [3], out [4], left {...})", " (Timeout)", recvmmsg's " (left {tv_sec=0,
    tv_nsec=999998157})" (its timeout kept by the tracer); else ""."""
    if sc is not None and ret >= 0 and has_mmsg_note(sc):
        if ret == 0:
            return " (Timeout)"
        t = next((v for _, v in args if isinstance(v, HeldTimespec)), None)
        return f" (left {t.left})" if t is not None else ""
    if sc is None or ret < 0 or not has_note(sc):
        return ""
    if ret == 0:
        return " (Timeout)"
    values = dict(args)
    if "readfds" in values:
        return _select_note(values, ret)
    fds = args[0][1] if args else None
    text = fds.revents() if isinstance(fds, PollFds) else ""
    t = values.get("tmo_p")
    if t:           # ppoll (strace's decode_poll_exiting)
        text += (", left " if text else "left ") + _left_text(t)
    return f" ({text})" if text else ""

# the kernel's restart codes a tracer sees at a syscall's exit (include/linux/errno.h)
# what strace says of a call a signal interrupted, by its restart code
RESTART_MSGS = {512: "To be restarted if SA_RESTART is set", 513: "To be restarted", 514: "To be restarted if no handler",
                516: "Interrupted by signal"}
KERNEL_ERRNOS = {512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
                 516: "ERESTART_RESTARTBLOCK"}


def errno_name(err: int) -> str:
    return ERRNO_NAMES.get(err) or KERNEL_ERRNOS.get(err) or str(err)


__all__ = ["Addr", "Name", "Flags", "AT_FDCWD", "OPEN_FLAGS", "CLOCKS", "SIGNALS", "TYPE", "register", "args",
           "Kind", "Switch", "KINDS", "kind_text", "si_code", "switched", "SI_CODES", "SIGNAL_CODES",
           "open_flags", "show", "format_call", "format_result", "PathStr", "FAST_STRUCTS", "file_mode", "errno_name"]
