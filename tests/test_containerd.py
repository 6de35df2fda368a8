"""containerd runs its containers as lxbrand zones (issue 14), and says the
same as with runc.

A containerd of the test's own (its root, state and sockets in a temporary
directory, the CRI plugin off) is started here; the image is made locally
(a static busybox tree, `podman import` then `podman save` as a docker
archive) and loaded with `ctr image import`.  lxbrand is given to the runc
v2 shim as its runc binary (`ctr run --runc-binary`: the shim's
`BinaryName` option, which a Kubernetes RuntimeClass sets the same way,
docs/OCI.md); runc itself is the reference, through the same shim.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="containerd runs as root here"),
    pytest.mark.skipif(not shutil.which("containerd") or not shutil.which("ctr"),
                       reason="containerd is not installed (make setup: apt-get install containerd)"),
    pytest.mark.skipif(not shutil.which("runc"), reason="runc is the reference (make setup: apt-get install runc)"),
    pytest.mark.skipif(not shutil.which("podman"), reason="podman makes the test image (make setup)"),
]

IMAGE = "localhost/lxbrand-ctr-test:busybox"
NAMESPACE = "lxbrand-test"
APPLETS = ("sh", "cat", "echo", "uname", "ls", "sleep", "hostname", "head", "id")

# the CRI plugin's runtime handler for a RuntimeClass named lxbrand (docs/OCI.md,
# "Kubernetes"): the runc v2 shim with lxbrand-oci as its runc
CRI_RUNTIME = """
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.lxbrand]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.lxbrand.options]
    BinaryName = "{binary}"
"""


class Containerd:
    def __init__(self, work: str):
        self.work = work
        self.sock = os.path.join(work, "containerd.sock")
        self.runtime = os.path.join(work, "lxbrand-oci")
        self.proc = None

    def ctr(self, *args, timeout=120, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(["ctr", "--address", self.sock, "--namespace", NAMESPACE, *map(str, args)],
                              timeout=timeout, **kw)

    def run(self, runtime: str, *argv, opts=()):
        """`ctr run --rm [opts] IMAGE ID argv` with lxbrand or runc as the shim's runc."""
        binary = self.runtime if runtime == "lxbrand" else shutil.which("runc")
        cid = f"{runtime}-{uuid.uuid4().hex[:8]}"
        return self.ctr("run", "--rm", "--runc-binary", binary, *opts, IMAGE, cid, *argv)

    def run_both(self, *argv, opts=()):
        return self.run("lxbrand", *argv, opts=opts), self.run("runc", *argv, opts=opts)


def _config(work: str, extra: str = "") -> str:
    path = os.path.join(work, "config.toml")
    with open(path, "w") as f:
        f.write(f'version = 2\nroot = "{work}/root"\nstate = "{work}/state"\n'
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                f'[grpc]\n  address = "{work}/containerd.sock"\n'
                f'[ttrpc]\n  address = "{work}/containerd.sock.ttrpc"\n' + extra)
    return path


def _image_archive(work: str) -> str:
    bb = shutil.which("busybox")
    out = subprocess.run(["file", "-L", bb], capture_output=True, text=True).stdout if bb and shutil.which("file") \
        else "statically linked"
    if not bb or ("statically linked" not in out and "static-pie" not in out):
        pytest.skip("a static busybox is needed (apt-get install busybox-static)")
    tree = os.path.join(work, "tree")
    for d in ("bin", "etc", "tmp"):
        os.makedirs(os.path.join(tree, d))
    shutil.copy2(bb, os.path.join(tree, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(tree, "bin", a))
    with open(os.path.join(tree, "etc", "os-release"), "w") as f:
        f.write('PRETTY_NAME="lxbrand containerd test"\nID=busybox\n')
    conf = os.path.join(work, "containers.conf")
    with open(conf, "w") as f:
        f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]\n'
                '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    env = dict(os.environ, CONTAINERS_CONF=conf)
    tar = os.path.join(work, "tree.tar")
    subprocess.run(["tar", "-C", tree, "-cf", tar, "."], check=True)
    name = f"{IMAGE}-{uuid.uuid4().hex[:8]}"
    archive = os.path.join(work, "image.tar")
    try:
        r = subprocess.run(["podman", "import", tar, name], env=env, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.fail(f"podman import: {r.stderr}")
        r = subprocess.run(["podman", "save", "--format", "docker-archive", "-o", archive, name], env=env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.fail(f"podman save: {r.stderr}")
    finally:
        subprocess.run(["podman", "rmi", "-f", name], env=env, capture_output=True, timeout=120)
    return archive, name


@pytest.fixture(scope="module")
def ctd(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("ctd"))
    os.chmod(work, 0o755)
    c = Containerd(work)
    with open(c.runtime, "w") as f:
        f.write(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; sys.argv[0] = \"lxbrand-oci\"; "
                f"from lxbrand.oci import entry; entry()' \"$@\"\n")
    os.chmod(c.runtime, 0o755)
    archive, saved_name = _image_archive(work)
    log = open(os.path.join(work, "containerd.log"), "w")
    c.proc = subprocess.Popen(["containerd", "--config", _config(work)], stdout=log, stderr=log,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            if c.proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(work, "containerd.log")) as f:
                    tail = [ln for ln in f.read().splitlines() if "level=error" in ln or "level=fatal" in ln][-1:]
                pytest.skip(f"containerd cannot start on this machine: {tail[0] if tail else 'no socket in 30 s'}")
            if os.path.exists(c.sock) and c.ctr("version", timeout=10).returncode == 0:
                break
            time.sleep(0.2)
        r = c.ctr("image", "import", "--base-name", IMAGE.rsplit(":", 1)[0], archive, timeout=300)
        assert r.returncode == 0, r.stderr
        r = c.ctr("image", "tag", saved_name, IMAGE)
        assert r.returncode == 0, r.stderr
        yield c
    finally:
        for t in c.ctr("task", "ls", "-q").stdout.split():
            c.ctr("task", "kill", "-s", "KILL", t)
            c.ctr("task", "rm", "-f", t)
        for cid in c.ctr("container", "ls", "-q").stdout.split():
            c.ctr("container", "rm", cid)
        c.proc.send_signal(signal.SIGTERM)
        try:
            c.proc.wait(20)
        except subprocess.TimeoutExpired:
            c.proc.kill()
            c.proc.wait()
        log.close()


def test_ctr_run_output_and_status_same_as_runc(ctd):
    lx, rc = ctd.run_both("sh", "-c", 'cat /etc/os-release; echo "$FOO"; id -u; exit 3', opts=("--env", "FOO=bar baz"))
    assert (lx.returncode, lx.stdout) == (rc.returncode, rc.stdout), (lx.stderr, rc.stderr)
    assert lx.returncode == 3
    assert lx.stdout == 'PRETTY_NAME="lxbrand containerd test"\nID=busybox\nbar baz\n0\n'


def test_ctr_runs_a_zone(ctd):
    """Not runc by another name: pid 1 is lxbrand's init, under the runc shim."""
    r = ctd.run("lxbrand", "cat", "/proc/1/cmdline")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("lxbrand-init")


def test_ctr_not_found_same_as_runc(ctd):
    lx, rc = ctd.run_both("no-such-command")
    assert lx.returncode == rc.returncode != 0, (lx.stderr, rc.stderr)
    assert "executable file not found" in lx.stderr


def test_ctr_annotation_and_memory_limit(ctd):
    r = ctd.run("lxbrand", "sh", "-c", "uname -r; head -1 /proc/meminfo",
                opts=("--annotation", "org.lxbrand.kernel-release=4.19.0", "--memory-limit", str(64 << 20)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["4.19.0", "MemTotal:", str(64 * 1024), "kB"]


def test_ctr_network_same_as_runc(ctd):
    """ctr's default: a network namespace of the container's own (loopback only)."""
    lx, rc = ctd.run_both("ls", "/sys/class/net")
    assert (lx.returncode, lx.stdout) == (rc.returncode, rc.stdout) == (0, "lo\n"), lx.stderr


def test_ctr_detached_exec_kill_delete(ctd):
    cid = f"lxbrand-d-{uuid.uuid4().hex[:8]}"
    r = ctd.ctr("run", "-d", "--runc-binary", ctd.runtime, IMAGE, cid, "sleep", "1000")
    assert r.returncode == 0, r.stderr
    try:
        tasks = ctd.ctr("task", "ls").stdout
        assert any(ln.split()[:1] == [cid] and "RUNNING" in ln for ln in tasks.splitlines()), tasks
        r = ctd.ctr("task", "exec", "--exec-id", "e1", cid, "sh", "-c", "hostname >/dev/null; cat /proc/1/cmdline; "
                    "exit 4")
        assert r.returncode == 4, r.stderr
        assert r.stdout.startswith("lxbrand-init")
        state = json.loads(subprocess.run([ctd.runtime, "--root", f"/run/containerd/runc/{NAMESPACE}", "state", cid],
                                          capture_output=True, text=True).stdout)
        assert state["status"] == "running"
        assert ctd.ctr("task", "kill", "-s", "KILL", cid).returncode == 0
        deadline = time.monotonic() + 20
        while "STOPPED" not in ctd.ctr("task", "ls").stdout and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "STOPPED" in ctd.ctr("task", "ls").stdout
    finally:
        ctd.ctr("task", "rm", "-f", cid)
        rm = ctd.ctr("container", "rm", cid)
    assert rm.returncode == 0, rm.stderr
    assert not os.path.exists(f"/run/containerd/runc/{NAMESPACE}/{cid}")


def test_containerd_takes_the_runtimeclass_config(ctd, tmp_path):
    """docs/OCI.md's configuration for a Kubernetes RuntimeClass: containerd
    reads it, and its BinaryName is what `ctr run --runc-binary` gives the
    same shim in the tests above."""
    work = str(tmp_path)
    path = _config(work, CRI_RUNTIME.format(binary=ctd.runtime))
    with open(path) as f:
        text = f.read().replace('disabled_plugins = ["io.containerd.grpc.v1.cri"]\n', "")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run(["containerd", "--config", path, "config", "dump"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    dump = r.stdout
    section = '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.lxbrand]'
    assert section in dump
    after = dump[dump.index(section):]
    assert 'runtime_type = "io.containerd.runc.v2"' in after
    assert f'BinaryName = "{ctd.runtime}"' in after
