"""--trace of sendmsg, recvmsg, sendmmsg and recvmmsg (issue 13): struct
msghdr and struct mmsghdr[] as strace 6.1 prints them (print_struct_msghdr,
decode_mmsgvec), from both tracers (BPF, ptrace) and both entry points
(the front door, lxrun-py: both write trace_fmt.c's lines), checked against
host strace; the Python decoder (a Zone's trace callback) against the C
lines of the same records."""
import json
import os
import re
import subprocess

import pytest

from tests.test_trace import HANDOVER, PYCLI, _strace_in_a_user_namespace, _traced_and_straced, lib_bpf_probe

PROGRAM = r'''
import array, ctypes, os, socket, struct
os.access("/lxb13-start", os.F_OK)
a, b = socket.socketpair()
a.sendmsg([b"hello", b"world"])
b.recvmsg(100)
a.sendmsg([b"x" * 40, b"", b"\x00\x01"])
b.recv_into(bytearray(100))
a.sendmsg([b"y"] * 40)
b.recvmsg_into([bytearray(5)] * 40)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendmsg([b"ping"], [], 0, u.getsockname())
u.recvmsg(100)
v.sendmsg([b"0123456789"], [], 0, u.getsockname())
u.recvmsg(4, 0, socket.MSG_TRUNC)
p, q = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe()
p.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r, w]))])
q.recvmsg(10, socket.CMSG_LEN(4))
p.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
q.recvmsg(10, socket.CMSG_SPACE(8))
q.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
p.sendmsg([b"cred"])
q.recvmsg(10, 64)
p.sendmsg([b"cr"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("iII", os.getpid(), 0, 0))])
q.recvmsg(10, 64)
try:
    a.recvmsg(10, 0, socket.MSG_DONTWAIT)
except BlockingIOError:
    pass
libc = ctypes.CDLL(None, use_errno=True)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.c_void_p),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]
class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint32)]
bufs = [ctypes.create_string_buffer(t) for t in (b"one", b"two!", b"three")]
iovs = (iovec * 3)(*[iovec(ctypes.addressof(x), len(x.value)) for x in bufs])
vec = (mmsghdr * 3)()
vec[0].hdr.iov, vec[0].hdr.iovlen = ctypes.addressof(iovs), 2
vec[1].hdr.iov, vec[1].hdr.iovlen = ctypes.addressof(iovs) + 32, 1
vec[2].hdr.iov, vec[2].hdr.iovlen = ctypes.addressof(iovs), 1
libc.sendmmsg(p.fileno(), vec, 3, 0)
rb = [ctypes.create_string_buffer(16) for _ in range(4)]
riov = (iovec * 4)(*[iovec(ctypes.addressof(x), 16) for x in rb])
rvec = (mmsghdr * 4)()
names = [ctypes.create_string_buffer(110) for _ in range(4)]
for k in range(4):
    rvec[k].hdr.iov, rvec[k].hdr.iovlen = ctypes.addressof(riov) + 16 * k, 1
    rvec[k].hdr.name, rvec[k].hdr.namelen = ctypes.addressof(names[k]), 110
libc.recvmmsg(q.fileno(), rvec, 4, socket.MSG_DONTWAIT, None)
libc.recvmmsg(q.fileno(), rvec, 4, socket.MSG_DONTWAIT, None)
libc.sendmmsg(99, vec, 2, 0)
many = (mmsghdr * 12)()
for k in range(12):
    many[k].hdr.iov, many[k].hdr.iovlen = ctypes.addressof(iovs) + 16 * (k % 3), 1
libc.sendmmsg(p.fileno(), many, 12, socket.MSG_DONTWAIT)
libc.sendmsg(p.fileno(), None, 0)
libc.sendmsg(p.fileno(), ctypes.c_void_p(0xdead0000), 0)
m = msghdr()
m.iovlen = 2
libc.sendmsg(p.fileno(), ctypes.byref(m), 0)
m.iov, m.iovlen = ctypes.addressof(iovs), 1
ctl = ctypes.create_string_buffer(64)
m.control, m.controllen = ctypes.addressof(ctl), 8
libc.sendmsg(p.fileno(), ctypes.byref(m), 0)
m.control, m.controllen = 0xdead0000, 32
libc.sendmsg(p.fileno(), ctypes.byref(m), socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
m.control, m.controllen = 0, 0
name = ctypes.create_string_buffer(b"\x01\x00/tmp/nosuch\x00", 110)
m.name, m.namelen = ctypes.addressof(name), 14
libc.sendmsg(p.fileno(), ctypes.byref(m), 0)
six = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
six.bind(("::1", 0))
socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendmsg([b"six"], [], 0, six.getsockname())
six.recvmsg(10)
libc.recvmsg(q.fileno(), ctypes.c_void_p(0xdead0000), 0)
t1, t2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
ts = (ctypes.c_long * 2)(1, 0)
t1.send(b"x")
libc.recvmmsg(t2.fileno(), rvec, 2, 0x10000, ts)        # MSG_WAITFORONE: one, then the timeout left
libc.recvmmsg(t2.fileno(), rvec, 0, 0, None)
ts[0], ts[1] = 1, 0
libc.recvmmsg(t2.fileno(), rvec, 2, socket.MSG_DONTWAIT, ts)
u.setsockopt(socket.SOL_SOCKET, 29, 1)                  # SO_TIMESTAMP_OLD
v.sendto(b"a", u.getsockname())
u.recvmsg(10, 64)
u.setsockopt(socket.SOL_SOCKET, 29, 0)
u.setsockopt(socket.SOL_SOCKET, 35, 1)                  # SO_TIMESTAMPNS_OLD
v.sendto(b"b", u.getsockname())
u.recvmsg(10, 64)
u.setsockopt(socket.SOL_SOCKET, 35, 0)
u.setsockopt(socket.SOL_IP, 12, 1)                      # IP_RECVTTL
u.setsockopt(socket.SOL_IP, socket.IP_RECVTOS, 1)
v.sendto(b"c", u.getsockname())
u.recvmsg(10, 64)
v.sendto(b"d", u.getsockname())
u.recvmsg(10, 20)
'''
SET = "access,sendmsg,recvmsg,sendmmsg,recvmmsg"


def _masked(lines):
    """What differs between the zone's run and strace's, not between the tracers: ports, the
    fd numbers passed (native python3 has one more open), the sender's pid (1 in strace's
    namespace)."""
    out = []
    for t in lines:
        t = re.sub(r"htons\(\d+\)", "htons(PORT)", t)
        t = re.sub(r"cmsg_type=SCM_RIGHTS, cmsg_data=\[[\d, ]+\]", "cmsg_type=SCM_RIGHTS, cmsg_data=[FDS]", t)
        t = re.sub(r"\(left \{tv_sec=\d+, tv_nsec=\d+\}\)", "(left {LEFT})", t)
        t = re.sub(r"cmsg_data=\{tv_sec=\d+, (tv_u?n?sec)=\d+\}", r"cmsg_data={tv_sec=T, \1=T}", t)
        out.append(re.sub(r"cmsg_data=\{pid=\d+,", "cmsg_data={pid=PID,", t))
    return out


def _modes():
    bpf = os.geteuid() == 0 and lib_bpf_probe() >= 0
    return [pytest.param("bpf", marks=pytest.mark.skipif(not bpf, reason="BPF programs cannot be loaded here")),
            "ptrace"]


@pytest.mark.skipif(not _strace_in_a_user_namespace(), reason="needs strace and user namespaces")
@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("front", [True, False], ids=["front door", "lxrun-py"])
def test_msghdrs_are_straces(rootfs, tmp_path, front, mode):
    """A python3 that sends and receives with several buffers (cut at 32
    bytes and 32 entries, recvmsg's data up to its result), datagrams with
    an address, fds (SCM_RIGHTS, one cut: MSG_CTRUNC), credentials,
    timestamps (SO_TIMESTAMP, SO_TIMESTAMPNS), IP_TTL and IP_TOS, a
    truncated datagram (MSG_TRUNC), a recvmsg that fails, recvmmsg's
    timeout at entry and ` (left {...})`, ` (Timeout)`, NULL, unreadable
    and empty parts (the struct, msg_iov, msg_control), and sendmmsg and
    recvmmsg of several entries (a failed sendmmsg; 12 entries, of which the
    copy holds 7, then "...", where strace prints all 12): host strace
    6.1's lines, line for line."""
    env = dict(os.environ, LXBRAND_TRACE=mode, LXRUN_DEBUG_FRONTDOOR="1")    # the front door says a hand-over
    ours, theirs = _traced_and_straced(rootfs, tmp_path, "lxrun" if front else PYCLI, PROGRAM, SET, env=env)
    ours, theirs = _masked(ours), _masked(theirs)
    assert len(ours) == len(theirs) >= 33
    at = next(i for i, t in enumerate(theirs) if "], 12, MSG_DONTWAIT) = 12" in t)
    last, want_last = ours.pop(at), theirs.pop(at)
    assert ours == theirs
    # the 12-entry sendmmsg: the entries our copy holds (768 bytes: 7 of these) are strace's first, then "..."
    k = last.count("{msg_hdr=")
    assert 6 <= k <= 8 and last == "{msg_hdr=".join(want_last.split("{msg_hdr=")[:k + 1]).rstrip(", ") \
        + ", ...], 12, MSG_DONTWAIT) = 12"
    text = "\n".join(ours)
    for construct in (
            'sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="hello", iov_len=5}, {iov_base="world", '
            'iov_len=5}], msg_iovlen=2, msg_controllen=0, msg_flags=0}, 0) = 10',
            'recvmsg(4, {msg_name=ADDR, msg_namelen=110 => 0, msg_iov=[{iov_base="helloworld", iov_len=100}], '
            'msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 10',
            '{iov_base="y", iov_len=1}, ...], msg_iovlen=40, ',
            '{iov_base="yyyyy", iov_len=5}, {iov_base="", iov_len=5}',
            'sendmsg(6, {msg_name={sa_family=AF_INET, sin_port=htons(PORT), sin_addr=inet_addr("127.0.0.1")}, '
            'msg_namelen=16, msg_iov=[{iov_base="ping", iov_len=4}], ',
            'msg_iov=[{iov_base="0123", iov_len=4}], msg_iovlen=1, msg_controllen=0, msg_flags=MSG_TRUNC}, '
            'MSG_TRUNC) = 10',
            'msg_control=[{cmsg_len=24, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[FDS]}], '
            'msg_controllen=24, ',
            'cmsg_data=[FDS]}], msg_controllen=20, msg_flags=MSG_CTRUNC}, 0) = 2',
            'msg_control=[{cmsg_len=28, cmsg_level=SOL_SOCKET, cmsg_type=SCM_CREDENTIALS, cmsg_data={pid=PID, uid=0, '
            'gid=0}}], msg_controllen=32, msg_flags=0}',
            'recvmsg(3, {msg_namelen=110}, MSG_DONTWAIT) = -1 EAGAIN',
            'sendmmsg(7, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="one", iov_len=3}, '
            '{iov_base="two!", '
            'iov_len=4}], msg_iovlen=2, msg_controllen=0, msg_flags=0}, msg_len=7}, {msg_hdr=',
            'recvmmsg(8, [{msg_hdr={msg_name=ADDR, msg_namelen=110 => 0, msg_iov=[{iov_base="onetwo!", iov_len=16}], '
            'msg_iovlen=1, msg_controllen=0, msg_flags=MSG_CTRUNC}, msg_len=7}, ',
            "recvmmsg(8, ADDR, 4, MSG_DONTWAIT, NULL) = -1 EAGAIN",
            'sendmmsg(99, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="one", iov_len=3}, '
            '{iov_base="two!", '
            'iov_len=4}], msg_iovlen=2, msg_controllen=0, msg_flags=0}}, {msg_hdr=',
            "sendmsg(7, NULL, 0) = -1 EFAULT", "sendmsg(7, ADDR, 0) = -1 EFAULT",
            "{msg_name=NULL, msg_namelen=0, msg_iov=NULL, msg_iovlen=2, msg_controllen=0, msg_flags=0}, 0) = -1 EFAULT",
            "msg_iovlen=1, msg_control=ADDR, msg_controllen=8, msg_flags=0}, 0) = 3",
            "msg_control=ADDR, msg_controllen=32, msg_flags=0}, MSG_DONTWAIT|MSG_NOSIGNAL) = -1 EFAULT",
            'sendmsg(7, {msg_name={sa_family=AF_UNIX, sun_path="/tmp/nosuch"}, msg_namelen=14, ',
            '{msg_name={sa_family=AF_INET6, sin6_port=htons(PORT), sin6_flowinfo=htonl(0), '
            'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, msg_namelen=28, msg_iov=[{iov_base="six", '
            'iov_len=10}], ',
            "recvmsg(8, ADDR, 0) = -1 EFAULT",
            'msg_iov=[{iov_base="x", iov_len=16}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=1}], '
            "2, MSG_WAITFORONE, {tv_sec=1, tv_nsec=0}) = 1 (left {LEFT})",
            ", [], 0, 0, NULL) = 0 (Timeout)",
            ", ADDR, 2, MSG_DONTWAIT, {tv_sec=1, tv_nsec=0}) = -1 EAGAIN",
            "cmsg_type=SO_TIMESTAMP_OLD, cmsg_data={tv_sec=T, tv_usec=T}}], msg_controllen=32, ",
            "cmsg_type=SO_TIMESTAMPNS_OLD, cmsg_data={tv_sec=T, tv_nsec=T}}], msg_controllen=32, ",
            "msg_control=[{cmsg_len=20, cmsg_level=SOL_IP, cmsg_type=IP_TTL, cmsg_data=[64]}, {cmsg_len=17, "
            "cmsg_level=SOL_IP, cmsg_type=IP_TOS, cmsg_data=[0]}], msg_controllen=48, msg_flags=0}",
            "cmsg_data=[64]}], msg_controllen=20, msg_flags=MSG_CTRUNC}, 0) = 1"):
        assert construct in text, construct


@pytest.mark.parametrize("mode", _modes())
@pytest.mark.parametrize("front", [True, False], ids=["front door", "lxrun-py"])
def test_msghdrs_in_json_are_objects(rootfs, tmp_path, front, mode):
    """The same python3 traced in JSON: a msghdr is an object of strace's
    fields (msg_namelen the value after the call, msg_iov and msg_control
    lists, cmsg_data a list or an object); an mmsghdr array a list of
    {msg_hdr, msg_len}, "..." last when cut.  C and Python agree."""
    out = tmp_path / "trace.json"
    for _ in range(2):      # a set's first run after a build is handed over (the Python CLI caches its part)
        r = subprocess.run(["lxrun" if front else PYCLI, f"--trace={SET}", "--trace-format", "json", "-o", str(out),
                            rootfs, "python3", "-c", PROGRAM], capture_output=True, timeout=120,
                           env=dict(os.environ, LXBRAND_TRACE=mode, LXRUN_DEBUG_FRONTDOOR="1"))
        if HANDOVER not in r.stderr.decode():
            break
    assert r.returncode == 0, r.stderr
    assert HANDOVER not in r.stderr.decode()
    ev = [json.loads(line) for line in out.read_text().splitlines()]
    calls = [e for e in ev if e["type"] == "syscall" and e["syscall"] != "access"]
    first = calls[0]["args"]["msg"]
    assert first == {"msg_name": "NULL", "msg_namelen": 0, "msg_iov": [{"iov_base": "hello", "iov_len": 5},
                                                                         {"iov_base": "world", "iov_len": 5}],
                     "msg_iovlen": 2, "msg_controllen": 0, "msg_flags": "0"}
    got = calls[1]["args"]["msg"]
    assert got["msg_namelen"] == 0 and got["msg_name"].startswith("0x")
    assert got["msg_iov"] == [{"iov_base": "helloworld", "iov_len": 100}]
    dgram = next(e for e in calls if e["syscall"] == "recvmsg" and e["args"]["flags"] == "MSG_TRUNC")["args"]["msg"]
    assert dgram["msg_name"].startswith("{sa_family=AF_INET, sin_port=htons(") and dgram["msg_flags"] == "MSG_TRUNC"
    fds = next(e for e in calls if e["syscall"] == "sendmsg" and e["args"]["msg"]["msg_controllen"] == 24)
    cm = fds["args"]["msg"]["msg_control"]
    assert len(cm) == 1 and cm[0]["cmsg_len"] == 24 and cm[0]["cmsg_level"] == "SOL_SOCKET"
    assert cm[0]["cmsg_type"] == "SCM_RIGHTS" and len(cm[0]["cmsg_data"]) == 2
    cred = next(e for e in calls if e["syscall"] == "recvmsg" and e["args"]["msg"].get("msg_controllen") == 32)
    assert cred["args"]["msg"]["msg_control"][0]["cmsg_data"]["uid"] == 0
    failed = next(e for e in calls if e["syscall"] == "recvmsg" and e["errno"] == "EAGAIN")
    assert failed["args"]["msg"] == {"msg_namelen": 110}
    mm = next(e for e in calls if e["syscall"] == "sendmmsg" and e["result"] == 3)["args"]["msgvec"]
    assert [m["msg_len"] for m in mm] == [7, 5, 3] and mm[1]["msg_hdr"]["msg_iov"][0]["iov_base"] == "three"
    many = next(e for e in calls if e["syscall"] == "sendmmsg" and e["result"] == 12)["args"]["msgvec"]
    assert len(many) == 8 and many[-1] == "..."
    rm = next(e for e in calls if e["syscall"] == "recvmmsg" and e["result"] == 3)["args"]["msgvec"]
    assert rm[0]["msg_hdr"]["msg_iov"] == [{"iov_base": "onetwo!", "iov_len": 16}] and rm[0]["msg_len"] == 7


@pytest.mark.parametrize("front", [True, False], ids=["front door", "lxrun-py"])
def test_msghdrs_of_bpf_are_ptraces(rootfs, tmp_path, front):
    """The BPF tracer packs what the ptrace tracer packs: the same lines (ports, addresses, the
    timeout left aside)."""
    if os.geteuid() != 0 or lib_bpf_probe() < 0:
        pytest.skip("BPF programs cannot be loaded here")
    texts = []
    for mode in ("bpf", "ptrace"):
        out = tmp_path / f"{mode}.txt"
        for _ in range(2):      # a set's first run after a build is handed over
            r = subprocess.run(["lxrun" if front else PYCLI, f"--trace={SET}", "-o", str(out), rootfs, "python3", "-c",
                                PROGRAM], capture_output=True, timeout=120,
                               env=dict(os.environ, LXBRAND_TRACE=mode, LXRUN_DEBUG_FRONTDOOR="1"))
            if HANDOVER not in r.stderr.decode():
                break
        assert r.returncode == 0, r.stderr
        assert HANDOVER not in r.stderr.decode()
        texts.append(_masked([re.sub(r"0x[0-9a-f]{6,}", "ADDR", re.sub(r" <[\d.]+>$", "", t))
                              for t in out.read_text().splitlines() if "msg(" in t]))
    assert texts[0] == texts[1] and len(texts[0]) >= 23


@pytest.mark.parametrize("mode", _modes())
def test_msghdr_lines_of_a_real_run_are_the_python_decoders(rootfs, tmp_path, monkeypatch, mode):
    """The same python3 in a Zone with a trace callback: the lines the C
    formatter wrote (both CLIs write theirs) are those the Python decoder
    (trace.Recorder, a callback's events) makes of the same records."""
    from lxbrand import Zone, trace
    made = []
    original = trace.Recorder

    def reference(o):
        r = original(o, reference=True)
        made.append(r)
        return r
    monkeypatch.setattr(trace, "Recorder", reference)
    monkeypatch.setenv("LXBRAND_TRACE", mode)
    for fmt in ("text", "json"):
        out = tmp_path / f"trace.{fmt}"
        events = []
        z = Zone(rootfs, trace=events.append, trace_output=str(out), trace_format=fmt, trace_set=SET)
        r = z.run(["python3", "-c", PROGRAM], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
        text = out.read_text()
        assert text == "".join(made[-1].lines) and len(events) == len(text.splitlines())
        assert text.count("msg_namelen") > 30 and "msg_control" in text and "msg_hdr" in text
