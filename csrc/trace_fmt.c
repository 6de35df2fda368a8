/*
 * trace_fmt.c: the tracer's sink: each traced call's line (strace-like
 * text, or a JSON line), the statistics of lxrun --stats and the counts of
 * --report, in C, on the tracer thread (issue 13).
 *
 * OVERVIEW
 *
 *   trace.c hands every record here (lxb_sink_put) instead of to Python:
 *   the per-call path is C from the seccomp stop to the line written.
 *   Python still receives records (struct lxb_trace_rec, out_fd) when a
 *   Zone(trace=callback) wants events; the CLI's lines and --stats never
 *   go through Python.
 *
 * ONE DECODER
 *
 *   The lines are the ones lxbrand/brand/decode.py and lxbrand/trace.py
 *   print (trace.Recorder is the reference; tests/test_trace.py feeds the
 *   same records to both and compares, byte for byte).  What the syscalls
 *   are, their arguments' names and kinds, the flag and signal names and
 *   the errno names and messages come from the Python side, generated at
 *   build time by csrc/trace_gen.py into trace_table.h (TG_*).  The rules
 *   followed here are decode.args' and decode.show's: an argument the
 *   tracer copied is found by its address among the record's slots (the
 *   last slot wins, as trace._Copies' dict), anything not copied prints
 *   as its address; strings print as Python prints them (paths per code
 *   point of their UTF-8, surrogateescape'd; other strings and buffers per
 *   byte, 32 shown); JSON escapes as json.dumps (ensure_ascii) and prints
 *   floats as Python's repr.
 *
 * STATISTICS
 *
 *   Per syscall: calls, total, every duration (for exact p50 and p99, as
 *   trace.py computed them), errors by errno in first-seen order, and a
 *   log2 histogram; read once at the end by lxb_trace_stat.
 *
 * LOCKING
 *
 *   One mutex per sink: the tracer thread and lxb_trace_feed (the
 *   supervisor's injected calls, read by lxbrand/inject.py) both write.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "trace_int.h"

/* ---- the generated table's shapes ---- */
#define TG_NR_MAX LXB_NR_MAX
#define TG_NSIG 65
enum { C_REG = 1, C_ADDR, C_PTR };
enum { SP_NONE = 0, SP_FD, SP_CLONE, SP_SIGNO, SP_DEV };
enum { A_PTR = 1, A_PATH, A_STR, A_COMM_IN, A_COMM_OUT, A_INT_IN, A_INT_OUT, A_FLOCK_IN = 20, A_FLOCK_OUT };   /* A_COMM_*, A_INT_*: decode.POINTED */
enum { D_IN = 1, D_OUT, D_INOUT };
enum { T_BYTES = 1, T_STRV, T_INT2, T_STAT, T_STATX, T_TIMESPEC, T_SOCKADDR, T_OTHER, T_SIGSET, T_SIGACTION,
       T_RLIMIT, T_POLLFD, T_INT1, T_EPOLL_EVENT, T_EPOLL_EVENTS, T_DIRENTS, T_STACK_T, T_UTSNAME,
       T_RUSAGE, T_STATFS, T_SYSINFO, T_ITIMERVAL, T_ITIMERSPEC, T_SIGINFO, T_SIGEVENT, T_IOVEC,
       T_FDSET, T_SELECT_TV, T_ARGPACK, T_OFF64, T_MSGHDR, T_MSGHDR_OUT, T_MMSGHDR, T_MMSGHDR_RECV, T_MMSG_TIMEOUT,
       T_TIMESPEC2 = 40, T_TIMEVAL2, T_TMS, T_GIDS };
enum { ST_HEX = 1, ST_CSTR, ST_WAIT_STATUS, ST_INT_REF, ST_ENV_COUNT, ST_EPOLL_CTL_EVENT, ST_DIRENT_COUNT,
       ST_IOV_IN, ST_IOV_OUT, ST_MSGHDR, ST_MMSGHDR,
       ST_FDSET = 12, ST_SELECT_TIMEOUT, ST_SIGSET_ARGPACK, ST_TIMEOUT_LEFT, ST_SIGSET_SIZED, ST_ERESTART,
       ST_ERESTART_ABS, ST_IOV_ADDR, ST_OFF_CHANGE, ST_OFF_IN,
       ST_SIGFRAME = 22, ST_CPUSET, ST_SOCKOPT, ST_CLONE_ARGS };   /* decode.STYLE_CODES: a pointer's tg_param.special */
enum { NOTE_NONE = 0, NOTE_POLL, NOTE_SELECT, NOTE_MMSG };   /* decode.result_note */

struct tg_param {
    const char *name;
    uint8_t cls, bits, sgn, special, dir, target, size_idx;   /* special of a pointer: ST_* */
    uint8_t kind;                /* TG_KINDS[kind - 1] prints it (decode.Kind), 0: none */
    uint8_t sw, sw_on;           /* TG_SWITCHES[sw - 1] picks its kind by argument sw_on (decode.Switch) */
};
struct tg_sc {
    const char *name;
    uint8_t nparams;
    uint32_t classes;
    uint8_t shown;               /* TG_SHOWN[shown - 1] says which arguments strace prints; 0: all */
    uint8_t note;                /* NOTE_*: what strace adds after the result */
    uint8_t result;              /* TG_RESULTS[result - 1]: how the result prints; 0: the number */
    uint8_t named;               /* TG_NAMED[named - 1]: name=value in strace's order (clone); 0: bare */
    struct tg_param p[6];
};
/* decode.Named: strace's name, the argument, the bits of argument `on` that show it (0: always) */
struct tg_named_arg {
    const char *label;
    uint8_t arg;
    unsigned long long bits;
};
struct tg_named {
    uint8_t on;
    const struct tg_named_arg *args;
    int nargs;
};
/* decode.Result: RES_* and the kind (TG_KINDS index + 1) of its names; form 0: the number */
enum { RES_OCTAL = 1, RES_FLAGS, RES_FLAGS0, RES_HEX, RES_NAMED, RES_HEXNAMED };
struct tg_res {
    uint8_t form, kind;
};
/* decode.RESULTS: a Result, or one chosen by argument `on`'s value (on 255: dflt) */
struct tg_result_case {
    long long value;
    struct tg_res r;
};
struct tg_result {
    uint8_t on;
    const struct tg_result_case *cases;
    int ncases;
    struct tg_res dflt;
};
/* decode.Shown: argument `on`'s value & mask picks a case's bitmask of arguments, else dflt */
struct tg_shown_case {
    unsigned long long value;
    uint8_t bits;
};
struct tg_shown {
    uint8_t on;
    unsigned long long mask;
    const struct tg_shown_case *cases;
    int ncases;
    uint8_t dflt;
};
struct tg_name {
    const char *name;
    unsigned long long value;
};
/* decode.Kind: an enum, or a flags word (a field first, then bits, then the rest) */
struct tg_kind {
    uint8_t bits, sgn, flags;
    char rest, other;            /* rest: 'x' 0x1f, 'O' 0644; other (an enum): 'd' the number, 'x' hex,
                                    'i' an ioctl request's _IOC(...) */
    unsigned long long field;
    const struct tg_name *names, *values;
    const char *zero;
    const char *dflt;            /* strace's word for what it does not name (MADV_???), or NULL */
};
/* decode.Switch: the kind of the case whose value the selecting argument has, else dflt */
struct tg_case {
    long long value;
    struct tg_param p;
};
struct tg_switch {
    const struct tg_case *cases;
    int ncases;
    unsigned long long mask;     /* the selecting value & mask is a case's (decode.Switch.mask) */
    struct tg_param dflt;
};

#include "trace_table.h"

/* ---- the sink ---- */

#define OBUF_FLUSH (64 * 1024)   /* write once this much is buffered */
#define OBUF_ROOM (48 * 1024)    /* the most one record can add (3 slots escaped 6x, 6 values' text) */

struct nrstat {
    uint64_t calls, total;
    uint64_t *durs;
    size_t cap;
    int nerr;
    int32_t err[LXB_TRACE_ERRS];
    uint64_t errn[LXB_TRACE_ERRS];
    struct lxb_trace_stat *given;    /* counted in the kernel (lxb_sink_stat_set): these, not durs */
};

struct answered {
    uint64_t count;
    int32_t err;
    int cmdlen;
    char cmd[LXB_TRACE_SLOT];
};

struct lxb_sink {
    pthread_mutex_t lock;
    char *buf;
    size_t len, cap;
    /* by number; a number outside the arrays (one the table has no name
       for: negative, or past LXB_NR_MAX) in slot LXB_NR_MAX + i, past_nr[i]
       its number, the first LXB_TRACE_PAST of them in first-seen order */
    struct nrstat *st[LXB_NR_MAX + LXB_TRACE_PAST];
    struct answered *ans[LXB_NR_MAX + LXB_TRACE_PAST];
    int32_t past_nr[LXB_TRACE_PAST];
    int npast;
    uint64_t past_lost;          /* calls of further such numbers, not counted */
};

#define SYS_PTRACE_NR 101

struct lxb_sink *lxb_sink_new(void)
{
    struct lxb_sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cap = OBUF_FLUSH + OBUF_ROOM;
    s->buf = malloc(s->cap);
    if (!s->buf) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void lxb_sink_free(struct lxb_sink *s)
{
    int i;
    if (!s)
        return;
    for (i = 0; i < LXB_NR_MAX + LXB_TRACE_PAST; i++) {
        if (s->st[i]) {
            free(s->st[i]->durs);
            free(s->st[i]->given);
        }
        free(s->st[i]);
        free(s->ans[i]);
    }
    pthread_mutex_destroy(&s->lock);
    free(s->buf);
    free(s);
}

/* 0, or the errno of the write that failed (a full disk, a closed pipe) */
static int write_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* a failed output is remembered (its first errno, said at the end by the
   caller: lxrun, trace.py) and written to no more; the zone runs on */
static void flush_locked(struct lxb_tracer *t, struct lxb_sink *s)
{
    if (s->len && t->text_fd >= 0 && !t->text_error)
        t->text_error = write_all(t->text_fd, s->buf, s->len);
    s->len = 0;
}

void lxb_sink_flush(struct lxb_tracer *t, struct lxb_sink *s)
{
    pthread_mutex_lock(&s->lock);
    flush_locked(t, s);
    pthread_mutex_unlock(&s->lock);
}

int lxb_sink_pending(struct lxb_sink *s)
{
    return __atomic_load_n(&s->len, __ATOMIC_RELAXED) != 0;
}

/* ---- appending (room for a record is made before it: no checks below) ---- */

#define P(c) (s->buf[s->len++] = (char)(c))

static void put_mem(struct lxb_sink *s, const char *p, size_t n)
{
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

static void put_s(struct lxb_sink *s, const char *p)
{
    put_mem(s, p, strlen(p));
}

static void put_u64(struct lxb_sink *s, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        P(tmp[--n]);
}

static void put_i64(struct lxb_sink *s, int64_t v)
{
    if (v < 0) {
        P('-');
        put_u64(s, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(s, (uint64_t)v);
    }
}

static const char HEX[] = "0123456789abcdef";

static void put_hex(struct lxb_sink *s, uint64_t v)   /* Python's f"{v:#x}" */
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = HEX[v & 15];
        v >>= 4;
    } while (v);
    P('0');
    P('x');
    while (n)
        P(tmp[--n]);
}

/* a float as Python's repr: the shortest digits that read back as x, fixed
   notation for exponents -4..15, else d.ddde+XX */
static void put_digits_exp(struct lxb_sink *s, int neg, const char *d, int n, int exp)
{
    int i;
    if (neg)
        P('-');
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            for (i = 0; i <= exp; i++)
                P(i < n ? d[i] : '0');
            P('.');
            if (n > exp + 1)
                put_mem(s, d + exp + 1, (size_t)(n - exp - 1));
            else
                P('0');
        } else {
            P('0');
            P('.');
            for (i = 0; i < -exp - 1; i++)
                P('0');
            put_mem(s, d, (size_t)n);
        }
        return;
    }
    P(d[0]);
    if (n > 1) {
        P('.');
        put_mem(s, d + 1, (size_t)(n - 1));
    }
    P('e');
    P(exp < 0 ? '-' : '+');
    if (exp < 0)
        exp = -exp;
    if (exp < 10)
        P('0');
    put_u64(s, (uint64_t)exp);
}

static void put_repr(struct lxb_sink *s, double x)
{
    char tmp[40], d[24];
    int p, n = 0, exp;
    const char *c;

    if (x == 0) {
        put_s(s, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    if (isnan(x) || isinf(x)) {
        put_s(s, isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (p = 1; p < 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    if (p == 17)
        snprintf(tmp, sizeof tmp, "%.16e", x);
    for (c = tmp; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9')
            d[n++] = *c;
    exp = atoi(c + 1);
    while (n > 1 && d[n - 1] == '0')
        n--;
    put_digits_exp(s, x < 0, d, n, exp);
}

/* ns / 1e9 as Python's repr: below 10^15 ns the decimal digits of ns are
   the shortest that read back (a double has 15.9 digits) */
static void put_ns_repr(struct lxb_sink *s, int64_t ns)
{
    char d[24];
    int n = 0, i;
    uint64_t v;

    if (ns <= 0 || ns >= 1000000000000000ll) {
        put_repr(s, (double)ns / 1e9);
        return;
    }
    v = (uint64_t)ns;
    while (v) {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    }
    for (i = 0; i < n / 2; i++) {
        char c = d[i];
        d[i] = d[n - 1 - i];
        d[n - 1 - i] = c;
    }
    {
        int exp = n - 1 - 9;
        while (n > 1 && d[n - 1] == '0')
            n--;
        put_digits_exp(s, 0, d, n, exp);
    }
}

/* f"{ns / 1e9:.6f}": rounding the exact decimal unless it is a tie */
static void put_secs6(struct lxb_sink *s, uint64_t ns)
{
    uint64_t q = ns / 1000, r = ns % 1000;
    char tmp[40];
    int i;

    if (r == 500 || ns >= 1000000000000000ull) {
        int n = snprintf(tmp, sizeof tmp, "%.6f", (double)ns / 1e9);
        put_mem(s, tmp, (size_t)n);
        return;
    }
    if (r > 500)
        q++;
    put_u64(s, q / 1000000);
    P('.');
    q %= 1000000;
    for (i = 5; i >= 0; i--) {
        tmp[i] = (char)('0' + q % 10);
        q /= 10;
    }
    put_mem(s, tmp, 6);
}

/* ---- strings ---- */

/* one code point of UTF-8 as Python decodes it (strict), or an invalid
   byte b as surrogateescape's U+DC00+b; the bytes it took */
static int u8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF && n >= 2 && (p[1] & 0xC0) == 0x80) {
        *cp = ((uint32_t)(c & 0x1F) << 6) | (p[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF && n >= 3 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
        if (!((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))) {
            *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
            return 3;
        }
    }
    if (c >= 0xF0 && c <= 0xF4 && n >= 4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
        (p[3] & 0xC0) == 0x80) {
        if (!((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))) {
            *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
                  (p[3] & 0x3F);
            return 4;
        }
    }
    *cp = 0xDC00u + c;
    return 1;
}

/* decode._escape: one byte as strace's string_quote writes it (util.c):
   \n \t \" \\ and the like, printable ASCII as is, else octal, three digits
   when the next byte (-1: none) is an octal digit; the characters written */
static int esc_byte(char *o, unsigned b, int next)
{
    const char *e = NULL;
    switch (b) {
    case '"': e = "\\\""; break;
    case '\\': e = "\\\\"; break;
    case '\f': e = "\\f"; break;
    case '\n': e = "\\n"; break;
    case '\r': e = "\\r"; break;
    case '\t': e = "\\t"; break;
    case '\v': e = "\\v"; break;
    }
    if (e) {
        o[0] = e[0];
        o[1] = e[1];
        return 2;
    }
    if (b >= 32 && b < 127) {
        o[0] = (char)b;
        return 1;
    }
    {
        int n = 0;
        o[n++] = '\\';
        if (next >= '0' && next <= '7') {
            o[n++] = (char)('0' + (b >> 6));
            o[n++] = (char)('0' + ((b >> 3) & 7));
        } else if (b >> 3) {
            if (b >> 6)
                o[n++] = (char)('0' + (b >> 6));
            o[n++] = (char)('0' + ((b >> 3) & 7));
        }
        o[n++] = (char)('0' + (b & 7));
        return n;
    }
}

static void put_xbyte(struct lxb_sink *s, unsigned b)
{
    P('\\');
    P('x');
    P(HEX[(b >> 4) & 15]);
    P(HEX[b & 15]);
}

/* byte i of p[0..n) followed by "..." when dots */
static int byte_at(const unsigned char *p, size_t n, int dots, size_t i)
{
    return i < n ? p[i] : (dots && i < n + 3) ? '.' : -1;
}

/* decode._quote: bytes (with "..." after a cut string), 32 shown; hexed: all
   as \xNN (decode.HexBytes) */
static void put_quote(struct lxb_sink *s, const unsigned char *p, size_t n, int dots, int hexed)
{
    size_t total = n + (dots ? 3 : 0), shown = total < TG_SHOW ? total : TG_SHOW, i;
    P('"');
    for (i = 0; i < shown; i++) {
        unsigned b = (unsigned)byte_at(p, n, dots, i);
        if (hexed)
            put_xbyte(s, b);
        else
            s->len += (size_t)esc_byte(s->buf + s->len, b, i + 1 < shown ? byte_at(p, n, dots, i + 1) : -1);
    }
    P('"');
    if (total > TG_SHOW)
        put_s(s, "...");
}

/* decode.show of a PathStr: every byte (a cut one's "..." inside the quotes) */
static void put_path(struct lxb_sink *s, const unsigned char *p, size_t n, int dots)
{
    size_t total = n + (dots ? 3 : 0), i;
    P('"');
    for (i = 0; i < total; i++)
        s->len += (size_t)esc_byte(s->buf + s->len, (unsigned)byte_at(p, n, dots, i), byte_at(p, n, dots, i + 1));
    P('"');
}

/* json.dumps' ensure_ascii escape of one code point */
static void put_json_cp(struct lxb_sink *s, uint32_t c)
{
    switch (c) {
    case '"': put_s(s, "\\\""); return;
    case '\\': put_s(s, "\\\\"); return;
    case '\n': put_s(s, "\\n"); return;
    case '\r': put_s(s, "\\r"); return;
    case '\t': put_s(s, "\\t"); return;
    case '\b': put_s(s, "\\b"); return;
    case '\f': put_s(s, "\\f"); return;
    }
    if (c >= 0x20 && c < 0x7f) {
        P(c);
        return;
    }
    if (c > 0xFFFF) {
        c -= 0x10000;
        put_json_cp(s, 0xD800 | (c >> 10));
        put_json_cp(s, 0xDC00 | (c & 0x3FF));
        return;
    }
    P('\\');
    P('u');
    P(HEX[(c >> 12) & 15]);
    P(HEX[(c >> 8) & 15]);
    P(HEX[(c >> 4) & 15]);
    P(HEX[c & 15]);
}

/* a JSON string of UTF-8 (surrogateescape'd) bytes, or of latin-1 bytes */
static void put_json_str(struct lxb_sink *s, const unsigned char *p, size_t n, int latin1, int dots)
{
    size_t i = 0;
    P('"');
    while (i < n) {
        uint32_t c;
        if (latin1) {
            c = p[i++];
        } else {
            i += (size_t)u8_next(p + i, n - i, &c);
        }
        put_json_cp(s, c);
    }
    if (dots)
        put_s(s, "...");
    P('"');
}

/* ---- values: one decoded argument ---- */

enum { V_INT, V_UINT, V_TEXT, V_ADDR, V_PATH, V_STR, V_BYTES, V_STRV, V_INT2, V_JSON, V_IOV, V_FDSET, V_MSGHDR,
       V_MMSG };

struct val {
    int type;
    int64_t i;                   /* V_INT, V_UINT (as uint64), V_ADDR */
    int32_t pair[2];             /* V_INT2 */
    const unsigned char *data;   /* V_PATH, V_STR, V_BYTES, V_STRV */
    size_t len;
    int cut;
    int hexed;                   /* V_BYTES: all in hex (decode.HexBytes) */
    const char *unk;             /* V_INT/V_UINT of a kind that does not name it: 0x4d, then unk in a comment */
    int unk_bits;                /* its kind's bits (the hex is of those) */
    uint64_t count;              /* V_IOV, V_MMSG: the entries the call names (data: the packed copy, i: its
                                    address) */
    uint64_t sent;               /* V_MMSG: the entries whose msg_len is shown; pair[0]: recvmmsg's */
    int64_t left;                /* V_IOV, V_MSGHDR: the bytes its buffers hold in all, -1: unlimited, -2: the
                                    call failed */
    const unsigned char *ready;  /* V_FDSET: the set after the call, NULL: not known (data: at entry, count: its
                                    fds shown, cut: the copy ended before nfds) */
    char text[4096];             /* V_TEXT: a name, flags, a struct as decode prints it; V_JSON: its JSON */
};

static int64_t as_int(uint64_t raw, int bits, int sgn)
{
    if (bits < 64) {
        raw &= (1ull << bits) - 1;
        if (sgn && (raw >> (bits - 1)))
            return (int64_t)(raw - (1ull << bits));
    }
    return (int64_t)raw;
}

/* a tiny writer into val.text */
struct tbuf {
    char *p;
    size_t n, cap;
};

static void tb_s(struct tbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k >= b->cap)
        k = b->cap - 1 - b->n;
    memcpy(b->p + b->n, s, k);
    b->n += k;
    b->p[b->n] = 0;
}

static void tb_f(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_f(struct tbuf *b, const char *fmt, ...)
{
    va_list ap;
    int k;
    va_start(ap, fmt);
    k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        b->n = b->n + (size_t)k >= b->cap ? b->cap - 1 : b->n + (size_t)k;
}

/* decode._flags: NAME|NAME|0xREST, or `zero` (clone's flags) */
static void flags_text(struct tbuf *b, uint64_t value, const struct tg_name *table, const char *zero)
{
    uint64_t rest = value;
    int any = 0;
    for (; table->name; table++) {
        if (value & table->value) {
            if (any)
                tb_s(b, "|");
            tb_s(b, table->name);
            any = 1;
            rest &= ~(uint64_t)table->value;
        }
    }
    if (rest) {
        if (any)
            tb_s(b, "|");
        tb_f(b, "0x%llx", (unsigned long long)rest);
        any = 1;
    }
    if (!any)
        tb_s(b, zero);
}

static const char *name_of(const struct tg_name *table, uint64_t v)
{
    for (; table->name; table++)
        if (table->value == v)
            return table->name;
    return NULL;
}

static void tb_hex0(struct tbuf *b, uint64_t v);

/* decode.kind_text: a value of a decode.Kind, by name */
static void kind_val(const struct tg_kind *k, uint64_t raw, struct val *v)
{
    struct tbuf b = {v->text, 0, sizeof v->text};
    int64_t x = as_int(raw, k->bits, k->sgn);
    uint64_t rest = (uint64_t)x;
    const struct tg_name *t;
    const char *nm = NULL;
    int named = 0;

    v->text[0] = 0;
    v->i = x;
    v->unk = NULL;
    if (!k->flags) {
        if ((nm = name_of(k->names, (uint64_t)x)) != NULL) {
            v->type = V_TEXT;
            tb_s(&b, nm);
        } else if (k->other == 'x') {
            v->type = V_TEXT;
            tb_f(&b, "0x%llx", (unsigned long long)(k->bits < 64 ? (uint64_t)x & ((1ull << k->bits) - 1) : (uint64_t)x));
        } else if (k->other == 'i') {   /* decode._ioc */
            static const char *const dirs[] = {"_IOC_NONE", "_IOC_WRITE", "_IOC_READ", "_IOC_READ|_IOC_WRITE"};
            uint64_t u = (uint64_t)x & 0xffffffffull;
            v->type = V_TEXT;
            tb_f(&b, "_IOC(%s, ", dirs[(u >> 30) & 3]);
            tb_hex0(&b, (u >> 8) & 0xff);
            tb_s(&b, ", ");
            tb_hex0(&b, u & 0xff);
            tb_s(&b, ", ");
            tb_hex0(&b, (u >> 16) & 0x3fff);
            tb_s(&b, ")");
        } else {
            v->type = (k->bits == 64 && !k->sgn) ? V_UINT : V_INT;
            v->unk = k->dflt;      /* decode.Unknown: the number stays for JSON */
            v->unk_bits = k->bits;
        }
        return;
    }
    v->type = V_TEXT;
    if (k->field) {
        uint64_t f = rest & k->field;
        rest &= ~(uint64_t)k->field;
        if ((nm = name_of(k->values, f)) != NULL)
            tb_s(&b, nm);
        else if (f)
            tb_f(&b, "0x%llx", (unsigned long long)f);
        if (!nm && f && k->dflt)
            tb_f(&b, " /* %s */", k->dflt);
    }
    for (t = k->names; t->name; t++) {
        if (t->value && (rest & t->value) == t->value) {
            if (b.n)
                tb_s(&b, "|");
            tb_s(&b, t->name);
            rest &= ~(uint64_t)t->value;
            named = 1;
        }
    }
    if (rest) {
        if (b.n)
            tb_s(&b, "|");
        tb_f(&b, k->rest == 'x' ? "0x%llx" : "%#03llo", (unsigned long long)rest);
        if (k->dflt && !named)
            tb_f(&b, " /* %s */", k->dflt);
    }
    if (!b.n)
        tb_s(&b, k->zero);
}

/* decode.switched: the kind of argument pp of a call with registers args */
static const struct tg_param *switched(const struct tg_sc *sc, const struct tg_param *pp, const uint64_t *args)
{
    const struct tg_switch *sw;
    const struct tg_param *on;
    int64_t sel;
    int i;

    if (!pp->sw)
        return pp;
    sw = &TG_SWITCHES[pp->sw - 1];
    on = &sc->p[pp->sw_on];
    sel = (int64_t)((uint64_t)as_int(args[pp->sw_on], on->bits, on->sgn) & sw->mask);
    for (i = 0; i < sw->ncases; i++)
        if (sw->cases[i].value == sel)
            return &sw->cases[i].p;
    return &sw->dflt;
}

static void reg_val(const struct tg_param *pp, uint64_t raw, struct val *v)
{
    struct tbuf b = {v->text, 0, sizeof v->text};
    int64_t x = as_int(raw, pp->bits, pp->sgn);

    v->text[0] = 0;
    v->type = (pp->bits == 64 && !pp->sgn) ? V_UINT : V_INT;
    v->i = x;
    if (pp->kind) {
        kind_val(&TG_KINDS[pp->kind - 1], raw, v);
        return;
    }
    switch (pp->special) {
    case SP_FD:
        if (x == -100) {
            v->type = V_TEXT;
            tb_s(&b, "AT_FDCWD");
        }
        break;
    case SP_CLONE: {
        uint64_t u = (uint64_t)x;
        unsigned sig = (unsigned)(u & 0xFF);
        v->type = V_TEXT;
        if (u & ~0xFFull)
            flags_text(&b, u & ~0xFFull, TG_CLONE_FLAGS, "0");
        if (sig) {
            if (b.n)
                tb_s(&b, "|");
            if (sig < TG_NSIG && TG_SIG_LAST[sig])
                tb_s(&b, TG_SIG_LAST[sig]);
            else
                tb_f(&b, "%u", sig);
        }
        if (!b.n)
            tb_s(&b, "0");
        break;
    }
    case SP_SIGNO:
        if (x > 0 && x < TG_NSIG && TG_SIG_FIRST[x]) {
            v->type = V_TEXT;
            tb_s(&b, TG_SIG_FIRST[x]);
        }
        break;
    case SP_DEV: {   /* decode.makedev: strace's print_dev_t */
        uint64_t u = (uint64_t)x;
        v->type = V_TEXT;
        tb_s(&b, "makedev(");
        tb_hex0(&b, ((u >> 8) & 0xfff) | ((u >> 32) & ~0xfffull));
        tb_s(&b, ", ");
        tb_hex0(&b, (u & 0xff) | ((u >> 12) & ~0xffull));
        tb_s(&b, ")");
        break;
    }
    }
}

/* the slot holding guest address addr (trace._Copies: the last one wins) */
static int slot_for(const struct lxb_trace_rec *r, uint64_t addr)
{
    int i;
    for (i = LXB_TRACE_SLOTS - 1; i >= 0; i--)
        if (r->slot_arg[i] < 6 && r->args[r->slot_arg[i]] == addr)
            return i;
    return -1;
}

/* the first slot holding guest address addr (trace._Copies.first: an entry copy before an exit copy) */
static int slot_first(const struct lxb_trace_rec *r, uint64_t addr)
{
    int i;
    for (i = 0; i < LXB_TRACE_SLOTS; i++)
        if (r->slot_arg[i] < 6 && r->args[r->slot_arg[i]] == addr)
            return i;
    return -1;
}

static void file_mode(struct tbuf *b, uint32_t mode)
{
    const char *kind = NULL;
    switch (mode & 0170000) {
    case 0140000: kind = "S_IFSOCK"; break;
    case 0120000: kind = "S_IFLNK"; break;
    case 0100000: kind = "S_IFREG"; break;
    case 0060000: kind = "S_IFBLK"; break;
    case 0040000: kind = "S_IFDIR"; break;
    case 0020000: kind = "S_IFCHR"; break;
    case 0010000: kind = "S_IFIFO"; break;
    }
    if (!kind && (mode & 0170000)) {            /* an unknown file type */
        tb_f(b, "%#x", mode);
        return;
    }
    tb_f(b, "%s%s%s%s%s%#03o", kind ? kind : "", kind ? "|" : "", mode & 04000 ? "S_ISUID|" : "",
         mode & 02000 ? "S_ISGID|" : "", mode & 01000 ? "S_ISVTX|" : "", mode & 0777);
}

/* _quote into a tbuf (sun_path) */
static void tb_quote(struct tbuf *b, const unsigned char *p, size_t n)
{
    size_t i, shown = n < TG_SHOW ? n : TG_SHOW;
    char e[8];
    tb_s(b, "\"");
    for (i = 0; i < shown; i++) {
        e[esc_byte(e, p[i], i + 1 < shown ? p[i + 1] : -1)] = 0;
        tb_s(b, e);
    }
    tb_s(b, "\"");
    if (n > TG_SHOW)
        tb_s(b, "...");
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    while (n--)
        v = (v << 8) | p[n];
    return v;
}

static void tb_kind(struct tbuf *b, int kind, uint64_t raw, int json);

static void tb_hex0(struct tbuf *b, uint64_t v)   /* C's %#x: 0 is 0 (decode._hex0) */
{
    if (v)
        tb_f(b, "0x%llx", (unsigned long long)v);
    else
        tb_s(b, "0");
}

/* decode.FAST_STRUCTS' formatters: 1, or 0 when the copy is too short */
static int struct_text(int target, const unsigned char *d, size_t n, struct tbuf *b)
{
    switch (target) {
    case T_STAT: {
        uint32_t mode;
        if (n < 72)
            return 0;
        mode = (uint32_t)le(d + 24, 4);
        tb_s(b, "{st_mode=");
        file_mode(b, mode);
        if ((mode & 0170000) == 0020000 || (mode & 0170000) == 0060000) {
            uint64_t dev = le(d + 40, 8);   /* decode.makedev */
            tb_s(b, ", st_rdev=makedev(");
            tb_hex0(b, ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffull));
            tb_s(b, ", ");
            tb_hex0(b, (dev & 0xff) | ((dev >> 12) & ~0xffull));
            tb_s(b, "), ...}");
        } else {
            tb_f(b, ", st_size=%lld, ...}", (long long)le(d + 48, 8));
        }
        return 1;
    }
    case T_STATX: {
        uint32_t mask;
        if (n < 48)
            return 0;
        mask = (uint32_t)le(d, 4);
        tb_s(b, "{stx_mask=");
        tb_kind(b, TG_KIND_STATX_MASK, mask, 0);
        tb_s(b, ", stx_attributes=");
        tb_kind(b, TG_KIND_STATX_ATTRS, le(d + 8, 8), 0);
        if (mask & 0x3) {   /* STATX_TYPE|STATX_MODE */
            tb_s(b, ", stx_mode=");
            file_mode(b, (uint32_t)le(d + 28, 2));
        }
        if (mask & 0x200)   /* STATX_SIZE */
            tb_f(b, ", stx_size=%llu", (unsigned long long)le(d + 40, 8));
        tb_s(b, ", ...}");
        return 1;
    }
    case T_UTSNAME: {   /* decode._utsname: sysname and nodename, each up to its NUL */
        static const char *const names[] = {"{sysname=", ", nodename="};
        int f;
        if (n < 130)
            return 0;
        for (f = 0; f < 2; f++) {
            const unsigned char *p = d + 65 * f;
            size_t len = 0, i;
            char e[8];
            while (len < 65 && p[len])
                len++;
            tb_s(b, names[f]);
            tb_s(b, "\"");
            for (i = 0; i < len; i++) {
                e[esc_byte(e, p[i], i + 1 < len ? p[i + 1] : -1)] = 0;
                tb_s(b, e);
            }
            tb_s(b, "\"");
        }
        tb_s(b, ", ...}");
        return 1;
    }
    case T_TIMESPEC:
        if (n < 16)
            return 0;
        tb_f(b, "{tv_sec=%lld, tv_nsec=%lld}", (long long)le(d, 8), (long long)le(d + 8, 8));
        return 1;
    case T_SOCKADDR: {
        unsigned family = n >= 2 ? (unsigned)le(d, 2) : (n == 1 ? d[0] : 0);
        if (n < 2)   /* decode._sockaddr: shorter than its family (strace's decode_sockaddr), the address */
            return 0;
        char ip[64];
        if (family == 1) { /* AF_UNIX */
            const unsigned char *path = d + (n >= 2 ? 2 : n);
            size_t plen = n >= 2 ? n - 2 : 0, k;
            int abstract = plen > 0 && path[0] == 0;
            for (k = 0; k < plen && !path[k]; k++)
                ;
            if (plen == 0 || (plen > 1 && k == plen)) {   /* unnamed (length 2), as strace */
                tb_s(b, "{sa_family=AF_UNIX}");
                return 1;
            }
            if (abstract) {
                path++;
                plen--;
            }
            for (k = 0; k < plen && path[k]; k++)
                ;
            tb_s(b, abstract ? "{sa_family=AF_UNIX, sun_path=@" : "{sa_family=AF_UNIX, sun_path=");
            tb_quote(b, path, k);
            tb_s(b, "}");
        } else if (family == 2 && n >= 8) {
            inet_ntop(2, d + 4, ip, sizeof ip);
            tb_f(b, "{sa_family=AF_INET, sin_port=htons(%u), sin_addr=inet_addr(\"%s\")}",
                 (unsigned)(d[2] << 8 | d[3]), ip);
        } else if (family == 16 && n >= 12) {   /* AF_NETLINK: strace's print_sockaddr_data_nl */
            unsigned pad = (unsigned)le(d + 2, 2), groups = (unsigned)le(d + 8, 4);
            tb_s(b, "{sa_family=AF_NETLINK, ");
            if (pad)
                tb_f(b, "nl_pad=%#x, ", pad);
            tb_f(b, "nl_pid=%d, nl_groups=%#08x}", (int)(int32_t)le(d + 4, 4), groups);
        } else if (family == 10 && n >= 24) {   /* strace's print_sockaddr_data_in6 */
            inet_ntop(10, d + 8, ip, sizeof ip);
            tb_f(b, "{sa_family=AF_INET6, sin6_port=htons(%u), sin6_flowinfo=htonl(%u), "
                 "inet_pton(AF_INET6, \"%s\", &sin6_addr)", (unsigned)(d[2] << 8 | d[3]),
                 (unsigned)((uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7]), ip);
            if (n >= 28)
                tb_f(b, ", sin6_scope_id=%u", (unsigned)le(d + 24, 4));
            tb_s(b, "}");
        } else if (family == 16) {   /* AF_NETLINK: decode._sockaddr, strace's print_sockaddr_data_nl */
            unsigned char nl[10] = {0};   /* nl_pad, nl_pid, nl_groups */
            memcpy(nl, d + 2, n - 2 < sizeof nl ? n - 2 : sizeof nl);
            tb_s(b, "{sa_family=AF_NETLINK, ");
            if (le(nl, 2))
                tb_f(b, "nl_pad=%#x, ", (unsigned)le(nl, 2));
            tb_f(b, "nl_pid=%d, nl_groups=%#08x}", (int)(int32_t)le(nl + 2, 4), (unsigned)le(nl + 6, 4));
        } else {
            tb_f(b, "{sa_family=%u, ...}", family);
        }
        return 1;
    }
    }
    return 0;
}

/* ---- structures strace prints field by field, as text or as JSON (decode.SigSet,
   _sigaction, _rlimit, PollFds: a dict or list in a callback's event) ---- */

static void tb_name(struct tbuf *b, const char *name, int json)
{
    tb_f(b, json ? "\"%s\"" : "%s", name);
}

static void tb_field(struct tbuf *b, const char *name, int first, int json)
{
    tb_f(b, json ? "%s\"%s\": " : "%s%s=", first ? "" : ", ", name);
}

/* a Kind's text (names, or a number in hex) as a field's value */
static void tb_kind(struct tbuf *b, int kind, uint64_t raw, int json)
{
    struct val k;
    kind_val(&TG_KINDS[kind - 1], raw, &k);
    if (k.type == V_TEXT) {
        tb_name(b, k.text, json);
    } else if (k.unk && !json) {   /* decode.Unknown: the hex, then the kind's default name in a comment */
        tb_hex0(b, (uint64_t)k.i & (k.unk_bits < 64 ? (1ull << k.unk_bits) - 1 : ~0ull));
        tb_f(b, " /* %s */", k.unk);
    } else {
        tb_f(b, "%lld", (long long)k.i);
    }
}

static const char *sigset_name(int i, char *tmp)
{
    if (i < TG_NSIG && TG_SIGSET[i])
        return TG_SIGSET[i];
    snprintf(tmp, 16, "%d", i);
    return tmp;
}

/* decode.SigSet: [INT TERM], ~[RTMIN RT_1] with 2/3 or more of the 64
   set (strace's sprintsigmask_n); JSON: the members' names */
static void tb_sigset(struct tbuf *b, uint64_t mask, int json)
{
    char tmp[16];
    int i, first = 1;
    if (!json && __builtin_popcountll(mask) >= 64 * 2 / 3) {
        mask = ~mask;
        tb_s(b, "~");
    }
    tb_s(b, "[");
    for (i = 1; i <= 64; i++) {
        if (!((mask >> (i - 1)) & 1))
            continue;
        if (!first)
            tb_s(b, json ? ", " : " ");
        tb_name(b, sigset_name(i, tmp), json);
        first = 0;
    }
    tb_s(b, "]");
}

static void tb_addr(struct tbuf *b, uint64_t a, int json)
{
    if (a == 0)
        tb_name(b, "NULL", json);
    else
        tb_f(b, json ? "\"0x%llx\"" : "0x%llx", (unsigned long long)a);
}

/* decode._limit: RLIM64_INFINITY, 8192*1024 (a number in JSON) */
static void tb_limit(struct tbuf *b, uint64_t v, int json)
{
    if (v == UINT64_MAX)
        tb_name(b, "RLIM64_INFINITY", json);
    else if (!json && v > 1024 && v % 1024 == 0)
        tb_f(b, "%llu*1024", (unsigned long long)(v / 1024));
    else
        tb_f(b, "%llu", (unsigned long long)v);
}

/* struct pollfd[count] from a copy of n bytes: decode._pollfds and PollFds;
   revents: strace's note of the result (only the entries with revents) */
static void tb_pollfds(struct tbuf *b, const unsigned char *d, size_t n, uint64_t count, int json, int revents)
{
    uint64_t i, have = n / 8 < count ? n / 8 : count;
    int first = 1;
    tb_s(b, "[");
    for (i = 0; i < have; i++) {
        const unsigned char *e = d + 8 * i;
        int32_t fd = (int32_t)le(e, 4);
        uint16_t ev = (uint16_t)le(e + 4, 2), rev = (uint16_t)le(e + 6, 2);
        if (revents && !rev)
            continue;
        if (!first)
            tb_s(b, ", ");
        first = 0;
        tb_s(b, "{");
        tb_field(b, "fd", 1, json);
        tb_f(b, "%d", fd);
        if (revents) {
            tb_field(b, "revents", 0, json);
            tb_kind(b, TG_KIND_POLL_EVENTS, rev, json);
        } else if (json || fd >= 0) {
            tb_field(b, "events", 0, json);
            tb_kind(b, TG_KIND_POLL_EVENTS, ev, json);
            if (json) {
                tb_field(b, "revents", 0, json);
                tb_kind(b, TG_KIND_POLL_EVENTS, rev, json);
            }
        }
        tb_s(b, "}");
    }
    if (!revents && count > have)
        tb_s(b, first ? (json ? "\"...\"" : "...") : (json ? ", \"...\"" : ", ..."));
    tb_s(b, "]");
}

static const char *signame_first(int sig, char *tmp)   /* decode._named(SIGNALS) */
{
    if (sig > 0 && sig < TG_NSIG && TG_SIG_FIRST[sig])
        return TG_SIG_FIRST[sig];
    snprintf(tmp, 16, "%d", sig);
    return tmp;
}

/* decode.WaitStatus: strace's printstatus (wait.c) */
static void wait_status(struct tbuf *b, uint32_t s)
{
    char tmp[16];
    tb_s(b, "[");
    if ((s & 0xff) == 0x7f) {
        unsigned n = (s >> 8) & 0xff;
        tb_f(b, "{WIFSTOPPED(s) && WSTOPSIG(s) == %s%s}", signame_first((int)(n & 0x7f), tmp),
             (n & 0x80) ? " | 0x80" : "");
        s &= ~(n << 8 | 0x7fu);
    } else if ((s & 0x7f) > 0 && (s & 0x7f) < 0x7f) {
        tb_f(b, "{WIFSIGNALED(s) && WTERMSIG(s) == %s%s}", signame_first((int)(s & 0x7f), tmp),
             (s & 0x80) ? " && WCOREDUMP(s)" : "");
        s &= ~((s & 0x7f) | 0x80u);
    } else if ((s & 0x7f) == 0) {
        tb_f(b, "{WIFEXITED(s) && WEXITSTATUS(s) == %u}", (s >> 8) & 0xff);
        s &= ~(s & 0xff00u);
    } else if (s == 0xffff) {
        tb_s(b, "{WIFCONTINUED(s)}");
        s = 0;
    } else {
        tb_hex0(b, s);
        tb_s(b, "]");
        return;
    }
    if (s >> 16) {
        tb_s(b, " | ");
        tb_kind(b, TG_KIND_PTRACE_EVENT, s >> 16, 0);
        tb_s(b, " << 16");
        s &= 0xffff;
    }
    if (s) {
        tb_s(b, " | ");
        tb_hex0(b, s);
    }
    tb_s(b, "]");
}

/* decode._epoll_event: {events=EPOLLIN, data={u32=5, u64=5}} (12 bytes, packed) */
static void tb_epoll_event(struct tbuf *b, const unsigned char *d, int json)
{
    uint64_t data = le(d + 4, 8);
    tb_s(b, "{");
    tb_field(b, "events", 1, json);
    tb_kind(b, TG_KIND_EPOLL_EVENTS, le(d, 4), json);
    tb_field(b, "data", 0, json);
    tb_s(b, "{");
    tb_field(b, "u32", 1, json);
    tb_f(b, "%llu", (unsigned long long)(data & 0xffffffffull));
    tb_field(b, "u64", 0, json);
    tb_f(b, "%llu}}", (unsigned long long)data);
}

/* decode._timeval and the like: {tv_sec=1, tv_usec=500000} (sub: the second field's name) */
static void tb_timepair(struct tbuf *b, const unsigned char *d, const char *sub, int json)
{
    tb_s(b, "{");
    tb_field(b, "tv_sec", 1, json);
    tb_f(b, "%lld", (long long)le(d, 8));
    tb_field(b, sub, 0, json);
    tb_f(b, "%lld}", (long long)le(d + 8, 8));
}

static void tb_signo(struct tbuf *b, int32_t sig, int json);

/* clone3's struct clone_args (decode._clone_args): the fields strace prints by the flags; after a call
   with CLONE_PARENT_SETTID (and no CLONE_PIDFD) " => {parent_tid=[N]}", N the result (the child's tid) */
#define CLONE_ARGS_SIZE 88
#define CLONE_ARGS_MIN 64
static void clone_args_val(const struct lxb_trace_rec *r, uint64_t raw, int done, struct val *v, int json)
{
    struct tbuf b = {v->text, 0, sizeof v->text};
    const uint64_t PIDFD = 0x1000, CHILD_SETTID = 0x1000000, CHILD_CLEARTID = 0x200000, PARENT_SETTID = 0x100000,
                   SETTLS = 0x80000, INTO_CGROUP = 1ull << 33;
    uint64_t size = r->args[1], want = size < CLONE_ARGS_SIZE ? size : CLONE_ARGS_SIZE, flags, sig;
    const unsigned char *d;
    int k;

    if (size < CLONE_ARGS_MIN || (k = slot_for(r, raw)) < 0 || r->slot_len[k] < want)
        return;
    d = (const unsigned char *)r->slot[k];
    flags = le(d, 8);
    v->text[0] = 0;
    tb_s(&b, "{");
    tb_field(&b, "flags", 1, json);
    tb_kind(&b, TG_KIND_CLONE3_FLAGS, flags, json);
    if (flags & PIDFD) {
        tb_field(&b, "pidfd", 0, json);
        tb_addr(&b, le(d + 8, 8), json);
    }
    if (flags & (CHILD_SETTID | CHILD_CLEARTID)) {
        tb_field(&b, "child_tid", 0, json);
        tb_addr(&b, le(d + 16, 8), json);
    }
    if (flags & PARENT_SETTID) {
        tb_field(&b, "parent_tid", 0, json);
        tb_addr(&b, le(d + 24, 8), json);
    }
    tb_field(&b, "exit_signal", 0, json);
    sig = le(d + 32, 8);
    if (sig < 0x7FFFFFFF)
        tb_signo(&b, (int32_t)sig, json);
    else
        tb_f(&b, "%llu", (unsigned long long)sig);
    tb_field(&b, "stack", 0, json);
    tb_addr(&b, le(d + 40, 8), json);
    tb_field(&b, "stack_size", 0, json);
    if (json)
        tb_s(&b, "\"");
    tb_hex0(&b, le(d + 48, 8));
    if (json)
        tb_s(&b, "\"");
    if (flags & SETTLS) {
        tb_field(&b, "tls", 0, json);
        tb_addr(&b, le(d + 56, 8), json);
    }
    if (want >= 80 && (le(d + 64, 8) || le(d + 72, 8))) {
        tb_field(&b, "set_tid", 0, json);
        tb_addr(&b, le(d + 64, 8), json);
        tb_field(&b, "set_tid_size", 0, json);
        tb_f(&b, "%llu", (unsigned long long)le(d + 72, 8));
    }
    if (want >= 88 && (le(d + 80, 8) || (flags & INTO_CGROUP))) {
        tb_field(&b, "cgroup", 0, json);
        tb_f(&b, "%llu", (unsigned long long)le(d + 80, 8));
    }
    tb_s(&b, "}");
    if (!json && done && r->ret > 0 && (flags & PARENT_SETTID) && !(flags & PIDFD))
        tb_f(&b, " => {parent_tid=[%lld]}", (long long)r->ret);
    v->type = json ? V_JSON : V_TEXT;
}

/* how many gids getgroups/setgroups' list holds (decode.args): getgroups' result (failed: -1), setgroups'
   size; -1 past NGROUPS_MAX (strace's print_groups: the address) */
static int64_t gids_count(const struct tg_sc *sc, const struct tg_param *pp, const struct lxb_trace_rec *r)
{
    int64_t c;
    if (pp->dir == D_OUT) {
        if (r->ret < 0)
            return -1;
        c = r->ret;
    } else {
        if (pp->size_idx >= 6)
            return -1;
        c = as_int(r->args[pp->size_idx], sc->p[pp->size_idx].bits, sc->p[pp->size_idx].sgn);
    }
    return c < 0 || c > 65536 ? -1 : c;
}

/* a socket option's value (decode._sockopt_arg): setsockopt's optlen bytes, getsockopt's *optlen after the
   call (failed: the address); an int [1] when 4 bytes (or SOL_NETLINK's), SO_LINGER's struct, else the bytes */
static void sockopt_val(const struct tg_sc *sc, const struct tg_param *pp, const struct lxb_trace_rec *r, uint64_t raw,
                        int done, struct val *v, int json)
{
    struct tbuf b = {v->text, 0, sizeof v->text};
    int32_t level = (int32_t)r->args[1], name = (int32_t)r->args[2];
    int64_t length;
    const unsigned char *d;
    size_t n, want;
    int k;

    if (pp->dir == D_IN) {
        if (pp->size_idx >= 6)
            return;
        length = (int32_t)r->args[pp->size_idx];
    } else {
        if (!done || r->ret < 0 || !r->args[4] || (k = slot_for(r, r->args[4])) < 0 || r->slot_len[k] < 4)
            return;
        length = (int32_t)le((const unsigned char *)r->slot[k], 4);
        if (length <= 0)
            return;
    }
    (void)sc;
    if (length == 0) {   /* strace's printstrn of nothing: "" */
        v->type = V_BYTES;
        v->data = (const unsigned char *)"";
        v->len = 0;
        return;
    }
    if ((k = slot_for(r, raw)) < 0)
        return;
    d = (const unsigned char *)r->slot[k];
    want = length < 0 ? 0 : length > TG_SHOW + 1 ? TG_SHOW + 1 : (size_t)length;
    n = r->slot_len[k] < want ? r->slot_len[k] : want;
    if (level == 1 && name == 13 && length >= 8 && n >= 8) {   /* SO_LINGER */
        v->text[0] = 0;
        tb_s(&b, "{");
        tb_field(&b, "l_onoff", 1, json);
        tb_f(&b, "%d", (int)(int32_t)le(d, 4));
        tb_field(&b, "l_linger", 0, json);
        tb_f(&b, "%d}", (int)(int32_t)le(d + 4, 4));
        v->type = json ? V_JSON : V_TEXT;
        return;
    }
    if ((length == 4 || (level == 270 && length >= 4)) && n >= 4) {   /* an int; SOL_NETLINK's */
        v->i = (int32_t)le(d, 4);
        v->type = V_INT;
        if (!json) {
            v->text[0] = 0;
            tb_f(&b, "[%d]", (int)v->i);
            v->type = V_TEXT;
        }
        return;
    }
    if (length < 0)
        return;
    v->type = V_BYTES;
    v->data = d;
    v->len = n;
}

/* a CPU mask (decode._cpuset): its length is args[size_idx] at entry (sched_setaffinity), the result at the
   exit (sched_getaffinity; failed: the address); its first CPUSET_MAX bytes copied, else the address */
#define CPUSET_MAX 128
static void cpuset_val(const struct tg_sc *sc, const struct tg_param *pp, const struct lxb_trace_rec *r, uint64_t raw,
                       struct val *v, int json)
{
    struct tbuf b = {v->text, 0, sizeof v->text};
    uint64_t len, want, i;
    const unsigned char *d = NULL;
    int k, printed = 0;

    if (pp->dir == D_OUT) {
        if (r->ret < 0)
            return;
        len = (uint64_t)r->ret & 0xFFFFFFFFu;
    } else {
        if (pp->size_idx >= 6)
            return;
        len = as_int(r->args[pp->size_idx], sc->p[pp->size_idx].bits, sc->p[pp->size_idx].sgn) & 0xFFFFFFFFu;
    }
    want = len < CPUSET_MAX ? len : CPUSET_MAX;
    if (want) {
        if ((k = slot_for(r, raw)) < 0 || r->slot_len[k] < want)
            return;
        d = (const unsigned char *)r->slot[k];
    }
    tb_s(&b, "[");
    for (i = 0; i < want * 8; i++) {
        if (!(d[i / 8] >> (i % 8) & 1))
            continue;
        tb_f(&b, json ? "%s%llu" : "%s%llu", printed ? (json ? ", " : " ") : "", (unsigned long long)i);
        printed = 1;
    }
    if ((want + 7) / 8 * 8 < len)
        tb_s(&b, json ? (printed ? ", \"...\"" : "\"...\"") : (printed ? " ..." : "..."));
    tb_s(&b, "]");
    v->type = json ? V_JSON : V_TEXT;
}

/* decode.when: strace's sprinttime_ex as a comment after a time (1970-01-01T00:16:40+0000), local time */
#define UTIME_NOW ((1l << 30) - 1l)   /* include/uapi/linux/stat.h */
#define UTIME_OMIT ((1l << 30) - 2l)
static void tb_when(struct tbuf *b, int64_t sec, uint64_t part, int width)
{
    char text[96];
    struct tm tm;
    time_t t = (time_t)sec;
    size_t k;

    if ((sec == 0 && part == 0) || part >= (width == 9 ? 1000000000ull : 1000000ull))
        return;
    if (!localtime_r(&t, &tm) || !(k = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm)))
        return;
    if (part)
        k += (size_t)snprintf(text + k, sizeof text - k, ".%0*llu", width, (unsigned long long)part);
    if (!strftime(text + k, sizeof text - k, "%z", &tm))
        return;
    tb_f(b, " /* %s */", text);
}

/* struct fields of unsigned 64-bit numbers at d + 8 * first .. (decode._statfs, _sysinfo) */
static void tb_u64s(struct tbuf *b, const unsigned char *d, const char *const *names, int n, int json)
{
    int i;
    for (i = 0; i < n; i++) {
        tb_field(b, names[i], 0, json);
        tb_f(b, "%llu", (unsigned long long)le(d + 8 * i, 8));
    }
}

/* a signal number as decode._named(SIGNALS) gives it: its name, else the number */
static void tb_signo(struct tbuf *b, int32_t sig, int json)
{
    if (sig > 0 && sig < TG_NSIG && TG_SIG_FIRST[sig])
        tb_name(b, TG_SIG_FIRST[sig], json);
    else
        tb_f(b, "%d", (int)sig);
}

/* decode.ClockT: 4, then 0.04 s in a comment (USER_HZ 100); the number in JSON */
static void tb_clock(struct tbuf *b, uint64_t v, int json)
{
    tb_f(b, "%llu", (unsigned long long)v);
    if (v && !json)
        tb_f(b, " /* %llu.%02llu s */", (unsigned long long)(v / 100), (unsigned long long)(v % 100));
}

/* decode._siginfo: strace's printsiginfo */
static void tb_siginfo(struct tbuf *b, const unsigned char *d, int json)
{
    int32_t signo = (int32_t)le(d, 4), code = (int32_t)le(d + 8, 4), value = (int32_t)le(d + 24, 4);
    uint32_t err = (uint32_t)le(d + 4, 4), uid = (uint32_t)le(d + 20, 4);
    int32_t pid = (int32_t)le(d + 16, 4);
    uint64_t ptr = le(d + 24, 8);
    const char *nm = NULL;
    int source = 0, sigval = 0;
    tb_s(b, "{");
    if (!signo) {
        tb_s(b, "}");
        return;
    }
    tb_field(b, "si_signo", 1, json);
    tb_signo(b, signo, json);
    tb_field(b, "si_code", 0, json);
    if (signo > 0 && signo < TG_NSIG && TG_SIGCODE_KIND[signo])   /* decode.si_code */
        nm = name_of(TG_KINDS[TG_SIGCODE_KIND[signo] - 1].names, (uint64_t)(int64_t)code);
    if (!nm)
        nm = name_of(TG_KINDS[TG_SI_KIND - 1].names, (uint64_t)(int64_t)code);
    if (nm)
        tb_name(b, nm, json);
    else
        tb_f(b, "%d", (int)code);
    if (err) {   /* decode._si_errno */
        const char *en = err <= TG_ERRMAX ? TG_ERRNAME[err] : NULL;
        if (!en && err >= TG_KERNEL_ERR_FIRST && err <= TG_KERNEL_ERR_LAST)
            en = TG_KERNEL_ERR[err - TG_KERNEL_ERR_FIRST];
        tb_field(b, "si_errno", 0, json);
        if (en)
            tb_name(b, en, json);
        else
            tb_f(b, json ? "\"%u\"" : "%u", err);
    }
    if (code <= 0) {   /* SI_FROMUSER */
        if (code == 0 || code == -6) {          /* SI_USER, SI_TKILL */
            source = 1;
        } else if (code == -2) {                /* SI_TIMER */
            tb_field(b, "si_timerid", 0, json);
            if (json)
                tb_s(b, "\"");
            tb_hex0(b, (uint32_t)pid);
            if (json)
                tb_s(b, "\"");
            tb_field(b, "si_overrun", 0, json);
            tb_f(b, "%d", (int)(int32_t)uid);
            sigval = 1;
        } else if (code == -5) {                /* SI_SIGIO */
            tb_field(b, "si_band", 0, json);
            tb_f(b, "%lld", (long long)le(d + 16, 8));
            tb_field(b, "si_fd", 0, json);
            tb_f(b, "%d", (int)value);
        } else {
            source = 1;
            sigval = ptr != 0;
        }
    } else if (signo == SIGCHLD) {
        source = 1;
    } else if (signo == SIGILL || signo == SIGFPE || signo == SIGBUS || signo == SIGSEGV || signo == SIGTRAP) {
        tb_field(b, "si_addr", 0, json);
        tb_addr(b, le(d + 16, 8), json);
    } else if (signo == SIGIO) {
        if (code >= 1 && code <= 3) {           /* POLL_IN, POLL_OUT, POLL_MSG */
            tb_field(b, "si_band", 0, json);
            tb_f(b, "%lld", (long long)le(d + 16, 8));
            tb_field(b, "si_fd", 0, json);
            tb_f(b, "%d", (int)value);
        }
    } else if (signo == SIGSYS) {
        uint32_t arch = (uint32_t)le(d + 28, 4);
        const char *sc = (arch == 0xc000003eu && value >= 0 && value < TG_NR_MAX) ? TG_SC[value].name : NULL;
        tb_field(b, "si_call_addr", 0, json);
        tb_addr(b, le(d + 16, 8), json);
        tb_field(b, "si_syscall", 0, json);
        if (sc)
            tb_f(b, json ? "\"__NR_%s\"" : "__NR_%s", sc);
        else
            tb_f(b, "%u", (uint32_t)value);
        tb_field(b, "si_arch", 0, json);
        if (arch == 0xc000003eu)
            tb_name(b, "AUDIT_ARCH_X86_64", json);
        else if (arch == 0x40000003u)
            tb_name(b, "AUDIT_ARCH_I386", json);
        else
            tb_f(b, json ? "\"0x%x /* AUDIT_ARCH_??? */\"" : "0x%x /* AUDIT_ARCH_??? */", arch);
    } else {
        source = pid || uid;
        sigval = ptr != 0;
    }
    if (source) {
        tb_field(b, "si_pid", 0, json);
        tb_f(b, "%d", (int)pid);
        tb_field(b, "si_uid", 0, json);
        if (uid == 0xffffffffu)
            tb_s(b, "-1");
        else
            tb_f(b, "%u", uid);
    }
    if (code > 0 && signo == SIGCHLD) {
        tb_field(b, "si_status", 0, json);
        if (code == 1)   /* CLD_EXITED: a number */
            tb_f(b, "%d", (int)value);
        else
            tb_signo(b, value, json);
        tb_field(b, "si_utime", 0, json);
        tb_clock(b, le(d + 32, 8), json);
        tb_field(b, "si_stime", 0, json);
        tb_clock(b, le(d + 40, 8), json);
    }
    if (sigval) {
        tb_field(b, "si_int", 0, json);
        tb_f(b, "%d", (int)value);
        tb_field(b, "si_ptr", 0, json);
        tb_addr(b, ptr, json);
    }
    tb_s(b, "}");
}

/* the structures above: 1, or 0 when the copy is too short (then the address) */
static int struct_fields(int target, const unsigned char *d, size_t n, uint64_t count, struct tbuf *b, int json)
{
    switch (target) {
    case T_SIGSET:
        if (n < 8)
            return 0;
        tb_sigset(b, le(d, 8), json);
        return 1;
    case T_SIGACTION: {
        uint64_t flags;
        if (n < 32)
            return 0;
        flags = le(d + 8, 8);
        tb_s(b, "{");
        tb_field(b, "sa_handler", 1, json);
        tb_kind(b, TG_KIND_SA_HANDLER, le(d, 8), json);
        tb_field(b, "sa_mask", 0, json);
        tb_sigset(b, le(d + 24, 8), json);
        tb_field(b, "sa_flags", 0, json);
        tb_kind(b, TG_KIND_SIGACTION_FLAGS, flags, json);
        if (flags & 0x04000000) { /* SA_RESTORER */
            tb_field(b, "sa_restorer", 0, json);
            tb_addr(b, le(d + 16, 8), json);
        }
        tb_s(b, "}");
        return 1;
    }
    case T_RLIMIT:
        if (n < 16)
            return 0;
        tb_s(b, "{");
        tb_field(b, "rlim_cur", 1, json);
        tb_limit(b, le(d, 8), json);
        tb_field(b, "rlim_max", 0, json);
        tb_limit(b, le(d + 8, 8), json);
        tb_s(b, "}");
        return 1;
    case T_POLLFD:
        tb_pollfds(b, d, n, count, json, 0);
        return 1;
    case T_STACK_T:   /* decode._stack_t */
        if (n < 24)
            return 0;
        tb_s(b, "{");
        tb_field(b, "ss_sp", 1, json);
        tb_addr(b, le(d, 8), json);
        tb_field(b, "ss_flags", 0, json);
        tb_kind(b, TG_KIND_SS_FLAGS, (uint32_t)le(d + 8, 4), json);
        tb_field(b, "ss_size", 0, json);
        tb_f(b, "%llu}", (unsigned long long)le(d + 16, 8));
        return 1;
    case T_EPOLL_EVENT:
        if (n < 12)
            return 0;
        tb_epoll_event(b, d, json);
        return 1;
    case T_SIGINFO:
        if (n < 48)
            return 0;
        tb_siginfo(b, d, json);
        return 1;
    case T_SIGEVENT: {   /* decode._sigevent */
        uint64_t value = le(d, 8);
        int32_t signo = (int32_t)le(d + 8, 4);
        uint32_t notify = (uint32_t)le(d + 12, 4);
        int first = 1;
        if (n < 32)
            return 0;
        tb_s(b, "{");
        if (value) {
            tb_field(b, "sigev_value", 1, json);
            tb_s(b, "{");
            tb_field(b, "sival_int", 1, json);
            tb_f(b, "%d", (int)(int32_t)value);
            tb_field(b, "sival_ptr", 0, json);
            tb_addr(b, value, json);
            tb_s(b, "}");
            first = 0;
        }
        tb_field(b, "sigev_signo", first, json);
        if (notify == 0 || notify == 2 || notify == 4)
            tb_signo(b, signo, json);
        else
            tb_f(b, "%u", (uint32_t)signo);
        tb_field(b, "sigev_notify", 0, json);
        tb_kind(b, TG_KIND_SIGEV_NOTIFY, notify, json);
        if (notify == 4) {
            tb_field(b, "sigev_notify_thread_id", 0, json);
            tb_f(b, "%d", (int)(int32_t)le(d + 16, 4));
        } else if (notify == 2) {
            tb_field(b, "sigev_notify_function", 0, json);
            tb_addr(b, le(d + 16, 8), json);
            tb_field(b, "sigev_notify_attributes", 0, json);
            tb_addr(b, le(d + 24, 8), json);
        }
        tb_s(b, "}");
        return 1;
    }
    case T_RUSAGE:   /* decode._rusage: ru_utime, ru_stime, then strace's "..." (not in JSON) */
        if (n < 32)
            return 0;
        tb_s(b, "{");
        tb_field(b, "ru_utime", 1, json);
        tb_timepair(b, d, "tv_usec", json);
        tb_field(b, "ru_stime", 0, json);
        tb_timepair(b, d + 16, "tv_usec", json);
        tb_s(b, json ? "}" : ", ...}");
        return 1;
    case T_TMS: {   /* decode._tms */
        static const char *const names[] = {"tms_utime", "tms_stime", "tms_cutime", "tms_cstime"};
        int i;
        if (n < 32)
            return 0;
        tb_s(b, "{");
        for (i = 0; i < 4; i++) {
            tb_field(b, names[i], i == 0, json);
            tb_clock(b, le(d + 8 * i, 8), json);
        }
        tb_s(b, "}");
        return 1;
    }
    case T_TIMESPEC2:   /* decode._utimes: utimensat's two times, utimes' */
    case T_TIMEVAL2: {
        int i;
        if (n < 32)
            return 0;
        tb_s(b, "[");
        for (i = 0; i < 2; i++) {
            const unsigned char *t = d + 16 * i;
            int64_t part = (int64_t)le(t + 8, 8);
            if (i)
                tb_s(b, ", ");
            if (target == T_TIMESPEC2 && (part == UTIME_NOW || part == UTIME_OMIT)) {
                tb_name(b, part == UTIME_NOW ? "UTIME_NOW" : "UTIME_OMIT", json);
                continue;
            }
            tb_timepair(b, t, target == T_TIMESPEC2 ? "tv_nsec" : "tv_usec", json);
            if (!json)
                tb_when(b, (int64_t)le(t, 8), (uint64_t)part, target == T_TIMESPEC2 ? 9 : 6);
        }
        tb_s(b, "]");
        return 1;
    }
    case T_ITIMERVAL:   /* decode._itimerval, _itimerspec */
    case T_ITIMERSPEC:
        if (n < 32)
            return 0;
        tb_s(b, "{");
        tb_field(b, "it_interval", 1, json);
        tb_timepair(b, d, target == T_ITIMERVAL ? "tv_usec" : "tv_nsec", json);
        tb_field(b, "it_value", 0, json);
        tb_timepair(b, d + 16, target == T_ITIMERVAL ? "tv_usec" : "tv_nsec", json);
        tb_s(b, "}");
        return 1;
    case T_STATFS: {   /* decode._statfs: f_fsid in hex, f_flags only with ST_VALID */
        static const char *const counts[] = {"f_bsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree"};
        static const char *const sizes[] = {"f_namelen", "f_frsize"};
        uint64_t flags;
        if (n < 88)
            return 0;
        flags = le(d + 80, 8);
        tb_s(b, "{");
        tb_field(b, "f_type", 1, json);
        tb_kind(b, TG_KIND_FS_MAGIC, le(d, 8), json);
        tb_u64s(b, d + 8, counts, 6, json);
        tb_field(b, "f_fsid", 0, json);
        tb_s(b, "{");
        tb_field(b, "val", 1, json);
        tb_s(b, json ? "[\"" : "[");
        tb_hex0(b, le(d + 56, 4));
        tb_s(b, json ? "\", \"" : ", ");
        tb_hex0(b, le(d + 60, 4));
        tb_s(b, json ? "\"]}" : "]}");
        tb_u64s(b, d + 64, sizes, 2, json);
        if (flags & 0x20) {   /* ST_VALID */
            tb_field(b, "f_flags", 0, json);
            tb_kind(b, TG_KIND_STATFS_FLAGS, flags, json);
        }
        tb_s(b, "}");
        return 1;
    }
    case T_SYSINFO: {   /* decode._sysinfo */
        static const char *const mem[] = {"totalram", "freeram", "sharedram", "bufferram", "totalswap", "freeswap"};
        static const char *const high[] = {"totalhigh", "freehigh"};
        if (n < 108)
            return 0;
        tb_s(b, "{");
        tb_field(b, "uptime", 1, json);
        tb_f(b, "%lld", (long long)le(d, 8));
        tb_field(b, "loads", 0, json);
        tb_f(b, "[%llu, %llu, %llu]", (unsigned long long)le(d + 8, 8), (unsigned long long)le(d + 16, 8),
             (unsigned long long)le(d + 24, 8));
        tb_u64s(b, d + 32, mem, 6, json);
        tb_field(b, "procs", 0, json);
        tb_f(b, "%u", (unsigned)le(d + 80, 2));
        tb_u64s(b, d + 88, high, 2, json);
        tb_field(b, "mem_unit", 0, json);
        tb_f(b, "%u}", (unsigned)le(d + 104, 4));
        return 1;
    }
    case T_GIDS: {   /* decode._gids: (gid_t)-1 as -1, 32 then "..." */
        uint64_t i, have = n / 4 < count ? n / 4 : count;
        if (have > TG_SHOW)
            have = TG_SHOW;
        tb_s(b, "[");
        for (i = 0; i < have; i++) {
            uint32_t g = (uint32_t)le(d + 4 * i, 4);
            tb_s(b, i ? ", " : "");
            if (g == 0xFFFFFFFFu)
                tb_s(b, "-1");
            else
                tb_f(b, "%u", g);
        }
        if (count > have)
            tb_s(b, have ? (json ? ", \"...\"" : ", ...") : (json ? "\"...\"" : "..."));
        tb_s(b, "]");
        return 1;
    }
    case T_EPOLL_EVENTS: {   /* decode._epoll_events: count of them, "..." after the copied ones */
        uint64_t i, have = n / 12 < count ? n / 12 : count;
        tb_s(b, "[");
        for (i = 0; i < have; i++) {
            if (i)
                tb_s(b, ", ");
            tb_epoll_event(b, d + 12 * i, json);
        }
        if (count > have)
            tb_s(b, have ? (json ? ", \"...\"" : ", ...") : (json ? "\"...\"" : "..."));
        tb_s(b, "]");
        return 1;
    }
    }
    return 0;
}

/* decode._pointed: what a pointer a Switch picks points to, read at entry (A_*_IN)
   or after the call succeeded (A_*_OUT), else its address; an int as [1]
   (decode.IntRef, the number in JSON); a task's name (decode._comm, CommStr):
   16 bytes up to a NUL, "..." after the quotes when they hold none */
static void pointed_val(const struct tg_param *sp, const struct lxb_trace_rec *r, uint64_t raw, int done,
                        struct val *v, int json)
{
    struct tbuf b = {v->text, 0, sizeof v->text};
    const unsigned char *d, *z;
    size_t n, i;
    int k;
    char e[8];

    v->type = V_ADDR;
    v->i = (int64_t)raw;
    if (raw == 0 || sp->special == A_PTR ||
        ((sp->special == A_COMM_OUT || sp->special == A_INT_OUT || sp->special == A_FLOCK_OUT) &&
                                             !(done && r->ret >= 0)) || (k = slot_for(r, raw)) < 0)
        return;
    d = (const unsigned char *)r->slot[k];
    if (sp->special == A_FLOCK_IN || sp->special == A_FLOCK_OUT) {   /* decode._flock */
        if (r->slot_len[k] < 28)
            return;
        v->text[0] = 0;
        tb_s(&b, "{");
        tb_field(&b, "l_type", 1, json);
        tb_kind(&b, TG_KIND_LOCK_TYPE, le(d, 2), json);
        tb_field(&b, "l_whence", 0, json);
        tb_kind(&b, TG_KIND_SEEK_WHENCE, le(d + 2, 2), json);
        tb_field(&b, "l_start", 0, json);
        tb_f(&b, "%lld", (long long)le(d + 8, 8));
        tb_field(&b, "l_len", 0, json);
        tb_f(&b, "%lld", (long long)le(d + 16, 8));
        if (sp->special == A_FLOCK_OUT) {
            tb_field(&b, "l_pid", 0, json);
            tb_f(&b, "%d", (int)(int32_t)le(d + 24, 4));
        }
        tb_s(&b, "}");
        v->type = json ? V_JSON : V_TEXT;
        return;
    }
    if (sp->special == A_INT_IN || sp->special == A_INT_OUT) {
        if (r->slot_len[k] < 4)
            return;
        v->i = (int32_t)le(d, 4);
        v->type = V_INT;
        if (!json) {
            v->text[0] = 0;
            tb_f(&b, "[%d]", (int)v->i);
            v->type = V_TEXT;
        }
        return;
    }
    n = r->slot_len[k] < 16 ? r->slot_len[k] : 16;
    z = memchr(d, 0, n);
    if (z)
        n = (size_t)(z - d);
    if (json) {
        v->type = V_STR;
        v->data = d;
        v->len = n;
        return;
    }
    v->text[0] = 0;
    tb_s(&b, "\"");
    for (i = 0; i < n; i++) {
        e[esc_byte(e, d[i], i + 1 < n ? d[i + 1] : -1)] = 0;
        tb_s(&b, e);
    }
    tb_s(&b, z ? "\"" : "\"...");
    v->type = V_TEXT;
}

/* decode.iovecs' check of a packed iovec copy: every entry within its len bytes */
static int iov_fits(const unsigned char *d, size_t len, int64_t left)
{
    uint64_t total = left == -1 ? UINT64_MAX : left < 0 ? 0 : (uint64_t)left, n, k, off = 8;
    if (len < 8)
        return 0;
    n = le(d, 4);
    for (k = 0; k < n; k++) {
        uint64_t l, sh;
        if (off + 16 > len)
            return 0;
        l = le(d + off + 8, 8);
        sh = l < total ? l : total;
        total -= sh;
        sh = sh < TG_SHOW ? sh : TG_SHOW;
        if (off + 16 + sh > len)
            return 0;
        off += 16 + sh;
    }
    return 1;
}

/* decode._iov_arg and decode.iovecs: an iovec[] argument from its packed
   copy (trace.c copy_iov) as V_IOV, [] for none, else its address (a copy
   that does not hold what its header says: decode raises, the address) */
static void iov_val(const struct tg_sc *sc, const struct tg_param *pp, const struct lxb_trace_rec *r, uint64_t raw,
                    int done, struct val *v)
{
    uint64_t count;
    const unsigned char *d;
    size_t len;
    int slot;

    (void)sc;
    if (pp->size_idx >= 6)
        return;
    count = r->args[pp->size_idx];   /* strace's print_array: the register, unsigned */
    if (count >> 60 || raw + count * 16 < raw)
        return;
    v->count = count;
    v->left = -1;
    if (count == 0) {
        v->type = V_IOV;
        v->len = 0;
        return;
    }
    if (pp->special == ST_IOV_OUT) {
        if (!done)
            return;
        v->left = r->ret < 0 ? -2 : r->ret;
    }
    if ((slot = slot_for(r, raw)) < 0)
        return;
    if (pp->special == ST_IOV_ADDR) {   /* decode._iov_addrs: the entries alone, by address */
        len = r->slot_len[slot] < LXB_TRACE_SLOT ? r->slot_len[slot] : LXB_TRACE_SLOT;
        if (len < 16)
            return;
        v->type = V_IOV;
        v->data = (const unsigned char *)r->slot[slot];
        v->len = len;
        v->hexed = 1;
        return;
    }
    d = (const unsigned char *)r->slot[slot];
    len = r->slot_len[slot];
    if (len < 8)
        return;
    if (!iov_fits(d, len, v->left))
        return;
    v->type = V_IOV;
    v->data = d;
    v->len = len;
    v->cut = (r->slot_trunc >> slot) & 1;
}

/* decode.Iovec: text or JSON (json.dumps of trace._jsonable's list) */
static void put_iov(struct lxb_sink *s, const struct val *v, int json)
{
    uint64_t n = v->len ? le(v->data, 4) : 0, bad = v->len ? le(v->data + 4, 4) : 0, k, off = 8;
    uint64_t total = v->left == -1 ? UINT64_MAX : v->left < 0 ? 0 : (uint64_t)v->left;
    if (v->hexed) {   /* ST_IOV_ADDR: a plain copy of the entries, every base an address */
        n = v->len / 16 < v->count ? v->len / 16 : v->count;
        P('[');
        for (k = 0; k < n; k++) {
            uint64_t base = le(v->data + 16 * k, 8);
            if (k)
                put_s(s, ", ");
            put_s(s, json ? "{\"iov_base\": \"" : "{iov_base=");
            if (base)
                put_hex(s, base);
            else
                put_s(s, "NULL");
            put_s(s, json ? "\", \"iov_len\": " : ", iov_len=");
            put_u64(s, le(v->data + 16 * k + 8, 8));
            P('}');
        }
        if (v->count > n)
            put_s(s, n ? (json ? ", \"...\"" : ", ...") : (json ? "\"...\"" : "..."));
        P(']');
        return;
    }
    P('[');
    for (k = 0; k < n; k++) {
        uint64_t base = le(v->data + off, 8), l = le(v->data + off + 8, 8), d, sh;
        d = l < total ? l : total;
        total -= d;
        sh = d < TG_SHOW ? d : TG_SHOW;
        if (k)
            put_s(s, ", ");
        put_s(s, json ? "{\"iov_base\": " : "{iov_base=");
        if (v->left == -2 || !base || ((bad >> k) & 1)) {
            if (json)
                P('"');
            if (base)
                put_hex(s, base);
            else
                put_s(s, "NULL");
            if (json)
                P('"');
        } else if (json) {
            put_json_str(s, v->data + off + 16, (size_t)sh, 1, 0);
        } else {
            put_quote(s, v->data + off + 16, (size_t)sh, 0, 0);
            if (d > TG_SHOW)
                put_s(s, "...");
        }
        put_s(s, json ? ", \"iov_len\": " : ", iov_len=");
        put_u64(s, l);
        P('}');
        off += 16 + sh;
    }
    if (v->count > n) {
        if (n)
            put_s(s, ", ");
        if (json) {
            put_s(s, "\"...\"");
        } else {
            put_s(s, "...");
            if (!v->cut && n < LXB_IOV_MAX) {   /* an entry that could not be read: its address */
                put_s(s, " /* ");
                put_hex(s, (uint64_t)v->i + 16 * n);
                put_s(s, " */");
            }
        }
    }
    P(']');
}

/* ---- select, pselect6: trace.c copy_select's packing (decode.select_packed) ---- */

#define SEL_TV_IN (1u << 6)
#define SEL_TV_OUT (1u << 7)
#define SEL_PACK (1u << 8)
#define SEL_SIGSET (1u << 9)
#define SEL_EXIT (1u << 10)

struct sel {
    const unsigned char *d;
    uint32_t flags;
    uint64_t per, nfds;
    int n, index[3];             /* the sets given; index[k]: set k's place among them, -1: NULL */
};

/* the call's copy (decode._select_arg): 0 when there is none, or it is shorter than its header says */
static int sel_copy(const struct lxb_trace_rec *r, struct sel *q)
{
    int64_t nfds = (int32_t)r->args[0];
    uint64_t len = r->slot_len[0] < LXB_TRACE_SLOTS * LXB_TRACE_SLOT ? r->slot_len[0] : LXB_TRACE_SLOTS * LXB_TRACE_SLOT;
    int k;
    if (r->slot_arg[0] != 0 || len < 8)
        return 0;
    q->d = (const unsigned char *)r->slot[0];
    q->flags = (uint32_t)le(q->d, 4);
    q->per = le(q->d + 4, 4);
    for (k = 0, q->n = 0; k < 3; k++)
        q->index[k] = r->args[1 + k] ? q->n++ : -1;
    if (len < LXB_SELECT_HEAD + 2 * (uint64_t)q->n * q->per)
        return 0;
    q->nfds = nfds < 0 ? 0 : nfds > (1 << 20) ? (1 << 20) : (uint64_t)nfds;
    return 1;
}

/* an argument of select/pselect6 (decode._select_arg): an fd_set [3 5] (JSON {"fds": [3, 5], "ready":
   [5]}), the timeout at entry, pselect6's {sigmask=[USR1], sigsetsize=8}; else its address */
static void select_val(const struct tg_param *pp, int i, const struct lxb_trace_rec *r, struct val *v, int json)
{
    struct tbuf b = {v->text, 0, sizeof v->text};
    const char *sub = r->nr == 23 ? "tv_usec" : "tv_nsec";   /* select (23): a timeval; pselect6 a timespec */
    struct sel q;

    if (!sel_copy(r, &q))
        return;
    v->text[0] = 0;
    if (pp->target == T_FDSET) {
        int k = i - 1;
        if (k < 0 || k > 2 || q.index[k] < 0 || !q.nfds || !((q.flags >> k) & 1))
            return;
        v->type = V_FDSET;   /* thousands of fds: written to the sink, not v->text (put_fdset) */
        v->data = q.d + LXB_SELECT_HEAD + (uint64_t)q.index[k] * q.per;
        v->count = q.nfds < q.per * 8 ? q.nfds : q.per * 8;
        v->cut = q.per * 8 < q.nfds;   /* the copy ends before nfds */
        v->ready = (q.flags & SEL_EXIT) && ((q.flags >> (3 + k)) & 1) ? v->data + (uint64_t)q.n * q.per : NULL;
        return;
    }
    if (pp->target == T_SELECT_TV) {
        if (!(q.flags & SEL_TV_IN))
            return;
        tb_timepair(&b, q.d + 8, sub, 0);
        v->type = V_TEXT;
        return;
    }
    if (q.flags & SEL_PACK) {   /* T_ARGPACK */
        uint64_t ptr = le(q.d + 40, 8), size = le(q.d + 48, 8);
        tb_s(&b, "{");
        tb_field(&b, "sigmask", 1, json);
        if (size == 8 && ptr && (q.flags & SEL_SIGSET))
            tb_sigset(&b, le(q.d + 56, 8), json);
        else
            tb_addr(&b, ptr, json);
        tb_field(&b, "sigsetsize", 0, json);
        tb_f(&b, "%llu}", (unsigned long long)size);
        v->type = json ? V_JSON : V_TEXT;
    }
}

/* the fds set below `limit` in d, as put_fdset writes them */
static void put_fd_bits(struct lxb_sink *s, const unsigned char *d, uint64_t limit, const char *sep, int cut,
                        const char *dots)
{
    uint64_t j;
    int n = 0;
    for (j = 0; j < limit; j++) {
        if (!((d[j >> 3] >> (j & 7)) & 1))
            continue;
        if (n++)
            put_s(s, sep);
        put_u64(s, j);
    }
    if (cut) {
        if (n)
            put_s(s, sep);
        put_s(s, dots);
    }
}

/* decode.FdSet: [3 5 ...], or in JSON {"fds": [3, 5, "..."], "ready": [5]} */
static void put_fdset(struct lxb_sink *s, const struct val *v, int json)
{
    if (!json) {
        P('[');
        put_fd_bits(s, v->data, v->count, " ", v->cut, "...");
        P(']');
        return;
    }
    put_s(s, "{\"fds\": [");
    put_fd_bits(s, v->data, v->count, ", ", v->cut, "\"...\"");
    P(']');
    if (v->ready) {
        put_s(s, ", \"ready\": [");
        put_fd_bits(s, v->ready, v->count, ", ", 0, "");
        P(']');
    }
    P('}');
}

/* decode._left_text: a timeout after the call, from its copy at d (16 bytes), else its address */
static void tb_left(struct tbuf *b, const unsigned char *d, uint64_t addr, const char *sub)
{
    if (d)
        tb_timepair(b, d, sub, 0);
    else
        tb_f(b, "0x%llx", (unsigned long long)addr);
}

/* decode._select_note: strace's decode_select at exit, with its 1024-byte buffer's limits */
static void put_select_note(struct lxb_sink *s, const struct lxb_trace_rec *r)
{
    static const char *const words[3] = {"in", "out", "except"};
    char out[1100], left[200];
    struct tbuf b = {out, 0, sizeof out}, lb = {left, 0, sizeof left};
    const char *sep = "";
    int64_t ready = r->ret;
    struct sel q;
    int have = sel_copy(r, &q), k;

    out[0] = left[0] = 0;
    for (k = 0; k < 3 && ready > 0 && have; k++) {
        const unsigned char *d;
        uint64_t j, limit = q.nfds < q.per * 8 ? q.nfds : q.per * 8;
        int first = 1;
        if (!r->args[1 + k] || !q.nfds || !((q.flags >> k) & 1) || !(q.flags & SEL_EXIT) ||
            !((q.flags >> (3 + k)) & 1))
            continue;
        d = q.d + LXB_SELECT_HEAD + ((uint64_t)q.n + (uint64_t)q.index[k]) * q.per;
        for (j = 0; j < limit; j++) {
            if (!((d[j >> 3] >> (j & 7)) & 1))
                continue;
            if (b.n < 1024 - 25) {
                if (first) {
                    tb_f(&b, "%s%s [%llu", sep, words[k], (unsigned long long)j);
                    first = 0;
                    sep = ", ";
                } else {
                    tb_f(&b, " %llu", (unsigned long long)j);
                }
            }
            if (--ready == 0)
                break;
        }
        if (b.n)
            tb_s(&b, "]");
    }
    if (r->args[4]) {
        int got = have && (q.flags & SEL_TV_IN) && (q.flags & SEL_EXIT) && (q.flags & SEL_TV_OUT);
        tb_left(&lb, got ? q.d + 24 : NULL, r->args[4], r->nr == 23 ? "tv_usec" : "tv_nsec");
        if (b.n + 6 + strlen(sep) + lb.n < 1024)
            tb_f(&b, "%sleft %s", sep, left);
    }
    put_s(s, " (");
    put_s(s, out);
    P(')');
}

/* decode.msghdr's checks of a packed msghdr of a call that did not fail */
static int msghdr_ok(const unsigned char *d, size_t len)
{
    return len >= LXB_MSGHDR_HEAD + 56 && LXB_MSGHDR_HEAD + 56 + le(d + 4, 2) + le(d + 6, 2) + 8 <= len;
}

/* decode._msghdr_arg: a struct msghdr from its packed copy (trace.c
   copy_msghdr) as V_MSGHDR, else its address (decode.msghdr raises) */
static void msghdr_val(const struct tg_param *pp, const struct lxb_trace_rec *r, uint64_t raw, int done, struct val *v)
{
    const unsigned char *d;
    size_t len;
    int slot;

    v->left = -1;
    if (pp->target == T_MSGHDR_OUT) {
        if (!done)
            return;
        v->left = r->ret < 0 ? -2 : r->ret;
    }
    if ((slot = slot_for(r, raw)) < 0)
        return;
    d = (const unsigned char *)r->slot[slot];
    len = r->slot_len[slot];
    if (len < LXB_MSGHDR_HEAD)
        return;
    if (v->left == -2) {
        if (!(d[8] & LXB_MSGF_ENTRY))
            return;
    } else if (!msghdr_ok(d, len)) {
        return;
    }
    v->type = V_MSGHDR;
    v->data = d;
    v->len = len;
    v->cut = (r->slot_trunc >> slot) & 1;
}

/* a tbuf's text as a value: bare, or a JSON string */
static void put_tb(struct lxb_sink *s, const struct tbuf *b, int json)
{
    if (json)
        put_json_str(s, (const unsigned char *)b->p, b->n, 1, 0);
    else
        put_mem(s, b->p, b->n);
}

static void put_field(struct lxb_sink *s, const char *name, int first, int json)
{
    if (!first)
        put_s(s, ", ");
    if (json) {
        P('"');
        put_s(s, name);
        put_s(s, "\": ");
    } else {
        put_s(s, name);
        P('=');
    }
}

static void put_addr(struct lxb_sink *s, uint64_t a, int json)
{
    if (json)
        P('"');
    if (a)
        put_hex(s, a);
    else
        put_s(s, "NULL");
    if (json)
        P('"');
}

/* decode._cmsgs: msg_control's cmsghdrs over the n bytes copied at d */
static void put_cmsgs(struct lxb_sink *s, const unsigned char *d, size_t n, uint64_t addr, int more, int json)
{
    uint64_t left = n, off = 0;
    char tmp[160];
    int first = 1;

    P('[');
    while (left >= 16) {
        uint64_t clen = le(d + off, 8), m = clen < left ? clen : left, step;
        int32_t level = (int32_t)le(d + off + 8, 4), type = (int32_t)le(d + off + 12, 4);
        const unsigned char *body = d + off + 16;
        uint64_t blen = m > 16 ? m - 16 : 0, k;
        struct tbuf b = {tmp, 0, sizeof tmp};

        if (!first)
            put_s(s, ", ");
        first = 0;
        P('{');
        put_field(s, "cmsg_len", 1, json);
        put_u64(s, clen);
        put_field(s, "cmsg_level", 0, json);
        tmp[0] = 0;
        tb_kind(&b, TG_KIND_SOL_LEVEL, (uint32_t)level, json);
        put_mem(s, tmp, b.n);
        put_field(s, "cmsg_type", 0, json);
        b.n = 0;
        tmp[0] = 0;
        if (level == 1 || level == 0) {
            tb_kind(&b, level == 1 ? TG_KIND_SCM_TYPE : TG_KIND_IP_CMSG_TYPE, (uint32_t)type, json);
            put_mem(s, tmp, b.n);
        } else {
            tb_hex0(&b, (uint32_t)type);
            put_tb(s, &b, json);
        }
        if (level == 1 && type == 1 && blen >= 4) {            /* SCM_RIGHTS: the fds */
            put_field(s, "cmsg_data", 0, json);
            P('[');
            for (k = 0; k < blen / 4; k++) {
                if (k)
                    put_s(s, ", ");
                if (k >= TG_SHOW) {
                    put_s(s, json ? "\"...\"" : "...");
                    break;
                }
                put_i64(s, (int32_t)le(body + 4 * k, 4));
            }
            P(']');
        } else if (level == 1 && type == 2 && blen >= 12) {    /* SCM_CREDENTIALS */
            uint32_t uid = (uint32_t)le(body + 4, 4), gid = (uint32_t)le(body + 8, 4);
            put_field(s, "cmsg_data", 0, json);
            P('{');
            put_field(s, "pid", 1, json);
            put_i64(s, (int32_t)le(body, 4));
            put_field(s, "uid", 0, json);
            put_i64(s, uid == 0xffffffffu ? -1 : (int64_t)uid);
            put_field(s, "gid", 0, json);
            put_i64(s, gid == 0xffffffffu ? -1 : (int64_t)gid);
            P('}');
        } else if (level == 1 && (type == 29 || type == 63 || type == 35 || type == 64) && blen >= 16) {
            /* SO_TIMESTAMP_OLD, _NEW: a timeval; SO_TIMESTAMPNS_OLD, _NEW: a timespec */
            put_field(s, "cmsg_data", 0, json);
            P('{');
            put_field(s, "tv_sec", 1, json);
            put_i64(s, (int64_t)le(body, 8));
            put_field(s, type == 29 || type == 63 ? "tv_usec" : "tv_nsec", 0, json);
            put_u64(s, le(body + 8, 8));
            P('}');
        } else if (level == 1 && (type == 37 || type == 65) && blen >= 48) {   /* SO_TIMESTAMPING: three */
            put_field(s, "cmsg_data", 0, json);
            P('[');
            for (k = 0; k < 3; k++) {
                if (k)
                    put_s(s, ", ");
                P('{');
                put_field(s, "tv_sec", 1, json);
                put_i64(s, (int64_t)le(body + 16 * k, 8));
                put_field(s, "tv_nsec", 0, json);
                put_u64(s, le(body + 16 * k + 8, 8));
                P('}');
            }
            P(']');
        } else if (level == 0 && (type == 1 || type == 6 || type == 7) && blen >= 1) {
            /* IP_TOS, IP_RECVOPTS, IP_RETOPTS: bytes in hex */
            put_field(s, "cmsg_data", 0, json);
            P('[');
            for (k = 0; k < blen; k++) {
                if (k)
                    put_s(s, ", ");
                if (k >= TG_SHOW) {
                    put_s(s, json ? "\"...\"" : "...");
                    break;
                }
                if (json)
                    P('"');
                if (body[k])
                    put_hex(s, body[k]);
                else
                    P('0');
                if (json)
                    P('"');
            }
            P(']');
        } else if (level == 0 && (type == 2 || type == 23) && blen >= 4) {   /* IP_TTL, IP_CHECKSUM */
            put_field(s, "cmsg_data", 0, json);
            P('[');
            for (k = 0; k < blen / 4; k++) {
                if (k)
                    put_s(s, ", ");
                put_u64(s, le(body + 4 * k, 4));
            }
            P(']');
        }
        P('}');
        if (m < 16) {
            left -= 16;
            break;
        }
        step = (clen + 7) & ~7ull;
        if (step >= left) {
            left = 0;
            break;
        }
        off += step;
        left -= step;
    }
    if (left || more) {
        if (!first)
            put_s(s, ", ");
        if (json) {
            put_s(s, "\"...\"");
        } else {
            put_s(s, "...");
            if (left) {
                put_s(s, " /* ");
                put_hex(s, addr + (n - left));
                put_s(s, " */");
            }
        }
    }
    P(']');
}

/* decode.Msghdr (decode.msghdr): text, or JSON (trace._jsonable's dict) */
static void put_msghdr(struct lxb_sink *s, const struct val *v, int json)
{
    const unsigned char *d = v->data, *m = d + LXB_MSGHDR_HEAD;
    uint64_t name, iov, iovlen, control, controllen;
    int32_t entry = (int32_t)le(d, 4), namelen, got;
    size_t nlen = le(d + 4, 2), clen = le(d + 6, 2), off = LXB_MSGHDR_HEAD + 56;
    unsigned bits = d[8];
    char tmp[512];
    struct tbuf b = {tmp, 0, sizeof tmp};

    P('{');
    if (v->left == -2) {   /* recvmsg failed: the caller's msg_namelen */
        put_field(s, "msg_namelen", 1, json);
        put_i64(s, entry);
        P('}');
        return;
    }
    name = le(m, 8);
    namelen = (int32_t)le(m + 8, 4);
    iov = le(m + 16, 8);
    iovlen = le(m + 24, 8);
    control = le(m + 32, 8);
    controllen = le(m + 40, 8);
    got = v->left != -1 && namelen > entry ? entry : namelen;
    put_field(s, "msg_name", 1, json);
    tmp[0] = 0;
    if (name && got >= 2 && !(bits & LXB_MSGF_NAME_BAD) && struct_text(T_SOCKADDR, d + off, nlen, &b))
        put_tb(s, &b, json);
    else
        put_addr(s, name, json);
    put_field(s, "msg_namelen", 0, json);
    if (v->left != -1 && entry != namelen && !json) {
        put_i64(s, entry);
        put_s(s, " => ");
    }
    put_i64(s, namelen);
    off += nlen;
    put_field(s, "msg_iov", 0, json);
    if (!iov) {
        put_addr(s, 0, json);
    } else if (!iovlen) {
        put_s(s, "[]");
    } else if (iovlen >> 60 || iov + iovlen * 16 < iov || iov + iovlen * 16 == 0 ||
               le(d + off + clen, 4) == 0 || !iov_fits(d + off + clen, v->len - off - clen, v->left)) {
        put_addr(s, iov, json);
    } else {
        struct val iv;
        memset(&iv, 0, sizeof iv);
        iv.type = V_IOV;
        iv.data = d + off + clen;
        iv.len = v->len - off - clen;
        iv.count = iovlen;
        iv.left = v->left;
        iv.cut = v->cut;
        iv.i = (int64_t)iov;
        put_iov(s, &iv, json);
    }
    put_field(s, "msg_iovlen", 0, json);
    put_u64(s, iovlen);
    if (controllen) {
        put_field(s, "msg_control", 0, json);
        if (controllen < 16 || (bits & LXB_MSGF_CONTROL_BAD))
            put_addr(s, control, json);
        else
            put_cmsgs(s, d + off, clen, control, (bits & LXB_MSGF_CONTROL_CUT) != 0, json);
    }
    put_field(s, "msg_controllen", 0, json);
    put_u64(s, controllen);
    put_field(s, "msg_flags", 0, json);
    b.n = 0;
    tmp[0] = 0;
    tb_kind(&b, TG_KIND_MSG_FLAGS, (uint32_t)le(m + 48, 4), json);
    put_mem(s, tmp, b.n);
    P('}');
}

/* decode._mmsghdr_arg and decode.mmsgs: a struct mmsghdr[] from its packed
   copy (trace.c copy_mmsghdr) as V_MMSG, [] for none, else its address */
static void mmsg_val(const struct tg_sc *sc, const struct tg_param *pp, const struct lxb_trace_rec *r, uint64_t raw,
                     int done, struct val *v)
{
    const unsigned char *d;
    uint64_t n, k, off;
    size_t len;
    int slot, recv = pp->target == T_MMSGHDR_RECV;

    (void)sc;
    if (!done || pp->size_idx >= 6)
        return;
    if (recv) {
        if (r->ret < 0)
            return;
        v->count = v->sent = (uint64_t)r->ret;
    } else {
        v->count = (uint32_t)r->args[pp->size_idx];   /* strace: vlen as an unsigned int */
        v->sent = r->ret < 0 ? 0 : (uint64_t)r->ret;
    }
    v->pair[0] = recv;
    if (v->count == 0) {
        v->type = V_MMSG;
        v->len = 0;
        return;
    }
    if ((slot = slot_for(r, raw)) < 0)
        return;
    d = (const unsigned char *)r->slot[slot];
    len = r->slot_len[slot];
    off = 8 + (recv ? LXB_MMSG_TS : 0);
    if (len < off)
        return;
    n = le(d, 4);
    for (k = 0; k < n; k++) {   /* every entry within the copy, as decode.mmsgs checks */
        uint64_t size;
        if (off + 8 > len)
            return;
        size = le(d + off + 4, 4);
        if (off + 8 + size > len || size < LXB_MSGHDR_HEAD || !msghdr_ok(d + off + 8, (size_t)size))
            return;
        off += 8 + size;
    }
    if (v->count > n && !n && (le(d + 4, 4) & LXB_MMSGF_FAULT))
        return;
    v->type = V_MMSG;
    v->data = d;
    v->len = len;
}

/* decode.Mmsgs: text or JSON */
static void put_mmsgs(struct lxb_sink *s, const struct val *v, int json)
{
    uint64_t n = v->len ? le(v->data, 4) : 0, bits = v->len ? le(v->data + 4, 4) : 0, k;
    uint64_t off = 8 + (v->pair[0] ? LXB_MMSG_TS : 0);
    P('[');
    for (k = 0; k < n; k++) {
        uint64_t msg_len = le(v->data + off, 4), size = le(v->data + off + 4, 4);
        struct val m;
        memset(&m, 0, sizeof m);
        m.data = v->data + off + 8;
        m.len = (size_t)size;
        m.left = v->pair[0] ? (int64_t)msg_len : -1;
        m.cut = (m.data[8] & LXB_MSGF_IOV_CUT) != 0;
        if (k)
            put_s(s, ", ");
        P('{');
        put_s(s, json ? "\"msg_hdr\": " : "msg_hdr=");
        put_msghdr(s, &m, json);
        if (k < v->sent) {
            put_s(s, json ? ", \"msg_len\": " : ", msg_len=");
            put_u64(s, msg_len);
        }
        P('}');
        off += 8 + size;
    }
    if (v->count > n) {
        if (n)
            put_s(s, ", ");
        if (json) {
            put_s(s, "\"...\"");
        } else {
            put_s(s, "...");
            if (bits & LXB_MMSGF_FAULT) {
                put_s(s, " /* ");
                put_hex(s, (uint64_t)v->i + 64 * n);
                put_s(s, " */");
            }
        }
    }
    P(']');
}

/* the packing of a call's recvmmsg msgvec (decode.held_timeout's data), its timeout block
   read at entry, or NULL; *q: the timeout argument */
static const unsigned char *held_ts(const struct tg_sc *sc, const struct lxb_trace_rec *r, int *q)
{
    const unsigned char *d;
    int j, slot = -1;

    *q = -1;
    for (j = 0; j < sc->nparams && j < 6; j++) {
        if (sc->p[j].target == T_MMSGHDR_RECV && r->args[j])
            slot = slot_for(r, r->args[j]);
        if (sc->p[j].target == T_MMSG_TIMEOUT)
            *q = j;
    }
    if (slot < 0 || *q < 0 || r->slot_len[slot] < 8 + LXB_MMSG_TS)
        return NULL;
    d = (const unsigned char *)r->slot[slot];
    return (le(d + 8, 4) & LXB_MMSGT_ENTRY) ? d : NULL;
}

/* decode.args for argument i of a record */
static void arg_val(const struct tg_sc *sc, int i, const struct lxb_trace_rec *r, int done, struct val *v, int json)
{
    const struct tg_param *pp = &sc->p[i];
    uint64_t raw = r->args[i];
    int k;

    v->cut = 0;
    v->hexed = 0;
    v->unk = NULL;
    if (pp->cls == C_REG) {
        const struct tg_param *sp = switched(sc, pp, r->args);
        if (sp->cls == C_ADDR)   /* a pointer a Switch picks (decode.POINTED): prctl's name, ioctl's int */
            pointed_val(sp, r, raw, done, v, json);
        else
            reg_val(sp, raw, v);
        return;
    }
    v->type = V_ADDR;
    v->i = (int64_t)raw;
    if (raw == 0)
        return;
    if (pp->cls == C_ADDR) {
        if (pp->special == A_PTR || (k = slot_for(r, raw)) < 0)
            return;
        v->type = pp->special == A_PATH ? V_PATH : V_STR;
        v->data = (const unsigned char *)r->slot[k];
        v->len = r->slot_len[k];
        v->cut = (r->slot_trunc >> k) & 1;
        return;
    }
    /* a pointer: read when it is in, or out once the call returned */
    if (!(pp->dir == D_IN || pp->dir == D_INOUT || (done && pp->dir == D_OUT)))
        return;
    if (pp->target == T_DIRENTS) {   /* decode.dirents: the address and its entries, as the tracer counted them */
        uint64_t left = 0, count = 0;
        struct tbuf b = {v->text, 0, sizeof v->text};
        if (!done || r->ret < 0 || pp->size_idx >= 6 ||
            (uint64_t)r->ret > (uint64_t)as_int(r->args[pp->size_idx], sc->p[pp->size_idx].bits, sc->p[pp->size_idx].sgn))
            return;
        if (r->ret > 0) {   /* LXB_COPY_DIRENTS: u32 records, u32 bytes not walked (trace._Copies.read_dirents) */
            if ((k = slot_for(r, raw)) < 0 || r->slot_len[k] < 8)
                return;
            count = le((const unsigned char *)r->slot[k], 4);
            left = le((const unsigned char *)r->slot[k] + 4, 4);
        }
        v->text[0] = 0;
        if (json) {
            tb_f(&b, "{\"addr\": \"0x%llx\", \"entries\": %llu%s}", (unsigned long long)raw,
                 (unsigned long long)count, left ? ", \"more\": true" : "");
            v->type = V_JSON;
        } else {
            tb_f(&b, "0x%llx /* %llu%s entries */", (unsigned long long)raw, (unsigned long long)count,
                 left ? "+" : "");
            v->type = V_TEXT;
        }
        return;
    }
    if (pp->target == T_BYTES && pp->dir == D_OUT && r->ret == 0 && pp->size_idx < 6) {   /* read's 0 bytes: "" */
        v->type = V_BYTES;
        v->data = (const unsigned char *)"";
        v->len = 0;
        v->hexed = pp->special == ST_HEX;
        return;
    }
    if (pp->target == T_IOVEC) {
        iov_val(sc, pp, r, raw, done, v);
        return;
    }
    if (pp->target == T_FDSET || pp->target == T_SELECT_TV || pp->target == T_ARGPACK) {
        select_val(pp, i, r, v, json);
        return;
    }
    if (pp->target == T_OFF64) {   /* decode._offset: [1], sendfile's [0] => [3]; JSON the number (after) */
        struct tbuf b = {v->text, 0, sizeof v->text};
        uint64_t before, after;
        int moved;
        if ((k = slot_for(r, raw)) < 0 || r->slot_len[k] < 8)
            return;
        before = le((const unsigned char *)r->slot[k], 8);
        moved = pp->special == ST_OFF_CHANGE && done && r->ret > 0 && r->slot_len[k] >= 16;
        after = moved ? le((const unsigned char *)r->slot[k] + 8, 8) : before;
        v->i = (int64_t)after;
        v->type = pp->special == ST_OFF_IN ? V_INT : V_UINT;
        if (json)
            return;
        v->text[0] = 0;
        if (pp->special == ST_OFF_IN)
            tb_f(&b, "[%lld]", (long long)before);
        else if (moved)
            tb_f(&b, "[%llu] => [%llu]", (unsigned long long)before, (unsigned long long)after);
        else
            tb_f(&b, "[%llu]", (unsigned long long)before);
        v->type = V_TEXT;
        return;
    }
    if (pp->special == ST_SIGSET_SIZED && (i + 1 >= sc->nparams || r->args[i + 1] != 8))
        return;   /* ppoll's sigmask: strace's print_sigset_addr_len, the address unless sigsetsize is 8 */
    if ((pp->special == ST_ERESTART || pp->special == ST_ERESTART_ABS) &&
        !(done && (r->ret == -512 || r->ret == -513 || r->ret == -514 || r->ret == -516) &&
          !(pp->special == ST_ERESTART_ABS && (r->args[1] & 1))))
        return;   /* nanosleep's rem: only when a signal interrupted it (TIMER_ABSTIME: never) */
    if (pp->target == T_MSGHDR || pp->target == T_MSGHDR_OUT) {
        msghdr_val(pp, r, raw, done, v);
        return;
    }
    if (pp->target == T_MMSGHDR || pp->target == T_MMSGHDR_RECV) {
        mmsg_val(sc, pp, r, raw, done, v);
        return;
    }
    if (pp->target == T_MMSG_TIMEOUT) {   /* decode.held_timeout: the timeout at entry */
        const unsigned char *d;
        struct tbuf b = {v->text, 0, sizeof v->text};
        int q;
        if ((d = held_ts(sc, r, &q)) == NULL)
            return;
        v->text[0] = 0;
        if (struct_text(T_TIMESPEC, d + 16, 16, &b))
            v->type = V_TEXT;
        return;
    }
    if (pp->special == ST_CLONE_ARGS) {   /* decode._clone_args */
        clone_args_val(r, raw, done, v, json);
        return;
    }
    if (pp->target == T_BYTES && pp->special == ST_SOCKOPT) {   /* decode._sockopt_arg */
        sockopt_val(sc, pp, r, raw, done, v, json);
        return;
    }
    if (pp->target == T_GIDS && gids_count(sc, pp, r) == 0) {   /* strace's print_array of none */
        v->text[0] = 0;
        strcpy(v->text, "[]");
        v->type = json ? V_JSON : V_TEXT;
        return;
    }
    if (pp->target == T_BYTES && pp->special == ST_CPUSET) {   /* decode._cpuset: strace's print_affinitylist */
        cpuset_val(sc, pp, r, raw, v, json);
        return;
    }
    if (pp->target == T_OTHER || (k = slot_for(r, raw)) < 0)
        return;
    {
        const unsigned char *d = (const unsigned char *)r->slot[k];
        size_t n = r->slot_len[k];
        switch (pp->target) {
        case T_BYTES: {
            int64_t want;
            if (pp->special == ST_CSTR) {   /* up to its NUL, as a path */
                const unsigned char *z = memchr(d, 0, n);
                v->type = V_PATH;
                v->data = d;
                v->len = z ? (size_t)(z - d) : n;
                return;
            }
            if (pp->size_idx >= 6)
                return;
            want = as_int(r->args[pp->size_idx], sc->p[pp->size_idx].bits, sc->p[pp->size_idx].sgn);
            if (sc->p[pp->size_idx].bits == 64 && !sc->p[pp->size_idx].sgn)
                want = (uint64_t)want > TG_SHOW + 1 ? TG_SHOW + 1 : want;
            if (want < 0)
                return;
            if (want > TG_SHOW + 1)
                want = TG_SHOW + 1;
            v->type = V_BYTES;
            v->data = d;
            v->len = n < (size_t)want ? n : (size_t)want;
            v->hexed = pp->special == ST_HEX;
            return;
        }
        case T_STRV:
            v->type = V_STRV;
            v->data = d;
            v->len = n;
            v->cut = (r->slot_trunc >> k) & 1;
            v->hexed = pp->special == ST_ENV_COUNT && !v->cut;   /* decode.EnvList: its address and count */
            return;
        case T_INT2:
            if (n < 8)
                return;
            v->type = V_INT2;
            v->pair[0] = (int32_t)le(d, 4);
            v->pair[1] = (int32_t)le(d + 4, 4);
            return;
        case T_INT1: {   /* an int pointed to: a wait status, [1234], [128 => 16] (decode.WaitStatus, IntRef,
                            IntChange) */
            struct tbuf b = {v->text, 0, sizeof v->text};
            int k0 = slot_first(r, raw);   /* an inout one copied at entry too */
            int32_t before;
            if (n < 4 || (pp->special == ST_WAIT_STATUS && r->ret <= 0))   /* no child reaped, or failed */
                return;
            if (pp->dir == D_INOUT && k0 != k && r->slot_len[k0] < 4)
                return;                    /* decode._inout_int: a short copy, the address */
            v->i = (int32_t)le(d, 4);
            if (pp->dir == D_INOUT && n >= 8)   /* LXB_COPY_INT_INOUT: after the call, then before (trace._Copies) */
                before = (int32_t)le(d + 4, 4);
            else
                before = (pp->dir == D_INOUT && k0 != k) ? (int32_t)le((const unsigned char *)r->slot[k0], 4)
                                                          : (int32_t)v->i;
            v->text[0] = 0;
            if (json) {      /* the number (after the call) */
                v->type = V_INT;
                return;
            }
            if (pp->special == ST_WAIT_STATUS)
                wait_status(&b, (uint32_t)v->i);
            else if (before != (int32_t)v->i)
                tb_f(&b, "[%d => %d]", (int)before, (int)v->i);
            else
                tb_f(&b, "[%d]", (int)v->i);
            v->type = V_TEXT;
            return;
        }
        case T_SIGSET:
        case T_SIGACTION:
        case T_RLIMIT:
        case T_EPOLL_EVENT:
        case T_EPOLL_EVENTS:
        case T_STACK_T:
        case T_RUSAGE:
        case T_STATFS:
        case T_SYSINFO:
        case T_ITIMERVAL:
        case T_ITIMERSPEC:
        case T_SIGINFO:
        case T_SIGEVENT:
        case T_TIMESPEC2:
        case T_TIMEVAL2:
        case T_TMS:
        case T_GIDS:
        case T_POLLFD: {
            struct tbuf b = {v->text, 0, sizeof v->text};
            uint64_t count = 0;
            v->text[0] = 0;
            if (pp->special == ST_EPOLL_CTL_EVENT && (uint32_t)r->args[1] == 2)
                return;   /* EPOLL_CTL_DEL: strace prints the address */
            if (pp->target == T_EPOLL_EVENTS) {   /* as many as the call returned; failed: the address */
                if (pp->size_idx >= 6 || pp->dir != D_OUT || r->ret < 0)
                    return;
                count = (uint64_t)r->ret;
            } else if (pp->target == T_GIDS) {   /* gids_count: getgroups' result, setgroups' size */
                int64_t c = gids_count(sc, pp, r);
                if (c <= 0)
                    return;
                count = (uint64_t)c;
            } else if (pp->target == T_POLLFD) {   /* decode.args: sized by its count argument */
                int64_t c;
                if (pp->size_idx >= 6)
                    return;
                c = as_int(r->args[pp->size_idx], sc->p[pp->size_idx].bits, sc->p[pp->size_idx].sgn);
                if (c < 0)
                    return;
                count = (uint64_t)c;
            }
            if (pp->special == ST_SIGFRAME) {   /* rt_sigreturn({mask=[]}) */
                tb_s(&b, "{");
                tb_field(&b, "mask", 1, json);
                if (!struct_fields(pp->target, d, n, count, &b, json)) {
                    v->text[0] = 0;
                    return;
                }
                tb_s(&b, "}");
                v->type = json ? V_JSON : V_TEXT;
                return;
            }
            if (struct_fields(pp->target, d, n, count, &b, json))
                v->type = json ? V_JSON : V_TEXT;
            return;
        }
        default: {
            struct tbuf b = {v->text, 0, sizeof v->text};
            v->text[0] = 0;
            if (pp->target == T_SOCKADDR && pp->dir == D_OUT) {   /* decode._sockaddr_bytes: its length after */
                int q, k2;
                for (q = 0; q < sc->nparams; q++) {
                    if (sc->p[q].target != T_INT1 || sc->p[q].dir != D_INOUT)
                        continue;
                    if (r->args[q] && (k2 = slot_for(r, r->args[q])) >= 0 && r->slot_len[k2] >= 4) {
                        int32_t len = (int32_t)le((const unsigned char *)r->slot[k2], 4);
                        if (len >= 0 && (size_t)len < n)
                            n = (size_t)len;
                    }
                    break;
                }
            }
            if (struct_text(pp->target, d, n, &b))
                v->type = V_TEXT;
            return;
        }
        }
    }
}

static void put_val_text(struct lxb_sink *s, const struct val *v)
{
    switch (v->type) {
    case V_INT:
    case V_UINT:
        if (v->unk) {   /* decode.Unknown */
            if (v->i)
                put_hex(s, (uint64_t)v->i & (v->unk_bits < 64 ? (1ull << v->unk_bits) - 1 : ~0ull));
            else
                P('0');
            put_s(s, " /* ");
            put_s(s, v->unk);
            put_s(s, " */");
        } else if (v->type == V_INT) {
            put_i64(s, v->i);
        } else {
            put_u64(s, (uint64_t)v->i);
        }
        return;
    case V_TEXT: put_s(s, v->text); return;
    case V_ADDR:
        if (v->i == 0)
            put_s(s, "NULL");
        else
            put_hex(s, (uint64_t)v->i);
        return;
    case V_PATH: put_path(s, v->data, v->len, v->cut); return;
    case V_IOV: put_iov(s, v, 0); return;
    case V_FDSET: put_fdset(s, v, 0); return;
    case V_MSGHDR: put_msghdr(s, v, 0); return;
    case V_MMSG: put_mmsgs(s, v, 0); return;
    case V_STR: put_quote(s, v->data, v->len, v->cut, 0); return;
    case V_BYTES: put_quote(s, v->data, v->len, 0, v->hexed); return;
    case V_JSON: return;   /* arg_val makes it only for JSON lines */
    case V_INT2:
        P('[');
        put_i64(s, v->pair[0]);
        put_s(s, ", ");
        put_i64(s, v->pair[1]);
        P(']');
        return;
    case V_STRV: {
        size_t i = 0;
        int first = 1;
        if (v->hexed) {   /* decode.EnvList: 0x7ffd... and the count of the strings, as strace's printargc */
            const unsigned char *z;
            uint64_t count = 0;
            for (; i < v->len && (z = memchr(v->data + i, 0, v->len - i)) != NULL; i = (size_t)(z - v->data) + 1)
                count++;
            put_hex(s, (uint64_t)v->i);
            put_s(s, " /* ");
            put_u64(s, count);
            put_s(s, count == 1 ? " var */" : " vars */");
            return;
        }
        P('[');
        while (i < v->len) {
            const unsigned char *z = memchr(v->data + i, 0, v->len - i);
            size_t m;
            if (!z)
                break; /* trace._Copies: split(b"\0")[:-1] drops an unterminated tail */
            m = (size_t)(z - (v->data + i));
            if (!first)
                put_s(s, ", ");
            put_quote(s, v->data + i, m, 0, 0);
            first = 0;
            i += m + 1;
        }
        if (v->cut) {
            if (!first)
                put_s(s, ", ");
            put_s(s, "...");
        }
        P(']');
        return;
    }
    }
}

static void put_val_json(struct lxb_sink *s, const struct val *v)
{
    switch (v->type) {
    case V_INT: put_i64(s, v->i); return;
    case V_UINT: put_u64(s, (uint64_t)v->i); return;
    case V_TEXT: put_json_str(s, (const unsigned char *)v->text, strlen(v->text), 1, 0); return;
    case V_JSON: put_s(s, v->text); return;
    case V_IOV: put_iov(s, v, 1); return;
    case V_FDSET: put_fdset(s, v, 1); return;
    case V_MSGHDR: put_msghdr(s, v, 1); return;
    case V_MMSG: put_mmsgs(s, v, 1); return;
    case V_ADDR:
        P('"');
        if (v->i == 0)
            put_s(s, "NULL");
        else
            put_hex(s, (uint64_t)v->i);
        P('"');
        return;
    case V_PATH:
    case V_STR: put_json_str(s, v->data, v->len, 0, v->cut); return;
    case V_BYTES: put_json_str(s, v->data, v->len, 1, 0); return;
    case V_INT2:
        P('[');
        put_i64(s, v->pair[0]);
        put_s(s, ", ");
        put_i64(s, v->pair[1]);
        P(']');
        return;
    case V_STRV: {
        size_t i = 0;
        int first = 1;
        P('[');
        while (i < v->len) {
            const unsigned char *z = memchr(v->data + i, 0, v->len - i);
            size_t m;
            if (!z)
                break;
            m = (size_t)(z - (v->data + i));
            if (!first)
                put_s(s, ", ");
            put_json_str(s, v->data + i, m, 0, 0);
            first = 0;
            i += m + 1;
        }
        if (v->cut) {
            if (!first)
                put_s(s, ", ");
            put_s(s, "\"...\"");
        }
        P(']');
        return;
    }
    }
}

/* ---- names ---- */

static const char *errno_name(int e, char *tmp, size_t n)
{
    if (e > 0 && e <= TG_ERRMAX && TG_ERRNAME[e])
        return TG_ERRNAME[e];
    if (e >= TG_KERNEL_ERR_FIRST && e <= TG_KERNEL_ERR_LAST)
        return TG_KERNEL_ERR[e - TG_KERNEL_ERR_FIRST];
    snprintf(tmp, n, "%d", e);
    return tmp;
}

/* decode.format_result */
static void put_result(struct lxb_sink *s, int64_t v)
{
    if (v > -4096 && v < 0) {
        int e = (int)-v;
        int known = e <= TG_ERRMAX && TG_ERRNAME[e];
        int kernel = !known && e >= TG_KERNEL_ERR_FIRST && e <= TG_KERNEL_ERR_LAST;
        if (kernel && TG_KERNEL_MSG[e - TG_KERNEL_ERR_FIRST]) {   /* decode.RESTART_MSGS */
            put_s(s, "? ");
            put_s(s, TG_KERNEL_ERR[e - TG_KERNEL_ERR_FIRST]);
            put_s(s, " (");
            put_s(s, TG_KERNEL_MSG[e - TG_KERNEL_ERR_FIRST]);
            P(')');
            return;
        }
        put_s(s, "-1 ");
        if (known)
            put_s(s, TG_ERRNAME[e]);
        else if (kernel)
            put_s(s, TG_KERNEL_ERR[e - TG_KERNEL_ERR_FIRST]);
        else
            put_i64(s, e);
        put_s(s, " (");
        if (known && TG_ERRMSG[e]) {
            put_s(s, TG_ERRMSG[e]);
        } else {
            put_s(s, "Unknown error ");
            put_i64(s, e);
        }
        P(')');
        return;
    }
    if (v >= (int64_t)1 << 32 || v < 0) {
        if (v < 0) {
            put_i64(s, v);
            return;
        }
        put_hex(s, (uint64_t)v);
        return;
    }
    put_i64(s, v);
}

static const char *signame(int sig, char *tmp, size_t n)
{
    if (sig > 0 && sig < TG_NSIG && TG_SIG_PLAIN[sig])
        return TG_SIG_PLAIN[sig];
    snprintf(tmp, n, "%d", sig);
    return tmp;
}

/* ---- statistics and report counts ---- */

/* nr's slot in st[] and ans[] (s->lock held): its own under LXB_NR_MAX,
   else a past slot, taken when `take` and one is free; -1: none */
static int slot_of(struct lxb_sink *s, int nr, int take)
{
    int i;

    if (nr >= 0 && nr < LXB_NR_MAX)
        return nr;
    for (i = 0; i < s->npast; i++)
        if (s->past_nr[i] == nr)
            return LXB_NR_MAX + i;
    if (!take || s->npast >= LXB_TRACE_PAST)
        return -1;
    s->past_nr[s->npast] = nr;
    return LXB_NR_MAX + s->npast++;
}

static void count_stat(struct lxb_sink *s, int nr, uint64_t dur, int err)
{
    int k = slot_of(s, nr, 1), i;
    struct nrstat *st = k < 0 ? NULL : s->st[k];

    if (k < 0)
        s->past_lost++;
    if (k < 0 || (!st && !(st = s->st[k] = calloc(1, sizeof *st))))
        return;
    if (st->calls == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        uint64_t *d = realloc(st->durs, cap * sizeof *d);
        if (!d)
            return;
        st->durs = d;
        st->cap = cap;
    }
    st->durs[st->calls++] = dur;
    st->total += dur;
    if (!err)
        return;
    for (i = 0; i < st->nerr; i++)
        if (st->err[i] == err) {
            st->errn[i]++;
            return;
        }
    if (st->nerr < LXB_TRACE_ERRS) {
        st->err[st->nerr] = err;
        st->errn[st->nerr++] = 1;
    }
}

static void count_answered(struct lxb_sink *s, const struct lxb_trace_rec *r, int err)
{
    int k = slot_of(s, r->nr, 1);
    struct answered *a = k < 0 ? NULL : s->ans[k];
    if (k < 0)
        return;
    if (!a) {
        if (!(a = s->ans[k] = calloc(1, sizeof *a)))
            return;
        a->err = err;
        if (r->flags & LXB_RECF_CMDLINE) {
            a->cmdlen = r->slot_len[2] > LXB_TRACE_SLOT ? LXB_TRACE_SLOT : r->slot_len[2];
            memcpy(a->cmd, r->slot[2], (size_t)a->cmdlen);
        }
    }
    a->count++;
}

/* ---- one record ---- */

static void put_head_json(struct lxb_tracer *t, struct lxb_sink *s, const char *type,
                          const struct lxb_trace_rec *r)
{
    put_s(s, "{\"type\": \"");
    put_s(s, type);
    put_s(s, "\", \"pid\": ");
    put_i64(s, r->pid);
    put_s(s, ", \"tid\": ");
    put_i64(s, r->tid);
    put_s(s, ", \"time\": ");
    put_ns_repr(s, (int64_t)(r->t_entry - t->t0));
}

/* decode.result_of and result_text: the result as strace prints it */
static void put_result_of(struct lxb_sink *s, const struct tg_sc *sc, const struct lxb_trace_rec *r)
{
    const struct tg_result *w;
    const struct tg_res *res = NULL;
    int64_t v = r->ret;
    int i;

    if (!sc || !sc->result || (v < 0 && v > -4096)) {
        put_result(s, v);
        return;
    }
    w = &TG_RESULTS[sc->result - 1];
    if (w->on == 255) {
        res = &w->dflt;
    } else {
        const struct tg_param *on = &sc->p[w->on];
        int64_t sel = as_int(r->args[w->on], on->bits, on->sgn);
        for (i = 0; i < w->ncases; i++)
            if (w->cases[i].value == sel)
                res = &w->cases[i].r;
    }
    if (!res || !res->form) {
        put_result(s, v);
        return;
    }
    if (res->form == RES_OCTAL) {
        char tmp[32];   /* strace's RVAL_OCTAL, %#03o: 000, 022, 0777 */
        snprintf(tmp, sizeof tmp, "%#03llo", (unsigned long long)v);
        put_s(s, tmp);
        return;
    }
    if (res->form == RES_HEX) {   /* an address: brk, mmap */
        if (v)
            put_hex(s, (uint64_t)v);
        else
            P('0');
        return;
    }
    if (res->form == RES_FLAGS0 && v == 0) {
        P('0');
        return;
    }
    if (res->form == RES_NAMED) {   /* the number, then its kind's name: 12 (SIGUSR2) */
        struct val k;
        put_i64(s, v);
        kind_val(&TG_KINDS[res->kind - 1], (uint64_t)v, &k);
        if (k.type == V_TEXT) {
            put_s(s, " (");
            put_s(s, k.text);
            P(')');
        }
        return;
    }
    if (res->form == RES_HEXNAMED) {   /* in hex, then its names: 0x2 (PR_SPEC_ENABLE); 0 alone unless named */
        const struct tg_kind *kd = &TG_KINDS[res->kind - 1];
        struct val k;
        if (v == 0 && strcmp(kd->zero, "0") == 0) {
            P('0');
            return;
        }
        if (v)
            put_hex(s, (uint64_t)v);
        else
            P('0');
        kind_val(kd, (uint64_t)v, &k);
        put_s(s, " (");
        if (k.type == V_TEXT)
            put_s(s, k.text);
        else
            put_i64(s, k.i);
        P(')');
        return;
    }
    {
        struct val k;
        if (v)
            put_hex(s, (uint64_t)v);
        else
            P('0');
        kind_val(&TG_KINDS[res->kind - 1], (uint64_t)v, &k);
        put_s(s, " (flags ");
        if (k.type == V_TEXT)
            put_s(s, k.text);
        else
            put_i64(s, k.i);
        P(')');
    }
}

/* decode.shown: a bitmask of the arguments strace prints of this call */
static int shown_args(const struct tg_sc *sc, const uint64_t *args)
{
    const struct tg_shown *w;
    const struct tg_param *on;
    uint64_t v;
    int i;

    if (!sc->shown)
        return 0x3f;
    w = &TG_SHOWN[sc->shown - 1];
    on = &sc->p[w->on];
    v = (uint64_t)as_int(args[w->on], on->bits, on->sgn) & w->mask;
    for (i = 0; i < w->ncases; i++)
        if (w->cases[i].value == v)
            return w->cases[i].bits;
    return w->dflt;
}

/* decode.result_note: poll's ready fds, or Timeout */
static void put_note(struct lxb_sink *s, const struct tg_sc *sc, const struct lxb_trace_rec *r)
{
    char text[4096];
    struct tbuf b = {text, 0, sizeof text};
    int k;

    if (sc->note == NOTE_MMSG && r->ret >= 0) {   /* recvmmsg: decode.result_note */
        const unsigned char *d;
        int q;
        if (r->ret == 0) {
            put_s(s, " (Timeout)");
            return;
        }
        if ((d = held_ts(sc, r, &q)) == NULL || !r->args[q])
            return;
        put_s(s, " (left ");
        text[0] = 0;
        if (le(d + 8, 4) & LXB_MMSGT_EXIT) {
            struct_text(T_TIMESPEC, d + 32, 16, &b);
            put_s(s, text);
        } else {
            put_hex(s, r->args[q]);
        }
        P(')');
        return;
    }
    if ((sc->note != NOTE_POLL && sc->note != NOTE_SELECT) || r->ret < 0)
        return;
    if (r->ret == 0) {
        put_s(s, " (Timeout)");
        return;
    }
    if (sc->note == NOTE_SELECT) {
        put_select_note(s, r);
        return;
    }
    text[0] = 0;
    if (r->args[0] != 0 && (k = slot_for(r, r->args[0])) >= 0)
        tb_pollfds(&b, (const unsigned char *)r->slot[k], r->slot_len[k], UINT64_MAX, 0, 1);
    if (b.n <= 2) {   /* "[]": no entry with revents */
        b.n = 0;
        text[0] = 0;
    }
    if (sc->nparams > 2 && sc->p[2].special == ST_TIMEOUT_LEFT && r->args[2]) {   /* ppoll: left {...} */
        int kt = slot_for(r, r->args[2]);
        const unsigned char *d = NULL;
        if (kt >= 0 && r->slot_len[kt] >= 32)
            d = (const unsigned char *)r->slot[kt] + 16;
        tb_s(&b, b.n ? ", left " : "left ");
        tb_left(&b, d, r->args[2], "tv_nsec");
    }
    if (b.n) {
        put_s(s, " (");
        put_s(s, text);
        P(')');
    }
}

/* a number the table has no name for, as strace 6.1 names it: syscall_0x1f4 */
static void put_unnamed(struct lxb_sink *s, int32_t nr)
{
    put_s(s, "syscall_");
    put_hex(s, (uint64_t)(int64_t)nr);
}

static void put_syscall(struct lxb_tracer *t, struct lxb_sink *s, const struct lxb_trace_rec *r, int err,
                        uint64_t dur)
{
    const struct tg_sc *sc = (r->nr >= 0 && r->nr < LXB_NR_MAX && TG_SC[r->nr].name) ? &TG_SC[r->nr] : NULL;
    int noresult = r->flags & LXB_RECF_NORESULT, json = t->format == LXB_TRACE_JSON, i, j, n, first, shown;
    const struct tg_named *named;
    char tmp[32];
    struct val v;

    if (json) {
        put_head_json(t, s, "syscall", r);
        put_s(s, ", \"syscall\": \"");
        if (sc)
            put_s(s, sc->name);
        else
            put_unnamed(s, r->nr);
        put_s(s, "\", \"nr\": ");
        put_i64(s, r->nr);
        put_s(s, ", \"args\": {");
    } else {
        put_s(s, "[pid ");
        put_i64(s, r->tid);
        put_s(s, "] ");
        if (sc)
            put_s(s, sc->name);
        else
            put_unnamed(s, r->nr);
        P('(');
    }
    n = sc ? sc->nparams : 6;
    shown = sc ? shown_args(sc, r->args) : 0x3f;
    named = (sc && sc->named) ? &TG_NAMED[sc->named - 1] : NULL;
    if (named)
        n = named->nargs;
    for (j = 0, first = 1; j < n; j++) {
        i = j;
        if (named) {     /* decode.named: in strace's order, as the `on` argument's bits say */
            const struct tg_named_arg *a = &named->args[j];
            if (a->bits && !(r->args[named->on] & a->bits))
                continue;
            i = a->arg;
        } else if (!((shown >> i) & 1)) {
            continue;
        }
        if (!first)
            put_s(s, ", ");
        first = 0;
        if (named && !json) {
            put_s(s, named->args[j].label);
            P('=');
        }
        if (sc) {
            arg_val(sc, i, r, !noresult, &v, json);
        } else if (!json) {
            /* an unnamed number's six raw arguments, as strace's printargs: 0x2, 0 */
            if (r->args[i])
                put_hex(s, r->args[i]);
            else
                P('0');
            continue;
        } else {
            v.type = V_UINT;
            v.i = (int64_t)r->args[i];
            v.unk = NULL;
        }
        if (json) {
            P('"');
            if (sc)
                put_s(s, sc->p[i].name);
            else
                put_i64(s, i);
            put_s(s, "\": ");
            put_val_json(s, &v);
        } else {
            put_val_text(s, &v);
        }
    }
    if (json) {
        put_s(s, "}, \"result\": ");
        if (noresult)
            put_s(s, "null");
        else
            put_i64(s, r->ret);
        put_s(s, ", \"errno\": ");
        if (err) {
            P('"');
            put_s(s, errno_name(err, tmp, sizeof tmp));
            P('"');
        } else {
            put_s(s, "null");
        }
        put_s(s, ", \"duration\": ");
        put_ns_repr(s, (int64_t)dur);
        put_s(s, (r->flags & LXB_RECF_ANSWERED) ? ", \"answered\": true" : ", \"answered\": false");
        put_s(s, (r->flags & LXB_RECF_INJECTED) ? ", \"injected\": true}\n" : ", \"injected\": false}\n");
    } else {
        put_s(s, ") = ");
        if (noresult) {
            P('?');
        } else {
            put_result_of(s, sc, r);
            if (sc && sc->note)
                put_note(s, sc, r);
        }
        if (r->flags & LXB_RECF_ANSWERED)
            put_s(s, " (answered by the brand)");
        if (r->flags & LXB_RECF_INJECTED)
            put_s(s, " (INJECTED)");
        put_s(s, " <");
        put_secs6(s, dur);
        put_s(s, ">\n");
    }
}

/* decode.si_code: the signal's own name for its si_code (CLD_EXITED), else SI_*, else the number */
static void put_si_code(struct lxb_sink *s, int sig, int32_t code, int json)
{
    const char *nm = NULL;
    if (sig > 0 && sig < TG_NSIG && TG_SIGCODE_KIND[sig])
        nm = name_of(TG_KINDS[TG_SIGCODE_KIND[sig] - 1].names, (uint64_t)(int64_t)code);
    if (!nm)
        nm = name_of(TG_KINDS[TG_SI_KIND - 1].names, (uint64_t)(int64_t)code);
    if (!nm) {
        put_i64(s, code);
        return;
    }
    if (json)
        P('"');
    put_s(s, nm);
    if (json)
        P('"');
}

static void put_signal(struct lxb_tracer *t, struct lxb_sink *s, const struct lxb_trace_rec *r)
{
    char tmp[16], text[1024];
    const char *sig = signame(r->nr, tmp, sizeof tmp);
    int32_t spid = (int32_t)(uint32_t)r->args[0];
    uint32_t suid = (uint32_t)r->args[1];
    struct tbuf b = {text, 0, sizeof text};
    unsigned char si[LXB_SIGINFO_COPY];

    /* the siginfo the tracer kept (trace.Recorder: decode._siginfo), its
       sender as args[0] and args[1] say (a host uid mapped into the zone) */
    text[0] = 0;
    if (r->slot_arg[0] == 0 && r->slot_len[0] >= LXB_SIGINFO_COPY) {
        memcpy(si, r->slot[0], sizeof si);
        memcpy(si + 16, &spid, 4);
        memcpy(si + 20, &suid, 4);
        tb_siginfo(&b, si, t->format == LXB_TRACE_JSON);
    }

    if (t->format == LXB_TRACE_JSON) {
        put_head_json(t, s, "signal", r);
        put_s(s, ", \"signal\": \"");
        put_s(s, sig);
        put_s(s, "\", \"si_code\": ");
        put_si_code(s, r->nr, r->code, 1);
        put_s(s, ", \"si_pid\": ");
        put_i64(s, spid);
        put_s(s, ", \"si_uid\": ");
        put_u64(s, suid);
        if (text[0]) {
            put_s(s, ", \"siginfo\": ");
            put_s(s, text);
        }
        put_s(s, "}\n");
        return;
    }
    if (text[0]) {   /* strace's printsiginfo: SIGCHLD's status and times, a fault's address */
        put_s(s, "[pid ");
        put_i64(s, r->tid);
        put_s(s, "] --- ");
        put_s(s, sig);
        P(' ');
        put_s(s, text);
        put_s(s, " ---\n");
        return;
    }
    put_s(s, "[pid ");
    put_i64(s, r->tid);
    put_s(s, "] --- ");
    put_s(s, sig);
    put_s(s, " {si_signo=");
    put_s(s, sig);
    put_s(s, ", si_code=");
    put_si_code(s, r->nr, r->code, 0);
    put_s(s, ", si_pid=");
    put_i64(s, spid);
    put_s(s, ", si_uid=");
    put_u64(s, suid);
    put_s(s, "} ---\n");
}

static void put_exit(struct lxb_tracer *t, struct lxb_sink *s, const struct lxb_trace_rec *r)
{
    int status = (int)(r->ret & 0xFFFF), killed = WIFSIGNALED(status);
    char tmp[16];

    if (t->format == LXB_TRACE_JSON) {
        put_head_json(t, s, "exit", r);
        if (killed) {
            put_s(s, ", \"exit_code\": null, \"signal\": \"");
            put_s(s, signame(status & 0x7f, tmp, sizeof tmp));
            put_s(s, "\"}\n");
        } else {
            put_s(s, ", \"exit_code\": ");
            put_i64(s, (status >> 8) & 0xff);
            put_s(s, ", \"signal\": null}\n");
        }
        return;
    }
    put_s(s, "[pid ");
    put_i64(s, r->tid);
    if (killed) {
        put_s(s, "] +++ killed by ");
        put_s(s, signame(status & 0x7f, tmp, sizeof tmp));
    } else {
        put_s(s, "] +++ exited with ");
        put_i64(s, (status >> 8) & 0xff);
    }
    put_s(s, " +++\n");
}

/* a task in its group-stop, as strace -f prints it: --- stopped by SIGSTOP --- */
static void put_stop(struct lxb_tracer *t, struct lxb_sink *s, const struct lxb_trace_rec *r)
{
    char tmp[16];

    if (t->format == LXB_TRACE_JSON) {
        put_head_json(t, s, "stop", r);
        put_s(s, ", \"signal\": \"");
        put_s(s, signame(r->nr, tmp, sizeof tmp));
        put_s(s, "\"}\n");
        return;
    }
    put_s(s, "[pid ");
    put_i64(s, r->tid);
    put_s(s, "] --- stopped by ");
    put_s(s, signame(r->nr, tmp, sizeof tmp));
    put_s(s, " ---\n");
}

void lxb_sink_put(struct lxb_tracer *t, struct lxb_sink *s, const struct lxb_trace_rec *r)
{
    int lines = t->text_fd >= 0;

    pthread_mutex_lock(&s->lock);
    if (r->kind == LXB_REC_SYSCALL) {
        /* a number outside the table (negative, or past it): the spec of
           LXB_NR_PAST, which no table names */
        int nr = r->nr, show = t->spec[nr >= 0 && nr < LXB_NR_MAX ? nr : LXB_NR_PAST].show;
        int noresult = r->flags & LXB_RECF_NORESULT, answered = r->flags & LXB_RECF_ANSWERED;
        int err = (!noresult && r->ret < 0 && r->ret > -4096) ? (int)-r->ret : 0;
        uint64_t dur = r->t_exit > r->t_entry ? r->t_exit - r->t_entry : 0;

        if (show & LXB_SHOW_STATS)
            count_stat(s, nr, dur, err);
        if (answered && nr != SYS_PTRACE_NR)
            count_answered(s, r, err);
        if (lines && (show & LXB_SHOW_LINE))
            put_syscall(t, s, r, err, dur);
    } else if (r->kind == LXB_REC_SIGNAL && lines) {
        put_signal(t, s, r);
    } else if (r->kind == LXB_REC_EXIT && lines) {
        put_exit(t, s, r);
    } else if (r->kind == LXB_REC_STOP && lines) {
        put_stop(t, s, r);
    }
    if (s->len >= OBUF_FLUSH)
        flush_locked(t, s);
    pthread_mutex_unlock(&s->lock);
}

/* ---- the interface (lxbrand.h) ---- */

int lxb_trace_feed(struct lxb_tracer *t, const struct lxb_trace_rec *r)
{
    struct lxb_sink *s = lxb_sink_of(t);
    if (!s)
        return -ENOMEM;
    lxb_sink_put(t, s, r);
    return 0;
}

int lxb_trace_flush(struct lxb_tracer *t)
{
    struct lxb_sink *s = lxb_sink_of(t);
    if (!s)
        return -ENOMEM;
    lxb_sink_flush(t, s);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* trace.py's _pct: the ceil(p/100*n)-th smallest */
static uint64_t pct(const uint64_t *d, uint64_t n, double p)
{
    double k = ceil(p / 100 * (double)n) - 1;
    if (n == 0)
        return 0;
    if (k < 0)
        k = 0;
    return d[(size_t)k];
}

int lxb_trace_stat(struct lxb_tracer *t, int nr, struct lxb_trace_stat *out)
{
    struct lxb_sink *s = lxb_sink_of(t);
    struct nrstat *st;
    uint64_t i;
    int k;

    memset(out, 0, sizeof *out);
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    k = slot_of(s, nr, 0);
    st = k < 0 ? NULL : s->st[k];
    if (st && st->given) {
        *out = *st->given;
        pthread_mutex_unlock(&s->lock);
        return out->calls > 0;
    }
    if (!st || !st->calls) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    qsort(st->durs, st->calls, sizeof *st->durs, cmp_u64);
    out->calls = st->calls;
    out->total_ns = st->total;
    out->p50_ns = pct(st->durs, st->calls, 50);
    out->p99_ns = pct(st->durs, st->calls, 99);
    for (i = 0; i < st->calls; i++) {
        uint64_t d = st->durs[i];
        out->hist[d ? 64 - __builtin_clzll(d) : 0]++;
    }
    out->nerr = st->nerr;
    memcpy(out->err, st->err, sizeof out->err);
    memcpy(out->err_count, st->errn, sizeof out->err_count);
    pthread_mutex_unlock(&s->lock);
    return 1;
}

/* csrc/perfstats.c: nr's statistics as the kernel counted them
   (csrc/bpf/stats.bpf.c), given whole: lxb_trace_stat returns them */
int lxb_sink_stat_set(struct lxb_tracer *t, int nr, const struct lxb_trace_stat *in)
{
    struct lxb_sink *s = lxb_sink_of(t);
    struct lxb_trace_stat *copy;
    struct nrstat *st;
    int k;

    if (!s)
        return -EINVAL;
    if (!(copy = malloc(sizeof *copy)))
        return -ENOMEM;
    *copy = *in;
    pthread_mutex_lock(&s->lock);
    k = slot_of(s, nr, 1);
    st = k < 0 ? NULL : s->st[k];
    if (k < 0) {
        pthread_mutex_unlock(&s->lock);
        free(copy);
        return -ENOSPC;
    }
    if (!st && !(st = s->st[k] = calloc(1, sizeof *st))) {
        pthread_mutex_unlock(&s->lock);
        free(copy);
        return -ENOMEM;
    }
    free(st->given);
    st->given = copy;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

uint64_t lxb_trace_answered(struct lxb_tracer *t, int nr, int32_t *err, char *cmd, int cmdlen, int *cmdlen_out)
{
    struct lxb_sink *s = lxb_sink_of(t);
    struct answered *a = NULL;
    uint64_t count = 0;
    int k;

    *err = 0;
    *cmdlen_out = 0;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    k = slot_of(s, nr, 0);
    if (k >= 0)
        a = s->ans[k];
    if (a) {
        count = a->count;
        *err = a->err;
        *cmdlen_out = a->cmdlen < cmdlen ? a->cmdlen : cmdlen;
        memcpy(cmd, a->cmd, (size_t)*cmdlen_out);
    }
    pthread_mutex_unlock(&s->lock);
    return count;
}

int lxb_trace_past(struct lxb_tracer *t, int i, int32_t *nr)
{
    struct lxb_sink *s = lxb_sink_of(t);
    int ok = 0;

    if (!s || i < 0)
        return 0;
    pthread_mutex_lock(&s->lock);
    if (i < s->npast) {
        *nr = s->past_nr[i];
        ok = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

uint64_t lxb_trace_past_lost(struct lxb_tracer *t)
{
    struct lxb_sink *s = lxb_sink_of(t);
    uint64_t n = 0;

    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    n = s->past_lost;
    pthread_mutex_unlock(&s->lock);
    return n;
}

const char *lxb_trace_table_hash(void)
{
    return TG_HASH;
}

const char *lxb_trace_name(int nr)
{
    return (nr >= 0 && nr < LXB_NR_MAX) ? TG_SC[nr].name : NULL;
}

/* ---- --stats as the Python CLI writes it (lxbrand/trace.py format_stats,
   and json.dumps(stats, indent=1) for --stats-format json), for the C
   front door; tests/test_trace.py compares the two on the same records ---- */

struct st_row {
    int nr;
    const char *name;
    char unnamed[32];                /* the name of a number the table has no name for */
    struct lxb_trace_stat st;
    double total, mean, p50, p99;    /* s, as trace._stats_of computes them */
    uint64_t nerr;
};

static const char *row_name(const struct st_row *r)
{
    return r->name ? r->name : r->unnamed;
}

static const char *repr_of(double x, char *out)
{
    struct lxb_sink tmp;             /* only buf and len: put_repr's */
    tmp.buf = out;
    tmp.len = 0;
    put_repr(&tmp, x);
    out[tmp.len] = 0;
    return out;
}

/* -total, then name (sorted() is stable over the rows' name order) */
static int by_total(const void *a, const void *b)
{
    const struct st_row *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return strcmp(row_name(x), row_name(y));
}

static int by_calls(const void *a, const void *b)
{
    const struct st_row *x = a, *y = b;
    if (x->st.calls != y->st.calls)
        return x->st.calls > y->st.calls ? -1 : 1;
    return strcmp(row_name(x), row_name(y));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(row_name(a), row_name(b));
}

/* errors of a row by count, most first, ties in first-seen order (stable) */
static void err_order(const struct lxb_trace_stat *st, int *order)
{
    int i, j, k;
    for (i = 0; i < st->nerr; i++)
        order[i] = i;
    for (i = 1; i < st->nerr; i++)
        for (j = i; j > 0 && st->err_count[order[j - 1]] < st->err_count[order[j]]; j--) {
            k = order[j];
            order[j] = order[j - 1];
            order[j - 1] = k;
        }
}

static char *stats_text(struct lxb_tracer *t, int json, uint64_t lost, size_t *len_out)
{
    struct st_row *rows = calloc(LXB_NR_MAX + LXB_TRACE_PAST, sizeof *rows);
    char *text = NULL, tmp[64];
    size_t len = 0;
    FILE *m;
    int n = 0, i, k, order[LXB_TRACE_ERRS];
    int32_t past;

    if (!rows)
        return NULL;
    /* every number counted: the table's, then those outside the arrays;
       one it has no name for named as strace names it, syscall_0x1f4 */
    for (i = 0; i < LXB_NR_MAX + LXB_TRACE_PAST; i++) {
        struct st_row *r = &rows[n];
        int nr = i;
        if (i >= LXB_NR_MAX && !lxb_trace_past(t, i - LXB_NR_MAX, &past))
            break;
        if (i >= LXB_NR_MAX)
            nr = past;
        if (!lxb_trace_stat(t, nr, &r->st))
            continue;
        r->nr = nr;
        if (nr < LXB_NR_MAX && nr >= 0 && TG_SC[nr].name) {
            r->name = TG_SC[nr].name;
        } else {
            snprintf(r->unnamed, sizeof r->unnamed, "syscall_%#llx", (unsigned long long)(int64_t)nr);
            r->name = NULL;      /* rows move (qsort): row_name */
        }
        r->total = (double)r->st.total_ns / 1e9;
        r->mean = r->st.calls ? (double)r->st.total_ns / (double)r->st.calls / 1e9 : 0.0;
        r->p50 = (double)r->st.p50_ns / 1e9;
        r->p99 = (double)r->st.p99_ns / 1e9;
        for (k = 0; k < r->st.nerr; k++)
            r->nerr += r->st.err_count[k];
        n++;
    }
    qsort(rows, (size_t)n, sizeof *rows, by_name);
    m = open_memstream(&text, &len);
    if (!m) {
        free(rows);
        return NULL;
    }
    if (json) {
        if (!n && !lost)
            fputs("{}", m);
        for (i = 0; i < n; i++) {
            const struct st_row *r = &rows[i];
            int first = 1;
            fprintf(m, "%s\n \"%s\": {\n  \"calls\": %llu,\n  \"errors\": {", i ? "," : "{", row_name(r),
                    (unsigned long long)r->st.calls);
            for (k = 0; k < r->st.nerr; k++)
                fprintf(m, "%s\n   \"%s\": %llu", k ? "," : "", errno_name(r->st.err[k], tmp, sizeof tmp),
                        (unsigned long long)r->st.err_count[k]);
            fputs(r->st.nerr ? "\n  },\n" : "},\n", m);
            fprintf(m, "  \"total\": %s,\n", repr_of(r->total, tmp));
            fprintf(m, "  \"mean\": %s,\n", repr_of(r->mean, tmp));
            fprintf(m, "  \"p50\": %s,\n", repr_of(r->p50, tmp));
            fprintf(m, "  \"p99\": %s,\n  \"histogram_ns\": {", repr_of(r->p99, tmp));
            for (k = 0; k < 65; k++) {
                if (!r->st.hist[k])
                    continue;
                fprintf(m, "%s\n   \"%llu\": %llu", first ? "" : ",", k ? 1ULL << (k - 1) : 0ULL,
                        (unsigned long long)r->st.hist[k]);
                first = 0;
            }
            fputs(first ? "}\n }" : "\n  }\n }", m);
        }
        /* csrc/perfstats.c: the kernel dropped events, the counts are short */
        if (lost)
            fprintf(m, "%s\n \"lost_events\": %llu", n ? "," : "{", (unsigned long long)lost);
        fputs(n || lost ? "\n}\n" : "\n", m);
    } else {
        uint64_t calls = 0, errors = 0;
        double total = 0.0;
        fprintf(m, "%-20s %8s %7s %11s %10s %9s %9s  errors by errno\n", "syscall", "calls", "errors", "total(s)",
                "mean(us)", "p50(us)", "p99(us)");
        qsort(rows, (size_t)n, sizeof *rows, by_total);
        for (i = 0; i < n; i++) {
            const struct st_row *r = &rows[i];
            calls += r->st.calls;
            errors += r->nerr;
            total += r->total;
            fprintf(m, "%-20s %8llu %7llu %11.6f %10.1f %9.1f %9.1f", row_name(r), (unsigned long long)r->st.calls,
                    (unsigned long long)r->nerr, r->total, r->mean * 1e6, r->p50 * 1e6, r->p99 * 1e6);
            if (r->st.nerr) {
                err_order(&r->st, order);
                fputs("  ", m);
                for (k = 0; k < r->st.nerr; k++)
                    fprintf(m, " %s:%llu" + (k == 0), errno_name(r->st.err[order[k]], tmp, sizeof tmp),
                            (unsigned long long)r->st.err_count[order[k]]);
            }
            fputs("\n", m);
        }
        fprintf(m, "%-20s %8llu %7llu %11.6f\n", "total", (unsigned long long)calls, (unsigned long long)errors,
                total);
        qsort(rows, (size_t)n, sizeof *rows, by_calls);
        for (i = 0; i < n; i++) {
            const struct st_row *r = &rows[i];
            uint64_t top = 0;
            int lo = -1, hi = 0, b;
            for (k = 0; k < 65; k++)
                if (r->st.hist[k]) {
                    if (lo < 0)
                        lo = k;
                    hi = k;
                    if (r->st.hist[k] > top)
                        top = r->st.hist[k];
                }
            if (lo < 0)
                continue;
            fprintf(m, "\n  %s (ns)\n  %12s  %-40s count\n", row_name(r), "value",
                    "------------- Distribution -------------");
            /* bucket k is [2^(k-1), 2^k) ns, its value 2^(k-1) (0 for k = 0) */
            for (b = lo;; b++) {
                uint64_t c = r->st.hist[b];
                int at = (int)nearbyint((double)(40 * c) / (double)top);
                char bar[41];
                memset(bar, '@', (size_t)at);
                bar[at] = 0;
                fprintf(m, "  %12llu |%-40s %llu\n", b ? 1ULL << (b - 1) : 0ULL, bar, (unsigned long long)c);
                if (b >= hi)
                    break;
            }
            fprintf(m, "  %12llu |%-40s 0\n", 1ULL << hi, "");
        }
        if (lost)
            fprintf(m, "\nlost_events %llu: the kernel's buffers were full; the counts above are short\n",
                    (unsigned long long)lost);
    }
    fclose(m);
    free(rows);
    *len_out = len;
    return text;
}

int lxb_trace_stats_write(struct lxb_tracer *t, int json, int fd)
{
    return lxb_trace_stats_write_lost(t, json, fd, 0);
}

/* json.dumps(indent=1)'s text as json.dumps's one line: a newline and its
   indent after ',' become ' ', after anything else nothing (no string of
   the statistics holds a raw newline); the last newline stays */
static size_t one_line(char *text, size_t len)
{
    size_t i = 0, o = 0;

    while (i < len) {
        if (text[i] == '\n' && i + 1 < len) {
            int comma = o > 0 && text[o - 1] == ',';
            for (i++; i < len && text[i] == ' '; i++)
                ;
            if (comma)
                text[o++] = ' ';
            continue;
        }
        text[o++] = text[i++];
    }
    return o;
}

/* json 2: the statistics as one JSON line, after --trace-format json's
   lines in the same stream (trace.py write_outputs) */
int lxb_trace_stats_write_lost(struct lxb_tracer *t, int json, int fd, uint64_t lost)
{
    int rc;
    size_t len = 0;
    char *text = stats_text(t, json, lost + lxb_trace_past_lost(t), &len);
    if (!text)
        return -ENOMEM;
    if (json == 2)
        len = one_line(text, len);
    rc = write_all(fd, text, len);
    free(text);
    return -rc;
}
