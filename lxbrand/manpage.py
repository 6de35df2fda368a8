"""lxrun(1), generated from the click definitions of lxbrand/cli.py.

    python3 -m lxbrand.manpage > docs/lxrun.1      (`make man`; `make setup` installs it)

The options, their help and defaults come from the commands themselves, so
the page cannot drift from `lxrun --help`; tests/test_everyday.py checks that
docs/lxrun.1 is what this prints.  No date is written, so the output depends
only on the code.
"""
from __future__ import annotations

import sys

import click

from .cli import main

PROSE = {
    "DESCRIPTION": """\
lxrun runs unmodified x86_64 Linux programs in an isolated zone whose Linux
personality is given by a brand, in the manner of illumos LX-branded zones.
.B lxrun ROOTFS CMD...
starts CMD from the root filesystem ROOTFS inside new user, mount, pid, uts,
ipc, cgroup and network namespaces, under a seccomp filter generated from the
brand's syscall table. Syscalls the brand passes through run in the kernel;
denied ones answer their errno in the kernel; emulated ones reach a supervisor
through seccomp user notification.
.PP
The first word decides: a subcommand name is a subcommand; a path is a ROOTFS
(write ./syscalls to run a rootfs of that name; \\fBlxrun run ROOTFS\\fR always
works); any other word is a mistake, reported with the closest subcommand.
Options after CMD belong to CMD. Without CMD, the shell of the \\-\\-uid user in
the zone's /etc/passwd (else /bin/sh) runs with \\-i, as chroot(1) runs one.""",
    "EXIT STATUS": """\
As chroot(1): 125 when lxrun itself failed, 126 when CMD cannot run, 127 when
CMD is not found, else the guest's exit status, or 128+N when signal N killed
it. A trace, statistics or report that could not be written (\\-o FILE on a full
disk, a closed pipe) is said in one line naming it and also exits 125, after the
guest has run. \\fBlxrun rootfs\\fR subcommands exit 1 on failure.""",
    "SIGNALS": """\
Every signal lxrun can catch is sent on to the guest's process group (INT, TERM,
HUP, QUIT, USR1, USR2, WINCH, CONT, ALRM, the real-time signals...), as a shell
signals a job. TSTP, TTIN and TTOU are passed on, then lxrun stops itself, so
the shell sees its job stopped; \\fBfg\\fR sends lxrun CONT, which reaches the guest.
With a terminal (\\-\\-tty), WINCH resizes the zone's pty instead. When lxrun
exits, nothing of the zone keeps running.""",
    "IDS": """\
Run by root, zone ids 0\\-65535 are host ids 1879048192\\-1879113727, never host
root; a rootfs is shifted onto them once (\\fBlxrun rootfs unshift\\fR undoes it).
Run by an ordinary user, \\-\\-uid and \\-\\-gid are that user, and the other ids
are its subordinate ids from /etc/subuid and /etc/subgid (written with
newuidmap(1) and newgidmap(1), package uidmap); without them the zone has one
id and a fake root (\\-\\-fakeroot, on by default there): setuid(2) and the
rest of the set*id family move fake ids kept per process, which id(1) reports,
while every process keeps that user's id; with \\-\\-no\\-fakeroot setuid(2)
to any other id fails with EINVAL (apt: \\-o APT::Sandbox::User=root).
\\fBlxrun info\\fR says which applies.""",
    "ENVIRONMENT": """\
.TP
.B LXBRAND_CACHE
Where \\fBpython3 \\-m lxbrand.rootfs\\fR keeps its Debian tree (default
~/.cache/lxbrand).
.TP
.B LXBRAND_BPF_HOLDER
\\fB0\\fR: a root \\-\\-trace, or \\-\\-stats alone, loads its BPF programs itself
(10\\-30 ms of its start) and never asks or starts a holder. By default the
first such run that finds none starts one (\\fBlxb\\-bpf\\-holder\\fR for
\\-\\-trace on /run/lxbrand/bpf.sock, \\fBlxb\\-bpf\\-stats\\fR for \\-\\-stats on
/run/lxbrand/stats.sock; a directory of root's, mode 0700; a root process in
its own session, no terminal, no fd but its own) that loads one set of
programs and maps (the trace's 16 MiB ring buffer included) and keeps it: it
attaches the programs for the run that asks, while its zone starts, detaches
them once that run's lxrun has gone (also when it was killed) and empties the
maps for the next. It exits after 60 s without a run
(\\fBLXBRAND_BPF_HOLDER_IDLE\\fR=seconds), or when a run's BPF object, kernel or
ring size differs from its own. A run that finds it busy (another run has
the set), slow or not root's loads its own set, as with \\fB0\\fR.
.TP
.B LXBRAND_STATS
How \\-\\-stats without \\-\\-trace counts: by default in the kernel, by BPF
programs on its syscall tracepoints, when lxrun may load them (root: no
ptrace stop, nothing lost; p50 and p99 within 3%, from 16 buckets per power of
two), else from perf's samples of those tracepoints, else with ptrace;
\\fBtracepoints\\fR from perf's samples (exact percentiles; a fast guest can
overflow their rings, which is said), \\fBptrace\\fR always with ptrace,
\\fBperf\\fR only one of the first two (an error where neither can be used).
.TP
.B LXBRAND_TRACE
How \\-\\-trace traces: by default with BPF programs on the kernel's syscall
tracepoints when lxrun may load them (root: no ptrace stop; strace or gdb
inside the zone then work), else with ptrace (also under \\-\\-inject);
\\fBptrace\\fR always with ptrace, \\fBbpf\\fR only with BPF (an error where
it cannot be used).
.TP
.B _LXRUN_COMPLETE
Shell completion (click): \\fBeval "$(_LXRUN_COMPLETE=bash_source lxrun)"\\fR in
~/.bashrc completes subcommands, options and ROOTFS directories; zsh_source and
fish_source for those shells.""",
    "EXAMPLES": """\
.nf
lxrun /srv/deb                                # the zone's login shell
lxrun /srv/deb sh \\-c 'hostname; ps \\-ef'
lxrun \\-\\-kernel\\-release 4.19.0 /srv/deb uname \\-r
lxrun \\-\\-ephemeral /srv/deb sh \\-c 'rm \\-rf /usr'
lxrun \\-v "$PWD":/src:ro \\-w /src /srv/deb ls
lxrun \\-\\-deny mkdir=EROFS /srv/deb mkdir /x   # mkdir: ... Read\\-only file system
lxrun rootfs create /srv/deb \\-\\-include python3,curl
lxrun syscalls \\-\\-kernel\\-release 4.19.0
.fi""",
    "SEE ALSO": """\
chroot(1), bwrap(1), unshare(1), mmdebstrap(1), seccomp_unotify(2),
user_namespaces(7). The project's README.md, docs/DESIGN.md and
docs/DIFFERENCES.md.""",
}


def _esc(text: str) -> str:
    """Plain text as roff: backslashes, dashes and control-looking line starts."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines())


def _help_text(cmd: click.Command) -> str:
    """A command's help as paragraphs (click's \\b blocks kept as lines)."""
    out = []
    for para in (cmd.help or "").strip().split("\n\n"):
        lines = [line.strip() for line in para.splitlines()]
        if lines and lines[0] == "\b":
            out.append(".nf\n" + _esc("\n".join(lines[1:])) + "\n.fi")
        else:
            out.append(_esc(" ".join(lines)))
    return "\n.PP\n".join(out)


def _options(ctx: click.Context, cmd: click.Command) -> list[str]:
    out = []
    for p in cmd.get_params(ctx):
        rec = p.get_help_record(ctx)
        if rec is None or p.name == "help":
            continue
        names, help_ = rec
        out += [".TP", "\\fB" + _esc(names) + "\\fR", _esc(help_)]
    return out


def _commands(ctx: click.Context, group: click.Group, prefix: str) -> list[str]:
    out = []
    for name in sorted(group.commands):
        cmd = group.commands[name]
        if name == "run":
            continue
        sub = click.Context(cmd, info_name=name, parent=ctx)
        usage = " ".join(cmd.collect_usage_pieces(sub))
        out += [".SS " + _esc(f"{prefix} {name} {usage}".strip()), _help_text(cmd)]
        if isinstance(cmd, click.Group):
            out += _commands(sub, cmd, f"{prefix} {name}")
        else:
            out += _options(sub, cmd)
    return out


def render() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        ver = version("lxbrand")
    except PackageNotFoundError:
        ver = ""
    ctx = click.Context(main, info_name="lxrun")
    run = main.commands["run"]
    run_ctx = click.Context(run, info_name="lxrun", parent=None)
    lines = [
        '.\\" Generated by `python3 -m lxbrand.manpage` from lxbrand/cli.py; do not edit.',
        f'.TH LXRUN 1 "" "lxbrand {ver}" "User Commands"',
        ".SH NAME",
        "lxrun \\- run Linux programs in an isolated zone with a syscall brand",
        ".SH SYNOPSIS",
        ".B lxrun",
        "[\\fIOPTIONS\\fR] \\fIROOTFS\\fR [\\fICMD\\fR [\\fIARGS\\fR...]]",
        ".br",
        ".B lxrun run",
        "[\\fIOPTIONS\\fR] \\fIROOTFS\\fR [\\fICMD\\fR [\\fIARGS\\fR...]]",
    ]
    for name in sorted(main.commands):
        if name == "run":
            continue
        cmd = main.commands[name]
        subs = [(f"{name} {n}", c) for n, c in sorted(cmd.commands.items())] \
            if isinstance(cmd, click.Group) else [(name, cmd)]
        for words, c in subs:
            usage = " ".join(c.collect_usage_pieces(click.Context(c, info_name=words)))
            lines += [".br", ".B lxrun " + words, _esc(usage)]
    lines += [".SH DESCRIPTION", PROSE["DESCRIPTION"],
              ".SH OPTIONS", _help_text(run)]
    lines += _options(run_ctx, run)
    lines += [".TP", "\\fB\\-\\-version\\fR", "Show the version and exit.",
              ".TP", "\\fB\\-h\\fR, \\fB\\-\\-help\\fR", "Show the help and exit."]
    lines += [".SH COMMANDS"] + _commands(ctx, main, "lxrun")
    for section in ("IDS", "SIGNALS", "EXIT STATUS", "ENVIRONMENT", "EXAMPLES", "SEE ALSO"):
        lines += [".SH " + section, PROSE[section]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
