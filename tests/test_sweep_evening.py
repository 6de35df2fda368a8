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
@pytest.mark.xfail(strict=True, reason="a syscall number the table has no name for (500, or 1000 past "
                   "BT_NR_MAX) leaves no line in --trace; strace prints syscall_0x1f4(...) = -1 ENOSYS")
def test_a_syscall_the_table_does_not_name_is_traced(rootfs, tmp_path, mode):
    out = tmp_path / "trace"
    p = run("--trace", "-o", out, rootfs, "python3", "-c", UNKNOWN, env={"LXBRAND_TRACE": mode})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["-1", "38", "-1", "38"], p.stdout   # ENOSYS, traced or not
    lines = out.read_text().splitlines()
    marks = [i for i, line in enumerate(lines) if re.match(r"\[pid \d+\] getppid\(\) = ", line)]
    assert len(marks) == 2, lines
    between = lines[marks[0] + 1:marks[1]]
    assert len([line for line in between if "= -1 ENOSYS" in line]) == 2, between


@needs_bpf
@pytest.mark.xfail(strict=True, reason="--stats counts no call of a syscall number the table has no "
                   "name for (500, 1000): no row, and the total leaves them out")
def test_a_syscall_the_table_does_not_name_is_counted(rootfs, tmp_path):
    out = tmp_path / "stats"
    p = run("--stats", "-o", out, rootfs, "python3", "-c", UNKNOWN)
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    enosys = sum(int(n) for n in re.findall(r"\bENOSYS:(\d+)", text))
    assert enosys >= 2, text


@needs_bpf
@pytest.mark.parametrize("opts", [["--trace"], ["--stats"], ["--trace", "--trace-format", "json"]],
                         ids=["trace", "stats", "json"])
def test_an_output_that_cannot_be_written_is_said(rootfs, opts):
    p = run(*opts, "-o", "/dev/full", rootfs, "/bin/echo", "guest-ran")
    assert p.stdout == "guest-ran\n", p.stderr          # the guest runs on, as it does today
    assert "/dev/full" in p.stderr, (p.returncode, p.stderr)   # one line naming the output
    assert p.stderr == "lxrun: -o /dev/full: No space left on device; it is not whole\n", p.stderr
    assert p.returncode == 125, p.returncode            # lxrun failed at its part (chroot's 125)


PY_FRONT = os.path.join(SCRIPTS, "lxrun-py")


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
