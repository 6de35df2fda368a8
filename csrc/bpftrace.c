/*
 * bpftrace.c: lxrun --trace without ptrace stops, from BPF programs on the
 * kernel's syscall, scheduler and signal tracepoints (issue 13).
 *
 * OVERVIEW
 *
 *   The ptrace tracer (trace.c) stops a traced call twice, and each stop is
 *   a wake-up of lxrun and of the guest on another CPU: strace's floor.
 *   Here the programs of csrc/bpf/trace.bpf.c (compiled by lxbrand/_build.py
 *   into build/gen/trace_bpf_obj.h, loaded with libbpf) build the same
 *   struct lxb_trace_rec in the kernel, with the same copies (t->spec, the
 *   array map `specs`), and put each finished record in a BPF ring buffer;
 *   the guest never stops.  A reader thread here takes them out (on a
 *   timer, 10 ms when the lines go to a terminal, pipe or socket, else
 *   50 ms, or when a quarter of the ring is full) and feeds them to the
 *   ptrace tracer's sink (lxb_trace_emit: lines, JSON, statistics, records
 *   for a Zone(trace=callback)), so the output is the same code's.  The
 *   zone's filter is the brand's own (no RET_TRACE), as under perfstats.c.
 *
 *   Which tasks: the programs' `traced` map of host tgids, seeded here
 *   with the held guest before it execs, grown at each fork of a traced
 *   process, emptied as thread groups die.  The zone's pid and tid of a
 *   record are the task's numbers in its innermost pid namespace, read by
 *   the program, as trace.c reads the last NSpid field.
 *
 * LOST RECORDS
 *
 *   The ring is 16 MiB (LXBRAND_BPF_RING_KB for tests): a traced call is
 *   112 bytes with no copies, 880 with three, so it holds 19000 to 150000
 *   records while the reader sleeps.  A program that finds it full (or no
 *   room for a task in its maps) counts the record in the per-CPU `lost`
 *   map; lxb_bpftrace_finish returns the sum and lxrun says it (stderr,
 *   and the statistics' lost line).  There is no backpressure: nothing a
 *   BPF program on a tracepoint may do makes the guest wait.
 *
 * TEARDOWN
 *
 *   Detaching a raw tracepoint program unregisters the tracepoint's probe
 *   and waits for an RCU grace period; as perfstats.c does with its
 *   events, a grandchild holding only the links' fds takes them with it
 *   once lxrun's copies are closed.
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
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lxbrand.h"
#include "bpftrace.h"
#include "trace_int.h"
#include "trace_bpf_obj.h"       /* build/gen: LXB_HAVE_BPF, the object */

#if LXB_HAVE_BPF
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf/trace_bpf.h"

_Static_assert(sizeof(struct bt_rec) == sizeof(struct lxb_trace_rec), "bt_rec is lxb_trace_rec");
_Static_assert(offsetof(struct bt_rec, slot) == offsetof(struct lxb_trace_rec, slot), "bt_rec is lxb_trace_rec");
_Static_assert(offsetof(struct bt_rec, slot) == BT_HEAD, "BT_HEAD");
_Static_assert(offsetof(struct bt_rec, host_tid) == offsetof(struct lxb_trace_rec, host_tid), "host_tid");
_Static_assert(offsetof(struct bt_rec, slot_len) == offsetof(struct lxb_trace_rec, slot_len), "slot_len");
_Static_assert(offsetof(struct bt_rec, pad) == offsetof(struct lxb_trace_rec, pad), "pad");
_Static_assert(sizeof(struct bt_spec) == sizeof(struct lxb_trace_spec), "bt_spec is lxb_trace_spec");
_Static_assert(offsetof(struct bt_spec, copy) == offsetof(struct lxb_trace_spec, copy), "copy");
_Static_assert(sizeof(struct bt_copy) == sizeof(struct lxb_trace_copy), "bt_copy is lxb_trace_copy");
_Static_assert(BT_NR_MAX == LXB_NR_MAX && BT_SLOTS == LXB_TRACE_SLOTS && BT_SLOT == LXB_TRACE_SLOT, "sizes");
#endif

#define RING_DEFAULT (16u << 20)
#define NPROGS 6

struct uid_extent {
    uint32_t inside, outside, count;
};

struct lxb_bpftrace {
    struct lxb_tracer *t;
#if LXB_HAVE_BPF
    struct bpf_object *obj;
    struct bpf_link *links[NPROGS];
    struct ring_buffer *rb;
#endif
    int nlinks;
    int stop_fd, epfd;
    pthread_t thread;
    int started, live;
    uint64_t lost;
    struct uid_extent uids[16];  /* the guest's uid_map */
    int nuids;
};

#if LXB_HAVE_BPF

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (getenv("LXBRAND_BPF_DEBUG"))
        return vfprintf(stderr, fmt, ap);
    return 0;
}

/* CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN): what loading tracing
   programs and reading kernel memory need (kernel/bpf/syscall.c) */
static int may_trace(void)
{
    struct {
        uint32_t version;
        int pid;
    } head = {0x20080522, 0};
    struct {
        uint32_t effective, permitted, inheritable;
    } data[2];

    if (syscall(SYS_capget, &head, data) != 0)
        return 0;
    if (data[0].effective & (1u << 21))         /* CAP_SYS_ADMIN */
        return 1;
    return (data[1].effective & (1u << (38 - 32))) && (data[1].effective & (1u << (39 - 32)));
}

int lxb_bpftrace_probe(void)
{
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        return -ENOENT;
    if (!may_trace())
        return -EPERM;
    return 0;
}

/* a host uid into the zone's (the guest's uid_map); 65534 when unmapped,
   as the kernel's overflow uid */
static uint64_t zone_uid(const struct lxb_bpftrace *p, uint64_t host)
{
    int i;
    for (i = 0; i < p->nuids; i++)
        if (host >= p->uids[i].outside && host - p->uids[i].outside < p->uids[i].count)
            return p->uids[i].inside + (host - p->uids[i].outside);
    return p->nuids ? 65534 : host;
}

static void read_uid_map(struct lxb_bpftrace *p, pid_t guest)
{
    char path[64], buf[1024], *s;
    long n;

    snprintf(path, sizeof path, "/proc/%d/uid_map", guest);
    n = lxb_read_small(path, buf, sizeof buf);
    if (n <= 0)
        return;
    for (s = buf; *s && p->nuids < (int)(sizeof p->uids / sizeof *p->uids);) {
        unsigned long a, b, c;
        int used = 0;
        if (sscanf(s, " %lu %lu %lu%n", &a, &b, &c, &used) != 3)
            break;
        p->uids[p->nuids++] = (struct uid_extent){(uint32_t)a, (uint32_t)b, (uint32_t)c};
        s += used;
    }
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* LXBRAND_BPF_DEBUG: what each step of the start costs */
static void step(const char *what, uint64_t *t)
{
    uint64_t now = mono_us();
    if (getenv("LXBRAND_BPF_DEBUG"))
        fprintf(stderr, "lxrun: bpf: %s %llu us\n", what, (unsigned long long)(now - *t));
    *t = now;
}

static int on_record(void *ctx, void *data, size_t size)
{
    struct lxb_bpftrace *p = ctx;
    struct lxb_trace_rec r;

    if (size < offsetof(struct lxb_trace_rec, slot))
        return 0;
    if (size > sizeof r)
        size = sizeof r;
    memcpy(&r, data, size);
    if (r.pad) {                 /* a signal's sender uid, the host's */
        r.args[1] = zone_uid(p, r.args[1]);
        r.pad = 0;
    }
    lxb_trace_emit(p->t, &r);
    return 0;
}

static void *reader_main(void *arg)
{
    struct lxb_bpftrace *p = arg;
    struct epoll_event ev[2];

    for (;;) {
        int n = epoll_wait(p->epfd, ev, 2, p->live ? 10 : 50), i, stop = 0;
        if (n < 0 && errno != EINTR)
            break;
        for (i = 0; i < n; i++)
            if (ev[i].data.u32 == 1)
                stop = 1;
        ring_buffer__consume(p->rb);
        lxb_trace_emit_flush(p->t, 0);
        if (stop)
            break;
    }
    return NULL;
}

/* as perfstats.c close_later: a grandchild that holds the links (and
   nothing else of lxrun's) closes them after lxrun has gone on */
static int close_later(struct lxb_bpftrace *p)
{
    int i, st, go[2], keep[NPROGS + 1], n = 0;
    pid_t child;

    for (i = 0; i < p->nlinks; i++)
        if (p->links[i] && bpf_link__fd(p->links[i]) >= 0)
            keep[n++] = bpf_link__fd(p->links[i]);
    if (n == 0 || pipe2(go, O_CLOEXEC) != 0)
        return -1;
    keep[n++] = go[0];
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
            syscall(SYS_exit_group, 0);
        for (j = 1; j < n; j++)
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

void lxb_bpftrace_free(struct lxb_bpftrace *p)
{
    int i, later;
    uint64_t t0 = mono_us();

    if (!p)
        return;
    if (p->started)
        lxb_bpftrace_finish(p);
    later = close_later(p);
    step("free: close_later", &t0);
    for (i = 0; i < p->nlinks; i++)
        if (p->links[i])
            bpf_link__destroy(p->links[i]);
    if (later >= 0)
        close(later);
    if (p->rb)
        ring_buffer__free(p->rb);
    step("free: links", &t0);
    if (p->obj)
        bpf_object__close(p->obj);
    step("free: object", &t0);
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->stop_fd >= 0)
        close(p->stop_fd);
    free(p);
}

static int fail(struct lxb_bpftrace *p, int rc, char *err, int errlen, const char *what)
{
    if (err && errlen > 0)
        snprintf(err, (size_t)errlen, "%s: %s", what, strerror(-rc));
    lxb_bpftrace_free(p);
    return rc;
}

int lxb_bpftrace_start(struct lxb_tracer *t, int guest_pidfd, struct lxb_bpftrace **out, char *err, int errlen)
{
    static const char *const progs[NPROGS] = {"bt_sys_enter", "bt_sys_exit", "bt_fork", "bt_exit",
                                              "bt_signal", "bt_generate"};
    struct lxb_bpftrace *p;
    struct bpf_map *m, *ring, *specs, *traced;
    struct epoll_event ev;
    uint64_t ring_size = RING_DEFAULT;
    uint32_t guest, nr;
    uint8_t one = 1;
    sigset_t all, old;
    int i, rc;
    pid_t g;

    *out = NULL;
    if (err && errlen > 0)
        err[0] = 0;
    g = lxb_pidfd_pid(guest_pidfd);
    if (g < 0)
        return g;
    guest = (uint32_t)g;
    if (!lxb_sink_of(t))
        return -ENOMEM;
    p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->t = t;
    p->stop_fd = p->epfd = -1;
    if (t->text_fd >= 0) {
        struct stat st;
        p->live = isatty(t->text_fd) ||
                  (fstat(t->text_fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)));
    }
    uint64_t t0 = mono_us();
    read_uid_map(p, g);
    libbpf_set_print(quiet);
    p->obj = bpf_object__open_mem(lxb_trace_bpf_obj, sizeof lxb_trace_bpf_obj, NULL);
    if (!p->obj) {
        rc = -errno;
        p->obj = NULL;
        return fail(p, rc ? rc : -EINVAL, err, errlen, "open the BPF object");
    }
    if (getenv("LXBRAND_BPF_RING_KB")) {
        long kb = atol(getenv("LXBRAND_BPF_RING_KB"));
        for (ring_size = RING_DEFAULT; ring_size > 4096 && ring_size > (uint64_t)kb * 1024; ring_size /= 2)
            ;
    }
    ring = bpf_object__find_map_by_name(p->obj, "ring");
    specs = bpf_object__find_map_by_name(p->obj, "specs");
    traced = bpf_object__find_map_by_name(p->obj, "traced");
    if (!ring || !specs || !traced)
        return fail(p, -ENOENT, err, errlen, "the BPF object's maps");
    bpf_map__set_max_entries(ring, (uint32_t)ring_size);
    bpf_object__for_each_map(m, p->obj) {
        const char *name = bpf_map__name(m);
        size_t len = strlen(name), sz = 0;
        if (len >= 7 && strcmp(name + len - 7, ".rodata") == 0) {
            uint64_t *wake = (uint64_t *)bpf_map__initial_value(m, &sz);
            if (wake && sz >= sizeof *wake)
                *wake = ring_size / 4;   /* wake_bytes, the only constant */
        }
    }
    step("open", &t0);
    rc = bpf_object__load(p->obj);
    if (rc < 0)
        return fail(p, rc, err, errlen, "load the BPF programs");
    step("load", &t0);
    for (nr = 0; nr < LXB_NR_MAX; nr++) {
        if (!t->spec[nr].mode)
            continue;
        if (bpf_map_update_elem(bpf_map__fd(specs), &nr, &t->spec[nr], BPF_ANY) != 0)
            return fail(p, -errno, err, errlen, "fill the BPF spec map");
    }
    if (bpf_map_update_elem(bpf_map__fd(traced), &guest, &one, BPF_ANY) != 0)
        return fail(p, -errno, err, errlen, "seed the BPF task map");
    p->rb = ring_buffer__new(bpf_map__fd(ring), on_record, p, NULL);
    if (!p->rb)
        return fail(p, -errno ? -errno : -ENOMEM, err, errlen, "map the BPF ring buffer");
    for (i = 0; i < NPROGS; i++) {
        struct bpf_program *prog = bpf_object__find_program_by_name(p->obj, progs[i]);
        struct bpf_link *l = prog ? bpf_program__attach(prog) : NULL;
        if (!l) {
            rc = -errno;
            return fail(p, rc ? rc : -ENOENT, err, errlen, progs[i]);
        }
        p->links[p->nlinks++] = l;
    }
    step("attach", &t0);
    p->stop_fd = eventfd(0, EFD_CLOEXEC);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->stop_fd < 0 || p->epfd < 0)
        return fail(p, -errno, err, errlen, "the BPF reader's fds");
    ev.events = EPOLLIN;
    ev.data.u32 = 0;
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(p->rb), &ev) != 0)
        return fail(p, -errno, err, errlen, "the BPF reader's epoll");
    ev.data.u32 = 1;
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->stop_fd, &ev) != 0)
        return fail(p, -errno, err, errlen, "the BPF reader's epoll");
    /* no signal handler of the host runs on the reader */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = -pthread_create(&p->thread, NULL, reader_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0)
        return fail(p, rc, err, errlen, "start the BPF reader");
    p->started = 1;
    *out = p;
    return 0;
}

uint64_t lxb_bpftrace_finish(struct lxb_bpftrace *p)
{
    struct bpf_map *lost;
    int ncpu, i;
    uint32_t k = 0;

    uint64_t t0 = mono_us();

    if (!p)
        return 0;
    if (p->started) {
        uint64_t one = 1;
        if (write(p->stop_fd, &one, sizeof one) < 0)
            (void)0;
        pthread_join(p->thread, NULL);
        step("finish: reader joined", &t0);
        p->started = 0;
        /* every task is gone: what is left in the ring */
        ring_buffer__consume(p->rb);
        lost = bpf_object__find_map_by_name(p->obj, "lost");
        ncpu = libbpf_num_possible_cpus();
        if (lost && ncpu > 0) {
            uint64_t *per = calloc((size_t)ncpu, sizeof *per);
            if (per && bpf_map_lookup_elem(bpf_map__fd(lost), &k, per) == 0)
                for (i = 0; i < ncpu; i++)
                    p->lost += per[i];
            free(per);
        }
        lxb_trace_emit_flush(p->t, 1);
        step("finish: drained", &t0);
    }
    return p->lost;
}

#else /* built without clang -target bpf or libbpf: the ptrace tracer only */

int lxb_bpftrace_probe(void)
{
    return -ENOSYS;
}

int lxb_bpftrace_start(struct lxb_tracer *t, int guest_pidfd, struct lxb_bpftrace **out, char *err, int errlen)
{
    *out = NULL;
    if (err && errlen > 0)
        snprintf(err, (size_t)errlen, "lxbrand was built without BPF (clang, libbpf-dev)");
    return -ENOSYS;
}

uint64_t lxb_bpftrace_finish(struct lxb_bpftrace *p)
{
    return 0;
}

void lxb_bpftrace_free(struct lxb_bpftrace *p)
{
}

#endif
