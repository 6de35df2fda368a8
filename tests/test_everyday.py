"""Everyday use (issue 15): what a new user meets first, held to the
conventions of chroot(1), bwrap and podman.  Where a terminal matters the
test runs lxrun on a real pty (python's pty module); the README's shell
examples run here exactly as written."""
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from conftest import one_line

import lxbrand.rootfs
from lxbrand import command, idshift, manpage, zone

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(PROJECT, "README.md")
MANPAGE = os.path.join(PROJECT, "docs", "lxrun.1")


def on_a_terminal(argv, keys=b"", timeout=30, env=None):
    """Run argv with a pty as its controlling terminal, stdin and stdout; type
    `keys`; return (exit code, everything the terminal showed)."""
    pid, master = pty.fork()
    if pid == 0:
        if env is not None:
            os.environ.update(env)
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
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


# -- --tty without a terminal ------------------------------------------------------

@pytest.mark.parametrize("flag", ["--tty", "-t"])
def test_tty_with_stdin_not_a_terminal_is_one_line(rootfs, lxrun, flag):
    r = lxrun(flag, rootfs, "sh", stdin=subprocess.DEVNULL)
    assert one_line(r, 125) == ("lxrun: --tty: stdin is not a terminal; run lxrun from a terminal, "
                                "or without --tty for pipes")
    assert "Traceback" not in r.stderr


def test_tty_on_a_terminal_still_works(rootfs):
    code, out = on_a_terminal(["lxrun", "-t", rootfs, "/bin/sh", "-c", "tty; exit 6"])
    assert code == 6 and "/dev/pts/0" in out, out


@pytest.mark.parametrize("entry", ["lxrun", "lxrun-py"])
def test_the_zones_terminal_is_its_users(rootfs, entry):
    """The zone's pty is owned by the zone's user (group tty, 0620), as login
    and script leave it, so the guest opens its own terminal by name:
    $(tty), ttyname(3), screen and GPG_TTY do.  It was init's, an id a
    root-run zone does not map (65534): EACCES."""
    script = ("stat -c '%u %g %a' $(tty); echo again > $(tty) && echo reopened; "
              "python3 -c 'import os; os.close(os.open(os.ttyname(0), os.O_RDWR)); print(\"ttyname ok\")'")
    code, out = on_a_terminal([entry, "-t", rootfs, "/bin/sh", "-c", script])
    assert code == 0, out
    lines = [l.strip() for l in out.splitlines()]
    assert lines[-4:] == [("0 5 620" if os.geteuid() == 0 else "0 0 620"), "again", "reopened", "ttyname ok"], out
    code, out = on_a_terminal([entry, "-t", "--uid", "1000", rootfs, "/bin/sh", "-c", "stat -c '%u' $(tty)"])
    if os.geteuid() == 0:
        assert out.strip().splitlines()[-1] == "1000", out


# -- lxrun rootfs create -------------------------------------------------------------

def test_rootfs_create_at_an_existing_file(tmp_path, lxrun):
    f = tmp_path / "file"
    f.write_text("keep")
    r = lxrun("rootfs", "create", f)
    assert one_line(r, 1) == f"lxrun: {f}: exists and is not a directory; choose a new one"
    assert f.read_text() == "keep"


def mirror_index():
    names = lxbrand.rootfs.package_index("bookworm", lxbrand.rootfs.DEFAULT_MIRROR)
    if not names:
        pytest.skip(f"{lxbrand.rootfs.DEFAULT_MIRROR} cannot be read from here")
    return names


def test_rootfs_create_names_a_misspelt_package_before_bootstrapping(tmp_path, lxrun):
    mirror_index()
    start = time.monotonic()
    r = lxrun("rootfs", "create", tmp_path / "new", "--include", "python3,pyhton3")
    took = time.monotonic() - start
    assert one_line(r, 1) == (f"lxrun: package 'pyhton3' is not in bookworm (main, amd64) at "
                              f"{lxbrand.rootfs.DEFAULT_MIRROR} (did you mean python3?); nothing was created")
    assert not (tmp_path / "new").exists()
    assert took < 30, f"the check took {took:.0f} s: it must come before the bootstrap"


def test_package_check_knows_virtual_packages_and_leaves_other_specs_to_apt():
    index = {"python3", "mawk", "awk"}          # awk: provided by mawk
    lxbrand.rootfs.check_packages(["python3", "awk", "python3=3.11.2-1", "./local.deb"], "s", "m", index)
    with pytest.raises(lxbrand.rootfs.RootfsError, match="'gawk' is not in s"):
        lxbrand.rootfs.check_packages(["gawk"], "s", "m", index)
    with pytest.raises(lxbrand.rootfs.RootfsError, match="not a package name"):
        lxbrand.rootfs.check_packages(["python3; rm -rf /"], "s", "m", index)


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "empty-dir"])
def test_a_failed_rootfs_create_leaves_nothing_so_a_retry_works(tmp_path, lxrun, existing):
    """A mirror that does not answer: mmdebstrap fails after it began the
    tree; the tree goes, so the retry meets the same error, not 'not empty'."""
    target = tmp_path / "new"
    if existing:
        target.mkdir()
    for attempt in (1, 2):
        r = lxrun("rootfs", "create", target, "--mirror", "http://127.0.0.1:9/debian")
        assert r.returncode == 1, r.stderr
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith(f"lxrun: mmdebstrap failed with status ") and \
            f"making {target}; the partial tree was removed" in last, (attempt, last)
        assert "not empty" not in r.stderr
        if existing:
            assert target.is_dir() and os.listdir(target) == []
        else:
            assert not target.exists()


def nobody_has_subordinate_ids() -> bool:
    try:
        with open("/etc/subuid") as f:
            listed = any(line.split(":")[0] in ("nobody", "65534") for line in f)
    except OSError:
        return False
    return listed and shutil.which("newuidmap") is not None


def test_rootless_rootfs_create_says_what_to_install(unprivileged):
    """mmdebstrap's unshare mode needs subordinate ids; without them lxrun
    says what to install before anything is made."""
    if nobody_has_subordinate_ids():
        pytest.skip("nobody has subordinate ids here: a rootless create would really run")
    if shutil.which("debootstrap") or os.access("/usr/sbin/debootstrap", os.X_OK):
        pytest.skip("debootstrap is installed: without subordinate ids it runs in a fake-root zone "
                    "(tests/test_fakeroot.py test_rootfs_create_without_subordinate_ids_*)")
    target = os.path.join(tempfile.gettempdir(), f"lxbrand-rootless-{os.getpid()}")
    r = unprivileged.lxrun("rootfs", "create", target)
    line = one_line(r, 1)
    assert line.startswith("lxrun: rootfs create as an ordinary user without subordinate ids"), line
    for what in ("uidmap", "/etc/subuid", "/etc/subgid", "usermod --add-subuids", "run it as root"):
        assert what in line, (what, line)
    assert not os.path.exists(target)


def test_a_rootless_tree_is_unpacked_in_a_zones_ids(tmp_path, monkeypatch):
    """The stream mmdebstrap writes is unpacked by tar as root of a user
    namespace mapped as a zone's (0 = the user, 1.. = the subordinate ids),
    so a file root owns in mmdebstrap's chroot is root's in the zone, not
    uid 1's (daemon).  Here root stands in for newuidmap (it may write any
    map) and tar -c for mmdebstrap."""
    if os.geteuid() != 0:
        pytest.skip("root plays newuidmap")
    src = tmp_path / "src"
    (src / "etc").mkdir(parents=True)
    (src / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (src / "daemon-file").write_text("")
    (src / "apt-file").write_text("")
    os.chown(src / "daemon-file", 1, 1)
    os.chown(src / "apt-file", 42, 42)
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool, kind in (("newuidmap", "uid"), ("newgidmap", "gid")):
        # one write(2), as the kernel takes a map
        (fake / tool).write_text(f'#!/bin/sh\npid=$1; shift; m=""\nwhile [ $# -gt 0 ]; do m="$m$1 $2 $3\n"; '
                                 f'shift 3; done\nprintf "$m" > /proc/$pid/{kind}_map\n')
        (fake / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    maps = (zone._map_around(0, 1000, (100000, 65536)), zone._map_around(0, 1000, (100000, 65536)))
    assert maps[0] == "0 1000 1\n1 100000 65535\n"      # what a zone run by uid 1000 has
    # where uid 1000 can reach it (tmp_path is in root's 0700 directory)
    reachable = tempfile.mkdtemp(prefix="lxbrand-unpack-", dir="/tmp")
    try:
        os.chmod(reachable, 0o755)
        target = os.path.join(reachable, "tree")
        os.mkdir(target)
        os.chown(target, 1000, 1000)
        status, err = lxbrand.rootfs._unpack_rootless(["tar", "-c", "--numeric-owner", "-C", str(src), "."],
                                                      target, maps, quiet=True)
        assert status == 0, err
        owners = {name: (os.lstat(os.path.join(target, name)).st_uid, os.lstat(os.path.join(target, name)).st_gid)
                  for name in ("etc", "etc/passwd", "daemon-file", "apt-file")}
    finally:
        shutil.rmtree(reachable)
    assert owners == {"etc": (1000, 1000), "etc/passwd": (1000, 1000),
                      "daemon-file": (100000, 100000), "apt-file": (100041, 100041)}


def test_info_explains_a_one_id_zone(unprivileged):
    r = unprivileged.lxrun("info")
    assert r.returncode == 0, r.stderr
    if "only you" in r.stdout:
        # --fakeroot is on by default for a one-id user: setuid works on fake ids
        assert "with --fakeroot (on by default) setuid, setgid" in r.stdout
        assert "with --no-fakeroot setuid/setgid to any other id fails with EINVAL" in r.stdout
        assert "APT::Sandbox::User=root" in r.stdout and "uidmap" in r.stdout
        # (tests/test_fakeroot.py test_setpriv_and_su_show_the_fake_id: it is so)


def test_info_as_root_has_no_setuid_hint(lxrun):
    if os.geteuid() != 0:
        pytest.skip("root's view")
    assert "setuid:" not in lxrun("info").stdout


# -- conventions: the command ----------------------------------------------------------

def test_a_hashbang_line_ending_in_cr_says_so(scratch_rootfs, lxrun):
    script = os.path.join(scratch_rootfs, "bin", "dos")
    with open(script, "wb") as f:
        f.write(b"#!/bin/sh\r\necho hi\r\n")
    os.chmod(script, 0o755)
    r = lxrun(scratch_rootfs, "/bin/dos")
    line = one_line(r, 127)
    assert "its #! line ends in a carriage return (DOS line endings)" in line, line
    assert "sed -i 's/\\r$//'" in line, line


def test_without_cmd_the_zones_login_shell_runs_on_a_terminal(rootfs):
    code, out = on_a_terminal(["lxrun", rootfs], b"echo shell=$0 flags=$-; exit 7\n")
    assert code == 7, out
    assert "shell=/bin/bash" in out and re.search(r"flags=\S*i", out), out   # root's shell, interactive


def test_without_cmd_and_without_a_terminal(rootfs, lxrun):
    r = lxrun(rootfs, input="echo shell=$0; exit 3\n")
    assert r.returncode == 3 and "shell=/bin/bash" in r.stdout, (r.stdout, r.stderr)


def test_the_login_shell_follows_uid_and_falls_back_to_bin_sh(rootfs, scratch_rootfs, lxrun):
    assert command.login_shell(rootfs, 0) == ["/bin/bash", "-i"]
    assert command.login_shell(rootfs, 1) == ["/bin/sh", "-i"]         # daemon: /usr/sbin/nologin
    assert command.login_shell(rootfs, 4242) == ["/bin/sh", "-i"]      # no such user
    os.remove(os.path.join(scratch_rootfs, "etc", "passwd"))
    assert command.login_shell(scratch_rootfs, 0) == ["/bin/sh", "-i"]
    r = lxrun("--uid", "4242", rootfs, input="echo shell=$0; id -u\n")
    assert (r.returncode, r.stdout) == (0, "shell=/bin/sh\n4242\n"), r.stderr


# -- conventions: the command line -----------------------------------------------------

def test_a_mistyped_subcommand_is_not_a_rootfs(tmp_path, lxrun):
    r = lxrun("sycalls", cwd=tmp_path)
    assert one_line(r, 125) == "lxrun: sycalls: no such command or directory (did you mean syscalls?)"
    r = lxrun("rootsf", "create", "x", cwd=tmp_path)
    assert one_line(r, 125) == "lxrun: rootsf: no such command or directory (did you mean rootfs?)"
    r = lxrun("qwertyuiop", "true", cwd=tmp_path)
    assert one_line(r, 125) == "lxrun: qwertyuiop: no such command or directory"
    # a path is a rootfs, and says so
    r = lxrun("./sycalls", "true", cwd=tmp_path)
    assert one_line(r, 125) == f"lxrun: {tmp_path}/sycalls: rootfs does not exist"


def test_a_directory_named_like_a_typo_is_a_rootfs(tmp_path, lxrun, scratch_rootfs):
    os.symlink(scratch_rootfs, tmp_path / "sycalls")
    r = lxrun("sycalls", "echo", "ok", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_top_level_help_shows_the_run_options(lxrun):
    out = lxrun("--help").stdout
    assert "Run options (lxrun [OPTIONS] ROOTFS [CMD [ARGS...]])" in out
    for opt in ("--ephemeral", "-v, --bind", "-e, --env", "--env-file", "-w, --cwd", "-u, --uid",
                "--domainname", "--kernel-release", "--deny", "-t, --tty / --no-tty", "syscalls", "rootfs"):
        assert opt in out, opt


def test_shell_completion_as_documented(tmp_path):
    """The line README.md and lxrun(1) give, in a real bash."""
    script = 'eval "$(_LXRUN_COMPLETE=bash_source lxrun)"; complete -p lxrun'
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "_lxrun_completion" in r.stdout, r.stderr
    assert "_LXRUN_COMPLETE=bash_source lxrun" in open(README).read()

    def complete(*words):
        env = dict(os.environ, COMP_WORDS=" ".join(("lxrun",) + words), COMP_CWORD=str(len(words)),
                   _LXRUN_COMPLETE="bash_complete")
        return subprocess.run(["lxrun"], env=env, capture_output=True, text=True, timeout=60,
                              cwd=tmp_path).stdout.split()
    assert "plain,syscalls" in complete("sys")
    assert "plain,create" in complete("rootfs", "c")
    assert "plain,--ephemeral" in complete("--eph")
    assert "dir,/sr" in complete("/sr")        # a ROOTFS: bash completes directories


# -- signals ---------------------------------------------------------------------------

# `lxrun` on PATH may be the C front door (csrc/frontdoor/), which serves a
# plain run itself; `python3 -m lxbrand.cli` is always the Python CLI
ENTRIES = {"lxrun": ["lxrun"], "python-cli": [sys.executable, "-m", "lxbrand.cli"]}


@pytest.fixture(params=sorted(ENTRIES))
def entry(request):
    return ENTRIES[request.param]


def start(rootfs, script, entry=("lxrun",)):
    p = subprocess.Popen([*entry, rootfs, "/bin/sh", "-c", script], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n", p.stderr.read()
    return p


def test_every_catchable_signal_is_forwarded():
    assert zone.NOT_FORWARDED == {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGSEGV,
                                  signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGTRAP, signal.SIGSYS}
    assert set(zone.FORWARDED_SIGNALS) == set(signal.valid_signals()) - zone.NOT_FORWARDED


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT,
                                 signal.SIGALRM, signal.SIGPIPE, signal.SIGRTMIN + 3],
                         ids=lambda s: signal.Signals(s).name if s in signal.Signals._value2member_map_ else str(s))
def test_signal_reaches_the_guest(rootfs, entry, sig):
    n = int(sig)
    p = start(rootfs, f"trap 'echo got {n}; exit 9' {n}; echo ready; while :; do sleep 0.05; done", entry)
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert (p.returncode, out) == (9, f"got {n}\n"), err


def state(pid) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_for(cond, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def zone_of(p, marker):
    """The host pid of the guest's process whose command line has `marker`."""
    pids = [int(x) for x in subprocess.run(["pgrep", "-f", marker], capture_output=True,
                                           text=True).stdout.split() if int(x) != p.pid]
    assert len(pids) == 1, pids
    return pids[0]


def test_tstp_stops_lxrun_as_a_job_and_cont_resumes_it(rootfs, entry):
    """`kill -TSTP` (or ^Z on lxrun's terminal without --tty): lxrun passes it
    on and stops itself, so the shell sees its job stopped; `fg` (CONT)
    resumes it, and the zone still runs."""
    p = start(rootfs, "echo ready; while :; do sleep 0.05; done", entry)
    try:
        p.send_signal(signal.SIGTSTP)
        wait_for(lambda: state(p.pid) == "T", "lxrun did not stop itself")
        # the main thread shows T before the group stop completes (lxrun-py's
        # other threads stop after it): the parent hears of it a moment later
        seen = []
        wait_for(lambda: seen.append(os.waitpid(p.pid, os.WUNTRACED | os.WNOHANG)) or seen[-1][0] == p.pid,
                 "the shell was not told that lxrun stopped")
        status = seen[-1][1]
        assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGSTOP, status
        p.send_signal(signal.SIGCONT)
        wait_for(lambda: state(p.pid) != "T", "lxrun did not continue")
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        assert p.returncode == 128 + signal.SIGTERM
    finally:
        p.kill()
        p.wait()


def test_tstp_stops_the_guest_and_cont_resumes_it(rootfs, entry):
    """The guest's group is orphaned (its own session under init), where the
    kernel drops a default-action TSTP: init sends SIGSTOP instead unless the
    guest catches TSTP (csrc/zone_init.c)."""
    marker = "tstp-marker-4711"
    p = start(rootfs, f"echo ready; while :; do sleep 0.05; done # {marker}", entry)
    try:
        guest = zone_of(p, marker)
        p.send_signal(signal.SIGTSTP)
        wait_for(lambda: state(p.pid) == "T", "lxrun did not stop itself")
        wait_for(lambda: state(guest) == "T", "the guest did not stop", timeout=3)
        p.send_signal(signal.SIGCONT)
        wait_for(lambda: state(guest) != "T", "the guest did not continue")
    finally:
        p.kill()
        p.wait()


# -- options ---------------------------------------------------------------------------

def test_domainname(rootfs, lxrun):
    r = lxrun("--domainname", "example.org", rootfs, "cat", "/proc/sys/kernel/domainname")
    assert (r.returncode, r.stdout) == (0, "example.org\n"), r.stderr


def test_env_name_passes_the_callers_value(rootfs, lxrun):
    env = dict(os.environ, LXB_FROM_CALLER="it works")
    env.pop("LXB_UNSET", None)
    r = lxrun("-e", "LXB_FROM_CALLER", "-e", "LXB_UNSET", "--env", "K=v=w", rootfs, "sh", "-c",
              'echo "$LXB_FROM_CALLER|${LXB_UNSET-unset}|$K"', env=env)
    assert (r.returncode, r.stdout) == (0, "it works|unset|v=w\n"), r.stderr


def test_env_file(rootfs, lxrun, tmp_path):
    f = tmp_path / "env"
    f.write_text("# a comment\n\nA=from file\nB=b\nLXB_FROM_CALLER\n")
    env = dict(os.environ, LXB_FROM_CALLER="caller")
    r = lxrun("--env-file", f, "-e", "B=cli", rootfs, "sh", "-c", 'echo "$A|$B|$LXB_FROM_CALLER"', env=env)
    assert (r.returncode, r.stdout) == (0, "from file|cli|caller\n"), r.stderr
    f.write_text("A=1\nnot a name\n")
    r = lxrun("--env-file", f, rootfs, "true")
    assert one_line(r, 125) == (f"lxrun: Invalid value for '--env-file': {f}:2: 'not a name': "
                                "expected NAME=VALUE or NAME")
    r = lxrun("--env-file", tmp_path / "missing", rootfs, "true")
    assert "No such file or directory" in one_line(r, 125)


def test_short_options_as_podman_has_them(rootfs, lxrun, tmp_path):
    tmp_path.chmod(0o755)       # a root-run zone's ids are not root's: let them in
    (tmp_path / "seen").write_text("bound\n")
    r = lxrun("-e", "X=1", "-v", f"{tmp_path}:/mnt:ro", "-w", "/mnt", "-u", "1000", rootfs,
              "sh", "-c", 'echo $X; pwd; cat seen; id -u')
    assert (r.returncode, r.stdout) == (0, "1\n/mnt\nbound\n1000\n"), r.stderr


def test_uid_help_says_how_ids_map(lxrun):
    out = " ".join(lxrun("run", "--help").stdout.split())
    assert f"zone ids 0-65535 are host ids {idshift.BASE}-{idshift.BASE + idshift.COUNT - 1}" in out
    assert "/etc/subuid" in out and "newuidmap" in out and "lxrun info" in out


# -- docs ------------------------------------------------------------------------------

def test_the_man_page_is_current():
    with open(MANPAGE) as f:
        assert f.read() == manpage.render(), "docs/lxrun.1 is stale: run `make manpage`"


def test_the_man_page_renders_without_warnings():
    if not shutil.which("groff"):
        pytest.skip("groff is not installed")
    r = subprocess.run(["groff", "-man", "-ww", "-z", MANPAGE], capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (0, "")
    text = subprocess.run(["groff", "-man", "-Tutf8", MANPAGE], capture_output=True, text=True).stdout
    for opt in ("--ephemeral", "--env-file", "rootfs create", "EXIT STATUS", "SIGNALS"):
        assert opt in re.sub(r".\x08", "", text).replace("\u2010", "-"), opt


def test_make_installs_the_man_page(tmp_path):
    r = subprocess.run(["make", "-s", "-C", PROJECT, "install-man", f"MANDIR={tmp_path}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "man1" / "lxrun.1") as a, open(MANPAGE) as b:
        assert a.read() == b.read()
    make = open(os.path.join(PROJECT, "Makefile")).read()
    assert re.search(r"^setup:.*\binstall-man\b", make, re.M), "make setup must install lxrun(1)"


def test_readme_links_the_design_in_the_project():
    text = open(README).read()
    assert "../shared" not in text
    assert "(docs/DESIGN.md)" in text and os.path.exists(os.path.join(PROJECT, "docs", "DESIGN.md"))


# -- the README's shell examples, exactly as written ---------------------------------------

# lines not run here, and why; every other line of the block runs and must
# exit 0 unless EXPECT says otherwise
NOT_RUN = {
    "lxrun rootfs create": "bootstraps Debian from the network into /srv (~35 s): the create tests cover it",
    "python3 -m http.server": "a server that runs until stopped: networking is its own test",
}
# a part of the line -> (exit status, text the output must contain)
EXPECT = {
    "lxrun $root  ": (0, ""),
    "hostname; ps -ef": (0, "lxbrand-init"),
    "uname -r": (0, "4.19.0\n"),
    "--uid 1000 --gid 1000": (0, "uid=1000 gid=1000"),
    "--deny mkdir=EROFS": (1, "mkdir: cannot create directory '/x': Read-only file system"),
    "--cwd /src $root ls": (0, "seen-by-the-zone"),
    "lxrun syscalls": (0, "uname"),
}


def readme_shell_examples() -> list[str]:
    text = open(README).read()
    m = re.search(r"## Using it\n+```sh\n(.*?)```", text, re.S)
    assert m, "README.md: the shell block of 'Using it' is missing"
    return [line for line in m.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_readme_first_line_sets_root():
    assert readme_shell_examples()[0].startswith("root=$(python3 -m lxbrand.rootfs)")


@pytest.mark.parametrize("line", readme_shell_examples()[1:])
def test_readme_example(rootfs, tmp_path, line):
    why = [reason for key, reason in NOT_RUN.items() if key in line]
    if why:
        pytest.skip(why[0])
    tmp_path.chmod(0o755)       # $PWD, bound by an example: a root-run zone's ids are not root's
    (tmp_path / "seen-by-the-zone").write_text("")
    setup = readme_shell_examples()[0]
    r = subprocess.run(["bash", "-c", f"{setup}\n{line}"], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path, stdin=subprocess.DEVNULL)
    code, text = next((v for k, v in EXPECT.items() if k in line), (0, ""))
    assert r.returncode == code, (line, r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert text in r.stdout + r.stderr, (line, r.stdout[-2000:], r.stderr[-2000:])


# -- mount points: a rootfs that is not --ephemeral is never written -----------

def _tree_state(d) -> list:
    st = os.lstat(d)
    out = [(".", st.st_mode, st.st_uid, st.st_mtime_ns)]
    for dirpath, dirnames, filenames in os.walk(d):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out.append((os.path.relpath(p, d), st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns))
    return sorted(out)


@pytest.mark.parametrize("extra", [[], ["--read-only"]], ids=["rw", "read-only"])
def test_readme_bind_example_leaves_the_rootfs_unchanged(scratch_rootfs, tmp_path, lxrun, extra):
    """The README's `--bind $PWD:/src` on a rootfs without /src (nor /proc,
    /dev, /tmp, /sys: the scratch rootfs has none): the bind works, and the
    rootfs on disk is as it was (lxrun shows the mount points in a tmpfs)."""
    src = tmp_path / "work"
    src.mkdir()
    src.chmod(0o755)
    (src / "hello").write_text("from the host\n")
    lxrun(scratch_rootfs, "true")           # run by root, the first run shifts the tree's ids
    before = _tree_state(scratch_rootfs)
    r = lxrun(*extra, "--bind", f"{src}:/src:ro", "--cwd", "/src", scratch_rootfs, "sh", "-c",
              "cat hello; ls /proc/1/status /dev/null; echo x > /tmp/x && cat /tmp/x; ls -d /sys")
    assert r.returncode == 0, r
    assert r.stdout.split() == ["from", "the", "host", "/dev/null", "/proc/1/status", "x", "/sys"], r
    r = lxrun(*extra, "--bind", f"{src}:/newdir/sub", scratch_rootfs, "cat", "/newdir/sub/hello")
    assert r.returncode == 0 and r.stdout == "from the host\n", r
    assert _tree_state(scratch_rootfs) == before, "lxrun wrote to a rootfs that is not --ephemeral"


def test_ephemeral_mount_points_go_to_the_overlay(scratch_rootfs, tmp_path, lxrun):
    src = tmp_path / "work"
    src.mkdir()
    src.chmod(0o755)
    lxrun(scratch_rootfs, "true")
    before = _tree_state(scratch_rootfs)
    r = lxrun("--ephemeral", "--bind", f"{src}:/a/b", scratch_rootfs, "sh", "-c", "ls -d /a/b; touch /new")
    assert r.returncode == 0 and r.stdout == "/a/b\n", r
    assert _tree_state(scratch_rootfs) == before
