"""Real programs under lxrun's tracers (issue 13: "a zone's behaviour does
not change under tracing"): what a sweep of real software under --trace
(BPF and ptrace), --trace-format json, --stats and --report found, each
case a real program in the real rootfs (/work/notes/sweep-tracing.md)."""
import collections
import json
import os
import subprocess
import sys

import pytest

from lxbrand._csup import lib

SCRIPTS = os.path.dirname(sys.executable)
FRONT = os.environ.get("LXRUN_TEST_FRONTDOOR") or os.path.join(SCRIPTS, "lxrun")
PYCLI = os.path.join(SCRIPTS, "lxrun-py")

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the kernel's tracepoints need root")
needs_bpf = pytest.mark.skipif(os.geteuid() != 0 or lib.lxb_bpftrace_probe() < 0,
                               reason="BPF programs cannot be loaded here (root, BTF, built with clang/libbpf)")


def run(prog, *args, env=None, timeout=120):
    return subprocess.run([prog, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


@needs_root
@pytest.mark.parametrize("prog", [FRONT, PYCLI], ids=["front-door", "lxrun-py"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_stats_alone_to_a_file_replaces_it(rootfs, tmp_path, prog, fmt):
    """`--stats -o FILE` without --trace: FILE is the statistics' own and a
    second run replaces it, as strace -c -o FILE does (it appended: two
    tables, and two JSON objects that no longer parse as one).  With --trace
    the table still follows the lines in the same FILE."""
    out = tmp_path / "stats"
    for seq in ("3", "5"):
        p = run(prog, "--stats", "--stats-format", fmt, "-o", out, rootfs, "/usr/bin/seq", seq)
        assert p.returncode == 0, p.stderr
    text = out.read_text()
    if fmt == "json":
        assert json.loads(text)["write"]["calls"] == 1, text
    else:
        assert text.count("\ntotal ") + text.startswith("total ") == 1, text
    p = run(prog, "--trace=write", "--stats", "-o", out, rootfs, "/usr/bin/seq", "2")
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    assert text.startswith("[pid 2] write(1, \"1\\n2\\n\", 4) = 4"), text
    assert text.count("\ntotal ") == 1, text


def traced(mode, tmp_path, *args, trace_set="all"):
    out = tmp_path / f"trace.{mode}"
    p = run(FRONT, f"--trace={trace_set}", "-o", out, *args, env={"LXBRAND_TRACE": mode})
    return p, out.read_text()


@needs_bpf
@pytest.mark.parametrize("mode", ["bpf", "ptrace"])
def test_a_call_cut_short_by_sigkill_has_no_result(rootfs, tmp_path, mode):
    """timeout(1) -s KILL ends with kill(0, SIGKILL), which kills timeout
    itself: the kernel returns 0 from it, but ptrace makes no syscall-exit
    stop with a SIGKILL pending, so strace and the ptrace tracer show
    `kill(0, SIGKILL) = ?`; the BPF programs showed `= 0` (sys_exit fires
    before the kill is acted on).  The child's kill(3, SIGKILL) returns."""
    p, text = traced(mode, tmp_path, rootfs, "/usr/bin/timeout", "-s", "KILL", "0.3", "/bin/sleep", "5",
                     trace_set="kill")
    assert p.returncode == 137, p.stderr
    lines = [line.rsplit(" <", 1)[0] for line in text.splitlines()]
    assert "[pid 2] kill(3, SIGKILL) = 0" in lines, text
    assert "[pid 2] kill(0, SIGKILL) = ?" in lines, text
    assert {"[pid 2] +++ killed by SIGKILL +++", "[pid 3] +++ killed by SIGKILL +++"} <= set(lines), text


@needs_bpf
def test_a_callback_gets_every_event_of_a_burst(rootfs, monkeypatch):
    """Zone(trace=callback) decodes each record into an event in Python, tens
    of thousands a second; the BPF ring has no backpressure, so a burst of
    the guest's past the ring lost records (make realworld-traced: python3
    -m test test_os ... lost 285k, test_subprocess ... 1.5M; `lxrun: trace:
    N records lost`).  A callback gets the ptrace tracer, whose stops wait
    for it: every call of the burst arrives (the ring made small here so a
    short burst would overflow it)."""
    from lxbrand import Zone
    monkeypatch.setenv("LXBRAND_BPF_RING_KB", "64")
    monkeypatch.delenv("LXBRAND_TRACE", raising=False)
    got = collections.Counter()
    z = Zone(rootfs, trace=lambda e: got.update([e.get("syscall") or e["type"]]), stats=True)
    r = z.run(["/usr/bin/python3", "-c", "import os\nfor i in range(30000): os.getppid()\nprint('done')"],
              capture_output=True, timeout=120)
    assert (r.returncode, r.stdout) == (0, b"done\n"), r.stderr
    assert z.last_session.stats_lost == 0
    assert (got["getppid"], got["exit"]) == (30000, 1)


THREADS = """
import os, threading, time
ev = threading.Event()
def f():
    ev.wait()
    os.getppid()
ts = [threading.Thread(target=f) for _ in range(5000)]
for t in ts:
    t.start()
time.sleep(0.3)
ev.set()
for t in ts:
    t.join()
print("done", len(ts))
"""


@needs_bpf
def test_five_thousand_live_threads_are_all_traced(rootfs, tmp_path):
    """5000 threads alive at once (a thread pool, a JVM): each one's call
    and exit in the trace, nothing lost.  The BPF task table held 4096 live
    threads (preallocated): past it every call of a new thread was lost
    (a sweep: 3000 Python threads lost 150k records, 5000 lost 793k)."""
    p, text = traced("bpf", tmp_path, rootfs, "python3", "-c", THREADS)   # futex waits pending at once
    assert p.returncode == 0 and p.stdout == "done 5000\n", p.stderr
    assert "lost" not in p.stderr, p.stderr
    assert text.count("getppid()") == 5000
    assert text.count(" exit(0) = ?") == 5000


@needs_root
@pytest.mark.parametrize("prog", [FRONT, PYCLI], ids=["front-door", "lxrun-py"])
def test_json_trace_and_json_stats_in_one_file_are_json_lines(rootfs, tmp_path, prog):
    """--trace-format json --stats --stats-format json -o FILE: the statistics
    follow the trace's JSON lines as one JSON line of their own (they were
    json.dumps(indent=1)'s many lines, which a reader of JSON lines cannot
    parse), the C front door's byte for byte Python's json.dumps."""
    out = tmp_path / "trace.json"
    args = ("--trace=write,openat", "--trace-format", "json", "--stats", "--stats-format", "json",
            "-o", out, rootfs, "/usr/bin/seq", "3")
    run(prog, *args)    # after a build the first run hands over, storing the front door's cache
    p = run(prog, *args, env={"LXRUN_DEBUG_FRONTDOOR": "1"})
    assert p.returncode == 0, p.stderr
    assert "lxrun: front door: " not in p.stderr, p.stderr      # the C front door's own lines
    lines = out.read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    assert all(o.get("type") for o in objs[:-1]) and "type" not in objs[-1], lines
    assert objs[-1]["write"]["calls"] == 1 and objs[-1]["openat"]["calls"] >= 1, lines[-1]
    assert lines[-1] == json.dumps(objs[-1]), lines[-1]
    # alone (no trace lines around it) the statistics stay one indented object
    p = run(prog, "--stats", "--stats-format", "json", "-o", out, rootfs, "/usr/bin/seq", "3")
    assert p.returncode == 0 and out.read_text().startswith("{\n "), out.read_text()[:80]
