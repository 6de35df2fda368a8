/*
 * timeit.c: run a command inside the guest and report how long it took, as
 * seen from inside (CLOCK_MONOTONIC around fork/execve/wait), so that a
 * runner's own start-up and tear-down are excluded, and the CPU time (user +
 * system, from wait4) of the command and the processes it reaped, which time
 * spent waiting for a CPU that other work on the machine holds does not
 * inflate.  Static.  Prints one line on stderr after the command ends:
 *
 *   LXBENCH elapsed_ns=12345678 status=0 cpu_ns=12000000
 *
 * and exits with the command's status (128+N if signal N killed it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: timeit CMD [ARGS...]\n");
        return 125;
    }
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "timeit: fork: %s\n", strerror(errno));
        return 125;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "timeit: %s: %s\n", argv[1], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "timeit: waitpid: %s\n", strerror(errno));
            return 125;
        }
    uint64_t t1 = now_ns();
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    uint64_t cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                   (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
    fprintf(stderr, "LXBENCH elapsed_ns=%llu status=%d cpu_ns=%llu\n", (unsigned long long)(t1 - t0), code,
            (unsigned long long)cpu);
    return code;
}
