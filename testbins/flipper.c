/*
 * flipper: a hostile writer of a tree that lxrun walks on the host
 * (tests/security/test_outputs.py, the export).
 *
 *   flipper SECONDS A1 B1 [A2 B2 ...]
 *
 * Swaps each Ai and Bi atomically (renameat2 RENAME_EXCHANGE), again and
 * again, for SECONDS: a directory and a symlink to a host directory, or a
 * file and a symlink to a host file, trade names faster than a walk by
 * path can look at one and then use it.  It is what the guest of a zone on
 * that tree (the same user) could run; here it runs as that user on the
 * host, so that the test needs no zone beside the walk.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv)
{
    struct timespec t0, now;
    unsigned long swaps = 0;
    int i;

    if (argc < 4 || argc % 2)
        return 2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("flipping\n");
    fflush(stdout);
    do {
        for (i = 2; i + 1 < argc; i += 2)
            if (syscall(SYS_renameat2, AT_FDCWD, argv[i], AT_FDCWD, argv[i + 1], RENAME_EXCHANGE) == 0)
                swaps++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - t0.tv_sec < atoi(argv[1]));
    printf("swaps %lu\n", swaps);
    return 0;
}
