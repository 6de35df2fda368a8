"""The C front door's hand-over to the Python CLI takes nothing of another
user's.

lxrun (csrc/frontdoor/lxrun.c) runs what it does not serve by execv of the
Python CLI.  Python searches the user site, ~/.local/lib/pythonX.Y/site-packages
under $HOME, before the system's packages: run by root with another user's
HOME (sudo -E keeps it), that user's modules were imported as root.  The
front door turns the user site off unless HOME is the caller's own
(PYTHONNOUSERSITE).
"""
import os
import subprocess
import sys

from .conftest import USER_GID, USER_UID


def test_root_never_imports_another_users_python_modules(tiny_root):
    home = tiny_root.host_dir("their-home")
    site = os.path.join(home, ".local", "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}",
                        "site-packages")
    marker = os.path.join(home, "imported-as-root")
    os.makedirs(os.path.join(site, "click"))
    with open(os.path.join(site, "click", "__init__.py"), "w") as f:
        f.write(f"open({marker!r}, 'w').write('uid %d' % __import__('os').getuid())\n"
                "raise ImportError('a module planted in another user\\'s user site')\n")
    subprocess.run(["chown", "-R", f"{USER_UID}:{USER_GID}", home], check=True)
    env = dict(os.environ, HOME=home, LXRUN_DEBUG_FRONTDOOR="1")
    # --memory: an option the front door hands over to Python
    r = subprocess.run(["lxrun", "--memory", "64M", tiny_root.rootfs, "/bin/true"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert "handing over" in r.stderr, f"the front door served it itself: the test proves nothing\n{r.stderr}"
    assert not os.path.exists(marker), f"root imported a module from another user's user site:\n{r.stderr}"
    assert r.returncode == 0, r
