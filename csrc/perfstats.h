/* perfstats.h: lxrun --stats from the kernel's syscall tracepoints
   (csrc/perfstats.c; issue 13).  Used by the C front door
   (csrc/frontdoor/lxrun.c) and, through lxbrand/_build.py's cdef, by
   lxbrand/trace.py. */
#ifndef LXB_PERFSTATS_H
#define LXB_PERFSTATS_H

#include <stdint.h>

/* CFFI-BEGIN */
struct lxb_perfstats;
/* can this process count a guest's syscalls with perf (the tracepoints'
   ids readable, a raw tracepoint event opened and mapped)?  0 yes, else
   -errno; says nothing, changes nothing */
int lxb_perfstats_probe(void);
/* attach to the held guest (a pidfd, before lxb_zone_release; *out NULL,
   or lxb_perfstats_preload's): one
   raw_syscalls:sys_enter and sys_exit event per CPU, inherited by every
   task the guest starts, and a reader thread that pairs them into t's
   statistics (t->spec: mode and LXB_SHOW_STATS say which syscalls count,
   as for the ptrace tracer).  0 and *out set, or -errno */
int lxb_perfstats_start(struct lxb_tracer *t, int guest_pidfd, struct lxb_perfstats **out);
/* after every task of the guest is gone: the last events read and
   counted, the reader joined, the events closed.  Returns the events the
   kernel dropped (its buffers full), 0 when the counts are exact */
uint64_t lxb_perfstats_finish(struct lxb_perfstats *p);
void lxb_perfstats_free(struct lxb_perfstats *p);
/* --stats as lxb_trace_stats_write writes it, with a "lost" line (text)
   or "lost_events" (JSON) when lost > 0 */
int lxb_perfstats_write(struct lxb_tracer *t, int json, int fd, uint64_t lost);
/* CFFI-END */

/* the front door's, as soon as --stats alone is known (before the zone's
   init is cloned): ask the stats holder (csrc/bpftrace.c THE HOLDER) for
   its set, which it attaches while the zone starts; *out for
   lxb_perfstats_start (which takes the set, or loads one).  0 or -errno
   (then start does it all) */
int lxb_perfstats_preload(struct lxb_tracer *t, struct lxb_perfstats **out);

#endif
