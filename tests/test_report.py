"""--report (issue 13): what a run needed from the brand, counted by the
supervisor without a tracer (lxbrand/trace.py ReportBrand, struct
lxb_report), and the same report, in the same words, from the C front door
(csrc/frontdoor/lxrun.c) as from the Python CLI (lxrun-py)."""
import os
import subprocess
import sys

import pytest

from lxbrand import Zone
from lxbrand.brand import BY_NAME

SCRIPTS = os.path.dirname(sys.executable)
FRONT = os.environ.get("LXRUN_TEST_FRONTDOOR") or os.path.join(SCRIPTS, "lxrun")
PYCLI = os.path.join(SCRIPTS, "lxrun-py")
HANDOVER = "lxrun: front door: "

# a denied syscall (--deny), one the table denies (syslog: dmesg), one the
# brand does not support (io_uring_setup), one emulated under
# --kernel-release (uname), and the personality's /proc files
IO_URING = "python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(425, 1, 0))'"
HITS = f"hostname other; dmesg >/dev/null 2>&1; {IO_URING}; uname -r; cat /proc/version >/dev/null; exit 3"


def test_the_report_names_what_a_guest_hit(rootfs):
    z = Zone(rootfs, report=True, kernel_release="4.19.0", deny={"sethostname": "EACCES"})
    r = z.run(["sh", "-c", HITS], capture_output=True, timeout=120)
    assert r.returncode == 3 and r.stdout == b"-1\n4.19.0\n", r.stderr
    rep = r.report
    assert rep["command"] == ["sh", "-c", HITS] and rep["exit"] == 3
    d = rep["denied"]
    assert d["sethostname"]["count"] == 1 and d["sethostname"]["errno"] == "EACCES"
    assert d["sethostname"]["first"] == "hostname other"
    assert d["syslog"]["errno"] == "EPERM" and d["syslog"]["first"] == "dmesg" and d["syslog"]["count"] >= 1
    u = rep["unsupported"]
    assert list(u) == ["io_uring_setup"]
    assert u["io_uring_setup"]["count"] == 1 and u["io_uring_setup"]["errno"] == "ENOSYS"
    assert u["io_uring_setup"]["first"].startswith("python3 -c import ctypes")
    assert rep["emulated"]["uname"]["count"] >= 1
    assert rep["paths"]["/proc/version"] == {"count": 1}
    assert "/proc/sys/kernel/osrelease" not in rep["paths"]            # never opened
    assert rep["verdict"] == "hit 1 unsupported syscall: io_uring_setup"


def test_a_clean_run_and_a_denied_only_run(rootfs):
    r = Zone(rootfs, report=True).run(["true"])
    assert r.report["verdict"] == "ran on the brand's pass-through and emulation only"
    assert not (r.report["emulated"] or r.report["denied"] or r.report["unsupported"] or r.report["paths"])
    r = Zone(rootfs, report=True, deny={"getppid": "EACCES"}).run(
        ["python3", "-c", "import os\nfor _ in range(5):\n    try: os.getppid()\n    except OSError: pass"])
    # glibc's getppid cannot fail, Python's wrapper returns -1's value: the calls are what count
    assert r.report["denied"]["getppid"]["count"] == 5
    assert r.report["verdict"] == "hit 1 denied syscall: getppid"


def test_pass_through_calls_never_leave_the_kernel(rootfs):
    """The cheap part: under --report alone no tracer runs and a pass-through
    syscall is never notified; only the denied and unsupported ones are."""
    from lxbrand.trace import Observe, ReportBrand
    from lxbrand._csup import lib
    z = Zone(rootfs, report=True)
    actions, modes = Observe(report=True).actions(z.brand)
    assert modes == []                                                  # nothing for a tracer
    rb = ReportBrand(z.brand)
    for e in z.brand.entries:
        nr = e.sc.nr
        if e.status.name == "pass":
            assert actions[nr] == lib.LXB_ACT_ALLOW, e.sc.name
        elif e.status.name in ("denied", "unsupported"):
            assert actions[nr] == lib.LXB_ACT_NOTIFY and rb.c_handler[nr] == e.status.errno, e.sc.name
    r = z.run(["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do cat /etc/hostname; done >/dev/null"])
    assert r.returncode == 0
    assert z.last_supervisor.notified == 0
    assert z.last_session.t is None                                     # no tracer thread


def test_report_alone_leaves_ptrace_to_the_guest(rootfs):
    """No tracer under --report alone: the guest may ptrace (strace, gdb)."""
    code = "import ctypes; print(ctypes.CDLL(None).ptrace(0, 0, 0, 0))"        # PTRACE_TRACEME
    r = Zone(rootfs, report=True).run(["python3", "-c", code], capture_output=True, timeout=120)
    assert r.stdout == b"0\n", r.stderr
    assert b"ptrace" not in r.stderr


# --- the front door serves --report, in the Python CLI's words -------------------

def _is_elf(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


needs_front = pytest.mark.skipif(not _is_elf(FRONT) or not os.access(PYCLI, os.X_OK),
                                 reason="the front door is not installed (make build)")


def _run(argv, cwd=None, **env):
    e = dict(os.environ, LXRUN_DEBUG_FRONTDOOR="1", **env)
    return subprocess.run([str(a) for a in argv], env=e, capture_output=True, text=True, timeout=120, cwd=cwd)


RUNS = [
    (["--deny", "sethostname=EACCES"], HITS),
    (["--kernel-release", "4.19.0"], HITS),
    (["--kernel-release", "4.19.0"], "cat /proc/version /proc/sys/kernel/osrelease /proc/sys/kernel/version"),
    ([], "dmesg; kill -KILL $$"),                 # killed: the report still comes, (killed by SIGKILL)
    ([], "true"),
]


@needs_front
@pytest.mark.parametrize("opts, script", RUNS, ids=[" ".join(o) + " " + s[:30] for o, s in RUNS])
def test_front_door_and_python_write_the_same_report(rootfs, opts, script):
    args = ["--report", *opts, rootfs, "sh", "-c", script]
    p = _run([PYCLI, *args])                # also leaves the brand for the front door
    c = _run([FRONT, *args])
    assert HANDOVER not in c.stderr, c.stderr
    assert (c.returncode, c.stdout, c.stderr) == (p.returncode, p.stdout, p.stderr)
    assert "lxrun report: sh -c " in c.stderr and "  verdict: " in c.stderr
    ended = "(killed by SIGKILL)" if "kill -KILL" in script else f"(exit {c.returncode})"
    assert f"lxrun report: sh -c {script} {ended}\n" in c.stderr, c.stderr


@needs_front
def test_front_door_report_to_a_file(rootfs, tmp_path):
    args = ["--deny", "sethostname", rootfs, "sh", "-c", "hostname x 2>/dev/null; echo out"]
    p = _run([PYCLI, "--report=py.txt", *args], cwd=tmp_path)
    c = _run([FRONT, "--report=c.txt", *args], cwd=tmp_path)
    assert HANDOVER not in c.stderr, c.stderr
    assert c.returncode == p.returncode == 0 and c.stdout == p.stdout == "out\n" and c.stderr == ""
    text = (tmp_path / "c.txt").read_text()
    assert text == (tmp_path / "py.txt").read_text()
    assert "  denied       sethostname               1 EPERM; first: hostname x\n" in text
    assert text.endswith("  verdict: hit 1 denied syscall: sethostname\n")


@needs_front
def test_front_door_report_on_an_unwritable_file_says_so(rootfs, tmp_path):
    _run([PYCLI, "--report=/dev/null", rootfs, "true"])
    c = _run([FRONT, f"--report={tmp_path}/no/such/dir/r.txt", rootfs, "true"])
    assert HANDOVER not in c.stderr
    assert c.stderr == f"lxrun: --report={tmp_path}/no/such/dir/r.txt: No such file or directory\n"


def test_the_wording_is_trace_pys_in_printf_form():
    """options.py turns trace.py's REPORT_* into the front door's formats, and
    refuses a template whose fields lxrun.c would pass in another order."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "csrc", "frontdoor",
                        "options.py")
    spec = importlib.util.spec_from_file_location("frontdoor_options", path)
    opts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(opts)
    from lxbrand import trace
    assert opts.printf_format(trace.REPORT_LINE, opts.REPORT_FIELDS["REPORT_LINE"]) == "  %-12s %-20s %6s%s%s"
    assert opts.printf_format("100% {a}", ("a",)) == "100%% %s"
    with pytest.raises(SystemExit, match="lxrun.c passes"):
        opts.printf_format("{name} {what}", ("what", "name"))
    assert "report" in opts.SERVED
    assert BY_NAME["io_uring_setup"].nr == 425


def test_a_denied_errno_above_255_is_answered_and_counted(rootfs):
    """--deny SYSCALL=300: the supervisor answers with 300 (the report's
    err[], c_handler is a byte) and counts it, as a denied EACCES."""
    code = ("import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n"
            "for _ in range(3): r = libc.syscall(110)\n"
            "print(r, ctypes.get_errno())")
    z = Zone(rootfs, report=True, deny={"getppid": "300"})
    r = z.run(["python3", "-c", code], capture_output=True, timeout=120)
    assert r.stdout == b"-1 300\n", r.stderr
    assert r.report["denied"]["getppid"]["count"] == 3 and r.report["denied"]["getppid"]["errno"] == "300"
    assert r.report["verdict"] == "hit 1 denied syscall: getppid"


@needs_front
def test_front_door_hands_a_wide_denied_errno_to_python(rootfs):
    args = ["--report", "--deny", "getppid=300", rootfs, "python3", "-c",
            "import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(110), ctypes.get_errno())"]
    p = _run([PYCLI, *args])
    c = _run([FRONT, *args])
    assert "denied errno above 255" in c.stderr
    assert c.stdout == p.stdout == "-1 300\n"
    assert c.stderr.split("\n", 1)[1] == p.stderr
    assert "  denied       getppid                   1 300; first: python3 -c " in p.stderr
