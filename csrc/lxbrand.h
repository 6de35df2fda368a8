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

/* reply flags */
#define LXB_REPLY_CONTINUE 1

#define LXB_UTS_LEN 65

struct lxb_bind {
    const char *src;             /* host path */
    const char *dst;             /* path inside the zone */
    int readonly;
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
    int use_pty;                 /* guest gets a pty of the zone as its ctty */
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
    int hold_guest;              /* the guest waits before its execve of CMD until
                                    lxb_zone_release (a tracer attaches in between) */
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
};

/* filter: action[nr] for nr < n; returns the BPF program's length in bytes
   written to out, or -errno */
int lxb_filter_build(const int32_t *action, int n, unsigned char *out, int outlen);

/* start a zone: returns 0, or -errno with a message in err */
int lxb_zone_start(const struct lxb_config *cfg, struct lxb_zone *z, char *err, int errlen);

/* wait for the zone's guest: *status is its wait status; *kind says what
   happened: 0 exited/killed, 1 exec failed (then *status is the errno) */
int lxb_zone_wait(struct lxb_zone *z, int *status, int *kind);

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
int64_t lxb_write_mem(uint32_t pid, uint64_t addr, const void *buf, size_t len);
int lxb_notif_valid(int listener_fd, uint64_t id);
/* install host_fd in the guest; returns the guest's fd or -errno */
int lxb_addfd(int listener_fd, uint64_t id, int host_fd, uint32_t newfd_flags);

/* csrc/pty.c: copy between the terminal and the pty master until stop_fd
   is readable or either side closes */
int lxb_pty_relay(int in_fd, int out_fd, int master_fd, int stop_fd);

/* PYTHON-CALLBACK */ int lxb_py_dispatch(void *handle, const struct lxb_call *call, struct lxb_reply *reply);
/* CFFI-END */

#endif
