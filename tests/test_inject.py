"""Fault injection (issue 13): lxrun --inject RULE and Zone(inject=[...]),
observed by real programs of the cached rootfs (cat, sh, dd, head), through
the `lxrun` executable (the C front door hands --inject to the Python CLI)
and the library; combined with --trace; a path filter under a racing guest
thread (testbins/inject_race.c)."""
import json
import os
import subprocess

import pytest

from lxbrand import Zone
from lxbrand.errors import ZoneConfigError
from lxbrand.inject import InjectError, parse_rule

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RACE = os.path.join(REPO, "testbins", "build", "inject_race")


def zrun(rootfs, argv, inject, **kw):
    kw.setdefault("timeout", 120)
    return Zone(rootfs, inject=inject).run(argv, capture_output=True, **kw)


def sh(rootfs, script, inject, **kw):
    return zrun(rootfs, ["sh", "-c", script], inject, **kw)


# -- path= ---------------------------------------------------------------------------

def test_path_rule_fails_that_file_only(rootfs, lxrun):
    rule = "openat:error=ENOENT:path=/etc/passwd"
    r = lxrun("--inject", rule, rootfs, "cat", "/etc/passwd")
    assert r.returncode == 1 and "/etc/passwd: No such file or directory" in r.stderr
    assert r.stdout == ""
    with open(os.path.join(rootfs, "etc/debian_version")) as f:
        hostname = f.read()
    r = lxrun("--inject", rule, rootfs, "cat", "/etc/debian_version")
    assert r.returncode == 0 and r.stdout == hostname


def test_path_rule_glob(rootfs):
    r = sh(rootfs, "cat /etc/hostname >/dev/null && echo ok1; cat /etc/passwd >/dev/null || echo no2; "
                   "cat /etc/group >/dev/null || echo no3", ["openat:error=EACCES:path=/etc/[pg]*"])
    assert r.stdout.decode().split() == ["ok1", "no2", "no3"]
    assert b"Permission denied" in r.stderr


def test_path_rule_opens_as_the_kernel_would(rootfs):
    """A path rule makes the supervisor perform every open of the syscall:
    relative paths from the cwd, `..`, O_CREAT with the caller's ids and
    umask, absolute symlinks resolved inside the zone's root."""
    script = ("cat debian_version; cat ../etc/./debian_version; umask 027; echo x >/tmp/new; ls -ln /tmp/new; "
              "ln -s /etc/debian_version /tmp/link; cat /tmp/link; cat /nonexistent 2>&1")
    r = Zone(rootfs, inject=["openat:error=EIO:path=/never/*"], cwd="/etc").run(
        ["sh", "-c", script], capture_output=True, timeout=120)
    with open(os.path.join(rootfs, "etc/debian_version")) as f:
        hostname = f.read().strip()
    lines = r.stdout.decode().splitlines()
    assert lines[0] == lines[1] == lines[3] == hostname
    assert lines[2].startswith("-rw-r----- 1 0 0 2 ")
    assert "No such file or directory" in lines[4]


def test_racing_thread_never_gets_the_denied_file(rootfs):
    """The guest flips the path buffer between an allowed and a denied path
    in another thread: the decision is on the supervisor's copy, and the open
    is performed with that copy, never CONTINUEd."""
    if not os.path.exists(RACE):
        subprocess.run(["make", "-C", os.path.join(REPO, "testbins")], check=True, capture_output=True)
    z = Zone(rootfs, inject=["openat:error=EACCES:path=/etc/passwd"],
             binds=[(RACE, "/usr/local/bin/inject_race", True)])
    r = z.run(["inject_race", "/etc/hostname", "/etc/passwd", "20000"], capture_output=True, timeout=300)
    out = dict(zip(*[iter(r.stdout.decode().split())] * 2))
    assert out["leaked"] == "0", r.stdout
    assert r.returncode == 0
    # both decisions were taken while the path changed under them
    assert int(out["allowed"]) > 0 and int(out["denied"]) > 0
    # without the rule the same guest does open the file it flips to
    r = Zone(rootfs, binds=[(RACE, "/usr/local/bin/inject_race", True)]).run(
        ["inject_race", "/etc/hostname", "/etc/passwd", "20000"], capture_output=True, timeout=120)
    assert r.returncode == 1 and " leaked 0" not in r.stdout.decode()


# -- error=, retval=, when=, pid= ---------------------------------------------------

def test_write_enospc_on_the_third_write(rootfs, lxrun):
    r = lxrun("--inject", "write:error=ENOSPC:when=3", rootfs, "sh", "-c",
              "dd if=/dev/zero of=/tmp/f bs=1 count=5 2>/tmp/err; echo $?; wc -c </tmp/f; cat /tmp/err")
    out = r.stdout.splitlines()
    assert out[0] == "1" and out[1] == "2"          # dd failed; two bytes were written
    assert "dd: error writing '/tmp/f': No space left on device" in out
    assert "2+0 records out" in out


def test_sh_echo_fails_on_the_third_write(rootfs):
    r = sh(rootfs, "echo 1; echo 2; echo 3; echo 4", ["write:error=ENOSPC:when=3"])
    assert r.stdout.decode().split() == ["1", "2", "4"]
    assert b"echo" in r.stderr


def test_retval_answers_without_running(rootfs):
    r = sh(rootfs, "echo $$", ["getpid:retval=4242"])
    assert r.stdout.decode().strip() == "4242"


def test_short_read(rootfs):
    # ld.so reads libc's header (read 1); dash's read builtin reads a byte at
    # a time: '1' (read 2), then read 3 answers 0, end of file
    with open(os.path.join(rootfs, "etc/debian_version")) as f:
        first = f.read(1)
    r = sh(rootfs, 'read x </etc/debian_version; echo "[$x]"', ["read:retval=0:when=3"])
    assert r.stdout.decode().strip() == f"[{first}]"


@pytest.mark.parametrize("when, expect", [
    ("2", "ok no ok ok ok ok"),
    ("2+2", "ok no ok no ok no"),
    ("3+", "ok ok no no no no"),
    ("2+3", "ok no ok ok no ok"),
])
def test_when_counts_matching_calls(rootfs, when, expect):
    script = "for i in 1 2 3 4 5 6; do cat /etc/hostname >/dev/null 2>&1 && echo ok || echo no; done"
    r = sh(rootfs, script, [f"openat:error=ENOENT:path=/etc/host*:when={when}"])
    assert " ".join(r.stdout.decode().split()) == expect


def test_counters_start_again_each_run(rootfs):
    z = Zone(rootfs, inject=["getpid:retval=7:when=1"])
    for _ in range(2):
        r = z.run(["sh", "-c", "echo $$"], capture_output=True, timeout=120)
        assert r.stdout.decode().strip() == "7"


def test_pid_restricts_to_one_process(rootfs):
    # the guest, sh, is pid 2 of the zone (init is 1); its child is not
    r = sh(rootfs, 'echo parent; sh -c "echo child"; echo parent2', ["write:error=EIO:pid=2"])
    assert r.stdout.decode().split() == ["child"]
    assert r.returncode != 0


def test_several_rules_at_once(rootfs, lxrun):
    r = lxrun("--inject", "openat:error=ENOENT:path=/etc/passwd", "--inject", "getpid:retval=99",
              "--inject", "write:error=EIO:when=2", rootfs, "sh", "-c",
              "echo $$; echo lost; cat /etc/passwd 2>/dev/null || echo nopasswd")
    assert r.stdout.split() == ["99", "nopasswd"]


def test_eintr_is_retried_by_coreutils(rootfs):
    """head retries a read that failed with EINTR (coreutils' safe_read):
    the trace shows the injected EINTR and the read that followed."""
    events = []
    z = Zone(rootfs, inject=["read:error=EINTR:when=2"], trace=events.append, trace_set="read")
    r = z.run(["head", "-c", "100", "/etc/debian_version"], capture_output=True, timeout=120)
    with open(os.path.join(rootfs, "etc/debian_version"), "rb") as f:
        content = f.read()
    assert r.returncode == 0 and r.stdout == content
    reads = [e for e in events if e["type"] == "syscall" and e["syscall"] == "read"]
    assert reads[1]["errno"] == "EINTR" and reads[1]["injected"]
    assert reads[2]["result"] == len(content) and not reads[2]["injected"]


# -- delay= and --trace ------------------------------------------------------------------

def test_delay_alone_runs_the_call_late(rootfs):
    events = []
    z = Zone(rootfs, inject=["getpid:delay=50ms"], trace=events.append, trace_set="getpid")
    r = z.run(["sh", "-c", "echo $$"], capture_output=True, timeout=120)
    assert r.stdout.decode().strip() == "2"          # the call ran: the real pid
    (ev,) = [e for e in events if e["type"] == "syscall"]
    assert ev["result"] == 2 and not ev["injected"]
    assert ev["duration"] >= 0.05                   # the delay is a floor, never a ceiling


def test_delay_with_error_on_a_path_rule(rootfs):
    events = []
    z = Zone(rootfs, inject=["openat:error=EIO:delay=30ms:path=/etc/passwd"], trace=events.append,
             trace_set="openat")
    r = z.run(["sh", "-c", "cat /etc/passwd; cat /etc/hostname"], capture_output=True, timeout=120)
    assert b"Input/output error" in r.stderr
    opens = {e["args"]["path"]: e for e in events if e["type"] == "syscall"}
    assert opens["/etc/passwd"]["errno"] == "EIO" and opens["/etc/passwd"]["injected"]
    assert opens["/etc/passwd"]["duration"] >= 0.03
    # the supervisor performed the others, and the trace has their results
    assert opens["/etc/hostname"]["result"] >= 3 and not opens["/etc/hostname"]["injected"]


def test_trace_lines_say_injected(rootfs, lxrun, tmp_path):
    out = tmp_path / "trace.txt"
    r = lxrun("--trace=openat,write", "-o", out, "--inject", "openat:error=ENOENT:path=/etc/passwd",
              "--inject", "write:error=ENOSPC:when=2", rootfs, "sh", "-c",
              "echo a; echo b; echo c; cat /etc/passwd 2>/dev/null")
    lines = out.read_text().splitlines()
    injected = [ln for ln in lines if ln.endswith(">") and "(INJECTED)" in ln]
    assert any('openat(AT_FDCWD, "/etc/passwd"' in ln and "= -1 ENOENT" in ln for ln in injected)
    assert sum("write(" in ln and "= -1 ENOSPC" in ln for ln in injected) == 1
    # the calls not injected are traced with their results as before
    assert any(ln.startswith("[pid 2] write(1, \"") and ") = 2 <" in ln for ln in lines)
    assert r.stdout.split() == ["a", "c"]


def test_trace_json_has_injected(rootfs, lxrun, tmp_path):
    out = tmp_path / "trace.json"
    lxrun("--trace=getpid", "--trace-format", "json", "-o", out, "--inject", "getpid:retval=31",
          rootfs, "sh", "-c", "echo $$")
    evs = [json.loads(ln) for ln in out.read_text().splitlines()]
    (ev,) = [e for e in evs if e["type"] == "syscall"]
    assert ev["result"] == 31 and ev["injected"] is True


def test_stats_count_injected_errors(rootfs):
    z = Zone(rootfs, inject=["openat:error=EACCES:path=/etc/passwd"], stats=True, trace_set="openat")
    r = z.run(["sh", "-c", "cat /etc/passwd; cat /etc/passwd"], capture_output=True, timeout=120)
    assert r.stats["openat"]["errors"] == {"EACCES": 2}


# -- the brand: only injected syscalls leave the kernel ---------------------------------

def test_only_named_syscalls_are_notified(rootfs):
    from lxbrand.brand import BY_NAME
    from lxbrand._csup import lib
    brand = Zone(rootfs, inject=["write,getpid:error=EIO:when=5"]).brand
    for name in ("write", "getpid"):
        assert brand.actions[BY_NAME[name].nr] == lib.LXB_ACT_NOTIFY
        assert brand.kind[BY_NAME[name].nr] == lib.LXB_KIND_INJECT
    for name in ("read", "openat", "close"):
        assert brand.actions[BY_NAME[name].nr] == lib.LXB_ACT_ALLOW


# -- bad rules ---------------------------------------------------------------------------

@pytest.mark.parametrize("rule, words", [
    ("opnat:error=ENOENT", ["unknown syscall 'opnat'", "did you mean openat"]),
    ("openat:error=ENOPE", ["unknown errno 'ENOPE'"]),
    ("read:error=EIO:path=/x", ["path= is not supported for read"]),
    ("rename:error=EIO:path=/x", ["path= is not supported for rename", "mkdirat"]),
    ("read:error=EIO:when=0", ["when='0'"]),
    ("read:error=EIO:when=2+0", ["when='2+0'"]),
    ("read:error=EIO:when=x", ["when='x'"]),
    ("read", ["no syscall, or no error="]),
    ("read:when=2", ["nothing to inject"]),
    ("read:error=EIO:retval=1", ["error= and retval= together"]),
    ("read:retval=-1", ["retval='-1'"]),
    ("read:bogus=1", ["'bogus=1': unknown key"]),
    ("read:delay=soon", ["delay='soon'"]),
    ("read:error=EIO:pid=0", ["pid='0'"]),
])
def test_bad_rules_one_line(rootfs, lxrun, rule, words):
    r = lxrun("--inject", rule, rootfs, "true")
    assert r.returncode == 125
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lxrun: ") and "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0]
    with pytest.raises(ZoneConfigError):
        Zone(rootfs, inject=[rule])


def test_inject_on_a_denied_syscall_refused(rootfs, lxrun):
    r = lxrun("--deny", "read", "--inject", "read:error=EIO", rootfs, "true")
    assert r.returncode == 125
    assert "read is denied(EPERM) in this zone" in r.stderr and len(r.stderr.splitlines()) == 1


def test_parse_rule_fields():
    r = parse_rule("read,write:error=EIO:when=3+2:delay=1.5ms:pid=7")
    assert (r.syscalls, r.error, r.first, r.step, r.delay_ns, r.pid) == (("read", "write"), 5, 3, 2, 1500000, 7)
    r = parse_rule("openat:retval=3:path=/a:b*")       # a ':' inside the glob
    assert r.path == "/a:b*" and r.retval == 3 and (r.first, r.step) == (1, 1)
    assert parse_rule("getpid:delay=10").delay_ns == 10000      # microseconds, as strace's
    assert parse_rule("read:error=EIO:when=4").step == 0
    with pytest.raises(InjectError):
        parse_rule("open,read:error=EIO:path=/x")


# -- path= on the stat family, access, unlink, rmdir, mkdir --------------------------------

PATH_FAMILY = "open,creat,openat,stat,lstat,newfstatat,statx,access,faccessat,faccessat2,unlink,unlinkat,rmdir,mkdir,mkdirat"
FILES_SCRIPT = ("cd /etc; ls -la /etc/hostname hostname ../etc/passwd; stat -c '%U %G %a %s %F' /etc/passwd /tmp /; "
                "ls -ld /tmp /proc/self/; ln -s /etc/hostname /tmp/l; stat -c %F /tmp/l; stat -L -c %s /tmp/l; "
                "test -r /etc/shadow && echo r; test -x /bin/ls && echo x; test -w /proc/version || echo nw; "
                "mkdir /tmp/d /tmp/d2/; mkdir /tmp/d || echo again; rmdir /tmp/d; rmdir /tmp/d || echo gone; "
                "echo x >/tmp/f; rm /tmp/f/ || echo slash; rm /tmp/f; rm /tmp/f || echo nofile; "
                "rmdir /tmp/d2/ && echo rd; umask 077; mkdir /tmp/m; stat -c %a /tmp/m; "
                "find /etc/apt -maxdepth 1 | sort | head -3; id; grep -c ^Pid: /proc/self/status; "
                "cat /proc/thread-self/comm")


def test_path_family_performed_as_the_kernel_would(rootfs):
    """A path rule on the stat family, access, unlink, rmdir and mkdir makes
    the supervisor perform every such call: what the guest sees is what it
    sees without the rule (owners in the zone's ids, errnos, modes)."""
    native = Zone(rootfs).run(["sh", "-c", FILES_SCRIPT], capture_output=True, timeout=120)
    ruled = zrun(rootfs, ["sh", "-c", FILES_SCRIPT], [f"{PATH_FAMILY}:error=EIO:path=/never/*"])
    assert native.returncode == 0, native.stderr
    assert ruled.stdout == native.stdout
    assert ruled.stderr == native.stderr
    assert ruled.returncode == native.returncode


def test_path_family_rules_fail_their_paths(rootfs):
    r = sh(rootfs, "mkdir /tmp/ok && echo made; mkdir /tmp/deny1 || echo nomkdir; touch /tmp/denyf; "
                   "rm /tmp/denyf || echo norm; stat /tmp/denyf >/dev/null || echo nostat; "
                   "test -e /tmp/denyf || echo noaccess; ls -d /tmp/ok",
           ["mkdir,mkdirat,unlink,unlinkat:error=EPERM:path=/tmp/deny*",
            "newfstatat,statx,stat,lstat,access,faccessat,faccessat2:error=EACCES:path=/tmp/deny*"])
    out = r.stdout.decode().split()
    assert out == ["made", "nomkdir", "norm", "nostat", "noaccess", "/tmp/ok"]
    assert b"Operation not permitted" in r.stderr and b"Permission denied" in r.stderr


def test_path_rules_as_an_ordinary_user(unprivileged):
    """Run by a user (nobody, no subordinate ids), the guest's ids are the
    user's own: the supervisor performs the calls without taking ids."""
    r = unprivileged.lxrun("--inject", "openat,mkdir:error=EACCES:path=/etc/pass*", unprivileged.rootfs,
                           "sh", "-c", "cat /etc/passwd || echo denied; echo hi >/tmp/x; cat /tmp/x; "
                           "mkdir /etc/passwd.d || echo nomkdir; mkdir /tmp/d && echo made; id -u")
    assert r.stdout.split() == ["denied", "hi", "nomkdir", "made", "0"], r.stderr
