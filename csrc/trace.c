/*
 * trace.c: lxrun's tracer thread (lxrun --trace, --stats, --report).
 *
 * OVERVIEW
 *
 *   A traced syscall is SECCOMP_RET_TRACE in the zone's filter (filter.c,
 *   LXB_ACT_TRACE); every other syscall stays where the brand put it (in
 *   the kernel, or notified to the supervisor), at no cost.  This thread
 *   ptrace-seizes the guest while it is held before its execve
 *   (lxb_config.hold_guest) with TRACESECCOMP, TRACEFORK, TRACEVFORK,
 *   TRACECLONE, TRACEEXEC and EXITKILL: every process and thread of the zone
 *   below the guest is followed, and none outlives lxrun.  At a seccomp stop
 *   it records the entry (registers, a bounded copy of the arguments Python
 *   asked for in spec[nr]) and resumes with PTRACE_SYSCALL; at the exit stop
 *   that follows it records the result and copies what the kernel wrote, then
 *   resumes with PTRACE_CONT, so untraced syscalls never stop.  This is
 *   strace --seccomp-bpf's mechanism; the cost is two stops per traced call
 *   and one per fork, clone and exec.
 *
 *   Each call's record (struct lxb_trace_rec) goes to the sink
 *   (trace_fmt.c), on this thread: its line, strace-like or JSON, into a
 *   buffer written to text_fd; its duration and errno into the statistics;
 *   a call the tracer answered into the report's counts.  Nothing on the
 *   per-call path is Python.  Only when out_fd >= 0 (a Zone(trace=callback)
 *   wants events) are records also batched to that pipe for
 *   lxbrand/trace.py.  Lines and records go out before the thread blocks in
 *   waitpid (lines to a file or /dev/null: in 64 KiB writes, or after
 *   100 ms), so a terminal or pipe shows them as the calls happen.
 *
 *   Per call: the seccomp stop (PTRACE_GETREGS, which an answered call needs
 *   to set anyway; process_vm_readv of the arguments copied at entry;
 *   PTRACE_SYSCALL) and the exit stop (PTRACE_PEEKUSER of rax;
 *   process_vm_readv of what the kernel wrote; PTRACE_CONT), as strace
 *   --seccomp-bpf, with no waitpid(WNOHANG) round when nothing is pending.
 *   SIGCHLD stays unblocked on this thread: every tracee stop sends it to
 *   its tracer, and blocked here it would wake another of lxrun's threads
 *   to discard it, twice per call.
 *
 * INTERFACE (csrc/lxbrand.h; lxbrand/trace.py is its user, and a C front
 * door can be one)
 *
 *   Fill a struct lxb_tracer: spec[nr] (mode, the copies, show: LXB_SHOW_LINE
 *   and/or LXB_SHOW_STATS), guest_pidfd, out_fd (-1: no records), text_fd
 *   (-1: no lines; never closed here), format (LXB_TRACE_TEXT or _JSON), t0
 *   (CLOCK_MONOTONIC ns of the run's start).  lxb_trace_start seizes the
 *   held guest; lxb_trace_join waits for the end (lines flushed);
 *   lxb_trace_stat(t, nr, &st) and lxb_trace_answered(t, nr, ...) then give
 *   the statistics and the answered calls; lxb_trace_free releases them.
 *   lxb_trace_feed adds a record from elsewhere (the supervisor's injected
 *   calls).  The decoding table is generated from the brand's by
 *   csrc/trace_gen.py at build time (lxb_trace_table_hash).
 *
 * ANSWERED CALLS
 *
 *   A spec in LXB_TRACE_ANSWER mode (a syscall the brand denies or does not
 *   support, under --report) is never run: the tracer sets the syscall
 *   number to -1 and the return value to -err at the seccomp stop, as the
 *   filter would have answered, and records it.  ptrace(2) itself is answered
 *   EPERM in a traced zone: a task has one tracer, and it is us.
 *
 * WAITING
 *
 *   waitpid(-1, __WALL | __WNOTHREAD): tracees belong to this thread; the
 *   zone's init, a child of another of lxrun's threads, is never reaped here.
 *   The thread ends when it has no tracee left (ECHILD), closing out_fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lxbrand.h"
#include "trace_int.h"

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#ifndef __WNOTHREAD
#define __WNOTHREAD 0x20000000
#endif

#define SYS_PTRACE_NR 101
#define BATCH 64

struct task {
    pid_t host;                  /* host tid; 0: free slot */
    int32_t pid, tid;            /* the zone's (0 when nothing shows them: need_ids) */
    int in_syscall;              /* entry recorded, exit stop pending */
    struct lxb_trace_rec rec;    /* the pending call */
};

struct tracer_priv {
    pthread_t thread;
    int started;
    int ready_pipe[2];
    pid_t guest;
    struct task **tasks;         /* open addressing on host tid */
    size_t cap, used;
    struct lxb_trace_rec batch[BATCH];
    int nbatch;
    unsigned char seen_answer[LXB_NR_MAX];
    struct lxb_sink *sink;       /* lines, statistics, report counts (trace_fmt.c) */
    int live;                    /* text_fd is a terminal, pipe or socket: lines go out at each wait */
    int need_ids;                /* lines, records or --inject pid=: a task's zone ids are read */
    uint64_t last_flush;
};

static struct tracer_priv *priv_of(struct lxb_tracer *t)
{
    struct tracer_priv *p = t->priv;
    if (p)
        return p;
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->sink = lxb_sink_new();
    if (!p->sink) {
        free(p);
        return NULL;
    }
    p->ready_pipe[0] = p->ready_pipe[1] = -1;
    t->priv = p;
    return p;
}

struct lxb_sink *lxb_sink_of(struct lxb_tracer *t)
{
    struct tracer_priv *p = priv_of(t);
    return p ? p->sink : NULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- tasks, by host tid ---- */

static struct task **slot_of(struct tracer_priv *p, pid_t host)
{
    size_t i = ((size_t)host * 2654435761u) & (p->cap - 1);
    for (;;) {
        struct task **s = &p->tasks[i];
        if (*s == NULL || (*s)->host == host)
            return s;
        i = (i + 1) & (p->cap - 1);
    }
}

static int grow(struct tracer_priv *p)
{
    struct task **old = p->tasks;
    size_t oldcap = p->cap, i;

    p->cap = oldcap ? oldcap * 2 : 64;
    p->tasks = calloc(p->cap, sizeof *p->tasks);
    if (!p->tasks) {
        p->tasks = old;
        p->cap = oldcap;
        return -ENOMEM;
    }
    for (i = 0; i < oldcap; i++)
        if (old[i])
            *slot_of(p, old[i]->host) = old[i];
    free(old);
    return 0;
}

/* the zone's ids of a host task: the last NStgid/NSpid fields */
static void ns_ids(pid_t host, int32_t *pid, int32_t *tid)
{
    char path[64], buf[2048], *line, *last;

    *pid = *tid = host;
    snprintf(path, sizeof path, "/proc/%d/status", host);
    if (lxb_read_small(path, buf, sizeof buf) <= 0)
        return;
    for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        int32_t *dst = NULL;
        if (strncmp(line, "NStgid:", 7) == 0)
            dst = pid;
        else if (strncmp(line, "NSpid:", 6) == 0)
            dst = tid;
        if (!dst)
            continue;
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        last = strrchr(line, '\t');
        if (!last)
            last = strrchr(line, ' ');
        if (last)
            *dst = (int32_t)strtol(last + 1, NULL, 10);
        if (end)
            *end = '\n';
    }
}

static struct task *task_get(struct tracer_priv *p, pid_t host, int create)
{
    struct task **s, *t;

    if (p->cap == 0 && grow(p) < 0)
        return NULL;
    s = slot_of(p, host);
    if (*s || !create)
        return *s;
    if ((p->used + 1) * 2 > p->cap) {
        if (grow(p) < 0)
            return NULL;
        s = slot_of(p, host);
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->host = host;
    /* the zone's ids, read at the task's first stop (while it is alive:
       its exit may be its first record), and only when something shows
       them: a line, a record for Python, an --inject pid= rule; --stats
       alone never reads /proc/PID/status (3.4 us a task, measured) */
    if (p->need_ids)
        ns_ids(host, &t->pid, &t->tid);
    *s = t;
    p->used++;
    return t;
}

static void task_drop(struct tracer_priv *p, pid_t host)
{
    struct task **s = slot_of(p, host);
    size_t i, j;

    if (!*s)
        return;
    free(*s);
    *s = NULL;
    p->used--;
    /* re-insert the run after the hole (linear probing) */
    i = (size_t)(s - p->tasks);
    for (j = (i + 1) & (p->cap - 1); p->tasks[j]; j = (j + 1) & (p->cap - 1)) {
        struct task *t = p->tasks[j];
        p->tasks[j] = NULL;
        *slot_of(p, t->host) = t;
    }
}

/* ---- records ---- */

/* the records batched for Python (out_fd), and the sink's lines */
static void flush(struct lxb_tracer *tr)
{
    struct tracer_priv *p = tr->priv;
    const char *buf = (const char *)p->batch;
    size_t left = (size_t)p->nbatch * sizeof(struct lxb_trace_rec);

    if (lxb_sink_pending(p->sink))
        lxb_sink_flush(tr, p->sink);
    p->last_flush = now_ns();

    while (left > 0) {
        ssize_t n = write(tr->out_fd, buf, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* the reader is gone: the zone runs on untraced output */
        }
        buf += n;
        left -= (size_t)n;
    }
    p->nbatch = 0;
}

/* one record: to the sink (C lines, statistics), and to Python only when
   it wants records (a Zone(trace=callback)) */
static void emit(struct lxb_tracer *tr, const struct lxb_trace_rec *r)
{
    struct tracer_priv *p = tr->priv;
    tr->records++;
    lxb_sink_put(tr, p->sink, r);
    if (tr->out_fd < 0)
        return;
    p->batch[p->nbatch++] = *r;
    if (p->nbatch == BATCH)
        flush(tr);
}

/* the same for records made elsewhere (csrc/bpftrace.c's reader, the
   tracer thread not running): the sink, the batch for Python, and its flush
   (which also closes out_fd at the end, as the tracer does) */
void lxb_trace_emit(struct lxb_tracer *tr, const struct lxb_trace_rec *r)
{
    if (priv_of(tr))
        emit(tr, r);
}

void lxb_trace_emit_flush(struct lxb_tracer *tr, int last)
{
    if (!priv_of(tr))
        return;
    flush(tr);
    if (last && tr->out_fd >= 0) {
        close(tr->out_fd);
        tr->out_fd = -1;
    }
}

static void rec_init(struct lxb_trace_rec *r, uint32_t kind, const struct task *t)
{
    memset(r, 0, offsetof(struct lxb_trace_rec, slot));
    r->kind = kind;
    r->pid = t->pid;
    r->tid = t->tid;
    r->host_tid = t->host;
    memset(r->slot_arg, LXB_SLOT_NONE, sizeof r->slot_arg);
}

/* ---- guest memory ---- */

static ssize_t peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
    return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

/* a string of at most cap-1 bytes (page by page: the next page may be
   unmapped); its length, with *cut set when it went on */
static size_t peek_str(pid_t pid, uint64_t addr, char *buf, size_t cap, int *cut)
{
    size_t got = 0;

    *cut = 0;
    while (got < cap) {
        size_t chunk = 4096 - ((addr + got) & 4095);
        ssize_t n;
        char *nul;

        if (chunk > cap - got)
            chunk = cap - got;
        n = peek(pid, addr + got, buf + got, chunk);
        if (n <= 0)
            return got;
        nul = memchr(buf + got, 0, (size_t)n);
        if (nul)
            return (size_t)(nul - buf);
        got += (size_t)n;
    }
    *cut = 1;
    return cap;
}

static void copy_iov(struct task *t, const struct lxb_trace_copy *c, int i);
static void copy_msghdr(struct task *t, const struct lxb_trace_copy *c, int i, int at_exit);
static void copy_mmsghdr(struct task *t, const struct lxb_trace_copy *c, int i, int at_exit);

/* LXB_COPY_SELECT: select's and pselect6's arguments as strace's
   decode_select reads them, packed from slot 0 over all three (keyed by
   argument 0, nfds; decode.select_packed says the layout): at entry the
   header, the timeout, pselect6's argpack and, when its sigsetsize is 8,
   its sigset, and the sets given, `per` bytes each (strace's fdsize, at
   most decode.SELECT_PER by how many were given); at exit, when the call
   returned > 0, the sets and the timeout again after them.  The BPF
   tracer's copy_select packs the same bytes */
static const unsigned SELECT_PER[4] = {0, 256, 176, 112};
static void copy_select(struct task *t, const struct lxb_trace_copy *c, int at_exit)
{
    struct lxb_trace_rec *r = &t->rec;
    char *base = r->slot[0];
    int64_t nfds = (int32_t)r->args[0];
    unsigned k, j = 0, n = 0, per, fdsize, flags = 0, phase = at_exit ? 1 : 0;
    size_t len;

    if (at_exit && (r->ret <= 0 || r->slot_arg[0] != 0))
        return;
    nfds = nfds < 0 ? 0 : nfds > (1 << 20) ? (1 << 20) : nfds;
    fdsize = (unsigned)(((nfds + 7) / 8 + 7) & ~7);
    for (k = 0; k < 3; k++)
        n += r->args[1 + k] != 0;
    per = fdsize < SELECT_PER[n] ? fdsize : SELECT_PER[n];
    len = LXB_SELECT_HEAD + 2 * (size_t)n * per;
    if (at_exit) {
        memcpy(&flags, base, 4);
        flags |= 1u << 10;       /* decode.SEL_EXIT */
    } else {
        memset(base, 0, LXB_SELECT_HEAD);
    }
    for (k = 0; k < 3; k++) {
        if (!r->args[1 + k])
            continue;
        if (per && peek(t->host, r->args[1 + k], base + LXB_SELECT_HEAD + (phase * n + j) * per, per) == (ssize_t)per)
            flags |= 1u << (3 * phase + k);
        j++;
    }
    if (r->args[4] && peek(t->host, r->args[4], base + 8 + 16 * phase, 16) == 16)
        flags |= phase ? 1u << 7 : 1u << 6;
    if (!at_exit && c->lenarg < 6 && r->args[c->lenarg] &&
        peek(t->host, r->args[c->lenarg], base + 40, 16) == 16) {
        uint64_t pk[2];
        flags |= 1u << 8;
        memcpy(pk, base + 40, 16);
        if (pk[0] && pk[1] == 8 && peek(t->host, pk[0], base + 56, 8) == 8)
            flags |= 1u << 9;
    }
    memcpy(base, &flags, 4);
    memcpy(base + 4, &per, 4);
    if (at_exit)
        return;
    r->slot_arg[0] = 0;
    r->slot_len[0] = (uint16_t)len;
    r->slot_arg[1] = len > LXB_TRACE_SLOT ? LXB_SLOT_MORE : LXB_SLOT_NONE;
    r->slot_arg[2] = len > 2 * LXB_TRACE_SLOT ? LXB_SLOT_MORE : LXB_SLOT_NONE;
}

static int restarting(int64_t ret)
{
    return ret == -512 || ret == -513 || ret == -514 || ret == -516;
}
static void copy_dirents(struct task *t, const struct lxb_trace_copy *c, int i);

static void copy_arg(struct task *t, const struct lxb_trace_copy *c, int i, int at_exit)
{
    struct lxb_trace_rec *r = &t->rec;
    uint64_t addr = r->args[c->arg];
    char *dst = r->slot[i];
    size_t n = 0;
    ssize_t got;
    int cut = 0;

    if (c->how == LXB_COPY_SELECT) {   /* nfds may be 0: select(0, NULL, NULL, NULL, {...}) sleeps */
        if (i == 0)
            copy_select(t, c, at_exit);
        return;
    }
    if (addr == 0)
        return;
    if (c->how == LXB_COPY_PAIR) {   /* at entry size bytes; at exit, on success, size more after them */
        if (c->size > LXB_TRACE_SLOT / 2)
            return;
        if (!at_exit) {
            if (peek(t->host, addr, dst, c->size) != (ssize_t)c->size)
                return;
            n = c->size;
        } else {
            if (r->ret < 0 || r->slot_arg[i] != c->arg || r->slot_len[i] != c->size ||
                peek(t->host, addr, dst + c->size, c->size) != (ssize_t)c->size)
                return;
            n = 2 * (size_t)c->size;
        }
        r->slot_arg[i] = c->arg;
        r->slot_len[i] = (uint16_t)n;
        return;
    }
    if (c->how == LXB_COPY_OUT_RESTART) {   /* at exit, when a signal interrupted the call */
        size_t want = c->size < LXB_TRACE_SLOT ? c->size : LXB_TRACE_SLOT;
        if (!at_exit || !restarting(r->ret) || (got = peek(t->host, addr, dst, want)) <= 0)
            return;
        r->slot_arg[i] = c->arg;
        r->slot_len[i] = (uint16_t)got;
        return;
    }
    if ((c->how == LXB_COPY_IOV_IN && !at_exit) || (c->how == LXB_COPY_IOV_OUT && at_exit)) {
        copy_iov(t, c, i);
        return;
    }
    if (c->how == LXB_COPY_MSGHDR) {
        if (!at_exit || c->lenarg == LXB_COPY_LEN_RET)
            copy_msghdr(t, c, i, at_exit);
        return;
    }
    if (c->how == LXB_COPY_MMSGHDR) {
        copy_mmsghdr(t, c, i, at_exit);
        return;
    }
    if (c->how == LXB_COPY_DIRENTS) {
        if (at_exit)
            copy_dirents(t, c, i);
        return;
    }
    if (c->how == LXB_COPY_INT_INOUT) {   /* at entry the int; at exit the int then, the entry's after it */
        if (!at_exit) {
            if (peek(t->host, addr, dst, 4) != 4)
                return;
            n = 4;
        } else {
            if (r->ret < 0 || peek(t->host, addr, dst + 4, 4) != 4)
                return;
            if (r->slot_arg[i] == c->arg && r->slot_len[i] == 4) {   /* swap: after, then before */
                char tmp[4];
                memcpy(tmp, dst, 4);
                memcpy(dst, dst + 4, 4);
                memcpy(dst + 4, tmp, 4);
                n = 8;
            } else {
                memcpy(dst, dst + 4, 4);
                n = 4;
            }
        }
    } else if (c->how == LXB_COPY_STR && !at_exit) {
        n = peek_str(t->host, addr, dst, LXB_TRACE_SLOT, &cut);
    } else if (c->how == LXB_COPY_STRV && !at_exit) {
        uint64_t ptrs[16];
        size_t k, room = LXB_TRACE_SLOT;
        got = peek(t->host, addr, ptrs, sizeof ptrs);
        if (got <= 0)
            return;
        for (k = 0; k < (size_t)got / 8; k++) {
            size_t m, cap;
            int c2;
            if (ptrs[k] == 0)
                break;
            if (room <= 1) {
                cut = 1;
                break;
            }
            cap = room - 1 < LXB_STRV_STR ? room - 1 : LXB_STRV_STR;   /* a longer string: its first bytes */
            m = peek_str(t->host, ptrs[k], dst + n, cap, &c2);
            dst[n + m] = 0;
            n += m + 1;
            room -= m + 1;
            if (c2 && cap < LXB_STRV_STR) {   /* no room for the rest of the array: this string neither */
                n -= m + 1;
                cut = 1;
                break;
            }
        }
        if (k == (size_t)got / 8 && got == (ssize_t)sizeof ptrs)
            cut = 1;
    } else if ((c->how == LXB_COPY_IN && !at_exit) || (c->how == LXB_COPY_OUT && at_exit) ||
               c->how == LXB_COPY_REFRESH || (c->how == LXB_COPY_SIGFRAME && !at_exit)) {   /* SIGFRAME: its address, seccomp_stop's */
        size_t want = c->size;
        if ((c->how == LXB_COPY_OUT || c->how == LXB_COPY_REFRESH) && at_exit && r->ret < 0)
            return;          /* a failed call's: the entry's stays (REFRESH) */
        if (c->lenarg < 6) {
            uint64_t len = r->args[c->lenarg];
            if (c->lenmul) /* an array: args[lenarg] elements of lenmul bytes */
                len = len > UINT64_MAX / c->lenmul ? UINT64_MAX : len * c->lenmul;
            if (len < want)
                want = (size_t)len;
            else if (len > want)
                cut = 1;
        } else if (c->lenarg == LXB_COPY_LEN_RET) {
            if ((uint64_t)r->ret < want)
                want = (size_t)r->ret;
            else if ((uint64_t)r->ret > want)
                cut = 1;
        }
        if (want > LXB_TRACE_SLOT)
            want = LXB_TRACE_SLOT;
        if (want == 0)
            return;
        got = peek(t->host, addr, dst, want);
        if (got <= 0)
            return;
        n = (size_t)got;
    } else {
        return;
    }
    r->slot_arg[i] = c->arg;
    r->slot_len[i] = (uint16_t)n;
    if (cut)
        r->slot_trunc |= (uint8_t)(1u << i);
}

/* LXB_COPY_IOV_IN (at entry) and LXB_COPY_IOV_OUT (at exit): a struct
   iovec array and the first bytes of each buffer, as strace's
   tprint_iov_upto prints them, packed from slot i on into the slots after
   it (marked LXB_SLOT_MORE), for decode.iovecs and trace_fmt.c tb_iovecs:
       u32 entries read, u32 bit k: buffer k could not be read;
       then per entry its iov_base, iov_len (u64 each) and its first
       min(iov_len, what is left of the total, LXB_IOV_SHOW) bytes
   where the total is unlimited at entry (writev) and the result at exit
   (readv: 0 when it failed; strace prints the data it read).  At most
   LXB_IOV_MAX entries and what fits (slot_trunc bit i when an entry did
   not); nothing when the first entry cannot be read (the address).  The
   BPF tracer's copy_iov packs the same bytes */
/* the packing of copy_iov at base, in room bytes: its length (0: the
   first entry could not be read), *cut set when an entry did not fit */
static size_t pack_iov(pid_t pid, uint64_t addr, uint64_t cnt, uint64_t left, char *base, size_t room, int *cut)
{
    size_t off = 8;
    uint32_t n = 0, bad = 0;
    uint64_t k;

    *cut = 0;
    for (k = 0; k < LXB_IOV_MAX && k < cnt; k++) {
        uint64_t e[2], d;
        if (off + 16 > room) {
            *cut = 1;
            break;
        }
        if (peek(pid, addr + 16 * k, e, sizeof e) != (ssize_t)sizeof e)
            break;
        d = e[1] < left ? e[1] : left;
        left -= d;
        if (d > LXB_IOV_SHOW)
            d = LXB_IOV_SHOW;
        if (off + 16 + d > room) {
            *cut = 1;
            break;
        }
        memcpy(base + off, e, sizeof e);
        if (d && e[0] && peek(pid, e[0], base + off + 16, (size_t)d) != (ssize_t)d)
            bad |= 1u << k;
        off += 16 + (size_t)d;
        n++;
    }
    if (n == 0)
        return 0;
    memcpy(base, &n, 4);
    memcpy(base + 4, &bad, 4);
    return off;
}

/* slot i holds a packing of off bytes for argument arg, running on into the slots after it */
static void packed_at(struct lxb_trace_rec *r, int i, int arg, size_t off, int cut)
{
    int j;
    r->slot_arg[i] = (uint8_t)arg;
    r->slot_len[i] = (uint16_t)off;
    if (cut)
        r->slot_trunc |= (uint8_t)(1u << i);
    for (j = i + 1; j < LXB_TRACE_SLOTS && off > (size_t)(j - i) * LXB_TRACE_SLOT; j++)
        r->slot_arg[j] = LXB_SLOT_MORE;
}

static void copy_iov(struct task *t, const struct lxb_trace_copy *c, int i)
{
    struct lxb_trace_rec *r = &t->rec;
    uint64_t addr = r->args[c->arg], cnt = c->lenarg < 6 ? r->args[c->lenarg] : 0;
    uint64_t left = c->how == LXB_COPY_IOV_IN ? UINT64_MAX : r->ret < 0 ? 0 : (uint64_t)r->ret;
    size_t off;
    int cut;

    if (addr == 0)
        return;
    off = pack_iov(t->host, addr, cnt, left, r->slot[i], (size_t)(LXB_TRACE_SLOTS - i) * LXB_TRACE_SLOT, &cut);
    if (off)
        packed_at(r, i, c->arg, off, cut);
}

/* the packing of a msghdr at addr into base (room bytes; see copy_msghdr):
   its length; 0 when the struct cannot be read, -1 when its head, name
   and control do not fit.  entry: msg_namelen at entry, -1: the struct's;
   left: the bytes its buffers hold in all.  *cut: the iovec array was */
static ssize_t pack_msghdr(pid_t pid, uint64_t addr, int64_t entry_in, uint64_t left, char *base, size_t room,
                           int *cut)
{
    uint64_t m[7];
    size_t off = LXB_MSGHDR_HEAD + sizeof m, k, cw;
    uint32_t entry;
    int32_t nlen, namelen;
    uint16_t n16 = 0, c16 = 0;
    uint8_t bits = LXB_MSGF_ENTRY;

    *cut = 0;
    if (peek(pid, addr, m, sizeof m) != (ssize_t)sizeof m)
        return 0;
    entry = entry_in < 0 ? (uint32_t)m[1] : (uint32_t)entry_in;
    namelen = (int32_t)(uint32_t)m[1];
    nlen = entry_in >= 0 && namelen > (int32_t)entry ? (int32_t)entry : namelen;
    k = m[0] && nlen >= 2 ? (nlen > LXB_MSGHDR_NAME ? LXB_MSGHDR_NAME : (size_t)nlen) : 0;
    cw = m[5] >= 16 ? (m[5] > LXB_MSGHDR_CONTROL ? LXB_MSGHDR_CONTROL : (size_t)m[5]) : 0;
    if (off + k + cw + 8 > room)
        return -1;
    memcpy(base, &entry, 4);
    memcpy(base + LXB_MSGHDR_HEAD, m, sizeof m);
    if (k) {
        if (peek(pid, m[0], base + off, k) == (ssize_t)k)
            n16 = (uint16_t)k;
        else
            bits |= LXB_MSGF_NAME_BAD;
    }
    off += n16;
    if (m[5] >= 16) {
        if (m[5] > cw)
            bits |= LXB_MSGF_CONTROL_CUT;
        if (m[4] && peek(pid, m[4], base + off, cw) == (ssize_t)cw)
            c16 = (uint16_t)cw;
        else
            bits |= LXB_MSGF_CONTROL_BAD;
    }
    off += c16;
    memcpy(base + 4, &n16, 2);
    memcpy(base + 6, &c16, 2);
    base[8] = (char)bits;
    memset(base + 9, 0, 7);
    memset(base + off, 0, 8);            /* no entries, unless the array is read */
    if (m[2] && m[3] && m[3] >> 60 == 0 && m[2] + m[3] * 16 > m[2]) {
        size_t got = pack_iov(pid, m[2], m[3], left, base + off, room - off, cut);
        off += got ? got : 8;
    } else {
        off += 8;
    }
    return (ssize_t)off;
}

/* LXB_COPY_MSGHDR: a struct msghdr as strace's print_struct_msghdr prints
   it, packed from slot i on (decode.msghdr_packed, which the BPF tracer's
   copy_msghdr packs alike):
       u32 msg_namelen at entry, u16 name bytes, u16 control bytes,
       u8 LXB_MSGF_* bits, 7 pad (LXB_MSGHDR_HEAD);
       the struct's 56 bytes; msg_name's first min(namelen, LXB_MSGHDR_NAME)
       bytes (none below 2: strace prints the address); msg_control's first
       min(controllen, LXB_MSGHDR_CONTROL) (none below a cmsghdr's 16);
       then the iovec array as copy_iov packs it, in what is left (its
       head 0 entries when the first could not be read).
   lenarg 6 (sendmsg): all at entry, the buffers unlimited.  lenarg
   LXB_COPY_LEN_RET (recvmsg): at entry msg_namelen into the head (not yet
   a copy); at exit, on success, the rest, the buffers up to the result,
   the name up to the lesser namelen; a failed call keeps the head only
   ({msg_namelen=N}).  Nothing when the struct cannot be read */
static void copy_msghdr(struct task *t, const struct lxb_trace_copy *c, int i, int at_exit)
{
    struct lxb_trace_rec *r = &t->rec;
    uint64_t addr = r->args[c->arg], m[2];
    int out = c->lenarg == LXB_COPY_LEN_RET, cut = 0;
    char *base = r->slot[i];
    uint32_t entry;
    ssize_t off;

    if (addr == 0)
        return;
    if (out && !at_exit) {
        memset(base, 0, LXB_MSGHDR_HEAD);
        if (peek(t->host, addr, m, sizeof m) == (ssize_t)sizeof m) {
            entry = (uint32_t)m[1];
            memcpy(base, &entry, 4);
            base[8] = LXB_MSGF_ENTRY;
        }
        return;
    }
    if (out && !(base[8] & LXB_MSGF_ENTRY))
        return;                          /* strace printed the address at entry */
    if (out && r->ret < 0) {
        r->slot_len[i] = LXB_MSGHDR_HEAD;
        r->slot_arg[i] = c->arg;
        return;
    }
    memcpy(&entry, base, 4);
    off = pack_msghdr(t->host, addr, out ? (int64_t)entry : -1, out ? (uint64_t)r->ret : UINT64_MAX, base,
                      (size_t)(LXB_TRACE_SLOTS - i) * LXB_TRACE_SLOT, &cut);
    if (off > 0)
        packed_at(r, i, c->arg, (size_t)off, cut);
}

/* LXB_COPY_MMSGHDR: a struct mmsghdr array as strace's decode_mmsgvec
   prints it at the exit (decode.mmsghdr_packed): u32 entries packed, u32
   LXB_MMSGF_* bits; recvmmsg's timeout (LXB_MMSG_TS bytes: at entry and at
   exit); then per entry its msg_len, the size of its msghdr's packing
   (pack_msghdr's: the namelen at entry, the buffers up to msg_len for
   recvmmsg), that packing.  sendmmsg (lenmul 0): args[lenarg] entries;
   recvmmsg (lenmul 1 + its timeout argument): their namelens and the
   timeout at entry (kept in the slot until the exit: u32 count, one u32
   each, at 36 whether the timeout was read, at 40 the timeout), the
   entries it returned (none when it failed: the timeout still shows).
   At most LXB_MMSG_MAX entries and what fits (LXB_MMSGF_CUT) */
static void copy_mmsghdr(struct task *t, const struct lxb_trace_copy *c, int i, int at_exit)
{
    struct lxb_trace_rec *r = &t->rec;
    uint64_t addr = r->args[c->arg], count, k;
    int recv = c->lenmul != 0, cut;
    int ts = recv && c->lenmul - 1 < 6 ? c->lenmul - 1 : -1;
    char *base = r->slot[i], tsb[LXB_MMSG_TS];
    size_t room = (size_t)(LXB_TRACE_SLOTS - i) * LXB_TRACE_SLOT, off = 8;
    uint32_t names[LXB_MMSG_MAX], nnames = 0, n = 0, bits = 0, tsbits = 0;

    if (addr == 0 || c->lenarg >= 6)
        return;
    if (recv && !at_exit) {              /* the namelens and the timeout at entry */
        count = (uint32_t)r->args[c->lenarg];
        for (k = 0; k < count && k < LXB_MMSG_MAX; k++) {
            uint32_t nl;
            if (peek(t->host, addr + 64 * k + 8, &nl, 4) != 4)
                break;
            memcpy(base + 4 + 4 * k, &nl, 4);
        }
        nnames = (uint32_t)k;
        memcpy(base, &nnames, 4);
        tsbits = ts >= 0 && r->args[ts] && peek(t->host, r->args[ts], base + 40, 16) == 16;
        memcpy(base + 36, &tsbits, 4);
        return;
    }
    if (!at_exit)
        return;
    if (recv) {
        memcpy(&nnames, base, 4);
        if (nnames > LXB_MMSG_MAX)
            nnames = 0;
        memcpy(names, base + 4, 4 * nnames);
        memset(tsb, 0, sizeof tsb);
        memcpy(&tsbits, base + 36, 4);
        tsbits &= LXB_MMSGT_ENTRY;
        memcpy(tsb + 8, base + 40, 16);
        if (tsbits && peek(t->host, r->args[ts], tsb + 24, 16) == 16)
            tsbits |= LXB_MMSGT_EXIT;
        memcpy(tsb, &tsbits, 4);
        memcpy(base + 8, tsb, sizeof tsb);
        off += LXB_MMSG_TS;
        bits |= LXB_MMSGF_ENTRY;
        count = r->ret < 0 ? 0 : (uint64_t)r->ret;
    } else {
        count = (uint32_t)r->args[c->lenarg];
    }
    for (k = 0; k < count; k++) {
        uint32_t msg_len, size;
        ssize_t got;
        if (k >= LXB_MMSG_MAX || off + 8 > room) {
            bits |= LXB_MMSGF_CUT;
            break;
        }
        if (peek(t->host, addr + 64 * k + 56, &msg_len, 4) != 4) {
            bits |= LXB_MMSGF_FAULT;
            break;
        }
        got = pack_msghdr(t->host, addr + 64 * k, recv && k < nnames ? (int64_t)names[k] : -1,
                          recv ? msg_len : UINT64_MAX, base + off + 8, room - off - 8, &cut);
        if (got <= 0) {
            bits |= got < 0 ? LXB_MMSGF_CUT : LXB_MMSGF_FAULT;
            break;
        }
        if (cut)
            base[off + 8 + 8] |= LXB_MSGF_IOV_CUT;
        size = (uint32_t)got;
        memcpy(base + off, &msg_len, 4);
        memcpy(base + off + 4, &size, 4);
        off += 8 + (size_t)got;
        n++;
    }
    memcpy(base, &n, 4);
    memcpy(base + 4, &bits, 4);
    packed_at(r, i, c->arg, off, 0);
}

/* LXB_COPY_DIRENTS: getdents64's records in the result's bytes, walked as
   strace's decode_dents (a header of LXB_DIRENT_HEAD bytes, d_reclen cut to
   what is left, raised to a header), read a chunk at a time; the count and
   the bytes left unwalked (a header that could not be read) in slot i.
   The BPF tracer's copy_dirents walks the same */
static void copy_dirents(struct task *t, const struct lxb_trace_copy *c, int i)
{
    struct lxb_trace_rec *r = &t->rec;
    uint64_t addr = r->args[c->arg], from = 0, have = 0, off = 0, left;
    unsigned char buf[16384];
    uint32_t count = 0, rest;

    if (r->ret < 0 || c->lenarg >= 6 || (uint64_t)r->ret > r->args[c->lenarg])
        return;   /* strace prints the address */
    left = (uint64_t)r->ret;
    while (left >= LXB_DIRENT_HEAD) {
        uint64_t reclen;
        if (off + LXB_DIRENT_HEAD > from + have) {
            ssize_t got = peek(t->host, addr + off, buf, left < sizeof buf ? (size_t)left : sizeof buf);
            if (got < LXB_DIRENT_HEAD)
                break;
            from = off;
            have = (uint64_t)got;
        }
        count++;
        reclen = (uint64_t)buf[off - from + 16] | (uint64_t)buf[off - from + 17] << 8;
        reclen = reclen > left ? left : reclen < LXB_DIRENT_HEAD ? LXB_DIRENT_HEAD : reclen;
        left -= reclen;
        off += reclen;
    }
    rest = (uint32_t)left;
    memcpy(r->slot[i], &count, 4);
    memcpy(r->slot[i] + 4, &rest, 4);
    r->slot_arg[i] = c->arg;
    r->slot_len[i] = 8;
}

/* the caller's command line into slot 2 (the report's first caller) */
static void copy_cmdline(struct lxb_trace_rec *r, pid_t host)
{
    char path[64];
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%d/cmdline", host);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    n = read(fd, r->slot[2], LXB_TRACE_SLOT);
    close(fd);
    if (n <= 0)
        return;
    r->slot_arg[2] = LXB_SLOT_NONE;
    r->slot_len[2] = (uint16_t)n;
    r->flags |= LXB_RECF_CMDLINE;
}

/* ---- stops ---- */

static int resume(struct task *t, int sig)
{
    return (int)ptrace(t->in_syscall ? PTRACE_SYSCALL : PTRACE_CONT, t->host, 0, (void *)(long)sig);
}

static void seccomp_stop(struct lxb_tracer *tr, struct task *t)
{
    struct tracer_priv *p = tr->priv;
    struct user_regs_struct regs;
    const struct lxb_trace_spec *s;
    struct lxb_trace_rec *r = &t->rec;
    int64_t injected = 0;
    int nr, i, err = 0;

    if (ptrace(PTRACE_GETREGS, t->host, 0, &regs) != 0) {
        resume(t, 0);
        return;
    }
    nr = (int)regs.orig_rax;
    rec_init(r, LXB_REC_SYSCALL, t);
    r->t_entry = now_ns();
    r->nr = nr;
    r->args[0] = regs.rdi;
    r->args[1] = regs.rsi;
    r->args[2] = regs.rdx;
    r->args[3] = regs.r10;
    r->args[4] = regs.r8;
    r->args[5] = regs.r9;
    s = (nr >= 0 && nr < LXB_NR_MAX) ? &tr->spec[nr] : NULL;
    if (nr == SYS_PTRACE_NR) {
        err = EPERM;
        __atomic_fetch_add(&tr->refused_ptrace, 1, __ATOMIC_RELAXED);
    } else if (!s) {
        /* a number past the table (the filter's default is RET_TRACE while
           unnamed numbers are traced, lxb_filter_build): never run, ENOSYS
           as the filter answers it untraced; recorded as LXB_NR_PAST says */
        s = &tr->spec[LXB_NR_PAST];
        err = ENOSYS;
    } else if (s->mode == LXB_TRACE_ANSWER) {
        err = s->err;
    }
    if (!err && (!s || s->mode == 0)) {
        t->in_syscall = 0; /* not asked for: runs unrecorded */
        resume(t, 0);
        return;
    }
    for (i = 0; s && i < s->ncopy && i < LXB_TRACE_SLOTS; i++) {
        if (s->copy[i].how == LXB_COPY_SIGFRAME && s->copy[i].arg < 6)   /* rt_sigreturn's frame mask */
            r->args[s->copy[i].arg] = regs.rsp + LXB_SIGFRAME_MASK;
        copy_arg(t, &s->copy[i], i, 0);
    }
    /* --inject (csrc/inject.c): a traced syscall without path rules is ours */
    if (!err && lxb_inject_decide(tr->inject, nr, t->pid, &injected)) {
        regs.orig_rax = (unsigned long long)-1;
        regs.rax = (unsigned long long)injected;
        ptrace(PTRACE_SETREGS, t->host, 0, &regs);
        r->ret = injected;
        r->flags |= LXB_RECF_INJECTED;
        r->t_exit = now_ns();
        emit(tr, r);
        t->in_syscall = 0;
        resume(t, 0);
        return;
    }
    if (err) {
        {
            /* skip it: the number -1 runs nothing, rax is its return */
            regs.orig_rax = (unsigned long long)-1;
            regs.rax = (unsigned long long)(long long)-err;
            ptrace(PTRACE_SETREGS, t->host, 0, &regs);
            r->ret = -err;
            r->flags |= LXB_RECF_ANSWERED;
            for (i = 0; s && i < s->ncopy && i < LXB_TRACE_SLOTS; i++)
                if (s->copy[i].how == LXB_COPY_MSGHDR)   /* recvmsg's {msg_namelen=N} */
                    copy_arg(t, &s->copy[i], i, 1);
            if (nr >= 0 && nr < LXB_NR_MAX && !p->seen_answer[nr]) {
                p->seen_answer[nr] = 1;
                copy_cmdline(r, t->host);
            }
        }
        r->t_exit = now_ns();
        emit(tr, r);
        t->in_syscall = 0;
        resume(t, 0);
        return;
    }
    t->in_syscall = 1;
    resume(t, 0);
}

static void exit_stop(struct lxb_tracer *tr, struct task *t)
{
    const struct lxb_trace_spec *s;
    struct lxb_trace_rec *r = &t->rec;
    long rax;
    int i;

    if (!t->in_syscall) {
        resume(t, 0);
        return;
    }
    errno = 0;
    rax = ptrace(PTRACE_PEEKUSER, t->host, offsetof(struct user_regs_struct, rax), 0);
    r->t_exit = now_ns();
    r->ret = errno ? -ENOSYS : rax;
    s = (r->nr >= 0 && r->nr < LXB_NR_MAX) ? &tr->spec[r->nr] : NULL;
    for (i = 0; s && i < s->ncopy && i < LXB_TRACE_SLOTS; i++)
        if (s->copy[i].how == LXB_COPY_OUT || s->copy[i].how == LXB_COPY_IOV_OUT || s->copy[i].how == LXB_COPY_INT_INOUT ||
            s->copy[i].how == LXB_COPY_SELECT || s->copy[i].how == LXB_COPY_PAIR ||
            s->copy[i].how == LXB_COPY_OUT_RESTART || s->copy[i].how == LXB_COPY_REFRESH ||
            s->copy[i].how == LXB_COPY_MSGHDR || s->copy[i].how == LXB_COPY_MMSGHDR ||
            s->copy[i].how == LXB_COPY_DIRENTS)
            copy_arg(t, &s->copy[i], i, 1);
    emit(tr, r);
    t->in_syscall = 0;
    resume(t, 0);
}

/* a call that will never return to this task (exit, exit_group, an execve
   that replaced a thread, a kill): recorded without a result */
static void unfinished(struct lxb_tracer *tr, struct task *t)
{
    if (!t->in_syscall)
        return;
    t->rec.flags |= LXB_RECF_NORESULT;
    t->rec.t_exit = now_ns();
    emit(tr, &t->rec);
    t->in_syscall = 0;
}

static void signal_stop(struct lxb_tracer *tr, struct task *t, int sig)
{
    struct lxb_trace_rec r;
    siginfo_t si;

    rec_init(&r, LXB_REC_SIGNAL, t);
    r.nr = sig;
    r.t_entry = r.t_exit = now_ns();
    if (ptrace(PTRACE_GETSIGINFO, t->host, 0, &si) == 0) {
        r.code = si.si_code;
        r.args[0] = (uint64_t)(int64_t)si.si_pid;
        r.args[1] = si.si_uid;
        r.args[2] = (uint64_t)(int64_t)si.si_status;
        /* the siginfo whole, as strace prints it (SIGCHLD's status and
           times, a fault's address): its first 48 bytes in slot 0 */
        memcpy(r.slot[0], &si, LXB_SIGINFO_COPY);
        r.slot_arg[0] = 0;
        r.slot_len[0] = LXB_SIGINFO_COPY;
    }
    emit(tr, &r);
    resume(t, sig);
}

static void *tracer_main(void *arg)
{
    struct lxb_tracer *tr = arg;
    struct tracer_priv *p = tr->priv;
    long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;
    int rc = 0;
    char c;
    sigset_t chld;

    /* every stop of a tracee sends SIGCHLD to this thread (its tracer): with
       SIGCHLD blocked here the kernel queues it for the process, and wakes
       another thread of lxrun (Python's main thread, in its wait) to discard
       it, twice per traced call; unblocked, the default disposition drops it
       at once (kernel/signal.c sig_ignored: blocked signals are never
       ignored) */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &chld, NULL);

    if (tr->text_fd >= 0) {
        struct stat st;
        p->live = isatty(tr->text_fd) || (fstat(tr->text_fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)));
    }
    p->last_flush = now_ns();
    p->need_ids = tr->text_fd >= 0 || tr->out_fd >= 0 || tr->inject != NULL;

    if (ptrace(PTRACE_SEIZE, p->guest, 0, (void *)opts) != 0)
        rc = -errno;
    else if (!task_get(p, p->guest, 1))
        rc = -ENOMEM;
    c = (char)(rc == 0 ? 0 : -rc);
    tr->first_error = rc;
    if (write(p->ready_pipe[1], &c, 1) != 1 || rc < 0) {
        if (tr->out_fd >= 0)
            close(tr->out_fd);
        tr->out_fd = -1;
        return NULL;
    }

    for (;;) {
        int status, sig, event;
        struct task *t;
        pid_t pid;

        /* what is batched goes out before the thread blocks: records for
           Python always, lines when someone may be watching them (a
           terminal, a pipe), else (a file, /dev/null) in 64 KiB writes and
           at least every 100 ms while calls go on; with nothing to send,
           no WNOHANG round first */
        if (p->nbatch || (lxb_sink_pending(p->sink) && (p->live || now_ns() - p->last_flush > 100000000ull))) {
            pid = waitpid(-1, &status, __WALL | __WNOTHREAD | WNOHANG);
            if (pid == 0) {
                flush(tr);
                pid = waitpid(-1, &status, __WALL | __WNOTHREAD);
            }
        } else {
            pid = waitpid(-1, &status, __WALL | __WNOTHREAD);
        }
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: no tracee left */
        }
        t = task_get(p, pid, 1);
        if (!t) {
            if (tr->first_error == 0)
                tr->first_error = -ENOMEM;
            ptrace(PTRACE_CONT, pid, 0, 0);
            continue;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            struct lxb_trace_rec r;
            unfinished(tr, t);
            rec_init(&r, LXB_REC_EXIT, t);
            r.ret = status;
            r.t_entry = r.t_exit = now_ns();
            emit(tr, &r);
            task_drop(p, pid);
            continue;
        }
        if (!WIFSTOPPED(status))
            continue;
        sig = WSTOPSIG(status);
        event = (unsigned)status >> 16;
        if (event == PTRACE_EVENT_SECCOMP) {
            seccomp_stop(tr, t);
        } else if (sig == (SIGTRAP | 0x80)) {
            exit_stop(tr, t);
        } else if (event == PTRACE_EVENT_EXEC) {
            unsigned long former = 0;
            ptrace(PTRACE_GETEVENTMSG, pid, 0, &former);
            if ((pid_t)former != pid && former) {
                /* a thread exec'd: it has the leader's tid now, and its call */
                struct task *old = task_get(p, (pid_t)former, 0);
                if (old) {
                    /* the leader's own call ended with it (killed by the exec) */
                    unfinished(tr, t);
                    t->rec = old->rec;
                    t->in_syscall = old->in_syscall;
                    task_drop(p, (pid_t)former);
                    t = task_get(p, pid, 0);
                }
            }
            /* same pid, same zone ids: the record keeps them */
            resume(t, 0);
        } else if (event == PTRACE_EVENT_STOP) {
            if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
                /* a group-stop (each time it is reported, as strace shows
                   it): stay stopped until SIGCONT, as untraced */
                struct lxb_trace_rec r;
                rec_init(&r, LXB_REC_STOP, t);
                r.nr = sig;
                r.t_entry = r.t_exit = now_ns();
                emit(tr, &r);
                ptrace(PTRACE_LISTEN, pid, 0, 0);
            } else {
                resume(t, 0);
            }
        } else if (event) {
            /* FORK, VFORK, CLONE, VFORK_DONE: the child shows up on its own */
            resume(t, 0);
        } else {
            signal_stop(tr, t, sig);
        }
    }
    flush(tr);
    if (tr->out_fd >= 0)
        close(tr->out_fd);
    tr->out_fd = -1;
    return NULL;
}

/* the host pid behind a pidfd: /proc/self/fdinfo's "Pid:" */
pid_t lxb_pidfd_pid(int pidfd)
{
    char path[64], buf[1024], *s;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = 0;
    s = strstr(buf, "\nPid:");
    if (!s)
        return -EIO;
    n = strtol(s + 5, NULL, 10);
    return n > 0 ? (pid_t)n : -ESRCH;
}

int lxb_trace_start(struct lxb_tracer *t)
{
    struct tracer_priv *p;
    sigset_t all, old;
    pid_t guest;
    char c = 0;
    int rc;

    guest = lxb_pidfd_pid(t->guest_pidfd);
    if (guest < 0)
        return guest;
    p = priv_of(t);
    if (!p)
        return -ENOMEM;
    p->guest = guest;
    if (pipe2(p->ready_pipe, O_CLOEXEC) != 0)
        return -errno;
    t->first_error = 0;
    /* no signal handler of the host runs on the tracer thread */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = -pthread_create(&p->thread, NULL, tracer_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        p->started = 1;
        while (read(p->ready_pipe[0], &c, 1) < 0 && errno == EINTR)
            ;
        rc = -(int)(unsigned char)c;
    }
    close(p->ready_pipe[0]);
    close(p->ready_pipe[1]);
    return rc;
}

int lxb_trace_join(struct lxb_tracer *t)
{
    struct tracer_priv *p = t->priv;
    size_t i;

    if (!p)
        return 0;
    if (p->started)
        pthread_join(p->thread, NULL);
    p->started = 0;
    for (i = 0; i < p->cap; i++)
        free(p->tasks[i]);
    free(p->tasks);
    p->tasks = NULL;
    p->cap = p->used = 0;
    lxb_sink_flush(t, p->sink);
    return t->first_error;
}

void lxb_trace_free(struct lxb_tracer *t)
{
    struct tracer_priv *p = t->priv;

    if (!p)
        return;
    lxb_trace_join(t);
    lxb_sink_free(p->sink);
    free(p);
    t->priv = NULL;
}
