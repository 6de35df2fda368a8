"""Shared fixtures: the Debian rootfs every zone test runs on.

The tree is built once with mmdebstrap and cached outside the repository
(lxbrand.rootfs.cached(): $LXBRAND_CACHE or ~/.cache/lxbrand); later runs
reuse it, and a missing or incomplete tree is rebuilt.
"""
import os
import shutil
import subprocess

import pytest

import lxbrand.rootfs


@pytest.fixture(scope="session")
def rootfs() -> str:
    return lxbrand.rootfs.cached()


@pytest.fixture
def scratch_rootfs(tmp_path) -> str:
    """A small private rootfs (static busybox) that a test may change freely."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox-static is not installed on the host (apt-get install busybox-static)")
    out = subprocess.run(["file", "-L", busybox], capture_output=True, text=True).stdout \
        if shutil.which("file") else "statically linked"
    if "statically linked" not in out and "static-pie" not in out:
        pytest.skip(f"{busybox} is not statically linked (install busybox-static)")
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    for applet in ("sh", "echo", "cat", "ls", "true", "false", "sleep", "hostname", "uname", "id",
                   "touch", "rm", "mkdir", "ps", "kill", "env", "pwd", "ip", "wc", "tr"):
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    return str(root)


@pytest.fixture(scope="session")
def lxrun():
    """Run the lxrun command line as a user would, capturing its output."""
    def run(*args, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 120)
        return subprocess.run(["lxrun", *map(str, args)], **kw)
    return run
