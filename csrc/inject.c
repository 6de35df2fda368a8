/*
 * inject.c: fault injection (lxrun --inject RULE, Zone(inject=[...]); issue 13).
 *
 * OVERVIEW
 *
 *   A rule (lxbrand/inject.py parses it into struct lxb_inject_rule) names
 *   syscalls and says what to answer (error=, retval=), on which matching
 *   call (when=N, N+, N+STEP: strace --inject's first and step), for which
 *   caller (pid=, the zone's pid of its process) and path (path=, an
 *   fnmatch(3) glob), after how long (delay=).  Only the syscalls a rule
 *   names leave the kernel: the brand makes them USER_NOTIF (kind
 *   LXB_KIND_INJECT when the brand would pass them through), and every
 *   other syscall keeps its place (pass-through, --deny, emulation).  The
 *   decision per call is here, in C: a counter per rule, a pid compare and a
 *   glob; Python never sees a call.
 *
 * COUNTING
 *
 *   A rule counts the calls that match it (its syscalls, its pid, its path)
 *   across the zone, atomically, from 1; it fires on call `first`, then on
 *   every `step`-th after it (step 0: once).  Every rule that matches a call
 *   counts it; the delays of all that fire add up, and the first that fires
 *   with error= or retval= gives the answer.  A zone-wide count is
 *   deterministic for one process; pid= makes it one process's count.
 *   (strace counts per traced thread.)
 *
 * PATHS
 *
 *   A path rule decides on a path, so it may never answer CONTINUE: the
 *   guest could change the path between our check and the kernel's read.
 *   The path is read once from guest memory, the notification is checked
 *   alive, the rules decide on that copy, and then the call is failed or
 *   performed here with that same copy: open, creat and openat through
 *   openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) on the caller's root,
 *   a relative path from its working directory or dirfd (checked to be that
 *   directory inside the root), with its fsuid, fsgid, groups and umask, and
 *   the fd handed over with ADDFD|SEND (as lxbrand/supervisor.py's
 *   Call.open_in_zone does for Python handlers).  A path rule on any other
 *   syscall is refused when the rules are parsed (lxb_inject_path_ok).
 *
 * TRACING
 *
 *   Under --trace, a traced syscall without path rules is SECCOMP_RET_TRACE
 *   instead, and the tracer (trace.c) asks lxb_inject_decide at its seccomp
 *   stop: an injected call is skipped with its answer in rax and recorded
 *   with LXB_RECF_INJECTED, the others run and are recorded as usual.  A
 *   syscall with path rules stays with the supervisor, which writes a trace
 *   record of each call it answers to log_fd (a pipe of its own: the
 *   tracer's batches are larger than PIPE_BUF, so sharing its pipe could
 *   split records).  A delay under the tracer holds the tracer thread, so
 *   the zone's other traced calls wait with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lxbrand.h"

#define NR_OPEN 2
#define NR_CREAT 85
#define NR_OPENAT 257

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define RESOLVE_NO_MAGICLINKS_ 0x02
#define RESOLVE_IN_ROOT_ 0x10

/* the kernel's VALID_OPEN_FLAGS (include/linux/fcntl.h): openat2 refuses
   flags open(2) ignores; O_PATH keeps only its few (fs/open.c build_open_how) */
#define VALID_OPEN_FLAGS 037777703
#define O_PATH_FLAGS (O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC)
#define MAX_GROUPS 256

struct open_how_ {
    uint64_t flags, mode, resolve;
};

/* the caller, from /proc/TID/status: its zone ids and the ids an open is checked with */
struct caller {
    int32_t zpid, ztid;
    uint32_t fsuid, fsgid;
    int ngroups;                 /* -1: more than MAX_GROUPS */
    gid_t groups[MAX_GROUPS];
    mode_t umask;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int lxb_inject_path_ok(int nr)
{
    return nr == NR_OPEN || nr == NR_CREAT || nr == NR_OPENAT;
}

static int path_arg(int nr)
{
    return nr == NR_OPENAT ? 1 : 0;
}

/* the last number of a "Key:\tn\tn..." line */
static long last_field(const char *line)
{
    const char *end = strchr(line, '\n'), *p;
    if (!end)
        end = line + strlen(line);
    p = end;
    while (p > line && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    while (p > line && p[-1] != ' ' && p[-1] != '\t')
        p--;
    return strtol(p, NULL, 10);
}

static int read_caller(uint32_t tid, struct caller *w)
{
    char path[64], buf[8192], *line;
    ssize_t n;
    int fd;

    memset(w, 0, sizeof *w);
    w->umask = 022;
    snprintf(path, sizeof path, "/proc/%u/status", tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ENOENT;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -ENOENT;
    buf[n] = 0;
    for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "NStgid:", 7) == 0) {
            w->zpid = (int32_t)last_field(line);
        } else if (strncmp(line, "NSpid:", 6) == 0) {
            w->ztid = (int32_t)last_field(line);
        } else if (strncmp(line, "Umask:", 6) == 0) {
            w->umask = (mode_t)strtol(line + 6, NULL, 8);
        } else if (strncmp(line, "Uid:", 4) == 0 || strncmp(line, "Gid:", 4) == 0) {
            /* real, effective, saved, fs: the fourth */
            unsigned long v[4] = {0, 0, 0, 0};
            sscanf(line + 4, "%lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]);
            if (line[0] == 'U')
                w->fsuid = (uint32_t)v[3];
            else
                w->fsgid = (uint32_t)v[3];
        } else if (strncmp(line, "Groups:", 7) == 0) {
            char *p = line + 7, *end;
            for (;;) {
                long g = strtol(p, &end, 10);
                if (end == p || *p == '\n')
                    break;
                if (w->ngroups >= MAX_GROUPS) {
                    w->ngroups = -1;
                    break;
                }
                w->groups[w->ngroups++] = (gid_t)g;
                p = end;
            }
        }
    }
    return 0;
}

/* ---- the decision ---- */

static int names(const struct lxb_inject_rule *r, int nr)
{
    return r->nrs[nr >> 3] & (1u << (nr & 7));
}

static int fires(const struct lxb_inject_rule *r, uint64_t n)
{
    if (n < r->first)
        return 0;
    if (n == r->first)
        return 1;
    return r->step && (n - r->first) % r->step == 0;
}

/* count the call in every rule it matches; 1 with *ret when one fires with
   an answer; *delay_ns adds up the delays of those that fire */
static int decide(struct lxb_inject *in, int nr, int32_t zpid, const char *path, int64_t *ret,
                  uint64_t *delay_ns)
{
    int i, answered = 0;

    for (i = 0; i < in->nrules && i < LXB_INJECT_MAX; i++) {
        struct lxb_inject_rule *r = &in->rule[i];
        uint64_t n;

        if (!names(r, nr))
            continue;
        if (r->pid && r->pid != zpid)
            continue;
        if (r->path[0] && (!path || fnmatch(r->path, path, 0) != 0))
            continue;
        n = __atomic_add_fetch(&r->count, 1, __ATOMIC_RELAXED);
        if (!fires(r, n))
            continue;
        __atomic_fetch_add(&r->fired, 1, __ATOMIC_RELAXED);
        *delay_ns += r->delay_ns;
        if (!answered && r->action) {
            answered = 1;
            *ret = r->action == LXB_INJ_ERROR ? -(int64_t)r->error : r->retval;
        }
    }
    return answered;
}

int lxb_inject_decide(struct lxb_inject *in, int nr, int32_t zone_pid, int64_t *ret)
{
    uint64_t delay = 0;
    int answered;

    if (!in || nr < 0 || nr >= LXB_NR_MAX || !in->on[nr])
        return 0;
    answered = decide(in, nr, zone_pid, NULL, ret, &delay);
    if (delay)
        sleep_ns(delay);
    return answered;
}

void lxb_inject_reset(struct lxb_inject *in)
{
    int i;
    for (i = 0; i < LXB_INJECT_MAX; i++) {
        __atomic_store_n(&in->rule[i].count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&in->rule[i].fired, 0, __ATOMIC_RELAXED);
    }
}

void lxb_inject_set_log(struct lxb_inject *in, int fd)
{
    int old = __atomic_exchange_n(&in->log_fd, fd, __ATOMIC_SEQ_CST);
    if (old >= 0)
        close(old);
}

/* ---- trace records of the calls answered here ---- */

static void log_call(struct lxb_inject *in, const struct lxb_call *c, const struct caller *w, int64_t ret,
                     uint32_t flags, const char *path, uint64_t t0)
{
    struct lxb_trace_rec rec;
    int fd = __atomic_load_n(&in->log_fd, __ATOMIC_RELAXED);
    ssize_t n;

    if (fd < 0)
        return;
    memset(&rec, 0, sizeof rec);
    rec.kind = LXB_REC_SYSCALL;
    rec.flags = flags;
    rec.pid = w->zpid;
    rec.tid = w->ztid;
    rec.nr = c->nr;
    memcpy(rec.args, c->args, sizeof rec.args);
    rec.ret = ret;
    rec.t_entry = t0;
    rec.t_exit = now_ns();
    rec.host_tid = (int32_t)c->pid;
    memset(rec.slot_arg, LXB_SLOT_NONE, sizeof rec.slot_arg);
    if (path) {
        size_t len = strlen(path);
        if (len > LXB_TRACE_SLOT) {
            len = LXB_TRACE_SLOT;
            rec.slot_trunc = 1;
        }
        rec.slot_arg[0] = (uint8_t)path_arg(c->nr);
        rec.slot_len[0] = (uint16_t)len;
        memcpy(rec.slot[0], path, len);
    }
    /* one record is less than PIPE_BUF: written whole, never interleaved */
    while ((n = write(fd, &rec, sizeof rec)) < 0 && errno == EINTR)
        ;
}

/* ---- performing an open for the guest ---- */

/* a NUL-terminated path from guest memory, page by page */
static int read_path(uint32_t pid, uint64_t addr, char *buf, size_t cap)
{
    size_t got = 0;

    if (addr == 0)
        return -EFAULT;
    while (got < cap) {
        size_t chunk = 4096 - ((addr + got) & 4095);
        int64_t n;
        char *nul;

        if (chunk > cap - got)
            chunk = cap - got;
        n = lxb_read_mem(pid, addr + got, buf + got, chunk);
        if (n <= 0)
            return -EFAULT;
        nul = memchr(buf + got, 0, (size_t)n);
        if (nul)
            return 0;
        got += (size_t)n;
    }
    return -ENAMETOOLONG;
}

static int openat2_(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct open_how_ how = {flags, mode, resolve};
    int i;
    long fd = -1;

    for (i = 0; i < 32; i++) { /* EAGAIN: a rename or mount raced the lookup; Linux asks to retry */
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN)
            break;
    }
    return fd < 0 ? -errno : (int)fd;
}

/* the path inside the caller's root of its working directory or of its
   dirfd, checked to be that directory; "" for the root itself */
static int dir_in_root(uint32_t tid, int root, int dirfd, char *out, size_t cap)
{
    char link[64], where[PATH_MAX];
    struct stat want, got;
    ssize_t n;
    int fd;

    if (dirfd == AT_FDCWD)
        snprintf(link, sizeof link, "/proc/%u/cwd", tid);
    else if (dirfd < 0)
        return -EBADF;
    else
        snprintf(link, sizeof link, "/proc/%u/fd/%d", tid, dirfd);
    n = readlink(link, where, sizeof where - 1);
    if (n < 0 || stat(link, &want) != 0)
        return -EBADF;
    where[n] = 0;
    if (!S_ISDIR(want.st_mode))
        return -ENOTDIR;
    if (where[0] != '/')
        return -ENOENT;
    fd = openat2_(root, where, O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT_ | RESOLVE_NO_MAGICLINKS_);
    if (fd < 0)
        return -ENOENT;
    n = fstat(fd, &got);
    close(fd);
    if (n != 0 || got.st_dev != want.st_dev || got.st_ino != want.st_ino)
        return -ENOENT; /* not inside the zone's root */
    while (n = (ssize_t)strlen(where), n > 0 && where[n - 1] == '/')
        where[n - 1] = 0;
    if ((size_t)n >= cap)
        return -ENAMETOOLONG;
    memcpy(out, where, (size_t)n + 1);
    return 0;
}

struct saved_ids {
    int switched;
    int ngroups;
    gid_t groups[MAX_GROUPS];
};

static void restore_ids(struct saved_ids *sv)
{
    if (!sv->switched)
        return;
    syscall(SYS_setfsuid, geteuid());
    syscall(SYS_setfsgid, getegid());
    if (syscall(SYS_setgroups, (size_t)sv->ngroups, sv->groups) != 0) {
        /* never go on answering syscalls with the guest's groups: fail closed */
        static const char msg[] = "lxbrand: cannot restore lxrun's groups after an injected open\n";
        if (write(2, msg, sizeof msg - 1) < 0) {
        }
        _exit(125);
    }
    sv->switched = 0;
}

/* this thread takes the caller's fsuid, fsgid and groups (raw syscalls: this
   thread only), where they are not lxrun's own; an ordinary user cannot */
static int take_ids(const struct caller *w, struct saved_ids *sv)
{
    gid_t ours[MAX_GROUPS];
    int n, i, j;

    sv->switched = 0;
    if (w->fsuid == geteuid() && w->fsgid == getegid()) {
        n = getgroups(MAX_GROUPS, ours);
        for (i = 0; n >= 0 && i < n; i++) {
            int found = ours[i] == w->fsgid;
            for (j = 0; !found && j < w->ngroups; j++)
                found = ours[i] == w->groups[j];
            if (!found)
                break;
        }
        if (n >= 0 && i == n)
            return 0;
    }
    if (geteuid() != 0 || w->ngroups < 0)
        return -EACCES;
    n = getgroups(MAX_GROUPS, sv->groups);
    if (n < 0)
        return -EACCES;
    sv->ngroups = n;
    sv->switched = 1;
    if (syscall(SYS_setgroups, (size_t)w->ngroups, w->groups) != 0) {
        restore_ids(sv);
        return -EACCES;
    }
    syscall(SYS_setfsgid, w->fsgid);
    syscall(SYS_setfsuid, w->fsuid);
    /* setfsuid/setfsgid answer the previous id and no error: ask again */
    if ((uint32_t)syscall(SYS_setfsuid, -1) != w->fsuid || (uint32_t)syscall(SYS_setfsgid, -1) != w->fsgid) {
        restore_ids(sv);
        return -EACCES;
    }
    return 0;
}

/* open, creat, openat as the caller, on the path copied once; the fd is the
   call's answer through ADDFD|SEND: returns the guest's fd or -errno */
static int perform_open(const struct lxb_call *c, const char *path, const struct caller *w)
{
    char full[PATH_MAX], proc[64];
    struct saved_ids sv;
    int dirfd = AT_FDCWD, flags, root, fd, rc;
    uint64_t mode;

    switch (c->nr) {
    case NR_OPEN:
        flags = (int)c->args[1];
        mode = c->args[2];
        break;
    case NR_CREAT:
        flags = O_CREAT | O_WRONLY | O_TRUNC;
        mode = c->args[1];
        break;
    default:
        dirfd = (int)c->args[0];
        flags = (int)c->args[2];
        mode = c->args[3];
        break;
    }
    if (!path[0])
        return -ENOENT;
    flags &= VALID_OPEN_FLAGS;
    if (flags & O_PATH)
        flags &= O_PATH_FLAGS;
    if (flags & (O_CREAT | (O_TMPFILE & ~O_DIRECTORY)))
        mode = mode & 07777 & ~(uint64_t)w->umask;
    else
        mode = 0;
    snprintf(proc, sizeof proc, "/proc/%u/root", c->pid);
    root = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -ENOENT;
    if (path[0] == '/') {
        if (strlen(path) >= sizeof full) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        strcpy(full, path);
    } else {
        rc = dir_in_root(c->pid, root, dirfd, full, sizeof full);
        if (rc < 0)
            goto out;
        if (strlen(full) + 1 + strlen(path) >= sizeof full) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        strcat(full, "/");
        strcat(full, path);
    }
    /* the pid was the caller's when its root and directory were opened */
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        rc = -ENOENT;
        goto out;
    }
    rc = take_ids(w, &sv);
    if (rc < 0)
        goto out;
    fd = openat2_(root, full, (uint64_t)(unsigned)flags | O_CLOEXEC, mode,
                  RESOLVE_IN_ROOT_ | RESOLVE_NO_MAGICLINKS_);
    restore_ids(&sv);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    rc = lxb_addfd_send(c->listener_fd, c->id, fd, (flags & O_CLOEXEC) ? O_CLOEXEC : 0);
    close(fd);
out:
    close(root);
    return rc;
}

/* ---- the supervisor's part ---- */

int lxb_inject_call(struct lxb_inject *in, const struct lxb_call *c, struct lxb_reply *r, int passthrough)
{
    char path[PATH_MAX];
    const char *pathp = NULL;
    struct caller w;
    uint64_t t0 = now_ns(), delay = 0;
    int64_t ret = 0;
    int nr = c->nr, on, logging, rc;

    if (!in || nr < 0 || nr >= LXB_NR_MAX || !(on = in->on[nr]))
        return 0;
    logging = __atomic_load_n(&in->log_fd, __ATOMIC_RELAXED) >= 0;
    memset(&w, 0, sizeof w);
    if (((on & (LXB_INJ_ON_PID | LXB_INJ_ON_PATH)) || logging) && read_caller(c->pid, &w) < 0) {
        r->error = ENOENT; /* the caller is gone */
        return 1;
    }
    if (on & LXB_INJ_ON_PATH) {
        /* read once; the rules and the open below use this copy only */
        rc = read_path(c->pid, c->args[path_arg(nr)], path, sizeof path);
        if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
            r->error = ENOENT;
            return 1;
        }
        if (rc < 0) {
            r->error = -rc; /* as the kernel: EFAULT, ENAMETOOLONG */
            log_call(in, c, &w, rc, 0, NULL, t0);
            return 1;
        }
        pathp = path;
    }
    if (decide(in, nr, w.zpid, pathp, &ret, &delay)) {
        if (delay)
            sleep_ns(delay);
        if (ret < 0 && ret >= -4095) {
            r->error = (int32_t)-ret;
        } else {
            r->error = 0;
            r->val = ret;
        }
        log_call(in, c, &w, ret, LXB_RECF_INJECTED, pathp, t0);
        return 1;
    }
    if (delay)
        sleep_ns(delay);
    if (!passthrough)
        return 0; /* the brand's own handler answers */
    if (on & LXB_INJ_ON_PATH) {
        rc = perform_open(c, path, &w);
        if (rc < 0) {
            r->error = -rc;
        } else {
            r->error = 0;
            r->val = rc; /* answered already by ADDFD|SEND */
        }
        log_call(in, c, &w, rc, 0, pathp, t0);
        return 1;
    }
    r->flags = LXB_REPLY_CONTINUE;
    return 1;
}
