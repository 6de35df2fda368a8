"""The one importer of the compiled module lxbrand._lxbrand_c, and the zone's
binding: the only module that touches ffi for a zone's start-up.

C functions return -errno; `check` turns that into an OSError naming the
operation.  `lxb_py_dispatch` is the upcall the C loop makes for syscalls
handled in Python: it finds the Supervisor object behind the handle and lets
it answer.  It runs on whichever of the zone's receiver threads received the
notification (csrc/supervisor.c, RECEIVERS), taking the GIL for the time of
the handler; the other receivers keep answering meanwhile.

LaunchConfig turns a ZoneConfig (lxbrand/config.py) and one run's own parts
(argv, stdio fds, the filter, cgroup fds, hold, deadline) into a struct
lxb_config that owns its allocations; new_zone, zone_start, zone_wait and
zone_release wrap struct lxb_zone's calls (lxbrand/zone.py's _Run uses them).
"""
from __future__ import annotations

import errno
import os
import sys
from collections import namedtuple
from typing import Optional

try:
    from ._lxbrand_c import ffi, lib
except ImportError as e:  # pragma: no cover - only on a broken install
    from .errors import LxbrandError

    raise LxbrandError(f"lxbrand's C supervisor is not built ({e}); run: make build") from None


def check(rc: int, what: str) -> int:
    if rc < 0:
        raise OSError(-rc, f"{what}: {os.strerror(-rc)}")
    return rc


@ffi.def_extern()
def lxb_py_dispatch(handle, call, reply):
    answer = Reply()
    try:
        ffi.from_handle(handle).dispatch(Upcall(call.id, call.pid, call.nr, tuple(call.args), call.ip,
                                                call.listener_fd), answer)
        reply.val, reply.error, reply.flags = answer.val, answer.error, answer.flags
    except BaseException as e:  # our bug: fail the call, never continue
        reply.error = errno.ENOSYS
        reply.flags = 0
        print(f"lxbrand: handler for syscall {call.nr} failed: {e!r}", file=sys.stderr)
    return 0


# -- the supervisor's binding: struct lxb_sup, guest memory, ADDFD ----------
# lxbrand/supervisor.py decides how a zone's syscalls are answered; these
# turn that into csrc/supervisor.c's calls, so that it touches no ffi.

class Upcall(namedtuple("Upcall", "id pid nr args ip listener_fd")):
    """A notification a Python handler answers (struct lxb_call, copied)."""
    __slots__ = ()


class Reply:
    """The answer to an Upcall (struct lxb_reply): error (a positive errno,
    or 0 with val), flags (REPLY_CONTINUE); ENOSYS unless a handler answers."""
    __slots__ = ("val", "error", "flags")

    def __init__(self):
        self.val, self.error, self.flags = 0, errno.ENOSYS, 0


REPLY_CONTINUE = lib.LXB_REPLY_CONTINUE
UTS_FIELDS = ("sysname", "release", "version", "machine")


class SupervisorStruct:
    """A struct lxb_sup (`.c`) for `owner`, whose dispatch(Upcall, Reply)
    answers the Python-handled syscalls: the brand's dispatch arrays, the
    kernel uname shows (uts: sysname, release, version, machine), and --inject's
    rules (struct lxb_inject *, or None); lxb_sup_init dups listener_fd."""

    def __init__(self, owner, kind: bytes, c_handler: bytes, uts: dict, listener_fd: int, inject=None,
                 report=None):
        self._handle = ffi.new_handle(owner)
        s = self.c = ffi.new("struct lxb_sup *")
        s.py_handle = self._handle
        ffi.memmove(s.kind, bytes(kind), len(kind))
        ffi.memmove(s.c_handler, bytes(c_handler), len(c_handler))
        if inject is not None:       # --inject: csrc/inject.c decides
            lib.lxb_inject_reset(inject)
            s.inject = inject
        if report is not None:       # --report: struct lxb_report, counted by the supervisor
            s.report = report
        for field in UTS_FIELDS:
            raw = uts[field].encode()[: lib.LXB_UTS_LEN - 1]
            ffi.memmove(getattr(s, field), raw + b"\0", len(raw) + 1)
        check(lib.lxb_sup_init(s, listener_fd), "start the supervisor")

    def supervise(self) -> int:
        """One receiver's loop (blocks, GIL released): 0, or -errno."""
        return lib.lxb_supervise(self.c)

    def stop(self) -> None:
        check(lib.lxb_sup_stop(self.c), "stop the supervisor")

    def close(self) -> None:
        lib.lxb_sup_close(self.c)

    @property
    def notified(self) -> int:
        return self.c.notified

    def uts(self, field: str) -> str:
        return ffi.string(getattr(self.c, field)).decode(errors="replace")


def notif_valid(listener_fd: int, notif_id: int) -> bool:
    """SECCOMP_IOCTL_NOTIF_ID_VALID: the notification still waits for its answer."""
    return lib.lxb_notif_valid(listener_fd, notif_id) == 0


def read_mem(pid: int, addr: int, length: int) -> bytes:
    """Up to `length` bytes of task pid's memory at addr (fewer at an unmapped
    page; b"" when none could be read)."""
    buf = ffi.new("char[]", length)
    n = lib.lxb_read_mem(pid, addr, buf, length)
    return ffi.buffer(buf, n)[:] if n > 0 else b""


def write_mem(pid: int, addr: int, data: bytes) -> int:
    """Write data into task pid's memory at addr: the bytes written, or -errno."""
    return lib.lxb_write_mem(pid, addr, data, len(data))


def add_fd(listener_fd: int, notif_id: int, host_fd: int, cloexec: bool, send: bool, what: str) -> int:
    """SECCOMP_IOCTL_NOTIF_ADDFD (with FLAG_SEND when `send`: the fd is also
    the answer): the guest's fd number."""
    add = lib.lxb_addfd_send if send else lib.lxb_addfd
    return check(add(listener_fd, notif_id, host_fd, os.O_CLOEXEC if cloexec else 0), what)


# -- the zone's binding: struct lxb_config and struct lxb_zone --------------
# zone.py decides what a zone's start-up is made of; these turn it into the C
# structs of csrc/lxbrand.h (and back), so that no other module touches ffi.

# the small C program that clones a zone's init for this process (csrc/init/,
# built by `make build` beside the compiled module): a clone of the
# interpreter would keep a private copy of every page it writes afterwards
INIT_EXEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lxbrand-init")

STEP_NAMES = {"PROC": "proc", "SYS": "sysfs", "DEV": "dev", "TMPFS": "tmpfs", "BIND": "bind", "FILE": "file",
              "MASK": "mask", "SELF_BIND": "rebind", "ROOT_RO": "read-only"}
STEP_FLAGS = (("ro", "LXB_STEP_F_RO"), ("if missing or empty", "LXB_STEP_F_IF_EMPTY"),
              ("writable", "LXB_STEP_F_WRITABLE"), ("optional", "LXB_STEP_F_OPTIONAL"))


class LaunchConfig:
    """A struct lxb_config (`.c`) and every cffi allocation it points to,
    which live as long as this object: keep it until lxb_zone_start returns.

    Built from a validated ZoneConfig and what zone.py adds to it: `binds`
    (the config's, and the personality's files), the files the set-up shows
    (`hosts`, `proc_version`, `osrelease`, or None); run() adds what one run
    needs.  Without run(), it is enough for lxb_fs_plan (Zone.plan)."""

    def __init__(self, cfg, binds, hosts: Optional[str] = None, proc_version: Optional[str] = None,
                 osrelease: Optional[str] = None):
        self._keep: list = []
        c = self.c = ffi.new("struct lxb_config *")
        c.rootfs = self._str(cfg.rootfs)
        c.ephemeral, c.net_host = int(cfg.ephemeral), int(cfg.net == "host")
        c.tmp_size, c.shm_size = self._str(cfg.tmp_size), self._str(cfg.shm_size)
        cbinds = self._new("struct lxb_bind[]", max(1, len(binds)))
        for i, b in enumerate(binds):
            cbinds[i].src, cbinds[i].dst, cbinds[i].readonly = self._str(b.src), self._str(b.dst), int(b.readonly)
        c.binds, c.nbinds = cbinds, len(binds)
        if hosts is not None:
            c.hosts = self._str(hosts)
        if proc_version is not None:
            c.proc_version = self._str(proc_version)
        if osrelease is not None:
            c.osrelease = self._str(osrelease)
        # the caller's own set-up steps (csrc/zone_fs.c lxb_fs_plan): --tmpfs, --read-only
        steps = self._new("struct lxb_step[]", max(1, len(cfg.tmpfs)))
        for i, (dst, opts) in enumerate(cfg.tmpfs):
            steps[i].op = lib.LXB_STEP_TMPFS
            steps[i].path = self._str(dst)
            steps[i].data = self._str(opts)
        c.steps, c.nsteps = steps, len(cfg.tmpfs)
        c.readonly_root = int(bool(cfg.read_only))

    def _new(self, ctype: str, init=None):
        p = ffi.new(ctype, init)
        self._keep.append(p)
        return p

    def _str(self, text: Optional[str]):
        return ffi.NULL if text is None else self._new("char[]", os.fsencode(text))

    def _vec(self, items):
        arr = self._new("char *[]", len(items) + 1)
        for i, s in enumerate(items):
            arr[i] = self._str(s)
        arr[len(items)] = ffi.NULL
        return arr

    def run(self, cfg, *, argv, path: str, envp, search_path: str, id_maps: tuple, guest_maps: tuple,
            idmap_lower: bool, nproc: int, cgroup_fds, timeout: Optional[float], stdio, use_pty: bool,
            hold: bool, cap_drop: int, bpf: bytes, own_root: bool = False) -> "LaunchConfig":
        """The fields of one run: CMD, its environment and ids, stdio, the
        cgroups init joins, the start-up deadline and the seccomp filter."""
        c = self.c
        c.hostname = self._str(cfg.hostname)
        c.domainname = self._str(cfg.domainname or None)
        c.cwd = self._str(cfg.cwd)
        c.path = self._str(path)
        c.search_path = self._str(search_path)
        c.argv = self._vec(argv)
        c.envp = self._vec(envp)
        c.uid, c.gid = cfg.uid, cfg.gid
        uid_map, gid_map, newidmap = id_maps
        c.uid_map, c.gid_map, c.newidmap = self._str(uid_map), self._str(gid_map), int(newidmap)
        c.guest_uid_map, c.guest_gid_map = self._str(guest_maps[0]), self._str(guest_maps[1])
        if idmap_lower:
            c.idmap_lower = 1
        c.nproc = nproc
        procs = self._new("int[]", max(1, len(cgroup_fds)))
        for i, fd in enumerate(cgroup_fds):
            procs[i] = fd
        c.cgroup_procs, c.ncgroups = procs, len(cgroup_fds)
        c.start_timeout_ms = 0 if timeout is None else max(1, int(timeout * 1000))
        for i in range(3):
            c.stdio[i] = stdio[i]
        c.use_pty = int(use_pty)
        c.hold_guest = int(hold)
        c.own_root = int(own_root)
        c.cap_drop = cap_drop
        buf = ffi.from_buffer(bpf)
        self._keep.append(buf)
        c.bpf = ffi.cast("unsigned char *", buf)
        c.bpf_len = len(bpf)
        # the container's own seccomp profile (lxbrand/oci.py), after the brand's filter
        profile = getattr(cfg, "seccomp_bpf", b"") or b""
        if profile:
            pbuf = ffi.from_buffer(profile)
            self._keep.append(pbuf)
            c.profile_bpf = ffi.cast("unsigned char *", pbuf)
            c.profile_bpf_len = len(profile)
        # init is cloned by lxbrand-init, never by this interpreter (csrc/launcher.c)
        c.init_exec = self._str(INIT_EXEC)
        return self

    def plan(self) -> list:
        """lxb_fs_plan's steps, as (op name, path, flag names, src or None,
        data bytes or None): what the zone's init will execute."""
        out = ffi.new("struct lxb_step[]", lib.LXB_MAX_STEPS)
        n = lib.lxb_fs_plan(self.c, out, lib.LXB_MAX_STEPS)
        if n < 0:
            from .errors import ZoneConfigError
            raise ZoneConfigError(f"too many set-up steps (at most {lib.LXB_MAX_STEPS})")
        names = {getattr(lib, "LXB_STEP_" + k): v for k, v in STEP_NAMES.items()}
        steps = []
        for st in out[0:n]:
            steps.append((names.get(st.op, str(st.op)), ffi.string(st.path).decode(),
                          [f for f, bit in STEP_FLAGS if st.flags & getattr(lib, bit)],
                          ffi.string(st.src).decode() if st.src != ffi.NULL else None,
                          ffi.string(st.data) if st.data != ffi.NULL else None))
        return steps


def new_zone():
    """A struct lxb_zone for lxb_zone_start to fill (its fds -1 until then)."""
    z = ffi.new("struct lxb_zone *")
    # no fd yet: a zero here would be closed as fd 0 (the caller's stdin)
    # when a run ends before lxb_zone_start has filled them
    z.init_pid = z.ctl_fd = z.agent_fd = z.listener_fd = z.pty_fd = z.guest_pidfd = -1
    return z


def zone_start(launch: LaunchConfig, z) -> tuple:
    """lxb_zone_start: (0, "") or (-errno, the launcher's message)."""
    err = ffi.new("char[]", 512)
    rc = lib.lxb_zone_start(launch.c, z, err, 512)
    return rc, (ffi.string(err).decode(errors="replace") if rc < 0 else "")


def zone_release(z) -> int:
    return lib.lxb_zone_release(z)


def zone_wait(z) -> tuple:
    """lxb_zone_wait: (wait status, kind: 0 the guest's, 1 exec failed, 2 init died)."""
    status = ffi.new("int *")
    kind = ffi.new("int *")
    lib.lxb_zone_wait(z, status, kind)
    return status[0], kind[0]


def zone_next(z) -> tuple:
    """lxb_zone_next: as zone_wait, or kind 3 the guest stopped (its wait
    status), 4 it continued (use_pty LXB_PTY_JOB)."""
    status = ffi.new("int *")
    kind = ffi.new("int *")
    lib.lxb_zone_next(z, status, kind)
    return status[0], kind[0]


PTY_JOB = lib.LXB_PTY_JOB
GUEST_STOPPED = lib.LXB_GUEST_STOPPED
GUEST_CONTINUED = lib.LXB_GUEST_CONTINUED
pty_relay = lib.lxb_pty_relay
pty_drain = lib.lxb_pty_drain


# -- the container's own seccomp profile (lxbrand/oci.py, csrc/filter.c) ----

PROFILE_BPF_MAX = 256 * 1024


def profile_filter(default_action: int, rules) -> bytes:
    """lxb_profile_build: rules are (nr, action, [(index, op, value,
    value_two)]) with SECCOMP_RET_* actions and LXB_CMP_* ops; an OSError
    whose `rule` is the index of the rule libseccomp refused (or None)."""
    crules = ffi.new("struct lxb_scmp_rule[]", max(1, len(rules)))
    keep = []
    for i, (nr, action, args) in enumerate(rules):
        cargs = ffi.new("struct lxb_scmp_arg[]", max(1, len(args)))
        keep.append(cargs)
        for j, (index, op, value, value_two) in enumerate(args):
            cargs[j].index, cargs[j].op, cargs[j].value, cargs[j].value_two = index, op, value, value_two
        crules[i].nr, crules[i].action, crules[i].nargs, crules[i].args = nr, action, len(args), cargs
    out = ffi.new("unsigned char[]", PROFILE_BPF_MAX)
    failed = ffi.new("int *")
    n = lib.lxb_profile_build(default_action, crules, len(rules), out, PROFILE_BPF_MAX, failed)
    if n < 0:
        e = OSError(-n, os.strerror(-n))
        e.rule = failed[0] if failed[0] >= 0 else None
        raise e
    return bytes(ffi.buffer(out, n))


def join_netns(path: str) -> None:
    """setns(2) this thread into the network namespace at path (a zone
    started from this thread with the host's network then has that one)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, 0x40000000) != 0:      # CLONE_NEWNET
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


# -- exec into a running zone (csrc/zone_exec.c, lxbrand/oci.py exec) --------

def guest_ns_flags(guest: int) -> int:
    """CLONE_NEW* flags of host pid guest's namespaces that are not ours (time
    included): what an exec into its zone joins (csrc/zone_exec.c)."""
    rc = lib.lxb_guest_ns_flags(guest)
    if rc < 0:
        raise OSError(-rc, f"the namespaces of pid {guest}: {os.strerror(-rc)}")
    return rc


class ExecProc:
    """lxb_zone_exec: CMD started in a running zone, held before its execve
    until release(); pid is the relay's (it exits as CMD does), cmd_pid
    CMD's, listener_fd its seccomp listener, pty_fd the pty master or -1."""

    def __init__(self, *, guest_pidfd: int, ns_flags: int, cwd: str, argv, envp, search_path: Optional[str],
                 uid: int, gid: int, groups, use_pty: bool, bpf: bytes, profile_bpf: bytes, cap_drop: int,
                 stdio=(0, 1, 2)):
        keep = []

        def cstr(text):
            b = ffi.new("char[]", os.fsencode(text))
            keep.append(b)
            return b

        def cvec(items):
            v = ffi.new("char *[]", [cstr(x) for x in items] + [ffi.NULL])
            keep.append(v)
            return v
        e = ffi.new("struct lxb_exec *")
        e.guest_pidfd, e.ns_flags = guest_pidfd, ns_flags
        e.cwd, e.path = cstr(cwd), cstr(argv[0])
        e.search_path = cstr(search_path) if search_path is not None else ffi.NULL
        e.argv, e.envp = cvec(argv), cvec(envp)
        e.uid, e.gid = uid, gid
        gv = ffi.new("int[]", list(groups) or [0])
        keep.append(gv)
        e.ngroups, e.groups = len(groups), gv
        e.stdio = list(stdio)          # host fds that become CMD's 0, 1, 2 (Zone.boot's popen)
        e.use_pty = int(use_pty)
        for field, data in (("bpf", bpf), ("profile_bpf", profile_bpf)):
            if data:
                buf = ffi.new("unsigned char[]", data)
                keep.append(buf)
                setattr(e, field, buf)
                setattr(e, field + "_len", len(data))
        e.cap_drop = cap_drop
        self._p = ffi.new("struct lxb_exec_proc *")
        err = ffi.new("char[]", 512)
        rc = lib.lxb_zone_exec(e, self._p, err, 512)
        if rc < 0:
            raise OSError(-rc, ffi.string(err).decode(errors="replace"))

    pid = property(lambda self: self._p.pid)
    cmd_pid = property(lambda self: self._p.cmd_pid)
    pty_fd = property(lambda self: self._p.pty_fd)

    @property
    def listener_fd(self) -> int:
        return self._p.listener_fd

    def close_listener(self) -> None:
        """Once the zone's supervisor has its own copy."""
        if self._p.listener_fd >= 0:
            os.close(self._p.listener_fd)
            self._p.listener_fd = -1

    def release(self) -> None:
        check(lib.lxb_exec_release(self._p), "release the process")

    def abort(self) -> None:
        lib.lxb_exec_abort(self._p)


class Tracer:
    """A struct lxb_tracer (csrc/trace.c) for lxbrand/trace.py: what to do and
    copy at each traced syscall's stop, where records go, and the guest.

    specs: [(nr, mode, errno, copies)], copies [(arg, how, lenarg, size[, lenmul])]
    (LXB_TRACE_* and LXB_COPY_* of csrc/lxbrand.h); inject: a struct
    lxb_inject * (lxbrand/inject.py) or None.  start() seizes the guest from
    the tracer thread; join() waits for its end (it closes out_fd)."""

    RECORD_SIZE = ffi.sizeof("struct lxb_trace_rec")

    def __init__(self, specs, out_fd: int, guest_pidfd: int, inject=None):
        t = self.c = ffi.new("struct lxb_tracer *")
        for nr, mode, err, copies in specs:
            s = t.spec[nr]
            s.mode, s.err, s.ncopy = mode, err, len(copies)
            for i, (arg, how, lenarg, size, *lenmul) in enumerate(copies[: lib.LXB_TRACE_SLOTS]):
                c = s.copy[i]
                c.arg, c.how, c.lenarg, c.size, c.lenmul = arg, how, lenarg, size, (lenmul or [0])[0]
        t.out_fd = out_fd
        t.guest_pidfd = guest_pidfd
        if inject is not None:
            t.inject = inject
        self.started = False

    def start(self) -> None:
        """Seize the held guest; an OSError naming ptrace when it cannot."""
        rc = lib.lxb_trace_start(self.c)
        if rc < 0:
            raise OSError(-rc, f"trace: cannot attach to the guest (ptrace): {os.strerror(-rc)}")
        self.started = True

    def join(self) -> None:
        if self.started:
            self.started = False
            lib.lxb_trace_join(self.c)
