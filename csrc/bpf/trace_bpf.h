/* trace_bpf.h: what csrc/bpf/trace.bpf.c and csrc/bpftrace.c share.
   struct bt_rec is struct lxb_trace_rec (csrc/lxbrand.h) and struct
   bt_spec is struct lxb_trace_spec, written for the BPF target (no libc);
   bpftrace.c checks that the layouts agree (_Static_assert). */
#ifndef LXB_TRACE_BPF_H
#define LXB_TRACE_BPF_H

#define BT_NR_MAX 512            /* LXB_NR_MAX */
#define BT_NR_PAST (BT_NR_MAX - 1)   /* LXB_NR_PAST: its spec and mode stand for every number outside */
#define BT_SLOTS 3               /* LXB_TRACE_SLOTS */
#define BT_SLOT 256              /* LXB_TRACE_SLOT */
#define BT_SPILL 264             /* room after the last slot: the verifier sees slot + offset + size */

struct bt_copy {
    __u8 arg, how, lenarg, lenmul;
    __u16 size, pad2;
};

struct bt_spec {
    __u8 mode, ncopy;
    __u16 err;
    struct bt_copy copy[BT_SLOTS];
    __u8 show, pad[3];
};

struct bt_rec {
    __u32 kind, flags;
    __s32 pid, tid, nr, code;
    __u64 args[6];
    __s64 ret;
    __u64 t_entry, t_exit;
    __s32 host_tid;
    __u8 slot_arg[BT_SLOTS];
    __u8 slot_trunc;
    __u16 slot_len[BT_SLOTS];
    __u16 pad;
    char slot[BT_SLOTS][BT_SLOT];
};

#define BT_HEAD 112              /* offsetof(struct bt_rec, slot) */

/* a task's state, in the `tasks` map (by host tid) */
struct bt_task {
    __u32 state;                 /* BT_IDLE, BT_PENDING, BT_RESTART */
    __s32 zpid, ztid;            /* the zone's ids (innermost pid namespace), 0: not read yet */
    __u32 retry;                 /* bit i: slot i's copy at entry faulted, taken again at the exit */
    /* a signal the kernel generated that ptrace would have stopped the task
       for, which the kernel now delivers differently (ignored: dropped at
       once; fatal: a group SIGKILL): shown where the stop would have been */
    __s32 dsig, dcode;
    __u32 dwhen, dhostuid;       /* BT_D_AFTER_CALL or BT_D_AT_KILL; args[1] a host uid */
    __u32 stopshown, pad;        /* its group-stop shown (bt_stop), until its next call or signal */
    __u64 dargs[3];
    struct bt_rec rec;
    char spill[BT_SPILL];
};
#define BT_IDLE 0
#define BT_PENDING 1             /* entered, its exit not seen */
#define BT_RESTART 2             /* returned -ERESTART*: settled at the task's next event */
#define BT_D_AFTER_CALL 1        /* after the call the task is in (its exit, or its death) */
#define BT_D_AT_KILL 2           /* when the group's SIGKILL reaches it */

/* --stats counted in the kernel (csrc/bpf/stats.bpf.c, read by
   csrc/perfstats.c).  A duration's bucket: 0..15 ns one each, then 16
   linear buckets per power of two [2^k, 2^(k+1)) for 4 <= k < BS_FINE_TOP
   (each 1/16 of its lower bound wide: a percentile taken at a bucket's
   middle is within 1/32 of the true one), then one bucket per power of
   two.  Every bucket lies inside one power of two, so the log2 histogram
   is exact. */
#define BS_FINE_TOP 40           /* 2^40 ns: 18 minutes */
#define BS_NB (16 + (BS_FINE_TOP - 4) * 16 + (64 - BS_FINE_TOP))
#define BS_ERRS 8192             /* (syscall, errno) pairs of one run */
#define BS_ERR_KEY(nr, err) (((nr) << 12) | (err))

struct bs_count {
    __u64 calls, total_ns;
};

#define BS_PAST 64               /* numbers outside the arrays counted one by one (LXB_TRACE_PAST) */
struct bs_past {
    __u64 calls, total_ns, errs;
    __u32 err, pad;              /* errs failed with err (the filter's ENOSYS) */
};

struct bs_hist {
    __u64 b[BS_NB];
};

struct bs_err {
    __u64 count, first_ns;       /* first_ns: the first such error's time (the errors' order) */
};

/* the kernel's structures' byte offsets stats.bpf.c reads, found by
   csrc/perfstats.c in the kernel's BTF before the load (no CO-RE: libbpf's
   parse of the whole BTF was 9 of the load's 13 ms) */
struct bs_offs {
    __u32 task_tgid, task_signal, task_pending;  /* task_struct: tgid, signal, pending.signal.sig[0] */
    __u32 sig_live, sig_flags, sig_group_exit;   /* signal_struct: live.counter, flags, group_exit_code */
};

#ifdef __bpf__
/* Is the task of thread group tgid one of the zone's?  The one test of
   zone membership of csrc/bpf/trace.bpf.c and csrc/bpf/stats.bpf.c: its
   host tgid is in their `traced` map (a BPF_MAP_TYPE_HASH of __u32 tgid ->
   __u8), seeded by lxrun with the held guest before it execs, added at
   every fork of a traced process, removed when the thread group dies; a
   guest that unshares pid namespaces stays in it. */
static __always_inline int bt_in_zone(void *traced_map, __u32 tgid)
{
    return bpf_map_lookup_elem(traced_map, &tgid) != NULL;
}
#endif

#endif
