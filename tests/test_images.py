"""`lxrun rootfs create DIR --from SOURCE` (lxbrand/rootfs.py import_image,
issue 14): a zone runs an image the user already has.

The image is made here (no registry is reachable): a static busybox tree,
`podman import`ed, then `podman save`d as a docker archive, an OCI layout
directory and an OCI archive.  Each is unpacked by skopeo and umoci into a
rootfs, and a program of the image runs in a zone.  Bad input is one line.
"""
import os
import shutil
import subprocess
import sys
import uuid

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="podman makes the test image as root here (rootful)"),
    pytest.mark.skipif(not shutil.which("podman"), reason="podman is needed to make the image (make setup)"),
    pytest.mark.skipif(not shutil.which("skopeo") or not shutil.which("umoci"),
                       reason="skopeo and umoci are not installed (make setup: apt-get install skopeo umoci)"),
]

LXRUN = [sys.executable, "-m", "lxbrand.cli"]


def lxrun(*args, env=None, timeout=120):
    return subprocess.run([*LXRUN, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The test image as podman saves it: {format: path}, and its name."""
    work = tmp_path_factory.mktemp("images")
    os.chmod(work, 0o755)
    bb = shutil.which("busybox")
    if not bb:
        pytest.skip("busybox is needed (apt-get install busybox-static)")
    conf = work / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]\n'
                    '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    tree = work / "tree"
    for d in ("bin", "etc", "tmp"):
        (tree / d).mkdir(parents=True)
    shutil.copy2(bb, tree / "bin" / "busybox")
    for a in ("sh", "cat", "echo", "ls", "id"):
        os.symlink("busybox", tree / "bin" / a)
    (tree / "etc" / "os-release").write_text('PRETTY_NAME="lxbrand image test"\nID=imagetest\n')
    (tree / "hello").write_text("hello from the image\n")
    tar = work / "tree.tar"
    subprocess.run(["tar", "-C", tree, "-cf", tar, "."], check=True)
    name = f"localhost/lxbrand-image-test:{uuid.uuid4().hex[:8]}"
    r = subprocess.run(["podman", "import", "--change", 'CMD ["/bin/cat", "/hello"]', tar, name], env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        pytest.fail(f"podman import: {r.stderr}")
    out = {"docker-archive": work / "image.tar", "oci-layout": work / "layout",
           "oci-archive": work / "image.oci.tar"}
    try:
        for fmt, path, podfmt in (("docker-archive", out["docker-archive"], "docker-archive"),
                                  ("oci-layout", out["oci-layout"], "oci-dir"),
                                  ("oci-archive", out["oci-archive"], "oci-archive")):
            r = subprocess.run(["podman", "save", "--format", podfmt, "-o", path, name], env=env,
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                pytest.fail(f"podman save --format {podfmt}: {r.stderr}")
    finally:
        subprocess.run(["podman", "rmi", "-f", name], env=env, capture_output=True, timeout=120)
    out["name"] = name
    out["work"] = work
    return out


@pytest.mark.parametrize("source", ["docker-archive:{docker-archive}", "oci-layout:{oci-layout}",
                                    "oci-layout:{oci-layout}:{name}", "oci-archive:{oci-archive}"])
def test_rootfs_from_image_runs_in_a_zone(saved, tmp_path, source):
    src = source.format(**{k: v for k, v in saved.items()})
    root = tmp_path / "rootfs"
    r = lxrun("rootfs", "create", root, "--from", src)
    assert r.returncode == 0, r.stderr
    # the image's own command is suggested
    assert r.stdout.strip() == f"lxrun: rootfs ready in {root}; try: lxrun {root} /bin/cat /hello"
    assert sorted(os.listdir(root)) == ["bin", "etc", "hello", "tmp"]     # the image's tree, nothing of umoci's
    r = lxrun(root, "sh", "-c", "cat /hello /etc/os-release; id -u")
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'hello from the image\nPRETTY_NAME="lxbrand image test"\nID=imagetest\n0\n'


def test_rootfs_from_image_into_an_empty_directory(saved, tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    r = lxrun("rootfs", "create", root, "--from", f"docker-archive:{saved['docker-archive']}")
    assert r.returncode == 0, r.stderr
    assert (root / "hello").read_text() == "hello from the image\n"


def _one_line_error(r, *words):
    assert r.returncode == 1, r.stdout
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("lxrun: "), r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


@pytest.mark.parametrize("source, words", [
    ("docker-archive:{work}/no-such.tar", ["no-such.tar: no such file"]),
    ("oci-layout:{work}/no-such-dir", ["no-such-dir: no such directory"]),
    ("oci-archive:{work}/no-such.tar", ["no-such.tar: no such file"]),
    ("docker-archive:{work}/containers.conf", ["not a docker archive that skopeo can read"]),
    ("oci-layout:{work}", ["not an OCI image layout (no index.json)"]),
    ("oci-layout:{oci-layout}:no-such-tag", ["not an OCI image layout that skopeo can read", "no-such-tag"]),
    ("oci-archive:{docker-archive}", ["not an OCI archive that skopeo can read"]),
    ("registry:example/x", ["expected one of oci-layout:PATH[:TAG]"]),
])
def test_rootfs_from_bad_source_is_one_line(saved, tmp_path, source, words):
    root = tmp_path / "rootfs"
    r = lxrun("rootfs", "create", root, "--from", source.format(**saved))
    _one_line_error(r, *words)
    assert not root.exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".lxbrand-import-")]     # nothing left


def test_rootfs_from_image_into_a_non_empty_directory(saved, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    r = lxrun("rootfs", "create", tmp_path / "full", "--from", f"docker-archive:{saved['docker-archive']}")
    _one_line_error(r, "directory is not empty")


def test_rootfs_from_image_with_debian_options(saved, tmp_path):
    r = lxrun("rootfs", "create", tmp_path / "r", "--from", f"docker-archive:{saved['docker-archive']}",
              "--include", "bash")
    _one_line_error(r, "--from unpacks an image")


@pytest.mark.parametrize("tool", ["skopeo", "umoci"])
def test_rootfs_from_image_without_the_tools(saved, tmp_path, tool):
    """PATH without skopeo (or umoci): one line saying what to install."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    other = "umoci" if tool == "skopeo" else "skopeo"
    os.symlink(shutil.which(other), bindir / other)
    r = lxrun("rootfs", "create", tmp_path / "r", "--from", f"docker-archive:{saved['docker-archive']}",
              env=dict(os.environ, PATH=str(bindir)))
    _one_line_error(r, f"{tool} is not installed", "apt-get install skopeo umoci")


def test_rootfs_from_an_image_without_etc_hosts_resolves_the_zones_names(saved, tmp_path):
    """The test image has no /etc/hosts (an engine gives one to a container):
    the tree had none either, so the zone showed none and neither localhost
    nor the zone's name resolved (hostname -f: Temporary failure in name
    resolution; sweep h54).  Now an empty one, as debootstrap's trees get,
    where the zone shows its own."""
    root = tmp_path / "rootfs"
    r = lxrun("rootfs", "create", root, "--from", f"docker-archive:{saved['docker-archive']}")
    assert r.returncode == 0, r.stderr
    assert (root / "etc" / "hosts").read_text() == ""
    r = lxrun("--hostname", "imgzone", root, "cat", "/etc/hosts")
    assert r.returncode == 0, r.stderr
    assert "127.0.0.1\tlocalhost" in r.stdout and "imgzone" in r.stdout, r.stdout


def test_an_images_etc_symlink_is_never_followed(tmp_path):
    """_zone_files on a tree whose /etc (or /etc/hosts) points out of it, as an
    image may: nothing outside the tree is made or emptied."""
    from lxbrand import rootfs as rf
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "hostname").write_text("host\n")
    (outside / "hosts").write_text("127.0.0.1\tlocalhost\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside, tree / "etc")
    rf._zone_files(str(tree))
    tree2 = tmp_path / "tree2"
    (tree2 / "etc").mkdir(parents=True)
    os.symlink(outside / "hosts", tree2 / "etc" / "hosts")
    os.symlink(outside / "hostname", tree2 / "etc" / "hostname")
    rf._zone_files(str(tree2))
    assert sorted(os.listdir(outside)) == ["hostname", "hosts"]
    assert (outside / "hostname").read_text() == "host\n"
    assert (outside / "hosts").read_text() == "127.0.0.1\tlocalhost\n"
