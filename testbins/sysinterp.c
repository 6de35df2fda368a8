/*
 * sysinterp.c: a syscall interpreter for differential conformance tests.
 *
 * OVERVIEW
 *
 *   sysinterp reads a script of syscalls on stdin, makes each one with the raw
 *   syscall(2) wrapper (so the exact syscall named is the one made), and prints
 *   one line per step.  The same static binary runs natively (chroot into a
 *   scratch tree) and in a zone; tests/conformance compares the two outputs.
 *   It knows almost nothing about individual syscalls: the script says what
 *   each argument is, and what each output buffer holds.  The format is
 *   described once, with construct, in tests/conformance/script.py; this file
 *   is its only other reader.
 *
 * THE SCRIPT (little endian)
 *
 *   script := "LXBS" u8 version(1) step*            (steps until end of input)
 *   step   := u16 nr, u8 nsave, save[nsave], u8 nargs, arg[nargs]
 *   save   := u8 slot, u8 source     0: the return value; k >= 1: int k-1 of
 *                                    the step's first out buffer (pipe2's fds)
 *   arg    := u8 tag, then
 *     0 INT   s64                    the value
 *     1 STR   u16 len, bytes         a pointer to a NUL-terminated copy
 *     2 SLOT  u8 slot                the value saved in that slot by an
 *                                    earlier step (-1 if that step failed)
 *     3 OUT   u32 size, u8 kind      a pointer to `size` zeroed bytes, printed
 *                                    after a successful call as `kind` says
 *     4 IOV   u8 n, arg[n]           a pointer to struct iovec[n] over STR/OUT
 *     5 STEPS u16 n, step[n]         a sub-script (fork's child)
 *     6 SLOT+ u8 slot, s64 offset    the value saved in that slot plus offset
 *                                    (an address inside a mapping)
 *
 *   Pseudo-syscalls above the real numbers: 1000 peek(addr, off, len) prints
 *   memory, 1001 poke(addr, off, bytes) writes it; both report a fault
 *   (SIGSEGV, SIGBUS) instead of dying.  Syscall 57 (fork) takes
 *   (STEPS child, INT exit status): the child runs the sub-script and exits;
 *   the parent waits for it with wait4 and prints its status, so the output
 *   order does not depend on scheduling.
 *
 * THE OUTPUT
 *
 *   One line per step: `INDEX NR RET [key=value ...]`.  INDEX counts steps
 *   from 0 (a child's steps are INDEX.J, printed before their fork's line);
 *   RET is the return value, or -ENAME; values are decimal, octal modes and
 *   hexadecimal masks carry their prefix, bytes are quoted with \xNN escapes.
 *   Lines starting with # are comments (the first, "# sysinterp ready", says
 *   that the program runs).  An unreadable script is "# error: ..." and exit 2.
 *
 *   The script is read from fd 1000 and the output written to fd 1001 (dup'ed
 *   from stdin and stdout, which then become copies of stderr) so that a
 *   script's fds start at 3 and it may use 0, 1 and 2 like any program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define IN_FD 1000
#define OUT_FD 1001
#define NSLOTS 256
#define MAXARGS 6
#define VERSION 1
#define OP_PEEK 1000
#define OP_POKE 1001

enum { A_INT, A_STR, A_SLOT, A_OUT, A_IOV, A_STEPS, A_SLOTOFF };
enum { K_RAW, K_BYTES, K_CSTR, K_STAT, K_STATX, K_DIRENTS, K_INT2, K_UTSNAME, K_TIMESPEC,
       K_SIGSET, K_SIGACTION, K_WSTATUS, K_INT };

struct step;

struct arg {
    int tag;
    long value;             /* INT, SLOT and SLOT+ (the slot number) */
    char *buf;              /* STR, OUT */
    size_t len;             /* STR: data length; OUT: size; SLOT+: the offset */
    int kind;               /* OUT */
    struct arg *items;      /* IOV */
    int nitems;
    struct iovec *iov;
    struct step *steps;     /* STEPS */
    int nsteps;
};

struct step {
    unsigned nr;
    int nsave;
    unsigned char save_slot[8], save_src[8];
    int nargs;
    struct arg args[MAXARGS];
};

static long slots[NSLOTS];
static FILE *in;

/* ---- output: one write per line ---- */

static char line[1 << 17];
static size_t used;

static void put(const char *fmt, ...)
{
    va_list ap;
    int n;
    if (used >= sizeof line - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line + used, sizeof line - used, fmt, ap);
    va_end(ap);
    if (n > 0)
        used += (size_t)n < sizeof line - used ? (size_t)n : sizeof line - used - 1;
}

static void put_bytes(const char *key, const unsigned char *p, size_t n)
{
    size_t i;
    put(" %s=\"", key);
    for (i = 0; i < n; i++) {
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            put("%c", c);
        else
            put("\\x%02x", c);
    }
    put("\"");
}

static void flush_line(void)
{
    size_t off = 0;
    put("\n");
    while (off < used) {
        ssize_t n = write(OUT_FD, line + off, used - off);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        off += (size_t)n;
    }
    used = 0;
}

static __attribute__((noreturn)) void die(const char *what)
{
    used = 0;
    put("# error: %s", what);
    flush_line();
    _exit(2);
}

/* ---- reading the script ---- */

/* 0 at a clean end of input (only where allowed), 1 when read */
static int rd(void *p, size_t n, int eof_ok)
{
    size_t got = fread(p, 1, n, in);
    if (got == n)
        return 1;
    if (got == 0 && eof_ok && feof(in))
        return 0;
    die("truncated script");
}

static unsigned rd_u8(void) { unsigned char v; rd(&v, 1, 0); return v; }
static unsigned rd_u16(void) { unsigned char v[2]; rd(v, 2, 0); return v[0] | v[1] << 8; }
static uint32_t rd_u32(void)
{
    unsigned char v[4];
    rd(v, 4, 0);
    return v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24;
}
static int64_t rd_s64(void)
{
    unsigned char v[8];
    uint64_t x = 0;
    int i;
    rd(v, 8, 0);
    for (i = 7; i >= 0; i--)
        x = x << 8 | v[i];
    return (int64_t)x;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die("out of memory");
    return p;
}

static int read_step(struct step *s, int eof_ok);

static void read_arg(struct arg *a, int depth)
{
    int i;
    memset(a, 0, sizeof *a);
    a->tag = rd_u8();
    switch (a->tag) {
    case A_INT:
        a->value = rd_s64();
        break;
    case A_STR:
        a->len = rd_u16();
        a->buf = xcalloc(a->len + 1, 1);
        rd(a->buf, a->len, 0);
        break;
    case A_SLOT:
        a->value = rd_u8();
        break;
    case A_SLOTOFF:
        a->value = rd_u8();
        a->len = (size_t)rd_s64();
        break;
    case A_OUT:
        a->len = rd_u32();
        if (a->len > (1u << 24))
            die("out buffer larger than 16 MiB");
        a->kind = rd_u8();
        /* the slack keeps a decoder inside the buffer whatever the kernel wrote */
        a->buf = xcalloc(a->len + 64, 1);
        break;
    case A_IOV:
        if (depth > 0)
            die("nested iov");
        a->nitems = rd_u8();
        a->items = xcalloc(a->nitems, sizeof *a->items);
        a->iov = xcalloc(a->nitems, sizeof *a->iov);
        for (i = 0; i < a->nitems; i++) {
            read_arg(&a->items[i], depth + 1);
            if (a->items[i].tag != A_STR && a->items[i].tag != A_OUT)
                die("an iov holds STR or OUT buffers only");
            a->iov[i].iov_base = a->items[i].buf;
            a->iov[i].iov_len = a->items[i].len;
        }
        break;
    case A_STEPS:
        a->nsteps = rd_u16();
        a->steps = xcalloc(a->nsteps, sizeof *a->steps);
        for (i = 0; i < a->nsteps; i++)
            read_step(&a->steps[i], 0);
        break;
    default:
        die("unknown argument tag");
    }
}

static int read_step(struct step *s, int eof_ok)
{
    unsigned char v[2];
    int i;
    memset(s, 0, sizeof *s);
    if (!rd(v, 2, eof_ok))
        return 0;
    s->nr = v[0] | v[1] << 8;
    s->nsave = rd_u8();
    if (s->nsave > 8)
        die("more than 8 saves in a step");
    for (i = 0; i < s->nsave; i++) {
        s->save_slot[i] = rd_u8();
        s->save_src[i] = rd_u8();
    }
    s->nargs = rd_u8();
    if (s->nargs > MAXARGS)
        die("more than 6 arguments in a step");
    for (i = 0; i < s->nargs; i++)
        read_arg(&s->args[i], 0);
    return 1;
}

static void free_arg(struct arg *a);

static void free_step(struct step *s)
{
    int i;
    for (i = 0; i < s->nargs; i++)
        free_arg(&s->args[i]);
}

static void free_arg(struct arg *a)
{
    int i;
    free(a->buf);
    for (i = 0; i < a->nitems; i++)
        free_arg(&a->items[i]);
    free(a->items);
    free(a->iov);
    for (i = 0; i < a->nsteps; i++)
        free_step(&a->steps[i]);
    free(a->steps);
}

/* ---- printing results ---- */

static void put_ret(long r)
{
    if (r < 0 && r >= -4095) {
        const char *name = strerrorname_np((int)-r);
        if (name)
            put(" -%s", name);
        else
            put(" -%ld", -r);
    } else {
        put(" %ld", r);
    }
}

static void put_ts(const char *key, long long sec, long nsec)
{
    put(" %s=%lld.%09ld", key, sec, nsec);
}

static void put_stat(const struct stat *st)
{
    put(" mode=0%o nlink=%lu uid=%u gid=%u size=%lld blocks=%lld rdev=%u:%u ino=%llu dev=%u:%u",
        st->st_mode, (unsigned long)st->st_nlink, st->st_uid, st->st_gid, (long long)st->st_size,
        (long long)st->st_blocks, major(st->st_rdev), minor(st->st_rdev),
        (unsigned long long)st->st_ino, major(st->st_dev), minor(st->st_dev));
    put_ts("atime", st->st_atim.tv_sec, st->st_atim.tv_nsec);
    put_ts("mtime", st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    put_ts("ctime", st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static void put_statx(const struct statx *sx)
{
    put(" mask=0x%x mode=0%o nlink=%u uid=%u gid=%u size=%llu blocks=%llu rdev=%u:%u ino=%llu"
        " dev=%u:%u attributes=0x%llx",
        sx->stx_mask, sx->stx_mode, sx->stx_nlink, sx->stx_uid, sx->stx_gid,
        (unsigned long long)sx->stx_size, (unsigned long long)sx->stx_blocks, sx->stx_rdev_major,
        sx->stx_rdev_minor, (unsigned long long)sx->stx_ino, sx->stx_dev_major, sx->stx_dev_minor,
        (unsigned long long)sx->stx_attributes);
    put_ts("atime", sx->stx_atime.tv_sec, sx->stx_atime.tv_nsec);
    put_ts("btime", sx->stx_btime.tv_sec, sx->stx_btime.tv_nsec);
    put_ts("ctime", sx->stx_ctime.tv_sec, sx->stx_ctime.tv_nsec);
    put_ts("mtime", sx->stx_mtime.tv_sec, sx->stx_mtime.tv_nsec);
}

struct ent {
    const char *name;
    unsigned type;
    unsigned long long ino;
};

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

/* the directory's entries sorted by name: NAME:TYPE:INO;... (d_off is the
 * file system's business and is not printed) */
static void put_dirents(const char *buf, long n)
{
    struct ent ents[4096];
    int count = 0, i;
    long off = 0;
    while (off + 19 < n && count < 4096) {
        const char *d = buf + off;
        unsigned short reclen;
        memcpy(&reclen, d + 16, 2);
        if (reclen == 0)
            break;
        memcpy(&ents[count].ino, d, 8);
        ents[count].type = (unsigned char)d[18];
        ents[count].name = d + 19;
        count++;
        off += reclen;
    }
    qsort(ents, count, sizeof *ents, ent_cmp);
    put(" dirents=\"");
    for (i = 0; i < count; i++) {
        const unsigned char *p;
        if (i)
            put(";");
        for (p = (const unsigned char *)ents[i].name; *p; p++) {
            if (*p > 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != ':' && *p != ';')
                put("%c", *p);
            else
                put("\\x%02x", *p);
        }
        put(":%u:%llu", ents[i].type, ents[i].ino);
    }
    put("\"");
}

static void put_sigset(const char *key, const unsigned char *p)
{
    uint64_t set;
    memcpy(&set, p, 8);
    put(" %s=0x%llx", key, (unsigned long long)set);
}

static void put_wstatus(int st)
{
    if (WIFEXITED(st))
        put(" status=exited(%d)", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        put(" status=signaled(%d)", WTERMSIG(st));
    else if (WIFSTOPPED(st))
        put(" status=stopped(%d)", WSTOPSIG(st));
    else
        put(" status=0x%x", st);
}

/* an out buffer after a successful call whose value is r */
static void put_out(const struct arg *a, long r)
{
    switch (a->kind) {
    case K_RAW:
        break;
    case K_BYTES:
        put_bytes("data", (unsigned char *)a->buf, r < 0 ? 0 : (size_t)r < a->len ? (size_t)r : a->len);
        break;
    case K_CSTR:
        put_bytes("str", (unsigned char *)a->buf, strnlen(a->buf, a->len));
        break;
    case K_STAT:
        put_stat((const struct stat *)a->buf);
        break;
    case K_STATX:
        put_statx((const struct statx *)a->buf);
        break;
    case K_DIRENTS:
        put_dirents(a->buf, r < (long)a->len ? r : (long)a->len);
        break;
    case K_INT2: {
        int v[2];
        memcpy(v, a->buf, sizeof v);
        put(" fds=%d,%d", v[0], v[1]);
        break;
    }
    case K_UTSNAME: {
        const struct utsname *u = (const struct utsname *)a->buf;
        put_bytes("sysname", (unsigned char *)u->sysname, strnlen(u->sysname, sizeof u->sysname));
        put_bytes("nodename", (unsigned char *)u->nodename, strnlen(u->nodename, sizeof u->nodename));
        put_bytes("release", (unsigned char *)u->release, strnlen(u->release, sizeof u->release));
        put_bytes("version", (unsigned char *)u->version, strnlen(u->version, sizeof u->version));
        put_bytes("machine", (unsigned char *)u->machine, strnlen(u->machine, sizeof u->machine));
        put_bytes("domainname", (unsigned char *)u->domainname,
                  strnlen(u->domainname, sizeof u->domainname));
        break;
    }
    case K_TIMESPEC: {
        struct timespec ts;
        memcpy(&ts, a->buf, sizeof ts);
        put_ts("ts", ts.tv_sec, ts.tv_nsec);
        break;
    }
    case K_SIGSET:
        put_sigset("set", (unsigned char *)a->buf);
        break;
    case K_SIGACTION: {
        /* the kernel's struct sigaction: handler, flags, restorer, mask */
        uint64_t handler, flags;
        memcpy(&handler, a->buf, 8);
        memcpy(&flags, a->buf + 8, 8);
        if (handler == (uint64_t)(uintptr_t)SIG_DFL)
            put(" handler=SIG_DFL");
        else if (handler == (uint64_t)(uintptr_t)SIG_IGN)
            put(" handler=SIG_IGN");
        else
            put(" handler=0x%llx", (unsigned long long)handler);
        put(" flags=0x%llx", (unsigned long long)(flags & ~(uint64_t)0x04000000 /* SA_RESTORER */));
        put_sigset("mask", (unsigned char *)a->buf + 24);
        break;
    }
    case K_WSTATUS: {
        int st;
        memcpy(&st, a->buf, sizeof st);
        put_wstatus(st);
        break;
    }
    case K_INT: {
        int v;
        memcpy(&v, a->buf, sizeof v);
        put(" value=%d", v);
        break;
    }
    default:
        put(" out=unknown-kind-%d", a->kind);
    }
}

/* ---- running ---- */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_sig;

static void on_fault(int sig)
{
    fault_sig = sig;
    siglongjmp(fault_jmp, 1);
}

/* peek and poke: touch memory, and report a fault instead of dying of it */
static long touch_memory(int write_it, char *addr, size_t len, const char *data)
{
    struct sigaction sa, old_segv, old_bus;
    char *copy = xcalloc(len, 1);
    long rc = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    fault_sig = 0;
    if (sigsetjmp(fault_jmp, 1) == 0) {
        if (write_it)
            memcpy(addr, data, len);
        else
            memcpy(copy, addr, len);
    } else {
        rc = -1;
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    if (rc == 0) {
        put(" 0");
        if (!write_it)
            put_bytes("data", (unsigned char *)copy, len);
    } else {
        put(" 0 fault=%s", fault_sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
    }
    free(copy);
    return rc;
}

static long value_of(const struct arg *a)
{
    switch (a->tag) {
    case A_INT:
        return a->value;
    case A_SLOT:
        return slots[a->value];
    case A_SLOTOFF:
        return slots[a->value] + (long)a->len;
    case A_STR:
    case A_OUT:
        return (long)a->buf;
    case A_IOV:
        return (long)a->iov;
    default:
        return 0;
    }
}

static void run_steps(const char *prefix, struct step *steps, int n);

static void run_step(const char *index, struct step *s)
{
    long a[MAXARGS] = {0}, r;
    const struct arg *first_out = NULL;
    int i;

    for (i = 0; i < s->nargs; i++) {
        a[i] = value_of(&s->args[i]);
        if (!first_out && s->args[i].tag == A_OUT)
            first_out = &s->args[i];
    }
    used = 0;
    put("%s %u", index, s->nr);

    if (s->nr == OP_PEEK || s->nr == OP_POKE) {
        char *addr = (char *)(a[0] + a[1]);
        if (s->nr == OP_PEEK)
            r = touch_memory(0, addr, (size_t)a[2] > 65536 ? 65536 : (size_t)a[2], NULL);
        else
            r = touch_memory(1, addr, s->args[2].len, s->args[2].buf);
    } else if (s->nr == SYS_fork && s->nargs >= 1 && s->args[0].tag == A_STEPS) {
        /* the child runs the sub-script and exits; the parent reaps it first,
         * so that its lines come before the fork's own */
        r = syscall(SYS_fork);
        if (r == 0) {
            run_steps(index, s->args[0].steps, s->args[0].nsteps);
            syscall(SYS_exit_group, s->nargs >= 2 ? (int)a[1] : 0);
        }
        if (r < 0)
            r = -errno;
        used = 0;
        put("%s %u", index, s->nr);
        put_ret(r);
        if (r > 0) {
            int st = 0;
            long w;
            do
                w = syscall(SYS_wait4, r, &st, __WALL, NULL);
            while (w < 0 && errno == EINTR);
            if (w == r)
                put_wstatus(st);
            else
                put(" status=wait4-failed");
        }
    } else {
        errno = 0;
        r = syscall(s->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (r == -1 && errno)
            r = -errno;
        put_ret(r);
        if (r >= 0) {
            for (i = 0; i < s->nargs; i++) {
                const struct arg *x = &s->args[i];
                if (x->tag == A_OUT) {
                    put_out(x, r);
                } else if (x->tag == A_IOV) {
                    /* what readv filled: the first r bytes across the OUT buffers */
                    long left = r;
                    int any = 0, j;
                    for (j = 0; j < x->nitems; j++)
                        any |= x->items[j].tag == A_OUT;
                    if (!any)
                        continue;
                    put(" data=\"");
                    for (j = 0; j < x->nitems && left > 0; j++) {
                        size_t k, take = x->items[j].len < (size_t)left ? x->items[j].len : (size_t)left;
                        for (k = 0; k < take; k++) {
                            unsigned c = (unsigned char)x->items[j].buf[k];
                            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                                put("%c", c);
                            else
                                put("\\x%02x", c);
                        }
                        left -= (long)take;
                    }
                    put("\"");
                }
            }
        }
    }
    for (i = 0; i < s->nsave; i++) {
        int src = s->save_src[i];
        long v = r < 0 && r >= -4095 ? -1 : r;
        if (src > 0) {
            int ints[16] = {0};
            if (first_out && r >= 0 && (size_t)src * 4 <= first_out->len) {
                memcpy(ints, first_out->buf, first_out->len < sizeof ints ? first_out->len : sizeof ints);
                v = ints[src - 1];
            } else {
                v = -1;
            }
        }
        slots[s->save_slot[i]] = v;
    }
    flush_line();
}

static void run_steps(const char *prefix, struct step *steps, int n)
{
    char index[256];
    int i;
    for (i = 0; i < n; i++) {
        snprintf(index, sizeof index, "%s.%d", prefix, i);
        run_step(index, &steps[i]);
    }
}

int main(void)
{
    char magic[5] = {0}, index[32];
    struct step s;
    unsigned long n = 0;
    int i;

    if (dup3(0, IN_FD, O_CLOEXEC) != IN_FD || dup3(1, OUT_FD, O_CLOEXEC) != OUT_FD) {
        perror("sysinterp: dup3 of stdin/stdout to 1000/1001");
        return 2;
    }
    /* 0 and 1 become copies of stderr: a script's first fd is 3, as in any program */
    if (dup2(2, 0) != 0 || dup2(2, 1) != 1) {
        close(0);
        close(1);
    }
    for (i = 0; i < NSLOTS; i++)
        slots[i] = -1;
    in = fdopen(IN_FD, "rb");
    if (!in)
        die("fdopen");
    setvbuf(in, NULL, _IONBF, 0);   /* read only what a step needs: steps may arrive one by one */
    put("# sysinterp ready");
    flush_line();
    rd(magic, 4, 0);
    if (memcmp(magic, "LXBS", 4) != 0)
        die("not an LXBS script");
    if (rd_u8() != VERSION)
        die("unknown LXBS version");
    while (read_step(&s, 1)) {
        snprintf(index, sizeof index, "%lu", n++);
        run_step(index, &s);
        free_step(&s);
    }
    return 0;
}
