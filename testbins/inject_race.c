/*
 * inject_race: a guest that races lxrun --inject's path filter.
 *
 * One thread flips a path buffer between an allowed path and a denied one
 * while the main thread opens whatever the buffer holds.  Run under
 * `--inject openat:error=EACCES:path=DENIED`, no open may ever return the
 * denied file: the supervisor decides on a copy of the path and performs the
 * open with that copy (csrc/inject.c, PATHS), never CONTINUE.
 *
 *   inject_race ALLOWED DENIED [ROUNDS]
 *
 * Prints "allowed N denied N other N leaked N"; exits 1 when leaked > 0.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[4096];
static char paths[2][4096];
static volatile int stop;

static void *flipper(void *arg)
{
    (void)arg;
    unsigned long k = 0;
    while (!stop) {
        /* a byte at a time would make paths that name nothing: whole copies,
           each left in place for a moment, half the time each */
        memcpy(buf, paths[k++ & 1], sizeof buf);
        for (volatile int spin = 0; spin < 2000; spin++)
            ;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct stat allowed, denied, st;
    long rounds = argc > 3 ? atol(argv[3]) : 20000, i, n_allowed = 0, n_denied = 0, n_other = 0, leaked = 0;
    pthread_t t;

    if (argc < 3) {
        fprintf(stderr, "usage: inject_race ALLOWED DENIED [ROUNDS]\n");
        return 2;
    }
    if (stat(argv[1], &allowed) != 0 || stat(argv[2], &denied) != 0) {
        perror("stat");
        return 2;
    }
    strncpy(paths[0], argv[1], sizeof paths[0] - 1);
    strncpy(paths[1], argv[2], sizeof paths[1] - 1);
    memcpy(buf, paths[0], sizeof buf);
    pthread_create(&t, NULL, flipper, NULL);
    for (i = 0; i < rounds; i++) {
        int fd = openat(AT_FDCWD, buf, O_RDONLY);
        if (fd < 0) {
            n_denied++;
            continue;
        }
        if (fstat(fd, &st) == 0 && st.st_dev == denied.st_dev && st.st_ino == denied.st_ino)
            leaked++;
        else if (fstat(fd, &st) == 0 && st.st_dev == allowed.st_dev && st.st_ino == allowed.st_ino)
            n_allowed++;
        else
            n_other++;
        close(fd);
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("allowed %ld denied %ld other %ld leaked %ld\n", n_allowed, n_denied, n_other, leaked);
    return leaked ? 1 : 0;
}
