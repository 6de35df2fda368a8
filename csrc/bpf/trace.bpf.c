/*
 * trace.bpf.c: lxrun --trace without ptrace stops (csrc/bpftrace.c loads
 * it; issue 13).  Built with clang -target bpf by lxbrand/_build.py.
 *
 * OVERVIEW
 *
 *   Raw tracepoints on raw_syscalls:sys_enter and sys_exit, sched:
 *   sched_process_fork and sched_process_exit, signal:signal_deliver and
 *   signal_generate, and sched:sched_switch (a task entering its group-stop,
 *   strace's "--- stopped by SIGSTOP ---": bt_stop).  Each
 *   program first asks whether the current task belongs to the zone: its
 *   host tgid in `traced` (seeded by lxrun with the held guest, added at
 *   every fork of a traced process, removed when its thread group dies), so
 *   a guest that unshares pid namespaces stays traced.  For a traced task it
 *   keeps the call being made in `tasks` (by host tid) as a struct bt_rec,
 *   laid out as struct lxb_trace_rec, and writes the finished record to the
 *   ring buffer `ring`, which lxrun's reader feeds to the ptrace tracer's
 *   sink (lines, JSON, statistics).
 *
 *   What is copied is `specs[nr]`, the ptrace tracer's struct
 *   lxb_trace_spec (lxbrand/trace.py copies()): the same bounded copies as
 *   trace.c's copy_arg, from the current task only: strings, string arrays
 *   and IN buffers at sys_enter, OUT buffers at sys_exit on success.  The
 *   guest can make a copy fail (a bad pointer) or short, never longer than
 *   its slot; nothing here acts on anything.
 *
 * WHAT THE KERNEL DOES DIFFERENTLY (see perfstats.c, the same tracepoints)
 *
 *   A call seccomp answers (denied by the brand or --deny; notified and
 *   answered by the supervisor) never reaches sys_enter, but its sys_exit
 *   fires: for a LXB_TRACE_ANSWER syscall such an exit is the whole record,
 *   its arguments from pt_regs (intact but ax), its copies taken then.  A
 *   call that returns -ERESTART* waits for the task's next event: a signal's
 *   delivery or a next call shows its result, the task's death shows none
 *   (the ptrace tracer never sees that exit).  exit, exit_group and a call a
 *   kill or another thread's exec cut short end at sched_process_exit with no
 *   result.  A thread's execve returns in the leader's tid: `execs` (by
 *   tgid) names the thread whose call it is.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "trace_bpf.h"

#define SA_IMMUTABLE 0x00800000       /* include/linux/signal_types.h: a handler the task may not change */
#define X32_SYSCALL_BIT 0x40000000

char LICENSE[] SEC("license") = "GPL";

#define REC_SYSCALL 1
#define REC_SIGNAL 2
#define REC_EXIT 3
#define REC_STOP 5
#define TASK_STOPPED_BIT 0x4     /* __TASK_STOPPED */
#define JOBCTL_STOP_SIGMASK 0xffff
#define RECF_NORESULT 1
#define RECF_ANSWERED 2
#define COPY_STR 1
#define COPY_IN 2
#define COPY_OUT 3
#define COPY_STRV 4
#define STRV_STR 33              /* LXB_STRV_STR: each string's first bytes */
#define COPY_IOV_IN 5
#define COPY_IOV_OUT 6
#define COPY_LEN_RET 7
#define COPY_INT_INOUT 8
#define COPY_MSGHDR 9
#define MSGHDR_HEAD 16           /* LXB_MSGHDR_HEAD, then the struct's 56 bytes */
#define MSGHDR_NAME 128
#define MSGHDR_CONTROL 128
#define MSGF_ENTRY 1
#define MSGF_NAME_BAD 2
#define MSGF_CONTROL_BAD 4
#define MSGF_CONTROL_CUT 8
#define MSGF_IOV_CUT 16
#define COPY_MMSGHDR 10
#define MMSG_MAX 8
#define MMSGF_CUT 1
#define MMSGF_FAULT 2
#define MMSGF_ENTRY 4
#define MMSG_TS 40               /* LXB_MMSG_TS: recvmmsg's timeout after the head */
#define MMSGT_ENTRY 1
#define MMSGT_EXIT 2
#define COPY_SELECT 11
#define COPY_PAIR 12
#define COPY_OUT_RESTART 13
#define COPY_REFRESH 14
#define SELECT_HEAD 64           /* LXB_SELECT_HEAD */
#define COPY_DIRENTS 20          /* LXB_COPY_DIRENTS */
#define COPY_SIGFRAME 21         /* LXB_COPY_SIGFRAME */
#define SIGFRAME_MASK 296        /* LXB_SIGFRAME_MASK */
#define DIRENT_HEAD 19           /* LXB_DIRENT_HEAD */
#define DIRENT_STEP 8            /* records one dirents_some call walks */
#define DIRENT_CALLS 192         /* its calls: 1536 records, a 32 KiB buffer of the shortest (24 bytes) */
#define IOV_MAX 32
#define IOV_SHOW 32
#define IOV_ROOM (BT_SLOTS * BT_SLOT)
#define SLOT_MORE 254
#define SIGINFO_COPY 48          /* LXB_SIGINFO_COPY: a signal record's siginfo, in slot 0 */
#define D_HOSTUID 1              /* bt_task.dhostuid: args[1] is a host uid */
#define D_SIGINFO 2              /* bt_task.dhostuid: spill[0..47] holds the deferred signal's siginfo */
#define MODE_RECORD 1
#define MODE_ANSWER 2
#define SLOT_NONE 255
#define NR_RT_SIGRETURN 15
#define NR_EXECVE 59
#define NR_EXECVEAT 322
#define SIGKILL 9
#define SIGNAL_GROUP_EXIT 0x4

/* the kernel's structures, read with CO-RE (their BTF at load time) */
struct upid {
    int nr;
} __attribute__((preserve_access_index));
struct pid {
    unsigned int level;
    struct upid numbers[1];
} __attribute__((preserve_access_index));
struct signal_struct {
    struct {
        int counter;
    } live;
    unsigned int flags;
    int group_exit_code;
    struct task_struct *group_exec_task;
} __attribute__((preserve_access_index));
typedef struct {
    unsigned long sig[1];
} sigset_t;
struct sigpending {
    sigset_t signal;
} __attribute__((preserve_access_index));
struct task_struct {
    unsigned int __state;
    unsigned long jobctl;
    int pid, tgid, exit_code;
    struct task_struct *group_leader;
    struct pid *thread_pid;
    struct signal_struct *signal;
    struct sigpending pending;
} __attribute__((preserve_access_index));
struct task_struct___old {       /* before 5.14 */
    long state;
} __attribute__((preserve_access_index));

/* x86_64 struct pt_regs, in longs: di si dx r10 r8 r9, ax */
#define REG_DI 14
#define REG_SI 13
#define REG_DX 12
#define REG_R10 7
#define REG_R8 9
#define REG_R9 8
#define REG_SP 19
#define NREGS 21                 /* up to ss */

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);          /* host tgid */
    __type(value, __u8);
} traced SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);  /* live traced threads; allocated as they come */
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);          /* host tid */
    __type(value, struct bt_task);
} tasks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);          /* host tgid */
    __type(value, __u32);        /* the tid whose execve is pending */
} execs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, BT_NR_MAX);
    __type(key, __u32);
    __type(value, struct bt_spec);
} specs SEC(".maps");

/* records made outside a task's entry (answered calls, signals, exits) */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 6);      /* one per program: an interrupt's program (a timer's signal) may run amid another */
    __type(key, __u32);
    __type(value, struct bt_task);
} scratch SEC(".maps");

/* records the ring had no room for, or tasks the map had none for */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} lost SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 24); /* set by lxrun before load */
} ring SEC(".maps");

/* wake the reader only past this many bytes in the ring (it also reads on
   a timer): a wake-up per record would cost what ptrace's stops cost */
const volatile __u64 wake_bytes = 1 << 20;

static __always_inline void count_lost(void)
{
    __u32 k = 0;
    __u64 *n = bpf_map_lookup_elem(&lost, &k);
    if (n)
        __sync_fetch_and_add(n, 1);
}

static __always_inline int is_traced(void)
{
    __u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
    return bt_in_zone(&traced, tgid);
}

/* the innermost pid namespace's number of a struct pid (as /proc's NSpid
   last field, which trace.c shows) */
static __always_inline __s32 inner_nr(struct pid *p)
{
    unsigned int level;
    int nr = 0;

    if (!p)
        return 0;
    level = BPF_CORE_READ(p, level);
    if (level > 32)
        return 0;
    bpf_probe_read_kernel(&nr, sizeof nr,
                          (char *)p + bpf_core_field_offset(struct pid, numbers) +
                              (__u64)level * bpf_core_type_size(struct upid));
    return nr;
}

static __always_inline void zone_ids(struct bt_task *t)
{
    struct task_struct *task;

    if (t->ztid)
        return;
    task = (struct task_struct *)bpf_get_current_task();
    t->ztid = inner_nr(BPF_CORE_READ(task, thread_pid));
    t->zpid = inner_nr(BPF_CORE_READ(task, group_leader, thread_pid));
}

static __always_inline void rec_init(struct bt_rec *r, __u32 kind, const struct bt_task *t, __u32 tid)
{
    __builtin_memset(r, 0, BT_HEAD);
    r->kind = kind;
    r->pid = t->zpid;
    r->tid = t->ztid;
    r->host_tid = (__s32)tid;
    r->slot_arg[0] = r->slot_arg[1] = r->slot_arg[2] = SLOT_NONE;
}

static __always_inline void output(struct bt_rec *r)
{
    __u32 used = 0, i;
    __u64 size, flags = BPF_RB_NO_WAKEUP;

    for (i = 0; i < BT_SLOTS; i++)
        if (r->slot_arg[i] != SLOT_NONE)
            used = i + 1;
    size = BT_HEAD + (__u64)used * BT_SLOT;
    if (size > sizeof *r)
        size = sizeof *r;
    if (bpf_ringbuf_query(&ring, BPF_RB_AVAIL_DATA) + size >= wake_bytes)
        flags = BPF_RB_FORCE_WAKEUP;
    if (bpf_ringbuf_output(&ring, r, size, flags) != 0)
        count_lost();
}

/* each program's own entry of `scratch` */
#define SK_ENTER 0
#define SK_EXIT 1
#define SK_PEXIT 2
#define SK_SIGNAL 3
#define SK_GENERATE 4
#define SK_STOP 5

static __always_inline struct bt_task *scratch_task(__u32 k)
{
    return bpf_map_lookup_elem(&scratch, &k);
}

/* the task's entry in `tasks`, made when missing */
static __always_inline struct bt_task *task_of(__u32 tid, int create, __u32 sk)
{
    struct bt_task *t = bpf_map_lookup_elem(&tasks, &tid);
    struct bt_task *z;

    if (t || !create)
        return t;
    z = scratch_task(sk);
    if (!z)
        return NULL;
    z->state = BT_IDLE;
    z->zpid = z->ztid = 0;
    z->retry = z->dwhen = 0;
    z->dsig = 0;
    z->stopshown = 0;
    if (bpf_map_update_elem(&tasks, &tid, z, BPF_NOEXIST) != 0 && bpf_map_update_elem(&tasks, &tid, z, BPF_ANY) != 0)
        return NULL;
    return bpf_map_lookup_elem(&tasks, &tid);
}

/* ---- the copies: trace.c copy_arg, with bpf_probe_read_user ---- */

/* a string of at most cap bytes at dst (cap + 1 written with the NUL):
   its length; *cut 1 when it went on (cap bytes, no NUL among them), -1
   when it could not be read (a bad pointer, or a page not present: the
   read may not fault it in) */
static __always_inline __u32 read_str(char *dst, __u32 cap, __u64 addr, int *cut)
{
    long n;

    *cut = 0;
    if (cap > BT_SLOT)
        cap = BT_SLOT;
    n = bpf_probe_read_user_str(dst, cap + 1, (const void *)addr);
    if (n <= 0) {
        *cut = -1;
        return 0;
    }
    if ((__u64)n > cap) {
        *cut = 1;
        return cap;
    }
    return (__u32)n - 1;
}

/* one string of a COPY_STRV copy: at offset off of slot i, its first
   STRV_STR bytes or what room is left.  Returns its length, | 0x10000 when
   it went on, | 0x20000 when it could not be read, | 0x40000 when the room
   left was less than STRV_STR.  A function of its own, verified once: the
   loop over the strings stays a few instructions a pass (the verifier's
   work for the loop with the read inlined was 7 times the object's load) */
__noinline int strv_one(struct bt_task *t, __u64 i, __u64 off, __u64 ptr)
{
    __u32 cap, m;
    int c2;

    if (!t || i >= BT_SLOTS || off >= BT_SLOT - 1)
        return 0x40000 | 0x10000;
    cap = BT_SLOT - 1 - (__u32)off;
    if (cap > STRV_STR)
        cap = STRV_STR;
    m = read_str(t->rec.slot[i] + off, cap, ptr, &c2);
    return (int)(m | (c2 > 0 ? 0x10000 : 0) | (c2 < 0 ? 0x20000 : 0) | (cap < STRV_STR ? 0x40000 : 0));
}

/* cp: the struct bt_copy's 8 bytes (a BPF call takes 5 arguments).
   Returns 1 when a read failed: a page of the guest's not present (a
   string in a binary's .rodata the task never touched) cannot be faulted
   in here, where process_vm_readv would have; the entry's copy is then
   taken again at the call's exit, when the kernel has read the memory */
__noinline int copy_one(struct bt_task *t, __u64 i, __u64 cp, __u64 at_exit)
{
    __u32 arg = cp & 0xff, how = (cp >> 8) & 0xff, lenarg = (cp >> 16) & 0xff, lenmul = (cp >> 24) & 0xff;
    __u32 size = (cp >> 32) & 0xffff;
    struct bt_rec *r = &t->rec;
    __u64 addr;
    __u32 n = 0;
    int cut = 0, failed = 0;
    char *dst;

    if (!t || i >= BT_SLOTS || arg >= 6)
        return 0;
    addr = r->args[arg];
    dst = r->slot[i];
    if (addr == 0)
        return 0;
    if (how == COPY_INT_INOUT) {     /* trace.c copy_arg's: after, then before */
        if (!at_exit) {
            if (bpf_probe_read_user(dst, 4, (const void *)addr) != 0)
                return 1;
            n = 4;
        } else {
            if (r->ret < 0 || bpf_probe_read_user(dst + 4, 4, (const void *)addr) != 0)
                return 0;
            if (r->slot_arg[i] == arg && r->slot_len[i] == 4) {
                __u32 before = *(__u32 *)dst;
                *(__u32 *)dst = *(__u32 *)(dst + 4);
                *(__u32 *)(dst + 4) = before;
                n = 8;
            } else {
                *(__u32 *)dst = *(__u32 *)(dst + 4);
                n = 4;
            }
        }
    } else if (how == COPY_PAIR) {   /* trace.c copy_arg's: at entry, and after it at exit on success */
        if (size > BT_SLOT / 2)
            return 0;
        if (!at_exit) {
            if (bpf_probe_read_user(dst, size, (const void *)addr) != 0)
                return 0;        /* not taken again at the exit: that would be the value after */
            n = size;
        } else {
            if (r->ret < 0 || r->slot_arg[i] != arg || r->slot_len[i] != size ||
                bpf_probe_read_user(dst + size, size, (const void *)addr) != 0)
                return 0;
            n = 2 * size;
        }
    } else if (how == COPY_OUT_RESTART) {   /* at the exit of a call a signal interrupted */
        __s64 ret = r->ret;
        if (!at_exit || !(ret == -512 || ret == -513 || ret == -514 || ret == -516) || size == 0)
            return 0;
        if (size > BT_SLOT)
            size = BT_SLOT;
        if (bpf_probe_read_user(dst, size, (const void *)addr) != 0)
            return 0;
        n = size;
    } else if (how == COPY_STR && !at_exit) {
        n = read_str(dst, BT_SLOT, addr, &cut);
        if (cut < 0) {
            cut = 0;
            failed = 1;
        }
    } else if (how == COPY_STRV && !at_exit) {
        __u64 ptrs[16];
        __u32 k, room = BT_SLOT, got = 16, off;
        if (bpf_probe_read_user(ptrs, sizeof ptrs, (const void *)addr) != 0)
            return 1;
        for (k = 0; k < 16; k++) {
            __u32 m;
            int rc;
            if (ptrs[k] == 0) {
                got = k;
                break;
            }
            if (room <= 1 || n >= BT_SLOT) {
                cut = 1;
                got = k;
                break;
            }
            off = n;
            rc = strv_one(t, i, off, ptrs[k]);
            m = (__u32)rc & 0xffff;
            if (rc & 0x20000)
                failed = 1;      /* as trace.c's peek_str: nothing of it, the next one follows */
            if ((rc & 0x10000) && (rc & 0x40000)) {   /* no room for the rest of the array: this string neither */
                cut = 1;
                got = k;
                break;
            }
            n += m + 1;
            room -= m + 1;
        }
        if (got == 16)
            cut = 1;
        if (n > BT_SLOT)
            n = BT_SLOT;
    } else if ((how == COPY_IN && !at_exit) || (how == COPY_OUT && at_exit) || how == COPY_REFRESH ||
               (how == COPY_SIGFRAME && !at_exit)) {
        __u64 want = size;
        if ((how == COPY_OUT || how == COPY_REFRESH) && at_exit && r->ret < 0)
            return 0;        /* a failed call's: the entry's stays (REFRESH) */
        if (lenarg < 6) {
            __u64 len = r->args[lenarg];
            if (lenmul)
                len = len >> 32 ? ~0ull : len * lenmul;   /* no overflow; only its order with want counts */
            if (len < want)
                want = len;
            else if (len > want)
                cut = 1;
        } else if (lenarg == COPY_LEN_RET) {
            if ((__u64)r->ret < want)
                want = (__u64)r->ret;
            else if ((__u64)r->ret > want)
                cut = 1;
        }
        if (want > BT_SLOT)
            want = BT_SLOT;
        if (want == 0)
            return 0;
        if (bpf_probe_read_user(dst, (__u32)want, (const void *)addr) != 0)
            return !at_exit && (how == COPY_IN || how == COPY_REFRESH);
        n = (__u32)want;
    } else {
        return 0;
    }
    r->slot_arg[i] = (__u8)arg;
    r->slot_len[i] = (__u16)n;
    if (cut)
        r->slot_trunc |= (__u8)(1u << i);
    return failed;
}

/* one entry k of an iovec array at addr (copy_iov): stored at the record's
   slot_len[0] (the packing's end so far), its buffer's first bytes after
   it, as many as the bytes left of the total (in the spill) allow, at most
   IOV_SHOW.  Returns 0 (stored), 1 (no room: the array is cut), 2 (the
   entry could not be read).  A function of its own, verified once for any
   k: the loop that calls it stays a few instructions a pass */
__noinline int copy_iov_one(struct bt_task *t, __u64 k, __u64 addr, __u64 hdr)
{
    volatile __u64 *left;
    volatile __u16 *at;
    __u64 e[2], o, d, l;
    char *base;

    if (!t || hdr > IOV_ROOM - 8)
        return 2;
    base = (char *)t->rec.slot;
    at = (volatile __u16 *)&t->rec.slot_len[0];
    left = (volatile __u64 *)(t->spill + BT_SPILL - 8);
    o = *at;
    if (o > IOV_ROOM - 16)
        return 1;
    if (bpf_probe_read_user(e, sizeof e, (const void *)(addr + 16 * k)) != 0)
        return 2;
    l = *left;
    d = e[1] < l ? e[1] : l;
    *left = l - d;
    if (d > IOV_SHOW)
        d = IOV_SHOW;
    if (o + 16 + d > IOV_ROOM)
        return 1;
    *(__u64 *)(base + o) = e[0];
    *(__u64 *)(base + o + 8) = e[1];
    /* a NULL base's read fails too: decoded as NULL whatever its bit */
    if (bpf_probe_read_user(base + o + 16, (__u32)d, (const void *)e[0]) != 0)
        *(__u32 *)(base + hdr + 4) |= 1u << (k & 31);
    *at = (__u16)(o + 16 + d);
    return 0;
}

/* COPY_IOV_IN at entry, COPY_IOV_OUT at the exit: trace.c copy_iov's
   packing of a struct iovec array and each buffer's first bytes, from slot
   0 on (the only copy of its calls; bt_task.spill covers an access the
   verifier cannot place, and its last 8 bytes hold the bytes left of the
   total).  A failed buffer or array read at entry returns 1 (taken again
   at the exit, as copy_one's) */
__noinline int copy_iov(struct bt_task *t, __u64 cp, __u64 at_exit, __u64 i)
{
    __u32 arg = cp & 0xff, how = (cp >> 8) & 0xff, lenarg = (cp >> 16) & 0xff;
    __u32 k, n = 0;
    __u64 addr, cnt, off, hdr;
    struct bt_rec *r;
    char *base;
    int cut = 0, fault = 0, rc;
    __u16 saved;

    if (!t || arg >= 6 || lenarg >= 6 || i >= BT_SLOTS)
        return 0;
    if (!((how == COPY_IOV_IN && !at_exit) || (how == COPY_IOV_OUT && at_exit)))
        return 0;
    r = &t->rec;
    addr = r->args[arg];
    cnt = r->args[lenarg];
    if (addr == 0)
        return 0;
    base = (char *)r->slot;
    hdr = i * BT_SLOT;           /* the packing's start: slot i (its end: the last slot's) */
    saved = r->slot_len[0];      /* slot 0's own copy's when it starts later (process_vm's remote array) */
    r->slot_len[0] = (__u16)(hdr + 8);   /* copy_iov_one's position, from slot 0 */
    *(volatile __u64 *)(t->spill + BT_SPILL - 8) = how == COPY_IOV_IN ? ~0ull : r->ret < 0 ? 0 : (__u64)r->ret;
    *(__u32 *)(base + hdr + 4) = 0;
    for (k = 0; k < IOV_MAX; k++) {
        if (k >= cnt)
            break;
        rc = copy_iov_one(t, k, addr, hdr);
        if (rc) {
            cut = rc == 1;
            fault = rc == 2;
            break;
        }
        n = k + 1;
    }
    off = r->slot_len[0] - hdr;
    r->slot_len[0] = i ? saved : 0;
    if (n == 0)
        return how == COPY_IOV_IN && fault;
    *(__u32 *)(base + hdr) = n;
    r->slot_arg[i] = (__u8)arg;
    r->slot_len[i] = (__u16)off;
    if (cut)
        r->slot_trunc |= (__u8)(1u << i);
    if (i < 1 && off > BT_SLOT)
        r->slot_arg[1] = SLOT_MORE;
    if (i < 2 && off > (2 - i) * BT_SLOT)
        r->slot_arg[2] = SLOT_MORE;
    return how == COPY_IOV_IN && (fault || *(__u32 *)(base + hdr + 4));
}

/* a part of copy_select's packing: size bytes at addr to the record's
   slot area at off (its spill covers the verifier's view of off + size).
   Returns 1 when read */
__noinline int copy_select_part(struct bt_task *t, __u64 off, __u64 size, __u64 addr)
{
    if (!t || off > BT_SLOTS * BT_SLOT || size == 0 || size > BT_SLOT)
        return 0;
    return bpf_probe_read_user((char *)t->rec.slot + off, (__u32)size, (const void *)addr) == 0;
}

/* COPY_SELECT: trace.c copy_select's packing of select's and pselect6's
   arguments (decode.select_packed): at entry the header, timeout, argpack
   and sigset and the sets given; at an exit that returned > 0 the sets and
   the timeout again.  Nothing is taken again at the exit */
__noinline int copy_select(struct bt_task *t, __u64 cp, __u64 at_exit)
{
    __u32 lenarg = (cp >> 16) & 0xff, flags = 0;
    __u64 per, fdsize, n, j = 0, k, phase = at_exit ? 1 : 0, len;
    __s64 nfds;
    struct bt_rec *r;
    char *base;

    if (!t)
        return 0;
    r = &t->rec;
    if (at_exit && (r->ret <= 0 || r->slot_arg[0] != 0))
        return 0;
    nfds = (__s32)r->args[0];
    if (nfds < 0)
        nfds = 0;
    if (nfds > (1 << 20))
        nfds = 1 << 20;
    fdsize = (((__u64)nfds + 7) / 8 + 7) & ~7ull;
    n = (r->args[1] != 0) + (r->args[2] != 0) + (r->args[3] != 0);
    per = n == 1 ? 256 : n == 2 ? 176 : n == 3 ? 112 : 0;   /* decode.SELECT_PER */
    if (fdsize < per)
        per = fdsize;
    base = (char *)r->slot;
    if (at_exit)
        flags = *(__u32 *)base | (1u << 10);
    else
        __builtin_memset(base, 0, SELECT_HEAD);
    for (k = 0; k < 3; k++) {
        __u64 addr = r->args[1 + k];
        if (!addr)
            continue;
        if (copy_select_part(t, SELECT_HEAD + (phase * n + j) * per, per, addr))
            flags |= 1u << (3 * phase + k);
        j++;
    }
    if (r->args[4] && copy_select_part(t, 8 + 16 * phase, 16, r->args[4]))
        flags |= phase ? 1u << 7 : 1u << 6;
    if (!at_exit && lenarg < 6 && r->args[lenarg] && copy_select_part(t, 40, 16, r->args[lenarg])) {
        __u64 p = *(__u64 *)(base + 40), sz = *(__u64 *)(base + 48);
        flags |= 1u << 8;
        if (p && sz == 8 && copy_select_part(t, 56, 8, p))
            flags |= 1u << 9;
    }
    *(__u32 *)base = flags;
    *(__u32 *)(base + 4) = (__u32)per;
    if (at_exit)
        return 0;
    len = SELECT_HEAD + 2 * n * per;
    r->slot_arg[0] = 0;
    r->slot_len[0] = (__u16)len;
    if (len > BT_SLOT)
        r->slot_arg[1] = SLOT_MORE;
    if (len > 2 * BT_SLOT)
        r->slot_arg[2] = SLOT_MORE;
    return 0;
}

/* trace.c pack_msghdr: a msghdr at addr packed at offset `at` of the
   slots (its iovec entries by copy_iov_one, bt_rec.slot_len[0] their end
   so far).  entry_in: msg_namelen at entry, ~0: the struct's; left: the
   bytes its buffers hold in all.  Returns the packing's length, with bit
   16 set when the iovec array was cut and bit 17 when a read of its name,
   control or buffers failed; 0 when the struct cannot be read, -1 when
   its head, name and control do not fit */
__noinline int pack_msghdr(struct bt_task *t, __u64 addr, __u64 entry_in, __u64 left, __u64 at)
{
    volatile __u32 *got;
    volatile __u64 *mid;
    __u64 m[7], want, cw, off, hdr;
    __u32 entry, k;
    __s32 namelen, nlen;
    __u16 n16 = 0, c16 = 0;
    __u8 bits = MSGF_ENTRY;
    struct bt_rec *r;
    char *base;
    int rc;

    if (!t)
        return 0;
    r = &t->rec;
    /* what the verifier would carry across the iovec loop as registers,
       one state per path taken before it, lives in the spill's tail
       instead: the iovec head's offset, entries stored, cut and fault */
    mid = (volatile __u64 *)(t->spill + BT_SPILL - 24);
    got = (volatile __u32 *)(t->spill + BT_SPILL - 16);
    got[0] = 0;
    got[1] = 0;
    asm volatile("" : "+r"(at));
    if (at > IOV_ROOM - 80)
        return -1;
    base = (char *)r->slot + at;
    if (bpf_probe_read_user(m, sizeof m, (const void *)addr) != 0)
        return 0;
    entry = entry_in == ~0ull ? (__u32)m[1] : (__u32)entry_in;
    namelen = (__s32)(__u32)m[1];
    nlen = entry_in != ~0ull && namelen > (__s32)entry ? (__s32)entry : namelen;
    want = m[0] && nlen >= 2 ? (nlen > MSGHDR_NAME ? MSGHDR_NAME : (__u64)nlen) : 0;
    cw = m[5] >= 16 ? (m[5] > MSGHDR_CONTROL ? MSGHDR_CONTROL : m[5]) : 0;
    if (at + MSGHDR_HEAD + 56 + want + cw + 8 > IOV_ROOM)
        return -1;
    *(__u32 *)base = entry;
    __builtin_memcpy(base + MSGHDR_HEAD, m, sizeof m);
    asm volatile("" : "+r"(want));
    if (want > MSGHDR_NAME)
        return 0;
    if (want) {
        if (bpf_probe_read_user(base + MSGHDR_HEAD + 56, (__u32)want, (const void *)m[0]) == 0) {
            n16 = (__u16)want;
        } else {
            bits |= MSGF_NAME_BAD;
            got[1] = 2;
        }
    }
    off = MSGHDR_HEAD + 56 + n16;
    asm volatile("" : "+r"(off));
    if (off > MSGHDR_HEAD + 56 + MSGHDR_NAME)
        return 0;
    if (m[5] >= 16) {
        if (m[5] > cw)
            bits |= MSGF_CONTROL_CUT;
        asm volatile("" : "+r"(cw));
        if (cw > MSGHDR_CONTROL)
            return 0;
        if (m[4] && bpf_probe_read_user(base + off, (__u32)cw, (const void *)m[4]) == 0) {
            c16 = (__u16)cw;
        } else {
            bits |= MSGF_CONTROL_BAD;
            got[1] = 2;
        }
    }
    off += c16;
    asm volatile("" : "+r"(off));
    if (off > MSGHDR_HEAD + 56 + MSGHDR_NAME + MSGHDR_CONTROL)
        return 0;
    *(__u16 *)(base + 4) = n16;
    *(__u16 *)(base + 6) = c16;
    *(__u64 *)(base + 8) = bits;
    *(__u64 *)(base + off) = 0;  /* no entries, unless the array is read */
    *mid = at + off;
    r->slot_len[0] = (__u16)(at + off + 8);
    hdr = *mid;                  /* one state from here on, whatever the paths above */
    if (hdr > IOV_ROOM - 8)
        return 0;
    if (m[2] && m[3] && !(m[3] >> 60) && m[2] + m[3] * 16 > m[2]) {
        *(volatile __u64 *)(t->spill + BT_SPILL - 8) = left;
        for (k = 0; k < IOV_MAX; k++) {
            if (k >= m[3])
                break;
            rc = copy_iov_one(t, k, m[2], hdr);
            if (rc) {
                if (rc == 1)
                    got[1] |= 1;
                else if (k == 0)
                    got[1] |= 2;
                break;
            }
            got[0] = k + 1;
        }
        if (got[0])
            *(__u32 *)((char *)r->slot + hdr) = got[0];
        if (*(__u32 *)((char *)r->slot + hdr + 4))
            got[1] |= 2;
    }
    off = r->slot_len[0];
    if (off < at)
        return 0;
    return (int)((off - at) & 0xffff) | (got[1] & 3) << 16;
}

/* COPY_MSGHDR: trace.c copy_msghdr's packing of a struct msghdr, from slot
   0 on (pack_msghdr).  lenarg COPY_LEN_RET (recvmsg): at entry msg_namelen
   into the head, the rest at the exit.  A failed read at entry of
   sendmsg's returns 1 (taken again at the exit) */
__noinline int copy_msghdr(struct bt_task *t, __u64 cp, __u64 at_exit)
{
    __u32 arg = cp & 0xff, lenarg = (cp >> 16) & 0xff;
    __u64 addr, m[2], off;
    struct bt_rec *r;
    char *base;
    int out, rc;

    if (!t || arg >= 6)
        return 0;
    r = &t->rec;
    addr = r->args[arg];
    out = lenarg == COPY_LEN_RET;
    base = (char *)r->slot;
    if (addr == 0 || (!out && at_exit))
        return 0;
    if (out && !at_exit) {
        __builtin_memset(base, 0, MSGHDR_HEAD);
        if (bpf_probe_read_user(m, sizeof m, (const void *)addr) == 0) {
            *(__u32 *)base = (__u32)m[1];
            base[8] = MSGF_ENTRY;
        }
        return 0;
    }
    if (out && !(base[8] & MSGF_ENTRY))
        return 0;                /* strace printed the address at entry */
    if (out && r->ret < 0) {
        r->slot_len[0] = MSGHDR_HEAD;
        r->slot_arg[0] = (__u8)arg;
        return 0;
    }
    rc = pack_msghdr(t, addr, out ? *(__u32 *)base : ~0ull, out ? (__u64)r->ret : ~0ull, 0);
    if (rc <= 0) {
        r->slot_len[0] = 0;
        return !out;
    }
    off = rc & 0xffff;
    r->slot_len[0] = (__u16)off;
    r->slot_arg[0] = (__u8)arg;
    if (rc >> 16 & 1)
        r->slot_trunc |= 1;
    if (off > BT_SLOT)
        r->slot_arg[1] = SLOT_MORE;
    if (off > 2 * BT_SLOT)
        r->slot_arg[2] = SLOT_MORE;
    return !out && (rc >> 17 & 1);
}

/* the words of copy_mmsghdr in the spill's tail (below pack_msghdr's):
   the packing's end so far, entries packed, MMSGF_* bits, recvmmsg's
   namelens at entry kept, then those namelens */
#define MMSG_ACC (BT_SPILL - 40)
#define MMSG_NAMES (BT_SPILL - 72)

/* entry k of an mmsghdr array at addr (copy_mmsghdr): its msg_len and its
   msghdr packed at the end so far.  Returns 0 (stored), else the MMSGF_*
   bit that ends the packing.  A function of its own, verified once for
   any k: the loop that calls it stays a few instructions a pass */
__noinline int copy_mmsg_one(struct bt_task *t, __u64 k, __u64 addr, __u64 recv)
{
    volatile __u32 *acc;
    __u64 off, entry = ~0ull;
    __u32 msg_len;
    char *base;
    int rc;

    if (!t)
        return MMSGF_FAULT;
    acc = (volatile __u32 *)(t->spill + MMSG_ACC);
    off = acc[0];
    if (k >= MMSG_MAX || off > IOV_ROOM - 8)
        return MMSGF_CUT;
    if (bpf_probe_read_user(&msg_len, 4, (const void *)(addr + 64 * k + 56)) != 0)
        return MMSGF_FAULT;
    if (recv && k < acc[3])
        entry = *(__u32 *)(t->spill + MMSG_NAMES + 4 * (k & (MMSG_MAX - 1)));
    rc = pack_msghdr(t, addr + 64 * k, entry, recv ? msg_len : ~0ull, off + 8);
    if (rc <= 0)
        return rc < 0 ? MMSGF_CUT : MMSGF_FAULT;
    off = acc[0];
    if (off > IOV_ROOM - 24)
        return MMSGF_CUT;
    base = (char *)t->rec.slot + off;
    if (rc >> 16 & 1)
        base[16] |= MSGF_IOV_CUT;
    *(__u32 *)base = msg_len;
    *(__u32 *)(base + 4) = rc & 0xffff;
    acc[0] = (__u32)(off + 8 + (rc & 0xffff));
    acc[1] = (__u32)k + 1;
    return 0;
}

/* COPY_MMSGHDR: trace.c copy_mmsghdr's packing of a struct mmsghdr array
   at the exit, each entry by copy_mmsg_one; lenmul 1 (recvmmsg): the
   namelens at entry kept in the slot until then */
__noinline int copy_mmsghdr(struct bt_task *t, __u64 cp, __u64 at_exit)
{
    __u32 arg = cp & 0xff, lenarg = (cp >> 16) & 0xff, lenmul = (cp >> 24) & 0xff, recv = lenmul != 0;
    __u32 nnames = 0, k, tsbits = 0, ts = lenmul - 1;
    volatile __u32 *acc;
    __u64 addr, count, off;
    struct bt_rec *r;
    char *base;
    int rc;

    if (!t || arg >= 6 || lenarg >= 6)
        return 0;
    r = &t->rec;
    addr = r->args[arg];
    base = (char *)r->slot;
    if (addr == 0)
        return 0;
    if (!at_exit) {
        if (!recv)
            return 0;
        count = (__u32)r->args[lenarg];
        for (k = 0; k < MMSG_MAX; k++) {
            if (k >= count || bpf_probe_read_user(base + 4 + 4 * k, 4, (const void *)(addr + 64 * k + 8)) != 0)
                break;
            nnames = k + 1;
        }
        *(__u32 *)base = nnames;
        if (ts < 6 && r->args[ts & 7] && bpf_probe_read_user(base + 40, 16, (const void *)r->args[ts & 7]) == 0)
            tsbits = MMSGT_ENTRY;
        *(__u32 *)(base + 36) = tsbits;
        return 0;
    }
    acc = (volatile __u32 *)(t->spill + MMSG_ACC);
    acc[0] = 8;
    acc[1] = 0;
    acc[2] = 0;
    acc[3] = 0;
    if (recv) {
        char tsb[MMSG_TS];
        count = r->ret < 0 ? 0 : (__u64)r->ret;
        nnames = *(__u32 *)base;
        acc[3] = nnames > MMSG_MAX ? 0 : nnames;
        __builtin_memcpy(t->spill + MMSG_NAMES, base + 4, 4 * MMSG_MAX);
        __builtin_memset(tsb, 0, sizeof tsb);
        tsbits = *(__u32 *)(base + 36) & MMSGT_ENTRY;
        __builtin_memcpy(tsb + 8, base + 40, 16);
        if (tsbits && ts < 6 && bpf_probe_read_user(tsb + 24, 16, (const void *)r->args[ts & 7]) == 0)
            tsbits |= MMSGT_EXIT;
        *(__u32 *)tsb = tsbits;
        __builtin_memcpy(base + 8, tsb, sizeof tsb);
        acc[0] = 8 + MMSG_TS;
        acc[2] = MMSGF_ENTRY;
    } else {
        count = (__u32)r->args[lenarg];
    }
    for (k = 0; k < MMSG_MAX + 1; k++) {
        if (k >= count)
            break;
        rc = copy_mmsg_one(t, k, addr, recv);
        if (rc) {
            acc[2] |= rc;
            break;
        }
    }
    off = acc[0];
    if (off > IOV_ROOM)
        return 0;
    *(__u32 *)base = acc[1];
    *(__u32 *)(base + 4) = acc[2];
    r->slot_len[0] = (__u16)off;
    r->slot_arg[0] = (__u8)arg;
    if (off > BT_SLOT)
        r->slot_arg[1] = SLOT_MORE;
    if (off > 2 * BT_SLOT)
        r->slot_arg[2] = SLOT_MORE;
    return 0;
}

/* DIRENT_STEP records of a getdents64 result at addr, walked as trace.c
   copy_dirents (strace's decode_dents); the walk's state in slot 0: u32
   records, u32 bytes left, u32 the next record's offset.  Returns 1 when
   the walk ended (nothing left, or a header not readable).  A function of
   its own, verified once: the loop that calls it stays small */
__noinline int dirents_some(struct bt_task *t, __u64 addr)
{
    volatile __u32 *st;
    unsigned char h[DIRENT_HEAD];
    __u32 k, left, off, reclen;

    if (!t)
        return 1;
    st = (volatile __u32 *)t->rec.slot[0];
    for (k = 0; k < DIRENT_STEP; k++) {
        left = st[1];
        off = st[2];
        if (left < DIRENT_HEAD)
            return 1;
        if (bpf_probe_read_user(h, sizeof h, (const void *)(addr + off)) != 0)
            return 1;
        st[0] = st[0] + 1;
        reclen = (__u32)h[16] | (__u32)h[17] << 8;
        reclen = reclen > left ? left : reclen < DIRENT_HEAD ? DIRENT_HEAD : reclen;
        st[1] = left - reclen;
        st[2] = off + reclen;
    }
    return 0;
}

/* COPY_DIRENTS at the exit, on success: getdents64's records counted over
   the whole result, into slot 0 (u32 records, u32 bytes not walked; a
   result past DIRENT_CALLS * DIRENT_STEP records counts as cut there) */
static __always_inline void copy_dirents(struct bt_task *t, __u64 cp)
{
    __u32 arg = cp & 0xff, lenarg = (cp >> 16) & 0xff, k;
    struct bt_rec *r = &t->rec;
    volatile __u32 *st = (volatile __u32 *)r->slot[0];

    if (arg >= 6 || lenarg >= 6 || r->ret < 0 || (__u64)r->ret > r->args[lenarg])
        return;
    st[0] = 0;
    st[1] = (__u32)r->ret;
    st[2] = 0;
    for (k = 0; k < DIRENT_CALLS; k++)
        if (dirents_some(t, r->args[arg]))
            break;
    st[2] = 0;
    r->slot_arg[0] = (__u8)arg;
    r->slot_len[0] = 8;
}

/* the copies of spec s.  At entry (at_exit 0): every slot.  At the exit:
   the slots in `again` (their entry copy faulted) are taken again as at
   entry, then the OUT ones.  One copy_one call per slot (the verifier walks
   a static function at each call, STRV's loop with it): the slots whose
   read failed */
static __always_inline __u32 copy_all(struct bt_task *t, const struct bt_spec *s, int at_exit, __u32 again)
{
    __u32 i, nc = s->ncopy, failed = 0;

    for (i = 0; i < BT_SLOTS; i++) {
        const struct bt_copy *c = &s->copy[i];
        int exit_copy = at_exit;
        if (i >= nc)
            break;
        if (at_exit) {
            if (again & (1u << i)) {
                t->rec.slot_arg[i] = SLOT_NONE;
                t->rec.slot_len[i] = 0;
                t->rec.slot_trunc &= (__u8)~(1u << i);
                exit_copy = 0;
            } else if (c->how != COPY_OUT && c->how != COPY_IOV_OUT && c->how != COPY_INT_INOUT &&
                       c->how != COPY_SELECT && c->how != COPY_PAIR && c->how != COPY_REFRESH &&
                       c->how != COPY_MMSGHDR && !(c->how == COPY_MSGHDR && c->lenarg == COPY_LEN_RET) &&
                       c->how != COPY_DIRENTS) {
                continue;
            }
        }
        if (c->how == COPY_DIRENTS) {
            if (i == 0 && exit_copy)
                copy_dirents(t, *(const __u64 *)c);
            break;               /* the only copy of its call, in slot 0 */
        }
        if (c->how == COPY_MMSGHDR) {
            if (i == 0)
                copy_mmsghdr(t, *(const __u64 *)c, exit_copy);
            break;
        }
        if (c->how == COPY_MSGHDR) {
            if (i == 0 && copy_msghdr(t, *(const __u64 *)c, exit_copy))
                failed |= 1u << i;
            break;               /* the only copy of its call, as an iovec copy */
        }
        if (c->how == COPY_SELECT) {
            if (i == 0)
                copy_select(t, *(const __u64 *)c, exit_copy);
            break;               /* the only copy of its call: its bytes run on into slots 1 and 2 */
        }
        if (c->how == COPY_IOV_IN || c->how == COPY_IOV_OUT) {
            if (copy_iov(t, *(const __u64 *)c, exit_copy, i))
                failed |= 1u << i;
            break;               /* its call's last copy: its bytes run on into the slots after it */
        }
        if (copy_one(t, i, *(const __u64 *)c, exit_copy))
            failed |= 1u << i;
    }
    return failed;
}

/* nr is the kernel's (do_syscall_64's int nr, seccomp_data.nr): orig_ax's
   low 32 bits, as strace takes it too (0x1000001f4 is 500, 0x100000027
   getpid) */
static __always_inline const struct bt_spec *spec_of(__s32 nr)
{
    __u32 k = (__u32)nr;
    if (k >= X32_SYSCALL_BIT && nr != -1)
        return NULL;             /* x32's (and negative ones but -1): the filter kills them (a bad architecture) */
    /* a number outside the table (-1, or past it): the spec of BT_NR_PAST,
       a number no table names (an answer: the filter's ENOSYS, shown while
       unnamed numbers are traced; no spec, mode 0, otherwise) */
    if (nr < 0 || nr >= BT_NR_MAX)
        k = BT_NR_PAST;
    return bpf_map_lookup_elem(&specs, &k);
}

/* a signal generated for t that ptrace would have stopped it for (see
   bt_generate), shown now */
static __always_inline void deferred(struct bt_task *t, __u32 tid, __u32 sk)
{
    struct bt_task *a;

    if (!t->dsig)
        return;
    a = scratch_task(sk);
    if (a) {
        a->zpid = t->zpid;
        a->ztid = t->ztid;
        rec_init(&a->rec, REC_SIGNAL, a, tid);
        a->rec.nr = t->dsig;
        a->rec.code = t->dcode;
        a->rec.args[0] = t->dargs[0];
        a->rec.args[1] = t->dargs[1];
        a->rec.args[2] = t->dargs[2];
        a->rec.pad = (__u16)(t->dhostuid & D_HOSTUID);
        if (t->dhostuid & D_SIGINFO) {
            __builtin_memcpy(a->rec.slot[0], t->spill, SIGINFO_COPY);
            a->rec.slot_arg[0] = 0;
            a->rec.slot_len[0] = SIGINFO_COPY;
        }
        a->rec.t_entry = a->rec.t_exit = bpf_ktime_get_ns();
        output(&a->rec);
    }
    t->dsig = 0;
    t->dwhen = 0;
}

/* a call that returned -ERESTART*, now settled by the task's next event */
static __always_inline void settle(struct bt_task *t, __u32 tid, __u32 sk)
{
    if (t->state == BT_RESTART) {
        output(&t->rec);
        if (t->dwhen == BT_D_AFTER_CALL)
            deferred(t, tid, sk);
    }
    t->state = BT_IDLE;
}

/* the current task returns from its call with a SIGKILL pending (a
   kill(2) of SIGKILL, another thread's exit_group or execve): ptrace_stop
   makes no syscall-exit stop then (__fatal_signal_pending), so the ptrace
   tracer and strace show the call as "= ?" at the task's death; the call
   is left pending for sched_process_exit to show so.  A fatal signal the
   kernel made a group SIGKILL only because no tracer holds the task (see
   bt_generate) would have let ptrace see the exit: that one keeps it */
static __always_inline int killed_now(void)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct signal_struct *sig;
    unsigned long pend = BPF_CORE_READ(task, pending.signal.sig[0]);
    int code;

    if (!(pend & (1ul << (SIGKILL - 1))))
        return 0;
    sig = BPF_CORE_READ(task, signal);
    code = BPF_CORE_READ(sig, group_exit_code) & 0x7f;
    if ((BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT) && code && code != SIGKILL)
        return 0;
    return 1;
}

static __always_inline int restarting(__s64 ret)
{
    return ret == -512 || ret == -513 || ret == -514 || ret == -516;
}

SEC("raw_tracepoint/sys_enter")
int bt_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, tgid = (__u32)(id >> 32);
    __s32 nr = (__s32)ctx->args[1];      /* the kernel's int nr (spec_of) */
    const struct bt_spec *s;
    struct bt_task *t;
    struct bt_rec *r;
    unsigned long regs[NREGS];

    if (!bt_in_zone(&traced, tgid))
        return 0;
    s = spec_of(nr);
    t = task_of(tid, s && s->mode == MODE_RECORD, SK_ENTER);
    if (!t) {
        if (s && s->mode == MODE_RECORD)
            count_lost();        /* no room for the task in `tasks`: its call is not recorded */
        return 0;
    }
    t->stopshown = 0;
    if (t->state == BT_RESTART)
        settle(t, tid, SK_ENTER);
    if (!s || s->mode != MODE_RECORD) {
        t->state = BT_IDLE;
        return 0;
    }
    zone_ids(t);
    r = &t->rec;
    rec_init(r, REC_SYSCALL, t, tid);
    r->nr = nr;
    if (bpf_probe_read_kernel(regs, sizeof regs, (void *)ctx->args[0]) != 0)
        __builtin_memset(regs, 0, sizeof regs);
    r->args[0] = regs[REG_DI];
    r->args[1] = regs[REG_SI];
    r->args[2] = regs[REG_DX];
    r->args[3] = regs[REG_R10];
    r->args[4] = regs[REG_R8];
    r->args[5] = regs[REG_R9];
    if (s->ncopy && s->copy[0].how == COPY_SIGFRAME && s->copy[0].arg < 6)   /* rt_sigreturn's frame mask */
        r->args[s->copy[0].arg] = regs[REG_SP] + SIGFRAME_MASK;
    r->t_entry = bpf_ktime_get_ns();
    t->retry = copy_all(t, s, 0, 0);
    t->state = BT_PENDING;
    if (nr == NR_EXECVE || nr == NR_EXECVEAT)
        bpf_map_update_elem(&execs, &tgid, &tid, BPF_ANY);
    return 0;
}

/* a finished call: its result, what the kernel wrote, to the ring */
static __always_inline void finish(struct bt_task *t, const struct bt_spec *s, __s64 ret, __u32 sk)
{
    t->rec.ret = ret;
    t->rec.t_exit = bpf_ktime_get_ns();
    /* what the kernel wrote; an entry copy that faulted, again (not after
       an execve that succeeded: the memory is the new program's) */
    if (s)
        copy_all(t, s, 1, ((t->rec.nr == NR_EXECVE || t->rec.nr == NR_EXECVEAT) && ret == 0) ? 0 : t->retry);
    t->retry = 0;
    output(&t->rec);
    t->state = BT_IDLE;
    if (t->dwhen == BT_D_AFTER_CALL)
        deferred(t, (__u32)t->rec.host_tid, sk);
}

SEC("raw_tracepoint/sys_exit")
int bt_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, tgid = (__u32)(id >> 32);
    __s64 ret = (__s64)ctx->args[1];
    __s32 nr;
    unsigned long regs[16];
    const struct bt_spec *s;
    struct bt_task *t, *f;
    __u32 old = 0;

    if (!bt_in_zone(&traced, tgid))
        return 0;
    if (bpf_probe_read_kernel(regs, sizeof regs, (void *)ctx->args[0]) != 0)
        return 0;
    nr = (__s32)regs[15];        /* orig_ax, as the kernel's int nr (spec_of) */
    t = bpf_map_lookup_elem(&tasks, &tid);
    if (t && t->state == BT_RESTART)
        settle(t, tid, SK_EXIT);
    if (t && t->state == BT_PENDING &&
        (t->rec.nr == nr || (nr == -1 && t->rec.nr == NR_RT_SIGRETURN))) {
        if (killed_now())
            return 0;            /* = ?, at sched_process_exit */
        if (restarting(ret)) {
            const struct bt_spec *rs = spec_of(t->rec.nr);
            __u32 i;
            t->rec.ret = ret;
            t->rec.t_exit = bpf_ktime_get_ns();
            t->state = BT_RESTART;
            /* what a call writes when a signal interrupts it (nanosleep's rem) */
            for (i = 0; rs && i < BT_SLOTS && i < rs->ncopy; i++)
                if (rs->copy[i].how == COPY_OUT_RESTART)
                    copy_one(t, i, *(const __u64 *)&rs->copy[i], 1);
            return 0;
        }
        f = t;
        goto done;
    }
    if (t)
        t->state = BT_IDLE;      /* its exit was not this one */
    s = spec_of(nr);
    if (!s || s->mode == 0)
        return 0;
    if (s->mode == MODE_ANSWER) {
        /* seccomp answered it: no sys_enter; the registers are the call's */
        struct bt_task *a = scratch_task(SK_EXIT);
        struct bt_task *own = task_of(tid, 1, SK_EXIT);
        if (!a)
            return 0;
        if (own) {
            zone_ids(own);
            a->zpid = own->zpid;
            a->ztid = own->ztid;
        } else {
            a->ztid = 0;
            zone_ids(a);
        }
        rec_init(&a->rec, REC_SYSCALL, a, tid);
        a->rec.nr = nr;
        a->rec.args[0] = regs[REG_DI];
        a->rec.args[1] = regs[REG_SI];
        a->rec.args[2] = regs[REG_DX];
        a->rec.args[3] = regs[REG_R10];
        a->rec.args[4] = regs[REG_R8];
        a->rec.args[5] = regs[REG_R9];
        a->rec.t_entry = bpf_ktime_get_ns();
        copy_all(a, s, 0, 0);
        a->rec.ret = ret;
        if (s->copy[0].how == COPY_MSGHDR)   /* recvmsg's {msg_namelen=N}, as trace.c */
            copy_msghdr(a, *(const __u64 *)&s->copy[0], 1);
        a->rec.t_exit = a->rec.t_entry;
        a->rec.flags = RECF_ANSWERED;
        output(&a->rec);
        return 0;
    }
    if (nr == NR_EXECVE || nr == NR_EXECVEAT) {
        /* a thread's exec returns in the leader's tid */
        __u32 *was = bpf_map_lookup_elem(&execs, &tgid);
        if (!was)
            return 0;
        old = *was;
        bpf_map_delete_elem(&execs, &tgid);
        f = bpf_map_lookup_elem(&tasks, &old);
        if (f && f->state == BT_PENDING && f->rec.nr == nr)
            goto done;
        bpf_map_delete_elem(&tasks, &old);
    }
    /* else: a new task's return from fork, vfork, clone: its parent's call */
    return 0;
done:
    finish(f, spec_of(f->rec.nr), ret, SK_EXIT);
    if (old)
        bpf_map_delete_elem(&tasks, &old);   /* the exec'd thread's tid is the leader's now */
    return 0;
}

SEC("raw_tracepoint/sched_process_fork")
int bt_fork(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *child = (struct task_struct *)ctx->args[1];
    __u32 ptgid = (__u32)(bpf_get_current_pid_tgid() >> 32), ctgid;
    __u8 one = 1;

    if (!bt_in_zone(&traced, ptgid))
        return 0;
    ctgid = (__u32)BPF_CORE_READ(child, tgid);
    if (ctgid != ptgid && bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY) != 0)
        count_lost();
    return 0;
}

SEC("raw_tracepoint/sched_process_exit")
int bt_exit(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, tgid = (__u32)(id >> 32);
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct signal_struct *sig;
    struct task_struct *exec_task;
    struct bt_task *t, *a;
    int status;

    if (!bt_in_zone(&traced, tgid))
        return 0;
    t = bpf_map_lookup_elem(&tasks, &tid);
    if (t && t->state != BT_IDLE) {
        /* never returned to this task: no result */
        t->rec.flags |= RECF_NORESULT;
        t->rec.t_exit = bpf_ktime_get_ns();
        output(&t->rec);
        t->state = BT_IDLE;
    }
    sig = BPF_CORE_READ(task, signal);
    exec_task = BPF_CORE_READ(sig, group_exec_task);
    a = scratch_task(SK_PEXIT);
    /* the leader that another thread's execve replaces: the ptrace tracer
       sees no death of it (ptrace(2), execve under ptrace) */
    if (a && !(tid == tgid && exec_task && exec_task != task)) {
        if (t) {
            zone_ids(t);
            a->zpid = t->zpid;
            a->ztid = t->ztid;
        } else {
            a->ztid = 0;
            zone_ids(a);
        }
        /* what wait(2) reports: the group's code once it exits as a group */
        status = (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT) ? BPF_CORE_READ(sig, group_exit_code)
                                                                 : BPF_CORE_READ(task, exit_code);
        rec_init(&a->rec, REC_EXIT, a, tid);
        a->rec.ret = status;
        a->rec.t_entry = a->rec.t_exit = bpf_ktime_get_ns();
        output(&a->rec);
    }
    if (!(tid == tgid && exec_task && exec_task != task))
        bpf_map_delete_elem(&tasks, &tid);
    if (BPF_CORE_READ(sig, live.counter) == 0) {
        bpf_map_delete_elem(&traced, &tgid);
        bpf_map_delete_elem(&execs, &tgid);
    }
    return 0;
}

SEC("raw_tracepoint/signal_deliver")
int bt_signal(struct bpf_raw_tracepoint_args *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, tgid = (__u32)(id >> 32);
    int signo = (int)ctx->args[0];
    void *info = (void *)ctx->args[1];
    struct bt_task *t, *a;

    if (!bt_in_zone(&traced, tgid))
        return 0;
    t = bpf_map_lookup_elem(&tasks, &tid);
    /* SIGKILL (and a group's exit) is no signal-delivery stop under ptrace;
       a fatal signal the kernel made a group SIGKILL would have been one */
    if (signo == SIGKILL) {
        if (t && t->dwhen == BT_D_AT_KILL) {
            settle(t, tid, SK_SIGNAL);
            deferred(t, tid, SK_SIGNAL);
        }
        return 0;
    }
    if (t)
        t->stopshown = 0;
    if (t && t->state == BT_RESTART)
        settle(t, tid, SK_SIGNAL);
    /* a signal the kernel forces to end the task (seccomp's kill: its
       action SA_IMMUTABLE) has no signal-delivery stop under ptrace
       (get_signal), so neither tracer, nor strace, shows it: only the exit.
       ka is a struct k_sigaction, sa_flags after sa_handler */
    if (ctx->args[2]) {
        __u64 sa_flags = 0;
        if (bpf_probe_read_kernel(&sa_flags, sizeof sa_flags, (void *)(ctx->args[2] + 8)) == 0 &&
            (sa_flags & SA_IMMUTABLE))
            return 0;
    }
    a = scratch_task(SK_SIGNAL);
    if (!a)
        return 0;
    if (t) {
        zone_ids(t);
        a->zpid = t->zpid;
        a->ztid = t->ztid;
    } else {
        a->ztid = 0;
        zone_ids(a);
    }
    rec_init(&a->rec, REC_SIGNAL, a, tid);
    a->rec.nr = signo;
    a->rec.t_entry = a->rec.t_exit = bpf_ktime_get_ns();
    /* kernel_siginfo: signo errno code, then pid uid status (the uapi
       layout); its first 48 bytes in slot 0, as trace.c keeps them */
    if (info && bpf_probe_read_kernel(a->rec.slot[0], SIGINFO_COPY, info) == 0) {
        int *si = (int *)a->rec.slot[0];
        a->rec.code = si[2];
        a->rec.args[0] = (__u64)(__s64)si[4];
        a->rec.args[1] = (__u32)si[5];
        a->rec.args[2] = (__u64)(__s64)si[6];
        a->rec.slot_arg[0] = 0;
        a->rec.slot_len[0] = SIGINFO_COPY;
    }
    output(&a->rec);
    return 0;
}

/* Under ptrace a signal is never ignored at its generation (sig_ignored:
   a traced task gets every signal, to show it), nor made a group SIGKILL at
   once when its default action kills (complete_signal's sig_fatal skips a
   traced task): the task stops at its delivery, which the trace shows.
   Without ptrace the kernel drops the one (SIGCHLD, SIGWINCH, SIGURG to a
   default handler; any to SIG_IGN) and delivers the other as SIGKILL, so
   signal_deliver never names them: here they are kept for the target and
   shown where its delivery stop would have been, after the call it is in
   (or now, in user space), or when the SIGKILL reaches it. */
SEC("raw_tracepoint/signal_generate")
int bt_generate(struct bpf_raw_tracepoint_args *ctx)
{
    int signo = (int)ctx->args[0], result = (int)ctx->args[4];
    void *info = (void *)ctx->args[1];
    struct task_struct *target = (struct task_struct *)ctx->args[2];
    struct signal_struct *sig;
    __u32 ttgid, ttid, when = 0;
    struct bt_task *t;

    ttgid = (__u32)BPF_CORE_READ(target, tgid);
    if (!bt_in_zone(&traced, ttgid) || signo == SIGKILL)
        return 0;
    sig = BPF_CORE_READ(target, signal);
    if (result == 1)                 /* TRACE_SIGNAL_IGNORED */
        when = BT_D_AFTER_CALL;
    else if (result == 0 && (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT) &&
             BPF_CORE_READ(sig, group_exit_code) == signo)
        when = BT_D_AT_KILL;         /* TRACE_SIGNAL_DELIVERED, made fatal */
    if (!when)
        return 0;
    ttid = (__u32)BPF_CORE_READ(target, pid);
    t = task_of(ttid, 1, SK_GENERATE);
    if (!t)
        return 0;
    if (!t->ztid) {
        t->ztid = inner_nr(BPF_CORE_READ(target, thread_pid));
        t->zpid = inner_nr(BPF_CORE_READ(target, group_leader, thread_pid));
    }
    if (t->dsig)
        deferred(t, ttid, SK_GENERATE);           /* one kept at a time: the older shown now */
    t->dsig = signo;
    t->dcode = 0;
    t->dargs[0] = t->dargs[1] = t->dargs[2] = 0;
    t->dhostuid = 0;
    /* its siginfo kept in the spill (room no copy writes to: slots stop at
       their end) until deferred() shows it */
    if ((unsigned long)info > 1 && bpf_probe_read_kernel(t->spill, SIGINFO_COPY, info) == 0) {
        int *si = (int *)t->spill;
        t->dcode = si[2];
        t->dargs[0] = (__u64)(__s64)si[4];
        t->dargs[1] = (__u32)si[5];
        t->dargs[2] = (__u64)(__s64)si[6];
        t->dhostuid = D_SIGINFO;
    } else if ((unsigned long)info == 0) {
        /* SEND_SIG_NOINFO: SI_USER from the sender (__send_signal_locked);
           its uid is the host's here, lxrun maps it into the zone */
        struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
        t->dcode = 0;
        t->dargs[0] = (__u64)(__s64)inner_nr(BPF_CORE_READ(cur, group_leader, thread_pid));
        t->dargs[1] = (__u32)bpf_get_current_uid_gid();
        t->dhostuid = D_HOSTUID;
    } else {
        t->dcode = 0x80;             /* SEND_SIG_PRIV: SI_KERNEL */
    }
    t->dwhen = when;
    /* in user space (no call pending): its delivery would be now */
    if (when == BT_D_AFTER_CALL && t->state == BT_IDLE)
        deferred(t, ttid, SK_GENERATE);
    return 0;
}

/* A task of the zone entering its group-stop (do_signal_stop: SIGSTOP, or
   SIGTSTP, SIGTTIN, SIGTTOU not ignored, to a process group that is not
   orphaned), where the ptrace tracer and strace -f see PTRACE_EVENT_STOP
   and print "--- stopped by SIGSTOP ---": the task switches out in
   TASK_STOPPED, the group-stop's signal in its jobctl.  Its first such
   switch: a preemption between do_signal_stop's setting the state (the
   parent told) and its schedule() is one too (the parent's SIGCONT may wake
   it before that schedule(), which then switches out running), and the
   schedule() after it is not another (`stopshown`, until the task's next
   call or signal).  Each thread of the group shows its own, as under
   ptrace.  The cheapest test first: this runs at every context switch of
   the host while it is attached. */
SEC("raw_tracepoint/sched_switch")
int bt_stop(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *prev = (struct task_struct *)ctx->args[1];
    __u64 id, state;
    __u32 tid, tgid;
    struct bt_task *t, *a;
    int signo;

    if (bpf_core_field_exists(prev->__state))
        state = BPF_CORE_READ(prev, __state);
    else
        state = (__u64)BPF_CORE_READ((struct task_struct___old *)prev, state);
    if (!(state & TASK_STOPPED_BIT))
        return 0;
    id = bpf_get_current_pid_tgid();     /* prev is the current task here */
    tid = (__u32)id;
    tgid = (__u32)(id >> 32);
    if (!bt_in_zone(&traced, tgid))
        return 0;
    signo = (int)(BPF_CORE_READ(prev, jobctl) & JOBCTL_STOP_SIGMASK);
    if (!signo)
        return 0;
    t = task_of(tid, 1, SK_STOP);
    if (!t || t->stopshown)
        return 0;
    t->stopshown = 1;
    a = scratch_task(SK_STOP);
    if (!a)
        return 0;
    zone_ids(t);                 /* t is the zone's task (task_of above) */
    a->zpid = t->zpid;
    a->ztid = t->ztid;
    rec_init(&a->rec, REC_STOP, a, tid);
    a->rec.nr = signo;
    a->rec.t_entry = a->rec.t_exit = bpf_ktime_get_ns();
    output(&a->rec);
    return 0;
}
