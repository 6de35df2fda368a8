"""The tracer's decoding table, generated from the brand's table.

lxrun --trace formats each traced call in C (csrc/trace_fmt.c), as the
Python decoder (lxbrand/brand/decode.py) prints it.  What C needs to know
is data the Python side already holds: each syscall's name, its arguments'
names and kinds (the table's signatures, lxbrand/brand/table.py), its trace
classes, the flag and name tables of decode.py (its KINDS: enums and
flags words such as O_*, AT_*, ioctl requests, mode_t; CLONE_*, signal
names, si_code names), and errno names and messages.  This script
writes them as one C header, so that csrc/ holds no second list:

    python3 csrc/trace_gen.py -o build/gen/trace_table.h

lxbrand/_build.py runs it before compiling csrc/ (make build).  The header
ends with the SHA-256 of everything above it (TG_HASH, returned by
lxb_trace_table_hash()); tests/test_trace.py regenerates the header and
compares, so a table edited since the build fails there, not in a trace.
"""
from __future__ import annotations

import argparse
import errno as _errno
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lxbrand.brand import decode  # noqa: E402
from lxbrand.brand.model import CLASSES  # noqa: E402
from lxbrand.brand.table import TABLE  # noqa: E402

NR_MAX = 512                     # LXB_NR_MAX (csrc/lxbrand.h)

# register kinds printed by code of their own (trace_fmt.c SP_*); every
# decode.KINDS kind is a TG_KINDS row printed by trace_fmt.c's kind_val
SPECIAL = {"fd": "SP_FD", "clone_flags": "SP_CLONE", "signo": "SP_SIGNO", "dev": "SP_DEV"}
REST = {"x": "'x'", "oct": "'O'"}
OTHER = {"d": "'d'", "x": "'x'", "i": "'i'"}


def kinds() -> list:
    """[(name, Kind)]: decode.KINDS' Kinds, the structures' field kinds
    (decode.FIELD_KINDS), then the si_code kinds (TG_KINDS' rows)."""
    out = [(n, k) for n, k in decode.KINDS.items() if isinstance(k, decode.Kind)]
    out += list(decode.FIELD_KINDS.items())
    out.append(("si_codes", decode.SI_CODES))
    out += [(f"si_codes_{sig}", k) for sig, k in sorted(decode.SIGNAL_CODES.items())]
    return out


KIND_INDEX = {n: i + 1 for i, (n, _) in enumerate(kinds())}      # 0: none
SWITCHES = [(n, k) for n, k in decode.KINDS.items() if isinstance(k, decode.Switch)]
SWITCH_INDEX = {n: i + 1 for i, (n, _) in enumerate(SWITCHES)}


def reg_row(name: str, kind: str, on: int = 0) -> str:
    """A register argument of kind `kind` as a struct tg_param."""
    if kind in POINTED or kind == "ptr":      # a pointer a Switch picks (decode.POINTED): an address row
        return f"{{{_c(name) if name else 0}, C_ADDR, 64, 0, {POINTED.get(kind, 'A_PTR')}, 0, 0, 255, 0, 0, 0}}"
    bits, signed = decode._INTS[kind]
    return (f"{{{_c(name) if name else 0}, C_REG, {bits}, {int(signed)}, {SPECIAL.get(kind, 'SP_NONE')}, 0, 0, 255, "
            f"{KIND_INDEX.get(kind, 0)}, {SWITCH_INDEX.get(kind, 0)}, {on}}}")
ADDR = {"ptr": "A_PTR", "path": "A_PATH", "str": "A_STR"}
POINTED = {"comm_in": "A_COMM_IN", "comm_out": "A_COMM_OUT", "int_in": "A_INT_IN", "int_out": "A_INT_OUT",
           "flock_in": "A_FLOCK_IN", "flock_out": "A_FLOCK_OUT"}
if set(POINTED) != set(decode.POINTED):
    raise SystemExit("trace_gen: decode.POINTED and POINTED differ")
DIRS = {"in": "D_IN", "out": "D_OUT", "inout": "D_INOUT"}
FAST = {"stat": "T_STAT", "statx": "T_STATX", "timespec": "T_TIMESPEC", "sockaddr": "T_SOCKADDR",
        "sigset": "T_SIGSET", "sigaction": "T_SIGACTION", "rlimit": "T_RLIMIT", "epoll_event": "T_EPOLL_EVENT",
        "stack_t": "T_STACK_T", "utsname": "T_UTSNAME", "rusage": "T_RUSAGE", "statfs": "T_STATFS",
        "sysinfo": "T_SYSINFO", "tms": "T_TMS", "itimerval": "T_ITIMERVAL", "itimerspec": "T_ITIMERSPEC",
        "siginfo": "T_SIGINFO", "sigevent": "T_SIGEVENT"}
ARRAYS = {"pollfd": "T_POLLFD", "epoll_event": "T_EPOLL_EVENTS", "gid": "T_GIDS"}
# the msghdr styles (one style code per pair): a target each
MSG_TARGETS = {"msghdr_in": "T_MSGHDR", "msghdr_out": "T_MSGHDR_OUT", "mmsghdr_send": "T_MMSGHDR",
               "mmsghdr_recv": "T_MMSGHDR_RECV"}
# kinds trace_fmt.c's struct formatters print fields by (TG_KIND_<NAME>)
STRUCT_KINDS = ("sigaction_flags", "sa_handler", "poll_events", "statx_mask", "statx_attrs", "ptrace_event",
                "epoll_events", "ss_flags", "fs_magic", "statfs_flags", "sigev_notify", "sol_level", "scm_type",
                "ip_cmsg_type", "msg_flags", "lock_type", "seek_whence", "clone3_flags")


def _c(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def param_row(sc, i: int) -> str:
    """One argument as trace_fmt.c's struct tg_param, by decode.args' rules."""
    name, kind = sc.params[i]
    m = decode.TYPE.match(kind)
    if m is None:
        raise SystemExit(f"trace_gen: {sc.name}: malformed type {kind!r}")
    if m.group("kind"):
        if kind in ADDR:
            return f"{{{_c(name)}, C_ADDR, 64, 0, {ADDR[kind]}, 0, 0, 255, 0, 0, 0}}"
        sw = decode.KINDS.get(kind)
        on = 0
        if isinstance(sw, decode.Switch):
            on = [p for p, _ in sc.params].index(sw.on)     # a Switch's `on` names an argument of the call
            if on >= 6 or isinstance(decode.KINDS.get(sc.params[on][1]), decode.Switch):
                raise SystemExit(f"trace_gen: {sc.name}: {name} switched by {sw.on}, no register of its own")
        return reg_row(name, kind, on)
    target, array, n = m.group("target"), m.group("array"), m.group("n")
    style = decode.STYLE_CODES.get(decode.STYLES.get((sc.name, name)), 0)
    if decode.STYLES.get((sc.name, name)) == "dirent_count":
        t = "T_DIRENTS"
    elif target == "bytes":
        t = "T_BYTES"
    elif target in ("int", "uid", "gid", "sched_param") and not array and style:
        t = "T_INT1"
    elif target in ("int", "uint") and not array and m.group("dir") == "inout":
        t, style = "T_INT1", decode.STYLE_CODES["int_ref"]      # [128 => 16] (decode._inout_int)
    elif target in decode.FAST_ARRAYS and array == "[]":
        t = ARRAYS[target]
    elif decode.STYLES.get((sc.name, name)) in ("off_change", "off_in"):
        t = "T_OFF64"           # decode.OffChange / IntRef of a loff_t (decode._offset)
    elif decode.STYLES.get((sc.name, name)) == "fdset":
        t = "T_FDSET"           # decode.FdSet, from trace.c copy_select's packing
    elif decode.STYLES.get((sc.name, name)) == "select_timeout":
        t = "T_SELECT_TV"       # decode.TimeoutArg, the same packing
    elif decode.STYLES.get((sc.name, name)) == "sigset_argpack":
        t = "T_ARGPACK"         # pselect6's {sigmask=[...], sigsetsize=8}, the same packing
    elif target == "iovec" and array == "[]" and decode.STYLES.get((sc.name, name)) in ("iov_in", "iov_out", "iov_addr"):
        t = "T_IOVEC"           # decode.Iovec, from trace.c copy_iov's packing
    elif (sc.name, name) in decode.HELD_TIMEOUTS:
        t = "T_MMSG_TIMEOUT"    # decode.held_timeout: recvmmsg's timeout, in its msgvec copy
    elif target in ("msghdr", "mmsghdr") and decode.STYLES.get((sc.name, name)) in MSG_TARGETS:
        t = MSG_TARGETS[decode.STYLES[(sc.name, name)]]   # decode.Msghdr, Mmsgs, from trace.c copy_msghdr's packing
    elif target == "str" and array == "[]":
        t = "T_STRV"
    elif target == "int" and n == "2":
        t = "T_INT2"
    elif target in ("timespec", "timeval") and n == "2":
        t = "T_TIMESPEC2" if target == "timespec" else "T_TIMEVAL2"   # decode._utimes
    elif target in decode.FAST_STRUCTS and not array:
        t = FAST[target]
    else:
        t = "T_OTHER"           # printed as its address (decode.args: nothing copied)
    index = {p: j for j, (p, _) in enumerate(sc.params)}
    j = index.get(sc.sizes.get(name), 255)
    if j != 255 and (j >= 6 or sc.params[j][1] not in decode._INTS):
        j = 255
    return f"{{{_c(name)}, C_PTR, 64, 0, {style}, {DIRS[m.group('dir')]}, {t}, {j}, 0, 0, 0}}"


SHOWN = list(decode.SHOWN.items())
RESULTS = list(decode.RESULTS.items())
NAMED = list(decode.NAMED.items())
NAMED_INDEX = {n: i + 1 for i, (n, _) in enumerate(NAMED)}          # 0: arguments bare, in order
RESULT_INDEX = {n: i + 2 for i, (n, _) in enumerate(RESULTS)}      # 1: an address's hex; 0: the number alone


def note(sc) -> str:
    """What strace adds after sc's result (decode.result_note): NOTE_POLL, NOTE_SELECT, NOTE_MMSG, or 0."""
    if decode.has_mmsg_note(sc):
        return "NOTE_MMSG"
    if not decode.has_note(sc):
        return "0"
    return "NOTE_SELECT" if any(decode.STYLES.get((sc.name, p)) == "fdset" for p, _ in sc.params) else "NOTE_POLL"


def result_index(sc) -> int:
    """TG_RESULTS' row of sc (decode.result_of): its RESULTS entry, else 1 for an address, else 0."""
    if sc.name in RESULT_INDEX:
        return RESULT_INDEX[sc.name]
    return 1 if sc.returns == "addr" else 0


def _res(r) -> str:
    """A decode.Result as trace_fmt.c's struct tg_res: its form (RES_*), its kind (TG_KINDS index + 1)."""
    return f"{{{decode.RESULT_FORMS[r.form]}, {KIND_INDEX[r.kind] if r.kind else 0}}}"
SHOWN_INDEX = {n: i + 1 for i, (n, _) in enumerate(SHOWN)}      # 0: every argument


def sc_of(name: str):
    return next(sc for sc in TABLE if sc.name == name)


def _mask(sc, keep) -> str:
    """Argument names (None: all) as a bitmask of their indexes."""
    if keep is None:
        return "0x3f"
    names = [p for p, _ in sc.params]
    return f"{sum(1 << names.index(n) for n in keep):#x}"


def _names(table: dict) -> str:
    return ", ".join(f"{{{_c(k)}, {v:#x}ull}}" for k, v in table.items())


def generate() -> str:
    out = ["/* generated by csrc/trace_gen.py from lxbrand/brand/table.py and decode.py: do not edit */",
           "#ifndef LXB_TRACE_TABLE_H", "#define LXB_TRACE_TABLE_H", ""]
    out.append("static const char *const TG_CLASSES[] = {" + ", ".join(_c(c) for c in CLASSES) + "};")
    out.append(f"#define TG_NCLASSES {len(CLASSES)}")
    out.append("")
    out.append("static const struct tg_sc TG_SC[TG_NR_MAX] = {")
    for sc in TABLE:
        if sc.nr >= NR_MAX:
            raise SystemExit(f"trace_gen: {sc.name}: nr {sc.nr} >= {NR_MAX}")
        cls = sum(1 << CLASSES.index(c) for c in sc.classes if c in CLASSES)
        params = ", ".join(param_row(sc, i) for i in range(min(6, len(sc.params))))
        shown = SHOWN_INDEX.get(sc.name, 0)
        out.append(f"    [{sc.nr}] = {{{_c(sc.name)}, {min(6, len(sc.params))}, {cls:#x}, {shown}, "
                   f"{note(sc)}, {result_index(sc)}, "
                   f"{NAMED_INDEX.get(sc.name, 0)}, {{{params}}}}},")
    out.append("};")
    # the arguments strace prints (decode.SHOWN): bitmasks of argument indexes
    for i, (name, rule) in enumerate(SHOWN):
        cases = ", ".join(f"{{{v:#x}ull, {_mask(sc_of(name), keep)}}}" for v, keep in rule.cases.items())
        out.append(f"static const struct tg_shown_case TG_W{i}[] = {{{cases}}};")
    out.append("static const struct tg_shown TG_SHOWN[] = {")
    for i, (name, rule) in enumerate(SHOWN):
        sc = sc_of(name)
        on = [p for p, _ in sc.params].index(rule.on)
        if sc.params[on][1] not in decode._INTS or isinstance(decode.KINDS.get(sc.params[on][1]), decode.Switch):
            raise SystemExit(f"trace_gen: {name}: shown by {rule.on}, not a register of its own")
        out.append(f"    /* {name} */ {{{on}, {rule.mask:#x}ull, TG_W{i}, {len(rule.cases)}, "
                   f"{_mask(sc, rule.default)}}},")
    out.append("};")
    # the calls strace prints as name=value (decode.NAMED)
    for i, (name, rule) in enumerate(NAMED):
        params = [p for p, _ in sc_of(name).params]
        items = ", ".join(f"{{{_c(label)}, {params.index(arg)}, {bits:#x}ull}}" for label, arg, bits in rule.args)
        out.append(f"static const struct tg_named_arg TG_N{i}[] = {{{items}}};")
    out.append("static const struct tg_named TG_NAMED[] = {")
    out += [f"    /* {name} */ {{{[p for p, _ in sc_of(name).params].index(rule.on)}, TG_N{i}, {len(rule.args)}}},"
            for i, (name, rule) in enumerate(NAMED)]
    out.append("};")
    # how results print beyond the number (decode.RESULTS)
    for i, (name, rule) in enumerate(RESULTS):
        if isinstance(rule, decode.ResultBy):
            cases = ", ".join(f"{{{v}ll, {_res(r)}}}" for v, r in rule.cases.items())
            out.append(f"static const struct tg_result_case TG_R{i}[] = {{{cases}}};")
    out.append("static const struct tg_result TG_RESULTS[] = {")
    out.append(f"    /* -> addr */ {{255, 0, 0, {_res(decode._HEX_RESULT)}}},")
    for i, (name, rule) in enumerate(RESULTS):
        if isinstance(rule, decode.ResultBy):
            on = [p for p, _ in sc_of(name).params].index(rule.on)
            out.append(f"    /* {name} */ {{{on}, TG_R{i}, {len(rule.cases)}, {{0, 0}}}},")
        else:
            out.append(f"    /* {name} */ {{255, 0, 0, {_res(rule)}}},")
    out.append("};")
    for k in STRUCT_KINDS:
        out.append(f"#define TG_KIND_{k.upper()} {KIND_INDEX[k]}")
    out.append("static const char *const TG_SIGSET[TG_NSIG] = {"
               + ", ".join(f"[{v}] = {_c(n)}" for v, n in sorted(decode.SIGSET_NAMES.items()) if 0 < v < 65) + "};")
    out.append("")
    out.append(f"static const struct tg_name TG_CLONE_FLAGS[] = {{{_names(decode.CLONE_FLAGS)}, {{0, 0}}}};")
    out.append("")
    # the kinds printed by name: enums and flags words (decode.Kind)
    rows = []
    for i, (name, k) in enumerate(kinds()):
        if k.flags and k.signed:
            raise SystemExit(f"trace_gen: kind {name}: a flags word is unsigned")
        for part, table in (("N", k.names), ("V", k.values)):
            body = _names(table) + ", " if table else ""
            out.append(f"static const struct tg_name TG_K{i}{part}[] = {{{body}{{0, 0}}}};")
        rows.append(f"    /* {name} */ {{{k.bits}, {int(k.signed)}, {int(k.flags)}, {REST[k.rest]}, {OTHER[k.other]}, "
                    f"{k.field:#x}ull, TG_K{i}N, TG_K{i}V, {_c(k.zero)}, {_c(k.dflt) if k.dflt else 0}}},")
    out.append("static const struct tg_kind TG_KINDS[] = {")
    out += rows
    out.append("};")
    # the kinds switched by another argument (decode.Switch): cases, then the default
    for i, (name, sw) in enumerate(SWITCHES):
        cases = ", ".join(f"{{{v}ll, {reg_row(None, k)}}}" for v, k in sw.cases.items())
        out.append(f"static const struct tg_case TG_S{i}[] = {{{cases}}};")
    out.append("static const struct tg_switch TG_SWITCHES[] = {")
    out += [f"    /* {name} */ {{TG_S{i}, {len(sw.cases)}, {sw.mask & (1 << 64) - 1:#x}ull, "
            f"{reg_row(None, sw.default)}}}," for i, (name, sw) in enumerate(SWITCHES)]
    out.append("};")
    # si_code: the signal's own kind (TG_KINDS index + 1), else SI_*
    out.append("static const unsigned char TG_SIGCODE_KIND[TG_NSIG] = {"
               + ", ".join(f"[{sig}] = {KIND_INDEX[f'si_codes_{sig}']}" for sig in sorted(decode.SIGNAL_CODES)) + "};")
    out.append(f"#define TG_SI_KIND {KIND_INDEX['si_codes']}")
    out.append("")
    # signal names: decode._named (first name), clone_flags' exit signal
    # ({v: k}: the last name), trace._signame (first name not SIG_*)
    first, last, plain = {}, {}, {}
    for k, v in decode.SIGNALS.items():
        first.setdefault(v, k)
        last[v] = k
        if not k.startswith("SIG_"):
            plain.setdefault(v, k)
    for cname, table in (("TG_SIG_FIRST", first), ("TG_SIG_LAST", last), ("TG_SIG_PLAIN", plain)):
        out.append(f"static const char *const {cname}[TG_NSIG] = {{"
                   + ", ".join(f"[{v}] = {_c(k)}" for v, k in sorted(table.items()) if 0 <= v < 65) + "};")
    out.append("")
    top = max(_errno.errorcode)
    out.append(f"#define TG_ERRMAX {top}")
    out.append("static const char *const TG_ERRNAME[TG_ERRMAX + 1] = {"
               + ", ".join(f"[{e}] = {_c(n)}" for e, n in sorted(decode.ERRNO_NAMES.items())) + "};")
    out.append("static const char *const TG_ERRMSG[TG_ERRMAX + 1] = {"
               + ", ".join(f"[{e}] = {_c(os.strerror(e))}" for e in sorted(_errno.errorcode)) + "};")
    out.append("static const char *const TG_KERNEL_ERR[] = {"
               + ", ".join(_c(decode.KERNEL_ERRNOS[e]) for e in sorted(decode.KERNEL_ERRNOS)) + "};")
    out.append("static const char *const TG_KERNEL_MSG[] = {"
               + ", ".join(_c(decode.RESTART_MSGS[e]) if e in decode.RESTART_MSGS else "0"
                           for e in sorted(decode.KERNEL_ERRNOS)) + "};")
    out.append(f"#define TG_KERNEL_ERR_FIRST {min(decode.KERNEL_ERRNOS)}")
    out.append(f"#define TG_KERNEL_ERR_LAST {max(decode.KERNEL_ERRNOS)}")
    out.append(f"#define TG_SHOW {decode.SHOW}")
    body = "\n".join(out) + "\n"
    digest = hashlib.sha256(body.encode()).hexdigest()
    return body + f'\n#define TG_HASH "{digest}"\n#endif\n'


def digest(text: str) -> str:
    return text.rsplit('#define TG_HASH "', 1)[1].split('"', 1)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", help="write here (only when it changed) instead of stdout")
    a = ap.parse_args()
    text = generate()
    if not a.output:
        sys.stdout.write(text)
        return
    try:
        with open(a.output) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    tmp = a.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.output)


if __name__ == "__main__":
    main()
