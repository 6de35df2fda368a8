"""Bad input: one line naming the thing, a non-zero exit, no traceback, and
nothing left running (chroot(1)'s codes: 125 lxrun failed, 126 CMD cannot
run, 127 CMD not found)."""
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

import lxbrand
from lxbrand import Zone


def one_line_error(r, code, *fragments):
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("lxrun: ")
    assert "Traceback" not in r.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def test_rootfs_missing(lxrun, tmp_path):
    one_line_error(lxrun(tmp_path / "nope", "true"), 125, f"{tmp_path}/nope: rootfs does not exist")


def test_rootfs_not_a_directory(lxrun, tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    one_line_error(lxrun(f, "true"), 125, f"{f}: rootfs is not a directory")


def test_command_not_found_says_where_it_looked(lxrun, rootfs):
    one_line_error(lxrun(rootfs, "no-such-cmd"), 127, "no-such-cmd: command not found in the zone's rootfs",
                   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    one_line_error(lxrun("--env", "PATH=/opt/x", rootfs, "ls"), 127, "ls: command not found", "PATH=/opt/x")


def test_command_path_missing(lxrun, rootfs):
    one_line_error(lxrun(rootfs, "/usr/bin/nope"), 127, f"{rootfs}/usr/bin/nope: no such file in the zone's rootfs")


def test_host_path_is_not_looked_up(lxrun, scratch_rootfs):
    """CMD resolves inside the rootfs only: a host binary does not count."""
    assert os.path.exists("/usr/bin/env")
    one_line_error(lxrun(scratch_rootfs, "/usr/bin/env"), 127, "no such file in the zone's rootfs")


def test_symlink_resolves_inside_the_rootfs(lxrun, scratch_rootfs):
    """An absolute symlink in the rootfs points into the rootfs, not the host."""
    os.makedirs(os.path.join(scratch_rootfs, "zone-only"))
    os.makedirs(os.path.join(scratch_rootfs, "opt", "x"))
    shutil.copy2(os.path.join(scratch_rootfs, "bin", "busybox"), os.path.join(scratch_rootfs, "zone-only"))
    os.symlink("/zone-only/busybox", os.path.join(scratch_rootfs, "opt", "x", "echo"))
    assert not os.path.exists("/zone-only")
    r = lxrun("--env", "PATH=/opt/x", scratch_rootfs, "echo", "ok")
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_not_executable(lxrun, rootfs):
    one_line_error(lxrun(rootfs, "/etc/passwd"), 126, "/etc/passwd: not executable")


def test_a_directory(lxrun, rootfs):
    one_line_error(lxrun(rootfs, "/etc"), 126, "/etc: is a directory")


def test_32bit_elf(lxrun, scratch_rootfs):
    elf = bytearray(open(os.path.join(scratch_rootfs, "bin", "busybox"), "rb").read(64))
    elf[4] = 1          # EI_CLASS: ELFCLASS32
    elf[18:20] = (3).to_bytes(2, "little")   # e_machine: EM_386
    path = os.path.join(scratch_rootfs, "bin", "app32")
    with open(path, "wb") as f:
        f.write(bytes(elf))
    os.chmod(path, 0o755)
    one_line_error(lxrun(scratch_rootfs, "/bin/app32"), 126,
                   "/bin/app32 is a 32-bit ELF; only x86_64 guests are supported")


def test_non_x86_64_elf(lxrun, scratch_rootfs):
    elf = bytearray(open(os.path.join(scratch_rootfs, "bin", "busybox"), "rb").read(64))
    elf[18:20] = (183).to_bytes(2, "little")   # EM_AARCH64
    path = os.path.join(scratch_rootfs, "bin", "app-arm")
    with open(path, "wb") as f:
        f.write(bytes(elf))
    os.chmod(path, 0o755)
    one_line_error(lxrun(scratch_rootfs, "app-arm"), 126, "only x86_64 guests are supported")


def test_script_with_missing_interpreter(lxrun, scratch_rootfs):
    path = os.path.join(scratch_rootfs, "bin", "script")
    with open(path, "w") as f:
        f.write("#!/usr/bin/python9 -u\nprint(1)\n")
    os.chmod(path, 0o755)
    one_line_error(lxrun(scratch_rootfs, "script"), 127, "/usr/bin/python9", "interpreter")


def test_script_with_present_interpreter_runs(lxrun, scratch_rootfs):
    path = os.path.join(scratch_rootfs, "bin", "script")
    with open(path, "w") as f:
        f.write("#!/bin/sh\necho script $1\n")
    os.chmod(path, 0o755)
    assert lxrun(scratch_rootfs, "script", "arg").stdout == "script arg\n"


@pytest.mark.parametrize("spec, fragment", [
    ("nocolon", "--bind"), ("/tmp:relative", "destination must be absolute"),
    ("/tmp:/x:rx", "--bind"), (":/x", "--bind"), ("/no/such/src:/x", "/no/such/src")])
def test_malformed_bind(lxrun, rootfs, spec, fragment):
    one_line_error(lxrun("--bind", spec, rootfs, "true"), 125, fragment)


@pytest.mark.parametrize("spec", ["=value"])      # `--env NAME` passes the caller's value (test_everyday)
def test_malformed_env(lxrun, rootfs, spec):
    one_line_error(lxrun("--env", spec, rootfs, "true"), 125, "--env", repr(spec))


@pytest.mark.parametrize("args, fragment", [
    (["--net", "bridge"], "--net"), (["--uid", "-1"], "--uid"), (["--uid", "x"], "--uid"),
    (["--hostname", "h" * 65], "hostname"), (["--hostname", ""], "hostname"),
    (["--kernel-release", ""], "kernel release"), (["--cwd", "relative"], "cwd"),
    (["--no-such-option"], "--no-such-option")])
def test_bad_options(lxrun, rootfs, args, fragment):
    one_line_error(lxrun(*args, rootfs, "true"), 125, fragment)


@pytest.mark.parametrize("args, fragment", [
    (["--memory", "abc"], "--memory 'abc': expected a size such as 512M"),
    (["--memory", "-5M"], "--memory '-5M'"), (["--memory", "1.5.5G"], "--memory '1.5.5G'"),
    (["--memory", "0"], "--memory '0': must be positive"), (["--memory", "12 parsecs"], "--memory"),
    (["--memory", "100"], "--memory '100': at least 4M"), (["--memory", "1M"], "at least 4M"),
    (["--cpus", "abc"], "--cpus"), (["--cpus", "0"], "--cpus"), (["--cpus", "1,5"], "--cpus"),
    (["--cpus", "nan"], "--cpus"), (["--cpus", "inf"], "--cpus"), (["--cpus", "-1"], "--cpus"),
    (["--cpus", "99999"], "--cpus"),
    (["--kernel-release", "4"], "kernel release '4': expected a version from 3.2 to 6.18"),
    (["--kernel-release", "2.6.32"], "kernel release '2.6.32': the brand emulates Linux from 3.2 to 6.18"),
    (["--kernel-release", "99.1"], "from 3.2 to 6.18"), (["--kernel-release", "4.19 lx"], "from 3.2 to 6.18"),
    (["--kernel-release", "v4.19"], "from 3.2 to 6.18"), (["--kernel-release", "4." + "9" * 70], "at most 64")])
def test_bad_resources_and_release(lxrun, rootfs, args, fragment):
    """Issue 12: malformed --memory, --cpus and --kernel-release values are one line (before any
    zone starts: the limits need root, the check does not)."""
    one_line_error(lxrun(*args, rootfs, "true"), 125, fragment)


@pytest.mark.parametrize("kw, fragment", [
    ({"memory": "lots"}, "--memory 'lots'"), ({"memory": 1024}, "at least 4M"), ({"cpus": "2"}, "--cpus '2'"),
    ({"cpus": float("nan")}, "--cpus nan"), ({"kernel_release": "3.1.0"}, "from 3.2 to 6.18")])
def test_bad_resources_and_release_library(rootfs, kw, fragment):
    with pytest.raises(lxbrand.ZoneConfigError, match=re.escape(fragment)):
        Zone(rootfs, **kw)


def test_cwd_missing_in_the_zone(lxrun, rootfs):
    one_line_error(lxrun("--cwd", "/no/such/dir", rootfs, "true"), 125, "--cwd")


def test_unknown_syscall_for_zone_handler(rootfs):
    z = Zone(rootfs)
    with pytest.raises(lxbrand.ZoneConfigError, match="unknown syscall 'opnat'"):
        z.handler("opnat")
    with pytest.raises(ValueError):      # ZoneConfigError is a ValueError too
        z.handler("not a syscall", lambda call: 0)


def test_library_errors_are_typed(rootfs, tmp_path):
    with pytest.raises(lxbrand.ZoneConfigError):
        Zone(tmp_path / "missing")
    with pytest.raises(lxbrand.CommandNotFound):
        Zone(rootfs).run(["no-such-cmd"])
    with pytest.raises(FileNotFoundError):
        Zone(rootfs).run(["/no/such"])
    with pytest.raises(lxbrand.CommandNotRunnable):
        Zone(rootfs).run(["/etc/passwd"])
    with pytest.raises(lxbrand.ZoneConfigError):
        Zone(rootfs, binds=["bad"])


def orphaned_inits():
    """Zone inits whose lxrun is gone (other zones may be running meanwhile)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if line.split(None, 2)[2:] == ["lxbrand-init"] and line.split()[1] == "1"]


def test_bad_input_leaves_nothing_running(lxrun, rootfs):
    lxrun("--cwd", "/no/such/dir", rootfs, "true")
    lxrun("--bind", "/no/such:/x", rootfs, "true")
    lxrun(rootfs, "/etc/passwd")
    assert orphaned_inits() == []


@pytest.mark.parametrize("spec, fragment", [
    ("mkdr", "unknown syscall 'mkdr'"), ("mkdir=EFOO", "unknown errno"),
    ("mkdir=0", "an errno is 1 to 4095"), ("=EPERM", "--deny")])
def test_bad_deny(lxrun, rootfs, spec, fragment):
    one_line_error(lxrun("--deny", spec, rootfs, "true"), 125, fragment)


# -- library input (issue 11 "Library input", issue 10 P6/P7, A1) ---------------

def test_a_string_is_one_program_as_in_subprocess(rootfs):
    """subprocess.run("true") runs the program true (no shell): so does Zone.run."""
    z = Zone(rootfs)
    assert z.run("true").returncode == 0
    assert z.run(b"/bin/false").returncode == 1
    r = z.run("/bin/pwd", capture_output=True)
    assert (r.returncode, r.stdout) == (0, b"/\n")
    with pytest.raises(lxbrand.CommandNotFound):
        z.run("echo hi")          # one program named "echo hi", as subprocess would


@pytest.mark.parametrize("argv", [["echo", "a\0b"], ["ec\0ho"], "tr\0ue", [b"echo", b"\0"]])
def test_nul_in_argv_is_a_value_error(rootfs, argv):
    with pytest.raises(ValueError, match="embedded null byte"):
        Zone(rootfs).run(argv)


def test_nul_in_env_is_a_value_error(rootfs):
    with pytest.raises(ValueError, match="embedded null byte"):
        Zone(rootfs, env={"A": "x\0y"})
    with pytest.raises(ValueError, match="embedded null byte"):
        Zone(rootfs, env={"A\0": "x"})


@pytest.mark.parametrize("kw, fragment", [
    ({"hostname": 5}, "hostname 5"), ({"hostname": None}, "hostname None"),
    ({"binds": 5}, "binds 5"), ({"binds": [5]}, "bind 5"), ({"binds": [("/tmp",)]}, "bind"),
    ({"env": 5}, "env 5"), ({"env": ["A=1"]}, "env"), ({"env": {1: "x"}}, "environment variable 1"),
    ({"env": {"A": None}}, "environment variable 'A'"), ({"cwd": 5}, "cwd 5"), ({"cwd": None}, "cwd"),
    ({"kernel_release": 4.19}, "kernel_release 4.19"), ({"ephemeral": "yes"}, "ephemeral"),
    ({"deny": ["mkdir"]}, "deny"), ({"deny": {5: "EPERM"}}, "unknown syscall 5"), ({"net": None}, "net"),
    ({"domainname": 5}, "domainname 5"), ({"domainname": "a\nb"}, "domainname"), ({"uid": "0"}, "uid")])
def test_bad_types_name_the_option(rootfs, kw, fragment):
    """Never a raw TypeError/AttributeError from deep inside."""
    with pytest.raises(lxbrand.ZoneConfigError, match=re.escape(fragment)):
        Zone(rootfs, **kw)


@pytest.mark.parametrize("call, fragment", [
    (lambda z: z.run(5), "argv 5"), (lambda z: z.run(None), "argv None"),
    (lambda z: z.run(["echo", 5]), "argv[1] 5"), (lambda z: z.run(["echo", None]), "argv[1] None"),
    (lambda z: z.run({"echo": 1}), "argv"), (lambda z: z.run(["true"], timeout="5"), "timeout '5'"),
    (lambda z: z.run(["cat"], input="text"), "input: expected bytes"),
    (lambda z: z.run(["true"], stdin="x"), "stdin 'x'"), (lambda z: z.run(["true"], stdout=1.5), "stdout 1.5"),
    (lambda z: z.run(["true"], stdin=subprocess.STDOUT), "stdin -2"),
    (lambda z: z.run(["true"], stderr=-7), "stderr -7"), (lambda z: z.run(["true"], stdout=987), "fd 987 is not open")])
def test_bad_run_arguments_name_the_argument(rootfs, call, fragment):
    with pytest.raises(lxbrand.ZoneConfigError, match=re.escape(fragment)):
        call(Zone(rootfs))


def test_stdio_that_is_a_directory_or_o_path_is_refused(rootfs, tmp_path):
    """P6: a host directory as stdin would give the guest the host's tree
    (fchdir(0), ..); an O_PATH fd could be reopened with any access."""
    d = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    p = os.open(tmp_path, os.O_PATH)
    f = os.open(__file__, os.O_PATH)
    try:
        with pytest.raises(lxbrand.ZoneConfigError, match=f"stdin: fd {d} is a directory"):
            Zone(rootfs).run(["cat"], stdin=d)
        with pytest.raises(lxbrand.ZoneConfigError, match="stdout: fd .* is a directory"):
            Zone(rootfs).run(["true"], stdout=p)
        with pytest.raises(lxbrand.ZoneConfigError, match=f"stderr: fd {f} is an O_PATH descriptor"):
            Zone(rootfs).run(["true"], stderr=f)
        with open(tmp_path / "out", "w") as out:      # a plain file is fine
            assert Zone(rootfs).run(["echo", "ok"], stdout=out).returncode == 0
        assert (tmp_path / "out").read_text() == "ok\n"
    finally:
        for fd in (d, p, f):
            os.close(fd)
    assert orphaned_inits() == []


def test_lxrun_refuses_a_directory_as_stdin(lxrun, rootfs, tmp_path):
    """`lxrun ROOT sh < /some/dir`: nothing runs.  (CPython itself refuses a
    directory as stdin before lxrun's code runs; a front door in another
    language must say it as Zone.run does.)"""
    d = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = lxrun(rootfs, "/bin/sh", "-c", "echo RAN; cd /proc/self/fd/0 && ls", stdin=d)
    finally:
        os.close(d)
    assert "RAN" not in r.stdout
    if "Fatal Python error" in r.stderr:
        assert r.returncode != 0 and "is a directory" in r.stderr
    else:
        one_line_error(r, 125, "stdin: fd 0 is a directory")


@pytest.mark.parametrize("name", ["a\nb", "a b", "-lead", "trail-", "a..b", ".a", "a.", "a_b", "x\0y", "é",
                                  "a" * 64 + ".b", "h\t", "127.0.0.1 evil"])
def test_bad_hostnames(lxrun, rootfs, name):
    """A1: the hostname becomes a line of /etc/hosts; RFC 1123 labels only."""
    with pytest.raises(lxbrand.ZoneConfigError, match="RFC 1123"):
        Zone(rootfs, hostname=name)
    if "\0" not in name:
        one_line_error(lxrun("--hostname", name, rootfs, "true"), 125, "hostname", "RFC 1123")


@pytest.mark.parametrize("name", ["zone", "a", "build-1.example.org", "9lives", "x" * 63, "a.b.c.d"])
def test_good_hostnames(rootfs, name):
    assert Zone(rootfs, hostname=name).run(["hostname"], capture_output=True).stdout == name.encode() + b"\n"


def _children(pid: int) -> list:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_init_killed_from_outside_is_said_library(rootfs):
    z = Zone(rootfs)
    killer = threading.Thread(target=lambda: os.kill(_wait_for(lambda: z._init_pid > 0 and z._init_pid),
                                                     signal.SIGKILL))
    killer.start()
    try:
        with pytest.raises(lxbrand.SupervisorError, match=r"the zone's init was killed \(signal 9, SIGKILL\)") as e:
            z.run(["sleep", "60"], timeout=120)
    finally:
        killer.join()
    assert e.value.returncode == -9 and e.value.exit_code == 137


def test_init_killed_from_outside_is_said_lxrun(rootfs):
    p = subprocess.Popen(["lxrun", rootfs, "sleep", "60"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        init = _wait_for(lambda: [c for c in _children(p.pid)
                                  if open(f"/proc/{c}/cmdline").read().startswith("lxbrand-init")])
        # a running zone: its guest has exec'd sleep (killed during set-up,
        # init's death is a set-up failure, 125)
        _wait_for(lambda: [c for c in _children(init[0])
                           if open(f"/proc/{c}/cmdline").read().startswith("sleep")])
        os.kill(init[0], signal.SIGKILL)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
        p.wait()

    class R:
        returncode, stderr = p.returncode, err
    line = one_line_error(R, 137, "the zone's init was killed (signal 9, SIGKILL)")
    assert "from outside the zone" in line


def test_timeout_is_not_reported_as_init_killed(rootfs):
    with pytest.raises(subprocess.TimeoutExpired):
        Zone(rootfs).run(["sleep", "60"], timeout=0.5)


def test_supervisor_not_built_is_one_line(rootfs):
    """A broken install (the C module missing) is said in one line, not a
    traceback: the module is imported lazily, inside the run command."""
    import sys as _sys
    code = ("import sys; sys.modules['lxbrand._lxbrand_c'] = None; "
            "sys.argv = ['lxrun-py', 'run', sys.argv[1], 'true']; "
            "from lxbrand.cli import entry; entry()")
    r = subprocess.run([_sys.executable, "-c", code, str(rootfs)], capture_output=True, text=True, timeout=60)
    one_line_error(r, 125, "C supervisor is not built", "make build")
