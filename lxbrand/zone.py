"""A zone: one isolated guest under the brand, as a library.

    from lxbrand import Zone
    zone = Zone("/srv/bookworm", hostname="box", net="none", ephemeral=True)

    @zone.handler("getppid")
    def getppid(call):
        return 4242

    r = zone.run(["python3", "-c", "import os; print(os.getppid())"], capture_output=True)
    assert r.stdout == b"4242\\n"

`run` returns a subprocess.CompletedProcess: returncode is the guest's exit
status, or -N when a signal N killed it (lxrun turns that into 128+N).
"""
from __future__ import annotations

import errno as errno_mod
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import namedtuple
from typing import Callable, Optional, Sequence

from . import command, idshift, limits, personality
from ._csup import ffi, lib
from .errors import SupervisorError, ZoneConfigError, ZoneStartError
from .brand import Brand, check_handler_name
from .supervisor import Supervisor

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_NAME_MAX = 64
# lxrun passes on every signal a job can be sent (kill(1), the terminal, a
# service manager), as a shell's job would get it: all but those it cannot
# catch (KILL, STOP), its own children's (CHLD) and the faults of its own code
# (SEGV, BUS, FPE, ILL, TRAP, SYS), which a handler cannot return from
NOT_FORWARDED = frozenset((signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGSEGV, signal.SIGBUS,
                           signal.SIGFPE, signal.SIGILL, signal.SIGTRAP, signal.SIGSYS))
FORWARDED_SIGNALS = tuple(sorted(s for s in signal.valid_signals() if s not in NOT_FORWARDED))
# a stop from the terminal or kill(1): the guest is sent it, then lxrun stops
# itself, so the shell sees its job stopped; `fg` sends lxrun CONT, forwarded too
STOP_SIGNALS = (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
NETS = ("none", "host")


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


def _fs_fields(c, zone, cstr) -> None:
    """The files the zone's set-up shows: /etc/hosts where the rootfs has none,
    the kernel personality's /proc files."""
    cfgv = zone.config
    if _no_hosts_file(cfgv.rootfs):
        c.hosts = cstr(f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                       f"127.0.1.1\t{cfgv.hostname}\n")
    if cfgv.kernel_release:
        c.proc_version = cstr(zone.proc_version())
        c.osrelease = cstr(cfgv.kernel_release + "\n")


STEP_NAMES = {"PROC": "proc", "SYS": "sysfs", "DEV": "dev", "TMPFS": "tmpfs", "BIND": "bind", "FILE": "file",
              "MASK": "mask", "SELF_BIND": "rebind", "ROOT_RO": "read-only"}


def _user_steps(c, cfgv, cstr, keep) -> None:
    """The caller's own set-up steps (csrc/zone_fs.c lxb_fs_plan): --tmpfs, --read-only."""
    steps = ffi.new("struct lxb_step[]", max(1, len(cfgv.tmpfs)))
    for i, (dst, opts) in enumerate(cfgv.tmpfs):
        steps[i].op = lib.LXB_STEP_TMPFS
        steps[i].path = cstr(dst)
        steps[i].data = cstr(opts)
    keep.append(steps)
    c.steps, c.nsteps = steps, len(cfgv.tmpfs)
    c.readonly_root = int(bool(cfgv.read_only))


class ZoneConfig:
    """What a zone is made of; validate() checks it and normalises paths."""

    def __init__(self, rootfs: str, hostname: str = "zone", domainname: Optional[str] = None,
                 net: str = "none", binds: Optional[list] = None, ephemeral: bool = False,
                 cwd: str = "/", env: Optional[dict] = None, uid: int = 0, gid: int = 0,
                 kernel_release: Optional[str] = None, deny: Optional[dict] = None,
                 memory=None, pids: Optional[int] = None, cpus: Optional[float] = None,
                 tmp_size=limits.TMP_SIZE, shm_size=limits.SHM_SIZE, tmpfs=(), read_only: bool = False):
        self.rootfs = rootfs
        self.hostname = hostname
        self.domainname = domainname
        self.net = net
        self.binds = binds if binds is not None else []
        self.ephemeral = ephemeral
        self.cwd = cwd
        self.env = env if env is not None else {}
        self.uid = uid
        self.gid = gid
        self.kernel_release = kernel_release
        self.deny = deny if deny is not None else {}
        self.memory = memory
        self.pids = pids
        self.cpus = cpus
        self.tmp_size = tmp_size
        self.shm_size = shm_size
        self.tmpfs = tmpfs
        self.read_only = read_only

    def __repr__(self) -> str:
        return "ZoneConfig(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"

    def validate(self) -> None:
        if not isinstance(self.rootfs, (str, os.PathLike)):
            raise ZoneConfigError(f"rootfs {self.rootfs!r}: expected a path")
        self.rootfs = os.path.abspath(os.fspath(self.rootfs))
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
        if not self.cwd.startswith("/"):
            raise ZoneConfigError(f"cwd {self.cwd!r}: must be an absolute path inside the zone")
        for name, value in (("uid", self.uid), ("gid", self.gid)):
            if not isinstance(value, int) or not 0 <= value < 2**32 - 1:
                raise ZoneConfigError(f"{name} {value!r}: expected an id from 0 to 4294967294")
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
        self.binds = binds
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
        self.deny = deny
        self.env = dict(self.env)
        if self.memory is not None:
            given, self.memory = self.memory, limits.parse_size(self.memory, "--memory")
            if self.memory < personality.MIN_MEMORY:
                raise ZoneConfigError(f"--memory {given!r}: at least 4M (the zone's own start-up "
                                      "needs about 1M of it)")
        if self.pids is not None and (isinstance(self.pids, bool) or not isinstance(self.pids, int)
                                      or self.pids < 1):
            raise ZoneConfigError(f"--pids {self.pids!r}: expected a number of processes, at least 1")
        if self.cpus is not None:
            if isinstance(self.cpus, bool) or not isinstance(self.cpus, (int, float)) or not 0.01 <= self.cpus <= 4096:
                raise ZoneConfigError(f"--cpus {self.cpus!r}: expected a number of CPUs such as 0.5 or 2")
        self.tmp_size = limits.tmpfs_size(self.tmp_size, "--tmp-size")
        self.shm_size = limits.tmpfs_size(self.shm_size, "--shm-size")
        self.tmpfs = [_tmpfs_spec(t) for t in self.tmpfs]
        if not isinstance(self.read_only, (bool, int)):
            raise ZoneConfigError(f"read_only {self.read_only!r}: expected a bool")
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

    def guest_maps(self, uid_map: str, gid_map: str) -> tuple[str, str]:
        """The guest's user namespace, below init's: as root, zone ids
        0-65535 are the host's idshift.BASE..; else the ids init has, one to one."""
        if os.geteuid() == 0:
            return idshift.guest_maps()

        def same(m: str) -> str:
            return "".join(f"{l.split()[0]} {l.split()[0]} {l.split()[2]}\n" for l in m.splitlines() if l.strip())
        return same(uid_map), same(gid_map)

    def environment(self) -> dict:
        env = {"PATH": DEFAULT_PATH, "HOME": "/root" if self.uid == 0 else "/",
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


class Zone:
    """An isolated guest environment over a rootfs, with the brand's personality."""

    def __init__(self, rootfs, hostname: str = "zone", net: str = "none", binds: Sequence = (),
                 ephemeral: bool = False, cwd: str = "/", env: Optional[dict] = None, uid: int = 0,
                 gid: int = 0, kernel_release: Optional[str] = None, domainname: Optional[str] = None,
                 deny: Optional[dict] = None, memory=None, pids: Optional[int] = None,
                 cpus: Optional[float] = None, tmp_size=limits.TMP_SIZE, shm_size=limits.SHM_SIZE,
                 tmpfs: Sequence = (), read_only: bool = False,
                 trace: Optional[Callable] = None, trace_set: Optional[str] = None, trace_output=None,
                 trace_format: str = "text", stats: bool = False, stats_format: str = "text", report=None):
        """deny: {syscall name: errno (int or name such as "EACCES")} answered
        in the kernel instead of running the syscall (fault injection).

        Watching (lxbrand/trace.py): trace, a callable given each traced event
        (a dict with the fields of --trace-format json's lines); trace_set, the
        syscalls traced (--trace=SET); trace_output, a path or file for
        strace-like lines (or JSON lines, trace_format="json"); stats and
        report: `run(...)` returns them as `.stats` and `.report` (dicts)."""
        self.config = ZoneConfig(rootfs=rootfs, hostname=hostname, domainname=domainname, net=net,
                                 binds=binds, ephemeral=ephemeral, cwd=cwd, env=env,
                                 uid=uid, gid=gid, kernel_release=kernel_release, deny=deny,
                                 memory=memory, pids=pids, cpus=cpus, tmp_size=tmp_size, shm_size=shm_size,
                                 tmpfs=list(tmpfs), read_only=read_only)
        self.config.validate()
        self.observe = None
        if trace is not None or trace_set is not None or trace_output is not None or stats or report:
            from .trace import Observe
            self.observe = Observe(trace_set=trace_set, trace=trace_output is not None, callback=trace,
                                   output=trace_output, format=trace_format, stats=stats,
                                   stats_format=stats_format, report=report)
        self._handlers: dict[str, Callable] = {}
        self._brand: Optional[Brand] = None
        self.hostname = self.config.hostname
        self.last_supervisor: Optional[Supervisor] = None
        self._init_pid = -1

    # -- the brand ----------------------------------------------------------

    def handler(self, name: str, fn: Optional[Callable] = None):
        """Answer syscall `name` with a Python function (usable as a decorator).

        The function receives a `Call` and returns the syscall's value, a
        negative errno (or raises OSError), or lxbrand.CONTINUE.
        """
        check_handler_name(name)

        def register(f: Callable) -> Callable:
            if not callable(f):
                raise ZoneConfigError(f"handler for {name}: {f!r} is not callable")
            self._handlers[name] = f
            self._brand = None
            return f

        return register(fn) if fn is not None else register

    @property
    def brand(self) -> Brand:
        if self._brand is None:
            self._brand = Brand(self._handlers, self.config.kernel_release, self.config.deny,
                                memory=self.config.memory, cpus=self.config.cpus)
        return self._brand

    def plan(self) -> list[str]:
        """The zone's file system as the launcher will build it, one step per
        line (csrc/zone_fs.c lxb_fs_plan: the same list init executes)."""
        cfgv = self.config
        keep: list = []

        def cstr(text: str):
            p = ffi.new("char[]", os.fsencode(text))
            keep.append(p)
            return p
        c = ffi.new("struct lxb_config *")
        c.rootfs = cstr(cfgv.rootfs)
        c.ephemeral, c.net_host = int(cfgv.ephemeral), int(cfgv.net == "host")
        c.tmp_size, c.shm_size = cstr(cfgv.tmp_size), cstr(cfgv.shm_size)
        binds = ffi.new("struct lxb_bind[]", max(1, len(cfgv.binds)))
        for i, b in enumerate(cfgv.binds):
            binds[i].src, binds[i].dst, binds[i].readonly = cstr(b.src), cstr(b.dst), int(b.readonly)
        c.binds, c.nbinds = binds, len(cfgv.binds)
        _fs_fields(c, self, cstr)
        _user_steps(c, cfgv, cstr, keep)
        out = ffi.new("struct lxb_step[]", lib.LXB_MAX_STEPS)
        n = lib.lxb_fs_plan(c, out, lib.LXB_MAX_STEPS)
        if n < 0:
            raise ZoneConfigError(f"too many set-up steps (at most {lib.LXB_MAX_STEPS})")
        names = {getattr(lib, "LXB_STEP_" + k): v for k, v in STEP_NAMES.items()}
        root = "overlay (rootfs below, a tmpfs above)" if cfgv.ephemeral else "bind"
        lines = [f"root      {cfgv.rootfs} as / ({root})"]
        for st in out[0:n]:
            op = names.get(st.op, str(st.op))
            path = ffi.string(st.path).decode()
            flags = [f for f, bit in (("ro", lib.LXB_STEP_F_RO), ("if missing or empty", lib.LXB_STEP_F_IF_EMPTY),
                                      ("writable", lib.LXB_STEP_F_WRITABLE), ("optional", lib.LXB_STEP_F_OPTIONAL))
                     if st.flags & bit]
            detail = ""
            if st.op == lib.LXB_STEP_BIND:
                detail = f" from {ffi.string(st.src).decode()}"
            elif st.op in (lib.LXB_STEP_TMPFS, lib.LXB_STEP_DEV) and st.data != ffi.NULL:
                detail = f" {ffi.string(st.data).decode()}"
            elif st.op == lib.LXB_STEP_FILE:
                detail = f" ({len(ffi.string(st.data))} bytes)"
            lines.append(f"{op:<9} {path}{detail}" + (f" [{', '.join(flags)}]" if flags else ""))
        lines.append("pivot_root; the host's tree detached")
        return lines

    def uts(self) -> dict:
        host = os.uname()
        return {"sysname": "Linux", "nodename": self.config.hostname,
                "release": self.config.kernel_release or host.release,
                "version": personality.kernel_version(self.config.kernel_release) if self.config.kernel_release
                else host.version,
                "machine": "x86_64", "domainname": self.config.domainname or "(none)"}

    def proc_version(self) -> str:
        """/proc/version as the zone shows it: the host's, with the zone's release
        and version (uname's) under --kernel-release."""
        if self.config.kernel_release:
            return personality.proc_version(self.config.kernel_release)
        with open("/proc/version") as f:
            return f.read()

    # -- running ------------------------------------------------------------

    def resolve(self, argv: Sequence[str]) -> str:
        """CMD's path as the rootfs alone has it (the zone itself looks CMD
        up after its mounts, so a --bind destination counts there)."""
        if not argv:
            raise ZoneConfigError("no command given to run in the zone")
        env = self.config.environment()
        return command.resolve(self.config.rootfs, argv[0], env.get("PATH", DEFAULT_PATH), self.config.cwd)

    def exec_error(self, argv: Sequence[str], err: int) -> Exception:
        """The one-line error for a CMD the zone could not execve: what the
        rootfs says about it, else the errno."""
        from .errors import CommandNotFound, CommandNotRunnable
        try:
            self.resolve(argv)
        except (CommandNotFound, CommandNotRunnable) as e:
            return e
        if err == errno_mod.ENOENT:
            return CommandNotFound(f"{argv[0]}: command not found in the zone")
        return CommandNotRunnable(f"{argv[0]}: cannot execute in the zone: {os.strerror(err)}")

    def start(self, argv: Sequence[str], *, stdin=None, stdout=None, stderr=None, tty: bool = False,
              hold: bool = False) -> "_Run":
        """Start argv in the zone and return at once (run() waits): the
        handle's wait() returns the guest's status, close() ends what is left
        of the zone.  hold=True: the guest waits before its execve of argv
        until release() (an OCI runtime's create, then start).  tty=True: the
        guest's pty master is the handle's pty_fd, for the caller to relay."""
        argv = _argv(argv)
        _check_run_args(None, None, (stdin, stdout, stderr))
        if not argv:
            raise ZoneConfigError("no command given to run in the zone")
        run = _Run(self, argv, argv[0], stdin, stdout, stderr, tty)
        run.hold, run.pty_relay = bool(hold), False
        try:
            run.start()
        except BaseException:
            run.close()
            raise
        return run

    def run(self, argv: Sequence[str], *, input: Optional[bytes] = None, capture_output: bool = False,
            stdin=None, stdout=None, stderr=None, timeout: Optional[float] = None, check: bool = False,
            tty: bool = False, forward_signals: bool = False) -> subprocess.CompletedProcess:
        """Run argv in the zone and wait for it, like subprocess.run (no shell:
        a str is one program).  Bad input raises ZoneConfigError (a ValueError)."""
        argv = _argv(argv)
        _check_run_args(input, timeout, (stdin, stdout, stderr))
        if not argv:
            raise ZoneConfigError("no command given to run in the zone")
        path = argv[0]
        if input is not None:
            if stdin is not None:
                raise ZoneConfigError("stdin and input cannot both be given")
            stdin = subprocess.PIPE
        if capture_output:
            if stdout is not None or stderr is not None:
                raise ZoneConfigError("capture_output cannot be combined with stdout or stderr")
            stdout = stderr = subprocess.PIPE
        run = _Run(self, argv, path, stdin, stdout, stderr, tty)
        try:
            if forward_signals:
                run.forward_signals()
            deadline = None if timeout is None else time.monotonic() + timeout
            run.start(timeout)
            run.deliver_pending()
            out, err = run.communicate(input, None if deadline is None else max(0.0, deadline - time.monotonic()))
        finally:
            run.close()
        returncode = run.returncode
        result = subprocess.CompletedProcess(argv, returncode, out, err)
        if run.session is not None:     # --stats, --report (lxbrand/trace.py)
            result.stats, result.report = run.session.stats, run.session.report
            self.last_session = run.session
        if check and returncode != 0:
            raise subprocess.CalledProcessError(returncode, argv, out, err)
        return result


def _argv(args) -> list:
    """argv as subprocess.run takes it without a shell: a str, bytes or path is
    the program alone; a NUL byte is a ValueError."""
    if isinstance(args, (str, bytes, os.PathLike)):
        args = [args]
    elif isinstance(args, (dict, set)) or not hasattr(args, "__iter__"):
        raise ZoneConfigError(f"argv {args!r}: expected a list of str (or one str, the program)")
    out = []
    for i, a in enumerate(args):
        if not isinstance(a, (str, bytes, os.PathLike)):
            raise ZoneConfigError(f"argv[{i}] {a!r}: expected str, bytes or os.PathLike, not {type(a).__name__}")
        a = os.fsdecode(a)
        if "\0" in a:
            raise ZoneConfigError(f"argv[{i}] {a!r}: embedded null byte")
        out.append(a)
    return out


def _check_run_args(input, timeout, stdio) -> None:
    if input is not None and not isinstance(input, (bytes, bytearray, memoryview)):
        raise ZoneConfigError(f"input: expected bytes, not {type(input).__name__}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
        raise ZoneConfigError(f"timeout {timeout!r}: expected seconds (a number) or None")
    for i, (name, spec) in enumerate(zip(("stdin", "stdout", "stderr"), stdio)):
        _check_stdio(name, spec, i)


def _check_stdio(name: str, spec, default: int) -> None:
    """A guest's stdio is a file, pipe, socket or terminal: never a directory
    (fchdir(0) and `..` would walk the host's tree) nor an O_PATH fd (reopened
    through /proc/self/fd with any access)."""
    import fcntl
    import stat
    if spec is None:
        fd = default
    elif isinstance(spec, int) and not isinstance(spec, bool) and (
            spec in (subprocess.PIPE, subprocess.DEVNULL) or (default == 2 and spec == subprocess.STDOUT)):
        return
    elif isinstance(spec, int) and not isinstance(spec, bool) and spec >= 0:
        fd = spec
    elif hasattr(spec, "fileno"):
        try:
            fd = spec.fileno()
        except (OSError, ValueError) as e:
            raise ZoneConfigError(f"{name} {spec!r}: has no file descriptor ({e})") from None
    else:
        raise ZoneConfigError(f"{name} {spec!r}: expected None, subprocess.PIPE, subprocess.DEVNULL, "
                              "a file descriptor or a file object")
    try:
        st = os.fstat(fd)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        if spec is None:
            return      # our own closed stdio: as before, the start-up deals with it
        raise ZoneConfigError(f"{name}: fd {fd} is not open") from None
    if stat.S_ISDIR(st.st_mode):
        raise ZoneConfigError(f"{name}: fd {fd} is a directory; a zone's stdio must be a file, pipe, "
                              "socket or terminal (a directory would let the guest out of its root)")
    if flags & os.O_PATH:
        raise ZoneConfigError(f"{name}: fd {fd} is an O_PATH descriptor; a zone's stdio must be opened "
                              "for reading or writing")


def _init_died(status: int) -> SupervisorError:
    """lxb_zone_wait's kind 2: init ended without reporting the guest's status
    (killed from outside the zone, or by the kernel), and took the guest with it."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            what = f"signal {sig}, {signal.Signals(sig).name}"
        except ValueError:
            what = f"signal {sig}"
        err = SupervisorError(f"the zone's init was killed ({what}) from outside the zone; the guest "
                              "was killed with it and its own status is unknown")
        err.exit_code, err.returncode = 128 + sig, -sig
    else:
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        err = SupervisorError(f"the zone's init exited (status {code}) without reporting the guest's "
                              "status; the guest is gone")
        err.returncode = -signal.SIGKILL
    return err


def _fd_of(spec, default: int, mode: str):
    """(fd for the guest, our end or None, fd to close after start or None)."""
    if spec is None:
        return default, None, None
    if spec == subprocess.PIPE:
        r, w = os.pipe2(os.O_CLOEXEC)
        return (r, w, r) if mode == "r" else (w, r, w)
    if spec == subprocess.DEVNULL:
        fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        return fd, None, fd
    if isinstance(spec, int):
        return spec, None, None
    return spec.fileno(), None, None


class _Run:
    """One guest run: the zone started, its stdio pumped, its end awaited."""

    def __init__(self, zone: Zone, argv, path, stdin, stdout, stderr, tty: bool):
        self.zone = zone
        self.argv = argv
        self.path = path
        self.stdio_specs = (stdin, stdout, stderr)
        self.tty = tty
        self.z = ffi.new("struct lxb_zone *")
        # no fd yet: a zero here would be closed as fd 0 (the caller's stdin)
        # when the run ends before lxb_zone_start has filled them
        self.z.init_pid = self.z.ctl_fd = self.z.agent_fd = self.z.listener_fd = -1
        self.z.pty_fd = self.z.guest_pidfd = -1
        self.sup: Optional[Supervisor] = None
        self.cgroups = limits.Cgroups()
        self.view: Optional[personality.View] = None
        self.returncode: Optional[int] = None
        self.threads: list[threading.Thread] = []
        self.ours: list[Optional[int]] = [None, None, None]
        self.to_close: list[int] = []
        self.pending_signals: list[int] = []
        self.wakeup_r = self.wakeup_w = -1
        self.old_wakeup = -1
        self.old_handlers: dict = {}
        self.relay_stop = -1
        self.failure: Optional[OSError] = None
        self.killed_by_us = False       # the timeout killed init: not news
        self.session = None             # a traced run's (lxbrand/trace.py)
        self.hold = False               # Zone.start(hold=True): the guest waits for release()
        self.pty_relay = True           # Zone.start: the caller takes the pty master (pty_fd)

    def start(self, timeout: Optional[float] = None) -> None:
        zone, cfgv = self.zone, self.zone.config
        stdin, stdout, stderr = self.stdio_specs
        fds = []
        for i, (spec, mode) in enumerate(((stdin, "r"), (stdout, "w"), (stderr, "w"))):
            if i == 2 and spec == subprocess.STDOUT:
                fds.append(fds[1])
                continue
            fd, ours, close = _fd_of(spec, i, mode)
            fds.append(fd)
            self.ours[i] = ours
            if close is not None:
                self.to_close.append(close)
        keep = []   # cffi owners that must outlive lxb_zone_start

        def cstr(s: str):
            p = ffi.new("char[]", os.fsencode(s))
            keep.append(p)
            return p

        def cvec(items):
            arr = ffi.new("char *[]", len(items) + 1)
            for i, s in enumerate(items):
                arr[i] = cstr(s)
            arr[len(items)] = ffi.NULL
            keep.append(arr)
            return arr

        env = cfgv.environment()
        bpf = zone.brand.bpf()
        if zone.observe is not None and zone.observe.active:
            # traced syscalls are RET_TRACE; the guest waits before its execve
            # until the tracer has seized it (lxbrand/trace.py, csrc/trace.c)
            from .trace import Session
            self.session = Session(zone.observe, zone.brand, self.argv)
            bpf = self.session.bpf()
        c = ffi.new("struct lxb_config *")
        c.rootfs = cstr(cfgv.rootfs)
        c.hostname = cstr(cfgv.hostname)
        c.domainname = cstr(cfgv.domainname) if cfgv.domainname else ffi.NULL
        c.cwd = cstr(cfgv.cwd)
        c.path = cstr(self.path)
        c.search_path = cstr(env.get("PATH", DEFAULT_PATH))
        c.argv = cvec(self.argv)
        c.envp = cvec([f"{k}={v}" for k, v in env.items()])
        c.ephemeral = int(cfgv.ephemeral)
        c.net_host = int(cfgv.net == "host")
        c.uid, c.gid = cfgv.uid, cfgv.gid
        uid_map, gid_map, newidmap = cfgv.id_maps()
        c.uid_map, c.gid_map, c.newidmap = cstr(uid_map), cstr(gid_map), int(newidmap)
        guest_uid_map, guest_gid_map = cfgv.guest_maps(uid_map, gid_map)
        c.guest_uid_map, c.guest_gid_map = cstr(guest_uid_map), cstr(guest_gid_map)
        if os.geteuid() == 0 and not idshift.is_shifted(cfgv.rootfs):
            if cfgv.ephemeral:
                c.idmap_lower = 1        # the rootfs stays as it is (launcher.c)
            else:
                idshift.ensure_shifted(cfgv.rootfs)
        c.tmp_size, c.shm_size = cstr(cfgv.tmp_size), cstr(cfgv.shm_size)
        _user_steps(c, cfgv, cstr, keep)
        self.cgroups = limits.Cgroups(cfgv.memory, cfgv.pids, cfgv.cpus)
        self.cgroups.make()
        c.nproc = self.cgroups.nproc or 0
        procs = ffi.new("int[]", max(1, len(self.cgroups.fds)))
        for i, fd in enumerate(self.cgroups.fds):
            procs[i] = fd
        c.cgroup_procs, c.ncgroups = procs, len(self.cgroups.fds)
        keep.append(procs)
        c.start_timeout_ms = 0 if timeout is None else max(1, int(timeout * 1000))
        for i in range(3):
            c.stdio[i] = fds[i]
        c.use_pty = int(self.tty)
        c.hold_guest = int(self.session is not None or self.hold)
        # the personality's files (/proc/meminfo under --memory...), bound read-only
        all_binds = list(cfgv.binds)
        if personality.View.wanted(cfgv.memory, cfgv.cpus, cfgv.kernel_release):
            self.view = personality.View(cfgv.memory, cfgv.cpus, cfgv.kernel_release)
            all_binds += [Bind(*b) for b in self.view.binds()]
        binds = ffi.new("struct lxb_bind[]", max(1, len(all_binds)))
        for i, b in enumerate(all_binds):
            binds[i].src = cstr(b.src)
            binds[i].dst = cstr(b.dst)
            binds[i].readonly = int(b.readonly)
        c.nbinds = len(all_binds)
        c.cap_drop = personality.CAP_DROP
        c.binds = binds
        bpf_buf = ffi.from_buffer(bpf)
        c.bpf = ffi.cast("unsigned char *", bpf_buf)
        c.bpf_len = len(bpf)
        _fs_fields(c, zone, cstr)
        err = ffi.new("char[]", 512)
        rc = lib.lxb_zone_start(c, self.z, err, 512)
        self.cgroups.close_fds()
        for fd in self.to_close:
            os.close(fd)
        self.to_close = []
        if rc < 0:
            for fd in self.ours:
                if fd is not None:
                    os.close(fd)
            self.ours = [None, None, None]
            if self.view is not None:
                self.view.close()
            self.cgroups.remove()
            if self.z.exec_errno:
                raise zone.exec_error(self.argv, self.z.exec_errno)
            raise ZoneStartError(-rc, ffi.string(err).decode(errors="replace"))
        zone._init_pid = self.z.init_pid
        if self.view is not None:
            self.view.started(self.cgroups.dirs)
            zone._view = self.view
        if self.session is not None:
            try:
                self.session.attach(self.z.guest_pidfd)
            except BaseException:
                os.kill(self.z.init_pid, signal.SIGKILL)
                raise
            finally:
                os.close(self.z.guest_pidfd)
                self.z.guest_pidfd = -1
        self.sup = Supervisor(zone, self.session.supervisor_brand(zone.brand) if self.session else zone.brand,
                              self.z.listener_fd, zone.uts())
        self.sup.on_failure = self._supervisor_failed
        zone.last_supervisor = self.sup
        self.sup.start()
        if self.session is not None and not self.hold:     # traced; Zone.start(hold=True) releases later
            rc = lib.lxb_zone_release(self.z)
            if rc < 0:
                raise ZoneStartError(-rc, "the zone's init is gone before its guest could run")
        if self.z.pty_fd >= 0 and self.pty_relay:
            self._start_relay()

    # -- Zone.start's handle ------------------------------------------------

    @property
    def init_pid(self) -> int:
        """The host pid of the zone's init (pid 1 inside), or -1 once it is reaped."""
        return self.z.init_pid

    @property
    def pty_fd(self) -> int:
        """The pty master of a tty=True zone (the caller relays it), else -1."""
        return self.z.pty_fd

    def guest_pid(self) -> int:
        """The host pid of the held guest (hold=True, before release()), else -1."""
        if self.z.guest_pidfd < 0:
            return -1
        with open(f"/proc/self/fdinfo/{self.z.guest_pidfd}") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
        return -1

    def release(self) -> None:
        """hold=True: let the guest execve its CMD."""
        rc = lib.lxb_zone_release(self.z)
        if self.z.guest_pidfd >= 0:
            os.close(self.z.guest_pidfd)
            self.z.guest_pidfd = -1
        if rc < 0:
            raise ZoneStartError(-rc, "the zone's init is gone before its guest could run")

    def wait(self) -> int:
        """Wait for the guest's end: its status, or -N when signal N killed it
        (SupervisorError, CommandNotFound... as Zone.run raises them)."""
        self.communicate(None, None)
        return self.returncode

    def _supervisor_failed(self, err: OSError) -> None:
        # fail closed: a zone whose supervisor is gone does not keep running
        self.failure = err
        if self.z.init_pid > 0:
            try:
                os.kill(self.z.init_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _start_relay(self) -> None:
        self.relay_stop = os.eventfd(0, os.EFD_CLOEXEC)
        master = self.z.pty_fd
        t = threading.Thread(target=lib.lxb_pty_relay, args=(0, 1, master, self.relay_stop),
                             name="lxbrand-pty", daemon=True)
        t.start()
        self.relay = t
        if threading.current_thread() is threading.main_thread():
            def winch(signum, frame):
                import fcntl
                import termios
                try:
                    size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
                    fcntl.ioctl(master, termios.TIOCSWINSZ, size)
                except OSError:
                    pass
            # replaces the forwarding of WINCH: the pty's new size signals the guest
            old = signal.signal(signal.SIGWINCH, winch)
            self.old_handlers.setdefault(signal.SIGWINCH, old)

    def forward_signals(self) -> None:
        """Send the signals lxrun receives to the guest (through the zone's init)."""
        # installed before the zone starts: the guest may run (and a user may
        # signal lxrun) before start() returns; signals that arrive before the
        # zone's init exists are held and delivered by deliver_pending()
        def forward(signum, frame):
            if self.z.init_pid > 0:
                try:
                    os.kill(self.z.init_pid, signum)
                except ProcessLookupError:
                    pass
            elif signum not in STOP_SIGNALS:   # held until CONT would undo it
                self.pending_signals.append(signum)
            if signum in STOP_SIGNALS:
                os.kill(os.getpid(), signal.SIGSTOP)
        for sig in FORWARDED_SIGNALS:
            self.old_handlers.setdefault(sig, signal.signal(sig, forward))
        # the kernel may deliver a signal to any of our threads (the supervisor,
        # the stdio pumps); Python then only sets a flag, and the main thread
        # would sleep on in select(): the wakeup fd makes it return
        self.wakeup_r, self.wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.old_wakeup = signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)

    def deliver_pending(self) -> None:
        while self.pending_signals and self.z.init_pid > 0:
            os.kill(self.z.init_pid, self.pending_signals.pop(0))

    def _pump(self, input: Optional[bytes]):
        out: dict[int, list] = {1: [], 2: []}
        for i in (1, 2):
            fd = self.ours[i]
            if fd is None:
                continue

            def reader(fd=fd, sink=out[i]):
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    sink.append(chunk)
            t = threading.Thread(target=reader, daemon=True)
            t.start()
            self.threads.append(t)
        if self.ours[0] is not None:
            fd = self.ours[0]
            data = input or b""

            def writer():
                try:
                    view = memoryview(data)
                    while view:
                        n = os.write(fd, view[:65536])
                        view = view[n:]
                except (BrokenPipeError, OSError):
                    pass
                finally:
                    os.close(fd)
            t = threading.Thread(target=writer, daemon=True)
            t.start()
            self.ours[0] = None
            self.threads.append(t)
        return out

    def communicate(self, input: Optional[bytes], timeout: Optional[float]):
        out = self._pump(input)
        deadline = None if timeout is None else time.monotonic() + timeout
        ctl = self.z.ctl_fd
        poller = select.poll()            # not select(): a library host may hold fds >= 1024
        for fd in (ctl, self.wakeup_r):
            if fd >= 0:
                poller.register(fd, select.POLLIN)
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = [fd for fd, _ in poller.poll(None if wait is None else wait * 1000)]
            if self.wakeup_r in ready:
                # a signal came in (maybe on another thread); its handler runs
                # now that this thread is back in Python
                try:
                    os.read(self.wakeup_r, 512)
                except BlockingIOError:
                    pass
            if ctl in ready:
                break
            if deadline is not None and time.monotonic() >= deadline:
                self.killed_by_us = True
                os.kill(self.z.init_pid, signal.SIGKILL)
                self._wait()
                self._join()
                raise subprocess.TimeoutExpired(self.argv, timeout, self._joined(out, 1), self._joined(out, 2))
        self._wait()
        self._join()
        return self._joined(out, 1), self._joined(out, 2)

    def _joined(self, out, i):
        return b"".join(out[i]) if self.ours[i] is not None else None

    def _wait(self) -> None:
        status = ffi.new("int *")
        kind = ffi.new("int *")
        lib.lxb_zone_wait(self.z, status, kind)
        st = status[0]
        if self.sup is not None:
            self.sup.stop()
        if self.session is not None:
            code = (os.WEXITSTATUS(st) if os.WIFEXITED(st) else -os.WTERMSIG(st) if os.WIFSIGNALED(st)
                    else None) if kind[0] == 0 else None
            self.session.finish(code, self.sup)
        if self.failure is not None:
            raise SupervisorError(f"{self.failure.strerror}; the zone was killed")
        if kind[0] == 1:
            raise self.zone.exec_error(self.argv, st)
        if kind[0] == 2 and not self.killed_by_us:
            raise _init_died(st)
        if os.WIFEXITED(st):
            self.returncode = os.WEXITSTATUS(st)
        elif os.WIFSIGNALED(st):
            self.returncode = -os.WTERMSIG(st)
        else:
            self.returncode = -signal.SIGKILL

    def _join(self) -> None:
        for t in self.threads:
            t.join()
        self.threads = []
        if self.relay_stop >= 0:
            self.relay.join(timeout=2.0)
            os.eventfd_write(self.relay_stop, 1)
            self.relay.join()

    def close(self) -> None:
        if self.z.init_pid > 0:   # an exception left the zone running: end it
            try:
                os.kill(self.z.init_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self._wait()
            except Exception:
                pass
        if self.view is not None:        # it reads the cgroup: before removing it
            self.view.close()
            if getattr(self.zone, "_view", None) is self.view:
                self.zone._view = None
        self.cgroups.remove()
        for sig, old in self.old_handlers.items():
            signal.signal(sig, old)
        self.old_handlers = {}
        if self.wakeup_r >= 0:
            signal.set_wakeup_fd(self.old_wakeup)
            os.close(self.wakeup_r)
            os.close(self.wakeup_w)
            self.wakeup_r = self.wakeup_w = -1
        for fd in (self.z.ctl_fd, self.z.agent_fd, self.z.listener_fd, self.z.pty_fd, self.relay_stop,
                   self.z.guest_pidfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.z.ctl_fd = self.z.agent_fd = self.z.listener_fd = self.z.pty_fd = self.z.guest_pidfd = -1
        self.relay_stop = -1
        for i in (1, 2):
            if self.ours[i] is not None:
                os.close(self.ours[i])
                self.ours[i] = None
        for fd in self.to_close:
            os.close(fd)
        self.to_close = []
