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


def setup(stage: str, rootfs: str) -> str:
    mount("--make-rprivate", "/")
    mount("-t", "tmpfs", "-o", "mode=0755", "lxb-native-stage", stage)
    root = os.path.join(stage, "root")
    for d in ("upper", "work", "root"):
        os.mkdir(os.path.join(stage, d))
    mount("-t", "overlay", "-o", f"lowerdir={rootfs},upperdir={stage}/upper,workdir={stage}/work",
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
