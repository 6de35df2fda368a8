"""lxrun --trace from BPF programs on the kernel's tracepoints (csrc/bpftrace.c,
csrc/bpf/trace.bpf.c; issue 13): the same programs traced by the BPF
programs and by the ptrace tracer (LXBRAND_TRACE=bpf / ptrace) give the same
lines, but for what the scheduler decides (durations, addresses, random
bytes, lock contention, where a SIGCHLD lands), through the C front door
and through lxrun-py; calls seccomp answers (--deny, the brand's denied
syscalls) are shown as the ptrace tracer answers them; signals, a fatal
signal, exits; a thread's execve; JSON that parses; an ordinary user gets
the ptrace tracer; strace inside the zone works under the BPF trace."""
import collections
import json
import os
import re
import subprocess
import sys

import pytest

from lxbrand._csup import lib

SCRIPTS = os.path.dirname(sys.executable)
FRONT = os.environ.get("LXRUN_TEST_FRONTDOOR") or os.path.join(SCRIPTS, "lxrun")
PYCLI = os.path.join(SCRIPTS, "lxrun-py")
HANDOVER = "lxrun: front door: "

needs_bpf = pytest.mark.skipif(os.geteuid() != 0 or lib.lxb_bpftrace_probe() < 0,
                               reason="BPF programs cannot be loaded here (root, BTF, built with clang/libbpf)")

# what the scheduler decides, not the program: lock contention, when a
# SIGCHLD comes (and the handler's return), a wait that found no child yet
TIMING = {"futex", "rt_sigreturn", "sched_yield"}
THREADS = TIMING | {"mmap", "munmap", "mprotect", "madvise"}   # arenas and stacks as threads overlap


def trace(prog, mode, args, tmp_path, fmt="text", env=None, check_front=True):
    """(process, the trace's text) of `prog --trace -o FILE ARGS` under LXBRAND_TRACE=mode."""
    out = tmp_path / f"trace.{mode}.{os.path.basename(prog)}.{fmt}"
    if out.exists():
        out.unlink()
    e = dict(os.environ, LXBRAND_TRACE=mode, LXRUN_DEBUG_FRONTDOOR="1", **(env or {}))
    p = subprocess.run([prog, "--trace", "--trace-format", fmt, "-o", str(out), *map(str, args)], env=e,
                       capture_output=True, text=True, timeout=300)
    if check_front and prog == FRONT:
        assert HANDOVER not in p.stderr, p.stderr
    return p, out.read_text()


def both(args, tmp_path, prog=FRONT, fmt="text"):
    """The same run traced by BPF and by ptrace (the first run of each leaves
    the front door its cache: a run handed to Python is repeated)."""
    for mode in ("bpf", "ptrace"):
        trace(prog, mode, args, tmp_path, fmt, check_front=False)
    pb, bpf = trace(prog, "bpf", args, tmp_path, fmt)
    pp, ptrace = trace(prog, "ptrace", args, tmp_path, fmt)
    assert (pb.returncode, pb.stdout) == (pp.returncode, pp.stdout), (pb.stderr, pp.stderr)
    return pb, bpf, ptrace


def _norm(body: str) -> str:
    body = re.sub(r" <[0-9.]+>$", "", body)                              # duration
    body = re.sub(r"0x[0-9a-f]+", "0x_", body)                           # addresses
    body = re.sub(r'getrandom\("[^"]*"', 'getrandom("_"', body)          # random bytes
    body = re.sub(r"tv_nsec=\d+", "tv_nsec=_", body)                     # clock readings
    if body.startswith(("utimensat(", "utimes(", "futimesat(")):           # a time set now (tar's)
        body = re.sub(r"tv_sec=\d+, (tv_u?n?sec=\w+)\} /\* [^*]* \*/", r"tv_sec=_, \1}", body)
    body = re.sub(r"^(brk\(.*\)) = \d+$", r"\1 = _", body)               # the heap, where ASLR put it
    body = re.sub(r"^sysinfo\(\{.*\}\)", "sysinfo({_})", body)            # the host's load, memory, tasks
    return body


def per_task(text: str, drop=TIMING) -> dict:
    """{tid: [lines]} of strace-like lines, normalised; the calls in `drop`
    left out, and SIGCHLD: where it lands, and whether two children's exits
    make one signal or two (a standard signal does not queue), is the
    scheduler's; that a task got one is kept, under (tid, "SIGCHLD")."""
    got = collections.defaultdict(list)
    for line in text.splitlines():
        m = re.match(r"\[pid (\d+)\] (.*)$", line)
        assert m, line
        tid, body = m.groups()
        name = re.match(r"(\w+)\(", body)
        if body.startswith("--- SIGCHLD"):
            got[(tid, "SIGCHLD")] = ["a SIGCHLD"]
            continue
        if name and name.group(1) == "wait4":
            # which child is reaped first, and whether a WNOHANG wait
            # finds one, is the scheduler's; the children reaped are not
            if "WNOHANG" not in body:
                got[(tid, "wait4")] = sorted(got.get((tid, "wait4"), []) + [_norm(body)])
            continue
        if name and name.group(1) in drop:
            continue
        got[tid].append(_norm(body))
    return dict(got)


def same(bpf: str, ptrace: str, drop=TIMING, ordered=True):
    a, b = per_task(bpf, drop), per_task(ptrace, drop)
    if not ordered:
        a = {k: sorted(v) for k, v in a.items()}
        b = {k: sorted(v) for k, v in b.items()}
    diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
    if diff:
        import difflib
        lines = []
        for k, (x, y) in sorted(diff.items(), key=str):
            lines.append(f"== task {k}")
            lines.extend(difflib.unified_diff(y or [], x or [], "ptrace", "bpf", lineterm="", n=1))
        pytest.fail("\n".join(lines[:200]))
    assert sum(len(v) for v in a.values()) > 10


from tests.test_trace import _IOV_PROGRAM as IOV_PROGRAM  # noqa: E402

PROGRAMS = {
    # a pipe, then a subshell that forks (not both at once: which of two
    # concurrent forks gets the next pid is the scheduler's)
    "sh": ["sh", "-c", "cat /etc/hostname | wc -c; (ls /nonexist; echo sub) 2>&1; uname -r >/dev/null; exit 3"],
    "tar": ["sh", "-c", "tar -cf /tmp/t.tar /etc/hostname /etc/passwd /usr/share/dpkg; tar -tvf /tmp/t.tar >/dev/null;"
            " mkdir /tmp/x && tar -xf /tmp/t.tar -C /tmp/x"],
    "python3": ["python3", "-c", "import json, os; os.stat('/'); print(json.dumps({'a': 1}))"],
    "fork-exec": ["sh", "-c", "for i in 1 2 3 4 5; do /bin/true; /bin/false; done; exit 0"],
}


@needs_bpf
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_bpf_traces_what_ptrace_traces(rootfs, tmp_path, name):
    p, bpf, ptrace = both([rootfs, *PROGRAMS[name]], tmp_path)
    same(bpf, ptrace)
    assert 'execve("/usr/bin/' in bpf or 'execve("/bin/' in bpf
    assert "lost" not in p.stderr


@needs_bpf
def test_bpf_copies_iovecs_as_ptrace(rootfs, tmp_path):
    """writev, readv, pwritev2, preadv2 (tests/test_trace.py _IOV_PROGRAM):
    the array and its buffers (a second level of copy, trace.bpf.c copy_iov)
    give ptrace's lines: buffers cut at 32 bytes, 40 entries cut at 32, a
    read's data up to its result, a failed read's addresses, an array
    running into unmapped memory, a buffer there.  python3's heap calls are
    left out (brk before or after an mmap: where ASLR put the heap)."""
    p, bpf, ptrace = both([rootfs, "python3", "-c", IOV_PROGRAM], tmp_path)
    same(bpf, ptrace, drop=THREADS | {"brk"})
    assert '{iov_base="yyyy", iov_len=5}, {iov_base="", iov_len=5}' in bpf
    assert '{iov_base="ab", iov_len=2}, ... /* 0x' in bpf
    assert "lost" not in p.stderr


@needs_bpf
def test_lxrun_py_traces_with_bpf_as_the_front_door(rootfs, tmp_path):
    args = [rootfs, *PROGRAMS["sh"]]
    p, bpf, ptrace = both(args, tmp_path, prog=PYCLI)
    same(bpf, ptrace)
    _, front = trace(FRONT, "bpf", args, tmp_path)
    same(bpf, front)


@needs_bpf
def test_bpf_traces_threads_and_a_threads_exec(rootfs, tmp_path):
    """Four threads make 50 failing stats each; a child is forked and execs;
    a thread execs while the leader sleeps: its exec returns in the leader's
    tid and shows in the thread's, the leader's sleep ends without a result,
    and the leader's death is not shown (as under ptrace)."""
    code = ("import os, threading, time\n"
            "def w(k):\n"
            "    for i in range(50):\n"
            "        try: os.stat(f'/nonexist-{k}-{i}')\n"
            "        except FileNotFoundError: pass\n"
            "ts = [threading.Thread(target=w, args=(k,)) for k in range(4)]\n"
            "[t.start() for t in ts]; [t.join() for t in ts]\n"
            "pid = os.fork()\n"
            "if pid == 0: os.execv('/bin/true', ['true'])\n"
            "os.waitpid(pid, 0)\n"
            "threading.Thread(target=lambda: (time.sleep(0.2), os.execv('/bin/true', ['true']))).start()\n"
            "time.sleep(30)\n")
    p, bpf, ptrace = both(["-e", "MALLOC_ARENA_MAX=1", rootfs, "python3", "-c", code], tmp_path)
    assert p.returncode == 0
    same(bpf, ptrace, THREADS, ordered=False)
    tasks = {k: v for k, v in per_task(bpf, THREADS).items() if isinstance(k, str)}
    execs = [t for t, lines in tasks.items() if any(x.startswith('execve("/bin/true"') for x in lines)]
    assert len(execs) == 2           # the child's, and the thread's (in its own tid)
    leader = tasks["2"]
    assert any(x.startswith("clock_nanosleep(") and x.endswith(" = ?") for x in leader), leader[-5:]
    stats = [x for v in tasks.values() for x in v if x.startswith('newfstatat(AT_FDCWD, "/nonexist-')]
    assert len(stats) == 200 and all(x.endswith("= -1 ENOENT (No such file or directory)") for x in stats)


@needs_bpf
def test_bpf_shows_calls_the_filter_answers(rootfs, tmp_path):
    """--deny and the brand's denied syscalls never reach sys_enter (seccomp
    answers first): shown from their sys_exit with their arguments, errno
    and "(answered by the brand)", as the ptrace tracer answers them; with
    --report the supervisor answers them, and counts them once."""
    code = ("import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "for i in range(3):\n"
            "    print(libc.syscall(298, 0, 0, -1, -1, 0), ctypes.get_errno())\n"
            "try: os.mkdir('/tmp/d')\n"
            "except PermissionError: print('mkdir EPERM')\n"
            "try: os.rmdir('/tmp')\n"
            "except OSError as e: print('rmdir', e.errno)\n")
    for extra in ([], [f"--report={tmp_path / 'report'}"]):
        p, bpf, ptrace = both([*extra, "--deny", "mkdir", "--deny", "rmdir=EROFS", rootfs, "python3", "-c", code],
                              tmp_path)
        assert p.stdout == "-1 1\n-1 1\n-1 1\nmkdir EPERM\nrmdir 30\n"
        same(bpf, ptrace)
        tasks = per_task(bpf)
        assert tasks["2"].count("perf_event_open(NULL, 0, -1, -1, 0) = -1 EPERM (Operation not permitted) "
                                "(answered by the brand)") == 3
        assert 'mkdir("/tmp/d", 0777) = -1 EPERM (Operation not permitted) (answered by the brand)' in tasks["2"]
        assert 'rmdir("/tmp") = -1 EROFS (Read-only file system) (answered by the brand)' in tasks["2"]
        if extra:
            report = (tmp_path / "report").read_text()
            assert re.search(r"perf_event_open\s+3\b", report), report


@needs_bpf
def test_bpf_shows_signals_and_exits(rootfs, tmp_path):
    """A child killed by SIGTERM (fatal: without ptrace the kernel makes it a
    group SIGKILL at once, yet the trace shows the SIGTERM as ptrace's stop
    would), one by SIGKILL (no signal line, as under ptrace), a handled
    SIGUSR2, an exit status."""
    script = ("sleep 5 & p=$!; sleep 0.2; kill $p; wait $p; echo $?; "
              "sleep 5 & p=$!; sleep 0.2; kill -9 $p; wait $p; echo $?; "
              "trap 'echo usr2' USR2; kill -USR2 $$; exit 7")
    p, bpf, ptrace = both([rootfs, "sh", "-c", script], tmp_path)
    assert p.returncode == 7 and p.stdout == "143\n137\nusr2\n"

    def events(text):      # the signals and ends of each task (when sh waits for its child is timing)
        return sorted(x for x in text.splitlines() if re.match(r"\[pid \d+\] (---|\+\+\+) ", x)
                      and "SIGCHLD" not in x)
    assert events(bpf) == events(ptrace)
    for text in (bpf, ptrace):
        assert re.search(r"\] --- SIGTERM \{si_signo=SIGTERM, si_code=SI_USER, si_pid=2, si_uid=0\} ---", text)
        assert re.search(r"\] \+\+\+ killed by SIGTERM \+\+\+", text)
        assert re.search(r"\] \+\+\+ killed by SIGKILL \+\+\+", text) and "--- SIGKILL" not in text
        assert "[pid 2] --- SIGUSR2 {si_signo=SIGUSR2, si_code=SI_USER, si_pid=2, si_uid=0} ---" in text
        assert "[pid 2] +++ exited with 7 +++" in text


@needs_bpf
def test_bpf_json_lines_parse_and_match_ptraces(rootfs, tmp_path):
    args = [rootfs, *PROGRAMS["sh"]]
    p, bpf, ptrace = both(args, tmp_path, fmt="json")

    def calls(text):
        got = collections.defaultdict(list)
        for line in text.splitlines():
            ev = json.loads(line)
            if ev.get("syscall") in TIMING | {"wait4"} or ev["type"] == "signal":
                continue
            res = ev.get("result")
            if ev.get("syscall") == "brk" or (isinstance(res, int) and res > 1 << 32):
                res = "an address"      # where ASLR put it
            key = (ev["type"], ev.get("syscall"), res, ev.get("errno"), ev.get("answered"), ev.get("status"),
                   ev.get("signal"))
            got[ev["tid"]].append(key)
        return dict(got)
    assert calls(bpf) == calls(ptrace)
    assert any(k[1] == "execve" for v in calls(bpf).values() for k in v)


@needs_bpf
def test_stats_with_bpf_trace_count_what_the_lines_show(rootfs, tmp_path):
    """--trace --stats under BPF: the statistics come from the same records."""
    out = tmp_path / "st"
    env = dict(os.environ, LXBRAND_TRACE="bpf")
    for _ in range(2):
        p = subprocess.run([FRONT, "--trace", "-o", str(out), "--stats", "--stats-format", "json", rootfs, "sh",
                            "-c", "ls /nonexist; ls /nonexist; exit 0"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    lines, st = text[:text.index("\n{") + 1], json.loads(text[text.index("\n{") + 1:])
    assert st["execve"]["calls"] == 3 and "lost_events" not in st
    assert st["statx"]["calls"] == lines.count(" statx(") and st["statx"]["errors"]["ENOENT"] == 4


@needs_bpf
def test_strace_in_the_zone_works_under_the_bpf_trace(rootfs, tmp_path):
    """No tracer holds the guest: its own ptrace works (the host's strace and
    its libraries bound in), and its tracee's calls are traced too; under the
    ptrace tracer it is refused with EPERM and a line on stderr."""
    import shutil
    d = tmp_path / "s"
    d.mkdir()
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("no strace on the host")
    shutil.copy(strace, d)
    for line in subprocess.run(["ldd", strace], capture_output=True, text=True).stdout.splitlines():
        m = re.search(r"=> (/\S+)", line)
        if m and "libc.so" not in m.group(1):
            shutil.copy(m.group(1), d)
    args = ["--bind", f"{d}:/mnt:ro", "-e", "LD_LIBRARY_PATH=/mnt", rootfs, "/mnt/strace", "-f", "-qq", "-e",
            "trace=openat", "cat", "/etc/hostname"]
    trace(FRONT, "bpf", args, tmp_path, check_front=False)
    p, bpf = trace(FRONT, "bpf", args, tmp_path)
    assert p.returncode == 0, p.stderr
    assert 'openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = 3' in p.stderr       # strace's own line
    assert re.search(r'\[pid \d+\] openat\(AT_FDCWD, "/etc/hostname", O_RDONLY\) = 3', bpf)   # ours
    assert re.search(r"\[pid 2\] ptrace\(", bpf) and "refused with EPERM" not in p.stderr
    p, _ = trace(FRONT, "ptrace", args, tmp_path, check_front=False)
    assert "refused with EPERM" in p.stderr


@needs_bpf
def test_bpf_lost_records_are_said(rootfs, tmp_path):
    """A ring of one page that 20000 stats overflow: lxrun says how many
    records were lost (stderr), and --stats says its counts are short."""
    code = "import os\nfor i in range(20000): os.stat('/')\n"
    for prog in (FRONT, PYCLI):
        env = dict(os.environ, LXBRAND_TRACE="bpf", LXBRAND_BPF_RING_KB="4")
        out = tmp_path / "lost"
        p = subprocess.run([prog, "--trace", "-o", str(out), "--stats", "--stats-format", "json", rootfs,
                            "python3", "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert re.search(r"lxrun: trace: \d+ records lost \(the BPF ring buffer or task table was full\)", p.stderr), p.stderr
        text = out.read_text()
        assert json.loads(text[text.index("\n{") + 1:])["lost_events"] > 0


@needs_bpf
def test_bpf_leaves_nothing_in_the_zone(rootfs, tmp_path):
    """No tracer (TracerPid 0) and no BPF fd of lxrun's in the zone."""
    p, _ = trace(FRONT, "bpf", [rootfs, "sh", "-c", "ls -l /proc/self/fd/ /proc/1/fd/ 2>&1; grep TracerPid "
                                "/proc/self/status"], tmp_path, check_front=False)
    assert p.returncode == 0, p.stderr
    assert "bpf" not in p.stdout and "TracerPid:\t0" in p.stdout


def test_an_ordinary_user_gets_the_ptrace_tracer(unprivileged):
    """No CAP_BPF for nobody: --trace still traces (ptrace), and
    LXBRAND_TRACE=bpf says why not."""
    def probe():
        return 0 if lib.lxb_bpftrace_probe() < 0 else 1
    assert unprivileged.call(probe).returncode == 0

    def run(mode):
        def main():
            from lxbrand.cli import entry
            if mode:
                os.environ["LXBRAND_TRACE"] = mode
            else:
                os.environ.pop("LXBRAND_TRACE", None)
            sys.argv = ["lxrun", "--trace", unprivileged.rootfs, "sh", "-c", "cd /nonexist; exit 0"]
            entry()
        return unprivileged.call(main)
    r = run(None)
    assert r.returncode == 0, r.stderr
    assert re.search(r"chdir\(\"/nonexist\"\) = -1 ENOENT", r.stderr), r.stderr
    r = run("bpf")
    assert r.returncode != 0 and "LXBRAND_TRACE=bpf: BPF cannot trace" in r.stderr, r.stderr


@needs_bpf
def test_the_kernels_minimal_btf_is_made_once_and_gives_the_same_lines(rootfs, tmp_path):
    """The programs' CO-RE reads against a minimal BTF of the running kernel
    (bpftool gen min_core_btf, cached per kernel and object): made after a
    first load, then used; the lines are those of a load against the whole
    BTF (LXBRAND_BPF_FULL_BTF); a damaged file is replaced, never trusted."""
    import shutil
    import time
    if shutil.which("bpftool") is None:
        pytest.skip("no bpftool (make deps installs it)")
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    env = {"LXBRAND_CACHE": str(cache), "LXBRAND_BPF_DEBUG": "1"}
    args = [rootfs, *PROGRAMS["sh"]]
    p, _ = trace(PYCLI, "bpf", args, tmp_path, env=env)       # lxrun-py: no front door cache needed
    assert "load (the kernel's minimal BTF)" not in p.stderr
    for _ in range(100):
        made = list((cache / "bpf").glob("*.btf")) if (cache / "bpf").exists() else []
        if made:
            break
        time.sleep(0.1)
    assert len(made) == 1 and 0 < made[0].stat().st_size < 4096
    p, with_min = trace(PYCLI, "bpf", args, tmp_path, env=env)
    assert "load (the kernel's minimal BTF)" in p.stderr and p.returncode == 3
    p, whole = trace(PYCLI, "bpf", args, tmp_path, env={**env, "LXBRAND_BPF_FULL_BTF": "1"})
    assert "load (the kernel's minimal BTF)" not in p.stderr
    same(with_min, whole)
    made[0].write_bytes(b"damaged")
    p, damaged = trace(PYCLI, "bpf", args, tmp_path, env=env)
    assert p.returncode == 3
    same(damaged, whole)


# ---- the holder of a pre-loaded set (csrc/bpftrace.c THE HOLDER) ----
# LXBRAND_BPF_DEBUG names where a run's set came from: "holder: answered"
# and "loaded (the holder's set)" when the holder served it, "holder: none
# (why)" and "loaded (waited)" when the run's own loader child loaded it.

HOLDER_DIR = "/run/lxbrand"
HOLDER_SOCK = HOLDER_DIR + "/bpf.sock"
SERVED = "lxrun: bpf: loaded (the holder's set)"


def holder_pid():
    """The pid listening on the holder's socket (SO_PEERCRED), or None."""
    import socket
    import struct
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(HOLDER_SOCK)
            return struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    except OSError:
        return None


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def wait_for(what, timeout=10.0):
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.05)
    return what()


def retire_holder():
    """Ask the holder (whoever's run started it) to go, as a run of another
    object would: a hello (struct hello, 152 bytes) of ring size 0 is
    answered ESTALE and it exits."""
    import socket
    import struct
    pid = holder_pid()
    if not pid:
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(HOLDER_SOCK)
            s.send(struct.pack("=IIQ136s", 0x6c786268, 0, 0, b"?"))
            s.settimeout(5)
            s.recv(4096)
    except OSError:
        pass
    assert wait_for(lambda: gone(pid)), pid


def holders_marked(mark):
    """The holders (and their loader children) started by runs whose
    environment had LXB_TEST_MARK=mark (a holder keeps its starter's)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "lxb-bpf-holder":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"LXB_TEST_MARK={mark}".encode() in f.read().split(b"\0") and not gone(pid):
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.fixture
def no_holder():
    """No holder at the start (one another run left is killed), none of the
    test's left at the end, /run/lxbrand as the holder makes it."""
    import uuid
    retire_holder()
    mark = uuid.uuid4().hex
    yield mark
    retire_holder()
    for pid in holders_marked(mark):
        os.kill(pid, 9)


def holder_ready(pid):
    """The holder has its next set (no loader child of its own)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().strip() == ""
    except OSError:
        return False


def held_trace(args, tmp_path, mark, **env):
    """A traced run by the front door (again when it was handed to Python:
    a build meanwhile; lxrun-py neither asks nor starts a holder)."""
    pid = holder_pid()
    if pid:
        wait_for(lambda: holder_ready(pid))
    for _ in range(3):
        p, text = trace(FRONT, "bpf", args, tmp_path, check_front=False,
                        env={"LXBRAND_BPF_DEBUG": "1", "LXB_TEST_MARK": mark, **env})
        if HANDOVER not in p.stderr:
            break
    assert HANDOVER not in p.stderr, p.stderr
    return p, text


def start_holder(args, tmp_path, mark, **env):
    """A first traced run finds no holder and starts one, which listens once
    it has loaded its set."""
    p, _ = held_trace(args, tmp_path, mark, **env)
    assert "lxrun: bpf: holder: none (No such file or directory)" in p.stderr, p.stderr
    pid = wait_for(holder_pid)
    assert pid, p.stderr
    return pid


def served_trace(args, tmp_path, mark, **env):
    """A run the holder serves: another session's traced runs on this host
    share the holder (and may take its set, or replace it with one of
    another ring): asked again, up to 3 times."""
    for _ in range(3):
        p, text = held_trace(args, tmp_path, mark, **env)
        if SERVED in p.stderr:
            break
        wait_for(holder_pid)
    assert "lxrun: bpf: holder: answered" in p.stderr and SERVED in p.stderr, p.stderr
    return p, text


@needs_bpf
def test_the_holder_serves_the_next_runs_the_same_lines(rootfs, tmp_path, no_holder):
    """The second and third traced runs get the holder's sets (a fresh one
    each: the third's lines are whole too) and trace what ptrace traces;
    the holder is nobody's child, in its own session, with no fd but its
    set, its socket, its lock, /dev/null and its directory."""
    args = [rootfs, *PROGRAMS["sh"]]
    trace(FRONT, "ptrace", args, tmp_path, check_front=False)
    pp, ptrace = trace(FRONT, "ptrace", args, tmp_path)
    pid = start_holder(args, tmp_path, no_holder)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert int(fields[3]) == pid                                     # setsid: its own session
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0].strip() == b"lxb-bpf-holder"
    fds = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert {re.sub(r"\[\d+\]", "", x) for x in fds} <= {"/dev/null", "socket:", "anon_inode:bpf-map",
                                                        "anon_inode:bpf-prog", HOLDER_DIR,
                                                        HOLDER_DIR + "/bpf.lock"}, fds
    for _ in range(2):
        pb, bpf = served_trace(args, tmp_path, no_holder)
        assert (pb.returncode, pb.stdout) == (pp.returncode, pp.stdout), (pb.stderr, pp.stderr)
        assert pb.returncode == 3 and "sub" in pb.stdout
        same(bpf, ptrace)
        assert "lost" not in pb.stderr
        assert wait_for(holder_pid)                                  # a fresh set
    st = os.lstat(HOLDER_DIR)
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o700


@needs_bpf
def test_a_stopped_or_killed_holder_is_not_waited_for(rootfs, tmp_path, no_holder):
    """A holder that does not answer (stopped) costs a few ms and the run
    loads its own set; one killed after serving (its next set half loaded)
    leaves a socket nobody listens on: the run loads its own and starts
    another holder.  The lines are ptrace's each time."""
    import signal
    args = [rootfs, *PROGRAMS["fork-exec"]]
    pp, ptrace = trace(FRONT, "ptrace", args, tmp_path, check_front=False)
    pid = start_holder(args, tmp_path, no_holder)
    os.kill(pid, signal.SIGSTOP)
    try:
        p, bpf = held_trace(args, tmp_path, no_holder)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert "holder: none (Connection timed out)" in p.stderr and SERVED not in p.stderr, p.stderr
    assert p.returncode == pp.returncode == 0
    same(bpf, ptrace)
    p, bpf = served_trace(args, tmp_path, no_holder)                 # answered, then killed mid-load
    pid = holder_pid()
    os.kill(pid, signal.SIGKILL)
    same(bpf, ptrace)
    assert wait_for(lambda: gone(pid))
    p, bpf = held_trace(args, tmp_path, no_holder)
    assert "holder: none (No such file or directory)" in p.stderr and SERVED not in p.stderr, p.stderr
    same(bpf, ptrace)
    assert wait_for(holder_pid) not in (None, pid)                   # a new one


@needs_bpf
def test_a_holder_path_that_is_not_roots_socket_is_never_asked(rootfs, tmp_path, no_holder):
    """A file or a symlink where the socket is, a socket whose listener is
    not root (SO_PEERCRED), a socket of another user, a directory another
    user owns or may enter: the run loads its own set, sends nothing to
    that socket, starts no holder, and traces what ptrace traces."""
    import shutil
    import socket
    import threading
    args = [rootfs, *PROGRAMS["fork-exec"]]
    pp, ptrace = trace(FRONT, "ptrace", args, tmp_path, check_front=False)
    os.makedirs(HOLDER_DIR, mode=0o700, exist_ok=True)

    def falls_back(expect="holder: none (Operation not permitted)"):
        p, bpf = held_trace(args, tmp_path, no_holder)
        assert expect in p.stderr and SERVED not in p.stderr, p.stderr
        assert p.returncode == pp.returncode == 0
        same(bpf, ptrace)

    try:
        retire_holder()
        if os.path.lexists(HOLDER_SOCK):
            os.unlink(HOLDER_SOCK)                         # a killed holder's
        with open(HOLDER_SOCK, "w") as f:
            f.write("not a socket")
        falls_back()
        os.unlink(HOLDER_SOCK)
        os.symlink(str(tmp_path / "elsewhere"), HOLDER_SOCK)
        falls_back()
        os.unlink(HOLDER_SOCK)
        # a root-owned socket file whose listener is nobody: SO_PEERCRED
        heard = []
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        lsock.bind(HOLDER_SOCK)
        os.chmod(HOLDER_SOCK, 0o700)
        r, w = os.pipe()
        child = os.fork()
        if child == 0:                                   # listen() as nobody: the peer's credentials
            os.setuid(65534)
            lsock.listen(4)
            os.write(w, b"x")
            lsock.settimeout(20)
            try:
                while True:
                    c, _ = lsock.accept()
                    c.settimeout(1)
                    try:
                        if c.recv(4096):
                            os.write(w, b"H")
                    except OSError:
                        pass
                    c.close()
            finally:
                os._exit(0)
        os.close(w)
        assert os.read(r, 1) == b"x"
        threading.Thread(target=lambda: heard.append(os.read(r, 16)), daemon=True).start()
        falls_back()
        import time
        time.sleep(0.3)
        os.kill(child, 9)
        os.waitpid(child, 0)
        assert heard in ([], [b""]), heard                # no hello reached it
        lsock.close()
        # the same socket of nobody's, by a root listener (a real holder's, chowned)
        os.unlink(HOLDER_SOCK)
        start_holder(args, tmp_path, no_holder)
        os.chown(HOLDER_SOCK, 65534, 65534)
        falls_back()
        os.chown(HOLDER_SOCK, 0, 0)
        # the directory: another user may enter it, or owns it, or is a symlink
        os.chmod(HOLDER_DIR, 0o755)
        falls_back()
        os.chmod(HOLDER_DIR, 0o700)
        os.chown(HOLDER_DIR, 65534, 65534)
        falls_back()
        os.chown(HOLDER_DIR, 0, 0)
        os.rename(HOLDER_DIR, HOLDER_DIR + ".real")
        try:
            os.symlink(HOLDER_DIR + ".real", HOLDER_DIR)
            falls_back()
        finally:
            os.unlink(HOLDER_DIR)
            os.rename(HOLDER_DIR + ".real", HOLDER_DIR)
        served_trace(args, tmp_path, no_holder)                      # all restored: served
    finally:
        if os.path.islink(HOLDER_DIR):
            os.unlink(HOLDER_DIR)
        if os.path.isdir(HOLDER_DIR + ".real") and not os.path.exists(HOLDER_DIR):
            os.rename(HOLDER_DIR + ".real", HOLDER_DIR)
        os.chown(HOLDER_DIR, 0, 0)
        os.chmod(HOLDER_DIR, 0o700)
        if os.path.lexists(HOLDER_SOCK) and not stat_is_socket(HOLDER_SOCK):
            os.unlink(HOLDER_SOCK)
        shutil.rmtree(tmp_path / "elsewhere", ignore_errors=True)


def stat_is_socket(path):
    import stat
    return stat.S_ISSOCK(os.lstat(path).st_mode)


@needs_bpf
def test_the_holder_goes_when_idle_or_asked_by_another_object(rootfs, tmp_path, no_holder):
    """LXBRAND_BPF_HOLDER_IDLE=1: gone a second after its last run, its
    socket removed.  An asker whose object, kernel or ring differs (here
    the ring, LXBRAND_BPF_RING_KB: the same comparison as the object's hash)
    loads its own set, correctly, and the holder goes at once."""
    args = [rootfs, *PROGRAMS["fork-exec"]]
    pp, ptrace = trace(FRONT, "ptrace", args, tmp_path, check_front=False)
    pid = start_holder(args, tmp_path, no_holder, LXBRAND_BPF_HOLDER_IDLE="1")
    assert wait_for(lambda: gone(pid), timeout=5)
    assert not os.path.lexists(HOLDER_SOCK)
    pid = start_holder(args, tmp_path, no_holder, LXBRAND_BPF_HOLDER_IDLE="60")
    p, bpf = held_trace(args, tmp_path, no_holder, LXBRAND_BPF_RING_KB="1024")
    assert "holder: none (Stale file handle)" in p.stderr and SERVED not in p.stderr, p.stderr
    same(bpf, ptrace)
    assert wait_for(lambda: gone(pid), timeout=2)


@needs_bpf
def test_a_served_zone_sees_no_holder(rootfs, tmp_path, no_holder):
    """A run served by the holder: no socket, no BPF fd in the zone, and
    the holder's directory is not in it."""
    cmd = ["sh", "-c", "ls -l /proc/self/fd/ /proc/1/fd/ 2>&1; ls -la /run/lxbrand 2>&1; "
           "grep TracerPid /proc/self/status; cat /proc/net/unix 2>&1 | grep -c lxbrand"]
    start_holder([rootfs, "true"], tmp_path, no_holder)
    p, _ = served_trace([rootfs, *cmd], tmp_path, no_holder)
    assert "bpf" not in p.stdout and "socket:" not in p.stdout and "TracerPid:\t0" in p.stdout, p.stdout
    assert "No such file or directory" in p.stdout and p.stdout.rstrip().endswith("0"), p.stdout


@needs_bpf
def test_lxbrand_bpf_holder_0_never_starts_or_asks_one(rootfs, tmp_path, no_holder):
    p, _ = held_trace([rootfs, "true"], tmp_path, no_holder, LXBRAND_BPF_HOLDER="0")
    assert p.returncode == 0 and "holder" not in p.stderr and "loaded (waited)" in p.stderr, p.stderr
    import time
    time.sleep(1)
    assert holders_marked(no_holder) == []
