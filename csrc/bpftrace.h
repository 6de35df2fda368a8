/* bpftrace.h: lxrun --trace from eBPF programs on the syscall tracepoints
   instead of ptrace stops (csrc/bpftrace.c, csrc/bpf/trace.bpf.c; issue
   13).  Used by the C front door (csrc/frontdoor/lxrun.c) and, through
   lxbrand/_build.py's cdef, by lxbrand/trace.py. */
#ifndef LXB_BPFTRACE_H
#define LXB_BPFTRACE_H

#include <stdint.h>

/* CFFI-BEGIN */
struct lxb_bpftrace;
/* can this process trace a guest with BPF (built with it, BTF present,
   root or CAP_BPF with CAP_PERFMON)?  0 yes, else -errno; loads nothing */
int lxb_bpftrace_probe(void);
/* load the programs in a child process while lxrun reads its brand and
   starts the zone (as early as --trace is known; before lxb_zone_start: no
   fd of theirs is lxrun's when the zone's init is cloned, the child passes
   them over a socket); *out for lxb_bpftrace_start.  0, or -errno (then
   start loads them itself) */
int lxb_bpftrace_preload(struct lxb_tracer *t, struct lxb_bpftrace **out);
/* attach the programs (loaded now, or by lxb_bpftrace_preload: *out) for
   the held guest (a pidfd, before lxb_zone_release), its tasks' records fed
   to t's sink (lines, JSON, statistics) and to t->out_fd as the ptrace
   tracer does, by a reader thread; t->spec says what each syscall records
   and copies.  0 and *out set, or -errno (what failed is written to err;
   a preloaded *out is freed) */
int lxb_bpftrace_start(struct lxb_tracer *t, int guest_pidfd, struct lxb_bpftrace **out, char *err, int errlen);
/* after every task of the guest is gone: the last records read, the
   reader joined, the lines flushed, out_fd closed.  Returns the records
   the ring buffer had no room for (0: the trace is whole) */
uint64_t lxb_bpftrace_finish(struct lxb_bpftrace *p);
/* detach and free (the programs' unregistering waits for RCU grace
   periods: a detached grandchild does it, lxrun does not wait) */
void lxb_bpftrace_free(struct lxb_bpftrace *p);
/* CFFI-END */

/* the front door's, right before it exits: lxb_bpftrace_free but the
   ring's mapping (32 MiB of page tables, 0.7-1 ms to unmap) left to the
   end of the address space, which lxrun leaves to a child (lxrun.c
   leave_mm_behind) */
void lxb_bpftrace_free_at_exit(struct lxb_bpftrace *p);

/* ---- a held set of another object (csrc/bpftrace.c THE HOLDER) ----
   What the holder needs to keep a loaded set of an object and hand it to a
   run: the trace object's is bpftrace.c's, --stats's is perfstats.c's
   (lxb_stats_kind).  Each kind has a holder of its own (its socket, lock
   and name), the same code. */
#define LXB_SET_MAPS 8
#define LXB_SET_PROGS 7
struct lxb_bpf_kind {
    const char *what;            /* LXBRAND_BPF_DEBUG's "lxrun: WHAT: ..." */
    const char *sock, *lock;     /* in /run/lxbrand */
    const char *comm;            /* the holder's name */
    const unsigned char *obj;    /* the object (its hash is in the hello) */
    unsigned long obj_len;
    int nmaps, nprogs;           /* the fds handed to a run, maps first */
    int traced;                  /* the `traced` map's index */
    int ring;                    /* its ring's size is in the hello */
    int keep_progs;              /* the run keeps the programs' fds (their recursion_misses) */
    int wait_ms;                 /* the holder's answer awaited this long at most */
    const char *const *tracepoints;   /* nprogs, in order */
    /* load a set: its maps' and programs' fds (CLOEXEC), 0 or -errno, err said */
    int (*load)(int *maps, int *progs, char *err, int errlen);
};
extern const struct lxb_bpf_kind lxb_stats_kind;
/* ask k's holder for its set (LXBRAND_BPF_HOLDER, root; a holder started
   when there is none): its answer waiting, or NULL.  The fds stay in the
   socket's queue until lxb_bpfheld_take */
struct lxb_bpftrace *lxb_bpfheld_ask(const struct lxb_bpf_kind *k);
/* the set's fds into maps and progs (still the held state's: closed by
   lxb_bpfheld_free), its programs attached by the holder; 0 or -errno,
   err said, and h freed */
int lxb_bpfheld_take(struct lxb_bpftrace *h, int *maps, int *progs, char *err, int errlen);
/* every task of the guest is gone (the holder skips an RCU grace period) */
void lxb_bpfheld_ended(struct lxb_bpftrace *h);
/* hang up: the holder detaches the programs once lxrun has gone, and
   empties the maps for the next run */
void lxb_bpfheld_free(struct lxb_bpftrace *h);

#endif
