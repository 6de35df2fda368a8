"""lxbrand as an OCI runtime: the runc command line over zones (issue 14).

    lxbrand-oci [--root DIR] [--log FILE] [--log-format text|json] COMMAND ...
    lxrun oci ...                                   the same

An engine (podman, containerd's runc shim) runs `create --bundle DIR
--pid-file F ID`, then `start ID`, `state ID`, `kill ID SIG` and `delete ID`,
each from a fresh process, as it runs runc.  A created zone therefore outlives
the command that created it:

- `create` (here, when the C front door hands it over: csrc/frontdoor/oci.c
  serves the common create itself, following translate() and _monitor
  below; a change to this file sends every create here until `make build`)
  checks the bundle's config.json and turns it into a Zone
  (translate(); what does not map is an error, or a warning written to --log
  and stderr; docs/OCI.md lists both), then forks the zone's **monitor** and
  waits for its word.  The monitor starts its own session, starts the zone
  with the guest held before its execve of process.args (Zone.start(hold=True)),
  serves the zone's supervisor, writes the state under --root
  (ROOT/ID/state.json) and listens on ROOT/ID/ctl.sock; `create` then writes
  the pid-file and exits.
- The pid-file names the monitor, as runsc's names its sandbox: the engine's
  monitor (conmon, the shim) is a child subreaper that learns the container's
  exit status by reaping that pid, and only the monitor can be its child (the
  guest is a child of the zone's init).  The monitor exits with the guest's
  status (128+N when signal N killed it: what conmon reports for runc), and
  passes on the signals it gets to the zone.
- `start` asks the monitor, over ctl.sock, to let the guest exec (lxb_zone_release).
- `kill` signals the zone's init, which passes the signal on to the guest's
  process group (SIGKILL ends the whole zone); `delete` kills what is left and
  removes the state.

Errors go to stderr as runc writes them (`time=... level=error msg=...`, or
JSON lines into --log with --log-format json), exit status 1.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Optional

OCI_VERSION = "1.0.2"
DEFAULT_ROOT = "/run/lxbrand-oci"
_ID = re.compile(r"^[\w+\-.]+$")
STATE_FILE = "state.json"
FILTER_FILE = "filter.bpf"      # the brand's filter, for `exec`
PROFILE_FILE = "profile.bpf"    # the container's own seccomp profile, compiled, for `exec`
EXEC_RECEIVERS = 2              # receiver threads per exec'd process's listener
CTL_SOCKET = "ctl.sock"
# mounts the zone makes itself (csrc/zone_fs.c): the config's own are accepted as they are
OWN_MOUNTS = {("proc", "/proc"), ("sysfs", "/sys"), ("tmpfs", "/dev"), ("devpts", "/dev/pts"),
              ("mqueue", "/dev/mqueue"), ("cgroup", "/sys/fs/cgroup"), ("cgroup2", "/sys/fs/cgroup")}
# what the zone masks or makes read-only itself (Zone.plan: csrc/zone_fs.c lxb_fs_plan)
OWN_MASKED = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/key-users", "/proc/latency_stats",
              "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/proc/kpagecount",
              "/proc/kpageflags", "/proc/kpagecgroup", "/proc/sysrq-trigger", "/proc/kmsg", "/proc/config.gz",
              "/sys/firmware", "/sys/devices/virtual/powercap", "/sys/kernel/debug", "/sys/kernel/tracing",
              "/sys/kernel/security", "/sys/fs/bpf"}
OWN_READONLY = {"/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"} | OWN_MASKED
# bind options that need nothing here (propagation, SELinux relabelling: engines add them)
BIND_OPTS_IGNORED = {"bind", "rbind", "rprivate", "private", "rslave", "slave", "rshared", "shared", "z", "Z",
                     "nosuid", "nodev", "noexec", "suid", "dev", "exec", "relatime", "norelatime", "noatime",
                     "strictatime", "rw", "ro", "rro", "rrw", "defaults", "nosymfollow", "idmap", "rbind"}
ANNOTATIONS = ("org.lxbrand.kernel-release", "org.lxbrand.deny", "org.lxbrand.ephemeral", "org.lxbrand.tmp-size",
               "org.lxbrand.shm-size")
HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


class OCIError(Exception):
    """A runtime command failed: its message, runc's way."""


# -- logging ------------------------------------------------------------------

class Log:
    """runc's logging: errors on stderr; with --log, every level into FILE
    (text: `time=... level=... msg=...`, json: one object a line)."""

    def __init__(self, path: Optional[str] = None, fmt: str = "text"):
        self.path, self.fmt = path, fmt
        self.also: Optional[str] = None     # a container's own log.json (ROOT/ID/)

    def _line(self, level: str, msg: str, fmt: str) -> str:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if fmt == "json":
            return json.dumps({"level": level, "msg": msg, "time": now})
        return f'time="{now}" level={level} msg={json.dumps(msg)}'

    def write(self, level: str, msg: str) -> None:
        for path, fmt in ((self.path, self.fmt), (self.also, "json")):
            if path:
                try:
                    with open(path, "a") as f:
                        f.write(self._line(level, msg, fmt) + "\n")
                except OSError:
                    pass
        # a warning on stderr only for a person: an engine shows create's
        # stderr with the container's own output when it exits non-zero
        if level == "error" or (level == "warning" and not self.path and _isatty(2)):
            # with --log, the engine reads the file; stderr gets the bare message, as runc's fatal()
            line = msg if self.path else self._line(level, msg, "text")
            try:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    def error(self, msg: str) -> None:
        self.write("error", msg)

    def warn(self, msg: str) -> None:
        self.write("warning", msg)

    def info(self, msg: str) -> None:
        self.write("info", msg)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


# -- config.json to a zone ----------------------------------------------------

class Spec:
    """A bundle's config.json as a zone: Zone keyword arguments, argv, and
    what the runtime does around the zone (terminal, rlimits, hooks)."""

    def __init__(self):
        self.zone: dict = {}
        self.argv: list = []
        self.terminal = False
        self.rlimits: list = []
        self.oom_score_adj: Optional[int] = None
        self.hooks: dict = {}
        self.annotations: dict = {}
        self.rootfs = ""
        self.netns: Optional[str] = None      # the network namespace to join (its path)
        self.warnings: list = []


def _signal_number(text) -> int:
    """'KILL', 'SIGKILL', '9' -> 9."""
    t = str(text).strip().upper()
    if t.isdigit():
        n = int(t)
        if 0 <= n < signal.NSIG:
            return n
    else:
        name = t if t.startswith("SIG") else "SIG" + t
        if hasattr(signal, name) and isinstance(getattr(signal, name), signal.Signals):
            return int(getattr(signal, name))
    raise OCIError(f"invalid signal: {text}")


def _bool_annotation(key: str, value: str) -> bool:
    v = str(value).strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off", ""):
        return False
    raise OCIError(f"annotation {key}={value!r}: expected true or false")


def load_config(bundle: str) -> dict:
    path = os.path.join(bundle, "config.json")
    if not os.path.isdir(bundle):
        raise OCIError(f"bundle {bundle}: no such directory")
    try:
        with open(path) as f:
            config = json.load(f)
    except FileNotFoundError:
        raise OCIError("JSON specification file config.json not found") from None
    except (OSError, ValueError) as e:
        raise OCIError(f"config.json: {getattr(e, 'strerror', None) or e}") from None
    if not isinstance(config, dict):
        raise OCIError("config.json: expected a JSON object")
    return config


# -- linux.seccomp: the container's own profile, stacked on the brand's filter --
# Actions are SECCOMP_RET_* values (linux/seccomp.h; libseccomp's SCMP_ACT_*
# are the same numbers); csrc/filter.c lxb_profile_build compiles the rules.
SECCOMP_ACTIONS = {"SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000,
                   "SCMP_ACT_KILL_PROCESS": 0x80000000, "SCMP_ACT_TRAP": 0x00030000,
                   "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7ff00000, "SCMP_ACT_LOG": 0x7ffc0000,
                   "SCMP_ACT_ALLOW": 0x7fff0000}
SECCOMP_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
               "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
SECCOMP_ARCHES = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
                  "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
                  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                  "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
                  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64")
SECCOMP_FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                 "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
EPERM = 1


def _seccomp_action(name, errno_ret, where: str) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise OCIError(f"linux.seccomp: {where}: SCMP_ACT_NOTIFY is not supported by lxbrand (the zone's "
                       "seccomp listener is its brand's supervisor)")
    if name not in SECCOMP_ACTIONS:
        raise OCIError(f"linux.seccomp: {where}: unknown action {name!r}")
    act = SECCOMP_ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        ret = EPERM if errno_ret is None else errno_ret
        if not isinstance(ret, int) or isinstance(ret, bool) or not 0 <= ret < 4096:
            raise OCIError(f"linux.seccomp: {where}: errnoRet {ret!r} must be 0-4095")
        act |= ret
    return act


def seccomp_profile(sc: dict, warn) -> bytes:
    """linux.seccomp -> the BPF of a filter the zone's processes load after
    the brand's (the kernel keeps the stricter answer of the two), as runc
    builds it: defaultAction/defaultErrnoRet, syscalls[] names, action,
    errnoRet, args (ANDed; several on one argument index make one rule each,
    ORed, as runc does); names x86_64 does not have are skipped."""
    from . import _csup
    from .brand.table import BY_NAME
    if not isinstance(sc, dict):
        raise OCIError("linux.seccomp: expected an object")
    default = _seccomp_action(sc.get("defaultAction"), sc.get("defaultErrnoRet"), "defaultAction")
    for arch in sc.get("architectures") or []:
        if arch not in SECCOMP_ARCHES:
            raise OCIError(f"linux.seccomp: unknown architecture {arch!r}")
    flags = [f for f in sc.get("flags") or []]
    unknown = [f for f in flags if f not in SECCOMP_FLAGS]
    if unknown:
        raise OCIError(f"linux.seccomp: unknown flags {unknown}")
    if flags:
        warn(f"linux.seccomp.flags {flags}: not applied")
    if sc.get("listenerPath"):
        warn(f"linux.seccomp.listenerPath {sc['listenerPath']}: ignored (no SCMP_ACT_NOTIFY in a zone's profile)")
    rules, where = [], []
    for i, call in enumerate(sc.get("syscalls") or []):
        if not isinstance(call, dict) or not isinstance(call.get("names"), list):
            raise OCIError(f"linux.seccomp: syscalls[{i}]: expected an object with names")
        names = call["names"]
        act = _seccomp_action(call.get("action"), call.get("errnoRet"), f"syscalls[{i}] {','.join(map(str, names))}")
        conds = []
        for a in call.get("args") or []:
            op = a.get("op") if isinstance(a, dict) else None
            index, value, two = (a.get("index"), a.get("value", 0), a.get("valueTwo", 0)) if op else (0, 0, 0)
            if op not in SECCOMP_OPS or not isinstance(index, int) or not 0 <= index <= 5 \
                    or not all(isinstance(v, int) and 0 <= v < 2**64 for v in (value, two)):
                raise OCIError(f"linux.seccomp: syscalls[{i}]: bad args entry {a!r} (index 0-5, op SCMP_CMP_*, "
                               "value and valueTwo unsigned 64-bit)")
            conds.append((index, SECCOMP_OPS[op], value, two))
        if act == default:
            continue                # libseccomp refuses a rule that is the default (runc skips it)
        indexes = [c[0] for c in conds]
        groups = [[c] for c in conds] if len(set(indexes)) < len(indexes) else [conds]
        for name in names:
            entry = BY_NAME.get(name)
            if entry is None:
                continue            # another architecture's syscall (runc skips unknown names too)
            for g in groups:
                rules.append((entry.nr, act, g))
                where.append(name)
    try:
        return _csup.profile_filter(default, rules)
    except OSError as e:
        what = f"syscall {where[e.rule]}" if e.rule is not None else "the profile"
        raise OCIError(f"linux.seccomp: {what}: libseccomp refused it ({e.strerror})") from None


def translate(bundle: str, config: dict) -> Spec:
    """config.json -> Spec; an OCIError for what a zone cannot do, a warning
    (spec.warnings) for what it does its own way (docs/OCI.md)."""
    s = Spec()
    warn = s.warnings.append
    kw = s.zone
    if not isinstance(config.get("ociVersion"), str):
        raise OCIError("config.json: ociVersion is missing")
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or not root["path"]:
        raise OCIError("config.json: root.path is missing")
    s.rootfs = os.path.normpath(os.path.join(bundle, root["path"]))
    if not os.path.isdir(s.rootfs):
        raise OCIError(f"rootfs {s.rootfs}: no such directory")
    kw["rootfs"] = s.rootfs
    kw["read_only"] = bool(root.get("readonly", False))

    proc = config.get("process")
    if not isinstance(proc, dict):
        raise OCIError("config.json: process is missing (a zone needs a process to run)")
    args = proc.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise OCIError("config.json: process.args must be a non-empty list of strings")
    s.argv = list(args)
    if proc.get("commandLine"):
        raise OCIError("config.json: process.commandLine is for Windows")
    env = {}
    for item in proc.get("env") or []:
        if not isinstance(item, str) or "=" not in item or item.startswith("="):
            raise OCIError(f"config.json: process.env {item!r}: expected NAME=VALUE")
        k, _, v = item.partition("=")
        env[k] = v
    kw["env"] = env
    cwd = proc.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise OCIError(f"config.json: process.cwd {cwd!r}: must be an absolute path")
    kw["cwd"] = cwd
    user = proc.get("user") or {}
    kw["uid"], kw["gid"] = int(user.get("uid", 0)), int(user.get("gid", 0))
    if user.get("username"):
        raise OCIError("config.json: process.user.username is for Windows")
    extra = [g for g in user.get("additionalGids") or [] if g != kw["gid"]]
    if extra:
        warn(f"process.user.additionalGids {extra}: not applied; the guest has only gid {kw['gid']} "
             "(and the groups it sets itself)")
    umask = user.get("umask")
    if umask is not None and umask != 0o022:
        warn(f"process.user.umask {umask:o}: not applied; the zone's guest starts with umask 022")
    s.terminal = bool(proc.get("terminal", False))
    for rl in proc.get("rlimits") or []:
        name = str(rl.get("type", ""))
        import resource
        if not hasattr(resource, name):
            raise OCIError(f"config.json: process.rlimits: unknown {name!r}")
        s.rlimits.append((getattr(resource, name), int(rl.get("soft", 0)), int(rl.get("hard", 0)), name))
    for key in ("apparmorProfile", "selinuxLabel"):
        if proc.get(key):
            warn(f"process.{key} {proc[key]!r}: not applied (no LSM labels in a zone)")
    caps = proc.get("capabilities")
    if caps:
        warn("process.capabilities: not applied one by one; the guest has its user namespace's capabilities "
             "less lxbrand's drop list (docs/OCI.md)")
    if proc.get("ioPriority") or proc.get("scheduler") or proc.get("execCPUAffinity"):
        warn("process.ioPriority/scheduler/execCPUAffinity: not applied")
    if isinstance(proc.get("oomScoreAdj"), int):
        s.oom_score_adj = proc["oomScoreAdj"]

    if "hostname" in config:
        kw["hostname"] = config["hostname"]
    if config.get("domainname"):
        kw["domainname"] = config["domainname"]
    linux = config.get("linux") or {}
    if not isinstance(linux, dict):
        raise OCIError("config.json: linux must be an object")

    # mounts: binds and tmpfs map to --bind and --tmpfs; the zone's own kinds are accepted
    binds, tmpfs = [], []
    for m in config.get("mounts") or []:
        dst, typ = m.get("destination"), m.get("type") or ""
        src, opts = m.get("source") or "", list(m.get("options") or [])
        if not isinstance(dst, str) or not dst.startswith("/"):
            raise OCIError(f"config.json: mount destination {dst!r}: must be an absolute path")
        dst = os.path.normpath(dst)
        if (typ, dst) in OWN_MOUNTS or (typ in ("cgroup", "cgroup2") and dst.startswith("/sys/fs/cgroup")):
            continue                # the zone's own (csrc/zone_fs.c)
        if typ in ("bind", "rbind") or (typ in ("", "none") and ("bind" in opts or "rbind" in opts)):
            if not src.startswith("/"):
                src = os.path.normpath(os.path.join(bundle, src))
            if not os.path.exists(src):
                raise OCIError(f"mount {src}:{dst}: no such file or directory on the host")
            other = [o for o in opts if o not in BIND_OPTS_IGNORED]
            if other:
                warn(f"mount {dst}: options {other} not applied")
            binds.append((src, dst, "ro" in opts or "rro" in opts))
        elif typ == "tmpfs":
            keep = [o for o in opts if o.split("=")[0] in ("size", "mode")]
            other = [o for o in opts if o.split("=")[0] not in ("size", "mode", "nosuid", "nodev", "noexec",
                                                                 "strictatime", "relatime", "rw", "rprivate",
                                                                 "private", "tmpcopyup")]
            if other:
                warn(f"mount {dst} (tmpfs): options {other} not applied")
            if "ro" in opts:
                raise OCIError(f"mount {dst}: a read-only tmpfs is not supported by lxbrand")
            if dst == "/dev/shm":
                size = [o.split("=", 1)[1] for o in keep if o.startswith("size=")]
                if size:
                    kw["shm_size"] = size[-1]
                continue
            if dst == "/tmp":
                size = [o.split("=", 1)[1] for o in keep if o.startswith("size=")]
                if size:
                    kw["tmp_size"] = size[-1]
                continue
            tmpfs.append(f"{dst}:{','.join(keep)}" if keep else dst)
        elif typ in ("proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"):
            warn(f"mount {dst} ({typ}): not made; the zone has its own at its usual place")
        else:
            raise OCIError(f"mount {dst}: type {typ!r} is not supported by lxbrand (bind, tmpfs and the "
                           "zone's own proc, sysfs, devpts, mqueue, cgroup are)")
    kw["binds"], kw["tmpfs"] = binds, tmpfs

    # namespaces: the zone always makes its own, except the network, which it may share
    types = {}
    for ns in linux.get("namespaces") or []:
        types[ns.get("type")] = ns.get("path") or ""
    if "network" not in types:
        kw["net"] = "host"
    elif types["network"]:
        # the engine's (podman's bridge, --network ns:PATH): the monitor joins
        # it before it starts the zone, which then shares the monitor's network
        if not os.path.exists(types["network"]):
            raise OCIError(f"namespace network {types['network']}: no such file")
        kw["net"] = "host"
        s.netns = types["network"]
    else:
        kw["net"] = "none"
    for t in ("pid", "mount", "ipc", "uts", "cgroup", "user"):
        if t in types and types[t]:
            warn(f"namespace {t} {types[t]}: not joined; the zone has its own")
        elif t not in types and t in ("pid", "mount", "ipc", "uts"):
            warn(f"namespace {t}: the config shares the host's; the zone has its own")
    if linux.get("uidMappings") or linux.get("gidMappings"):
        warn("linux.uidMappings/gidMappings: not applied; the zone maps its own ids (run by root: zone ids "
             "0-65535 are host ids 1879048192-1879113727)")

    res = linux.get("resources") or {}
    mem = (res.get("memory") or {}).get("limit")
    if isinstance(mem, int) and mem > 0:
        kw["memory"] = mem
    pids = (res.get("pids") or {}).get("limit")
    if isinstance(pids, int) and pids > 0:
        kw["pids"] = pids
    cpu = res.get("cpu") or {}
    quota, period = cpu.get("quota"), cpu.get("period") or 100000
    if isinstance(quota, int) and quota > 0:
        kw["cpus"] = max(0.01, quota / period)
    for key in ("blockIO", "hugepageLimits", "network", "rdma", "unified"):
        if res.get(key):
            warn(f"linux.resources.{key}: not applied")
    if cpu.get("cpus") or cpu.get("mems"):
        warn("linux.resources.cpu cpus/mems: not applied (no cpuset)")
    # linux.cgroupsPath: the zone makes cgroups of its own (lxbrand/limits.py) for the limits above
    masked = [p for p in linux.get("maskedPaths") or [] if p not in OWN_MASKED]
    if masked:
        warn(f"linux.maskedPaths {masked}: not masked (the zone masks its own list: docs/OCI.md)")
    ro = [p for p in linux.get("readonlyPaths") or [] if p not in OWN_READONLY]
    if ro:
        warn(f"linux.readonlyPaths {ro}: not made read-only (the zone has its own list: docs/OCI.md)")
    if linux.get("seccomp"):
        kw["seccomp_bpf"] = seccomp_profile(linux["seccomp"], warn)
    if linux.get("sysctl"):
        warn(f"linux.sysctl {sorted(linux['sysctl'])}: not applied")
    if linux.get("devices"):
        warn("linux.devices: not made; the zone has its minimal /dev (null, zero, full, random, urandom, tty)")
    for key in ("rootfsPropagation", "mountLabel", "intelRdt", "personality", "timeOffsets"):
        if linux.get(key):
            warn(f"linux.{key}: not applied")

    hooks = config.get("hooks") or {}
    for kind, items in hooks.items():
        if kind not in HOOK_KINDS:
            raise OCIError(f"config.json: hooks.{kind}: unknown hook")
        for h in items or []:
            if not isinstance(h, dict) or not isinstance(h.get("path"), str) or not h["path"].startswith("/"):
                raise OCIError(f"config.json: hooks.{kind}: each hook needs an absolute path")
        if kind in ("createContainer", "startContainer") and items:
            raise OCIError(f"config.json: hooks.{kind}: hooks run inside the container are not supported "
                           "by lxbrand")
        s.hooks[kind] = list(items or [])

    ann = config.get("annotations") or {}
    s.annotations.update(ann)
    for key, value in ann.items():
        if not key.startswith("org.lxbrand."):
            continue
        if key not in ANNOTATIONS:
            raise OCIError(f"annotation {key}: unknown (lxbrand knows {', '.join(ANNOTATIONS)})")
        if key == "org.lxbrand.kernel-release":
            kw["kernel_release"] = value
        elif key == "org.lxbrand.deny":
            deny = {}
            for item in filter(None, (x.strip() for x in str(value).split(","))):
                name, _, err = item.partition("=")
                deny[name] = err or "EPERM"
            kw["deny"] = deny
        elif key == "org.lxbrand.ephemeral":
            kw["ephemeral"] = _bool_annotation(key, value)
        elif key == "org.lxbrand.tmp-size":
            kw["tmp_size"] = value
        elif key == "org.lxbrand.shm-size":
            kw["shm_size"] = value
    return s


# -- state on disk ------------------------------------------------------------

def _proc_start(pid: int) -> Optional[int]:
    """The start time of pid (/proc/PID/stat field 22): a pid plus this names one process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
        return int(data[data.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid, start) -> bool:
    return isinstance(pid, int) and pid > 0 and start is not None and _proc_start(pid) == start


class Store:
    """ROOT/ID/: state.json (written whole, then renamed) and ctl.sock."""

    def __init__(self, root: str):
        self.root = root

    def dir(self, cid: str) -> str:
        if not cid or not _ID.match(cid) or cid in (".", ".."):
            raise OCIError(f"invalid container id format: {cid}")
        return os.path.join(self.root, cid)

    def read(self, cid: str) -> dict:
        try:
            with open(os.path.join(self.dir(cid), STATE_FILE)) as f:
                return json.load(f)
        except FileNotFoundError:
            raise OCIError("container does not exist") from None
        except (OSError, ValueError) as e:
            raise OCIError(f"container {cid}: unreadable state: {e}") from None

    def write(self, cid: str, st: dict) -> None:
        d = self.dir(cid)
        tmp = os.path.join(d, STATE_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(st, f)
        os.rename(tmp, os.path.join(d, STATE_FILE))

    def ids(self) -> list:
        try:
            return sorted(n for n in os.listdir(self.root)
                          if os.path.exists(os.path.join(self.root, n, STATE_FILE)))
        except FileNotFoundError:
            return []

    def status(self, st: dict) -> str:
        """The status now: the monitor's word, unless the monitor is gone."""
        status = st.get("status", "stopped")
        if status != "stopped" and not _alive(st.get("monitor_pid"), st.get("monitor_start")):
            return "stopped"
        return status


def oci_state(st: dict, status: str) -> dict:
    """The runtime-spec state (`state ID`)."""
    out = {"ociVersion": OCI_VERSION, "id": st["id"], "status": status, "bundle": st["bundle"],
           "annotations": st.get("annotations") or {}}
    if status != "stopped":
        out["pid"] = st["pid"]
    else:
        out["pid"] = 0
    out["rootfs"] = st.get("rootfs", "")
    out["created"] = st.get("created", "")
    out["owner"] = st.get("owner", "")
    return out


# -- hooks ----------------------------------------------------------------------

def run_hooks(kind: str, hooks: list, state: dict) -> None:
    """Run hooks of one kind as the runtime-spec says: the state on stdin,
    in order; the first failure is an OCIError."""
    for h in hooks:
        argv = h.get("args") or [h["path"]]
        env = dict(e.split("=", 1) for e in h.get("env") or [] if "=" in e)
        try:
            r = subprocess.run(argv, executable=h["path"], input=json.dumps(state).encode(), env=env,
                               capture_output=True, timeout=h.get("timeout") or None)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise OCIError(f"{kind} hook {h['path']}: {e}") from None
        if r.returncode != 0:
            raise OCIError(f"{kind} hook {h['path']} exited with status {r.returncode}: "
                           f"{r.stderr.decode(errors='replace').strip()}")


# -- the monitor ----------------------------------------------------------------

def _send_fd(path: str, fd: int) -> None:
    """--console-socket: the pty master to the engine, as runc sends it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        socket.send_fds(s, [b"/dev/ptmx"], [fd])
    finally:
        s.close()


def _monitor(store: Store, cid: str, bundle: str, spec: Spec, console_socket: Optional[str], report_fd: int,
             log: Log) -> int:
    """The zone's monitor (a child of `create`): start the zone held, report,
    serve `start`, wait for the guest, record its status, return it."""
    import resource

    from .errors import CommandNotFound, CommandNotRunnable, LxbrandError
    from .zone import Zone

    d = store.dir(cid)

    def report(msg: str) -> None:
        nonlocal report_fd
        if report_fd >= 0:
            try:
                os.write(report_fd, msg.encode())
            finally:
                os.close(report_fd)
                report_fd = -1

    run = None
    try:
        os.setsid()
        for res, soft, hard, name in spec.rlimits:
            try:
                resource.setrlimit(res, (soft, hard))
            except (OSError, ValueError) as e:
                raise OCIError(f"process.rlimits {name} {soft}:{hard}: {e}") from None
        if spec.oom_score_adj is not None:
            try:
                with open("/proc/self/oom_score_adj", "w") as f:
                    f.write(str(spec.oom_score_adj))
            except OSError as e:
                log.warn(f"process.oomScoreAdj {spec.oom_score_adj}: {e.strerror}")
        zone = Zone(**spec.zone)
        _check_command(zone, spec.argv)
        if spec.netns:
            from ._csup import join_netns
            try:
                join_netns(spec.netns)
            except OSError as e:
                raise OCIError(f"namespace network {spec.netns}: {e.strerror}") from None
        give_stdio(zone.config.uid, zone.config.gid)
        # the bundle's rootfs is the container's: mount points are made in it (runc's way)
        run = zone.start(spec.argv, tty=spec.terminal, hold=True, own_root=True)
        # the held guest waits for its release in a loop without system calls
        # (csrc/zone_guest.c), a CPU's worth for as long as the container stays
        # created: stopped until `start` continues it
        signal.pidfd_send_signal(run.z.guest_pidfd, signal.SIGSTOP)
        if spec.terminal:
            _send_fd(console_socket, run.pty_fd)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock_path = os.path.join(d, CTL_SOCKET)
        listener.bind(sock_path)
        os.chmod(sock_path, 0o600)
        listener.listen(8)
        st = {"id": cid, "bundle": bundle, "rootfs": spec.rootfs, "status": "created",
              "pid": os.getpid(), "monitor_pid": os.getpid(), "monitor_start": _proc_start(os.getpid()),
              "init_pid": run.init_pid, "init_start": _proc_start(run.init_pid), "guest_pid": run.guest_pid(),
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds"),
              "owner": _owner(), "annotations": spec.annotations, "hooks": spec.hooks, "exit_status": None}
        # what `exec` needs to start a process like the guest: the brand's filter
        # (the same bytes the guest loaded) and the capabilities it lost
        from . import personality
        with open(os.path.join(d, FILTER_FILE), "wb") as f:
            f.write(zone.brand.bpf())
        with open(os.path.join(d, PROFILE_FILE), "wb") as f:
            f.write(spec.zone.get("seccomp_bpf", b""))
        # the brand for the C front door's own create (csrc/frontdoor/oci.c), as
        # the Python CLI leaves it for lxrun's: keyed by the annotations'
        # kernel release and deny list as given (a stale cache is refreshed;
        # a brand other options shaped is never stored)
        from .brand.compile import store_frontdoor
        release = spec.zone.get("kernel_release")
        try:
            store_frontdoor(zone.brand, release, list(spec.zone.get("deny", {}).items()), zone.uts(),
                            zone.proc_version() if release else None)
        except OSError:
            pass
        st["cap_drop"] = personality.CAP_DROP
        store.write(cid, st)
        run_hooks("prestart", spec.hooks.get("prestart", []), oci_state(st, "created"))
        run_hooks("createRuntime", spec.hooks.get("createRuntime", []), oci_state(st, "created"))
    except (OCIError, LxbrandError, OSError, ValueError) as e:
        if run is not None:
            run.close()
        msg = str(e) if not isinstance(e, OSError) or isinstance(e, LxbrandError) else (e.strerror or str(e))
        if isinstance(e, (CommandNotFound, CommandNotRunnable)):
            msg = _exec_message(spec.argv[0], e)
        report("E" + msg)
        return 1

    # the engine's stdio is the guest's now: hold none of it (its reader waits for EOF)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)

    def forward(signum, frame):
        if st["status"] == "created":
            signum = signal.SIGKILL      # a held guest is ended, as runc's waiting init would be
        try:
            os.kill(run.init_pid, signum)
        except (ProcessLookupError, TypeError):
            pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, forward)
    report("OK")

    import select
    poller = select.poll()
    poller.register(run.z.ctl_fd, select.POLLIN)
    poller.register(listener.fileno(), select.POLLIN)
    execs: list = []            # supervisors of `exec`'d processes' listeners
    while True:
        ready = [fd for fd, _ in poller.poll(1000 if execs else None)]
        execs = _reap_supervisors(execs)
        if run.z.ctl_fd in ready:
            break
        if listener.fileno() in ready:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                try:
                    data, fds, _, _ = socket.recv_fds(conn, 64, 2)
                    req = data.decode().strip()
                except OSError:
                    continue
                if req == "listener":
                    reply = _serve_listener(zone, run, st, fds, execs)
                elif fds:
                    for fd in fds:
                        os.close(fd)
                    reply = f"Eunexpected fds with {req!r}"
                elif req != "start":
                    reply = f"Eunknown request {req!r}"
                elif st["status"] != "created":
                    reply = "Ecannot start an already running container"
                else:
                    try:
                        signal.pidfd_send_signal(run.z.guest_pidfd, signal.SIGCONT)
                        run.release()
                        st["status"] = "running"
                        store.write(cid, st)
                        reply = "OK"
                    except (LxbrandError, OSError) as e:
                        reply = f"E{e}"
                try:
                    conn.sendall(reply.encode())
                except OSError:
                    pass
    listener.close()
    for sup in execs:
        sup.stop()
    try:
        code = run.wait()
        code = 128 - code if code < 0 else code
    except (CommandNotFound, CommandNotRunnable) as e:
        code = e.exit_code
        log.error(_exec_message(spec.argv[0], e))
    except LxbrandError as e:
        rc = getattr(e, "returncode", None)
        code = 128 - rc if isinstance(rc, int) and rc < 0 else 255 if rc is None else rc
        if not (isinstance(rc, int) and rc < 0):
            log.error(str(e))
    finally:
        run.close()
    st["status"], st["exit_status"] = "stopped", code
    try:
        store.write(cid, st)
        os.unlink(os.path.join(d, CTL_SOCKET))
    except OSError:
        pass
    return code


def _serve_listener(zone, run, st: dict, fds: list, execs: list) -> str:
    """`exec`: the zone's supervisor (this monitor) answers the new process's
    listener too, with the zone's brand, in threads of its own."""
    from .supervisor import Supervisor
    try:
        if len(fds) != 1:
            return "Eexpected one listener fd"
        if st["status"] != "running":
            return "Ecannot exec in a container that is not running"
        sup = Supervisor(zone, run.sup.brand, fds[0], zone.uts(), receivers=EXEC_RECEIVERS)
        sup.on_failure = lambda err: None       # its process fails closed: the listener's calls answer ENOSYS
        sup.start()
        execs.append(sup)
        return "OK"
    except (OSError, ValueError) as e:
        return f"Eserve the exec'd process's listener: {e}"
    finally:
        for fd in fds:
            os.close(fd)            # the supervisor holds its own dup


def _reap_supervisors(execs: list) -> list:
    """Free the supervisors whose processes are all gone (their receivers returned)."""
    live = []
    for sup in execs:
        if any(t.is_alive() for t in sup.threads):
            live.append(sup)
        else:
            sup.stop()
    return live


def _check_command(zone, argv) -> None:
    """process.args[0] must run in the rootfs: said at create, as runc says it
    (engines read "executable file not found" as 127, "permission denied" as 126)."""
    from .errors import CommandNotFound
    try:
        zone.resolve(argv)
    except CommandNotFound:
        # a path under a bind is found only in the running zone
        cfg = zone.config
        if argv[0].startswith("/") and any(argv[0] == b.dst or argv[0].startswith(b.dst.rstrip("/") + "/")
                                           for b in cfg.binds):
            return
        raise


def give_stdio(uid: int, gid: int) -> None:
    """Run by root, the engine's stdio pipes and sockets (conmon's, containerd's
    shim's: made for this container alone) become the process's host ids, as
    crun gives them before joining the user namespace and runc after: they are
    host root's, whom the zone does not map, so /dev/stdout, /dev/stderr and
    /proc/self/fd/N answered EACCES (nginx's access_log /dev/stdout).  Never a
    file or a terminal (the host's).  The C front door's create and exec
    (csrc/frontdoor/oci.c give_stdio) do the same."""
    from . import idshift
    if os.geteuid() != 0 or not (0 <= uid < idshift.COUNT and 0 <= gid < idshift.COUNT):
        return
    for fd in (0, 1, 2):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(("pipe:[", "socket:[")):
                os.fchown(fd, idshift.BASE + uid, idshift.BASE + gid)
        except OSError:
            pass


def _exec_message(cmd: str, e: Exception) -> str:
    from .errors import CommandNotFound
    if isinstance(e, CommandNotFound):
        where = "$PATH" if "/" not in cmd else "the zone"
        return (f'unable to start container process: exec: "{cmd}": executable file not found in {where} '
                f'(no such file or directory in the zone\'s rootfs)')
    return f'unable to start container process: exec: "{cmd}": permission denied ({e})'


def _owner() -> str:
    import pwd
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


# -- the commands -----------------------------------------------------------------

def _die(log: Log, msg: str, code: int = 1):
    log.error(msg)
    sys.exit(code)


def create_container(store: Store, log: Log, bundle: str, console_socket: Optional[str], pid_file: Optional[str],
                     preserve_fds: int, cid: str) -> None:
    """`create`: check the bundle, start the zone's monitor and wait for its
    word, write the pid-file; an error is logged and exits 1."""
    try:
        d = store.dir(cid)
        bundle = os.path.abspath(bundle)
        config = load_config(bundle)
        spec = translate(bundle, config)
        if preserve_fds:
            raise OCIError("--preserve-fds: not supported by lxbrand")
        if spec.terminal and not console_socket:
            raise OCIError("cannot allocate tty if runc will detach without setting console socket")
        if console_socket and not spec.terminal:
            raise OCIError("cannot use console socket if runc will not detach or allocate tty")
        os.makedirs(store.root, mode=0o711, exist_ok=True)
    except OCIError as e:
        _die(log, f"lxbrand create failed: {e}")
    except OSError as e:
        _die(log, f"lxbrand create failed: {store.root}: {e.strerror}")
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        _die(log, f"container with id exists: {cid}")
    except OSError as e:
        _die(log, f"lxbrand create failed: {d}: {e.strerror}")
    log.also = os.path.join(d, "log.json")
    for w in spec.warnings:
        log.warn(w)
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 1
        try:
            code = _monitor(store, cid, bundle, spec, console_socket, w, log)
        finally:
            os._exit(code & 0xFF)
    os.close(w)
    msg = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        msg += chunk
    os.close(r)
    if not msg.startswith(b"OK"):
        os.waitpid(pid, 0)
        _remove(d)
        _die(log, "lxbrand create failed: " + (msg[1:].decode(errors="replace") or "the monitor died"))
    if pid_file:
        try:
            tmp = pid_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(str(pid))
            os.rename(tmp, pid_file)
        except OSError as e:
            _kill_zone(store.read(cid))
            _remove(d)
            _die(log, f"lxbrand create failed: {pid_file}: {e.strerror}")


def _remove(d: str) -> None:
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def _kill_zone(st: dict) -> None:
    """SIGKILL the zone's init (its whole pid namespace goes with it)."""
    if _alive(st.get("init_pid"), st.get("init_start")):
        try:
            os.kill(st["init_pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_stopped(store: Store, cid: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = store.read(cid)
        if store.status(st) == "stopped" and not _alive(st.get("init_pid"), st.get("init_start")):
            return
        time.sleep(0.01)


def _zone_pids(st: dict) -> list:
    """Host pids of the zone's processes (in init's pid namespace)."""
    if not _alive(st.get("init_pid"), st.get("init_start")):
        return []
    try:
        ns = os.stat(f"/proc/{st['init_pid']}/ns/pid").st_ino
    except OSError:
        return []
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}/ns/pid").st_ino == ns:
                    pids.append(int(name))
            except OSError:
                pass
    return sorted(pids)


def _exec_process(st: dict, process_file, command, tty, env, cwd, user, additional_gids) -> dict:
    """The process to exec: --process's, or the container's own with CMD and the options."""
    if process_file:
        try:
            with open(process_file) as f:
                proc = json.load(f)
        except (OSError, ValueError) as e:
            raise OCIError(f"--process {process_file}: {getattr(e, 'strerror', None) or e}") from None
        if not isinstance(proc, dict):
            raise OCIError(f"--process {process_file}: expected a JSON object")
    else:
        if not command:
            raise OCIError("exec: no command given (CMD or --process)")
        try:
            base = load_config(st["bundle"]).get("process") or {}
        except OCIError:
            base = {}
        proc = {"args": list(command), "env": list(base.get("env") or []), "cwd": base.get("cwd", "/"),
                "user": dict(base.get("user") or {}), "terminal": tty}
        proc["env"] += list(env)
        if cwd:
            proc["cwd"] = cwd
        if user:
            uid, _, gid = user.partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise OCIError(f"--user {user!r}: expected UID[:GID], numbers")
            proc["user"] = {"uid": int(uid), "gid": int(gid or 0)}
        if additional_gids:
            proc["user"]["additionalGids"] = list(additional_gids)
    args = proc.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise OCIError("process.args must be a non-empty list of strings")
    for item in proc.get("env") or []:
        if not isinstance(item, str) or "=" not in item or item.startswith("="):
            raise OCIError(f"process.env {item!r}: expected NAME=VALUE")
    if not isinstance(proc.get("cwd", "/"), str) or not proc.get("cwd", "/").startswith("/"):
        raise OCIError(f"process.cwd {proc.get('cwd')!r}: must be an absolute path")
    proc["terminal"] = bool(proc.get("terminal", False))
    return proc


def _guest_pidfd(st: dict) -> tuple:
    """(pidfd of the zone's guest, CLONE_NEW* flags of its namespaces that are not ours)."""
    guest, init = st.get("guest_pid"), st.get("init_pid")
    if not _alive(init, st.get("init_start")) or not isinstance(guest, int) or guest <= 0:
        raise OCIError("container not running")
    pidfd = os.pidfd_open(guest)
    try:
        with open(f"/proc/{guest}/stat") as f:
            data = f.read()
        if int(data[data.rindex(")") + 2:].split()[1]) != init:
            raise OCIError("container not running (its process has ended)")
        from ._csup import guest_ns_flags
        flags = guest_ns_flags(guest)
    except (OSError, ValueError, OCIError) as e:
        os.close(pidfd)
        if isinstance(e, OCIError):
            raise
        raise OCIError(f"container not running ({e})") from None
    return pidfd, flags


def _join_cgroups(guest: int, pid: int) -> None:
    """Put pid in the cgroups of the zone's guest (the zone's limits), where they are not ours."""
    def parse(path):
        out = {}
        with open(path) as f:
            for line in f:
                n, ctrls, where = line.rstrip("\n").split(":", 2)
                out[(n, ctrls)] = where
        return out
    theirs, ours = parse(f"/proc/{guest}/cgroup"), parse("/proc/self/cgroup")
    for (n, ctrls), where in theirs.items():
        if ours.get((n, ctrls)) == where:
            continue
        if ctrls == "":
            bases = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        else:
            name = ctrls[5:] if ctrls.startswith("name=") else ctrls
            bases = [os.path.join("/sys/fs/cgroup", name)]
        for base in bases:
            procs = os.path.join(base, where.lstrip("/"), "cgroup.procs")
            if os.path.exists(procs):
                try:
                    with open(procs, "w") as f:
                        f.write(str(pid))
                except OSError as e:
                    raise OCIError(f"join the zone's cgroup {procs}: {e.strerror}") from None
                break


def _exec(store: Store, cid: str, st: dict, proc: dict, console_socket, pid_file, detach) -> int:
    """Start proc in the zone, its listener served by the zone's monitor; its status unless detach."""
    from ._csup import ExecProc
    filters = []
    for name in (FILTER_FILE, PROFILE_FILE):
        try:
            with open(os.path.join(store.dir(cid), name), "rb") as f:
                filters.append(f.read())
        except FileNotFoundError:
            filters.append(b"")
        except OSError as e:
            raise OCIError(f"the zone's filter {name}: {e.strerror}") from None
    if not filters[0]:
        raise OCIError(f"the zone's filter {FILTER_FILE}: missing")
    env = [e for e in proc.get("env") or []]
    path_env = next((e[5:] for e in reversed(env) if e.startswith("PATH=")), None)
    user = proc.get("user") or {}
    groups = [int(g) for g in user.get("additionalGids") or []]
    if len(groups) > 64:
        raise OCIError("process.user.additionalGids: at most 64")
    give_stdio(int(user.get("uid", 0)), int(user.get("gid", 0)))
    pidfd, ns_flags = _guest_pidfd(st)
    try:
        p = ExecProc(guest_pidfd=pidfd, ns_flags=ns_flags, cwd=proc.get("cwd") or "/", argv=proc["args"],
                     envp=env, search_path=path_env, uid=int(user.get("uid", 0)), gid=int(user.get("gid", 0)),
                     groups=groups, use_pty=bool(proc["terminal"]), bpf=filters[0], profile_bpf=filters[1],
                     cap_drop=int(st.get("cap_drop") or 0))
    except OSError as e:
        raise OCIError("unable to start container process: " + e.strerror) from None
    finally:
        os.close(pidfd)
    try:
        _join_cgroups(st["guest_pid"], p.cmd_pid)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        try:
            s.connect(os.path.join(store.dir(cid), CTL_SOCKET))
            socket.send_fds(s, [b"listener\n"], [p.listener_fd])
            reply = s.recv(4096).decode(errors="replace")
        except OSError as ex:
            raise OCIError(f"container {cid}: its monitor does not answer ({ex.strerror or ex})") from None
        finally:
            s.close()
        if not reply.startswith("OK"):
            raise OCIError(reply[1:] or "the container's monitor gave no answer")
        p.close_listener()
        if p.pty_fd >= 0:
            _set_winsize(p.pty_fd, proc.get("consoleSize"))
            if console_socket:
                try:
                    _send_fd(console_socket, p.pty_fd)
                except OSError as ex:
                    raise OCIError(f"--console-socket {console_socket}: {ex.strerror or ex}") from None
        if pid_file:
            try:
                tmp = pid_file + ".tmp"
                with open(tmp, "w") as f:
                    f.write(str(p.pid))
                os.rename(tmp, pid_file)
            except OSError as ex:
                raise OCIError(f"{pid_file}: {ex.strerror}") from None
        try:
            p.release()
        except OSError as ex:
            raise OCIError(str(ex)) from None
    except BaseException:
        p.abort()
        raise
    if detach:
        if p.pty_fd >= 0:
            os.close(p.pty_fd)
        return 0
    return _wait_exec(p.pid, p.pty_fd if not console_socket else -1)


def _set_winsize(fd: int, size) -> None:
    import fcntl
    import struct
    import termios
    rows = cols = 0
    if isinstance(size, dict):
        rows, cols = int(size.get("height", 0)), int(size.get("width", 0))
    elif _isatty(0):
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    if rows and cols:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _wait_exec(pid: int, master: int) -> int:
    """Wait for the relay (it exits as the process does), passing our signals
    on; with a pty of our own, copy between it and our stdio."""
    import threading

    from ._csup import pty_relay

    def forward(signum, frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, forward)
    relay = saved = None
    if master >= 0:
        if _isatty(0):
            import termios
            import tty as tty_mod
            saved = termios.tcgetattr(0)
            tty_mod.setraw(0)
        relay = threading.Thread(target=pty_relay, args=(0, 1, master, -1), daemon=True)
        relay.start()
    try:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        if relay is not None:
            relay.join(2)
    finally:
        if saved is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def entry() -> None:
    """The lxbrand-oci console script: the C front door when `make build`
    installed it (csrc/frontdoor/oci.c, lxbrand/oci_fast.py), else run()."""
    from .oci_fast import to_frontdoor
    to_frontdoor(sys.argv[1:])
    run()


# the global options and create's options as lxbrand/oci_cli.py declares
# them: VALUE takes a value, FLAG none; any other word is click's to judge
_FAST_GLOBAL = {"--root": "VALUE", "--log": "VALUE", "--log-format": "VALUE", "--debug": "FLAG",
                "--systemd-cgroup": "FLAG", "--rootless": "VALUE"}
_FAST_CREATE = {"-b": "--bundle", "--bundle": "--bundle", "--console-socket": "--console-socket",
                "--pid-file": "--pid-file", "--no-pivot": "FLAG", "--no-new-keyring": "FLAG"}


def _fast_create_args(argv: list) -> Optional[dict]:
    """argv of a plain `create` (what podman, containerd's shim and the
    tests run: `--opt VALUE` or `--opt=VALUE`, flags, one ID), parsed as
    click would; None for anything else, click's to parse and word."""
    opts = {"--root": DEFAULT_ROOT, "--log": None, "--log-format": "text", "--bundle": ".",
            "--console-socket": None, "--pid-file": None}
    i, n, table, cid = 0, len(argv), _FAST_GLOBAL, None
    while i < n:
        a = argv[i]
        if table is _FAST_GLOBAL and a == "create":
            table = _FAST_CREATE
            i += 1
            continue
        if not a.startswith("-"):
            if table is not _FAST_CREATE or cid is not None:
                return None
            cid = a
            i += 1
            continue
        name, eq, value = a.partition("=")
        kind = table.get(name)
        if kind is None:
            return None
        if kind == "FLAG":
            if eq:
                return None
            i += 1
            continue
        key = name if kind == "VALUE" else kind
        if not eq:
            if i + 1 >= n:
                return None
            value = argv[i + 1]
            i += 1
        opts[key] = value
        i += 1
    if table is not _FAST_CREATE or cid is None or opts["--log-format"] not in ("text", "json"):
        return None
    return {"cid": cid, **opts}


def run() -> None:
    """The Python runtime, whatever the command (the front door hands over
    here): a plain create without click, the rest through lxbrand/oci_cli.py."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
    fast = _fast_create_args(sys.argv[1:])
    if fast is not None:
        log = Log(fast["--log"], fast["--log-format"])
        create_container(Store(fast["--root"]), log, fast["--bundle"], fast["--console-socket"],
                         fast["--pid-file"], 0, fast["cid"])
        sys.exit(0)
    import click

    from .oci_cli import oci as cli
    try:
        rv = cli.main(prog_name="lxbrand-oci", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.exceptions.ClickException as e:
        Log().error(e.format_message().replace("\n", " "))
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


def __getattr__(name: str):
    """lxbrand.oci.oci, the click group (`lxrun oci`), from lxbrand/oci_cli.py."""
    if name == "oci":
        from .oci_cli import oci as cli
        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    entry()
