/*
 * fr_escape: a hostile guest of a --fakeroot zone (tests/security/test_fakeroot_paths.py).
 *
 *   fr_escape HOSTDIR
 *
 * Under --fakeroot the supervisor performs chown and mknod itself, as the
 * user who runs lxrun, in the host's mount namespace: a path it resolved out
 * of the zone would let the guest record owners on (set xattrs of, chmod)
 * and create files in the user's host files.  HOSTDIR is a host directory
 * (its path means nothing in the zone); every attempt aims at HOSTDIR/victim
 * or a new HOSTDIR/node through "..", /proc/self/root, /proc/PID/cwd, a
 * chroot and a process outside it, a dirfd kept across the chroot, and a
 * directory swapped for a symlink while the calls run.  The test looks at
 * HOSTDIR on the host; this prints what each call answered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static const char *host;

static void try_path(const char *prefix)
{
    char victim[4096], node[4096];
    int a, b;

    snprintf(victim, sizeof victim, "%s%s/victim", prefix, host);
    snprintf(node, sizeof node, "%s%s/node", prefix, host);
    a = chown(victim, 0, 0) == 0 ? 0 : errno;
    b = mknod(node, S_IFCHR | 0644, makedev(1, 3)) == 0 ? 0 : errno;
    printf("%s: chown %s, mknod %s\n", victim, a ? strerror(a) : "ok", b ? strerror(b) : "ok");
}

static volatile int flipping = 1;

static void *flip(void *arg)
{
    (void)arg;
    while (flipping)
        syscall(SYS_renameat2, AT_FDCWD, "/tmp/fr-a", AT_FDCWD, "/tmp/fr-b", RENAME_EXCHANGE);
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *prefixes[] = {"", "/../../../../../..", "/proc/self/root/../../../..",
                                     "/proc/self/cwd/../../../..", "/proc/thread-self/root/../..",
                                     "/dev/fd/3/../../../..", "/proc/1/root", "/proc/1/cwd/../.."};
    struct stat st;
    pthread_t t;
    int i, ok = 0, dfd;
    pid_t pid;

    if (argc != 2)
        return 2;
    host = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    /* the control: a file of the zone is recorded */
    if (chown("/etc/passwd", 5, 7) == 0 && stat("/etc/passwd", &st) == 0 && st.st_uid == 5 && st.st_gid == 7)
        printf("control: chown recorded\n");
    dfd = open("/", O_PATH | O_DIRECTORY);
    if (dfd != 3) {
        dup2(dfd, 3);
        close(dfd);
        dfd = 3;
    }
    for (i = 0; i < (int)(sizeof prefixes / sizeof prefixes[0]); i++)
        try_path(prefixes[i]);

    /* a chroot, and the zone's root reached again from inside it */
    mkdir("/tmp/jail", 0755);
    mkdir("/tmp/jail/proc", 0755);
    mkdir("/tmp/jail/tmp", 01777);
    if (mount("/proc", "/tmp/jail/proc", NULL, MS_BIND | MS_REC, NULL) != 0)
        printf("rbind /proc: %s\n", strerror(errno));
    pid = fork();
    if (pid == 0) {
        char prefix[64];
        if (chroot("/tmp/jail") != 0 || chdir("/") != 0) {
            printf("chroot: %s\n", strerror(errno));
            _exit(1);
        }
        snprintf(prefix, sizeof prefix, "/proc/%d/root/../../..", (int)getppid());
        try_path(prefix);
        snprintf(prefix, sizeof prefix, "/proc/%d/cwd/../../..", (int)getppid());
        try_path(prefix);
        {
            char victim[4096];
            snprintf(victim, sizeof victim, "../../../..%s/victim", host);
            printf("fchownat(dirfd of the zone's root, %s): %s\n", victim,
                   fchownat(dfd, victim, 0, 0, 0) == 0 ? "ok" : strerror(errno));
        }
        _exit(0);
    }
    /* stays outside the chroot until the child is done (its /proc/PPID/root) */
    waitpid(pid, NULL, 0);

    /* a directory swapped for a symlink to HOSTDIR (text: in the zone, it is
       resolved inside) while chown and mknod run through it */
    mkdir("/tmp/fr-a", 0755);
    if (symlink(host, "/tmp/fr-b") != 0)
        printf("symlink: %s\n", strerror(errno));
    pthread_create(&t, NULL, flip, NULL);
    for (i = 0; i < 20000; i++) {
        if (chown("/tmp/fr-a/victim", 0, 0) == 0)
            ok++;
        mknod("/tmp/fr-a/node", S_IFCHR | 0644, makedev(1, 3));
        unlink("/tmp/fr-a/node");
    }
    flipping = 0;
    pthread_join(t, NULL);
    printf("race: %d chowns answered ok\n", ok);
    printf("done\n");
    return 0;
}
