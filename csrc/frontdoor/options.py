"""The front door's option table, generated from the Python CLI.

`lxrun run`'s options are defined once, in lxbrand/config.py (the zone's,
ZoneConfig's fields) and lxbrand/cli.py (the run's own: --plan, --tty,
--trace...).  The C front door (lxrun.c) parses the same command line; this
script writes the table it parses with, as a C header (build/frontdoor/
options.h, by csrc/frontdoor/Makefile), so that lxrun.c holds no list of
flags:

    python3 csrc/frontdoor/options.py > build/frontdoor/options.h

Each row: a flag as given on the command line, the parameter it sets (click's
name: ZoneConfig's field, or the run's own), its arity (a flag, a value, or a
value given only as --flag=VALUE), what a flag sets or a value option's
default, and whether the front door serves it.  SERVED names the parameters
that lxrun.c applies itself; every other option, and any option added later,
is handed over to the Python CLI (lxrun-py) as soon as it is seen, with no
change to the front door.  The header also names the files the table came
from, with their size and mtime: edited since the build, the front door hands
every run over until `make build`.

tests/test_frontdoor.py compares the installed front door's table
(_LXRUN_FRONTDOOR_TABLE=1 lxrun) with table() here.

--trace and --stats (served) need the tracer's part of the brand cache
(lxbrand/trace.py store_frontdoor_trace), the formats' names and the line
said when a traced guest calls ptrace(2) (FD_PTRACE_REFUSED).

--report (served) also needs what the report says and how: the syscalls'
names (the table's) and the errnos' (lxbrand/brand/decode.py errno_name),
and the report's wording, lxbrand/trace.py REPORT_* turned into printf
formats (report_header()).  Their sources are named apart (FD_REPORT_DEPS):
an edited trace.py sends --report runs to Python until `make build`, not
every run.
"""
from __future__ import annotations

import os
import sys

FLAG, VALUE, OPTIONAL = 0, 1, 2
ARITY = {FLAG: "flag", VALUE: "value", OPTIONAL: "optional"}

# the parameters lxrun.c applies itself (its `served` array says how);
# anything else goes to Python: cgroups (--memory, --pids, --cpus),
# --inject, --plan, --help, and every option added since
SERVED = ("hostname", "net", "binds", "cwd", "env", "uid", "gid", "kernel_release", "deny",
          "tmp_size", "shm_size", "ephemeral", "tty", "report", "trace", "trace_output", "trace_format",
          "stats", "stats_format")


def _here() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def _import_cli():
    root = os.path.dirname(os.path.dirname(_here()))
    if root not in sys.path:
        sys.path.insert(0, root)
    import click

    from lxbrand import cli
    return click, cli


def table() -> list:
    """[(flag, parameter, arity, value or None, served)], in `lxrun run --help` order."""
    click, cli = _import_cli()
    run = cli.main.commands["run"]
    parent = click.Context(cli.main, info_name="lxrun", **cli.main.context_settings)
    ctx = click.Context(run, info_name="run", parent=parent, **run.context_settings)
    rows = []
    for p in run.get_params(ctx):
        if not isinstance(p, click.Option):
            continue
        served = p.name in SERVED
        for names, value in ((p.opts, p.flag_value), (p.secondary_opts, not p.flag_value)):
            # short before long (click keeps --help's names in a set: no order of its own)
            for name in sorted(names, key=lambda n: (n.startswith("--"), n)):
                if p.is_flag:
                    arity, text = FLAG, "1" if value else "0"
                elif name in cli._RunCommand.OPTIONAL:
                    # value: what the flag alone means (--report: "-", stderr)
                    arity, text = OPTIONAL, cli._RunCommand.OPTIONAL[name]
                else:
                    arity = VALUE
                    default = p.default if not p.multiple else None
                    text = None if default is None or callable(default) or not isinstance(
                        default, (str, int, float)) else str(default)
                rows.append((name, p.name, arity, text, served))
    return rows


def commands() -> list:
    """The subcommands other than run: the first word that names one is Python's."""
    _, cli = _import_cli()
    return sorted(name for name in cli.main.commands if name != "run")


def deps() -> str:
    """The files the table comes from: "path\\tsize\\tmtime_ns" lines."""
    _, cli = _import_cli()
    from lxbrand import config, limits
    out = []
    for mod in (cli, config, limits):
        path = os.path.abspath(mod.__file__)
        st = os.stat(path)
        out.append(f"{path}\t{st.st_size}\t{st.st_mtime_ns}\n")
    return "".join(out)


def report_deps() -> str:
    """The files --report's names and wording come from, as deps()."""
    _import_cli()
    from lxbrand import trace
    from lxbrand.brand import decode, table
    out = []
    for mod in (trace, table, decode):
        path = os.path.abspath(mod.__file__)
        st = os.stat(path)
        out.append(f"{path}\t{st.st_size}\t{st.st_mtime_ns}\n")
    return "".join(out)


# lxbrand/trace.py REPORT_*: each template, and its fields in the order
# lxrun.c passes them (all as strings)
REPORT_FIELDS = {
    "REPORT_HEAD": ("command", "exit"),
    "REPORT_LINE": ("what", "name", "count", "errno", "first"),
    "REPORT_ERRNO": ("errno",),
    "REPORT_FIRST": ("first",),
    "REPORT_VERDICT": ("verdict",),
    "VERDICT_CLEAN": (),
    "VERDICT_HIT": ("n", "what", "s", "names"),
}


def printf_format(template: str, fields: tuple) -> str:
    """A str.format template of strings ({x}, {x:<N}, {x:>N}) as printf's
    format, its fields in `fields` order (else SystemExit: lxrun.c passes
    them in that order)."""
    import string
    out, seen = [], []
    for literal, field, spec, conv in string.Formatter().parse(template):
        out.append(literal.replace("%", "%%"))
        if field is None:
            continue
        if conv or not (spec == "" or (spec[0] in "<>" and spec[1:].isdigit())):
            raise SystemExit(f"options.py: {template!r}: {{{field}:{spec}}} has no printf form here")
        out.append("%" + ("-" if spec[:1] == "<" else "") + spec[1:] + "s")
        seen.append(field)
    if tuple(seen) != fields:
        raise SystemExit(f"options.py: {template!r}: fields {seen} (lxrun.c passes {list(fields)})")
    return "".join(out)


def report_header() -> list:
    """--report's lines of the header: wording, syscall names, errno names."""
    _import_cli()
    from lxbrand import trace
    from lxbrand.brand import TABLE, decode
    lines = []
    for name, fields in REPORT_FIELDS.items():
        lines.append(f"#define FD_{name} {_c(printf_format(getattr(trace, name), fields))}")
    lines.append("static const char *const fd_report_whats[] = {"
                 + ", ".join(_c(w) for w in trace.REPORT_WHATS) + "};")
    lines.append(f"#define FD_REPORT_PATHS {_c(trace.REPORT_PATHS)}")
    names = {sc.nr: sc.name for sc in TABLE}
    lines.append("static const char *const fd_syscall_names[LXB_NR_MAX] = {")
    lines += [f"    [{nr}] = {_c(name)}," for nr, name in sorted(names.items())]
    lines.append("};")
    lines.append("static const char *const fd_errno_names[256] = {")
    lines += [f"    [{e}] = {_c(decode.errno_name(e))}," for e in range(1, 256)]
    lines.append("};")
    # --trace and --stats: the formats' names (LXB_TRACE_TEXT is 1, _JSON 2),
    # and what a traced zone says when its guest calls ptrace(2)
    assert trace.FORMATS == ("text", "json"), trace.FORMATS
    lines.append("static const char *const fd_trace_formats[] = {"
                 + ", ".join(_c(f) for f in trace.FORMATS) + ", NULL};")
    lines.append(f"#define FD_PTRACE_REFUSED {_c(trace.PTRACE_REFUSED)}")
    lines.append(f"#define FD_TRACE_MAGIC {_c(trace.TRACE_MAGIC.decode())}")
    lines.append(f"#define FD_REPORT_DEPS {_c(report_deps())}")
    return lines


def _c(s) -> str:
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def header() -> str:
    lines = ["/* generated by csrc/frontdoor/options.py from lxbrand/cli.py and lxbrand/config.py:",
             "   do not edit (make build writes it again) */",
             "#define FD_FLAG 0       /* takes no value: sets value */",
             "#define FD_VALUE 1      /* the next argument, or --flag=VALUE; value: the default */",
             "#define FD_OPTIONAL 2   /* a value only as --flag=VALUE */",
             "struct fd_opt {",
             "    const char *name;        /* as given on the command line */",
             "    const char *param;       /* the parameter it sets (ZoneConfig's field, or the run's) */",
             "    int arity;",
             "    const char *value;",
             "    int served;              /* 0: handed over to the Python CLI when given */",
             "};",
             "static const struct fd_opt fd_opts[] = {"]
    for name, param, arity, value, served in table():
        lines.append(f"    {{{_c(name)}, {_c(param)}, {['FD_FLAG', 'FD_VALUE', 'FD_OPTIONAL'][arity]}, "
                     f"{_c(value)}, {int(served)}}},")
    lines.append("};")
    lines.append("static const char *const fd_commands[] = {"
                 + ", ".join(_c(c) for c in commands()) + ", NULL};")
    lines.append(f"#define FD_OPTS_DEPS {_c(deps())}")
    lines += report_header()
    return "\n".join(lines) + "\n"


def dump_rows() -> list:
    """table() as the front door prints it: "flag param arity value served" lines."""
    return [f"{name}\t{param}\t{ARITY[arity]}\t{value if value is not None else '-'}\t"
            f"{'served' if served else 'python'}" for name, param, arity, value, served in table()]


if __name__ == "__main__":
    sys.stdout.write(header())
