/*
 * stats.bpf.c: lxrun --stats counted in the kernel, as DTrace's
 * aggregations count (csrc/perfstats.c loads it; issue 13).  Built with
 * clang -target bpf by lxbrand/_build.py.
 *
 * OVERVIEW
 *
 *   Raw tracepoints on raw_syscalls:sys_enter and sys_exit, sched:
 *   sched_process_fork and sched_process_exit, signal:signal_deliver.  The
 *   zone's tasks are those of trace.bpf.c (bt_in_zone, trace_bpf.h: host
 *   tgids in `traced`, seeded by lxrun, grown at forks, emptied as thread
 *   groups die).  For each call of a counted syscall (`modes`, filled by
 *   lxrun from the tracer's spec: which syscalls the ptrace tracer would
 *   count, and how) the programs add, in the kernel:
 *     counts[nr]  calls and total ns (per CPU),
 *     hist[nr]    one of BS_NB duration buckets: 0..15 ns exactly, then 16
 *                 linear buckets per power of two up to 2^BS_FINE_TOP ns,
 *                 then one per power of two (shared, atomic adds),
 *     errs        (nr, errno) -> count and the first one's time (shared),
 *     past        a number outside the arrays (one no table names: negative,
 *                 or past BT_NR_MAX; counted as modes[BT_NR_PAST] says, only
 *                 ever answered by the filter) -> its calls and errors.
 *   Nothing goes through a ring: lxrun reads the maps once, after the
 *   guest is gone, and nothing can be lost but what a full map (`tasks`,
 *   `traced`, `errs`) refuses, which is counted in `lost` and said.
 *
 * WHAT COUNTS AS A CALL (the ptrace tracer's and trace.bpf.c's rules)
 *
 *   An enter of a MODE_RECORD syscall and its exit: one call, its errno
 *   (-4095..-1), its duration.  A call seccomp answers (MODE_ANSWER:
 *   denied by the brand or --deny, or by the supervisor under --report)
 *   has no sys_enter: its exit is the call, duration 0.  A result of
 *   -ERESTART* waits for the task's next event (a call, a signal's
 *   delivery: counted with it; the task's end: counted without a result,
 *   as the ptrace tracer sees no such exit).  A call the task returns from
 *   with a SIGKILL pending, exit, exit_group, and a call another thread's
 *   exec cuts short end at sched_process_exit without a result.  A
 *   thread's execve returns in the leader's tid (`execs` names the
 *   thread).  A new task's return from fork or clone is its parent's call.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "trace_bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define MODE_RECORD 1
#define MODE_ANSWER 2
#define NR_RT_SIGRETURN 15
#define NR_EXECVE 59
#define NR_EXECVEAT 322
#define SIGKILL 9
#define SIGNAL_GROUP_EXIT 0x4

/* where the fields this reads are in the running kernel's structures
   (set by lxrun from its BTF before the load) */
const volatile struct bs_offs offs = {};

static __always_inline __s32 read_s32(const void *base, __u32 off)
{
    __s32 v = 0;
    bpf_probe_read_kernel(&v, sizeof v, (const char *)base + off);
    return v;
}

static __always_inline const void *read_ptr(const void *base, __u32 off)
{
    const void *v = 0;
    bpf_probe_read_kernel(&v, sizeof v, (const char *)base + off);
    return v;
}

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);          /* host tgid */
    __type(value, __u8);
} traced SEC(".maps");

struct bs_task {
    __u32 state;                 /* BT_IDLE, BT_PENDING, BT_RESTART */
    __s32 nr;
    __u64 t;                     /* its sys_enter, ns */
    __u64 t_exit;                /* BT_RESTART: its exit, and its result */
    __s64 ret;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);  /* live threads of the zone; allocated as they come */
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);          /* host tid */
    __type(value, struct bs_task);
} tasks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);          /* host tgid */
    __type(value, __u32);        /* the tid whose execve is pending */
} execs SEC(".maps");

/* how a syscall counts: 0 not at all, MODE_RECORD, MODE_ANSWER */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, BT_NR_MAX);
    __type(key, __u32);
    __type(value, __u32);
} modes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, BT_NR_MAX);
    __type(key, __u32);
    __type(value, struct bs_count);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, BT_NR_MAX);
    __type(key, __u32);
    __type(value, struct bs_hist);
} hist SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, BS_ERRS);
    __type(key, __u32);          /* BS_ERR_KEY(nr, errno) */
    __type(value, struct bs_err);
} errs SEC(".maps");

/* a number outside the arrays (its calls answered by seccomp: duration 0)
   -> its calls, and how many of them failed with `err` (the filter's ENOSYS) */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, BS_PAST);
    __type(key, __s32);
    __type(value, struct bs_past);
} past SEC(".maps");

/* calls not counted whole: no room in `tasks` or `traced` (the call not
   counted), in `past` (not counted), or in `errs` (counted without its errno) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(void)
{
    __u32 k = 0;
    __u64 *n = bpf_map_lookup_elem(&lost, &k);
    if (n)
        __sync_fetch_and_add(n, 1);
}

/* nr as the kernel takes it (do_syscall_64's int nr): the low 32 bits of
   orig_ax; one outside the arrays takes BT_NR_PAST's mode, a number no
   table names */
static __always_inline __u32 mode_of(__s32 nr)
{
    __u32 k, *m;
    k = (nr < 0 || nr >= BT_NR_MAX) ? BT_NR_PAST : (__u32)nr;
    m = bpf_map_lookup_elem(&modes, &k);
    return m ? *m : 0;
}

/* floor(log2(v)) for v > 0 (BPF has no count-leading-zeros) */
static __always_inline __u32 ilog2(__u64 v)
{
    __u32 r = 0;
    if (v >> 32) {
        v >>= 32;
        r += 32;
    }
    if (v >> 16) {
        v >>= 16;
        r += 16;
    }
    if (v >> 8) {
        v >>= 8;
        r += 8;
    }
    if (v >> 4) {
        v >>= 4;
        r += 4;
    }
    if (v >> 2) {
        v >>= 2;
        r += 2;
    }
    if (v >> 1)
        r += 1;
    return r;
}

/* d's bucket (trace_bpf.h BS_NB) */
static __always_inline __u32 bucket(__u64 d)
{
    __u32 k;
    if (d < 16)
        return (__u32)d;
    k = ilog2(d);
    if (k < BS_FINE_TOP)
        return 16 + (k - 4) * 16 + (__u32)((d >> (k - 4)) & 15);
    return 16 + (BS_FINE_TOP - 4) * 16 + (k - BS_FINE_TOP);
}

/* one call of nr: dur ns, err its errno (0: none, or no result).  A
   global function: the verifier walks it once, not at each of its calls */
__noinline int count(__s32 nr, __u64 dur, __u32 err)
{
    __u32 k = (__u32)nr, b, ek;
    struct bs_count *c;
    struct bs_hist *h;
    struct bs_err *e;

    if (nr < 0 || nr >= BT_NR_MAX) {
        struct bs_past *pp = bpf_map_lookup_elem(&past, &nr);
        if (!pp) {
            struct bs_past z = {};
            if (bpf_map_update_elem(&past, &nr, &z, BPF_NOEXIST) != 0 && bpf_map_lookup_elem(&past, &nr) == NULL) {
                count_lost();    /* no room: not counted */
                return 0;
            }
            pp = bpf_map_lookup_elem(&past, &nr);
            if (!pp)
                return 0;
        }
        __sync_fetch_and_add(&pp->calls, 1);
        __sync_fetch_and_add(&pp->total_ns, dur);
        if (err) {
            __sync_fetch_and_add(&pp->errs, 1);
            pp->err = err;
        }
        return 0;
    }
    c = bpf_map_lookup_elem(&counts, &k);
    if (!c)
        return 0;
    /* atomic although per CPU: a program on a faultable tracepoint may be
       preempted, and another program may then count on this CPU */
    __sync_fetch_and_add(&c->calls, 1);
    __sync_fetch_and_add(&c->total_ns, dur);
    h = bpf_map_lookup_elem(&hist, &k);
    b = bucket(dur);
    if (h && b < BS_NB)
        __sync_fetch_and_add(&h->b[b], 1);
    if (!err)
        return 0;
    ek = BS_ERR_KEY(k, err);
    e = bpf_map_lookup_elem(&errs, &ek);
    if (!e) {
        struct bs_err z = {1, bpf_ktime_get_ns()};
        if (bpf_map_update_elem(&errs, &ek, &z, BPF_NOEXIST) == 0)
            return 0;
        e = bpf_map_lookup_elem(&errs, &ek);   /* another CPU's insert came first */
        if (!e) {
            count_lost();
            return 0;
        }
    }
    __sync_fetch_and_add(&e->count, 1);
    return 0;
}

static __always_inline __u32 err_of(__s64 ret)
{
    return (ret < 0 && ret > -4096) ? (__u32)-ret : 0;
}

static __always_inline int restarting(__s64 ret)
{
    return ret == -512 || ret == -513 || ret == -514 || ret == -516;
}

/* a call that returned -ERESTART*, settled by the task's next event: with
   its result when the task lives on */
static __always_inline void settle(struct bs_task *t)
{
    if (t->state == BT_RESTART)
        count(t->nr, t->t_exit - t->t, err_of(t->ret));
    t->state = BT_IDLE;
}

/* trace.bpf.c killed_now: the task returns from its call with a SIGKILL
   pending (kill(2), another thread's exit_group or execve): ptrace makes no
   syscall-exit stop then, so the ptrace tracer and the BPF trace count the
   call without a result at the task's death; a fatal signal the kernel made
   a group SIGKILL only because no tracer holds the task keeps it */
static __always_inline int killed_now(void)
{
    const void *task = (const void *)bpf_get_current_task(), *sig;
    __u64 pend = 0;
    int code;

    bpf_probe_read_kernel(&pend, sizeof pend, (const char *)task + offs.task_pending);
    if (!(pend & (1ull << (SIGKILL - 1))))
        return 0;
    sig = read_ptr(task, offs.task_signal);
    code = read_s32(sig, offs.sig_group_exit) & 0x7f;
    if ((read_s32(sig, offs.sig_flags) & SIGNAL_GROUP_EXIT) && code && code != SIGKILL)
        return 0;
    return 1;
}

SEC("raw_tracepoint/sys_enter")
int bs_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, tgid = (__u32)(id >> 32);
    __s32 nr = (__s32)ctx->args[1];      /* the kernel's int nr */
    struct bs_task *t;

    if (!bt_in_zone(&traced, tgid))
        return 0;
    t = bpf_map_lookup_elem(&tasks, &tid);
    if (t && t->state == BT_RESTART)
        settle(t);
    if (mode_of(nr) != MODE_RECORD) {
        /* not counted; its exit pairs with nothing */
        if (t)
            t->state = BT_IDLE;
        return 0;
    }
    if (!t) {
        struct bs_task z = {};
        if (bpf_map_update_elem(&tasks, &tid, &z, BPF_NOEXIST) != 0 &&
            bpf_map_update_elem(&tasks, &tid, &z, BPF_ANY) != 0) {
            count_lost();        /* no room for the task: its call is not counted */
            return 0;
        }
        t = bpf_map_lookup_elem(&tasks, &tid);
        if (!t) {
            count_lost();
            return 0;
        }
    }
    t->nr = nr;
    t->t = bpf_ktime_get_ns();
    t->state = BT_PENDING;
    if (nr == NR_EXECVE || nr == NR_EXECVEAT)
        bpf_map_update_elem(&execs, &tgid, &tid, BPF_ANY);
    return 0;
}

SEC("raw_tracepoint/sys_exit")
int bs_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid(), now;
    __u32 tid = (__u32)id, tgid = (__u32)(id >> 32), mode, old;
    __s64 ret = (__s64)ctx->args[1], orig = 0;
    __s32 nr;
    struct bs_task *t, *f;
    __u32 *was;

    if (!bt_in_zone(&traced, tgid))
        return 0;
    /* orig_ax, x86_64 struct pt_regs's 16th long */
    if (bpf_probe_read_kernel(&orig, sizeof orig, (char *)ctx->args[0] + 15 * 8) != 0)
        return 0;
    nr = (__s32)orig;            /* the kernel's int nr: 0x1000001f4 is 500 */
    now = bpf_ktime_get_ns();
    t = bpf_map_lookup_elem(&tasks, &tid);
    if (t && t->state == BT_RESTART)
        settle(t);
    if (t && t->state == BT_PENDING && (t->nr == nr || (nr == -1 && t->nr == NR_RT_SIGRETURN))) {
        if (killed_now())
            return 0;            /* no result, at sched_process_exit */
        if (restarting(ret)) {
            t->ret = ret;
            t->t_exit = now;
            t->state = BT_RESTART;
            return 0;
        }
        t->state = BT_IDLE;
        count(t->nr, now - t->t, err_of(ret));
        return 0;
    }
    if (t)
        t->state = BT_IDLE;      /* its exit was not this one */
    mode = mode_of(nr);
    if (mode == MODE_ANSWER) {
        /* seccomp answered it: no sys_enter */
        count(nr, 0, err_of(ret));
        return 0;
    }
    if (mode == MODE_RECORD && (nr == NR_EXECVE || nr == NR_EXECVEAT)) {
        /* a thread's exec returns in the leader's tid */
        was = bpf_map_lookup_elem(&execs, &tgid);
        if (!was)
            return 0;
        old = *was;
        bpf_map_delete_elem(&execs, &tgid);
        f = bpf_map_lookup_elem(&tasks, &old);
        if (f && f->state == BT_PENDING && f->nr == nr)
            count(f->nr, now - f->t, err_of(ret));
        bpf_map_delete_elem(&tasks, &old);
    }
    /* else: a new task's return from fork, vfork, clone: its parent's call */
    return 0;
}

SEC("raw_tracepoint/sched_process_fork")
int bs_fork(struct bpf_raw_tracepoint_args *ctx)
{
    const void *child = (const void *)ctx->args[1];
    __u32 ptgid = (__u32)(bpf_get_current_pid_tgid() >> 32), ctgid;
    __u8 one = 1;

    if (!bt_in_zone(&traced, ptgid))
        return 0;
    ctgid = (__u32)read_s32(child, offs.task_tgid);
    if (ctgid == 0) {
        count_lost();            /* unreadable: its calls will not be counted */
        return 0;
    }
    if (ctgid != ptgid && bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY) != 0)
        count_lost();            /* its calls will not be counted */
    return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int bs_exit(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, tgid = (__u32)(id >> 32);
    const void *task = (const void *)bpf_get_current_task(), *sig;
    struct bs_task *t;
    int live = 1;

    if (!bt_in_zone(&traced, tgid))
        return 0;
    t = bpf_map_lookup_elem(&tasks, &tid);
    if (t) {
        /* never returned to this task: no result */
        if (t->state != BT_IDLE)
            count(t->nr, bpf_ktime_get_ns() - t->t, 0);
        t->state = BT_IDLE;
        bpf_map_delete_elem(&tasks, &tid);
    }
    sig = read_ptr(task, offs.task_signal);
    if (sig && bpf_probe_read_kernel(&live, sizeof live, (const char *)sig + offs.sig_live) == 0 && live == 0) {
        bpf_map_delete_elem(&traced, &tgid);
        bpf_map_delete_elem(&execs, &tgid);
    }
    return 0;
}

SEC("raw_tracepoint/signal_deliver")
int bs_signal(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, tgid = (__u32)(id >> 32);
    struct bs_task *t;

    /* SIGKILL (and a group's exit) settles nothing: the task's end does */
    if ((int)ctx->args[0] == SIGKILL || !bt_in_zone(&traced, tgid))
        return 0;
    t = bpf_map_lookup_elem(&tasks, &tid);
    if (t && t->state == BT_RESTART)
        settle(t);
    return 0;
}
