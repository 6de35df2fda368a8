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
import select
import signal
import subprocess
import threading
import time
from typing import Callable, Optional, Sequence

from . import _csup, command, idshift, limits, personality
from .config import (ALL_IDS, DEFAULT_PATH, HOST_NAME_MAX, ID_RANGE, NETS, Bind,  # noqa: F401 (lxbrand.zone's names)
                     ZoneConfig, _map_around, _no_hosts_file, _subordinate)
from .errors import SupervisorError, ZoneConfigError, ZoneStartError
from .brand import Brand, check_handler_name
from .supervisor import Supervisor

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
# one zone start at a time in a process: two threads in lxb_zone_start at once
# (Zone.run_async's executor) were seen to hang in its wait for init; a start
# is milliseconds, and the zones still run side by side
_START_LOCK = threading.Lock()


class Zone:
    """An isolated guest environment over a rootfs, with the brand's personality."""

    def __init__(self, rootfs, *, trace: Optional[Callable] = None, trace_set: Optional[str] = None,
                 trace_output=None, trace_format: str = "text", stats: bool = False, stats_format: str = "text",
                 report=None, **options):
        """options: ZoneConfig's fields (lxbrand/config.py: hostname, net,
        binds, ephemeral, cwd, env, uid, gid, kernel_release, domainname,
        deny, memory, pids, cpus, tmp_size, shm_size, tmpfs, read_only), as
        keywords.  deny: {syscall name: errno (int or name such as "EACCES")}
        answered in the kernel instead of running the syscall (fault injection).

        Watching (lxbrand/trace.py): trace, a callable given each traced event
        (a dict with the fields of --trace-format json's lines); trace_set, the
        syscalls traced (--trace=SET); trace_output, a path or file for
        strace-like lines (or JSON lines, trace_format="json"); stats and
        report: `run(...)` returns them as `.stats` and `.report` (dicts)."""
        unknown = sorted(set(options) - {f.name for f in ZoneConfig.fields()})
        if unknown:
            raise TypeError(f"Zone() got an unexpected keyword argument {unknown[0]!r}")
        self.config = ZoneConfig(rootfs, **options)
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
                                memory=self.config.memory, cpus=self.config.cpus,
                                fakeroot=self.config.fakeroot_on())
            if self.config.inject:      # --inject (lxbrand/inject.py)
                self._brand.add_inject(self.config.inject)
        return self._brand

    def plan(self) -> list[str]:
        """The zone's file system as the launcher will build it, one step per
        line (csrc/zone_fs.c lxb_fs_plan: the same list init executes)."""
        cfgv = self.config
        root = "overlay (rootfs below, a tmpfs above)" if cfgv.ephemeral else \
            "bind; a mount point it lacks is shown in a tmpfs over its parent, never made in it"
        lines = [f"root      {cfgv.rootfs} as / ({root})"]
        for op, path, flags, src, data in self._launch_config(cfgv.binds).plan():
            detail = ""
            if op == "bind":
                detail = f" from {src}"
            elif op in ("tmpfs", "dev") and data is not None:
                detail = f" {data.decode()}"
            elif op == "file":
                detail = f" ({len(data)} bytes)"
            lines.append(f"{op:<9} {path}{detail}" + (f" [{', '.join(flags)}]" if flags else ""))
        lines.append("pivot_root; the host's tree detached")
        return lines

    def _launch_config(self, binds) -> _csup.LaunchConfig:
        """The struct lxb_config of this zone's file system: its binds, and the
        files its set-up shows (/etc/hosts where the rootfs has none, the
        kernel personality's /proc files)."""
        cfgv = self.config
        hosts = (f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                 f"127.0.1.1\t{cfgv.hostname}\n") if _no_hosts_file(cfgv.rootfs) else None
        release = cfgv.kernel_release
        return _csup.LaunchConfig(cfgv, binds, hosts, self.proc_version() if release else None,
                                  release + "\n" if release else None)

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
              hold: bool = False, own_root: bool = False) -> "_Run":
        """Start argv in the zone and return at once (run() waits): the
        handle's wait() returns the guest's status, close() ends what is left
        of the zone.  hold=True: the guest waits before its execve of argv
        until release() (an OCI runtime's create, then start).  tty=True: the
        guest's pty master is the handle's pty_fd, for the caller to relay.
        own_root=True: the rootfs is this zone's alone (an OCI bundle's), so a
        mount point it lacks is made in it, as runc does (docs/DESIGN.md,
        "Mount points"), not shown in a tmpfs over its parent."""
        argv = _argv(argv)
        _check_run_args(None, None, (stdin, stdout, stderr))
        if not argv:
            raise ZoneConfigError("no command given to run in the zone")
        run = _Run(self, argv, argv[0], stdin, stdout, stderr, tty)
        run.hold, run.pty_relay = bool(hold), False
        run.own_root = bool(own_root)
        try:
            run.start()
        except BaseException:
            run.close()
            raise
        return run

    def popen(self, argv: Sequence[str], *, stdin=None, stdout=None, stderr=None, env=None, cwd=None,
              tty: bool = False, text: bool = False, encoding=None, errors=None) -> "ZoneProcess":
        """Start argv in a new zone and return at once: a ZoneProcess, with
        subprocess.Popen's stdin/stdout/stderr (PIPE), poll, wait,
        communicate, send_signal, terminate, kill.  env (over PATH, HOME,
        TERM) and cwd replace the zone's own for this run.  tty=True needs
        stdout and stderr not PIPE (the pty is the caller's: Zone.start)."""
        argv = _argv(argv)
        _check_run_args(None, None, (stdin, stdout, stderr))
        if not argv:
            raise ZoneConfigError("no command given to run in the zone")
        if tty and subprocess.PIPE in (stdout, stderr):
            raise ZoneConfigError("tty=True with stdout or stderr PIPE: the guest's output goes to the "
                                  "terminal; use Zone.start(tty=True) and read its pty_fd")
        return _ZonePopen(_derived(self, env, cwd), argv, stdin, stdout, stderr, tty, text, encoding, errors)

    def boot(self) -> "BootedZone":
        """A zone that stays up: `with zone.boot() as z: z.run(...); z.popen(...)`,
        each command started in the same namespaces, file system and
        supervisor (as lxbrand-oci exec), at about a fork and exec each.
        Its pid 1's guest is the rootfs's `cat`, reading a pipe until close()."""
        return BootedZone(self)

    async def create_subprocess_exec(self, *argv, stdin=None, stdout=None, stderr=None, env=None, cwd=None,
                                     booted: "Optional[BootedZone]" = None) -> "AsyncZoneProcess":
        """asyncio.create_subprocess_exec for a zone (or, booted=, a process in
        a booted zone): an AsyncZoneProcess whose wait() and communicate()
        are coroutines and whose pipes are asyncio streams."""
        import asyncio
        loop = asyncio.get_running_loop()
        start = booted.popen if booted is not None else self.popen
        proc = await loop.run_in_executor(None, lambda: start(list(argv), stdin=stdin, stdout=stdout,
                                                              stderr=stderr, env=env, cwd=cwd))
        aproc = AsyncZoneProcess(proc)
        try:
            await aproc._connect(loop)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        return aproc

    async def run_async(self, argv: Sequence[str], *, input: Optional[bytes] = None, capture_output: bool = False,
                        stdin=None, stdout=None, stderr=None, timeout: Optional[float] = None, check: bool = False,
                        env=None, cwd=None) -> subprocess.CompletedProcess:
        """`await zone.run_async(argv, ...)`: Zone.run for asyncio; the event
        loop runs on while the zone does (its pipes and end are awaited)."""
        import asyncio
        argv = _argv(argv)
        _check_run_args(input, timeout, (stdin, stdout, stderr))
        stdin, stdout, stderr = _run_stdio(input, capture_output, stdin, stdout, stderr)
        p = await self.create_subprocess_exec(*argv, stdin=stdin, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        try:
            out, err = await asyncio.wait_for(p.communicate(input), timeout)
        except asyncio.TimeoutError:
            p.kill()
            await p.wait()
            raise subprocess.TimeoutExpired(argv, timeout) from None
        except BaseException:          # cancelled: the zone does not outlive its task
            p.kill()
            await p.wait()
            raise
        r = subprocess.CompletedProcess(argv, p.returncode, out, err)
        if check and r.returncode != 0:
            raise subprocess.CalledProcessError(r.returncode, argv, out, err)
        return r

    def run(self, argv: Sequence[str], *, input: Optional[bytes] = None, capture_output: bool = False,
            stdin=None, stdout=None, stderr=None, timeout: Optional[float] = None, check: bool = False,
            tty: bool = False, forward_signals: bool = False, env=None, cwd=None, text: bool = False,
            encoding=None, errors=None) -> subprocess.CompletedProcess:
        """Run argv in the zone and wait for it, like subprocess.run (no shell:
        a str is one program).  Bad input raises ZoneConfigError (a ValueError).
        env (over PATH, HOME, TERM) and cwd replace the zone's own for this
        run; text/encoding/errors decode what is captured (and encode input)."""
        if env is not None or cwd is not None:
            return _derived(self, env, cwd).run(argv, input=input, capture_output=capture_output, stdin=stdin,
                                                stdout=stdout, stderr=stderr, timeout=timeout, check=check,
                                                tty=tty, forward_signals=forward_signals, text=text,
                                                encoding=encoding, errors=errors)
        if text or encoding or errors:
            import locale
            enc = encoding or locale.getpreferredencoding(False)
            if isinstance(input, str):
                input = input.encode(enc, errors or "strict")
            try:
                r = self.run(argv, input=input, capture_output=capture_output, stdin=stdin, stdout=stdout,
                             stderr=stderr, timeout=timeout, check=check, tty=tty, forward_signals=forward_signals)
            except subprocess.CalledProcessError as e:
                e.output = e.output.decode(enc, errors or "strict") if e.output is not None else None
                e.stderr = e.stderr.decode(enc, errors or "strict") if e.stderr is not None else None
                raise
            r.stdout = r.stdout.decode(enc, errors or "strict") if r.stdout is not None else None
            r.stderr = r.stderr.decode(enc, errors or "strict") if r.stderr is not None else None
            return r
        argv = _argv(argv)
        _check_run_args(input, timeout, (stdin, stdout, stderr))
        if not argv:
            raise ZoneConfigError("no command given to run in the zone")
        path = argv[0]
        stdin, stdout, stderr = _run_stdio(input, capture_output, stdin, stdout, stderr)
        if tty and subprocess.PIPE in (stdout, stderr):
            # the guest's terminal is relayed to ours: nothing would be captured
            raise ZoneConfigError("tty=True cannot capture output (the guest writes to the terminal); "
                                  "use Zone.start(tty=True) and read its pty_fd")
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


def _run_stdio(input, capture_output, stdin, stdout, stderr) -> tuple:
    """subprocess.run's rules for input= and capture_output=: the stdio to use."""
    if input is not None:
        if stdin is not None:
            raise ZoneConfigError("stdin and input cannot both be given")
        stdin = subprocess.PIPE
    if capture_output:
        if stdout is not None or stderr is not None:
            raise ZoneConfigError("capture_output cannot be combined with stdout or stderr")
        stdout = stderr = subprocess.PIPE
    return stdin, stdout, stderr


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


def _give_pipe(fd: int, uid: int, gid: int) -> None:
    """Run by root, a pipe this library makes for a process of the zone is
    host root's, an owner the zone does not map, so the process could not
    open it again: /dev/stdout, /dev/stderr and /proc/self/fd/N answered
    EACCES (`echo x > /dev/stderr`, `tee /dev/stderr`, nginx's `access_log
    /dev/stdout`).  Nothing else holds it (our end stays ours), so it becomes
    the process's ids' (the pipe's one inode), as containerd's shim gives
    the pipes it makes to a container's root.  Run by a user, the process
    is that user, the pipe's owner.  A caller's own fds are never given."""
    if os.geteuid() == 0 and 0 <= uid < idshift.COUNT and 0 <= gid < idshift.COUNT:
        os.fchown(fd, idshift.BASE + uid, idshift.BASE + gid)


def _fd_of(spec, default: int, mode: str, ids: tuple = (0, 0)):
    """(fd for the guest, our end or None, fd to close after start or None);
    ids: the guest's --uid and --gid, who a pipe made here is given to."""
    if spec is None:
        return default, None, None
    if spec == subprocess.PIPE:
        r, w = os.pipe2(os.O_CLOEXEC)
        _give_pipe(r, *ids)
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
        self.z = _csup.new_zone()
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
        self.own_root = False           # Zone.start(own_root=True): mount points made in the rootfs
        self.pty_relay = True           # Zone.start: the caller takes the pty master (pty_fd)
        self.net = None                 # --net private's pasta (lxbrand/net.py)
        self.job = False                # tty and forward_signals: the terminal's job (lxrun --tty)
        self.job_modes = None           # stdin's terminal modes before the run made them raw

    def start(self, timeout: Optional[float] = None) -> None:
        zone, cfgv = self.zone, self.zone.config
        stdin, stdout, stderr = self.stdio_specs
        fds = []
        for i, (spec, mode) in enumerate(((stdin, "r"), (stdout, "w"), (stderr, "w"))):
            if i == 2 and spec == subprocess.STDOUT:
                fds.append(fds[1])
                continue
            fd, ours, close = _fd_of(spec, i, mode, (cfgv.uid, cfgv.gid))
            fds.append(fd)
            self.ours[i] = ours
            if close is not None:
                self.to_close.append(close)
        env = cfgv.environment()
        bpf = zone.brand.bpf()
        if zone.observe is not None and zone.observe.active:
            # traced syscalls are RET_TRACE; the guest waits before its execve
            # until the tracer has seized it (lxbrand/trace.py, csrc/trace.c)
            from .trace import Session
            self.session = Session(zone.observe, zone.brand, self.argv)
            bpf = self.session.bpf()
        id_maps = cfgv.id_maps()
        guest_maps = cfgv.guest_maps(id_maps[0], id_maps[1])
        idmap_lower = False
        if os.geteuid() == 0 and not idshift.is_shifted(cfgv.rootfs):
            if cfgv.ephemeral:
                idmap_lower = True       # the rootfs stays as it is (launcher.c)
            else:
                idshift.ensure_shifted(cfgv.rootfs)
        self.cgroups = limits.Cgroups(cfgv.memory, cfgv.pids, cfgv.cpus)
        self.cgroups.make()
        # the personality's files (/proc/meminfo under --memory...), bound read-only
        all_binds = list(cfgv.binds)
        if personality.View.wanted(cfgv.memory, cfgv.cpus, cfgv.kernel_release):
            self.view = personality.View(cfgv.memory, cfgv.cpus, cfgv.kernel_release)
            all_binds += [Bind(*b) for b in self.view.binds()]
        private = cfgv.net == "private"
        if private:
            from . import net
            net.check_available()       # before the zone starts: one line naming what to install
        launch = zone._launch_config(all_binds).run(
            cfgv, argv=self.argv, path=self.path, envp=[f"{k}={v}" for k, v in env.items()],
            search_path=env.get("PATH", DEFAULT_PATH), id_maps=id_maps, guest_maps=guest_maps,
            idmap_lower=idmap_lower, nproc=self.cgroups.nproc or 0, cgroup_fds=self.cgroups.fds,
            timeout=timeout, stdio=fds, use_pty=_csup.PTY_JOB if self.job else self.tty, hold=self.session is not None or self.hold or private,
            cap_drop=personality.CAP_DROP, bpf=bpf, own_root=self.own_root)
        with _START_LOCK:       # lxb_zone_start from two threads at once can hang (asyncio's executor)
            rc, message = _csup.zone_start(launch, self.z)
        del launch
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
            raise ZoneStartError(-rc, message)
        zone._init_pid = self.z.init_pid
        if private:
            # --net private: pasta connects the held guest's network namespace
            # before CMD runs (lxbrand/net.py)
            self.net = net.PrivateNet(self.guest_pid(), cfgv.publish)
            try:
                self.net.start()
            except BaseException:
                os.kill(self.z.init_pid, signal.SIGKILL)
                raise
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
        if (self.session is not None or private) and not self.hold:     # Zone.start(hold=True) releases later
            rc = _csup.zone_release(self.z)
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
        rc = _csup.zone_release(self.z)
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
        t = threading.Thread(target=_csup.pty_relay, args=(0, 1, master, self.relay_stop),
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
        """Send the signals lxrun receives to the guest (through the zone's init);
        with a tty, run as the terminal's job (_job_stop)."""
        if self.tty:
            self._job_start()
        # installed before the zone starts: the guest may run (and a user may
        # signal lxrun) before start() returns; signals that arrive before the
        # zone's init exists are held and delivered by deliver_pending()
        def forward(signum, frame):
            if signum == signal.SIGCONT and self.job:
                self._job_raw()          # `fg`: the terminal is the guest's again
            if self.z.init_pid > 0:
                try:
                    os.kill(self.z.init_pid, signum)
                except ProcessLookupError:
                    pass
            elif signum not in STOP_SIGNALS:   # held until CONT would undo it
                self.pending_signals.append(signum)
            # with a tty the guest is the zone's terminal's job: lxrun stops
            # when it does (_job_stop)
            if signum in STOP_SIGNALS and not self.job:
                os.kill(os.getpid(), signal.SIGSTOP)
        for sig in FORWARDED_SIGNALS:
            self.old_handlers.setdefault(sig, signal.signal(sig, forward))
        # the kernel may deliver a signal to any of our threads (the supervisor,
        # the stdio pumps); Python then only sets a flag, and the main thread
        # would sleep on in select(): the wakeup fd makes it return
        self.wakeup_r, self.wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.old_wakeup = signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)

    # -- lxrun --tty: the guest as the terminal's job (csrc/zone_init.c JOB
    # CONTROL; csrc/frontdoor/lxrun.c does the same in C)

    def _job_start(self) -> None:
        """stdin's modes raw for the run (restored by close), TCSANOW: TCSAFLUSH
        would drop typed-ahead input; the guest's stops will stop us."""
        import termios
        import tty as ttymod
        try:
            self.job_modes = termios.tcgetattr(0)
        except termios.error:
            return                  # no terminal on stdin: the caller's relay, no job
        self.job = True
        _csup.lib.lxb_tty_take_eofs(0)      # csrc/pty.c: made raw, an EOF would read as a NUL
        ttymod.setraw(0, termios.TCSANOW)

    def _job_raw(self) -> None:
        """In the foreground again: the terminal raw, at its size now (a new
        size signals the guest: WINCH, it redraws); `bg` leaves the shell's."""
        import fcntl
        import termios
        import tty as ttymod
        try:
            if os.tcgetpgrp(0) != os.getpgrp():
                return
            _csup.lib.lxb_tty_take_eofs(0)
            ttymod.setraw(0, termios.TCSANOW)
            if self.z.pty_fd >= 0:
                fcntl.ioctl(self.z.pty_fd, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            pass

    def _job_stop(self, status: int) -> None:
        """The guest stopped (^Z typed to the zone's terminal, its own
        kill(0, SIGTSTP), kill -STOP in the zone): give the terminal back once
        the relay has shown what the guest wrote, and stop with the guest's
        signal, so the shell says "Stopped" as for the program run natively;
        continued (`fg`), make the terminal raw and continue the guest."""
        import termios
        if self.z.pty_fd >= 0:
            _csup.pty_drain(self.z.pty_fd, 200)
        try:
            termios.tcsetattr(0, termios.TCSADRAIN, self.job_modes)
        except termios.error:
            pass
        sig = os.WSTOPSIG(status)
        if sig in STOP_SIGNALS:
            # to this thread, at its default action: it stops the process
            # before pthread_kill returns (the forwarding handler never sees
            # it); in an orphaned process group the kernel drops it
            old = signal.signal(sig, signal.SIG_DFL)
            try:
                signal.pthread_kill(threading.get_ident(), sig)
            finally:
                signal.signal(sig, old)
        else:
            os.kill(os.getpid(), signal.SIGSTOP)
        self._job_raw()
        if self.z.init_pid > 0:
            try:
                os.kill(self.z.init_pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

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
                if not self.job:
                    break
                st, kind = _csup.zone_next(self.z)
                if kind == _csup.GUEST_STOPPED:
                    self._job_stop(st)
                if kind not in (_csup.GUEST_STOPPED, _csup.GUEST_CONTINUED):
                    self._wait((st, kind))
                    self._join()
                    return self._joined(out, 1), self._joined(out, 2)
                continue
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

    def _wait(self, ended=None) -> None:
        st, kind = _csup.zone_wait(self.z) if ended is None else ended
        if self.sup is not None:
            self.sup.stop()
        if self.session is not None:
            code = (os.WEXITSTATUS(st) if os.WIFEXITED(st) else -os.WTERMSIG(st) if os.WIFSIGNALED(st)
                    else None) if kind == 0 else None
            self.session.finish(code, self.sup)
        if self.failure is not None:
            raise SupervisorError(f"{self.failure.strerror}; the zone was killed")
        if kind == 1:
            raise self.zone.exec_error(self.argv, st)
        if kind == 2 and not self.killed_by_us:
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
        if self.net is not None:         # pasta ends with the zone
            self.net.close()
            self.net = None
        if self.view is not None:        # it reads the cgroup: before removing it
            self.view.close()
            if getattr(self.zone, "_view", None) is self.view:
                self.zone._view = None
        self.cgroups.remove()
        if self.job_modes is not None:
            import termios
            try:
                termios.tcsetattr(0, termios.TCSADRAIN, self.job_modes)
            except termios.error:
                pass
            self.job_modes = None
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


# -- the library's processes: popen, a zone that stays up, asyncio --------------
# (issue 15) Zone.popen is subprocess.Popen for one zone; Zone.boot() keeps a
# zone up and starts each command in it as lxbrand-oci exec does
# (csrc/zone_exec.c: setns into the zone, the brand's filter, the zone's
# supervisor serving the new listener); Zone.create_subprocess_exec and
# Zone.run_async are their asyncio forms.

class ZoneProcess:
    """A process in a zone, as subprocess.Popen has it: stdin, stdout, stderr
    (file objects for PIPE, else None), pid, returncode, poll(), wait(),
    communicate(), send_signal(), terminate(), kill(), and `with`."""

    def __init__(self, args, pipes, text: bool, encoding, errors):
        self.args = args
        self.returncode: Optional[int] = None
        self.stdin = self.stdout = self.stderr = None
        self._readers: dict = {}
        self._out: dict = {}
        self._text = bool(text or encoding or errors)
        self._encoding, self._errors = encoding, errors
        for name, fd, mode in zip(("stdin", "stdout", "stderr"), pipes, ("wb", "rb", "rb")):
            if fd is None:
                continue
            f = os.fdopen(fd, mode, buffering=0 if mode == "wb" else -1)
            if self._text:
                import io
                f = io.TextIOWrapper(f if mode == "rb" else io.BufferedWriter(f), encoding=encoding,
                                     errors=errors, write_through=True)
            setattr(self, name, f)

    # what a kind of process provides
    def _done_fd(self) -> int:
        raise NotImplementedError

    def _reap(self) -> None:
        raise NotImplementedError

    def _kill_pid(self) -> int:
        raise NotImplementedError

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            fd = self._done_fd()
            if fd >= 0 and select.select([fd], [], [], 0)[0]:
                self._reap()
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        if self.returncode is None:
            fd = self._done_fd()
            p = select.poll()
            p.register(fd, select.POLLIN)
            if not p.poll(None if timeout is None else max(0, int(timeout * 1000))):
                raise subprocess.TimeoutExpired(self.args, timeout)
            self._reap()
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Send sig to the process (a zone's guest gets it through its init)."""
        if self.returncode is not None:
            return
        pid = self._kill_pid()
        if pid > 0:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, input=None, timeout: Optional[float] = None):
        """Send input, read stdout and stderr to their ends, wait: (out, err),
        as subprocess.Popen.communicate (TimeoutExpired may be retried)."""
        if input is not None and self.stdin is None:
            raise ZoneConfigError("communicate(input=...): stdin was not subprocess.PIPE")
        if self.stdin is not None and "stdin" not in self._readers:
            data = input if input is not None else (b"" if not self._text else "")

            def writer(f=self.stdin, data=data):
                try:
                    if data:
                        f.write(data)
                except (BrokenPipeError, OSError, ValueError):
                    pass
                finally:
                    try:
                        f.close()
                    except (BrokenPipeError, OSError):
                        pass
            self._readers["stdin"] = threading.Thread(target=writer, daemon=True)
            self._readers["stdin"].start()
        for name in ("stdout", "stderr"):
            f = getattr(self, name)
            if f is not None and name not in self._readers:
                self._out[name] = []

                def reader(f=f, sink=self._out[name]):
                    while True:
                        chunk = f.read(65536) if not self._text else f.read()
                        if not chunk:
                            break
                        sink.append(chunk)
                self._readers[name] = threading.Thread(target=reader, daemon=True)
                self._readers[name].start()
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._readers.values():
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout)
        self.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        empty = "" if self._text else b""
        out = [empty.join(self._out[n]) if n in self._out else None for n in ("stdout", "stderr")]
        for name in ("stdout", "stderr"):
            f = getattr(self, name)
            if f is not None:
                f.close()
        return out[0], out[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for f in (self.stdout, self.stderr, self.stdin):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        if self.returncode is None and exc[0] is not None:
            self.kill()
        self.wait()


def _pipes(specs, ids: tuple = (0, 0)) -> tuple:
    """For stdio specs: (fds for the process, our ends or None, fds to close
    once started); a pipe made here is given to ids (_give_pipe)."""
    child, ours, close = [], [], []
    for i, spec in enumerate(specs):
        if i == 2 and spec == subprocess.STDOUT:
            child.append(child[1])
            ours.append(None)
            continue
        if spec == subprocess.PIPE:
            r, w = os.pipe2(os.O_CLOEXEC)
            _give_pipe(r, *ids)
            child.append(r if i == 0 else w)
            ours.append(w if i == 0 else r)
            close.append(r if i == 0 else w)
        elif spec == subprocess.DEVNULL:
            fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            child.append(fd)
            ours.append(None)
            close.append(fd)
        elif spec is None:
            child.append(i)
            ours.append(None)
        else:
            child.append(spec if isinstance(spec, int) else spec.fileno())
            ours.append(None)
    return child, ours, close


class _ZonePopen(ZoneProcess):
    """Zone.popen: a new zone whose guest is the process; pid is the zone's
    init (the host pid that signals go to), returncode -N for signal N."""

    def __init__(self, zone: "Zone", argv, stdin, stdout, stderr, tty, text, encoding, errors):
        self._run = _Run(zone, argv, argv[0], stdin, stdout, stderr, tty)
        try:
            self._run.start()
        except BaseException:
            self._run.close()
            raise
        pipes = list(self._run.ours)
        self._run.ours = [None, None, None]       # ours now: the file objects close them
        super().__init__(argv, pipes, text, encoding, errors)
        self.pid = self._run.z.init_pid

    def _done_fd(self) -> int:
        return self._run.z.ctl_fd

    def _kill_pid(self) -> int:
        return self._run.z.init_pid

    def send_signal(self, sig: int) -> None:
        if sig == signal.SIGKILL:
            # SIGKILL ends the zone's init, and the guest with it: -9, not news
            self._run.killed_by_us = True
        super().send_signal(sig)

    def _reap(self) -> None:
        try:
            self._run._wait()
            self.returncode = self._run.returncode
        finally:
            if self.returncode is None:
                self.returncode = -signal.SIGKILL
            self._run.close()


class _ExecPopen(ZoneProcess):
    """BootedZone.popen: a process started in the running zone (zone_exec.c).
    pid is its relay's, which passes signals on and exits as it does: its
    status, or 128+N when signal N ended it (as a shell reports it)."""

    def __init__(self, booted: "BootedZone", argv, stdin, stdout, stderr, tty, text, encoding, errors,
                 env, cwd):
        from ._csup import ExecProc
        zone, cfg = booted.zone, booted.zone.config
        _check_run_args(None, None, (stdin, stdout, stderr))
        environ = cfg.environment() if env is None else {**_derived(zone, env, None).config.environment()}
        child, ours, to_close = _pipes((stdin, stdout, stderr), (cfg.uid, cfg.gid))
        try:
            pidfd = os.dup(booted._pidfd)
            try:
                self._p = ExecProc(guest_pidfd=pidfd, ns_flags=booted._ns_flags, cwd=cwd or cfg.cwd or "/",
                                   argv=argv, envp=[f"{k}={v}" for k, v in environ.items()],
                                   search_path=environ.get("PATH", DEFAULT_PATH), uid=cfg.uid, gid=cfg.gid,
                                   groups=[], use_pty=bool(tty), bpf=booted._bpf, profile_bpf=b"",
                                   cap_drop=personality.CAP_DROP, stdio=child)
            except OSError as e:
                if e.errno in (errno_mod.ENOENT, errno_mod.EACCES, errno_mod.ENOEXEC):
                    raise zone.exec_error(argv, e.errno) from None
                raise ZoneStartError(e.errno or errno_mod.EIO, str(e)) from None
            finally:
                os.close(pidfd)
        except BaseException:
            for fd in ours:
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        self.sup = None
        try:
            booted._join_cgroups(self._p.cmd_pid)
            self.sup = Supervisor(zone, booted._run.sup.brand, self._p.listener_fd, zone.uts(), receivers=2)
            self.sup.on_failure = lambda err: None     # its process fails closed (ENOSYS)
            self.sup.start()
            self._p.close_listener()
            self._p.release()
        except BaseException:
            if self.sup is not None:
                self.sup.stop()
            self._p.abort()
            for fd in ours:
                if fd is not None:
                    os.close(fd)
            raise
        super().__init__(argv, ours, text, encoding, errors)
        self.pid = self._p.pid
        self.pty_fd = self._p.pty_fd
        self._pidfd = os.pidfd_open(self.pid)

    def _done_fd(self) -> int:
        return self._pidfd

    def _kill_pid(self) -> int:
        return self.pid

    def _reap(self) -> None:
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        if self.sup is not None:
            self.sup.stop()
            self.sup = None
        os.close(self._pidfd)
        self._pidfd = -1
        if self.pty_fd >= 0:
            os.close(self.pty_fd)
            self.pty_fd = -1


def _derived(zone: "Zone", env, cwd) -> "Zone":
    """The zone with one run's env (over PATH, HOME, TERM) or cwd instead of its own."""
    if env is None and cwd is None:
        return zone
    import copy
    import dataclasses
    z = copy.copy(zone)
    changes = {}
    if env is not None:
        if not isinstance(env, dict):
            raise ZoneConfigError(f"env {env!r}: expected a dict of str to str")
        changes["env"] = dict(env)
    if cwd is not None:
        changes["cwd"] = os.fsdecode(cwd)
    z.config = dataclasses.replace(zone.config, **changes)
    z.config.validate()
    return z


class BootedZone:
    """A zone that stays up (Zone.boot()): its namespaces, file system
    (an --ephemeral overlay lasts as long as it) and supervisor are made
    once; each run()/popen() starts a process in it, as lxbrand-oci exec does
    (about a fork and an exec).  close() (or leaving `with`) ends the zone
    and every process still in it."""

    KEEPER = ["cat"]        # the zone's pid 1's guest: reads a pipe we hold, ends when we close it

    def __init__(self, zone: "Zone"):
        self.zone = zone
        self._pidfd = -1
        self._run = zone.start(self.KEEPER, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, hold=True)
        try:
            self._pidfd = os.dup(self._run.z.guest_pidfd)
            guest = self._run.guest_pid()
            self._ns_flags = _csup.guest_ns_flags(guest)      # the time namespace too
            self._bpf = zone.brand.bpf()
            self._run.release()
        except BaseException:
            self.close()
            raise

    def _join_cgroups(self, pid: int) -> None:
        for d in self._run.cgroups.dirs:
            try:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except FileNotFoundError:
                pass

    def popen(self, argv, *, stdin=None, stdout=None, stderr=None, env=None, cwd=None, tty: bool = False,
              text: bool = False, encoding=None, errors=None) -> ZoneProcess:
        """Start argv in this zone: a ZoneProcess (subprocess.Popen's methods)."""
        if self._run is None:
            raise ZoneStartError(errno_mod.ESRCH, "the zone is closed")
        argv = _argv(argv)
        if not argv:
            raise ZoneConfigError("no command given to run in the zone")
        return _ExecPopen(self, argv, stdin, stdout, stderr, tty, text, encoding, errors, env, cwd)

    def run(self, argv, *, input=None, capture_output: bool = False, stdin=None, stdout=None, stderr=None,
            timeout: Optional[float] = None, check: bool = False, env=None, cwd=None, text: bool = False,
            encoding=None, errors=None) -> subprocess.CompletedProcess:
        """Run argv in this zone and wait, as subprocess.run."""
        return _run_popen(lambda **kw: self.popen(argv, env=env, cwd=cwd, text=text, encoding=encoding,
                                                  errors=errors, **kw),
                          argv, input, capture_output, stdin, stdout, stderr, timeout, check)

    def close(self) -> None:
        if self._run is None:
            return
        run, self._run = self._run, None
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        try:
            if run.ours[0] is not None:        # the keeper's stdin: its EOF ends the zone
                os.close(run.ours[0])
                run.ours[0] = None
            if run.z.init_pid > 0:
                run.wait()
        except Exception:
            pass
        finally:
            run.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _run_popen(start, argv, input, capture_output, stdin, stdout, stderr, timeout, check):
    stdin, stdout, stderr = _run_stdio(input, capture_output, stdin, stdout, stderr)
    with start(stdin=stdin, stdout=stdout, stderr=stderr) as p:
        try:
            out, err = p.communicate(input, timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise
    r = subprocess.CompletedProcess(_argv(argv), p.returncode, out, err)
    if check and r.returncode != 0:
        raise subprocess.CalledProcessError(r.returncode, r.args, out, err)
    return r


class AsyncZoneProcess:
    """asyncio's Process for a zone's process (Zone.create_subprocess_exec):
    stdin a StreamWriter, stdout and stderr StreamReaders (for PIPE), pid,
    returncode, and the coroutines wait() and communicate()."""

    def __init__(self, proc: ZoneProcess):
        self._proc = proc
        self.pid = proc.pid
        self.stdin = self.stdout = self.stderr = None

    async def _connect(self, loop):
        import asyncio
        p = self._proc
        for name in ("stdout", "stderr"):
            f = getattr(p, name)
            if f is not None:
                reader = asyncio.StreamReader(loop=loop)
                await loop.connect_read_pipe(lambda r=reader: asyncio.StreamReaderProtocol(r), f)
                setattr(self, name, reader)
        if p.stdin is not None:
            transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, p.stdin)
            self.stdin = asyncio.StreamWriter(transport, protocol, None, loop)

    @property
    def returncode(self) -> Optional[int]:
        return self._proc.returncode

    def send_signal(self, sig: int) -> None:
        self._proc.send_signal(sig)

    def terminate(self) -> None:
        self._proc.terminate()

    def kill(self) -> None:
        self._proc.kill()

    async def wait(self) -> int:
        import asyncio
        p = self._proc
        if p.returncode is None:
            loop = asyncio.get_running_loop()
            fd = p._done_fd()
            done = loop.create_future()
            loop.add_reader(fd, lambda: done.done() or done.set_result(None))
            try:
                await done
            finally:
                loop.remove_reader(fd)
            p._reap()
        return p.returncode

    async def communicate(self, input: Optional[bytes] = None):
        import asyncio

        async def feed():
            if self.stdin is None:
                return
            try:
                if input:
                    self.stdin.write(input)
                    await self.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                self.stdin.close()

        async def read(stream):
            return None if stream is None else await stream.read()
        _, out, err = await asyncio.gather(feed(), read(self.stdout), read(self.stderr))
        await self.wait()
        return out, err
