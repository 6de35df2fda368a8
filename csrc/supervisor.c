/*
 * supervisor.c: the brand's notification loop and its C handlers.
 *
 * OVERVIEW
 *
 *   The seccomp filter (filter.c) lets pass-through syscalls run in the
 *   kernel and answers denied ones there; only emulated and translated
 *   syscalls reach this loop, through the zone's user-notification listener.
 *   Each is answered by a C handler (LXB_C_<NAME>: uname under an emulated
 *   kernel release) or by an upcall to Python (lxb_py_dispatch, implemented
 *   in lxbrand/_csup.py), chosen per syscall number from the dispatch arrays
 *   that Python fills from the table.  sethostname and setdomainname are the
 *   kernel's, in the zone's own UTS namespace: nothing here keeps a copy of
 *   the zone's names.
 *
 * RECEIVERS
 *
 *   Several threads run lxb_supervise on one struct lxb_sup, so that one slow
 *   Python handler holds one receiver, not the zone.  One receiver at a time
 *   owns the listener (recv_lock): it polls, receives, and answers in C while
 *   it holds it, so C-handled calls cost no hand-over; before an upcall to
 *   Python it lets the listener go to the next receiver, and takes its turn
 *   again afterwards.  Only the owner receives: NOTIF_RECV blocks while no
 *   notification is pending, and a receiver blocked there would never see the
 *   stop eventfd.  Stop makes the eventfd readable for good, so every receiver
 *   sees it in turn.  A receiver inside a Python handler is not waited for
 *   (lxbrand/supervisor.py): the listener descriptor is the supervisor's own
 *   dup, closed by lxb_sup_close once the last receiver is out, so a late
 *   answer never lands on a descriptor number reused meanwhile.
 *
 * THE LOOP
 *
 *   Receive; preset the response to fail (ENOSYS); copy every pointer
 *   argument the handler needs, once; check SECCOMP_IOCTL_NOTIF_ID_VALID
 *   before acting on what was read (the thread may have died and its tid been
 *   reused); act; send.  A handler that decided anything from guest memory
 *   performs the operation itself; it never answers CONTINUE.  EINTR from
 *   poll or RECV is retried; ENOENT from RECV or SEND means the caller was
 *   interrupted or died meanwhile, and its answer is dropped.  (The filter is
 *   loaded with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV where the kernel has
 *   it, so once received, only a fatal signal ends the caller's wait.)
 *
 *   SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6) makes the kernel wake
 *   the supervisor on the guest's CPU and switch to it, which takes a round
 *   trip from ~20 us to ~7 us on a two-CPU guest.
 *
 * UNAME
 *
 *   uname(2) reaches the supervisor only under --kernel-release.  The answer
 *   is the caller's own: nodename and domainname from the UTS namespace the
 *   calling thread is in (the zone's, or one it unshared), sysname, release,
 *   version and machine from the brand.  The receiver joins the caller's UTS
 *   namespace with setns(2), which is per thread, and stays there until a
 *   caller in another one comes (compared by the namespace's inode).
 *   Reading which namespace the caller is in (readlink of /proc/TID/ns/uts)
 *   costs more than the rest of the call, so each receiver keeps, per
 *   calling thread, the namespace it found (uts_kept, no lock): a thread
 *   changes its own UTS namespace only by unshare(2) or setns(2), which a
 *   zone that notifies uname also notifies (sys_unshare, sys_setns bump
 *   uts_epoch, forgetting all that was kept, then CONTINUE); a thread made
 *   by clone(CLONE_NEWUTS) is a new tid; and a tid, reused only after
 *   pid_max others, is trusted only briefly (uts_keep_ns).  setns
 *   of a UTS namespace needs CAP_SYS_ADMIN in our own user namespace too, so
 *   lxrun run by an ordinary user cannot; each receiver then has a helper
 *   process in the zone's user namespace that can (helper_uname).
 *
 * FAILING CLOSED
 *
 *   Any error of the listener other than a vanished notification stops that
 *   receiver with -errno; lxbrand kills the zone and says why.  When the
 *   listener is gone, the kernel fails every notified syscall with ENOSYS:
 *   nothing meant for the supervisor ever runs unchecked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lxbrand.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

struct lxb_sup_priv {
    pthread_mutex_t recv_lock;   /* held by the receiver that owns the listener */
    int uts_setns;               /* 0 once setns of a UTS namespace was refused (EPERM) */
    uint64_t uts_epoch;          /* bumped by unshare and setns: what receivers kept is stale */
    uint64_t uts_keep_ns;        /* how long a kept namespace is trusted (tid reuse) */
};

/* the UTS namespace this receiver thread is in: its inode number */
static __thread unsigned long long joined_uts_inum;

/* the UTS namespace each calling thread was last found in, per receiver
   (no lock): tid, the namespace's inode, the epoch it was read in, and until
   when it is trusted (UNAME) */
#define UTS_KEPT 64
struct uts_kept {
    uint32_t tid;
    unsigned long long inum;
    uint64_t epoch;
    uint64_t until_ns;
};
static __thread struct uts_kept uts_kept[UTS_KEPT];

/* ---- guest memory ---- */

int64_t lxb_read_mem(uint32_t pid, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
    return n < 0 ? -errno : n;
}

int lxb_read_path(uint32_t pid, uint64_t addr, char *buf, size_t len)
{
    size_t got = 0;

    if (addr == 0)
        return -EFAULT;
    while (got < len) {
        size_t chunk = 4096 - ((addr + got) & 4095);
        int64_t n;
        char *nul;

        if (chunk > len - got)
            chunk = len - got;
        n = lxb_read_mem(pid, addr + got, buf + got, chunk);
        if (n <= 0)
            return -EFAULT;
        nul = memchr(buf + got, 0, (size_t)n);
        if (nul)
            return (int)(nul - buf);
        got += (size_t)n;
    }
    return -ENAMETOOLONG;
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

int lxb_addfd_send(int listener_fd, uint64_t id, int host_fd, uint32_t newfd_flags)
{
    struct seccomp_notif_addfd a;
    int rc;

    memset(&a, 0, sizeof a);
    a.id = id;
    a.flags = SECCOMP_ADDFD_FLAG_SEND;
    a.srcfd = (uint32_t)host_fd;
    a.newfd_flags = newfd_flags;
    rc = ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    return rc < 0 ? -errno : rc;
}

/* ---- the caller's UTS names ---- */

/* A receiver that may not setns(2) (lxrun run by an ordinary user) asks its
   helper: a process it forks on first need, which joins the zone's outermost
   user namespace (ours to join: we own it, and there we hold every capability
   over the zone's namespaces; a thread of a multi-threaded process may not
   join a user namespace), then the caller's UTS namespace, sent with
   SCM_RIGHTS when it changes, and answers uname.  One per receiver thread, so
   receivers never wait for each other; it ends when its socket closes (the
   receiver's end, at the end of lxb_supervise) or the receiver thread dies
   (PR_SET_PDEATHSIG). */
static __thread pid_t helper_pid = -1;
static __thread int helper_sock = -1;
static __thread unsigned long long helper_inum; /* the UTS namespace it is in */

struct helper_reply {
    int err;
    struct utsname names;
};

/* the zone's outermost user namespace: the ancestor of the one that owns
   uts_fd whose parent is ours */
static int zone_userns(int uts_fd)
{
    struct stat own, st;
    int fd, parent, rc;

    if (stat("/proc/self/ns/user", &own) != 0)
        return -errno;
    fd = ioctl(uts_fd, NS_GET_USERNS);
    if (fd < 0)
        return -errno;
    for (;;) {
        parent = ioctl(fd, NS_GET_PARENT);
        if (parent < 0 || fstat(parent, &st) != 0) {
            rc = -errno;
            if (parent >= 0)
                close(parent);
            close(fd);
            return rc;
        }
        if (st.st_ino == own.st_ino && st.st_dev == own.st_dev) {
            close(parent);
            return fd;
        }
        close(fd);
        fd = parent;
    }
}

static __attribute__((noreturn)) void helper_main(int sock, int userns_fd)
{
    struct helper_reply rep;
    int lo = sock < userns_fd ? sock : userns_fd, hi = sock < userns_fd ? userns_fd : sock;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* hold nothing of lxrun's: not a pipe that someone waits to see closed */
    if (lo > 0)
        close_range(0, lo - 1, 0);
    if (hi > lo + 1)
        close_range(lo + 1, hi - 1, 0);
    close_range(hi + 1, ~0U, 0);
    if (setns(userns_fd, CLONE_NEWUSER) != 0)
        _exit(1);
    close(userns_fd);
    for (;;) {
        char c, cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {&c, 1};
        struct msghdr m;
        struct cmsghdr *cm;
        ssize_t n;
        int fd;

        memset(&m, 0, sizeof m);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = cbuf;
        m.msg_controllen = sizeof cbuf;
        n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);
        rep.err = 0;
        cm = CMSG_FIRSTHDR(&m);
        if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            memcpy(&fd, CMSG_DATA(cm), sizeof fd);
            if (setns(fd, CLONE_NEWUTS) != 0)
                rep.err = errno;
            close(fd);
        }
        if (!rep.err && uname(&rep.names) != 0)
            rep.err = errno;
        if (send(sock, &rep, sizeof rep, MSG_NOSIGNAL) != (ssize_t)sizeof rep)
            _exit(0);
    }
}

static void helper_stop(void)
{
    if (helper_sock >= 0) {
        close(helper_sock);
        while (waitpid(helper_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    helper_sock = helper_pid = -1;
    helper_inum = 0;
}

static int helper_start(int uts_fd)
{
    int sv[2], userns, rc = 0;
    sigset_t all, old;
    pid_t pid;

    userns = zone_userns(uts_fd);
    if (userns < 0)
        return userns;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        rc = -errno;
        close(userns);
        return rc;
    }
    /* the helper starts with every signal blocked: no handler of the host's
       runs there */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid == 0)
        helper_main(sv[1], userns);
    if (pid < 0)
        rc = -errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    close(userns);
    if (rc < 0) {
        close(sv[0]);
        return rc;
    }
    helper_pid = pid;
    helper_sock = sv[0];
    helper_inum = 0;
    return 0;
}

/* uname in UTS namespace inum, by this receiver's helper; uts_fd is that
   namespace, or -1 when the helper is in it already */
static int helper_uname(int uts_fd, unsigned long long inum, struct utsname *names)
{
    char c = 0, cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {&c, 1};
    struct helper_reply rep;
    struct msghdr m;
    struct cmsghdr *cm;
    ssize_t n;
    int rc;

    if (helper_sock < 0 && (rc = helper_start(uts_fd)) < 0)
        return rc;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (inum != helper_inum) {
        memset(cbuf, 0, sizeof cbuf);
        m.msg_control = cbuf;
        m.msg_controllen = sizeof cbuf;
        cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &uts_fd, sizeof uts_fd);
    }
    while ((n = sendmsg(helper_sock, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n == 1)
        while ((n = recv(helper_sock, &rep, sizeof rep, 0)) < 0 && errno == EINTR)
            ;
    if (n != (ssize_t)sizeof rep) {
        helper_stop(); /* gone: the next call starts another */
        return -EIO;
    }
    if (rep.err) {
        helper_inum = 0;
        return -rep.err;
    }
    helper_inum = inum;
    memcpy(names, &rep.names, sizeof *names);
    return 0;
}

/* How long a calling thread's namespace, once read, is trusted without
   reading it again: a tid is reused only after the kernel handed out every
   other pid (pid_max of them, cyclically), which takes far longer than 50 ns
   a pid; at most 100 ms */
static uint64_t uts_keep_ns(void)
{
    char buf[32];
    long long pid_max = 0;

    if (lxb_read_small("/proc/sys/kernel/pid_max", buf, sizeof buf) > 0)
        pid_max = atoll(buf);
    if (pid_max <= 0)
        return 0;
    return pid_max * 50 > 100000000LL ? 100000000ULL : (uint64_t)pid_max * 50;
}

/* the inode number of task pid's UTS namespace, from the link's text
   ("uts:[4026531838]"): readlink costs half a stat(2) of the link, which
   also looks the namespace's nsfs inode up */
static int uts_inum(const char *path, unsigned long long *inum)
{
    char link[64], *end;
    ssize_t n = readlink(path, link, sizeof link - 1);

    if (n < 0)
        return -errno;
    link[n] = '\0';
    if (strncmp(link, "uts:[", 5) != 0)
        return -EIO;
    errno = 0;
    *inum = strtoull(link + 5, &end, 10);
    return errno || *end != ']' ? -EIO : 0;
}

/* uname(2) as the caller would see it in its own UTS namespace; -ENOENT
   when the caller is gone.  Its tid may be someone else's by now: the
   caller (sys_uname) checks that the notification is still pending before it
   answers, which proves that the namespace read here was the caller's (it is
   blocked in this uname from before RECV until then, and cannot change its
   namespace meanwhile); joining someone else's by mistake has no effect
   beyond this thread's names. */
static int caller_uname(struct lxb_sup *s, const struct lxb_call *c, struct utsname *names)
{
    struct lxb_sup_priv *p = s->priv;
    struct uts_kept *k = &uts_kept[c->pid % UTS_KEPT];
    uint64_t epoch = __atomic_load_n(&p->uts_epoch, __ATOMIC_ACQUIRE);
    unsigned long long inum;
    struct timespec ts;
    uint64_t now;
    char path[64];
    struct stat st;
    int fd, rc;

    snprintf(path, sizeof path, "/proc/%u/ns/uts", c->pid);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    if (k->tid == c->pid && k->epoch == epoch && now < k->until_ns) {
        inum = k->inum;          /* no thread changed its namespace since */
    } else {
        if (uts_inum(path, &inum) < 0)
            return -ENOENT;
        k->tid = c->pid;
        k->inum = inum;
        k->epoch = epoch;
        k->until_ns = now + p->uts_keep_ns;
    }
    if (inum == joined_uts_inum)
        return uname(names) == 0 ? 0 : -errno;
    if (inum == helper_inum && helper_sock >= 0)
        return helper_uname(-1, inum, names);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ENOENT;
    /* the namespace just read (an nsfs inode's number is its namespace's) */
    if (fstat(fd, &st) != 0 || st.st_ino != inum) {
        rc = -ENOENT;
        goto out;
    }
    if (__atomic_load_n(&p->uts_setns, __ATOMIC_RELAXED)) {
        if (setns(fd, CLONE_NEWUTS) == 0) {
            joined_uts_inum = inum;
            rc = uname(names) == 0 ? 0 : -errno;
            goto out;
        }
        if (errno != EPERM) {
            rc = -errno;
            goto out;
        }
        /* an ordinary user: no CAP_SYS_ADMIN in our own user namespace */
        __atomic_store_n(&p->uts_setns, 0, __ATOMIC_RELAXED);
    }
    rc = helper_uname(fd, inum, names);
out:
    close(fd);
    return rc;
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

_Static_assert(sizeof(((struct utsname *)0)->nodename) == LXB_UTS_LEN, "utsname field size");
_Static_assert(sizeof(((struct utsname *)0)->domainname) == LXB_UTS_LEN, "utsname field size");

/* uname(2): the caller's nodename and domainname, the brand's kernel;
   EFAULT on a bad buf */
static void sys_uname(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct utsname names;
    struct new_utsname_x u;
    int64_t n;
    int rc;

    rc = caller_uname(s, c, &names);
    if (rc < 0) {
        r->error = -rc;
        return;
    }
    memcpy(u.sysname, s->sysname, LXB_UTS_LEN);
    memcpy(u.nodename, names.nodename, LXB_UTS_LEN);
    memcpy(u.release, s->release, LXB_UTS_LEN);
    memcpy(u.version, s->version, LXB_UTS_LEN);
    memcpy(u.machine, s->machine, LXB_UTS_LEN);
    memcpy(u.domainname, names.domainname, LXB_UTS_LEN);
    /* check before writing: never write into a reused tid, nor answer
       with a namespace that was not the caller's */
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

/* unshare(2) and setns(2), notified while uname is (lxbrand/brand/compile.py
   UTS_WATCH): the calling thread may be changing its UTS namespace, so what
   every receiver kept is forgotten before the kernel performs the call
   (CONTINUE: nothing here depends on the guest's arguments but whether to
   forget, and forgetting too often costs one readlink) */
static void uts_change(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r, int may_change)
{
    struct lxb_sup_priv *p = s->priv;

    (void)c;
    if (may_change)
        __atomic_fetch_add(&p->uts_epoch, 1, __ATOMIC_SEQ_CST);
    r->error = 0;
    r->flags |= LXB_REPLY_CONTINUE;
}

static void sys_unshare(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    uts_change(s, c, r, (c->args[0] & CLONE_NEWUTS) != 0);
}

static void sys_setns(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    uts_change(s, c, r, 1);     /* nstype 0 or a pidfd may name a UTS namespace */
}

typedef void (*c_handler_fn)(struct lxb_sup *, const struct lxb_call *, struct lxb_reply *);

static const c_handler_fn c_handlers[] = {
    [LXB_C_UNAME] = sys_uname,
    [LXB_C_UNSHARE] = sys_unshare,
    [LXB_C_SETNS] = sys_setns,
    /* --fakeroot: csrc/fakeroot.c */
    [LXB_C_STAT] = lxb_fr_stat,
    [LXB_C_FSTAT] = lxb_fr_fstat,
    [LXB_C_LSTAT] = lxb_fr_stat,
    [LXB_C_NEWFSTATAT] = lxb_fr_newfstatat,
    [LXB_C_STATX] = lxb_fr_statx,
    [LXB_C_CHOWN] = lxb_fr_chown,
    [LXB_C_FCHOWN] = lxb_fr_fchown,
    [LXB_C_LCHOWN] = lxb_fr_chown,
    [LXB_C_FCHOWNAT] = lxb_fr_fchownat,
    [LXB_C_MKNOD] = lxb_fr_mknod,
    [LXB_C_MKNODAT] = lxb_fr_mknod,
    [LXB_C_SETUID] = lxb_fr_setid,
    [LXB_C_SETGID] = lxb_fr_setid,
    [LXB_C_SETREUID] = lxb_fr_setid,
    [LXB_C_SETREGID] = lxb_fr_setid,
    [LXB_C_SETRESUID] = lxb_fr_setid,
    [LXB_C_SETRESGID] = lxb_fr_setid,
    [LXB_C_SETFSUID] = lxb_fr_setid,
    [LXB_C_SETFSGID] = lxb_fr_setid,
    [LXB_C_SETGROUPS] = lxb_fr_setgroups,
    [LXB_C_GETUID] = lxb_fr_getid,
    [LXB_C_GETGID] = lxb_fr_getid,
    [LXB_C_GETEUID] = lxb_fr_getid,
    [LXB_C_GETEGID] = lxb_fr_getid,
    [LXB_C_GETRESUID] = lxb_fr_getid,
    [LXB_C_GETRESGID] = lxb_fr_getid,
    [LXB_C_GETGROUPS] = lxb_fr_getid,
    [LXB_C_GETDENTS] = lxb_fr_getdents,
    [LXB_C_GETDENTS64] = lxb_fr_getdents,
    [LXB_C_CAPGET] = lxb_fr_capget,
    [LXB_C_CAPSET] = lxb_fr_capset,
    [LXB_C_PRCTL] = lxb_fr_prctl,
    [LXB_C_GETPRIORITY] = sys_getpriority,
    [LXB_C_SETPRIORITY] = sys_setpriority,
    [LXB_C_EXIT_GROUP] = lxb_fr_exit_group,
    [LXB_C_OPEN] = lxb_fr_create,
    [LXB_C_OPENAT] = lxb_fr_create,
    [LXB_C_CREAT] = lxb_fr_create,
    [LXB_C_MKDIR] = lxb_fr_create,
    [LXB_C_MKDIRAT] = lxb_fr_create,
    [LXB_C_GETSOCKOPT] = lxb_fr_getsockopt,
};

/* ---- the report (--report) ---- */

/* one more answered call of nr; the first caller's command line is read
   while it still waits for the answer (its pid cannot be reused meanwhile) */
static void report_count(struct lxb_report *rep, const struct lxb_call *c)
{
    uint32_t none = 0;
    char path[48], *buf;
    long n, i;

    if (c->nr >= LXB_NR_MAX || c->nr < 0) {
        /* a number outside the arrays: its own slot, the first free one taken */
        for (i = 0; i < LXB_REPORT_PAST; i++) {
            int32_t had = 0;
            if (__atomic_load_n(&rep->past_nr[i], __ATOMIC_ACQUIRE) == c->nr ||
                __atomic_compare_exchange_n(&rep->past_nr[i], &had, c->nr, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
                had == c->nr) {
                __atomic_fetch_add(&rep->past_count[i], 1, __ATOMIC_RELAXED);
                return;
            }
        }
        return;
    }
    __atomic_fetch_add(&rep->count[c->nr], 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&rep->first_state[c->nr], __ATOMIC_RELAXED) ||
        !__atomic_compare_exchange_n(&rep->first_state[c->nr], &none, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    buf = rep->first[c->nr];
    snprintf(path, sizeof path, "/proc/%u/cmdline", c->pid);
    n = lxb_read_small(path, buf, LXB_REPORT_CMDLINE);
    if (n < 0)
        n = 0;
    while (n > 0 && buf[n - 1] == 0)
        n--;
    for (i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    buf[n] = 0;
    __atomic_store_n(&rep->first_state[c->nr], 2, __ATOMIC_RELEASE);
}

/* ---- the loop ---- */

void lxb_sup_close(struct lxb_sup *s)
{
    struct lxb_sup_priv *p = s->priv;

    if (s->listener_fd >= 0)
        close(s->listener_fd);
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    s->listener_fd = s->stop_fd = -1;
    if (p) {
        pthread_mutex_destroy(&p->recv_lock);
        free(p);
        s->priv = NULL;
    }
}

int lxb_sup_init(struct lxb_sup *s, int listener_fd)
{
    uint64_t flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
    struct lxb_sup_priv *p;
    int rc;

    s->listener_fd = s->stop_fd = -1;
    s->priv = p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    pthread_mutex_init(&p->recv_lock, NULL);
    p->uts_setns = 1;
    p->uts_keep_ns = uts_keep_ns();
    s->listener_fd = fcntl(listener_fd, F_DUPFD_CLOEXEC, 3);
    if (s->listener_fd < 0)
        goto fail;
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0)
        goto fail;
    /* older kernels lack it (EINVAL); the loop works without, only slower */
    if (ioctl(s->listener_fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) != 0 && errno != EINVAL &&
        errno != ENOTTY)
        goto fail;
    return 0;
fail:
    rc = -errno;
    lxb_sup_close(s);
    return rc;
}

int lxb_sup_stop(struct lxb_sup *s)
{
    uint64_t one = 1;
    if (write(s->stop_fd, &one, sizeof one) != sizeof one)
        return -errno;
    return 0;
}

/* wait for a notification, holding recv_lock: 1 received, 0 stop (or every
   task under the filter is gone), -errno */
static int receive(struct lxb_sup *s, struct seccomp_notif *req, size_t size)
{
    for (;;) {
        struct pollfd pfd[2] = {{s->listener_fd, POLLIN, 0}, {s->stop_fd, POLLIN, 0}};

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (pfd[1].revents & POLLIN)
            return 0;
        if (pfd[0].revents & POLLNVAL)
            return -EBADF; /* the listener was closed under us */
        if (!(pfd[0].revents & POLLIN)) {
            if (pfd[0].revents & (POLLHUP | POLLERR))
                return 0; /* every task under the filter is gone */
            continue;
        }
        /* does not block: poll saw a pending notification, and no other
           receiver takes it meanwhile */
        memset(req, 0, size);
        if (ioctl(s->listener_fd, SECCOMP_IOCTL_NOTIF_RECV, req) == 0)
            return 1;
        if (errno != EINTR && errno != ENOENT)
            return -errno;
    }
}

int lxb_supervise(struct lxb_sup *s)
{
    struct lxb_sup_priv *p = s->priv;
    struct seccomp_notif_sizes sizes;
    struct seccomp_notif *req = NULL;
    struct seccomp_notif_resp *resp = NULL;
    struct lxb_call call;
    struct lxb_reply reply;
    unsigned long long inum;
    int rc = 0, locked = 0;

    if (uts_inum("/proc/thread-self/ns/uts", &inum) == 0)
        joined_uts_inum = inum;
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
        int nr, kind, counted;

        if (!locked) {
            pthread_mutex_lock(&p->recv_lock);
            locked = 1;
        }
        rc = receive(s, req, sizes.seccomp_notif);
        if (rc <= 0)
            goto out;
        rc = 0;
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
        /* --report: a number past the arrays, notified by the filter's default
           (lxb_filter_build), is answered ENOSYS and counted (report_count) */
        counted = s->report != NULL && ((kind != LXB_KIND_NONE && kind != LXB_KIND_INJECT) ||
                                        ((nr >= LXB_NR_MAX || nr < 0) && s->kind[LXB_NR_PAST] == LXB_KIND_UNSUPPORTED));
        if (s->inject && kind != LXB_KIND_NONE && s->inject->on[nr]) {
            /* --inject (csrc/inject.c) may sleep or open a file for the
               guest: the next receiver owns the listener meanwhile */
            pthread_mutex_unlock(&p->recv_lock);
            locked = 0;
            if (lxb_inject_call(s->inject, &call, &reply, kind == LXB_KIND_INJECT)) {
                kind = LXB_KIND_NONE; /* answered: a fault, not the brand's answer */
                counted = 0;
            }
        }
        if (kind == LXB_KIND_DENIED || kind == LXB_KIND_UNSUPPORTED) {
            /* --report: what the filter would have answered in the kernel */
            reply.error = s->c_handler[nr] ? s->c_handler[nr] : s->report && s->report->err[nr] ? s->report->err[nr] : ENOSYS;
        } else if (kind == LXB_KIND_C) {
            unsigned id = s->c_handler[nr];
            if (id < sizeof c_handlers / sizeof c_handlers[0] && c_handlers[id])
                c_handlers[id](s, &call, &reply);
        } else if (kind == LXB_KIND_PY) {
            /* Python may take long: the next receiver owns the listener meanwhile */
            if (locked)
                pthread_mutex_unlock(&p->recv_lock);
            locked = 0;
            lxb_py_dispatch(s->py_handle, &call, &reply);
        }

        if (counted && !(reply.flags & LXB_REPLY_CONTINUE))
            report_count(s->report, &call);
        if (reply.flags & LXB_REPLY_CONTINUE) {
            resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        } else if (reply.error) {
            resp->error = -reply.error;
        } else {
            resp->val = reply.val;
        }
        if (ioctl(s->listener_fd, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) {
            /* ENOENT: the caller was interrupted or died meanwhile; EINPROGRESS:
               answered already through ADDFD|SEND */
            if (errno != ENOENT && errno != EINPROGRESS) {
                rc = -errno;
                goto out;
            }
        }
        __atomic_fetch_add(&s->notified, 1, __ATOMIC_RELAXED);
    }
out:
    if (locked)
        pthread_mutex_unlock(&p->recv_lock);
    helper_stop();
    free(req);
    free(resp);
    if (rc < 0)
        __atomic_store_n(&s->last_error, rc, __ATOMIC_RELAXED);
    return rc;
}
