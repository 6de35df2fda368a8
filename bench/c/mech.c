/*
 * mech.c: the mechanisms under a zone's syscall path, measured one by one, so
 * that w8 (uname, answered in C by the brand) and w9 (getppid, answered by a
 * Python handler) can be compared with their floor.  Static; runs on the host.
 *
 * Every measurement runs in a child process, so that a seccomp filter never
 * outlives its mode.  The guest side makes its syscalls with syscall(2).
 *
 *   raw                 getppid(), no filter
 *   seccomp-allow       getppid() under a one-instruction RET_ALLOW filter
 *   seccomp-brand       getppid() under the filter in FILE (--filter FILE: the
 *                       brand's own, as lxbrand builds it; getppid passes, and
 *                       the kernel's action cache skips the filter for it)
 *   seccomp-brand-deny  bpf(-1, NULL, 0) under FILE, which answers EPERM: a
 *                       syscall that runs the whole filter program
 *   notif-continue      getppid() notified to a supervisor process, answered
 *                       SECCOMP_USER_NOTIF_FLAG_CONTINUE (the kernel then runs it)
 *   notif-value         ... answered with a value (4242)
 *   notif-addfd         ... answered by SECCOMP_IOCTL_NOTIF_ADDFD with
 *                       SECCOMP_ADDFD_FLAG_SEND (a /dev/null fd); the guest
 *                       closes the fd it receives (one close per call included)
 *   notif-uname         uname() notified and answered as the brand's C handler
 *                       does: NOTIF_ID_VALID, process_vm_writev of the 390-byte
 *                       utsname, then a value: the floor for w8
 *   notif-value-poll    notif-value with poll() before each NOTIF_RECV, as
 *                       lxbrand's loop (csrc/supervisor.c) does
 *   notif-value-nosync  notif-value without SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
 *   notif-value-thread  notif-value with the supervisor a thread of the guest's
 *                       process (no address-space switch)
 *   notif-value-samecpu notif-value with guest and supervisor pinned to CPU 0
 *   notif-uname-brand   notif-uname under the filter in FILE instead of a
 *                       six-instruction one: w8's floor, filter included
 *   notif-value-setsid  notif-value with the guest in a session of its own
 *                       (setsid, as a zone's init does), hence, where
 *                       CONFIG_SCHED_AUTOGROUP is on, in another scheduling
 *                       group than its supervisor
 *   notif-uname-zone    notif-uname as lxbrand does it all: its filter (FILE),
 *                       poll() before NOTIF_RECV, the guest in its own session
 *   ptrace-sysemu       getppid() stopped by PTRACE_SYSEMU, answered by setting
 *                       rax (timed in the tracer)
 *   ptrace-syscall      getppid() stopped at entry and exit by PTRACE_SYSCALL
 *
 * Notified modes set SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
 * (Linux 6.6) unless they say nosync, and NOTIF_RECV blocks (no poll) unless
 * they say poll.  The supervisor answers exactly WARMUP + N notifications: a
 * blocking NOTIF_RECV is not woken when the filter's last task exits.
 *
 * usage: mech [-n N] [--filter FILE] [MODE...]     (default: every mode)
 * prints one JSON line per mode:
 *   {"mech":"notif-value","n":100000,"ns":812345678,"ns_per_call":8123.5}
 * A mode the kernel cannot do prints {"mech":...,"error":"..."} instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif
#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

#define WARMUP 1000
#define ANSWER 4242
#define UTS_LEN 65

enum kind { RAW, FILTER_ALLOW, FILTER_FILE, NOTIF, PTRACE_EMU, PTRACE_SYS };
enum answer { A_NONE, A_CONTINUE, A_VALUE, A_ADDFD, A_UNAME };

struct mode {
    const char *name;
    enum kind kind;
    enum answer answer;
    int sync, poll, thread, samecpu;
    int brand;      /* the filter from --filter FILE */
    int deny;       /* call bpf(-1, NULL, 0), which that filter denies */
    int setsid;     /* the guest calls setsid() first */
};

static const struct mode modes[] = {
    {"raw", RAW, A_NONE, 0, 0, 0, 0, 0, 0, 0},
    {"seccomp-allow", FILTER_ALLOW, A_NONE, 0, 0, 0, 0, 0, 0, 0},
    {"seccomp-brand", FILTER_FILE, A_NONE, 0, 0, 0, 0, 1, 0, 0},
    {"seccomp-brand-deny", FILTER_FILE, A_NONE, 0, 0, 0, 0, 1, 1, 0},
    {"notif-continue", NOTIF, A_CONTINUE, 1, 0, 0, 0, 0, 0, 0},
    {"notif-value", NOTIF, A_VALUE, 1, 0, 0, 0, 0, 0, 0},
    {"notif-addfd", NOTIF, A_ADDFD, 1, 0, 0, 0, 0, 0, 0},
    {"notif-uname", NOTIF, A_UNAME, 1, 0, 0, 0, 0, 0, 0},
    {"notif-value-poll", NOTIF, A_VALUE, 1, 1, 0, 0, 0, 0, 0},
    {"notif-value-nosync", NOTIF, A_VALUE, 0, 0, 0, 0, 0, 0, 0},
    {"notif-value-thread", NOTIF, A_VALUE, 1, 0, 1, 0, 0, 0, 0},
    {"notif-value-samecpu", NOTIF, A_VALUE, 1, 0, 0, 1, 0, 0, 0},
    {"notif-uname-brand", NOTIF, A_UNAME, 1, 0, 0, 0, 1, 0, 0},
    {"notif-value-setsid", NOTIF, A_VALUE, 1, 0, 0, 0, 0, 0, 1},
    {"notif-uname-zone", NOTIF, A_UNAME, 1, 1, 0, 0, 1, 0, 1},
    {"ptrace-sysemu", PTRACE_EMU, A_NONE, 0, 0, 0, 0, 0, 0, 0},
    {"ptrace-syscall", PTRACE_SYS, A_NONE, 0, 0, 0, 0, 0, 0, 0},
};

static long n_calls = 100000;
static const char *filter_file;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the guest side ---- */

static int target_nr(const struct mode *m)
{
    if (m->deny)
        return SYS_bpf;
    return m->answer == A_UNAME ? SYS_uname : SYS_getppid;
}

/* WARMUP + n calls of the mode's syscall; returns the ns of the last n */
static uint64_t guest_loop(const struct mode *m)
{
    char uts[6 * UTS_LEN];
    int nr = target_nr(m);
    uint64_t t0 = 0;

    for (long i = 0; i < WARMUP + n_calls; i++) {
        if (i == WARMUP)
            t0 = now_ns();
        long r = nr == SYS_uname ? syscall(SYS_uname, uts)
                 : nr == SYS_bpf   ? syscall(SYS_bpf, -1, NULL, 0)
                                   : syscall(SYS_getppid);
        if (m->answer == A_ADDFD)
            close((int)r);
    }
    return now_ns() - t0;
}

static int install_filter(struct sock_fprog *prog, unsigned flags)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -errno;
    int rc = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
    return rc < 0 ? -errno : rc;
}

static int load_file_filter(struct sock_fprog *prog);

/* the mode's filter with NEW_LISTENER: FILE's, or one that notifies only nr */
static int notify_filter_for(const struct mode *m, unsigned flags);

static int notify_filter(int nr, unsigned flags)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    return install_filter(&prog, flags);
}

static int notify_filter_for(const struct mode *m, unsigned flags)
{
    struct sock_fprog prog;
    int rc;

    if (!m->brand)
        return notify_filter(target_nr(m), flags);
    rc = load_file_filter(&prog);
    return rc < 0 ? rc : install_filter(&prog, flags);
}

/* ---- the supervisor side ---- */

struct sup {
    const struct mode *m;
    int listener;
    long count;
    int rc;
};

static int sup_loop(struct sup *s)
{
    struct seccomp_notif_sizes sizes;
    static char uts[6 * UTS_LEN] = "Linux";
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0)
        return -errno;
    struct seccomp_notif *req = calloc(1, sizes.seccomp_notif + 64);
    struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp + 64);
    if (s->m->sync) {
        uint64_t fl = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
        if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, fl) != 0)
            return -errno;
    }
    for (long i = 0; i < s->count; i++) {
        if (s->m->poll) {
            struct pollfd p = {s->listener, POLLIN, 0};
            if (poll(&p, 1, -1) < 0)
                return -errno;
        }
        memset(req, 0, sizes.seccomp_notif);
        if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            return -errno;
        }
        memset(resp, 0, sizes.seccomp_notif_resp);
        resp->id = req->id;
        switch (s->m->answer) {
        case A_CONTINUE:
            resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            break;
        case A_ADDFD: {
            struct seccomp_notif_addfd a = {.id = req->id, .flags = SECCOMP_ADDFD_FLAG_SEND,
                                            .srcfd = (uint32_t)devnull, .newfd_flags = O_CLOEXEC};
            if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0)
                return -errno;
            continue; /* answered by ADDFD|SEND */
        }
        case A_UNAME: {
            uint64_t id = req->id;
            struct iovec local = {uts, sizeof uts};
            struct iovec remote = {(void *)(uintptr_t)req->data.args[0], sizeof uts};
            if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0)
                return -errno;
            if (process_vm_writev((pid_t)req->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof uts)
                return -errno;
            resp->val = 0;
            break;
        }
        default:
            resp->val = ANSWER;
        }
        if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, resp) != 0)
            return -errno;
    }
    free(req);
    free(resp);
    close(devnull);
    return 0;
}

/* ---- fd passing ---- */

static int send_fd(int sock, int fd)
{
    char c = 'F';
    struct iovec iov = {&c, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf};
    struct cmsghdr *c0 = CMSG_FIRSTHDR(&msg);
    c0->cmsg_level = SOL_SOCKET;
    c0->cmsg_type = SCM_RIGHTS;
    c0->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c0), &fd, sizeof fd);
    return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
    char c;
    struct iovec iov = {&c, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf};
    int fd;
    if (recvmsg(sock, &msg, 0) != 1)
        return -EPROTO;
    struct cmsghdr *c0 = CMSG_FIRSTHDR(&msg);
    if (!c0 || c0->cmsg_type != SCM_RIGHTS)
        return -EPROTO;
    memcpy(&fd, CMSG_DATA(c0), sizeof fd);
    return fd;
}

/* ---- the modes ---- */

struct result {
    int64_t ns;   /* >= 0: ns for n calls; < 0: -errno */
    char what[64];
};

static int read_full(int fd, void *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t r = read(fd, (char *)buf + off, len - off);
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return 0;
}

static void child_report(int fd, int64_t ns, const char *what)
{
    struct result r = {ns, ""};
    snprintf(r.what, sizeof r.what, "%s", what);
    if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(3);
    _exit(0);
}

static int load_file_filter(struct sock_fprog *prog)
{
    static struct sock_filter buf[8192];
    FILE *f = fopen(filter_file, "rb");
    if (!f)
        return -errno;
    size_t n = fread(buf, sizeof buf[0], sizeof buf / sizeof buf[0], f);
    fclose(f);
    if (n == 0)
        return -EINVAL;
    prog->len = (unsigned short)n;
    prog->filter = buf;
    return 0;
}

/* the guest in a child: filter (or not), loop, report on fd */
static void run_simple_child(const struct mode *m, int out)
{
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, allow};
    int rc = 0;

    if (m->kind == FILTER_FILE)
        rc = load_file_filter(&prog);
    if (rc == 0 && m->kind != RAW)
        rc = install_filter(&prog, 0);
    if (rc < 0)
        child_report(out, rc, "install the filter");
    child_report(out, (int64_t)guest_loop(m), "");
}

/* supervisor in this process, guest in a child */
static void run_notif_process_child(const struct mode *m, int sock)
{
    char go;
    if (m->setsid && setsid() < 0)
        child_report(sock, -errno, "setsid");
    int fd = notify_filter_for(m, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (fd < 0)
        child_report(sock, fd, "install the filter with NEW_LISTENER");
    if (send_fd(sock, fd) < 0)
        child_report(sock, -errno, "send the listener");
    close(fd);
    if (read(sock, &go, 1) != 1)
        _exit(4);
    child_report(sock, (int64_t)guest_loop(m), "");
}

/* guest and supervisor threads in one child process */
struct thread_start {
    struct sup *s;
    int rfd;
};

static void *thread_wait_fd(void *arg)
{
    struct thread_start *ts = arg;
    int fd;
    if (read_full(ts->rfd, &fd, sizeof fd) != 0) {
        ts->s->rc = -EPIPE;
        return NULL;
    }
    ts->s->listener = fd;
    ts->s->rc = sup_loop(ts->s);
    return NULL;
}

static void run_notif_thread(const struct mode *m, int out)
{
    struct sup s = {m, -1, WARMUP + n_calls, 0};
    struct thread_start ts = {&s, -1};
    int p[2];
    pthread_t t;

    if (pipe(p) != 0)
        child_report(out, -errno, "pipe");
    ts.rfd = p[0];
    if (pthread_create(&t, NULL, thread_wait_fd, &ts) != 0)
        child_report(out, -EAGAIN, "pthread_create");
    /* without TSYNC the filter applies to this thread only */
    int fd = notify_filter_for(m, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (fd < 0)
        child_report(out, fd, "install the filter with NEW_LISTENER");
    if (write(p[1], &fd, sizeof fd) != (ssize_t)sizeof fd)
        child_report(out, -errno, "pass the listener");
    /* the supervisor sets SYNC_WAKE_UP before its first NOTIF_RECV; give it
       the time to, so that the warm-up runs with the flag */
    usleep(20000);
    uint64_t ns = guest_loop(m);
    pthread_join(t, NULL);
    if (s.rc < 0)
        child_report(out, s.rc, "supervise");
    child_report(out, (int64_t)ns, "");
}

static void measure_ptrace(const struct mode *m, struct result *res)
{
    pid_t pid = fork();
    if (pid < 0) {
        res->ns = -errno;
        return;
    }
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
            _exit(5);
        syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
        /* from here on, only getppid until the tracer detaches */
        for (long i = 0; i < WARMUP + n_calls; i++)
            syscall(SYS_getppid);
        _exit(0);
    }
    int st;
    uint64_t t0 = 0, t1 = 0;
    long done = 0, stops = 0;
    int per_call = m->kind == PTRACE_SYS ? 2 : 1;
    int op = m->kind == PTRACE_SYS ? PTRACE_SYSCALL : PTRACE_SYSEMU;

    if (waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
        res->ns = -ECHILD;
        return;
    }
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL);
    if (ptrace(op, pid, 0, 0) != 0) {
        res->ns = -errno;
        snprintf(res->what, sizeof res->what, "ptrace resume");
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return;
    }
    for (;;) {
        if (waitpid(pid, &st, 0) != pid)
            break;
        if (!WIFSTOPPED(st))
            break;
        if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
            ptrace(op, pid, 0, WSTOPSIG(st));
            continue;
        }
        stops++;
        if (stops % per_call == 0 || m->kind == PTRACE_EMU) {
            done++;
            if (done == WARMUP)
                t0 = now_ns();
        }
        if (m->kind == PTRACE_EMU) {
            struct user_regs_struct regs;
            ptrace(PTRACE_GETREGS, pid, 0, &regs);
            if ((long)regs.orig_rax != SYS_getppid) {
                res->ns = -EPROTO;
                snprintf(res->what, sizeof res->what, "unexpected syscall %lld", regs.orig_rax);
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                return;
            }
            regs.rax = ANSWER;
            ptrace(PTRACE_SETREGS, pid, 0, &regs);
        }
        if (done == WARMUP + n_calls) {
            t1 = now_ns();
            ptrace(PTRACE_DETACH, pid, 0, 0);
            waitpid(pid, &st, 0);
            break;
        }
        ptrace(op, pid, 0, 0);
    }
    if (t1 == 0) {
        res->ns = -EPROTO;
        snprintf(res->what, sizeof res->what, "the tracee ended early");
        return;
    }
    res->ns = (int64_t)(t1 - t0);
}

static void measure(const struct mode *m, struct result *res)
{
    int sv[2];
    pid_t pid;
    cpu_set_t old, cpu0;

    memset(res, 0, sizeof *res);
    if (m->brand && !filter_file) {
        res->ns = -ENOENT;
        snprintf(res->what, sizeof res->what, "no --filter FILE given");
        return;
    }
    if (m->kind == PTRACE_EMU || m->kind == PTRACE_SYS) {
        measure_ptrace(m, res);
        return;
    }
    if (m->samecpu) {
        sched_getaffinity(0, sizeof old, &old);
        CPU_ZERO(&cpu0);
        CPU_SET(0, &cpu0);
        sched_setaffinity(0, sizeof cpu0, &cpu0);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        res->ns = -errno;
        return;
    }
    pid = fork();
    if (pid < 0) {
        res->ns = -errno;
        return;
    }
    if (pid == 0) {
        close(sv[0]);
        alarm(120);
        if (m->kind != NOTIF)
            run_simple_child(m, sv[1]);
        else if (m->thread)
            run_notif_thread(m, sv[1]);
        else
            run_notif_process_child(m, sv[1]);
        _exit(6);
    }
    close(sv[1]);
    if (m->kind == NOTIF && !m->thread) {
        struct sup s = {m, -1, WARMUP + n_calls, 0};
        int fd = recv_fd(sv[0]);
        if (fd < 0) {
            /* the child reported an error instead of a listener */
            read_full(sv[0], res, sizeof *res);
            if (res->ns >= 0) {
                res->ns = fd;
                snprintf(res->what, sizeof res->what, "receive the listener");
            }
            goto reap;
        }
        s.listener = fd;
        if (m->sync) {
            uint64_t fl = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
            if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, fl) != 0) {
                res->ns = -errno;
                snprintf(res->what, sizeof res->what, "SECCOMP_IOCTL_NOTIF_SET_FLAGS");
                kill(pid, SIGKILL);
                goto reap;
            }
        }
        if (write(sv[0], "g", 1) != 1) {
            res->ns = -errno;
            goto reap;
        }
        s.rc = sup_loop(&s);
        close(fd);
        if (s.rc < 0) {
            res->ns = s.rc;
            snprintf(res->what, sizeof res->what, "supervise");
            kill(pid, SIGKILL);
            goto reap;
        }
    }
    if (read_full(sv[0], res, sizeof *res) != 0) {
        res->ns = -EPIPE;
        snprintf(res->what, sizeof res->what, "the child died");
    }
reap:
    close(sv[0]);
    waitpid(pid, NULL, 0);
    if (m->samecpu)
        sched_setaffinity(0, sizeof old, &old);
}

int main(int argc, char **argv)
{
    const char *want[64];
    int nwant = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n_calls = atol(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            filter_file = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: mech [-n N] [--filter FILE] [MODE...]\n");
            return 2;
        } else if (nwant < 64)
            want[nwant++] = argv[i];
    }
    for (int w = 0; w < (nwant ? nwant : 1); w++) {
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            const struct mode *m = &modes[i];
            struct result r;
            if (nwant && strcmp(want[w], m->name))
                continue;
            measure(m, &r);
            if (r.ns < 0)
                printf("{\"mech\":\"%s\",\"error\":\"%s%s%s\"}\n", m->name, r.what,
                       r.what[0] ? ": " : "", strerror((int)-r.ns));
            else
                printf("{\"mech\":\"%s\",\"n\":%ld,\"ns\":%lld,\"ns_per_call\":%.1f}\n", m->name,
                       n_calls, (long long)r.ns, (double)r.ns / (double)n_calls);
            fflush(stdout);
        }
    }
    return 0;
}
