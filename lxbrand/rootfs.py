"""Making Debian root filesystems for zones with mmdebstrap (or debootstrap).

`create()` is what `lxrun rootfs create` runs; `cached()` is what the tests and
benchmarks use: one tree per package set, built once under the cache directory
($LXBRAND_CACHE, default ~/.cache/lxbrand) and reused while it is complete.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

from .errors import RootfsError

DEFAULT_MIRROR = "http://deb.debian.org/debian"
# What the tests, the conformance suite and the benchmarks need in one tree.
TEST_PACKAGES = ("python3", "busybox", "libpython3.11-testsuite", "procps",
                 "sqlite3", "iproute2", "bash")
_COMPLETE = ".lxbrand-rootfs-complete"   # beside the tree (TREE.complete), not in it


def cache_dir() -> str:
    return os.environ.get("LXBRAND_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "lxbrand")


def _tool() -> list[str]:
    if shutil.which("mmdebstrap"):
        return ["mmdebstrap", "--variant=minbase"]
    if shutil.which("debootstrap"):
        return ["debootstrap", "--variant=minbase"]
    raise RootfsError("neither mmdebstrap nor debootstrap is installed; "
                      "install one with: apt-get install mmdebstrap")


def create(target: str, suite: str = "bookworm", include=(), mirror: str = DEFAULT_MIRROR,
           quiet: bool = False) -> str:
    """Create a Debian minbase rootfs in `target` (which must not hold files)."""
    target = os.path.abspath(target)
    if os.path.exists(target) and os.listdir(target):
        raise RootfsError(f"{target}: directory is not empty; choose a new one")
    tool = _tool()
    argv = list(tool)
    if include:
        argv.append("--include=" + ",".join(include))
    if tool[0] == "mmdebstrap":
        argv += ["--mode=" + ("root" if os.geteuid() == 0 else "unshare")]
        if quiet:
            argv.append("--quiet")
    argv += [suite, target, mirror]
    out = subprocess.DEVNULL if quiet else None
    try:
        proc = subprocess.run(argv, stdout=out, stderr=None if not quiet else subprocess.PIPE)
    except OSError as e:
        raise RootfsError(f"{tool[0]}: {e.strerror}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or b"").decode(errors="replace").strip().splitlines()[-3:] if quiet else []
        raise RootfsError(f"{tool[0]} failed with status {proc.returncode} making {target}"
                          + (": " + " | ".join(tail) if tail else ""))
    return target


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
