"""Build the benchmark's C programs and install the guest's share into the rootfs.

Every program is static (gcc -static), so that it runs the same under every
runner whatever the rootfs's libc.  Guest programs (sysloop, timeit) and the
workloads' data go to ROOT/opt/lxbrand-bench/, the same path for all runners;
host programs (mech, nschroot) stay in bench/build/.  Both steps are
idempotent and atomic (write a temporary file, then rename), so that runs that
share the cached rootfs never see half a file.
"""
from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import tarfile

from . import BUILD_DIR, C_DIR, GUEST_DIR, BenchError

GUEST_PROGRAMS = ("sysloop", "timeit")
HOST_PROGRAMS = ("mech", "nschroot")
CFLAGS = ("-O2", "-Wall", "-Wextra", "-static")
SMALL_FILES = 200              # w2 reads these in turn
TREES = (5000, 1000)           # w4 untars one of these (full, --quick)
DATA_VERSION = "2"             # bump when the data below changes


def compile_all(cc: str = "gcc") -> dict[str, str]:
    """bench/c/NAME.c -> bench/build/NAME when missing or older; {name: path}."""
    if shutil.which(cc) is None:
        raise BenchError(f"{cc}: no C compiler on PATH; install gcc (apt-get install gcc)")
    os.makedirs(BUILD_DIR, exist_ok=True)
    out = {}
    for name in GUEST_PROGRAMS + HOST_PROGRAMS:
        src = os.path.join(C_DIR, name + ".c")
        exe = os.path.join(BUILD_DIR, name)
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            tmp = f"{exe}.tmp{os.getpid()}"
            cmd = [cc, *CFLAGS, "-o", tmp, src, "-lpthread"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise BenchError(f"{' '.join(cmd)} failed:\n{proc.stderr.strip()}")
            os.replace(tmp, exe)
        out[name] = exe
    return out


def _write_if_changed(path: str, data: bytes, mode: int = 0o644) -> None:
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except FileNotFoundError:
        pass
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _tree_tar(nfiles: int) -> bytes:
    """nfiles small files (64 B - 2 KiB) in directories of 100, deterministic."""
    rng = random.Random(nfiles)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = set()
        for i in range(nfiles):
            d = f"tree/d{i // 100:03d}"
            if d not in dirs:
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                tar.addfile(info)
                dirs.add(d)
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(64, 2048)))
            info = tarfile.TarInfo(f"{d}/f{i:05d}.txt")
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def install(root: str, programs: dict[str, str]) -> str:
    """Put the guest programs and data into ROOT/opt/lxbrand-bench/; returns that dir."""
    if not os.path.isdir(root):
        raise BenchError(f"{root}: rootfs does not exist")
    dest = os.path.join(root, GUEST_DIR.lstrip("/"))
    os.makedirs(os.path.join(dest, "data", "small"), exist_ok=True)
    for name in GUEST_PROGRAMS:
        with open(programs[name], "rb") as f:
            _write_if_changed(os.path.join(dest, name), f.read(), 0o755)
    stamp = os.path.join(dest, "data", ".version")
    try:
        with open(stamp) as f:
            current = f.read().strip() == DATA_VERSION
    except FileNotFoundError:
        current = False
    if not current:
        rng = random.Random(2)
        for i in range(SMALL_FILES):
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(64, 1024)))
            _write_if_changed(os.path.join(dest, "data", "small", f"f{i:04d}"), data)
        for n in TREES:
            _write_if_changed(os.path.join(dest, "data", f"tree-{n}.tar"), _tree_tar(n))
        _write_if_changed(stamp, DATA_VERSION.encode() + b"\n")
    return dest
