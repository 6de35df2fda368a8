"""lxbrand's benchmarks: `make bench` (python3 -m bench), issue 6.

The same workloads run in the same Debian rootfs natively (chroot), under
bubblewrap, under PRoot, under strace and in an lxrun zone, interleaved in one
run (round-robin across runners in every repetition), and are reported as
medians and ratios to native in bench/RESULTS.md and bench/results.json.

    python3 -m bench                        # everything -> bench/RESULTS.md
    python3 -m bench --quick                # fewer repetitions, smaller counts
    python3 -m bench --only w1,w8 --runners native,lxrun
    python3 -m bench --list                 # workloads, sections and runners

The parts:
  build.py       compiles bench/c/*.c (static, gcc) into bench/build/ and
                 installs the guest programs and data into ROOT/opt/lxbrand-bench/
  runners.py     how each runner starts a guest command in the rootfs
  workloads.py   w1-w9: what runs in the guest and how its output is read
  measure.py     the timing loops: workloads, zone start-up, memory, mech.c
  report.py      RESULTS.md and results.json
  zone_driver.py runs a guest in a Zone with a Python handler (w9)
  probe.py       where lxrun's start-up time goes, phase by phase
"""
import os

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
C_DIR = os.path.join(BENCH_DIR, "c")
BUILD_DIR = os.path.join(BENCH_DIR, "build")
GUEST_DIR = "/opt/lxbrand-bench"   # inside the rootfs, the same for every runner


class BenchError(Exception):
    """The benchmark cannot run: a tool, compiler or rootfs is missing."""
