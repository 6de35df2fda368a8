/*
 * pty.c: the terminal relay of a zone run with a tty.
 *
 * OVERVIEW
 *
 *   With --tty the guest's stdio is the slave of a pty that the zone's init
 *   made; lxrun holds the master and copies bytes both ways between it and
 *   its own terminal, in C and without the GIL, until the guest is gone (the
 *   master reads EIO once every slave fd is closed) or lxrun stops it.
 *
 * JOB CONTROL
 *
 *   lxrun is then the user's job, and the guest the zone's terminal's
 *   foreground job (zone_init.c): when the guest stops, lxrun gives the
 *   user's terminal back only after the relay has copied what the guest
 *   wrote before it stopped (vim and less put the screen back first), and
 *   a lxrun continued in the background (`bg`) reads EIO from the terminal
 *   (its SIGTTIN is blocked): the relay then leaves input alone for a
 *   while and tries again, as it may be the foreground job again (`fg`).
 *
 * AN EOF BEFORE THE TERMINAL GOES RAW
 *
 *   A terminal in canonical mode keeps an EOF typed to it (^D, or the one
 *   script(1) sends when its input ends) as a mark that a read returns as
 *   0 bytes; made raw, the terminal hands the mark out as a NUL byte (n_tty's
 *   __DISABLED_CHAR), which the relay would copy to the guest as data (its
 *   terminal echoed "^@").  lxrun takes the marks before it makes its
 *   terminal raw (lxb_tty_take_eofs), and the relay gives the guest its own
 *   terminal's EOF character for each, as typed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lxbrand.h"

/* EOF marks taken from the terminal, not yet given to the guest */
static int eofs_pending;

int lxb_tty_take_eofs(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    struct termios t;
    int n = 0, avail;
    char c;

    /* the foreground's only: a background job's read would stop it */
    if (tcgetattr(fd, &t) != 0 || !(t.c_lflag & ICANON) || tcgetpgrp(fd) != getpgrp())
        return 0;
    /* readable with nothing to read: the next thing is a mark (FIONREAD
       skips marks), which one read takes (0 bytes); a line typed ahead, and
       what follows it, stay for the relay */
    while (n < 64 && poll(&pfd, 1, 0) == 1 && pfd.revents == POLLIN && ioctl(fd, FIONREAD, &avail) == 0 &&
           avail == 0 && read(fd, &c, 1) == 0)
        n++;
    __atomic_add_fetch(&eofs_pending, n, __ATOMIC_RELAXED);
    return n;
}

/* the guest's EOF character, once for each mark taken */
static void give_eofs(int master_fd)
{
    int n = __atomic_exchange_n(&eofs_pending, 0, __ATOMIC_RELAXED);
    struct termios t;
    char c = 4;          /* ^D, Linux's default VEOF */

    if (n > 0 && tcgetattr(master_fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
        c = (char)t.c_cc[VEOF];
    while (n-- > 0)
        if (write(master_fd, &c, 1) < 0 && errno != EINTR)
            break;
}

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
    int in_open = 1, in_paused = 0;

    for (;;) {
        struct pollfd pfd[3] = {{master_fd, POLLIN, 0}, {in_open && !in_paused ? in_fd : -1, POLLIN, 0},
                                {stop_fd, POLLIN, 0}};
        int n;

        give_eofs(master_fd);
        n = poll(pfd, 3, in_paused ? 200 : -1);
        if (n == 0)
            in_paused = 0;
        if (n < 0) {
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
            int rc = copy_once(in_fd, master_fd);
            if (rc == -EIO)
                in_paused = 1;   /* a background job's read of its terminal */
            else if (rc < 0)
                in_open = 0;
        }
        if (pfd[2].revents & POLLIN)
            return 0;
    }
}

void lxb_pty_drain(int master_fd, int timeout_ms)
{
    struct timespec pause = {0, 2 * 1000 * 1000};
    int left = timeout_ms, quiet = 0, n;

    /* twice empty, 2 ms apart: the relay has also written what it read */
    while (left > 0 && quiet < 2) {
        if (ioctl(master_fd, FIONREAD, &n) != 0)
            return;
        quiet = n == 0 ? quiet + 1 : 0;
        nanosleep(&pause, NULL);
        left -= 2;
    }
}
