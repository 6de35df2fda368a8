"""Bad input: one line naming the thing, a non-zero exit, no traceback, and
nothing left running (chroot(1)'s codes: 125 lxrun failed, 126 CMD cannot
run, 127 CMD not found)."""
import os
import shutil
import subprocess

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


@pytest.mark.parametrize("spec", ["NOEQUALS", "=value"])
def test_malformed_env(lxrun, rootfs, spec):
    one_line_error(lxrun("--env", spec, rootfs, "true"), 125, "--env", repr(spec))


@pytest.mark.parametrize("args, fragment", [
    (["--net", "bridge"], "--net"), (["--uid", "-1"], "--uid"), (["--uid", "x"], "--uid"),
    (["--hostname", "h" * 65], "hostname"), (["--hostname", ""], "hostname"),
    (["--kernel-release", ""], "kernel release"), (["--cwd", "relative"], "cwd"),
    (["--no-such-option"], "--no-such-option")])
def test_bad_options(lxrun, rootfs, args, fragment):
    one_line_error(lxrun(*args, rootfs, "true"), 125, fragment)


def test_cwd_missing_in_the_zone(lxrun, rootfs):
    one_line_error(lxrun("--cwd", "/no/such/dir", rootfs, "true"), 125, "--cwd")


def test_missing_cmd(lxrun, rootfs):
    one_line_error(lxrun(rootfs), 125, "CMD")


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
