/*
 * nschroot.c: the benchmark's "native" runner, run on the host as root:
 * chroot(8) into ROOT, but in a private mount namespace with a fresh tmpfs on
 * ROOT/tmp and proc on ROOT/proc, so that a native guest writes to a tmpfs as
 * a zone's (and bwrap's --tmpfs /tmp) does.  Nothing is mounted outside the
 * namespace, which ends with the command.  No fork: the command replaces it.
 *
 * usage: nschroot ROOT CMD [ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, "nschroot: %s %s: %s\n", what, arg, strerror(errno));
    return 125;
}

int main(int argc, char **argv)
{
    char path[4096];

    if (argc < 3) {
        fprintf(stderr, "usage: nschroot ROOT CMD [ARGS...]\n");
        return 125;
    }
    const char *root = argv[1];
    if (unshare(CLONE_NEWNS) != 0)
        return fail("unshare", "CLONE_NEWNS");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return fail("make private", "/");
    snprintf(path, sizeof path, "%s/tmp", root);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
        return fail("mount tmpfs on", path);
    snprintf(path, sizeof path, "%s/proc", root);
    if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return fail("mount proc on", path);
    if (chroot(root) != 0)
        return fail("chroot", root);
    if (chdir("/") != 0)
        return fail("chdir", "/");
    execvp(argv[2], argv + 2);
    return fail("execvp", argv[2]);
}
