"""--net private (issue 15): the zone's own network through pasta (passt),
with outbound access and published ports, run by root and by an ordinary
user.  The machine may have no route to the internet, so "outbound" is a
server on the host's loopback, reached at the zone's gateway address (pasta
maps the gateway to the host), and "inbound" is a server in the zone reached
from the host through -p HOST:ZONE."""
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from lxbrand import Zone, net
from lxbrand.errors import ZoneConfigError

needs_pasta = pytest.mark.skipif(shutil.which("pasta") is None,
                                 reason="pasta is not installed (apt-get install passt; make setup does)")


def default_gateway() -> str:
    with open("/proc/net/route") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == "00000000" and int(fields[3], 16) & 2:
                return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    pytest.skip("the host has no IPv4 default route: pasta has no interface to copy")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def host_server():
    """An HTTP server on the host's loopback only: (port, requests seen)."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = b"hello from the host\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1], seen
    srv.shutdown()
    srv.server_close()


def fetch(url: str, timeout: float = 15) -> bytes:
    """GET url from the host, retrying while the zone's server is not up yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- options -----------------------------------------------------------------

@pytest.mark.parametrize("spec, parsed", [("8080:80", ("tcp", None, 8080, 80)), ("53:53/udp", ("udp", None, 53, 53)),
                                          ("9000", ("tcp", None, 9000, 9000)),
                                          ("127.0.0.1:8080:80", ("tcp", "127.0.0.1", 8080, 80))])
def test_publish_specs(spec, parsed):
    assert net.parse_publish(spec) == parsed


@pytest.mark.parametrize("spec", ["x", "80:", "70000:80", "1:2:3", "80/sctp"])
def test_bad_publish_specs(rootfs, spec):
    with pytest.raises(ZoneConfigError, match="--publish"):
        Zone(rootfs, net="private", publish=[spec])


def test_publish_needs_net_private(rootfs, lxrun):
    with pytest.raises(ZoneConfigError, match="--net private"):
        Zone(rootfs, publish=["8080:80"])
    r = lxrun("-p", "8080:80", rootfs, "true")
    assert r.returncode == 125 and r.stderr.startswith("lxrun: ") and r.stderr.count("\n") == 1, r


def test_nothing_but_the_published_ports_is_forwarded():
    args = net.pasta_args([("tcp", None, 8080, 80)])
    assert args == ["-t", "8080:80", "-u", "none", "-T", "none", "-U", "none"]


def test_missing_pasta_is_one_line(rootfs, lxrun, tmp_path):
    """PATH without pasta: one line naming the package, exit 125, no zone left."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    env = dict(os.environ, PATH=f"{bindir}:" + ":".join(p for p in os.environ["PATH"].split(":")
                                                        if not os.path.exists(os.path.join(p, "pasta"))))
    r = lxrun("--net", "private", rootfs, "true", env=env)
    assert r.returncode == 125, r
    assert r.stderr.strip() == "lxrun: --net private needs pasta, which is not installed (apt-get install passt)", r


# -- root ------------------------------------------------------------------------

@needs_pasta
def test_zone_reaches_the_hosts_loopback_through_the_gateway(rootfs, host_server):
    port, seen = host_server
    gw = default_gateway()
    code = (f"import urllib.request; print(urllib.request.urlopen('http://{gw}:{port}/from-zone', timeout=10)"
            ".read().decode(), end='')")
    r = Zone(rootfs, net="private").run(["python3", "-c", code], capture_output=True, timeout=60)
    assert r.returncode == 0, r
    assert r.stdout == b"hello from the host\n" and seen == ["/from-zone"]


@needs_pasta
def test_zone_server_reached_through_a_published_port(rootfs, lxrun):
    port = free_port()
    server = ("import http.server, socketserver\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              "        self.send_response(200); self.end_headers(); self.wfile.write(b'served in the zone\\n')\n"
              "    def log_message(self, *a): pass\n"
              "http.server.HTTPServer(('0.0.0.0', 80), H).handle_request()\n")
    p = subprocess.Popen(["lxrun", "--net", "private", "-p", f"127.0.0.1:{port}:80", rootfs, "python3", "-c", server],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert fetch(f"http://127.0.0.1:{port}/") == b"served in the zone\n"
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, (out, err)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@needs_pasta
def test_private_network_is_the_zones_own(rootfs):
    """The zone sees loopback and pasta's one interface, none of the host's others."""
    r = Zone(rootfs, net="private").run(["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"],
                                        capture_output=True, text=True, timeout=60)
    names = sorted(r.stdout.split())
    assert len(names) == 2 and "lo" in names, r
    assert "cni-podman0" not in names and not any(n.startswith("veth") for n in names), r


@needs_pasta
def test_booted_zone_shares_its_private_network(rootfs, host_server):
    port, seen = host_server
    gw = default_gateway()
    code = f"import urllib.request; urllib.request.urlopen('http://{gw}:{port}/boot{{}}', timeout=10)"
    with Zone(rootfs, net="private").boot() as z:
        for i in range(2):
            assert z.run(["python3", "-c", code.format(i)]).returncode == 0
    assert seen == ["/boot0", "/boot1"]


@needs_pasta
def test_pasta_ends_with_the_zone(rootfs):
    before = set(_pastas())
    Zone(rootfs, net="private").run(["true"], timeout=60)
    time.sleep(0.2)
    assert set(_pastas()) - before == set()


def _pastas():
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "pasta":
                        out.append(int(pid))
            except OSError:
                pass
    return out


# -- an ordinary user ----------------------------------------------------------------

@needs_pasta
def test_rootless_outbound_and_published_port(unprivileged, host_server):
    port, seen = host_server
    gw = default_gateway()
    if not os.access("/dev/net/tun", os.R_OK | os.W_OK) or os.stat("/dev/net/tun").st_mode & 0o006 != 0o006:
        pytest.skip("/dev/net/tun is not open to ordinary users on this host (it is 0666 by default); "
                    "rootless pasta needs it")
    root = unprivileged.rootfs
    for applet in ("wget", "httpd", "timeout"):
        os.symlink("busybox", os.path.join(root, "bin", applet))
    os.makedirs(os.path.join(root, "www"))
    with open(os.path.join(root, "www", "index.html"), "w") as f:
        f.write("busybox in a rootless zone\n")
    subprocess.run(["chown", "-R", f"{unprivileged.uid}:{unprivileged.gid}", root], check=True)
    r = unprivileged.lxrun("--net", "private", root, "wget", "-q", "-O", "-", f"http://{gw}:{port}/rootless")
    assert r.returncode == 0 and r.stdout == "hello from the host\n", r
    assert seen == ["/rootless"]

    hport = free_port()
    result = {}

    def serve():
        result["r"] = unprivileged.lxrun("--net", "private", "-p", f"{hport}:8080", root, "timeout", "8",
                                         "httpd", "-f", "-p", "8080", "-h", "/www", timeout=60)
    t = threading.Thread(target=serve)
    t.start()
    try:
        assert fetch(f"http://127.0.0.1:{hport}/index.html", timeout=20) == b"busybox in a rootless zone\n"
    finally:
        t.join()
    assert "Traceback" not in result["r"].stderr, result["r"]
