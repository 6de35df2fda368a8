/*
 * oci.c: the OCI runtime's front door, `lxbrand-oci` as installed on PATH.
 *
 * OVERVIEW
 *
 *   An engine runs the runtime once per step of a container's life (podman:
 *   create, start, state, kill, delete --force), each a fresh process, and
 *   waits for it: a Python interpreter with click costs 200-300 ms a command
 *   on a loaded machine, runc 10-70 ms.  The runtime's state is on disk
 *   (lxbrand/oci.py, Store: ROOT/ID/state.json, written whole and renamed,
 *   and ROOT/ID/ctl.sock, the zone's monitor), so the commands that only
 *   read it, signal the zone or ask its monitor need no interpreter: this
 *   program serves `state`, `start`, `kill`, `delete`, `list`, `features`
 *   and `ps -f json` with the same output, the same errors (runc's log
 *   format, lxbrand/oci.py Log) and the same exit statuses; and `exec
 *   --process` (the form engines use), with lxb_zone_exec (csrc/zone_exec.c)
 *   as the Python exec calls it, the listener sent to the zone's monitor.
 *
 * HANDING OVER
 *
 *   Everything else goes to the Python runtime, by execv of the interpreter
 *   recorded at build time (oci_gen.h: LXB_OCI_PY, `-I -S`: no site, no .pth
 *   hooks, the sys.path baked) running lxbrand/oci_fast.py main(), with the
 *   same arguments, before anything happened: create (the zone and its
 *   monitor are started by Python), exec with CMD words, into a zone that is
 *   not running or with a terminal it would relay itself, --help, an option or a form of one this file does not
 *   parse, an id that is not plain ASCII, a state file that is unreadable,
 *   not JSON or not of the shape the monitor writes (Python words those
 *   errors), a container with poststart/poststop hooks (start and delete run
 *   them), `ps` as a table, a signal name not in the table below, and
 *   `features` when lxbrand/oci.py changed since the build.
 *   LXBRAND_OCI_DEBUG_FRONTDOOR=1 prints why a command was handed over.
 *
 * PROCESSES
 *
 *   A pid in the state is a process only with its start time (state.json
 *   `*_pid` and `*_start`, /proc/PID/stat field 22).  A signal goes through
 *   a pidfd opened first and checked against the start time after: a pid
 *   recycled in between fails the check, and the pidfd cannot reach the new
 *   process anyway.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "lxbrand.h"
#include "oci_gen.h"

#define STATE_FILE "state.json"
#define CTL_SOCKET "ctl.sock"
#define FILTER_FILE "filter.bpf"     /* the brand's filter, for exec */
#define PROFILE_FILE "profile.bpf"   /* the container's own seccomp profile, compiled */
#define MAX_GROUPS 64
#define MONITOR_TIMEOUT_S 30        /* oci.py: the ctl.sock's settimeout(30) */
#define DELETE_WAIT_NS 10000000000LL /* oci.py _wait_stopped: 10 s, every 10 ms */

static int g_argc;
static char **g_argv;
static const char *root = LXB_OCI_ROOT;
static const char *log_path;
static int log_json;

/* ---- handing over to Python ---- */

static void hand_over(const char *why) __attribute__((noreturn));
static void hand_over(const char *why)
{
    const char *d = getenv("LXBRAND_OCI_DEBUG_FRONTDOOR");
    if (d && *d && strcmp(d, "0") != 0)
        fprintf(stderr, "lxbrand-oci: front door: handed over to Python: %s\n", why);
    fflush(stdout);
    static const char code[] = "import sys; sys.path[:] = " LXB_OCI_PATH
                               "; from lxbrand.oci_fast import main; main()";
    char **argv = calloc((size_t)g_argc + 6, sizeof(char *));
    if (!argv) {
        fprintf(stderr, "lxbrand-oci: out of memory\n");
        exit(1);
    }
    int n = 0;
    argv[n++] = (char *)LXB_OCI_PY;
    argv[n++] = "-I";
    argv[n++] = "-S";
    argv[n++] = "-c";
    argv[n++] = (char *)code;
    for (int i = 1; i < g_argc; i++)
        argv[n++] = g_argv[i];
    argv[n] = NULL;
    execv(LXB_OCI_PY, argv);
    fprintf(stderr, "lxbrand-oci: %s: %s\n", LXB_OCI_PY, strerror(errno));
    exit(1);
}

/* ---- logging: lxbrand/oci.py Log (the C commands' one warning is exec's capabilities) ---- */

/* a JSON string as Python's json.dumps writes it (ensure_ascii) into buf */
static void json_quote(char *buf, size_t size, const char *s)
{
    size_t o = 0;
#define PUT(c) do { if (o + 1 < size) buf[o++] = (c); } while (0)
    PUT('"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        char esc[16];
        const char *e = NULL;
        if (c == '"') e = "\\\"";
        else if (c == '\\') e = "\\\\";
        else if (c == '\n') e = "\\n";
        else if (c == '\r') e = "\\r";
        else if (c == '\t') e = "\\t";
        else if (c == '\b') e = "\\b";
        else if (c == '\f') e = "\\f";
        if (e) {
            for (; *e; e++) PUT(*e);
            p++;
            continue;
        }
        if (c >= 0x20 && c < 0x7f) {
            PUT((char)c);
            p++;
            continue;
        }
        /* a code point (UTF-8 decoded; a stray byte as itself), \uXXXX as Python writes it */
        uint32_t cp = c;
        int len = 1;
        if (c >= 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) {
            cp = ((c & 7u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
            len = 4;
        } else if (c >= 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
            cp = ((c & 0xfu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
            len = 3;
        } else if (c >= 0xc0 && (p[1] & 0xc0) == 0x80) {
            cp = ((c & 0x1fu) << 6) | (p[1] & 0x3fu);
            len = 2;
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", cp);
        }
        for (e = esc; *e; e++) PUT(*e);
        p += len;
    }
    PUT('"');
    buf[o] = 0;
#undef PUT
}

static void log_line(const char *level, const char *msg)
{
    char quoted[8192], now[32], qnow[64], line[10240];
    int error = !strcmp(level, "error");
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_quote(quoted, sizeof quoted, msg);
    if (log_path) {
        if (log_json) {
            json_quote(qnow, sizeof qnow, now);
            snprintf(line, sizeof line, "{\"level\": \"%s\", \"msg\": %s, \"time\": %s}\n", level, quoted, qnow);
        } else {
            snprintf(line, sizeof line, "time=\"%s\" level=%s msg=%s\n", now, level, quoted);
        }
        int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (write(fd, line, strlen(line)) < 0) { /* as Python: a log that fails is no error */ }
            close(fd);
        }
        /* with --log, the engine reads the file; stderr gets the bare message, as runc's fatal() */
        if (error)
            fprintf(stderr, "%s\n", msg);
    } else if (error || isatty(2)) {
        /* a warning on stderr only for a person: an engine shows it with the container's output */
        fprintf(stderr, "time=\"%s\" level=%s msg=%s\n", now, level, quoted);
    }
    fflush(stderr);
}

static void log_error(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line("error", msg);
}

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_error("%s", msg);
    exit(1);
}

/* ---- JSON out, as Python's json.dumps (indent 2, or ", "/": " on one line) ---- */

static int dump(FILE *out, json_t *v, int indent, int level)
{
    char q[16384];
    size_t i;
    const char *key;
    json_t *item;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (json_object_size(v) == 0) {
            fputs("{}", out);
            return 0;
        }
        fputc('{', out);
        i = 0;
        json_object_foreach(v, key, item) {
            if (i++)
                fputs(indent ? "," : ", ", out);
            if (indent)
                fprintf(out, "\n%*s", indent * (level + 1), "");
            json_quote(q, sizeof q, key);
            fprintf(out, "%s: ", q);
            if (dump(out, item, indent, level + 1) < 0)
                return -1;
        }
        if (indent)
            fprintf(out, "\n%*s", indent * level, "");
        fputc('}', out);
        return 0;
    case JSON_ARRAY:
        if (json_array_size(v) == 0) {
            fputs("[]", out);
            return 0;
        }
        fputc('[', out);
        json_array_foreach(v, i, item) {
            if (i)
                fputs(indent ? "," : ", ", out);
            if (indent)
                fprintf(out, "\n%*s", indent * (level + 1), "");
            if (dump(out, item, indent, level + 1) < 0)
                return -1;
        }
        if (indent)
            fprintf(out, "\n%*s", indent * level, "");
        fputc(']', out);
        return 0;
    case JSON_STRING:
        if (json_string_length(v) != strlen(json_string_value(v)) || json_string_length(v) > sizeof q / 8)
            return -1;                     /* a NUL inside, or long: Python's */
        json_quote(q, sizeof q, json_string_value(v));
        fputs(q, out);
        return 0;
    case JSON_INTEGER:
        fprintf(out, "%lld", (long long)json_integer_value(v));
        return 0;
    case JSON_TRUE:
        fputs("true", out);
        return 0;
    case JSON_FALSE:
        fputs("false", out);
        return 0;
    case JSON_NULL:
        fputs("null", out);
        return 0;
    default:
        return -1;                         /* a real: Python's repr */
    }
}

/* dump into a string (NULL: something Python writes its own way) */
static char *dumps(json_t *v, int indent)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = dump(f, v, indent, 0);
    fclose(f);
    if (rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- processes ---- */

/* /proc/PID/stat field 22 (starttime), or -1 */
static long long proc_start(long long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -1;
    p += 2;
    /* fields from 3 (state): starttime is the 20th of them */
    for (int f = 0; f < 19; f++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p)
        return -1;
    return v;
}

/* st[key] as a pid: an integer > 0 (a JSON true is not one, though Python's
   isinstance would take it: /proc/True/stat does not exist either) */
static long long get_pid(json_t *st, const char *key)
{
    json_t *v = json_object_get(st, key);
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return 0;
    return json_integer_value(v);
}

/* oci.py _alive(st[pid_key], st[start_key]) */
static int alive(json_t *st, const char *pid_key, const char *start_key)
{
    long long pid = get_pid(st, pid_key);
    json_t *start = json_object_get(st, start_key);
    if (!pid || !start || json_is_null(start))
        return 0;
    long long now = proc_start(pid);
    if (now < 0)
        return 0;
    if (json_is_integer(start))
        return json_integer_value(start) == now;
    if (json_is_real(start))
        return json_real_value(start) == (double)now;
    return 0;
}

/* a pidfd of st[pid_key] that is the process st[start_key] names, or -1 */
static int pidfd_of(json_t *st, const char *pid_key, const char *start_key)
{
    long long pid = get_pid(st, pid_key);
    if (!pid)
        return -1;
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0)
        return -1;
    if (!alive(st, pid_key, start_key)) {      /* checked after the open: a recycled pid fails here */
        close(fd);
        return -1;
    }
    return fd;
}

static int pidfd_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* ---- the state on disk: lxbrand/oci.py Store ---- */

/* oci.py _ID (^[\w+\-.]+$), ASCII only here: anything else is Python's to judge */
static void check_id(const char *cid)
{
    if (!*cid || !strcmp(cid, ".") || !strcmp(cid, ".."))
        hand_over("an id Python refuses");
    for (const char *p = cid; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
              c == '-' || c == '.'))
            hand_over("an id that is not plain ASCII");
    }
}

static void path_in(char *buf, size_t size, const char *cid, const char *name)
{
    int n;
    if (!*root)
        n = name ? snprintf(buf, size, "%s/%s", cid, name) : snprintf(buf, size, "%s", cid);
    else
        n = name ? snprintf(buf, size, "%s%s%s/%s", root, root[strlen(root) - 1] == '/' ? "" : "/", cid, name)
                 : snprintf(buf, size, "%s%s%s", root, root[strlen(root) - 1] == '/' ? "" : "/", cid);
    if (n < 0 || (size_t)n >= size)
        hand_over("a long path");
}

static int str_field(json_t *st, const char *key)
{
    return json_is_string(json_object_get(st, key));
}

/* ROOT/ID/state.json, or NULL when it does not exist (ENOENT); what Python
   would call unreadable (or could not take: not the monitor's shape) is handed over */
static json_t *read_state(const char *cid, int handing)
{
    char path[4096];
    check_id(cid);
    path_in(path, sizeof path, cid, STATE_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return NULL;
        if (handing)
            hand_over("an unreadable state file");
        return json_null();
    }
    json_error_t err;
    json_t *st = json_loadfd(fd, JSON_REJECT_DUPLICATES, &err);
    close(fd);
    json_t *status = st ? json_object_get(st, "status") : NULL;
    if (!json_is_object(st) || !str_field(st, "id") || !str_field(st, "bundle") || !json_object_get(st, "pid") ||
        (status && !json_is_string(status))) {
        json_decref(st);
        if (handing)
            hand_over("a state file Python words the errors of");
        return json_null();
    }
    return st;
}

/* oci.py Store.status: the monitor's word, unless the monitor is gone */
static const char *status_of(json_t *st)
{
    json_t *v = json_object_get(st, "status");
    const char *status = v ? json_string_value(v) : "stopped";
    if (strcmp(status, "stopped") != 0 && !alive(st, "monitor_pid", "monitor_start"))
        return "stopped";
    return status;
}

static json_t *get_or(json_t *st, const char *key, json_t *dflt)
{
    json_t *v = json_object_get(st, key);
    if (v)
        return json_incref(v);
    return dflt;
}

/* oci.py oci_state: the runtime-spec state */
static json_t *oci_state(json_t *st, const char *status)
{
    json_t *out = json_object();
    json_t *ann = json_object_get(st, "annotations");
    json_object_set_new(out, "ociVersion", json_string(LXB_OCI_VERSION));
    json_object_set(out, "id", json_object_get(st, "id"));
    json_object_set_new(out, "status", json_string(status));
    json_object_set(out, "bundle", json_object_get(st, "bundle"));
    /* st.get("annotations") or {}: a falsy value is {} */
    int falsy = !ann || json_is_null(ann) || json_is_false(ann) ||
                (json_is_object(ann) && json_object_size(ann) == 0) || (json_is_array(ann) && json_array_size(ann) == 0) ||
                (json_is_string(ann) && json_string_length(ann) == 0) || (json_is_integer(ann) && json_integer_value(ann) == 0);
    json_object_set_new(out, "annotations", falsy ? json_object() : json_incref(ann));
    if (strcmp(status, "stopped") != 0)
        json_object_set(out, "pid", json_object_get(st, "pid"));
    else
        json_object_set_new(out, "pid", json_integer(0));
    json_object_set_new(out, "rootfs", get_or(st, "rootfs", json_string("")));
    json_object_set_new(out, "created", get_or(st, "created", json_string("")));
    json_object_set_new(out, "owner", get_or(st, "owner", json_string("")));
    return out;
}

/* the container has hooks of this kind (start and delete leave them to Python) */
static int has_hooks(json_t *st, const char *kind)
{
    json_t *hooks = json_object_get(st, "hooks");
    if (!hooks || json_is_null(hooks) || (json_is_object(hooks) && json_object_size(hooks) == 0))
        return 0;
    if (!json_is_object(hooks))
        return 1;
    json_t *h = json_object_get(hooks, kind);
    return h && !json_is_null(h) && !(json_is_array(h) && json_array_size(h) == 0);
}

/* ---- the commands ---- */

static int cmd_state(const char *cid)
{
    json_t *st = read_state(cid, 1);
    if (!st)
        fail("container does not exist");
    json_t *out = oci_state(st, status_of(st));
    char *text = dumps(out, 2);
    if (!text)
        hand_over("a state Python writes its own way");
    printf("%s\n", text);
    return 0;
}

static int ask_monitor(const char *cid, const char *request, char *reply, size_t size)
{
    char path[4096];
    path_in(path, sizeof path, cid, CTL_SOCKET);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        hand_over("a control socket path too long for AF_UNIX");
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct timeval tv = {.tv_sec = MONITOR_TIMEOUT_S};
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc = 0;
    ssize_t n = 0;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 || send(s, request, strlen(request), MSG_NOSIGNAL) < 0) {
        rc = -errno;
    } else {
        do
            n = recv(s, reply, size - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            rc = -errno;
    }
    close(s);
    reply[n > 0 ? n : 0] = 0;
    return rc;
}

static int cmd_start(const char *cid)
{
    json_t *st = read_state(cid, 1);
    if (!st)
        fail("container does not exist");
    const char *status = status_of(st);
    if (!strcmp(status, "stopped"))
        fail("cannot start a container that has stopped");
    if (!strcmp(status, "running"))
        fail("cannot start an already running container");
    if (has_hooks(st, "poststart"))
        hand_over("poststart hooks");
    char reply[4096];
    int rc = ask_monitor(cid, "start\n", reply, sizeof reply);
    if (rc < 0)
        fail("container %s: its monitor does not answer (%s)", cid,
             rc == -EAGAIN || rc == -EINPROGRESS ? "timed out" : strerror(-rc));
    if (strncmp(reply, "OK", 2) != 0)
        fail("%s", reply[0] && reply[1] ? reply + 1 : "the container's monitor gave no answer");
    return 0;
}

/* oci.py _signal_number: 'KILL', 'SIGKILL', '9' -> 9; -1 for what Python judges */
static int signal_number(const char *text)
{
    static const struct { const char *name; int nr; } names[] = {
        {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"TRAP", SIGTRAP},
        {"ABRT", SIGABRT}, {"IOT", SIGIOT}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"KILL", SIGKILL},
        {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
        {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CLD", SIGCHLD}, {"CONT", SIGCONT},
        {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG},
        {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
        {"IO", SIGIO}, {"POLL", SIGPOLL}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
    };
    char t[32];
    size_t n = 0;
    while (*text == ' ' || *text == '\t')
        text++;
    for (; *text && n < sizeof t - 1; text++)
        t[n++] = (char)(*text >= 'a' && *text <= 'z' ? *text - 32 : *text);
    if (*text)
        return -1;
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    t[n] = 0;
    if (n && n <= 2 && strspn(t, "0123456789") == n) {
        int v = atoi(t);
        return v < 65 ? v : -1;            /* Python's signal.NSIG */
    }
    const char *name = strncmp(t, "SIG", 3) == 0 ? t + 3 : t;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name))
            return names[i].nr;
    return -1;
}

static int cmd_kill(const char *cid, const char *sig)
{
    int signum = signal_number(sig);
    if (signum < 0)
        hand_over("a signal Python judges");
    json_t *st = read_state(cid, 1);
    if (!st)
        fail("container does not exist");
    const char *status = status_of(st);
    int pidfd = strcmp(status, "stopped") != 0 ? pidfd_of(st, "init_pid", "init_start") : -1;
    if (pidfd < 0)
        fail("container not running");
    if (!strcmp(status, "created") && signum != 0)
        signum = SIGKILL;                  /* the held guest cannot take a signal: the zone ends */
    if (pidfd_signal(pidfd, signum) < 0) {
        if (errno == ESRCH)
            fail("container not running");
        fail("kill container %s: %s", cid, strerror(errno));
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;                              /* shutil.rmtree(ignore_errors=True) */
}

static int cmd_delete(const char *cid, int force)
{
    json_t *st = read_state(cid, 1);
    if (!st) {
        if (force)
            return 0;                      /* runc: delete --force of nothing is no error */
        fail("container does not exist");
    }
    if (has_hooks(st, "poststop"))
        hand_over("poststop hooks");
    const char *status = status_of(st);
    if (!strcmp(status, "running") && !force)
        fail("cannot delete container %s that is not stopped: %s", cid, status);
    if (strcmp(status, "stopped") != 0 || alive(st, "init_pid", "init_start")) {
        /* SIGKILL the zone's init (its whole pid namespace goes with it), then
           wait for the monitor to record it (oci.py _kill_zone, _wait_stopped) */
        int pidfd = pidfd_of(st, "init_pid", "init_start");
        if (pidfd >= 0) {
            pidfd_signal(pidfd, SIGKILL);
            close(pidfd);
        }
        struct timespec t0, now, tick = {0, 10000000};
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((now.tv_sec - t0.tv_sec) * 1000000000LL + (now.tv_nsec - t0.tv_nsec) >= DELETE_WAIT_NS)
                break;
            json_t *cur = read_state(cid, 0);
            if (!cur || json_is_null(cur))
                break;
            int done = !strcmp(status_of(cur), "stopped") && !alive(cur, "init_pid", "init_start");
            json_decref(cur);
            if (done)
                break;
            nanosleep(&tick, NULL);
        }
    }
    char dir[4096];
    path_in(dir, sizeof dir, cid, NULL);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Python's str.ljust counts code points */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int cmd_list(int as_json, int quiet)
{
    DIR *d = opendir(*root ? root : ".");
    char **ids = NULL;
    size_t n = 0, cap = 0;
    if (!d) {
        if (errno != ENOENT)
            hand_over("an unreadable --root");
    } else {
        struct dirent *e;
        while ((e = readdir(d))) {
            char path[4096];
            struct stat sb;
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            path_in(path, sizeof path, e->d_name, STATE_FILE);
            if (stat(path, &sb) < 0)
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                ids = realloc(ids, cap * sizeof *ids);
                if (!ids)
                    fail("out of memory");
            }
            ids[n++] = strdup(e->d_name);
        }
        closedir(d);
    }
    if (n)
        qsort(ids, n, sizeof *ids, by_name);
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        check_id(ids[i]);                 /* hands over an id Python's \w might take */
        json_t *st = read_state(ids[i], 0);
        if (!st || json_is_null(st))
            continue;                     /* Python skips what it cannot read */
        json_array_append_new(rows, oci_state(st, status_of(st)));
        json_decref(st);
    }
    size_t i;
    json_t *row;
    if (quiet) {
        json_array_foreach(rows, i, row) printf("%s\n", json_string_value(json_object_get(row, "id")));
        return 0;
    }
    if (as_json) {
        char *text = json_array_size(rows) ? dumps(rows, 0) : strdup("null");
        if (!text)
            hand_over("a state Python writes its own way");
        printf("%s\n", text);
        return 0;
    }
    /* the table: ID PID STATUS BUNDLE CREATED OWNER, columns as wide as their widest */
    static const char *head[6] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
    static const char *keys[6] = {"id", "pid", "status", "bundle", "created", "owner"};
    size_t rn = json_array_size(rows);
    char **cells = calloc((rn + 1) * 6, sizeof *cells);
    size_t w[6] = {0};
    for (int c = 0; c < 6; c++)
        cells[c] = strdup(head[c]);
    json_array_foreach(rows, i, row) {
        for (int c = 0; c < 6; c++) {
            json_t *v = json_object_get(row, keys[c]);
            char num[32];
            if (json_is_integer(v)) {
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
                cells[(i + 1) * 6 + c] = strdup(num);
            } else if (json_is_string(v)) {
                cells[(i + 1) * 6 + c] = strdup(json_string_value(v));
            } else {
                hand_over("a state field Python writes its own way");
            }
        }
    }
    for (size_t r = 0; r <= rn; r++)
        for (int c = 0; c < 6; c++)
            if (width(cells[r * 6 + c]) > w[c])
                w[c] = width(cells[r * 6 + c]);
    for (size_t r = 0; r <= rn; r++) {
        char line[16384];
        size_t o = 0;
        for (int c = 0; c < 6; c++) {
            const char *cell = cells[r * 6 + c];
            o += (size_t)snprintf(line + o, sizeof line - o, "%s%s%*s", c ? "   " : "", cell,
                                  (int)(w[c] - width(cell)), "");
            if (o >= sizeof line)
                hand_over("a long row");
        }
        while (o && line[o - 1] == ' ')     /* Python's rstrip() */
            o--;
        line[o] = 0;
        printf("%s\n", line);
    }
    return 0;
}

static int cmd_features(void)
{
    struct stat sb;
    if (stat(LXB_OCI_SRC, &sb) < 0 || sb.st_size != LXB_OCI_SRC_SIZE ||
        (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec != LXB_OCI_SRC_MTIME_NS)
        hand_over("lxbrand/oci.py changed since the build");
    fputs(LXB_OCI_FEATURES, stdout);
    return 0;
}

static int by_pid(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* `ps -f json`: host pids of the zone's processes (in init's pid namespace), oci.py _zone_pids */
static int cmd_ps_json(const char *cid)
{
    json_t *st = read_state(cid, 1);
    if (!st)
        fail("container does not exist");
    long long *pids = NULL;
    size_t n = 0, cap = 0;
    char path[300];
    struct stat sb;
    snprintf(path, sizeof path, "/proc/%lld/ns/pid", get_pid(st, "init_pid"));
    if (alive(st, "init_pid", "init_start") && stat(path, &sb) == 0) {
        ino_t ns = sb.st_ino;
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (strspn(e->d_name, "0123456789") != strlen(e->d_name))
                continue;
            snprintf(path, sizeof path, "/proc/%s/ns/pid", e->d_name);
            if (stat(path, &sb) == 0 && sb.st_ino == ns) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 16;
                    pids = realloc(pids, cap * sizeof *pids);
                    if (!pids)
                        fail("out of memory");
                }
                pids[n++] = atoll(e->d_name);
            }
        }
        if (d)
            closedir(d);
    }
    if (n)
        qsort(pids, n, sizeof *pids, by_pid);
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf("%s%lld", i ? ", " : "", pids[i]);
    printf("]\n");
    return 0;
}

/* ---- exec: a process joins the running zone (oci.py exec_, _exec; csrc/zone_exec.c) ---- */

/* a whole small file (the zone's filters); NULL and *len = 0 when it does not exist */
static unsigned char *read_file(const char *path, int *len)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return NULL;
        hand_over("an unreadable filter file");
    }
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            fail("out of memory");
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            hand_over("an unreadable filter file");
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    close(fd);
    *len = (int)n;
    return buf;
}

/* a JSON array of strings as a NULL-terminated vector (NULL: not one) */
static char **str_vector(json_t *a, int allow_missing)
{
    size_t i;
    json_t *v;
    if (!a || json_is_null(a)) {
        if (!allow_missing)
            return NULL;
        return calloc(1, sizeof(char *));
    }
    if (!json_is_array(a))
        return NULL;
    char **out = calloc(json_array_size(a) + 1, sizeof(char *));
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) != strlen(json_string_value(v)))
            return NULL;
        out[i] = (char *)json_string_value(v);
    }
    return out;
}

/* an int field of Python's int(): an integer (or absent: dflt); -1 for anything Python judges */
static int int_field(json_t *o, const char *key, long long dflt, long long *out)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x7fffffff)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

/* oci.py _join_cgroups: pid into the cgroups of the guest that are not ours */
static int join_cgroups(long long guest, int pid, char *err, size_t errlen)
{
    char path[128], line[1024], theirs[64][1024], ours[64][1024];
    int nt = 0, no = 0;
    for (int side = 0; side < 2; side++) {
        if (side == 0)
            snprintf(path, sizeof path, "/proc/%lld/cgroup", guest);
        else
            snprintf(path, sizeof path, "/proc/self/cgroup");
        FILE *f = fopen(path, "re");
        if (!f) {
            snprintf(err, errlen, "join the zone's cgroups: %s: %s", path, strerror(errno));
            return -1;
        }
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            if (side == 0 && nt < 64)
                snprintf(theirs[nt++], sizeof theirs[0], "%s", line);
            else if (side == 1 && no < 64)
                snprintf(ours[no++], sizeof ours[0], "%s", line);
        }
        fclose(f);
    }
    for (int i = 0; i < nt; i++) {
        int same = 0;
        for (int j = 0; j < no; j++)
            same |= !strcmp(theirs[i], ours[j]);
        if (same)
            continue;
        /* N:CONTROLLERS:PATH */
        char *ctrls = strchr(theirs[i], ':');
        char *where = ctrls ? strchr(ctrls + 1, ':') : NULL;
        if (!where)
            continue;
        *where++ = 0;
        ctrls++;
        while (*where == '/')
            where++;
        const char *bases[2] = {NULL, NULL};
        char named[1100];
        if (!*ctrls) {
            bases[0] = "/sys/fs/cgroup";
            bases[1] = "/sys/fs/cgroup/unified";
        } else {
            snprintf(named, sizeof named, "/sys/fs/cgroup/%s", strncmp(ctrls, "name=", 5) ? ctrls : ctrls + 5);
            bases[0] = named;
        }
        for (int b = 0; b < 2 && bases[b]; b++) {
            char procs[2200];
            snprintf(procs, sizeof procs, "%s%s%s/cgroup.procs", bases[b], *where ? "/" : "", where);
            if (access(procs, F_OK) != 0)
                continue;
            int fd = open(procs, O_WRONLY | O_CLOEXEC);
            char num[32];
            int len = snprintf(num, sizeof num, "%d", pid);
            if (fd < 0 || write(fd, num, (size_t)len) != len) {
                snprintf(err, errlen, "join the zone's cgroup %s: %s", procs, strerror(errno));
                if (fd >= 0)
                    close(fd);
                return -1;
            }
            close(fd);
            break;
        }
    }
    return 0;
}

/* one fd over a unix socket at path with a payload (SCM_RIGHTS); the reply into reply if any */
static int send_fd_to(const char *path, const char *payload, int fd, char *reply, size_t size)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct timeval tv = {.tv_sec = MONITOR_TIMEOUT_S};
    if (reply) {
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {(void *)payload, strlen(payload)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    int rc = 0;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 || sendmsg(s, &msg, MSG_NOSIGNAL) < 0)
        rc = -errno;
    else if (reply) {
        ssize_t n;
        do
            n = recv(s, reply, size - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            rc = -errno;
        reply[n > 0 ? n : 0] = 0;
    }
    close(s);
    return rc;
}

static const char *sock_error(int rc)
{
    return rc == -EAGAIN || rc == -EINPROGRESS ? "timed out" : strerror(-rc);
}

static volatile pid_t forward_to;
static void forward(int sig)
{
    if (forward_to > 0)
        kill(forward_to, sig);
}

struct exec_opts {
    const char *process, *console_socket, *pid_file;
    int tty, detach;
};

static int cmd_exec(const char *cid, const struct exec_opts *o)
{
    json_t *st = read_state(cid, 1);
    if (!st)
        fail("exec failed: container does not exist");
    if (strcmp(status_of(st), "running") != 0)
        hand_over("exec into a container that is not running");
    if (!o->process)
        hand_over("exec without --process");
    /* the process: checked as oci.py _exec_process checks it; any error is Python's to word */
    json_error_t jerr;
    json_t *proc = json_load_file(o->process, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(proc))
        hand_over("a --process file Python words the errors of");
    char **argv = str_vector(json_object_get(proc, "args"), 0);
    char **envp = str_vector(json_object_get(proc, "env"), 1);
    json_t *cwdv = json_object_get(proc, "cwd");
    const char *cwd = cwdv ? json_string_value(cwdv) : "/";
    json_t *term = json_object_get(proc, "terminal");
    if (!argv || !argv[0] || !envp || !cwd || cwd[0] != '/' || (term && !json_is_boolean(term) && !json_is_null(term)))
        hand_over("a process Python words the errors of");
    for (char **e = envp; *e; e++)
        if (!strchr(*e, '=') || **e == '=')
            hand_over("a process.env Python words the errors of");
    int terminal = json_is_true(term);
    if ((o->console_socket && !terminal) || (terminal && o->detach && !o->console_socket))
        hand_over("console socket and terminal: Python's error");
    if (terminal && !o->detach && !o->console_socket)
        hand_over("a terminal relayed by exec itself");
    json_t *user = json_object_get(proc, "user");
    if (user && !json_is_null(user) && !json_is_object(user))
        hand_over("a process.user Python judges");
    long long uid, gid;
    if (int_field(user, "uid", 0, &uid) < 0 || int_field(user, "gid", 0, &gid) < 0)
        hand_over("ids Python judges");
    json_t *gv = user ? json_object_get(user, "additionalGids") : NULL;
    int groups[MAX_GROUPS], ngroups = 0;
    if (gv && !json_is_null(gv)) {
        size_t i;
        json_t *g;
        if (!json_is_array(gv) || json_array_size(gv) > MAX_GROUPS)
            hand_over("additionalGids Python judges");
        json_array_foreach(gv, i, g) {
            if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > 0x7fffffff)
                hand_over("additionalGids Python judges");
            groups[ngroups++] = (int)json_integer_value(g);
        }
    }
    json_t *caps = json_object_get(proc, "capabilities");
    if (caps && !json_is_null(caps) && !json_is_false(caps) &&
        !(json_is_object(caps) && json_object_size(caps) == 0))
        log_line("warning", "exec: capabilities are not applied one by one; the process has the guest's (docs/OCI.md)");

    /* the zone's filters, as the guest loaded them */
    char path[4096];
    int bpf_len, profile_len;
    path_in(path, sizeof path, cid, FILTER_FILE);
    unsigned char *bpf = read_file(path, &bpf_len);
    path_in(path, sizeof path, cid, PROFILE_FILE);
    unsigned char *profile = read_file(path, &profile_len);
    if (!bpf_len)
        hand_over("the zone's filter missing");
    const char *search_path = NULL;
    for (char **e = envp; *e; e++)
        if (!strncmp(*e, "PATH=", 5))
            search_path = *e + 5;
    json_t *cap_drop = json_object_get(st, "cap_drop");
    if (cap_drop && !json_is_integer(cap_drop) && !json_is_null(cap_drop))
        hand_over("a cap_drop Python judges");

    /* the guest: a pidfd, checked to be init's child (oci.py _guest_pidfd) */
    long long guest = get_pid(st, "guest_pid"), init = get_pid(st, "init_pid");
    if (!alive(st, "init_pid", "init_start") || !guest)
        fail("exec failed: container not running");
    int gfd = (int)syscall(SYS_pidfd_open, (pid_t)guest, 0);
    if (gfd < 0)
        hand_over("the guest's pidfd");
    char stat_path[64], buf[1024];
    snprintf(stat_path, sizeof stat_path, "/proc/%lld/stat", guest);
    int sfd = open(stat_path, O_RDONLY | O_CLOEXEC);
    ssize_t n = sfd >= 0 ? read(sfd, buf, sizeof buf - 1) : -1;
    if (sfd >= 0)
        close(sfd);
    if (n <= 0)
        hand_over("the guest's stat");
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    long long ppid = -1;
    if (rp && sscanf(rp + 2, "%*c %lld", &ppid) != 1)
        ppid = -1;
    if (ppid != init)
        fail("exec failed: container not running (its process has ended)");
    int ns_flags = lxb_guest_ns_flags((int)guest);
    if (ns_flags < 0)
        hand_over("the guest's namespaces");

    struct lxb_exec e = {
        .guest_pidfd = gfd, .ns_flags = ns_flags, .cwd = cwd, .path = argv[0], .search_path = search_path,
        .argv = argv, .envp = envp, .uid = (int)uid, .gid = (int)gid, .ngroups = ngroups, .groups = groups,
        .stdio = {0, 1, 2}, .use_pty = terminal, .bpf = bpf, .bpf_len = bpf_len,
        .cap_drop = json_is_integer(cap_drop) ? (uint64_t)json_integer_value(cap_drop) : 0,
        .profile_bpf = profile_len ? profile : NULL, .profile_bpf_len = profile_len,
    };
    struct lxb_exec_proc p;
    char err[512], msg[8192];
    int rc = lxb_zone_exec(&e, &p, err, sizeof err);
    close(gfd);
    if (rc < 0)
        fail("exec failed: unable to start container process: %s", err);

    char reply[4096];
    msg[0] = 0;
    if (join_cgroups(guest, p.cmd_pid, msg, sizeof msg) < 0)
        goto abort;
    path_in(path, sizeof path, cid, CTL_SOCKET);
    rc = send_fd_to(path, "listener\n", p.listener_fd, reply, sizeof reply);
    if (rc == -ENAMETOOLONG) {
        snprintf(msg, sizeof msg, "container %s: its monitor does not answer (AF_UNIX path too long)", cid);
        goto abort;
    }
    if (rc < 0) {
        snprintf(msg, sizeof msg, "container %s: its monitor does not answer (%s)", cid, sock_error(rc));
        goto abort;
    }
    if (strncmp(reply, "OK", 2) != 0) {
        snprintf(msg, sizeof msg, "%s", reply[0] && reply[1] ? reply + 1 : "the container's monitor gave no answer");
        goto abort;
    }
    close(p.listener_fd);
    p.listener_fd = -1;
    if (p.pty_fd >= 0) {
        /* oci.py _set_winsize: consoleSize, else our terminal's */
        json_t *size = json_object_get(proc, "consoleSize");
        struct winsize ws = {0};
        if (json_is_object(size)) {
            ws.ws_row = (unsigned short)json_integer_value(json_object_get(size, "height"));
            ws.ws_col = (unsigned short)json_integer_value(json_object_get(size, "width"));
        } else if (isatty(0)) {
            ioctl(0, TIOCGWINSZ, &ws);
        }
        if (ws.ws_row && ws.ws_col)
            ioctl(p.pty_fd, TIOCSWINSZ, &ws);
        rc = send_fd_to(o->console_socket, "/dev/ptmx", p.pty_fd, NULL, 0);
        if (rc < 0) {
            snprintf(msg, sizeof msg, "--console-socket %s: %s", o->console_socket, strerror(-rc));
            goto abort;
        }
    }
    if (o->pid_file) {
        char tmp[4096], num[32];
        int len = snprintf(num, sizeof num, "%d", p.pid);
        snprintf(tmp, sizeof tmp, "%s.tmp", o->pid_file);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0 || write(fd, num, (size_t)len) != len || close(fd) < 0 || rename(tmp, o->pid_file) < 0) {
            snprintf(msg, sizeof msg, "%s: %s", o->pid_file, strerror(errno));
            goto abort;
        }
    }
    if (!o->detach) {
        /* pass our signals on to the relay, which passes them to CMD (oci.py _wait_exec) */
        static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
        struct sigaction sa = {.sa_handler = forward};
        forward_to = p.pid;
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            sigaction(sigs[i], &sa, NULL);
    }
    rc = lxb_exec_release(&p);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "release the process: %s", strerror(-rc));
        goto abort;
    }
    if (o->detach) {
        if (p.pty_fd >= 0)
            close(p.pty_fd);
        return 0;
    }
    int status;
    while (waitpid(p.pid, &status, 0) < 0)
        if (errno != EINTR)
            fail("exec failed: wait for the process: %s", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

abort:
    lxb_exec_abort(&p);
    fail("exec failed: %s", msg);
}

/* ---- the command line: runc's, as lxbrand/oci.py's click group takes it ---- */

/* --name VALUE or --name=VALUE at argv[*i]; NULL when argv[*i] is not it */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0)
        return NULL;
    if (argv[*i][len] == '=' && name[1] == '-')     /* click: -f=json is the value "=json" */
        return argv[*i] + len + 1;
    if (argv[*i][len])
        return NULL;
    if (*i + 1 >= argc)
        hand_over("an option without its value");
    return argv[++*i];
}

int main(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
    /* as oci.py entry(): fds 0-2 exist (an engine may close them) */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
            return 1;
    signal(SIGPIPE, SIG_IGN);

    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *v;
        if ((v = option_value(argc, argv, &i, "--root")))
            root = v;
        else if ((v = option_value(argc, argv, &i, "--log-format"))) {
            if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
                hand_over("--log-format");
            log_json = !strcmp(v, "json");
        } else if ((v = option_value(argc, argv, &i, "--log")))
            log_path = v;
        else if (option_value(argc, argv, &i, "--rootless") || option_value(argc, argv, &i, "--criu"))
            ;
        else if (strcmp(argv[i], "--debug") != 0 && strcmp(argv[i], "--systemd-cgroup") != 0)
            hand_over("a global option the front door does not parse");
    }
    if (i >= argc)
        hand_over("no command");
    const char *cmd = argv[i++];

    if (!strcmp(cmd, "exec")) {
        /* options, then ID, then CMD (ignored with --process): click's allow_interspersed_args=False */
        struct exec_opts o = {0};
        for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
            const char *a = argv[i], *v;
            if (!strcmp(a, "-t") || !strcmp(a, "--tty"))
                o.tty = 1;
            else if (!strcmp(a, "-d") || !strcmp(a, "--detach"))
                o.detach = 1;
            else if ((v = option_value(argc, argv, &i, "--process")) || (v = option_value(argc, argv, &i, "-p")))
                o.process = v;
            else if ((v = option_value(argc, argv, &i, "--console-socket")))
                o.console_socket = v;
            else if ((v = option_value(argc, argv, &i, "--pid-file")))
                o.pid_file = v;
            else if ((v = option_value(argc, argv, &i, "--preserve-fds"))) {
                if (strcmp(v, "0") != 0)
                    hand_over("--preserve-fds");
            } else if (option_value(argc, argv, &i, "--apparmor") || option_value(argc, argv, &i, "--process-label") ||
                       option_value(argc, argv, &i, "--cgroup"))
                ;
            else if (strcmp(a, "--no-new-privs") != 0 && strcmp(a, "--ignore-paused") != 0 &&
                     strcmp(a, "--no-subreaper") != 0)
                hand_over("an exec option the front door does not parse");
        }
        if (i >= argc)
            hand_over("exec without an id");
        return cmd_exec(argv[i], &o);
    }

    /* the command's own options (anywhere, as click takes them) and its arguments */
    const char *pos[3];
    int npos = 0, force = 0, all = 0, quiet = 0, as_json = 0;
    for (; i < argc; i++) {
        const char *a = argv[i], *v;
        if (a[0] != '-' || !a[1]) {
            if (npos == 3)
                hand_over("too many arguments");
            pos[npos++] = a;
        } else if (!strcmp(cmd, "delete") && (!strcmp(a, "-f") || !strcmp(a, "--force")))
            force = 1;
        else if (!strcmp(cmd, "kill") && (!strcmp(a, "-a") || !strcmp(a, "--all")))
            all = 1;
        else if (!strcmp(cmd, "list") && (!strcmp(a, "-q") || !strcmp(a, "--quiet")))
            quiet = 1;
        else if ((!strcmp(cmd, "list") || !strcmp(cmd, "ps")) &&
                 ((v = option_value(argc, argv, &i, "--format")) || (v = option_value(argc, argv, &i, "-f")))) {
            if (strcmp(v, "json") != 0 && strcmp(v, "table") != 0)
                hand_over("--format");
            as_json = !strcmp(v, "json");
        } else
            hand_over("an option of the command the front door does not parse");
    }
    (void)all;                             /* the signal reaches init, which passes it to the process group */
    if (!strcmp(cmd, "state") && npos == 1)
        return cmd_state(pos[0]);
    if (!strcmp(cmd, "start") && npos == 1)
        return cmd_start(pos[0]);
    if (!strcmp(cmd, "kill") && (npos == 1 || npos == 2))
        return cmd_kill(pos[0], npos == 2 ? pos[1] : "SIGTERM");
    if (!strcmp(cmd, "delete") && npos == 1)
        return cmd_delete(pos[0], force);
    if (!strcmp(cmd, "list") && npos == 0)
        return cmd_list(as_json, quiet);
    if (!strcmp(cmd, "features") && npos == 0)
        return cmd_features();
    if (!strcmp(cmd, "ps") && npos == 1 && as_json)
        return cmd_ps_json(pos[0]);
    hand_over(cmd);
}
