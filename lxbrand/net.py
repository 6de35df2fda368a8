"""--net private: the zone's own network, with outbound access and published
ports, through pasta (Debian package passt).

Linux gives every zone a network namespace of its own (`--net none`: only
loopback).  `--net private` connects it to the host's network with pasta, a
user-mode network stack kept by the passt project (no root, no bridge, no
iptables): pasta joins the zone's user and network namespaces, makes a tap
interface there with the host's address, routes and MTU, and relays the
zone's TCP, UDP and ICMP through ordinary sockets of the host.  As in podman's
rootless networking:

- outbound: connections from the zone leave as the host's own;
- the gateway address seen in the zone is mapped to the host's loopback, so
  the zone reaches a service on the host's 127.0.0.1 at the gateway (pasta's
  --map-gw, its default);
- `-p [ADDR:]HOST:ZONE[/udp]`: pasta listens on the host's port HOST (on ADDR
  only, if given) and forwards each connection to port ZONE in the zone;
  nothing else is forwarded (-t/-u/-T/-U none: pasta's "auto" would follow
  every port the zone binds).

The zone's guest is held before its execve (hold) until pasta has configured
the interface, so CMD starts with its network up.  pasta is given the
namespaces as fds the caller opened (/proc/self/fd/N), runs as the caller
(as root it must keep root to join the zone's user namespace, then it
sandboxes itself: its own namespaces, no capabilities, a seccomp filter), and
is ended with the zone.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile

from .errors import ZoneConfigError, ZoneStartError

PASTA = "pasta"
INSTALL_HINT = "apt-get install passt"
START_TIMEOUT = 10.0           # seconds pasta may take to configure the zone's interface

_PORT = r"(?:[1-9][0-9]{0,4})"
_PUBLISH = re.compile(rf"^(?:(?P<addr>[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}}|\[[0-9a-fA-F:]+\]):)?(?:(?P<host>{_PORT}):)?(?P<zone>{_PORT})"
                      r"(?:/(?P<proto>tcp|udp))?$")


def parse_publish(spec: str) -> tuple:
    """-p [ADDR:]HOST:ZONE[/tcp|/udp] (or ZONE alone: the same port on the
    host) -> (proto, addr or None, host port, zone port)."""
    m = _PUBLISH.match(spec) if isinstance(spec, str) else None
    if not m:
        raise ZoneConfigError(f"--publish {spec!r}: expected [ADDR:]HOST:ZONE[/udp], e.g. 8080:80")
    host, zone = int(m.group("host") or m.group("zone")), int(m.group("zone"))
    for port in (host, zone):
        if port > 65535:
            raise ZoneConfigError(f"--publish {spec!r}: port {port} is out of range (1-65535)")
    addr = m.group("addr")
    return (m.group("proto") or "tcp", addr.strip("[]") if addr else None, host, zone)


def pasta_args(publish) -> list:
    """pasta's options for the zone's published ports (nothing else forwarded)."""
    tcp = [p for p in publish if p[0] == "tcp"]
    udp = [p for p in publish if p[0] == "udp"]

    def spec(p):
        _, addr, host, zone = p
        return (f"{addr}/" if addr else "") + f"{host}:{zone}"
    args = []
    for flag, items in (("-t", tcp), ("-u", udp)):
        if items:
            for p in items:
                args += [flag, spec(p)]
        else:
            args += [flag, "none"]
    return args + ["-T", "none", "-U", "none"]


def check_available() -> str:
    """pasta's path, or a one-line error naming what to install."""
    exe = shutil.which(PASTA)
    if exe is None:
        raise ZoneStartError(2, f"--net private needs pasta, which is not installed ({INSTALL_HINT})")
    return exe


class PrivateNet:
    """pasta connecting one zone's network namespace; close() ends it."""

    def __init__(self, guest_pid: int, publish=()):
        self.guest_pid = guest_pid
        self.publish = [p if isinstance(p, tuple) else parse_publish(p) for p in publish]
        self.pidfd = -1
        self.pid = -1

    def start(self) -> None:
        exe = check_available()
        fds = []
        d = tempfile.mkdtemp(prefix="lxbrand-pasta-")
        try:
            try:
                for ns in ("user", "net"):
                    fds.append(os.open(f"/proc/{self.guest_pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC))
            except OSError as e:
                raise ZoneStartError(e.errno or 1, f"--net private: the zone's namespaces: {e.strerror}") from None
            pidfile = os.path.join(d, "pasta.pid")
            argv = [exe, "--config-net", "--quiet", "--pid", pidfile, *pasta_args(self.publish),
                    "--userns", f"/proc/self/fd/{fds[0]}", "--netns", f"/proc/self/fd/{fds[1]}"]
            if os.geteuid() == 0:
                # to join the zone's user namespace (owned by root) pasta keeps
                # root until its set-up is done, then sandboxes itself
                argv[1:1] = ["--runas", "0:0"]
            try:
                # pasta forks once the interface is configured; the parent's end is the sign
                r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   pass_fds=fds, timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise ZoneStartError(110, f"--net private: pasta did not start within {START_TIMEOUT:g} s") \
                    from None
            if r.returncode != 0 or not os.path.exists(pidfile):
                lines = [ln for ln in (r.stderr + r.stdout).decode(errors="replace").splitlines()
                         if ln.strip() and "syslog" not in ln]
                why = lines[-1] if lines else f"exit status {r.returncode}"
                if "tun" in why and not os.access("/dev/net/tun", os.R_OK | os.W_OK):
                    why += " (/dev/net/tun is not open to this user; it is mode 0666 on a default system)"
                raise ZoneStartError(5, f"--net private: pasta failed: {why}")
            with open(pidfile) as f:
                self.pid = int(f.read().split()[0])
            self.pidfd = os.pidfd_open(self.pid)
        finally:
            for fd in fds:
                os.close(fd)
            shutil.rmtree(d, ignore_errors=True)

    def close(self) -> None:
        if self.pidfd < 0:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGTERM)
        except ProcessLookupError:
            pass
        # pasta is not our child (it forked away): wait for its end on the pidfd
        import select
        p = select.poll()
        p.register(self.pidfd, select.POLLIN)
        if not p.poll(2000):
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.close(self.pidfd)
        self.pidfd = -1
