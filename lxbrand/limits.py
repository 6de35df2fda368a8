"""Resource limits of a zone: --memory, --pids, --cpus, and tmpfs sizes.

Enforced by a cgroup of the zone's own, made by lxrun below lxrun's own
cgroup (so limits above it still hold), with init put in it before it runs:

    cgroup v2   memory.max (+ memory.swap.max 0), pids.max, cpu.max
    cgroup v1   memory.limit_in_bytes (+ memsw), pids.max, cpu.cfs_quota_us

as root, or as an ordinary user where the v2 cgroup it runs in is delegated
to it (systemd-run --user --scope -p Delegate=yes).  Without cgroups an
ordinary user's --pids falls back to RLIMIT_NPROC (counted per user of the
zone's user namespace, which the zone's root cannot raise), and --memory and
--cpus are refused: a limit that would not hold is an error, not a warning.

The zone cannot lift its limits: its guest is in a cgroup namespace rooted at
its own cgroup, and the cgroup's files belong to host root, not to the
zone's ids.  tmpfs pages (/tmp, /dev/shm) are charged to the zone's memory
cgroup, so --memory bounds them as well as the sizes do.
"""
from __future__ import annotations

import errno
import itertools
import os
import re
import time
from typing import Optional

from .errors import ZoneConfigError

CGROOT = "/sys/fs/cgroup"
CPU_PERIOD = 100_000
TMP_SIZE = "25%"      # of RAM: tmpfs's default is 50%
SHM_SIZE = "64m"      # Docker's default /dev/shm
_counter = itertools.count()
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$", re.I)


def parse_size(text, what: str) -> int:
    """'256M', '1g', '1048576' -> bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        n = text
    else:
        m = _SIZE.match(str(text).strip())
        if not m:
            raise ZoneConfigError(f"{what} {text!r}: expected a size such as 512M or 2G")
        n = int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2).lower() or " "))
    if n <= 0:
        raise ZoneConfigError(f"{what} {text!r}: must be positive")
    return n


def tmpfs_size(text, what: str) -> str:
    """A tmpfs size= value: bytes, or N% of RAM."""
    t = str(text).strip()
    if re.fullmatch(r"\d{1,2}%|100%", t) and t != "0%":
        return t
    return str(parse_size(t, what))


def _v2() -> bool:
    try:
        with open(os.path.join(CGROOT, "cgroup.controllers")) as f:
            return bool(f.read().split())
    except OSError:
        return False


def _own(hierarchy: Optional[str]) -> str:
    """lxrun's own cgroup path in a v1 hierarchy, or in v2 (None)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if hierarchy is None and ctrls == "":
                return path
            if hierarchy is not None and hierarchy in ctrls.split(","):
                return path
    return "/"


def enforcement() -> str:
    """How --memory, --pids and --cpus would be enforced for this caller."""
    if _v2():
        parent = os.path.join(CGROOT, _own(None).lstrip("/"))
        if os.geteuid() == 0 or os.access(parent, os.W_OK):
            return f"cgroup v2 below {parent}: --memory, --pids, --cpus"
        return "cgroup v2 not delegated to this user: --pids as RLIMIT_NPROC; --memory, --cpus refused"
    if os.geteuid() == 0:
        have = [c for c in ("memory", "pids", "cpu") if os.path.isdir(os.path.join(CGROOT, c))]
        return f"cgroup v1 ({', '.join(have) or 'no controllers'}): " + ", ".join(
            {"memory": "--memory", "pids": "--pids", "cpu": "--cpus"}[c] for c in have)
    return "cgroup v1 (root only): --pids as RLIMIT_NPROC; --memory, --cpus refused"


class Cgroups:
    """The zone's cgroups: made by make(), filled by the launcher (procs()),
    removed by remove() once the zone has ended."""

    def __init__(self, memory: Optional[int] = None, pids: Optional[int] = None,
                 cpus: Optional[float] = None):
        self.memory, self.pids, self.cpus = memory, pids, cpus
        self.dirs: list[str] = []
        self.fds: list[int] = []
        self.nproc = 0
        self.how = ""

    def wanted(self) -> bool:
        return any(v is not None for v in (self.memory, self.pids, self.cpus))

    def make(self) -> None:
        if not self.wanted():
            return
        name = f"lxbrand-{os.getpid()}-{next(_counter)}"
        try:
            if _v2():
                self._make_v2(name)
            elif os.geteuid() == 0:
                self._make_v1(name)
            else:
                self._unprivileged()
        except OSError as e:
            self.remove()
            raise ZoneConfigError(f"resource limits: cannot set up the zone's cgroup: "
                                  f"{e.strerror} ({e.filename})") from None
        except Exception:
            self.remove()
            raise

    def _unprivileged(self) -> None:
        if self.memory is not None or self.cpus is not None:
            raise ZoneConfigError("--memory and --cpus need cgroups: run lxrun as root, or in a "
                                  "delegated cgroup v2 (systemd-run --user --scope -p Delegate=yes)")
        self.nproc = self.pids
        self.how = "pids: RLIMIT_NPROC per user of the zone"

    def _mkdir(self, path: str) -> None:
        os.mkdir(path, 0o755)
        self.dirs.append(path)

    def _write(self, path: str, value) -> None:
        with open(path, "w") as f:
            f.write(str(value))

    def _make_v2(self, name: str) -> None:
        parent = os.path.join(CGROOT, _own(None).lstrip("/"))
        if os.geteuid() != 0 and not os.access(parent, os.W_OK):
            return self._unprivileged()
        # a process may not sit in an inner cgroup with controllers enabled:
        # make an lxbrand sub-tree whose subtree_control we may set
        base = os.path.join(parent, "lxbrand")
        if not os.path.isdir(base):
            os.mkdir(base, 0o755)
        want = [c for c, v in (("memory", self.memory), ("pids", self.pids), ("cpu", self.cpus))
                if v is not None]
        for d in (parent, base):
            with open(os.path.join(d, "cgroup.subtree_control"), "w") as f:
                f.write(" ".join("+" + c for c in want))
        path = os.path.join(base, name)
        self._mkdir(path)
        if self.memory is not None:
            self._write(os.path.join(path, "memory.max"), self.memory)
            if os.path.exists(os.path.join(path, "memory.swap.max")):
                self._write(os.path.join(path, "memory.swap.max"), 0)
        if self.pids is not None:
            self._write(os.path.join(path, "pids.max"), self.pids)
        if self.cpus is not None:
            self._write(os.path.join(path, "cpu.max"), f"{int(self.cpus * CPU_PERIOD)} {CPU_PERIOD}")
        self.fds.append(os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC))
        self.how = f"cgroup v2 {path}"

    def _make_v1(self, name: str) -> None:
        used = []
        for ctrl, value in (("memory", self.memory), ("pids", self.pids), ("cpu", self.cpus)):
            if value is None:
                continue
            root = os.path.join(CGROOT, ctrl)
            if not os.path.isdir(root):
                raise ZoneConfigError(f"--{ctrl if ctrl != 'cpu' else 'cpus'}: this host has no "
                                      f"{ctrl} cgroup controller mounted")
            path = os.path.join(root, _own(ctrl).lstrip("/"), name)
            self._mkdir(path)
            if ctrl == "memory":
                self._write(os.path.join(path, "memory.limit_in_bytes"), value)
                memsw = os.path.join(path, "memory.memsw.limit_in_bytes")
                if os.path.exists(memsw):
                    self._write(memsw, value)
            elif ctrl == "pids":
                self._write(os.path.join(path, "pids.max"), value)
            else:
                self._write(os.path.join(path, "cpu.cfs_period_us"), CPU_PERIOD)
                self._write(os.path.join(path, "cpu.cfs_quota_us"), int(value * CPU_PERIOD))
            self.fds.append(os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC))
            used.append(ctrl)
        self.how = "cgroup v1 " + ", ".join(used)

    def close_fds(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def remove(self) -> None:
        """Remove the zone's cgroups (its processes are gone or going)."""
        self.close_fds()
        for path in reversed(self.dirs):
            for _ in range(200):
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        break
                    time.sleep(0.005)   # the pid namespace's last tasks are exiting
        self.dirs = []
