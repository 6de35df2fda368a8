"""lxrun --stats alone without ptrace stops (issue 13): counted in the
kernel by csrc/bpf/stats.bpf.c's programs (csrc/perfstats.c; LXBRAND_STATS
unset or "perf"), or from perf's syscall tracepoint rings
(LXBRAND_STATS=tracepoints).  The same programs counted that way, from perf's
rings, with the ptrace tracer (LXBRAND_STATS=ptrace) and from --trace's own
lines give the same calls and errors per syscall, through the C front door,
lxrun-py and Zone(stats=True); calls the filter answers (--deny, the brand's
denied syscalls), threads and fork/exec children are counted; a million
calls a second lose nothing; a guest killed by SIGKILL still has its table;
nothing stays attached after lxrun; an ordinary user, who may not use perf,
gets the ptrace tracer."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from lxbrand._csup import lib

SCRIPTS = os.path.dirname(sys.executable)
FRONT = os.environ.get("LXRUN_TEST_FRONTDOOR") or os.path.join(SCRIPTS, "lxrun")
PYCLI = os.path.join(SCRIPTS, "lxrun-py")
HANDOVER = "lxrun: front door: "

needs_perf = pytest.mark.skipif(os.geteuid() != 0 or lib.lxb_perfstats_probe() < 0,
                                reason="perf cannot count syscalls here (root, tracefs)")

# perf's tracepoint rings (LXBRAND_STATS=tracepoints) need the tracepoints'
# ids from tracefs; where it is not mounted that mode counts with ptrace
needs_rings = pytest.mark.skipif(
    not any(os.path.exists(d + "/events/raw_syscalls/sys_enter/id")
            for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")),
    reason="tracefs is not mounted (/sys/kernel/tracing): LXBRAND_STATS=tracepoints falls back to ptrace")

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


def both(args, tmp_path, prog=FRONT, ignore=TIMING):
    """The same run counted in the kernel and by ptrace (the first run of
    each leaves the front door its cache: a run handed to Python is
    repeated); perf's tracepoint rings must count what the kernel counts."""
    for mode in ("perf", "ptrace"):
        stats(prog, mode, args, tmp_path, check_front=False)
    pp, perf = stats(prog, "perf", args, tmp_path)
    pt, ptrace = stats(prog, "ptrace", args, tmp_path)
    pr, rings = stats(prog, "tracepoints", args, tmp_path)
    assert (pp.returncode, pp.stdout) == (pt.returncode, pt.stdout) == (pr.returncode, pr.stdout)
    same(perf, rings, ignore)
    return pp, perf, ptrace


def traced(args, tmp_path, prog=FRONT, mode=None):
    """{syscall: (calls, errors)} counted from `--trace --trace-format json`'s
    lines (the BPF tracer's, as root, or LXBRAND_TRACE=mode's), and the run"""
    out = tmp_path / "trace.jsonl"
    env = dict(os.environ, LXRUN_DEBUG_FRONTDOOR="1")
    if mode:
        env["LXBRAND_TRACE"] = mode
    p = subprocess.run([prog, "--trace", "--trace-format", "json", "-o", str(out), *map(str, args)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert "records lost" not in p.stderr, p.stderr
    counts: dict = {}
    for line in out.read_text().splitlines():
        ev = json.loads(line)
        if ev["type"] != "syscall":
            continue
        calls, errors = counts.get(ev["syscall"], (0, {}))
        if ev["errno"]:
            errors = {**errors, ev["errno"]: errors.get(ev["errno"], 0) + 1}
        counts[ev["syscall"]] = (calls + 1, errors)
    return p, counts


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


DETERMINISTIC = {
    "sh-loop": ["sh", "-c", "i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i > /tmp/f; cat /tmp/f; "
                "ls /nonexist-$i 2>/dev/null; done; exit 0"],
    "python3": ["python3", "-c", "import os, json\nfor i in range(300):\n    os.getppid()\n"
                "    try: os.stat(f'/nonexist-{i}')\n    except FileNotFoundError: pass\n"
                "print(json.dumps({'a': 1}))"],
    "dd": ["dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=20000"],
    # a read a timer's signal interrupts three times: -ERESTARTSYS at its
    # exit, settled by the handler's rt_sigreturn, then read again
    "restart": ["python3", "-c", "import os, signal\nr, w = os.pipe()\nn = 0\ndef h(sig, frame):\n"
                "    global n\n    n += 1\n    if n == 3:\n        signal.setitimer(signal.ITIMER_REAL, 0)\n"
                "        os.write(w, b'x')\nsignal.signal(signal.SIGALRM, h)\n"
                "signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)\nprint(os.read(r, 1), n)"],
}


@needs_perf
@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
def test_stats_counts_what_the_trace_lines_show(rootfs, tmp_path, name):
    """--stats alone (in the kernel) counts, call for call and errno for
    errno, what --trace writes a line for, for programs whose calls the
    scheduler does not decide; and so does --trace --stats's own table."""
    args = [rootfs, *DETERMINISTIC[name]]
    stats(FRONT, "perf", args, tmp_path, check_front=False)
    pk, kernel = stats(FRONT, "perf", args, tmp_path)
    pt, lines = traced(args, tmp_path)
    assert pk.returncode == pt.returncode == 0, (pk.stderr, pt.stderr)
    same(kernel, lines, ignore=set())
    if name == "restart":
        assert kernel["read"][1] == {"ERESTARTSYS": 3}, kernel["read"]
    out = tmp_path / "both.json"
    subprocess.run([FRONT, "--trace", "--trace-format", "json", "--stats", "--stats-format", "json", "-o", str(out),
                    *args], check=True, capture_output=True, timeout=300)
    table = json.loads(out.read_text().splitlines()[-1])
    same(kernel, {k: (v["calls"], v["errors"]) for k, v in table.items()}, ignore=set())


@needs_perf
def test_a_million_calls_a_second_lose_nothing(rootfs, tmp_path):
    """dd bs=1 of 3 MB: 6 million calls in a second or two, where perf's
    rings lost a third of them (2026-12-03: 1.18M of 3.4M); counted in the
    kernel nothing is lost: each byte read and written."""
    p, st = stats(FRONT, "perf", [rootfs, "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=3000000"], tmp_path,
                  check_front=False)
    assert p.returncode == 0, p.stderr
    # one read and one write a byte; the loader's read of libc, dd's
    # report on stderr
    assert 3000000 <= st["read"][0] <= 3000000 + 4 and st["read"][1] == {}
    assert 3000000 <= st["write"][0] <= 3000000 + 8


@needs_perf
@pytest.mark.parametrize("prog", [FRONT, PYCLI])
def test_a_guest_killed_by_sigkill_still_has_its_table(rootfs, tmp_path, prog):
    """The guest kills itself with SIGKILL mid-run (lxrun exits 137): the
    table is written, with the kill(2) that never returned counted without a
    result (no error), as the trace counts it; a child left sleeping in
    nanosleep (killed with the zone) is counted too."""
    args = [rootfs, "sh", "-c", "sleep 5 & sleep 0.3; cat /nonexist; kill -9 $$"]
    stats(prog, "perf", args, tmp_path, check_front=False)
    p, kernel = stats(prog, "perf", args, tmp_path)
    assert p.returncode == 137, p.stderr
    assert kernel["kill"] == (1, {}) and kernel["openat"][1] == {"ENOENT": 1}
    assert kernel["clock_nanosleep"][0] == 2
    _, lines = traced(args, tmp_path)
    same(kernel, lines, ignore={"clock_nanosleep", "wait4", "rt_sigreturn"})


def _bpftool(what):
    """bpftool's list; again when an object went while it listed them
    (EAGAIN: a link being detached by another run)."""
    for _ in range(20):
        r = subprocess.run(["bpftool", "-j", what, "show"], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            break
        time.sleep(0.05)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout or "[]")


def _prog_ids_of(pid):
    """The BPF programs process pid holds (its fds' fdinfo prog_id)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except OSError:
            continue
        ids |= {int(line.split()[1]) for line in text.splitlines() if line.startswith("prog_id:")}
    return ids


@needs_perf
@pytest.mark.skipif(not shutil.which("bpftool"), reason="bpftool is not installed")
@pytest.mark.parametrize("holder", ["0", "1"])
@pytest.mark.parametrize("end", ["exit", "sigkill"])
def test_nothing_stays_attached_after_lxrun(rootfs, tmp_path, end, holder):
    """The programs are attached for the run only: once lxrun has exited
    (and the grandchild that waits for the detaching's RCU grace periods
    has gone), or was killed by SIGKILL mid-run, bpftool shows no link to
    the programs lxrun held, and none of them when they were its own load
    (LXBRAND_BPF_HOLDER=0); a stats holder's set (csrc/bpftrace.c THE
    HOLDER; tests/test_trace_bpf_holder.py) stays loaded, not attached."""
    argv = [FRONT, "--stats", "-o", str(tmp_path / "s"), rootfs, "sleep", "1" if end == "exit" else "30"]
    lx = subprocess.Popen(argv, env=dict(os.environ, LXBRAND_STATS="perf", LXBRAND_BPF_HOLDER=holder),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    held = set()
    for _ in range(100):
        held = _prog_ids_of(lx.pid)
        if len(held) >= 5:
            break
        time.sleep(0.02)
    assert len(held) >= 5, held          # the five programs, attached before the guest runs
    if end == "sigkill":
        lx.kill()
    assert lx.wait(timeout=60) == (-9 if end == "sigkill" else 0)
    for _ in range(100):
        progs = {p["id"] for p in _bpftool("prog")} & held if holder == "0" else set()
        links = [lk for lk in _bpftool("link") if lk.get("prog_id") in held]
        if not progs and not links:
            break
        time.sleep(0.05)
    assert not progs and not links, (progs, links)


@needs_perf
def test_zone_run_stats_are_the_front_doors(rootfs, tmp_path):
    """Zone(stats=True).run(...).stats, counted in the kernel through the
    cffi module, gives the front door's calls and errors."""
    from lxbrand import Zone
    argv = DETERMINISTIC["sh-loop"]
    os.environ.pop("LXBRAND_STATS", None)
    r = Zone(rootfs, stats=True).run(argv, capture_output=True)
    assert r.returncode == 0
    _, front = stats(FRONT, "perf", [rootfs, *argv], tmp_path, check_front=False)
    same({k: (v["calls"], v["errors"]) for k, v in r.stats.items()}, front, ignore=set())


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
    p, perf, ptrace = both(["-e", "MALLOC_ARENA_MAX=1", rootfs, "python3", "-c", code], tmp_path,
                           ignore=TIMING | {"mmap", "mprotect", "munmap"})
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
    assert "perf_event" not in p.stdout and "bpf" not in p.stdout
    assert "TracerPid:\t0" in p.stdout      # no tracer: no stops


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
@needs_rings
def test_lost_events_are_said_never_shown_as_exact(rootfs, tmp_path):
    """perf's rings (LXBRAND_STATS=tracepoints), one page, and lxrun stopped
    (SIGSTOP) for a moment while its guest makes calls: the kernel drops
    what the page cannot hold, and the output says how many events it
    dropped, in text and in JSON, through the front door and lxrun-py.
    (A guest's calls alone did not overflow the page on every machine: where
    each tracepoint sample costs tens of microseconds, the reader keeps up.)"""
    code = ("import os, sys, time\nprint('go', flush=True)\nend = time.time() + 1.5\n"
            "while time.time() < end: os.stat('/')\n")
    for prog in (FRONT, PYCLI):
        for fmt in ("text", "json"):
            out = tmp_path / f"lost.{fmt}"
            env = dict(os.environ, LXBRAND_STATS="tracepoints", LXBRAND_PERF_RING_KB="4")
            p = subprocess.Popen([prog, "--stats", "--stats-format", fmt, "-o", str(out), rootfs, "python3", "-c",
                                  code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                assert p.stdout.readline() == "go\n"
                time.sleep(0.2)
                os.kill(p.pid, signal.SIGSTOP)        # its reader with it; the guest runs on
                time.sleep(0.4)
                os.kill(p.pid, signal.SIGCONT)
                _, err = p.communicate(timeout=120)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            assert p.returncode == 0, err
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
