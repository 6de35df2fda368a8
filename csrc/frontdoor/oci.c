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
 *   program serves `state`, `start`, `kill`, `delete`, `list`, `features`,
 *   `ps -f json` and the common `create` (THE CREATE, below: a monitor in C)
 *   with the same output, the same errors (runc's log
 *   format, lxbrand/oci.py Log) and the same exit statuses; and `exec
 *   --process` (the form engines use), with lxb_zone_exec (csrc/zone_exec.c)
 *   as the Python exec calls it, the listener sent to the zone's monitor.
 *
 * HANDING OVER
 *
 *   Everything else goes to the Python runtime, by execv of the interpreter
 *   recorded at build time (oci_gen.h: LXB_OCI_PY, `-I -S`: no site, no .pth
 *   hooks, the sys.path baked) running lxbrand/oci_fast.py main(), with the
 *   same arguments, before anything happened: a create THE CREATE does not
 *   take (it says which), exec with CMD words, into a zone that is
 *   not running or with a terminal it would relay itself, --help, an option or a form of one this file does not
 *   parse, an id that is not plain ASCII, a state file that is unreadable,
 *   not JSON or not of the shape the monitor writes (Python words those
 *   errors), a container with poststart/poststop hooks (start and delete run
 *   them), `ps` as a table, a signal name not in the table below, and
 *   `features` when lxbrand/oci_cli.py or oci.py changed since the build.
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
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "lxbrand.h"
#include "common.h"
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
static const char *log_also;          /* a container's own log.json (ROOT/ID/), JSON lines */

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
    if (log_also) {
        json_quote(qnow, sizeof qnow, now);
        snprintf(line, sizeof line, "{\"level\": \"%s\", \"msg\": %s, \"time\": %s}\n", level, quoted, qnow);
        int fd = open(log_also, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (write(fd, line, strlen(line)) < 0) { /* as Python: a log that fails is no error */ }
            close(fd);
        }
    }
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
    /* oci_cli.py builds the text from oci.py's tables (oci_gen.py) */
    if (!deps_fresh(LXB_OCI_FEATURES_DEPS, strlen(LXB_OCI_FEATURES_DEPS)))
        hand_over("lxbrand/oci_cli.py or oci.py changed since the build");
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

static void give_stdio(long long uid, long long gid);

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
    give_stdio(uid, gid);
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
/* ---- create (THE CREATE) ----
 *
 * `create` as lxbrand/oci.py create_container and _monitor do it, for the
 * config.json an engine writes (podman's, containerd's), run by root: the
 * config is read with the same rules as oci.py translate() (the same
 * warnings, in the same order, to --log and ROOT/ID/log.json), the brand
 * comes from the front door's brand cache (as lxrun.c reads it), the
 * container's seccomp profile is compiled with csrc/filter.c as Python
 * compiles it, CMD is found in the rootfs as lxbrand/command.py finds it,
 * the rootfs is shifted as lxbrand/idshift.py shifts it, the pids limit is
 * a cgroup as lxbrand/limits.py makes it, and the monitor is a fork of this
 * process: it starts the zone held, runs the C supervisor in threads (one
 * for the guest's listener, two for each exec'd process's, as oci.py
 * _serve_listener), answers ctl.sock, and exits with the guest's status.
 *
 * Everything this code does not take as its own goes to Python before
 * anything happened (no state directory, no zone): a config key it does
 * not know, a value whose wording or effect is Python's (every error of
 * translate(), a CMD command.resolve would refuse, memory or cpu limits,
 * hooks, org.lxbrand.* annotations other than kernel-release and deny (the
 * cached brand for those, with the personality's files, as lxrun.c),
 * a seccomp profile libseccomp or oci.py refuses), a brand not in the
 * cache, a caller that is not root, sources changed since the build
 * (LXB_OCI_CREATE_DEPS).  What fails after the state directory exists is
 * said here in Python's words, and leaves nothing behind.
 */

#define CR_MAX 256
#define ID_MAX_ 4294967294ULL
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define EXEC_RECEIVERS 2
/* lxbrand/idshift.py */
#define IDSHIFT_XATTR "trusted.lxbrand.idshift"
#define IDSHIFT_BASE 0x70000000u
#define IDSHIFT_COUNT 65536u
#define IDSHIFT_MARK "1879048192:65536"
#define IDSHIFT_MAPS "0 1879048192 65536\n"

/* oci.py give_stdio: run by root, the engine's stdio pipes and sockets
 * (conmon's, containerd's shim's: made for this container alone) become the
 * process's host ids, as crun gives them before joining the user namespace
 * and runc after: they are host root's, whom the zone does not map, so
 * /dev/stdout, /dev/stderr and /proc/self/fd/N answered EACCES (nginx's
 * access_log /dev/stdout).  Never a file or a terminal (the host's). */
static void give_stdio(long long uid, long long gid)
{
    if (geteuid() != 0 || uid < 0 || gid < 0 || uid >= IDSHIFT_COUNT || gid >= IDSHIFT_COUNT)
        return;
    for (int k = 0; k < 3; k++) {
        char link[64], target[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", k);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (!strncmp(target, "pipe:[", 6) || !strncmp(target, "socket:[", 8))
            (void)!fchown(k, IDSHIFT_BASE + (unsigned)uid, IDSHIFT_BASE + (unsigned)gid);
    }
}
/* lxbrand/brand/compile.py FRONTDOOR_* (lxrun.c) */
#define BRAND_MAGIC "lxbrand-brand-4\n"
#define BRAND_KEY "lxbrand-frontdoor-key 1\n"
#define BRAND_HEADER 1332
#define BRAND_NEEDS_PYTHON 1
#define BRAND_MAX (BRAND_HEADER + 256 * 1024)
#define PROFILE_BPF_MAX (256 * 1024)

struct kv {
    const char *key;
    const char *value;
};

struct rl {
    int res;
    long long soft, hard;
    const char *name;
};

struct spec {
    const char *bundle, *rootfs, *cwd, *hostname, *netns, *tmp_size, *shm_size;
    int read_only, terminal, net_host, has_oom, nargs, nenv, nbinds, nrl, nwarn;
    long long uid, gid, oom, pids;
    char **args;
    struct kv env[CR_MAX + 3];
    struct lxb_bind binds[CR_MAX];
    struct rl rl[64];
    char *warn[CR_MAX];
    unsigned char *profile;
    int profile_len;
    json_t *annotations;
    struct lxb_step steps[32 + 16];  /* the config's other tmpfs mounts (ZoneConfig.tmpfs), then
                                        the personality's files under org.lxbrand.kernel-release */
    int nsteps;
    const char *kernel_release;      /* org.lxbrand.kernel-release, or NULL */
    struct kv deny[CR_MAX];          /* org.lxbrand.deny, in first-given order, the last value winning */
    int ndeny;
};

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        hand_over("out of memory");
    return d;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        hand_over("out of memory");
    va_end(ap);
    return s;
}

static void warn(struct spec *s, char *msg)
{
    if (s->nwarn >= CR_MAX)
        hand_over("too many warnings");
    s->warn[s->nwarn++] = msg;
}

/* Python's truth of a JSON value */
static int truthy(json_t *v)
{
    if (!v)
        return 0;
    switch (json_typeof(v)) {
    case JSON_NULL: case JSON_FALSE: return 0;
    case JSON_TRUE: return 1;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    }
    return 1;
}

/* repr() of a str, printable ASCII only (anything else is Python's to write) */
static char *py_repr(const char *s)
{
    int sq = 0, dq = 0;
    for (const char *p = s; *p; p++) {
        if (*p < 0x20 || *p > 0x7e)
            hand_over("a string Python writes its own way");
        sq |= *p == '\'';
        dq |= *p == '"';
    }
    char q = sq && !dq ? '"' : '\'';
    char *out = malloc(strlen(s) * 2 + 3), *o = out;
    if (!out)
        hand_over("out of memory");
    *o++ = q;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == q)
            *o++ = '\\';
        *o++ = *p;
    }
    *o++ = q;
    *o = 0;
    return out;
}

/* repr() of a list of str */
static char *py_list(const char *const *items, int n)
{
    char *out = xstrdup("["), *next;
    for (int i = 0; i < n; i++) {
        char *r = py_repr(items[i]);
        next = xprintf("%s%s%s", out, i ? ", " : "", r);
        free(out);
        free(r);
        out = next;
    }
    next = xprintf("%s]", out);
    free(out);
    return next;
}

/* a list of str (NULL or null as none): its items, else hand over */
static int str_list(json_t *v, const char **out, int max, const char *what)
{
    size_t i;
    json_t *item;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || (int)json_array_size(v) > max)
        hand_over(what);
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || strlen(json_string_value(item)) != json_string_length(item))
            hand_over(what);
        out[i] = json_string_value(item);
    }
    return (int)json_array_size(v);
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

/* posixpath.normpath of an absolute path; a leading "//" (kept by Python) is handed over */
static char *normpath_abs(const char *p)
{
    if (p[0] != '/' || (p[1] == '/' && p[2] != '/'))
        hand_over("a path Python normalises its own way");
    char *in = xstrdup(p), *out = calloc(strlen(p) + 2, 1), *seg, *save = NULL;
    if (!out)
        hand_over("out of memory");
    for (seg = strtok_r(in, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (!strcmp(seg, "."))
            continue;
        if (!strcmp(seg, "..")) {
            char *slash = strrchr(out, '/');
            if (slash)
                *slash = 0;
            continue;
        }
        strcat(out, "/");
        strcat(out, seg);
    }
    if (!out[0])
        strcpy(out, "/");
    free(in);
    return out;
}

static char *abspath_of(const char *p)
{
    if (p[0] == '/')
        return normpath_abs(p);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        hand_over("getcwd failed");
    char *j = xprintf("%s/%s", cwd, p), *r = normpath_abs(j);
    free(j);
    return r;
}

/* config.py _check_hostname (ASCII letters, digits, inner hyphens, dots) */
/* limits.tmpfs_size: "N%" (1-100) as given, else a size in bytes; NULL: Python's to judge */
static const char *tmpfs_size(const char *s)
{
    const char *p = s;
    unsigned long long n = 0, mult = 1;
    size_t ndigits = 0, len = strlen(s);
    if (len >= 2 && len <= 3 && s[len - 1] == '%') {
        if (len == 2 && s[0] >= '1' && s[0] <= '9')
            return s;
        if (len == 3 && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9')
            return s;
    }
    if (!strcmp(s, "100%"))
        return s;
    for (; *p >= '0' && *p <= '9'; p++, ndigits++)
        n = n * 10 + (unsigned)(*p - '0');
    if (ndigits == 0 || ndigits > 15)
        return NULL;
    if (*p) {
        const char *units = "kmgt", *u;
        char c = (char)(*p | 0x20);
        if (c && (u = strchr(units, c))) {
            for (int k = 0; k <= u - units; k++)
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
    return xprintf("%llu", n * mult);
}

/* an integer field (absent: dflt); anything else (a bool, a string) is Python's */
static long long int_or(json_t *o, const char *key, long long dflt, const char *what)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return dflt;
    if (!json_is_integer(v))
        hand_over(what);
    return json_integer_value(v);
}

static int bool_or(json_t *o, const char *key, const char *what)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_false(v))
        return 0;
    if (json_is_true(v))
        return 1;
    hand_over(what);
}

static void only_keys(json_t *o, const char *const *known, const char *what)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (!in_list(key, known))
            hand_over(what);
    }
}

/* an object, or absent/falsy as {} (Python's `x.get(k) or {}`); else hand over */
static json_t *obj_or_empty(json_t *o, const char *key, const char *what)
{
    json_t *v = json_object_get(o, key);
    if (!truthy(v))
        return NULL;
    if (!json_is_object(v))
        hand_over(what);
    return v;
}

static void kv_set(struct kv *items, int *n, const char *key, size_t keylen, const char *value)
{
    for (int i = 0; i < *n; i++)
        if (strlen(items[i].key) == keylen && !strncmp(items[i].key, key, keylen)) {
            items[i].value = value;
            return;
        }
    if (*n >= CR_MAX)
        hand_over("too many environment variables");
    items[*n].key = strndup(key, keylen);
    items[*n].value = value;
    (*n)++;
}

/* -- linux.seccomp: oci.py seccomp_profile -- */

static const char *const scmp_arches[] = {
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", NULL};
static const char *const scmp_flags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                         "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL};
static const struct { const char *name; uint32_t act; } scmp_actions[] = {
    {"SCMP_ACT_KILL", 0x00000000}, {"SCMP_ACT_KILL_THREAD", 0x00000000}, {"SCMP_ACT_KILL_PROCESS", 0x80000000},
    {"SCMP_ACT_TRAP", 0x00030000}, {"SCMP_ACT_ERRNO", 0x00050000}, {"SCMP_ACT_TRACE", 0x7ff00000},
    {"SCMP_ACT_LOG", 0x7ffc0000}, {"SCMP_ACT_ALLOW", 0x7fff0000}, {NULL, 0}};
static const char *const scmp_ops[] = {"", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                                       "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL};

static uint32_t scmp_action(json_t *name, json_t *errno_ret)
{
    const char *n = json_string_value(name);
    if (!n)
        hand_over("a seccomp action Python words");
    for (int i = 0; scmp_actions[i].name; i++) {
        if (strcmp(n, scmp_actions[i].name) != 0)
            continue;
        uint32_t act = scmp_actions[i].act;
        if (!strcmp(n, "SCMP_ACT_ERRNO") || !strcmp(n, "SCMP_ACT_TRACE")) {
            long long ret = 1;             /* EPERM */
            if (errno_ret && !json_is_null(errno_ret)) {
                if (!json_is_integer(errno_ret) || json_integer_value(errno_ret) < 0 ||
                    json_integer_value(errno_ret) >= 4096)
                    hand_over("a seccomp errnoRet Python refuses");
                ret = json_integer_value(errno_ret);
            }
            act |= (uint32_t)ret;
        }
        return act;
    }
    hand_over("a seccomp action Python refuses");
}

static int syscall_nr(const char *name)
{
    for (int i = 0; lxb_oci_syscalls[i].name; i++)
        if (!strcmp(lxb_oci_syscalls[i].name, name))
            return lxb_oci_syscalls[i].nr;
    return -1;
}

static void seccomp_profile(struct spec *s, json_t *sc)
{
    static const char *const known[] = {"defaultAction", "defaultErrnoRet", "architectures", "flags",
                                        "listenerPath", "listenerMetadata", "syscalls", NULL};
    const char *items[64];
    if (!json_is_object(sc))
        hand_over("linux.seccomp Python refuses");
    only_keys(sc, known, "a linux.seccomp key the front door does not know");
    uint32_t dflt = scmp_action(json_object_get(sc, "defaultAction"), json_object_get(sc, "defaultErrnoRet"));
    int n = str_list(truthy(json_object_get(sc, "architectures")) ? json_object_get(sc, "architectures") : NULL,
                     items, 64, "linux.seccomp.architectures Python words");
    for (int i = 0; i < n; i++)
        if (!in_list(items[i], scmp_arches))
            hand_over("an unknown seccomp architecture");
    n = str_list(truthy(json_object_get(sc, "flags")) ? json_object_get(sc, "flags") : NULL, items, 64,
                 "linux.seccomp.flags Python words");
    for (int i = 0; i < n; i++)
        if (!in_list(items[i], scmp_flags))
            hand_over("an unknown seccomp flag");
    if (n)
        warn(s, xprintf("linux.seccomp.flags %s: not applied", py_list(items, n)));
    json_t *lp = json_object_get(sc, "listenerPath");
    if (truthy(lp)) {
        if (!json_is_string(lp))
            hand_over("a listenerPath Python words");
        warn(s, xprintf("linux.seccomp.listenerPath %s: ignored (no SCMP_ACT_NOTIFY in a zone's profile)",
                        json_string_value(lp)));
    }
    json_t *calls = json_object_get(sc, "syscalls");
    struct lxb_scmp_rule *rules = NULL;
    int nrules = 0, cap = 0;
    if (truthy(calls)) {
        size_t i, k;
        json_t *call, *a;
        if (!json_is_array(calls))
            hand_over("linux.seccomp.syscalls Python words");
        json_array_foreach(calls, i, call) {
            static const char *const ckeys[] = {"names", "action", "errnoRet", "args", "comment", "includes",
                                                "excludes", NULL};
            if (!json_is_object(call) || !json_is_array(json_object_get(call, "names")))
                hand_over("a seccomp rule Python refuses");
            only_keys(call, ckeys, "a seccomp rule key the front door does not know");
            uint32_t act = scmp_action(json_object_get(call, "action"), json_object_get(call, "errnoRet"));
            struct lxb_scmp_arg conds[6];
            int nconds = 0, dup = 0;
            json_t *args = json_object_get(call, "args");
            if (truthy(args)) {
                if (!json_is_array(args) || json_array_size(args) > 6)
                    hand_over("seccomp args Python words");
                json_array_foreach(args, k, a) {
                    const char *op = json_string_value(json_object_get(a, "op"));
                    json_t *ix = json_object_get(a, "index"), *v1 = json_object_get(a, "value"),
                           *v2 = json_object_get(a, "valueTwo");
                    int opn = 0;
                    if (!json_is_object(a) || !op)
                        hand_over("a seccomp args entry Python refuses");
                    for (int j = 1; scmp_ops[j]; j++)
                        if (!strcmp(op, scmp_ops[j]))
                            opn = j;
                    if (!opn || !json_is_integer(ix) || json_integer_value(ix) < 0 || json_integer_value(ix) > 5 ||
                        (v1 && !json_is_integer(v1)) || (v2 && !json_is_integer(v2)) ||
                        (v1 && json_integer_value(v1) < 0) || (v2 && json_integer_value(v2) < 0))
                        hand_over("a seccomp args entry Python refuses");
                    conds[nconds].index = (uint32_t)json_integer_value(ix);
                    conds[nconds].op = opn;
                    conds[nconds].value = v1 ? (uint64_t)json_integer_value(v1) : 0;
                    conds[nconds].value_two = v2 ? (uint64_t)json_integer_value(v2) : 0;
                    for (int j = 0; j < nconds; j++)
                        dup |= conds[j].index == conds[nconds].index;
                    nconds++;
                }
            }
            json_t *names = json_object_get(call, "names");
            json_array_foreach(names, k, a)
                if (!json_is_string(a))
                    hand_over("a seccomp syscall name Python words");
            if (act == dflt)
                continue;              /* libseccomp refuses a rule that is the default (runc skips it) */
            json_array_foreach(names, k, a) {
                int nr = syscall_nr(json_string_value(a));
                if (nr < 0)
                    continue;          /* another architecture's (runc skips unknown names too) */
                int groups = dup ? nconds : 1;
                for (int g = 0; g < groups; g++) {
                    if (nrules >= cap) {
                        cap = cap ? cap * 2 : 256;
                        rules = realloc(rules, (size_t)cap * sizeof *rules);
                        if (!rules)
                            hand_over("out of memory");
                    }
                    struct lxb_scmp_rule *r = &rules[nrules++];
                    r->nr = nr;
                    r->action = act;
                    r->nargs = dup ? 1 : nconds;
                    struct lxb_scmp_arg *copy = malloc(sizeof conds);
                    if (!copy)
                        hand_over("out of memory");
                    memcpy(copy, dup ? &conds[g] : conds, dup ? sizeof conds[0] : sizeof conds);
                    r->args = copy;
                }
            }
        }
    }
    s->profile = malloc(PROFILE_BPF_MAX);
    int failed = -1;
    if (!s->profile)
        hand_over("out of memory");
    s->profile_len = lxb_profile_build(dflt, rules, nrules, s->profile, PROFILE_BPF_MAX, &failed);
    if (s->profile_len < 0)
        hand_over("a seccomp profile libseccomp refuses (Python words it)");
}

/* -- config.json to a zone: oci.py translate -- */

static const char *const own_masked[] = {
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/key-users", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/proc/kpagecount",
    "/proc/kpageflags", "/proc/kpagecgroup", "/proc/sysrq-trigger", "/proc/kmsg", "/proc/config.gz",
    "/sys/firmware", "/sys/devices/virtual/powercap", "/sys/kernel/debug", "/sys/kernel/tracing",
    "/sys/kernel/security", "/sys/fs/bpf", NULL};
static const char *const own_readonly[] = {"/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq", NULL};
static const char *const bind_opts_ignored[] = {
    "bind", "rbind", "rprivate", "private", "rslave", "slave", "rshared", "shared", "z", "Z", "nosuid", "nodev",
    "noexec", "suid", "dev", "exec", "relatime", "norelatime", "noatime", "strictatime", "rw", "ro", "rro", "rrw",
    "defaults", "nosymfollow", "idmap", NULL};
static const char *const tmpfs_opts_quiet[] = {"size", "mode", "nosuid", "nodev", "noexec", "strictatime",
                                               "relatime", "rw", "rprivate", "private", "tmpcopyup", NULL};

static int own_mount(const char *typ, const char *dst)
{
    static const char *const own[][2] = {{"proc", "/proc"}, {"sysfs", "/sys"}, {"tmpfs", "/dev"},
                                         {"devpts", "/dev/pts"}, {"mqueue", "/dev/mqueue"},
                                         {"cgroup", "/sys/fs/cgroup"}, {"cgroup2", "/sys/fs/cgroup"}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(typ, own[i][0]) && !strcmp(dst, own[i][1]))
            return 1;
    return (!strcmp(typ, "cgroup") || !strcmp(typ, "cgroup2")) && !strncmp(dst, "/sys/fs/cgroup", 14);
}

static void translate_mounts(struct spec *s, json_t *mounts)
{
    size_t i;
    json_t *m;
    const char *opts[64], *other[64];
    if (!truthy(mounts))
        return;
    if (!json_is_array(mounts))
        hand_over("mounts Python words");
    json_array_foreach(mounts, i, m) {
        static const char *const mkeys[] = {"destination", "type", "source", "options", "uidMappings",
                                            "gidMappings", NULL};
        if (!json_is_object(m))
            hand_over("a mount Python words");
        only_keys(m, mkeys, "a mount key the front door does not know");
        if (truthy(json_object_get(m, "uidMappings")) || truthy(json_object_get(m, "gidMappings")))
            hand_over("an idmapped mount");
        json_t *jd = json_object_get(m, "destination"), *jt = json_object_get(m, "type"),
               *js = json_object_get(m, "source");
        if (!json_is_string(jd) || json_string_value(jd)[0] != '/')
            hand_over("a mount destination Python refuses");
        if ((truthy(jt) && !json_is_string(jt)) || (truthy(js) && !json_is_string(js)))
            hand_over("a mount Python words");
        const char *typ = truthy(jt) ? json_string_value(jt) : "";
        const char *src = truthy(js) ? json_string_value(js) : "";
        int nopts = str_list(truthy(json_object_get(m, "options")) ? json_object_get(m, "options") : NULL, opts,
                             64, "mount options Python words");
        char *dst = normpath_abs(json_string_value(jd));
        int nother = 0, has_bind = 0, ro = 0;
        for (int k = 0; k < nopts; k++) {
            has_bind |= !strcmp(opts[k], "bind") || !strcmp(opts[k], "rbind");
            ro |= !strcmp(opts[k], "ro") || !strcmp(opts[k], "rro");
        }
        if (own_mount(typ, dst))
            continue;                      /* the zone's own (csrc/zone_fs.c) */
        if (!strcmp(typ, "bind") || !strcmp(typ, "rbind") || ((!*typ || !strcmp(typ, "none")) && has_bind)) {
            char *hsrc = src[0] == '/' ? normpath_abs(src) : normpath_abs(xprintf("%s/%s", s->bundle, src));
            struct stat sb;
            if (stat(hsrc, &sb) != 0)
                hand_over("a bind source that does not exist (Python says so)");
            for (int k = 0; k < nopts; k++)
                if (!in_list(opts[k], bind_opts_ignored))
                    other[nother++] = opts[k];
            if (nother)
                warn(s, xprintf("mount %s: options %s not applied", dst, py_list(other, nother)));
            if (s->nbinds >= CR_MAX)
                hand_over("too many binds");
            s->binds[s->nbinds].src = hsrc;
            s->binds[s->nbinds].dst = dst;
            s->binds[s->nbinds].readonly = ro;
            s->nbinds++;
        } else if (!strcmp(typ, "tmpfs")) {
            const char *size = NULL;
            for (int k = 0; k < nopts; k++) {
                size_t klen = strcspn(opts[k], "=");
                char *key = strndup(opts[k], klen);
                if (!in_list(key, tmpfs_opts_quiet))
                    other[nother++] = opts[k];
                if (!strncmp(opts[k], "size=", 5))
                    size = opts[k] + 5;
                free(key);
            }
            if (nother)
                warn(s, xprintf("mount %s (tmpfs): options %s not applied", dst, py_list(other, nother)));
            for (int k = 0; k < nopts; k++)
                if (!strcmp(opts[k], "ro"))
                    hand_over("a read-only tmpfs (Python refuses it)");
            if (!strcmp(dst, "/dev/shm")) {
                if (size)
                    s->shm_size = size;
            } else if (!strcmp(dst, "/tmp")) {
                if (size)
                    s->tmp_size = size;
            } else {
                /* config._tmpfs_spec of "DST:size=..,mode=..": sizes as limits.tmpfs_size
                   has them, an octal mode, then size=25% and mode=1777 if not given */
                char *data = xstrdup(""), *next;
                int has_size = 0, has_mode = 0;
                if (strchr(dst, ':') || !strcmp(dst, "/") || s->nsteps >= 32)
                    hand_over("a tmpfs mount Python takes its own way");
                for (int k = 0; k < nopts; k++) {
                    const char *o = opts[k], *val;
                    size_t klen = strcspn(o, "=");
                    if (klen == 4 && !strncmp(o, "size", 4)) {
                        if (!o[4] || !(val = tmpfs_size(o + 5)) || strchr(o + 5, ','))
                            hand_over("a tmpfs size Python judges");
                        next = xprintf("%s%ssize=%s", data, *data ? "," : "", val);
                        has_size = 1;
                    } else if (klen == 4 && !strncmp(o, "mode", 4)) {
                        size_t n = strlen(o + 5);
                        if (!o[4] || n < 3 || n > 4 || strspn(o + 5, "01234567") != n)
                            hand_over("a tmpfs mode Python judges");
                        next = xprintf("%s%smode=%s", data, *data ? "," : "", o + 5);
                        has_mode = 1;
                    } else {
                        continue;
                    }
                    free(data);
                    data = next;
                }
                if (!has_size) {
                    next = xprintf("%s%ssize=25%%", data, *data ? "," : "");
                    free(data);
                    data = next;
                }
                if (!has_mode) {
                    next = xprintf("%s%smode=1777", data, *data ? "," : "");
                    free(data);
                    data = next;
                }
                s->steps[s->nsteps].op = LXB_STEP_TMPFS;
                s->steps[s->nsteps].flags = 0;
                s->steps[s->nsteps].path = dst;
                s->steps[s->nsteps].src = NULL;
                s->steps[s->nsteps].data = data;
                s->nsteps++;
            }
        } else if (!strcmp(typ, "proc") || !strcmp(typ, "sysfs") || !strcmp(typ, "devpts") ||
                   !strcmp(typ, "mqueue") || !strcmp(typ, "cgroup") || !strcmp(typ, "cgroup2")) {
            warn(s, xprintf("mount %s (%s): not made; the zone has its own at its usual place", dst, typ));
        } else {
            hand_over("a mount type Python refuses");
        }
    }
}

static void translate(struct spec *s, json_t *config)
{
    static const char *const top[] = {"ociVersion", "root", "process", "hostname", "domainname", "mounts",
                                      "hooks", "annotations", "linux", NULL};
    static const char *const pkeys[] = {"terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd",
                                        "capabilities", "rlimits", "noNewPrivileges", "apparmorProfile",
                                        "oomScoreAdj", "selinuxLabel", "ioPriority", "scheduler",
                                        "execCPUAffinity", NULL};
    static const char *const ukeys[] = {"uid", "gid", "umask", "additionalGids", "username", NULL};
    static const char *const lkeys[] = {"namespaces", "uidMappings", "gidMappings", "timeOffsets", "devices",
                                        "cgroupsPath", "resources", "sysctl", "seccomp", "rootfsPropagation",
                                        "maskedPaths", "readonlyPaths", "mountLabel", "intelRdt", "personality",
                                        NULL};
    const char *items[CR_MAX], *other[CR_MAX];
    size_t i;
    json_t *v;

    if (!json_is_object(config))
        hand_over("a config.json Python words");
    only_keys(config, top, "a config.json key the front door does not know");
    if (!json_is_string(json_object_get(config, "ociVersion")))
        hand_over("no ociVersion (Python says so)");
    json_t *root_ = json_object_get(config, "root");
    json_t *rpath = json_object_get(root_, "path");
    if (!json_is_object(root_) || !json_is_string(rpath) || !json_string_length(rpath))
        hand_over("no root.path (Python says so)");
    const char *rp = json_string_value(rpath);
    s->rootfs = rp[0] == '/' ? normpath_abs(rp) : normpath_abs(xprintf("%s/%s", s->bundle, rp));
    if (!is_dir(s->rootfs))
        hand_over("a rootfs that is not a directory (Python says so)");
    s->read_only = bool_or(root_, "readonly", "root.readonly Python takes its own way");

    json_t *proc = json_object_get(config, "process");
    if (!json_is_object(proc))
        hand_over("no process (Python says so)");
    only_keys(proc, pkeys, "a process key the front door does not know");
    json_t *args = json_object_get(proc, "args");
    if (!json_is_array(args) || !json_array_size(args) || json_array_size(args) > CR_MAX)
        hand_over("process.args Python refuses");
    s->nargs = str_list(args, items, CR_MAX, "process.args Python refuses");
    s->args = calloc((size_t)s->nargs + 1, sizeof *s->args);
    if (!s->args)
        hand_over("out of memory");
    for (int k = 0; k < s->nargs; k++)
        s->args[k] = xstrdup(items[k]);
    if (truthy(json_object_get(proc, "commandLine")))
        hand_over("process.commandLine (Python refuses it)");
    {
        /* ZoneConfig.environment: PATH, HOME, TERM, then the config's (last wins) */
        struct kv env[CR_MAX];
        int nenv = 0;
        int n = str_list(truthy(json_object_get(proc, "env")) ? json_object_get(proc, "env") : NULL, items, CR_MAX,
                         "process.env Python refuses");
        for (int k = 0; k < n; k++) {
            const char *eq = strchr(items[k], '=');
            if (!eq || eq == items[k])
                hand_over("a process.env entry Python refuses");
            kv_set(env, &nenv, items[k], (size_t)(eq - items[k]), eq + 1);
        }
        s->env[0] = (struct kv){"PATH", DEFAULT_PATH};
        s->env[1] = (struct kv){"HOME", "/root"};
        s->env[2] = (struct kv){"TERM", getenv("TERM") ? getenv("TERM") : "dumb"};
        s->nenv = 3;
        json_t *user = obj_or_empty(proc, "user", "process.user Python words");
        if (user)
            only_keys(user, ukeys, "a process.user key the front door does not know");
        s->uid = user ? int_or(user, "uid", 0, "process.user.uid Python takes") : 0;
        s->gid = user ? int_or(user, "gid", 0, "process.user.gid Python takes") : 0;
        if (s->uid < 0 || (unsigned long long)s->uid > ID_MAX_ || s->gid < 0 || (unsigned long long)s->gid > ID_MAX_)
            hand_over("an id Python refuses");
        if (s->uid != 0)
            s->env[1].value = "/";
        for (int k = 0; k < nenv; k++)
            kv_set(s->env, &s->nenv, env[k].key, strlen(env[k].key), env[k].value);
        if (user && truthy(json_object_get(user, "username")))
            hand_over("process.user.username (Python refuses it)");
        json_t *ag = user ? json_object_get(user, "additionalGids") : NULL;
        if (truthy(ag)) {
            char *list = xstrdup("["), *next;
            int nextra = 0;
            if (!json_is_array(ag))
                hand_over("additionalGids Python words");
            json_array_foreach(ag, i, v) {
                if (!json_is_integer(v))
                    hand_over("additionalGids Python words");
                if (json_integer_value(v) == s->gid)
                    continue;
                next = xprintf("%s%s%lld", list, nextra++ ? ", " : "", (long long)json_integer_value(v));
                free(list);
                list = next;
            }
            if (nextra)
                warn(s, xprintf("process.user.additionalGids %s]: not applied; the guest has only gid %lld "
                                "(and the groups it sets itself)", list, s->gid));
        }
        json_t *um = user ? json_object_get(user, "umask") : NULL;
        if (um && !json_is_null(um)) {
            if (!json_is_integer(um) || json_integer_value(um) < 0)
                hand_over("a umask Python words");
            if (json_integer_value(um) != 022)
                warn(s, xprintf("process.user.umask %llo: not applied; the zone's guest starts with umask 022",
                                (unsigned long long)json_integer_value(um)));
        }
    }
    json_t *cwd = json_object_get(proc, "cwd");
    if (cwd && (!json_is_string(cwd) || json_string_value(cwd)[0] != '/'))
        hand_over("a process.cwd Python refuses");
    s->cwd = cwd ? json_string_value(cwd) : "/";
    s->terminal = bool_or(proc, "terminal", "process.terminal Python takes its own way");
    json_t *rls = json_object_get(proc, "rlimits");
    if (truthy(rls)) {
        if (!json_is_array(rls) || json_array_size(rls) > 64)
            hand_over("rlimits Python words");
        json_array_foreach(rls, i, v) {
            const char *type = json_string_value(json_object_get(v, "type"));
            int res = -1;
            if (!json_is_object(v) || !type)
                hand_over("an rlimit Python words");
            for (int k = 0; lxb_oci_rlimits[k].name; k++)
                if (!strcmp(type, lxb_oci_rlimits[k].name))
                    res = lxb_oci_rlimits[k].res;
            if (res < 0)
                hand_over("an rlimit type Python refuses");
            struct rl *r = &s->rl[s->nrl++];
            r->res = res;
            r->name = type;
            r->soft = int_or(v, "soft", 0, "an rlimit value Python takes");
            r->hard = int_or(v, "hard", 0, "an rlimit value Python takes");
            if (r->soft < 0 || r->hard < 0 || r->soft > r->hard)
                hand_over("an rlimit Python refuses");
        }
    }
    static const char *const lsm[] = {"apparmorProfile", "selinuxLabel"};
    for (int k = 0; k < 2; k++) {
        json_t *l = json_object_get(proc, lsm[k]);
        if (truthy(l)) {
            if (!json_is_string(l))
                hand_over("an LSM label Python words");
            warn(s, xprintf("process.%s %s: not applied (no LSM labels in a zone)", lsm[k],
                            py_repr(json_string_value(l))));
        }
    }
    if (truthy(json_object_get(proc, "capabilities")))
        warn(s, xstrdup("process.capabilities: not applied one by one; the guest has its user namespace's "
                        "capabilities less lxbrand's drop list (docs/OCI.md)"));
    if (truthy(json_object_get(proc, "ioPriority")) || truthy(json_object_get(proc, "scheduler")) ||
        truthy(json_object_get(proc, "execCPUAffinity")))
        warn(s, xstrdup("process.ioPriority/scheduler/execCPUAffinity: not applied"));
    json_t *oom = json_object_get(proc, "oomScoreAdj");
    if (oom && (json_is_true(oom) || json_is_false(oom)))
        hand_over("an oomScoreAdj Python takes its own way");
    if (json_is_integer(oom)) {
        s->has_oom = 1;
        s->oom = json_integer_value(oom);
    }

    s->hostname = "zone";
    if ((v = json_object_get(config, "hostname"))) {
        if (!json_is_string(v) || !valid_hostname(json_string_value(v)))
            hand_over("a hostname Python refuses");
        s->hostname = json_string_value(v);
    }
    if (truthy(json_object_get(config, "domainname")))
        hand_over("a domainname");
    json_t *linux_ = obj_or_empty(config, "linux", "linux Python refuses");
    if (linux_)
        only_keys(linux_, lkeys, "a linux key the front door does not know");
    translate_mounts(s, json_object_get(config, "mounts"));

    /* namespaces: the zone always makes its own, except the network, which it may share */
    {
        static const char *const kinds[] = {"pid", "mount", "ipc", "uts", "cgroup", "user"};
        const char *path_of[6] = {0};
        int have[6] = {0}, have_net = 0;
        const char *net_path = "";
        json_t *nss = linux_ ? json_object_get(linux_, "namespaces") : NULL;
        if (truthy(nss)) {
            if (!json_is_array(nss))
                hand_over("namespaces Python words");
            json_array_foreach(nss, i, v) {
                json_t *t = json_object_get(v, "type"), *p = json_object_get(v, "path");
                if (!json_is_object(v) || !json_is_string(t) || (truthy(p) && !json_is_string(p)))
                    hand_over("a namespace Python words");
                const char *path = truthy(p) ? json_string_value(p) : "";
                if (!strcmp(json_string_value(t), "network")) {
                    have_net = 1;
                    net_path = path;
                }
                for (int k = 0; k < 6; k++)
                    if (!strcmp(json_string_value(t), kinds[k])) {
                        have[k] = 1;
                        path_of[k] = path;
                    }
            }
        }
        s->net_host = 1;
        if (have_net && *net_path) {
            struct stat sb;
            if (stat(net_path, &sb) != 0)
                hand_over("a network namespace path that does not exist (Python says so)");
            s->netns = net_path;
        } else if (have_net) {
            s->net_host = 0;
        }
        for (int k = 0; k < 6; k++) {
            if (have[k] && *path_of[k])
                warn(s, xprintf("namespace %s %s: not joined; the zone has its own", kinds[k], path_of[k]));
            else if (!have[k] && k < 4)
                warn(s, xprintf("namespace %s: the config shares the host's; the zone has its own", kinds[k]));
        }
    }
    if (linux_ && (truthy(json_object_get(linux_, "uidMappings")) || truthy(json_object_get(linux_, "gidMappings"))))
        warn(s, xstrdup("linux.uidMappings/gidMappings: not applied; the zone maps its own ids (run by root: zone "
                        "ids 0-65535 are host ids 1879048192-1879113727)"));
    json_t *res = linux_ ? obj_or_empty(linux_, "resources", "linux.resources Python words") : NULL;
    if (res) {
        json_t *mem = obj_or_empty(res, "memory", "resources.memory Python words");
        json_t *lim = mem ? json_object_get(mem, "limit") : NULL;
        if (lim && !json_is_null(lim) && !json_is_integer(lim))
            hand_over("a memory limit Python takes its own way");
        if (json_is_integer(lim) && json_integer_value(lim) > 0)
            hand_over("a memory limit (--memory)");
        json_t *pids = obj_or_empty(res, "pids", "resources.pids Python words");
        lim = pids ? json_object_get(pids, "limit") : NULL;
        if (lim && !json_is_null(lim) && !json_is_integer(lim))
            hand_over("a pids limit Python takes its own way");
        if (json_is_integer(lim) && json_integer_value(lim) > 0)
            s->pids = json_integer_value(lim);
        json_t *cpu = obj_or_empty(res, "cpu", "resources.cpu Python words");
        json_t *quota = cpu ? json_object_get(cpu, "quota") : NULL;
        if (quota && !json_is_null(quota) && !json_is_integer(quota))
            hand_over("a cpu quota Python takes its own way");
        if (json_is_integer(quota) && json_integer_value(quota) > 0)
            hand_over("a cpu quota (--cpus)");
        static const char *const rkeys[] = {"blockIO", "hugepageLimits", "network", "rdma", "unified"};
        for (int k = 0; k < 5; k++)
            if (truthy(json_object_get(res, rkeys[k])))
                warn(s, xprintf("linux.resources.%s: not applied", rkeys[k]));
        if (cpu && (truthy(json_object_get(cpu, "cpus")) || truthy(json_object_get(cpu, "mems"))))
            warn(s, xstrdup("linux.resources.cpu cpus/mems: not applied (no cpuset)"));
    }
    if (linux_) {
        int n = str_list(truthy(json_object_get(linux_, "maskedPaths")) ? json_object_get(linux_, "maskedPaths")
                                                                          : NULL, items, CR_MAX,
                         "maskedPaths Python words"), nother = 0;
        for (int k = 0; k < n; k++)
            if (!in_list(items[k], own_masked))
                other[nother++] = items[k];
        if (nother)
            warn(s, xprintf("linux.maskedPaths %s: not masked (the zone masks its own list: docs/OCI.md)",
                            py_list(other, nother)));
        n = str_list(truthy(json_object_get(linux_, "readonlyPaths")) ? json_object_get(linux_, "readonlyPaths")
                                                                        : NULL, items, CR_MAX,
                     "readonlyPaths Python words");
        nother = 0;
        for (int k = 0; k < n; k++)
            if (!in_list(items[k], own_readonly) && !in_list(items[k], own_masked))
                other[nother++] = items[k];
        if (nother)
            warn(s, xprintf("linux.readonlyPaths %s: not made read-only (the zone has its own list: docs/OCI.md)",
                            py_list(other, nother)));
        if (truthy(json_object_get(linux_, "seccomp")))
            seccomp_profile(s, json_object_get(linux_, "seccomp"));
        if (truthy(json_object_get(linux_, "sysctl")))
            hand_over("linux.sysctl");
        if (truthy(json_object_get(linux_, "devices")))
            warn(s, xstrdup("linux.devices: not made; the zone has its minimal /dev (null, zero, full, random, "
                            "urandom, tty)"));
        static const char *const lnot[] = {"rootfsPropagation", "mountLabel", "intelRdt", "personality",
                                           "timeOffsets"};
        for (int k = 0; k < 5; k++)
            if (truthy(json_object_get(linux_, lnot[k])))
                warn(s, xprintf("linux.%s: not applied", lnot[k]));
    }
    json_t *hooks = json_object_get(config, "hooks");
    if (truthy(hooks))
        hand_over("hooks");
    json_t *ann = json_object_get(config, "annotations");
    if (truthy(ann)) {
        const char *key;
        if (!json_is_object(ann))
            hand_over("annotations Python words");
        json_object_foreach(ann, key, v) {
            if (strncmp(key, "org.lxbrand.", 12) != 0)
                continue;
            /* the brand's options (lxrun's --kernel-release, --deny): the cached
               brand for them, as lxrun.c takes it; the others are Python's */
            if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                hand_over("an org.lxbrand.* annotation Python takes its own way");
            if (!strcmp(key, "org.lxbrand.kernel-release")) {
                /* one Python judges (personality.check_kernel_release) is Python's, as lxrun.c's */
                const char *krel = json_string_value(v);
                if (!krel[0] || strlen(krel) > HOST_NAME_MAX_ || krel[0] < '0' || krel[0] > '9')
                    hand_over("an org.lxbrand.kernel-release to judge");
                s->kernel_release = krel;
            } else if (!strcmp(key, "org.lxbrand.deny")) {
                /* oci.py: items split on ",", stripped, NAME[=ERRNO] (EPERM when none) */
                char *copy = xstrdup(json_string_value(v)), *item, *save = NULL;
                for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                    while (*item && strchr(" \t\n\r\v\f", *item))
                        item++;
                    for (char *e = item + strlen(item); e > item && strchr(" \t\n\r\v\f", e[-1]);)
                        *--e = 0;
                    if (!*item)
                        continue;
                    char *eq = strchr(item, '=');
                    size_t nlen = eq ? (size_t)(eq - item) : strlen(item);
                    kv_set(s->deny, &s->ndeny, item, nlen, eq && eq[1] ? eq + 1 : "EPERM");
                }
            } else {
                hand_over("an org.lxbrand.* annotation the front door does not serve");
            }
        }
        s->annotations = json_incref(ann);
    } else {
        s->annotations = json_object();
    }
    s->tmp_size = tmpfs_size(s->tmp_size ? s->tmp_size : "25%");
    s->shm_size = tmpfs_size(s->shm_size ? s->shm_size : "64m");
    if (!s->tmp_size || !s->shm_size)
        hand_over("a tmpfs size Python judges");
}

/* -- CMD in the rootfs: lxbrand/command.py resolve, its success only -- */

#define MAX_SYMLINKS 40
#define MAX_INTERPRETERS 4

/* command.host_path: the host path of zone_path, symlinks resolved inside
   the rootfs; NULL for any error (Python raises one) */
static char *host_path(const char *rootfs, const char *zone_path, const char *cwd)
{
    char *todo = zone_path[0] == '/' ? xstrdup(zone_path) : xprintf("%s/%s", cwd, zone_path);
    char *done = xstrdup(""), *next;
    int links = 0;
    for (;;) {
        char *p = todo;
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *end = strchr(p, '/');
        char *part = end ? strndup(p, (size_t)(end - p)) : xstrdup(p);
        char *rest = xstrdup(end ? end : "");
        free(todo);
        todo = rest;
        int more = 0;
        for (char *q = todo; *q; q++)
            more |= *q != '/';
        if (!strcmp(part, ".")) {
            free(part);
            continue;
        }
        if (!strcmp(part, "..")) {
            char *slash = strrchr(done, '/');
            if (slash)
                *slash = 0;
            free(part);
            continue;
        }
        char *cand = xprintf("%s%s/%s", rootfs, done, part);
        struct stat sb;
        if (lstat(cand, &sb) != 0) {
            free(cand);
            free(part);
            return NULL;
        }
        if (S_ISLNK(sb.st_mode)) {
            char target[4096];
            ssize_t n = readlink(cand, target, sizeof target - 1);
            free(cand);
            free(part);
            if (n < 0 || ++links > MAX_SYMLINKS)
                return NULL;
            target[n] = 0;
            if (target[0] == '/')
                done[0] = 0;
            next = xprintf("%s/%s", target, todo);
            free(todo);
            todo = next;
            continue;
        }
        free(cand);
        if (more && !S_ISDIR(sb.st_mode)) {
            free(part);
            return NULL;
        }
        next = xprintf("%s/%s", done, part);
        free(done);
        free(part);
        done = next;
    }
    next = xprintf("%s%s", rootfs, done);
    return next;
}

/* command.check_runnable succeeds */
static int runnable(const char *rootfs, const char *zone_path, const char *cwd, int depth)
{
    char *hp = host_path(rootfs, zone_path, cwd);
    struct stat sb;
    unsigned char head[257];
    if (!hp || stat(hp, &sb) != 0 || !S_ISREG(sb.st_mode) || !(sb.st_mode & 0111))
        return 0;
    int fd = open(hp, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, head, 256);
    close(fd);
    if (n < 0)
        return 0;
    head[n] = 0;
    if (n >= 4 && !memcmp(head, "\177ELF", 4)) {
        if (n < 20 || head[4] != 2)
            return 0;
        unsigned machine = head[5] == 1 ? (unsigned)(head[18] | head[19] << 8) : (unsigned)(head[18] << 8 | head[19]);
        return machine == 62;
    }
    if (n >= 2 && head[0] == '#' && head[1] == '!') {
        unsigned char *raw = head + 2, *nl = memchr(raw, '\n', (size_t)(n - 2));
        size_t rlen = nl ? (size_t)(nl - raw) : (size_t)(n - 2);
        size_t a = 0, b = rlen;
        for (size_t k = 0; k < rlen; k++)
            if (raw[k] == 0 || raw[k] > 0x7e)
                return 0;                  /* bytes Python decodes its own way */
        while (a < b && strchr(" \t\n\r\v\f", raw[a]))
            a++;
        while (b > a && strchr(" \t\n\r\v\f", raw[b - 1]))
            b--;
        if (a == b || depth >= MAX_INTERPRETERS)
            return 0;
        size_t e = a;
        while (e < b && !strchr(" \t\n\r\v\f", raw[e]))
            e++;
        if (rlen && raw[rlen - 1] == '\r' && e == b)
            return 0;                      /* DOS line endings: Python's to say */
        char *interp = strndup((char *)raw + a, e - a);
        int ok = interp && runnable(rootfs, interp, cwd, depth + 1);
        free(interp);
        return ok;
    }
    return depth == 0 && runnable(rootfs, "/bin/sh", cwd, depth + 1);
}

/* command.resolve succeeds */
static int resolves(const char *rootfs, const char *cmd, const char *path_env, const char *cwd)
{
    if (strchr(cmd, '/'))
        return cmd[0] == '/' && runnable(rootfs, cmd, cwd, 0);
    char *dirs = xstrdup(path_env), *d = dirs;
    for (;;) {
        char *colon = strchr(d, ':');
        if (colon)
            *colon = 0;
        char *zp = *d == '/' ? xprintf("%s/%s", d, cmd) : xprintf("%s/%s/%s", cwd, *d ? d : ".", cmd);
        char *hp = host_path(rootfs, zp, cwd);
        struct stat sb;
        if (hp && stat(hp, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0111))
            return runnable(rootfs, zp, cwd, 0);
        if (!colon)
            return 0;
        d = colon + 1;
    }
}

/* -- the rootfs's ownership: lxbrand/idshift.py shift, by fd as it walks --
 *
 * The tree may belong to a user who swaps an entry for a symlink while root
 * walks it (SECURITY.md, "the id shift"): the rootfs's directory is opened
 * one component at a time, a symlink on the way followed only if it is
 * root's or ours (open_top); each directory is held by an fd and its
 * entries are named only relative to it; a symlink is lchowned by name, any
 * other entry opened O_PATH|O_NOFOLLOW, checked to be the inode listed and
 * changed through its /proc/self/fd link.  Any failure is Python's to say:
 * it shifts again (ids already shifted stay as they are) and words it. */

static const char *const shift_refused[] = {"/", "/usr", "/etc", "/var", "/home", "/root", "/boot", "/opt", "/srv",
                                            "/bin", "/sbin", "/lib", "/lib64", "/tmp", "/proc", "/sys", "/dev",
                                            "/run", "/mnt", "/media", NULL};

/* chown, then put back what chown cleared (idshift._shift_inode) */
static int shift_inode(int fd, const struct stat *sb, uid_t uid, gid_t gid)
{
    char path[64];
    unsigned char caps[64];
    ssize_t ncaps = -1;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (S_ISREG(sb->st_mode))
        ncaps = getxattr(path, "security.capability", caps, sizeof caps);
    if (chown(path, uid, gid) != 0)
        return -1;
    if ((sb->st_mode & (S_ISUID | S_ISGID)) && chmod(path, sb->st_mode & 07777) != 0)
        return -1;
    if (ncaps >= 0) {
        unsigned char out[64];
        size_t nout = (size_t)ncaps;
        memcpy(out, caps, (size_t)ncaps);
        if (ncaps >= 20) {
            /* v3 with rootid BASE (a v2 one means host root, ignored in the zone's namespace) */
            uint32_t magic = (uint32_t)caps[0] | (uint32_t)caps[1] << 8 | (uint32_t)caps[2] << 16 |
                             (uint32_t)caps[3] << 24, base = IDSHIFT_BASE;
            magic = (magic & ~0xFF000000u) | 0x03000000u;
            memcpy(out, &magic, 4);
            memcpy(out + 20, &base, 4);
            nout = 24;
        }
        if (setxattr(path, "security.capability", out, nout, 0) != 0)
            return -1;
    }
    return 0;
}

static uid_t shifted_id(unsigned id)
{
    return id < IDSHIFT_COUNT ? id + IDSHIFT_BASE : id;
}

/* idshift._shift_one: the entry name of dfd, the inode sb (lstat) */
static int shift_one(int dfd, const char *name, const struct stat *sb)
{
    uid_t uid = shifted_id(sb->st_uid);
    gid_t gid = shifted_id(sb->st_gid);
    struct stat now;
    if (uid == sb->st_uid && gid == sb->st_gid)
        return 0;
    if (S_ISLNK(sb->st_mode)) {
        struct timespec t[2] = {sb->st_atim, sb->st_mtim};
        if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
            utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW) != 0)
            return -1;
        return 0;
    }
    int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    if (fstat(fd, &now) != 0)
        rc = -1;
    else if (now.st_dev == sb->st_dev && now.st_ino == sb->st_ino)   /* else replaced since it was listed */
        rc = shift_inode(fd, sb, uid, gid);
    close(fd);
    return rc;
}

/* idshift._open_top: the rootfs's directory (O_RDONLY), or -1 */
static int open_top(const char *rootfs)
{
    char *todo = xstrdup(rootfs), *next;
    int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), links = 0, top = -1;
    if (fd < 0)
        return -1;
    for (;;) {
        char *p = todo;
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *end = strchr(p, '/');
        char *name = end ? strndup(p, (size_t)(end - p)) : xstrdup(p);
        char *rest = xstrdup(end ? end : "");
        free(todo);
        todo = rest;
        if (!strcmp(name, ".")) {
            free(name);
            continue;
        }
        int nfd = openat(fd, name, (strcmp(name, "..") ? O_PATH | O_NOFOLLOW : O_PATH | O_DIRECTORY) | O_CLOEXEC);
        struct stat sb;
        free(name);
        if (nfd < 0 || fstat(nfd, &sb) != 0)
            goto fail_nfd;
        if (S_ISLNK(sb.st_mode)) {
            char target[4096];
            ssize_t n;
            if ((sb.st_uid != 0 && sb.st_uid != geteuid()) || ++links > 40 ||
                (n = readlinkat(nfd, "", target, sizeof target - 1)) < 0)
                goto fail_nfd;
            target[n] = 0;
            close(nfd);
            if (target[0] == '/') {
                close(fd);
                if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                    return -1;
            }
            next = xprintf("%s/%s", target, todo);
            free(todo);
            todo = next;
            continue;
        }
        if (!S_ISDIR(sb.st_mode))
            goto fail_nfd;
        close(fd);
        fd = nfd;
        continue;
fail_nfd:
        if (nfd >= 0)
            close(nfd);
        close(fd);
        return -1;
    }
    char path[64], real[4096];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    top = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    if (top < 0)
        return -1;
    snprintf(path, sizeof path, "/proc/self/fd/%d", top);
    ssize_t n = readlink(path, real, sizeof real - 1);
    if (n < 0 || (real[n] = 0, in_list(real, shift_refused))) {
        close(top);
        return -1;
    }
    return top;
}

struct shift_dir {
    int fd;
    struct stat st;
    char **names;                    /* its entries, listed whole first (NULL: not yet) */
    size_t n, next;
};

/* the entries of a directory, read whole, then its times put back (reading
   updates its atime), as Python's list(scandir) then utime */
static char **list_dir(int fd, const struct stat *st, size_t *n)
{
    int lfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *de;
    struct timespec t[2] = {st->st_atim, st->st_mtim};
    *n = 0;
    if (!d) {
        if (lfd >= 0)
            close(lfd);
        return NULL;
    }
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (*n >= cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                hand_over("out of memory");
        }
        names[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (futimens(fd, t) != 0) {
        for (size_t i = 0; i < *n; i++)
            free(names[i]);
        free(names);
        return NULL;
    }
    return names ? names : calloc(1, sizeof *names);
}

/* 0, or -1 (Python retries it and says why) */
static int shift_rootfs(const char *rootfs)
{
    char real[4096];
    struct stat top;
    struct shift_dir stack[256];
    int depth = 0, rc = -1;
    if (!realpath(rootfs, real) || in_list(real, shift_refused))
        return -1;
    int top_fd = open_top(rootfs);
    if (top_fd < 0 || fstat(top_fd, &top) != 0)
        return -1;
    if (isatty(2))
        fprintf(stderr, "lxrun: shifting ownership to host ids %u+ in %s (once; see SECURITY.md)\n", IDSHIFT_BASE,
                rootfs);
    fremovexattr(top_fd, IDSHIFT_XATTR);
    stack[depth++] = (struct shift_dir){top_fd, top, NULL, 0, 0};
    while (depth) {
        struct shift_dir *cur = &stack[depth - 1];
        if (!cur->names && !(cur->names = list_dir(cur->fd, &cur->st, &cur->n)))
            goto out;
        if (cur->next >= cur->n) {
            for (size_t i = 0; i < cur->n; i++)
                free(cur->names[i]);
            free(cur->names);
            if (cur->fd != top_fd)
                close(cur->fd);
            depth--;
            continue;
        }
        const char *name = cur->names[cur->next++];
        struct stat sb;
        if (fstatat(cur->fd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)
                continue;
            goto out;
        }
        if (S_ISDIR(sb.st_mode) && sb.st_dev != top.st_dev)
            continue;                      /* another file system mounted in the tree */
        if (shift_one(cur->fd, name, &sb) != 0)
            goto out;
        if (S_ISDIR(sb.st_mode)) {
            int cfd = openat(cur->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            struct stat now;
            if (cfd >= 0 && (fstat(cfd, &now) != 0 || now.st_dev != sb.st_dev || now.st_ino != sb.st_ino)) {
                close(cfd);
                cfd = -1;                  /* replaced since it was listed: not the entry we saw */
            }
            if (cfd >= 0) {
                if (depth >= (int)(sizeof stack / sizeof stack[0])) {
                    close(cfd);
                    goto out;
                }
                stack[depth++] = (struct shift_dir){cfd, sb, NULL, 0, 0};
            }
        }
    }
    {
        uid_t uid = shifted_id(top.st_uid);
        gid_t gid = shifted_id(top.st_gid);
        struct timespec t[2] = {top.st_atim, top.st_mtim};
        if ((uid != top.st_uid || gid != top.st_gid) && shift_inode(top_fd, &top, uid, gid) != 0)
            goto out;
        if (futimens(top_fd, t) != 0 ||
            fsetxattr(top_fd, IDSHIFT_XATTR, IDSHIFT_MARK, strlen(IDSHIFT_MARK), 0) != 0)
            goto out;
    }
    rc = 0;
out:
    while (depth > 0) {
        struct shift_dir *cur = &stack[--depth];
        if (cur->fd != top_fd)
            close(cur->fd);
    }
    close(top_fd);
    return rc;
}

/* idshift.is_shifted: the directory's mark */
static int is_shifted(const char *rootfs)
{
    char mark[64];
    ssize_t n = getxattr(rootfs, IDSHIFT_XATTR, mark, sizeof mark);
    return n == (ssize_t)strlen(IDSHIFT_MARK) && !memcmp(mark, IDSHIFT_MARK, (size_t)n);
}

/* -- the brand, from the front door's cache (lxrun.c load_brand, default options only) -- */

struct brand {
    unsigned char kind[LXB_NR_MAX];
    unsigned char c_handler[LXB_NR_MAX];
    char uts[4][LXB_UTS_LEN];
    const unsigned char *bpf;
    int bpf_len;
    int notifies;
    uint64_t cap_drop;
};

static const char *load_brand(struct brand *b, struct spec *s)
{
    struct utsname host;
    struct stat sb, so;
    if (stat(LXB_SO, &so) != 0 || (long long)so.st_size != LXB_SO_SIZE ||
        (long long)so.st_mtim.tv_sec * 1000000000LL + so.st_mtim.tv_nsec != LXB_SO_MTIME_NS)
        return "the compiled module changed since the front door was built (make build)";
    if (uname(&host) != 0)
        return "uname failed";
    /* compile.py frontdoor_key(kernel_release, deny_items) */
    char *key = xprintf("%smodule %s\nhost %s %s\nrelease %s\n", BRAND_KEY, LXB_SO, host.release, host.version,
                        s->kernel_release ? s->kernel_release : ""), *next;
    for (int i = 0; i < s->ndeny; i++) {
        next = xprintf("%sdeny %s=%s\n", key, s->deny[i].key, s->deny[i].value);
        free(key);
        key = next;
    }
    const char *cache = getenv("LXBRAND_CACHE");
    char *dir;
    if (cache && *cache) {
        dir = xprintf("%s/frontdoor", cache);
    } else {
        const char *home = getenv("HOME");
        struct passwd *pw = home ? NULL : getpwuid(getuid());
        if (!home && !pw)
            return "no home directory";
        dir = xprintf("%s/.cache/lxbrand/frontdoor", home ? home : pw->pw_dir);
    }
    char *path = xprintf("%s/%016llx.brand", dir, (unsigned long long)fnv1a64(key, strlen(key)));
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return "no compiled brand in the cache";
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || !trusted(&sb) || sb.st_size > BRAND_MAX ||
        sb.st_size < BRAND_HEADER || stat(dir, &so) != 0 || !trusted(&so)) {
        close(fd);
        return "the cached brand is not this user's alone";
    }
    unsigned char *buf = malloc((size_t)sb.st_size);
    if (!buf) {
        close(fd);
        return "out of memory";
    }
    ssize_t n = read(fd, buf, (size_t)sb.st_size);
    close(fd);
    if (n != sb.st_size || memcmp(buf, BRAND_MAGIC, 16) != 0)
        return "the cached brand has another format";
    uint32_t flags = le32(buf + 16), nr_max = le32(buf + 20), key_len = le32(buf + 24), deps_len = le32(buf + 28),
             bpf_len = le32(buf + 32), files_len = le32(buf + 36);
    if (nr_max != LXB_NR_MAX || (uint64_t)BRAND_HEADER + key_len + deps_len + bpf_len + files_len != (uint64_t)n ||
        bpf_len == 0 || bpf_len % 8)
        return "the cached brand has another format";
    if (key_len != strlen(key) || memcmp(buf + BRAND_HEADER, key, key_len) != 0)
        return "the cached brand is for other options";
    char *deps = strndup((const char *)buf + BRAND_HEADER + key_len, deps_len);
    if (!deps || !deps_fresh(deps, strlen(deps)))
        return "the cached brand is older than the table";
    free(deps);
    if (flags & BRAND_NEEDS_PYTHON)
        return "the brand has a Python handler";
    memcpy(b->kind, buf + 40, LXB_NR_MAX);
    memcpy(b->c_handler, buf + 40 + LXB_NR_MAX, LXB_NR_MAX);
    for (int i = 0; i < 4; i++) {
        memcpy(b->uts[i], buf + 40 + 2 * LXB_NR_MAX + i * LXB_UTS_LEN, LXB_UTS_LEN);
        b->uts[i][LXB_UTS_LEN - 1] = 0;
    }
    b->cap_drop = 0;
    for (int i = 7; i >= 0; i--)
        b->cap_drop = b->cap_drop << 8 | buf[40 + 2 * LXB_NR_MAX + 4 * LXB_UTS_LEN + i];
    b->notifies = 0;
    for (int i = 0; i < LXB_NR_MAX; i++) {
        if (b->kind[i] == LXB_KIND_PY)
            return "the brand has a Python handler";
        if (b->kind[i] != LXB_KIND_NONE)
            b->notifies = 1;
    }
    b->bpf = buf + BRAND_HEADER + key_len + deps_len;
    b->bpf_len = (int)bpf_len;
    /* the personality's files under --kernel-release ("path\0text\0" each):
       shown read-only in the zone, as lxrun.c shows them */
    {
        const char *f = (const char *)b->bpf + bpf_len, *end = f + files_len;
        int nfiles = 0;
        while (f < end) {
            const char *fpath = f, *text = memchr(f, 0, (size_t)(end - f));
            const char *stop = text ? memchr(text + 1, 0, (size_t)(end - text - 1)) : NULL;
            if (!stop || fpath[0] != '/' || nfiles >= 16)
                return "the cached brand has another format";
            struct lxb_step *st = &s->steps[s->nsteps++];
            st->op = LXB_STEP_FILE;
            st->flags = LXB_STEP_F_RO;
            st->path = fpath;
            st->src = NULL;
            st->data = text + 1;
            nfiles++;
            f = stop + 1;
        }
        if (s->kernel_release && !nfiles)
            return "the cached brand has no personality files";
    }
    free(key);
    free(dir);
    free(path);
    return NULL;
}

/* -- the pids limit: lxbrand/limits.py Cgroups, pids only -- */

#define CGROOT "/sys/fs/cgroup"

static int cgroup_v2(void)
{
    char buf[256];
    int fd = open(CGROOT "/cgroup.controllers", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    for (ssize_t k = 0; k < n; k++)
        if (!strchr(" \t\n", buf[k]))
            return 1;
    return 0;
}

/* limits._own: our cgroup path in a v1 hierarchy, or in v2 (NULL) */
static char *own_cgroup(const char *hierarchy)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[4096];
    char *out = NULL;
    while (f && !out && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = 0;
        char *ctrls = c1 + 1, *path = c2 + 1;
        if (!hierarchy) {
            if (!*ctrls)
                out = xstrdup(path);
            continue;
        }
        char *save = NULL;
        for (char *c = strtok_r(ctrls, ",", &save); c; c = strtok_r(NULL, ",", &save))
            if (!strcmp(c, hierarchy))
                out = xstrdup(path);
    }
    if (f)
        fclose(f);
    return out ? out : xstrdup("/");
}

struct cgroups {
    char *dirs[2];
    int ndirs, fd;
};

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void cgroups_remove(struct cgroups *cg)
{
    if (cg->fd >= 0)
        close(cg->fd);
    cg->fd = -1;
    for (int k = cg->ndirs - 1; k >= 0; k--) {
        /* limits.py retries every 5 ms for 1 s; every 1 ms here: the engine
           waits for this process's exit, which comes after (measured: 9.4 ms
           from start to exit of a /bin/true with the pids cgroup, 3.9 without) */
        for (int t = 0; t < 1000; t++) {
            if (rmdir(cg->dirs[k]) == 0 || errno != EBUSY)
                break;
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);  /* the pid namespace's last tasks are exiting */
        }
    }
    cg->ndirs = 0;
}

/* 0, or the message of Python's ZoneConfigError */
static char *cgroups_make(struct cgroups *cg, long long pids)
{
    char *name = xprintf("lxbrand-%d-0", getpid()), *path, *file = NULL;
    char value[32];
    snprintf(value, sizeof value, "%lld", pids);
    cg->fd = -1;
    cg->ndirs = 0;
    if (cgroup_v2()) {
        char *own = own_cgroup(NULL);
        char *parent = normpath_abs(xprintf("%s/%s", CGROOT, own + strspn(own, "/")));
        char *base = xprintf("%s/lxbrand", parent);
        if (!is_dir(base) && mkdir(base, 0755) != 0) {
            file = base;
            goto fail;
        }
        char *sc1 = xprintf("%s/cgroup.subtree_control", parent), *sc2 = xprintf("%s/cgroup.subtree_control", base);
        if (write_file(sc1, "+pids") != 0) {
            file = sc1;
            goto fail;
        }
        if (write_file(sc2, "+pids") != 0) {
            file = sc2;
            goto fail;
        }
        path = xprintf("%s/%s", base, name);
    } else {
        char *own = own_cgroup("pids");
        path = normpath_abs(xprintf("%s/pids/%s/%s", CGROOT, own + strspn(own, "/"), name));
    }
    if (mkdir(path, 0755) != 0) {
        file = path;
        goto fail;
    }
    cg->dirs[cg->ndirs++] = path;
    file = xprintf("%s/pids.max", path);
    if (write_file(file, value) != 0)
        goto fail;
    file = xprintf("%s/cgroup.procs", path);
    cg->fd = open(file, O_WRONLY | O_CLOEXEC);
    if (cg->fd < 0)
        goto fail;
    return NULL;
fail:;
    int e = errno;
    cgroups_remove(cg);
    return xprintf("resource limits: cannot set up the zone's cgroup: %s (%s)", strerror(e), file);
}

/* -- the monitor: oci.py _monitor -- */

static struct lxb_zone zone;
static volatile sig_atomic_t zone_created = 1;     /* a held guest: signals end it, as runc's waiting init */
static int init_pidfd = -1;
static struct lxb_sup main_sup;
static volatile int main_sup_rc;

/* supervisor.c's upcall: never reached, a brand with a Python handler is Python's */
int lxb_py_dispatch(void *handle, const struct lxb_call *call, struct lxb_reply *reply)
{
    (void)handle;
    (void)call;
    reply->error = ENOSYS;
    return 0;
}

static void *supervise_main(void *arg)
{
    int rc = lxb_supervise(&main_sup);
    (void)arg;
    if (rc < 0) {
        /* fail closed: a zone whose supervisor is gone does not keep running */
        main_sup_rc = rc;
        if (init_pidfd >= 0)
            pidfd_signal(init_pidfd, SIGKILL);
    }
    return NULL;
}

struct exec_sup {
    struct lxb_sup sup;
    pthread_t threads[EXEC_RECEIVERS];
    volatile int running;
    struct exec_sup *next;
};

static void *supervise_exec(void *arg)
{
    struct exec_sup *e = arg;
    lxb_supervise(&e->sup);                /* its process fails closed: the listener's calls answer ENOSYS */
    __atomic_sub_fetch(&e->running, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    sigset_t all, old;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    /* signals are the main thread's: the receivers' system calls are never interrupted */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(t, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return -rc;
}

static void copy_brand(struct lxb_sup *sup, const struct brand *b)
{
    memcpy(sup->kind, b->kind, LXB_NR_MAX);
    memcpy(sup->c_handler, b->c_handler, LXB_NR_MAX);
    memcpy(sup->sysname, b->uts[0], LXB_UTS_LEN);
    memcpy(sup->release, b->uts[1], LXB_UTS_LEN);
    memcpy(sup->version, b->uts[2], LXB_UTS_LEN);
    memcpy(sup->machine, b->uts[3], LXB_UTS_LEN);
}

/* free the exec supervisors whose processes are all gone (oci.py _reap_supervisors) */
static struct exec_sup *reap_execs(struct exec_sup *list, int all)
{
    struct exec_sup **pp = &list;
    while (*pp) {
        struct exec_sup *e = *pp;
        if (all)
            lxb_sup_stop(&e->sup);
        if (all || !__atomic_load_n(&e->running, __ATOMIC_SEQ_CST)) {
            lxb_sup_stop(&e->sup);
            for (int k = 0; k < EXEC_RECEIVERS; k++)
                pthread_join(e->threads[k], NULL);
            lxb_sup_close(&e->sup);
            *pp = e->next;
            free(e);
        } else {
            pp = &e->next;
        }
    }
    return list;
}

static void forward_signal(int sig)
{
    int e = errno;
    if (init_pidfd >= 0)
        pidfd_signal(init_pidfd, zone_created ? SIGKILL : sig);
    errno = e;
}

static int write_whole(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd);
}

/* Store.write: written whole, then renamed */
static int store_write(const char *cid, json_t *st)
{
    char path[4096], tmp[4200];
    path_in(path, sizeof path, cid, STATE_FILE);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char *text = json_dumps(st, JSON_ENSURE_ASCII);
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    int rc = write_whole(tmp, text, strlen(text));
    free(text);
    if (rc == 0)
        rc = rename(tmp, path);
    return rc;
}

/* oci.py _exec_message for a CMD the zone could not execve (command.resolve
   found it runnable at create: Zone.exec_error's own words then) */
static char *exec_message(const char *cmd, int err)
{
    if (err == ENOENT)
        return xprintf("unable to start container process: exec: \"%s\": executable file not found in %s "
                       "(no such file or directory in the zone's rootfs)", cmd, strchr(cmd, '/') ? "the zone" : "$PATH");
    return xprintf("unable to start container process: exec: \"%s\": permission denied (%s: cannot execute in "
                   "the zone: %s)", cmd, cmd, strerror(err));
}

static void iso_now(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%06ld+00:00", ts.tv_nsec / 1000);
}

static long long guest_pid_of(int pidfd)
{
    char path[64], line[128];
    long long pid = -1;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
    FILE *f = fopen(path, "re");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Pid:", 4))
            pid = strtoll(line + 4, NULL, 10);
    if (f)
        fclose(f);
    return pid;
}

static int monitor(const char *cid, struct spec *s, const struct brand *b, struct cgroups *cg,
                   const char *console_socket, int report_fd)
{
    char err[1024], dir[4096], sock_path[4096], fpath[4096];
    char *msg = NULL, **envp;
    int listener = -1, started = 0, have_sup = 0;
    json_t *st = NULL;

    path_in(dir, sizeof dir, cid, NULL);
    setsid();
    for (int k = 0; k < s->nrl; k++) {
        struct rlimit r = {(rlim_t)s->rl[k].soft, (rlim_t)s->rl[k].hard};
        if (setrlimit(s->rl[k].res, &r) != 0) {
            msg = xprintf("process.rlimits %s %lld:%lld: [Errno %d] %s", s->rl[k].name, s->rl[k].soft, s->rl[k].hard,
                          errno, strerror(errno));
            goto fail;
        }
    }
    if (s->has_oom) {
        char v[32];
        snprintf(v, sizeof v, "%lld", s->oom);
        if (write_file("/proc/self/oom_score_adj", v) != 0) {
            char *w = xprintf("process.oomScoreAdj %lld: %s", s->oom, strerror(errno));
            log_line("warning", w);
            free(w);
        }
    }
    if (s->netns) {
        int fd = open(s->netns, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            msg = xprintf("namespace network %s: %s", s->netns, strerror(errno));
            goto fail;
        }
        close(fd);
    }
    /* zone._check_stdio: the guest's stdio (ours) is a file, pipe, socket or
       terminal, never a directory (fchdir(0) and `..` would walk the host's
       tree) nor an O_PATH fd (reopened through /proc/self/fd with any access) */
    for (int k = 0; k < 3; k++) {
        static const char *const names[] = {"stdin", "stdout", "stderr"};
        struct stat sb;
        int fl = fcntl(k, F_GETFL);
        if (fstat(k, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            msg = xprintf("%s: fd %d is a directory; a zone's stdio must be a file, pipe, socket or terminal "
                          "(a directory would let the guest out of its root)", names[k], k);
            goto fail;
        }
        if (fl >= 0 && (fl & O_PATH)) {
            msg = xprintf("%s: fd %d is an O_PATH descriptor; a zone's stdio must be opened for reading or "
                          "writing", names[k], k);
            goto fail;
        }
    }
    give_stdio(s->uid, s->gid);
    if (s->pids && (msg = cgroups_make(cg, s->pids)))
        goto fail;

    envp = calloc((size_t)s->nenv + 1, sizeof *envp);
    if (!envp) {
        msg = xstrdup(strerror(ENOMEM));
        goto fail;
    }
    const char *search_path = DEFAULT_PATH;
    for (int k = 0; k < s->nenv; k++) {
        envp[k] = xprintf("%s=%s", s->env[k].key, s->env[k].value);
        if (!strcmp(s->env[k].key, "PATH"))
            search_path = s->env[k].value;
    }
    struct lxb_config c;
    memset(&c, 0, sizeof c);
    c.rootfs = s->rootfs;
    c.hostname = s->hostname;
    c.cwd = s->cwd;
    c.path = s->args[0];
    c.search_path = search_path;
    c.argv = s->args;
    c.envp = envp;
    c.net_host = s->net_host;
    c.uid = (int)s->uid;
    c.gid = (int)s->gid;
    for (int k = 0; k < 3; k++)
        c.stdio[k] = k;
    c.use_pty = s->terminal;
    c.nbinds = s->nbinds;
    c.binds = s->binds;
    c.bpf = b->bpf;
    c.bpf_len = b->bpf_len;
    {
        /* zone._no_hosts_file: /etc/hosts where the rootfs has none (or an empty one) */
        char *hp = xprintf("%s/etc/hosts", s->rootfs), *ep = xprintf("%s/etc", s->rootfs);
        struct stat sb;
        int none = lstat(hp, &sb) == 0 ? sb.st_size == 0 : errno == ENOENT && is_dir(ep);
        if (none)
            c.hosts = xprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
                              s->hostname);
    }
    /* config.id_maps and guest_maps, run by root */
    c.uid_map = c.gid_map = "0 0 4294967295\n";
    c.guest_uid_map = c.guest_gid_map = IDSHIFT_MAPS;
    c.tmp_size = s->tmp_size;
    c.shm_size = s->shm_size;
    c.ncgroups = cg->fd >= 0 ? 1 : 0;
    c.cgroup_procs = &cg->fd;
    c.lower_fd = -1;
    c.cap_drop = b->cap_drop;
    c.readonly_root = s->read_only;
    c.nsteps = s->nsteps;
    c.steps = s->steps;
    c.hold_guest = 1;
    c.own_root = 1;          /* oci.py: the bundle's rootfs is the container's (runc's mount points) */
    c.profile_bpf = s->profile_len > 0 ? s->profile : NULL;
    c.profile_bpf_len = s->profile_len > 0 ? s->profile_len : 0;
    memset(&zone, 0, sizeof zone);
    zone.init_pid = zone.ctl_fd = zone.agent_fd = zone.listener_fd = zone.pty_fd = zone.guest_pidfd = -1;
    err[0] = 0;
    int rc = lxb_zone_start(&c, &zone, err, sizeof err);
    if (cg->fd >= 0) {
        close(cg->fd);
        cg->fd = -1;
    }
    if (rc < 0) {
        msg = zone.exec_errno ? exec_message(s->args[0], zone.exec_errno) : xstrdup(err);
        goto fail;
    }
    started = 1;
    init_pidfd = (int)syscall(SYS_pidfd_open, zone.init_pid, 0);
    if (init_pidfd < 0) {
        msg = xprintf("pidfd_open of the zone's init: %s", strerror(errno));
        goto fail;
    }
    /* the held guest waits for its release in a loop without system calls
       (csrc/zone_guest.c: past its filter it makes none before execve), a
       CPU's worth for as long as the container stays created: stopped
       until `start` (SIGCONT), as oci.py _monitor stops it */
    if (pidfd_signal(zone.guest_pidfd, SIGSTOP) != 0) {
        msg = xprintf("stop the held guest: %s", strerror(errno));
        goto fail;
    }
    if (b->notifies) {
        rc = lxb_sup_init(&main_sup, zone.listener_fd);
        if (rc < 0) {
            msg = xstrdup(strerror(-rc));
            goto fail;
        }
        copy_brand(&main_sup, b);
        if ((rc = start_thread(&(pthread_t){0}, supervise_main, NULL)) < 0) {
            msg = xstrdup(strerror(-rc));
            goto fail;
        }
        have_sup = 1;
        /* the supervisor has its own dup */
        close(zone.listener_fd);
        zone.listener_fd = -1;
    }
    if (s->terminal) {
        rc = send_fd_to(console_socket, "/dev/ptmx", zone.pty_fd, NULL, 0);
        if (rc < 0) {
            msg = xstrdup(strerror(-rc));
            goto fail;
        }
    }
    {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        path_in(sock_path, sizeof sock_path, cid, CTL_SOCKET);
        if (strlen(sock_path) >= sizeof sa.sun_path) {
            msg = xstrdup("AF_UNIX path too long");
            goto fail;
        }
        strcpy(sa.sun_path, sock_path);
        listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof sa) != 0 || chmod(sock_path, 0600) != 0 ||
            listen(listener, 8) != 0) {
            msg = xstrdup(strerror(errno));
            goto fail;
        }
    }
    {
        char created[64];
        struct passwd *pw = getpwuid(geteuid());
        iso_now(created, sizeof created);
        st = json_object();
        json_object_set_new(st, "id", json_string(cid));
        json_object_set_new(st, "bundle", json_string(s->bundle));
        json_object_set_new(st, "rootfs", json_string(s->rootfs));
        json_object_set_new(st, "status", json_string("created"));
        json_object_set_new(st, "pid", json_integer(getpid()));
        json_object_set_new(st, "monitor_pid", json_integer(getpid()));
        json_object_set_new(st, "monitor_start", json_integer(proc_start(getpid())));
        json_object_set_new(st, "init_pid", json_integer(zone.init_pid));
        json_object_set_new(st, "init_start", json_integer(proc_start(zone.init_pid)));
        json_object_set_new(st, "guest_pid", json_integer(guest_pid_of(zone.guest_pidfd)));
        json_object_set_new(st, "created", json_string(created));
        json_object_set_new(st, "owner", pw ? json_string(pw->pw_name) : json_sprintf("%u", geteuid()));
        json_object_set(st, "annotations", s->annotations);
        json_object_set_new(st, "hooks", json_object());
        json_object_set_new(st, "exit_status", json_null());
        /* what `exec` needs to start a process like the guest */
        path_in(fpath, sizeof fpath, cid, FILTER_FILE);
        if (write_whole(fpath, b->bpf, (size_t)b->bpf_len) != 0) {
            msg = xstrdup(strerror(errno));
            goto fail;
        }
        path_in(fpath, sizeof fpath, cid, PROFILE_FILE);
        if (write_whole(fpath, s->profile, s->profile_len > 0 ? (size_t)s->profile_len : 0) != 0) {
            msg = xstrdup(strerror(errno));
            goto fail;
        }
        json_object_set_new(st, "cap_drop", json_integer((json_int_t)b->cap_drop));
        if (store_write(cid, st) != 0) {
            msg = xstrdup(strerror(errno));
            goto fail;
        }
    }

    /* the engine's stdio is the guest's now: hold none of it (its reader waits for EOF) */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int k = 0; k < 3; k++)
        dup2(null, k);
    close(null);
    struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    int fwd[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (size_t k = 0; k < sizeof fwd / sizeof fwd[0]; k++)
        sigaction(fwd[k], &sa, NULL);
    if (write(report_fd, "OK", 2) < 0) { /* create is gone: the engine sees it */ }
    close(report_fd);

    struct exec_sup *execs = NULL;
    for (;;) {
        struct pollfd pfd[2] = {{zone.ctl_fd, POLLIN, 0}, {listener, POLLIN, 0}};
        int n = poll(pfd, 2, execs ? 1000 : -1);
        execs = reap_execs(execs, 0);
        if (n < 0)
            continue;
        if (pfd[0].revents)
            break;
        if (!pfd[1].revents)
            continue;
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0)
            continue;
        struct timeval tv = {.tv_sec = 5};
        setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        char data[65], cbuf[CMSG_SPACE(2 * sizeof(int))];
        struct iovec iov = {data, 64};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        ssize_t got = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
        if (got < 0) {
            close(conn);
            continue;
        }
        int fds[2], nfds = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nfds < 2; k++)
                    memcpy(&fds[nfds++], CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
        data[got] = 0;
        char *req = data;                  /* .strip() */
        while (*req && strchr(" \t\n\r\v\f", *req))
            req++;
        for (char *e = req + strlen(req); e > req && strchr(" \t\n\r\v\f", e[-1]);)
            *--e = 0;
        char *reply;
        if (!strcmp(req, "listener")) {
            if (nfds != 1) {
                reply = xstrdup("Eexpected one listener fd");
            } else if (zone_created) {
                reply = xstrdup("Ecannot exec in a container that is not running");
            } else {
                struct exec_sup *e = calloc(1, sizeof *e);
                rc = e ? lxb_sup_init(&e->sup, fds[0]) : -ENOMEM;
                if (rc == 0) {
                    copy_brand(&e->sup, b);
                    e->running = EXEC_RECEIVERS;
                    for (int k = 0; k < EXEC_RECEIVERS && rc == 0; k++) {
                        rc = start_thread(&e->threads[k], supervise_exec, e);
                        if (rc < 0) {
                            /* the receivers started are stopped and joined */
                            e->running = k;
                            lxb_sup_stop(&e->sup);
                            for (int j = 0; j < k; j++)
                                pthread_join(e->threads[j], NULL);
                            lxb_sup_close(&e->sup);
                        }
                    }
                }
                if (rc < 0) {
                    free(e);
                    reply = xprintf("Eserve the exec'd process's listener: %s", strerror(-rc));
                } else {
                    e->next = execs;
                    execs = e;
                    reply = xstrdup("OK");
                }
            }
        } else if (nfds) {
            reply = xprintf("Eunexpected fds with %s", py_repr(req));
        } else if (strcmp(req, "start") != 0) {
            reply = xprintf("Eunknown request %s", py_repr(req));
        } else if (!zone_created) {
            reply = xstrdup("Ecannot start an already running container");
        } else {
            pidfd_signal(zone.guest_pidfd, SIGCONT);
            rc = lxb_zone_release(&zone);
            if (zone.guest_pidfd >= 0) {
                close(zone.guest_pidfd);
                zone.guest_pidfd = -1;
            }
            if (rc < 0) {
                reply = xstrdup("Ethe zone's init is gone before its guest could run");
            } else {
                zone_created = 0;
                json_object_set_new(st, "status", json_string("running"));
                reply = store_write(cid, st) == 0 ? xstrdup("OK") : xprintf("E%s", strerror(errno));
            }
        }
        for (int k = 0; k < nfds; k++)
            close(fds[k]);                 /* a supervisor holds its own dup */
        if (send(conn, reply, strlen(reply), MSG_NOSIGNAL) < 0) { /* the asker is gone */ }
        free(reply);
        close(conn);
    }
    close(listener);
    reap_execs(execs, 1);
    int status = 0, kind = 0, code;
    lxb_zone_wait(&zone, &status, &kind);
    if (have_sup) {
        lxb_sup_stop(&main_sup);
    }
    if (main_sup_rc < 0) {
        code = 255;
        char *m = xprintf("%s; the zone was killed", strerror(-main_sup_rc));
        log_line("error", m);
    } else if (kind == 1) {
        code = status == ENOENT ? 127 : 126;
        log_line("error", exec_message(s->args[0], status));
    } else if (kind == 2) {
        code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 128 + SIGKILL;
    } else {
        code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 128 + SIGKILL;
    }
    cgroups_remove(cg);
    json_object_set_new(st, "status", json_string("stopped"));
    json_object_set_new(st, "exit_status", json_integer(code));
    if (store_write(cid, st) == 0)
        unlink(sock_path);
    return code;

fail:
    if (started) {
        if (init_pidfd >= 0)
            pidfd_signal(init_pidfd, SIGKILL);
        else
            kill(zone.init_pid, SIGKILL);
        int status, kind;
        lxb_zone_wait(&zone, &status, &kind);
    }
    cgroups_remove(cg);
    {
        char *e = xprintf("E%s", msg ? msg : "the monitor failed");
        if (write(report_fd, e, strlen(e)) < 0) { /* create sees the monitor died */ }
    }
    close(report_fd);
    return 1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw);

static void remove_dir(const char *cid)
{
    char dir[4096];
    path_in(dir, sizeof dir, cid, NULL);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* os.makedirs(root, 0o711, exist_ok=True) */
static int make_dirs(const char *path)
{
    char *p = xstrdup(path);
    for (char *q = p + 1; *q; q++)
        if (*q == '/') {
            *q = 0;
            if (mkdir(p, 0711) != 0 && errno != EEXIST)
                return -1;
            *q = '/';
        }
    if (mkdir(p, 0711) != 0 && (errno != EEXIST || !is_dir(p)))
        return -1;
    free(p);
    return 0;
}

struct create_opts {
    const char *bundle, *console_socket, *pid_file, *cid;
};

static int cmd_create(const struct create_opts *o)
{
    struct spec s;
    struct brand b;
    struct cgroups cg = {.fd = -1};
    const char *why;

    if (geteuid() != 0)
        hand_over("create by a user other than root");
    if (!deps_fresh(LXB_OCI_CREATE_DEPS, strlen(LXB_OCI_CREATE_DEPS)))
        hand_over("the Python create changed since the front door was built (make build)");
    check_id(o->cid);
    memset(&s, 0, sizeof s);
    s.bundle = abspath_of(o->bundle);
    if (!is_dir(s.bundle))
        hand_over("a bundle that is not a directory (Python says so)");
    char *cpath = xprintf("%s/config.json", s.bundle);
    json_error_t jerr;
    json_t *config = json_load_file(cpath, JSON_REJECT_DUPLICATES, &jerr);
    if (!config)
        hand_over("a config.json jansson does not read (Python words it)");
    translate(&s, config);
    if (s.terminal && !o->console_socket)
        hand_over("a terminal without --console-socket (Python says so)");
    if (o->console_socket && !s.terminal)
        hand_over("--console-socket without a terminal (Python says so)");
    {
        const char *path_env = DEFAULT_PATH;
        for (int k = 0; k < s.nenv; k++)
            if (!strcmp(s.env[k].key, "PATH"))
                path_env = s.env[k].value;
        if (!resolves(s.rootfs, s.args[0], path_env, s.cwd))
            hand_over("a CMD command.resolve does not find runnable (Python says why)");
    }
    if ((why = load_brand(&b, &s)))
        hand_over(why);
    if (s.pids && !cgroup_v2() && !is_dir(CGROOT "/pids"))
        hand_over("no pids cgroup controller (Python says so)");
    if (!is_shifted(s.rootfs) && shift_rootfs(s.rootfs) != 0)
        hand_over("a rootfs whose shift failed (Python shifts it again and says why)");

    if (make_dirs(root) != 0)
        fail("lxbrand create failed: %s: %s", root, strerror(errno));
    char dir[4096];
    path_in(dir, sizeof dir, o->cid, NULL);
    if (mkdir(dir, 0700) != 0) {
        if (errno == EEXIST)
            fail("container with id exists: %s", o->cid);
        fail("lxbrand create failed: %s: %s", dir, strerror(errno));
    }
    char also[4200];
    snprintf(also, sizeof also, "%s/log.json", dir);
    log_also = also;
    for (int k = 0; k < s.nwarn; k++)
        log_line("warning", s.warn[k]);

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        remove_dir(o->cid);
        fail("lxbrand create failed: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        remove_dir(o->cid);
        fail("lxbrand create failed: %s", strerror(errno));
    }
    if (pid == 0) {
        close(pipefd[0]);
        _exit(monitor(o->cid, &s, &b, &cg, o->console_socket, pipefd[1]) & 0xff);
    }
    close(pipefd[1]);
    char msg[4096];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(pipefd[0], msg + len, sizeof msg - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof msg - 1)
            break;
    }
    msg[len] = 0;
    close(pipefd[0]);
    if (strncmp(msg, "OK", 2) != 0) {
        waitpid(pid, NULL, 0);
        remove_dir(o->cid);
        fail("lxbrand create failed: %s", len > 1 ? msg + 1 : "the monitor died");
    }
    if (o->pid_file) {
        char *tmp = xprintf("%s.tmp", o->pid_file), num[32];
        snprintf(num, sizeof num, "%d", pid);
        if (write_whole(tmp, num, strlen(num)) != 0 || rename(tmp, o->pid_file) != 0) {
            int e = errno;
            json_t *st = read_state(o->cid, 0);
            int pfd = st && !json_is_null(st) ? pidfd_of(st, "init_pid", "init_start") : -1;
            if (pfd >= 0) {
                pidfd_signal(pfd, SIGKILL);
                close(pfd);
            }
            remove_dir(o->cid);
            fail("lxbrand create failed: %s: %s", o->pid_file, strerror(e));
        }
    }
    return 0;
}

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

    if (!strcmp(cmd, "create")) {
        /* create's options (anywhere, as click takes them), then one ID */
        struct create_opts o = {.bundle = "."};
        for (; i < argc; i++) {
            const char *a = argv[i], *v;
            if (a[0] != '-' || !a[1]) {
                if (o.cid)
                    hand_over("create with more than one argument");
                o.cid = a;
            } else if ((v = option_value(argc, argv, &i, "--bundle")) || (v = option_value(argc, argv, &i, "-b")))
                o.bundle = v;
            else if ((v = option_value(argc, argv, &i, "--console-socket")))
                o.console_socket = v;
            else if ((v = option_value(argc, argv, &i, "--pid-file")))
                o.pid_file = v;
            else if ((v = option_value(argc, argv, &i, "--preserve-fds"))) {
                if (strcmp(v, "0") != 0)
                    hand_over("--preserve-fds");
            } else if (strcmp(a, "--no-pivot") != 0 && strcmp(a, "--no-new-keyring") != 0)
                hand_over("a create option the front door does not parse");
        }
        if (!o.cid)
            hand_over("create without an id");
        return cmd_create(&o);
    }
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
