"""The Python side of the OCI runtime's front door (csrc/frontdoor/oci.c).

`make build` installs a small C program as `lxbrand-oci`: it serves state,
start, kill, delete, list, features, `ps -f json`, `exec --process` and the
common create (root, a config it reads whole: its own monitor in C) itself,
with the state lxbrand/oci.py writes, and hands everything else (a create
it does not take, exec with CMD words, --help, any input it does not fully
understand) to main() here, by execv of the
interpreter with no site (`python3 -I -S`) and the sys.path baked at build
time, so an engine's create or exec does not pay for site's .pth hooks.

entry() (the console script, and `python3 -c 'from lxbrand.oci import
entry; entry()'`) hands its command to that front door when it is installed
beside this interpreter, so that every way of running lxbrand-oci behaves
the same, and the tests of lxbrand/oci.py run the C commands too.
"""
import os
import sys

FRONTDOOR = "lxbrand-oci"


def to_frontdoor(args: list) -> None:
    """execv the C front door with args when it is installed beside this
    interpreter (as `make build` installs it); return when it is not."""
    path = os.path.join(os.path.dirname(sys.executable), FRONTDOOR)
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"\x7fELF" or not os.access(path, os.X_OK):
                return
    except OSError:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    try:
        os.execv(path, [FRONTDOOR, *args])
    except OSError:
        return


def main() -> None:
    """The front door's hand-over: the Python runtime, whatever the command."""
    sys.argv[0] = FRONTDOOR
    from .oci import run
    run()
