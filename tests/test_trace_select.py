"""--trace as strace 6.1 prints select, pselect6, ppoll, the sleeps' rem,
process_vm_readv/writev and the offsets of sendfile, splice and
copy_file_range (issue 13): a python3 doing each form, traced by
lxrun (the C front door) and lxrun-py, under the BPF tracer (root's default)
and the ptrace tracer, line for line against host strace (user namespace,
chroot into the same rootfs: tests/test_trace.py _traced_and_straced), with
what differs between two runs masked (the time a timeout or a sleep had
left, the caller's own pid); and the same calls in JSON."""
import json
import os
import re
import subprocess

import pytest

from test_trace import PYCLI, _strace_in_a_user_namespace, _traced_and_straced

PROGRAM = r'''
import ctypes, os, select, signal, time
libc = ctypes.CDLL(None, use_errno=True)
class TS(ctypes.Structure): _fields_ = [("s", ctypes.c_long), ("n", ctypes.c_long)]
class TV(ctypes.Structure): _fields_ = [("s", ctypes.c_long), ("u", ctypes.c_long)]
class PFD(ctypes.Structure): _fields_ = [("fd", ctypes.c_int), ("ev", ctypes.c_short), ("rev", ctypes.c_short)]
class IOV(ctypes.Structure): _fields_ = [("b", ctypes.c_void_p), ("l", ctypes.c_size_t)]
signal.signal(signal.SIGALRM, lambda *a: None)
r, w = os.pipe()
r2, w2 = os.pipe()
os.write(w2, b"x")
os.access("/lxb13-start", 0)
# python's select.select: pselect6 (glibc), ready and timing out
select.select([r, r2], [w], [], 1.5)
select.select([r], [], [], 0.01)
fs = (ctypes.c_ulong * 16)()
fs2 = (ctypes.c_ulong * 16)()
def sel(nfds, rd, wr, tv, nr=23):
    fs[0], fs2[0] = rd or 0, wr or 0
    return libc.syscall(nr, nfds, ctypes.byref(fs) if rd is not None else None,
                        ctypes.byref(fs2) if wr is not None else None, None, tv, None)
# select(2) itself: ready with what is left, timing out, no timeout, an error, a bad set, a sleep
sel(10, 1 << r | 1 << r2, None, ctypes.byref(TV(0, 20000)))
sel(10, 1 << r, None, ctypes.byref(TV(0, 20000)))
sel(10, 1 << r2 | 1 << w, 1 << w | 1 << w2, None)
sel(10, 1 << 9, None, None)
libc.syscall(23, 10, ctypes.c_void_p(8), None, None, ctypes.byref(TV(0, 0)))
libc.syscall(23, 0, None, None, None, ctypes.byref(TV(0, 0)))
libc.syscall(23, -1, None, None, None, ctypes.byref(TV(0, 0)))
big = (ctypes.c_ulong * 16)(); big[0] = 1 << r2; big[15] = 1 << 63
libc.syscall(23, 1024, ctypes.byref(big), None, None, ctypes.byref(TV(0, 0)))
# pselect6 with its sigmask: a set, none, a full one, a size strace does not read, unreadable
m = ctypes.c_ulong(1 << 9 | 1 << 14)
full = ctypes.c_ulong((1 << 64) - 1 - (1 << 8))
for pk in ((ctypes.addressof(m), 8), (0, 8), (ctypes.addressof(full), 8), (ctypes.addressof(m), 4), (8, 8)):
    sel(10, None, 1 << w, ctypes.byref(TS(0, 0)), 270)
    fs2[0] = 1 << w
    libc.syscall(270, 10, None, ctypes.byref(fs2), None, ctypes.byref(TS(1, 500000000)),
                 ctypes.byref((ctypes.c_ulong * 2)(*pk)))
libc.syscall(270, 10, None, ctypes.byref(fs2), None, ctypes.c_void_p(8), None)
# ppoll: ready with what is left, a sigmask, timing out, a size strace does not read
pf = (PFD * 2)(PFD(r, 1, 0), PFD(r2, 1, 0))
libc.syscall(271, pf, 2, ctypes.byref(TS(1, 0)), ctypes.byref(m), 8)
libc.syscall(271, pf, 1, ctypes.byref(TS(0, 10000000)), None, 8)
libc.syscall(271, None, 0, ctypes.byref(TS(0, 0)), ctypes.byref(m), 4)
libc.syscall(271, None, 0, ctypes.c_void_p(8), ctypes.byref(full), 8)
# interrupted by a signal: select, pselect6, ppoll, nanosleep and clock_nanosleep (their rem)
for call in (lambda: sel(10, 1 << r, None, ctypes.byref(TV(1, 0))),
             lambda: sel(10, 1 << r, None, ctypes.byref(TS(1, 0)), 270),
             lambda: libc.syscall(271, pf, 1, ctypes.byref(TS(1, 0)), None, 8),
             lambda: libc.syscall(35, ctypes.byref(TS(1, 0)), ctypes.byref(TS(7, 7))),
             lambda: libc.syscall(230, 0, 0, ctypes.byref(TS(1, 0)), ctypes.byref(TS(7, 7)))):
    signal.setitimer(signal.ITIMER_REAL, 0.02)
    call()
libc.syscall(35, ctypes.byref(TS(0, 1000)), ctypes.byref(TS(7, 7)))
# the file offsets sendfile moves and splice and copy_file_range read
fd = os.open("/etc/passwd", os.O_RDONLY)
for n in (3, 0):
    libc.syscall(40, w2, fd, ctypes.byref(ctypes.c_long(0)), n)
libc.syscall(40, 99, fd, ctypes.byref(ctypes.c_long(0)), 3)
libc.syscall(275, fd, ctypes.byref(ctypes.c_long(1)), w2, None, 2, 0)
libc.syscall(326, fd, ctypes.byref(ctypes.c_long(0)), w2, ctypes.byref(ctypes.c_long(2)), 3, 0)
# process_vm_readv/writev on itself and on a child
a = ctypes.create_string_buffer(b"hello world", 11)
b = ctypes.create_string_buffer(20)
c = ctypes.create_string_buffer(20)
loc = (IOV * 2)(IOV(ctypes.addressof(b), 5), IOV(ctypes.addressof(c), 6))
rem = (IOV * 1)(IOV(ctypes.addressof(a), 11))
me = os.getpid()
libc.syscall(310, me, loc, 2, rem, 1, 0)
libc.syscall(311, me, rem, 1, loc, 2, 0)
libc.syscall(310, me, loc, 2, rem, 1, 5)
libc.syscall(310, me, loc, 2, ctypes.c_void_p(8), 1, 0)
pid = os.fork()
if pid == 0:
    time.sleep(0.3)
    os._exit(0)
libc.syscall(310, pid, loc, 2, rem, 1, 0)
os.waitpid(pid, 0)
'''
SET = ("access,select,pselect6,ppoll,nanosleep,clock_nanosleep,process_vm_readv,process_vm_writev,sendfile,splice,"
       "copy_file_range")


def _masked(line: str) -> str:
    """What differs between two runs, not between tracers: the time a timeout
    or an interrupted sleep had left, the python3's own pid."""
    line = re.sub(r"left \{tv_sec=\d+, tv_(u|n)sec=\d+\}", "left {T}", line)
    line = re.sub(r"(nanosleep\(.*\}, )\{tv_sec=\d+, tv_nsec=\d+\}(\) = \? ERESTART)", r"\1{T}\2", line)
    return re.sub(r"^(process_vm_(?:readv|writev))\(\d+, ", r"\1(PID, ", line)


@pytest.mark.skipif(not _strace_in_a_user_namespace(), reason="needs strace and user namespaces")
@pytest.mark.parametrize("tracer", ["bpf", "ptrace"])
@pytest.mark.parametrize("front", [True, False], ids=["front door", "lxrun-py"])
def test_select_ppoll_sleeps_process_vm_are_straces(rootfs, tmp_path, monkeypatch, front, tracer):
    """Host strace 6.1's lines, line by line: the fd_sets and timeout at
    entry and (in [5], out [4], left {...}) after, (Timeout), pselect6's
    {sigmask=[USR1], sigsetsize=8}, ppoll's left, the sleeps' rem only when
    interrupted, process_vm's local data and remote addresses."""
    if tracer == "bpf" and os.geteuid() != 0:
        pytest.skip("the BPF tracer needs root")
    monkeypatch.setenv("LXBRAND_TRACE", tracer)
    ours, theirs = _traced_and_straced(rootfs, tmp_path, "lxrun" if front else PYCLI, PROGRAM, SET)
    ours, theirs = [_masked(t) for t in ours], [_masked(t) for t in theirs]
    assert ours == theirs and len(ours) >= 30
    text = "\n".join(ours)
    for construct in ("pselect6(6, [3 5], [4], NULL, {tv_sec=1, tv_nsec=500000000}, NULL) = 2 (in [5], out [4], left {T})",
                      "pselect6(4, [3], NULL, NULL, {tv_sec=0, tv_nsec=10000000}, NULL) = 0 (Timeout)",
                      "select(10, [3 5], NULL, NULL, {tv_sec=0, tv_usec=20000}) = 1 (in [5], left {T})",
                      "select(10, [3], NULL, NULL, {tv_sec=0, tv_usec=20000}) = 0 (Timeout)",
                      "select(10, [4 5], [4 6], NULL, NULL) = 3 (in [5], out [4 6])",
                      "select(10, [9], NULL, NULL, NULL) = -1 EBADF", "select(10, 0x8, NULL, NULL, {tv_sec=0, tv_usec=0})",
                      "select(0, NULL, NULL, NULL, {tv_sec=0, tv_usec=0}) = 0 (Timeout)",
                      "select(1024, [5 1023], NULL, NULL, {tv_sec=0, tv_usec=0}) = 1 (in [5], left {T})",
                      "{sigmask=[USR1 TERM], sigsetsize=8}) = 1 (out [4], left {T})", "{sigmask=NULL, sigsetsize=8}",
                      "{sigmask=~[KILL], sigsetsize=8}", "{sigmask=ADDR, sigsetsize=4}) = -1 EINVAL",
                      "{sigmask=0x8, sigsetsize=8}) = -1 EFAULT", "pselect6(10, NULL, [4], NULL, 0x8, NULL) = -1 EFAULT",
                      "ppoll([{fd=3, events=POLLIN}, {fd=5, events=POLLIN}], 2, {tv_sec=1, tv_nsec=0}, [USR1 TERM], 8) = 1 "
                      "([{fd=5, revents=POLLIN}], left {T})",
                      "ppoll([{fd=3, events=POLLIN}], 1, {tv_sec=0, tv_nsec=10000000}, NULL, 8) = 0 (Timeout)",
                      "ppoll(NULL, 0, {tv_sec=0, tv_nsec=0}, ADDR, 4) = -1 EINVAL", "ppoll(NULL, 0, 0x8, ~[KILL], 8)",
                      "select(10, [3], NULL, NULL, {tv_sec=1, tv_usec=0}) = ? ERESTARTNOHAND",
                      "pselect6(10, [3], NULL, NULL, {tv_sec=1, tv_nsec=0}, NULL) = ? ERESTARTNOHAND",
                      "ppoll([{fd=3, events=POLLIN}], 1, {tv_sec=1, tv_nsec=0}, NULL, 8) = ? ERESTARTNOHAND",
                      "nanosleep({tv_sec=1, tv_nsec=0}, {T}) = ? ERESTART_RESTARTBLOCK",
                      "clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=1, tv_nsec=0}, {T}) = ? ERESTART_RESTARTBLOCK",
                      "nanosleep({tv_sec=0, tv_nsec=1000}, ADDR) = 0",
                      'process_vm_readv(PID, [{iov_base="hello", iov_len=5}, {iov_base=" world", iov_len=6}], 2, '
                      "[{iov_base=ADDR, iov_len=11}], 1, 0) = 11",
                      'process_vm_writev(PID, [{iov_base="hello world", iov_len=11}], 1, [{iov_base=ADDR, iov_len=5}, '
                      "{iov_base=ADDR, iov_len=6}], 2, 0) = 11",
                      "[{iov_base=ADDR, iov_len=5}, {iov_base=ADDR, iov_len=6}], 2, [{iov_base=ADDR, iov_len=11}], 1, 5)"
                      " = -1 EINVAL", "process_vm_readv(PID, [{iov_base=ADDR, iov_len=5}, {iov_base=ADDR, iov_len=6}], 2, "
                      "0x8, 1, 0) = -1 EFAULT", "sendfile(6, 7, [0] => [3], 3) = 3", "sendfile(6, 7, [0], 0) = 0",
                      "sendfile(99, 7, [0], 3) = -1 EBADF", "splice(7, [1], 6, NULL, 2, 0) = 2",
                      "copy_file_range(7, [0], 6, [2], 3, 0) = -1"):
        assert construct in text, construct


@pytest.mark.parametrize("front", [True, False], ids=["front door", "lxrun-py"])
def test_select_in_json(rootfs, tmp_path, front):
    """The same calls in JSON: an fd_set {"fds": [3, 5], "ready": [5]}
    ("ready" after a call that returned > 0), the timeout as given,
    pselect6's sigmask an object, process_vm's remote array of addresses;
    an fd_set the copy cannot hold whole (three sets of 1024) ends "..."."""
    out = tmp_path / "trace.json"
    program = PROGRAM + ("three = [(ctypes.c_ulong * 16)() for _ in range(3)]\nthree[0][15] = 1 << 63\n"
                         "libc.syscall(23, 1024, *(ctypes.byref(x) for x in three), ctypes.byref(TV(0, 0)))\n")
    r = subprocess.run(["lxrun" if front else PYCLI, f"--trace={SET}", "--trace-format", "json", "-o", str(out),
                        rootfs, "python3", "-c", program], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    calls = [e for e in map(json.loads, out.read_text().splitlines()) if e["type"] == "syscall"]
    first = next(e for e in calls if e["syscall"] == "pselect6")["args"]
    assert first["readfds"] == {"fds": [3, 5], "ready": [5]} and first["writefds"] == {"fds": [4], "ready": [4]}
    assert first["exceptfds"] == "NULL" and first["timeout"] == "{tv_sec=1, tv_nsec=500000000}"
    out_ = next(e for e in calls if e["syscall"] == "select" and e["result"] == 0)["args"]
    assert out_["readfds"] == {"fds": [3]} and out_["timeout"] == "{tv_sec=0, tv_usec=20000}"
    masked = next(e for e in calls if e["syscall"] == "pselect6" and isinstance(e["args"]["sigmask"], dict))
    assert masked["args"]["sigmask"] == {"sigmask": ["USR1", "TERM"], "sigsetsize": 8}
    pv = next(e for e in calls if e["syscall"] == "process_vm_readv")["args"]
    assert pv["local_iov"] == [{"iov_base": "hello", "iov_len": 5}, {"iov_base": " world", "iov_len": 6}]
    assert pv["remote_iov"][0]["iov_base"].startswith("0x") and pv["remote_iov"][0]["iov_len"] == 11
    cut = [e for e in calls if e["syscall"] == "select" and e["args"]["nfds"] == 1024][-1]["args"]
    assert cut["readfds"] == {"fds": ["..."]} and cut["writefds"] == {"fds": ["..."]}


def test_an_fd_set_past_the_copy_is_cut(rootfs, tmp_path):
    """Three fd_sets of 1024 fds: 896 of each fit the copy; the rest is "..."
    (strace prints [1023] where ours has [...])."""
    out = tmp_path / "trace.txt"
    program = ("import ctypes\nlibc = ctypes.CDLL(None)\nthree = [(ctypes.c_ulong * 16)() for _ in range(3)]\n"
               "three[1][0] = 1 << 1; three[0][15] = 1 << 63\n"
               "libc.syscall(23, 1024, *(ctypes.byref(x) for x in three), None)\n")
    r = subprocess.run(["lxrun", "--trace=select", "-o", str(out), rootfs, "python3", "-c", program],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "select(1024, [...], [1 ...], [...], NULL) = 1 (out [1]) <" in out.read_text()
