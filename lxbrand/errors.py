"""Errors of the library.  Each subclasses LxbrandError and the builtin that
fits, so callers can catch either (pyca/pynacl's pattern)."""


class LxbrandError(Exception):
    """Base of every error lxbrand raises on purpose."""

    exit_code = 125        # lxrun exits like chroot(1): 125 lxrun itself failed


class ZoneConfigError(LxbrandError, ValueError):
    """A zone was configured with a value that cannot work."""


class CommandNotFound(LxbrandError, FileNotFoundError):
    """CMD does not exist in the zone's rootfs."""

    exit_code = 127


class CommandNotRunnable(LxbrandError, PermissionError):
    """CMD exists but cannot run: not executable, not x86_64, no interpreter."""

    exit_code = 126


class ZoneStartError(LxbrandError, OSError):
    """The zone could not be set up (namespaces, mounts, filter)."""

    def __str__(self):
        # one line naming the step, not OSError's "[Errno 22] ..."
        return str(self.strerror if self.strerror else super().__str__())


class SupervisorError(LxbrandError, RuntimeError):
    """The supervisor stopped while the guest ran; the zone was killed."""


class RootfsError(LxbrandError, RuntimeError):
    """A rootfs could not be created."""
