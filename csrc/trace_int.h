/* trace_int.h: between trace.c (the ptrace loop) and trace_fmt.c (its
   lines, statistics and report counts); not part of the Python interface. */
#ifndef LXB_TRACE_INT_H
#define LXB_TRACE_INT_H

#include "lxbrand.h"

struct lxb_sink;

/* trace.c: the tracer's sink, made on first use (NULL: out of memory) */
struct lxb_sink *lxb_sink_of(struct lxb_tracer *t);

/* trace_fmt.c */
struct lxb_sink *lxb_sink_new(void);
void lxb_sink_free(struct lxb_sink *s);
/* one record: a line (text or JSON) to t->text_fd, statistics, report
   counts; takes the sink's lock */
void lxb_sink_put(struct lxb_tracer *t, struct lxb_sink *s, const struct lxb_trace_rec *r);
/* write what is buffered to t->text_fd */
void lxb_sink_flush(struct lxb_tracer *t, struct lxb_sink *s);
/* something is buffered (read without the lock: a hint) */
int lxb_sink_pending(struct lxb_sink *s);
/* lxb_trace_stats_write, saying how many events were lost when lost > 0
   (csrc/perfstats.c) */
int lxb_trace_stats_write_lost(struct lxb_tracer *t, int json, int fd, uint64_t lost);
/* a syscall's statistics counted in the kernel, given whole (csrc/perfstats.c);
   0 or -errno */
int lxb_sink_stat_set(struct lxb_tracer *t, int nr, const struct lxb_trace_stat *st);

/* trace.c: a record into the sink (and the batch for Python when out_fd
   >= 0), from a thread other than the tracer's (csrc/bpftrace.c); flush
   writes the batch and the lines, and with last closes out_fd */
void lxb_trace_emit(struct lxb_tracer *t, const struct lxb_trace_rec *r);
void lxb_trace_emit_flush(struct lxb_tracer *t, int last);

/* keep[0..n-1] closed by a detached grandchild once the returned pipe end
   is closed (the wait for an RCU grace period off lxrun's exit); keep has
   room for n + 1; -1 if none (csrc/perfstats.c) */
int lxb_close_later(int *keep, int n);
/* fd[0..n-1] that are open closed and set to -1 (csrc/perfstats.c) */
void lxb_close_fds(int *fd, int n);

/* the host pid behind a pidfd: /proc/self/fdinfo's "Pid:" (csrc/trace.c) */
pid_t lxb_pidfd_pid(int pidfd);

#endif
