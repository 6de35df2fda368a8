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
 *   performed here with that same copy, looked up with
 *   openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) on the caller's root,
 *   a relative path from its working directory or dirfd (checked to be that
 *   directory inside the root), with its fsuid, fsgid, groups and umask:
 *   open, creat and openat, the fd handed over with ADDFD|SEND (as
 *   lxbrand/supervisor.py's Call.open_in_zone does for Python handlers);
 *   stat, lstat, newfstatat and statx on an O_PATH fd of the path, the
 *   struct written to the caller; access, faccessat, faccessat2 with
 *   faccessat2(AT_EACCESS) under the caller's real (or, with AT_EACCESS,
 *   effective) ids; unlink, unlinkat, rmdir, mkdir, mkdirat on the last
 *   component in its parent's O_PATH fd; but a device or a file of a
 *   kernel file system (or a parent on one) is left to the kernel
 *   (kernels_own: the supervisor's identity would show through, as lxrun's
 *   terminal behind /dev/tty).  A path rule on any other syscall
 *   (rename's two paths, chmod, readlink...) is refused when the rules are
 *   parsed (lxb_inject_path_ok).
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
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lxbrand.h"

#define NR_OPEN 2
#define NR_STAT 4
#define NR_LSTAT 6
#define NR_ACCESS 21
#define NR_MKDIR 83
#define NR_RMDIR 84
#define NR_CREAT 85
#define NR_UNLINK 87
#define NR_OPENAT 257
#define NR_MKDIRAT 258
#define NR_NEWFSTATAT 262
#define NR_UNLINKAT 263
#define NR_FACCESSAT 269
#define NR_STATX 332
#define NR_FACCESSAT2 439

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
    uint32_t ruid, rgid;         /* access(2) checks with these */
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
    switch (nr) {
    case NR_OPEN: case NR_CREAT: case NR_OPENAT:
    case NR_STAT: case NR_LSTAT: case NR_NEWFSTATAT: case NR_STATX:
    case NR_ACCESS: case NR_FACCESSAT: case NR_FACCESSAT2:
    case NR_UNLINK: case NR_UNLINKAT: case NR_RMDIR: case NR_MKDIR: case NR_MKDIRAT:
        return 1;
    }
    return 0;
}

/* the path argument's index; the *at calls take dirfd first */
static int path_arg(int nr)
{
    switch (nr) {
    case NR_OPENAT: case NR_NEWFSTATAT: case NR_STATX: case NR_FACCESSAT: case NR_FACCESSAT2:
    case NR_UNLINKAT: case NR_MKDIRAT:
        return 1;
    }
    return 0;
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

    memset(w, 0, sizeof *w);
    w->umask = 022;
    snprintf(path, sizeof path, "/proc/%u/status", tid);
    if ((n = lxb_read_small(path, buf, sizeof buf)) <= 0)
        return -ENOENT;
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
            if (line[0] == 'U') {
                w->ruid = (uint32_t)v[0];
                w->fsuid = (uint32_t)v[3];
            } else {
                w->rgid = (uint32_t)v[0];
                w->fsgid = (uint32_t)v[3];
            }
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

/* Where the supervisor's own identity would show through, the call is the
   kernel's (CONTINUE): a device (/dev/tty is the opener's controlling
   terminal: lxrun's, the user's terminal; /dev/ptmx, the console...) and a
   kernel file system (proc, sys, cgroup...: their files check the opening
   task's credentials and capabilities, not only its fsuid, so lxrun run by
   root opened /proc/1/maps where the guest gets EACCES).  Decided on the
   object itself (the fd opened, or the O_PATH fd looked up), never on the
   path: no race.  The decision the rules made on the path stands; only the
   lookup is the kernel's, as the guest's own (its trace record is left out). */
#define BY_THE_KERNEL (-1000000)

static int kernels_own(int fd)
{
    struct stat st;
    struct statfs sf;

    if (fstat(fd, &st) != 0 || fstatfs(fd, &sf) != 0)
        return 1;
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        return 1;
    switch ((unsigned long)sf.f_type) {
    case 0x9fa0:     /* PROC_SUPER_MAGIC */
    case 0x62656572: /* SYSFS_MAGIC */
    case 0x27e0eb:   /* CGROUP_SUPER_MAGIC */
    case 0x63677270: /* CGROUP2_SUPER_MAGIC */
    case 0x1cd1:     /* DEVPTS_SUPER_MAGIC */
    case 0x19800202: /* MQUEUE_MAGIC */
    case 0x64626720: /* DEBUGFS_MAGIC */
    case 0x74726163: /* TRACEFS_MAGIC */
    case 0x73636673: /* SECURITYFS_MAGIC */
    case 0xcafe4a11: /* BPF_FS_MAGIC */
    case 0x62656570: /* CONFIGFS_MAGIC */
    case 0x42494e4d: /* BINFMTFS_MAGIC */
    case 0x6165676c: /* PSTOREFS_MAGIC */
    case 0xde5e81e4: /* EFIVARFS_MAGIC */
    case 0xf97cff8c: /* SELINUX_MAGIC */
    case 0x6e736673: /* NSFS_MAGIC */
    case 0x65735543: /* FUSECTL_SUPER_MAGIC */
        return 1;
    }
    return 0;
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

/* /proc/self and /proc/thread-self name the looking-up task, which is ours
   here: the caller's by its zone pid and tid instead (the zone's /proc is
   its pid namespace's) */
static int self_in_zone(char *full, size_t cap, const struct caller *w)
{
    static const char *const pre[] = {"/proc/self", "/proc/thread-self"};
    char rest[PATH_MAX];
    size_t i, n;
    int m;

    for (i = 0; i < 2; i++) {
        n = strlen(pre[i]);
        if (strncmp(full, pre[i], n) != 0 || (full[n] != '/' && full[n] != 0))
            continue;
        memcpy(rest, full + n, strlen(full + n) + 1);
        if (i == 0)
            m = snprintf(full, cap, "/proc/%d%s", w->zpid, rest);
        else
            m = snprintf(full, cap, "/proc/%d/task/%d%s", w->zpid, w->ztid, rest);
        return m < 0 || (size_t)m >= cap ? -ENAMETOOLONG : 0;
    }
    return 0;
}

/* the caller's root (an O_PATH fd) and path as a path inside it: an
   absolute one as it is, a relative one after its working directory or
   dirfd (checked to be inside the root) */
static int in_root(const struct lxb_call *c, int dirfd, const char *path, char *full, size_t cap, int *root,
                   const struct caller *w)
{
    char proc[64];
    int rc;

    snprintf(proc, sizeof proc, "/proc/%u/root", c->pid);
    *root = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*root < 0)
        return -ENOENT;
    if (path[0] == '/') {
        if (strlen(path) >= cap) {
            rc = -ENAMETOOLONG;
            goto fail;
        }
        strcpy(full, path);
    } else {
        rc = dir_in_root(c->pid, *root, dirfd, full, cap);
        if (rc < 0)
            goto fail;
        if (strlen(full) + 1 + strlen(path) >= cap) {
            rc = -ENAMETOOLONG;
            goto fail;
        }
        strcat(full, "/");
        strcat(full, path);
    }
    rc = self_in_zone(full, cap, w);
    if (rc < 0)
        goto fail;
    /* the pid was the caller's when its root and directory were opened */
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        rc = -ENOENT;
        goto fail;
    }
    return 0;
fail:
    close(*root);
    *root = -1;
    return rc;
}

/* open, creat, openat as the caller, on the path copied once; the fd is the
   call's answer through ADDFD|SEND: returns the guest's fd or -errno */
static int perform_open(const struct lxb_call *c, const char *path, const struct caller *w)
{
    char full[PATH_MAX];
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
    rc = in_root(c, dirfd, path, full, sizeof full, &root, w);
    if (rc < 0)
        return rc;
    rc = take_ids(w, &sv);
    if (rc < 0)
        goto out;
    /* O_NOCTTY: never lxrun's terminal by the open itself; a tty is the
       kernel's anyway (kernels_own) */
    fd = openat2_(root, full, (uint64_t)(unsigned)flags | O_CLOEXEC | O_NOCTTY, mode,
                  RESOLVE_IN_ROOT_ | RESOLVE_NO_MAGICLINKS_);
    restore_ids(&sv);
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    if (kernels_own(fd)) {
        close(fd);
        rc = BY_THE_KERNEL;
        goto out;
    }
    rc = lxb_addfd_send(c->listener_fd, c->id, fd, (flags & O_CLOEXEC) ? O_CLOEXEC : 0);
    close(fd);
out:
    close(root);
    return rc;
}

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef AT_STATX_SYNC_TYPE
#define AT_STATX_SYNC_TYPE 0x6000
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#define STATX_BYTES 256          /* struct statx */

/* an O_PATH fd of the caller's dirfd itself (AT_EMPTY_PATH with ""): the
   guest's own fd, through its /proc link */
static int dirfd_itself(const struct lxb_call *c, int dirfd)
{
    char link[64];
    int fd;

    if (dirfd == AT_FDCWD)
        snprintf(link, sizeof link, "/proc/%u/cwd", c->pid);
    else if (dirfd < 0)
        return -EBADF;
    else
        snprintf(link, sizeof link, "/proc/%u/fd/%d", c->pid, dirfd);
    fd = open(link, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -EBADF;
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        close(fd);
        return -ENOENT;
    }
    return fd;
}

/* an O_PATH fd of the caller's path, looked up inside its root with ids
   `as` (the last component followed unless nofollow) */
static int lookup(const struct lxb_call *c, int dirfd, const char *path, int nofollow, const struct caller *as)
{
    char full[PATH_MAX];
    struct saved_ids sv;
    int root, fd, rc;

    rc = in_root(c, dirfd, path, full, sizeof full, &root, as);
    if (rc < 0)
        return rc;
    rc = take_ids(as, &sv);
    if (rc == 0) {
        rc = openat2_(root, full, O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0), 0,
                      RESOLVE_IN_ROOT_ | RESOLVE_NO_MAGICLINKS_);
        restore_ids(&sv);
    }
    fd = rc;
    close(root);
    return fd;
}

/* a host id as the caller's user namespace shows it (/proc/TID/uid_map read
   from ours: "inside outside count" with outside in our ids), or the
   overflow id, as stat(2) in the zone shows an id it does not map */
static uint32_t id_in_ns(uint32_t pid, const char *map, uint32_t host)
{
    char path[64], buf[1024], *line;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%u/%s", pid, map);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 65534;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 65534;
    buf[n] = 0;
    for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        unsigned long inside, outside, count;
        if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) == 3 && host >= outside &&
            host - outside < count)
            return (uint32_t)(inside + (host - outside));
    }
    return 65534;
}

/* stat, lstat, newfstatat, statx: the struct written to the caller's buffer */
static int perform_stat(const struct lxb_call *c, const char *path, const struct caller *w)
{
    int nr = c->nr, dirfd = AT_FDCWD, flags = 0, fd, rc = 0;
    uint64_t buf;
    union {
        struct stat st;
        unsigned char sx[STATX_BYTES];
    } out;
    size_t size;

    if (nr == NR_STAT || nr == NR_LSTAT) {
        buf = c->args[1];
        flags = nr == NR_LSTAT ? AT_SYMLINK_NOFOLLOW : 0;
    } else if (nr == NR_NEWFSTATAT) {
        dirfd = (int)c->args[0];
        buf = c->args[2];
        flags = (int)c->args[3];
    } else {
        dirfd = (int)c->args[0];
        flags = (int)c->args[2];
        buf = c->args[4];
    }
    if (!path[0])
        fd = (flags & AT_EMPTY_PATH) ? dirfd_itself(c, dirfd) : -ENOENT;
    else
        fd = lookup(c, dirfd, path, flags & AT_SYMLINK_NOFOLLOW, w);
    if (fd < 0)
        return fd;
    if (kernels_own(fd)) {
        close(fd);
        return BY_THE_KERNEL;
    }
    memset(&out, 0, sizeof out);
    if (nr == NR_STATX) {
        size = STATX_BYTES;
        if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), (unsigned)c->args[3],
                    out.sx) != 0)
            rc = -errno;
    } else {
        size = sizeof out.st;
        if (fstatat(fd, "", &out.st, AT_EMPTY_PATH) != 0)
            rc = -errno;
    }
    close(fd);
    if (rc < 0)
        return rc;
    /* the owner as the caller's user namespace has it */
    if (nr == NR_STATX) {
        struct statx *sx = (struct statx *)out.sx;
        sx->stx_uid = id_in_ns(c->pid, "uid_map", sx->stx_uid);
        sx->stx_gid = id_in_ns(c->pid, "gid_map", sx->stx_gid);
    } else {
        out.st.st_uid = id_in_ns(c->pid, "uid_map", out.st.st_uid);
        out.st.st_gid = id_in_ns(c->pid, "gid_map", out.st.st_gid);
    }
    if (lxb_notif_valid(c->listener_fd, c->id) < 0)
        return -ENOENT;
    return lxb_write_mem(c->pid, buf, &out, size) == (int64_t)size ? 0 : -EFAULT;
}

/* access, faccessat, faccessat2: checked with the caller's real ids, or its
   effective (fs) ones under AT_EACCESS, as the kernel does */
static int perform_access(const struct lxb_call *c, const char *path, const struct caller *w)
{
    int nr = c->nr, dirfd = nr == NR_ACCESS ? AT_FDCWD : (int)c->args[0];
    int mode = (int)c->args[nr == NR_ACCESS ? 1 : 2];
    int flags = nr == NR_FACCESSAT2 ? (int)c->args[3] : 0;
    struct caller as = *w;
    struct saved_ids sv;
    int fd, rc;

    if (mode & ~(R_OK | W_OK | X_OK))
        return -EINVAL;
    if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    if (!(flags & AT_EACCESS)) {
        as.fsuid = w->ruid;
        as.fsgid = w->rgid;
    }
    if (!path[0])
        fd = (flags & AT_EMPTY_PATH) ? dirfd_itself(c, dirfd) : -ENOENT;
    else
        fd = lookup(c, dirfd, path, flags & AT_SYMLINK_NOFOLLOW, &as);
    if (fd < 0)
        return fd;
    if (kernels_own(fd)) {
        close(fd);
        return BY_THE_KERNEL;
    }
    rc = take_ids(&as, &sv);
    if (rc == 0) {
        /* AT_EACCESS: the ids this thread holds now, the caller's */
        rc = syscall(SYS_faccessat2, fd, "", mode, AT_EMPTY_PATH | AT_EACCESS) == 0 ? 0 : -errno;
        restore_ids(&sv);
    }
    close(fd);
    return rc;
}

/* unlink, unlinkat, rmdir, mkdir, mkdirat: on the last component, in its
   parent looked up inside the root */
static int perform_dirent(const struct lxb_call *c, const char *path, const struct caller *w)
{
    char full[PATH_MAX], *slash, *base;
    const char *dir;
    struct saved_ids sv;
    int nr = c->nr, dirfd = AT_FDCWD, flags = 0, root, pfd, rc, trailing = 0;
    size_t len;
    mode_t mode = 0;

    switch (nr) {
    case NR_UNLINKAT:
        dirfd = (int)c->args[0];
        flags = (int)c->args[2];
        if (flags & ~AT_REMOVEDIR)
            return -EINVAL;
        break;
    case NR_RMDIR:
        flags = AT_REMOVEDIR;
        break;
    case NR_MKDIR:
        mode = (mode_t)c->args[1];
        break;
    case NR_MKDIRAT:
        dirfd = (int)c->args[0];
        mode = (mode_t)c->args[2];
        break;
    }
    if (!path[0])
        return -ENOENT;
    rc = in_root(c, dirfd, path, full, sizeof full, &root, w);
    if (rc < 0)
        return rc;
    len = strlen(full);
    while (len > 1 && full[len - 1] == '/') {
        full[--len] = 0;
        trailing = 1;
    }
    slash = strrchr(full, '/');
    if (!slash) {
        dir = ".";
        base = full;
    } else {
        *slash = 0;
        base = slash + 1;
        dir = slash == full ? "/" : full;
    }
    if (!*base)
        base = "."; /* the root itself */
    rc = take_ids(w, &sv);
    if (rc < 0)
        goto out;
    pfd = openat2_(root, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_IN_ROOT_ | RESOLVE_NO_MAGICLINKS_);
    if (pfd < 0) {
        rc = pfd;
    } else if (kernels_own(pfd)) {
        close(pfd);
        rc = BY_THE_KERNEL;
    } else {
        if (nr == NR_MKDIR || nr == NR_MKDIRAT) {
            rc = mkdirat(pfd, base, mode & 07777 & ~w->umask) == 0 ? 0 : -errno;
        } else if (!(flags & AT_REMOVEDIR) && trailing) {
            /* unlink("name/"): never a file; a directory is EISDIR */
            struct stat st;
            if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
                rc = -errno;
            else
                rc = S_ISDIR(st.st_mode) ? -EISDIR : -ENOTDIR;
        } else {
            rc = unlinkat(pfd, base, flags & AT_REMOVEDIR) == 0 ? 0 : -errno;
        }
        close(pfd);
    }
    restore_ids(&sv);
out:
    close(root);
    return rc;
}

/* a path syscall performed for the caller on the path copied once */
static int perform(const struct lxb_call *c, const char *path, const struct caller *w)
{
    switch (c->nr) {
    case NR_OPEN: case NR_CREAT: case NR_OPENAT:
        return perform_open(c, path, w);
    case NR_STAT: case NR_LSTAT: case NR_NEWFSTATAT: case NR_STATX:
        return perform_stat(c, path, w);
    case NR_ACCESS: case NR_FACCESSAT: case NR_FACCESSAT2:
        return perform_access(c, path, w);
    case NR_UNLINK: case NR_UNLINKAT: case NR_RMDIR: case NR_MKDIR: case NR_MKDIRAT:
        return perform_dirent(c, path, w);
    }
    return -ENOSYS;
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
        rc = lxb_read_path(c->pid, c->args[path_arg(nr)], path, sizeof path);
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
        rc = perform(c, path, &w);
        if (rc == BY_THE_KERNEL) {
            r->flags = LXB_REPLY_CONTINUE;
            return 1;
        }
        if (rc < 0) {
            r->error = -rc;
        } else {
            r->error = 0;
            r->val = rc; /* an open's fd: answered already by ADDFD|SEND */
        }
        log_call(in, c, &w, rc, 0, pathp, t0);
        return 1;
    }
    r->flags = LXB_REPLY_CONTINUE;
    return 1;
}
