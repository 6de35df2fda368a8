/*
 * preload_marker.so (a library: testbins/lib/, not one of the static programs
 * testbins/Makefile builds from testbins/*.c): a hostile LD_PRELOAD for tests/security/test_lxbrand_init.py.
 *
 * Its constructor appends the path of every program that loads it to the
 * file named by $LXB_PRELOAD_MARKER.  The test sets both variables in the
 * environment of a Python process that starts a zone: lxbrand-init, which
 * that process spawns to clone the zone's init, must run with none of them
 * (csrc/launcher.c spawn_starter), so the marker never names it.
 *
 *   cc -shared -fPIC -o preload_marker.so preload_marker.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void mark(void)
{
    const char *marker = getenv("LXB_PRELOAD_MARKER");
    char exe[512], line[600];
    ssize_t n;
    int fd, len;

    if (!marker)
        return;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n < 0 ? 0 : n] = 0;
    len = snprintf(line, sizeof line, "loaded in %s\n", exe);
    fd = open(marker, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0) {
        if (write(fd, line, (size_t)len) != len) {
            /* a test helper: nothing to do */
        }
        close(fd);
    }
}
