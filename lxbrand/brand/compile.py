"""The brand compiled for one zone: the one step from table to enforcement.

`compile_brand(options)` reads the table under a zone's options and policy
(its kernel personality, its --deny list, its own Python handlers) and says,
for every syscall, what that zone will actually do with it: an `Entry` with
the status that holds there, the handler that answers it, a note, and where
the decision came from.  It needs no C: `lxrun syscalls` prints these entries
(report.py).  `Brand` lowers them into what the C side reads: one seccomp
action per syscall number (the filter, built by libseccomp and cached), the C
dispatch (a handler's id looked up by its name, `LXB_C_<NAME>`, in one
place: `c_handler_id`), and the Python dispatch.

Precedence, last wins: the table's status (a status under a zone option, as
uname's under kernel_release, holds only in a zone with that option, else
the syscall passes through); ENOSYS for a syscall newer than the zone's
kernel release; the zone's Python handlers; the zone's --deny.
"""
from __future__ import annotations

import errno as _errno
import hashlib
import os
import struct
import sys
from array import array
from collections import namedtuple
from typing import Callable, Optional

from ..errors import LxbrandError, ZoneConfigError
from .model import CHandler, Status, handler_name
from .table import BY_NAME, TABLE

BPF_MAX = 64 * 1024

# a zone's options and policy, as far as the brand reads them; the names a
# table status may depend on are model.OPTIONS
Options = namedtuple("Options", "kernel_release deny handlers memory cpus fakeroot",
                     defaults=(None, None, None, None, None, None))

# one syscall in one zone.  origin: "table", "kernel_release" (newer than the
# zone's kernel), "uname" (seen first for uname's sake: UTS_WATCH), "handler"
# (the zone's Python handler), "deny" (--deny)
Entry = namedtuple("Entry", "sc status handler note origin")


class BrandError(LxbrandError, RuntimeError):
    """The table and the compiled C supervisor disagree (a C handler is missing)."""


def kernel_version(release: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a release such as "4.19.0-lx" or a table's "2.6.16"."""
    nums = []
    for part in release.split(".")[:3]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        nums.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple((nums + [0, 0, 0])[:3])


def check_handler_name(name: str) -> None:
    if name not in BY_NAME:
        raise ZoneConfigError(f"unknown syscall {name!r}: not an x86_64 syscall in the brand's table "
                              "(see `lxrun syscalls`)")


def deny_errno(name: str, err) -> int:
    """The errno of a --deny entry: an int, a name ("EACCES") or digits."""
    check_handler_name(name)
    if isinstance(err, str):
        code = getattr(_errno, err.upper(), None) if err.upper().startswith("E") else None
        if code is None and err.isdigit():
            code = int(err)
        if code is None:
            raise ZoneConfigError(f"--deny {name}={err}: unknown errno (expected a name such as EPERM or a number)")
        err = code
    if isinstance(err, bool) or not isinstance(err, int) or not 0 < err < 4096:
        raise ZoneConfigError(f"--deny {name}={err!r}: an errno is 1 to 4095")
    return err


def check_release(release: str) -> None:
    from ..personality import check_kernel_release
    check_kernel_release(release)


def compile_brand(options: Optional[Options] = None) -> list[Entry]:
    """Every syscall of the table, in number order, as a zone with `options` has it."""
    options = options or Options()
    if options.kernel_release is not None:
        check_release(options.kernel_release)
    emulated = kernel_version(options.kernel_release) if options.kernel_release else None
    release = options.kernel_release
    out = {}
    for sc in TABLE:
        st = sc.status.under(options)
        if emulated is not None and kernel_version(sc.since) > emulated:
            out[sc.nr] = Entry(sc, Status("unsupported", _errno.ENOSYS), None,
                               f"ENOSYS: new in Linux {sc.since}, after the zone's kernel {release}",
                               "kernel_release")
        elif st.name == "pass":
            # a status under an option the zone lacks: say what the option would change
            note = f"{sc.status} ({handler_name(sc.handler) or 'no handler'}): {sc.note}" if sc.status.option else ""
            out[sc.nr] = Entry(sc, st, None, note, "table")
        else:
            out[sc.nr] = Entry(sc, st, sc.handler if st.notified else None, sc.note, "table")
    if options.fakeroot:
        # --fakeroot (personality.FAKEROOT_HANDLERS): the stat family, chown and
        # mknod in C, where the table lets them pass (a newer-than-the-zone's
        # statx stays ENOSYS)
        from ..personality import FAKEROOT_HANDLERS, FAKEROOT_NOTE
        for name, handler in FAKEROOT_HANDLERS.items():
            sc = BY_NAME[name]
            if out[sc.nr].status.name == "pass":
                out[sc.nr] = Entry(sc, Status("emulated"), handler, FAKEROOT_NOTE, "fakeroot")
    _watch_uts(out)
    for name, fn in (options.handlers or {}).items():
        check_handler_name(name)
        sc = BY_NAME[name]
        out[sc.nr] = Entry(sc, Status("emulated"), fn, "the zone's Python handler", "handler")
    for name, err in (options.deny or {}).items():
        err = deny_errno(name, err)
        sc = BY_NAME[name]
        out[sc.nr] = Entry(sc, Status("denied", err), None,
                           f"--deny: {_errno.errorcode.get(err, err)} in the kernel", "deny")
    return [out[sc.nr] for sc in TABLE]


# uname's C handler keeps, per calling thread, the UTS namespace it found the
# caller in (csrc/supervisor.c UNAME): reading it again costs more than the
# rest of the call.  A thread changes its own UTS namespace only by unshare(2)
# or setns(2) (a clone(CLONE_NEWUTS) child is a new thread), so a zone whose
# uname reaches the supervisor has these two notified as well: their C
# handlers make the supervisor forget what it kept, then let the kernel
# perform the call.
UTS_WATCH = {
    "unshare": CHandler("unshare", "unshare(2): with CLONE_NEWUTS, the supervisor forgets the UTS namespaces "
                                   "uname kept; then the kernel performs it"),
    "setns": CHandler("setns", "setns(2): the supervisor forgets the UTS namespaces uname kept; then the "
                               "kernel performs it"),
}
UTS_WATCH_NOTE = "the kernel's, seen first by the supervisor: uname follows the caller's UTS namespace"


def _watch_uts(out: dict) -> None:
    uname = BY_NAME["uname"]
    e = out[uname.nr]
    if not (e.status.notified and isinstance(e.handler, CHandler) and e.handler.name == "uname"):
        return
    for name, handler in UTS_WATCH.items():
        sc = BY_NAME[name]
        if out[sc.nr].status.name == "pass":
            out[sc.nr] = Entry(sc, Status("translated"), handler, UTS_WATCH_NOTE, "uname")


# --- the C side ------------------------------------------------------------------

def _lib():
    from .._csup import lib
    return lib


def c_handler_id(handler: CHandler) -> int:
    """The id the C supervisor knows `handler` by: LXB_C_<NAME> of csrc/lxbrand.h."""
    ident = getattr(_lib(), handler.constant, None)
    if not isinstance(ident, int) or ident <= 0:
        raise BrandError(f"the table names the C handler {handler.__name__} but the C supervisor has no "
                         f"{handler.constant} (csrc/lxbrand.h); rebuild with: make build")
    return ident


class Brand:
    """The table compiled for one zone: filter actions and dispatch.

    `entries` is what the zone does with each syscall (compile_brand);
    `actions` the seccomp action per number, `kind` and `c_handler` the C
    dispatch arrays, `py` the Python dispatch {nr: (fn, table line, from_table)}.
    """

    def __init__(self, py_handlers: Optional[dict[str, Callable]] = None,
                 kernel_release: Optional[str] = None, deny: Optional[dict] = None,
                 memory: Optional[int] = None, cpus: Optional[float] = None, fakeroot: bool = False):
        self.options = Options(kernel_release, dict(deny or {}), dict(py_handlers or {}), memory, cpus,
                               bool(fakeroot))
        self.entries = compile_brand(self.options)
        lib = _lib()
        self.actions = [lib.LXB_ACT_DEFAULT] * lib.LXB_NR_MAX
        self.kind = bytearray(lib.LXB_NR_MAX)
        self.c_handler = bytearray(lib.LXB_NR_MAX)
        self.py: dict[int, tuple[Callable, object, bool]] = {}
        for e in self.entries:
            nr, st = e.sc.nr, e.status
            if st.name == "pass":
                self.actions[nr] = lib.LXB_ACT_ALLOW
            elif st.notified:
                self.actions[nr] = lib.LXB_ACT_NOTIFY
                if isinstance(e.handler, CHandler):
                    self.kind[nr] = lib.LXB_KIND_C
                    self.c_handler[nr] = c_handler_id(e.handler)
                elif e.handler is not None:
                    self.kind[nr] = lib.LXB_KIND_PY
                    self.py[nr] = (e.handler, e.sc, e.origin == "table")
            else:   # denied, unsupported: the errno, in the kernel
                self.actions[nr] = st.errno
        self._bpf: Optional[bytes] = None
        self.inject_rules: list = []
        self.inject_c = None            # struct lxb_inject (csrc/inject.c), with rules
        self.inject_traceable: set = set()

    def add_inject(self, rules) -> None:
        """--inject (lxbrand/inject.py): the syscalls the rules name, and only
        those, leave the kernel; one the brand passes through becomes
        LXB_KIND_INJECT (run unless a rule fires), one it emulates keeps its
        handler behind the rules.  A syscall the zone answers in the kernel
        (--deny, unsupported, newer than --kernel-release) is refused: no
        rule could ever see it."""
        from ..inject import InjectError, c_table, parse_rules, path_nrs
        rules = parse_rules(rules)
        if not rules:
            return
        lib = _lib()
        paths = path_nrs(rules)
        named = {BY_NAME[n].nr: r for r in rules for n in r.syscalls}
        for i, e in enumerate(self.entries):
            nr, st = e.sc.nr, e.status
            if nr not in named:
                continue
            if st.name == "pass":
                self.entries[i] = Entry(e.sc, Status("translated"), None,
                                        "--inject: faults injected by the supervisor", "inject")
                self.actions[nr] = lib.LXB_ACT_NOTIFY
                self.kind[nr] = lib.LXB_KIND_INJECT
                if nr not in paths:
                    self.inject_traceable.add(nr)
            elif not st.notified:
                raise InjectError(f"--inject {named[nr].text!r}: {e.sc.name} is {st} in this zone, answered "
                                  "in the kernel before any rule could see it")
        self.inject_rules = rules
        self.inject_c = c_table(rules)
        self._bpf = None

    def bpf(self) -> bytes:
        """The seccomp filter (struct sock_filter[]), from the cache when it was built before."""
        if self._bpf is None:
            self._bpf = filter_bpf(self.actions)
        return self._bpf


# --- compiled filters, cached --------------------------------------------------------

FORMAT = b"lxbrand-bpf-1\0"
_FILTERS: dict[str, bytes] = {}


_BUILDER_ID: Optional[bytes] = None


def _builder_id() -> bytes:
    """What, besides the actions, decides the filter: the compiled builder (filter.c
    and the libseccomp it links), named by its file.  Read once: a library
    host may drop privileges after import and no longer reach the file."""
    global _BUILDER_ID
    if _BUILDER_ID is None:
        _lib()
        mod = sys.modules.get("lxbrand._lxbrand_c")
        path = getattr(mod, "__file__", None)
        try:
            st = os.stat(path) if path else None
        except OSError:
            st = None
        _BUILDER_ID = (f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}".encode() if st
                       else f"{path}\0unreadable".encode())
    return _BUILDER_ID


def filter_key(actions) -> str:
    _lib()
    return hashlib.sha256(FORMAT + _builder_id() + b"\0" + array("i", actions).tobytes()).hexdigest()


def _build(actions) -> bytes:
    from .._csup import check, ffi
    lib = _lib()
    acts = ffi.new("int32_t[]", list(actions))
    out = ffi.new("unsigned char[]", BPF_MAX)
    n = check(lib.lxb_filter_build(acts, len(acts), out, BPF_MAX), "build the seccomp filter")
    return ffi.buffer(out, n)[:]


def filter_dir() -> str:
    from ..rootfs import cache_dir
    return os.path.join(cache_dir(), "filters")


def _trusted(st) -> bool:
    # a filter is the zone's boundary: read only what this user wrote, and
    # that nobody else could have changed
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _safe_dir(directory: str, to_make: bool = False) -> Optional[str]:
    """The real path of directory when no one but this user and root can
    change it or any directory or symlink on the way to it (a world-writable
    sticky directory, as /tmp, is passed through, never the end), else None.
    A cache under another user's directory (root run with that user's HOME,
    as `sudo -E` leaves it, or LXBRAND_CACHE) is then no cache: root would
    otherwise write wherever that user's symlinks point (SECURITY.md,
    "lxrun's own files").  to_make: a directory to make a new one in (a
    sticky one will do: no one else can remove what this user makes there)."""
    import stat
    euid = os.geteuid()
    todo = [c for c in os.path.abspath(directory).split("/") if c]
    cur, links = "/", 0
    while True:
        try:
            st = os.lstat(cur)
        except OSError:
            return None
        if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (0, euid):
            return None
        if st.st_mode & 0o022 and ((not todo and not to_make) or not st.st_mode & stat.S_ISVTX):
            return None
        if not todo:
            return cur
        name = todo.pop(0)
        if name == ".":
            continue
        if name == "..":
            cur = os.path.dirname(cur)
            continue
        nxt = os.path.join(cur, name)
        try:
            lst = os.lstat(nxt)
        except OSError:
            return None
        if stat.S_ISLNK(lst.st_mode):
            links += 1
            if lst.st_uid not in (0, euid) or links > 40:
                return None
            target = os.readlink(nxt)
            if target.startswith("/"):
                cur = "/"
            todo = [c for c in target.split("/") if c] + todo
            continue
        cur = nxt


def _load(path: str) -> Optional[bytes]:
    if _safe_dir(os.path.dirname(path)) is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not (_trusted(os.fstat(fd)) and _trusted(os.stat(os.path.dirname(path)))):
            return None
        data = os.read(fd, BPF_MAX + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if not data or len(data) % 8 or len(data) > BPF_MAX:
        return None
    return data


def _store_if_changed(path: str, data: bytes):
    """Store data at path unless the file there already holds exactly it:
    the path written, else None (also used by trace.py's front door cache)."""
    try:
        with open(path, "rb") as f:
            if f.read(len(data) + 1) == data:
                return None
    except OSError:
        pass
    _store(path, data)
    return path


def _store(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    made = directory
    while not os.path.lexists(made) and os.path.dirname(made) != made:
        made = os.path.dirname(made)
    if _safe_dir(made, to_make=made != directory) is None:
        return                  # not even a directory made where another user points
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return
    # written by its real path, once no one else can change any directory of it
    directory = _safe_dir(directory)
    if directory is None:
        return
    path = os.path.join(directory, os.path.basename(path))
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:   # a cache that cannot be written is no cache: build each time
        try:
            os.unlink(tmp)
        except OSError:
            pass


def filter_bpf(actions) -> bytes:
    """The filter for `actions`: from this process's cache, else from the disk
    cache ($LXBRAND_CACHE/filters or ~/.cache/lxbrand/filters), else built by
    libseccomp and stored in both."""
    key = filter_key(actions)
    data = _FILTERS.get(key)
    if data is None:
        path = os.path.join(filter_dir(), key + ".bpf")
        data = _load(path)
        if data is None:
            data = _build(actions)
            _store(path, data)
        _FILTERS[key] = data
    return data


# --- the compiled brand, for the C front door (csrc/frontdoor/lxrun.c) --------------
#
# One file per option set, $LXBRAND_CACHE/frontdoor/HASH.brand: the brand the
# Python CLI compiled, which `lxrun` (C) reads instead of compiling a second
# copy of the table.  HASH is the FNV-1a 64 of the key text below, which the
# front door computes from the same arguments; the file holds the key itself,
# the files the brand came from with their size and mtime (a table edited
# since makes it stale), the dispatch arrays, the uts strings, the filter and,
# under --kernel-release, the personality's files (/proc/version,
# /proc/sys/kernel/osrelease and version), all as the Python CLI's zone has
# them (Zone.uts, Zone.proc_version, personality.View), so that the front
# door runs such a zone without Python:
#
#   "lxbrand-brand-4\n"  u32 flags (1: a Python handler)  u32 nr_max  u32 key_len
#   u32 deps_len  u32 bpf_len  u32 files_len  u8 kind[nr_max]
#   u8 c_handler[nr_max]  char sysname, release, version, machine [65 each]
#   u64 cap_drop  key  deps  bpf  files ("path\0text\0" each)
#
# The front door's option table is not here: csrc/frontdoor/options.py
# generates it from lxbrand/cli.py at build time (it must parse the command
# line before it knows which brand to read).

FRONTDOOR_MAGIC = b"lxbrand-brand-4\n"
FRONTDOOR_NEEDS_PYTHON = 1
_FRONTDOOR_HEAD = struct.Struct("<16s6I512s512s65s65s65s65sQ")   # ..., uts, cap_drop


def frontdoor_key(kernel_release: Optional[str], deny_items, report: bool = False,
                  fakeroot: bool = False) -> bytes:
    """What a front-door brand is compiled for: the host's kernel, and
    --kernel-release and --deny as the command line gave them (in order, the
    last value of a repeated syscall winning, as cli._parse_deny's dict);
    under --report, the brand that counts (lxbrand/trace.py ReportBrand);
    a fake root's (a user's zone of one id: ZoneConfig.fakeroot_on); and
    first the install, by its compiled module's path (the front door's
    LXB_SO): two installs of one user share the cache."""
    u = os.uname()
    _lib()
    so = sys.modules["lxbrand._lxbrand_c"].__file__
    text = f"lxbrand-frontdoor-key 1\nmodule {so}\nhost {u.release} {u.version}\nrelease {kernel_release or ''}\n"
    text += "".join(f"deny {name}={err}\n" for name, err in deny_items)
    return (text + ("report 1\n" if report else "") + ("fakeroot 1\n" if fakeroot else "")).encode()


def _fnv1a64(data: bytes) -> int:
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def frontdoor_path(key: bytes) -> str:
    from ..rootfs import cache_dir
    return os.path.join(cache_dir(), "frontdoor", f"{_fnv1a64(key):016x}.brand")


def _frontdoor_deps() -> bytes:
    """The compiled module and the brand's sources, as "path\\tsize\\tmtime_ns" lines."""
    _lib()
    here = os.path.dirname(os.path.abspath(__file__))
    paths = [sys.modules["lxbrand._lxbrand_c"].__file__]
    paths += sorted(os.path.join(here, n) for n in os.listdir(here) if n.endswith(".py"))
    paths.append(os.path.join(os.path.dirname(here), "personality.py"))     # cap_drop
    lines = []
    for p in paths:
        st = os.stat(p)
        lines.append(f"{os.path.abspath(p)}\t{st.st_size}\t{st.st_mtime_ns}\n")
    return "".join(lines).encode()


def _cap_drop() -> int:
    from ..personality import CAP_DROP
    return CAP_DROP


def personality_files(kernel_release: Optional[str], proc_version: Optional[str]) -> dict:
    """zone path -> text: the files a zone under --kernel-release shows, as a
    Python-run zone shows them (Zone._launch_config's /proc/version and
    osrelease, personality.View's /proc/sys/kernel/version)."""
    if not kernel_release:
        return {}
    from ..personality import View
    files = {"/proc/version": proc_version, "/proc/sys/kernel/osrelease": kernel_release + "\n"}
    files.update(View(None, None, kernel_release).texts())
    return files


def frontdoor_bytes(brand: "Brand", kernel_release: Optional[str], deny_items, uts: dict,
                    proc_version: Optional[str], report: bool = False) -> bytes:
    key = frontdoor_key(kernel_release, deny_items, report, brand.options.fakeroot)
    deps = _frontdoor_deps()
    bpf = brand.bpf()
    text = b"".join(path.encode() + b"\0" + body.encode() + b"\0"
                    for path, body in sorted(personality_files(kernel_release, proc_version).items()))
    flags = FRONTDOOR_NEEDS_PYTHON if brand.py else 0
    head = _FRONTDOOR_HEAD.pack(FRONTDOOR_MAGIC, flags, len(brand.kind), len(key), len(deps), len(bpf),
                                len(text), bytes(brand.kind), bytes(brand.c_handler),
                                *(uts[f].encode() for f in ("sysname", "release", "version", "machine")),
                                _cap_drop())
    return head + key + deps + bpf + text


def store_frontdoor(brand: "Brand", kernel_release: Optional[str] = None, deny_items=(),
                    uts: Optional[dict] = None, proc_version: Optional[str] = None,
                    report: bool = False) -> Optional[str]:
    """Write the brand a command-line zone with these options gets, for the
    front door, with the zone's uts names and /proc/version text (Zone.uts(),
    Zone.proc_version(); without them, only a zone of the host's kernel is
    written); a zone's own Python handlers never go there.  Returns the path,
    or None when nothing was written (unchanged, or not cacheable)."""
    # the key names --kernel-release, --deny and the fake root only: a brand
    # that any other option shaped (a zone's own handlers, --memory, --cpus)
    # is never stored
    shaped = {k: v for k, v in brand.options._asdict().items() if k not in ("kernel_release", "deny", "fakeroot")}
    if any(shaped.values()) or len(brand.kind) != 512 or getattr(brand, "inject_rules", None):
        return None
    if uts is None:
        if kernel_release:
            return None
        u = os.uname()
        uts = {"sysname": "Linux", "release": u.release, "version": u.version, "machine": "x86_64"}
    if kernel_release and proc_version is None:
        return None
    data = frontdoor_bytes(brand, kernel_release, list(deny_items), uts, proc_version if kernel_release else None,
                           report)
    path = frontdoor_path(frontdoor_key(kernel_release, list(deny_items), report, brand.options.fakeroot))
    return _store_if_changed(path, data)


__all__ = ["Options", "Entry", "Brand", "BrandError", "compile_brand", "c_handler_id", "kernel_version",
           "check_handler_name", "deny_errno", "filter_bpf", "filter_key", "store_frontdoor",
           "personality_files"]
