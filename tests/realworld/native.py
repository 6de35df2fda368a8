"""The native side of a real-world case: a plain chroot into the same rootfs.

Run by the host's python3 under `unshare --mount --pid --fork` (see
runner.run_native), as pid 1 of a fresh pid namespace, like lxbrand-init in a
zone.  It gives the chroot the private writable state a zone has, so that the
cached rootfs stays clean:

    STAGE (tmpfs)/root   overlay: the rootfs below, STAGE/upper above
                 /proc   a fresh proc of the new pid namespace
                 /dev    the host's /dev (a chroot sees it), with a fresh /dev/shm
                 /sys    the host's /sys, read-only
                 /tmp    a fresh tmpfs

then runs the command as its child, chrooted, with the zone's clean
environment (PATH, HOME, TERM), reaps every orphan, and writes the command's
wait status to STATUS-FD: pid 1 cannot die of a signal of its own, so its exit
status alone cannot tell "killed by SIGTERM" from "exit 143".  In a network
namespace of its own (unshare --net) it brings loopback up, as a zone's
`--net none` does.

    python3 native.py STAGE ROOTFS CWD ENV-JSON STATUS-FD -- ARGV...
"""
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


# lxbrand/idshift.py: a rootfs a root-run zone used is owned by host ids
# BASE+u on disk; natively it must show as root's, as it was made
ID_XATTR, ID_BASE, ID_COUNT = "trusted.lxbrand.idshift", 0x70000000, 65536


def unshifted_view(rootfs: str, target: str) -> str:
    """An idmapped mount of a shifted rootfs at TARGET, read-only, in which
    disk uid BASE+u shows as u (native runs see the tree as it was made)."""
    import ctypes
    try:
        if os.getxattr(rootfs, ID_XATTR, follow_symlinks=False) != f"{ID_BASE}:{ID_COUNT}".encode():
            return rootfs
    except OSError:
        return rootfs
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:                                        # holds the user namespace
        os.close(w)
        os.close(r2)
        libc.unshare(0x10000000)                        # CLONE_NEWUSER
        os.write(w2, b"x")
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    os.close(w2)
    os.read(r2, 1)
    # /proc is the host's, and we are in a pid namespace of our own: the
    # child's pid there is in its pidfd's fdinfo (read through that /proc)
    pidfd = os.pidfd_open(pid)
    with open(f"/proc/self/fdinfo/{pidfd}") as f:
        host_pid = next(int(l.split()[1]) for l in f if l.startswith("Pid:"))
    os.close(pidfd)
    for kind in ("uid_map", "gid_map"):
        with open(f"/proc/{host_pid}/{kind}", "w") as f:
            f.write(f"{ID_BASE} 0 {ID_COUNT}\n")
    ns = os.open(f"/proc/{host_pid}/ns/user", os.O_RDONLY)
    os.close(w)
    os.waitpid(pid, 0)
    tree = libc.syscall(428, -100, rootfs.encode(), 1 | 0o2000000)     # open_tree CLONE|CLOEXEC
    if tree < 0:
        raise OSError(ctypes.get_errno(), "open_tree", rootfs)

    class MountAttr(ctypes.Structure):
        _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                    ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]
    attr = MountAttr(0x100000 | 0x1, 0, 0, ns)          # MOUNT_ATTR_IDMAP | RDONLY
    if libc.syscall(442, tree, b"", 0x1000, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
        raise OSError(ctypes.get_errno(), "mount_setattr", rootfs)
    os.mkdir(target)
    if libc.syscall(429, tree, b"", -100, target.encode(), 0x4) != 0:  # move_mount F_EMPTY_PATH
        raise OSError(ctypes.get_errno(), "move_mount", target)
    os.close(tree)
    os.close(ns)
    return target


def setup(stage: str, rootfs: str) -> str:
    mount("--make-rprivate", "/")
    mount("-t", "tmpfs", "-o", "mode=0755", "lxb-native-stage", stage)
    root = os.path.join(stage, "root")
    for d in ("upper", "work", "root"):
        os.mkdir(os.path.join(stage, d))
    lower = unshifted_view(rootfs, os.path.join(stage, "lower"))
    mount("-t", "overlay", "-o", f"lowerdir={lower},upperdir={stage}/upper,workdir={stage}/work",
          "lxb-native-root", root)
    mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", f"{root}/proc")
    mount("--rbind", "/dev", f"{root}/dev")
    mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "lxb-native-shm", f"{root}/dev/shm")
    mount("--rbind", "-o", "ro", "/sys", f"{root}/sys")
    mount("-t", "tmpfs", "-o", "nosuid,nodev,mode=1777", "lxb-native-tmp", f"{root}/tmp")
    return root


def loopback_up() -> None:
    """ip link set lo up, by ioctl as lxbrand's launcher does (csrc/launcher.c)."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def main() -> None:
    stage, rootfs, cwd, env_json, status_fd, sep, *argv = sys.argv[1:]
    assert sep == "--" and argv, "usage: native.py STAGE ROOTFS CWD ENV-JSON STATUS-FD -- ARGV..."
    status_fd = int(status_fd)
    os.set_inheritable(status_fd, False)
    root = setup(stage, rootfs)
    loopback_up()
    env = json.loads(env_json)
    pid = os.fork()
    if pid == 0:
        try:
            # start as the zone's guest does: every signal at its default
            # action, none blocked (python ignores SIGPIPE and SIGXFSZ, and a
            # shell's background job, such as a CI run, inherits SIGINT and
            # SIGQUIT ignored; sh cannot trap a signal ignored at entry)
            for sig in signal.valid_signals():
                if sig not in (signal.SIGKILL, signal.SIGSTOP):
                    try:
                        signal.signal(sig, signal.SIG_DFL)
                    except (OSError, ValueError):
                        pass
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            os.chroot(root)
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        except OSError as e:
            print(f"native: {argv[0]}: {e.strerror}", file=sys.stderr)
            os._exit(127 if e.errno == 2 else 126)
    while True:   # reap orphans until the command itself ends
        done, status = os.wait()
        if done == pid:
            break
    os.write(status_fd, f"{status}\n".encode())
    os.close(status_fd)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
