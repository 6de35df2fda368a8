"""The BPF holder's set reused run after run (csrc/bpftrace.c THE HOLDER):
the holder attaches its programs for the run that took its set, detaches
them when that run hangs up (its end, or lxrun killed), and empties every
map before the next run; nothing of lxrun --trace stays attached after
lxrun has gone, served or not, killed or not."""
import json
import os
import signal
import subprocess
import time

import pytest

from test_trace_bpf import (FRONT, HANDOVER, PROGRAMS, SERVED, gone, held_trace, holder_pid,  # noqa: F401
                            holder_ready, needs_bpf, no_holder, same, served_trace, start_holder, trace,
                            wait_for)

PROGS = {"bt_sys_enter", "bt_sys_exit", "bt_fork", "bt_exit", "bt_signal", "bt_generate"}
# a guest that makes calls until it is killed (bounded, should nothing kill it)
BUSY = ["sh", "-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); echo x >/dev/null; done"]


def fd_ids(pid, kind):
    """{id} of the bpf maps ("map_id") or programs ("prog_id") that pid holds."""
    ids = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fdinfo"):
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    for line in f:
                        if line.startswith(kind + ":"):
                            ids.add(int(line.split()[1]))
            except OSError:
                pass
    except OSError:
        pass
    return ids


def attached(prog_ids):
    """The raw tracepoint links (bpftool link) of any of prog_ids."""
    out = subprocess.run(["bpftool", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [lk for lk in json.loads(out or "[]") if lk.get("prog_id") in prog_ids]


def detached(prog_ids, timeout=5.0):
    return wait_for(lambda: not attached(prog_ids), timeout=timeout) and not attached(prog_ids)


def bpftool_or_skip():
    if subprocess.run(["which", "bpftool"], capture_output=True).returncode != 0:
        pytest.skip("bpftool is not installed")


def start_busy(rootfs, tmp_path, mark, **env):
    """A traced run of BUSY by the front door, still running (its stderr
    in p.err)."""
    out = tmp_path / "busy.trace"
    if out.exists():
        out.unlink()
    pid = holder_pid()
    if pid:
        wait_for(lambda: holder_ready(pid))
    e = dict(os.environ, LXBRAND_TRACE="bpf", LXRUN_DEBUG_FRONTDOOR="1", LXBRAND_BPF_DEBUG="1",
             LXB_TEST_MARK=mark, **env)
    err = tmp_path / "busy.err"
    with open(err, "w") as f:
        p = subprocess.Popen([FRONT, "--trace", "-o", str(out), rootfs, *BUSY], env=e, stdout=subprocess.DEVNULL,
                             stderr=f)
    p.err = err
    # running: its trace grows
    assert wait_for(lambda: out.exists() and out.stat().st_size > 20000 or p.poll() is not None, timeout=20)
    assert p.poll() is None, err.read_text()
    return p


@needs_bpf
def test_the_holder_reuses_its_set_and_the_next_run_starts_empty(rootfs, tmp_path, no_holder):
    """Served runs take the same set (the same maps, no load between
    them); a run killed in the middle of a stream of calls leaves records
    in the ring and tasks in the maps, and the next run on that set traces
    exactly what ptrace traces: nothing of the killed run's."""
    bpftool_or_skip()
    args = [rootfs, *PROGRAMS["fork-exec"]]
    pp, ptrace = trace(FRONT, "ptrace", args, tmp_path, check_front=False)
    holder = start_holder(args, tmp_path, no_holder)
    assert wait_for(lambda: holder_ready(holder))
    maps, progs = fd_ids(holder, "map_id"), fd_ids(holder, "prog_id")
    assert maps and progs
    _, bpf = served_trace(args, tmp_path, no_holder)
    same(bpf, ptrace)
    assert holder_pid() == holder and wait_for(lambda: holder_ready(holder))
    assert fd_ids(holder, "map_id") == maps and fd_ids(holder, "prog_id") == progs     # reused, not reloaded
    assert detached(progs)
    # a run killed amid its guest's calls: its set is the holder's, attached
    for _ in range(3):
        busy = start_busy(rootfs, tmp_path, no_holder)
        if attached(progs):
            break
        busy.kill()                                                               # not served: busy
        busy.communicate()
    assert attached(progs), busy.err.read_text()
    busy.kill()
    busy.communicate()
    assert detached(progs)
    assert wait_for(lambda: holder_ready(holder))
    for _ in range(3):
        p, bpf = held_trace(args, tmp_path, no_holder)
        if SERVED in p.stderr:
            break
        time.sleep(0.2)
    assert SERVED in p.stderr, p.stderr
    assert holder_pid() == holder and fd_ids(holder, "map_id") == maps                # the same set again
    assert p.returncode == pp.returncode == 0 and "lost" not in p.stderr, p.stderr
    same(bpf, ptrace)
    assert detached(progs)


@needs_bpf
def test_nothing_stays_attached_after_lxrun_served_or_not_killed_or_not(rootfs, tmp_path, no_holder):
    """After lxrun --trace has gone, no program of its run is on a
    tracepoint: the holder's (its hang-up detaches them), and a run's own
    set (LXBRAND_BPF_HOLDER=0: its links die with it, or with the
    grandchild that closes them), whether it ended or was SIGKILLed."""
    bpftool_or_skip()
    args = [rootfs, *PROGRAMS["fork-exec"]]
    # its own set: the ids of its programs, seen while it runs
    busy = start_busy(rootfs, tmp_path, no_holder, LXBRAND_BPF_HOLDER="0")
    own = fd_ids(busy.pid, "prog_id")
    assert own and attached(own), busy.err.read_text()
    busy.kill()
    busy.communicate()
    assert detached(own)
    busy = start_busy(rootfs, tmp_path, no_holder, LXBRAND_BPF_HOLDER="0")
    own = fd_ids(busy.pid, "prog_id")
    assert own and attached(own), busy.err.read_text()
    busy.send_signal(signal.SIGTERM)        # forwarded to the guest: lxrun ends as usual
    busy.communicate()
    assert detached(own)
    # the holder's
    holder = start_holder(args, tmp_path, no_holder)
    assert wait_for(lambda: holder_ready(holder))
    progs = fd_ids(holder, "prog_id")
    assert progs and not attached(progs)                                          # idle: not attached
    p, _ = served_trace(args, tmp_path, no_holder)
    assert detached(progs)
    for _ in range(3):
        busy = start_busy(rootfs, tmp_path, no_holder)
        if attached(progs):
            break
        busy.kill()                                                               # not served: busy
        busy.communicate()
    assert attached(progs) and not fd_ids(busy.pid, "prog_id"), busy.err.read_text()  # lxrun holds no program
    busy.kill()
    busy.communicate()
    assert detached(progs)


# ---- the stats holder: --stats alone served a held set of csrc/bpf/stats.bpf.c ----
# the same holder code (csrc/bpftrace.c THE HOLDER, kind lxb_stats_kind of
# csrc/perfstats.c) on its own socket; LXBRAND_BPF_DEBUG says "lxrun:
# stats: holder: answered" / "holder: none (why)", then "loaded (the
# holder's set)" when the run took it.

STATS_SOCK = "/run/lxbrand/stats.sock"
STATS_SERVED = "lxrun: stats: loaded (the holder's set)"


def stats_holder_pid():
    import socket
    import struct
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(STATS_SOCK)
            return struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    except OSError:
        return None


def retire_stats_holder():
    """A hello of another object (hash 0): answered ESTALE, the holder goes."""
    import socket
    import struct
    pid = stats_holder_pid()
    if not pid:
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(STATS_SOCK)
            s.send(struct.pack("=IIQ136s", 0x6c786268, 0, 0, b"?"))
            s.settimeout(5)
            s.recv(4096)
    except OSError:
        pass
    assert wait_for(lambda: gone(pid)), pid


@pytest.fixture
def no_stats_holder():
    """No stats holder at the start, none of the test's left at the end."""
    import uuid
    retire_stats_holder()
    mark = uuid.uuid4().hex
    yield mark
    retire_stats_holder()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "lxb-bpf-stats":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"LXB_TEST_MARK={mark}".encode() in f.read().split(b"\0") and not gone(pid):
                    os.kill(int(pid), 9)
        except OSError:
            pass


def stats_run(args, tmp_path, mark, **env):
    """(process, {syscall: (calls, errors)}) of the front door's --stats
    alone (again when it was handed to Python: a build meanwhile)."""
    out = tmp_path / "stats.json"
    e = dict(os.environ, LXBRAND_BPF_DEBUG="1", LXRUN_DEBUG_FRONTDOOR="1", LXB_TEST_MARK=mark, **env)
    e.pop("LXBRAND_STATS", None)
    pid = stats_holder_pid()
    if pid:
        wait_for(lambda: holder_ready(pid))
    for _ in range(3):
        if out.exists():
            out.unlink()
        p = subprocess.run([FRONT, "--stats", "--stats-format", "json", "-o", str(out), *args], env=e,
                           capture_output=True, text=True, timeout=300)
        if HANDOVER not in p.stderr:
            break
    assert HANDOVER not in p.stderr, p.stderr
    st = json.loads(out.read_text())
    assert "lost_events" not in st, p.stderr
    return p, {k: (v["calls"], v["errors"]) for k, v in st.items()}


def start_stats_holder(args, tmp_path, mark):
    p, _ = stats_run(args, tmp_path, mark)
    assert "lxrun: stats: holder: none (No such file or directory)" in p.stderr, p.stderr
    pid = wait_for(stats_holder_pid)
    assert pid, p.stderr
    assert wait_for(lambda: holder_ready(pid))
    return pid


def served_stats(args, tmp_path, mark):
    """A run the stats holder serves (another session's --stats run may
    have its set: asked again, up to 3 times)."""
    for _ in range(3):
        p, counts = stats_run(args, tmp_path, mark)
        if STATS_SERVED in p.stderr:
            break
        time.sleep(0.2)
    assert STATS_SERVED in p.stderr, p.stderr
    return p, counts


@needs_bpf
def test_a_held_stats_set_counts_what_a_fresh_load_counts(rootfs, tmp_path, no_stats_holder):
    """--stats alone served by the stats holder: the same set run after run
    (the same maps and programs, none loaded between), counting what a
    set loaded for the run counts (LXBRAND_BPF_HOLDER=0), call for call
    and errno for errno; not attached between runs."""
    from test_stats_perf import DETERMINISTIC, TIMING
    from test_stats_perf import same as same_counts
    bpftool_or_skip()
    args = [rootfs, *DETERMINISTIC["sh-loop"]]
    p, fresh = stats_run(args, tmp_path, no_stats_holder, LXBRAND_BPF_HOLDER="0")
    assert "holder" not in p.stderr and "lxrun: stats: load" in p.stderr, p.stderr
    holder = start_stats_holder(args, tmp_path, no_stats_holder)
    maps, progs = fd_ids(holder, "map_id"), fd_ids(holder, "prog_id")
    assert len(progs) == 5 and maps and not attached(progs)
    for _ in range(2):
        p, held = served_stats(args, tmp_path, no_stats_holder)
        assert p.returncode == 0, p.stderr
        same_counts(held, fresh, ignore=TIMING)
        assert detached(progs)
        assert stats_holder_pid() == holder and wait_for(lambda: holder_ready(holder))
        assert fd_ids(holder, "map_id") == maps and fd_ids(holder, "prog_id") == progs   # reused


@needs_bpf
def test_the_run_after_a_sigkilled_stats_run_shows_none_of_its_counts(rootfs, tmp_path, no_stats_holder):
    """lxrun --stats killed by SIGKILL amid a stream of writes, served by
    the holder: the holder detaches the programs once lxrun has gone and
    empties the maps (the per-CPU counts, the histogram, the errnos, the
    task tables); the next run on the same set counts what a fresh load
    counts, none of the killed run's calls."""
    from test_stats_perf import DETERMINISTIC, TIMING
    from test_stats_perf import same as same_counts
    bpftool_or_skip()
    args = [rootfs, *DETERMINISTIC["sh-loop"]]
    _, fresh = stats_run(args, tmp_path, no_stats_holder, LXBRAND_BPF_HOLDER="0")
    holder = start_stats_holder(args, tmp_path, no_stats_holder)
    maps, progs = fd_ids(holder, "map_id"), fd_ids(holder, "prog_id")
    busy_argv = [FRONT, "--stats", "-o", str(tmp_path / "busy.stats"), rootfs,
                 "sh", "-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); echo x >/dev/null; "
                 "ls /nonexist-$i 2>/dev/null; done"]
    e = dict(os.environ, LXBRAND_BPF_DEBUG="1", LXRUN_DEBUG_FRONTDOOR="1", LXB_TEST_MARK=no_stats_holder)
    e.pop("LXBRAND_STATS", None)
    for _ in range(3):
        wait_for(lambda: holder_ready(holder))
        err = tmp_path / "busy.err"
        with open(err, "w") as f:
            busy = subprocess.Popen(busy_argv, env=e, stdout=subprocess.DEVNULL, stderr=f)
        wait_for(lambda: STATS_SERVED in err.read_text() or busy.poll() is not None, timeout=20)
        if STATS_SERVED in err.read_text() and attached(progs):
            break
        busy.kill()                                   # not served (another run had the set)
        busy.wait()
    assert STATS_SERVED in err.read_text() and busy.poll() is None, err.read_text()
    time.sleep(1.0)                                   # thousands of writes, openat's ENOENTs, forks
    busy.kill()
    assert busy.wait(timeout=30) == -9
    assert detached(progs)                            # lxrun gone: nothing attached
    assert wait_for(lambda: holder_ready(holder))
    p, after = served_stats(args, tmp_path, no_stats_holder)
    assert fd_ids(holder, "map_id") == maps           # the same set, emptied, not a fresh load
    same_counts(after, fresh, ignore=TIMING)
    assert detached(progs)


@needs_bpf
def test_a_zone_served_by_the_stats_holder_sees_no_holder(rootfs, tmp_path, no_stats_holder):
    """A --stats run served by the stats holder: no socket, no BPF fd in
    the zone (the set's fds wait in the connection's queue until the
    zone's init is cloned), the holder's directory is not in it."""
    cmd = ["sh", "-c", "ls -l /proc/self/fd/ /proc/1/fd/ 2>&1; ls -la /run/lxbrand 2>&1; "
           "grep TracerPid /proc/self/status; cat /proc/net/unix 2>&1 | grep -c lxbrand"]
    start_stats_holder([rootfs, "true"], tmp_path, no_stats_holder)
    for _ in range(3):
        p = subprocess.run([FRONT, "--stats", "-o", str(tmp_path / "s"), rootfs, *cmd], capture_output=True,
                           text=True, timeout=120, env=dict(os.environ, LXBRAND_BPF_DEBUG="1",
                                                            LXB_TEST_MARK=no_stats_holder))
        if STATS_SERVED in p.stderr:
            break
        time.sleep(0.2)
    assert STATS_SERVED in p.stderr, p.stderr
    assert "bpf" not in p.stdout and "socket:" not in p.stdout and "TracerPid:\t0" in p.stdout, p.stdout
    assert "No such file or directory" in p.stdout and p.stdout.rstrip().endswith("0"), p.stdout
