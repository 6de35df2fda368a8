"""lxrun as a user runs it: exit statuses, signals, the terminal, the
subcommand rule, and running without root."""
import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
from conftest import one_line


def test_runs_a_real_program(rootfs, lxrun):
    r = lxrun(rootfs, "/bin/sh", "-c", "echo hello from $(hostname); ls -la / | grep -c etc")
    assert (r.returncode, r.stdout) == (0, "hello from zone\n1\n"), r.stderr


def test_options_after_cmd_belong_to_cmd(rootfs, lxrun):
    r = lxrun(rootfs, "ls", "-d", "--hostname")   # --hostname is ls's (bad) option here
    assert r.returncode == 2 and "ls:" in r.stderr


def test_run_subcommand_is_the_same(rootfs, lxrun):
    assert lxrun("run", "--hostname", "h", rootfs, "hostname").stdout == "h\n"
    assert lxrun("--hostname", "h", rootfs, "hostname").stdout == "h\n"


def test_a_rootfs_named_like_a_subcommand(tmp_path, lxrun, scratch_rootfs):
    os.symlink(scratch_rootfs, tmp_path / "syscalls")
    r = lxrun("./syscalls", "echo", "ok", cwd=tmp_path)
    assert r.stdout == "ok\n", r.stderr
    assert lxrun("run", "syscalls", "echo", "ok", cwd=tmp_path).stdout == "ok\n"


@pytest.mark.parametrize("script, status", [("exit 0", 0), ("exit 3", 3), ("exit 255", 255),
                                            ("kill -KILL $$", 128 + 9), ("kill -TERM $$", 128 + 15)])
def test_exit_status(rootfs, lxrun, script, status):
    assert lxrun(rootfs, "/bin/sh", "-c", script).returncode == status


def start(rootfs, *cmd):
    p = subprocess.Popen(["lxrun", rootfs, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    return p


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT])
def test_signals_to_lxrun_reach_the_guest(rootfs, sig):
    p = start(rootfs, "/bin/sh", "-c", f"trap 'echo got {sig.name[3:]}; exit 9' {sig.name[3:]}; "
                                       "echo ready; while :; do sleep 0.05; done")
    p.send_signal(sig)
    out, _ = p.communicate(timeout=30)
    assert (p.returncode, out) == (9, f"got {sig.name[3:]}\n")


def test_a_signal_to_lxrun_reaches_the_guests_process_group(rootfs):
    """As a shell's parent signals a job: the guest's children in its process
    group get it too (timeout(1) signals its whole group so)."""
    p = start(rootfs, "/bin/sh", "-c", "trap 'echo parent got INT' INT; "
                                       "sh -c 'trap \"echo child got INT; exit 3\" INT; echo ready; "
                                       "sleep 60 & wait'; echo child status $?")
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    assert sorted(out.splitlines()) == ["child got INT", "child status 3", "parent got INT"]


def test_untrapped_sigterm_gives_143(rootfs):
    p = start(rootfs, "/bin/sh", "-c", "echo ready; exec sleep 60")
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM


def zone_processes(marker):
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return out.split()


def test_nothing_of_the_zone_outlives_lxrun(rootfs):
    marker = "sleep 4242"
    p = start(rootfs, "/bin/sh", "-c", f"({marker} &); {marker} & echo ready; wait")
    assert zone_processes(marker)
    p.kill()      # SIGKILL: lxrun gets no chance to clean up
    p.wait()
    deadline = time.monotonic() + 10
    while zone_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert zone_processes(marker) == []


def test_guest_exit_ends_its_background_processes(rootfs, lxrun):
    r = lxrun(rootfs, "/bin/sh", "-c", "sleep 4343 & echo started")
    assert r.stdout == "started\n"
    time.sleep(0.2)
    assert zone_processes("sleep 4343") == []


def run_on_a_terminal(argv, keys=b"", timeout=30):
    """Run argv with a pty as its stdin/stdout, type `keys`, return the screen."""
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    os.write(master, keys)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_on_a_terminal_the_guest_gets_a_controlling_tty(rootfs):
    code, out = run_on_a_terminal(["lxrun", rootfs, "/bin/sh", "-c", "tty; ps -o tty= -p $$; exit 4"])
    assert code == 4
    assert "/dev/pts/0" in out and "pts/0" in out.split("/dev/pts/0", 1)[1]


def test_interactive_bash_job_control(rootfs):
    keys = b"sleep 0.3 &\njobs\nwait; echo done-$((6*7))\nexit 5\n"
    code, out = run_on_a_terminal(["lxrun", rootfs, "/bin/bash", "-i"], keys)
    assert code == 5, out
    assert "Running" in out and "done-42" in out
    assert "no job control" not in out and "cannot set terminal process group" not in out


def test_no_tty_gives_pipes(rootfs):
    code, out = run_on_a_terminal(["lxrun", "--no-tty", rootfs, "/bin/sh", "-c", "tty; exit 0"])
    assert "not a tty" in out


def test_syscalls_table(lxrun):
    r = lxrun("syscalls")
    assert r.returncode == 0
    assert any(line.split()[:2] == ["63", "uname"] for line in r.stdout.splitlines())


def test_rootfs_create_says_how_to_install_the_tool(tmp_path, lxrun):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("python3", "lxrun"):
        os.symlink(shutil.which(tool), bindir / tool)
    r = lxrun("rootfs", "create", tmp_path / "new", env={"PATH": str(bindir)})
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "lxrun: neither mmdebstrap nor debootstrap is installed; install one with: apt-get install mmdebstrap"]


def refused_user_namespaces(r) -> None:
    """Skip where the host refuses an ordinary user a user namespace (lxrun's
    one-line error for that case; any other failure is the test's)."""
    if r.returncode == 125 and r.stderr.startswith("lxrun: cannot create a user namespace"):
        pytest.skip(f"this host refuses unprivileged user namespaces: {r.stderr.strip()}")


def test_as_an_unprivileged_user(unprivileged):
    """A user without root runs a zone (unprivileged user namespaces): lxrun's
    entry point, called by nobody, who cannot read this machine's Python
    installation when it is in root's home (see conftest.run_as_user)."""
    r = unprivileged.lxrun(unprivileged.rootfs, "/bin/sh", "-c", "id -u; hostname; cat /proc/self/uid_map")
    refused_user_namespaces(r)
    assert r.returncode == 0, r.stderr
    # the guest's namespace is nested in init's, where the caller is 0
    assert r.stdout.split() == ["0", "zone", "0", "0", "1"]


def test_exit_status_and_errors_as_an_unprivileged_user(unprivileged):
    r = unprivileged.lxrun(unprivileged.rootfs, "/bin/sh", "-c", "echo out; echo err >&2; exit 7")
    refused_user_namespaces(r)
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")
    r = unprivileged.lxrun(unprivileged.rootfs, "/bin/no-such-program")
    assert r.returncode == 127 and r.stderr.startswith("lxrun: "), r.stderr


def test_unprivileged_with_uid_gid_maps_only_the_user(unprivileged):
    """--uid/--gid name the ids inside; outside they are the user's own."""
    r = unprivileged.lxrun("--uid", "1000", "--gid", "1000", unprivileged.rootfs, "/bin/sh", "-c",
                           "id -u; id -g; cat /proc/self/uid_map; touch /tmp/f; echo ok")
    refused_user_namespaces(r)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1000", "1000", "1000", "1000", "1", "ok"]


def test_the_library_as_an_unprivileged_user(unprivileged):
    """lxbrand.Zone(...).run, called by nobody."""
    def guest():
        from lxbrand import Zone
        return Zone(unprivileged.rootfs, hostname="lib").run(
            ["/bin/sh", "-c", "hostname; id -u; cat /proc/self/uid_map"]).returncode
    r = unprivileged.call(guest)
    refused_user_namespaces(r)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["lib", "0", "0", "0", "1"]


def test_unprivileged_user_cannot_use_a_rootfs_it_cannot_read(unprivileged, scratch_rootfs):
    """Root's rootfs (tmp_path is in root's 0700 /tmp/pytest-of-root) is not
    the user's: lxrun fails with one line, as any program of that user would."""
    r = unprivileged.lxrun(scratch_rootfs, "/bin/true")
    assert r.returncode in (125, 126, 127), (r.returncode, r.stderr)
    one_line(r)


def test_a_host_that_refuses_user_namespaces_gets_one_line(scratch_rootfs):
    """Where clone(CLONE_NEWUSER) is refused (a container's seccomp profile,
    a sysctl), lxrun says so on one line and exits 125."""
    import ctypes
    import errno as E

    from lxbrand._csup import ffi, lib

    actions = ffi.new("int32_t[]", [lib.LXB_ACT_ALLOW] * lib.LXB_NR_MAX)
    actions[56] = E.EPERM        # clone: as Docker's default profile answers CLONE_NEWUSER
    actions[435] = E.ENOSYS      # clone3
    out = ffi.new("unsigned char[]", 65536)
    n = lib.lxb_filter_build(actions, lib.LXB_NR_MAX, out, 65536)
    assert n > 0
    bpf = ctypes.create_string_buffer(ffi.buffer(out, n)[:], n)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(n // 8, ctypes.addressof(bpf))
    libc = ctypes.CDLL(None, use_errno=True)

    def refuse_clone():
        libc.prctl(38, 1, 0, 0, 0)                            # PR_SET_NO_NEW_PRIVS
        libc.syscall(317, 1, 0, ctypes.byref(prog))           # seccomp(SET_MODE_FILTER)

    r = subprocess.run(["lxrun", scratch_rootfs, "true"], capture_output=True, text=True,
                       preexec_fn=refuse_clone, timeout=60)
    assert one_line(r, 125).startswith("lxrun: cannot create a user namespace"), r.stderr


def test_syscalls_json(lxrun):
    import json
    table = json.loads(lxrun("syscalls", "--json").stdout)
    by_name = {s["name"]: s for s in table}
    # what a default zone does: its UTS namespace answers uname in the kernel
    assert by_name["uname"]["status"] == "pass" and by_name["uname"]["nr"] == 63
    table = json.loads(lxrun("syscalls", "--json", "--kernel-release", "4.19.0").stdout)
    assert {s["name"]: s for s in table}["uname"]["status"] == "emulated"
    assert by_name["kexec_load"]["errno"] == "EPERM"
    assert by_name["openat"]["status"] == "pass"


def test_a_script_without_hashbang_runs_with_bin_sh(scratch_rootfs, lxrun):
    """execvp's ENOEXEC rule, as chroot(1) and bwrap follow it."""
    script = os.path.join(scratch_rootfs, "bin", "plain-script")
    with open(script, "w") as f:
        f.write('echo "ran as $0 with $1"\nexit 4\n')
    os.chmod(script, 0o755)
    r = lxrun(scratch_rootfs, "plain-script", "arg1")
    assert (r.returncode, r.stdout) == (4, "ran as /bin/plain-script with arg1\n"), r.stderr


def test_rootfs_create_refuses_a_non_empty_directory(tmp_path, lxrun):
    (tmp_path / "keep").write_text("precious")
    r = lxrun("rootfs", "create", tmp_path)
    assert r.returncode != 0
    assert r.stderr.strip() == f"lxrun: {tmp_path}: directory is not empty; choose a new one"
    assert (tmp_path / "keep").read_text() == "precious"


def test_a_signal_delivered_to_another_thread_of_lxrun_still_reaches_the_guest(rootfs):
    """The kernel may deliver a process signal to any thread of lxrun (the
    supervisor, the stdio pumps); it must still be forwarded at once."""
    import ctypes
    p = start(rootfs, "/bin/sh", "-c", "trap 'echo got TERM; exit 9' TERM; echo ready; "
                                       "while :; do sleep 0.05; done")
    deadline = time.monotonic() + 10
    while len(os.listdir(f"/proc/{p.pid}/task")) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    other = [int(t) for t in os.listdir(f"/proc/{p.pid}/task") if int(t) != p.pid][0]
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(234, p.pid, other, signal.SIGTERM) == 0     # tgkill
    try:
        out, _ = p.communicate(timeout=20)
    finally:
        p.kill()
    assert (p.returncode, out) == (9, "got TERM\n")


@pytest.fixture
def subordinate_user(unprivileged):
    """An ordinary user with subordinate ids in /etc/subuid and /etc/subgid
    (a uid without a passwd entry: they are looked up by number too), as
    `usermod --add-subuids` would give; the files are restored afterwards."""
    import shutil as sh
    if not (sh.which("newuidmap") and sh.which("newgidmap")):
        pytest.skip("newuidmap is not installed (apt-get install uidmap; make setup installs it)")
    saved = {}
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                saved[path] = f.read()
        except FileNotFoundError:
            saved[path] = None
        with open(path, "a") as f:
            f.write(f"{unprivileged.uid}:3000000:65536\n")
    try:
        yield unprivileged
    finally:
        for path, text in saved.items():
            if text is None:
                os.unlink(path)
            else:
                with open(path, "w") as f:
                    f.write(text)


def test_an_unprivileged_user_with_subordinate_ids_maps_65536(subordinate_user):
    """newuidmap's path: zone ids 0-65535 are the user (0) and its subordinate
    ids; the guest's nested namespace maps them one to one, so chown and
    setuid to any of them work, and what the zone makes is owned by them."""
    u = subordinate_user
    r = u.lxrun(u.rootfs, "/bin/sh", "-c",
                "cat /proc/self/uid_map | tr -s ' ' | tr '\\n' ';'; touch /tmp/f; "
                "chown 1234:4321 /tmp/f && ls -ln /tmp/f | tr -s ' ' | cut -d' ' -f3,4; id -u")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [" 0 0 1; 1 1 65535;1234 4321", "0"], r.stdout
    r = u.lxrun("--uid", "1000", "--gid", "1000", u.rootfs, "/bin/sh", "-c", "id -u; id -g")
    assert (r.returncode, r.stdout) == (0, "1000\n1000\n"), r.stderr
