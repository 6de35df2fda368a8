"""What a zone is made of: ZoneConfig, the one definition of a zone's options.

Each field of ZoneConfig is a keyword of `Zone(rootfs, **options)` and, through
the Flag(s) in its metadata, an option of `lxrun run` (lxbrand/cli.py applies
click.option for each, in field order; `lxrun --help` and lxrun(1) show them).
A field is written here once: its name, its default, its command-line flags and
help, and how the command line's text becomes its value (`parse`); validate()
checks a value however it came, and normalises it.

This module imports neither click nor the compiled supervisor: the library and
`lxrun --help` pay for neither.  The C front door (csrc/frontdoor/lxrun.c)
parses the same flags for the zones it runs itself: a flag renamed here must be
renamed there.
"""
from __future__ import annotations

import dataclasses
import errno as errno_mod
import os
import re
import shutil
from collections import namedtuple
from typing import Any, Callable, Optional

from . import limits
from .errors import ZoneConfigError

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_NAME_MAX = 64
NETS = ("none", "host", "private")
ID_MAX = 2**32 - 2       # the highest id a zone may give (2**32 - 1 is "no id")


class Bind(namedtuple("Bind", "src dst readonly", defaults=(False,))):
    """A host path bound into the zone: --bind SRC:DST[:ro]."""

    __slots__ = ()

    @classmethod
    def parse(cls, spec: str) -> "Bind":
        """SRC:DST[:ro|:rw], as --bind takes it."""
        parts = spec.split(":")
        mode = "rw"
        if len(parts) == 3:
            mode = parts.pop()
        if len(parts) != 2 or not parts[0] or not parts[1] or mode not in ("ro", "rw"):
            raise ZoneConfigError(f"--bind {spec!r}: expected SRC:DST or SRC:DST:ro")
        return cls(parts[0], parts[1], mode == "ro")


def _no_hosts_file(rootfs: str) -> bool:
    """The rootfs has no /etc/hosts, or an empty one: the zone shows its own."""
    try:
        return os.lstat(os.path.join(rootfs, "etc", "hosts")).st_size == 0
    except FileNotFoundError:
        return os.path.isdir(os.path.join(rootfs, "etc"))
    except OSError:
        return False


def _check_hostname(name) -> None:
    """A hostname as RFC 1123 has it: dot-separated labels of letters, digits
    and inner hyphens, 1 to 63 bytes each, at most HOST_NAME_MAX in all (it
    becomes the UTS nodename and a line of the zone's /etc/hosts)."""
    labels = name.split(".") if isinstance(name, str) else []
    if not (labels and len(name.encode()) <= HOST_NAME_MAX and all(
            0 < len(label) <= 63 and label.isascii() and label.replace("-", "").isalnum()
            and not label.startswith("-") and not label.endswith("-") for label in labels)):
        raise ZoneConfigError(f"hostname {name!r}: expected 1 to {HOST_NAME_MAX} bytes of letters, digits, "
                              "hyphens and dots (RFC 1123)")


def _check_types(cfg) -> None:
    """Wrong types are named here, not met as a TypeError deep inside."""
    def want(name, value, types, what):
        if not isinstance(value, types):
            raise ZoneConfigError(f"{name} {value!r}: expected {what}, not {type(value).__name__}")
    want("hostname", cfg.hostname, str, "a str")
    want("domainname", cfg.domainname, (str, type(None)), "a str or None")
    want("net", cfg.net, str, "a str")
    want("cwd", cfg.cwd, str, "a str")
    want("kernel_release", cfg.kernel_release, (str, type(None)), "a str or None")
    want("ephemeral", cfg.ephemeral, (bool, int), "a bool")
    want("binds", cfg.binds, (list, tuple), "a list of Bind, (src, dst[, readonly]) or 'SRC:DST[:ro]'")
    for b in cfg.binds:
        if not isinstance(b, str) and not (isinstance(b, (list, tuple)) and 2 <= len(b) <= 3
                                           and isinstance(b[0], (str, os.PathLike)) and isinstance(b[1], str)):
            raise ZoneConfigError(f"bind {b!r}: expected Bind, (src, dst[, readonly]) or 'SRC:DST[:ro]'")
    want("env", cfg.env, dict, "a dict of str to str")
    for k, v in cfg.env.items():
        if not isinstance(k, str) or not isinstance(v, (str, int)) or isinstance(v, bool):
            raise ZoneConfigError(f"environment variable {k!r}={v!r}: expected str names and values")
    want("deny", cfg.deny, dict, "a dict of syscall name to errno")
    want("seccomp_bpf", cfg.seccomp_bpf, bytes, "bytes (struct sock_filter[])")
    h = cfg.handler_errno
    code = getattr(errno_mod, h, None) if isinstance(h, str) and h.startswith("E") else h
    if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 4095:
        raise ZoneConfigError(f"handler_errno {h!r}: expected an errno, 1 to 4095 or a name such as 'EIO'")


def _tmpfs_spec(spec) -> tuple:
    """--tmpfs DST[:size=SIZE][,mode=MODE] -> (dst, tmpfs options)."""
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        dst, opts = spec
    elif isinstance(spec, str):
        dst, _, opts = spec.partition(":")
    else:
        raise ZoneConfigError(f"--tmpfs {spec!r}: expected DST[:size=SIZE,mode=MODE]")
    if not isinstance(dst, str) or not dst.startswith("/") or dst == "/":
        raise ZoneConfigError(f"--tmpfs {spec!r}: the destination must be an absolute path below /")
    out = []
    for item in filter(None, str(opts).split(",")):
        key, eq, value = item.partition("=")
        if key == "size" and eq:
            out.append("size=" + limits.tmpfs_size(value, "--tmpfs size"))
        elif key == "mode" and eq and re.fullmatch(r"[0-7]{3,4}", value):
            out.append("mode=" + value)
        else:
            raise ZoneConfigError(f"--tmpfs {spec!r}: {item!r}: expected size=SIZE or mode=MODE (octal)")
    if not any(o.startswith("size=") for o in out):
        out.append("size=" + limits.tmpfs_size(limits.TMP_SIZE, "--tmpfs size"))
    if not any(o.startswith("mode=") for o in out):
        out.append("mode=1777")
    return dst, ",".join(out)


# -- the command line's text to a field's value ---------------------------
# Each takes the values click collected for the flag and returns the field's
# value; a ZoneConfigError's text becomes click.BadParameter's (lxbrand/cli.py).

def _env_item(env: dict, item: str, where: str = "") -> None:
    """K=V sets K; a bare NAME passes the caller's NAME through (none if unset),
    as podman and docker take -e NAME."""
    key, sep, value = item.partition("=")
    if not key or "\0" in item or (not sep and not key.replace("_", "a").isalnum()):
        raise ZoneConfigError(f"{where}{item!r}: expected NAME=VALUE or NAME")
    if sep:
        env[key] = value
    elif key in os.environ:
        env[key] = os.environ[key]


def parse_env(values) -> dict:
    env: dict = {}
    for item in values:
        _env_item(env, item)
    return env


def parse_env_file(values) -> dict:
    """--env-file FILE: NAME=VALUE lines (or NAME: the caller's value); blank
    lines and lines starting with # are skipped; no quoting, as docker's."""
    env: dict = {}
    for path in values:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ZoneConfigError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
        for n, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                _env_item(env, line.lstrip(), f"{path}:{n}: ")
    return env


def parse_binds(values) -> list:
    binds = []
    for v in values:
        try:
            binds.append(Bind.parse(v))
        except ZoneConfigError as e:
            raise ZoneConfigError(str(e).split(": ", 1)[-1] + f" (got {v!r})") from None
    return binds


def parse_deny(values) -> dict:
    """SYSCALL[=ERRNO] items: {syscall: errno text}, EPERM when none is given."""
    deny = {}
    for item in values:
        name, _, err = item.partition("=")
        if not name:
            raise ZoneConfigError(f"{item!r}: expected SYSCALL or SYSCALL=ERRNO")
        deny[name] = err or "EPERM"
    return deny


# -- the fields' command-line metadata -------------------------------------

FIELD_DEFAULT = object()   # a Flag's default: the field's own


@dataclasses.dataclass(frozen=True)
class Flag:
    """One option of `lxrun run` for a ZoneConfig field: click.option's
    arguments, without click.  decls are the flags and, last, the name of
    the parameter; choices, int_range and float_range become click types."""
    decls: tuple
    help: str
    metavar: Optional[str] = None
    multiple: bool = False
    is_flag: bool = False
    show_default: bool = False
    choices: Optional[tuple] = None
    int_range: Optional[tuple] = None
    float_range: Optional[tuple] = None
    parse: Optional[Callable] = None
    default: Any = FIELD_DEFAULT

    @property
    def dest(self) -> str:
        return self.decls[-1]


def _option(default, *flags: Flag, merge: Optional[Callable] = None, factory: Optional[Callable] = None):
    """A ZoneConfig field with its command-line flags; with several flags,
    merge(*their values) is the field's value (-e over --env-file)."""
    meta = {"flags": flags, "merge": merge}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class ZoneConfig:
    """What a zone is made of; validate() checks it and normalises paths.

    The fields, in this order, are `lxrun run`'s options (lxbrand/cli.py
    generates them) and Zone's keyword arguments."""

    rootfs: Any
    hostname: str = _option("zone", Flag(
        ("--hostname", "hostname"), "The zone's hostname.", show_default=True))
    domainname: Optional[str] = _option(None, Flag(
        ("--domainname", "domainname"), "The zone's NIS domain name (setdomainname) [default: none].",
        metavar="NAME"))
    net: str = _option("none", Flag(
        ("--net", "net"), "none: only loopback, up; host: the host's network; private: a network of its own "
        "with outbound access, through pasta (package passt).", choices=NETS, show_default=True))
    publish: Any = _option((), Flag(
        ("-p", "--publish", "publish"), "With --net private: forward the host's port HOST to the zone's port ZONE "
        "(repeatable; /udp for UDP; ADDR: listen on that host address only).", metavar="[ADDR:]HOST:ZONE[/udp]",
        multiple=True))
    binds: Any = _option((), Flag(
        ("-v", "--bind", "binds"), "Bind a host path into the zone (repeatable).", metavar="SRC:DST[:ro]",
        multiple=True, parse=parse_binds))
    ephemeral: bool = _option(False, Flag(
        ("--ephemeral", "ephemeral"), "Writes go to a throw-away overlay; the rootfs is untouched.", is_flag=True))
    cwd: str = _option("/", Flag(
        ("-w", "--cwd", "cwd"), "Working directory inside the zone.", show_default=True))
    env: Any = _option(None, Flag(
        ("-e", "--env", "env"), "Set an environment variable over the clean default (PATH, HOME, TERM); "
        "a bare K passes your K through (repeatable).", metavar="K=V|K", multiple=True, parse=parse_env), Flag(
        ("--env-file", "env_file"), "Read K=V lines (or K) from FILE; # starts a comment; -e wins over it.",
        metavar="FILE", multiple=True, parse=parse_env_file),
        merge=lambda env, env_file: {**env_file, **env}, factory=dict)
    uid: int = _option(0, Flag(
        ("-u", "--uid", "uid"), "User id inside the zone.  Run by root, zone ids 0-65535 are host ids "
        "1879048192-1879113727 (never host root).  Run by a user, --uid is you, and the "
        "other ids are your subordinate ids (/etc/subuid, with newuidmap) or do not exist: "
        "`lxrun info` says which.", int_range=(0, ID_MAX), show_default=True))
    gid: int = _option(0, Flag(
        ("--gid", "gid"), "Group id inside the zone, mapped as --uid is (/etc/subgid).",
        int_range=(0, ID_MAX), show_default=True))
    kernel_release: Optional[str] = _option(None, Flag(
        ("--kernel-release", "kernel_release"), "The kernel the zone runs on, Linux 3.2 to 6.18.x: uname, "
        "/proc/version, later syscalls ENOSYS [default: the host's].", metavar="RELEASE"))
    deny: Any = _option(None, Flag(
        ("--deny", "deny"), "Fail SYSCALL with ERRNO (default EPERM) in the kernel: fault injection "
        "(repeatable).", metavar="SYSCALL[=ERRNO]", multiple=True, parse=parse_deny), factory=dict)
    inject: Any = _option((), Flag(
        ("--inject", "inject"), "Inject a fault as strace --inject does, decided per call by the supervisor "
        "(repeatable).  RULE is SYSCALL[,SYSCALL...] then :KEY=VALUE items: error=ERRNO or retval=N (or "
        "delay alone); when=N, N+ or N+STEP counts matching calls; path=GLOB for the open, stat, access, "
        "unlink, rmdir and mkdir families (the supervisor performs them); delay=D as 100us, 5ms, 1s; "
        "pid=N, the zone's pid.  E.g. write:error=ENOSPC:when=3",
        metavar="RULE", multiple=True, parse=lambda values: list(values)))
    memory: Any = _option(None, Flag(
        ("--memory", "memory"), "Memory limit of the whole zone, at least 4M, e.g. 512M (a cgroup; tmpfs "
        "pages count); free and /proc/meminfo show it.", metavar="SIZE"))
    pids: Optional[int] = _option(None, Flag(
        ("--pids", "pids"), "At most N processes and threads in the zone.", metavar="N", int_range=(1, None)))
    cpus: Optional[float] = _option(None, Flag(
        ("--cpus", "cpus"), "CPU time of N CPUs, e.g. 0.5; nproc and /proc/cpuinfo show ceil(N) CPUs.",
        metavar="N", float_range=(0.01, 4096)))
    tmp_size: Any = _option(limits.TMP_SIZE, Flag(
        ("--tmp-size", "tmp_size"), "Size of the zone's /tmp tmpfs (bytes, 64M, or N% of RAM).",
        metavar="SIZE", show_default=True))
    shm_size: Any = _option(limits.SHM_SIZE, Flag(
        ("--shm-size", "shm_size"), "Size of the zone's /dev/shm tmpfs.", metavar="SIZE", show_default=True))
    tmpfs: Any = _option((), Flag(
        ("--tmpfs", "tmpfs"), "A fresh tmpfs at DST (repeatable; default size 25% of RAM, mode 1777).",
        metavar="DST[:size=SIZE,mode=MODE]", multiple=True))
    read_only: bool = _option(False, Flag(
        ("--read-only", "read_only"), "The root read-only (/tmp, /dev, /proc, --tmpfs and --bind keep their "
        "own flags).", is_flag=True))
    fakeroot: Optional[bool] = _option(None, Flag(
        ("--fakeroot/--no-fakeroot", "fakeroot"), "A fake root: root's chown and mknod succeed, recorded in "
        "each file's user.lxbrand.owner attribute, and stat shows them (package managers work with one id) "
        "[default: on when run by a user without subordinate ids].", is_flag=True))
    # the container's own seccomp profile, compiled (lxbrand/oci.py from
    # config.json's linux.seccomp): a second filter loaded after the brand's,
    # the stricter answer wins; no lxrun flag
    seccomp_bpf: bytes = dataclasses.field(default=b"", metadata={"flags": (), "merge": None})
    # the errno a guest's call fails with when a Python handler raises
    # something other than OSError (an OSError gives its own errno); the
    # error is reported with the syscall's and the handler's names; an int or
    # a name such as "EIO"; the library's, no lxrun flag
    handler_errno: Any = dataclasses.field(default="EIO", metadata={"flags": (), "merge": None})

    def __post_init__(self):
        # None for a list or a dict: empty, as the keyword's default
        for name, empty in (("binds", []), ("env", {}), ("deny", {})):
            if getattr(self, name) is None:
                object.__setattr__(self, name, empty)

    @classmethod
    def fields(cls) -> tuple:
        """The fields that are options (all but rootfs), in order."""
        return tuple(f for f in dataclasses.fields(cls) if f.name != "rootfs")

    @classmethod
    def flags(cls) -> list:
        """[(field, Flag)]: `lxrun run`'s zone options, in order."""
        return [(f, flag) for f in cls.fields() for flag in f.metadata["flags"]]

    @classmethod
    def options_from_cli(cls, values: dict) -> dict:
        """Zone's keyword arguments from click's parameters (taken out of
        `values`; what is left there is not the zone's)."""
        out = {}
        for f in cls.fields():
            flags = f.metadata["flags"]
            if not flags:
                continue                # not an option of lxrun (seccomp_bpf)
            given = [values.pop(flag.dest) for flag in flags]
            out[f.name] = f.metadata["merge"](*given) if f.metadata["merge"] else given[0]
        return out

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)     # validate's normalising of a frozen config

    def validate(self) -> None:
        from . import personality
        from .brand import check_handler_name
        if not isinstance(self.rootfs, (str, os.PathLike)):
            raise ZoneConfigError(f"rootfs {self.rootfs!r}: expected a path")
        self._set("rootfs", os.path.abspath(os.fspath(self.rootfs)))
        if not os.path.exists(self.rootfs):
            raise ZoneConfigError(f"{self.rootfs}: rootfs does not exist")
        if not os.path.isdir(self.rootfs):
            raise ZoneConfigError(f"{self.rootfs}: rootfs is not a directory")
        _check_types(self)
        _check_hostname(self.hostname)
        if self.domainname is not None and (not self.domainname or len(self.domainname.encode()) > HOST_NAME_MAX
                                            or not self.domainname.isprintable() or " " in self.domainname):
            raise ZoneConfigError(f"domainname {self.domainname!r}: must be 1 to {HOST_NAME_MAX} bytes, "
                                  "printable, without spaces")
        if self.net not in NETS:
            raise ZoneConfigError(f"net {self.net!r}: expected one of {', '.join(NETS)}")
        if self.publish:
            from .net import parse_publish
            if isinstance(self.publish, str):
                raise ZoneConfigError(f"publish {self.publish!r}: expected a list of [ADDR:]HOST:ZONE[/udp]")
            self._set("publish", tuple(p if isinstance(p, tuple) else parse_publish(p) for p in self.publish))
            if self.net != "private":
                raise ZoneConfigError("--publish needs --net private (the zone's ports are its own network's)")
        if not self.cwd.startswith("/"):
            raise ZoneConfigError(f"cwd {self.cwd!r}: must be an absolute path inside the zone")
        for name, value in (("uid", self.uid), ("gid", self.gid)):
            if not isinstance(value, int) or not 0 <= value <= ID_MAX:
                raise ZoneConfigError(f"{name} {value!r}: expected an id from 0 to {ID_MAX}")
        binds = []
        for b in self.binds:
            if isinstance(b, str):
                b = Bind.parse(b)
            elif not isinstance(b, Bind):
                b = Bind(*b)
            if not os.path.exists(b.src):
                raise ZoneConfigError(f"--bind {b.src}: no such file or directory on the host")
            if not b.dst.startswith("/"):
                raise ZoneConfigError(f"--bind {b.src}:{b.dst}: the destination must be absolute")
            binds.append(Bind(os.path.abspath(b.src), b.dst, b.readonly))
        self._set("binds", binds)
        if self.kernel_release is not None:
            personality.check_kernel_release(self.kernel_release)
        deny = {}
        for name, err in self.deny.items():
            check_handler_name(name)
            if isinstance(err, str):
                code = getattr(errno_mod, err.upper(), None) if err.upper().startswith("E") else None
                if code is None and err.isdigit():
                    code = int(err)
                if code is None:
                    raise ZoneConfigError(f"--deny {name}={err}: unknown errno (expected a name such as "
                                          "EPERM or a number)")
                err = code
            if not isinstance(err, int) or not 0 < err < 4096:
                raise ZoneConfigError(f"--deny {name}={err!r}: an errno is 1 to 4095")
            deny[name] = err
        self._set("deny", deny)
        from .inject import parse_rules     # --inject: one-line errors now, not at the zone's start
        self._set("inject", [r.text for r in parse_rules(self.inject)])
        self._set("env", dict(self.env))
        if self.memory is not None:
            given = self.memory
            self._set("memory", limits.parse_size(self.memory, "--memory"))
            if self.memory < personality.MIN_MEMORY:
                raise ZoneConfigError(f"--memory {given!r}: at least 4M (the zone's own start-up "
                                      "needs about 1M of it)")
        if self.pids is not None and (isinstance(self.pids, bool) or not isinstance(self.pids, int)
                                      or self.pids < 1):
            raise ZoneConfigError(f"--pids {self.pids!r}: expected a number of processes, at least 1")
        if self.cpus is not None:
            if isinstance(self.cpus, bool) or not isinstance(self.cpus, (int, float)) or not 0.01 <= self.cpus <= 4096:
                raise ZoneConfigError(f"--cpus {self.cpus!r}: expected a number of CPUs such as 0.5 or 2")
        self._set("tmp_size", limits.tmpfs_size(self.tmp_size, "--tmp-size"))
        self._set("shm_size", limits.tmpfs_size(self.shm_size, "--shm-size"))
        self._set("tmpfs", [_tmpfs_spec(t) for t in self.tmpfs])
        if not isinstance(self.read_only, (bool, int)):
            raise ZoneConfigError(f"read_only {self.read_only!r}: expected a bool")
        if self.fakeroot is not None and not isinstance(self.fakeroot, (bool, int)):
            raise ZoneConfigError(f"fakeroot {self.fakeroot!r}: expected a bool or None")
        if self.fakeroot and os.geteuid() == 0:
            # the supervisor performs the calls: as host root it would pass every
            # permission check, a bind the zone may not write included
            raise ZoneConfigError("--fakeroot: run by root, the zone's ids are real (0-65535) and its root "
                                  "chowns for real; --fakeroot is for a user without subordinate ids")
        if self.fakeroot and not self.ephemeral and not os.access(self.rootfs, os.W_OK):
            raise ZoneConfigError(f"--fakeroot: {self.rootfs}: you cannot write this rootfs, so its owners "
                                  "cannot be recorded there (use a rootfs of your own, or --ephemeral)")
        for k, v in self.env.items():
            if "\0" in k or "\0" in str(v):
                raise ZoneConfigError(f"environment variable {k!r}: embedded null byte")
            if not k or "=" in k:
                raise ZoneConfigError(f"environment variable {k!r}: malformed name or value")

    def id_maps(self) -> tuple[str, str, bool]:
        """The zone's uid and gid maps, and whether newuidmap must write them.

        As root, every id maps one to one, as in a chroot: files keep their
        owners and a guest may change to any user.  As another user, the
        zone's --uid/--gid map to the caller; with subordinate ids in
        /etc/subuid and /etc/subgid (and newuidmap installed) the rest of
        0-65535 maps onto them, else only that one id exists in the zone.
        """
        if os.geteuid() == 0:
            # init is host root in a namespace of its own; the guest's ids are
            # the unprivileged range idshift.BASE.. (guest_maps)
            return f"0 0 {ALL_IDS}\n", f"0 0 {ALL_IDS}\n", False
        uid_sub = _subordinate("/etc/subuid", os.geteuid())
        gid_sub = _subordinate("/etc/subgid", os.geteuid())
        if uid_sub and gid_sub and shutil.which("newuidmap") and shutil.which("newgidmap"):
            return (_map_around(self.uid, os.geteuid(), uid_sub),
                    _map_around(self.gid, os.getegid(), gid_sub), True)
        return f"{self.uid} {os.geteuid()} 1\n", f"{self.gid} {os.getegid()} 1\n", False

    def fakeroot_on(self) -> bool:
        """--fakeroot as given, else on for a user whose zone has one id (no
        subordinate ids): with them, chown is the kernel's, as it is for root."""
        if self.fakeroot is not None:
            return bool(self.fakeroot)
        return os.geteuid() != 0 and not self.id_maps()[2]

    def guest_maps(self, uid_map: str, gid_map: str) -> tuple[str, str]:
        """The guest's user namespace, below init's: as root, zone ids
        0-65535 are the host's idshift.BASE..; else the ids init has, one to one."""
        if os.geteuid() == 0:
            from . import idshift
            return idshift.guest_maps()

        def same(m: str) -> str:
            return "".join(f"{l.split()[0]} {l.split()[0]} {l.split()[2]}\n" for l in m.splitlines() if l.strip())
        return same(uid_map), same(gid_map)

    def environment(self) -> dict:
        from .command import home
        env = {"PATH": DEFAULT_PATH, "HOME": home(self.rootfs, self.uid),
               "TERM": os.environ.get("TERM", "dumb")}
        env.update({k: str(v) for k, v in self.env.items()})
        return env


ID_RANGE = 65536     # ids 0-65535 exist in a zone when subordinate ids are mapped
ALL_IDS = 2**32 - 1  # as root: every id, as in a chroot


def _subordinate(path: str, uid: int) -> Optional[tuple[int, int]]:
    """(start, count) of the caller's subordinate ids in /etc/subuid or /etc/subgid."""
    import pwd
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = None
    try:
        with open(path) as f:
            for line in f:
                who, _, rest = line.strip().partition(":")
                start, _, count = rest.partition(":")
                if who in (name, str(uid)) and start.isdigit() and count.isdigit():
                    if int(count) >= ID_RANGE - 1:
                        return int(start), int(count)
    except OSError:
        pass
    return None


def _map_around(inside: int, caller: int, sub: tuple[int, int]) -> str:
    """Map `inside` to the caller and the other ids below ID_RANGE to `sub`."""
    start = sub[0]
    lines = []
    if inside > 0:
        lines.append(f"0 {start} {min(inside, ID_RANGE)}")
    lines.append(f"{inside} {caller} 1")
    if inside + 1 < ID_RANGE:
        lines.append(f"{inside + 1} {start + inside} {ID_RANGE - inside - 1}")
    return "\n".join(lines) + "\n"
