"""Job control under `lxrun --tty`: a typed ^Z stops the guest and gives the
user's shell back, as it would stop the program run natively; `fg` resumes
both (csrc/zone_init.c JOB CONTROL, csrc/frontdoor/lxrun.c job_stop,
lxbrand/zone.py _job_stop).  Each test drives a job-control shell (bash -i)
on a pty of its own, which runs lxrun as its job, and types to it as a user
would; the guest's state is read from /proc by its host pid.  Without this,
the guest led a session of its own under the zone's init, its process group
was orphaned, and the kernel dropped the terminal's stop signals: ^Z did
nothing."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

import pytest

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the C front door (csrc/frontdoor/) and the Python CLI, typed to the shell
ENTRIES = {"lxrun": "lxrun", "python-cli": f"{sys.executable} -m lxbrand.cli"}


@pytest.fixture(params=sorted(ENTRIES))
def entry(request):
    return ENTRIES[request.param]


class Shell:
    """bash -i on a pty of its own (its controlling terminal): what it shows,
    and keys typed to it."""

    def __init__(self):
        env = dict(os.environ, PS1="outer$ ", TERM="dumb", HISTFILE="/dev/null", PYTHONPATH=PROJECT)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(PROJECT)
            os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
        self.seen = b""
        self.expect(r"outer\$ ")

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def expect(self, pattern: str, timeout: float = 30) -> re.Match:
        """Wait until the screen, from after the last match, matches pattern."""
        rx = re.compile(pattern.encode(), re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.seen)
            if m:
                self.seen = self.seen[m.end():]
                return m
            left = deadline - time.monotonic()
            assert left > 0, f"{pattern!r} not shown; the screen ends with {self.seen[-1500:]!r}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    self.seen += os.read(self.fd, 65536)
                except OSError:
                    pass

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def close(self) -> None:
        for pid in [self.pid, *descendants(self.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def shell():
    s = Shell()
    yield s
    s.close()


def children(pid: int) -> list:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    return out


def descendants(pid: int) -> list:
    out, todo = [], children(pid)
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def cmdline(pid: int) -> list:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")[:-1]
    except FileNotFoundError:
        return []


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def wait_for(cond, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def the_job(shell: Shell) -> int:
    """The host pid of lxrun, the shell's one job."""
    return wait_for(lambda: (children(shell.pid) or [0])[0], "the shell started no job")


def guest_of(shell: Shell, argv: list) -> int:
    """The host pid of the zone's process whose command line is argv."""
    def find():
        found = [p for p in descendants(shell.pid) if cmdline(p) == argv]
        return found[0] if len(found) == 1 else 0
    return wait_for(find, f"no single {argv} in the zone")


def test_ctrl_z_stops_the_guest_and_lxrun_and_fg_resumes_both(shell, rootfs, entry):
    shell.type(f"{entry} --tty {rootfs} cat\r")
    lxrun, guest = the_job(shell), guest_of(shell, ["cat"])
    shell.type("hello\r")
    shell.expect("hello\r\nhello\r\n")                 # the zone's terminal echoes, cat repeats
    shell.type("\x1a")
    # the shell says so as for a native job stopped by ^Z (SIGTSTP: "Stopped",
    # not SIGSTOP's "Stopped (signal)") and prompts again
    shell.expect(r"\[1\]\+  Stopped +[^\r]*--tty[^\r]* cat\r\nouter\$ ")
    assert state(guest) == "T" and state(lxrun) == "T"
    shell.type("jobs -l\r")
    shell.expect(rf"\[1\]\+ +{lxrun} Stopped ")
    shell.expect(r"outer\$ ")
    shell.type("fg\r")
    wait_for(lambda: state(guest) != "T" and state(lxrun) != "T", "fg did not resume the guest and lxrun")
    shell.type("again\r")
    shell.expect("again\r\nagain\r\n")                 # raw again: the zone's terminal echoes
    shell.type("\x04")
    shell.expect(r"outer\$ ")
    shell.type("echo status=$?\r")
    shell.expect(r"status=0\r\n")


def test_a_guest_that_stops_itself_stops_lxrun_and_resumes_after_fg(shell, rootfs, entry):
    """vim and less restore the screen and then kill(0, SIGTSTP): the kernel
    dropped that too while the guest's group was orphaned."""
    prog = "import os,signal; print('going', flush=True); os.kill(0, signal.SIGTSTP); print('back')"
    shell.type(f"{entry} --tty {rootfs} python3 -c \"{prog}\"\r")
    shell.expect("going\r\n")
    shell.expect(r"Stopped +[^\r]*python3[^\r]*\r\nouter\$ ")
    assert b"back" not in shell.seen
    shell.type("fg\r")
    shell.expect("back\r\n")
    shell.expect(r"outer\$ ")
    shell.type("echo status=$?\r")
    shell.expect(r"status=0\r\n")


def test_after_fg_the_guest_sees_the_terminals_new_size(shell, rootfs, entry):
    """A screen program redraws on CONT, and on WINCH if the terminal was
    resized while it was stopped."""
    # WINCH blocked and waited for: one that came before a pause() (^Z may
    # come while the guest still prints) would leave it waiting
    prog = ("import os,signal; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGWINCH]); "
            "print('ready', flush=True); signal.sigwait([signal.SIGWINCH]); "
            "s = os.get_terminal_size(0); print('size', s.lines, s.columns)")
    shell.resize(24, 80)
    shell.type(f"{entry} --tty {rootfs} python3 -c \"{prog}\"\r")
    shell.expect("ready\r\n")
    guest = guest_of(shell, ["python3", "-c", prog])
    shell.type("\x1a")
    shell.expect(r"Stopped +[^\r]*\r\nouter\$ ")
    assert state(guest) == "T"
    shell.resize(33, 101)
    shell.type("fg\r")
    shell.expect("size 33 101\r\n")
    shell.expect(r"outer\$ ")


def test_a_job_control_shell_in_the_zone_stops_only_its_own_job(shell, rootfs, entry):
    """bash as the guest handles ^Z for its jobs, as on a terminal: its
    `sleep` stops, `jobs` shows it; bash and lxrun go on."""
    shell.type(f"{entry} --tty --env PS1='zone$ ' {rootfs} bash --norc --noprofile -i\r")
    shell.expect(r"zone\$ ")
    lxrun = the_job(shell)
    shell.type("sleep 31.4159\r")
    sleeper = guest_of(shell, ["sleep", "31.4159"])
    shell.type("\x1a")
    shell.expect(r"\[1\]\+  Stopped +sleep 31\.4159\r\nzone\$ ")
    assert state(sleeper) == "T"
    assert state(lxrun) != "T" and b"outer$" not in shell.seen
    shell.type("jobs\r")
    shell.expect(r"\[1\]\+  Stopped +sleep 31\.4159\r\nzone\$ ")
    shell.type("exit 7\r")
    # bash refuses once with a stopped job, unless `jobs` came just before
    if shell.expect(r"There are stopped jobs\.\r\n|outer\$ ").group(0).startswith(b"There"):
        shell.type("exit 7\r")
        shell.expect(r"outer\$ ")
    shell.type("echo status=$?\r")
    shell.expect(r"status=7\r\n")


def test_kill_tstp_of_lxrun_with_a_tty_stops_the_guest_and_lxrun(shell, rootfs, entry):
    """A stop sent to lxrun from outside reaches the guest's group; lxrun
    stops when the guest has (its own default action, as with ^Z)."""
    shell.type(f"{entry} --tty {rootfs} sleep 31.4159\r")
    lxrun, guest = the_job(shell), guest_of(shell, ["sleep", "31.4159"])
    os.kill(lxrun, signal.SIGTSTP)
    shell.expect(r"Stopped +[^\r]*sleep 31\.4159\r\nouter\$ ")
    assert state(guest) == "T" and state(lxrun) == "T"
    shell.type("fg\r")
    wait_for(lambda: state(guest) != "T", "fg did not resume the guest")
    shell.type("\x03")
    shell.expect(r"outer\$ ")
    shell.type("echo status=$?\r")
    shell.expect(r"status=130\r\n")


@pytest.mark.parametrize("mode", ["bpf", "ptrace"])
def test_ctrl_z_and_fg_under_trace_as_untraced_and_the_trace_shows_the_stop(shell, rootfs, entry, mode, tmp_path):
    """--trace changes no job control: ^Z stops the guest and lxrun (the
    ptrace tracer's thread with it: the guest's group-stop is held with
    PTRACE_LISTEN), fg resumes both; the trace shows the guest's stop as
    strace -f does, '--- SIGTSTP {...} ---' then '--- stopped by SIGTSTP ---',
    and the SIGCONT that ends it."""
    from lxbrand._csup import lib
    if mode == "bpf" and (os.geteuid() != 0 or lib.lxb_bpftrace_probe() < 0):
        pytest.skip("BPF programs cannot be loaded here")
    out = tmp_path / "trace"
    shell.type(f"LXBRAND_TRACE={mode} {entry} --tty --trace=read -o {out} {rootfs} cat\r")
    lxrun, guest = the_job(shell), guest_of(shell, ["cat"])
    shell.type("hello\r")
    shell.expect("hello\r\nhello\r\n")
    shell.type("\x1a")
    shell.expect(r"\[1\]\+  Stopped +[^\r]*--tty[^\r]* cat\r\nouter\$ ")
    assert state(guest) in ("T", "t") and state(lxrun) == "T"
    shell.type("fg\r")
    wait_for(lambda: state(guest) not in ("T", "t") and state(lxrun) != "T", "fg did not resume the guest and lxrun")
    shell.type("again\r")
    shell.expect("again\r\nagain\r\n")
    shell.type("\x04")
    shell.expect(r"outer\$ ")
    shell.type("echo status=$?\r")
    shell.expect(r"status=0\r\n")
    lines = out.read_text().splitlines()
    sig = [line.split("] ", 1)[1].split(" {")[0] for line in lines if "--- " in line]
    assert "--- SIGTSTP" in sig and "--- stopped by SIGTSTP ---" in sig, lines
    i = sig.index("--- stopped by SIGTSTP ---")
    assert sig[i - 1] == "--- SIGTSTP" and "--- SIGCONT" in sig[i + 1:], lines
