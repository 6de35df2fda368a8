/*
 * zone_exec.c: a new process in a running zone (lxbrand-oci exec, issue 14).
 *
 * OVERVIEW
 *
 * The caller (lxbrand-oci exec, in the host's namespaces) forks a RELAY,
 * which joins the guest's user, mount, pid, uts, ipc, net and cgroup
 * namespaces with one setns on a pidfd of the guest, and clones CMD's
 * process into the zone's pid namespace (setns of a pid namespace applies to
 * children only).  CMD's process does what zone_guest.c does for the guest:
 * its stdio (or a pty of the zone), its working directory, CMD along PATH,
 * the bounding set less cap_drop, its ids keeping CAP_SYS_ADMIN until the
 * filter is loaded, a session keyring of its own (init made the guest's; the
 * caller's holds the host's keys), the brand's filter with a new listener,
 * and execve.
 *
 * THE HAND-OVER
 *
 * After the filter, CMD's process makes no syscall but execve: each would
 * obey the zone's policy.  It shares its fd table with the relay
 * (CLONE_FILES), writes the listener's fd number into memory shared with
 * the relay, and spins; the relay, unfiltered, sends the listener (and the
 * pty master) to the caller over a socket pair (SCM_RIGHTS).  The caller
 * gives the listener to the zone's supervisor, then releases CMD
 * (lxb_exec_release): the relay lets CMD execve (which unshares its fd table
 * and closes every fd but its stdio) and then waits for it, passing on the
 * signals it gets and exiting as CMD does (status, or 128+signal).
 *
 * THE BOUNDARY
 *
 * The relay and CMD until its execve are never dumpable, and their memory
 * belongs to the host's user namespace, so no process of the zone can
 * ptrace them (and skip the filter) or take the host fds they hold.  If the
 * caller dies before the release, the relay dies (PDEATHSIG) and CMD with it.
 * Between fork and execve nothing allocates: the caller is a Python process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zone_int.h"


/* memory shared by the caller, the relay and CMD's process */
struct exec_shared {
    volatile int listener;       /* CMD's listener fd number (in the shared table), or -1 */
    volatile int taken;          /* set by the relay: CMD may execve */
    volatile int exec_errno;     /* CMD not found (before the filter) or execve failed */
    volatile int err_errno;      /* a failed step: its errno, and err names it */
    char err[LXB_MSG_TEXT];
};

static void say(struct exec_shared *h, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof h->err, fmt, ap);
    va_end(ap);
    h->err_errno = err ? err : EIO;
}

/* CMD's process, from its clone by the relay to its execve */
static __attribute__((noreturn)) void cmd_main(const struct lxb_exec *e, struct exec_shared *h, int master)
{
    gid_t groups[64];
    char path[4096];
    int i, rc, listener, ngroups = e->ngroups > 64 ? 64 : e->ngroups;

    lxb_default_signals();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setsid() < 0) {
        say(h, errno, "setsid: %s", strerror(errno));
        _exit(125);
    }
    if ((rc = lxb_take_stdio(master, e->stdio)) < 0) {
        say(h, -rc, "%s: %s", master >= 0 ? "the zone's terminal" : "stdio", strerror(-rc));
        _exit(125);
    }
    if (e->cwd && chdir(e->cwd) != 0) {
        say(h, errno, "cwd %s: %s in the zone", e->cwd, strerror(errno));
        _exit(125);
    }
    rc = lxb_find_command(e->path, e->search_path, path, sizeof path);
    if (rc < 0) {
        h->exec_errno = -rc;
        say(h, -rc, "exec: \"%s\": %s", e->path,
            rc == -ENOENT ? "executable file not found in $PATH" : strerror(-rc));
        _exit(rc == -ENOENT ? 127 : 126);
    }
    if ((rc = lxb_drop_caps(e->cap_drop)) < 0) {
        say(h, -rc, "drop capabilities from the bounding set: %s", strerror(-rc));
        _exit(125);
    }
    /* every fd but stdio closes at execve (the shared table is unshared then) */
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    for (i = 0; i < ngroups; i++)
        groups[i] = (gid_t)e->groups[i];
    if ((rc = lxb_become((uid_t)e->uid, (gid_t)e->gid, ngroups ? groups : NULL, ngroups)) < 0) {
        say(h, -rc, "user %d:%d: %s", e->uid, e->gid, strerror(-rc));
        _exit(125);
    }
    /* a session keyring of the zone's, not the caller's (the host's keys) */
    if ((rc = lxb_session_keyring(1)) < 0) {
        say(h, -rc, "a session keyring in the zone: %s", strerror(-rc));
        _exit(125);
    }
    /* a change of ids made us dumpable as suid_dumpable says: never here */
    prctl(PR_SET_DUMPABLE, 0);

    if ((listener = lxb_load_filter(e->bpf, e->bpf_len)) < 0) {
        say(h, -listener, "load the brand's seccomp filter: %s", strerror(-listener));
        _exit(125);
    }
    /* the container's own profile, as the guest loaded it (zone_guest.c) */
    if (e->profile_bpf_len > 0 && (rc = lxb_load_profile(e->profile_bpf, e->profile_bpf_len)) < 0) {
        say(h, -rc, "load the container's seccomp profile: %s", strerror(-rc));
        _exit(125);
    }

    /* from here on, no syscall but execve */
    __atomic_store_n(&h->listener, listener, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&h->taken, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
    execve(path, e->argv, e->envp);
    h->exec_errno = errno;
    _exit(errno == ENOENT ? 127 : 126);
}

static int send_fds(int sock, int cmd_pid, int listener, int master)
{
    char cbuf[CMSG_SPACE(2 * sizeof(int))];
    struct iovec iov = {&cmd_pid, sizeof cmd_pid};
    struct msghdr msg;
    struct cmsghdr *c;
    int fds[2] = {listener, master}, n = master >= 0 ? 2 : 1;

    memset(&msg, 0, sizeof msg);
    memset(cbuf, 0, sizeof cbuf);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int exit_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

/* the relay: join the zone, start CMD, hand its listener over, then wait */
static __attribute__((noreturn)) void relay_main(const struct lxb_exec *e, struct exec_shared *h, int sock,
                                                 pid_t caller)
{
    struct timespec nap = {0, 20000};
    sigset_t set;
    siginfo_t si;
    int master = -1, st;
    pid_t cmd;
    char c;

    prctl(PR_SET_DUMPABLE, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != caller)
        _exit(125);
    /* signals wait here for sigwaitinfo; CMD unblocks its own */
    sigfillset(&set);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGBUS);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (setns(e->guest_pidfd, e->ns_flags) != 0) {
        say(h, errno, "join the zone's namespaces (setns): %s", strerror(errno));
        _exit(125);
    }
    close(e->guest_pidfd);
    if (e->use_pty) {
        int unlock = 0;
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) != 0) {
            say(h, errno, "open the zone's /dev/ptmx: %s", strerror(errno));
            _exit(125);
        }
    }
    cmd = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL, NULL, 0);
    if (cmd < 0) {
        say(h, errno, "start a process in the zone's pid namespace: %s%s", strerror(errno),
            errno == ENOMEM ? " (the zone has ended)" : "");
        _exit(125);
    }
    if (cmd == 0)
        cmd_main(e, h, master);

    /* wait until CMD has loaded its filter, or died saying why */
    while (__atomic_load_n(&h->listener, __ATOMIC_ACQUIRE) < 0) {
        if (waitpid(cmd, &st, WNOHANG) == cmd)
            _exit(h->exec_errno ? (h->exec_errno == ENOENT ? 127 : 126) : 125);
        nanosleep(&nap, NULL);
    }
    if (send_fds(sock, cmd, h->listener, master) < 0) {
        kill(cmd, SIGKILL);
        _exit(125);
    }
    /* the caller holds them now; CMD needs neither (its listener is cloexec) */
    close(h->listener);
    if (master >= 0)
        close(master);
    if (read(sock, &c, 1) != 1) {
        /* the caller gave up (or died): CMD never runs */
        kill(cmd, SIGKILL);
        waitpid(cmd, &st, 0);
        _exit(125);
    }
    /* released: the caller may exit now (exec --detach, containerd's shim
     * and conmon reap us), so PDEATHSIG goes before the caller is told it may
     * (lxb_exec_release waits for this "k": without it, a caller that exited
     * at once killed us with SIGKILL, 137, before CMD ran) */
    prctl(PR_SET_PDEATHSIG, 0);
    if (write(sock, "k", 1) != 1) {
        /* the caller is gone already: CMD runs all the same, as released */
    }
    /* every fd but stdio goes (the table is still CMD's too, which needs
     * none of them): the caller's, the socket, the pidfd */
    syscall(SYS_close_range, 3, ~0U, 0);
    __atomic_store_n(&h->taken, 1, __ATOMIC_RELEASE);

    /* exit as CMD does; pass on what the caller's side sends us */
    for (;;) {
        if (sigwaitinfo(&set, &si) < 0)
            continue;
        if (si.si_signo == SIGCHLD) {
            if (waitpid(cmd, &st, WNOHANG) == cmd)
                _exit(h->exec_errno ? (h->exec_errno == ENOENT ? 127 : 126) : exit_code(st));
        } else if (si.si_signo != SIGPIPE) {
            kill(cmd, si.si_signo);
        }
    }
}

int lxb_zone_exec(const struct lxb_exec *e, struct lxb_exec_proc *p, char *err, int errlen)
{
    struct exec_shared *h;
    char cbuf[CMSG_SPACE(2 * sizeof(int))];
    int sv[2], cmd_pid = 0, st, rc, i;
    struct iovec iov = {&cmd_pid, sizeof cmd_pid};
    struct msghdr msg;
    struct cmsghdr *c;
    pid_t relay, caller = getpid();
    ssize_t n;

    p->pid = p->cmd_pid = -1;
    p->sock_fd = p->listener_fd = p->pty_fd = -1;
    snprintf(err, (size_t)errlen, "%s", "");
    h = mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED) {
        snprintf(err, (size_t)errlen, "mmap: %s", strerror(errno));
        return -errno;
    }
    memset(h, 0, sizeof *h);
    h->listener = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        rc = -errno;
        snprintf(err, (size_t)errlen, "socketpair: %s", strerror(-rc));
        munmap(h, sizeof *h);
        return rc;
    }
    relay = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
    if (relay < 0) {
        rc = -errno;
        snprintf(err, (size_t)errlen, "fork: %s", strerror(-rc));
        close(sv[0]);
        close(sv[1]);
        munmap(h, sizeof *h);
        return rc;
    }
    if (relay == 0) {
        close(sv[0]);
        relay_main(e, h, sv[1], caller);
    }
    close(sv[1]);

    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    do
        n = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof cmd_pid) {
        /* the relay (or CMD) failed before the hand-over and said why */
        while (waitpid(relay, &st, 0) < 0 && errno == EINTR)
            ;
        close(sv[0]);
        if (h->err[0]) {
            snprintf(err, (size_t)errlen, "%s", h->err);
            rc = -(h->exec_errno ? h->exec_errno : h->err_errno);
        } else {
            snprintf(err, (size_t)errlen, "the process in the zone ended before its start (status %d)",
                     exit_code(st));
            rc = -ECHILD;
        }
        munmap(h, sizeof *h);
        return rc;
    }
    munmap(h, sizeof *h);
    for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fds[2] = {-1, -1}, k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds, CMSG_DATA(c), (size_t)(k > 2 ? 2 : k) * sizeof(int));
            p->listener_fd = fds[0];
            p->pty_fd = k > 1 ? fds[1] : -1;
            for (i = 2; i < k; i++)
                close(((int *)CMSG_DATA(c))[i]);
        }
    }
    p->pid = relay;
    p->cmd_pid = cmd_pid;
    p->sock_fd = sv[0];
    if (p->listener_fd < 0 || (e->use_pty && p->pty_fd < 0)) {
        snprintf(err, (size_t)errlen, "the process in the zone sent no listener");
        lxb_exec_abort(p);
        return -EPROTO;
    }
    return 0;
}

int lxb_guest_ns_flags(int guest)
{
    static const struct { const char *name; int flag; } nss[] = {
        {"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS}, {"pid", CLONE_NEWPID}, {"uts", CLONE_NEWUTS},
        {"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
        {"time", CLONE_NEWTIME},     /* the zone's clocks count from its start (zone_init.c) */
    };
    int flags = 0;
    for (size_t i = 0; i < sizeof nss / sizeof nss[0]; i++) {
        char a[64], b[64];
        struct stat sa, sb;
        snprintf(a, sizeof a, "/proc/%d/ns/%s", guest, nss[i].name);
        snprintf(b, sizeof b, "/proc/self/ns/%s", nss[i].name);
        if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
            return -errno;
        if (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev)
            flags |= nss[i].flag;
    }
    return flags;
}

int lxb_exec_release(struct lxb_exec_proc *p)
{
    int rc = 0;
    char c;
    ssize_t n;

    if (p->sock_fd < 0)
        return -EBADF;
    if (write(p->sock_fd, "g", 1) != 1)
        rc = -errno;
    /* the relay's "k": it no longer dies with us (PDEATHSIG cleared) */
    while (rc == 0 && (n = read(p->sock_fd, &c, 1)) != 1) {
        if (n < 0 && errno == EINTR)
            continue;
        rc = n < 0 ? -errno : -EPIPE;
    }
    close(p->sock_fd);
    p->sock_fd = -1;
    return rc;
}

int lxb_exec_abort(struct lxb_exec_proc *p)
{
    int st;
    if (p->sock_fd >= 0)
        close(p->sock_fd);          /* the relay kills CMD and exits */
    p->sock_fd = -1;
    if (p->listener_fd >= 0)
        close(p->listener_fd);
    if (p->pty_fd >= 0)
        close(p->pty_fd);
    p->listener_fd = p->pty_fd = -1;
    if (p->pid > 0)
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
    p->pid = -1;
    return 0;
}
