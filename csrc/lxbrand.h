/*
 * lxbrand.h: the whole interface between the C supervisor and Python.
 *
 * Everything between CFFI-BEGIN and CFFI-END is read by lxbrand/_build.py as
 * the cffi cdef, so it holds only declarations and plain "#define X number"
 * constants.  Only lxbrand/_csup.py imports the compiled module.
 *
 * The PYTHON-CALLBACK comment marks a function that cffi implements in
 * Python (extern "Python+C"): C calls it, Python defines it.
 *
 * Functions return 0 (or a count) on success and -errno on failure.
 */
#ifndef LXBRAND_H
#define LXBRAND_H

#include <stdint.h>
#include <stddef.h>

/* CFFI-BEGIN */
#define LXB_NR_MAX 512           /* dispatch array size; x86_64 syscalls end below */
#define LXB_NR_PAST 511          /* a number no table names: its trace spec stands for every number past the array */

/* what the seccomp filter does with a syscall (lxb_filter_build actions) */
#define LXB_ACT_DEFAULT -1       /* not in the table: ENOSYS in the kernel */
#define LXB_ACT_ALLOW 0x10000    /* pass-through */
#define LXB_ACT_NOTIFY 0x20000   /* to the supervisor */
#define LXB_ACT_KILL 0x30000     /* kill the process */
/* an action in 1..4095 answers that errno in the kernel */

/* how the supervisor answers a notified syscall */
#define LXB_KIND_NONE 0          /* notified but unhandled: ENOSYS */
#define LXB_KIND_C 1             /* a C handler, by id */
#define LXB_KIND_PY 2            /* an upcall to lxb_py_dispatch */

/* C handler ids, LXB_C_<syscall name> (csrc/supervisor.c c_handlers[]) */
#define LXB_C_UNAME 1
/* notified while uname is: the calling thread may change its UTS namespace */
#define LXB_C_UNSHARE 13
#define LXB_C_SETNS 14
/* --fakeroot (csrc/fakeroot.c): the stat family reports, chown records */
#define LXB_C_STAT 2
#define LXB_C_FSTAT 3
#define LXB_C_LSTAT 4
#define LXB_C_NEWFSTATAT 5
#define LXB_C_STATX 6
#define LXB_C_CHOWN 7
#define LXB_C_FCHOWN 8
#define LXB_C_LCHOWN 9
#define LXB_C_FCHOWNAT 10
#define LXB_C_MKNOD 11
#define LXB_C_MKNODAT 12
/* --fakeroot: credentials recorded per process (csrc/fakeroot.c, CREDENTIALS) */
#define LXB_C_SETUID 15
#define LXB_C_SETGID 16
#define LXB_C_SETREUID 17
#define LXB_C_SETREGID 18
#define LXB_C_SETRESUID 19
#define LXB_C_SETRESGID 20
#define LXB_C_SETFSUID 21
#define LXB_C_SETFSGID 22
#define LXB_C_SETGROUPS 23
#define LXB_C_GETUID 24
#define LXB_C_GETGID 25
#define LXB_C_GETEUID 26
#define LXB_C_GETEGID 27
#define LXB_C_GETRESUID 28
#define LXB_C_GETRESGID 29
#define LXB_C_GETGROUPS 30
/* --fakeroot: getdents reports recorded devices; fake capabilities per process */
#define LXB_C_GETDENTS 31
#define LXB_C_GETDENTS64 32
#define LXB_C_CAPGET 33
#define LXB_C_CAPSET 34
#define LXB_C_PRCTL 35
/* --fakeroot: a thread's own niceness emulated (csrc/fakeroot.c, NICENESS) */
#define LXB_C_GETPRIORITY 36
#define LXB_C_SETPRIORITY 37
/* --fakeroot: an exiting process hands its fake ids to its children (CREDENTIALS) */
#define LXB_C_EXIT_GROUP 38
/* --fakeroot: a new file of a process on a fake id is recorded as its (CREATION) */
#define LXB_C_OPEN 39
#define LXB_C_OPENAT 40
#define LXB_C_CREAT 41
#define LXB_C_MKDIR 42
#define LXB_C_MKDIRAT 43
/* --fakeroot: a unix socket's peer shows its fake ids (PEER CREDENTIALS) */
#define LXB_C_GETSOCKOPT 44

/* reply flags */
#define LXB_REPLY_CONTINUE 1

#define LXB_UTS_LEN 65

struct lxb_bind {
    const char *src;             /* host path */
    const char *dst;             /* path inside the zone */
    int readonly;
};

/* the zone's file system as typed steps (csrc/zone_fs.c): lxb_fs_plan lists
   them for a config, init executes them in order in the new root, and Python
   prints them (lxrun plan) */
#define LXB_STEP_PROC 1          /* a fresh proc of the zone's pid namespace */
#define LXB_STEP_SYS 2           /* sysfs, read-only (the host's, read-only, with --net host) */
#define LXB_STEP_DEV 3           /* the minimal /dev; data: options of its shm tmpfs */
#define LXB_STEP_TMPFS 4         /* a tmpfs; data: its mount options */
#define LXB_STEP_BIND 5          /* src (a host path) bound at path */
#define LXB_STEP_FILE 6          /* data (text) shown at path */
#define LXB_STEP_MASK 7          /* /dev/null over a file, an empty read-only tmpfs over a directory */
#define LXB_STEP_SELF_BIND 8     /* path bound onto itself: a read-only tree, or a writable hole in one */
#define LXB_STEP_ROOT_RO 9       /* the root itself read-only (its sub-mounts keep their flags) */
/* step flags */
#define LXB_STEP_F_RO 1          /* read-only */
#define LXB_STEP_F_OPTIONAL 2    /* a path missing in this kernel or rootfs: skip the step */
#define LXB_STEP_F_IF_EMPTY 4    /* FILE: only over a missing or empty regular file */
#define LXB_STEP_F_WRITABLE 8    /* FILE: writable, the writes end with the zone */
#define LXB_MAX_STEPS 160

struct lxb_step {
    int op;                      /* LXB_STEP_* */
    int flags;                   /* LXB_STEP_F_* */
    const char *path;            /* inside the zone */
    const char *src;             /* BIND: host path */
    const char *data;            /* TMPFS, DEV: mount options; FILE: text */
};

struct lxb_config {
    const char *rootfs;          /* host path of the zone's root */
    const char *hostname;
    const char *domainname;
    const char *cwd;             /* inside the zone */
    const char *path;            /* CMD: a path, or a name looked up along search_path */
    const char *search_path;     /* PATH inside the zone, for a CMD without '/' */
    char **argv;                 /* NULL-terminated */
    char **envp;                 /* NULL-terminated */
    int ephemeral;               /* overlay over the rootfs, upper in tmpfs */
    int net_host;                /* share the host's network namespace */
    int uid;                     /* inside the zone */
    int gid;
    int stdio[3];                /* host fds that become the guest's 0, 1, 2 */
    int use_pty;                 /* guest gets a pty of the zone as its ctty; LXB_PTY_JOB:
                                    as the terminal's foreground job (lxb_zone_next) */
    int nbinds;
    const struct lxb_bind *binds;
    const unsigned char *bpf;    /* struct sock_filter[], from lxb_filter_build */
    int bpf_len;                 /* in bytes */
    const char *proc_version;    /* shown as /proc/version, or NULL for the host's */
    const char *osrelease;       /* shown as /proc/sys/kernel/osrelease, or NULL */
    const char *hosts;           /* shown as /etc/hosts when the rootfs has none, or NULL */
    const char *uid_map;         /* init's: "inside outside count" lines, as /proc/PID/uid_map takes */
    const char *gid_map;
    int newidmap;                /* write them with newuidmap/newgidmap (subordinate ids) */
    const char *guest_uid_map;   /* the guest's user namespace, in init's ids */
    const char *guest_gid_map;
    const char *tmp_size;        /* tmpfs size= of /tmp and /dev/shm, or NULL */
    const char *shm_size;
    int nproc;                   /* RLIMIT_NPROC of the guest, or 0 */
    int ncgroups;
    const int *cgroup_procs;     /* open cgroup.procs files: init is put in each */
    int start_timeout_ms;        /* 0: none */
    int idmap_lower;             /* --ephemeral as root over an unshifted rootfs: its lower
                                    layer is an idmapped mount, disk ids u shown as guest_uid_map's */
    int lower_fd;                /* set by lxb_zone_start: that mount, or -1 */
    uint64_t cap_drop;           /* capabilities (1 << CAP_X) the guest's bounding set loses */
    int nsteps;                  /* the caller's own steps (--tmpfs, generated files), */
    const struct lxb_step *steps;  /* after the zone's own and before --bind */
    int readonly_root;           /* --read-only: the root mount read-only */
    int hold_guest;              /* the guest waits before its execve of CMD until
                                    lxb_zone_release (a tracer attaches in between) */
    const unsigned char *profile_bpf;  /* the container's own seccomp profile (lxb_profile_build),
                                    loaded after the brand's filter, or NULL */
    int profile_bpf_len;         /* in bytes */
    const char *init_exec;       /* lxbrand-init: exec'd, it clones the zone's init (for a
                                    caller that is an interpreter, csrc/launcher.c), or
                                    NULL: the caller clones init itself (the front door) */
    int own_root;                /* the rootfs is this zone's alone (an OCI bundle's, which
                                    the engine made for the container): a missing mount
                                    point is made in it, as runc makes it, not shadowed */
};

struct lxb_zone {
    int init_pid;                /* host pid of the zone's init (pid 1 inside) */
    int ctl_fd;                  /* events from init: exit status */
    int agent_fd;                /* unused, -1 (kept for the Python side's close list) */
    int listener_fd;             /* seccomp user-notification fd */
    int pty_fd;                  /* pty master, or -1 */
    int exec_errno;              /* lxb_zone_start failed because CMD could not be run */
    int guest_pidfd;             /* with hold_guest: a pidfd of the guest (its filter loaded,
                                    not yet exec'd), else -1 */
};

/* a notification as handlers see it */
struct lxb_call {
    uint64_t id;
    uint32_t pid;                /* host tid of the calling thread */
    int32_t nr;
    uint64_t args[6];
    uint64_t ip;
    int listener_fd;
};

struct lxb_reply {
    int64_t val;
    int32_t error;               /* positive errno, or 0 */
    uint32_t flags;              /* LXB_REPLY_* */
};

/* one zone's supervisor, shared by its receiver threads (each runs
   lxb_supervise on it); uname's nodename and domainname are never kept here:
   they are the caller's own, read from its UTS namespace */
struct lxb_sup {
    int listener_fd;             /* the supervisor's own dup of the listener */
    int stop_fd;                 /* eventfd: write 1 to stop every receiver */
    void *py_handle;             /* passed back to lxb_py_dispatch */
    void *priv;                  /* private to csrc/supervisor.c */
    unsigned char kind[LXB_NR_MAX];
    unsigned char c_handler[LXB_NR_MAX];
    char sysname[LXB_UTS_LEN];   /* the brand's kernel, as uname shows it */
    char release[LXB_UTS_LEN];
    char version[LXB_UTS_LEN];
    char machine[LXB_UTS_LEN];
    uint64_t notified;           /* notifications answered, by all receivers */
    int last_error;              /* -errno that stopped a receiver, or 0 */
    struct lxb_inject *inject;   /* --inject rules (csrc/inject.c), or NULL */
    struct lxb_report *report;   /* --report's counters (below), or NULL */
};

/* filter: action[nr] for nr < n; returns the BPF program's length in bytes
   written to out, or -errno */
int lxb_filter_build(const int32_t *action, int n, unsigned char *out, int outlen);

/* the zone's file system for cfg, as steps: returns their number (at most
   max), or -E2BIG */
int lxb_fs_plan(const struct lxb_config *cfg, struct lxb_step *out, int max);

/* start a zone: returns 0, or -errno with a message in err */
int lxb_zone_start(const struct lxb_config *cfg, struct lxb_zone *z, char *err, int errlen);

/* wait for the zone's guest: *status is its wait status; *kind says what
   happened: 0 exited/killed, 1 exec failed (then *status is the errno) */
int lxb_zone_wait(struct lxb_zone *z, int *status, int *kind);

/* use_pty LXB_PTY_JOB: the guest is a process group of init's session and
   the zone's terminal's foreground group, and init reports its stops and
   continues; lxb_zone_next returns on those too: *kind LXB_GUEST_STOPPED
   (*status its wait status) or LXB_GUEST_CONTINUED, else as lxb_zone_wait */
#define LXB_PTY_JOB 2
#define LXB_GUEST_STOPPED 3
#define LXB_GUEST_CONTINUED 4
int lxb_zone_next(struct lxb_zone *z, int *status, int *kind);

/* with hold_guest: let the guest execve CMD */
int lxb_zone_release(struct lxb_zone *z);

/* init dups listener_fd; lxb_supervise is one receiver's loop, run by as
   many threads as wanted, returning when stopped, when every task under the
   filter is gone, or with -errno; lxb_sup_stop wakes every receiver;
   lxb_sup_close frees what init made, once no receiver runs */
int lxb_sup_init(struct lxb_sup *s, int listener_fd);
int lxb_supervise(struct lxb_sup *s);
int lxb_sup_stop(struct lxb_sup *s);
void lxb_sup_close(struct lxb_sup *s);

/* guest memory, for handlers: read, then check the notification still lives */
int64_t lxb_read_mem(uint32_t pid, uint64_t addr, void *buf, size_t len);
/* the NUL-terminated string at addr (a path), at most len bytes with its NUL,
   read page by page (it may end just before an unmapped page): its length,
   or -EFAULT, -ENAMETOOLONG as the kernel says them */
int lxb_read_path(uint32_t pid, uint64_t addr, char *buf, size_t len);
int64_t lxb_write_mem(uint32_t pid, uint64_t addr, const void *buf, size_t len);
int lxb_notif_valid(int listener_fd, uint64_t id);
/* install host_fd in the guest; returns the guest's fd or -errno */
int lxb_addfd(int listener_fd, uint64_t id, int host_fd, uint32_t newfd_flags);
/* the same, answering the notification with the new fd in one step
   (SECCOMP_ADDFD_FLAG_SEND): the guest never holds an fd its call did not return */
int lxb_addfd_send(int listener_fd, uint64_t id, int host_fd, uint32_t newfd_flags);

/* csrc/pty.c: copy between the terminal and the pty master until stop_fd
   is readable or either side closes */
int lxb_pty_relay(int in_fd, int out_fd, int master_fd, int stop_fd);
/* before a terminal in canonical mode goes raw: take the EOFs typed to it
   (made raw, each would read as a NUL byte); the relay gives them to the
   guest as its terminal's EOF character.  Returns how many */
int lxb_tty_take_eofs(int fd);
/* wait (at most timeout_ms) until the master holds no output of the guest
   that the relay has not taken: before a job stop gives the terminal back */
void lxb_pty_drain(int master_fd, int timeout_ms);

/* PYTHON-CALLBACK */ int lxb_py_dispatch(void *handle, const struct lxb_call *call, struct lxb_reply *reply);

/* ---- tracing (csrc/trace.c, lxbrand/trace.py; issue 13) ----
   Traced syscalls are SECCOMP_RET_TRACE in the filter; a tracer thread of
   lxrun ptrace-seizes the held guest (lxb_config.hold_guest) and follows its
   children; for each traced call it writes one fixed-size record to out_fd. */
#define LXB_ACT_TRACE 0x40000    /* filter action: SECCOMP_RET_TRACE, to the tracer */

#define LXB_TRACE_SLOTS 3        /* arguments copied per call */
#define LXB_TRACE_SLOT 256       /* bytes per copy, at most */

/* how an argument is copied (struct lxb_trace_copy.how) */
#define LXB_COPY_STR 1           /* at entry: a NUL-terminated string */
#define LXB_COPY_IN 2            /* at entry: size bytes, or args[lenarg] (lenarg < 6; times lenmul) capped at size */
#define LXB_COPY_OUT 3           /* at exit, on success: size bytes, args[lenarg] (times lenmul) or ret bytes
                                    (lenarg 7), capped at size */
#define LXB_COPY_STRV 4          /* at entry: a NULL-terminated string array, NUL-separated, each string's
                                    first LXB_STRV_STR bytes (strace prints 32 and "...") */
#define LXB_STRV_STR 33
#define LXB_COPY_IOV_IN 5        /* at entry: a struct iovec array (args[lenarg] entries) and the first bytes of
                                    each buffer, packed from its slot on through the next (trace.c copy_iov) */
#define LXB_COPY_IOV_OUT 6       /* the same at exit, the buffers up to the call's result in all (readv) */
#define LXB_COPY_LEN_RET 7
#define LXB_COPY_INT_INOUT 8     /* an int the call reads and writes (a socklen): 4 bytes at entry; at exit, on
                                    success, the int then, the entry's after it (slot_len 8) */
#define LXB_COPY_MSGHDR 9        /* a struct msghdr, its name, control and iovec array (trace.c copy_msghdr), packed
                                    from its slot on through the next: at entry (lenarg 6: sendmsg), or its
                                    namelen at entry and the rest at exit, the buffers up to the result (lenarg
                                    LXB_COPY_LEN_RET: recvmsg) */
#define LXB_COPY_MMSGHDR 10       /* a struct mmsghdr array (args[lenarg] entries), each entry's msghdr packed as
                                    LXB_COPY_MSGHDR's (trace.c copy_mmsghdr), at exit; lenmul non-zero: recvmmsg
                                    (the namelens at entry, as many entries as the result; its timeout, argument
                                    lenmul - 1, at entry and at exit in LXB_MMSG_TS bytes after the head) */
#define LXB_MMSG_TS 40           /* u32 LXB_MMSGT_* bits, 4 pad, the timespec at entry, at exit */
#define LXB_MMSGT_ENTRY 1
#define LXB_MMSGT_EXIT 2
#define LXB_MMSG_MAX 8           /* entries copied at most (decode.MMSG_MAX) */
#define LXB_MMSGF_CUT 1          /* the head's bits (decode.MMSGF_*) */
#define LXB_MMSGF_FAULT 2
#define LXB_MMSGF_ENTRY 4
#define LXB_MSGF_IOV_CUT 16      /* an entry's msghdr head: its iovec array was cut */
#define LXB_MSGHDR_HEAD 16       /* the packing's head (decode.msghdr_packed), then the struct's 56 bytes */
#define LXB_MSGHDR_NAME 128      /* bytes of msg_name copied at most */
#define LXB_MSGHDR_CONTROL 128   /* bytes of msg_control copied at most */
#define LXB_MSGF_ENTRY 1         /* the head's bits (decode.MSGF_*) */
#define LXB_MSGF_NAME_BAD 2
#define LXB_MSGF_CONTROL_BAD 4
#define LXB_MSGF_CONTROL_CUT 8
#define LXB_COPY_SELECT 11       /* select, pselect6: the fd_sets (nfds bits each), the timeout and pselect6's
                                    sigmask (lenarg 5) at entry, the sets and timeout again at exit when it
                                    returned > 0, packed from slot 0 over all three (trace.c copy_select) */
#define LXB_COPY_PAIR 12         /* size bytes at entry, and at exit, on success, size bytes more after them
                                    (ppoll's timeout and what is left of it: slot_len size or 2 * size) */
#define LXB_COPY_OUT_RESTART 13  /* at exit when a signal interrupted the call (-ERESTART*): size bytes
                                    (nanosleep's rem) */
#define LXB_COPY_REFRESH 14      /* at entry as LXB_COPY_IN, and at exit, on success, again as LXB_COPY_OUT over
                                    it (poll's fds: a failed call keeps their entry's, one that returned its revents) */
#define LXB_SELECT_HEAD 64       /* copy_select: flags, bytes per set, 2 timeouts, argpack, sigset; the sets */
#define LXB_COPY_DIRENTS 20      /* at exit, on success: getdents64's records counted over the whole result
                                    (args[lenarg] its size), as strace walks them: the slot holds u32 records,
                                    u32 bytes not walked (a header unreadable), slot_len 8; slot 0, the only copy */
#define LXB_COPY_SIGFRAME 21     /* at entry: args[arg] := the stack pointer + LXB_SIGFRAME_MASK (rt_sigreturn's
                                    signal frame's uc.uc_sigmask, as strace finds it), then size bytes there */
#define LXB_SIGFRAME_MASK 296    /* x86_64: offsetof(struct ucontext, uc_sigmask); at rt_sigreturn's entry the
                                    stack pointer is the rt_sigframe's uc (its pretcode popped) */
#define LXB_DIRENT_HEAD 19       /* struct linux_dirent64's header: d_ino d_off d_reclen (at 16) d_type */
#define LXB_IOV_MAX 32           /* iovec entries copied (strace prints 32, then "...") */
#define LXB_IOV_SHOW 32          /* bytes copied of each buffer (strace -s 32) */

/* what the tracer does at a traced call's seccomp stop (struct lxb_trace_spec.mode) */
#define LXB_TRACE_RECORD 1       /* record entry, run it, record its exit */
#define LXB_TRACE_ANSWER 2       /* do not run it: answer -err (the filter's own answer), record */

/* record kinds and flags */
#define LXB_REC_SYSCALL 1
#define LXB_REC_SIGNAL 2         /* nr: signo, code: si_code, args[0..2]: si_pid si_uid si_status;
                                    slot 0 (slot_len LXB_SIGINFO_COPY): the siginfo's first bytes */
#define LXB_SIGINFO_COPY 48
#define LXB_REC_EXIT 3           /* ret: the wait status */
#define LXB_REC_NEWTASK 4        /* a task first seen */
#define LXB_REC_STOP 5           /* nr: the signal of the task's group-stop (strace's "--- stopped by SIGSTOP ---") */
#define LXB_RECF_NORESULT 1      /* the task was gone (or exec'd) before the call returned */
#define LXB_RECF_ANSWERED 2      /* answered by the tracer, never ran */
#define LXB_RECF_CMDLINE 4       /* slot 2 holds the caller's /proc/PID/cmdline */
#define LXB_SLOT_NONE 255
#define LXB_SLOT_MORE 254        /* this slot continues the one before it (an iovec copy) */

struct lxb_trace_copy {
    uint8_t arg;                 /* argument index 0-5 */
    uint8_t how;                 /* LXB_COPY_* */
    uint8_t lenarg;              /* see LXB_COPY_IN / LXB_COPY_OUT; 6: none */
    uint8_t lenmul;              /* args[lenarg] counts elements of this many bytes (pollfd: 8); 0: 1 */
    uint16_t size;
    uint16_t pad2;
};

struct lxb_trace_spec {
    uint8_t mode;                /* 0: not traced here (resumed as is) */
    uint8_t ncopy;
    uint16_t err;                /* LXB_TRACE_ANSWER: the errno */
    struct lxb_trace_copy copy[LXB_TRACE_SLOTS];
    uint8_t show;                /* LXB_SHOW_*: what the C sink does with its records (any mode) */
    uint8_t pad[3];
};
#define LXB_SHOW_LINE 1          /* a line (text or JSON) to text_fd */
#define LXB_SHOW_STATS 2         /* counted in the statistics (lxb_trace_stat) */
#define LXB_TRACE_TEXT 1         /* struct lxb_tracer.format: strace-like lines */
#define LXB_TRACE_JSON 2         /* JSON lines */
#define LXB_TRACE_ERRS 64        /* errnos kept per syscall in the statistics */
#define LXB_TRACE_PAST 64        /* numbers outside the arrays (negative, or past LXB_NR_MAX) the
                                    statistics and answered counts keep one by one (lxb_trace_past) */

struct lxb_trace_rec {
    uint32_t kind;
    uint32_t flags;
    int32_t pid;                 /* the zone's pid of the thread group */
    int32_t tid;                 /* the zone's tid */
    int32_t nr;
    int32_t code;
    uint64_t args[6];
    int64_t ret;
    uint64_t t_entry;            /* CLOCK_MONOTONIC, ns */
    uint64_t t_exit;
    int32_t host_tid;
    uint8_t slot_arg[LXB_TRACE_SLOTS];   /* argument each slot copies, LXB_SLOT_NONE */
    uint8_t slot_trunc;          /* bit i: slot i was cut at LXB_TRACE_SLOT */
    uint16_t slot_len[LXB_TRACE_SLOTS];
    uint16_t pad;
    char slot[LXB_TRACE_SLOTS][LXB_TRACE_SLOT];
};

struct lxb_tracer {
    int guest_pidfd;             /* struct lxb_zone.guest_pidfd */
    int out_fd;                  /* records go here (-1: none); the tracer closes it at its end */
    int text_fd;                 /* formatted lines go here (-1: none); never closed by C */
    int format;                  /* LXB_TRACE_TEXT or LXB_TRACE_JSON */
    uint64_t t0;                 /* CLOCK_MONOTONIC ns: a JSON line's "time" counts from it */
    int first_error;             /* a ptrace failure the tracer met (-errno), or 0 */
    int refused_ptrace;          /* the guest called ptrace(2) (refused: EPERM), times */
    int text_error;              /* the first write to text_fd that failed: its errno (the lines
                                    after it are dropped, the zone runs on), or 0 */
    uint64_t records;
    void *priv;
    struct lxb_trace_spec spec[LXB_NR_MAX];
    struct lxb_inject *inject;   /* --inject rules the tracer applies, or NULL */
};

/* seize the guest from a new tracer thread; returns once it is attached (0)
   or failed (-errno); then lxb_zone_release lets the guest exec */
int lxb_trace_start(struct lxb_tracer *t);
/* wait for the tracer thread, which ends when every traced task is gone;
   its lines are flushed, its statistics kept until lxb_trace_free */
int lxb_trace_join(struct lxb_tracer *t);
/* one record from elsewhere (the supervisor's injected calls, tests): its
   line, statistics and report counts, as the tracer's own; thread-safe */
int lxb_trace_feed(struct lxb_tracer *t, const struct lxb_trace_rec *r);
/* write the lines buffered so far to text_fd */
int lxb_trace_flush(struct lxb_tracer *t);
struct lxb_trace_stat {
    uint64_t calls;
    uint64_t total_ns;
    uint64_t p50_ns;             /* the sorted durations' ceil(p/100*calls)-th, as trace.py's _pct */
    uint64_t p99_ns;
    uint64_t hist[65];           /* [0]: 0 ns; [k]: [2^(k-1), 2^k) ns */
    int32_t nerr;                /* errnos in err[], in first-seen order */
    int32_t err[LXB_TRACE_ERRS];
    uint64_t err_count[LXB_TRACE_ERRS];
};
/* the statistics of syscall nr: 1 (s filled), 0 when it was never counted
   (nr outside the arrays too: a number the table has no name for) */
int lxb_trace_stat(struct lxb_tracer *t, int nr, struct lxb_trace_stat *s);
/* the i-th number outside the arrays the sink counted (in first-seen
   order): 1 and *nr, or 0 past the last */
int lxb_trace_past(struct lxb_tracer *t, int i, int32_t *nr);
/* calls of numbers outside the arrays past the first LXB_TRACE_PAST, not
   counted (said as lost_events: the counts are short) */
uint64_t lxb_trace_past_lost(struct lxb_tracer *t);
/* calls of nr the tracer answered (denied, unsupported): the count, *err
   the errno, cmd the first caller's /proc/PID/cmdline (NUL-separated; its
   length in *cmdlen, 0: unknown) */
uint64_t lxb_trace_answered(struct lxb_tracer *t, int nr, int32_t *err, char *cmd, int cmdlen, int *cmdlen_out);
/* free what the tracer kept (after lxb_trace_join) */
void lxb_trace_free(struct lxb_tracer *t);
/* the decoding table's SHA-256 (csrc/trace_gen.py), and a syscall's name or NULL */
const char *lxb_trace_table_hash(void);
const char *lxb_trace_name(int nr);
/* --stats as the Python CLI writes it (trace.py format_stats, or JSON), to fd */
int lxb_trace_stats_write(struct lxb_tracer *t, int json, int fd);
/* ---- exec into a running zone (csrc/zone_exec.c, lxbrand/oci.py exec; issue 14) ----
   A relay joins the guest's namespaces (setns on guest_pidfd) and starts CMD
   in the zone's pid namespace with the brand's filter; CMD waits before its
   execve, its listener (for the zone's supervisor) and pty master in
   lxb_exec_proc, until lxb_exec_release; the relay exits as CMD does
   (status, or 128+signal) and passes its signals on to CMD. */
struct lxb_exec {
    int guest_pidfd;             /* a pidfd of the zone's guest */
    int ns_flags;                /* CLONE_NEW* of the guest's that are not the caller's */
    const char *cwd;             /* inside the zone */
    const char *path;            /* CMD: a path, or a name looked up along search_path */
    const char *search_path;
    char **argv;                 /* NULL-terminated */
    char **envp;                 /* NULL-terminated */
    int uid;                     /* inside the zone */
    int gid;
    int ngroups;                 /* supplementary groups (at most 64), or 0: gid alone */
    const int *groups;
    int stdio[3];                /* host fds that become CMD's 0, 1, 2 */
    int use_pty;                 /* a pty of the zone instead, its master in pty_fd */
    const unsigned char *bpf;    /* the zone's filter, from lxb_filter_build */
    int bpf_len;                 /* in bytes */
    uint64_t cap_drop;           /* as struct lxb_config's */
    const unsigned char *profile_bpf;  /* as struct lxb_config's */
    int profile_bpf_len;
};

struct lxb_exec_proc {
    int pid;                     /* host pid of the relay: wait for it */
    int cmd_pid;                 /* host pid of CMD */
    int sock_fd;                 /* to the relay, until release */
    int listener_fd;             /* CMD's seccomp listener */
    int pty_fd;                  /* the pty master, or -1 */
};

/* start CMD held before its execve: 0, or -errno with a message in err */
int lxb_zone_exec(const struct lxb_exec *e, struct lxb_exec_proc *p, char *err, int errlen);
/* CLONE_NEW* flags of the namespaces of host pid `guest` that are not the
   caller's own (user, mnt, pid, uts, ipc, net, cgroup, time): the ns_flags of
   an exec into that zone; -errno if its /proc entries cannot be read */
int lxb_guest_ns_flags(int guest);
/* let CMD execve */
int lxb_exec_release(struct lxb_exec_proc *p);
/* CMD never runs: the relay kills it; closes p's fds and reaps the relay */
int lxb_exec_abort(struct lxb_exec_proc *p);
/* ---- end of exec ---- */

/* ---- the container's own seccomp profile (csrc/filter.c, lxbrand/oci.py; issue 14) ----
   A second filter after the brand's: the kernel keeps the stricter answer.
   action: a SECCOMP_RET_* value (libseccomp's SCMP_ACT_*), never USER_NOTIF;
   a rule's args are ANDed, as libseccomp's. */
#define LXB_CMP_NE 1             /* libseccomp's enum scmp_compare */
#define LXB_CMP_LT 2
#define LXB_CMP_LE 3
#define LXB_CMP_EQ 4
#define LXB_CMP_GE 5
#define LXB_CMP_GT 6
#define LXB_CMP_MASKED_EQ 7      /* (arg & value) == value_two */

struct lxb_scmp_arg {
    uint32_t index;              /* 0-5 */
    uint32_t op;                 /* LXB_CMP_* */
    uint64_t value;
    uint64_t value_two;
};

struct lxb_scmp_rule {
    int32_t nr;                  /* x86_64 syscall number */
    uint32_t action;
    int32_t nargs;               /* 0-6 */
    const struct lxb_scmp_arg *args;
};

/* the BPF program's length in bytes written to out, or -errno (*failed: the
   rule libseccomp refused, or -1) */
int lxb_profile_build(uint32_t default_action, const struct lxb_scmp_rule *rules, int n, unsigned char *out,
                      int outlen, int *failed);
/* ---- end of the profile ---- */
/* ---- fault injection (csrc/inject.c, lxbrand/inject.py; issue 13) ----
   --inject SYSCALL[,SYSCALL...]:error=E|retval=N[:when=N[+STEP]][:path=GLOB]
   [:delay=D][:pid=N].  An injected syscall is notified (LXB_KIND_INJECT when
   the brand would pass it through) and the supervisor decides per call in C;
   under --trace a traced syscall without path rules is the tracer's instead
   (lxb_inject_decide at its seccomp stop).  A syscall a path rule names is
   performed by the supervisor (never CONTINUEd after reading the path). */
#define LXB_KIND_INJECT 3        /* dispatch kind: pass through unless a rule fires */
#define LXB_INJECT_MAX 32        /* rules per zone */
#define LXB_INJECT_GLOB 256      /* bytes of a path= glob, NUL included */
#define LXB_INJ_ERROR 1          /* rule answers -error */
#define LXB_INJ_RETVAL 2         /* rule answers retval */
#define LXB_INJ_ON 1             /* on[nr]: some rule names nr */
#define LXB_INJ_ON_PATH 2        /* on[nr]: some path rule names nr: the supervisor performs it */
#define LXB_INJ_ON_PID 4         /* on[nr]: some rule for nr has pid= */
#define LXB_RECF_INJECTED 8      /* trace record flag: the result was injected */

struct lxb_inject_rule {
    uint8_t nrs[LXB_NR_MAX / 8]; /* bitmap of the syscalls it names */
    uint32_t action;             /* LXB_INJ_ERROR, LXB_INJ_RETVAL, or 0 (delay alone) */
    int32_t error;               /* positive errno */
    int64_t retval;
    uint64_t first;              /* when=: fires on matching call number first, */
    uint64_t step;               /* then every step after it (0: first only) */
    uint64_t delay_ns;           /* sleep before answering (or performing) */
    int32_t pid;                 /* the zone's pid of the caller's process, or 0: any */
    char path[LXB_INJECT_GLOB];  /* fnmatch(3) glob on the path as given, or "" */
    uint64_t count;              /* calls that matched so far (atomic) */
    uint64_t fired;              /* times it fired (atomic) */
};

struct lxb_inject {
    int nrules;
    int log_fd;                  /* trace records of calls the supervisor answered, or -1 */
    unsigned char on[LXB_NR_MAX];  /* LXB_INJ_ON | LXB_INJ_ON_PATH */
    struct lxb_inject_rule rule[LXB_INJECT_MAX];
};

/* the supervisor's part: 1 when reply is the answer (or the call was answered
   through ADDFD|SEND), 0 when the brand's own handler should answer;
   passthrough: the brand would let the call run (LXB_KIND_INJECT) */
int lxb_inject_call(struct lxb_inject *in, const struct lxb_call *c, struct lxb_reply *r, int passthrough);
/* the tracer's part (no path rules): 1 and *ret set when a rule fires for
   nr called by zone pid; sleeps the rules' delay either way */
int lxb_inject_decide(struct lxb_inject *in, int nr, int32_t zone_pid, int64_t *ret);
/* zero the counters (a new run); set log_fd (closing the old one; -1: none) */
void lxb_inject_reset(struct lxb_inject *in);
void lxb_inject_set_log(struct lxb_inject *in, int fd);
/* which path syscalls the supervisor can perform: 1 yes, 0 no */
int lxb_inject_path_ok(int nr);
/* ---- end of fault injection ---- */
/* ---- the compatibility report (--report; lxbrand/trace.py, csrc/frontdoor/lxrun.c; issue 13) ----
   Under --report the brand's denied and unsupported syscalls are notified
   instead of answered in the kernel (pass-through ones stay in the kernel,
   uncounted and at no cost): the supervisor answers them with their errno,
   c_handler[nr], and counts them.  It counts every notification a handler
   answered (C, Python, or one of these; not a CONTINUE, not an injected
   fault) per syscall, with the first caller's command line. */
#define LXB_KIND_DENIED 4        /* dispatch kind: answer -c_handler[nr] (the errno), counted */
#define LXB_KIND_UNSUPPORTED 5   /* the same, for a syscall the brand does not support */
#define LXB_REPORT_CMDLINE 256   /* bytes of a first caller's command line, NUL included */
#define LXB_REPORT_PAST 16       /* numbers past the arrays a report names (struct lxb_report past_nr) */

struct lxb_report {
    uint64_t count[LXB_NR_MAX];  /* calls answered, per syscall (atomic) */
    uint32_t first_state[LXB_NR_MAX];  /* 0 none, 1 being written, 2 first[nr] written */
    char first[LXB_NR_MAX][LXB_REPORT_CMDLINE];  /* the first caller's /proc/PID/cmdline,
                                    NULs as spaces, NUL-terminated ("" unreadable) */
    uint16_t err[LXB_NR_MAX];    /* a denied syscall's errno above 255 (c_handler[nr] is 0) */
    /* numbers past the arrays the guest called (answered ENOSYS as
       kind[LXB_NR_PAST] says), the first LXB_REPORT_PAST of them one by one,
       in the order first seen (0: a free slot); the others are not named */
    int32_t past_nr[LXB_REPORT_PAST];
    uint64_t past_count[LXB_REPORT_PAST];
};
/* ---- end of the report ---- */
/* CFFI-END */

/* csrc/zone_util.c: read a small file (/proc/PID/status, /proc/sys/...)
   whole, NUL-terminated, in one read: its length, or -errno */
long lxb_read_small(const char *path, char *buf, size_t size);

/* csrc/fakeroot.c: --fakeroot's C handlers, in supervisor.c's c_handlers[]
   (stat and lstat share one, as do the chowns and the mknods) */
void lxb_fr_stat(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_fstat(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_newfstatat(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_statx(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_chown(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_fchown(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_getdents(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_getsockopt(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_capget(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_capset(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_prctl(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void sys_getpriority(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void sys_setpriority(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_fchownat(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_mknod(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_setid(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_setgroups(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_getid(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_exit_group(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);
void lxb_fr_create(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r);

#endif
