"""The brand compiled for a zone (lxbrand/brand/compile.py), what `lxrun
syscalls` prints of it, the generated lists of docs/DIFFERENCES.md, the filter
cache, and the argument decoder (lxbrand/brand/decode.py)."""
from __future__ import annotations

import ast
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lxbrand import ZoneConfigError
from lxbrand.brand import (BY_NAME, BY_NR, TABLE, Brand, BrandError, CHandler, Options, compile_brand, decode,
                           report)
from lxbrand.brand import compile as brand_compile
from lxbrand.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _by_name(entries):
    return {e.sc.name: e for e in entries}


# --- the compile step ------------------------------------------------------------------

def test_a_default_zone_notifies_nothing():
    """Without options or handlers, no syscall reaches the supervisor: uname
    passes through (the zone's UTS namespace answers), as do sethostname and
    setdomainname."""
    entries = compile_brand()
    assert [e.sc.nr for e in entries] == [sc.nr for sc in TABLE]
    assert [e.sc.name for e in entries if e.status.notified] == []
    by = _by_name(entries)
    for name in ("uname", "sethostname", "setdomainname"):
        assert by[name].status.name == "pass" and by[name].handler is None, name
    assert "--kernel-release" in by["uname"].note


def test_a_kernel_personality_emulates_uname_in_c_and_hides_newer_syscalls():
    by = _by_name(compile_brand(Options(kernel_release="4.9.0-lx")))
    assert by["uname"].status.name == "emulated" and isinstance(by["uname"].handler, CHandler)
    assert by["uname"].handler.name == "uname"
    assert by["statx"].status == (("unsupported", errno.ENOSYS, None))        # 4.11
    assert by["statx"].origin == "kernel_release" and "4.11" in by["statx"].note
    assert by["getrandom"].status.name == "pass"                                 # 3.17
    assert by["sethostname"].status.name == "pass"
    assert by["kexec_load"].status.errno == errno.EPERM                          # the table's own


def test_handlers_then_deny_have_the_last_word():
    def getppid(call):
        return 7

    by = _by_name(compile_brand(Options(kernel_release="5.10", handlers={"getppid": getppid, "uname": getppid},
                                        deny={"openat": "EACCES", "mkdir": errno.EROFS, "getppid": "38"})))
    assert by["uname"].handler is getppid and by["uname"].origin == "handler"
    assert by["openat"].status == ("denied", errno.EACCES, None) and by["openat"].origin == "deny"
    assert by["mkdir"].status.errno == errno.EROFS
    assert by["getppid"].status == ("denied", errno.ENOSYS, None) and by["getppid"].handler is None


@pytest.mark.parametrize("options,message", [
    (Options(deny={"nosuch": "EPERM"}), "unknown syscall 'nosuch'"),
    (Options(deny={"openat": "EWHAT"}), "--deny openat=EWHAT: unknown errno"),
    (Options(deny={"openat": 5000}), "an errno is 1 to 4095"),
    (Options(handlers={"nosuch": print}), "unknown syscall 'nosuch'"),
    (Options(kernel_release="abc"), "kernel release 'abc'"),
])
def test_bad_options_name_the_thing(options, message):
    with pytest.raises(ZoneConfigError, match=message.replace("(", r"\(")):
        compile_brand(options)


def test_brand_lowers_entries_into_filter_actions_and_dispatch():
    from lxbrand._csup import lib
    b = Brand()
    uname = BY_NAME["uname"].nr
    assert b.actions[uname] == lib.LXB_ACT_ALLOW and b.kind[uname] == lib.LXB_KIND_NONE
    assert b.actions[BY_NAME["kexec_load"].nr] == errno.EPERM
    assert b.actions[BY_NAME["io_uring_setup"].nr] == errno.ENOSYS
    assert not any(b.kind) and not b.py
    assert b.actions[500] == lib.LXB_ACT_DEFAULT        # not a syscall: ENOSYS in the kernel

    def handler(call):
        return 0

    b = Brand({"getppid": handler}, kernel_release="4.19.0", deny={"mkdir": "EACCES"})
    assert b.actions[uname] == lib.LXB_ACT_NOTIFY
    assert (b.kind[uname], b.c_handler[uname]) == (lib.LXB_KIND_C, lib.LXB_C_UNAME)
    getppid = BY_NAME["getppid"].nr
    assert b.kind[getppid] == lib.LXB_KIND_PY and b.py[getppid] == (handler, BY_NR[getppid], False)
    assert b.actions[BY_NAME["mkdir"].nr] == errno.EACCES
    assert b.actions[BY_NAME["openat2"].nr] == errno.ENOSYS       # 5.6


def test_every_c_handler_of_the_table_is_in_the_supervisor():
    """The table names C handlers; the compiled module knows them by name."""
    from lxbrand._csup import lib
    named = {sc.handler.name for sc in TABLE if isinstance(sc.handler, CHandler)}
    assert named, "the table names no C handler"
    for name in named:
        assert brand_compile.c_handler_id(CHandler(name, "")) == getattr(lib, f"LXB_C_{name.upper()}")


def test_a_c_handler_the_supervisor_lacks_is_a_clear_error():
    with pytest.raises(BrandError, match="no LXB_C_NOSUCH"):
        brand_compile.c_handler_id(CHandler("nosuch", ""))


def test_no_second_list_of_syscall_names():
    """No module of the package but the table holds a literal list of syscall
    names (the table is the one list; STYLE.md)."""
    from lxbrand.brand.model import CLASSES, FINE_CLASSES
    names = set(BY_NAME) - set(CLASSES + FINE_CLASSES)      # strace's class names %stat, %fstatfs... are not lists of calls
    found = []
    for path in sorted((ROOT / "lxbrand").rglob("*.py")):
        if path.name == "table.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                strs = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                hits = [s for s in strs if s in names]
                if len(hits) >= 2:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {hits}")
    assert found == []


# --- lxrun syscalls ----------------------------------------------------------------------

def _rows(output):
    return {line.split()[1]: line.split() for line in output.splitlines()[1:-1]}


def test_lxrun_syscalls_shows_what_a_zone_does():
    r = CliRunner().invoke(main, ["syscalls"])
    assert r.exit_code == 0, r.output
    rows = _rows(r.output)
    assert rows["uname"][2] == "pass" and rows["sethostname"][2] == "pass"
    r = CliRunner().invoke(main, ["syscalls", "--kernel-release", "4.9.0", "--deny", "openat=EACCES",
                                  "--deny", "mkdir"])
    assert r.exit_code == 0, r.output
    rows = _rows(r.output)
    assert rows["uname"][2:3] == ["emulated"] and "C:sys_uname" in rows["uname"]
    assert rows["statx"][2] == "unsupported" and rows["openat"][2] == "denied(EACCES)"
    assert rows["mkdir"][2] == "denied(EPERM)"
    assert r.output.splitlines()[-1].startswith(f"{len(TABLE)} syscalls: ")


def test_lxrun_syscalls_json_for_a_zone():
    r = CliRunner().invoke(main, ["syscalls", "--json", "--kernel-release", "4.19"])
    assert r.exit_code == 0, r.output
    by = {d["name"]: d for d in json.loads(r.output)}
    assert (by["uname"]["status"], by["uname"]["handler"]) == ("emulated", "C:sys_uname")
    assert by["openat2"]["status"] == "unsupported" and by["openat2"]["errno"] == "ENOSYS"
    by = {d["name"]: d for d in json.loads(CliRunner().invoke(main, ["syscalls", "--json"]).output)}
    assert (by["uname"]["status"], by["uname"]["handler"]) == ("pass", None)


def test_lxrun_syscalls_refuses_an_unknown_syscall():
    r = CliRunner().invoke(main, ["syscalls", "--deny", "nosuch"])
    assert r.exit_code == 2 and "unknown syscall 'nosuch'" in r.output


# --- docs/DIFFERENCES.md -----------------------------------------------------------------

def test_differences_md_lists_are_the_tables():
    """docs/DIFFERENCES.md's generated section is current: regenerate it with
    python3 -m lxbrand.brand.report --differences --update docs/DIFFERENCES.md"""
    text = (ROOT / "docs" / "DIFFERENCES.md").read_text()
    assert report.update(text) == text
    section = report.differences()
    for sc in TABLE:
        shown = f"| `{sc.name}` |" in section
        assert shown == (sc.status.name != "pass"), sc.name


# --- the filter cache ---------------------------------------------------------------------

@pytest.fixture
def filter_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LXBRAND_CACHE", str(tmp_path))
    monkeypatch.setattr(brand_compile, "_FILTERS", {})
    built = []
    real = brand_compile._build

    def counting(actions):
        built.append(1)
        return real(actions)

    monkeypatch.setattr(brand_compile, "_build", counting)
    return tmp_path, built


def test_filters_are_built_once_then_cached(filter_cache):
    tmp, built = filter_cache
    a = Brand(kernel_release="4.19.0").bpf()
    assert len(built) == 1 and len(a) % 8 == 0
    files = list((tmp / "filters").iterdir())
    assert [f.suffix for f in files] == [".bpf"] and files[0].read_bytes() == a
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"
    assert Brand(kernel_release="4.19.0").bpf() == a and len(built) == 1     # in this process
    brand_compile._FILTERS.clear()
    assert Brand(kernel_release="4.19.0").bpf() == a and len(built) == 1     # from the disk
    assert Brand().bpf() != a and len(built) == 2                             # other actions, other key


def test_a_cached_filter_others_could_write_is_not_trusted(filter_cache):
    tmp, built = filter_cache
    a = Brand(deny={"openat": "EACCES"}).bpf()
    (path,) = (tmp / "filters").iterdir()
    path.write_bytes(b"\0" * 8)              # a different filter...
    os.chmod(path, 0o666)                    # ...that anyone could have written
    brand_compile._FILTERS.clear()
    assert Brand(deny={"openat": "EACCES"}).bpf() == a and len(built) == 2
    path.write_bytes(b"\0" * 7)              # malformed, though the user's own
    os.chmod(path, 0o600)
    brand_compile._FILTERS.clear()
    assert Brand(deny={"openat": "EACCES"}).bpf() == a and len(built) == 3


def test_an_unwritable_cache_only_costs_time(filter_cache, monkeypatch):
    tmp, built = filter_cache
    monkeypatch.setenv("LXBRAND_CACHE", "/proc/no/such/dir")
    assert len(Brand().bpf()) > 0 and len(built) == 1


# --- start-up -------------------------------------------------------------------------------

def test_importing_the_cli_loads_neither_the_c_module_nor_the_table():
    code = ("import sys, lxbrand.cli\n"
            "loaded = [m for m in ('lxbrand._lxbrand_c', 'lxbrand.brand', 'lxbrand.zone', 'construct') "
            "if m in sys.modules]\n"
            "print(loaded)\n"
            "import lxbrand\n"
            "print(lxbrand.Zone.__module__, lxbrand.CONTINUE)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["[]", "lxbrand.zone continue"]


def test_running_a_zone_needs_no_construct():
    code = "import sys, lxbrand.zone, lxbrand.brand; print('construct' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout == "False\n", r.stderr


# --- the decoder ---------------------------------------------------------------------------

class FakeMem:
    """Guest memory for the decoder: {addr: bytes}; reads elsewhere fail."""

    def __init__(self, **regions):
        self.regions = {int(k[1:], 16): v for k, v in regions.items()}

    def read_bytes(self, addr, n):
        for base, data in self.regions.items():
            if base <= addr and addr + n <= base + len(data):
                return data[addr - base: addr - base + n]
        raise OSError(errno.EFAULT, "unmapped")

    def read_str(self, addr, limit=4096):
        for base, data in self.regions.items():
            if base <= addr < base + len(data):
                end = data.index(b"\0", addr - base)
                return data[addr - base:end].decode(errors="surrogateescape")
        raise OSError(errno.EFAULT, "unmapped")


def test_decode_registers_without_memory():
    sc = BY_NAME["openat"]
    raw = ((-100) & (1 << 64) - 1, 0x7FFD1000, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644, 0, 0)
    assert decode.format_call(sc, raw) == "openat(AT_FDCWD, 0x7ffd1000, O_WRONLY|O_CREAT|O_CLOEXEC, 0644)"
    values = dict(decode.args(sc, raw))
    assert values["flags"].value == os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC and values["dirfd"] == "AT_FDCWD"
    assert decode.format_call(BY_NAME["kill"], (5, 9)) == "kill(5, SIGKILL)"
    assert decode.format_call(BY_NAME["clock_gettime"], (1, 0)) == "clock_gettime(CLOCK_MONOTONIC, NULL)"
    assert decode.format_call(BY_NAME["close"], ((1 << 32) - 1,)) == "close(-1)"      # an int is 32 bits
    assert decode.format_call(BY_NAME["openat"], (3, 0, 0, 0)) == "openat(3, NULL, O_RDONLY, 0)"
    assert decode.format_call(BY_NAME["getpid"], ()) == "getpid()"


def test_decode_reads_strings_and_buffers_through_the_callback():
    mem = FakeMem(x1000=b"/etc/passwd\0", x2000=b"hello\nworld", x3000=b"sh\0-c\0",
                  x4000=(0x3000).to_bytes(8, "little") + (0x3003).to_bytes(8, "little") + bytes(8))
    assert decode.format_call(BY_NAME["openat"], ((-100) & (1 << 64) - 1, 0x1000, os.O_CLOEXEC, 0), mem) == \
        'openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC, 0)'
    assert decode.format_call(BY_NAME["write"], (1, 0x2000, 6), mem) == 'write(1, "hello\\n", 6)'
    # out[] buffers are the kernel's to fill: an address on entry
    assert decode.format_call(BY_NAME["read"], (0, 0x2000, 6), mem) == "read(0, 0x2000, 6)"
    assert decode.format_call(BY_NAME["execve"], (0x1000, 0x4000, 0), mem) == \
        'execve("/etc/passwd", ["sh", "-c"], NULL)'
    # an address the guest does not map stays an address
    assert decode.format_call(BY_NAME["chdir"], (0xdead0000,), mem) == "chdir(0xdead0000)"
    long = FakeMem(x1000=b"x" * 100)
    assert decode.format_call(BY_NAME["write"], (2, 0x1000, 100), long) == f'write(2, "{"x" * 32}"..., 100)'


def test_decode_structs_with_abi():
    mem = FakeMem(x1000=(1).to_bytes(8, "little") + (500).to_bytes(8, "little"))
    assert decode.format_call(BY_NAME["nanosleep"], (0x1000, 0), mem, structs=True) == \
        "nanosleep({tv_sec=1, tv_nsec=500}, NULL)"


def test_every_signature_decodes():
    mem = FakeMem(x1000=b"abc\0" + bytes(60))
    for sc in TABLE:
        for raw in ((0,) * 6, (0x1000,) * 6, ((1 << 64) - 1,) * 6):
            text = decode.format_call(sc, raw, mem, structs=True)
            assert text.startswith(sc.name + "(") and text.endswith(")"), sc.name
            assert len(decode.args(sc, raw)) == len(sc.params)


@pytest.mark.parametrize("value,text", [
    (0, "0"), (3, "3"), ((-2) & (1 << 64) - 1, "-1 ENOENT (No such file or directory)"),
    (-38, "-1 ENOSYS (Function not implemented)"), (0x7F0000001000, "0x7f0000001000"),
])
def test_format_result(value, text):
    assert decode.format_result(value) == text


def test_a_handler_reads_its_arguments_decoded(rootfs):
    from lxbrand import Zone
    z = Zone(rootfs)
    seen = []

    @z.handler("mkdir")
    def mkdir(call):
        seen.append(call.decoded(read=True))
        seen.append(decode.format_call(BY_NR[call.nr], call.raw))
        return -errno.EROFS

    r = z.run(["python3", "-c", "import os\ntry: os.mkdir('/tmp/new', 0o750)\nexcept OSError as e: print(e.errno)"],
              capture_output=True)
    assert r.stdout == b"30\n", r.stderr
    assert seen[0] == [("path", "/tmp/new"), ("mode", "0750")] and seen[0][1][1].value == 0o750   # a mode_t
    assert seen[1].startswith("mkdir(0x") and seen[1].endswith(", 0750)")
