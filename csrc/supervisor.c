/*
 * supervisor.c: the brand's notification loop and its C handlers.
 *
 * OVERVIEW
 *
 *   The seccomp filter (filter.c) lets pass-through syscalls run in the
 *   kernel and answers denied ones there; only emulated and translated
 *   syscalls reach this loop, through the zone's user-notification listener.
 *   Each is answered by a C handler (the hot ones: uname, sethostname,
 *   setdomainname) or by an upcall to Python (lxb_py_dispatch, implemented in
 *   lxbrand/_csup.py), chosen per syscall number from the dispatch arrays that
 *   Python fills from the table (syscalls/table.py).
 *
 * THE LOOP
 *
 *   Receive; preset the response to fail (ENOSYS); copy every pointer
 *   argument the handler needs, once; check SECCOMP_IOCTL_NOTIF_ID_VALID
 *   before acting on what was read (the thread may have died and its tid been
 *   reused); act; send.  A handler that decided anything from guest memory
 *   performs the operation itself; it never answers CONTINUE.
 *
 *   SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6) makes the kernel wake
 *   the supervisor on the guest's CPU and switch to it, which takes a round
 *   trip from ~20 us to ~7 us on a two-CPU guest.
 *
 * FAILING CLOSED
 *
 *   Any error of the listener other than a vanished notification stops the
 *   loop with -errno; lxbrand kills the zone and says why.  When the loop
 *   is gone, the kernel fails every notified syscall with ENOSYS: nothing
 *   meant for the supervisor ever runs unchecked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lxbrand.h"
#include "zone_proto.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

#define CAP_SYS_ADMIN_BIT 21

/* ---- guest memory ---- */

int64_t lxb_read_mem(uint32_t pid, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
    return n < 0 ? -errno : n;
}

int64_t lxb_write_mem(uint32_t pid, uint64_t addr, const void *buf, size_t len)
{
    struct iovec local = {(void *)buf, len}, remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_writev((pid_t)pid, &local, 1, &remote, 1, 0);
    return n < 0 ? -errno : n;
}

int lxb_notif_valid(int listener_fd, uint64_t id)
{
    return ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 ? 0 : -errno;
}

int lxb_addfd(int listener_fd, uint64_t id, int host_fd, uint32_t newfd_flags)
{
    struct seccomp_notif_addfd a;
    int rc;

    memset(&a, 0, sizeof a);
    a.id = id;
    a.srcfd = (uint32_t)host_fd;
    a.newfd_flags = newfd_flags;
    rc = ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    return rc < 0 ? -errno : rc;
}

/* the calling thread's effective capabilities hold CAP_SYS_ADMIN
   (in its own user namespace, which is the zone's) */
static int has_cap_sys_admin(uint32_t pid)
{
    char path[64], line[256];
    unsigned long long caps = 0;
    FILE *f;
    int found = 0;

    snprintf(path, sizeof path, "/proc/%u/status", pid);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1) {
            found = 1;
            break;
        }
    fclose(f);
    if (!found)
        return -ESRCH;
    return (caps >> CAP_SYS_ADMIN_BIT) & 1;
}

/* ---- C handlers ---- */

struct new_utsname_x {
    char sysname[LXB_UTS_LEN];
    char nodename[LXB_UTS_LEN];
    char release[LXB_UTS_LEN];
    char version[LXB_UTS_LEN];
    char machine[LXB_UTS_LEN];
    char domainname[LXB_UTS_LEN];
};

/* uname(2): the zone's names and kernel personality; EFAULT on a bad buf */
static void sys_uname(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct new_utsname_x u;
    int64_t n;

    memcpy(u.sysname, s->sysname, LXB_UTS_LEN);
    memcpy(u.nodename, s->nodename, LXB_UTS_LEN);
    memcpy(u.release, s->release, LXB_UTS_LEN);
    memcpy(u.version, s->version, LXB_UTS_LEN);
    memcpy(u.machine, s->machine, LXB_UTS_LEN);
    memcpy(u.domainname, s->domainname, LXB_UTS_LEN);
    /* check before writing: never write into a reused tid */
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        r->error = ENOENT;
        return;
    }
    n = lxb_write_mem(c->pid, c->args[0], &u, sizeof u);
    if (n != (int64_t)sizeof u) {
        r->error = EFAULT;
        return;
    }
    r->error = 0;
    r->val = 0;
}

/* sethostname(2)/setdomainname(2): EPERM without CAP_SYS_ADMIN in the zone,
   checked first as Linux does, then EINVAL past 64 bytes (len is an int);
   the zone's init renames the zone's UTS namespace, so
   /proc/sys/kernel/hostname agrees with uname */
static void set_uts_name(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r, int op,
                         char *field)
{
    struct lxb_agent_req req;
    struct lxb_agent_rep rep;
    int64_t len = (int32_t)c->args[1];
    int cap;

    cap = has_cap_sys_admin(c->pid);
    if (cap <= 0) {
        r->error = cap == 0 ? EPERM : ESRCH;
        return;
    }
    if (len < 0 || len > LXB_UTS_LEN - 1) {
        r->error = EINVAL;
        return;
    }
    memset(&req, 0, sizeof req);
    req.op = op;
    if (len > 0 && lxb_read_mem(c->pid, c->args[0], req.text, (size_t)len) != len) {
        r->error = EFAULT;
        return;
    }
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        r->error = ENOENT;
        return;
    }
    if (send(s->agent_fd, &req, sizeof req, MSG_NOSIGNAL) != sizeof req ||
        recv(s->agent_fd, &rep, sizeof rep, 0) != sizeof rep) {
        r->error = EIO;
        return;
    }
    if (rep.rc < 0) {
        r->error = -rep.rc;
        return;
    }
    memset(field, 0, LXB_UTS_LEN);
    memcpy(field, req.text, (size_t)len);
    r->error = 0;
    r->val = 0;
}

static void sys_sethostname(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    set_uts_name(s, c, r, LXB_AGENT_SETHOSTNAME, s->nodename);
}

static void sys_setdomainname(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    set_uts_name(s, c, r, LXB_AGENT_SETDOMAINNAME, s->domainname);
}

typedef void (*c_handler_fn)(struct lxb_sup *, const struct lxb_call *, struct lxb_reply *);

static const c_handler_fn c_handlers[] = {
    [LXB_C_UNAME] = sys_uname,
    [LXB_C_SETHOSTNAME] = sys_sethostname,
    [LXB_C_SETDOMAINNAME] = sys_setdomainname,
};

/* ---- the loop ---- */

int lxb_sup_init(struct lxb_sup *s, int listener_fd, int agent_fd)
{
    uint64_t flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;

    s->listener_fd = listener_fd;
    s->agent_fd = agent_fd;
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0)
        return -errno;
    /* older kernels lack it (EINVAL); the loop works without, only slower */
    if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) != 0 && errno != EINVAL &&
        errno != ENOTTY)
        return -errno;
    return 0;
}

int lxb_sup_stop(struct lxb_sup *s)
{
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof one) != sizeof one)
        return -errno;
    return 0;
}

int lxb_supervise(struct lxb_sup *s)
{
    struct seccomp_notif_sizes sizes;
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    struct lxb_call call;
    struct lxb_reply reply;
    int rc = 0;

    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
        rc = -errno;
        goto out;
    }
    req = calloc(1, sizes.seccomp_notif > sizeof *req ? sizes.seccomp_notif : sizeof *req);
    resp = calloc(1, sizes.seccomp_notif_resp > sizeof *resp ? sizes.seccomp_notif_resp : sizeof *resp);
    if (!req || !resp) {
        rc = -ENOMEM;
        goto out;
    }

    for (;;) {
        struct pollfd pfd[2] = {{s->listener_fd, POLLIN, 0}, {s->stop_fd, POLLIN, 0}};
        int nr, kind;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        if (pfd[1].revents & POLLIN)
            goto out;
        if (pfd[0].revents & POLLNVAL) {
            rc = -EBADF; /* the listener was closed under us */
            goto out;
        }
        if (!(pfd[0].revents & POLLIN)) {
            if (pfd[0].revents & (POLLHUP | POLLERR))
                goto out; /* every task under the filter is gone */
            continue;
        }
        memset(req, 0, sizes.seccomp_notif);
        if (ioctl(s->listener_fd, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
            if (errno == EINTR || errno == ENOENT)
                continue;
            rc = -errno;
            goto out;
        }
        memset(resp, 0, sizes.seccomp_notif_resp);
        resp->id = req->id;
        nr = req->data.nr;

        call.id = req->id;
        call.pid = req->pid;
        call.nr = nr;
        memcpy(call.args, req->data.args, sizeof call.args);
        call.ip = req->data.instruction_pointer;
        call.listener_fd = s->listener_fd;
        reply.val = 0;
        reply.error = ENOSYS; /* fail unless a handler answers */
        reply.flags = 0;

        kind = (nr >= 0 && nr < LXB_NR_MAX) ? s->kind[nr] : LXB_KIND_NONE;
        if (kind == LXB_KIND_C) {
            unsigned id = s->c_handler[nr];
            if (id < sizeof c_handlers / sizeof c_handlers[0] && c_handlers[id])
                c_handlers[id](s, &call, &reply);
        } else if (kind == LXB_KIND_PY) {
            lxb_py_dispatch(s->py_handle, &call, &reply);
        }

        if (reply.flags & LXB_REPLY_CONTINUE) {
            resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        } else if (reply.error) {
            resp->error = -reply.error;
        } else {
            resp->val = reply.val;
        }
        if (ioctl(s->listener_fd, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) {
            /* ENOENT: the thread was interrupted or died meanwhile; EINPROGRESS:
               answered already through ADDFD|SEND */
            if (errno != ENOENT && errno != EINPROGRESS) {
                rc = -errno;
                goto out;
            }
        }
        s->notified++;
    }
out:
    free(req);
    free(resp);
    s->last_error = rc;
    return rc;
}

/* ---- the terminal ---- */

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
