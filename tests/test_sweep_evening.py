"""What the evening sweep of real software under lxrun's tracers found
(/work/notes/sweep-2026-12-03-evening.md), as tests: each failing one is
marked xfail(strict=True) with the bug it shows, so it turns into a pass
(and the strict xfail into a failure to remove) once the bug is fixed."""
import os
import re
import subprocess
import sys

import pytest

from lxbrand._csup import lib

SCRIPTS = os.path.dirname(sys.executable)
FRONT = os.environ.get("LXRUN_TEST_FRONTDOOR") or os.path.join(SCRIPTS, "lxrun")
PY_FRONT = os.path.join(SCRIPTS, "lxrun-py")

needs_bpf = pytest.mark.skipif(os.geteuid() != 0 or lib.lxb_bpftrace_probe() < 0,
                               reason="BPF programs cannot be loaded here (root, BTF, built with clang/libbpf)")

# Two syscall numbers no kernel has (one under the table's 512, one past it),
# between two getppid calls that mark where their lines must be.  The guest
# gets -1 ENOSYS for both, as natively; strace -f prints
# syscall_0x1f4(0x1, 0x2, ...) = -1 ENOSYS (Function not implemented).
UNKNOWN = ("import ctypes, os\n"
           "l = ctypes.CDLL(None, use_errno=True)\n"
           "os.getppid()\n"
           "a = l.syscall(500, 1, 2); ea = ctypes.get_errno()\n"
           "b = l.syscall(1000, 3); eb = ctypes.get_errno()\n"
           "os.getppid()\n"
           "print(a, ea, b, eb)\n")


def run(*args, env=None, timeout=120):
    return subprocess.run([FRONT, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


@needs_bpf
@pytest.mark.parametrize("mode", ["bpf", "ptrace"])
def test_a_syscall_the_table_does_not_name_is_traced(rootfs, tmp_path, mode):
    out = tmp_path / "trace"
    p = run("--trace", "-o", out, rootfs, "python3", "-c", UNKNOWN, env={"LXBRAND_TRACE": mode})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["-1", "38", "-1", "38"], p.stdout   # ENOSYS, traced or not
    lines = out.read_text().splitlines()
    marks = [i for i, line in enumerate(lines) if re.match(r"\[pid \d+\] getppid\(\) = ", line)]
    assert len(marks) == 2, lines
    between = lines[marks[0] + 1:marks[1]]
    # answered by the brand (its filter, or the ptrace tracer instead): never run by the host's kernel
    assert len([line for line in between if "= -1 ENOSYS" in line and "(answered by the brand)" in line]) == 2, between
    # strace 6.1's names and raw arguments (its six, in hex)
    assert any(re.match(r"\[pid \d+\] syscall_0x1f4\(0x1, 0x2, (0|0x[0-9a-f]+), (0|0x[0-9a-f]+), (0|0x[0-9a-f]+), "
                        r"(0|0x[0-9a-f]+)\) = -1 ENOSYS \(Function not implemented\)", line) for line in between), between
    assert any(line.split("] ", 1)[1].startswith("syscall_0x3e8(0x3, ") for line in between), between


@needs_bpf
@pytest.mark.parametrize("mode", ["bpf", "ptrace"])
def test_a_syscall_the_table_does_not_name_in_json_and_left_out_by_a_set(rootfs, tmp_path, mode):
    """JSON names it as the text does; a --trace=SET that names syscalls
    leaves it out (strace 6.1 would show it), and the guest's answer stays
    ENOSYS either way (ptrace: the filter's default is RET_TRACE only while
    unnamed numbers are traced)."""
    import json
    out = tmp_path / "trace.json"
    p = run("--trace", "--trace-format", "json", "-o", out, rootfs, "python3", "-c", UNKNOWN,
            env={"LXBRAND_TRACE": mode})
    assert p.returncode == 0 and p.stdout.split() == ["-1", "38", "-1", "38"], (p.stdout, p.stderr)
    ev = [json.loads(line) for line in out.read_text().splitlines()]
    unk = [e for e in ev if e["type"] == "syscall" and e["nr"] in (500, 1000)]
    assert [(e["syscall"], e["args"]["0"], e["errno"]) for e in unk] == [("syscall_0x1f4", 1, "ENOSYS"),
                                                                       ("syscall_0x3e8", 3, "ENOSYS")], unk
    for trace_set in ("getppid", "!getppid"):
        out = tmp_path / "trace.set"
        p = run(f"--trace={trace_set}", "-o", out, rootfs, "python3", "-c", UNKNOWN, env={"LXBRAND_TRACE": mode})
        assert p.returncode == 0 and p.stdout.split() == ["-1", "38", "-1", "38"], (p.stdout, p.stderr)
        text = out.read_text()
        assert "syscall_0x" not in text and ("getppid()" in text) == (trace_set == "getppid"), text


# how --stats counts: in the kernel (csrc/bpf/stats.bpf.c), from perf's
# rings of the tracepoints, from the ptrace tracer, and beside --trace's
# lines from the BPF tracer's or the ptrace tracer's records
COUNTING = {"bpf": ({}, []), "tracepoints": ({"LXBRAND_STATS": "tracepoints"}, []),
            "ptrace": ({"LXBRAND_STATS": "ptrace"}, []),
            "trace-bpf": ({"LXBRAND_TRACE": "bpf"}, ["--trace"]),
            "trace-ptrace": ({"LXBRAND_TRACE": "ptrace"}, ["--trace"])}


@needs_bpf
@pytest.mark.parametrize("front", ["frontdoor", "lxrun-py"])
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("way", list(COUNTING))
def test_a_syscall_the_table_does_not_name_is_counted(rootfs, tmp_path, way, fmt, front):
    """--stats counts a number the table has no name for under the name
    --trace gives it, syscall_0x1f4 (500, under the arrays' 512) and
    syscall_0x3e8 (1000, past them), each call with its ENOSYS, in the
    total too.  strace 6.1 -c leaves out numbers past its own table (500,
    1000) and crashes on one inside it it has no name for (337)."""
    import json
    env, opts = COUNTING[way]
    out = tmp_path / "stats"
    exe = FRONT if front == "frontdoor" else PY_FRONT
    p = subprocess.run([exe, "--stats", "--stats-format", fmt, *opts, "-o", str(out), str(rootfs), "python3", "-c",
                        UNKNOWN + "l.syscall(1000)\n"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, **env))
    assert p.returncode == 0 and p.stdout.split() == ["-1", "38", "-1", "38"], (p.stdout, p.stderr)
    text = out.read_text()
    if fmt == "json":
        if opts:        # after --trace's lines
            text = text[text.index("\n{") + 1:] if not text.startswith("{") else text
        st = json.loads(text)
        assert (st["syscall_0x1f4"]["calls"], st["syscall_0x1f4"]["errors"]) == (1, {"ENOSYS": 1}), st
        assert (st["syscall_0x3e8"]["calls"], st["syscall_0x3e8"]["errors"]) == (2, {"ENOSYS": 2}), st
        assert "lost_events" not in st
        return
    rows = {line.split()[0]: line.split() for line in text.splitlines() if re.match(r"\w+ +\d+ +\d+ ", line)}
    assert rows["syscall_0x1f4"][1:3] == ["1", "1"] and rows["syscall_0x1f4"][-1] == "ENOSYS:1", text
    assert rows["syscall_0x3e8"][1:3] == ["2", "2"] and rows["syscall_0x3e8"][-1] == "ENOSYS:2", text
    assert int(rows["total"][1]) == sum(int(r[1]) for name, r in rows.items() if name != "total"), text
    assert "  syscall_0x3e8 (ns)" in text and "lost_events" not in text, text


@needs_bpf
@pytest.mark.parametrize("opts", [["--trace"], ["--stats"], ["--trace", "--trace-format", "json"]],
                         ids=["trace", "stats", "json"])
def test_an_output_that_cannot_be_written_is_said(rootfs, opts):
    p = run(*opts, "-o", "/dev/full", rootfs, "/bin/echo", "guest-ran")
    assert p.stdout == "guest-ran\n", p.stderr          # the guest runs on, as it does today
    assert "/dev/full" in p.stderr, (p.returncode, p.stderr)   # one line naming the output
    assert p.stderr == "lxrun: -o /dev/full: No space left on device; it is not whole\n", p.stderr
    assert p.returncode == 125, p.returncode            # lxrun failed at its part (chroot's 125)


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
@pytest.mark.parametrize("front", ["frontdoor", "lxrun-py"])
@pytest.mark.parametrize("opts,what", [(["--trace", "-o", "/dev/full"], "-o /dev/full"),
                                       (["--report=/dev/full"], "--report=/dev/full"),
                                       (["--trace", "--stats", "-o", "/dev/full"], "-o /dev/full")],
                         ids=["ptrace-trace", "report", "trace-stats"])
def test_every_output_that_cannot_be_written_is_said_by_both_entry_points(rootfs, opts, what, front):
    exe = FRONT if front == "frontdoor" else PY_FRONT
    p = subprocess.run([exe, *opts, str(rootfs), "/bin/echo", "guest-ran"], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, LXBRAND_TRACE="ptrace"))
    assert p.stdout == "guest-ran\n", p.stderr
    lines = p.stderr.splitlines()
    assert f"lxrun: {what}: No space left on device; it is not whole" in lines, p.stderr
    assert len(set(lines)) == len(lines), p.stderr      # said once per output
    assert p.returncode == 125, (p.returncode, p.stderr)


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
@pytest.mark.parametrize("front", ["frontdoor", "lxrun-py"])
@pytest.mark.parametrize("opts", [[], ["--trace", "-o", "/dev/null"]], ids=["report", "report-trace"])
@pytest.mark.parametrize("mode", ["bpf", "ptrace"])
def test_a_syscall_the_table_does_not_name_is_reported(rootfs, tmp_path, front, opts, mode):
    """--report names them as the trace does, unsupported with their
    ENOSYS (500 under the arrays' 512, 1000 past them: counted by the
    supervisor, to which the filter sends them under --report, or by the
    ptrace tracer that answers them); the guest's answer stays ENOSYS."""
    exe = FRONT if front == "frontdoor" else PY_FRONT
    rep = tmp_path / "report"
    p = subprocess.run([exe, f"--report={rep}", *opts, str(rootfs), "python3", "-c", UNKNOWN + "l.syscall(1000)\n"],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, LXBRAND_TRACE=mode))
    assert p.returncode == 0 and p.stdout.split() == ["-1", "38", "-1", "38"], (p.stdout, p.stderr)
    text = rep.read_text()
    assert re.search(r"^  unsupported +syscall_0x1f4 +1 ENOSYS; first: python3 -c ", text, re.M), text
    assert re.search(r"^  unsupported +syscall_0x3e8 +2 ENOSYS$", text, re.M), text
    assert "verdict: hit 2 unsupported syscalls: syscall_0x1f4, syscall_0x3e8" in text, text


# i386 getpid through int 0x80 from a 64-bit process: the brand kills it
# (DESIGN.md: "any other architecture (int 0x80, x32) is killed"), natively it
# returns the pid.
INT80 = ("import ctypes, mmap\n"
         "code = bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3])   # mov eax,20; int 0x80; ret\n"
         "m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
         "m.write(code)\n"
         "f = ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(m)))\n"
         "print(f())\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
@pytest.mark.xfail(strict=True, reason="--report of a guest the brand killed with SIGSYS for an int 0x80 "
                   "(i386) call says 'ran on the brand's pass-through and emulation only' and names no call")
def test_the_report_names_a_call_the_brand_killed_for(rootfs, tmp_path):
    rep = tmp_path / "report"
    p = run(f"--report={rep}", rootfs, "python3", "-c", INT80)
    assert p.returncode == 128 + 31, (p.returncode, p.stderr)     # killed by SIGSYS, as today
    text = rep.read_text()
    assert "pass-through and emulation only" not in text, text


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
def test_trace_and_report_to_one_file_keep_both_or_say_no(rootfs, tmp_path):
    out = tmp_path / "both"
    p = run("--trace=getppid", "-o", out, f"--report={out}", "--deny", "getppid", rootfs, "sh", "-c", "echo $PPID")
    if p.returncode != 0:   # refused: one line naming the file is as good
        assert str(out) in p.stderr and p.stderr.count("\n") == 1, p.stderr
        return
    text = out.read_text()
    assert "[pid 2] getppid() = -1 EPERM" in text, text
    assert "verdict: hit 1 denied syscall: getppid" in text, text
    assert text.index("getppid() = -1 EPERM") < text.index("lxrun report:"), text   # the report after the lines


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
@pytest.mark.parametrize("front", ["frontdoor", "lxrun-py"])
def test_trace_stats_and_report_to_one_file_follow_each_other(rootfs, tmp_path, front):
    out = tmp_path / "all"
    out.write_text("an old file's text\n")
    exe = FRONT if front == "frontdoor" else PY_FRONT
    p = subprocess.run([exe, "--trace=getppid", "--stats", "-o", str(out), f"--report={out}", "--deny", "getppid",
                        str(rootfs), "sh", "-c", "echo $PPID"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    assert "old file" not in text, text
    trace, stats, report = (text.index(k) for k in ("getppid() = -1 EPERM", "syscall ", "lxrun report:"))
    assert trace < stats < report, text
    assert text.count("lxrun report:") == 1 and "verdict: hit 1 denied syscall: getppid" in text, text


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
@pytest.mark.parametrize("front", ["frontdoor", "lxrun-py"])
@pytest.mark.parametrize("opts,says", [(["-o", "x.txt"], "-o FILE: "), (["--trace-format", "json"], "--trace-format: "),
                                       (["--stats-format", "json"], "--stats-format: "),
                                       (["--stats", "--trace-format", "text"], "--trace-format: ")],
                         ids=["o", "trace-format", "stats-format", "trace-format-with-stats"])
def test_an_option_without_what_it_serves_is_refused(rootfs, tmp_path, opts, says, front):
    # sweep F5: these were accepted and did nothing (no file, no word)
    exe = FRONT if front == "frontdoor" else PY_FRONT
    p = subprocess.run([exe, *opts, str(rootfs), "/bin/echo", "guest-ran"], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert p.returncode == 125 and p.stdout == "", (p.returncode, p.stdout, p.stderr)
    assert p.stderr.startswith("lxrun: " + says) and p.stderr.count("\n") == 1, p.stderr
    assert not (tmp_path / "x.txt").exists()


@needs_bpf
@pytest.mark.parametrize("mode", ["bpf", "ptrace"])
def test_a_kill_by_the_brand_shows_no_signal_delivery_line(rootfs, tmp_path, mode):
    # sweep F8's other half: seccomp's kill (SA_IMMUTABLE) has no signal-delivery
    # stop under ptrace, so strace and the ptrace tracer show only the exit; the
    # BPF tracer printed a '--- SIGSYS' line too.  A SIGSYS sent by kill(1) has
    # its delivery line in both.
    out = tmp_path / "trace"
    p = run("--trace=getpid", "-o", out, rootfs, "python3", "-c", INT80, env={"LXBRAND_TRACE": mode})
    assert p.returncode == 128 + 31, (p.returncode, p.stderr)
    lines = out.read_text().splitlines()
    assert not [line for line in lines if "--- SIGSYS" in line], lines
    assert lines[-1].endswith("+++ killed by SIGSYS +++"), lines
    p = run("--trace=getpid", "-o", out, rootfs, "sh", "-c", "kill -SYS $$", env={"LXBRAND_TRACE": mode})
    assert p.returncode == 128 + 31, (p.returncode, p.stderr)
    lines = out.read_text().splitlines()
    assert [line for line in lines if "--- SIGSYS {si_signo=SIGSYS, si_code=SI_USER" in line], lines
    assert lines[-1].endswith("+++ killed by SIGSYS +++"), lines


# Numbers outside the table as the kernel takes them: its int nr, the low 32
# bits of rax (0x1000001f4 is 500, 0x100000027 is getpid), -1 ENOSYS.
# (A negative one but -1, or one with the x32 bit, the brand's filter kills
# as a bad architecture: DESIGN.md.)
OUTSIDE = ("import ctypes, os\n"
           "l = ctypes.CDLL(None, use_errno=True)\n"
           "l.syscall.restype = ctypes.c_long\n"
           "os.getppid()\n"
           "for n in (500, 1000, -1, 0x1000001f4, 0x100000027):\n"
           "    l.syscall(ctypes.c_long(n), ctypes.c_long(1), ctypes.c_long(2))\n"
           "os.getppid()\n")


def _between_getppids(text):
    """The calls between the two getppid() lines: name and first two
    arguments, and the result, without durations, strace's padding or our
    '(answered by the brand)'."""
    out, inside = [], False
    for line in text.splitlines():
        m = re.match(r"^(?:\[pid\s+\d+\]|\d+)\s+(\w+)\((.*)\)\s+= (.*?)(?: \(answered by the brand\))?(?: <[\d.]+>)?$",
                     line)
        if not m:
            continue
        if m.group(1) == "getppid":
            if inside:
                return out
            inside = True
            continue
        if inside:
            out.append((m.group(1), m.group(2).split(", ")[:2], m.group(3)))
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
@pytest.mark.parametrize("front", ["frontdoor", "lxrun-py"])
@pytest.mark.parametrize("report", [False, True], ids=["trace", "trace-report"])
@pytest.mark.parametrize("mode", ["bpf", "ptrace"])
def test_numbers_outside_the_table_are_traced_as_strace_shows_them(rootfs, tmp_path, mode, report, front):
    if mode == "bpf" and lib.lxb_bpftrace_probe() < 0:
        pytest.skip("BPF programs cannot be loaded here")
    exe = FRONT if front == "frontdoor" else PY_FRONT
    out, rep = tmp_path / "trace", tmp_path / "report"
    p = subprocess.run([exe, "--trace", "-o", str(out), *([f"--report={rep}"] if report else []), str(rootfs),
                        "python3", "-c", OUTSIDE], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, LXBRAND_TRACE=mode))
    assert p.returncode == 0, p.stderr
    ours = _between_getppids(out.read_text())
    enosys = "-1 ENOSYS (Function not implemented)"
    assert ours == [("syscall_0x1f4", ["0x1", "0x2"], enosys), ("syscall_0x3e8", ["0x1", "0x2"], enosys),
                    ("syscall_0xffffffffffffffff", ["0x1", "0x2"], enosys),
                    ("syscall_0x1f4", ["0x1", "0x2"], enosys), ("getpid", [""], "2")], ours
    native = tmp_path / "strace"
    r = subprocess.run(["strace", "-f", "-qq", "-o", str(native), "unshare", "-r", "--fork", "--pid",
                        "--mount-proc", "chroot", str(rootfs), "python3", "-c", OUTSIDE],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert [(n, a, res) for n, a, res in _between_getppids(native.read_text()) if n != "getpid"] == \
        [(n, a, res) for n, a, res in ours if n != "getpid"]
    if report:
        text = rep.read_text()
        assert re.search(r"^  unsupported +syscall_0x1f4 +2 ENOSYS", text, re.M), text
        assert re.search(r"^  unsupported +syscall_0x3e8 +1 ENOSYS$", text, re.M), text
        assert re.search(r"^  unsupported +syscall_0xffffffffffffffff +1 ENOSYS$", text, re.M), text
        assert "verdict: hit 3 unsupported syscalls: syscall_0x1f4, syscall_0x3e8, syscall_0xffffffffffffffff" in text


# A child that stops itself (SIGSTOP; SIGTSTP in a process group of its own,
# which is not orphaned: its parent is in the session) and is continued by
# its parent each time; the parent says what waitpid saw.
STOPS = ("import os, signal\n"
         "pid = os.fork()\n"
         "if pid == 0:\n"
         "    os.setpgid(0, 0)\n"
         "    os.kill(os.getpid(), signal.SIGSTOP)\n"
         "    os.kill(os.getpid(), signal.SIGTSTP)\n"
         "    os._exit(3)\n"
         "for _ in range(2):\n"
         "    _, st = os.waitpid(pid, os.WUNTRACED)\n"
         "    print('stopped', os.WSTOPSIG(st), flush=True)\n"
         "    os.kill(pid, signal.SIGCONT)\n"
         "_, st = os.waitpid(pid, 0)\n"
         "print('exit', os.WEXITSTATUS(st), flush=True)\n")
STOPS_OUT = "stopped 19\nstopped 20\nexit 3\n"


def _child_signal_lines(text):
    """The child's (the pid that kill()s itself with SIGSTOP) signal and
    stop lines: ("SIGSTOP", "stopped by SIGSTOP", ...)."""
    child = re.search(r"^(?:\[pid\s+)?(\d+)\]?\s+kill\(\d+, SIGSTOP\)", text, re.M).group(1)
    out = []
    for line in text.splitlines():
        m = re.match(r"^(?:\[pid\s+(\d+)\]|(\d+))\s+--- (stopped by \w+|\w+ \{)", line)
        if m and (m.group(1) or m.group(2)) == child:
            out.append(m.group(3).rstrip(" {"))
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
@pytest.mark.parametrize("front", ["frontdoor", "lxrun-py"])
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("mode", ["bpf", "ptrace"])
def test_a_group_stop_is_traced_as_strace_shows_it(rootfs, tmp_path, mode, fmt, front):
    """strace -f prints '--- stopped by SIGSTOP ---' after a signal's
    delivery line when the task enters its group-stop; both tracers show
    it (ptrace: PTRACE_EVENT_STOP; BPF: the task switching out in
    TASK_STOPPED), and the guest stops and continues as untraced."""
    import json
    if mode == "bpf" and lib.lxb_bpftrace_probe() < 0:
        pytest.skip("BPF programs cannot be loaded here")
    exe = FRONT if front == "frontdoor" else PY_FRONT
    p = subprocess.run([exe, str(rootfs), "python3", "-c", STOPS], capture_output=True, text=True, timeout=120)
    assert (p.returncode, p.stdout) == (0, STOPS_OUT), p.stderr           # untraced, the same
    out = tmp_path / "trace"
    p = subprocess.run([exe, "--trace", "--trace-format", fmt, "-o", str(out), str(rootfs), "python3", "-c", STOPS],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, LXBRAND_TRACE=mode))
    assert (p.returncode, p.stdout) == (0, STOPS_OUT), p.stderr
    want = ["SIGSTOP", "stopped by SIGSTOP", "SIGCONT", "SIGTSTP", "stopped by SIGTSTP", "SIGCONT"]
    if fmt == "json":
        ev = [json.loads(line) for line in out.read_text().splitlines()]
        child = next(e["tid"] for e in ev if e["type"] == "syscall" and e["syscall"] == "kill"
                     and e["args"]["sig"] == "SIGSTOP")
        got = [("stopped by " if e["type"] == "stop" else "") + e["signal"] for e in ev
               if e["tid"] == child and e["type"] in ("signal", "stop")]
        assert got == want, got
        assert [e for e in ev if e["type"] == "stop"][0].keys() == {"type", "pid", "tid", "time", "signal"}
        return
    assert _child_signal_lines(out.read_text()) == want, out.read_text()
    native = tmp_path / "strace"
    r = subprocess.run(["strace", "-f", "-qq", "-o", str(native), "unshare", "-r", "--fork", "--pid",
                        "--mount-proc", "chroot", str(rootfs), "python3", "-c", STOPS],
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout) == (0, STOPS_OUT), r.stderr
    assert _child_signal_lines(native.read_text()) == want, native.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="run as root (the rootfs fixture)")
@pytest.mark.parametrize("nr", [0x7FFFFFFF, -2], ids=["x32-bit", "negative"])
def test_a_number_with_the_x32_bit_or_negative_but_minus_one_is_killed(rootfs, nr):
    """DIFFERENCES.md: the brand's filter kills a call of another
    architecture (x32: the 0x40000000 bit), and libseccomp's test for it
    takes every number from 0x40000000 up but -1 (0xffffffff): syscall(-2)
    is killed with SIGSYS, where the host answers ENOSYS; -1 answers ENOSYS
    as natively."""
    code = ("import ctypes\nl = ctypes.CDLL(None, use_errno=True)\nl.syscall.restype = ctypes.c_long\n"
            "print(l.syscall(ctypes.c_long(-1)), ctypes.get_errno(), flush=True)\n"
            f"print(l.syscall(ctypes.c_long({nr})), ctypes.get_errno(), flush=True)\n")
    p = run(rootfs, "python3", "-c", code)
    assert (p.returncode, p.stdout) == (128 + 31, "-1 38\n"), (p.returncode, p.stdout, p.stderr)
    r = subprocess.run(["unshare", "-r", "chroot", str(rootfs), "python3", "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "-1 38\n-1 38\n"), r.stderr
