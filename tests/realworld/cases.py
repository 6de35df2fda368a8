"""The table of real-world runs: one `Case` per program run, with its expected result.

A case is a command line run in the Debian rootfs (lxbrand.rootfs.cached():
bookworm minbase with python3, busybox, bash, procps, sqlite3, iproute2 and
libpython3.11-testsuite) with cwd /, stdin /dev/null (or `input`) and the
zone's clean environment (PATH, HOME=/root, TERM=dumb).  It passes when, both
natively and in the zone, the exit status is `status` and stdout satisfies
`stdout` (an Exact text, a Regex, a Sha256 of the bytes); `same=True` also
requires the two stdouts to be identical, for outputs that are deterministic
but depend on the rootfs or the host, so they are not pinned here.

Cases write only under /tmp (a fresh tmpfs on both sides) or into the throw-away
overlay over the rootfs that both sides get, so the cached tree stays clean;
`unchanged` names trees the runner checks on disk afterwards.  A server case
(`port`, `client`) is reached by a client on the host: natively on the
chroot's loopback, in the zone through a published port (--net private -p).

Where the zone differs from a chroot by design (DESIGN.md: hostname "zone",
pid 1 is lxbrand-init, a minimal /dev, loopback-only network) the case says
so in `zone_stdout`, with a comment; nothing else may differ.
"""
from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass
from typing import Optional, Union


# -- what a side's stdout must be ------------------------------------------

def _show(data: bytes, limit: int = 60) -> str:
    text = data.decode(errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


@dataclass(frozen=True)
class Exact:
    text: str

    def check(self, out: bytes) -> Optional[str]:
        if out == self.text.encode():
            return None
        want, got = self.text.encode(), out
        i = next((k for k in range(min(len(want), len(got))) if want[k] != got[k]), min(len(want), len(got)))
        line = want[:i].count(b"\n") + 1
        return f"stdout differs at line {line}: want {_show(want[i:])}, got {_show(got[i:])}"

    def __str__(self) -> str:
        return f"exactly {_show(self.text.encode(), 40)}"


@dataclass(frozen=True)
class Regex:
    pattern: str          # re.search, with re.MULTILINE

    def check(self, out: bytes) -> Optional[str]:
        text = out.decode(errors="replace")
        if re.search(self.pattern, text, re.MULTILINE):
            return None
        return f"stdout does not match /{self.pattern}/: got {_show(out[-200:], 200)}"

    def __str__(self) -> str:
        return f"/{self.pattern}/"


@dataclass(frozen=True)
class Sha256:
    hexdigest: str

    def check(self, out: bytes) -> Optional[str]:
        got = hashlib.sha256(out).hexdigest()
        if got == self.hexdigest:
            return None
        return f"stdout sha256 {got[:16]}..., want {self.hexdigest[:16]}... ({len(out)} bytes: {_show(out)})"

    def __str__(self) -> str:
        return f"sha256 {self.hexdigest[:16]}..."


Predicate = Union[Exact, Regex, Sha256]


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple
    stdout: Predicate
    status: int = 0
    zone_stdout: Optional[Predicate] = None   # a documented difference of the zone
    same: bool = False                        # the two stdouts must also be identical
    input: Optional[bytes] = None
    timeout: float = 120.0
    zone: Optional[dict] = None               # more lxbrand.Zone options for the zone's side
    # a server case: the command serves on `port`, and `client` (a python3
    # program, run on the host with argv[1] = HOST:PORT to reach it) talks to
    # it; natively it reaches 127.0.0.1:port in the native side's network
    # namespace, in the zone a port on the host's loopback published to
    # `port` (--net private -p).  The side's stdout is the command's, then
    # the client's; a client that fails fails the side.
    port: Optional[int] = None
    client: Optional[str] = None
    # rootfs paths (trees) that must be the same on disk after the case as
    # before it: what an ephemeral zone (and the native overlay) must not touch
    unchanged: tuple = ()

    def expected(self, side: str) -> Predicate:
        return self.zone_stdout if side == "zone" and self.zone_stdout is not None else self.stdout


def sh(name: str, script: str, stdout: Predicate, **kw) -> Case:
    """A POSIX sh script: /bin/sh is dash."""
    return Case(name, ("sh", "-c", textwrap.dedent(script).strip() + "\n"), stdout, **kw)


def bash(name: str, script: str, stdout: Predicate, **kw) -> Case:
    return Case(name, ("bash", "-c", textwrap.dedent(script).strip() + "\n"), stdout, **kw)


def busybox(name: str, script: str, stdout: Predicate, **kw) -> Case:
    """A busybox ash script; every command in it is a busybox applet, by name."""
    return Case(name, ("busybox", "sh", "-c", textwrap.dedent(script).strip() + "\n"), stdout,
                **kw)


def py(name: str, script: str, stdout: Predicate, **kw) -> Case:
    """A python3 program, written to /tmp first (multiprocessing's spawn needs a file)."""
    prog = textwrap.dedent(script).strip() + "\n"
    return Case(name, ("sh", "-c", 'cat > /tmp/prog.py && exec python3 /tmp/prog.py'), stdout,
                input=prog.encode(), **kw)


# A Debian install has localhost in /etc/hosts; mmdebstrap's minbase leaves the
# file empty.  A zone then shows a writable /etc/hosts of its own with localhost
# (lxbrand.zone._no_hosts_file); natively the cases that resolve "localhost" write
# the same lines into the overlay (the rootfs stays clean).
HOSTS = (r'grep -q localhost /etc/hosts 2>/dev/null || '
         r'printf "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" > /etc/hosts')


def stdlib(name: str, modules: str, ignore: dict[str, str], timeout: float = 240.0) -> Case:
    """python3 -m test over `modules` with two workers; `ignore` maps a test
    pattern (regrtest -i, on both sides) to why it is left out: it fails or hangs
    natively too, only waits out a long sleep, or meets a documented difference
    of the zone.

    Modules of libpython3.11-testsuite left out of the table, and why:
    test_sqlite3 is not shipped (python3-sqlite3 runs sqlite3 instead);
    test_sysconfig needs python3-dev's headers; test_ioctl needs a controlling
    terminal (the runs have none: script-pty gives one); test_socketserver and
    others skip without regrtest's network resource; test_asyncio (one error
    natively too), test_concurrent_futures (a test times out natively too) and
    test_multiprocessing_* take 1.5 to 3 minutes each, past the suite's CI
    budget.  The slowest modules come first: regrtest's two workers take them
    in order."""
    mods = modules.split()
    ignores = " ".join(f"-i '{pat}'" for pat in ignore)
    # a traced zone runs slower (runner.TRACE_SLOWDOWN): its per-test budget is LXB_TEST_TIMEOUT
    script = (f"{HOSTS}\ncd /tmp && exec python3 -m test -j2 --timeout ${{LXB_TEST_TIMEOUT:-180}} {ignores} "
              f"{' '.join(mods)}")
    n = len(mods)
    return Case(name, ("sh", "-c", script),
                Regex(rf"^All {n} tests OK\.$(?s:.*)^Tests result: SUCCESS$"),
                timeout=timeout)


# -- the table ---------------------------------------------------------------

ZEROS_100M_SHA256 = "20492a4d0d84f8beb1767f6616229f85d44c2827b64bdbfb260ee12fa1109e0e"

CASES: list[Case] = [
    # ---- busybox applets ----------------------------------------------------
    busybox("busybox-ash-arith", """
        i=0; s=0
        while [ $i -lt 1000 ]; do i=$((i + 1)); s=$((s + i)); done
        echo $s
    """, Exact("500500\n")),
    busybox("busybox-text-pipeline", """
        busybox seq 1 20 | busybox awk '$1 % 3 == 0' | busybox sort -rn | busybox head -3 | busybox tr '\\n' ' '
        echo
        busybox grep '^root:' /etc/passwd | busybox cut -d: -f1,3,6 | busybox sed 's/:/ /g'
        busybox printf 'b\\na\\nc\\na\\n' | busybox sort | busybox uniq -c | busybox sed 's/^ *//'
        busybox echo -n lxbrand | busybox sha256sum
        busybox printf 'AB' | busybox xxd
    """, Exact("18 15 12 \n"
               "root 0 /root\n"
               "2 a\n1 b\n1 c\n"
               "9305676f6e9a3372e8773983e8691807c3746da4fdd89b35a77a0e6870101ae7  -\n"
               "00000000: 4142                                     AB\n")),
    busybox("busybox-files", """
        set -e
        busybox mkdir -p /tmp/bb/a/b
        busybox echo one > /tmp/bb/a/1
        busybox echo two > /tmp/bb/a/b/2
        busybox ln -s 1 /tmp/bb/a/link
        busybox cp -a /tmp/bb/a /tmp/bb/copy
        busybox mv /tmp/bb/copy/b /tmp/bb/copy/moved
        cd /tmp/bb
        busybox find . | busybox sort
        busybox stat -c '%n %s %F' a/1 a/link copy/moved
        busybox du -s -k a | busybox cut -f2
        busybox rm -r copy
        busybox ls
    """, Exact(".\n./a\n./a/1\n./a/b\n./a/b/2\n./a/link\n./copy\n./copy/1\n./copy/link\n./copy/moved\n"
               "./copy/moved/2\n"
               "a/1 4 regular file\na/link 1 symbolic link\ncopy/moved 60 directory\n"
               "a\n"
               "a\n")),
    busybox("busybox-tar-gzip", """
        set -e
        busybox mkdir -p /tmp/t/a/b && cd /tmp/t
        busybox seq 1 5000 > a/numbers
        busybox echo two > a/b/2
        busybox tar czf t.tgz a
        busybox gzip -t t.tgz
        busybox mkdir out && busybox tar xzf t.tgz -C out
        busybox tar tzf t.tgz | busybox sort
        busybox cmp a/numbers out/a/numbers && busybox md5sum out/a/b/2
    """, Exact("a/\na/b/\na/b/2\na/numbers\n"
               "c193497a1a06b2c72230e6146ff47080  out/a/b/2\n")),
    busybox("busybox-ps-kill", """
        busybox sleep 30 &
        pid=$!
        # run as `busybox sleep`, the applet's comm is "busybox": match its args, once
        # the child has exec'd (until then it is a copy of the shell)
        i=0
        until busybox ps -o pid,args | busybox grep -q "^ *$pid busybox sleep 30"; do
            i=$((i + 1)); [ $i -lt 100 ] || break; busybox usleep 20000
        done
        [ $i -lt 100 ] && echo listed
        busybox pidof busybox > /dev/null && echo pidof
        busybox kill -TERM $pid
        wait $pid
        echo "status $?"
    """, Exact("listed\npidof\nstatus 143\n")),
    busybox("busybox-hostname", """
        busybox hostname
        busybox uname -n
        busybox uname -sm
    """, Regex(r"\A(\S+)\n\1\nLinux x86_64\n\Z"),
        zone_stdout=Exact("zone\nzone\nLinux x86_64\n")),   # a zone's hostname is "zone" by design
    busybox("busybox-httpd-wget", """
        set -e
        busybox mkdir -p /tmp/www && busybox echo "served by busybox" > /tmp/www/index.html
        busybox httpd -f -p 127.0.0.1:8080 -h /tmp/www &
        httpd=$!
        i=0
        until busybox wget -q -O - http://127.0.0.1:8080/index.html 2>/dev/null; do
            i=$((i + 1)); [ $i -lt 50 ] || exit 1; busybox usleep 100000
        done
        busybox wget -q -O - http://127.0.0.1:8080/missing 2>&1 | busybox grep -o '404 Not Found' || true
        busybox kill $httpd; wait $httpd || echo "httpd status $?"
    """, Exact("served by busybox\n404 Not Found\nhttpd status 143\n")),

    # ---- coreutils and findutils --------------------------------------------
    sh("coreutils-ls", """
        set -e; umask 022
        mkdir -p /tmp/d/sub && cd /tmp/d
        printf abc > a && : > b && ln -s a l && mkfifo p && chmod 640 a
        ls -1F
        ls -ln a b | awk '{print $1, $2, $3, $4, $5, $NF}'
        ls -lnd sub | cut -c1-10
        ls -A /tmp/d | wc -l
        ls -1 /usr/lib/python3.11/json | head -3
    """, Exact("a\nb\nl@\np|\nsub/\n"
               "-rw-r----- 1 0 0 3 a\n-rw-r--r-- 1 0 0 0 b\n"
               "drwxr-xr-x\n"
               "5\n"
               "__init__.py\n__pycache__\ndecoder.py\n")),
    sh("coreutils-cp-a", """
        set -e; umask 022
        mkdir -p /tmp/src/dir/deep && cd /tmp/src
        printf hello > f && chmod 600 f && ln f hard && ln -s f sym && ln -s /nonexistent dangling
        mkfifo fifo && chown 1000:100 dir && chmod 2755 dir && chown -h 7:7 sym
        touch -d '2001-02-03 04:05:06' f dir/deep
        cp -a /tmp/src /tmp/dst
        listing() { (cd "$1" && find . -printf '%p %y %m %U:%G %n %l\\n' | LC_ALL=C sort); }
        listing /tmp/src > /tmp/a; listing /tmp/dst > /tmp/b
        cmp /tmp/a /tmp/b && echo same
        cat /tmp/b
        stat -c '%y' /tmp/dst/f /tmp/dst/dir/deep | cut -c1-19
    """, Exact("same\n"
               ". d 755 0:0 3 \n"
               "./dangling l 777 0:0 1 /nonexistent\n"
               "./dir d 2755 1000:100 3 \n"
               "./dir/deep d 755 0:0 2 \n"
               "./f f 600 0:0 2 \n"
               "./fifo p 644 0:0 1 \n"
               "./hard f 600 0:0 2 \n"
               "./sym l 777 7:7 1 f\n"
               "2001-02-03 04:05:06\n2001-02-03 04:05:06\n")),
    sh("coreutils-mv", """
        set -e
        mkdir -p /tmp/m/x && echo data > /tmp/m/x/f
        mv /tmp/m/x /tmp/m/y
        mv /tmp/m/y/f /tmp/m/y/g
        mv /tmp/m /root/moved            # tmpfs to the rootfs: copy and unlink
        ls -R /root/moved
        cat /root/moved/y/g
        mv /root/moved /tmp/back
        test ! -e /root/moved && ls /tmp/back/y
        mv -n /tmp/back/y/g /etc/hostname; echo "mv -n $?"
    """, Exact("/root/moved:\ny\n\n/root/moved/y:\ng\ndata\ng\nmv -n 0\n")),
    sh("coreutils-rm-r", """
        set -e
        mkdir -p /tmp/r && cd /tmp/r
        for i in $(seq 1 50); do mkdir -p d$i/e/f && echo $i > d$i/e/f/file; done
        ln -s /etc sym && chmod 000 d1/e
        cd /tmp && find r | wc -l
        rm -r r
        test ! -e r && echo gone
        test -f /etc/passwd && echo etc-intact
        mkdir -p /tmp/r2/x && rm -r /tmp/r2/x/ /tmp/r2/missing 2>/dev/null || echo "rm status $?"
    """, Exact("202\ngone\netc-intact\nrm status 1\n")),
    sh("coreutils-ln", """
        set -e; cd /tmp
        echo x > t && ln t h && ln -s t s && ln -sf h s2 && mkdir sub && ln -sr t sub/rel
        readlink s s2 sub/rel
        stat -c '%h %F %N' t s
        cat sub/rel
        ln t h 2>&1 || echo "ln status $?"
        ln -f t h && echo forced
        readlink -f sub/rel
    """, Exact("t\nh\n../t\n2 regular file 't'\n1 symbolic link 's' -> 't'\nx\n"
               "ln: failed to create hard link 'h': File exists\nln status 1\nforced\n/tmp/t\n")),
    sh("coreutils-stat", """
        set -e; cd /tmp; umask 022
        printf 12345 > f && chmod 4755 f && mkdir d && chown 1:2 d
        stat -c '%n %s %A %a %u %g %h %F' f d
        stat -c '%n %F %t,%T %a' /dev/null /dev/zero
        stat -f -c '%T' /tmp /proc
        stat -L -c '%F' /proc/self/exe
        touch -d @1000000000 f && stat -c '%Y %X' f
    """, Exact("f 5 -rwsr-xr-x 4755 0 0 1 regular file\n"
               "d 40 drwxr-xr-x 755 1 2 2 directory\n"
               "/dev/null character special file 1,3 666\n"
               "/dev/zero character special file 1,5 666\n"
               "tmpfs\nproc\nregular file\n1000000000 1000000000\n")),
    sh("coreutils-df", """
        set -e
        df -PT /tmp /dev/shm | awk 'NR > 1 {print $2, $NF}'
        df -P / | awk 'NR == 2 {print ($2 > 0 ? "root has blocks" : "root is empty")}'
        df -i /tmp | awk 'NR == 2 {print ($2 > 0 ? "inodes" : "no inodes")}'
        df /nonexistent 2>&1 || echo "df status $?"
    """, Exact("tmpfs /tmp\ntmpfs /dev/shm\nroot has blocks\ninodes\n"
               "df: /nonexistent: No such file or directory\ndf status 1\n")),
    sh("coreutils-du", """
        set -e
        mkdir -p /tmp/u/a /tmp/u/b && cd /tmp/u
        head -c 1048576 /dev/zero > a/1m && head -c 4096 /dev/urandom > b/4k
        ln a/1m b/hard && truncate -s 10M sparse
        du -k a/1m b/4k sparse
        du -sk --apparent-size sparse
        du -ck a b | tail -1
        du -sb --exclude=sparse .
    """, Exact("1024\ta/1m\n4\tb/4k\n0\tsparse\n10240\tsparse\n1028\ttotal\n1052912\t.\n")),
    sh("coreutils-sort-large", """
        set -e
        awk 'BEGIN { x = 42; for (i = 0; i < 1000000; i++) { x = (x * 69069 + 1) % 4294967296; printf "%.0f\\n", x } }' > /tmp/in
        wc -l < /tmp/in
        sort -n -S 4M -T /tmp --parallel=2 /tmp/in | sha256sum
        sort -S 4M -T /tmp /tmp/in | sort -c && echo sorted
        sort -u /tmp/in | wc -l
        sort -n -r /tmp/in | head -1
    """, Exact("1000000\n"
               "0a151cdf7aa20092dacc937479c763685aa69facfa82d0a0f6b7df892a565721  -\n"
               "sorted\n"
               "1000000\n"
               "4294965978\n")),
    sh("findutils-find", """
        set -e; umask 022
        mkdir -p /tmp/f/a/b/c /tmp/f/x && cd /tmp/f
        touch a/1.txt a/b/2.txt a/b/c/3.log x/4.txt && chmod 700 x && head -c 2000 /dev/zero > a/b/big
        find . -name '*.txt' | sort
        find . -type d -perm 700
        find . -mindepth 3 -type f | sort
        find . -type f -size +1k
        find . -type f -empty -exec basename {} \\; | sort | xargs echo
        find . -name '*.log' -delete && find . -name '*.log' | wc -l
        find /usr/lib/python3.11/json -maxdepth 1 -name '*.py' -printf '%f\\n' | sort | xargs echo
        find /etc -maxdepth 1 -name passwd -type f
    """, Exact("./a/1.txt\n./a/b/2.txt\n./x/4.txt\n./x\n./a/b/2.txt\n./a/b/big\n./a/b/c/3.log\n./a/b/big\n"
               "1.txt 2.txt 3.log 4.txt\n0\n"
               "__init__.py decoder.py encoder.py scanner.py tool.py\n/etc/passwd\n")),

    # ---- tar and gzip ---------------------------------------------------------
    sh("tar-gzip-roundtrip", """
        set -e; umask 022; cd /tmp
        mkdir -p tree/a/b tree/empty
        cp -a /usr/lib/python3.11/json /usr/lib/python3.11/email tree/a/
        seq 1 100000 > tree/a/b/big && ln tree/a/b/big tree/a/b/hard && ln -s ../a tree/link
        chmod 751 tree/a/b && chown -R 1000:1000 tree/a/json && mkfifo tree/fifo
        touch -d '2010-01-01 00:00:00' tree/a/b/big
        sum() {
            (cd "$1" && find . -printf '%p %y %m %U:%G %n %l %T@\\n' | sed 's/\\.[0-9]*$//' | grep -v '^\\. ' |
             LC_ALL=C sort &&
             find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum
        }
        before=$(sum tree)
        tar -czpf tree.tgz tree && gzip -t tree.tgz
        mkdir out && tar -xzpf tree.tgz -C out
        after=$(sum out/tree)
        [ "$before" = "$after" ] && echo "checksums match"
        tar -tzf tree.tgz | wc -l
        tar -xzOf tree.tgz --wildcards 'tree/a/b/*' | tail -1   # one of big and hard is a link entry
        zcat tree.tgz | tar -tvf - tree/link | awk '{print $1, $2, $(NF-2), $(NF-1), $NF}'
    """, Regex(r"\Achecksums match\n\d+\n100000\nlrwxrwxrwx root/root tree/link -> \.\./a\n\Z"), same=True),

    # ---- sh (dash) --------------------------------------------------------------
    sh("sh-pipes-redirections", """
        cd /tmp
        echo one > f; echo two >> f
        cat < f | tr a-z A-Z | sed 's/^/> /'
        exec 3> g; echo via3 >&3; exec 3>&-; cat g
        { echo out; echo err >&2; } > both 2>&1; sort both | tr '\\n' ' '; echo
        cat <<EOF
        here $((6 * 7))
        EOF
        cat <<'EOF'
        quoted $HOME
        EOF
        ls /nonexistent 2>/dev/null || echo "ls failed: $?"
        false | true; echo "pipeline status $?"
        echo abc | { read x; echo "read $x"; }
        n=$(printf 'a\\nb\\nc\\n' | wc -l); echo "lines $n"
        exec 4< f; read first <&4; read second <&4; echo "$second $first"; exec 4<&-
        echo to-null > /dev/null; cat /dev/null | wc -c
        mkfifo fifo; (echo through-fifo > fifo &); cat fifo
    """, Exact("> ONE\n> TWO\nvia3\nerr out \nhere 42\nquoted $HOME\nls failed: 2\npipeline status 0\n"
               "read abc\nlines 3\ntwo one\n0\nthrough-fifo\n")),
    sh("sh-traps", """
        trap 'echo exit trap' EXIT
        trap 'echo got USR1' USR1
        kill -USR1 $$
        trap 'echo got INT' INT
        kill -INT $$
        trap - USR1
        sh -c 'trap "echo child term; exit 3" TERM; kill -TERM $$; sleep 5'
        echo "child status $?"
        sleep 30 & p=$!
        kill $p; wait $p; echo "sleep status $?"
        ( trap 'echo subshell exit' EXIT; echo in subshell )
        trap 'echo alarm' ALRM
        (sleep 0.2; kill -ALRM $$) & wait
        wait
        sh -c 'kill -KILL $$'; echo "killed status $?"
        exit 4
    """, Exact("got USR1\ngot INT\nchild term\nchild status 3\nsleep status 143\nin subshell\nsubshell exit\n"
               "alarm\nkilled status 137\nexit trap\n"), status=4),
    sh("sh-subshells", """
        x=1; (x=2; echo "inner $x"); echo "outer $x"
        echo "$(echo "$(echo nested)")"
        ( cd /tmp && pwd ); pwd
        ( exit 7 ); echo "status $?"
        for i in 1 2 3; do (echo "bg $i") & done; wait
        echo $(( $(echo 5) * 2 ))
        umask 077; (umask 022; umask); umask
        v=$(exit 3) || echo "cmdsub status $?"
        ( ( ( echo deep ) ) )
        echo "$(cat <<EOF
        heredoc in cmdsub
        EOF
        )"
    """, Regex(r"\Ainner 2\nouter 1\nnested\n/tmp\n/\nstatus 7\n(bg [123]\n){3}10\n0022\n0077\n"
               r"cmdsub status 3\ndeep\nheredoc in cmdsub\n\Z")),

    # ---- bash ---------------------------------------------------------------------
    bash("bash-features", """
        set -o pipefail
        false | true; echo "pipefail $?"
        true | false | true; echo "${PIPESTATUS[*]}"
        set +o pipefail
        a=(one two three); echo "${#a[@]} ${a[1]} ${a[*]:1}"
        declare -A m=([k]=v); echo "${m[k]}"
        diff <(printf 'a\\nb\\n') <(printf 'a\\nc\\n'); echo "diff $?"
        mapfile -t lines < <(seq 3); echo "${lines[*]}"
        coproc CO { read -r l; echo "co:$l"; }
        echo hi >&"${CO[1]}"; read -r r <&"${CO[0]}"; echo "$r"; wait $CO_PID
        trap 'echo "err trap"' ERR; false; trap - ERR
        shopt -s extglob; f=abc.txt; echo "${f%%.+([a-z])}"
        [[ "foo123" =~ ^foo([0-9]+)$ ]] && echo "match ${BASH_REMATCH[1]}"
        printf -v v '%05d' 42; echo "$v"
        ( [ "$BASHPID" != "$$" ] && echo "subshell has its own pid" )
        read -r -t 0.2 x < <(sleep 2); echo "read timeout $?"
        echo $((2 ** 40))
        sleep 0.1 & sleep 5 & slow=$!; wait -n; echo "wait -n $?"; kill $slow; wait $slow; echo "killed $?"
        exec {fd}>/tmp/fdfile; echo "dynamic fd" >&$fd; exec {fd}>&-; cat /tmp/fdfile
        echo "${BASH_VERSINFO[0]}"
    """, Exact("pipefail 1\n0 1 0\n3 two two three\nv\n2c2\n< b\n---\n> c\ndiff 1\n1 2 3\nco:hi\nerr trap\n"
               "abc\nmatch 123\n00042\nsubshell has its own pid\nread timeout 142\n1099511627776\n"
               "wait -n 0\nkilled 143\ndynamic fd\n5\n")),
    bash("bash-job-control-signals", """
        trap 'echo "caught TERM"; exit 9' TERM
        ( sleep 0.2; kill -TERM $$ ) &
        for i in $(seq 1 100); do sleep 0.05; done
        echo "not reached"
    """, Exact("caught TERM\n"), status=9),

    # ---- procps, iproute2, /proc and /dev ----------------------------------------------
    sh("procps-ps-pgrep", """
        ps -o comm= -p $$
        sleep 30 & p=$!
        i=0; until pgrep -x sleep > /dev/null; do i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.02; done
        [ $i -lt 100 ] && echo found          # once the child has exec'd sleep
        ps -o stat= -p $p | cut -c1
        pkill -x sleep; wait $p; echo "status $?"
        pgrep -x sleep || echo none
        ps -o pid=,comm= -p 1 | sed 's/^ *//'
        free -b | awk 'NR == 2 {print $1, ($2 > 0)}'
        uptime | grep -q 'load average' && echo uptime
    """, Regex(r"\Ash\nfound\nS\nstatus 143\nnone\n1 python3\nMem: 1\nuptime\n\Z"),
        # pid 1 is the native runner's reaper (tests/realworld/native.py, a python3),
        # in a zone lxbrand-init: a documented difference of the zone
        zone_stdout=Exact("sh\nfound\nS\nstatus 143\nnone\n1 lxbrand-init\nMem: 1\nuptime\n")),
    sh("iproute2-loopback", """
        ip -o link show | sed 's/ \\+/ /g'
        ip -br addr show
        ip route show table local | grep -c 127.0.0.1
    """, Regex(r"\A1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 [^\n]*link/loopback 00:00:00:00:00:00 brd "
               r"00:00:00:00:00:00\n"
               r"lo +UNKNOWN +127\.0\.0\.1/8 ::1/128 *\n[1-9]\n\Z"), same=True),
    sh("proc-self", """
        readlink /proc/self/exe
        grep -E '^(Name|Uid|Gid):' /proc/self/status | tr -s '\\t' ' '
        ls /proc/self/fd
        head -c 5 /proc/$$/cmdline | tr '\\0' ' '; echo
        test "$(cut -d' ' -f1 /proc/self/stat)" -gt 1 && echo stat
        grep -c '^processor' /proc/cpuinfo > /dev/null && echo cpuinfo
        head -1 /proc/meminfo | cut -d: -f1
        cat /proc/sys/kernel/ostype
    """, Exact("/usr/bin/readlink\nName: grep\nUid: 0 0 0 0\nGid: 0 0 0 0\n0\n1\n2\n3\nsh -c\nstat\ncpuinfo\n"
               "MemTotal\nLinux\n")),
    sh("util-linux-sched-limits", """
        nice -n 5 nice
        taskset -c 0 nproc
        test "$(nproc)" = "$(getconf _NPROCESSORS_ONLN)" && echo nproc-agrees
        getconf PAGESIZE
        prlimit --nofile=256:256 sh -c 'ulimit -n'
        ionice -c 3 sh -c 'ionice -p $$'
        timeout 0.3 sleep 5; echo "timeout $?"
        timeout -s KILL 0.3 sleep 5; echo "timeout -s KILL $?"
        flock /tmp/lock -c 'echo locked'
        flock -n /tmp/lock2 -c 'flock -n /tmp/lock2 true || echo "contended $?"'
        setsid sh -c 'test "$(ps -o sid= -p $$)" -eq $$ && echo own-session'
        date -u -d @0 '+%Y-%m-%d %H:%M:%S %Z'
        uname -sm
    """, Exact("5\n1\nnproc-agrees\n4096\n256\nidle\ntimeout 124\ntimeout -s KILL 137\nlocked\n"
               "contended 1\nown-session\n1970-01-01 00:00:00 UTC\nLinux x86_64\n")),
    sh("script-pty", """
        script -qec 'test -t 0 && test -t 1 && echo "stdin and stdout are a tty"; stty -a | grep -o "icanon"' /dev/null | tr -d '\\r'
        script -qec 'exit 3' /dev/null; echo "script status $?"
    """, Exact("stdin and stdout are a tty\nicanon\nscript status 3\n")),
    sh("etc-hosts-edit", f"""
        {HOSTS}
        getent hosts localhost
        echo "10.1.2.3\tdb.internal db" >> /etc/hosts
        getent hosts db
        getent hosts 10.1.2.3
    """, Exact("::1             localhost ip6-localhost ip6-loopback\n10.1.2.3        db.internal db\n"
               "10.1.2.3        db.internal db\n")),
    sh("dev-nodes", """
        for n in null zero full random urandom tty; do test -c /dev/$n && echo $n; done
        head -c 4 /dev/zero | od -An -tx1
        echo x > /dev/null && echo null-ok
        echo x 2>/dev/null > /dev/full || echo "full status $?"
        head -c 32 /dev/urandom | wc -c
        test -L /dev/fd && ls /dev/fd/ > /dev/null && echo dev-fd
        test -d /dev/shm && touch /dev/shm/x && echo shm
    """, Exact("null\nzero\nfull\nrandom\nurandom\ntty\n 00 00 00 00\nnull-ok\nfull status 1\n32\ndev-fd\nshm\n")),

    # the zone's /tmp and /dev/shm are tmpfs its init mounts: they were the
    # overflow id's (nobody) in a zone run by root, whose root could not chmod
    # them (services sweep)
    sh("tmpfs-owned-by-root", """
        stat -c '%u:%g %a' /tmp /dev/shm
        chmod 1777 /tmp && echo chmod-ok
    """, Exact("0:0 1777\n0:0 1777\nchmod-ok\n")),

    # ---- python3 --------------------------------------------------------------------
    # issue 15: a server reached from the host: natively on the chroot's
    # loopback, in the zone through --net private -p HOSTPORT:8080
    py("python3-http-server-published", """
        import hashlib, http.server, sys
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"hello from the server\\n" if self.path == "/hello" else bytes(range(256)) * 4096
                self.reply(body)
            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"]))
                self.reply(hashlib.sha256(data).hexdigest().encode())
            def reply(self, body):
                print(self.command, self.path, flush=True)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        server = http.server.HTTPServer(("0.0.0.0", 8080), Handler)
        server.timeout = 30
        server.handle_timeout = lambda: sys.exit("no client in 30 s")
        for _ in range(3):
            server.handle_request()
        print("served 3 requests")
    """, Exact("GET /hello\nPOST /echo\nGET /big\nserved 3 requests\n"
               "client: hello from the server\n"
               "client: echo ok\n"
               "client: big 1048576 bytes ok\n"),
       port=8080, timeout=60.0, client=textwrap.dedent("""
        import hashlib, http.client, sys, time
        host, port = sys.argv[1].rsplit(":", 1)
        def get(path, body=None):
            c = http.client.HTTPConnection(host, int(port), timeout=10)
            c.request("POST" if body else "GET", path, body)
            r = c.getresponse()
            data = r.read()
            c.close()
            return r.status, data
        deadline = time.monotonic() + 30
        while True:            # until the server listens
            try:
                status, data = get("/hello")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        print("client:", data.decode(), end="")
        payload = bytes(range(256)) * 1000
        status, data = get("/echo", payload)
        print("client: echo", "ok" if data == hashlib.sha256(payload).hexdigest().encode() else data)
        status, data = get("/big")
        ok = data == bytes(range(256)) * 4096
        print(f"client: big {len(data)} bytes", "ok" if ok else "differ")
    """)),
    # a daemon as cron, atd and sshd make themselves one (fork, setsid, fork:
    # an orphan of the zone's init, in a session it does not lead), serving a
    # unix socket whose client it names by SO_PEERCRED, as PostgreSQL's peer
    # authentication does (services sweep)
    py("python3-daemon-peercred", """
        import os, socket, struct, time
        path = "/tmp/d.sock"
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                s = socket.socket(socket.AF_UNIX)
                s.bind(path)
                s.listen()
                open("/tmp/d.ready", "w").close()
                c, _ = s.accept()
                pid, uid, gid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, 17, 12))
                client = int(c.recv(16))
                c.send(f"{os.getsid(0) == os.getpid()} {os.getppid()} {uid} {gid} {pid == client}".encode())
                os._exit(0)
            os._exit(0)
        os.wait()
        while not os.path.exists("/tmp/d.ready"):
            time.sleep(0.02)
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        c.send(str(os.getpid()).encode())
        print(c.recv(100).decode())
    """, Exact("False 1 0 0 True\n")),

    py("python3-sqlite3", """
        import sqlite3, threading
        db = "/tmp/t.db"
        c = sqlite3.connect(db)
        print(c.execute("pragma journal_mode=wal").fetchone()[0])
        c.execute("create table t(id integer primary key, v text, n integer)")
        with c:
            c.executemany("insert into t(v, n) values (?, ?)", ((f"row{i}", i * i) for i in range(20000)))
        c.execute("create index t_n on t(n)")
        results = []
        def reader():
            r = sqlite3.connect(db)
            results.append(r.execute("select count(*), sum(n) from t").fetchone())
            r.close()
        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads: t.start()
        with c:
            c.execute("update t set n = n + 1 where id % 2 = 0")
        for t in threads: t.join()
        print(len(results), all(r[0] == 20000 for r in results))
        print(c.execute("select count(*), min(v), max(v), sum(n) from t").fetchone())
        print(c.execute("pragma integrity_check").fetchone()[0])
        c.execute("vacuum into '/tmp/copy.db'")
        print(sqlite3.connect("/tmp/copy.db").execute("select count(*) from t where n > 1000000").fetchone()[0])
        print(sqlite3.sqlite_version.split(".")[0])
    """, Exact("wal\n4 True\n(20000, 'row0', 'row9999', 2666466680000)\nok\n18999\n3\n")),
    sh("sqlite3-cli", """
        set -e
        sqlite3 /tmp/cli.db 'create table kv(k text primary key, v int);
            insert into kv values ("a", 1), ("b", 2), ("c", 3);
            select group_concat(k, ","), sum(v) from kv;'
        echo 'select count(*) from kv;' | sqlite3 -batch /tmp/cli.db
        sqlite3 /tmp/cli.db .dump | grep -c INSERT
        sqlite3 /tmp/cli.db 'select * from nosuchtable' 2>&1 || echo "status $?"
    """, Regex(r"\Aa,b,c\|6\n3\n3\n(Parse error|Error): [^\n]*no such table: nosuchtable\n(?s:.*)status 1\n\Z"),
        same=True),
    py("python3-multiprocessing", """
        import multiprocessing as mp
        def square(x):
            return x * x
        if __name__ == "__main__":
            for method in ("fork", "spawn", "forkserver"):
                ctx = mp.get_context(method)
                with ctx.Pool(3) as pool:
                    total = sum(pool.map(square, range(1000)))
                q = ctx.Queue()
                p = ctx.Process(target=q.put, args=(method,))
                p.start(); got = q.get(timeout=30); p.join()
                print(method, total, got, p.exitcode)
    """, Exact("fork 332833500 fork 0\nspawn 332833500 spawn 0\nforkserver 332833500 forkserver 0\n")),
    py("python3-http-loopback", """
        import http.server, socket, threading, urllib.request
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = f"hello {self.path}".encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body)))
                self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        for path in ("/a", "/b"):
            with urllib.request.urlopen(url + path, timeout=10) as r:
                print(r.status, r.read().decode())
        srv.shutdown()
        a, b = socket.socketpair()
        a.sendall(b"x" * 100000); a.shutdown(socket.SHUT_WR)
        n = 0
        while chunk := b.recv(65536): n += len(chunk)
        print("socketpair", n)
        u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); u.bind("/tmp/u.sock")
        v = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); v.sendto(b"dgram", "/tmp/u.sock")
        print(u.recv(10).decode())
        s6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
        c6 = socket.create_connection(("::1", s6.getsockname()[1])); conn, _ = s6.accept()
        c6.sendall(b"six"); print(conn.recv(3).decode())
    """, Exact("200 hello /a\n200 hello /b\nsocketpair 100000\ndgram\nsix\n")),
    stdlib("python3-stdlib-os-files",
           "test_os test_posix test_stat test_fileio test_file test_tempfile test_shutil test_glob "
           "test_pathlib test_pwd test_grp test_resource test_fcntl test_mmap test_pty test_time "
           "test_getpass test_platform",
           {"test_disk_usage": "shutil.disk_usage('/usr/lib/python3.11/test') is 0 bytes used: both sides "
                               "see the overlay's fresh tmpfs upper layer (the run's throw-away writes)",
            **{t: "as root it chowns to uid 2**31, which a zone does not map (ids 0-65535; EINVAL as in "
                  "any user namespace: docs/DIFFERENCES.md)" for t in ("test_chown", "test_fchown", "test_lchown")}}),
    stdlib("python3-stdlib-processes",
           "test_subprocess test_signal test_threading test_sched",
           {"test_siginterrupt_off": "waits out a 30 s timeout by design; test_siginterrupt_on and "
                                     "test_without_siginterrupt run"}),
    stdlib("python3-stdlib-sockets",
           "test_logging test_socket test_selectors test_eintr test_select test_epoll test_poll",
           {"*VSOCK*": "AF_VSOCK tests hang in accept() natively on a VM host with /dev/vsock",
            "testGetServBy": "needs /etc/services (netbase), which minbase lacks",
            "testGetaddrinfo": "resolves the service 'http': /etc/services again",
            "test_poll2": "sleeps 10 s by design"}),
    stdlib("python3-stdlib-io-exec",
           "test_io test_fork1 test_wait3 test_wait4 test_threadsignals test_cmd_line "
           "test_cmd_line_script test_sys",
           {}),
    stdlib("python3-stdlib-archives",
           "test_zipfile test_tarfile test_gzip test_zlib",
           {}),

    # ---- perl ---------------------------------------------------------------------------
    Case("perl-fork-pipe", ("perl", "-MDigest::SHA=sha256_hex", "-e", textwrap.dedent("""
        print sha256_hex("lxbrand"), "\\n";
        pipe(my $r, my $w) or die;
        my $pid = fork // die;
        if ($pid == 0) { close $r; print $w "from child\\n"; exit 5 }
        close $w; print scalar <$r>; waitpid($pid, 0); print "child ", $? >> 8, "\\n";
        opendir(my $d, "/proc/self/fd") or die; my @fds = grep { /^\\d+$/ } readdir $d;
        print "fds ", scalar(@fds) >= 3 ? "ok" : "missing", "\\n";
    """)), Exact("9305676f6e9a3372e8773983e8691807c3746da4fdd89b35a77a0e6870101ae7\nfrom child\nchild 5\nfds ok\n")),

    # ---- language runtimes (the runtimes sweep, /work/notes/sweep-runtimes.md) ----------------
    # perl's ithreads with a shared variable and a queue, a TCP server on loopback talking to a
    # forked child and to a thread, File::Temp, %SIG, and the kill of a child
    Case("perl-threads-sockets", ("sh", "-c", "cat > /tmp/prog.pl && exec perl /tmp/prog.pl"),
         Exact("threads 55 385\nsocket ping\nchild 3\nthread says from thread\ntempdir 700\nUSR1 1\n"
               "killed by 15\n"),
         input=textwrap.dedent(r"""
            use strict; use warnings;
            use threads; use threads::shared; use Thread::Queue;
            use IO::Socket::INET; use File::Temp qw(tempdir); use Time::HiRes qw(sleep);
            my $sum :shared = 0;
            my $q = Thread::Queue->new;
            my @t = map { threads->create(sub { my $n = shift; { lock($sum); $sum += $n } $q->enqueue($n * $n) }, $_) } 1..10;
            $_->join for @t; $q->end;
            my $sq = 0; while (defined(my $x = $q->dequeue)) { $sq += $x }
            print "threads $sum $sq\n";
            my $srv = IO::Socket::INET->new(Listen => 5, LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp") or die "listen: $!";
            my $port = $srv->sockport;
            my $pid = fork // die;
            if ($pid == 0) { my $c = IO::Socket::INET->new("127.0.0.1:$port") or die; print $c "ping\n"; my $a = <$c>; exit($a eq "pong\n" ? 3 : 4) }
            my $cl = $srv->accept; my $got = <$cl>; print $cl "pong\n"; close $cl; waitpid($pid, 0);
            print "socket $got", "child ", $? >> 8, "\n";
            my $th = threads->create(sub { my $c = IO::Socket::INET->new("127.0.0.1:$port") or die; print $c "from thread\n"; close $c; 1 });
            my $c2 = $srv->accept; print "thread says ", scalar <$c2>; $th->join;
            my $d = tempdir(CLEANUP => 1); printf "tempdir %o\n", (stat $d)[2] & 07777;
            my $usr1 = 0; local $SIG{USR1} = sub { $usr1++ }; kill "USR1", $$; sleep 0.05 until $usr1; print "USR1 $usr1\n";
            my $kid = fork // die; if ($kid == 0) { sleep 30; exit 0 } kill "TERM", $kid; waitpid($kid, 0); print "killed by ", $? & 127, "\n";
         """).lstrip().encode()),
    # a venv (python3-venv's ensurepip is not in the rootfs: --without-pip) with a package of its
    # own; multiprocessing spawn and forkserver from the venv's interpreter (the children run it
    # too); asyncio subprocesses: exec, shell, terminate, twenty at once
    py("python3-venv-multiprocessing-asyncio", """
        import asyncio, os, subprocess, sys
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "/tmp/v"], check=True)
        site = subprocess.run(["/tmp/v/bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        os.makedirs(os.path.join(site, "hello_lxb"))
        with open(os.path.join(site, "hello_lxb", "__init__.py"), "w") as f:
            f.write("def hi(): return 'hi from the venv'\\n")
        print(subprocess.run(["/tmp/v/bin/python", "-c", "import sys, hello_lxb; "
                              "print(sys.prefix, sys.prefix != sys.base_prefix, hello_lxb.hi())"],
                             capture_output=True, text=True, check=True).stdout.strip())
        with open("/tmp/mp.py", "w") as f:
            f.write("import multiprocessing as mp, sys\\n"
                    "def f(x):\\n"
                    "    import hello_lxb\\n"
                    "    return x * x, sys.prefix\\n"
                    "if __name__ == '__main__':\\n"
                    "    for m in ('spawn', 'forkserver'):\\n"
                    "        with mp.get_context(m).Pool(2) as p:\\n"
                    "            r = p.map(f, range(10))\\n"
                    "        print(m, sum(a for a, _ in r), sorted({b for _, b in r}))\\n")
        print(subprocess.run(["/tmp/v/bin/python", "/tmp/mp.py"], capture_output=True, text=True, check=True).stdout.strip())
        async def main():
            p = await asyncio.create_subprocess_exec("sh", "-c", "echo out; echo err >&2; exit 4",
                                                     stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await p.communicate()
            print("exec", out.decode().strip(), err.decode().strip(), p.returncode)
            p = await asyncio.create_subprocess_shell("cat; exit 2", stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE)
            out, _ = await p.communicate(b"piped")
            print("shell", out.decode(), p.returncode)
            p = await asyncio.create_subprocess_exec("sleep", "30")
            p.terminate()
            print("terminated", await p.wait())
            ps = await asyncio.gather(*(asyncio.create_subprocess_exec("true") for _ in range(20)))
            print("twenty", sorted({await x.wait() for x in ps}))
        asyncio.run(main())
    """, Exact("/tmp/v True hi from the venv\nspawn 285 ['/tmp/v']\nforkserver 285 ['/tmp/v']\n"
               "exec out err 4\nshell piped 2\nterminated -15\ntwenty [0]\n")),

    # ---- dpkg, users ----------------------------------------------------------------------
    Case("dpkg-status-bash", ("dpkg", "-s", "bash"),
         Regex(r"\APackage: bash\nEssential: yes\nStatus: install ok installed\n(?s:.*)^Version: 5\.2\."),
         same=True),
    sh("dpkg-query-verify", """
        dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' bash coreutils dash
        dpkg -S /usr/bin/sort
        dpkg -L sed | grep -x /bin/sed
        dpkg --verify bash && echo "bash verified"
        dpkg -s no-such-package > /dev/null 2>&1; echo "missing status $?"
        dpkg-query -W -f='.' | wc -c | awk '{print ($1 > 50)}'
    """, Exact("bash ii \ncoreutils ii \ndash ii \ncoreutils: /usr/bin/sort\n/bin/sed\nbash verified\n"
               "missing status 1\n1\n")),
    sh("dpkg-build-install-remove", """
        set -e; umask 022
        mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/bin /tmp/pkg/etc
        printf 'Package: lxb-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: lxbrand <lxb@example.org>\nDescription: test\n' > /tmp/pkg/DEBIAN/control
        printf '#!/bin/sh\necho hello from a package\n' > /tmp/pkg/usr/bin/lxb-hello && chmod 755 /tmp/pkg/usr/bin/lxb-hello
        echo conf=1 > /tmp/pkg/etc/lxb-hello.conf && echo /etc/lxb-hello.conf > /tmp/pkg/DEBIAN/conffiles
        printf '#!/bin/sh\nset -e\n[ "$1" = configure ] && echo postinst ran > /tmp/postinst\nexit 0\n' > /tmp/pkg/DEBIAN/postinst
        chmod 755 /tmp/pkg/DEBIAN/postinst
        dpkg-deb --root-owner-group -Zgzip --build /tmp/pkg /tmp/lxb-hello.deb > /dev/null
        dpkg-deb -f /tmp/lxb-hello.deb Package Version
        dpkg -i /tmp/lxb-hello.deb > /dev/null
        lxb-hello; cat /tmp/postinst
        dpkg-query -W -f='${Status}\n' lxb-hello
        stat -c '%U:%G %a' /usr/bin/lxb-hello
        dpkg -r lxb-hello > /dev/null
        test ! -e /usr/bin/lxb-hello && test -e /etc/lxb-hello.conf && echo "removed, conffile kept"
        dpkg -P lxb-hello > /dev/null && test ! -e /etc/lxb-hello.conf && echo purged
    """, Exact("Package: lxb-hello\nVersion: 1.0\nhello from a package\npostinst ran\n"
               "install ok installed\nroot:root 755\nremoved, conffile kept\npurged\n")),
    # issue 15: removal under --ephemeral (the zone's overlay must remove
    # non-empty directories of the rootfs: rmdir, rename and a package purge),
    # and the rootfs on disk must not change
    sh("dpkg-apt-remove-ephemeral", """
        set -e; umask 022
        mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/share/lxb-rm/a/b
        printf 'Package: lxb-rm\nVersion: 1.0\nArchitecture: all\nMaintainer: lxbrand <lxb@example.org>\nDescription: test\n' > /tmp/pkg/DEBIAN/control
        echo data > /tmp/pkg/usr/share/lxb-rm/a/b/file
        dpkg-deb --root-owner-group -Zgzip --build /tmp/pkg /tmp/lxb-rm.deb > /dev/null
        dpkg -i /tmp/lxb-rm.deb > /dev/null && cat /usr/share/lxb-rm/a/b/file
        dpkg -P lxb-rm > /dev/null && test ! -e /usr/share/lxb-rm && echo "lxb-rm purged"
        apt-get purge -y iproute2 > /tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
        dpkg -s iproute2 > /dev/null 2>&1 || echo "iproute2 purged"
        for p in /usr/bin/ip /etc/iproute2 /usr/share/doc/iproute2 /usr/lib/x86_64-linux-gnu/tc; do
            test ! -e $p || echo "$p still there"
        done
        apt-get remove -y sqlite3 > /tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
        test ! -e /usr/bin/sqlite3 && test ! -e /usr/share/doc/sqlite3 && echo "sqlite3 removed"
        mv /usr/share/perl5/File /usr/share/perl5/File.moved && test -f /usr/share/perl5/File.moved/Find/Rule.pm
        rm -r /usr/share/perl5/File.moved /usr/share/doc/perl && echo "renamed and removed trees"
        dpkg --audit && echo "dpkg audit clean"
    """, Exact("data\nlxb-rm purged\niproute2 purged\nsqlite3 removed\nrenamed and removed trees\ndpkg audit clean\n"),
       timeout=60.0,
       unchanged=("/usr/bin/ip", "/etc/iproute2", "/usr/share/doc/iproute2", "/usr/bin/sqlite3",
                  "/usr/share/doc/sqlite3", "/usr/share/perl5", "/usr/share/doc/perl", "/usr/share/lxb-rm",
                  "/var/lib/dpkg", "/var/cache/apt")),
    sh("users-getent-id", """
        getent passwd root nobody
        getent group root nogroup
        id; whoami; id -un 65534; id -G
        setpriv --reuid=65534 --regid=65534 --clear-groups id
        su -s /bin/sh -c 'id -u; touch /tmp/by-nobody' nobody && stat -c '%U:%G' /tmp/by-nobody
        getent passwd no-such-user; echo "getent status $?"
    """, Exact("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
               "root:x:0:\nnogroup:x:65534:\n"
               "uid=0(root) gid=0(root) groups=0(root)\nroot\nnobody\n0\n"
               "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
               "65534\nnobody:nogroup\ngetent status 2\n")),

    # ---- 100 MB through pipelines ---------------------------------------------------------------
    sh("pipeline-100M-gzip", "head -c 100M /dev/zero | gzip -1 | gzip -d | wc -c",
       Exact("104857600\n")),
    sh("pipeline-100M-dd-sha256", "dd if=/dev/zero bs=1M count=100 status=none | cat | sha256sum",
       Exact(f"{ZEROS_100M_SHA256}  -\n")),
    bash("pipeline-100M-random-tee", """
        set -e
        head -c 100M /dev/urandom > /tmp/r
        sha256sum < /tmp/r > /tmp/want
        cat /tmp/r | tee >(sha256sum > /tmp/tee) | gzip -1 | gzip -dc | sha256sum > /tmp/got
        while [ ! -s /tmp/tee ]; do sleep 0.05; done
        cmp /tmp/want /tmp/got && cmp /tmp/want /tmp/tee && echo "three checksums match"
        stat -c %s /tmp/r
    """, Exact("three checksums match\n104857600\n")),
]


def by_name() -> dict[str, Case]:
    names = [c.name for c in CASES]
    dups = {n for n in names if names.count(n) > 1}
    assert not dups, f"duplicate case names: {sorted(dups)}"
    return {c.name: c for c in CASES}
