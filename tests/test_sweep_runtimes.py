"""What the real-software sweep of language runtimes and toolchains found in
lxrun itself (/work/notes/sweep-runtimes.md); --fakeroot's findings are in
tests/test_fakeroot_runtimes.py.
"""
import pytest

MISSING = "/nonexistent-h36/dir/out"


@pytest.mark.parametrize("opts", [("--trace", "-o", MISSING), ("--stats", "-o", MISSING),
                                  (f"--report={MISSING}",)],
                         ids=["trace", "stats", "report"])
def test_an_output_file_that_cannot_be_opened_is_named(lxrun, rootfs, opts):
    """DESIGN.md: errors name the thing.  `lxrun --trace -o FILE` with FILE in a
    directory that does not exist said only "lxrun: No such file or directory"
    (the OSError's filename was dropped), leaving the user to guess which path."""
    r = lxrun(*opts, rootfs, "true")
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert r.stderr == f"lxrun: {MISSING}: No such file or directory\n"
