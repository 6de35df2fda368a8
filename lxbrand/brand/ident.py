"""Identity of the zone: uname, hostname and domain name.

Linux answers uname(2) from the caller's UTS namespace and the running kernel.
A zone has its own UTS namespace, so the names are already confined, and
sethostname/setdomainname are the kernel's, renaming the zone's namespace
(and a namespace the guest unshares, as on Linux), never the host's.  What the
brand adds is the personality: with --kernel-release the release and version
a zone reports are the zone's, not the host's.  Only then does uname reach the
supervisor, which answers it in C (csrc/supervisor.c): it is hot in some
programs and needs no Python.
"""
from .model import CHandler

uname = CHandler("uname", "uname(2): sysname Linux, release and version of the zone's kernel personality")
