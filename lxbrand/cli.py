"""lxrun: the command line.

    lxrun [OPTIONS] ROOTFS CMD [ARGS...]     run CMD in a zone over ROOTFS
    lxrun run [OPTIONS] ROOTFS CMD [ARGS...] the same, always
    lxrun syscalls [--json] [--kernel-release R] [--deny SYSCALL...]
                                             what such a zone does with each syscall
    lxrun rootfs create DIR                  make a Debian rootfs
    lxrun rootfs unshift DIR                 give a root-run zone's rootfs back its host ids
    lxrun rootfs export DIR OUT.tar          a tarball of DIR with --fakeroot's owners and devices
    lxrun info                               ids and limits a zone gets here
    lxrun oci COMMAND ...                    the OCI runtime, runc's command line (docs/OCI.md)

The first word decides: a subcommand name is a subcommand; anything else
is a ROOTFS (write ./syscalls to run a rootfs of that name), and a word that is
neither a subcommand nor a path that exists is a mistake ("no such command or
directory", with the close match).  Options after CMD belong to CMD:
`lxrun ROOT ls -la` passes -la to ls.  Without CMD, the zone's login shell
runs (as chroot(1) runs one).

lxrun exits like chroot(1): 125 when lxrun itself failed, 126 when CMD cannot
run, 127 when CMD is not found, else the guest's status, or 128+N when
signal N killed it.
"""
from __future__ import annotations

import difflib
import os
import sys

import click

from .errors import LxbrandError, ZoneConfigError

EXIT_FAILED = 125


def _fail(message: str, code: int = EXIT_FAILED):
    click.echo(f"lxrun: {message}", err=True)
    sys.exit(code)


class _Lxrun(click.Group):
    """A group whose default command is `run`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            first = args[0]
            # a word that is no subcommand, no path and no option: a typo
            # (`lxrun sycalls`), not a rootfs that does not exist
            if not ctx.resilient_parsing and not first.startswith("-") and "/" not in first \
                    and not os.path.lexists(first):
                close = difflib.get_close_matches(first, sorted(self.commands), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise click.ClickException(f"{first}: no such command or directory{hint}")
            args = ["run"] + list(args)
        return super().parse_args(ctx, args)

    def format_options(self, ctx, formatter):
        """`lxrun --help` shows the run options too: they are lxrun's."""
        run = self.commands["run"]
        rows = [r for r in (p.get_help_record(ctx) for p in run.get_params(ctx)
                            if p.name != "help") if r]
        with formatter.section("Run options (lxrun [OPTIONS] ROOTFS [CMD [ARGS...]])"):
            formatter.write_dl(rows)
        super().format_options(ctx, formatter)

    def shell_complete(self, ctx, incomplete):
        """The first word is a subcommand or a ROOTFS directory."""
        from click.shell_completion import CompletionItem
        if incomplete.startswith("-"):     # lxrun's options are run's
            return super().shell_complete(ctx, incomplete) + self.commands["run"].shell_complete(ctx, incomplete)
        return [CompletionItem(incomplete, type="dir")] + super().shell_complete(ctx, incomplete)


@click.group(cls=_Lxrun, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lxbrand", prog_name="lxrun")
def main():
    """Run unmodified x86_64 Linux programs in an isolated zone with a Linux
    personality given by the brand (a syscall translation table over a seccomp
    user-notification supervisor).

    \b
    lxrun [OPTIONS] ROOTFS CMD [ARGS...]   is short for   lxrun run ...
    lxrun [OPTIONS] ROOTFS                 runs the zone's login shell
    """


def _callback(parse):
    """A click callback for one of ZoneConfig's parse functions: its
    ZoneConfigError becomes click.BadParameter."""
    def callback(ctx, param, values):
        try:
            return parse(values)
        except ZoneConfigError as e:
            raise click.BadParameter(str(e), ctx=ctx, param=param) from None
    return callback


def _zone_options(f):
    """click.option for each of ZoneConfig's flags (lxbrand/config.py), in
    the fields' order: the zone's options are defined there, once."""
    from dataclasses import MISSING

    from .config import FIELD_DEFAULT, ZoneConfig
    for field, flag in reversed(ZoneConfig.flags()):
        kw = {"help": flag.help}
        if flag.is_flag:
            kw["is_flag"] = True
            if "/" in flag.decls[0]:
                kw["default"] = field.default     # --x/--no-x: the field's (None: decided later)
        elif flag.multiple:
            kw["multiple"] = True
        else:
            kw["default"] = field.default if flag.default is FIELD_DEFAULT else flag.default
            assert kw["default"] is not MISSING, field.name
        if flag.metavar is not None:
            kw["metavar"] = flag.metavar
        if flag.show_default:
            kw["show_default"] = True
        if flag.choices is not None:
            kw["type"] = click.Choice(list(flag.choices))
        elif flag.int_range is not None:
            kw["type"] = click.IntRange(*flag.int_range)
        elif flag.float_range is not None:
            kw["type"] = click.FloatRange(*flag.float_range)
        if flag.parse is not None:
            kw["callback"] = _callback(flag.parse)
        f = click.option(*flag.decls, **kw)(f)
    return f


def _parse_deny(ctx, param, values):
    from .config import parse_deny
    return _callback(parse_deny)(ctx, param, values)


class _RunCommand(click.Command):
    """run, whose --trace and --report take an optional value, as GNU long
    options do: `--trace=SET` and `--report=FILE` only, so that a bare
    `--trace ROOTFS` never takes ROOTFS for the SET."""

    OPTIONAL = {"--trace": "all", "--report": "-"}

    def parse_args(self, ctx, args):
        takes_value = {name for p in self.params if isinstance(p, click.Option) and not p.is_flag
                       for name in p.opts + p.secondary_opts}
        out, i = [], 0
        args = list(args)
        while i < len(args):
            a = args[i]
            if a == "--" or not a.startswith("-"):
                break               # ROOTFS: the rest is CMD's
            if a in self.OPTIONAL:
                a = f"{a}={self.OPTIONAL[a]}"
            elif a in takes_value:
                out.append(a)
                i += 1
                if i < len(args):
                    a = args[i]
            out.append(a)
            i += 1
        return super().parse_args(ctx, out + args[i:])


def _watch(watch: dict) -> dict:
    """Zone's keyword arguments for --trace, --stats and --report."""
    if not any(watch.get(k) for k in ("trace", "stats", "report")):
        return {}
    return dict(trace_set=watch["trace"], trace_output=(watch["trace_output"] or sys.stderr)
                if watch["trace"] else None, trace_format=watch["trace_format"], stats=watch["stats"],
                stats_format=watch["stats_format"], report=watch["report"])


def _watch_needs(watch: dict) -> None:
    """-o, --trace-format and --stats-format without what they serve: a usage
    error in one line (strace -o alone traces; lxrun traces when asked)."""
    given = click.get_current_context().get_parameter_source
    if watch.get("trace_output") is not None and not (watch.get("trace") or watch.get("stats")):
        _fail("-o FILE: it is where --trace's lines and --stats' table go; give --trace or --stats")
    if given("trace_format") == click.core.ParameterSource.COMMANDLINE and not watch.get("trace"):
        _fail("--trace-format: it formats --trace's lines; give --trace")
    if given("stats_format") == click.core.ParameterSource.COMMANDLINE and not watch.get("stats"):
        _fail("--stats-format: it formats --stats' table; give --stats")


def _watch_files(watch: dict) -> dict:
    """--report=FILE and -o FILE (for --stats), opened before the guest runs,
    as a shell opens a redirection: a guest that can write where they go (a
    rw --bind, its rootfs) could otherwise replace FILE with a symlink to a
    host file by the time lxrun writes (SECURITY.md, "lxrun's own files").
    A FILE that cannot be opened fails after the run, as before."""
    files = {}
    report, out = watch.get("report"), watch.get("trace_output")
    # --report=FILE where -o FILE's lines (and statistics) go: the report
    # follows them, appended, as the statistics do (lxrun.c open_outputs)
    after = bool(report not in (None, "-") and out and (watch.get("trace") or watch.get("stats"))
                 and _same_file(report, out))
    for key, path, mode in (("report_file", report if report not in (None, "-") else None, "a" if after else "w"),
                            # after the trace's lines with --trace; alone, a file of its own (strace -c -o)
                            ("stats_file", out if watch.get("stats") else None, "a" if watch.get("trace") else "w")):
        if path:
            from .safeopen import open_output
            try:
                files[key] = open_output(path, mode)
            except OSError as e:
                files[key] = e
    return files


def _same_file(a: str, b: str) -> bool:
    """a and b name one file: both exist and are one inode, else one spelling."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def _watch_end(zone, watch: dict, files: dict) -> None:
    session = getattr(zone, "last_session", None)
    for f in files.values():
        if isinstance(f, OSError) and session is not None:
            raise f
    if session is not None:
        from .trace import write_outputs
        write_outputs(session, **files)


@main.command(cls=_RunCommand, context_settings={"allow_interspersed_args": False})
@_zone_options
@click.option("--plan", "show_plan", is_flag=True,
              help="Print the zone's file system set-up, step by step, and exit without running.")
@click.option("-t", "--tty/--no-tty", default=None,
              help="Give the guest a pty of the zone as controlling terminal (stdin must be a terminal) "
                   "[default: when stdin and stdout are terminals].")
@click.option("--trace", "trace", default=None, metavar="[=SET]",
              help="Trace syscalls as strace does, each with its result and time: --trace for all, "
                   "--trace=SET for names and classes (%file %desc %network %process %signal %memory "
                   "%ipc %clock %creds), !NAME to exclude, in strace's -e trace= grammar (a leading ! inverts the "
                   "set; numbers, /REGEX, ?NAME, none, %net, %stat %lstat %fstat %%stat %statfs %fstatfs %%statfs "
                   "%pure); fork, clone and exec followed.")
@click.option("-o", "--trace-output", "trace_output", default=None, metavar="FILE",
              help="Write the trace (and --stats) to FILE instead of stderr.")
@click.option("--trace-format", "trace_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per line, per call.")
@click.option("--stats", "stats", is_flag=True,
              help="At exit, per syscall: calls, errors by errno, total, mean, p50, p99 time and a log2 "
                   "histogram (strace -c, DTrace quantize).")
@click.option("--stats-format", "stats_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Format of --stats (JSON after --trace-format json's lines: one JSON line).")
@click.option("--report", "report", default=None, metavar="[=FILE]",
              help="At exit, what the run needed from the brand: syscalls emulated, denied, unsupported, "
                   "with counts and first callers, the /proc and /sys files of the zone's personality "
                   "(--kernel-release, --memory, --cpus) the guest opened, and a verdict (to stderr, or FILE).")
@click.argument("rootfs", type=click.Path(file_okay=True, dir_okay=True))
@click.argument("cmd", nargs=-1, required=False, type=click.UNPROCESSED)
def run(show_plan, tty, rootfs, cmd, **params):
    """Run CMD in a zone over ROOTFS; without CMD, the login shell of --uid in
    the zone's /etc/passwd (else /bin/sh), interactive."""
    # the zone's options (ZoneConfig's fields) are generated by _zone_options;
    # --plan, --tty and the watching options (--trace, -o, --trace-format,
    # --stats, --stats-format, --report) belong to this run, not to the zone
    from .config import ZoneConfig
    from .zone import Zone

    options = ZoneConfig.options_from_cli(params)
    watch = params
    _watch_needs(watch)

    if tty is None:
        tty = os.isatty(0) and os.isatty(1)
    elif tty and not os.isatty(0):
        # the terminal's modes are set on stdin, and the zone's pty never
        # sees an end of input from a file: refuse rather than hang
        _fail("--tty: stdin is not a terminal; run lxrun from a terminal, or without --tty for pipes")
    try:
        zone = Zone(rootfs, **options, **_watch(watch))
        if show_plan:
            click.echo("\n".join(zone.plan()))
            sys.exit(0)
        failed = os.environ.pop("_LXRUN_EXEC_ERRNO", None)
        if failed and failed.isdigit() and cmd:
            # the C front door ran the zone and CMD could not be executed:
            # say why, as a run here would (its guest never ran)
            raise zone.exec_error(list(cmd), int(failed))
        _store_frontdoor(zone, options["kernel_release"], options["deny"], watch.get("trace"))
        if not cmd:
            from .command import login_shell
            cmd = login_shell(zone.config.rootfs, zone.config.uid)
        files = _watch_files(watch)
        # with tty, the run makes the terminal raw and the guest its job: a
        # stop of the guest (^Z) stops lxrun, `fg` resumes both (zone.py _job_stop)
        result = zone.run(list(cmd), tty=tty, forward_signals=True)
        _watch_end(zone, watch, files)
        session = getattr(zone, "last_session", None)
        if session is not None and session.outputs_failed:
            sys.exit(EXIT_FAILED)       # said in a line each (trace.Session.output_failed)
    except LxbrandError as e:
        _fail(str(e), e.exit_code)
    except OSError as e:
        # the file it is about, as DESIGN.md's errors name the thing (-o FILE)
        _fail(f"{e.filename}: {e.strerror}" if e.filename and e.strerror else f"{e.strerror or e}", EXIT_FAILED)
    code = result.returncode
    # leave without the interpreter's tear-down (~30 ms of module and object
    # clean-up): the zone is gone, the output is flushed below
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 - code if code < 0 else code)


def _store_frontdoor(zone, kernel_release, deny, trace_set=None) -> None:
    """Leave the brand this zone compiled for the C front door (csrc/frontdoor/),
    so that the next `lxrun` with these options runs without Python; under
    --trace or --stats, the tracer's part too (trace.store_frontdoor_trace)."""
    from .brand.compile import store_frontdoor
    brand, report = zone.brand, False
    watch = zone.observe
    if watch is not None and watch.report:
        from .trace import ReportBrand      # --report: the brand that counts (the front door's)
        brand, report = ReportBrand(zone.brand), True
    try:
        store_frontdoor(brand, kernel_release, deny.items(), zone.uts(),
                        zone.proc_version() if kernel_release else None, report=report)
        if watch is not None and (watch.trace or watch.stats):
            from .trace import store_frontdoor_trace
            store_frontdoor_trace(zone.brand, kernel_release, deny.items(), watch, trace_set)
    except OSError:
        pass


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--kernel-release", default=None, metavar="RELEASE",
              help="For a zone with this kernel personality (as `lxrun --kernel-release`).")
@click.option("--deny", "deny", multiple=True, metavar="SYSCALL[=ERRNO]", callback=_parse_deny,
              help="For a zone that denies SYSCALL (as `lxrun --deny`; repeatable).")
def syscalls(as_json, kernel_release, deny):
    """Print what a zone does with every x86_64 syscall: its status there, its
    handler and what differs from Linux (the brand's table, compiled for a zone
    with the options given)."""
    from .brand import Options, compile_brand, report
    try:
        entries = compile_brand(Options(kernel_release=kernel_release, deny=deny))
    except ZoneConfigError as e:
        raise click.BadParameter(str(e))
    click.echo(report.render(as_json, entries))


@main.command()
def info():
    """What this host gives a zone run by you: ids, limits, mounts."""
    from . import idshift, limits
    from .config import ZoneConfig
    if os.geteuid() == 0:
        ids = f"host ids {idshift.BASE}-{idshift.BASE + idshift.COUNT - 1} (zone ids 0-65535; never host root)"
    else:
        uid_map, _, newidmap = ZoneConfig("/").id_maps()
        ids = ("you and your subordinate ids (newuidmap): " if newidmap else "only you: ") + \
            uid_map.strip().replace("\n", "; ")
    click.echo(f"zone ids:   {ids}")
    if os.geteuid() != 0 and not newidmap:
        # one id: --fakeroot (on by default here) fakes what the kernel cannot hold
        click.echo("setuid:     a zone has one id here; with --fakeroot (on by default) setuid, setgid and the "
                   "rest of the set*id family succeed on fake ids kept per process, which id and the get*id "
                   "family report (su, runuser, apt's _apt sandbox work), while every process keeps your id "
                   "for its file access; with --no-fakeroot setuid/setgid to any other id fails with EINVAL "
                   "(apt: -o APT::Sandbox::User=root); for ids 0-65535 install uidmap and give your user "
                   "65536 ids in /etc/subuid and /etc/subgid")
        click.echo("fake root:  on (--fakeroot): root's chown and mknod of a device succeed, recorded in the "
                   "files' user.lxbrand.owner attribute, which stat shows (dpkg, tar); a su'ed user's new files "
                   "are its own (git, initdb) and set-user-id files move the fake ids (sudo)")
    click.echo(f"limits:     {limits.enforcement()}")
    click.echo(f"tmpfs:      /tmp {limits.TMP_SIZE} of RAM, /dev/shm {limits.SHM_SIZE} by default")


@main.group()
def rootfs():
    """Make root filesystems for zones."""


@rootfs.command("create")
@click.argument("directory", type=click.Path())
@click.option("--suite", default="bookworm", show_default=True, help="Debian suite.")
@click.option("--include", default="", metavar="PKG,...", help="Extra packages, comma-separated.")
@click.option("--mirror", default=None, help="Debian mirror [default: deb.debian.org].")
@click.option("--from", "source", default=None, metavar="SOURCE",
              help="Unpack an image you have instead (skopeo, umoci): oci-layout:PATH[:TAG], "
              "oci-archive:FILE[:TAG] or docker-archive:FILE (podman save, docker save).")
def rootfs_create(directory, suite, include, mirror, source):
    """Create a Debian minbase rootfs in DIRECTORY with mmdebstrap (or debootstrap),
    or unpack an image into it (--from)."""
    import shlex

    from . import rootfs as rf
    pkgs = [p for p in include.split(",") if p.strip()]
    if source is not None and (pkgs or mirror or suite != "bookworm"):
        _fail("rootfs create: --from unpacks an image; --suite, --include and --mirror are for Debian trees", 1)
    command = ["/bin/sh"]
    try:
        if source is not None:
            path, command = rf.import_image(directory, source)
            command = command or ["/bin/sh"]
        else:
            path = rf.create(directory, suite=suite, include=pkgs, mirror=mirror or rf.DEFAULT_MIRROR)
    except LxbrandError as e:
        _fail(str(e), 1)
    except OSError as e:
        # a DIRECTORY the user cannot make (its parent root's): one line, no traceback
        _fail(f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e), 1)
    click.echo(f"lxrun: rootfs ready in {path}; try: lxrun {path} {shlex.join(command)}")


@rootfs.command("unshift")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def rootfs_unshift(directory):
    """Give DIRECTORY back its host ids (undo the shift a root-run zone made:
    uid BASE+u becomes u again; see SECURITY.md)."""
    from . import idshift
    if os.geteuid() != 0:
        _fail("rootfs unshift: only root can change the owners of a rootfs", 1)
    try:
        n = idshift.shift(directory, undo=True, quiet=True)
    except (LxbrandError, OSError) as e:
        _fail(f"rootfs unshift {directory}: {e}", 1)
    click.echo(f"lxrun: {directory}: {n} entries back on host ids")


@rootfs.command("export")
@click.argument("directory", type=click.Path())
@click.argument("out", type=click.Path(dir_okay=False))
def rootfs_export(directory, out):
    """Write DIRECTORY to the tarball OUT as a zone sees it: the owners and
    devices --fakeroot recorded (user.lxbrand.owner), everything else as it is."""
    from .export import export
    try:
        n = export(directory, out)
    except LxbrandError as e:
        _fail(str(e), 1)
    click.echo(f"lxrun: {out}: {n} entries from {directory}")


def _add_oci() -> None:
    """`lxrun oci ...`: the OCI runtime (lxbrand/oci.py, also lxbrand-oci)."""
    from .oci import oci
    main.add_command(oci, "oci")


_add_oci()


def entry() -> None:
    """The lxrun console script: click's usage errors as one line, exit 125."""
    # a closed stdin/stdout/stderr would be reused by lxrun's own sockets and
    # handed to the guest as its stdio: hold them with /dev/null instead
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            # the interpreter started without it (sys.stdout None): the statistics,
            # the trace and the exit's flush write to /dev/null, as the front door's
            if getattr(sys, name) is None:
                setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))
    if len(sys.argv) == 1 and "_LXRUN_COMPLETE" not in os.environ:
        click.echo(main.get_help(click.Context(main, info_name="lxrun")), err=True)
        sys.exit(EXIT_FAILED)
    try:
        # "lxrun" also when run as lxrun-py, the front door's hand-over
        rv = main(prog_name="lxrun", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("aborted", 130)
    except click.exceptions.ClickException as e:
        _fail(e.format_message().replace("\n", " "), EXIT_FAILED)
    except LxbrandError as e:       # e.g. the C supervisor not built, raised on a lazy import
        _fail(str(e), EXIT_FAILED)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    entry()
