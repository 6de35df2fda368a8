"""The translation table against the kernel's own list, and every name in it
resolving (strace/strace tests/ksysent.c does the same for strace's table).

tests/data/syscall_64.tbl is torvalds/linux arch/x86/entry/syscalls/syscall_64.tbl
as of Linux 6.18: the table holds exactly its common and 64 entries.  The
layouts of lxbrand/brand/abi.py are checked against what the running kernel writes.
The compile step, the report and the decoder: tests/test_brand.py.
"""
from __future__ import annotations

import ctypes
import errno
import importlib
import inspect
import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lxbrand.cli import main
from lxbrand.brand import BY_NAME, BY_NR, TABLE, CHandler, abi, compile_brand, report
from lxbrand.brand.compile import c_handler_id
from lxbrand.brand.model import OPTIONS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TBL = HERE / "data" / "syscall_64.tbl"
UNISTD = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
LXBRAND_H = ROOT / "csrc" / "lxbrand.h"
VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


def _version(text: str) -> tuple[int, ...]:
    m = VERSION.match(text)
    assert m, f"{text!r} is not a Linux version"
    return tuple(int(g) for g in m.groups() if g is not None)


def _kernel_table() -> dict[int, str]:
    out = {}
    for line in TBL.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        nr, abi_, name = line.split()[:3]
        if abi_ in ("common", "64"):
            assert int(nr) not in out, f"syscall_64.tbl: {nr} twice"
            out[int(nr)] = name
    return out


# --- the list of syscalls -----------------------------------------------------

def test_tbl_copy_is_the_kernels():
    lines = TBL.read_text().splitlines()
    assert lines[0] == "# SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note"
    kernel = _kernel_table()
    # the newest of Linux 6.18, and nothing past it (listns, 470, is 6.19)
    assert kernel[336] == "uprobe" and kernel[467] == "open_tree_attr" and kernel[469] == "file_setattr"
    assert max(kernel) == 469


def test_table_is_syscall_64_tbl():
    kernel = _kernel_table()
    ours = {sc.nr: sc.name for sc in TABLE}
    assert sorted(set(kernel) - set(ours)) == [], "in syscall_64.tbl, missing from the table"
    assert sorted(set(ours) - set(kernel)) == [], "in the table, not in syscall_64.tbl"
    wrong = {nr: (ours[nr], kernel[nr]) for nr in kernel if ours[nr] != kernel[nr]}
    assert wrong == {}


@pytest.mark.skipif(not UNISTD.exists(), reason=f"{UNISTD} is not installed")
def test_table_agrees_with_unistd_64_h():
    defined = {}
    for line in UNISTD.read_text().splitlines():
        m = re.match(r"#define __NR_(\w+)\s+(\d+)$", line)
        if m:
            defined[int(m.group(2))] = m.group(1)
    assert defined, f"no __NR_ in {UNISTD}"
    wrong = {nr: (BY_NR[nr].name if nr in BY_NR else None, name) for nr, name in defined.items()
             if nr not in BY_NR or BY_NR[nr].name != name}
    assert wrong == {}


def test_number_order_and_unique_names():
    nrs = [sc.nr for sc in TABLE]
    assert nrs == sorted(nrs) and len(set(nrs)) == len(nrs)
    names = [sc.name for sc in TABLE]
    assert len(set(names)) == len(names)
    assert len(BY_NAME) == len(BY_NR) == len(TABLE)
    assert all(BY_NAME[sc.name] is sc and BY_NR[sc.nr] is sc for sc in TABLE)


# --- statuses and handlers ----------------------------------------------------

def _c_handler_ids() -> dict[str, int]:
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"#define LXB_C_(\w+) (\d+)", LXBRAND_H.read_text())}


@pytest.mark.parametrize("sc", [sc for sc in TABLE if sc.handler is not None], ids=lambda sc: sc.name)
def test_handler_resolves(sc):
    """Every handler the table names exists: a Python function, or a C handler
    that the compiled supervisor knows by its name (LXB_C_<NAME>)."""
    h = sc.handler
    if isinstance(h, CHandler):
        assert h.name == sc.name and h.__name__ == f"sys_{sc.name}", "a C handler carries the syscall's name"
        assert h.constant in {f"LXB_C_{n}" for n in _c_handler_ids()}, f"{h.constant} in csrc/lxbrand.h"
        assert c_handler_id(h) == _c_handler_ids()[sc.name.upper()], "the built module is csrc/lxbrand.h's"
        assert any(f"sys_{sc.name}(" in p.read_text() for p in (ROOT / "csrc").glob("*.c")), f"sys_{sc.name} in csrc/"
    else:
        assert callable(h)
        assert getattr(importlib.import_module(h.__module__), h.__name__) is h
        # called as fn(call, *args): one parameter per argument of the signature
        inspect.signature(h).bind(object(), *range(len(sc.params)))


def test_statuses():
    for sc in TABLE:
        st = sc.status
        assert st.name in report.STATUS_ORDER, sc.name
        assert st.option is None or (all(o in OPTIONS for o in st.option.split())
                                     and st.name != "pass"), sc.name
        if st.notified:
            assert sc.handler is not None, f"{sc.name}: {st} without a handler"
            assert sc.note, f"{sc.name}: {st} says nothing of what differs from Linux"
        elif st.name == "pass":
            assert sc.handler is None and sc.note == "", f"{sc.name}: a PASS line stops at since"
        else:
            assert sc.handler is None, f"{sc.name}: {st} is answered in the kernel, no handler runs"
            assert sc.note, f"{sc.name}: {st} without a note"


def test_deny_errnos_are_errnos():
    for sc in TABLE:
        if sc.status.name == "denied":
            assert 0 < sc.status.errno < 4096 and sc.status.errno in errno.errorcode, sc.name
        if sc.status.name == "unsupported":
            assert sc.status.errno == errno.ENOSYS, sc.name
            assert sc.note.startswith("ENOSYS"), sc.name


def test_the_brands_choices():
    emulated = {sc.name for sc in TABLE if sc.status.name == "emulated"}
    assert emulated == {"uname", "sysinfo", "sched_getaffinity"}
    # uname: the kernel's, in the zone's UTS namespace, unless the zone has a
    # kernel personality; sethostname/setdomainname: always the kernel's (issue 10)
    assert BY_NAME["uname"].status.option == "kernel_release"
    # the zone's resources, only in a zone given them (issue 12)
    assert BY_NAME["sysinfo"].status.option == "memory cpus"
    assert BY_NAME["sched_getaffinity"].status.option == "cpus"
    for name in ("sethostname", "setdomainname"):
        assert BY_NAME[name].status.name == "pass" and BY_NAME[name].handler is None, name
    for name in ("kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "swapon",
                 "swapoff", "acct", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "iopl",
                 "ioperm", "syslog", "quotactl", "quotactl_fd", "perf_event_open", "bpf", "vhangup", "reboot"):
        assert BY_NAME[name].status.name == "denied" and BY_NAME[name].status.errno == errno.EPERM, name
    for name in ("io_uring_setup", "io_uring_enter", "io_uring_register", "uselib", "_sysctl", "afs_syscall",
                 "tuxcall", "security", "getpmsg", "putpmsg", "vserver", "epoll_ctl_old", "epoll_wait_old",
                 "create_module", "get_kernel_syms", "query_module", "nfsservctl", "lookup_dcookie"):
        assert BY_NAME[name].status.name == "unsupported", name
    for name in ("pivot_root", "set_thread_area", "get_thread_area", "openat", "clone3"):
        assert BY_NAME[name].status.name == "pass", name


# --- signatures and versions --------------------------------------------------

def test_signatures_resolve():
    for sc in TABLE:
        params = sc.params
        assert len(params) <= 6, f"{sc.name}: x86_64 passes at most six arguments"
        names = [n for n, _ in params]
        assert len(set(names)) == len(names), f"{sc.name}: an argument name twice"
        for name, kind in params:
            assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), f"{sc.name}: argument {name!r}"
            try:
                abi.arg_type(kind)
            except (KeyError, ValueError) as e:
                pytest.fail(f"{sc.name}({name}:{kind}): {e}")


def test_every_abi_type_is_used():
    used = {abi.arg_type(kind).name for sc in TABLE for _, kind in sc.params}
    assert set(abi.LAYOUTS) - used == set()
    assert set(abi.SCALARS) - used == set()


def test_since_is_a_version():
    for sc in TABLE:
        v = _version(sc.since)
        assert (2, 6) <= v <= (6, 18), f"{sc.name}: since {sc.since}"


@pytest.mark.parametrize("name,since", [
    ("read", "2.6"), ("kexec_load", "2.6.13"), ("openat", "2.6.16"), ("pipe2", "2.6.27"),
    ("getrandom", "3.17"), ("statx", "4.11"), ("clone3", "5.3"), ("openat2", "5.6"), ("close_range", "5.9"),
    ("faccessat2", "5.8"), ("epoll_pwait2", "5.11"), ("memfd_secret", "5.14"), ("process_mrelease", "5.15"),
    ("futex_waitv", "5.16"), ("set_mempolicy_home_node", "5.17"), ("cachestat", "6.5"), ("fchmodat2", "6.6"),
    ("map_shadow_stack", "6.6"), ("futex_wake", "6.7"), ("futex_wait", "6.7"), ("futex_requeue", "6.7"),
    ("statmount", "6.8"), ("listmount", "6.8"), ("lsm_get_self_attr", "6.8"), ("lsm_set_self_attr", "6.8"),
    ("lsm_list_modules", "6.8"), ("mseal", "6.10"), ("uretprobe", "6.11"), ("setxattrat", "6.13"),
    ("getxattrat", "6.13"), ("listxattrat", "6.13"), ("removexattrat", "6.13"), ("open_tree_attr", "6.15"),
    ("file_getattr", "6.17"), ("file_setattr", "6.17"), ("uprobe", "6.18"),
])
def test_since_known(name, since):
    assert BY_NAME[name].since == since


def test_style_md_lines():
    """The four lines STYLE.md shows are the table's (uname's status and note
    changed with issue 11: emulated only under --kernel-release)."""
    from lxbrand.brand import ident
    sc = BY_NAME["uname"]
    assert (sc.nr, str(sc.status), sc.signature, sc.since, sc.handler, sc.note) == (
        63, "emulated with --kernel-release", "buf:out[utsname]", "2.6", ident.uname,
        "release and version of the zone's kernel personality")
    sc = BY_NAME["kexec_load"]
    assert (sc.nr, str(sc.status), sc.signature, sc.since, sc.note) == (
        246, "denied(EPERM)", "entry nr segments:ptr flags", "2.6.13", "a zone never replaces the host kernel")
    sc = BY_NAME["openat"]
    # the table's signatures also say what the result is (-> fd) and what sizes
    # a buffer (buf:out[bytes](count)), and mode's kind (octal, as strace prints
    # it), which STYLE.md's lines predate
    assert (sc.nr, sc.signature, sc.since) == (257, "dirfd:fd path:path flags:open_flags mode:open_mode -> fd",
                                               "2.6.16")
    sc = BY_NAME["io_uring_setup"]
    assert (sc.nr, sc.signature, sc.since, sc.note) == (
        425, "entries params:inout[io_uring_params] -> fd", "5.1", "ENOSYS: its requests bypass the filter")


# --- abi.py -------------------------------------------------------------------

@pytest.mark.parametrize("kind,size", [
    ("stat", 144), ("statx", 256), ("utsname", 390), ("statfs", 120), ("sigaction", 32), ("sigset", 8),
    ("siginfo", 128), ("stack_t", 24), ("epoll_event", 12), ("open_how", 24), ("clone_args", 88),
    ("io_uring_params", 120), ("rusage", 144), ("sysinfo", 112), ("msghdr", 56), ("mmsghdr", 64),
    ("timex", 208), ("sockaddr", 16), ("pollfd", 8), ("itimerspec", 32), ("timespec", 16), ("timeval", 16),
    ("iovec", 16), ("rlimit", 16), ("iocb", 64), ("io_event", 32), ("sched_attr", 56), ("rseq", 32),
    ("sigevent", 64), ("mq_attr", 64), ("fd_set", 128), ("mount_attr", 32), ("futex_waitv", 24),
    ("mnt_id_req", 32), ("file_attr", 24), ("ustat", 32),
    ("out[stat]", 144), ("in[timeval[2]]", 32), ("out[int[2]]", 8), ("fd", 4), ("path", 8), ("off", 8),
    ("in[iovec[]]", None), ("out[bytes]", None), ("out[linux_dirent64[]]", None), ("in[file_handle]", None),
])
def test_size_of(kind, size):
    assert abi.size_of(kind) == size


@pytest.mark.parametrize("bad", ["nosuch", "in[nosuch]", "out[stat", "in[bytes[]]", "stat", "bytes", "int[2]"])
def test_arg_type_rejects(bad):
    with pytest.raises((KeyError, ValueError)):
        abi.arg_type(bad)


def test_parse_build_round_trip():
    uts = dict(sysname="Linux", nodename="zone", release="6.18.0", version="#1", machine="x86_64",
               domainname="(none)")
    raw = abi.build("out[utsname]", uts)
    got = abi.parse("utsname", raw)
    assert len(raw) == 390 and {k: got[k] for k in uts} == uts
    two = abi.build("in[timespec[2]]", [dict(tv_sec=1, tv_nsec=2), dict(tv_sec=3, tv_nsec=4)])
    assert [t.tv_sec for t in abi.parse("in[timespec[2]]", two)] == [1, 3]
    rec = abi.build("linux_dirent64", dict(d_ino=7, d_off=1, d_reclen=24, d_type=8, d_name=b"etc"))
    entries = abi.parse("out[linux_dirent64[]]", rec * 3)
    assert [e.d_name for e in entries] == [b"etc"] * 3
    flags = abi.parse("open_flags", (os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC).to_bytes(4, "little"))
    assert flags.O_WRONLY and flags.O_CREAT and flags.O_CLOEXEC and not flags.O_TRUNC
    assert abi.parse("signo", (9).to_bytes(4, "little")) == "SIGKILL"


# the layouts against what this kernel writes
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(name, *args):
    rc = _libc.syscall(ctypes.c_long(BY_NAME[name].nr), *args)
    if rc < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{name}: {os.strerror(e)}")
    return rc


def _out(kind):
    return ctypes.create_string_buffer(abi.size_of(kind))


def test_stat_layout_against_kernel(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 1234)
    buf = _out("stat")
    with open(p, "rb") as f:
        _syscall("fstat", f.fileno(), buf)
        st = os.fstat(f.fileno())
    got = abi.parse("stat", buf.raw)
    assert (got.st_ino, got.st_size, got.st_mode, got.st_nlink, got.st_uid) == (
        st.st_ino, 1234, st.st_mode, st.st_nlink, st.st_uid)
    assert got.st_mtime * 10**9 + got.st_mtime_nsec == st.st_mtime_ns


def test_statx_layout_against_kernel(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"y" * 99)
    buf = _out("statx")
    AT_FDCWD, STATX_BASIC_STATS = -100, 0x7FF
    _syscall("statx", AT_FDCWD, str(p).encode(), 0, STATX_BASIC_STATS, buf)
    got, st = abi.parse("statx", buf.raw), os.stat(p)
    assert (got.stx_ino, got.stx_size, got.stx_mode, got.stx_uid) == (st.st_ino, 99, st.st_mode, st.st_uid)
    assert got.stx_mtime.tv_sec * 10**9 + got.stx_mtime.tv_nsec == st.st_mtime_ns


def test_utsname_layout_against_kernel():
    buf = _out("utsname")
    _syscall("uname", buf)
    got, u = abi.parse("utsname", buf.raw), os.uname()
    assert (got.sysname, got.nodename, got.release, got.version, got.machine) == tuple(u)


def test_sysinfo_and_rusage_layouts_against_kernel():
    buf = _out("sysinfo")
    _syscall("sysinfo", buf)
    info = abi.parse("sysinfo", buf.raw)
    assert info.mem_unit >= 1 and 0 < info.freeram <= info.totalram and info.procs >= 1
    buf = _out("rusage")
    _syscall("getrusage", 0, buf)   # RUSAGE_SELF
    ru = abi.parse("rusage", buf.raw)
    import resource
    assert ru.ru_maxrss > 0 and abs(ru.ru_maxrss - resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) < 1 << 20


def test_dirent64_layout_against_kernel(tmp_path):
    for name in ("a", "bb", "a-much-longer-file-name"):
        (tmp_path / name).touch()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = ctypes.create_string_buffer(4096)
        n = _syscall("getdents64", fd, buf, 4096)
    finally:
        os.close(fd)
    names = {e.d_name for e in abi.parse("out[linux_dirent64[]]", buf.raw[:n])}
    assert names == {b".", b"..", b"a", b"bb", b"a-much-longer-file-name"}


# --- lxrun syscalls -----------------------------------------------------------

def test_json_round_trips():
    """JSON of a default zone: the table's line, with the status that holds there."""
    data = json.loads(report.render(True))
    assert json.loads(json.dumps(data)) == data
    assert [d["nr"] for d in data] == [sc.nr for sc in TABLE]
    for d in data:
        sc = BY_NR[d["nr"]]
        assert set(d) == {"nr", "name", "status", "errno", "signature", "params", "classes", "since", "handler",
                          "note"}
        assert (d["name"], d["signature"], d["since"]) == (sc.name, sc.signature, sc.since)
        if sc.status.option is None:
            assert (d["status"], d["note"]) == (sc.status.name, sc.note)
            assert d["handler"] == (sc.handler_name or None)
        else:   # a status under an option a default zone lacks: passes through, the note says
            assert (d["status"], d["handler"]) == ("pass", None) and sc.note in d["note"]
        assert [(p["name"], p["type"]) for p in d["params"]] == sc.params
        assert d["errno"] == (errno.errorcode[sc.status.errno] if sc.status.errno else None)


def test_text_render():
    lines = report.render(False).splitlines()
    assert lines[0].split() == list(report.COLUMNS)
    assert len(lines) == len(TABLE) + 2
    assert lines[-1] == report.counts()
    n = {s: sum(e.status.name == s for e in compile_brand()) for s in report.STATUS_ORDER}
    assert lines[-1] == (f"{len(TABLE)} syscalls: {n['pass']} pass, {n['emulated']} emulated, "
                         f"{n['translated']} translated, {n['denied']} denied, {n['unsupported']} unsupported")
    # aligned: every row's status starts in the same column
    col = lines[0].index("status")
    assert all(line[col - 1] == " " and line[col] != " " for line in lines[1:-1])


def test_lxrun_syscalls_lists_every_name():
    result = CliRunner().invoke(main, ["syscalls"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines()[1:-1]}
    assert listed == set(BY_NAME)
    result = CliRunner().invoke(main, ["syscalls", "--json"])
    assert result.exit_code == 0, result.output
    assert {d["name"] for d in json.loads(result.output)} == set(BY_NAME)
