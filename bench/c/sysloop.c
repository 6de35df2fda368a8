/*
 * sysloop.c: the guest side of the syscall-bound workloads (w1, w2, w3, w8,
 * w9).  Static, so that it runs the same in every runner's rootfs.  It times
 * its own loop with CLOCK_MONOTONIC, so that the start-up of the runner (a
 * zone, bwrap, proot) is excluded, and prints one JSON line:
 *
 *   {"op":"uname","n":100000,"ns":812345678,"check":"zone"}
 *
 * usage:
 *   sysloop stat N PATH            N stat(PATH)                      (w1)
 *   sysloop files N DIR NFILES     N open/read/close of DIR/f%04d    (w2)
 *   sysloop forkexec N PATH        N fork + execve(PATH) + waitpid   (w3)
 *   sysloop uname N                N uname(): emulated in C by the brand (w8)
 *   sysloop threads T N            T threads, each N getppid() (w10: a slow
 *                                  Python handler, answered concurrently)
 *   sysloop getppid N [EXPECT]     N getppid(): a Python handler in w9; with
 *                                  EXPECT, exit 3 unless every call returned it
 *
 * The syscalls are made with syscall(2), never a libc wrapper that could
 * cache an answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "sysloop: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void report(const char *op, long n, uint64_t ns, const char *check)
{
    printf("{\"op\":\"%s\",\"n\":%ld,\"ns\":%llu,\"check\":\"%s\"}\n", op, n,
           (unsigned long long)ns, check);
    fflush(stdout);
}

static int do_stat(long n, const char *path)
{
    struct stat st;
    char check[32];
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (syscall(SYS_stat, path, &st) != 0)
            die(path);
    uint64_t t1 = now_ns();
    snprintf(check, sizeof check, "%lld", (long long)st.st_size);
    report("stat", n, t1 - t0, check);
    return 0;
}

static int do_files(long n, const char *dir, long nfiles)
{
    char path[4096], buf[4096];
    long total = 0;
    char check[32];
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%04ld", dir, i % nfiles);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die(path);
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0)
            die("read");
        total += r;
        close(fd);
    }
    uint64_t t1 = now_ns();
    snprintf(check, sizeof check, "%ld", total);
    report("files", n, t1 - t0, check);
    return 0;
}

static int do_forkexec(long n, const char *path)
{
    char *const argv[] = {(char *)path, NULL};
    char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            execve(path, argv, envp);
            _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid)
            die("waitpid");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "sysloop: %s: status %#x\n", path, st);
            return 2;
        }
    }
    uint64_t t1 = now_ns();
    report("forkexec", n, t1 - t0, "ok");
    return 0;
}

static int do_uname(long n)
{
    struct utsname u;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (syscall(SYS_uname, &u) != 0)
            die("uname");
    uint64_t t1 = now_ns();
    report("uname", n, t1 - t0, u.nodename);
    return 0;
}

static int do_getppid(long n, long expect)
{
    long bad = 0, last = 0;
    char check[32];
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        last = syscall(SYS_getppid);
        bad += expect >= 0 && last != expect;
    }
    uint64_t t1 = now_ns();
    snprintf(check, sizeof check, "%ld", last);
    report("getppid", n, t1 - t0, check);
    if (bad) {
        fprintf(stderr, "sysloop: getppid returned %ld, not %ld, %ld times\n", last, expect, bad);
        return 3;
    }
    return 0;
}

static void *getppid_thread(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    return NULL;
}

static int do_threads(long t, long n)
{
    pthread_t th[64];
    char check[32];
    if (t < 1 || t > 64)
        return 2;
    uint64_t t0 = now_ns();
    for (long i = 0; i < t; i++)
        if (pthread_create(&th[i], NULL, getppid_thread, (void *)n) != 0)
            die("pthread_create");
    for (long i = 0; i < t; i++)
        pthread_join(th[i], NULL);
    uint64_t t1 = now_ns();
    snprintf(check, sizeof check, "%ld", t * n);
    report("threads", t * n, t1 - t0, check);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sysloop stat|files|forkexec|uname|getppid N [ARGS]\n");
        return 2;
    }
    const char *op = argv[1];
    long n = atol(argv[2]);
    if (!strcmp(op, "stat") && argc == 4)
        return do_stat(n, argv[3]);
    if (!strcmp(op, "files") && argc == 5)
        return do_files(n, argv[3], atol(argv[4]));
    if (!strcmp(op, "forkexec") && argc == 4)
        return do_forkexec(n, argv[3]);
    if (!strcmp(op, "uname") && argc == 3)
        return do_uname(n);
    if (!strcmp(op, "threads") && argc == 4)
        return do_threads(n, atol(argv[3]));
    if (!strcmp(op, "getppid") && (argc == 3 || argc == 4))
        return do_getppid(n, argc == 4 ? atol(argv[3]) : -1);
    fprintf(stderr, "sysloop: bad arguments for %s\n", op);
    return 2;
}
