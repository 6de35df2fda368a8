"""Making Debian root filesystems for zones with mmdebstrap (or debootstrap).

`create()` is what `lxrun rootfs create` runs; `cached()` is what the tests and
benchmarks use: one tree per package set, built once under the cache directory
($LXBRAND_CACHE, default ~/.cache/lxbrand) and reused while it is complete.

A create either leaves a whole tree or nothing: a failure removes what it made
(so a retry starts clean) and says why, naming a package that the mirror does
not have before the ~30 s bootstrap rather than after it (`check_packages`
reads the mirror's index of the suite, ~9 MB, once).

Run by root, mmdebstrap makes the tree as root (a root-run zone shifts it onto
its host ids on first use).  Run by an ordinary user, mmdebstrap's unshare mode
needs subordinate ids (newuidmap, /etc/subuid and /etc/subgid), and its tree
would carry mmdebstrap's id mapping (root = the first subordinate id), which is
not a zone's (root = you, 1.. = the subordinate ids): the tree is therefore
written as a tar stream and unpacked by tar in a user namespace mapped as a
zone's, so every file is owned inside a zone as inside mmdebstrap's chroot.

Run by an ordinary user without subordinate ids, the user's zones have a fake
root (--fakeroot), and so does the bootstrap: debootstrap runs as the fake root
of a zone whose root is a skeleton of the host's own system (its /usr and /etc
read-only, `_skeleton`) with the target bound at /target, so the owners and
device nodes the packages ask for are recorded in the files (user.lxbrand.owner)
as a --fakeroot zone on the tree then shows them (`_create_fakeroot`).
"""
from __future__ import annotations

import difflib
import hashlib
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys

from .errors import RootfsError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
# What the tests, the conformance suite and the benchmarks need in one tree.
TEST_PACKAGES = ("python3", "busybox", "libpython3.11-testsuite", "procps",
                 "sqlite3", "iproute2", "bash")
_COMPLETE = ".lxbrand-rootfs-complete"   # beside the tree (TREE.complete), not in it
INDEX_TIMEOUT = 30                       # seconds for the mirror's package index
# a plain package name (Debian policy 5.6.7); anything else (pkg=version,
# pkg/suite, pkg:arch, a path to a .deb) is left to apt
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
CLONE_NEWUSER = 0x10000000
NO_SUBIDS = ("rootfs create as an ordinary user needs subordinate ids for mmdebstrap's unshare mode: "
             "install uidmap (newuidmap, newgidmap) and give {user} 65536 ids in /etc/subuid and "
             "/etc/subgid (as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "
             "{user}), or run it as root")


def cache_dir() -> str:
    return os.environ.get("LXBRAND_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "lxbrand")


def _tool() -> list[str]:
    if shutil.which("mmdebstrap"):
        return ["mmdebstrap", "--variant=minbase"]
    if shutil.which("debootstrap"):
        return ["debootstrap", "--variant=minbase"]
    raise RootfsError("neither mmdebstrap nor debootstrap is installed; "
                      "install one with: apt-get install mmdebstrap")


def _user() -> str:
    import pwd
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def rootless_ids() -> tuple[str, str]:
    """The uid and gid maps of a zone run by this (non-root) user, which the
    tree is unpacked with; RootfsError saying what to install when the user
    has no subordinate ids (a tree of one id cannot hold Debian's owners)."""
    maps = _subordinate_maps()
    if maps is None:
        raise RootfsError(NO_SUBIDS.format(user=_user()))
    return maps


def _subordinate_maps():
    """rootless_ids' maps, or None when the user has no subordinate ids."""
    from .zone import ZoneConfig
    uid_map, gid_map, newidmap = ZoneConfig("/").id_maps()
    return (uid_map, gid_map) if newidmap else None


NO_DEBOOTSTRAP = ("rootfs create as an ordinary user without subordinate ids runs debootstrap in a fake-root "
                  "zone: install debootstrap (apt-get install debootstrap); or, for mmdebstrap's unshare mode, "
                  "install uidmap and give {user} 65536 ids in /etc/subuid and /etc/subgid (as root: usermod "
                  "--add-subuids 100000-165535 --add-subgids 100000-165535 {user}); or run it as root")


def _skeleton(top: str) -> list:
    """A root for the bootstrap zone in top: the host's /usr and /etc (and /bin,
    /sbin, /lib, /lib64: symlinks where the host merged them into /usr, else
    binds) read-only, empty /tmp, /var/tmp and /target; the binds it needs."""
    binds = [("/usr", "/usr", True), ("/etc", "/etc", True)]
    for d in ("usr", "etc", "tmp", "var/tmp", "target"):
        os.makedirs(os.path.join(top, d), exist_ok=True)
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(top, name))
        elif os.path.isdir(host):
            os.mkdir(os.path.join(top, name))
            binds.append((host, host, True))
    return binds


def _create_fakeroot(target: str, suite: str, include, mirror: str, quiet: bool) -> tuple[int, str]:
    """debootstrap as the fake root of a zone (see the module's docstring):
    its status and, when quiet, its output."""
    import tempfile
    from .config import Bind
    from .zone import Zone
    tool = shutil.which("debootstrap") or next((p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap")
                                                if os.access(p, os.X_OK)), None)
    if tool is None or not tool.startswith("/usr/"):
        raise RootfsError(NO_DEBOOTSTRAP.format(user=_user()))
    top = tempfile.mkdtemp(prefix="lxbrand-bootstrap-")
    try:
        binds = [Bind(src, dst, ro) for src, dst, ro in _skeleton(top)] + [Bind(target, "/target", False)]
        argv = [tool, "--variant=minbase"] + (["--include=" + ",".join(include)] if include else [])
        argv += [suite, "/target", mirror]
        zone = Zone(top, fakeroot=True, net="host", binds=binds)
        r = zone.run(argv, capture_output=quiet)
        err = ((r.stdout or b"") + (r.stderr or b"")).decode(errors="replace") if quiet else ""
        if r.returncode == 0:
            shutil.rmtree(os.path.join(target, "debootstrap"), ignore_errors=True)
            _zone_files(target)
        return r.returncode, err
    finally:
        shutil.rmtree(top, ignore_errors=True)


def package_index(suite: str, mirror: str) -> set[str]:
    """Names of the packages (and virtual packages) of `suite`'s main
    component for amd64 at `mirror`; empty when the index cannot be read
    (another layout, offline): then apt alone judges."""
    url = f"{mirror.rstrip('/')}/dists/{suite}/main/binary-amd64/Packages.xz"
    if not url.startswith(("http://", "https://", "file:/")):
        return set()
    # imported here: urllib.request brings ssl, http and email (about 100 ms),
    # and every zone start reaches this module for the cache's directory
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=INDEX_TIMEOUT) as f:
            text = lzma.decompress(f.read())
    except (OSError, urllib.error.URLError, lzma.LZMAError, ValueError):
        return set()
    names = set(re.findall(rb"^Package: (\S+)", text, re.M))
    for provides in re.findall(rb"^Provides: (.*)$", text, re.M):
        names.update(p.split()[0] for p in provides.split(b",") if p.strip())
    return {n.decode() for n in names}


def check_packages(include, suite: str, mirror: str, index=None) -> None:
    """RootfsError naming the first of `include` that the suite does not have."""
    plain = [p for p in include if PACKAGE_NAME.fullmatch(p)]
    bad = [p for p in include if not PACKAGE_NAME.fullmatch(p) and not re.fullmatch(r"[\w+.:/=~-]+", p)]
    if bad:
        raise RootfsError(f"--include {bad[0]!r}: not a package name")
    if not plain:
        return
    names = package_index(suite, mirror) if index is None else index
    if not names:
        return
    for p in plain:
        if p not in names:
            close = difflib.get_close_matches(p, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise RootfsError(f"package {p!r} is not in {suite} (main, amd64) at {mirror}{hint}; "
                              "nothing was created")


def _mounts_under(path: str) -> list[str]:
    """Mount points at or below `path` (a tool that died may leave its /proc,
    /sys or /dev binds in the tree; removing through them would reach the host)."""
    found = []
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                # the kernel writes space, tab, newline and backslash as \ooo;
                # other bytes (UTF-8 names) as they are
                mp = os.fsdecode(re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), line.split()[4]))
                if mp == path or mp.startswith(path.rstrip("/") + "/"):
                    found.append(mp)
    except OSError:
        pass
    return found


def _clean(target: str, existed: bool) -> str:
    """Remove what a failed create made: the tree (or the contents of the
    empty directory it was given).  Returns a note for the error message."""
    if not os.path.lexists(target):
        return "nothing was left"
    mounts = _mounts_under(target)
    if mounts:
        return f"the partial tree was left because {mounts[0]} is still mounted; unmount it and remove {target}"
    try:
        if existed:
            for name in os.listdir(target):
                p = os.path.join(target, name)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
        else:
            shutil.rmtree(target)
    except OSError as e:
        return f"the partial tree could not be removed ({e.strerror}: {e.filename}); remove {target}"
    return "the partial tree was removed"


# debootstrap and mmdebstrap make no /etc/hosts.  An empty one is where each
# zone shows its own (localhost and its hostname, csrc/zone_fs.c), as a
# container image's is; a zone never creates it in a rootfs that is not
# --ephemeral, so without it localhost would not resolve.  Both copy the
# host's /etc/hostname into the tree: emptied, where each zone shows its own
# name (as hostname(1) says it), and the host's is not left in the tree.
# netbase's postinst writes a default /etc/hosts (localhost and the ip6
# names, no hostname) where there is none, before the hook runs when it is
# --include'd: one of only those lines is emptied too, or the zone's name
# would not resolve (apache's "apr_sockaddr_info_get() failed", hostname -f).
NETBASE_HOSTS = ("", "127.0.0.1\tlocalhost", "::1\t\tlocalhost ip6-localhost ip6-loopback",
                 "ff02::1\t\tip6-allnodes", "ff02::2\t\tip6-allrouters")
HOSTS_HOOK = ('test -e "$1/etc/hosts" || : > "$1/etc/hosts"; ! test -f "$1/etc/hostname" || : > "$1/etc/hostname"; '
              "! test -f \"$1/etc/hosts\" -a ! -L \"$1/etc/hosts\" || grep -qvxF \"$(printf '%b\\n' "
              + " ".join("'" + line.replace("\t", "\\t") + "'" for line in NETBASE_HOSTS)
              + ')" "$1/etc/hosts" || : > "$1/etc/hosts"')


def _zone_files(target: str, hostname: bool = True) -> None:
    """What HOSTS_HOOK does, for a tree made without it (debootstrap, an
    image's): an empty /etc/hosts where there is none (the zone then shows
    its own: localhost and its name), one of netbase's lines only emptied,
    and (hostname) /etc/hostname emptied.  Through /etc's own fd, never a
    symlink: an image's /etc or /etc/hosts pointing at the host's (`etc ->
    /etc`) is left as it is, not followed to create or truncate a host file."""
    try:
        etc = os.open(os.path.join(target, "etc"), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return                  # no /etc, or a symlink: nothing to do
    try:
        try:
            fd = os.open("hosts", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644,
                         dir_fd=etc)
        except OSError:
            fd = -1             # a symlink (ELOOP), a directory, not writable: as it is
        if fd >= 0:
            try:
                st = os.fstat(fd)
                if stat.S_ISREG(st.st_mode) and st.st_size:
                    with open(fd, "r", errors="replace", closefd=False) as f:
                        if set(f.read().splitlines()) <= set(NETBASE_HOSTS):
                            os.ftruncate(fd, 0)
            finally:
                os.close(fd)
        if not hostname:
            return
        try:
            fd = os.open("hostname", os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=etc)
        except OSError:
            return              # none (or not a plain file): nothing of the host's
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)
    finally:
        os.close(etc)


def create(target: str, suite: str = "bookworm", include=(), mirror: str = DEFAULT_MIRROR,
           quiet: bool = False) -> str:
    """Create a Debian minbase rootfs in `target` (which must not hold files):
    the whole tree, or RootfsError and nothing."""
    target = os.path.abspath(target)
    include = [p.strip() for p in include if p.strip()]
    existed = os.path.lexists(target)
    if existed and not os.path.isdir(target):
        raise RootfsError(f"{target}: exists and is not a directory; choose a new one")
    if existed and os.listdir(target):
        raise RootfsError(f"{target}: directory is not empty; choose a new one")
    rootless = os.geteuid() != 0
    maps = _subordinate_maps() if rootless else None
    if rootless and maps is None:
        # no subordinate ids: debootstrap in a fake-root zone (_create_fakeroot)
        check_packages(include, suite, mirror)
        try:
            os.makedirs(target, exist_ok=True)
            status, err = _create_fakeroot(target, suite, include, mirror, quiet)
        except BaseException:
            _clean(target, existed)     # refused or interrupted: leave nothing that looks like a tree
            raise
        if status != 0:
            note = _clean(target, existed)
            missing = re.findall(r"Couldn't find these debs: (.+)", err)
            if missing:
                raise RootfsError(f"package {missing[0].split()[0]!r} is not in {suite} at {mirror}; {note}")
            tail = err.strip().splitlines()[-3:]
            raise RootfsError(f"debootstrap in a fake-root zone failed with status {status} making {target}; "
                              f"{note}" + (": " + " | ".join(tail) if tail else ""))
        return target
    tool = _tool()
    if rootless and tool[0] != "mmdebstrap":
        raise RootfsError("debootstrap needs root; as an ordinary user, install mmdebstrap "
                          "(apt-get install mmdebstrap uidmap), or run it as root")
    check_packages(include, suite, mirror)
    argv = list(tool)
    if include:
        argv.append("--include=" + ",".join(include))
    if tool[0] == "mmdebstrap":
        argv += ["--mode=" + ("unshare" if rootless else "root"), "--customize-hook=" + HOSTS_HOOK]
        if quiet:
            argv.append("--quiet")
    if rootless:
        # a tar stream without /dev (a zone brings its own), unpacked below
        argv += ["--format=tar", "--skip=output/dev", suite, "-", mirror]
    else:
        argv += [suite, target, mirror]
    try:
        if rootless:
            os.makedirs(target, exist_ok=True)
            status, err = _unpack_rootless(argv, target, maps, quiet)
        else:
            proc = subprocess.run(argv, stdout=subprocess.DEVNULL if quiet else None,
                                  stderr=subprocess.PIPE if quiet else None)
            status, err = proc.returncode, (proc.stderr or b"").decode(errors="replace")
    except OSError as e:
        note = _clean(target, existed)
        raise RootfsError(f"{tool[0]}: {e.strerror}; {note}") from None
    except BaseException:
        _clean(target, existed)     # interrupted: leave nothing that looks like a tree
        raise
    if status != 0:
        note = _clean(target, existed)
        missing = re.findall(r"Unable to locate package (\S+)", err)
        if missing:
            raise RootfsError(f"package {missing[0]!r} is not in {suite} at {mirror}; {note}")
        tail = err.strip().splitlines()[-3:]
        raise RootfsError(f"{tool[0]} failed with status {status} making {target}; {note}"
                          + (": " + " | ".join(tail) if tail else ""))
    if tool[0] != "mmdebstrap":         # debootstrap (as root): no hook
        _zone_files(target)
    return target


def _unpack_rootless(argv: list[str], target: str, maps: tuple[str, str], quiet: bool) -> tuple[int, str]:
    """Run mmdebstrap (tar on stdout) into tar, which runs as root of a user
    namespace whose ids are mapped as a zone's (newuidmap/newgidmap)."""
    import ctypes
    err_r = subprocess.PIPE if quiet else None
    producer = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err_r)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:            # the unpacker: never returns
        try:
            os.close(ready_r)
            os.close(go_w)
            if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER) != 0:
                os._exit(120)
            os.write(ready_w, b"x")
            if os.read(go_r, 1) != b"x":
                os._exit(121)
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
            os.dup2(producer.stdout.fileno(), 0)
            os.execvp("tar", ["tar", "--extract", "--preserve-permissions", "--same-owner",
                              "--numeric-owner", "--file=-", "--directory", target])
        finally:
            os._exit(122)
    os.close(ready_w)
    os.close(go_r)
    producer.stdout.close()
    note = ""
    try:
        if os.read(ready_r, 1) == b"x":
            for tool, m in (("newuidmap", maps[0]), ("newgidmap", maps[1])):
                r = subprocess.run([tool, str(pid)] + m.split(), capture_output=True, text=True)
                if r.returncode != 0:
                    note = f"{tool}: {r.stderr.strip()}"
                    break
            else:
                os.write(go_w, b"x")
    finally:
        os.close(ready_r)
        os.close(go_w)
    _, status = os.waitpid(pid, 0)
    err = producer.stderr.read().decode(errors="replace") if quiet else ""
    if status != 0 or note:
        producer.kill()
    rc = producer.wait()
    if note:
        return 1, note
    if rc != 0:
        return rc, err
    if os.waitstatus_to_exitcode(status) != 0:
        return os.waitstatus_to_exitcode(status), err + "\ntar could not unpack the tree in the zone's ids"
    return 0, err


# -- a rootfs from an image the user already has (issue 14) -------------------
# skopeo copies the image into an OCI layout of our own (any of its
# transports below, read offline), umoci unpacks that layout's layers into a
# bundle; its rootfs becomes the tree.  Neither is reimplemented here.
IMAGE_SOURCES = ("oci-layout:PATH[:TAG]", "oci-archive:FILE[:TAG]", "docker-archive:FILE")
IMAGE_TOOLS = "apt-get install skopeo umoci"


def _parse_image_source(source: str) -> tuple[str, str, str]:
    """'oci-layout:PATH[:TAG]' -> (kind, PATH, skopeo's source name); a
    RootfsError naming what is wrong."""
    kind, sep, rest = source.partition(":")
    if not sep or kind not in ("oci-layout", "oci-archive", "docker-archive") or not rest:
        raise RootfsError(f"--from {source}: expected one of {', '.join(IMAGE_SOURCES)}")
    if kind == "docker-archive":
        if not os.path.isfile(rest):
            raise RootfsError(f"--from {source}: {rest}: no such file")
        return kind, rest, f"docker-archive:{os.path.abspath(rest)}"
    # PATH[:TAG]: a tag may hold ':' (podman names its image localhost/x:1),
    # so the path is the shortest prefix that exists
    path, tag = rest, ""
    if not os.path.exists(rest):
        for i, ch in enumerate(rest):
            if ch == ":" and os.path.exists(rest[:i]):
                path, tag = rest[:i], rest[i + 1:]
                break
    want_dir = kind == "oci-layout"
    if not os.path.exists(path):
        raise RootfsError(f"--from {source}: {path}: no such {'directory' if want_dir else 'file'}")
    if want_dir and not os.path.isfile(os.path.join(path, "index.json")):
        raise RootfsError(f"--from {source}: {path}: not an OCI image layout (no index.json)")
    if not want_dir and not os.path.isfile(path):
        raise RootfsError(f"--from {source}: {path}: not a file")
    transport = "oci" if want_dir else "oci-archive"
    return kind, path, f"{transport}:{os.path.abspath(path)}" + (f":{tag}" if tag else "")


def _tool_error(tool: str, err: str) -> str:
    """The last line a Go tool logged, without its time= and level= fields."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else f"{tool} failed"
    m = re.search(r'msg="((?:[^"\\]|\\.)*)"', last)
    return m.group(1).replace('\\"', '"') if m else last


def import_image(target: str, source: str, quiet: bool = False) -> tuple[str, list]:
    """Unpack the image at `source` (IMAGE_SOURCES) as the rootfs `target`
    (which must not hold files): (the tree, the image's command or []), or
    RootfsError and nothing left."""
    import json
    import tempfile
    target = os.path.abspath(target)
    existed = os.path.lexists(target)
    if existed and not os.path.isdir(target):
        raise RootfsError(f"{target}: exists and is not a directory; choose a new one")
    if existed and os.listdir(target):
        raise RootfsError(f"{target}: directory is not empty; choose a new one")
    kind, path, src = _parse_image_source(source)
    for tool in ("skopeo", "umoci"):
        if not shutil.which(tool):
            raise RootfsError(f"--from {source}: {tool} is not installed; install it with: {IMAGE_TOOLS}")
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise RootfsError(f"{target}: its parent directory {parent} does not exist")
    work = tempfile.mkdtemp(prefix=".lxbrand-import-", dir=parent)
    try:
        layout = os.path.join(work, "layout")
        steps = (("skopeo", ["skopeo", "--insecure-policy", "copy", "--quiet", src, f"oci:{layout}:lxbrand"]),
                 ("umoci", ["umoci", "unpack"] + ([] if os.geteuid() == 0 else ["--rootless"])
                  + ["--image", f"{layout}:lxbrand", os.path.join(work, "bundle")]))
        for tool, argv in steps:
            try:
                r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            except OSError as e:
                raise RootfsError(f"--from {source}: {tool}: {e.strerror}") from None
            if r.returncode != 0:
                what = {"docker-archive": "a docker archive", "oci-archive": "an OCI archive",
                        "oci-layout": "an OCI image layout"}[kind]
                raise RootfsError(f"--from {source}: not {what} that {tool} can read "
                                  f"({_tool_error(tool, r.stderr)})")
        command = []
        try:
            with open(os.path.join(work, "bundle", "config.json")) as f:
                command = list((json.load(f).get("process") or {}).get("args") or [])
        except (OSError, ValueError):
            pass
        if existed:
            os.rmdir(target)
        os.rename(os.path.join(work, "bundle", "rootfs"), target)
        os.chmod(target, 0o755)
        # an engine gives a container its /etc/hosts, so images often have
        # none: an empty one, where the zone shows its own, as for debootstrap's
        # trees (its /etc/hostname is the image's: left)
        _zone_files(target, hostname=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target, command


def cached(include=TEST_PACKAGES, suite: str = "bookworm") -> str:
    """The path of a cached rootfs with `include`, built once when missing."""
    key = hashlib.sha256(",".join(sorted(include)).encode()).hexdigest()[:10]
    path = os.path.join(cache_dir(), "rootfs", f"{suite}-minbase-{key}")
    marker = path + _COMPLETE
    if os.path.exists(os.path.join(path, _COMPLETE)):    # trees cached by lxbrand 0.1.0
        os.rename(os.path.join(path, _COMPLETE), marker)
    if os.path.exists(marker) and os.path.isdir(path):
        return path
    tmp = path + ".building"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    print(f"lxbrand: building {suite} rootfs with {','.join(include)} in {path}", file=sys.stderr)
    create(tmp, suite=suite, include=include, quiet=True)
    os.rename(tmp, path)
    open(marker, "w").close()
    return path


if __name__ == "__main__":
    # `python3 -m lxbrand.rootfs`: build (once) and print the tests' rootfs
    try:
        print(cached())
    except RootfsError as e:
        sys.exit(f"lxrun: {e}")
