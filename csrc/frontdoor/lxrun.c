/*
 * lxrun.c: the front door, `lxrun` as installed on PATH.
 *
 * OVERVIEW
 *
 *   The command line is one interface (lxbrand/cli.py, click); this small C
 *   program serves its common case without an interpreter: `lxrun [run]
 *   [OPTIONS] ROOTFS CMD...` for a zone that needs no Python handler.  It
 *   parses the run options with the Python CLI's own table (options.h,
 *   generated from lxbrand/cli.py and config.py by options.py: same names,
 *   same defaults; no flag is written here), reads the brand that Python compiled for those options from the cache
 *   (BRAND CACHE), starts the zone with lxb_zone_start (csrc/launcher.c),
 *   passes its own fds 0, 1, 2 straight to the guest, forwards the signals
 *   it receives to the zone's init, relays the terminal for --tty, runs the C
 *   supervisor in a thread when the brand notifies anything, and exits with
 *   the guest's status as chroot(1) does (125, 126, 127, 128+N).  The zone's
 *   init is then a fork of this small process, not of an interpreter.
 *
 * HANDING OVER
 *
 *   Whatever it does not handle goes to the Python CLI, by execv of the
 *   console script recorded at build time (LXB_PYCLI, `lxrun-py`) with the
 *   same arguments, before anything happened: subcommands, --help, an
 *   option the table does not mark served (--memory/--pids/--cpus, --inject,
 *   --plan, and any option added to the Python CLI since: its author need not touch
 *   this file), one it does not know, a table older than lxbrand/cli.py or
 *   config.py, a value it would have to judge (every error message is then
 *   Python's), a rootfs
 *   run by root that is not yet shifted, a cache miss, a brand with a Python
 *   handler.  A CMD the zone could not execve is handed over too, with
 *   _LXRUN_EXEC_ERRNO set: the guest never ran, and Python says why in one
 *   line (Zone.exec_error) without starting the zone again.
 *   LXRUN_DEBUG_FRONTDOOR=1 prints why a run was handed over.
 *
 * BRAND CACHE
 *
 *   $LXBRAND_CACHE/frontdoor/HASH.brand (default ~/.cache/lxbrand), written
 *   by lxbrand/brand/compile.py (store_frontdoor) whenever the Python CLI
 *   runs a zone, and by `make build` for the default options.  HASH is the
 *   FNV-1a of a key text naming what the brand depends on (the host's
 *   kernel, --kernel-release, --deny as given); the file holds the key
 *   itself (compared whole), the files it was compiled from with their size
 *   and mtime (compared with stat), the dispatch arrays, the uts strings,
 *   the BPF program and, under --kernel-release, the personality's files
 *   (/proc/version, /proc/sys/kernel/osrelease and version: path and text),
 *   shown read-only as set-up steps, so that such a zone needs no Python.  As the filter cache, it is read only when this user
 *   owns it and its directory and nobody else can write them: the filter is
 *   the zone's boundary.
 *
 * THE REPORT
 *
 *   --report[=FILE] is served here as the Python CLI serves it
 *   (lxbrand/trace.py): the cached brand for it (key line "report 1",
 *   trace.ReportBrand) notifies the brand's denied and unsupported syscalls
 *   instead of answering them in the kernel, the C supervisor answers them
 *   with the same errno and counts, per syscall, every call it answered
 *   with the first caller's command line (struct lxb_report); pass-through
 *   syscalls never leave the kernel.  At the end, whatever the guest's
 *   status, the report goes to stderr or FILE in trace.py's wording
 *   (REPORT_*, the syscalls' and errnos' names: options.h).  No tracer, no
 *   reader thread, no Python.
 *
 * THE TRACE
 *
 *   --trace[=SET], -o FILE, --trace-format, --stats and --stats-format
 *   (alone or with --report) are served here too: the Python CLI leaves,
 *   beside the brand, the tracer's part of such a run
 *   ($LXBRAND_CACHE/frontdoor/HASH.trace, lxbrand/trace.py
 *   store_frontdoor_trace; its key is the brand's, then the SET as given and
 *   --stats): the filter with the traced syscalls RET_TRACE and each
 *   syscall's struct lxb_trace_spec (what to copy, whether to answer, a line
 *   and/or statistics).  This program judges no SET: one it has no part for
 *   is Python's, which says what is wrong with it or runs it and leaves the
 *   part.  The tracer thread (csrc/trace.c) seizes the held guest and writes
 *   the lines itself (csrc/trace_fmt.c, as under the Python CLI); at the end
 *   the statistics come from lxb_trace_stats_write (trace.py format_stats,
 *   byte for byte), to stderr or appended to -o FILE, then the report, with
 *   the calls the tracer answered added (trace.Session._report).  Where
 *   autogroups would put the tracer and the guest (its own session) in two
 *   scheduling groups, lxrun first moves itself into a cpu cgroup of its own
 *   (tracer_cgroup_enter), which the zone inherits.
 *
 *   --stats without --trace counts from the kernel's syscall tracepoints
 *   instead (csrc/perfstats.c: no ptrace stop), with the brand's own filter
 *   and the tracer's spec for which syscalls count, when perf can be used
 *   (root; LXBRAND_STATS=ptrace forces the tracer, =perf refuses to run
 *   without perf); otherwise the tracer counts them as above.
 *
 *   --trace likewise comes from BPF programs on the same tracepoints
 *   (csrc/bpftrace.c: no ptrace stop, the same records into the same
 *   sink) under the brand's own filter, where lxrun may load them (root;
 *   LXBRAND_TRACE=ptrace forces the tracer, =bpf refuses to run without
 *   BPF); --inject, a Python matter, keeps the tracer.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lxbrand.h"
#include "common.h"
#include "perfstats.h"
#include "bpftrace.h"

#ifndef LXB_PYCLI
#error "LXB_PYCLI: the Python CLI's console script (set by csrc/frontdoor/Makefile)"
#endif
#ifndef LXB_SO
#error "LXB_SO, LXB_SO_SIZE, LXB_SO_MTIME_NS: the compiled module this was built beside"
#endif

#define EXIT_FAILED 125
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_ITEMS 256
/* lxbrand/idshift.py */
#define IDSHIFT_XATTR "trusted.lxbrand.idshift"
#define IDSHIFT_MARK "1879048192:65536"
#define IDSHIFT_MAPS "0 1879048192 65536\n"
#define ID_RANGE 65536

/* lxbrand/brand/compile.py FRONTDOOR_*: the cache file */
#define BRAND_MAGIC "lxbrand-brand-4\n"
#define BRAND_MAX_FILES 16
#define BRAND_KEY "lxbrand-frontdoor-key 1\n"
#define BRAND_HEADER 1332   /* ..., 4 uts names, then cap_drop (u64) */
#define BRAND_NEEDS_PYTHON 1
#define BRAND_MAX (BRAND_HEADER + 256 * 1024)

static char **g_argv;
static int g_argc;

static int debug_frontdoor(void)
{
    const char *d = getenv("LXRUN_DEBUG_FRONTDOOR");
    return d && *d && strcmp(d, "0") != 0;
}

/* ---- handing over to the Python CLI ---- */

static struct termios saved_tty, raw_tty;
static int tty_saved;
static sigset_t first_mask;          /* the signal mask we were started with */

static void restore_tty(void)
{
    if (tty_saved) {
        tcsetattr(0, TCSADRAIN, &saved_tty);
        tty_saved = 0;
    }
}

static void tracer_cgroup_leave(void);

static __attribute__((noreturn)) void delegate(const char *why, int exec_errno)
{
    char **av = calloc((size_t)g_argc + 1, sizeof *av);
    char num[16];
    int i;

    restore_tty();
    tracer_cgroup_leave();
    sigprocmask(SIG_SETMASK, &first_mask, NULL);
    if (debug_frontdoor())
        dprintf(2, "lxrun: front door: %s; handing over to %s\n", why, LXB_PYCLI);
    if (exec_errno) {
        snprintf(num, sizeof num, "%d", exec_errno);
        setenv("_LXRUN_EXEC_ERRNO", num, 1);
    }
    if (!av) {
        dprintf(2, "lxrun: out of memory\n");
        exit(EXIT_FAILED);
    }
    av[0] = (char *)"lxrun";
    for (i = 1; i < g_argc; i++)
        av[i] = g_argv[i];
    {
        /* Python's user site (~/.local/lib/pythonX.Y/site-packages) comes
           from $HOME and is searched before the system's: run by root with
           another user's HOME (sudo -E), the Python CLI imported that
           user's modules as root.  Only a HOME of this user's own counts
           (SECURITY.md, "lxrun's own files") */
        const char *home = getenv("HOME");
        struct stat hs;
        if (!home || stat(home, &hs) != 0 || hs.st_uid != geteuid())
            setenv("PYTHONNOUSERSITE", "1", 1);
    }
    execv(LXB_PYCLI, av);
    dprintf(2, "lxrun: cannot run the Python CLI %s: %s (make build)\n", LXB_PYCLI, strerror(errno));
    exit(EXIT_FAILED);
}

/* one line, as the Python CLI's _fail: "lxrun: A B" */
static __attribute__((noreturn)) void fail(int code, const char *a, const char *b)
{
    restore_tty();
    tracer_cgroup_leave();
    dprintf(2, "lxrun: %s%s\n", a, b);
    exit(code);
}

/* ---- options: the table generated from lxbrand/cli.py and config.py ----
 *
 * options.h (build/frontdoor/, written by options.py at build time) lists
 * every option of `lxrun run`: its flags, the parameter it sets, its arity,
 * its default, and whether the front door serves it.  This file holds no
 * flag: it knows parameters (ZoneConfig's field names) and applies those it
 * serves; any other option, and any option added to the Python CLI since,
 * is handed over to Python the moment it is seen.
 */
#include "options.h"

#define N_OPTS ((int)(sizeof fd_opts / sizeof fd_opts[0]))

/* the parameters applied here (options.py SERVED) */
enum { P_HOSTNAME, P_NET, P_BINDS, P_CWD, P_ENV, P_UID, P_GID, P_KREL, P_DENY, P_TMP, P_SHM, P_EPHEMERAL,
       P_TTY, P_REPORT, P_TRACE, P_TRACE_OUT, P_TRACE_FMT, P_STATS, P_STATS_FMT, P_N };
static const char *const served_params[P_N] = {
    "hostname", "net", "binds", "cwd", "env", "uid", "gid", "kernel_release", "deny", "tmp_size",
    "shm_size", "ephemeral", "tty", "report", "trace", "trace_output", "trace_format", "stats", "stats_format",
};

struct kv {
    const char *key;
    const char *value;
};

struct opts {
    const char *hostname, *net, *cwd, *kernel_release, *tmp_size, *shm_size, *uid, *gid;
    const char *report;              /* --report: "-" (stderr) or FILE, else NULL */
    const char *trace;               /* --trace[=SET]: the SET as given ("all" alone), else NULL */
    const char *trace_output;        /* -o FILE: the lines (and --stats), else stderr */
    int trace_format, stats, stats_format;    /* LXB_TRACE_TEXT or _JSON; --stats */
    int formats_given;               /* bit 0: --trace-format, bit 1: --stats-format */
    int ephemeral, tty;              /* tty: -1 unset */
    int fakeroot;                    /* a user's zone of one id (ZoneConfig.fakeroot_on): not an option here */
    const char *binds[MAX_ITEMS];
    int nbinds;
    struct kv env[MAX_ITEMS];
    int nenv;
    struct kv deny[MAX_ITEMS];       /* in first-given order, last value wins (a dict) */
    int ndeny;
    const char *rootfs;
    char **cmd;
    int ncmd;
};


/* P_* of a row the table says is served and this file applies, else -1 */
static int served_param(const struct fd_opt *op)
{
    int k;
    if (!op->served)
        return -1;
    for (k = 0; k < P_N; k++)
        if (strcmp(op->param, served_params[k]) == 0)
            return k;
    return -1;
}

/* the default of a served value option, from the table */
static const char *param_default(int p)
{
    int k;
    for (k = 0; k < N_OPTS; k++)
        if (fd_opts[k].arity == FD_VALUE && served_param(&fd_opts[k]) == p)
            return fd_opts[k].value;
    return NULL;
}

/* _LXRUN_FRONTDOOR_TABLE=1: the table as this binary has it (a test
   compares it with options.py's) */
static void dump_table(void)
{
    static const char *const arity[] = {"flag", "value", "optional"};
    int k;
    for (k = 0; k < N_OPTS; k++)
        printf("%s\t%s\t%s\t%s\t%s\n", fd_opts[k].name, fd_opts[k].param, arity[fd_opts[k].arity],
               fd_opts[k].value ? fd_opts[k].value : "-", served_param(&fd_opts[k]) >= 0 ? "served" : "python");
    printf("commands");
    for (k = 0; fd_commands[k]; k++)
        printf("\t%s", fd_commands[k]);
    printf("\n");
    exit(0);
}

static void kv_set(struct kv *items, int *n, const char *key, size_t keylen, const char *value)
{
    int i;
    for (i = 0; i < *n; i++)
        if (strlen(items[i].key) == keylen && strncmp(items[i].key, key, keylen) == 0) {
            items[i].value = value;
            return;
        }
    if (*n >= MAX_ITEMS)
        delegate("too many items", 0);
    items[*n].key = strndup(key, keylen);
    items[*n].value = value;
    (*n)++;
}

static const struct fd_opt *find_opt(const char *name, size_t len)
{
    int k;
    for (k = 0; k < N_OPTS; k++)
        if (strlen(fd_opts[k].name) == len && strncmp(fd_opts[k].name, name, len) == 0)
            return &fd_opts[k];
    return NULL;
}

/* click's parser for `run` (allow_interspersed_args=False): options, then
   ROOTFS, then CMD and everything after it */
static void parse(int argc, char **argv, struct opts *o)
{
    static char why[160];
    int i = 1, k;

    memset(o, 0, sizeof *o);
    if (getenv("_LXRUN_FRONTDOOR_TABLE"))
        dump_table();
    if (argc < 2)
        delegate("no arguments (help)", 0);
    if (getenv("_LXRUN_COMPLETE"))
        delegate("shell completion", 0);
    /* the table is the command line the Python CLI had at build time */
    if (!deps_fresh(FD_OPTS_DEPS, strlen(FD_OPTS_DEPS)))
        delegate("the command line's options changed since the front door was built (make build)", 0);
    o->hostname = param_default(P_HOSTNAME);
    o->net = param_default(P_NET);
    o->cwd = param_default(P_CWD);
    o->tmp_size = param_default(P_TMP);
    o->shm_size = param_default(P_SHM);
    o->uid = param_default(P_UID);
    o->gid = param_default(P_GID);
    o->tty = -1;
    o->trace_format = o->stats_format = LXB_TRACE_TEXT;
    if (!o->hostname || !o->net || !o->cwd || !o->tmp_size || !o->shm_size || !o->uid || !o->gid)
        delegate("a served option without a default in the table", 0);

    if (strcmp(argv[1], "run") == 0)
        i = 2;
    else
        for (k = 0; fd_commands[k]; k++)
            if (strcmp(argv[1], fd_commands[k]) == 0)
                delegate("a subcommand", 0);

    for (; i < argc; i++) {
        const char *a = argv[i], *value = NULL, *eq;
        const struct fd_opt *op;
        int attached = 0, p;

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == 0)
            break;
        if (a[1] == '-') {
            eq = strchr(a, '=');
            op = find_opt(a, eq ? (size_t)(eq - a) : strlen(a));
            if (eq) {
                attached = 1;
                value = eq + 1;
            }
        } else {
            /* -x, or -xVALUE as click takes it; a cluster of flags is Python's */
            op = find_opt(a, 2);
            if (op && a[2]) {
                if (op->arity != FD_VALUE)
                    delegate("a cluster of short options", 0);
                attached = 1;
                value = a + 2;
            }
        }
        if (!op)
            delegate("an option the front door does not know", 0);
        p = served_param(op);
        if (p < 0) {
            snprintf(why, sizeof why, "an option the Python CLI serves (%s)", op->name);
            delegate(why, 0);
        }
        if (op->arity == FD_FLAG) {
            if (attached)
                delegate("a value given to a flag", 0);
            value = op->value;
        } else if (op->arity == FD_OPTIONAL) {
            if (!attached)
                value = op->value;      /* the flag alone: the table says what it means */
        } else if (op->arity != FD_VALUE) {
            delegate("an option of an unknown arity", 0);
        } else if (!attached) {
            if (i + 1 >= argc)
                delegate("an option without its value", 0);
            value = argv[++i];
        }
        switch (p) {
        case P_HOSTNAME: o->hostname = value; break;
        case P_NET: o->net = value; break;
        case P_BINDS:
            if (o->nbinds >= MAX_ITEMS)
                delegate("too many --bind", 0);
            o->binds[o->nbinds++] = value;
            break;
        case P_CWD: o->cwd = value; break;
        case P_ENV: {
            const char *e = strchr(value, '=');
            if (!e || e == value)
                delegate("--env without K=V", 0);
            kv_set(o->env, &o->nenv, value, (size_t)(e - value), e + 1);
            break;
        }
        case P_UID: o->uid = value; break;
        case P_GID: o->gid = value; break;
        case P_KREL: o->kernel_release = value; break;
        case P_DENY: {
            const char *e = strchr(value, '=');
            size_t len = e ? (size_t)(e - value) : strlen(value);
            if (len == 0)
                delegate("--deny without a syscall", 0);
            /* config.parse_deny: SYSCALL alone, or SYSCALL=, is EPERM */
            kv_set(o->deny, &o->ndeny, value, len, (e && e[1]) ? e + 1 : "EPERM");
            break;
        }
        case P_TMP: o->tmp_size = value; break;
        case P_SHM: o->shm_size = value; break;
        case P_EPHEMERAL: o->ephemeral = value && strcmp(value, "1") == 0; break;
        case P_TTY: o->tty = value && strcmp(value, "1") == 0; break;
        case P_REPORT:
            if (!value || !*value)
                delegate("a --report= to judge", 0);
            o->report = value;
            break;
        case P_TRACE:
            if (!value || !*value)
                delegate("a --trace= to judge", 0);
            o->trace = value;
            break;
        case P_TRACE_OUT:
            if (!value || !*value)
                delegate("a -o to judge", 0);
            o->trace_output = value;
            break;
        case P_TRACE_FMT:
        case P_STATS_FMT:
            for (k = 0; fd_trace_formats[k] && strcmp(value, fd_trace_formats[k]) != 0; k++)
                ;
            if (!fd_trace_formats[k])
                delegate("a --trace-format or --stats-format to judge", 0);
            /* trace.FORMATS order: LXB_TRACE_TEXT is 1, LXB_TRACE_JSON 2 */
            *(p == P_TRACE_FMT ? &o->trace_format : &o->stats_format) = k + 1;
            o->formats_given |= p == P_TRACE_FMT ? 1 : 2;
            break;
        case P_STATS: o->stats = value && strcmp(value, "1") == 0; break;
        }
    }
    /* cli._watch_needs */
    if ((o->trace_output && !o->trace && !o->stats) || ((o->formats_given & 1) && !o->trace) ||
        ((o->formats_given & 2) && !o->stats))
        delegate("-o, --trace-format or --stats-format without --trace or --stats to judge", 0);
    if ((o->report || o->trace || o->stats) && !deps_fresh(FD_REPORT_DEPS, strlen(FD_REPORT_DEPS)))
        delegate("--report's or --trace's names or wording changed since the front door was built (make build)", 0);
    if (i + 1 >= argc)
        delegate("no ROOTFS or no CMD", 0);
    o->rootfs = argv[i];
    o->cmd = argv + i + 1;
    o->ncmd = argc - i - 1;
}

/* ---- values, judged as lxbrand/zone.py ZoneConfig.validate would; anything
   it would refuse goes to Python, which says why ---- */

/* os.path.abspath: cwd-relative made absolute, ".", ".." and "//" folded */
static char *abspath(const char *p)
{
    char cwd[PATH_MAX], *in, *out, *seg, *save = NULL;
    size_t len;
    int lead2 = p[0] == '/' && p[1] == '/' && p[2] != '/';

    if (p[0] == '/') {
        in = strdup(p);
    } else {
        if (!getcwd(cwd, sizeof cwd))
            delegate("getcwd failed", 0);
        len = strlen(cwd) + strlen(p) + 2;
        in = malloc(len);
        if (in)
            snprintf(in, len, "%s/%s", cwd, p);
    }
    if (!in)
        delegate("out of memory", 0);
    out = calloc(strlen(in) + 3, 1);
    if (!out)
        delegate("out of memory", 0);
    strcpy(out, lead2 ? "/" : "");
    for (seg = strtok_r(in, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            char *slash = strrchr(out, '/');
            if (slash && slash > out + lead2)
                *slash = 0;
            else
                out[lead2] = 0;
            continue;
        }
        strcat(out, "/");
        strcat(out, seg);
    }
    if (!out[0] || (lead2 && !out[1]))
        strcat(out, "/");
    free(in);
    return out;
}

/* an id as click.IntRange(0, 2**32 - 2) takes it: plain digits only here */
static int parse_id(const char *s)
{
    unsigned long long v = 0;
    const char *p = s;

    if (!*p || strlen(p) > 10)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    return v <= 4294967294ULL ? 0 : -1;
}

/* limits.tmpfs_size: "N%" (1-100) as given, else a size in bytes */
static const char *tmpfs_size(const char *s)
{
    static char bufs[2][32];
    static int which;
    const char *p = s;
    unsigned long long n = 0, mult = 1;
    size_t ndigits = 0, len = strlen(s);
    char *out;

    if (len >= 2 && len <= 3 && s[len - 1] == '%') {
        if (len == 2 && s[0] >= '1' && s[0] <= '9')
            return s;
        if (len == 3 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9')
            return s;
    }
    if (strcmp(s, "100%") == 0)
        return s;
    for (; *p >= '0' && *p <= '9'; p++, ndigits++)
        n = n * 10 + (unsigned)(*p - '0');
    if (ndigits == 0 || ndigits > 15)
        return NULL;
    if (*p) {
        const char *units = "kmgt";
        char c = (char)(*p | 0x20);
        const char *u = strchr(units, c);
        if (u && c) {
            int k;
            for (k = 0; k <= u - units; k++)
                mult *= 1024;
            p++;
        }
    }
    if (*p == 'i' || *p == 'I')
        p++;
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p || n == 0 || n > (1ULL << 62) / mult)
        return NULL;
    out = bufs[which++ & 1];
    snprintf(out, sizeof bufs[0], "%llu", n * mult);
    return out;
}

/* zone._no_hosts_file: the rootfs has no /etc/hosts, or an empty one */
static int no_hosts_file(const char *rootfs)
{
    char path[PATH_MAX];
    struct stat st;

    snprintf(path, sizeof path, "%s/etc/hosts", rootfs);
    if (lstat(path, &st) == 0)
        return st.st_size == 0;
    if (errno != ENOENT)
        return 0;
    snprintf(path, sizeof path, "%s/etc", rootfs);
    return is_dir(path);
}

/* command.home: uid's home in the zone's /etc/passwd (opened with
   RESOLVE_IN_ROOT: lxrun may be root), else /root for root and / */
static const char *zone_home(const char *rootfs, unsigned long uid)
{
    static char home[PATH_MAX];
    struct open_how {
        uint64_t flags, mode, resolve;
    } how = {O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0, 0x10 | 0x02};   /* IN_ROOT | NO_MAGICLINKS */
    char line[4096], want[32];
    struct stat st;
    int root, fd;
    FILE *f;

    snprintf(want, sizeof want, "%lu", uid);
    if ((root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        goto none;
    fd = (int)syscall(437, root, "etc/passwd", &how, sizeof how);      /* openat2 */
    close(root);
    if (fd < 0)
        goto none;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r"))) {
        close(fd);
        goto none;
    }
    while (fgets(line, sizeof line, f)) {
        char *field[7], *p = line;
        int n = 0;
        line[strcspn(line, "\n")] = 0;
        while (n < 7 && p) {
            field[n++] = p;
            if ((p = strchr(p, ':')))
                *p++ = 0;
        }
        if (n == 7 && strcmp(field[2], want) == 0 && field[5][0] == '/' && strlen(field[5]) < sizeof home) {
            strcpy(home, field[5]);
            fclose(f);
            return home;
        }
    }
    fclose(f);
none:
    return uid == 0 ? "/root" : "/";
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        delegate("out of memory", 0);
    va_end(ap);
    return s;
}

/* ---- id maps, as ZoneConfig.id_maps and guest_maps ---- */

/* (start, count) of uid's subordinate ids in /etc/subuid or /etc/subgid */
static int subordinate(const char *path, uid_t uid, unsigned long *start)
{
    struct passwd *pw = getpwuid(uid);
    char line[512], uidstr[16];
    FILE *f = fopen(path, "re");
    int found = 0;

    if (!f)
        return 0;
    snprintf(uidstr, sizeof uidstr, "%u", uid);
    while (!found && fgets(line, sizeof line, f)) {
        char *who = line, *s, *c, *end;
        unsigned long st, cnt;
        line[strcspn(line, "\r\n")] = 0;
        s = strchr(line, ':');
        if (!s)
            continue;
        *s++ = 0;
        c = strchr(s, ':');
        if (!c)
            continue;
        *c++ = 0;
        if (!*s || !*c || strspn(s, "0123456789") != strlen(s) || strspn(c, "0123456789") != strlen(c))
            continue;
        st = strtoul(s, &end, 10);
        cnt = strtoul(c, &end, 10);
        if ((strcmp(who, uidstr) == 0 || (pw && strcmp(who, pw->pw_name) == 0)) && cnt >= ID_RANGE - 1) {
            *start = st;
            found = 1;
        }
    }
    fclose(f);
    return found;
}

static int on_path(const char *tool)
{
    const char *path = getenv("PATH");
    char *dirs, *d, *save = NULL, buf[PATH_MAX];
    int found = 0;

    if (!path)
        return 0;
    dirs = strdup(path);
    for (d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, sizeof buf, "%s/%s", *d ? d : ".", tool);
        found = access(buf, X_OK) == 0 && !is_dir(buf);
    }
    free(dirs);
    return found;
}

static char *map_around(unsigned long inside, unsigned long caller, unsigned long start)
{
    char *a = xasprintf("%s", ""), *b;
    if (inside > 0) {
        b = xasprintf("%s%lu %lu %lu\n", a, 0UL, start, inside < ID_RANGE ? inside : ID_RANGE);
        free(a);
        a = b;
    }
    b = xasprintf("%s%lu %lu 1\n", a, inside, caller);
    free(a);
    a = b;
    if (inside + 1 < ID_RANGE) {
        b = xasprintf("%s%lu %lu %lu\n", a, inside + 1, start + inside, ID_RANGE - inside - 1);
        free(a);
        a = b;
    }
    return a;
}

/* each line "inside outside count" as "inside inside count" */
static char *same_ids(const char *map)
{
    char *out = xasprintf("%s", ""), *copy = strdup(map), *line, *save = NULL, *n;
    for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long in, outside, count;
        if (sscanf(line, "%lu %lu %lu", &in, &outside, &count) != 3)
            continue;
        n = xasprintf("%s%lu %lu %lu\n", out, in, in, count);
        free(out);
        out = n;
    }
    free(copy);
    return out;
}

static void id_maps(struct lxb_config *c, unsigned long uid, unsigned long gid)
{
    unsigned long us, gs;

    if (geteuid() == 0) {
        c->uid_map = c->gid_map = "0 0 4294967295\n";
        c->newidmap = 0;
        c->guest_uid_map = c->guest_gid_map = IDSHIFT_MAPS;
        return;
    }
    if (subordinate("/etc/subuid", geteuid(), &us) && subordinate("/etc/subgid", geteuid(), &gs) &&
        on_path("newuidmap") && on_path("newgidmap")) {
        c->uid_map = map_around(uid, geteuid(), us);
        c->gid_map = map_around(gid, getegid(), gs);
        c->newidmap = 1;
    } else {
        c->uid_map = xasprintf("%lu %u 1\n", uid, geteuid());
        c->gid_map = xasprintf("%lu %u 1\n", gid, getegid());
        c->newidmap = 0;
    }
    c->guest_uid_map = same_ids(c->uid_map);
    c->guest_gid_map = same_ids(c->gid_map);
}

/* ---- the brand cache ---- */

struct brand {
    unsigned char kind[LXB_NR_MAX];
    unsigned char c_handler[LXB_NR_MAX];
    char uts[4][LXB_UTS_LEN];        /* sysname, release, version, machine */
    const unsigned char *bpf;
    int bpf_len;
    int notifies;                    /* some syscall has a C handler */
    struct lxb_step files[BRAND_MAX_FILES];   /* the personality's files, under --kernel-release */
    int nfiles;
    uint64_t cap_drop;               /* lxbrand/personality.py CAP_DROP */
};

static char *brand_key(const struct opts *o, const struct utsname *host)
{
    /* the install (its compiled module's path) first: two installs of one
       user (a checkout and /opt/lxbrand) share ~/.cache/lxbrand, and one's
       brand or tracer's part is not the other's */
    char *key = xasprintf("%smodule %s\nhost %s %s\nrelease %s\n", BRAND_KEY, LXB_SO, host->release, host->version,
                          o->kernel_release ? o->kernel_release : ""), *n;
    int i;
    for (i = 0; i < o->ndeny; i++) {
        n = xasprintf("%sdeny %s=%s\n", key, o->deny[i].key, o->deny[i].value);
        free(key);
        key = n;
    }
    if (o->report) {
        /* lxbrand/brand/compile.py frontdoor_key(..., report=True) */
        n = xasprintf("%sreport 1\n", key);
        free(key);
        key = n;
    }
    if (o->fakeroot) {
        n = xasprintf("%sfakeroot 1\n", key);     /* frontdoor_key(..., fakeroot=True) */
        free(key);
        key = n;
    }
    return key;
}

static const char *cache_dir(void)
{
    const char *d = getenv("LXBRAND_CACHE"), *home;
    struct passwd *pw;

    if (d && *d)
        return d;
    home = getenv("HOME");
    if (!home) {
        pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : "/";
    }
    return xasprintf("%s/.cache/lxbrand", home);
}

/* 0 and *b filled, or the reason it cannot be used */
static const char *load_brand(const struct opts *o, struct brand *b)
{
    struct utsname host;
    struct stat st, so;
    char *key, *dir, *path;
    unsigned char *buf;
    ssize_t n;
    uint32_t flags, nr_max, key_len, deps_len, bpf_len, files_len;
    int fd, i;

    /* this program and the compiled module come from one build */
    if (stat(LXB_SO, &so) != 0 || (long long)so.st_size != LXB_SO_SIZE ||
        (long long)so.st_mtim.tv_sec * 1000000000LL + so.st_mtim.tv_nsec != LXB_SO_MTIME_NS)
        return "the compiled module changed since the front door was built (make build)";
    if (uname(&host) != 0)
        return "uname failed";
    key = brand_key(o, &host);
    dir = xasprintf("%s/frontdoor", cache_dir());
    path = xasprintf("%s/%016llx.brand", dir, (unsigned long long)fnv1a64(key, strlen(key)));
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return "no compiled brand in the cache for these options";
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !trusted(&st) || st.st_size > BRAND_MAX ||
        st.st_size < BRAND_HEADER || stat(dir, &so) != 0 || !trusted(&so)) {
        close(fd);
        return "the cached brand is not this user's alone";
    }
    buf = malloc((size_t)st.st_size);
    if (!buf)
        return "out of memory";
    n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    if (n != st.st_size || memcmp(buf, BRAND_MAGIC, 16) != 0)
        return "the cached brand has another format";
    flags = le32(buf + 16);
    nr_max = le32(buf + 20);
    key_len = le32(buf + 24);
    deps_len = le32(buf + 28);
    bpf_len = le32(buf + 32);
    files_len = le32(buf + 36);
    if (nr_max != LXB_NR_MAX ||
        (uint64_t)BRAND_HEADER + key_len + deps_len + bpf_len + files_len != (uint64_t)n ||
        bpf_len == 0 || bpf_len % 8)
        return "the cached brand has another format";
    if (key_len != strlen(key) || memcmp(buf + BRAND_HEADER, key, key_len) != 0)
        return "the cached brand is for other options";
    if (!deps_fresh((const char *)buf + BRAND_HEADER + key_len, deps_len))
        return "the cached brand is older than the table";
    if (flags & BRAND_NEEDS_PYTHON)
        return "the brand has a Python handler";
    memcpy(b->kind, buf + 40, LXB_NR_MAX);
    memcpy(b->c_handler, buf + 40 + LXB_NR_MAX, LXB_NR_MAX);
    for (i = 0; i < 4; i++) {
        memcpy(b->uts[i], buf + 40 + 2 * LXB_NR_MAX + i * LXB_UTS_LEN, LXB_UTS_LEN);
        b->uts[i][LXB_UTS_LEN - 1] = 0;
    }
    b->cap_drop = 0;
    for (i = 7; i >= 0; i--)
        b->cap_drop = b->cap_drop << 8 | buf[40 + 2 * LXB_NR_MAX + 4 * LXB_UTS_LEN + i];
    b->notifies = 0;
    for (i = 0; i < LXB_NR_MAX; i++) {
        if (b->kind[i] == LXB_KIND_PY)
            return "the brand has a Python handler";
        if (b->kind[i] != LXB_KIND_NONE)
            b->notifies = 1;
    }
    b->bpf = buf + BRAND_HEADER + key_len + deps_len;
    b->bpf_len = (int)bpf_len;
    /* "path\0text\0" each: shown read-only in the zone */
    {
        const char *f = (const char *)b->bpf + bpf_len, *end = f + files_len;
        b->nfiles = 0;
        while (f < end) {
            const char *path = f, *text = memchr(f, 0, (size_t)(end - f));
            const char *stop = text ? memchr(text + 1, 0, (size_t)(end - text - 1)) : NULL;
            if (!stop || path[0] != '/' || b->nfiles >= BRAND_MAX_FILES)
                return "the cached brand has another format";
            b->files[b->nfiles].op = LXB_STEP_FILE;
            b->files[b->nfiles].flags = LXB_STEP_F_RO;
            b->files[b->nfiles].path = path;
            b->files[b->nfiles].src = NULL;
            b->files[b->nfiles].data = text + 1;
            b->nfiles++;
            f = stop + 1;
        }
    }
    if (o->kernel_release && !b->nfiles)
        return "the cached brand has no personality files";
    free(key);
    free(dir);
    free(path);
    return NULL;
}

/* ---- the tracer's part (THE TRACE): lxbrand/trace.py store_frontdoor_trace ---- */

#define TRACE_HEADER 36                  /* magic, then nr_max spec_size key_len deps_len bpf_len */

static struct lxb_tracer tracer;

/* NULL and tracer.spec and b->bpf filled (the filter with the traced
   syscalls RET_TRACE), or the reason it cannot be used; the same checks as
   load_brand's */
static const char *load_trace(const struct opts *o, struct brand *b)
{
    struct utsname host;
    struct stat st, ds;
    char *key, *base, *dir, *path;
    unsigned char *buf;
    ssize_t n;
    uint32_t nr_max, spec_size, key_len, deps_len, bpf_len;
    int fd, i;

    if (uname(&host) != 0)
        return "uname failed";
    base = brand_key(o, &host);
    key = xasprintf("%strace %s\nstats %d\n", base, o->trace ? o->trace : "-", o->stats);
    free(base);
    dir = xasprintf("%s/frontdoor", cache_dir());
    path = xasprintf("%s/%016llx.trace", dir, (unsigned long long)fnv1a64(key, strlen(key)));
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return "no tracer's part in the cache for this --trace/--stats";
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !trusted(&st) || st.st_size > BRAND_MAX ||
        st.st_size < TRACE_HEADER || stat(dir, &ds) != 0 || !trusted(&ds)) {
        close(fd);
        return "the cached tracer's part is not this user's alone";
    }
    buf = malloc((size_t)st.st_size);
    if (!buf)
        return "out of memory";
    n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    if (n != st.st_size || memcmp(buf, FD_TRACE_MAGIC, 16) != 0)
        return "the cached tracer's part has another format";
    nr_max = le32(buf + 16);
    spec_size = le32(buf + 20);
    key_len = le32(buf + 24);
    deps_len = le32(buf + 28);
    bpf_len = le32(buf + 32);
    if (nr_max != LXB_NR_MAX || spec_size != sizeof(struct lxb_trace_spec) || bpf_len == 0 || bpf_len % 8 ||
        (uint64_t)TRACE_HEADER + key_len + deps_len + bpf_len + (uint64_t)nr_max * spec_size != (uint64_t)n)
        return "the cached tracer's part has another format";
    if (key_len != strlen(key) || memcmp(buf + TRACE_HEADER, key, key_len) != 0)
        return "the cached tracer's part is for other options";
    if (!deps_fresh((const char *)buf + TRACE_HEADER + key_len, deps_len))
        return "the cached tracer's part is older than the table";
    b->bpf = buf + TRACE_HEADER + key_len + deps_len;
    b->bpf_len = (int)bpf_len;
    memcpy(tracer.spec, b->bpf + bpf_len, sizeof tracer.spec);
    /* what trace.copies() and Observe.actions() can write, nothing else:
       csrc/trace.c indexes the registers with arg and lenarg */
    for (i = 0; i < LXB_NR_MAX; i++) {
        const struct lxb_trace_spec *sp = &tracer.spec[i];
        int k;
        if (sp->mode > LXB_TRACE_ANSWER || sp->ncopy > LXB_TRACE_SLOTS ||
            sp->show > (LXB_SHOW_LINE | LXB_SHOW_STATS) || sp->err > 4095)
            return "the cached tracer's part has another format";
        for (k = 0; k < sp->ncopy; k++) {
            const struct lxb_trace_copy *c = &sp->copy[k];
            int iov = c->how == LXB_COPY_IOV_IN || c->how == LXB_COPY_IOV_OUT;   /* the last copy, running on */
            int sel = c->how == LXB_COPY_SELECT;                                  /* likewise, from slot 0 */
            int msg = c->how == LXB_COPY_MSGHDR || c->how == LXB_COPY_MMSGHDR;     /* the only copy, running on */
            int known = (c->how >= LXB_COPY_STR && c->how <= LXB_COPY_IOV_OUT) || c->how == LXB_COPY_INT_INOUT ||
                        sel || msg || c->how == LXB_COPY_PAIR || c->how == LXB_COPY_OUT_RESTART ||
                        c->how == LXB_COPY_REFRESH || c->how == LXB_COPY_DIRENTS || c->how == LXB_COPY_SIGFRAME;
            if (c->arg > 5 || !known ||
                (c->lenarg > 6 && c->lenarg != LXB_COPY_LEN_RET) ||
                c->size > (iov || sel || msg ? (LXB_TRACE_SLOTS - k) * LXB_TRACE_SLOT : LXB_TRACE_SLOT) ||
                (c->how == LXB_COPY_PAIR && c->size > LXB_TRACE_SLOT / 2) ||
                (iov && (k != sp->ncopy - 1 || c->lenarg > 5)) || (sel && (sp->ncopy != 1 || c->arg != 0)) ||
                (msg && (sp->ncopy != 1 || k != 0)))
                return "the cached tracer's part has another format";
        }
    }
    free(key);
    free(dir);
    free(path);
    return NULL;
}

/* The tracer and its tracees in one scheduling group.  With autogroups
   (kernel.sched_autogroup_enabled, tasks in the root cpu cgroup) the
   guest, which has its own session, is a group of its own and lxrun's
   tracer thread another: the tracee a ptrace resume wakes then preempts
   the tracer as one group another (perf sched: ~1500 involuntary switches
   of the tracer on w7, none for strace -c, whose tracee shares its session;
   strace -c with a setsid'd tracee shows the same switches and the same
   slowdown).  A task in any other cpu cgroup has no autogroup: lxrun moves
   itself, before the zone exists, into a cpu cgroup of its own
   (cgroup v1 cpu, where it may: root), so that the zone, its descendant,
   shares it, and the zone's cgroup namespace is rooted there (the guest
   sees "/", as before).  It moves back and removes it at the end.  Where
   it cannot, the run goes on as before. */
static char trace_cg[PATH_MAX], trace_cg_parent[PATH_MAX];

static int write_pid(const char *dir)
{
    char path[PATH_MAX + 16], num[24];
    int fd, n, ok;
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = snprintf(num, sizeof num, "%d\n", (int)getpid());
    ok = write(fd, num, (size_t)n) == n;
    close(fd);
    return ok ? 0 : -1;
}

/* the cgroups of traced runs that ended without leaving theirs (killed):
   empty, they go (rmdir of a cgroup with tasks fails, EBUSY) */
static void tracer_cgroups_sweep(const char *mount)
{
    DIR *d = opendir(mount);
    struct dirent *e;
    char path[PATH_MAX];
    int pid;

    while (d && (e = readdir(d))) {
        if (sscanf(e->d_name, "lxbrand-trace-%d", &pid) != 1 || pid <= 0 ||
            (kill(pid, 0) == 0 || errno != ESRCH))
            continue;
        snprintf(path, sizeof path, "%s/%s", mount, e->d_name);
        rmdir(path);
    }
    if (d)
        closedir(d);
}

static void tracer_cgroup_enter(void)
{
    static const char *const mounts[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", NULL};
    char line[512], buf[8] = "";
    FILE *f;
    int in_root = 0, i;

    if (lxb_read_small("/proc/sys/kernel/sched_autogroup_enabled", buf, sizeof buf) <= 0 || buf[0] != '1')
        return;
    f = fopen("/proc/self/cgroup", "re");
    while (f && fgets(line, sizeof line, f)) {
        /* "N:cpu,cpuacct:/path" (v1): autogroups only apply at the root */
        char *c = strchr(line, ':'), *path = c ? strchr(c + 1, ':') : NULL, *tok, *save = NULL;
        if (!path)
            continue;
        *path++ = 0;
        path[strcspn(path, "\n")] = 0;
        for (tok = strtok_r(c + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (strcmp(tok, "cpu") == 0)
                in_root = strcmp(path, "/") == 0;
    }
    if (f)
        fclose(f);
    if (!in_root)
        return;
    for (i = 0; mounts[i]; i++) {
        struct stat st;
        snprintf(trace_cg, sizeof trace_cg, "%s/lxbrand-trace-%d", mounts[i], (int)getpid());
        if (stat(mounts[i], &st) != 0)
            continue;
        tracer_cgroups_sweep(mounts[i]);
        if (mkdir(trace_cg, 0755) != 0)
            continue;
        if (write_pid(trace_cg) == 0) {
            snprintf(trace_cg_parent, sizeof trace_cg_parent, "%s", mounts[i]);
            return;
        }
        rmdir(trace_cg);
    }
    trace_cg[0] = 0;
}

static void tracer_cgroup_leave(void)
{
    if (!trace_cg_parent[0])
        return;
    if (write_pid(trace_cg_parent) == 0)
        rmdir(trace_cg);
    trace_cg_parent[0] = 0;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- signals: forwarded to the zone's init, which signals the guest's
   process group (zone_init.c) ----
 *
 * Every catchable signal but our own children's and our own faults is
 * blocked in every thread from before the zone starts, and one thread takes
 * them with sigwaitinfo: those that come before init exists wait, pending,
 * and none interrupts a system call of ours.  init is signalled through a
 * pidfd, so a signal that comes after init was reaped reaches no one else.
 */

static int init_pidfd = -1;
static int pty_master = -1;
static int in_tty;
static sigset_t forwarded_set;

/* --tty, lxrun in the foreground: the terminal raw again, at its size now
   (a new size signals the guest: WINCH, it redraws) */
static void job_raw(void)
{
    struct winsize ws;
    if (tcgetpgrp(0) != getpgrp())
        return;                  /* `bg`: the terminal is the shell's */
    lxb_tty_take_eofs(0);        /* pty.c: made raw, an EOF would read as a NUL */
    tcsetattr(0, TCSANOW, &raw_tty);
    tty_saved = 1;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0)
        ioctl(pty_master, TIOCSWINSZ, &ws);
}

/* --tty: the guest stopped (^Z typed to the zone's terminal, its own
   kill(0, SIGTSTP), kill -STOP in the zone): lxrun puts its terminal back
   and stops with the guest's signal, so the shell says "Stopped" as for the
   program run natively; continued (`fg`), it makes the terminal raw and
   continues the guest's group (zone_init.c JOB CONTROL) */
static void job_stop(int status)
{
    int sig = WSTOPSIG(status);
    sigset_t one;

    lxb_pty_drain(pty_master, 200);
    restore_tty();
    if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
        /* to this thread, where it is unblocked for the moment: the default
           action stops lxrun (the forwarding thread never sees it); in an
           orphaned process group the kernel drops it and nothing stops */
        sigemptyset(&one);
        sigaddset(&one, sig);
        syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        pthread_sigmask(SIG_BLOCK, &one, NULL);
    } else {
        kill(getpid(), SIGSTOP);
    }
    job_raw();
    syscall(SYS_pidfd_send_signal, init_pidfd, SIGCONT, NULL, 0);
}

static int forwarded(int sig)
{
    switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGCHLD:
    /* our own faults, never a request */
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS:
        return 0;
    }
    return 1;
}

static void *forward_main(void *arg)
{
    (void)arg;
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&forwarded_set, &si);
        if (sig < 0)
            continue;
        if (sig == SIGWINCH && in_tty) {
            /* the terminal's new size is the pty's, which signals the guest */
            struct winsize ws;
            if (ioctl(0, TIOCGWINSZ, &ws) == 0)
                ioctl(pty_master, TIOCSWINSZ, &ws);
            continue;
        }
        if (sig == SIGCONT && in_tty)
            job_raw();           /* `fg`: the terminal is the guest's again */
        syscall(SYS_pidfd_send_signal, init_pidfd, sig, NULL, 0);
        /* a job stop (kill -TSTP, ^Z on lxrun's terminal with --no-tty) stops
           the guest's job and then lxrun, so the shell sees its job stopped;
           `fg` sends CONT, forwarded too.  With --tty the guest is a job of
           the zone's terminal: lxrun stops when it does (job_stop) */
        if ((sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) && !in_tty)
            kill(getpid(), SIGSTOP);
    }
    return NULL;
}

/* block them, in this thread and every thread it starts */
static void block_forwarded(void)
{
    int sig;

    sigemptyset(&forwarded_set);
    for (sig = 1; sig < NSIG; sig++)
        if (forwarded(sig))
            sigaddset(&forwarded_set, sig);    /* refuses glibc's own (32, 33) */
    sigprocmask(SIG_BLOCK, &forwarded_set, NULL);
}

/* ---- the C supervisor and the terminal relay, in threads ---- */

static struct lxb_sup sup;
static volatile int sup_rc;

static void *supervise(void *arg)
{
    int rc = lxb_supervise(&sup);
    (void)arg;
    if (rc < 0) {
        /* fail closed: a zone whose supervisor is gone does not keep running */
        sup_rc = rc;
        if (init_pidfd >= 0)
            syscall(SYS_pidfd_send_signal, (int)init_pidfd, SIGKILL, NULL, 0);
    }
    return NULL;
}

struct relay {
    int master, stop;
    volatile int done;
};

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    lxb_pty_relay(0, 1, r->master, r->stop);
    r->done = 1;
    return NULL;
}

/* supervisor.c's upcall: never reached, a brand with a Python handler is
   handed over to the Python CLI */
int lxb_py_dispatch(void *handle, const struct lxb_call *call, struct lxb_reply *reply)
{
    (void)handle;
    (void)call;
    reply->error = ENOSYS;
    return 0;
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(t, &attr, fn, arg) != 0)
        fail(EXIT_FAILED, "cannot start a thread: ", strerror(errno));
    pthread_attr_destroy(&attr);
}

/* ---- the report (THE REPORT): lxbrand/trace.py make_report and format_report ---- */

/* the report's section of a dispatch kind: emulated, denied, unsupported, or -1 */
static int report_section(int kind)
{
    switch (kind) {
    case LXB_KIND_C: case LXB_KIND_PY: return 0;
    case LXB_KIND_DENIED: return 1;
    case LXB_KIND_UNSUPPORTED: return 2;
    }
    return -1;
}

/* the personality's files (b->files, under --kernel-release), watched for
   opens through the held guest's root (lxbrand/trace.py PathWatch): one
   inotify watch each, IN_CLOSE_NOWRITE too so that the kernel never merges
   two opens into one event; -1 when there is nothing to watch */
static int path_wd[BRAND_MAX_FILES];

static int watch_paths(const struct brand *b, int guest_pidfd)
{
    char line[128], path[PATH_MAX];
    long pid = -1;
    FILE *f;
    int fd, i;

    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", guest_pidfd);
    f = fopen(path, "re");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Pid:", 4) == 0)
            pid = strtol(line + 4, NULL, 10);
    if (f)
        fclose(f);
    if (pid <= 0 || (fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
        return -1;
    for (i = 0; i < b->nfiles; i++) {
        snprintf(path, sizeof path, "/proc/%ld/root%s", pid, b->files[i].path);
        path_wd[i] = inotify_add_watch(fd, path, IN_OPEN | IN_CLOSE_NOWRITE);
    }
    return fd;
}

/* opens[i]: how often b->files[i] was opened; closes fd */
static void paths_opened(const struct brand *b, int fd, uint64_t *opens)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    int i;

    if (fd < 0)
        return;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        char *p = buf;
        while (p + sizeof(struct inotify_event) <= buf + n) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            for (i = 0; i < b->nfiles; i++)
                if ((ev->mask & IN_OPEN) && ev->wd == path_wd[i] && path_wd[i] >= 0)
                    opens[i]++;
            p += sizeof(struct inotify_event) + ev->len;
        }
    }
    close(fd);
}

/* the calls the tracer answered (a traced denied or unsupported syscall,
   under --trace or --stats with --report), as trace.Session._report adds
   them to the supervisor's: count, and the first caller when the
   supervisor had none */
static uint64_t ans_count[LXB_NR_MAX];
static char *ans_first[LXB_NR_MAX];
/* and those of numbers outside the arrays (lxb_trace_past), in the order seen */
static int32_t ans_past_nr[LXB_TRACE_PAST];
static uint64_t ans_past_count[LXB_TRACE_PAST];
static int ans_npast;

static void tracer_answered(void)
{
    char cmd[LXB_TRACE_SLOT + 1];
    int32_t err;
    int nr, len, i;

    for (nr = 0; nr < LXB_NR_MAX; nr++) {
        if (tracer.spec[nr].mode != LXB_TRACE_ANSWER)
            continue;
        ans_count[nr] = lxb_trace_answered(&tracer, nr, &err, cmd, LXB_TRACE_SLOT, &len);
        if (!ans_count[nr] || len <= 0)
            continue;
        /* raw.rstrip(b"\0").replace(b"\0", b" ") */
        while (len > 0 && cmd[len - 1] == 0)
            len--;
        for (i = 0; i < len; i++)
            if (!cmd[i])
                cmd[i] = ' ';
        cmd[len] = 0;
        if (len)
            ans_first[nr] = strdup(cmd);
    }
    for (i = 0; lxb_trace_past(&tracer, i, &ans_past_nr[ans_npast]); i++) {
        ans_past_count[ans_npast] = lxb_trace_answered(&tracer, ans_past_nr[ans_npast], &err, cmd, LXB_TRACE_SLOT, &len);
        if (ans_past_count[ans_npast])
            ans_npast++;
    }
}

static uint64_t report_count(const struct lxb_report *rep, int nr)
{
    return (rep ? rep->count[nr] : 0) + ans_count[nr];
}

static const char *report_first(const struct lxb_report *rep, int nr)
{
    if (rep && rep->count[nr] && rep->first_state[nr] == 2 && rep->first[nr][0])
        return rep->first[nr];
    return ans_first[nr];
}

/* a report line's name: the table's, or for a number it has no name for
   (the filter's ENOSYS, counted as unsupported: trace.py make_report) as
   strace names it, syscall_0x1f4 (in buf); NULL: none */
static const char *report_name(int nr, char *buf, size_t size)
{
    if (nr >= 0 && nr < LXB_NR_MAX && fd_syscall_names[nr])
        return fd_syscall_names[nr];
    snprintf(buf, size, "syscall_%#llx", (unsigned long long)(int64_t)nr);
    return buf;
}

/* the numbers outside the arrays (negative, or past them) the supervisor
   counted (struct lxb_report past_nr) and the tracer answered
   (ans_past_nr), by number as trace.make_report orders them (a negative
   one as the unsigned number it is named by): their numbers and counts in
   nrs[] and counts[], how many */
#define REPORT_PAST_MAX (LXB_REPORT_PAST + LXB_TRACE_PAST)
static int report_past(const struct lxb_report *rep, int32_t *nrs, uint64_t *counts)
{
    int i, j, n = 0;

    for (i = 0; i < LXB_REPORT_PAST + ans_npast; i++) {
        int32_t nr = i < LXB_REPORT_PAST ? (rep ? rep->past_nr[i] : 0) : ans_past_nr[i - LXB_REPORT_PAST];
        uint64_t c = i < LXB_REPORT_PAST ? (rep ? rep->past_count[i] : 0) : ans_past_count[i - LXB_REPORT_PAST];
        if (!c || (nr >= 0 && nr < LXB_NR_MAX))
            continue;
        for (j = 0; j < n && nrs[j] != nr; j++)
            ;
        if (j == n) {
            nrs[n] = nr;
            counts[n++] = 0;
        }
        counts[j] += c;
    }
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && (uint32_t)nrs[j - 1] > (uint32_t)nrs[j]; j--) {
            int32_t k = nrs[j];
            uint64_t kc = counts[j];
            nrs[j] = nrs[j - 1];
            counts[j] = counts[j - 1];
            nrs[j - 1] = k;
            counts[j - 1] = kc;
        }
    return n;
}

/* an output (-o FILE's lines or statistics, --report's FILE) that could
   not be written: said in one line naming it, and lxrun fails (125) after
   the run, which ran on (trace.py output_failed) */
static int outputs_failed;

static void output_failed(const char *what, int err)
{
    dprintf(2, "lxrun: %s: %s; it is not whole\n", what, strerror(err));
    outputs_failed = 1;
}

/* --report=FILE, and -o FILE for --stats: opened before the guest runs,
   as a shell opens a redirection, never after it ran.  A guest that can
   write where they go (a rw --bind, its rootfs) could otherwise replace
   FILE with a symlink to any host file, which lxrun, as root, would then
   truncate and write (SECURITY.md, "lxrun's own files").  A FILE that
   cannot be opened is said as before: the report's at once, the stats'
   after the run. */
static int report_out = -1, stats_out = -1;
static char stats_why[PATH_MAX + 128];  /* why stats_out is not open, when not errno's */

/* The owner of the first symlink on path's way that is neither root's nor
   ours, else -1 (also when a part of it does not exist yet): a guest's
   symlink, left where a rw --bind or its rootfs lies, would have a later
   run of lxrun, as root, write into the host file it names
   (lxbrand/safeopen.py foreign_link, SECURITY.md "lxrun's own files") */
static long foreign_link(const char *path)
{
    char cur[PATH_MAX] = "", todo[2 * PATH_MAX], target[PATH_MAX], name[NAME_MAX + 1], rest[2 * PATH_MAX];
    struct stat st;
    size_t pos = 0, len;
    ssize_t n;
    int links = 0;

    if (path[0] == '/')
        snprintf(todo, sizeof todo, "%s", path);
    else if (getcwd(target, sizeof target))
        snprintf(todo, sizeof todo, "%s/%s", target, path);
    else
        return -1;
    for (;;) {
        while (todo[pos] == '/')
            pos++;
        if (!todo[pos])
            return -1;
        len = strcspn(todo + pos, "/");
        if (len > NAME_MAX || strlen(cur) + 1 + len >= sizeof cur)
            return -1;
        memcpy(name, todo + pos, len);
        name[len] = 0;
        pos += len;
        if (strcmp(name, ".") == 0)
            continue;
        if (strcmp(name, "..") == 0) {
            char *slash = strrchr(cur, '/');
            if (slash)
                *slash = 0;
            continue;
        }
        strcat(cur, "/");
        strcat(cur, name);
        if (lstat(cur, &st) != 0)
            return -1;
        if (!S_ISLNK(st.st_mode))
            continue;
        if (st.st_uid != 0 && st.st_uid != geteuid())
            return (long)st.st_uid;
        n = readlink(cur, target, sizeof target - 1);
        if (n <= 0 || ++links > 40)
            return -1;
        target[n] = 0;
        if (strstr(target, ":["))
            return -1;          /* proc's link to a pipe or socket: an end */
        *strrchr(cur, '/') = 0; /* the link's directory, where a relative target starts */
        if (target[0] == '/')
            cur[0] = 0;
        len = strlen(todo + pos);
        if ((size_t)n + 1 + len >= sizeof rest)
            return -1;
        memcpy(rest, target, (size_t)n);
        rest[n] = '/';
        memcpy(rest + n + 1, todo + pos, len + 1);
        memcpy(todo, rest, (size_t)n + len + 2);
        pos = 0;
    }
}

/* a and b name one file (both exist: one inode; else one spelling), as
   cli._same_file */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a, b) == 0;
}

static void open_outputs(const struct opts *o)
{
    long uid;
    if (o->report && strcmp(o->report, "-") != 0) {
        /* --report=FILE where -o FILE's lines (and statistics) go: the
           report follows them, appended, as the statistics do */
        int after = o->trace_output && (o->trace || o->stats) && same_file(o->report, o->trace_output);
        if ((uid = foreign_link(o->report)) >= 0)
            dprintf(2, "lxrun: --report=%s: goes through a symlink of another user (uid %ld); name the file "
                    "itself\n", o->report, uid);
        else if ((report_out = open(o->report, O_WRONLY | O_CREAT | (after ? O_APPEND : O_TRUNC) | O_CLOEXEC,
                                    0666)) < 0)
            dprintf(2, "lxrun: --report=%s: %s\n", o->report, strerror(errno));
    }
    if (o->stats && o->trace_output) {
        if ((uid = foreign_link(o->trace_output)) >= 0) {
            snprintf(stats_why, sizeof stats_why, "-o %s: goes through a symlink of another user (uid %ld); "
                     "name the file itself", o->trace_output, uid);
            stats_out = -EPERM;
        }
        /* after the trace's lines (which truncate FILE) with --trace; alone,
           FILE is --stats's own: truncated, as strace -c -o FILE does */
        else if ((stats_out = open(o->trace_output, O_WRONLY | O_CREAT | (o->trace ? O_APPEND : O_TRUNC) | O_CLOEXEC,
                                   0666)) < 0)
            stats_out = -errno;
    }
}

static const char *signame(int sig, char *buf, size_t len);

/* status: the guest's wait status when kind is 0 (else "exit None");
   opens[i]: of b->files[i] */
static void write_report(const struct opts *o, const struct brand *b, const struct lxb_report *rep, int kind,
                         int status, const uint64_t *opens)
{
    char *text = NULL, exit_s[48], sig_s[24], count_s[24], err_s[64], first_s[LXB_TRACE_SLOT + LXB_REPORT_CMDLINE + 16];
    char *names = NULL, name_s[32];
    size_t len = 0, nlen = 0;
    FILE *m = open_memstream(&text, &len), *names_m;
    int32_t past[REPORT_PAST_MAX];
    uint64_t past_count[REPORT_PAST_MAX];
    int i, w, nr, hit[3] = {0, 0, 0}, fd, npast = report_past(rep, past, past_count);

    if (!m)
        return;
    /* trace._how_it_ended */
    if (kind == 0 && WIFEXITED(status))
        snprintf(exit_s, sizeof exit_s, "exit %d", WEXITSTATUS(status));
    else if (kind == 0 && WIFSIGNALED(status))
        snprintf(exit_s, sizeof exit_s, "killed by %s", signame(WTERMSIG(status), sig_s, sizeof sig_s));
    else
        snprintf(exit_s, sizeof exit_s, "exit None");
    {
        char *cmd = NULL;
        size_t clen = 0;
        FILE *c = open_memstream(&cmd, &clen);
        for (i = 0; c && i < o->ncmd; i++)
            fprintf(c, "%s%s", i ? " " : "", o->cmd[i]);
        if (c)
            fclose(c);
        fprintf(m, FD_REPORT_HEAD "\n", cmd ? cmd : "", exit_s);
        free(cmd);
    }
    for (w = 0; w < 3; w++)
        for (nr = 0; nr < LXB_NR_MAX; nr++) {
            uint64_t n = report_count(rep, nr);
            const char *first = report_first(rep, nr);
            const char *name = report_name(nr, name_s, sizeof name_s);
            if (!n || report_section(b->kind[nr]) != w || (!fd_syscall_names[nr] && w != 2))
                continue;
            hit[w]++;
            snprintf(count_s, sizeof count_s, "%llu", (unsigned long long)n);
            err_s[0] = first_s[0] = 0;
            if (w > 0) {
                int e = b->c_handler[nr] ? b->c_handler[nr] : ENOSYS;
                snprintf(err_s, sizeof err_s, FD_REPORT_ERRNO, fd_errno_names[e] ? fd_errno_names[e] : "?");
            }
            if (first)
                snprintf(first_s, sizeof first_s, FD_REPORT_FIRST, first);
            fprintf(m, FD_REPORT_LINE "\n", fd_report_whats[w], name, count_s, err_s, first_s);
        }
    /* numbers past the arrays: unsupported, after the others */
    for (i = 0; i < npast; i++) {
        hit[2]++;
        snprintf(count_s, sizeof count_s, "%llu", (unsigned long long)past_count[i]);
        snprintf(err_s, sizeof err_s, FD_REPORT_ERRNO, fd_errno_names[ENOSYS]);
        fprintf(m, FD_REPORT_LINE "\n", fd_report_whats[2], report_name(past[i], name_s, sizeof name_s),
                count_s, err_s, "");
    }
    /* the personality's paths the guest opened, by path (as sorted() in Python) */
    {
        int order[BRAND_MAX_FILES], j, k;
        for (i = 0; i < b->nfiles; i++)
            order[i] = i;
        for (i = 1; i < b->nfiles; i++)
            for (j = i; j > 0 && strcmp(b->files[order[j - 1]].path, b->files[order[j]].path) > 0; j--) {
                k = order[j];
                order[j] = order[j - 1];
                order[j - 1] = k;
            }
        for (i = 0; i < b->nfiles; i++) {
            if (!opens[order[i]])
                continue;
            snprintf(count_s, sizeof count_s, "%llu", (unsigned long long)opens[order[i]]);
            fprintf(m, FD_REPORT_LINE "\n", FD_REPORT_PATHS, b->files[order[i]].path, count_s, "", "");
        }
    }
    /* trace.verdict: the unsupported, else the denied, else clean */
    w = hit[2] ? 2 : hit[1] ? 1 : -1;
    if (w < 0) {
        fprintf(m, FD_REPORT_VERDICT "\n", FD_VERDICT_CLEAN);
    } else {
        char n_s[16], *v = NULL;
        size_t vlen = 0;
        FILE *vm;
        names_m = open_memstream(&names, &nlen);
        for (i = 0, nr = 0; names_m && nr < LXB_NR_MAX; nr++)
            if (report_count(rep, nr) && report_section(b->kind[nr]) == w && (fd_syscall_names[nr] || w == 2))
                fprintf(names_m, "%s%s", i++ ? ", " : "", report_name(nr, name_s, sizeof name_s));
        for (nr = 0; names_m && w == 2 && nr < npast; nr++)
            fprintf(names_m, "%s%s", i++ ? ", " : "", report_name(past[nr], name_s, sizeof name_s));
        if (names_m)
            fclose(names_m);
        snprintf(n_s, sizeof n_s, "%d", hit[w]);
        vm = open_memstream(&v, &vlen);
        if (vm) {
            fprintf(vm, FD_VERDICT_HIT, n_s, fd_report_whats[w], hit[w] > 1 ? "s" : "", names ? names : "");
            fclose(vm);
        }
        fprintf(m, FD_REPORT_VERDICT "\n", v ? v : "");
        free(v);
        free(names);
    }
    fclose(m);
    if (!text)
        return;
    fd = strcmp(o->report, "-") == 0 ? 2 : report_out;     /* open_outputs */
    if (fd >= 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t k = write(fd, text + off, len - off);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                output_failed(xasprintf("--report%s%s", fd == 2 ? "" : "=", fd == 2 ? "" : o->report), errno);
            if (k <= 0)
                break;
            off += (size_t)k;
        }
        if (fd != 2)
            close(fd);
    }
    free(text);
}

/* ---- main ---- */

static const char *signame(int sig, char *buf, size_t len)
{
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev)
        snprintf(buf, len, "SIG%s", abbrev);
    else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
    else
        snprintf(buf, len, "%d", sig);
    return buf;
}

/* --stats from perf (1), from the ptrace tracer (0), or -errno when
   LXBRAND_STATS=perf asks for perf and it cannot be used */
static int stats_by_perf(void)
{
    const char *want = getenv("LXBRAND_STATS");
    int rc;
    if (want && strcmp(want, "ptrace") == 0)
        return 0;
    rc = lxb_perfstats_probe();
    if (rc < 0)
        return want && strcmp(want, "perf") == 0 ? rc : 0;
    return 1;
}

/* --trace from BPF programs (1), from the ptrace tracer (0), or -errno
   when LXBRAND_TRACE=bpf asks for BPF and it cannot be used */
static int trace_by_bpf(void)
{
    const char *want = getenv("LXBRAND_TRACE");
    int rc;
    if (want && strcmp(want, "ptrace") == 0)
        return 0;
    rc = lxb_bpftrace_probe();
    if (rc < 0)
        return want && strcmp(want, "bpf") == 0 ? rc : 0;
    return 1;
}

/* The end of lxrun's address space (with --trace from BPF, the ring's
   32 MiB mapping: 0.7-1 ms of page tables) left to a child that shares
   it (CLONE_VM, nothing else: its own copy of the fds, closed at once but
   a pipe's read end): lxrun's exit then only drops its reference, and
   the child, once that pipe reads EOF (lxrun's fds are closed after its
   address space is let go, exit_mm before exit_files), exits as the
   address space's last user and unmaps it, after lxrun's parent has
   heard of its end.  Raw system calls only there: the child runs on
   lxrun's memory with lxrun's thread pointer.  Nothing is left if it
   cannot be made: the exit unmaps as before */
static char mm_keeper_stack[16384] __attribute__((aligned(16)));

static int mm_keeper(void *arg)
{
    int fd = (int)(intptr_t)arg;
    uint64_t all = ~0ull;
    char c;

    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof all);
    if (fd > 0)
        syscall(SYS_close_range, 0, fd - 1, 0);
    syscall(SYS_close_range, fd + 1, ~0U, 0);
    while (syscall(SYS_read, fd, &c, 1) < 0)
        ;
    syscall(SYS_exit_group, 0);
    return 0;
}

static void leave_mm_behind(void)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) != 0)
        return;
    if (clone(mm_keeper, mm_keeper_stack + sizeof mm_keeper_stack, CLONE_VM, (void *)(intptr_t)p[0]) < 0) {
        close(p[1]);
        p[1] = -1;
    }
    close(p[0]);
    /* p[1] stays open until lxrun's exit */
}

int main(int argc, char **argv)
{
    struct opts o;
    struct brand b;
    struct lxb_config c;
    struct lxb_zone z;
    struct lxb_bind binds[MAX_ITEMS];
    struct lxb_report *report = NULL;
    uint64_t opens[BRAND_MAX_FILES] = {0};
    int paths_fd = -1, tracing, text_fd = -1, perf_stats = 0, bpf_trace = 0;
    struct lxb_perfstats *perf = NULL;
    struct lxb_bpftrace *bpft = NULL;
    uint64_t perf_lost = 0;
    char *envp[MAX_ITEMS + 4], **guest_argv, err[512], namebuf[32];
    const char *why, *term, *search_path = DEFAULT_PATH;
    pthread_t fwd_thread, sup_thread, relay_thread;
    struct relay relay = {-1, -1, 0};
    int i, rc, status, kind, tty, have_sup = 0, have_relay = 0, nenv = 0, root = geteuid() == 0;
    unsigned long uid, gid;

    /* the zone's init blanks the argument area it inherits (zone_init.c
       init_rename): every string the zone is given must live elsewhere */
    g_argv = calloc((size_t)argc + 1, sizeof *g_argv);
    for (i = 0; g_argv && i < argc; i++)
        if (!(g_argv[i] = strdup(argv[i])))
            g_argv = NULL;
    if (!g_argv) {
        dprintf(2, "lxrun: out of memory\n");
        return EXIT_FAILED;
    }
    argv = g_argv;
    g_argc = argc;
    sigprocmask(SIG_SETMASK, NULL, &first_mask);
    /* a closed stdin/stdout/stderr would be reused by our own descriptors
       and handed to the guest as its stdio: hold them with /dev/null */
    for (i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0)
            open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);

    parse(argc, argv, &o);
    /* --trace from BPF: a set the holder loaded before this run (csrc/
       bpftrace.c THE HOLDER), else the programs load (13-45 ms: libbpf's
       CO-RE, the verifier, the ring) in a child while the brand is read
       and the zone starts; a failure here is lxb_bpftrace_start's to say,
       a run handed to Python leaves the child to end alone */
    if (o.trace && trace_by_bpf() > 0 && lxb_bpftrace_preload(&tracer, &bpft) < 0)
        bpft = NULL;
    /* --stats alone: the stats holder's set, asked for as early */
    if (o.stats && !o.trace && stats_by_perf() > 0 && lxb_perfstats_preload(&tracer, &perf) < 0)
        perf = NULL;
    /* a directory or an O_PATH fd as stdio would let the guest out of its
       root (fchdir(0), /proc/self/fd/0/..): refused as Zone.run refuses it
       (Python itself cannot start with a directory as stdin) */
    for (i = 0; i < 3; i++) {
        static const char *const names[] = {"stdin", "stdout", "stderr"};
        char what[64];
        struct stat sst;
        int fl = fcntl(i, F_GETFL);
        snprintf(what, sizeof what, "%s: fd %d is ", names[i], i);
        if (fstat(i, &sst) == 0 && S_ISDIR(sst.st_mode))
            fail(EXIT_FAILED, what, "a directory; a zone's stdio must be a file, pipe, socket or terminal "
                                    "(a directory would let the guest out of its root)");
        if (fl >= 0 && (fl & O_PATH))
            fail(EXIT_FAILED, what, "an O_PATH descriptor; a zone's stdio must be opened for reading or writing");
    }
    o.rootfs = abspath(o.rootfs);
    if (!is_dir(o.rootfs))
        delegate("the rootfs is not a directory", 0);
    if (!valid_hostname(o.hostname))
        delegate("a hostname to judge", 0);
    if (strcmp(o.net, "none") != 0 && strcmp(o.net, "host") != 0)
        delegate("a --net to judge", 0);
    if (o.cwd[0] != '/')
        delegate("a relative --cwd", 0);
    if (parse_id(o.uid) < 0 || parse_id(o.gid) < 0)
        delegate("a --uid or --gid to judge", 0);
    uid = strtoul(o.uid, NULL, 10);
    gid = strtoul(o.gid, NULL, 10);
    if (o.kernel_release && (!o.kernel_release[0] || strlen(o.kernel_release) > HOST_NAME_MAX_ ||
                             o.kernel_release[0] < '0' || o.kernel_release[0] > '9'))
        delegate("a --kernel-release to judge", 0);
    for (i = 0; i < o.nbinds; i++) {
        /* zone.Bind.parse: SRC:DST[:ro|:rw] */
        char *spec = strdup(o.binds[i]), *p1 = strchr(spec, ':'), *p2, *p3;
        int ro = 0;
        if (!p1)
            delegate("a --bind to judge", 0);
        *p1++ = 0;
        p2 = strchr(p1, ':');
        if (p2) {
            *p2++ = 0;
            p3 = strchr(p2, ':');
            if (p3 || (strcmp(p2, "ro") != 0 && strcmp(p2, "rw") != 0))
                delegate("a --bind to judge", 0);
            ro = strcmp(p2, "ro") == 0;
        }
        if (!spec[0] || !p1[0] || p1[0] != '/' || access(spec, F_OK) != 0)
            delegate("a --bind to judge", 0);
        binds[i].src = abspath(spec);
        binds[i].dst = p1;
        binds[i].readonly = ro;
    }
    memset(&c, 0, sizeof c);
    c.tmp_size = tmpfs_size(o.tmp_size);
    c.shm_size = tmpfs_size(o.shm_size);
    if (!c.tmp_size || !c.shm_size)
        delegate("a tmpfs size to judge", 0);
    if (root) {
        char mark[64];
        ssize_t n = lgetxattr(o.rootfs, IDSHIFT_XATTR, mark, sizeof mark);
        if (n != (ssize_t)strlen(IDSHIFT_MARK) || memcmp(mark, IDSHIFT_MARK, (size_t)n) != 0) {
            if (!o.ephemeral)
                delegate("a rootfs not yet shifted to the zone's host ids", 0);
            c.idmap_lower = 1;       /* the rootfs stays as it is (launcher.c) */
        }
    }
    /* a user's zone of one id has a fake root (ZoneConfig.fakeroot_on,
       csrc/fakeroot.c: C handlers only), a brand of its own in the cache */
    if (!root) {
        struct lxb_config probe;
        memset(&probe, 0, sizeof probe);
        id_maps(&probe, uid, gid);
        o.fakeroot = !probe.newidmap;
    }
    why = load_brand(&o, &b);
    if (why)
        delegate(why, 0);
    tracing = o.trace || o.stats;
    {
        const unsigned char *brand_bpf = b.bpf;
        int brand_bpf_len = b.bpf_len;
        if (tracing && (why = load_trace(&o, &b)) != NULL)
            delegate(why, 0);
        /* --stats alone: from the syscall tracepoints (csrc/perfstats.c),
           under the brand's own filter; the tracer's spec says what counts */
        if (o.stats && !o.trace && (perf_stats = stats_by_perf()) > 0) {
            b.bpf = (unsigned char *)brand_bpf;
            b.bpf_len = brand_bpf_len;
            tracing = 0;
            tracer.text_fd = tracer.out_fd = -1;
        } else if (perf_stats < 0) {
            fail(EXIT_FAILED, "LXBRAND_STATS=perf: perf cannot count the guest's syscalls here: ",
                 strerror(-perf_stats));
        }
        /* --trace: from BPF programs (csrc/bpftrace.c), under the brand's
           own filter; the tracer's spec says what each call records */
        if (o.trace && (bpf_trace = trace_by_bpf()) > 0) {
            b.bpf = (unsigned char *)brand_bpf;
            b.bpf_len = brand_bpf_len;
        } else if (bpf_trace < 0) {
            fail(EXIT_FAILED, "LXBRAND_TRACE=bpf: BPF cannot trace the guest here: ", strerror(-bpf_trace));
        }
    }
    if (o.report && !(report = calloc(1, sizeof *report)))
        delegate("out of memory", 0);
    /* a denied errno above 255 (trace.ReportBrand's wide) is not in the
       cache (c_handler is a byte): Python answers and counts it */
    for (i = 0; o.report && i < LXB_NR_MAX; i++)
        if ((b.kind[i] == LXB_KIND_DENIED || b.kind[i] == LXB_KIND_UNSUPPORTED) && !b.c_handler[i])
            delegate("--report with a denied errno above 255", 0);

    /* the guest's environment: ZoneConfig.environment */
    term = getenv("TERM");
    {
        struct kv env[MAX_ITEMS + 3];
        int n = 3;
        env[0] = (struct kv){"PATH", DEFAULT_PATH};
        env[1] = (struct kv){"HOME", zone_home(o.rootfs, uid)};
        env[2] = (struct kv){"TERM", term ? term : "dumb"};
        for (i = 0; i < o.nenv; i++)
            kv_set(env, &n, o.env[i].key, strlen(o.env[i].key), o.env[i].value);
        for (i = 0; i < n; i++) {
            envp[nenv++] = xasprintf("%s=%s", env[i].key, env[i].value);
            if (strcmp(env[i].key, "PATH") == 0)
                search_path = env[i].value;
        }
        envp[nenv] = NULL;
    }
    guest_argv = calloc((size_t)o.ncmd + 1, sizeof *guest_argv);
    if (!guest_argv)
        delegate("out of memory", 0);
    for (i = 0; i < o.ncmd; i++)
        guest_argv[i] = o.cmd[i];

    c.rootfs = o.rootfs;
    c.hostname = o.hostname;
    c.domainname = NULL;
    c.cwd = o.cwd;
    c.path = o.cmd[0];
    c.search_path = search_path;
    c.argv = guest_argv;
    c.envp = envp;
    c.ephemeral = o.ephemeral;
    c.net_host = strcmp(o.net, "host") == 0;
    c.uid = (int)uid;
    c.gid = (int)gid;
    for (i = 0; i < 3; i++)
        c.stdio[i] = i;
    c.nbinds = o.nbinds;
    c.binds = binds;
    c.bpf = b.bpf;
    c.bpf_len = b.bpf_len;
    /* the personality's files under --kernel-release (/proc/version,
       /proc/sys/kernel/osrelease and version), as the cache has them */
    c.nsteps = b.nfiles;
    c.steps = b.files;
    if (no_hosts_file(o.rootfs))
        c.hosts = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                            "127.0.1.1\t%s\n", o.hostname);
    id_maps(&c, uid, gid);
    c.start_timeout_ms = 0;
    c.lower_fd = -1;
    c.cap_drop = b.cap_drop;
    /* --report with personality files: watched before the guest runs;
       --trace, --stats: seized before it runs */
    c.hold_guest = (o.report && b.nfiles > 0) || tracing || perf_stats;
    if (tracing) {
        /* trace.Session._open_output: -o FILE, else stderr (a line to a
           file that cannot be opened is Python's to say) */
        if (o.trace && o.trace_output) {
            text_fd = foreign_link(o.trace_output) >= 0 ? -1
                      : open(o.trace_output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
            if (text_fd < 0)
                delegate("-o FILE cannot be opened", 0);
        } else if (o.trace) {
            text_fd = 2;
        }
        tracer.text_fd = text_fd;
        tracer.out_fd = -1;             /* no records: the lines and stats are C's */
        tracer.format = o.trace_format;
        tracer.t0 = monotonic_ns();
    }

    tty = o.tty >= 0 ? o.tty : (isatty(0) && isatty(1));
    if (tty) {
        struct termios raw;
        if (tcgetattr(0, &saved_tty) != 0)
            delegate("--tty without a terminal on stdin", 0);
        /* Python's tty.setraw, TCSANOW: TCSAFLUSH would drop typed-ahead input */
        raw = saved_tty;
        raw.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
        raw.c_oflag &= ~(tcflag_t)OPOST;
        raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
        raw.c_cflag |= CS8;
        raw.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        raw_tty = raw;
        tty_saved = 1;
        lxb_tty_take_eofs(0);    /* pty.c: made raw, an EOF would read as a NUL */
        tcsetattr(0, TCSANOW, &raw);
    }
    c.use_pty = tty ? LXB_PTY_JOB : 0;
    in_tty = tty;

    /* signals that come before init exists wait, blocked, and are forwarded
       once it does; init and the guest set their own masks */
    block_forwarded();

    open_outputs(&o);
    if (tracing && !bpf_trace)
        tracer_cgroup_enter();
    memset(&z, 0, sizeof z);
    rc = lxb_zone_start(&c, &z, err, sizeof err);
    if (rc < 0) {
        if (z.exec_errno)
            delegate("CMD could not be executed", z.exec_errno);
        fail(EXIT_FAILED, err, "");
    }
    if (c.hold_guest) {
        if (o.report && b.nfiles > 0)
            paths_fd = watch_paths(&b, z.guest_pidfd);
        if (perf_stats && (rc = lxb_perfstats_start(&tracer, z.guest_pidfd, &perf)) < 0) {
            kill(z.init_pid, SIGKILL);
            fail(EXIT_FAILED, "--stats: cannot count the guest's syscalls with perf (LXBRAND_STATS=ptrace "
                              "counts them with ptrace): ", strerror(-rc));
        }
        if (bpf_trace) {
            char why_bpf[256];
            tracer.guest_pidfd = z.guest_pidfd;
            if ((rc = lxb_bpftrace_start(&tracer, z.guest_pidfd, &bpft, why_bpf, sizeof why_bpf)) < 0) {
                kill(z.init_pid, SIGKILL);
                fail(EXIT_FAILED, "--trace: cannot trace the guest with BPF (LXBRAND_TRACE=ptrace traces it "
                                  "with ptrace): ", why_bpf);
            }
        } else if (tracing) {
            tracer.guest_pidfd = z.guest_pidfd;
            rc = lxb_trace_start(&tracer);
            if (rc < 0) {
                kill(z.init_pid, SIGKILL);
                fail(EXIT_FAILED, "trace: cannot attach to the guest (ptrace): ", strerror(-rc));
            }
        }
        close(z.guest_pidfd);
        z.guest_pidfd = -1;
        if (lxb_zone_release(&z) < 0) {
            kill(z.init_pid, SIGKILL);
            fail(EXIT_FAILED, "the zone's init is gone before its guest could run", "");
        }
    }
    init_pidfd = (int)syscall(SYS_pidfd_open, z.init_pid, 0);
    if (init_pidfd < 0) {
        kill(z.init_pid, SIGKILL);
        fail(EXIT_FAILED, "pidfd_open of the zone's init: ", strerror(errno));
    }
    pty_master = z.pty_fd;
    /* first: it is the thread after the main one (tests signal it by tid) */
    start_thread(&fwd_thread, forward_main, NULL);
    if (b.notifies) {
        memset(&sup, 0, sizeof sup);
        rc = lxb_sup_init(&sup, z.listener_fd);
        if (rc < 0) {
            kill(z.init_pid, SIGKILL);
            fail(EXIT_FAILED, "start the supervisor: ", strerror(-rc));
        }
        memcpy(sup.kind, b.kind, LXB_NR_MAX);
        memcpy(sup.c_handler, b.c_handler, LXB_NR_MAX);
        memcpy(sup.sysname, b.uts[0], LXB_UTS_LEN);
        memcpy(sup.release, b.uts[1], LXB_UTS_LEN);
        memcpy(sup.version, b.uts[2], LXB_UTS_LEN);
        memcpy(sup.machine, b.uts[3], LXB_UTS_LEN);
        sup.report = report;            /* --report: the supervisor counts */
        start_thread(&sup_thread, supervise, NULL);
        have_sup = 1;
    }
    /* the supervisor has its own dup; with nothing notified the listener is
     * still held for the zone's life, as the Python CLI holds it: the brand's
     * filter keeps its listener, so a second NEW_LISTENER stays EBUSY */
    if (have_sup) {
        close(z.listener_fd);
        z.listener_fd = -1;
    }
    if (z.pty_fd >= 0) {
        relay.master = z.pty_fd;
        relay.stop = eventfd(0, EFD_CLOEXEC);
        start_thread(&relay_thread, relay_main, &relay);
        have_relay = 1;
    }

    /* with --tty the guest is the zone's terminal's job: lxrun stops with it */
    do {
        lxb_zone_next(&z, &status, &kind);
        if (kind == LXB_GUEST_STOPPED && in_tty)
            job_stop(status);
    } while (kind == LXB_GUEST_STOPPED || kind == LXB_GUEST_CONTINUED);
    /* init is reaped: the pidfd never reaches another process */
    if (z.listener_fd >= 0) {
        close(z.listener_fd);
        z.listener_fd = -1;
    }

    if (have_sup) {
        lxb_sup_stop(&sup);
        pthread_join(sup_thread, NULL);
        lxb_sup_close(&sup);
    }
    /* trace.Session.finish: the tracer's end, its lines written */
    if (bpf_trace) {
        /* every task is gone: the last records, then the tracer's sink as
           below; the calls answered are the supervisor's to count */
        perf_lost = lxb_bpftrace_finish(bpft);
        lxb_bpftrace_free_at_exit(bpft);
        leave_mm_behind();
        lxb_trace_join(&tracer);
        if (text_fd > 2)
            close(text_fd);
        if (tracer.text_error)
            output_failed(o.trace_output ? xasprintf("-o %s", o.trace_output) : "the trace (stderr)", tracer.text_error);
        if (perf_lost == UINT64_MAX)
            dprintf(2, "lxrun: trace: the BPF ring buffer could not be mapped; the guest ran untraced\n");
        else if (perf_lost)
            dprintf(2, "lxrun: trace: %llu records lost (the BPF ring buffer or task table was full); the trace is not whole\n",
                    (unsigned long long)perf_lost);
    } else if (tracing) {
        lxb_trace_join(&tracer);
        tracer_cgroup_leave();
        if (text_fd > 2)
            close(text_fd);
        if (tracer.text_error)
            output_failed(o.trace_output ? xasprintf("-o %s", o.trace_output) : "the trace (stderr)", tracer.text_error);
        if (tracer.refused_ptrace)
            dprintf(2, "%s\n", FD_PTRACE_REFUSED);
        if (o.report)
            tracer_answered();
    }
    if (perf_stats) {
        perf_lost = lxb_perfstats_finish(perf);
        lxb_perfstats_free(perf);
    }
    if (have_relay) {
        /* the guest's last output, until the master reads EIO */
        struct timespec until;
        uint64_t one = 1;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        if (pthread_timedjoin_np(relay_thread, NULL, &until) != 0) {
            if (write(relay.stop, &one, sizeof one) < 0)
                (void)0;
            pthread_join(relay_thread, NULL);
        }
    }
    restore_tty();
    /* the guest never ran: Python says why, as a run there (no report) */
    if (kind == 1 && sup_rc >= 0)
        delegate("CMD could not be executed", status);
    /* trace.write_outputs: the statistics (to -o FILE, appended, or
       stderr), then the report */
    if (o.stats) {
        int fd = 2;
        if (o.trace_output) {
            fd = stats_out;             /* open_outputs */
            if (fd < 0)
                fail(EXIT_FAILED, stats_why[0] ? stats_why : xasprintf("%s: %s", o.trace_output, strerror(-fd)), "");
        }
        /* JSON after --trace-format json's lines: one line too (2) */
        /* after the lines in -o FILE: not tried where they failed (the sink writes no more there) */
        int rc = fd != 2 && o.trace && tracer.text_error ? 0 :
                 lxb_perfstats_write(&tracer, o.stats_format != LXB_TRACE_JSON ? 0 :
                                     o.trace && o.trace_format == LXB_TRACE_JSON ? 2 : 1, fd, perf_lost);
        if (rc < 0 && rc != -ENOMEM)
            output_failed(fd == 2 ? "the statistics (stderr)" : xasprintf("-o %s", o.trace_output), -rc);
        if (fd != 2)
            close(fd);
    }
    /* at the end, also on failure: what the run needed from the brand */
    if (o.report) {
        paths_opened(&b, paths_fd, opens);
        write_report(&o, &b, report, kind, status, opens);
        /* cli._watch_end: a report FILE that could not be opened fails the run */
        if (report_out < 0 && strcmp(o.report, "-") != 0)
            exit(EXIT_FAILED);
    }
    if (sup_rc < 0)
        fail(EXIT_FAILED, strerror(-sup_rc), "; the zone was killed");
    if (kind == 1)
        delegate("CMD could not be executed", status);
    if (kind == 2) {
        if (WIFSIGNALED(status)) {
            int sig = WTERMSIG(status);
            dprintf(2, "lxrun: the zone's init was killed (signal %d, %s) from outside the zone; the guest "
                       "was killed with it and its own status is unknown\n",
                    sig, signame(sig, namebuf, sizeof namebuf));
            exit(128 + sig);
        }
        dprintf(2, "lxrun: the zone's init exited (status %d) without reporting the guest's status; the "
                   "guest is gone\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        exit(EXIT_FAILED);
    }
    if (outputs_failed)
        exit(EXIT_FAILED);
    if (WIFEXITED(status))
        exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        exit(128 + WTERMSIG(status));
    exit(128 + SIGKILL);
}
