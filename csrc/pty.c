/*
 * pty.c: the terminal relay of a zone run with a tty.
 *
 * OVERVIEW
 *
 *   With --tty the guest's stdio is the slave of a pty that the zone's init
 *   made; lxrun holds the master and copies bytes both ways between it and
 *   its own terminal, in C and without the GIL, until the guest is gone (the
 *   master reads EIO once every slave fd is closed) or lxrun stops it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "lxbrand.h"

static int copy_once(int from, int to)
{
    char buf[8192];
    ssize_t n = read(from, buf, sizeof buf), off = 0;
    if (n <= 0)
        return n == 0 ? -EPIPE : -errno;
    while (off < n) {
        ssize_t w = write(to, buf + off, n - off);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        off += w;
    }
    return 0;
}

int lxb_pty_relay(int in_fd, int out_fd, int master_fd, int stop_fd)
{
    int in_open = 1;

    for (;;) {
        struct pollfd pfd[3] = {{master_fd, POLLIN, 0}, {in_open ? in_fd : -1, POLLIN, 0},
                                {stop_fd, POLLIN, 0}};
        if (poll(pfd, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            /* EIO: every slave fd is closed, the guest is gone */
            if (copy_once(master_fd, out_fd) < 0)
                return 0;
        }
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (copy_once(in_fd, master_fd) < 0)
                in_open = 0;
        }
        if (pfd[2].revents & POLLIN)
            return 0;
    }
}
