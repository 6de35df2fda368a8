"""lxrun --stats from the kernel's syscall tracepoints (csrc/perfstats.c,
issue 13): the same programs counted with perf (no ptrace stop) and with the
ptrace tracer (LXBRAND_STATS=ptrace) give the same calls and errors per
syscall, through the C front door and through lxrun-py; calls the filter
answers (--deny, the brand's denied syscalls), threads and fork/exec
children are counted; an ordinary user, who may not use perf, gets the
ptrace tracer."""
import json
import os
import subprocess
import sys

import pytest

from lxbrand._csup import lib

SCRIPTS = os.path.dirname(sys.executable)
FRONT = os.environ.get("LXRUN_TEST_FRONTDOOR") or os.path.join(SCRIPTS, "lxrun")
PYCLI = os.path.join(SCRIPTS, "lxrun-py")
HANDOVER = "lxrun: front door: "

needs_perf = pytest.mark.skipif(os.geteuid() != 0 or lib.lxb_perfstats_probe() < 0,
                                reason="perf cannot count syscalls here (root, tracefs)")

# counts that depend on the scheduler, not on the program: lock contention
# (futex), when a SIGCHLD comes (wait4's EINTR/ECHILD, rt_sigreturn)
TIMING = {"futex", "wait4", "rt_sigreturn"}


def stats(prog, mode, args, tmp_path, check_front=True):
    """{syscall: (calls, errors)} of `prog --stats ARGS` under LXBRAND_STATS=mode."""
    out = tmp_path / f"stats.{mode}.{os.path.basename(prog)}.json"
    if out.exists():
        out.unlink()
    env = dict(os.environ, LXBRAND_STATS=mode, LXRUN_DEBUG_FRONTDOOR="1")
    p = subprocess.run([prog, "--stats", "--stats-format", "json", "-o", str(out), *map(str, args)],
                       env=env, capture_output=True, text=True, timeout=300)
    if check_front and prog == FRONT:
        assert HANDOVER not in p.stderr, p.stderr
    st = json.loads(out.read_text())
    assert "lost_events" not in st, st.get("lost_events")
    for name, s in st.items():          # the shape of every row
        assert s["calls"] == sum(s["histogram_ns"].values()) and s["p50"] <= s["p99"]
        assert sum(s["errors"].values()) <= s["calls"]
    return p, {k: (v["calls"], v["errors"]) for k, v in st.items()}


def both(args, tmp_path, prog=FRONT):
    """The same run counted by perf and by ptrace (the first run of each
    leaves the front door its cache: a run handed to Python is repeated)."""
    for mode in ("perf", "ptrace"):
        stats(prog, mode, args, tmp_path, check_front=False)
    pp, perf = stats(prog, "perf", args, tmp_path)
    pt, ptrace = stats(prog, "ptrace", args, tmp_path)
    assert (pp.returncode, pp.stdout) == (pt.returncode, pt.stdout)
    return pp, perf, ptrace


def same(perf, ptrace, ignore=TIMING):
    a = {k: v for k, v in perf.items() if k not in ignore}
    b = {k: v for k, v in ptrace.items() if k not in ignore}
    diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert not diff, diff
    assert sum(v[0] for v in a.values()) > 10


PROGRAMS = {
    "sh": ["sh", "-c", "cat /etc/hostname; ls /nonexist; uname -r; exit 3"],
    "tar": ["sh", "-c", "tar -cf /tmp/t.tar /etc/hostname /etc/passwd /usr/share/dpkg; tar -tvf /tmp/t.tar >/dev/null;"
            " mkdir /tmp/x && tar -xf /tmp/t.tar -C /tmp/x"],
    "python3": ["python3", "-c", "import json, os; os.stat('/'); print(json.dumps({'a': 1}))"],
    "fork-exec": ["sh", "-c", "for i in 1 2 3 4 5; do /bin/true; /bin/false; done; exit 0"],
}


@needs_perf
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_perf_counts_what_ptrace_counts(rootfs, tmp_path, name):
    p, perf, ptrace = both([rootfs, *PROGRAMS[name]], tmp_path)
    same(perf, ptrace)
    assert perf["execve"][0] >= 1


@needs_perf
def test_perf_counts_threads_children_and_a_threads_exec(rootfs, tmp_path):
    """Four threads make 50 failing stats each; a child is forked and execs;
    a thread execs while the leader sleeps (its exec returns in the leader's
    tid, the leader's sleep ends unfinished)."""
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
    # thread stacks and arenas are mapped as the threads happen to overlap
    # (glibc's stack cache: mmap 50 to 52 in either mode, run after run)
    p, perf, ptrace = both(["-e", "MALLOC_ARENA_MAX=1", rootfs, "python3", "-c", code], tmp_path)
    assert p.returncode == 0
    same(perf, ptrace, TIMING | {"mmap", "mprotect", "munmap"})
    stat = perf.get("newfstatat") or perf["stat"]
    assert stat[1].get("ENOENT", 0) >= 200
    assert perf["clone3"][0] == 5 and perf["execve"] == (3, {})
    # the leader's sleep, ended by the thread's exec: counted, without a result
    assert perf["clock_nanosleep"] == (2, {})


@needs_perf
def test_perf_counts_calls_the_filter_answers(rootfs, tmp_path):
    """--deny and the brand's denied syscalls never reach sys_enter (seccomp
    answers first): counted from their sys_exit, with their errno; a guest's
    perf_event_open is one of them."""
    code = ("import ctypes, os\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "for i in range(3):\n"
            "    print(libc.syscall(298, 0, 0, -1, -1, 0), ctypes.get_errno())\n"
            "try: os.mkdir('/tmp/d')\n"
            "except PermissionError: print('mkdir EPERM')\n"
            "try: os.rmdir('/tmp')\n"
            "except OSError as e: print('rmdir', e.errno)\n")
    for extra in ([], ["--report=/dev/null"]):
        p, perf, ptrace = both([*extra, "--deny", "mkdir", "--deny", "rmdir=EROFS", rootfs, "python3", "-c", code],
                               tmp_path)
        assert p.stdout == "-1 1\n-1 1\n-1 1\nmkdir EPERM\nrmdir 30\n"
        same(perf, ptrace)
        assert perf["perf_event_open"] == (3, {"EPERM": 3})
        assert perf["mkdir"] == (1, {"EPERM": 1}) and perf["rmdir"] == (1, {"EROFS": 1})


@needs_perf
def test_perf_leaves_emulated_calls_to_the_report_as_ptrace_does(rootfs, tmp_path):
    """uname under --kernel-release is the supervisor's (emulated): neither
    mode counts it (the report does); both count the rest alike."""
    p, perf, ptrace = both(["--kernel-release", "4.19.0", rootfs, "sh", "-c", "uname -r; uname -r"], tmp_path)
    assert p.stdout == "4.19.0\n4.19.0\n"
    same(perf, ptrace)
    assert "uname" not in perf and "uname" not in ptrace


@needs_perf
def test_lxrun_py_counts_with_perf_as_the_front_door(rootfs, tmp_path):
    args = [rootfs, *PROGRAMS["fork-exec"]]
    stats(PYCLI, "perf", args, tmp_path)
    _, py = stats(PYCLI, "perf", args, tmp_path)
    _, front = stats(FRONT, "perf", args, tmp_path)
    _, py_ptrace = stats(PYCLI, "ptrace", args, tmp_path)
    same(py, front)
    same(py, py_ptrace)


@needs_perf
def test_perf_durations_are_the_calls_not_the_stops(rootfs, tmp_path):
    """Without stops a stat takes microseconds, not the tens a ptrace stop
    costs: the median of 2000 is under 20 us in perf mode (a generous bound:
    a ptrace round trip on this VM is 10-40 us)."""
    code = "import os\nfor i in range(2000): os.stat('/')\n"
    _, perf = stats(FRONT, "perf", [rootfs, "python3", "-c", code], tmp_path, check_front=False)
    out = tmp_path / "s.json"
    env = dict(os.environ, LXBRAND_STATS="perf")
    subprocess.run([FRONT, "--stats", "--stats-format", "json", "-o", str(out), rootfs, "python3", "-c", code],
                   env=env, check=True, capture_output=True, timeout=120)
    st = json.loads(out.read_text())
    row = st.get("newfstatat") or st["stat"]
    assert row["calls"] >= 2000 and row["p50"] < 20e-6, row


@needs_perf
def test_perf_fds_never_reach_the_guest(rootfs, tmp_path):
    env = dict(os.environ, LXBRAND_STATS="perf")
    p = subprocess.run([FRONT, "--stats", "-o", str(tmp_path / "s"), rootfs, "sh", "-c",
                        "ls -l /proc/self/fd/ /proc/1/fd/ 2>&1; cat /proc/self/status | grep TracerPid"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "perf_event" not in p.stdout and "TracerPid:\t0" in p.stdout      # no tracer: no stops


@needs_perf
def test_a_guests_ptrace_works_under_perf_stats(rootfs, tmp_path):
    """No tracer holds the guest, so its own ptrace is not refused (under
    the ptrace tracer it is, with EPERM and a line on stderr)."""
    code = "import ctypes; print(ctypes.CDLL(None).ptrace(0, 0, 0, 0))"
    env = dict(os.environ, LXBRAND_STATS="perf")
    p = subprocess.run([FRONT, "--stats", "-o", str(tmp_path / "s"), rootfs, "python3", "-c", code], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.stdout == "0\n" and "refused with EPERM" not in p.stderr


@needs_perf
def test_lost_events_are_said_never_shown_as_exact(rootfs, tmp_path):
    """A ring of one page that 20000 stats overflow: the output says how
    many events the kernel dropped, in text and in JSON, through the front
    door and lxrun-py."""
    code = "import os\nfor i in range(20000): os.stat('/')\n"
    for prog in (FRONT, PYCLI):
        for fmt in ("text", "json"):
            out = tmp_path / f"lost.{fmt}"
            env = dict(os.environ, LXBRAND_STATS="perf", LXBRAND_PERF_RING_KB="4")
            p = subprocess.run([prog, "--stats", "--stats-format", fmt, "-o", str(out), rootfs, "python3", "-c",
                                code], env=env, capture_output=True, text=True, timeout=120)
            assert p.returncode == 0, p.stderr
            text = out.read_text()
            out.unlink()
            if fmt == "json":
                assert json.loads(text)["lost_events"] > 0
            else:
                assert "\nlost_events " in text and "the counts above are short" in text


def test_lost_events_are_said_as_python_says_them(tmp_path):
    """csrc/trace_fmt.c (lxb_perfstats_write) and trace.write_outputs say the
    same about events the kernel dropped: a line, or "lost_events"."""
    from lxbrand import trace
    from lxbrand._csup import Tracer, ffi
    for fmt in ("text", "json"):
        for lost in (0, 17):
            t = Tracer([], -1, -1)
            t.c.text_fd = -1
            nr = 4
            t.c.spec[nr].mode = lib.LXB_TRACE_RECORD
            t.c.spec[nr].show = lib.LXB_SHOW_STATS
            rec = ffi.new("struct lxb_trace_rec *")
            rec.kind, rec.nr, rec.ret, rec.t_entry, rec.t_exit = lib.LXB_REC_SYSCALL, nr, -2, 1000, 3500
            for _ in range(3):
                lib.lxb_trace_feed(t.c, rec)
            out = tmp_path / f"c.{fmt}.{lost}"
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            assert lib.lxb_perfstats_write(t.c, fmt == "json", fd, lost) == 0
            os.close(fd)

            class S:
                o = trace.Observe(stats=True, stats_format=fmt)
                stats = trace._stats_of(t.c)
                stats_lost = lost
                report = None
            py = tmp_path / f"py.{fmt}.{lost}"
            with open(py, "w") as f:
                trace.write_outputs(S, stats_file=f)
            lib.lxb_trace_free(t.c)
            assert out.read_text() == py.read_text()
            if lost:
                assert "lost_events" in out.read_text()
            if fmt == "json":
                got = json.loads(out.read_text())
                assert got["stat"]["calls"] == 3 and got.get("lost_events", 0) == lost


def test_an_ordinary_user_gets_the_ptrace_tracer(unprivileged):
    """perf_event_paranoid 2 and a root-only tracefs: no perf for nobody;
    --stats still counts (ptrace), and LXBRAND_STATS=perf says why not."""
    def probe():
        return 0 if lib.lxb_perfstats_probe() < 0 else 1
    assert unprivileged.call(probe).returncode == 0

    def run(mode):
        def main():
            from lxbrand.cli import entry
            if mode:
                os.environ["LXBRAND_STATS"] = mode
            else:
                os.environ.pop("LXBRAND_STATS", None)
            sys.argv = ["lxrun", "--stats", "--stats-format", "json", unprivileged.rootfs, "sh", "-c",
                        "cd /nonexist; exit 0"]
            entry()
        return unprivileged.call(main)
    r = run(None)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stderr[r.stderr.index("{"):])
    assert st["execve"]["calls"] >= 1 and st["chdir"] == {**st["chdir"], "calls": 1, "errors": {"ENOENT": 1}}
    r = run("perf")
    assert r.returncode != 0 and "LXBRAND_STATS=perf: perf cannot count" in r.stderr, r.stderr
