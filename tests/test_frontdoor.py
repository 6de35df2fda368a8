"""The C front door (csrc/frontdoor/lxrun.c): `lxrun` on PATH serves a zone
without Python, and says and does what the Python CLI (`lxrun-py`) would.

Every case that the front door should serve itself runs with
LXRUN_DEBUG_FRONTDOOR=1, which makes a hand-over to Python print one line;
its absence shows that C ran the zone, so that "C and Python agree" never
compares Python with itself.
"""
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid

import pytest
from conftest import UNAME_SAME_THREAD, one_line

SCRIPTS = os.path.dirname(sys.executable)
# LXRUN_TEST_FRONTDOOR: another build of the front door (a breakage check)
FRONT = os.environ.get("LXRUN_TEST_FRONTDOOR") or os.path.join(SCRIPTS, "lxrun")
PYCLI = os.path.join(SCRIPTS, "lxrun-py")
HANDOVER = "lxrun: front door: "


def is_elf(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not is_elf(FRONT) or not os.access(PYCLI, os.X_OK),
                                reason="the front door is not installed (make build)")


def run(argv, env=None, **kw):
    e = dict(os.environ)
    e.update(env or {})
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([str(a) for a in argv], env=e, **kw)


def served(*args, env=None, **kw):
    """lxrun ARGS, which the front door must run itself."""
    r = run([FRONT, *args], env={"LXRUN_DEBUG_FRONTDOOR": "1", **(env or {})}, **kw)
    assert HANDOVER not in r.stderr, r.stderr
    return r


def handed_over(*args, env=None, **kw):
    """lxrun ARGS, which the front door must hand to Python; the reason is
    taken off stderr (returned as .reason)."""
    r = run([FRONT, *args], env={"LXRUN_DEBUG_FRONTDOOR": "1", **(env or {})}, **kw)
    lines = r.stderr.splitlines(keepends=True)
    reasons = [l for l in lines if l.startswith(HANDOVER)]
    assert reasons, f"the front door ran it itself: {r.stderr!r}"
    r.reason = reasons[0]
    r.stderr = "".join(l for l in lines if not l.startswith(HANDOVER))
    return r


def python(*args, **kw):
    return run([PYCLI, *args], **kw)


def test_lxrun_is_the_front_door_and_python_stays_installed():
    assert is_elf(FRONT)
    assert python("--help").stdout.startswith("Usage: lxrun ")
    on_path = shutil.which("lxrun")
    assert on_path is not None
    r = run(["lxrun", "--help"])
    assert r.returncode == 0 and r.stdout.startswith("Usage: lxrun "), r.stderr


@pytest.fixture(scope="module")
def warm(rootfs):
    """The brands these tests use, compiled by the Python CLI into the cache."""
    for opts in ([], ["--kernel-release", "4.19.0"], ["--deny", "uname=EACCES"]):
        r = python(*opts, rootfs, "/bin/true")
        assert r.returncode == 0, r.stderr
    return rootfs


AGREE = [
    ([], ["/bin/sh", "-c", "echo out; echo err >&2; exit 7"]),
    ([], ["/bin/sh", "-c", "kill -TERM $$"]),
    ([], ["/bin/sh", "-c", "kill -KILL $$"]),
    ([], ["/bin/sh", "-c", "exit 255"]),
    (["--hostname", "box", "--env", "A=1", "--env", "PATH=/bin", "--cwd", "/tmp", "--uid", "5", "--gid", "6"],
     ["sh", "-c", "hostname; echo $A $PATH $HOME $TERM; pwd; id -u; id -g"]),
    (["--hostname=h2", "--net=host", "--no-tty"], ["/bin/sh", "-c", "hostname; ls /sys/class/net | grep -c ."]),
    (["--deny", "uname=EACCES"], ["/bin/uname"]),
    (["--ephemeral"], ["/bin/sh", "-c", "touch /etc/frontdoor-was-here && ls /etc/frontdoor-was-here"]),
    (["--tmp-size", "10m", "--shm-size", "1M"], ["/bin/sh", "-c", "df -k /tmp /dev/shm | tail -2 | awk '{print $2}'"]),
    (["--"], ["/bin/echo", "--hostname", "x"]),
    (["run"], ["ls", "-d", "/"]),
]


@pytest.mark.parametrize("opts, cmd", AGREE, ids=[" ".join(o + c)[:60] for o, c in AGREE])
def test_front_door_and_python_agree(warm, opts, cmd):
    if opts[:1] == ["run"]:
        args = ["run", warm, *cmd]
    else:
        args = [*opts, warm, *cmd]
    c = served(*args)
    p = python(*args)
    assert (c.returncode, c.stdout, c.stderr) == (p.returncode, p.stdout, p.stderr)


PERSONALITY = "uname -a; cat /proc/version /proc/sys/kernel/osrelease /proc/sys/kernel/version; uname -r"


def test_a_kernel_release_is_served_with_the_personalitys_files(warm):
    """uname (the C handler) and the personality's files (/proc/version,
    /proc/sys/kernel/osrelease and version, from the brand cache) as the
    Python CLI shows them, without Python."""
    args = ["--kernel-release", "4.19.0", warm, "/bin/sh", "-c", PERSONALITY]
    c = served(*args)
    p = python(*args)
    assert (c.returncode, c.stdout, c.stderr) == (p.returncode, p.stdout, p.stderr)
    lines = c.stdout.splitlines()
    assert lines[0].split()[2] == "4.19.0" and lines[1].startswith("Linux version 4.19.0 ")
    assert lines[2:] == ["4.19.0", "#1 SMP lxbrand 4.19.0", "4.19.0"]


def test_uname_follows_one_thread_into_its_own_namespace(warm):
    """The front door's C supervisor keeps each caller's UTS namespace and
    forgets it at unshare and setns (tests/test_supervisor.py for the library)."""
    r = served("--kernel-release", "4.19.0", "--hostname", "db1", warm, "python3", "-c", UNAME_SAME_THREAD)
    assert (r.returncode, r.stdout) == (0, "db1 db1 mine db1 4.19.0\n"), r.stderr


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_kernel_release_never_execs_python(warm, tmp_path):
    """Seen from outside: the front door's own execve calls (strace without
    -f: lxrun's process only) name no Python CLI."""
    log = tmp_path / "execve"
    r = run(["strace", "-qq", "-e", "trace=execve", "-o", log, FRONT, "--kernel-release", "4.19.0", warm,
             "uname", "-r"])
    assert (r.returncode, r.stdout) == (0, "4.19.0\n"), r.stderr
    calls = [line for line in log.read_text().splitlines() if line.startswith("execve(")]
    assert len(calls) == 1 and "lxrun-py" not in calls[0], calls


def test_a_directory_as_stdin_is_refused(warm, tmp_path):
    """The front door never gives the guest a directory as stdio (P6): one
    line, as Zone.run says it, and nothing runs."""
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = served(warm, "/bin/sh", "-c", "echo RAN", stdin=fd)
    finally:
        os.close(fd)
    assert r.stdout == ""
    assert one_line(r, 125).startswith("lxrun: stdin: fd 0 is a directory;")


def test_a_bind_mount(warm, tmp_path):
    (tmp_path / "f").write_text("from the host\n")
    os.chmod(tmp_path, 0o755)      # the guest's ids are not host root's
    args = ["--bind", f"{tmp_path}:/mnt/b:ro", warm, "/bin/sh", "-c", "cat /mnt/b/f; touch /mnt/b/g"]
    c = served(*args)
    p = python(*args)
    assert c.stdout == p.stdout == "from the host\n"
    assert c.returncode == p.returncode != 0
    assert "Read-only file system" in c.stderr


@pytest.mark.parametrize("cmd, code", [(["/bin/no-such-program"], 127), (["no-such-program"], 127),
                                       (["/etc/passwd"], 126)])
def test_a_command_that_cannot_run_is_said_by_python_in_one_line(warm, cmd, code):
    c = handed_over(warm, *cmd)
    assert "CMD could not be executed" in c.reason
    p = python(warm, *cmd)
    assert (c.returncode, c.stdout, c.stderr) == (p.returncode, p.stdout, p.stderr) == (code, "", p.stderr)
    one_line(p, code)


@pytest.mark.parametrize("args, why", [
    (["syscalls"], "a subcommand"),
    (["--help"], "an option the Python CLI serves (--help)"),
    (["--version"], "an option the front door does not know"),
    (["--net", "bogus", "ROOT", "true"], "a --net to judge"),
    (["--hostname", "-bad", "ROOT", "true"], "a hostname to judge"),
    (["--pids", "50", "ROOT", "/bin/sh", "-c", "echo ok"], "an option the Python CLI serves (--pids)"),
    (["-tv", "/tmp:/mnt", "ROOT", "true"], "a cluster of short options"),
    (["--uid", "x", "ROOT", "true"], "a --uid or --gid to judge"),
    (["--env", "NOEQUALS", "ROOT", "true"], "--env without K=V"),
    (["ROOT"], "no ROOTFS or no CMD"),
    (["/no/such/rootfs", "true"], "the rootfs is not a directory"),
])
def test_what_the_front_door_hands_to_python(warm, args, why):
    args = [warm if a == "ROOT" else a for a in args]
    c = handed_over(*args)
    assert why in c.reason
    p = python(*args)
    assert (c.returncode, c.stdout, c.stderr) == (p.returncode, p.stdout, p.stderr)


# --- the option table: generated from the Python CLI, never written in C --------

def _options_py():
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "csrc", "frontdoor",
                        "options.py")
    spec = importlib.util.spec_from_file_location("frontdoor_options", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_front_doors_option_table_is_the_python_clis():
    """Every flag of `lxrun run` with its parameter, arity, default and who
    serves it, as the installed front door has it, equals the table
    generated now from lxbrand/cli.py and config.py: a flag renamed, added
    or dropped there and not rebuilt here fails (and, at run time, the
    front door hands every run over until `make build`)."""
    opts = _options_py()
    r = run([FRONT], env={"_LXRUN_FRONTDOOR_TABLE": "1"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:-1] == opts.dump_rows()
    assert lines[-1].split("\t") == ["commands", *opts.commands()]
    served = {line.split("\t")[1] for line in lines[:-1] if line.endswith("\tserved")}
    assert served == set(opts.SERVED), "a served parameter lxrun.c does not apply"


def _python_rows():
    try:
        return [row for row in _options_py().table() if not row[4]]
    except Exception:       # collected without click or the package: the test above says why
        return []


@pytest.mark.parametrize("row", _python_rows(), ids=lambda row: row[0])
def test_every_option_the_front_door_does_not_serve_goes_to_python(warm, row):
    """An option the table does not mark served (--memory, --trace, one added
    this week) is handed over as given, with no change to the front door."""
    name, _, arity, _, _ = row
    value = ["1"] if arity == _options_py().VALUE else []
    h = handed_over(name, *value, warm, "/bin/true")
    assert f"an option the Python CLI serves ({name})" in h.reason


def test_syscalls_through_the_front_door():
    r = handed_over("syscalls")
    assert r.returncode == 0
    assert any(line.split()[:2] == ["63", "uname"] for line in r.stdout.splitlines())


# --- the brand cache ------------------------------------------------------------

def test_a_cache_miss_goes_to_python_which_fills_the_cache(warm, tmp_path):
    env = {"LXBRAND_CACHE": str(tmp_path / "cache")}
    first = handed_over(warm, "/bin/echo", "one", env=env)
    assert "no compiled brand" in first.reason
    assert first.stdout == "one\n"
    second = served(warm, "/bin/echo", "two", env=env)
    assert second.stdout == "two\n"
    files = os.listdir(tmp_path / "cache" / "frontdoor")
    assert len(files) == 1 and files[0].endswith(".brand")


def _cache_file(tmp_path, rootfs):
    env = {"LXBRAND_CACHE": str(tmp_path / "cache")}
    assert python(rootfs, "/bin/true", env=env).returncode == 0
    d = tmp_path / "cache" / "frontdoor"
    (name,) = os.listdir(d)
    return env, d / name


def test_a_cache_others_could_write_is_not_read(warm, tmp_path):
    env, path = _cache_file(tmp_path, warm)
    served(warm, "/bin/true", env=env)
    os.chmod(path, 0o666)
    assert "not this user's alone" in handed_over(warm, "/bin/true", env=env).reason
    os.chmod(path, 0o600)
    os.chmod(path.parent, 0o777)
    assert "not this user's alone" in handed_over(warm, "/bin/true", env=env).reason


def test_a_brand_older_than_the_table_is_not_used(warm, tmp_path):
    env, path = _cache_file(tmp_path, warm)
    data = bytearray(path.read_bytes())
    key_len, deps_len = struct.unpack_from("<II", data, 24)
    from lxbrand.brand.compile import _FRONTDOOR_HEAD
    start = _FRONTDOOR_HEAD.size + key_len
    deps = bytes(data[start:start + deps_len])
    first = deps.split(b"\n")[0]
    p, size, mtime = first.split(b"\t")
    stale = b"\t".join([p, size, str(int(mtime) - 1).encode().rjust(len(mtime), b"0")])
    assert len(stale) == len(first)
    data[start:start + len(first)] = stale
    path.write_bytes(bytes(data))
    assert "older than the table" in handed_over(warm, "/bin/true", env=env).reason


def test_a_brand_for_other_options_is_not_used(warm, tmp_path):
    """Two option sets never share a file, and a file names its options."""
    env, path = _cache_file(tmp_path, warm)
    served(warm, "/bin/true", env=env)
    r = handed_over("--deny", "getpid", warm, "/bin/true", env=env)
    assert "no compiled brand" in r.reason
    served("--deny", "getpid", warm, "/bin/true", env=env)
    assert len(os.listdir(path.parent)) == 2


def test_a_brand_another_install_compiled_is_not_used(warm, tmp_path):
    """Two installs of one user (a checkout, /opt/lxbrand) share the cache:
    the key names the install's compiled module, in C as in Python (the
    front door serves Python's file), and a file of another install's, its
    module's path another, is not read (its brand or tracer's part may be
    another version's)."""
    env, path = _cache_file(tmp_path, warm)
    served(warm, "/bin/true", env=env)
    import lxbrand._lxbrand_c as so
    data = bytearray(path.read_bytes())
    mark = b"\nmodule " + so.__file__.encode() + b"\n"
    at = data.find(mark)
    assert at > 0, "the key does not name the install's module"
    data[at + len(mark) - 2] ^= 1                  # another install's module path, as long
    path.write_bytes(bytes(data))
    assert "for other options" in handed_over(warm, "/bin/true", env=env).reason


# --- signals and the terminal ------------------------------------------------------

def test_a_signal_from_timeout_reaches_the_guests_process_group(warm):
    """timeout(1) signals lxrun; the guest's shell and its sleep get it (the
    shell's trap runs once its foreground sleep is gone)."""
    r = run(["timeout", "--preserve-status", "-s", "INT", "1", FRONT, warm, "/bin/sh", "-c", 'trap "exit 9" INT; sleep 30'],
            env={"LXRUN_DEBUG_FRONTDOOR": "1"})
    assert HANDOVER not in r.stderr
    assert r.returncode == 9, r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT])
def test_signals_sent_to_lxrun_are_forwarded(warm, sig):
    name = sig.name[3:]
    p = subprocess.Popen([FRONT, warm, "/bin/sh", "-c",
                          f"trap 'echo got {name}; exit 9' {name}; echo ready; while :; do sleep 0.05; done"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "LXRUN_DEBUG_FRONTDOOR": "1"})
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    # (the shell may say that its sleep was killed by the signal too)
    assert (p.returncode, out) == (9, f"got {name}\n"), err
    assert HANDOVER not in err


def test_an_untrapped_signal_gives_128_plus_n(warm):
    p = subprocess.Popen([FRONT, warm, "/bin/sh", "-c", "echo ready; exec sleep 60"],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n"
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 128 + signal.SIGTERM


def on_a_terminal(argv, env, timeout=30):
    pid, master = pty.fork()
    if pid == 0:
        os.environ.update(env)
        os.execv(argv[0], argv)
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


def test_on_a_terminal_the_front_door_relays_a_pty(warm):
    code, out = on_a_terminal([FRONT, warm, "/bin/sh", "-c", "tty; stty size; exit 4"],
                              {"LXRUN_DEBUG_FRONTDOOR": "1"})
    assert HANDOVER not in out, out
    assert code == 4, out
    assert "/dev/pts/0" in out, out


# --- many zones at once ---------------------------------------------------------------

def _lxbrand_cgroups() -> set:
    found = set()
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        for d in dirnames:
            if d.startswith("lxbrand-"):
                found.add(os.path.join(dirpath, d))
        if dirpath.count("/") > 8:
            dirnames[:] = []
    return found


def _init_of(pid: int):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return None
    for k in kids:
        try:
            with open(f"/proc/{k}/comm") as f:
                if f.read().strip() == "lxbrand-init":
                    with open(f"/proc/{k}/stat") as g:
                        return k, g.read().split(")")[-1].split()[19]   # starttime
        except OSError:
            pass
    return None


def guests_of(marker: str) -> list:
    """The guests' shells: `sh -c SCRIPT MARKER N` (lxrun's own command line
    holds the marker too)."""
    out = []
    for pid in subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[0] == b"/bin/sh":
                    out.append(pid)
        except OSError:
            pass
    return out


def test_fifty_zones_at_once_all_run_and_leave_nothing(warm):
    n = 50
    marker = f"lxbrand-fifty-{uuid.uuid4().hex[:12]}"
    with open("/proc/self/mountinfo") as f:
        mounts_before = f.read()
    procs = []
    try:
        for i in range(n):
            # blocked on its stdin until the test closes it
            procs.append(subprocess.Popen(
                [FRONT, warm, "/bin/sh", "-c", f'echo "ran $1"; read line; echo "done $1 $line"', marker, str(i)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "LXRUN_DEBUG_FRONTDOOR": "1"}))
        for i, p in enumerate(procs):
            assert p.stdout.readline() == f"ran {i}\n"
        # all fifty are up together: each has its init and its guest
        inits = [_init_of(p.pid) for p in procs]
        assert all(inits), inits
        assert len(guests_of(marker)) == n
        for i, p in enumerate(procs):
            out, err = p.communicate(f"bye{i}\n", timeout=120)
            assert (p.returncode, out, err) == (0, f"done {i} bye{i}\n", "")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    # nothing is left: no guest, no init, no cgroup, no mount on the host
    deadline = time.monotonic() + 10
    while guests_of(marker):
        assert time.monotonic() < deadline, "guest processes outlived their zones"
        time.sleep(0.05)
    for pid, start in inits:
        try:
            with open(f"/proc/{pid}/stat") as f:
                assert f.read().split(")")[-1].split()[19] != start, f"init {pid} outlived its zone"
        except FileNotFoundError:
            pass
    ours = {p.pid for p in procs}
    # lxbrand-PID-...: another test's cgroups (lxbrand-test-...) are not ours
    pids = [c.rsplit("/", 1)[1].split("-")[1] for c in _lxbrand_cgroups()]
    assert not [p for p in pids if p.isdigit() and int(p) in ours]
    with open("/proc/self/mountinfo") as f:
        mounts_after = f.read()
    added = set(mounts_after.splitlines()) - set(mounts_before.splitlines())
    assert not [m for m in added if warm in m or "lxbrand" in m], added


def test_a_brand_other_options_shaped_is_never_stored(warm, tmp_path):
    """--memory may emulate sysinfo in Python: that brand is not the one the
    key (--kernel-release, --deny) names, so the Python CLI leaves no file."""
    cache = tmp_path / "cache"
    python("--memory", "256M", warm, "/bin/true", env={"LXBRAND_CACHE": str(cache)})
    d = cache / "frontdoor"
    assert not d.exists() or os.listdir(d) == []
