"""The command line of lxbrand's OCI runtime (lxbrand/oci.py): runc's
commands and options, with click.

lxbrand/oci.py holds the runtime itself (config.json to a zone, the state,
the monitor, exec) and imports no click: a plain `create`, the command an
engine runs once per container, is parsed there (oci.fast_create) and never
pays for this module's imports; everything else, and every other form of
create, comes here (oci.run).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import click

from .oci import (ANNOTATIONS, BIND_OPTS_IGNORED, CTL_SOCKET, DEFAULT_ROOT, OCI_VERSION, SECCOMP_ACTIONS,
                  SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPS, Log, OCIError, Store, _alive, _die, _exec,
                  _exec_process, _kill_zone, _remove, _signal_number, _wait_stopped, _zone_pids,
                  create_container, oci_state, run_hooks)


class _Ctx:
    def __init__(self, root: str, log: Log):
        self.store = Store(root)
        self.log = log


def _fail(ctx: _Ctx, msg: str, code: int = 1):
    _die(ctx.log, msg, code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default=DEFAULT_ROOT, show_default=True, help="Directory of the containers' state.")
@click.option("--log", "log_path", default=None, metavar="FILE", help="Log into FILE (as runc's --log).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--debug", is_flag=True, help="Accepted, as runc's.")
@click.option("--systemd-cgroup", is_flag=True, help="Accepted (lxbrand makes the zone's own cgroups).")
@click.option("--rootless", default=None, metavar="auto|true|false", help="Accepted, as runc's.")
@click.option("--criu", default=None, hidden=True)
@click.pass_context
def oci(ctx, root, log_path, log_format, debug, systemd_cgroup, rootless, criu):
    """An OCI runtime with runc's command line: containers as lxbrand zones
    (docs/OCI.md).  Point an engine at it: podman --runtime lxbrand-oci."""
    ctx.obj = _Ctx(root, Log(log_path, log_format))


@oci.command()
@click.option("-b", "--bundle", default=".", show_default=True, help="The bundle: config.json and the rootfs.")
@click.option("--console-socket", default=None, metavar="PATH",
              help="A unix socket that receives the pty master (process.terminal).")
@click.option("--pid-file", default=None, metavar="FILE", help="Write the container's pid (its monitor's) here.")
@click.option("--no-pivot", is_flag=True, help="Accepted, as runc's.")
@click.option("--no-new-keyring", is_flag=True, help="Accepted, as runc's (a zone has a keyring of its own).")
@click.option("--preserve-fds", type=int, default=0, help="Not supported beyond 0.")
@click.argument("cid", metavar="ID")
@click.pass_obj
def create(ctx, bundle, console_socket, pid_file, no_pivot, no_new_keyring, preserve_fds, cid):
    """Create the zone of container ID from BUNDLE; its process waits for `start`."""
    create_container(ctx.store, ctx.log, bundle, console_socket, pid_file, preserve_fds, cid)


@oci.command()
@click.argument("cid", metavar="ID")
@click.pass_obj
def start(ctx, cid):
    """Let the created zone's process run."""
    store = ctx.store
    try:
        st = store.read(cid)
        status = store.status(st)
        if status == "stopped":
            raise OCIError("cannot start a container that has stopped")
        if status == "running":
            raise OCIError("cannot start an already running container")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        try:
            s.connect(os.path.join(store.dir(cid), CTL_SOCKET))
            s.sendall(b"start\n")
            reply = s.recv(4096).decode(errors="replace")
        except OSError as e:
            raise OCIError(f"container {cid}: its monitor does not answer ({e.strerror or e})") from None
        finally:
            s.close()
        if not reply.startswith("OK"):
            raise OCIError(reply[1:] or "the container's monitor gave no answer")
        for h in (st.get("hooks") or {}).get("poststart", []):
            try:
                run_hooks("poststart", [h], oci_state(st, "running"))
            except OCIError as e:
                ctx.log.warn(str(e))
    except OCIError as e:
        _fail(ctx, str(e))


@oci.command()
@click.argument("cid", metavar="ID")
@click.pass_obj
def state(ctx, cid):
    """Print the runtime-spec state of container ID (JSON)."""
    try:
        st = ctx.store.read(cid)
    except OCIError as e:
        _fail(ctx, str(e))
    click.echo(json.dumps(oci_state(st, ctx.store.status(st)), indent=2))


@oci.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Accepted: the signal reaches the zone's init, "
                                                        "which passes it on to the whole process group.")
@click.argument("cid", metavar="ID")
@click.argument("sig", metavar="[SIGNAL]", default="SIGTERM")
@click.pass_obj
def kill(ctx, all_, cid, sig):
    """Send SIGNAL (default SIGTERM) to container ID's process."""
    store = ctx.store
    try:
        signum = _signal_number(sig)
        st = store.read(cid)
        status = store.status(st)
        if status == "stopped" or not _alive(st.get("init_pid"), st.get("init_start")):
            raise OCIError("container not running")
        if status == "created" and signum != 0:
            signum = signal.SIGKILL      # the held guest cannot take a signal: the zone ends
        os.kill(st["init_pid"], signum)
    except OCIError as e:
        _fail(ctx, str(e))
    except ProcessLookupError:
        _fail(ctx, "container not running")


@oci.command()
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.argument("cid", metavar="ID")
@click.pass_obj
def delete(ctx, force, cid):
    """Delete container ID's state (its zone must have stopped, or --force)."""
    store = ctx.store
    try:
        st = store.read(cid)
    except OCIError as e:
        if force and "does not exist" in str(e):
            return            # runc: delete --force of nothing is no error
        _fail(ctx, str(e))
    status = store.status(st)
    if status == "running" and not force:
        _fail(ctx, f"cannot delete container {cid} that is not stopped: {status}")
    if status != "stopped" or _alive(st.get("init_pid"), st.get("init_start")):
        _kill_zone(st)
        _wait_stopped(store, cid)
        st = store.read(cid)
    hooks = (st.get("hooks") or {}).get("poststop", [])
    if hooks:
        try:
            run_hooks("poststop", hooks, oci_state(st, "stopped"))
        except OCIError as e:
            ctx.log.warn(str(e))
    _remove(store.dir(cid))


@oci.command(context_settings={"ignore_unknown_options": True})
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.argument("cid", metavar="ID")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def ps(ctx, fmt, cid, ps_args):
    """The processes of container ID (host pids), as runc ps shows them."""
    try:
        st = ctx.store.read(cid)
    except OCIError as e:
        _fail(ctx, str(e))
    pids = _zone_pids(st)
    if fmt == "json":
        click.echo(json.dumps(pids))
        return
    out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True)
    if out.returncode != 0:
        _fail(ctx, f"ps: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return
    header = lines[0].split()
    col = header.index("PID") if "PID" in header else None
    if col is None:
        _fail(ctx, "couldn't find PID field in ps output")
    click.echo(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in pids:
            click.echo(line)


@oci.command("list")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="Only the ids.")
@click.pass_obj
def list_(ctx, fmt, quiet):
    """The containers under --root."""
    rows = []
    for cid in ctx.store.ids():
        try:
            st = ctx.store.read(cid)
        except OCIError:
            continue
        rows.append(oci_state(st, ctx.store.status(st)))
    if quiet:
        for r in rows:
            click.echo(r["id"])
    elif fmt == "json":
        click.echo(json.dumps(rows or None))
    else:
        table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]) for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(6)]
        for row in table:
            click.echo("   ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())


@oci.command()
def features():
    """What this runtime supports (runtime-spec features.json)."""
    click.echo(json.dumps({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "poststart", "poststop"],
        "mountOptions": sorted(BIND_OPTS_IGNORED | {"size", "mode"}),
        "linux": {
            "namespaces": ["pid", "network", "ipc", "uts", "mount", "user", "cgroup"],
            "capabilities": [],
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(SECCOMP_ACTIONS), "operators": sorted(SECCOMP_OPS),
                        "archs": list(SECCOMP_ARCHES), "knownFlags": list(SECCOMP_FLAGS), "supportedFlags": []},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.lxbrand.annotations": ",".join(ANNOTATIONS)},
    }, indent=2))


@oci.command("exec", context_settings={"allow_interspersed_args": False})
@click.option("-p", "--process", "process_file", default=None, metavar="JSON",
              help="The process (config.json's process object) in a file; CMD then is not given.")
@click.option("-t", "--tty", is_flag=True, help="A pty of the zone (with --console-socket, its master goes there).")
@click.option("--console-socket", default=None, metavar="PATH", help="A unix socket that receives the pty master.")
@click.option("--pid-file", default=None, metavar="FILE", help="Write the process's pid (its relay's) here.")
@click.option("-d", "--detach", is_flag=True, help="Do not wait for the process.")
@click.option("-e", "--env", multiple=True, metavar="K=V", help="Set an environment variable (repeatable).")
@click.option("--cwd", default=None, metavar="DIR", help="Working directory in the zone.")
@click.option("-u", "--user", default=None, metavar="UID[:GID]", help="Ids in the zone.")
@click.option("-g", "--additional-gids", multiple=True, type=int, help="Supplementary groups (repeatable).")
@click.option("-c", "--cap", multiple=True, hidden=True)
@click.option("--apparmor", default=None, hidden=True)
@click.option("--process-label", default=None, hidden=True)
@click.option("--no-new-privs", is_flag=True, hidden=True)
@click.option("--preserve-fds", type=int, default=0, help="Not supported beyond 0.")
@click.option("--cgroup", multiple=True, hidden=True)
@click.option("--ignore-paused", is_flag=True, hidden=True)
@click.option("--no-subreaper", is_flag=True, hidden=True)
@click.argument("cid", metavar="ID")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def exec_(ctx, process_file, tty, console_socket, pid_file, detach, env, cwd, user, additional_gids, cap, apparmor,
          process_label, no_new_privs, preserve_fds, cgroup, ignore_paused, no_subreaper, cid, command):
    """Run CMD in the running zone of container ID: its namespaces, its brand's
    filter and its supervisor (docs/OCI.md)."""
    store, log = ctx.store, ctx.log
    try:
        st = store.read(cid)
        if store.status(st) != "running":
            raise OCIError(f"cannot exec in a {store.status(st)} container")
        proc = _exec_process(st, process_file, command, tty, env, cwd, user, additional_gids)
        if preserve_fds:
            raise OCIError("--preserve-fds: not supported by lxbrand")
        if console_socket and not proc["terminal"]:
            raise OCIError("cannot use console socket if runc will not detach or allocate tty")
        if proc["terminal"] and detach and not console_socket:
            raise OCIError("cannot allocate tty if runc will detach without setting console socket")
        if cap or proc.get("capabilities"):
            log.warn("exec: capabilities are not applied one by one; the process has the guest's (docs/OCI.md)")
        code = _exec(store, cid, st, proc, console_socket, pid_file, detach)
    except OCIError as e:
        _fail(ctx, f"exec failed: {e}")
    sys.exit(code)
