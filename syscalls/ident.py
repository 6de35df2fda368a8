"""Identity of the zone: uname, hostname and domain name.

Linux answers uname(2) from the caller's UTS namespace and the running kernel.
A zone has its own UTS namespace, so the names are already confined; what the
brand adds is the personality: the release and version a zone reports are the
zone's (--kernel-release), not the host's, and sethostname/setdomainname
change the zone's names, kept by the supervisor and by the zone's namespace
alike, never the host's.  All three are answered in C (csrc/supervisor.c):
they are hot in some programs and need no Python.
"""
from .model import CHandler

uname = CHandler("sys_uname", 1, "uname(2): sysname Linux, release and version of the zone, nodename the zone's hostname")
sethostname = CHandler("sys_sethostname", 2, "sethostname(2): rename the zone, never the host; EINVAL past 64 bytes")
setdomainname = CHandler("sys_setdomainname", 3, "setdomainname(2): the zone's NIS domain name; EINVAL past 64 bytes")

# Without an emulated kernel release, the zone's own UTS namespace already
# answers these three exactly as the brand would (nodename and domain name are
# the zone's, the rest the host's): the brand then passes them through, and
# they never reach the supervisor (DESIGN.md: a syscall that needs no
# supervisor must never reach it).
ANSWERED_BY_THE_NAMESPACE = ("uname", "sethostname", "setdomainname")
