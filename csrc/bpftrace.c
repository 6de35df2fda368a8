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
 * LOADING
 *
 *   libbpf opens the object, relocates its CO-RE reads against the kernel's
 *   BTF and loads it (25-45 ms; copy_one is a global BPF function so the
 *   verifier walks it once per program); the maps' and programs' fds are
 *   kept, libbpf's object closed.  The front door calls
 *   lxb_bpftrace_preload as soon as --trace is parsed: a child process
 *   loads while lxrun reads its brand and starts the zone and passes the
 *   fds over a socketpair (made before the zone's init is cloned, so none
 *   of them is lxrun's then); lxb_bpftrace_start takes them (or loads
 *   itself, for lxrun-py), fills `specs`, seeds `traced`, attaches the six
 *   programs with bpf_raw_tracepoint_open and starts the reader, all
 *   before the held guest may exec; the reader maps the ring itself, as
 *   the guest starts (the records wait in the kernel's ring meanwhile).
 *   Before it forks the loader child, lxb_bpftrace_preload asks the
 *   holder (THE HOLDER below: a root process that keeps one loaded set,
 *   attaches it for the run that takes it, in parallel with the zone's
 *   set-up, and empties it for the next) and takes its set when it
 *   answers within 5 ms; else, and whenever anything about the holder is
 *   not as it must be, the loader child loads as before.
 *   LXBRAND_BPF_DEBUG=1: libbpf's log and each step's time on stderr
 *   ("holder: answered" / "holder: none (why)", then "loaded (the
 *   holder's set)" or "loaded (waited)").
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
 *   Detaching the six programs takes about 1 ms (their probes
 *   unregistered); as perfstats.c does with its events, a grandchild
 *   holding only the links' fds takes them with it once lxrun's copies are
 *   closed.  A holder's set is the holder's to detach: lxb_bpftrace_finish
 *   tells it that the guest is gone, lxrun hangs up once it has read the
 *   ring's last records (or the kernel closes the connection, whatever
 *   ends lxrun, SIGKILL included), and once lxrun has gone (its pidfd,
 *   SO_PEERPIDFD; at most HOLDER_EXIT_MS after the hang-up) the holder
 *   detaches them and empties the maps: not amid lxrun's own exit, as
 *   detaching patches the kernel's text and interrupts every CPU.  lxrun
 *   never holds a link of the holder's.
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
#include <poll.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>

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
#define NPROGS 7
#define NMAPS 4                  /* ring, specs, traced, lost */
#define HOLDER_MAPS 16           /* the holder's: every map of the set, to empty them between runs */

struct uid_extent {
    uint32_t inside, outside, count;
};

struct lxb_bpftrace {
    struct lxb_tracer *t;
    const struct lxb_bpf_kind *k;    /* which object: &trace_kind, or perfstats.c's */
    /* the loaded programs and maps, as fds (a loader child's, or our own
       load's, dup'd out of libbpf's object): k->nmaps and k->nprogs of them */
    int map[LXB_SET_MAPS];
    int prog[LXB_SET_PROGS];
    int link[LXB_SET_PROGS];     /* the raw tracepoints' attachments */
    int loader_sock;             /* lxb_bpftrace_preload: the loader's (or the holder's) fds come here */
    pid_t loader;
    int from_holder;             /* loader_sock is the holder's connection */
    int holder_links;            /* the holder attached the programs: they stay attached while
                                    loader_sock is open, its hang-up detaches them */
    int all_maps[HOLDER_MAPS];   /* the holder's: every map its programs use */
    int nall;                    /* -1: a map it cannot empty (the set is used once) */
    int ring_err;                /* the reader could not map the ring (errno) */
#if LXB_HAVE_BPF
    struct ring_buffer *rb;
#endif
    int stop_fd, epfd;
    pthread_t thread;
    int started, live;
    uint64_t lost;
    uint64_t t_ring;             /* LXBRAND_BPF_DEBUG: when the reader started */
    struct uid_extent uids[16];  /* the guest's uid_map */
    int nuids;
};

#if LXB_HAVE_BPF

enum { M_RING, M_SPECS, M_TRACED, M_LOST };
static const char *const MAPS[NMAPS] = {"ring", "specs", "traced", "lost"};
static const char *const PROGS[NPROGS] = {"bt_sys_enter", "bt_sys_exit", "bt_fork", "bt_exit", "bt_signal",
                                          "bt_generate", "bt_stop"};
static const char *const TRACEPOINTS[NPROGS] = {"sys_enter", "sys_exit", "sched_process_fork",
                                                "sched_process_exit", "signal_deliver", "signal_generate",
                                                "sched_switch"};

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

/* LXBRAND_BPF_DEBUG: what each step costs */
static void step(const char *what, uint64_t *t)
{
    uint64_t now = mono_us();
    if (getenv("LXBRAND_BPF_DEBUG"))
        fprintf(stderr, "lxrun: bpf: %s %llu us\n", what, (unsigned long long)(now - *t));
    *t = now;
}

static const struct lxb_bpf_kind trace_kind;

static struct lxb_bpftrace *new_state(struct lxb_tracer *t, const struct lxb_bpf_kind *k)
{
    struct lxb_bpftrace *p = calloc(1, sizeof *p);
    int i;

    if (!p)
        return NULL;
    p->t = t;
    p->k = k;
    for (i = 0; i < LXB_SET_MAPS; i++)
        p->map[i] = -1;
    for (i = 0; i < LXB_SET_PROGS; i++)
        p->prog[i] = p->link[i] = -1;
    p->loader_sock = p->stop_fd = p->epfd = -1;
    p->loader = -1;
    p->nall = -1;
    return p;
}

/* ---- a minimal BTF of the running kernel for this object ----
   libbpf relocates the programs' CO-RE reads against the kernel's BTF,
   which it parses whole (6 MB: half of the load's time).  `bpftool gen
   min_core_btf` keeps only the types the object reads (under 1 kB); made
   once per kernel (its build id, /sys/kernel/notes) and object (a hash of
   it), in $LXBRAND_CACHE/bpf, by a detached grandchild after a load
   without it, when bpftool is installed.  Used only when it is a regular
   file of ours that nobody else may write. */

static int kernel_build_id(char *hex, size_t len)
{
    unsigned char buf[4096];
    long n = lxb_read_small("/sys/kernel/notes", (char *)buf, sizeof buf);
    long off = 0;

    while (n > 0 && off + 12 <= n) {
        uint32_t namesz, descsz, type;
        long name_at = off + 12, desc_at, next;
        memcpy(&namesz, buf + off, 4);
        memcpy(&descsz, buf + off + 4, 4);
        memcpy(&type, buf + off + 8, 4);
        desc_at = name_at + ((namesz + 3) & ~3u);
        next = desc_at + ((descsz + 3) & ~3u);
        if (next > n || namesz > 64 || descsz > 64)
            return -1;
        if (type == 3 && namesz == 4 && memcmp(buf + name_at, "GNU", 4) == 0 && descsz * 2 + 1 <= len) {
            uint32_t i;
            for (i = 0; i < descsz; i++)
                snprintf(hex + 2 * i, 3, "%02x", buf[desc_at + i]);
            return descsz ? 0 : -1;
        }
        off = next;
    }
    return -1;
}

/* the compiled object's identity: FNV-1a over its bytes (build/gen/
   trace_bpf_obj.h's, stats_bpf_obj.h's) 8 at a time (every run that asks
   the holder computes it: 20 us) */
static uint64_t obj_hash(const struct lxb_bpf_kind *k)
{
    uint64_t h = 1469598103934665603ull, w;
    size_t i;
    for (i = 0; i + 8 <= k->obj_len; i += 8) {
        memcpy(&w, k->obj + i, 8);
        h = (h ^ w) * 1099511628211ull;
    }
    for (; i < k->obj_len; i++)
        h = (h ^ k->obj[i]) * 1099511628211ull;
    return h ^ k->obj_len;
}

/* the ring's size: 16 MiB, or LXBRAND_BPF_RING_KB's power of two (tests) */
static uint64_t ring_bytes(void)
{
    uint64_t ring_size = RING_DEFAULT;
    if (getenv("LXBRAND_BPF_RING_KB")) {
        long kb = atol(getenv("LXBRAND_BPF_RING_KB"));
        for (ring_size = RING_DEFAULT; ring_size > 4096 && ring_size > (uint64_t)kb * 1024; ring_size /= 2)
            ;
    }
    return ring_size;
}

static int min_btf_path(char *path, size_t len, char *dir, size_t dirlen)
{
    const char *cache = getenv("LXBRAND_CACHE"), *home = getenv("HOME");
    char id[129];
    uint64_t h;

    if (kernel_build_id(id, sizeof id) < 0)
        return -1;
    h = obj_hash(&trace_kind);
    if (cache && *cache)
        snprintf(dir, dirlen, "%s/bpf", cache);
    else if (home && *home)
        snprintf(dir, dirlen, "%s/.cache/lxbrand/bpf", home);
    else
        return -1;
    return snprintf(path, len, "%s/%s-%016llx.btf", dir, id, (unsigned long long)h) < (int)len ? 0 : -1;
}

/* a regular file of ours in a directory of ours, neither writable by
   anyone else (nobody may swap what libbpf reads) */
static int ours(const char *path, const char *dir)
{
    struct stat st, sd;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 022) &&
           st.st_size > 0 && lstat(dir, &sd) == 0 && S_ISDIR(sd.st_mode) && sd.st_uid == geteuid() &&
           !(sd.st_mode & 022);
}

/* fds 0-2 on /dev/null (a detached child's: nothing of lxrun's terminal) */
static void stdio_to_null(void)
{
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
}

/* a detached grandchild: the object to a file, bpftool, the result renamed
   into place (nothing when bpftool is missing) */
static void make_min_btf_later(const char *path, const char *dir)
{
    char obj[4200], tmp[4200];
    pid_t child;
    int st;

    if (snprintf(obj, sizeof obj, "%s.%d.o", path, (int)getpid()) >= (int)sizeof obj ||
        snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp)
        return;
    child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (child < 0)
        return;
    if (child == 0) {
        char *argv[] = {"bpftool", "gen", "min_core_btf", "/sys/kernel/btf/vmlinux", tmp, obj, NULL};
        pid_t tool;
        int fd;
        if (syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) != 0)
            syscall(SYS_exit_group, 0);
        syscall(SYS_close_range, 3, ~0U, 0);
        stdio_to_null();
        mkdir(dir, 0700);
        fd = open(obj, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            syscall(SYS_exit_group, 0);
        if (write(fd, lxb_trace_bpf_obj, sizeof lxb_trace_bpf_obj) != (ssize_t)sizeof lxb_trace_bpf_obj) {
            unlink(obj);
            syscall(SYS_exit_group, 0);
        }
        close(fd);
        tool = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (tool == 0) {
            execvp("bpftool", argv);
            syscall(SYS_exit_group, 127);
        }
        if (tool > 0 && waitpid(tool, &st, 0) == tool && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            rename(tmp, path);
        unlink(tmp);
        unlink(obj);
        syscall(SYS_exit_group, 0);
    }
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
        ;
}

/* Open and load the object (its ring sized, LXBRAND_BPF_RING_KB for
   tests); the maps' and programs' fds (CLOEXEC) into p, libbpf's object
   closed (start fills `specs`).  0 or -errno, err said */
static int load_once(struct lxb_bpftrace *p, char *err, int errlen, int allow_min, int *used_min)
{
    struct bpf_object *obj;
    struct bpf_map *m;
    uint64_t ring_size = RING_DEFAULT, t0 = mono_us();
    int i, rc = 0;
    const char *what = "open the BPF object";

    char btf[4096], btf_dir[4000];
    int have_btf = 0, make_btf = 0;
    LIBBPF_OPTS(bpf_object_open_opts, opts);

    libbpf_set_print(quiet);
    if (allow_min && !getenv("LXBRAND_BPF_FULL_BTF") &&
        min_btf_path(btf, sizeof btf, btf_dir, sizeof btf_dir) == 0) {
        have_btf = ours(btf, btf_dir);
        make_btf = !have_btf;
        if (have_btf)
            opts.btf_custom_path = btf;
    }
    *used_min = have_btf;
    obj = bpf_object__open_mem(lxb_trace_bpf_obj, sizeof lxb_trace_bpf_obj, &opts);
    if (!obj) {
        rc = errno ? -errno : -EINVAL;
        goto out;
    }
    ring_size = ring_bytes();
    what = "the BPF object's maps";
    m = bpf_object__find_map_by_name(obj, "ring");
    if (!m || bpf_map__set_max_entries(m, (uint32_t)ring_size) != 0) {
        rc = -ENOENT;
        goto out;
    }
    bpf_object__for_each_map(m, obj) {
        const char *name = bpf_map__name(m);
        size_t len = strlen(name), sz = 0;
        if (len >= 7 && strcmp(name + len - 7, ".rodata") == 0) {
            uint64_t *wake = (uint64_t *)bpf_map__initial_value(m, &sz);
            if (wake && sz >= sizeof *wake)
                *wake = ring_size / 4;   /* wake_bytes, the only constant */
        }
    }
    step("open", &t0);
    what = "load the BPF programs";
    rc = bpf_object__load(obj);
    if (rc < 0)
        goto out;
    step(have_btf ? "load (the kernel's minimal BTF)" : "load", &t0);
    if (make_btf)
        make_min_btf_later(btf, btf_dir);
    what = "the BPF object's maps";
    for (i = 0; i < NMAPS; i++) {
        m = bpf_object__find_map_by_name(obj, MAPS[i]);
        if (!m || (p->map[i] = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3)) < 0) {
            rc = m ? -errno : -ENOENT;
            goto out;
        }
    }
    what = "the BPF object's programs";
    for (i = 0; i < NPROGS; i++) {
        struct bpf_program *prog = bpf_object__find_program_by_name(obj, PROGS[i]);
        if (!prog || (p->prog[i] = fcntl(bpf_program__fd(prog), F_DUPFD_CLOEXEC, 3)) < 0) {
            rc = prog ? -errno : -ENOENT;
            goto out;
        }
    }
out:
    if (rc < 0 && have_btf)
        unlink(btf);             /* damaged: made again after the next load */
    if (obj)
        bpf_object__close(obj);
    if (rc < 0 && err && errlen > 0)
        snprintf(err, (size_t)errlen, "%s: %s", what, strerror(-rc));
    return rc;
}

/* the programs' and maps' fds closed */
static void close_set(struct lxb_bpftrace *p)
{
    lxb_close_fds(p->map, LXB_SET_MAPS);
    lxb_close_fds(p->prog, LXB_SET_PROGS);
}

/* load_once, and again with the kernel's whole BTF when the cached minimal
   one was used and the load failed (a damaged file) */
static int load(struct lxb_tracer *t, struct lxb_bpftrace *p, char *err, int errlen)
{
    int used_min = 0, rc = load_once(p, err, errlen, 1, &used_min);

    if (rc < 0 && used_min) {
        close_set(p);
        rc = load_once(p, err, errlen, 0, &used_min);
    }
    return rc;
}

/* the trace object's set, for a loader child (struct lxb_bpf_kind's load) */
static int trace_load(int *maps, int *progs, char *err, int errlen)
{
    struct lxb_bpftrace p;
    int i, rc;

    memset(&p, 0, sizeof p);
    for (i = 0; i < LXB_SET_MAPS; i++)
        p.map[i] = -1;
    for (i = 0; i < LXB_SET_PROGS; i++)
        p.prog[i] = -1;
    rc = load(NULL, &p, err, errlen);
    memcpy(maps, p.map, sizeof p.map);
    memcpy(progs, p.prog, sizeof p.prog);
    return rc;
}

static const struct lxb_bpf_kind trace_kind = {
    .what = "bpf", .sock = "bpf.sock", .lock = "bpf.lock", .comm = "lxb-bpf-holder",
    .obj = lxb_trace_bpf_obj, .obj_len = sizeof lxb_trace_bpf_obj,
    .nmaps = NMAPS, .nprogs = NPROGS, .traced = M_TRACED, .ring = 1, .keep_progs = 0,
    .wait_ms = 5,                /* an answer later than this: the loader child, started then */
    .tracepoints = TRACEPOINTS, .load = trace_load,
};

/* the loader child's message: its load's rc and err, then (rc 0) the fds */
struct loaded {
    int rc;
    char err[200];
};

/* the set in p (rc 0) or the failure, over sock; 0 when sent */
static int send_set(int sock, struct lxb_bpftrace *p, int rc, const char *err)
{
    struct loaded msg;
    char cbuf[CMSG_SPACE(sizeof(int) * (LXB_SET_MAPS + LXB_SET_PROGS))];
    struct iovec iov = {&msg, sizeof msg};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    int nm = p->k->nmaps, np = p->k->nprogs;

    memset(&msg, 0, sizeof msg);
    msg.rc = rc;
    if (err)
        snprintf(msg.err, sizeof msg.err, "%s", err);
    if (rc == 0) {
        struct cmsghdr *c;
        memset(cbuf, 0, sizeof cbuf);
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (nm + np));
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (nm + np));
        memcpy(CMSG_DATA(c), p->map, sizeof(int) * nm);
        memcpy(CMSG_DATA(c) + sizeof(int) * nm, p->prog, sizeof(int) * np);
    }
    return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof msg ? 0 : -1;
}

/* ---- THE HOLDER ----
   A per-boot process of root's that holds one loaded set (programs and
   maps) and hands it to the next `lxrun --trace` that asks, so that run
   does not wait for libbpf and the verifier.  Started (double fork,
   setsid, every fd closed) by a run that found none; it loads only once
   that run has ended, listens on /run/lxbrand/bpf.sock (the directory
   root's, 0700, checked through an fd: never a path a zone can reach,
   never an abstract socket), serves askers whose SO_PEERCRED uid is 0
   and whose object hash (with HOLDER_PROTO), kernel build id and ring
   size are its own, and exits after LXBRAND_BPF_HOLDER_IDLE seconds (60)
   without an asker, or when an asker's object or kernel differs (after
   the run that has its set, if one has).  LXBRAND_BPF_HOLDER=0: never
   asked, never started.

   The set is attached only while a run has it: the holder sends the
   maps' and programs' fds, attaches the programs (1 ms, while the run's
   zone is set up; the run waits for that answer before its guest may
   exec, and loads its own set if it says no or does not come within
   HOLDER_ATTACH_MS), and detaches them when the run has hung up and its
   lxrun has gone (SO_PEERPIDFD; HOLDER_EXIT_MS at most).  Then it
   empties every map the programs use (found from the programs
   themselves: a map added to trace.bpf.c is emptied too): hashes emptied, arrays zeroed, the ring's consumer moved to its
   producer, after an RCU grace period unless the run ended cleanly with
   `traced` empty (holder_detach): the next run finds the set as a fresh
   load would have, without a load beside its start (a load at nice 10
   next to a run's start cost it 3-7 ms of its zone's set-up on 2 CPUs).
   A map it cannot empty (a .data section, another kind) or a failed
   reset: a fresh set is loaded instead. */

#define HOLDER_MAGIC 0x6c786268u
#define HOLDER_PROTO 3           /* folded into the hello's object hash: a holder of another
                                    protocol is another object (ESTALE) */
#define HOLDER_ATTACH_MS 2000    /* the holder's attachment, at most (then the run loads its own) */
#define HOLDER_EXIT_MS 1000      /* a run that hung up: its lxrun's exit awaited this long at most */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

struct hello {
    uint32_t magic, ring_kb;
    uint64_t obj;
    char kernel[132];
};

static void make_hello(struct hello *h, const struct lxb_bpf_kind *k)
{
    memset(h, 0, sizeof *h);
    h->magic = HOLDER_MAGIC;
    h->ring_kb = k->ring ? (uint32_t)(ring_bytes() / 1024) : 0;
    h->obj = obj_hash(k) ^ HOLDER_PROTO;
    if (kernel_build_id(h->kernel, sizeof h->kernel) < 0)
        strcpy(h->kernel, "?");
}

static int holder_wanted(void)
{
    const char *v = getenv("LXBRAND_BPF_HOLDER");
    return geteuid() == 0 && !(v && strcmp(v, "0") == 0);
}

/* /run/lxbrand as an O_PATH fd: root's, nobody else may enter it, under a
   /run of root's that nobody else may write; -ENOENT when missing (and
   !create), -EPERM when it is not so */
static int holder_dir(int create)
{
    struct stat st;
    int run, fd;

    run = open("/run", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (run < 0)
        return -errno;
    if (fstat(run, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022)) {
        close(run);
        return -EPERM;
    }
    if (create && mkdirat(run, "lxbrand", 0700) != 0 && errno != EEXIST) {
        int rc = -errno;
        close(run);
        return rc;
    }
    fd = openat(run, "lxbrand", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(run);
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : -EPERM;  /* ELOOP, ENOTDIR: not ours */
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077)) {
        close(fd);
        return -EPERM;
    }
    return fd;
}

static int sock_addr(struct sockaddr_un *sa, int dir, const char *name)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    return snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", dir, name) <
                   (int)sizeof sa->sun_path ? 0 : -ENAMETOOLONG;
}

static int peer_uid(int s)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
        return -1;
    return (int)cr.uid;
}

/* ask the holder: 0 and its answer waiting in p->loader_sock (received by
   take_loaded, after the zone's init is cloned: none of the set's fds is
   lxrun's then); -ENOENT no holder (one is started), -ESTALE it has
   another object or kernel (it goes; one is started), other -errno: not
   now (busy, slow, not root's, a path that is not a socket of root's) */
static int ask_holder(struct lxb_bpftrace *p)
{
    struct sockaddr_un sa;
    struct hello h;
    struct loaded msg;
    struct stat st;
    struct pollfd pfd;
    int dir, s = -1, rc;
    uint64_t t0 = mono_us();

    dir = holder_dir(0);
    if (dir < 0)
        return dir;
    if (fstatat(dir, p->k->sock, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = errno == ENOENT ? -ENOENT : -errno;
        goto out;
    }
    rc = -EPERM;
    if (!S_ISSOCK(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077))
        goto out;
    if ((rc = sock_addr(&sa, dir, p->k->sock)) < 0)
        goto out;
    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) {
        rc = -errno;
        goto out;
    }
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        rc = errno == ECONNREFUSED ? -ENOENT : -errno;   /* a holder's socket left behind */
        goto out;
    }
    rc = -EPERM;
    if (peer_uid(s) != 0)
        goto out;
    make_hello(&h, p->k);
    rc = -EIO;
    if (send(s, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h)
        goto out;
    if (p->k == &trace_kind)
        step("holder: asked", &t0);
    pfd.fd = s;
    pfd.events = POLLIN;
    rc = -ETIMEDOUT;
    if (poll(&pfd, 1, p->k->wait_ms) != 1 || !(pfd.revents & POLLIN))
        goto out;
    /* a peek: the fds stay in the socket's queue */
    rc = -EIO;
    if (recv(s, &msg, sizeof msg, MSG_PEEK | MSG_DONTWAIT) != (ssize_t)sizeof msg)
        goto out;
    if (msg.rc < 0) {
        rc = msg.rc == -ESTALE || msg.rc == -EBUSY ? msg.rc : -EIO;
        goto out;
    }
    p->loader_sock = s;
    p->from_holder = 1;
    s = -1;
    rc = 0;
out:
    if (s >= 0)
        close(s);
    close(dir);
    return rc;
}

static int start_loader(struct lxb_bpftrace *p, int nice_inc);
static int holder_listen = -1;   /* the holder's socket (its loader child closes it) */
static int take_loaded(struct lxb_bpftrace *p, char *err, int errlen);

/* its name and command line are the holder's, not the lxrun command it
   was forked from (the argument area blanked as zone_init.c init_rename) */
static void holder_rename(const char *name)
{
    char buf[1024], *s;
    unsigned long start = 0, end = 0;
    size_t len = strlen(name) + 1;
    int field;

    prctl(PR_SET_NAME, name, 0, 0, 0);
    if (lxb_read_small("/proc/self/stat", buf, sizeof buf) <= 0)
        return;
    s = strrchr(buf, ')');
    for (field = 2; s && *s && field < 48; s++)
        if (*s == ' ')
            field++;
    if (!s || sscanf(s, "%lu %lu", &start, &end) != 2 || end <= start + len)
        return;
    memset((void *)start, 0, end - start);
    memcpy((void *)start, name, len);
    ((char *)end)[-1] = ' ';
}

/* every map the set's programs use, for holder_reset (q->all_maps);
   q->nall -1 when one of them is of a kind it cannot empty: such a set
   is handed once and a fresh one loaded, as before reuse */
static void holder_maps(struct lxb_bpftrace *q)
{
    uint32_t ids[HOLDER_MAPS], seen[HOLDER_MAPS];
    int i, j, k, n = 0;

    q->nall = -1;
    for (i = 0; i < q->k->nprogs; i++) {
        struct bpf_prog_info info;
        uint32_t len = sizeof info;
        memset(&info, 0, sizeof info);
        memset(ids, 0, sizeof ids);
        info.nr_map_ids = HOLDER_MAPS;
        info.map_ids = (uint64_t)(uintptr_t)ids;
        if (bpf_obj_get_info_by_fd(q->prog[i], &info, &len) != 0 || info.nr_map_ids > HOLDER_MAPS)
            goto bad;
        for (j = 0; j < (int)info.nr_map_ids; j++) {
            for (k = 0; k < n && seen[k] != ids[j]; k++)
                ;
            if (k < n)
                continue;
            seen[n] = ids[j];
            if ((q->all_maps[n] = bpf_map_get_fd_by_id(ids[j])) < 0)
                goto bad;
            n++;
        }
    }
    for (i = 0; i < n; i++) {
        struct bpf_map_info mi;
        uint32_t len = sizeof mi;
        size_t nl;
        memset(&mi, 0, sizeof mi);
        if (bpf_obj_get_info_by_fd(q->all_maps[i], &mi, &len) != 0 || mi.key_size > 64)
            goto bad;
        nl = strnlen(mi.name, sizeof mi.name);
        if (mi.map_flags & BPF_F_RDONLY_PROG)
            continue;            /* .rodata: no program writes it */
        if (nl >= 5 && strcmp(mi.name + nl - 5, ".data") == 0)
            goto bad;            /* initial values a reset would lose */
        if (mi.type != BPF_MAP_TYPE_HASH && mi.type != BPF_MAP_TYPE_ARRAY && mi.type != BPF_MAP_TYPE_PERCPU_ARRAY &&
            mi.type != BPF_MAP_TYPE_RINGBUF)
            goto bad;
    }
    q->nall = n;
    return;
bad:
    for (i = 0; i < n; i++)
        close(q->all_maps[i]);
    q->nall = -1;
}

static void holder_maps_close(struct lxb_bpftrace *q)
{
    int i;
    for (i = 0; i < q->nall; i++)
        close(q->all_maps[i]);
    q->nall = -1;
}

/* the programs on their tracepoints (their records go nowhere until
   the asker seeds `traced` with its guest); 0 or -errno, none attached */
static int attach_all(struct lxb_bpftrace *p)
{
    int i, rc;
    for (i = 0; i < p->k->nprogs; i++) {
        p->link[i] = bpf_raw_tracepoint_open(p->k->tracepoints[i], p->prog[i]);
        if (p->link[i] < 0) {
            rc = p->link[i];
            p->link[i] = -1;
            while (i-- > 0) {
                close(p->link[i]);
                p->link[i] = -1;
            }
            return rc;
        }
    }
    return 0;
}

/* the programs off their tracepoints */
static void holder_unhook(struct lxb_bpftrace *q)
{
    lxb_close_fds(q->link, LXB_SET_PROGS);
}

/* detached, and no program of the run still running: 0 or -errno (then
   the set is not used again).  A program writes to the set's maps only
   for a task whose thread group is in `traced` (the entry stays while
   the group lives; a fork adds its child's before it runs).  A run that
   said it ended (`clean`: lxb_bpftrace_finish, every task of its guest
   reaped, so none is amid a program) and left `traced` empty is done
   with; any other (lxrun killed, its zone's tasks dying meanwhile) waits
   for an RCU grace period, which the tracepoints' probes run under
   (membarrier's MEMBARRIER_CMD_GLOBAL is synchronize_rcu: 10-20 ms) */
static int holder_detach(struct lxb_bpftrace *q, int clean)
{
    uint32_t key;

    holder_unhook(q);
    if (clean && bpf_map_get_next_key(q->map[q->k->traced], NULL, &key) != 0 && errno == ENOENT)
        return 0;
    return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0 ? 0 : -errno;
}

/* one map as a fresh load has it: a hash emptied, an array zeroed, the
   ring's records dropped (its consumer moved to its producer); 0 or -errno */
static int reset_map(int fd)
{
    struct bpf_map_info mi;
    uint32_t len = sizeof mi, k, n, *keys;
    char key[64], next[64];
    void *zero;
    size_t vsz;
    long page = sysconf(_SC_PAGESIZE);
    int rc = 0, ncpu;

    memset(&mi, 0, sizeof mi);
    if (bpf_obj_get_info_by_fd(fd, &mi, &len) != 0)
        return -errno;
    if (mi.map_flags & BPF_F_RDONLY_PROG)
        return 0;
    switch (mi.type) {
    case BPF_MAP_TYPE_HASH:
        for (k = 0; bpf_map_get_next_key(fd, NULL, key) == 0; k++)
            if (k > mi.max_entries || bpf_map_delete_elem(fd, key) != 0)
                return -EIO;
        return bpf_map_get_next_key(fd, NULL, next) != 0 && errno == ENOENT ? 0 : -EIO;
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
        ncpu = mi.type == BPF_MAP_TYPE_ARRAY ? 1 : libbpf_num_possible_cpus();
        if (ncpu <= 0)
            return -EIO;
        vsz = mi.type == BPF_MAP_TYPE_ARRAY ? mi.value_size : (size_t)ncpu * ((mi.value_size + 7) & ~7u);
        zero = calloc(mi.max_entries, vsz);
        keys = calloc(mi.max_entries, sizeof *keys);
        if (!zero || !keys) {
            free(zero);
            free(keys);
            return -ENOMEM;
        }
        for (k = 0; k < mi.max_entries; k++)
            keys[k] = k;
        n = mi.max_entries;
        if (bpf_map_update_batch(fd, keys, zero, &n, NULL) != 0 || n != mi.max_entries)
            for (k = 0; k < mi.max_entries && rc == 0; k++)
                if (bpf_map_update_elem(fd, &k, zero, BPF_ANY) != 0)
                    rc = -errno;
        free(zero);
        free(keys);
        return rc;
    case BPF_MAP_TYPE_RINGBUF: {
        volatile unsigned long *cons, *prod;
        cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (cons == MAP_FAILED)
            return -errno;
        prod = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, page);
        if (prod == MAP_FAILED) {
            rc = -errno;
            munmap((void *)cons, (size_t)page);
            return rc;
        }
        __atomic_store_n(cons, __atomic_load_n(prod, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
        munmap((void *)prod, (size_t)page);
        munmap((void *)cons, (size_t)page);
        return 0;
    }
    default:
        return -ENOTSUP;
    }
}

/* the set as it was loaded, for the next run: 0, or -errno (a fresh one
   is loaded instead) */
static int holder_reset(struct lxb_bpftrace *q)
{
    int i, rc;
    if (q->nall < 0)
        return -ENOTSUP;
    for (i = 0; i < q->nall; i++)
        if ((rc = reset_map(q->all_maps[i])) < 0)
            return rc;
    return 0;
}

static void holder_main(int lxrun_pidfd, const struct lxb_bpf_kind *k)
{
    struct lxb_bpftrace *q;
    struct sockaddr_un sa;
    struct hello mine;
    struct stat st;
    struct pollfd pfd[2];
    struct sigaction dfl;
    sigset_t none;
    const char *idle_env = getenv("LXBRAND_BPF_HOLDER_IDLE");
    int idle_ms = 60000, dir, lock, s, sig, ready = 0, in_use = -1, retire = 0, ended = 0;
    int active = 0, run_pidfd = -1;  /* a run has the set; its lxrun, to wait for its end */
    char err[200];
    ino_t ino;

    if (idle_env && atoi(idle_env) > 0)
        idle_ms = atoi(idle_env) * 1000;
    setsid();
    if (chdir("/") != 0)
        (void)0;
    umask(077);
    holder_rename(k->comm);
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (sig = 1; sig < 65; sig++)
        sigaction(sig, &dfl, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* nothing of lxrun's: its pidfd alone, as fd 3 */
    if (lxrun_pidfd >= 0 && lxrun_pidfd != 3)
        lxrun_pidfd = dup2(lxrun_pidfd, 3) == 3 ? 3 : -1;
    syscall(SYS_close_range, lxrun_pidfd == 3 ? 4 : 3, ~0U, 0);
    stdio_to_null();
    dir = holder_dir(1);
    if (dir < 0)
        syscall(SYS_exit_group, 0);
    lock = openat(dir, k->lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0)
        syscall(SYS_exit_group, 0);    /* another holder */
    /* the run that started us loads its own set: ours after it has ended */
    if (lxrun_pidfd >= 0) {
        pfd[0].fd = lxrun_pidfd;
        pfd[0].events = POLLIN;
        poll(pfd, 1, 10000);
        close(lxrun_pidfd);
    }
    make_hello(&mine, k);
    q = new_state(NULL, k);
    if (!q || start_loader(q, 10) < 0 || take_loaded(q, err, sizeof err) < 0)
        syscall(SYS_exit_group, 0);
    holder_maps(q);
    ready = 1;
    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0 || sock_addr(&sa, dir, k->sock) < 0)
        syscall(SYS_exit_group, 0);
    unlinkat(dir, k->sock, 0);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 16) != 0 ||
        fstatat(dir, k->sock, &st, AT_SYMLINK_NOFOLLOW) != 0)
        syscall(SYS_exit_group, 0);
    ino = st.st_ino;
    holder_listen = s;
    /* never blocked by a load: a set is loaded by a child (nice 10), and
       an asker that comes while it loads, or while another run has the
       set, is told so at once (EBUSY).  A run's set: handed (its fds), then
       attached here (the asker waits for that answer only before its guest
       may exec), detached when the run hangs up (ends, or is killed), then
       emptied (holder_reset) for the next run: no load between runs, none
       beside a run's start; a set that cannot be emptied is replaced */
    for (;;) {
        struct hello h;
        struct loaded ack;
        int c, n, np = 1;
        pfd[0].fd = s;
        pfd[0].events = POLLIN;
        pfd[1].fd = !active ? q->loader_sock : in_use >= 0 ? in_use : run_pidfd;
        pfd[1].events = POLLIN;
        if (pfd[1].fd >= 0)
            np = 2;
        /* a run that has hung up: its lxrun's end, at most HOLDER_EXIT_MS */
        n = poll(pfd, np, active && in_use < 0 ? HOLDER_EXIT_MS : active || q->loader_sock >= 0 ? -1 : idle_ms);
        if (n < 0 && (errno == EINTR || active))
            continue;                    /* never gone while a run has the programs */
        if (n < 0 || (n == 0 && !active))
            break;                       /* idle */
        if (active && in_use >= 0 && np == 2 && pfd[1].revents) {
            char e;
            if (!ended && recv(in_use, &e, 1, MSG_DONTWAIT) == 1 && e == 'e') {
                ended = 1;               /* its guest is gone (lxb_bpftrace_finish) */
                continue;
            }
            /* the run has hung up (its records read, or killed) */
            close(in_use);
            in_use = -1;
            if (run_pidfd >= 0)
                continue;                /* until its lxrun has gone */
        }
        if (active && in_use < 0 && (n == 0 || (np == 2 && pfd[1].revents) || run_pidfd < 0)) {
            /* the run and its lxrun have gone: the programs off the
               tracepoints now, not amid lxrun's exit (their detaching
               patches the kernel's text, every CPU interrupted) */
            active = 0;
            if (run_pidfd >= 0)
                close(run_pidfd);
            run_pidfd = -1;
            if (holder_detach(q, ended) == 0 && holder_reset(q) == 0) {
                ready = 1;
            } else {
                holder_maps_close(q);
                close_set(q);
                if (start_loader(q, 10) < 0)
                    break;
            }
            if (retire)
                break;
        } else if (np == 2 && pfd[1].revents) {
            if (take_loaded(q, err, sizeof err) < 0)
                break;
            holder_maps(q);
            ready = 1;
        }
        if (!(pfd[0].revents & POLLIN))
            continue;
        c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        pfd[1].fd = c;
        pfd[1].events = POLLIN;
        if (peer_uid(c) != 0 || poll(&pfd[1], 1, 100) != 1 ||
            recv(c, &h, sizeof h, MSG_DONTWAIT) != (ssize_t)sizeof h || h.magic != HOLDER_MAGIC) {
            close(c);
            continue;
        }
        h.kernel[sizeof h.kernel - 1] = 0;
        if (h.obj != mine.obj || h.ring_kb != mine.ring_kb || strcmp(h.kernel, mine.kernel) != 0) {
            send_set(c, q, -ESTALE, "another BPF object or kernel");
            close(c);
            if (!active)
                break;
            retire = 1;                  /* after the run that has the set */
            continue;
        }
        if (!ready || active || retire) {
            send_set(c, q, -EBUSY, "loading, or in use");
            close(c);
            continue;
        }
        if (send_set(c, q, 0, NULL) != 0) {
            close(c);
            continue;
        }
        ready = 0;
        in_use = c;
        active = 1;
        ended = 0;
        {
            socklen_t len = sizeof run_pidfd;
            if (getsockopt(c, SOL_SOCKET, SO_PEERPIDFD, &run_pidfd, &len) != 0)
                run_pidfd = -1;          /* before Linux 6.5: its hang-up alone */
        }
        memset(&ack, 0, sizeof ack);
        ack.rc = attach_all(q);
        if (ack.rc < 0)
            snprintf(ack.err, sizeof ack.err, "attach the BPF programs: %s", strerror(-ack.rc));
        /* no answer taken (the run has gone): the hang-up detaches them */
        if (send(c, &ack, sizeof ack, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof ack)
            (void)0;
    }
    /* our socket only: another holder's may have replaced it */
    if (fstatat(dir, k->sock, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == ino)
        unlinkat(dir, k->sock, 0);
    syscall(SYS_exit_group, 0);
}

/* start a holder for the runs after this one (lxrun is one thread here) */
static void spawn_holder(const struct lxb_bpf_kind *k)
{
    pid_t mid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    int st;

    if (mid < 0)
        return;
    if (mid == 0) {
        int pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
        if (syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) != 0)
            syscall(SYS_exit_group, 0);
        holder_main(pidfd, k);
    }
    while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* a child process that loads a set into p's copy of the state and sends
   it over a socketpair (p->loader_sock, p->loader); nice_inc for the
   holder's.  0 or -errno */
static int start_loader(struct lxb_bpftrace *p, int nice_inc)
{
    int sv[2];
    pid_t child;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (child < 0) {
        int rc = -errno;
        close(sv[0]);
        close(sv[1]);
        return rc;
    }
    if (child == 0) {
        char why[200] = "";
        int rc;
        close(sv[0]);
        if (nice_inc) {          /* the holder's: dies with it, never holds its socket */
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            if (holder_listen >= 0)
                close(holder_listen);
            setpriority(PRIO_PROCESS, 0, nice_inc);
        }
        rc = p->k->load(p->map, p->prog, why, sizeof why);
        syscall(SYS_exit_group, send_set(sv[1], p, rc, why) == 0 ? 0 : 1);
    }
    close(sv[1]);
    p->loader_sock = sv[0];
    p->loader = child;
    return 0;
}

int lxb_bpftrace_preload(struct lxb_tracer *t, struct lxb_bpftrace **out)
{
    struct lxb_bpftrace *p;
    int rc;

    *out = NULL;
    p = new_state(t, &trace_kind);
    if (!p)
        return -ENOMEM;
    if (holder_wanted()) {
        uint64_t t0 = mono_us();
        rc = ask_holder(p);
        if (rc == 0) {
            step("holder: answered", &t0);
            *out = p;
            return 0;
        }
        if (getenv("LXBRAND_BPF_DEBUG"))
            fprintf(stderr, "lxrun: bpf: holder: none (%s)\n", strerror(-rc));
        if (rc == -ENOENT || rc == -ESTALE)
            spawn_holder(&trace_kind);
    }
    rc = start_loader(p, 0);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* a set (its rc and err, then the fds) from sock: 0 or -errno, err said */
static int recv_set(int sock, struct lxb_bpftrace *p, char *err, int errlen)
{
    struct loaded msg;
    char cbuf[CMSG_SPACE(sizeof(int) * (LXB_SET_MAPS + LXB_SET_PROGS))];
    struct iovec iov = {&msg, sizeof msg};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c;
    ssize_t n;
    int nm = p->k->nmaps, np = p->k->nprogs;

    memset(&msg, 0, sizeof msg);
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    c = n == (ssize_t)sizeof msg ? CMSG_FIRSTHDR(&mh) : NULL;
    if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int) * (nm + np))) {
        memcpy(p->map, CMSG_DATA(c), sizeof(int) * nm);
        memcpy(p->prog, CMSG_DATA(c) + sizeof(int) * nm, sizeof(int) * np);
    } else if (c && c->cmsg_type == SCM_RIGHTS) {
        int i, *fds = (int *)CMSG_DATA(c);
        for (i = 0; i < (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)); i++)
            close(fds[i]);
        c = NULL;
    }
    if (n != (ssize_t)sizeof msg) {
        snprintf(err, (size_t)errlen, "the BPF loader: %s", n < 0 ? strerror(errno) : "no answer");
        return n < 0 ? -errno : -EIO;
    }
    if (msg.rc < 0) {
        msg.err[sizeof msg.err - 1] = 0;
        snprintf(err, (size_t)errlen, "%s", msg.err);
        return msg.rc;
    }
    if (!c) {
        snprintf(err, (size_t)errlen, "the BPF loader: its fds are missing");
        return -EIO;
    }
    return 0;
}

/* the preloaded fds, from the loader child */
static int take_loaded(struct lxb_bpftrace *p, char *err, int errlen)
{
    int rc = recv_set(p->loader_sock, p, err, errlen), st;

    close(p->loader_sock);
    p->loader_sock = -1;
    while (p->loader > 0 && waitpid(p->loader, &st, 0) < 0 && errno == EINTR)
        ;
    p->loader = -1;
    return rc;
}

/* the holder's set, its programs attached by the holder: 0 (the
   connection kept: its hang-up at lxb_bpftrace_free detaches them), or
   -errno and nothing of the holder's kept */
static int take_holders(struct lxb_bpftrace *p, char *err, int errlen)
{
    struct loaded ack;
    struct pollfd pfd = {p->loader_sock, POLLIN, 0};
    int rc = recv_set(p->loader_sock, p, err, errlen), i;

    if (rc == 0) {
        /* the programs are the holder's to attach and detach */
        for (i = 0; i < LXB_SET_PROGS && !p->k->keep_progs; i++) {
            close(p->prog[i]);
            p->prog[i] = -1;
        }
        memset(&ack, 0, sizeof ack);
        rc = -ETIMEDOUT;
        snprintf(err, (size_t)errlen, "the holder did not attach its programs within %d ms", HOLDER_ATTACH_MS);
        if (poll(&pfd, 1, HOLDER_ATTACH_MS) == 1) {
            if (recv(p->loader_sock, &ack, sizeof ack, MSG_DONTWAIT) == (ssize_t)sizeof ack) {
                ack.err[sizeof ack.err - 1] = 0;
                rc = ack.rc < 0 ? ack.rc : 0;
                snprintf(err, (size_t)errlen, "%s", ack.err);
            } else {
                rc = -EIO;
                snprintf(err, (size_t)errlen, "the holder hung up");
            }
        }
    }
    if (rc < 0) {
        /* its programs detached by the hang-up, whatever it did */
        close(p->loader_sock);
        p->loader_sock = -1;
        close_set(p);
        return rc;
    }
    p->holder_links = 1;
    return 0;
}

/* ---- a held set of another object (perfstats.c: --stats alone) ---- */

static void free_set(struct lxb_bpftrace *p, int unmap);

struct lxb_bpftrace *lxb_bpfheld_ask(const struct lxb_bpf_kind *k)
{
    struct lxb_bpftrace *h;
    uint64_t t0 = mono_us();
    int rc;

    if (!holder_wanted() || !(h = new_state(NULL, k)))
        return NULL;
    rc = ask_holder(h);
    if (rc == 0) {
        if (getenv("LXBRAND_BPF_DEBUG"))
            fprintf(stderr, "lxrun: %s: holder: answered %llu us\n", k->what,
                    (unsigned long long)(mono_us() - t0));
        return h;
    }
    if (getenv("LXBRAND_BPF_DEBUG"))
        fprintf(stderr, "lxrun: %s: holder: none (%s)\n", k->what, strerror(-rc));
    free(h);
    if (rc == -ENOENT || rc == -ESTALE)
        spawn_holder(k);
    return NULL;
}

int lxb_bpfheld_take(struct lxb_bpftrace *h, int *maps, int *progs, char *err, int errlen)
{
    int rc = take_holders(h, err, errlen);

    if (rc < 0) {
        free(h);
        return rc;
    }
    memcpy(maps, h->map, sizeof h->map);
    memcpy(progs, h->prog, sizeof h->prog);
    return 0;
}

void lxb_bpfheld_ended(struct lxb_bpftrace *h)
{
    if (h && h->holder_links && send(h->loader_sock, "e", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
        (void)0;
}

void lxb_bpfheld_free(struct lxb_bpftrace *h)
{
    free_set(h, 1);
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

    /* the ring mapped here, while the guest runs (its records wait in the
       kernel's ring until then): 0.7-1 ms of a 16 MiB ring's page tables
       off the guest's start */
    p->rb = ring_buffer__new(p->map[M_RING], on_record, p, NULL);
    if (!p->rb) {
        p->ring_err = errno ? errno : ENOMEM;
    } else {
        ev[0].events = EPOLLIN;
        ev[0].data.u32 = 0;
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(p->rb), &ev[0]) != 0)
            p->ring_err = errno;
    }
    if (p->ring_err) {
        /* nothing to read: the guest runs on untraced, lxb_bpftrace_finish says so */
        if (p->rb)
            ring_buffer__free(p->rb);
        p->rb = NULL;
        return NULL;
    }
    step("reader: the ring mapped", &p->t_ring);
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

/* a grandchild that holds the links (and nothing else of lxrun's) closes
   them after lxrun has gone on (perfstats.c lxb_close_later) */
static int close_later(struct lxb_bpftrace *p)
{
    int i, keep[LXB_SET_PROGS + 1], n = 0;

    for (i = 0; i < LXB_SET_PROGS; i++)
        if (p->link[i] >= 0)
            keep[n++] = p->link[i];
    return n ? lxb_close_later(keep, n) : -1;     /* the holder's: none here */
}

static void free_set(struct lxb_bpftrace *p, int unmap)
{
    int later;
    uint64_t t0 = mono_us();

    if (!p)
        return;
    if (p->started)
        lxb_bpftrace_finish(p);
    /* a holder's connection: its hang-up has the holder detach the
       programs (every record is read by now), and empty the set */
    if (p->loader_sock >= 0)
        close(p->loader_sock);
    if (p->loader > 0)
        while (waitpid(p->loader, NULL, 0) < 0 && errno == EINTR)
            ;
    /* the ring unmapped before the fork: the grandchild's copy of lxrun's
       address space is then without its 32 MiB mapping (the reader is
       joined; the programs write to the map, not to our mapping) */
    if (p->rb && unmap)
        ring_buffer__free(p->rb);
    p->rb = NULL;
    if (p->k == &trace_kind)     /* a held stats set: its hang-up alone */
        step(unmap ? "free: the ring" : "free: the ring left to the exit", &t0);
    later = close_later(p);
    if (p->k == &trace_kind)
        step("free: close_later", &t0);
    lxb_close_fds(p->link, LXB_SET_PROGS);
    if (later >= 0)
        close(later);
    lxb_close_fds(p->prog, LXB_SET_PROGS);
    lxb_close_fds(p->map, LXB_SET_MAPS);
    if (p->k == &trace_kind)
        step("free: the rest", &t0);
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->stop_fd >= 0)
        close(p->stop_fd);
    free(p);
}

void lxb_bpftrace_free(struct lxb_bpftrace *p)
{
    free_set(p, 1);
}

void lxb_bpftrace_free_at_exit(struct lxb_bpftrace *p)
{
    free_set(p, 0);
}

static int fail(struct lxb_bpftrace *p, int rc, char *err, int errlen, const char *what)
{
    if (what && err && errlen > 0)
        snprintf(err, (size_t)errlen, "%s: %s", what, strerror(-rc));
    lxb_bpftrace_free(p);
    return rc;
}

int lxb_bpftrace_start(struct lxb_tracer *t, int guest_pidfd, struct lxb_bpftrace **out, char *err, int errlen)
{
    struct lxb_bpftrace *p = *out;
    struct epoll_event ev;
    uint64_t t0 = mono_us();
    uint32_t guest, nr;
    uint8_t one = 1;
    sigset_t all, old;
    int rc;
    pid_t g;

    *out = NULL;
    if (err && errlen > 0)
        err[0] = 0;
    if (!p && !(p = new_state(t, &trace_kind)))
        return -ENOMEM;
    p->t = t;
    g = lxb_pidfd_pid(guest_pidfd);
    if (g < 0)
        return fail(p, g, err, errlen, "the guest's pid");
    guest = (uint32_t)g;
    if (!lxb_sink_of(t))
        return fail(p, -ENOMEM, err, errlen, "the trace's sink");
    if (t->text_fd >= 0) {
        struct stat st;
        p->live = isatty(t->text_fd) ||
                  (fstat(t->text_fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)));
    }
    read_uid_map(p, g);
    /* the holder's set, attached by it while the zone started; else loaded
       by lxb_bpftrace_preload's child meanwhile, or now */
    if (p->from_holder)
        rc = take_holders(p, err, errlen);
    else
        rc = p->loader_sock >= 0 ? take_loaded(p, err, errlen) : load(t, p, err, errlen);
    if (rc < 0 && p->from_holder) {
        /* the holder's answer was not a set after all: load here */
        if (getenv("LXBRAND_BPF_DEBUG"))
            fprintf(stderr, "lxrun: bpf: holder: its set: %s\n", err);
        close_set(p);
        rc = load(t, p, err, errlen);
        p->from_holder = 0;
    }
    if (rc < 0)
        return fail(p, rc, err, errlen, NULL);
    step(p->from_holder ? "loaded (the holder's set)" : "loaded (waited)", &t0);
    /* what each syscall records and copies (t->spec, final by now): the
       whole array in one call (the map is fresh: an untraced call's zero
       entry is what it holds already), else one call per traced syscall */
    {
        static uint32_t keys[LXB_NR_MAX];
        uint32_t count = LXB_NR_MAX;
        for (nr = 0; nr < LXB_NR_MAX; nr++)
            keys[nr] = nr;
        if (bpf_map_update_batch(p->map[M_SPECS], keys, t->spec, &count, NULL) != 0 || count != LXB_NR_MAX)
            for (nr = 0; nr < LXB_NR_MAX; nr++)
                if (t->spec[nr].mode && bpf_map_update_elem(p->map[M_SPECS], &nr, &t->spec[nr], BPF_ANY) != 0)
                    return fail(p, -errno, err, errlen, "fill the BPF spec map");
    }
    step("specs", &t0);
    if (bpf_map_update_elem(p->map[M_TRACED], &guest, &one, BPF_ANY) != 0)
        return fail(p, -errno, err, errlen, "seed the BPF task map");
    if (!p->holder_links) {
        if ((rc = attach_all(p)) < 0)
            return fail(p, rc, err, errlen, "attach the BPF programs");
        step("attach", &t0);
    }
    p->stop_fd = eventfd(0, EFD_CLOEXEC);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->stop_fd < 0 || p->epfd < 0)
        return fail(p, -errno, err, errlen, "the BPF reader's fds");
    ev.events = EPOLLIN;
    ev.data.u32 = 1;
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->stop_fd, &ev) != 0)
        return fail(p, -errno, err, errlen, "the BPF reader's epoll");
    /* no signal handler of the host runs on the reader (which maps the ring) */
    p->t_ring = t0;
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
    int ncpu, i;
    uint32_t k = 0;
    uint64_t t0 = mono_us();

    if (!p)
        return 0;
    if (p->started) {
        uint64_t one = 1;
        /* the holder's programs off the tracepoints now: every task is gone */
        if (p->holder_links && send(p->loader_sock, "e", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
            (void)0;
        if (write(p->stop_fd, &one, sizeof one) < 0)
            (void)0;
        pthread_join(p->thread, NULL);
        step("finish: reader joined", &t0);
        p->started = 0;
        /* every task is gone: what is left in the ring */
        if (p->rb)
            ring_buffer__consume(p->rb);
        ncpu = libbpf_num_possible_cpus();
        if (ncpu > 0) {
            uint64_t *per = calloc((size_t)ncpu, sizeof *per);
            if (per && bpf_map_lookup_elem(p->map[M_LOST], &k, per) == 0)
                for (i = 0; i < ncpu; i++)
                    p->lost += per[i];
            free(per);
        }
        lxb_trace_emit_flush(p->t, 1);
        step("finish: drained", &t0);
    }
    return p->ring_err ? UINT64_MAX : p->lost;
}

#else /* built without clang -target bpf or libbpf: the ptrace tracer only */

struct lxb_bpftrace *lxb_bpfheld_ask(const struct lxb_bpf_kind *k)
{
    return NULL;
}

int lxb_bpfheld_take(struct lxb_bpftrace *h, int *maps, int *progs, char *err, int errlen)
{
    return -ENOSYS;
}

void lxb_bpfheld_ended(struct lxb_bpftrace *h)
{
}

void lxb_bpfheld_free(struct lxb_bpftrace *h)
{
}

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

int lxb_bpftrace_preload(struct lxb_tracer *t, struct lxb_bpftrace **out)
{
    *out = NULL;
    return -ENOSYS;
}

uint64_t lxb_bpftrace_finish(struct lxb_bpftrace *p)
{
    return 0;
}

void lxb_bpftrace_free(struct lxb_bpftrace *p)
{
}

void lxb_bpftrace_free_at_exit(struct lxb_bpftrace *p)
{
}

#endif
