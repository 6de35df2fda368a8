/*
 * perfstats.c: lxrun --stats without ptrace stops, from the kernel's
 * syscall tracepoints (issue 13).
 *
 * OVERVIEW
 *
 *   Under --stats alone (no --trace lines, no --inject rule for the tracer)
 *   nothing needs to stop the guest: a count, an errno and a duration per
 *   call are what the kernel's raw_syscalls:sys_enter and sys_exit
 *   tracepoints report, as `perf trace -s` reads them.  Before the held
 *   guest execs (lxb_config.hold_guest, the point where the ptrace tracer
 *   seizes it; the guest then spins in user space, in no syscall), lxrun
 *   opens both tracepoints for the guest's pid on every CPU, inherit=1, so
 *   every task the guest forks or clones carries them and nothing else is
 *   counted (not init, not the supervisor, not the host).  perf_mmap
 *   refuses an inherited per-task event with cpu -1, so each CPU has its
 *   own pair and one ring buffer (sys_exit's output set to sys_enter's,
 *   PERF_EVENT_IOC_SET_OUTPUT), as `perf record` does.  The fds are
 *   CLOEXEC and never reach the zone (the guest was cloned before they
 *   existed, and perf_event_open is denied in a zone anyway).
 *
 *   A reader thread drains the rings (woken at a quarter full, or every
 *   50 ms), orders the samples by time (a task's enter and exit may land
 *   in two CPUs' rings when it migrates; the clock is CLOCK_MONOTONIC,
 *   use_clockid) and pairs them per tid into the same statistics the
 *   ptrace tracer keeps (lxb_sink_put, csrc/trace_fmt.c), so the table and
 *   the JSON are lxb_trace_stats_write's.  Samples newer than 5 ms wait
 *   for the next round, so that a sample timestamped before one already
 *   counted, but committed to another CPU's ring after that ring was read,
 *   still pairs in order.
 *
 * WHAT IS COUNTED (the ptrace tracer's set, call for call)
 *
 *   t->spec[nr] as the cache or trace.Observe.actions give it for the
 *   ptrace tracer: a LXB_TRACE_RECORD syscall (pass-through) counts each
 *   enter paired with its exit; a LXB_TRACE_ANSWER syscall (denied or
 *   unsupported: the filter answers it, or the supervisor under --report)
 *   never reaches sys_enter, because seccomp runs before the tracepoint in
 *   syscall_trace_enter (kernel/entry/common.c) and a call it answers is
 *   skipped, yet its sys_exit fires with the errno: such an exit counts as
 *   one call of duration 0 (the kernel answered it in the filter; the
 *   ptrace tracer's figure for it was its own stop, a few us).  Syscalls
 *   the supervisor emulates (mode 0: notified) are not counted, as under
 *   the ptrace tracer.  Other exits without an enter are not calls of this
 *   run: a new task's return from fork, vfork, clone or clone3 (its parent
 *   made the call).  exit and exit_group never return: the task's
 *   PERF_RECORD_EXIT (attr.task) ends them, as the ptrace tracer ends them
 *   at the task's exit, with no result.  A thread's execve returns in the
 *   thread-group leader's tid: an exit of execve/execveat without its enter
 *   takes the pending execve of a thread of the same process.
 *
 * LOST EVENTS
 *
 *   Each ring is 32 MiB / CPUs (at most 8 MiB, at least 512 KiB); a call
 *   is about 150 bytes of samples, so 50000 stats in 30 ms fill under a
 *   quarter of one.  If the kernel drops samples anyway (PERF_RECORD_LOST,
 *   LOST_SAMPLES, THROTTLE), lxb_perfstats_finish returns how many and the
 *   output says so (lxb_perfstats_write): the counts are never shown as
 *   exact when they are not.
 *
 * WHEN
 *
 *   lxb_perfstats_probe: root, or CAP_PERFMON with perf_event_paranoid at
 *   most -1 for raw tracepoint samples, and tracefs's ids readable.  An
 *   ordinary user (perf_event_paranoid 2, tracefs root-only) gets the
 *   ptrace tracer, as does LXBRAND_STATS=ptrace (lxrun.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lxbrand.h"
#include "perfstats.h"
#include "bpftrace.h"
#include "trace_int.h"
#include "stats_bpf_obj.h"       /* build/gen: LXB_HAVE_BPF, csrc/bpf/stats.bpf.c's object */

#if LXB_HAVE_BPF
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf/trace_bpf.h"
#endif

#ifndef __WALL
#define __WALL 0x40000000
#endif
#define NR_RT_SIGRETURN 15
#define NR_EXECVE 59
#define NR_EXECVEAT 322
#define MARGIN_NS 5000000ull     /* samples newer than this wait for the next round */
#define RING_TOTAL (32u << 20)
#define RING_MAX (8u << 20)
#define RING_MIN (512u << 10)

enum { EV_ENTER = 1, EV_EXIT, EV_GONE };

struct ev {
    uint64_t time;
    uint32_t pid, tid;
    int32_t type, nr;
    int64_t ret;
};

struct ring {
    int fd_enter, fd_exit;
    void *base;
    size_t map_len;
    struct perf_event_mmap_page *meta;
    unsigned char *data;
    uint64_t size;
};

struct pending {
    uint32_t tid;                /* 0: free */
    uint32_t pid;
    int32_t nr;
    int32_t restart;             /* 1: exited with -ERESTART*, counted at the task's next event */
    uint64_t t, t_exit;
    int64_t ret;
};

#define BS_NPROGS 5
#define BS_NMAPS 8

struct lxb_perfstats {
    struct lxb_tracer *t;
    /* counted in the kernel (csrc/bpf/stats.bpf.c): no ring, no reader */
    int in_kernel;
    int map[LXB_SET_MAPS];       /* stats.bpf.c's maps (BMAPS) and programs (BPROGS), as fds */
    int prog[LXB_SET_PROGS];
    struct lxb_bpftrace *held;   /* the holder's set (its programs attached by it), or NULL */
    uint64_t misses0;            /* the programs' recursion_misses before the run */
    int bs_init;                 /* map, prog and link are fds or -1 (the in-kernel state) */
    int link[BS_NPROGS];
    struct lxb_sink *sink;
    int nring;
    struct ring *ring;
    int stop_fd;
    pthread_t thread;
    int started;
    uint16_t id_enter, id_exit;
    int off_id, off_ret;         /* in a sample's raw data (tracefs format) */
    struct ev *evs;              /* read, not yet counted */
    size_t nev, cap;
    struct pending *pend;        /* open addressing on tid */
    size_t pcap, pused;
    uint64_t lost, last_time;
    unsigned char *rec_buf;      /* one record, unwrapped */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* LXBRAND_STATS=tracepoints: perf's rings (the way before the programs;
   tests compare the two) */
static int in_kernel_wanted(void)
{
    const char *want = getenv("LXBRAND_STATS");
    return !(want && strcmp(want, "tracepoints") == 0);
}

/* ---- tracefs: the tracepoints' ids and their fields' offsets ---- */

static const char *const TRACEFS[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing", NULL};

static int read_text(const char *event, const char *file, char *buf, size_t len)
{
    char path[256];
    int i, fd;
    ssize_t n;

    for (i = 0; TRACEFS[i]; i++) {
        snprintf(path, sizeof path, "%s/events/raw_syscalls/%s/%s", TRACEFS[i], event, file);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, len - 1);
        close(fd);
        if (n <= 0)
            return -EIO;
        buf[n] = 0;
        return 0;
    }
    return -errno;
}

static int tp_id(const char *event)
{
    char buf[64];
    int rc = read_text(event, "id", buf, sizeof buf);
    if (rc < 0)
        return rc;
    rc = atoi(buf);
    return rc > 0 && rc < 65536 ? rc : -EIO;
}

/* the offset of "field:long NAME;" in the event's format */
static int field_offset(const char *event, const char *name)
{
    char buf[4096], pat[64], *s;
    int rc = read_text(event, "format", buf, sizeof buf);
    if (rc < 0)
        return rc;
    snprintf(pat, sizeof pat, "field:long %s;", name);
    s = strstr(buf, pat);
    if (!s || !(s = strstr(s, "offset:")))
        return -EIO;
    rc = atoi(s + 7);
    return rc >= 8 && rc <= 64 ? rc : -EIO;
}

static int perf_open(struct perf_event_attr *a, pid_t pid, int cpu, int group)
{
    return (int)syscall(SYS_perf_event_open, a, pid, cpu, group, PERF_FLAG_FD_CLOEXEC);
}

static void attr_for(struct perf_event_attr *a, int id, int task, uint64_t ring)
{
    memset(a, 0, sizeof *a);
    a->type = PERF_TYPE_TRACEPOINT;
    a->size = sizeof *a;
    a->config = (uint64_t)id;
    a->sample_period = 1;
    a->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW;
    a->inherit = 1;
    a->task = task ? 1 : 0;      /* PERF_RECORD_EXIT: the end of exit, exit_group */
    a->sample_id_all = 1;
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    a->watermark = 1;
    a->wakeup_watermark = (uint32_t)(ring / 4);
}

/* may this process take raw tracepoint samples?  kernel/events/core.c
   perf_trace_event_perm: CAP_PERFMON (or CAP_SYS_ADMIN) unless
   perf_event_paranoid is -1 */
static int may_sample_raw(void)
{
    struct {
        uint32_t version;
        int pid;
    } head = {0x20080522, 0};    /* _LINUX_CAPABILITY_VERSION_3 */
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2];
    char buf[16];
    int fd = open("/proc/sys/kernel/perf_event_paranoid", O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd >= 0) {
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            if (atoi(buf) <= -1)
                return 1;
        }
    }
    if (syscall(SYS_capget, &head, data) != 0)
        return 0;
    return (data[0].effective & (1u << 21)) ||      /* CAP_SYS_ADMIN */
           (data[1].effective & (1u << (38 - 32)));  /* CAP_PERFMON */
}

/* Opening an event to find out costs: a tracepoint's unregistering at the
   close waits for an RCU grace period (45 ms here), and even a disabled
   software event took 18 ms (a static key patched on every CPU).  So: the
   tracepoints' ids and fields readable, raw samples allowed, and
   perf_event_open reachable (not a container's seccomp EPERM or ENOSYS):
   an attr too small for any kernel is refused with E2BIG by perf_copy_attr,
   before anything is made */
static int perf_probe(void)
{
    struct perf_event_attr a;
    int id = tp_id("sys_enter"), fd;

    if (id < 0)
        return id;
    if (tp_id("sys_exit") < 0 || field_offset("sys_enter", "id") < 0 || field_offset("sys_exit", "ret") < 0)
        return -EIO;
    if (!may_sample_raw())
        return -EPERM;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_SOFTWARE;
    a.size = 1;                  /* below PERF_ATTR_SIZE_VER0 */
    a.config = PERF_COUNT_SW_DUMMY;
    fd = perf_open(&a, 0, -1, -1);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == E2BIG ? 0 : -errno;
}

/* in the kernel (stats.bpf.c: root, or CAP_BPF with CAP_PERFMON, and the
   kernel's BTF), else perf's tracepoints */
int lxb_perfstats_probe(void)
{
#if LXB_HAVE_BPF
    if (in_kernel_wanted() && lxb_bpftrace_probe() == 0)
        return 0;
#endif
    return perf_probe();
}

/* ---- the pending calls, by tid ---- */

static struct pending *pend_slot(struct lxb_perfstats *p, uint32_t tid)
{
    size_t i = ((size_t)tid * 2654435761u) & (p->pcap - 1);
    while (p->pend[i].tid && p->pend[i].tid != tid)
        i = (i + 1) & (p->pcap - 1);
    return &p->pend[i];
}

static struct pending *pend_get(struct lxb_perfstats *p, uint32_t tid)
{
    struct pending *s = pend_slot(p, tid);
    return s->tid ? s : NULL;
}

static int pend_grow(struct lxb_perfstats *p)
{
    struct pending *old = p->pend;
    size_t oldcap = p->pcap, i;
    struct pending *n = calloc(oldcap ? oldcap * 2 : 256, sizeof *n);

    if (!n)
        return -ENOMEM;
    p->pend = n;
    p->pcap = oldcap ? oldcap * 2 : 256;
    for (i = 0; i < oldcap; i++)
        if (old[i].tid)
            *pend_slot(p, old[i].tid) = old[i];
    free(old);
    return 0;
}

static void pend_put(struct lxb_perfstats *p, uint32_t tid, uint32_t pid, int nr, uint64_t t)
{
    struct pending *s;

    if ((p->pused + 1) * 2 > p->pcap && pend_grow(p) < 0)
        return;
    s = pend_slot(p, tid);
    if (!s->tid)
        p->pused++;
    *s = (struct pending){tid, pid, nr, 0, t, 0, 0};
}

static void pend_drop(struct lxb_perfstats *p, struct pending *s)
{
    size_t i = (size_t)(s - p->pend), j;

    s->tid = 0;
    p->pused--;
    /* re-insert the run after the hole (linear probing) */
    for (j = (i + 1) & (p->pcap - 1); p->pend[j].tid; j = (j + 1) & (p->pcap - 1)) {
        struct pending e = p->pend[j];
        p->pend[j].tid = 0;
        *pend_slot(p, e.tid) = e;
    }
}

/* ---- counting: one call into the tracer's statistics ---- */

static void count(struct lxb_perfstats *p, int nr, uint64_t t_entry, uint64_t t_exit, int64_t ret, int noresult)
{
    struct lxb_trace_rec r;

    memset(&r, 0, offsetof(struct lxb_trace_rec, slot));
    r.kind = LXB_REC_SYSCALL;
    r.nr = nr;
    r.ret = ret;
    r.t_entry = t_entry;
    r.t_exit = t_exit;
    r.flags = noresult ? LXB_RECF_NORESULT : 0;
    memset(r.slot_arg, LXB_SLOT_NONE, sizeof r.slot_arg);
    p->t->records++;
    lxb_sink_put(p->t, p->sink, &r);
}

/* a number outside the arrays (negative, or past them: one no table
   names) counts as LXB_NR_PAST's spec says */
static int mode_of(struct lxb_perfstats *p, int nr)
{
    return p->t->spec[(nr >= 0 && nr < LXB_NR_MAX) ? nr : LXB_NR_PAST].mode;
}

/* a call that returned -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND or
   -ERESTART_RESTARTBLOCK: a signal came.  If it killed the task (SIGKILL,
   exit_group or an exec of another thread), the ptrace tracer never sees
   that exit (ptrace_stop skips a task with SIGKILL pending) and counts the
   call without a result at the task's end; if the task lives on, it sees
   the result.  So the call waits for the task's next event */
static int restarting(int64_t ret)
{
    return ret == -512 || ret == -513 || ret == -514 || ret == -516;
}

static void settle(struct lxb_perfstats *p, struct pending *s, int gone, uint64_t when)
{
    if (mode_of(p, s->nr) == LXB_TRACE_RECORD) {
        if (gone)
            count(p, s->nr, s->t, when, 0, 1);
        else
            count(p, s->nr, s->t, s->t_exit, s->ret, 0);
    }
    pend_drop(p, s);
}

static void one(struct lxb_perfstats *p, const struct ev *e)
{
    struct pending *s = pend_get(p, e->tid);

    p->last_time = e->time;
    if (s && s->restart) {
        settle(p, s, e->type == EV_GONE, e->time);
        if (e->type == EV_GONE)
            return;
        s = NULL;
    }
    if (e->type == EV_ENTER) {
        /* every syscall's enter is kept, so its exit pairs with it and
           not with a later answered call of the same task */
        pend_put(p, e->tid, e->pid, e->nr, e->time);
        return;
    }
    if (e->type == EV_GONE) {
        if (s) {
            if (mode_of(p, s->nr) == LXB_TRACE_RECORD)
                count(p, s->nr, s->t, e->time, 0, 1);
            pend_drop(p, s);
        }
        return;
    }
    /* rt_sigreturn's exit shows the restored orig_ax, -1 (restore_sigcontext) */
    if (s && (s->nr == e->nr || (e->nr == -1 && s->nr == NR_RT_SIGRETURN))) {
        int nr = s->nr;
        uint64_t t0 = s->t;
        if (restarting(e->ret)) {
            s->restart = 1;
            s->t_exit = e->time;
            s->ret = e->ret;
            return;
        }
        pend_drop(p, s);
        if (mode_of(p, nr) == LXB_TRACE_RECORD)
            count(p, nr, t0, e->time, e->ret, 0);
        return;
    }
    if (s)
        pend_drop(p, s);         /* its exit was lost: not a call we can time */
    if (mode_of(p, e->nr) == LXB_TRACE_ANSWER) {
        count(p, e->nr, e->time, e->time, e->ret, 0);
        return;
    }
    if (e->nr == NR_EXECVE || e->nr == NR_EXECVEAT) {
        /* a thread's exec returns in the leader's tid (its pid) */
        size_t i;
        for (i = 0; i < p->pcap; i++) {
            struct pending *q = &p->pend[i];
            if (q->tid && q->pid == e->pid && q->nr == e->nr) {
                uint64_t t0 = q->t;
                pend_drop(p, q);
                if (mode_of(p, e->nr) == LXB_TRACE_RECORD)
                    count(p, e->nr, t0, e->time, e->ret, 0);
                return;
            }
        }
    }
    /* a new task's return from fork, vfork, clone, clone3: its parent's call */
}

/* ---- the rings ---- */

static void push(struct lxb_perfstats *p, const struct ev *e)
{
    if (p->nev == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        struct ev *n = realloc(p->evs, cap * sizeof *n);
        if (!n) {
            p->lost++;
            return;
        }
        p->evs = n;
        p->cap = cap;
    }
    p->evs[p->nev++] = *e;
}

static void copy_out(const struct ring *r, uint64_t at, void *dst, size_t n)
{
    uint64_t off = at & (r->size - 1), first = r->size - off;
    if (first >= n) {
        memcpy(dst, r->data + off, n);
    } else {
        memcpy(dst, r->data + off, first);
        memcpy((char *)dst + first, r->data, n - first);
    }
}

static void parse(struct lxb_perfstats *p, const unsigned char *b, size_t n)
{
    const struct perf_event_header *h = (const void *)b;
    struct ev e;
    uint32_t raw_size;
    uint16_t type;

    memset(&e, 0, sizeof e);
    switch (h->type) {
    case PERF_RECORD_SAMPLE:
        /* pid tid, time, raw size, raw (common_type first) */
        if (n < 8 + 8 + 8 + 4 + 8)
            return;
        memcpy(&e.pid, b + 8, 4);
        memcpy(&e.tid, b + 12, 4);
        memcpy(&e.time, b + 16, 8);
        memcpy(&raw_size, b + 24, 4);
        if ((size_t)raw_size + 28 > n || raw_size < 2)
            return;
        b += 28;
        memcpy(&type, b, 2);
        if (type == p->id_enter && raw_size >= (uint32_t)p->off_id + 8) {
            int64_t id;
            memcpy(&id, b + p->off_id, 8);
            e.type = EV_ENTER;
            e.nr = (int32_t)id;
        } else if (type == p->id_exit && raw_size >= (uint32_t)p->off_ret + 8 &&
                   raw_size >= (uint32_t)p->off_id + 8) {
            int64_t id;
            memcpy(&id, b + p->off_id, 8);
            memcpy(&e.ret, b + p->off_ret, 8);
            e.type = EV_EXIT;
            e.nr = (int32_t)id;
        } else {
            return;
        }
        push(p, &e);
        return;
    case PERF_RECORD_EXIT:
        /* pid ppid tid ptid time */
        if (n < 8 + 16 + 8)
            return;
        memcpy(&e.pid, b + 8, 4);
        memcpy(&e.tid, b + 16, 4);
        memcpy(&e.time, b + 24, 8);
        e.type = EV_GONE;
        push(p, &e);
        return;
    case PERF_RECORD_LOST:
        if (n >= 8 + 16) {
            uint64_t lost;
            memcpy(&lost, b + 16, 8);
            p->lost += lost ? lost : 1;
        }
        return;
    case PERF_RECORD_LOST_SAMPLES:
        if (n >= 8 + 8) {
            uint64_t lost;
            memcpy(&lost, b + 8, 8);
            p->lost += lost ? lost : 1;
        }
        return;
    case PERF_RECORD_THROTTLE:
        p->lost++;               /* samples were dropped, how many is unknown */
        return;
    default:
        return;
    }
}

static void drain(struct lxb_perfstats *p, struct ring *r)
{
    uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = r->meta->data_tail;

    while (tail + sizeof(struct perf_event_header) <= head) {
        struct perf_event_header h;
        copy_out(r, tail, &h, sizeof h);
        if (h.size < sizeof h || tail + h.size > head)
            break;
        copy_out(r, tail, p->rec_buf, h.size);
        parse(p, p->rec_buf, h.size);
        tail += h.size;
    }
    __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
}

static int by_time(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    /* one task's enter and exit in the same ns: the enter first */
    return x->type - y->type;
}

/* read every ring; count the samples older than `upto` in time order */
static void round_(struct lxb_perfstats *p, uint64_t upto)
{
    size_t i, k;

    for (i = 0; i < (size_t)p->nring; i++)
        drain(p, &p->ring[i]);
    if (!p->nev)
        return;
    qsort(p->evs, p->nev, sizeof *p->evs, by_time);
    for (k = 0; k < p->nev && p->evs[k].time < upto; k++)
        one(p, &p->evs[k]);
    memmove(p->evs, p->evs + k, (p->nev - k) * sizeof *p->evs);
    p->nev -= k;
}

static void *reader_main(void *arg)
{
    struct lxb_perfstats *p = arg;
    struct pollfd *pfd = calloc((size_t)p->nring + 1, sizeof *pfd);
    int i;

    if (!pfd)
        return NULL;
    for (i = 0; i < p->nring; i++)
        pfd[i] = (struct pollfd){p->ring[i].fd_enter, POLLIN, 0};
    pfd[p->nring] = (struct pollfd){p->stop_fd, POLLIN, 0};
    for (;;) {
        uint64_t now;
        if (poll(pfd, (nfds_t)p->nring + 1, 50) < 0 && errno != EINTR)
            break;
        if (pfd[p->nring].revents & POLLIN)
            break;
        now = mono_ns();
        round_(p, now > MARGIN_NS ? now - MARGIN_NS : 0);
    }
    free(pfd);
    return NULL;
}

/* the online CPUs, from /sys/devices/system/cpu/online ("0-3,5") */
static int online_cpus(int *cpus, int max)
{
    char buf[512], *s;
    long len = lxb_read_small("/sys/devices/system/cpu/online", buf, sizeof buf);
    int n = 0;

    if (len < 0)
        return (int)len;
    if (len == 0)
        return -EIO;
    for (s = buf; *s && *s != '\n';) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s)
            return -EIO;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        for (; a <= b && n < max; a++)
            cpus[n++] = (int)a;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

void lxb_close_fds(int *fd, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (fd[i] >= 0) {
            close(fd[i]);
            fd[i] = -1;
        }
}

/* The last close of a tracepoint's perf events unregisters it and waits
   for an RCU grace period (tracepoint_synchronize_unregister: 45 to 50 ms
   each on this VM, 2 of them), which lxrun's exit would wait for; so does
   the detaching of a raw tracepoint's BPF program (csrc/bpftrace.c).  A
   grandchild holding nothing else (the caller's pipes and terminal closed
   in it) takes keep[0..n-1] with it instead, once lxrun's copies are
   closed (it waits for the EOF of the pipe whose writing end is returned,
   or -1); it is init's (or a subreaper's) to reap.  keep has room for
   n + 1 fds. */
int lxb_close_later(int *keep, int n)
{
    int st, go[2];
    pid_t child;

    if (n == 0 || pipe2(go, O_CLOEXEC) != 0)
        return -1;
    child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (child < 0) {
        close(go[0]);
        close(go[1]);
        return -1;
    }
    if (child == 0) {
        unsigned int lo = 0;
        int j, k;
        char c;
        if (syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) != 0)
            syscall(SYS_exit_group, 0);      /* the middle one: gone at once */
        keep[n++] = go[0];
        for (j = 1; j < n; j++)      /* ascending */
            for (k = j; k > 0 && keep[k - 1] > keep[k]; k--) {
                int x = keep[k];
                keep[k] = keep[k - 1];
                keep[k - 1] = x;
            }
        for (j = 0; j < n; j++) {
            if ((unsigned)keep[j] > lo)
                syscall(SYS_close_range, lo, (unsigned)keep[j] - 1, 0);
            lo = (unsigned)keep[j] + 1;
        }
        syscall(SYS_close_range, lo, ~0U, 0);
        while (read(go[0], &c, 1) < 0 && errno == EINTR)
            ;
        syscall(SYS_exit_group, 0);
    }
    close(go[0]);
    while (waitpid(child, &st, __WALL) < 0 && errno == EINTR)
        ;
    return go[1];
}

static int close_later(struct lxb_perfstats *p)
{
    int j, n = 0, keep[2 * 1024 + 1];

    for (j = 0; j < p->nring && n < 2 * 1024; j++) {
        if (p->ring[j].fd_enter >= 0)
            keep[n++] = p->ring[j].fd_enter;
        if (p->ring[j].fd_exit >= 0)
            keep[n++] = p->ring[j].fd_exit;
    }
    return lxb_close_later(keep, n);
}

/* ---- counted in the kernel (csrc/bpf/stats.bpf.c) ---- */

#if LXB_HAVE_BPF

enum { BM_TRACED, BM_MODES, BM_COUNTS, BM_HIST, BM_ERRS, BM_LOST, BM_TASKS, BM_PAST };
static const char *const BMAPS[BS_NMAPS] = {"traced", "modes", "counts", "hist", "errs", "lost", "tasks", "past"};
static const char *const BPROGS[BS_NPROGS] = {"bs_sys_enter", "bs_sys_exit", "bs_fork", "bs_exit", "bs_signal"};
static const char *const BTPS[BS_NPROGS] = {"sys_enter", "sys_exit", "sched_process_fork", "sched_process_exit",
                                            "signal_deliver"};

static int bs_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (getenv("LXBRAND_BPF_DEBUG"))
        return vfprintf(stderr, fmt, ap);
    return 0;
}

static void bs_step(const char *what, uint64_t *t)
{
    uint64_t now = mono_ns();
    if (getenv("LXBRAND_BPF_DEBUG"))
        fprintf(stderr, "lxrun: stats: %s %llu us\n", what, (unsigned long long)((now - *t) / 1000));
    *t = now;
}

static int bs_map(struct lxb_perfstats *p, int i)
{
    return p->map[i];
}

static int bs_prog(struct lxb_perfstats *p, int i)
{
    return p->prog[i];
}

/* ---- the offsets stats.bpf.c reads, from the kernel's BTF ----
   libbpf's CO-RE would parse all of /sys/kernel/btf/vmlinux (9 ms here);
   this maps it and walks its types once for two structures' members */

struct kbtf {
    const unsigned char *types, *strs;
    uint32_t types_len, strs_len, n;
    uint32_t *at;                /* type id -> its offset in types */
};

static const char *kbtf_name(const struct kbtf *b, uint32_t off)
{
    return off < b->strs_len ? (const char *)b->strs + off : "";
}

/* a type's header: name_off, info (kind << 24, vlen), size or type */
static void kbtf_head(const struct kbtf *b, uint32_t id, uint32_t h[3])
{
    memcpy(h, b->types + b->at[id], 12);
}

static int kbtf_index(struct kbtf *b)
{
    uint32_t off = 0, cap = 1 << 17;

    b->at = malloc(cap * sizeof *b->at);
    if (!b->at)
        return -ENOMEM;
    b->n = 1;                    /* id 0 is void */
    while (off + 12 <= b->types_len) {
        uint32_t h[3], kind, vlen, extra;
        memcpy(h, b->types + off, 12);
        kind = (h[1] >> 24) & 0x1f;
        vlen = h[1] & 0xffff;
        switch (kind) {
        case 1: case 14: case 17: extra = 4; break;                  /* INT, VAR, DECL_TAG */
        case 3: extra = 12; break;                                   /* ARRAY */
        case 4: case 5: case 15: case 19: extra = vlen * 12; break;  /* STRUCT, UNION, DATASEC, ENUM64 */
        case 6: case 13: extra = vlen * 8; break;                    /* ENUM, FUNC_PROTO */
        case 2: case 7: case 8: case 9: case 10: case 11: case 12: case 16: case 18: extra = 0; break;
        default: return -EIO;
        }
        if (b->n == cap) {
            uint32_t *n = realloc(b->at, 2 * cap * sizeof *n);
            if (!n)
                return -ENOMEM;
            b->at = n;
            cap *= 2;
        }
        b->at[b->n++] = off;
        off += 12 + extra;
    }
    return 0;
}

/* the struct named name: its id, or 0 */
static uint32_t kbtf_struct(const struct kbtf *b, const char *name)
{
    uint32_t id, h[3];
    for (id = 1; id < b->n; id++) {
        kbtf_head(b, id, h);
        if (((h[1] >> 24) & 0x1f) == 4 && strcmp(kbtf_name(b, h[0]), name) == 0 && (h[1] & 0xffff))
            return id;
    }
    return 0;
}

/* member `name` of struct/union id, looked for in anonymous members too:
   its byte offset (and its type in *type), or -1 */
static long kbtf_member(const struct kbtf *b, uint32_t id, const char *name, uint32_t *type, int depth)
{
    uint32_t h[3], i, vlen, kflag;
    const unsigned char *m;

    if (depth > 4 || id == 0 || id >= b->n)
        return -1;
    kbtf_head(b, id, h);
    while (((h[1] >> 24) & 0x1f) >= 8 && ((h[1] >> 24) & 0x1f) <= 11) {   /* typedef, volatile, const, restrict */
        if (h[2] == 0 || h[2] >= b->n)
            return -1;
        id = h[2];
        kbtf_head(b, id, h);
    }
    if (((h[1] >> 24) & 0x1f) != 4 && ((h[1] >> 24) & 0x1f) != 5)
        return -1;
    vlen = h[1] & 0xffff;
    kflag = h[1] >> 31;
    m = b->types + b->at[id] + 12;
    for (i = 0; i < vlen; i++, m += 12) {
        uint32_t mm[3], bits;
        memcpy(mm, m, 12);
        bits = kflag ? (mm[2] & 0xffffff) : mm[2];
        if (bits % 8)
            continue;
        if (mm[0] == 0 || !*kbtf_name(b, mm[0])) {
            long in = kbtf_member(b, mm[1], name, type, depth + 1);
            if (in >= 0)
                return (long)(bits / 8) + in;
        } else if (strcmp(kbtf_name(b, mm[0]), name) == 0) {
            *type = mm[1];
            return (long)(bits / 8);
        }
    }
    return -1;
}

static int kernel_offsets(struct bs_offs *o)
{
    struct {
        uint16_t magic;
        uint8_t version, flags;
        uint32_t hdr_len, type_off, type_len, str_off, str_len;
    } hdr;
    struct kbtf b;
    unsigned char *data = NULL;
    size_t len = 0, cap = 6u << 20, mapped = 0;
    struct stat st;
    uint32_t task, sig, pend, ty;
    long a, c, d;
    int fd, rc = -EIO;
    ssize_t n;

    memset(&b, 0, sizeof b);
    fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* mapped where the kernel allows it (6.16 on), else read */
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            data = m;
            len = mapped = (size_t)st.st_size;
        }
    }
    while (!mapped) {
        if (len == cap || !data) {
            unsigned char *m = realloc(data, len == cap ? (cap *= 2) : cap);
            if (!m) {
                rc = -ENOMEM;
                goto out;
            }
            data = m;
        }
        n = read(fd, data + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len < sizeof hdr)
        goto out;
    memcpy(&hdr, data, sizeof hdr);
    if (hdr.magic != 0xeB9F || (uint64_t)hdr.hdr_len + hdr.type_off + hdr.type_len > len ||
        (uint64_t)hdr.hdr_len + hdr.str_off + hdr.str_len > len)
        goto out;
    b.types = data + hdr.hdr_len + hdr.type_off;
    b.types_len = hdr.type_len;
    b.strs = data + hdr.hdr_len + hdr.str_off;
    b.strs_len = hdr.str_len;
    if ((rc = kbtf_index(&b)) < 0)
        goto out;
    rc = -ENOENT;
    task = kbtf_struct(&b, "task_struct");
    sig = kbtf_struct(&b, "signal_struct");
    if (!task || !sig)
        goto out;
    if ((a = kbtf_member(&b, task, "tgid", &ty, 0)) < 0)
        goto out;
    o->task_tgid = (uint32_t)a;
    if ((a = kbtf_member(&b, task, "signal", &ty, 0)) < 0)
        goto out;
    o->task_signal = (uint32_t)a;
    /* pending.signal.sig[0] */
    if ((a = kbtf_member(&b, task, "pending", &pend, 0)) < 0 || (c = kbtf_member(&b, pend, "signal", &ty, 0)) < 0 ||
        (d = kbtf_member(&b, ty, "sig", &ty, 0)) < 0)
        goto out;
    o->task_pending = (uint32_t)(a + c + d);
    /* live.counter (an atomic_t) */
    if ((a = kbtf_member(&b, sig, "live", &ty, 0)) < 0 || (c = kbtf_member(&b, ty, "counter", &ty, 0)) < 0)
        goto out;
    o->sig_live = (uint32_t)(a + c);
    if ((a = kbtf_member(&b, sig, "flags", &ty, 0)) < 0)
        goto out;
    o->sig_flags = (uint32_t)a;
    if ((a = kbtf_member(&b, sig, "group_exit_code", &ty, 0)) < 0)
        goto out;
    o->sig_group_exit = (uint32_t)a;
    rc = 0;
out:
    close(fd);
    free(b.at);
    if (mapped)
        munmap(data, mapped);
    else
        free(data);
    return rc;
}

/* load the object (its one constant the kernel's offsets) and keep its
   maps' and programs' fds (CLOEXEC), libbpf's object closed: lxb_stats_kind's
   load, for a run and for the holder's loader child.  0 or -errno, err said */
static int bs_load(int *maps, int *progs, char *err, int errlen)
{
    uint64_t t0 = mono_ns();
    struct bpf_object *obj = NULL;
    struct bs_offs offs;
    struct bpf_map *m;
    const char *what = "the kernel's BTF offsets";
    int i, rc, set = 0;

    if ((rc = kernel_offsets(&offs)) < 0)
        goto out;
    bs_step("the kernel's offsets", &t0);
    libbpf_set_print(bs_print);
    what = "open the BPF object";
    obj = bpf_object__open_mem(lxb_stats_bpf_obj, sizeof lxb_stats_bpf_obj, NULL);
    if (!obj) {
        rc = errno ? -errno : -EINVAL;
        goto out;
    }
    bpf_object__for_each_map(m, obj) {
        const char *name = bpf_map__name(m);
        size_t nl = strlen(name), sz = 0;
        if (nl >= 7 && strcmp(name + nl - 7, ".rodata") == 0) {
            void *init = (void *)bpf_map__initial_value(m, &sz);
            if (!init || sz < sizeof offs) {
                rc = -EIO;
                goto out;
            }
            memcpy(init, &offs, sizeof offs);        /* offs, the only constant */
            set = 1;
        }
    }
    rc = -EIO;
    if (!set)
        goto out;
    what = "load the BPF programs";
    rc = bpf_object__load(obj);
    if (rc < 0)
        goto out;
    bs_step("load", &t0);
    what = "the BPF object's maps and programs";
    for (i = 0; i < BS_NMAPS; i++) {
        m = bpf_object__find_map_by_name(obj, BMAPS[i]);
        if (!m || (maps[i] = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3)) < 0) {
            rc = m ? -errno : -ENOENT;
            goto out;
        }
    }
    for (i = 0; i < BS_NPROGS; i++) {
        struct bpf_program *prog = bpf_object__find_program_by_name(obj, BPROGS[i]);
        if (!prog || (progs[i] = fcntl(bpf_program__fd(prog), F_DUPFD_CLOEXEC, 3)) < 0) {
            rc = prog ? -errno : -ENOENT;
            goto out;
        }
    }
    rc = 0;
out:
    if (obj)
        bpf_object__close(obj);
    if (rc < 0) {
        for (i = 0; i < LXB_SET_MAPS; i++)
            if (maps[i] >= 0) {
                close(maps[i]);
                maps[i] = -1;
            }
        for (i = 0; i < LXB_SET_PROGS; i++)
            if (progs[i] >= 0) {
                close(progs[i]);
                progs[i] = -1;
            }
        if (err && errlen > 0)
            snprintf(err, (size_t)errlen, "%s: %s", what, strerror(-rc));
    }
    return rc;
}

const struct lxb_bpf_kind lxb_stats_kind = {
    .what = "stats", .sock = "stats.sock", .lock = "stats.lock", .comm = "lxb-bpf-stats",
    .obj = lxb_stats_bpf_obj, .obj_len = sizeof lxb_stats_bpf_obj,
    .nmaps = BS_NMAPS, .nprogs = BS_NPROGS, .traced = BM_TRACED, .ring = 0, .keep_progs = 1,
    /* no loader child beside the wait (the load comes after it, 10-29 ms
       when the machine is busy, which is when the holder is slow) */
    .wait_ms = 20,
    .tracepoints = BTPS, .load = bs_load,
};

/* the programs' runs the kernel skipped so far (their per-CPU recursion
   guard), summed */
static uint64_t bs_misses(struct lxb_perfstats *p)
{
    uint64_t n = 0;
    int i;
    for (i = 0; i < BS_NPROGS; i++) {
        struct bpf_prog_info info;
        uint32_t len = sizeof info;
        memset(&info, 0, sizeof info);
        if (p->prog[i] >= 0 && bpf_obj_get_info_by_fd(p->prog[i], &info, &len) == 0)
            n += info.recursion_misses;
    }
    return n;
}

/* the holder's set when lxb_perfstats_preload asked for it (csrc/
   bpftrace.c THE HOLDER: loaded before the run, attached by the holder
   while the zone started, detached and emptied after the run), else a
   load of our own (lxrun-py and Zone(stats=True) do not ask: the holder
   would wait for their process's end); then say which syscalls count and how (t->spec, as the
   ptrace tracer counts them), seed `traced` with the held guest and (our
   own set) attach the programs; 0 or -errno */
static int bs_start(struct lxb_perfstats *p, pid_t guest)
{
    uint32_t keys[LXB_NR_MAX], vals[LXB_NR_MAX], n = LXB_NR_MAX, g = (uint32_t)guest;
    uint64_t t0 = mono_ns();
    uint8_t one = 1;
    char err[200];
    int i, fd, rc;

    if (p->held) {               /* lxb_perfstats_preload's (the front door's) */
        rc = lxb_bpfheld_take(p->held, p->map, p->prog, err, sizeof err);
        if (rc < 0) {
            p->held = NULL;      /* freed */
            if (getenv("LXBRAND_BPF_DEBUG"))
                fprintf(stderr, "lxrun: stats: holder: its set: %s\n", err);
        } else {
            bs_step("loaded (the holder's set)", &t0);
        }
    }
    if (!p->held) {
        if ((rc = bs_load(p->map, p->prog, err, sizeof err)) < 0)
            return rc;
    }
    p->misses0 = bs_misses(p);
    for (i = 0; i < LXB_NR_MAX; i++) {
        keys[i] = (uint32_t)i;
        vals[i] = (p->t->spec[i].show & LXB_SHOW_STATS) ? p->t->spec[i].mode : 0;
    }
    fd = bs_map(p, BM_MODES);
    if (fd < 0)
        return -ENOENT;
    if (bpf_map_update_batch(fd, keys, vals, &n, NULL) != 0)
        for (i = 0; i < LXB_NR_MAX; i++)
            if (vals[i] && bpf_map_update_elem(fd, &keys[i], &vals[i], BPF_ANY) != 0)
                return -errno;
    fd = bs_map(p, BM_TRACED);
    if (fd < 0 || bpf_map_update_elem(fd, &g, &one, BPF_ANY) != 0)
        return fd < 0 ? -ENOENT : -errno;
    bs_step("modes", &t0);
    for (i = 0; i < BS_NPROGS && !p->held; i++) {
        p->link[i] = bpf_raw_tracepoint_open(BTPS[i], bs_prog(p, i));
        if (p->link[i] < 0)
            return p->link[i];
    }
    if (!p->held)
        bs_step("attach", &t0);
    p->in_kernel = 1;
    return 0;
}

/* bucket b of struct bs_hist (trace_bpf.h): its lowest value and width */
static void bs_range(int b, uint64_t *lo, uint64_t *width)
{
    int j, k;
    if (b < 16) {
        *lo = (uint64_t)b;
        *width = 1;
    } else if (b < 16 + (BS_FINE_TOP - 4) * 16) {
        j = b - 16;
        k = 4 + j / 16;
        *width = 1ull << (k - 4);
        *lo = (1ull << k) + (uint64_t)(j % 16) * *width;
    } else {
        k = BS_FINE_TOP + (b - 16 - (BS_FINE_TOP - 4) * 16);
        *lo = 1ull << k;
        *width = *lo;
    }
}

/* the statistics of one syscall from its buckets: the log2 histogram
   exact, p50 and p99 the middle of the bucket that holds trace.py _pct's
   ceil(p/100*calls)-th duration (within 1/32 of it; exact below 16 ns) */
static void bs_stat(const struct bs_hist *h, uint64_t calls, uint64_t total, struct lxb_trace_stat *st)
{
    uint64_t seen = 0, r50 = (50 * calls + 99) / 100, r99 = (99 * calls + 99) / 100;
    int b;

    memset(st, 0, sizeof *st);
    st->calls = calls;
    st->total_ns = total;
    if (r50 == 0)
        r50 = 1;
    if (r99 == 0)
        r99 = 1;
    for (b = 0; b < BS_NB; b++) {
        uint64_t c = h->b[b], lo, width;
        if (!c)
            continue;
        bs_range(b, &lo, &width);
        st->hist[lo ? 64 - __builtin_clzll(lo) : 0] += c;
        if (seen < r50 && seen + c >= r50)
            st->p50_ns = lo + width / 2;
        if (seen < r99 && seen + c >= r99)
            st->p99_ns = lo + width / 2;
        seen += c;
    }
}

struct bs_errrow {
    uint32_t key;
    struct bs_err v;
};

static int by_nr_first(const void *a, const void *b)
{
    const struct bs_errrow *x = a, *y = b;
    if ((x->key >> 12) != (y->key >> 12))
        return (x->key >> 12) < (y->key >> 12) ? -1 : 1;
    if (x->v.first_ns != y->v.first_ns)
        return x->v.first_ns < y->v.first_ns ? -1 : 1;
    return (int)(x->key & 4095) - (int)(y->key & 4095);
}

/* the maps read once, every task of the guest gone: the statistics into
   the tracer's sink (lxb_sink_stat_set); returns the calls not counted
   whole (a full map) and the programs' runs the kernel skipped */
static uint64_t bs_finish(struct lxb_perfstats *p)
{
    int ncpu = libbpf_num_possible_cpus(), fd_counts = bs_map(p, BM_COUNTS), fd_hist = bs_map(p, BM_HIST);
    int fd_errs = bs_map(p, BM_ERRS), fd_lost = bs_map(p, BM_LOST), i, c, nrow = 0, r, batched = 0;
    struct bs_count *pc = NULL;
    struct bs_hist *h = malloc(sizeof *h);
    struct bs_errrow *rows = calloc(BS_ERRS, sizeof *rows);
    uint64_t *pl = NULL, lost = 0, t0 = mono_ns();
    uint32_t key, next, *prev = NULL;

    lxb_bpfheld_ended(p->held);      /* every task is gone */
    if (ncpu <= 0 || !h || !rows)
        goto out;
    /* every syscall's per-CPU counts in one call (one lookup a syscall
       was 0.3 ms of the run's end), else one by one below */
    pc = calloc((size_t)ncpu * LXB_NR_MAX, sizeof *pc);
    pl = calloc((size_t)ncpu, sizeof *pl);
    if (!pc || !pl)
        goto out;
    {
        static uint32_t keys[LXB_NR_MAX];
        uint32_t n = LXB_NR_MAX, batch = 0;
        LIBBPF_OPTS(bpf_map_batch_opts, bo);
        if (bpf_map_lookup_batch(fd_counts, NULL, &batch, keys, pc, &n, &bo) == 0 || errno == ENOENT)
            batched = n == LXB_NR_MAX;
        for (i = 0; batched && i < LXB_NR_MAX; i++)
            batched = keys[i] == (uint32_t)i;
    }
    /* (syscall, errno) pairs, by syscall and first time */
    while (nrow < BS_ERRS && bpf_map_get_next_key(fd_errs, prev, &next) == 0) {
        key = next;
        if (bpf_map_lookup_elem(fd_errs, &key, &rows[nrow].v) == 0)
            rows[nrow++].key = key;
        prev = &key;
    }
    qsort(rows, (size_t)nrow, sizeof *rows, by_nr_first);
    r = 0;
    for (i = 0; i < LXB_NR_MAX; i++) {
        struct lxb_trace_stat st;
        uint64_t calls = 0, total = 0;
        uint32_t k = (uint32_t)i;
        if (!(p->t->spec[i].show & LXB_SHOW_STATS) || !p->t->spec[i].mode)
            continue;
        if (!batched && bpf_map_lookup_elem(fd_counts, &k, pc + (size_t)ncpu * i) != 0)
            continue;
        for (c = 0; c < ncpu; c++) {
            calls += pc[(size_t)ncpu * i + c].calls;
            total += pc[(size_t)ncpu * i + c].total_ns;
        }
        if (!calls || bpf_map_lookup_elem(fd_hist, &k, h) != 0)
            continue;
        bs_stat(h, calls, total, &st);
        while (r < nrow && (int)(rows[r].key >> 12) < i)
            r++;
        for (; r < nrow && (int)(rows[r].key >> 12) == i; r++)
            if (st.nerr < LXB_TRACE_ERRS) {
                st.err[st.nerr] = (int32_t)(rows[r].key & 4095);
                st.err_count[st.nerr++] = rows[r].v.count;
            }
        p->t->records += calls;
        lxb_sink_stat_set(p->t, i, &st);
    }
    /* numbers outside the arrays (stats.bpf.c `past`): answered by
       seccomp, each call of duration 0 */
    if (p->t->spec[LXB_NR_PAST].mode && (p->t->spec[LXB_NR_PAST].show & LXB_SHOW_STATS)) {
        int32_t pk, pnext, *pprev = NULL;
        struct bs_past v;
        while (bpf_map_get_next_key(bs_map(p, BM_PAST), pprev, &pnext) == 0) {
            struct lxb_trace_stat st;
            pk = pnext;
            pprev = &pk;
            if (bpf_map_lookup_elem(bs_map(p, BM_PAST), &pk, &v) != 0 || !v.calls)
                continue;
            memset(&st, 0, sizeof st);
            st.calls = v.calls;
            st.total_ns = v.total_ns;
            st.hist[0] = v.calls;
            if (v.errs) {
                st.nerr = 1;
                st.err[0] = (int32_t)v.err;
                st.err_count[0] = v.errs;
            }
            p->t->records += v.calls;
            if (lxb_sink_stat_set(p->t, pk, &st) < 0)
                lost += v.calls;
        }
    }
    key = 0;
    if (bpf_map_lookup_elem(fd_lost, &key, pl) == 0)
        for (c = 0; c < ncpu; c++)
            lost += pl[c];
    /* a program the kernel did not run (its per-CPU recursion guard: one
       of its runs was preempted on this CPU) missed a call: since this run
       took the set (a held set's programs count from their load) */
    lost += bs_misses(p) - p->misses0;
    bs_step("finish: the maps read", &t0);
out:
    free(pc);
    free(pl);
    free(h);
    free(rows);
    return lost;
}

/* a held set: the holder's connection closed (it detaches the programs
   once lxrun has gone, and empties the maps).  Our own: the links to a
   grandchild (their detaching waits for RCU grace periods, as perf's
   events' closing does), the fds closed */
static void bs_free(struct lxb_perfstats *p)
{
    int keep[BS_NPROGS + 1], n = 0, i, later;

    if (!p->bs_init)
        return;                  /* perf's rings: none of these */
    if (p->held) {
        lxb_bpfheld_free(p->held);   /* its fds in p->map and p->prog too */
        p->held = NULL;
        for (i = 0; i < LXB_SET_MAPS; i++)
            p->map[i] = -1;
        for (i = 0; i < LXB_SET_PROGS; i++)
            p->prog[i] = -1;
        return;
    }
    for (i = 0; i < BS_NPROGS; i++)
        if (p->link[i] >= 0)
            keep[n++] = p->link[i];
    later = lxb_close_later(keep, n);
    lxb_close_fds(p->link, BS_NPROGS);
    if (later >= 0)
        close(later);
    lxb_close_fds(p->map, LXB_SET_MAPS);
    lxb_close_fds(p->prog, LXB_SET_PROGS);
}

#endif /* LXB_HAVE_BPF */

void lxb_perfstats_free(struct lxb_perfstats *p)
{
    int i, later;

    if (!p)
        return;
#if LXB_HAVE_BPF
    bs_free(p);
#endif
    if (p->started) {
        uint64_t one = 1;
        if (write(p->stop_fd, &one, sizeof one) < 0)
            (void)0;
        pthread_join(p->thread, NULL);
        p->started = 0;
    }
    for (i = 0; i < p->nring; i++) {
        struct ring *r = &p->ring[i];
        if (r->base && r->base != MAP_FAILED)
            munmap(r->base, r->map_len);
        r->base = NULL;
    }
    later = close_later(p);
    for (i = 0; i < p->nring; i++) {
        struct ring *r = &p->ring[i];
        if (r->fd_exit >= 0)
            close(r->fd_exit);
        if (r->fd_enter >= 0)
            close(r->fd_enter);
    }
    if (later >= 0)
        close(later);                /* the grandchild may go now */
    if (p->stop_fd >= 0)
        close(p->stop_fd);
    free(p->ring);
    free(p->evs);
    free(p->pend);
    free(p->rec_buf);
    free(p);
}

#if LXB_HAVE_BPF
static struct lxb_perfstats *bs_new(struct lxb_tracer *t)
{
    struct lxb_perfstats *p = calloc(1, sizeof *p);
    int i;

    if (!p)
        return NULL;
    p->t = t;
    p->stop_fd = -1;
    for (i = 0; i < BS_NPROGS; i++)
        p->link[i] = -1;
    for (i = 0; i < LXB_SET_MAPS; i++)
        p->map[i] = -1;
    for (i = 0; i < LXB_SET_PROGS; i++)
        p->prog[i] = -1;
    p->bs_init = 1;
    return p;
}
#endif

int lxb_perfstats_preload(struct lxb_tracer *t, struct lxb_perfstats **out)
{
    *out = NULL;
#if LXB_HAVE_BPF
    if (in_kernel_wanted() && lxb_bpftrace_probe() == 0 && (*out = bs_new(t)) != NULL) {
        (*out)->held = lxb_bpfheld_ask(&lxb_stats_kind);
        return 0;
    }
#endif
    return -ENOSYS;
}

int lxb_perfstats_start(struct lxb_tracer *t, int guest_pidfd, struct lxb_perfstats **out)
{
    struct lxb_perfstats *p, *pre = *out;
    struct perf_event_attr a;
    int cpus[1024], ncpu, i, id_enter, id_exit, rc;
    long page = sysconf(_SC_PAGESIZE);
    uint64_t ring;
    pid_t guest;
    sigset_t all, old;

    *out = NULL;
    guest = lxb_pidfd_pid(guest_pidfd);
    if (guest < 0) {
        lxb_perfstats_free(pre);
        return guest;
    }
#if LXB_HAVE_BPF
    if (pre || (in_kernel_wanted() && lxb_bpftrace_probe() == 0)) {
        if (!(p = pre ? pre : bs_new(t)))
            return -ENOMEM;
        p->t = t;
        rc = bs_start(p, guest);
        if (rc == 0) {
            *out = p;
            return 0;
        }
        /* a kernel that refuses the programs: perf's rings, as before */
        if (getenv("LXBRAND_BPF_DEBUG"))
            fprintf(stderr, "lxrun: stats: in the kernel: %s; perf's rings instead\n", strerror(-rc));
        lxb_perfstats_free(p);
    }
#endif
    id_enter = tp_id("sys_enter");
    id_exit = tp_id("sys_exit");
    if (id_enter < 0 || id_exit < 0)
        return id_enter < 0 ? id_enter : id_exit;
    ncpu = online_cpus(cpus, (int)(sizeof cpus / sizeof *cpus));
    if (ncpu <= 0)
        return ncpu < 0 ? ncpu : -ENODEV;
    p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->t = t;
    p->stop_fd = -1;
    p->sink = lxb_sink_of(t);
    p->id_enter = (uint16_t)id_enter;
    p->id_exit = (uint16_t)id_exit;
    p->off_id = field_offset("sys_enter", "id");
    p->off_ret = field_offset("sys_exit", "ret");
    rc = field_offset("sys_exit", "id");
    p->rec_buf = malloc(65536);
    p->ring = calloc((size_t)ncpu, sizeof *p->ring);
    if (!p->sink || !p->rec_buf || !p->ring || pend_grow(p) < 0) {
        lxb_perfstats_free(p);
        return -ENOMEM;
    }
    /* sys_enter's and sys_exit's id share an offset (both follow the
       common fields): one off_id serves both */
    if (p->off_id < 0 || p->off_ret < 0 || rc != p->off_id) {
        lxb_perfstats_free(p);
        return -EIO;
    }
    /* the ring: a power of two of pages (LXBRAND_PERF_RING_KB: tests make
       it small, to see lost events said) */
    for (ring = RING_MAX; ring > RING_MIN && ring * (uint64_t)ncpu > RING_TOTAL; ring /= 2)
        ;
    if (getenv("LXBRAND_PERF_RING_KB"))
        for (ring = RING_MAX; ring > (uint64_t)atol(getenv("LXBRAND_PERF_RING_KB")) * 1024; ring /= 2)
            ;
    if (ring < (uint64_t)page)
        ring = (uint64_t)page;
    for (i = 0; i < ncpu; i++) {
        struct ring *r = &p->ring[i];
        r->fd_enter = r->fd_exit = -1;
    }
    p->nring = ncpu;
    for (i = 0; i < ncpu; i++) {
        struct ring *r = &p->ring[i];
        attr_for(&a, id_enter, 1, ring);
        r->fd_enter = perf_open(&a, guest, cpus[i], -1);
        if (r->fd_enter < 0)
            goto fail;
        attr_for(&a, id_exit, 0, ring);
        r->fd_exit = perf_open(&a, guest, cpus[i], -1);
        if (r->fd_exit < 0)
            goto fail;
        r->map_len = (size_t)page + ring;
        r->base = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd_enter, 0);
        if (r->base == MAP_FAILED) {
            r->base = NULL;
            goto fail;
        }
        r->meta = r->base;
        r->data = (unsigned char *)r->base + page;
        r->size = ring;
        if (ioctl(r->fd_exit, PERF_EVENT_IOC_SET_OUTPUT, r->fd_enter) != 0)
            goto fail;
    }
    p->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (p->stop_fd < 0)
        goto fail;
    /* no signal handler of the host runs on the reader */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&p->thread, NULL, reader_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errno = rc;
        goto fail;
    }
    p->started = 1;
    *out = p;
    return 0;
fail:
    rc = -errno;
    lxb_perfstats_free(p);
    return rc ? rc : -EIO;
}

uint64_t lxb_perfstats_finish(struct lxb_perfstats *p)
{
    size_t i;

    if (!p)
        return 0;
#if LXB_HAVE_BPF
    if (p->in_kernel)
        return bs_finish(p);
#endif
    if (p->started) {
        uint64_t one = 1;
        if (write(p->stop_fd, &one, sizeof one) < 0)
            (void)0;
        pthread_join(p->thread, NULL);
        p->started = 0;
    }
    for (i = 0; i < (size_t)p->nring; i++)
        ioctl(p->ring[i].fd_enter, PERF_EVENT_IOC_DISABLE, 0);
    /* every task is gone: all that is left, in order */
    round_(p, UINT64_MAX);
    /* calls whose task's end was not seen (lost) end with the last event */
    for (i = 0; i < p->pcap; i++) {
        struct pending *q = &p->pend[i];
        if (q->tid && mode_of(p, q->nr) == LXB_TRACE_RECORD) {
            if (q->restart)
                count(p, q->nr, q->t, q->t_exit, q->ret, 0);
            else
                count(p, q->nr, q->t, p->last_time > q->t ? p->last_time : q->t, 0, 1);
        }
    }
    memset(p->pend, 0, p->pcap * sizeof *p->pend);
    p->pused = 0;
    return p->lost;
}

int lxb_perfstats_write(struct lxb_tracer *t, int json, int fd, uint64_t lost)
{
    return lxb_trace_stats_write_lost(t, json, fd, lost);
}
