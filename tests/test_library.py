"""The library as subprocess users expect it (issue 15): Zone.popen, a zone
that stays up (Zone.boot), asyncio (Zone.run_async,
Zone.create_subprocess_exec), per-run env/cwd/text; real programs of the
Debian rootfs."""
import asyncio
import os
import signal
import subprocess
import time

import pytest

from lxbrand import Zone
from lxbrand.errors import CommandNotFound, ZoneConfigError


@pytest.fixture(scope="module")
def zone(rootfs):
    return Zone(rootfs)


# -- Zone.popen ---------------------------------------------------------------

def test_popen_streams_stdin_and_stdout(zone):
    p = zone.popen(["python3", "-u", "-c", "import sys\nfor line in sys.stdin: print(line.strip().upper(), flush=True)"],
                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdin.write(b"hello\n")
    p.stdin.flush()
    assert p.stdout.readline() == b"HELLO\n"      # streamed: the guest is still running
    assert p.poll() is None
    p.stdin.write(b"zone\n")
    p.stdin.close()
    assert p.stdout.read() == b"ZONE\n"
    assert p.wait() == 0 and p.returncode == 0


def test_popen_communicate_with_stderr_and_exit_status(zone):
    with zone.popen(["sh", "-c", "cat; echo err >&2; exit 3"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE) as p:
        out, err = p.communicate(b"in")
    assert (out, err, p.returncode) == (b"in", b"err\n", 3)


def test_popen_text_env_cwd(zone):
    p = zone.popen(["sh", "-c", "echo $GREETING; pwd"], stdout=subprocess.PIPE, text=True,
                   env={"GREETING": "héllo"}, cwd="/etc")
    out, err = p.communicate()
    assert out == "héllo\n/etc\n" and err is None


def test_popen_wait_timeout_and_send_signal(zone):
    p = zone.popen(["sleep", "30"])
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=0.3)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == -signal.SIGTERM


def test_popen_kill_and_terminate(zone):
    p = zone.popen(["sleep", "30"])
    p.kill()
    assert p.wait(timeout=10) == -signal.SIGKILL
    p = zone.popen(["sleep", "30"])
    p.terminate()
    assert p.wait(timeout=10) == -signal.SIGTERM


def test_popen_command_not_found(zone):
    with pytest.raises(CommandNotFound):
        zone.popen(["no-such-command-here"])


def test_popen_tty_with_pipes_is_refused(zone):
    with pytest.raises(ZoneConfigError, match="tty"):
        zone.popen(["true"], tty=True, stdout=subprocess.PIPE)
    with pytest.raises(ZoneConfigError, match="tty"):
        zone.run(["true"], tty=True, capture_output=True)


def test_run_per_run_env_cwd_text_check(zone):
    r = zone.run(["sh", "-c", "echo $X; pwd"], capture_output=True, env={"X": "1"}, cwd="/usr", text=True)
    assert r.stdout == "1\n/usr\n" and r.stderr == ""
    with pytest.raises(subprocess.CalledProcessError) as e:
        zone.run(["sh", "-c", "echo no >&2; exit 4"], capture_output=True, check=True, text=True)
    assert e.value.returncode == 4 and e.value.stderr == "no\n"


# -- Zone.boot: one zone, many commands -----------------------------------------

def test_boot_runs_commands_in_one_zone(rootfs):
    with Zone(rootfs, ephemeral=True).boot() as z:
        r = z.run(["sh", "-c", "echo one > /root/state; readlink /proc/self/ns/pid; cat /proc/2/cmdline"],
                  capture_output=True)
        assert r.returncode == 0, r
        ns, cmdline = r.stdout.decode().split("\n", 1)
        assert cmdline.startswith("cat")           # the guest of the zone's init: the keeper
        r2 = z.run(["sh", "-c", "cat /root/state; readlink /proc/self/ns/pid"], capture_output=True)
        assert r2.stdout.decode().split() == ["one", ns], r2     # same overlay, same pid namespace
        assert z.run(["sh", "-c", "exit 7"]).returncode == 7
        p = z.popen(["python3", "-c", "import sys; print(sys.stdin.read()[::-1])"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE)
        assert p.communicate(b"abc") == (b"cba\n", None) and p.returncode == 0
        r = z.run(["pwd"], capture_output=True, text=True, cwd="/tmp", env={"A": "b"})
        assert r.stdout == "/tmp\n"
    assert not os.path.exists(os.path.join(rootfs, "root", "state"))


def test_boot_processes_are_under_the_brand(rootfs):
    zone = Zone(rootfs, hostname="booted")

    @zone.handler("getppid")
    def getppid(call):
        return 4242
    with zone.boot() as z:
        r = z.run(["python3", "-c", "import os, socket; print(os.getppid(), socket.gethostname())"],
                  capture_output=True, text=True)
        assert r.stdout == "4242 booted\n", r


def test_boot_signal_and_close_ends_what_runs(rootfs):
    z = Zone(rootfs).boot()
    p = z.popen(["sleep", "60"])
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 128 + signal.SIGTERM      # the relay reports as a shell does
    p = z.popen(["sleep", "60"])
    init = z._run.z.init_pid
    z.close()
    assert p.wait(timeout=10) != 0
    with pytest.raises(ProcessLookupError):
        os.kill(init, 0)


def test_boot_command_not_found(rootfs):
    with Zone(rootfs).boot() as z:
        with pytest.raises(CommandNotFound):
            z.popen(["no-such-command-here"])
        assert z.run(["true"]).returncode == 0


def test_boot_is_cheaper_than_a_zone_per_run(rootfs):
    """Not a benchmark: a sanity bound (each exec is a fork and exec, not a zone)."""
    with Zone(rootfs).boot() as z:
        for _ in range(20):
            assert z.run(["true"]).returncode == 0


# -- asyncio -----------------------------------------------------------------

def test_run_async_many_zones_at_once(zone):
    async def main():
        t0 = time.monotonic()
        results = await asyncio.gather(*(zone.run_async(["sh", "-c", f"sleep 1; echo {i}"], capture_output=True)
                                         for i in range(4)))
        return results, time.monotonic() - t0
    results, took = asyncio.run(main())
    assert [r.stdout for r in results] == [b"%d\n" % i for i in range(4)]
    assert took < 3.5, took          # they ran side by side, not one after another


def test_run_async_input_check_timeout(zone):
    async def main():
        r = await zone.run_async(["cat"], input=b"through", capture_output=True)
        assert r.stdout == b"through"
        with pytest.raises(subprocess.CalledProcessError):
            await zone.run_async(["false"], check=True)
        with pytest.raises(subprocess.TimeoutExpired):
            await zone.run_async(["sleep", "30"], timeout=0.5)
    asyncio.run(main())


def test_create_subprocess_exec_streams(zone, rootfs):
    async def main():
        p = await zone.create_subprocess_exec("python3", "-u", "-c",
                                              "import sys\nfor l in sys.stdin: print(len(l), flush=True)",
                                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        p.stdin.write(b"four\n")
        await p.stdin.drain()
        assert await asyncio.wait_for(p.stdout.readline(), 10) == b"5\n"
        p.stdin.close()
        assert await p.wait() == 0
        with Zone(rootfs).boot() as z:
            q = await zone.create_subprocess_exec("sh", "-c", "echo in-boot", stdout=subprocess.PIPE, booted=z)
            out, _ = await q.communicate()
            assert out == b"in-boot\n" and q.returncode == 0
    asyncio.run(main())


def test_the_package_exports_the_library():
    """Every name in lxbrand.__all__ resolves (the lazy imports of __init__)."""
    import lxbrand
    for name in lxbrand.__all__:
        assert getattr(lxbrand, name) is not None, name
    assert {"ZoneProcess", "BootedZone", "AsyncZoneProcess", "HandlerWarning"} <= set(lxbrand.__all__)


# -- the zone's init (issue 16) --------------------------------------------------

def _vm_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def test_a_zones_init_is_not_a_clone_of_the_interpreter(zone):
    """lxbrand-init clones init (csrc/launcher.c): init is this process's child,
    but its memory is a small C program's, not a copy of the interpreter's."""
    p = zone.popen(["sh", "-c", "echo up; read x; cat /proc/1/cmdline"], stdin=subprocess.PIPE,
                   stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"up\n"
        init = zone._init_pid
        with open(f"/proc/{init}/stat") as f:
            assert int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid()     # our child
        assert _vm_kb(init, "VmSize") < 32 * 1024 < _vm_kb(os.getpid(), "VmSize"), \
            (_vm_kb(init, "VmSize"), _vm_kb(os.getpid(), "VmSize"))
        if os.geteuid() == 0:
            assert os.readlink(f"/proc/{init}/exe").endswith("/lxbrand-init")
    finally:
        p.stdin.close()
        assert p.wait() == 0
    assert p.stdout.read().rstrip(b"\0") == b"lxbrand-init"       # /proc/1/cmdline: no fd numbers, no host path


def test_a_missing_init_program_is_one_line(zone, monkeypatch):
    from lxbrand import _csup
    from lxbrand.errors import ZoneStartError
    monkeypatch.setattr(_csup, "INIT_EXEC", "/nonexistent/lxbrand-init")
    with pytest.raises(ZoneStartError) as e:
        zone.run(["true"])
    assert str(e.value) == ("/nonexistent/lxbrand-init: No such file or directory (the zone's init; "
                            "run: make build)")

