/*
 * fakeroot.c: a fake root for a zone whose user owns only one id (--fakeroot).
 *
 * OVERVIEW
 *
 *   Run by an ordinary user without subordinate ids, a zone has one id: its
 *   root is the user, and chown(2) to any other id fails with EINVAL, so
 *   package managers fail.  As fakeroot(1) and PRoot -0 do, the brand lets
 *   root's ownership changes succeed and remembers them: chown, fchown,
 *   lchown and fchownat record the owner asked for, mknod of a device makes
 *   an empty regular file recorded as that device, and the stat family
 *   (stat, fstat, lstat, newfstatat, statx) and getdents report the record.
 *   Nothing acts on the host: the files stay the user's, a recorded device
 *   opens as the empty file it is.  A table of the supervisor keeps fake
 *   credentials and capabilities per process (CREDENTIALS, CAPABILITIES) and
 *   a thread's own niceness (NICENESS).
 *
 * THE RECORD
 *
 *   An extended attribute of the file itself, FAKEROOT_XATTR
 *   ("user.lxbrand.owner"), "UID:GID" or "UID:GID:c:MAJOR:MINOR" (b for a
 *   block device), in the zone's ids: it lives and dies with the file,
 *   follows renames and hard links, is copied by cp -a, tar --xattrs and
 *   rsync -X, and needs no database that a crash or a copy of the rootfs
 *   could leave out of step (docs/DESIGN.md, "Fake root").  Linux allows
 *   user.* attributes on regular files and directories only: a symlink,
 *   fifo or socket's chown is kept in memory while the zone runs (OTHER
 *   FILES, docs/DIFFERENCES.md).
 *
 * THE PATH
 *
 *   Every handler performs the call itself, on a copy of the path read once,
 *   and writes the answer back: it never answers CONTINUE after looking at a
 *   path.  A path is resolved as the caller would: an absolute one under the
 *   caller's root (/proc/PID/root, RESOLVE_IN_ROOT: its symlinks and ".."
 *   never leave it), a relative one after the caller's directory (cwd or
 *   dirfd, whose text /proc/PID/cwd gives from the root of the caller's
 *   mount namespace) under that same root.  The /proc/PID handles are opened
 *   before SECCOMP_IOCTL_NOTIF_ID_VALID proves PID is still the caller;
 *   only then does the handler act.
 *
 * IDS
 *
 *   The supervisor stats in the host's ids; the caller sees them through its
 *   user namespace's map (/proc/PID/uid_map as read from ours gives exactly
 *   that), unmapped ids as the overflow id 65534.  Each receiver thread
 *   caches the map of the last user namespace it served.  The supervisor is
 *   never host root here (ZoneConfig refuses --fakeroot to root): it acts
 *   with the user's own rights, which are the zone root's over its files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <linux/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "lxbrand.h"

#define FAKEROOT_XATTR "user.lxbrand.owner"
#define OVERFLOW_ID 65534u
#define MAP_LINES 8
#define CAP_CHOWN_BIT 0

struct idmap {
    int n;
    uint32_t inside[MAP_LINES], outside[MAP_LINES], count[MAP_LINES];
};

/* the maps of the user namespace this receiver served last */
static __thread unsigned long long maps_ns;
static __thread struct idmap uid_maps, gid_maps;

struct record {
    int have;                    /* a record was read */
    uint32_t uid, gid;
    char type;                   /* 0, 'c' or 'b' */
    unsigned int major, minor;
};

/* ---- guest memory and the caller's /proc ---- */

static int parse_map(const char *path, struct idmap *m)
{
    char buf[512], *p, *end;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    m->n = 0;
    for (p = buf; *p && m->n < MAP_LINES;) {
        unsigned long a, b, c;
        a = strtoul(p, &end, 10);
        b = strtoul(end, &end, 10);
        c = strtoul(end, &end, 10);
        if (end == p)
            break;
        m->inside[m->n] = (uint32_t)a;
        m->outside[m->n] = (uint32_t)b;
        m->count[m->n] = (uint32_t)c;
        m->n++;
        p = strchr(end, '\n');
        if (!p)
            break;
        p++;
    }
    return 0;
}

/* the caller's user namespace's maps, cached per receiver by its inode */
static int caller_maps(uint32_t pid)
{
    char path[64], link[64];
    unsigned long long inum;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%u/ns/user", pid);
    n = readlink(path, link, sizeof link - 1);
    if (n < 0)
        return -ENOENT;
    link[n] = 0;
    if (strncmp(link, "user:[", 6) != 0)
        return -EIO;
    inum = strtoull(link + 6, NULL, 10);
    if (inum == maps_ns && inum)
        return 0;
    snprintf(path, sizeof path, "/proc/%u/uid_map", pid);
    if (parse_map(path, &uid_maps) < 0)
        return -ENOENT;
    snprintf(path, sizeof path, "/proc/%u/gid_map", pid);
    if (parse_map(path, &gid_maps) < 0)
        return -ENOENT;
    maps_ns = inum;
    return 0;
}

/* a host id as the caller sees it */
static uint32_t to_zone(const struct idmap *m, uint32_t host)
{
    int i;
    for (i = 0; i < m->n; i++)
        if (host >= m->outside[i] && host - m->outside[i] < m->count[i])
            return m->inside[i] + (host - m->outside[i]);
    return OVERFLOW_ID;
}

/* the value of "Name:" in /proc/PID/status: its text after the tab */
static int caller_status(uint32_t pid, const char *name, char *out, size_t len)
{
    char path[64], buf[4096], *p;
    size_t nl = strlen(name);
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%u/status", pid);
    if ((n = lxb_read_small(path, buf, sizeof buf)) <= 0)
        return -ENOENT;
    for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
            char *v = p + nl + 1, *e;
            while (*v == '\t' || *v == ' ')
                v++;
            e = strchr(v, '\n');
            n = e ? e - v : (ssize_t)strlen(v);
            if ((size_t)n >= len)
                n = (ssize_t)len - 1;
            memcpy(out, v, (size_t)n);
            out[n] = 0;
            return 0;
        }
    }
    return -ENOENT;
}

struct fcred;
static int cred_get_ids(uint32_t pid, struct fcred *out);
static void answer(int rc, struct lxb_reply *r);

static int fake_capable(uint32_t pid, int bit);
static int chown_ok(uint32_t pid, int known, const struct record *rec, uint32_t owner, uint32_t group);

/* does the caller hold CAP_CHOWN (fake root's token) in its fake effective
   set and its real one (see CAPABILITIES)?  caller_maps() first */
static int caller_is_root(uint32_t pid)
{
    return fake_capable(pid, CAP_CHOWN_BIT);
}

/*
 * Where a path of the caller is: *rootfd the caller's root, and in rel the
 * path to resolve under it (absolute from that root); or, for an empty path
 * with empty_ok, *fdout our O_PATH handle of dirfd (or the cwd) itself.
 * Opens /proc/PID handles only; the caller checks the notification before
 * it acts on them.
 */
static int caller_where(uint32_t pid, int dirfd, const char *path, int empty_ok, int *rootfd, int *fdout,
                        char *rel, size_t rellen)
{
    char proc[64], proot[64], dir[PATH_MAX + 16], root[PATH_MAX + 16];
    ssize_t n, r;

    *rootfd = *fdout = -1;
    if (dirfd == AT_FDCWD)
        snprintf(proc, sizeof proc, "/proc/%u/cwd", pid);
    else if (dirfd < 0)
        return -EBADF;
    else
        snprintf(proc, sizeof proc, "/proc/%u/fd/%d", pid, dirfd);
    if (path[0] == 0) {
        if (!empty_ok)
            return -ENOENT;
        *fdout = open(proc, O_PATH | O_CLOEXEC);
        if (*fdout < 0)
            return errno == ENOENT && dirfd != AT_FDCWD ? -EBADF : -ENOENT;
        return 0;
    }
    snprintf(proot, sizeof proot, "/proc/%u/root", pid);
    *rootfd = open(proot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*rootfd < 0)
        return -ENOENT;
    if (path[0] == '/') {
        if (strlen(path) >= rellen)
            return -ENAMETOOLONG;
        strcpy(rel, path);
        return 0;
    }
    n = readlink(proc, dir, sizeof dir - 1);
    if (n < 0)
        return errno == ENOENT && dirfd != AT_FDCWD ? -EBADF : -ENOENT;
    dir[n] = 0;
    if (dir[0] != '/')
        return -ENOTDIR;        /* a pipe, socket or anonymous inode */
    if (n > 10 && strcmp(dir + n - 10, " (deleted)") == 0)
        return -ENOENT;
    /* a caller that chroot'ed: its directory relative to its own root */
    r = readlink(proot, root, sizeof root - 1);
    if (r < 0)
        return -ENOENT;
    root[r] = 0;
    if (strcmp(root, "/") != 0) {
        size_t rl = strlen(root);
        if (strncmp(dir, root, rl) != 0 || (dir[rl] != '/' && dir[rl] != 0))
            return -ENOENT;     /* a directory outside its root: not resolvable from there */
        memmove(dir, dir + rl, strlen(dir + rl) + 1);
        if (dir[0] == 0)
            strcpy(dir, "/");
    }
    if (strlen(dir) + 1 + strlen(path) >= rellen)
        return -ENAMETOOLONG;
    {
        size_t dl = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
        memcpy(rel, dir, dl);
        rel[dl] = '/';
        strcpy(rel + dl + 1, path);
    }
    return 0;
}

/* the last number of a "Name:" line of /proc/PID/status (NStgid, NSpid): the
   caller's id in the zone's innermost pid namespace */
static long zone_id(uint32_t pid, const char *name)
{
    char v[128], *last;
    if (caller_status(pid, name, v, sizeof v) < 0)
        return -1;
    last = strrchr(v, '\t');
    return strtol(last ? last + 1 : v, NULL, 10);
}

static int same_file(int a, int b)
{
    struct stat x, y;
    return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* fd is in a proc file system (1), its root (2), or neither (0) */
static int on_proc(int fd)
{
    struct statfs fs;
    struct stat st;

    if (fstatfs(fd, &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC)
        return 0;
    return fstat(fd, &st) == 0 && st.st_ino == 1 ? 2 : 1;
}

/*
 * The slow walk, one component at a time, for what RESOLVE_IN_ROOT refuses
 * or cannot see: /proc/self and /proc/thread-self (the supervisor is not in
 * the zone's pid namespace: they name the caller here) and proc's magic links
 * (/dev/fd/N -> /proc/self/fd/N, /proc/N/cwd), followed by the kernel to the
 * object the zone's process holds.  Symlinks are read and spliced, an
 * absolute one restarting at the caller's root, ".." never above it.
 */
static int walk(uint32_t pid, int rootfd, const char *rel, int follow)
{
    char work[2 * PATH_MAX], comp[NAME_MAX + 1], target[PATH_MAX], sub[96];
    int cur, next, links = 0, trailing;
    size_t pos = 0;

    if (strlen(rel) >= sizeof work)
        return -ENAMETOOLONG;
    strcpy(work, rel);
    trailing = strlen(work) > 1 && work[strlen(work) - 1] == '/';
    cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return -errno;
    for (;;) {
        size_t len;
        struct stat st, pst;
        int last, proc;

        while (work[pos] == '/')
            pos++;
        if (!work[pos])
            break;
        len = strcspn(work + pos, "/");
        if (len > NAME_MAX) {
            close(cur);
            return -ENAMETOOLONG;
        }
        memcpy(comp, work + pos, len);
        comp[len] = 0;
        pos += len;
        last = work[pos + strspn(work + pos, "/")] == 0;
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            if (same_file(cur, rootfd))
                continue;
            next = openat(cur, "..", O_PATH | O_CLOEXEC);
            if (next < 0)
                goto fail;
            close(cur);
            cur = next;
            continue;
        }
        proc = on_proc(cur);
        if (proc == 2 && (strcmp(comp, "self") == 0 || strcmp(comp, "thread-self") == 0)) {
            long tgid = zone_id(pid, "NStgid"), tid = zone_id(pid, "NSpid");
            if (tgid <= 0 || tid <= 0) {
                close(cur);
                return -ENOENT;
            }
            if (comp[0] == 's')
                snprintf(sub, sizeof sub, "%ld", tgid);
            else
                snprintf(sub, sizeof sub, "%ld/task/%ld", tgid, tid);
            goto splice;
        }
        next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0)
            goto fail;
        if (fstat(next, &st) != 0) {
            close(next);
            goto fail;
        }
        if (!S_ISLNK(st.st_mode) || (last && !follow && !trailing)) {
            close(cur);
            cur = next;
            continue;
        }
        close(next);
        if (proc == 1 && fstat(cur, &pst) == 0 && pst.st_dev == st.st_dev) {
            /* a link of proc below its root (fd/N, cwd, root, exe): a magic
               link to what the zone's process holds, the kernel's to follow */
            next = openat(cur, comp, O_PATH | O_CLOEXEC);
            if (next < 0)
                goto fail;
            close(cur);
            cur = next;
            continue;
        }
        if (++links > 40) {
            close(cur);
            return -ELOOP;
        }
        {
            ssize_t n = readlinkat(cur, comp, target, sizeof target - 1);
            if (n < 0)
                goto fail;
            target[n] = 0;
        }
        if (target[0] == '/') {
            close(cur);
            cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
            if (cur < 0)
                return -errno;
        }
        if (strlen(target) + strlen(work + pos) + 2 >= sizeof work) {
            close(cur);
            return -ENAMETOOLONG;
        }
        {
            char rest[2 * PATH_MAX];
            strcpy(rest, work + pos);
            strcpy(work, target);
            strcat(work, rest);
        }
        pos = 0;
        continue;
splice:
        {
            char rest[2 * PATH_MAX];
            if (strlen(sub) + strlen(work + pos) + 2 >= sizeof work) {
                close(cur);
                return -ENAMETOOLONG;
            }
            strcpy(rest, work + pos);
            strcpy(work, sub);
            strcat(work, rest);
            pos = 0;
        }
    }
    if (trailing) {
        struct stat st;
        if (fstat(cur, &st) == 0 && !S_ISDIR(st.st_mode)) {
            close(cur);
            return -ENOTDIR;
        }
    }
    return cur;
fail:
    {
        int e = errno;
        close(cur);
        return -e;
    }
}

/* resolve rel under rootfd as the caller's path walk would: an O_PATH fd.
   RESOLVE_IN_ROOT does it in one call; what it cannot see (ENOENT, ELOOP:
   /proc/self, magic links) the slow walk tries again */
static int resolve(uint32_t pid, int rootfd, const char *rel, int follow)
{
    struct open_how how;
    int fd;

    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    do
        fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
    while (fd < 0 && errno == EAGAIN);
    if (fd >= 0)
        return fd;
    if (errno != ENOENT && errno != ELOOP)
        return -errno;
    return walk(pid, rootfd, rel, follow);
}

/* ---- the record ---- */

#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif

/* the record of an O_PATH fd by getxattrat(2) (Linux 6.13), which saves
   the walk of /proc/self/fd/N; -ENOSYS on an older kernel */
static ssize_t fd_getxattr(int fd, char *buf, size_t len)
{
    static int missing;
    struct {
        uint64_t value;
        uint32_t size;
        uint32_t flags;
    } args = {(uint64_t)(uintptr_t)buf, (uint32_t)len, 0};
    long n;

    if (__atomic_load_n(&missing, __ATOMIC_RELAXED))
        return -ENOSYS;
    n = syscall(SYS_getxattrat, fd, "", AT_EMPTY_PATH, FAKEROOT_XATTR, &args, sizeof args);
    if (n < 0 && (errno == ENOSYS || errno == EINVAL || errno == EBADF)) {
        __atomic_store_n(&missing, 1, __ATOMIC_RELAXED);
        return -ENOSYS;
    }
    return n < 0 ? -errno : n;
}

/*
 * OTHER FILES
 *
 *   Linux keeps user.* attributes off symlinks, fifos and sockets, so their
 *   records live in the supervisor while the zone runs: a table keyed by
 *   device, inode and birth time (an inode number used again is another
 *   file), written by chown, read by the stat family.  The JVM's attach
 *   listener, run on a fake id, chowns its socket to itself and jcmd refuses
 *   a socket that does not then show as its own (docs/DIFFERENCES.md).
 */
#define NOREC_SLOTS 512

struct norec {
    uint64_t dev, ino;
    int64_t btime_sec;
    uint32_t btime_nsec;
    uint32_t uid, gid;
};

static struct norec norecs[NOREC_SLOTS];
static unsigned int norec_used, norec_next;
static pthread_mutex_t norec_lock = PTHREAD_MUTEX_INITIALIZER;

static int norec_key(int fd, struct norec *k)
{
    struct statx sx;

    memset(k, 0, sizeof *k);
    if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &sx) != 0)
        return -errno;
    k->dev = ((uint64_t)sx.stx_dev_major << 32) | sx.stx_dev_minor;
    k->ino = sx.stx_ino;
    if (sx.stx_mask & STATX_BTIME) {
        k->btime_sec = sx.stx_btime.tv_sec;
        k->btime_nsec = sx.stx_btime.tv_nsec;
    }
    return 0;
}

/* the slot of k, or -1; norec_lock held */
static int norec_find(const struct norec *k)
{
    unsigned int i;
    for (i = 0; i < norec_used; i++)
        if (norecs[i].dev == k->dev && norecs[i].ino == k->ino && norecs[i].btime_sec == k->btime_sec &&
            norecs[i].btime_nsec == k->btime_nsec)
            return (int)i;
    return -1;
}

static void norec_read(int fd, struct record *rec)
{
    struct norec k;
    int i;

    if (__atomic_load_n(&norec_used, __ATOMIC_RELAXED) == 0 || norec_key(fd, &k) < 0)
        return;
    pthread_mutex_lock(&norec_lock);
    if ((i = norec_find(&k)) >= 0) {
        rec->have = 1;
        rec->uid = norecs[i].uid;
        rec->gid = norecs[i].gid;
    }
    pthread_mutex_unlock(&norec_lock);
}

static int norec_write(int fd, const struct stat *st, const struct record *rec)
{
    struct norec k;
    int i, rc;

    if ((rc = norec_key(fd, &k)) < 0)
        return rc;
    k.uid = rec->uid;
    k.gid = rec->gid;
    pthread_mutex_lock(&norec_lock);
    if ((i = norec_find(&k)) < 0) {
        /* what the file shows without a record (dpkg's lchown of every
           symlink to root): nothing to keep */
        if (k.uid == to_zone(&uid_maps, st->st_uid) && k.gid == to_zone(&gid_maps, st->st_gid)) {
            pthread_mutex_unlock(&norec_lock);
            return 0;
        }
        /* the oldest goes when the table is full */
        i = (int)(norec_used < NOREC_SLOTS ? norec_used : norec_next);
        norec_next = (unsigned int)(i + 1) % NOREC_SLOTS;
        if (norec_used < NOREC_SLOTS)
            __atomic_store_n(&norec_used, norec_used + 1, __ATOMIC_RELAXED);
    }
    norecs[i] = k;
    pthread_mutex_unlock(&norec_lock);
    return 0;
}

static void read_record(int fd, mode_t mode, struct record *rec)
{
    char path[64], buf[96];
    ssize_t n;

    memset(rec, 0, sizeof *rec);
    if (!S_ISREG(mode) && !S_ISDIR(mode)) {
        norec_read(fd, rec);
        return;
    }
    n = fd_getxattr(fd, buf, sizeof buf - 1);
    if (n == -ENOSYS) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = getxattr(path, FAKEROOT_XATTR, buf, sizeof buf - 1);
    }
    if (n <= 0)
        return;
    buf[n] = 0;
    {
        unsigned long u, g, ma = 0, mi = 0;
        char t = 0;
        int k = sscanf(buf, "%lu:%lu:%c:%lu:%lu", &u, &g, &t, &ma, &mi);
        if (k < 2)
            return;
        rec->have = 1;
        rec->uid = (uint32_t)u;
        rec->gid = (uint32_t)g;
        if (k == 5 && (t == 'c' || t == 'b') && S_ISREG(mode)) {
            rec->type = t;
            rec->major = (unsigned)ma;
            rec->minor = (unsigned)mi;
        }
    }
}

static int write_record(int fd, const struct stat *st, const struct record *rec)
{
    char path[64], buf[96];
    int n, rc;

    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
        return norec_write(fd, st, rec);        /* Linux keeps user.* off other files (OTHER FILES) */
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (rec->type)
        n = snprintf(buf, sizeof buf, "%u:%u:%c:%u:%u", rec->uid, rec->gid, rec->type, rec->major, rec->minor);
    else
        n = snprintf(buf, sizeof buf, "%u:%u", rec->uid, rec->gid);
    rc = setxattr(path, FAKEROOT_XATTR, buf, (size_t)n, 0);
    if (rc != 0 && errno == EACCES && st->st_uid == geteuid()) {
        /* a read-only file of ours (0444): writable for as long as it takes */
        if (chmod(path, (st->st_mode & 07777) | 0200) != 0)
            return -EACCES;
        rc = setxattr(path, FAKEROOT_XATTR, buf, (size_t)n, 0);
        if (rc != 0)
            rc = -errno;
        chmod(path, st->st_mode & 07777);
        return rc;
    }
    return rc != 0 ? -errno : 0;
}

/* ---- stat ---- */

static void apply(const struct record *rec, uint32_t *uid, uint32_t *gid, uint32_t *mode, uint64_t *size,
                  uint32_t *rmaj, uint32_t *rmin)
{
    if (!rec->have)
        return;
    *uid = rec->uid;
    *gid = rec->gid;
    if (rec->type) {
        *mode = (*mode & 07777) | (rec->type == 'c' ? S_IFCHR : S_IFBLK);
        *size = 0;
        *rmaj = rec->major;
        *rmin = rec->minor;
    }
}

/* the stat of the caller's (dirfd, path) as it would see it, into st (or,
   with stx, a statx with flags and mask) */
static int caller_stat(const struct lxb_call *c, int dirfd, uint64_t path_addr, int flags, struct stat *st,
                       struct statx *stx, unsigned int mask)
{
    char path[PATH_MAX], rel[PATH_MAX + 16];
    int rootfd = -1, fd = -1, rc;
    struct record rec;

    if (path_addr == 0 && stx && (flags & AT_EMPTY_PATH))
        path[0] = 0;            /* statx(fd, NULL, AT_EMPTY_PATH), Linux 6.11 */
    else if ((rc = lxb_read_path(c->pid, path_addr, path, sizeof path)) < 0)
        return rc;
    rc = caller_where(c->pid, dirfd, path, flags & AT_EMPTY_PATH, &rootfd, &fd, rel, sizeof rel);
    if (rc < 0)
        goto out;
    if ((rc = caller_maps(c->pid)) < 0)
        goto out;
    /* the handles are the caller's: act */
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        rc = -ENOENT;
        goto out;
    }
    if (fd < 0) {
        fd = resolve(c->pid, rootfd, rel, !(flags & AT_SYMLINK_NOFOLLOW));
        if (fd < 0) {
            rc = fd;
            goto out;
        }
    }
    if (stx) {
        uint32_t maj, min;
        uint64_t size;
        if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), mask, stx) != 0) {
            rc = -errno;
            goto out;
        }
        read_record(fd, stx->stx_mode, &rec);
        stx->stx_uid = to_zone(&uid_maps, stx->stx_uid);
        stx->stx_gid = to_zone(&gid_maps, stx->stx_gid);
        {
            uint32_t mode = stx->stx_mode;
            size = stx->stx_size;
            maj = stx->stx_rdev_major;
            min = stx->stx_rdev_minor;
            apply(&rec, &stx->stx_uid, &stx->stx_gid, &mode, &size, &maj, &min);
            stx->stx_mode = (uint16_t)mode;
            stx->stx_size = size;
            stx->stx_rdev_major = maj;
            stx->stx_rdev_minor = min;
        }
    } else {
        uint32_t uid, gid, mode, maj, min;
        uint64_t size;
        if (fstat(fd, st) != 0) {
            rc = -errno;
            goto out;
        }
        read_record(fd, st->st_mode, &rec);
        uid = to_zone(&uid_maps, st->st_uid);
        gid = to_zone(&gid_maps, st->st_gid);
        mode = st->st_mode;
        size = (uint64_t)st->st_size;
        maj = major(st->st_rdev);
        min = minor(st->st_rdev);
        apply(&rec, &uid, &gid, &mode, &size, &maj, &min);
        st->st_uid = uid;
        st->st_gid = gid;
        st->st_mode = mode;
        st->st_size = (off_t)size;
        st->st_rdev = makedev(maj, min);
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rootfd >= 0)
        close(rootfd);
    return rc;
}

static void answer_stat(const struct lxb_call *c, int rc, uint64_t buf, const void *data, size_t len,
                        struct lxb_reply *r)
{
    if (rc < 0) {
        r->error = -rc;
        return;
    }
    /* again just before writing: never into a tid reused since */
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        r->error = ENOENT;
        return;
    }
    if (lxb_write_mem(c->pid, buf, data, len) != (int64_t)len) {
        r->error = EFAULT;
        return;
    }
    r->error = 0;
    r->val = 0;
}

/* stat(2), lstat(2): the path's stat with its record */
void lxb_fr_stat(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct stat st;
    int rc = caller_stat(c, AT_FDCWD, c->args[0], c->nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : 0, &st, NULL, 0);
    answer_stat(c, rc, c->args[1], &st, sizeof st, r);
}

/* fstat(2) */
void lxb_fr_fstat(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct stat st;
    int fd = (int)c->args[0];
    int rc = fd < 0 ? -EBADF : 0;

    if (rc == 0) {
        /* an empty path in the caller's memory is not needed: the fd itself */
        char rel[8];
        int rootfd, h;
        rc = caller_where(c->pid, fd, "", 1, &rootfd, &h, rel, sizeof rel);
        if (rc == 0 && (rc = caller_maps(c->pid)) == 0 && lxb_notif_valid(c->listener_fd, c->id) < 0)
            rc = -ENOENT;
        if (rc == 0 && fstat(h, &st) != 0)
            rc = -errno;
        if (rc == 0) {
            struct record rec;
            uint32_t uid, gid, mode, maj, min;
            uint64_t size;
            read_record(h, st.st_mode, &rec);
            uid = to_zone(&uid_maps, st.st_uid);
            gid = to_zone(&gid_maps, st.st_gid);
            mode = st.st_mode;
            size = (uint64_t)st.st_size;
            maj = major(st.st_rdev);
            min = minor(st.st_rdev);
            apply(&rec, &uid, &gid, &mode, &size, &maj, &min);
            st.st_uid = uid;
            st.st_gid = gid;
            st.st_mode = mode;
            st.st_size = (off_t)size;
            st.st_rdev = makedev(maj, min);
        }
        if (h >= 0)
            close(h);
    }
    answer_stat(c, rc, c->args[1], &st, sizeof st, r);
}

/* newfstatat(2) */
void lxb_fr_newfstatat(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct stat st;
    int flags = (int)c->args[3];
    int rc = (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) ? -EINVAL
             : caller_stat(c, (int)c->args[0], c->args[1], flags, &st, NULL, 0);
    answer_stat(c, rc, c->args[2], &st, sizeof st, r);
}

/* statx(2) */
void lxb_fr_statx(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct statx stx;
    int flags = (int)c->args[2];
    int rc;

    memset(&stx, 0, sizeof stx);
    if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) ||
        (flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE)
        rc = -EINVAL;
    else if ((unsigned int)c->args[3] & STATX__RESERVED)
        rc = -EINVAL;
    else
        rc = caller_stat(c, (int)c->args[0], c->args[1], flags, NULL, &stx, (unsigned int)c->args[3]);
    answer_stat(c, rc, c->args[4], &stx, sizeof stx, r);
}

/* ---- getdents ----
 *
 * A recorded device is a regular file on the host, so the kernel's getdents
 * says DT_REG where stat says a device, and find -type c, ls and tar (which
 * trust d_type) miss it.  The supervisor performs getdents itself on the
 * caller's own open directory (pidfd_getfd: the same open file description,
 * so the caller's offset moves as the kernel's call would move it) and turns
 * the d_type of each regular entry recorded as a device into DT_CHR or
 * DT_BLK.  Nothing is opened by name: the record is read with getxattrat on
 * (directory, name) without following a link.
 */
#include <dirent.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#define GETDENTS_MAX 65536

/* the record's device type of name in directory dfd: 'c', 'b' or 0 */
static char entry_device(int dfd, const char *name)
{
    static int missing;
    char buf[96];
    long n = -1;
    unsigned long u, g, ma, mi;
    char t = 0;

    if (!__atomic_load_n(&missing, __ATOMIC_RELAXED)) {
        struct {
            uint64_t value;
            uint32_t size;
            uint32_t flags;
        } args = {(uint64_t)(uintptr_t)buf, sizeof buf - 1, 0};
        n = syscall(SYS_getxattrat, dfd, name, AT_SYMLINK_NOFOLLOW, FAKEROOT_XATTR, &args, sizeof args);
        if (n < 0 && (errno == ENOSYS || errno == EINVAL))
            __atomic_store_n(&missing, 1, __ATOMIC_RELAXED);
    }
    if (__atomic_load_n(&missing, __ATOMIC_RELAXED)) {
        char path[64 + NAME_MAX];
        snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dfd, name);
        n = lgetxattr(path, FAKEROOT_XATTR, buf, sizeof buf - 1);
    }
    if (n <= 0)
        return 0;
    buf[n] = 0;
    if (sscanf(buf, "%lu:%lu:%c:%lu:%lu", &u, &g, &t, &ma, &mi) == 5 && (t == 'c' || t == 'b'))
        return t;
    return 0;
}

/* the caller's descriptor FD as one of the supervisor's: taken through a
   pidfd of the calling thread (of its thread group's leader before Linux
   6.9) opened while the notification is still the caller's; >= 0, or
   -errno (-ENOENT: the caller is gone) */
static int caller_fd(const struct lxb_call *c, int fd)
{
    int pidfd, hfd, err;

    if (fd < 0)
        return -EBADF;
    pidfd = (int)syscall(SYS_pidfd_open, c->pid, PIDFD_THREAD);
    if (pidfd < 0) {
        char v[32];
        if (caller_status(c->pid, "Tgid", v, sizeof v) == 0)
            pidfd = (int)syscall(SYS_pidfd_open, (pid_t)strtol(v, NULL, 10), 0);
    }
    if (pidfd < 0)
        return -ENOENT;
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        close(pidfd);
        return -ENOENT;
    }
    hfd = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    err = errno;
    close(pidfd);
    return hfd < 0 ? -err : hfd;
}

/* getdents(2), getdents64(2): the kernel's entries, a recorded device's
   d_type its record's */
void lxb_fr_getdents(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    int fd = (int)c->args[0], hfd = -1, rc;
    unsigned int count = (unsigned int)c->args[2];
    char *buf = NULL;
    long n = 0, pos;

    (void)s;
    if ((hfd = caller_fd(c, fd)) < 0) {
        rc = hfd;
        goto out;
    }
    if (count > GETDENTS_MAX)
        count = GETDENTS_MAX;   /* fewer entries per call, as the kernel may give */
    buf = malloc(count ? count : 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    n = syscall(c->nr, hfd, buf, count);
    if (n < 0) {
        rc = -errno;
        goto out;
    }
    for (pos = 0; pos < n;) {
        unsigned short reclen;
        unsigned char *type;
        const char *name;
        char t;

        if (c->nr == SYS_getdents64) {
            struct dirent64 *d = (struct dirent64 *)(buf + pos);
            reclen = d->d_reclen;
            type = &d->d_type;
            name = d->d_name;
        } else {
            /* struct linux_dirent: ino, off, reclen, name; d_type in its last byte */
            reclen = *(unsigned short *)(buf + pos + 16);
            type = (unsigned char *)(buf + pos + reclen - 1);
            name = buf + pos + 18;
        }
        if (reclen == 0 || pos + reclen > n)
            break;
        if (*type == DT_REG && (t = entry_device(hfd, name)))
            *type = t == 'c' ? DT_CHR : DT_BLK;
        pos += reclen;
    }
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        rc = -ENOENT;
        goto out;
    }
    if (n > 0 && lxb_write_mem(c->pid, c->args[1], buf, (size_t)n) != (int64_t)n) {
        rc = -EFAULT;
        goto out;
    }
    rc = 0;
out:
    free(buf);
    if (hfd >= 0)
        close(hfd);
    if (rc < 0)
        answer(rc, r);
    else {
        r->error = 0;
        r->val = n;
    }
}

/* ---- chown ---- */

static int do_chown(const struct lxb_call *c, int dirfd, uint64_t path_addr, int is_fd, uint32_t owner,
                    uint32_t group, int flags)
{
    char path[PATH_MAX], rel[PATH_MAX + 16];
    int rootfd = -1, fd = -1, rc, root, known;
    struct record rec;
    struct stat st;

    if (is_fd)
        path[0] = 0;
    else if ((rc = lxb_read_path(c->pid, path_addr, path, sizeof path)) < 0)
        return rc;
    rc = caller_where(c->pid, dirfd, path, is_fd || (flags & AT_EMPTY_PATH), &rootfd, &fd, rel, sizeof rel);
    if (rc < 0)
        goto out;
    if ((rc = caller_maps(c->pid)) < 0)
        goto out;
    root = caller_is_root(c->pid);
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        rc = -ENOENT;
        goto out;
    }
    if (fd < 0 && (fd = resolve(c->pid, rootfd, rel, !(flags & AT_SYMLINK_NOFOLLOW))) < 0) {
        rc = fd;
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    read_record(fd, st.st_mode, &rec);
    known = rec.have || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode);
    if (!rec.have) {
        rec.uid = to_zone(&uid_maps, st.st_uid);
        rec.gid = to_zone(&gid_maps, st.st_gid);
    }
    if (!root && (rc = chown_ok(c->pid, known, &rec, owner, group)) < 0)
        goto out;
    if (owner != (uint32_t)-1)
        rec.uid = owner;
    if (group != (uint32_t)-1)
        rec.gid = group;
    rc = write_record(fd, &st, &rec);
    /* chown of a non-directory clears set-user-id, and set-group-id where
       group-executable, as Linux does (chown_common: ATTR_KILL_SUID/SGID) */
    if (rc == 0 && S_ISREG(st.st_mode) &&
        ((st.st_mode & S_ISUID) || (st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))) {
        char self[64];
        mode_t keep = st.st_mode & 07777 & ~S_ISUID;
        if (keep & S_IXGRP)
            keep &= ~S_ISGID;
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        if (chmod(self, keep) != 0)
            rc = -errno;
    }
out:
    if (fd >= 0)
        close(fd);
    if (rootfd >= 0)
        close(rootfd);
    return rc;
}

static void answer(int rc, struct lxb_reply *r)
{
    r->error = rc < 0 ? -rc : 0;
    r->val = 0;
}

/* chown(2), lchown(2), fchown(2), fchownat(2): recorded, the file stays the user's */
void lxb_fr_chown(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    answer(do_chown(c, AT_FDCWD, c->args[0], 0, (uint32_t)c->args[1], (uint32_t)c->args[2],
                    c->nr == SYS_lchown ? AT_SYMLINK_NOFOLLOW : 0), r);
}

void lxb_fr_fchown(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    int fd = (int)c->args[0];
    answer(fd < 0 ? -EBADF : do_chown(c, fd, 0, 1, (uint32_t)c->args[1], (uint32_t)c->args[2], 0), r);
}

void lxb_fr_fchownat(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    int flags = (int)c->args[4];
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) {
        answer(-EINVAL, r);
        return;
    }
    answer(do_chown(c, (int)c->args[0], c->args[1], 0, (uint32_t)c->args[2], (uint32_t)c->args[3], flags), r);
}

/* ---- mknod ---- */

/* mknod(2), mknodat(2): a device is an empty regular file recorded as that
   device (never the host's); any other type is the kernel's, decided on the
   mode alone (a register, not guest memory), so CONTINUE is safe */
void lxb_fr_mknod(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    int at = c->nr == SYS_mknodat;
    int dirfd = at ? (int)c->args[0] : AT_FDCWD;
    uint64_t path_addr = c->args[at];
    mode_t mode = (mode_t)c->args[at + 1];
    dev_t dev = (dev_t)c->args[at + 2];
    char path[PATH_MAX], rel[PATH_MAX + 16], *slash, *base, v[64];
    int rootfd = -1, fd = -1, dfd = -1, nfd = -1, rc;
    unsigned int umask_v = 022;
    struct record rec;
    struct stat st;

    if (!S_ISCHR(mode) && !S_ISBLK(mode)) {
        r->flags = LXB_REPLY_CONTINUE;
        return;
    }
    if ((rc = lxb_read_path(c->pid, path_addr, path, sizeof path)) < 0)
        goto out;
    rc = caller_where(c->pid, dirfd, path, 0, &rootfd, &fd, rel, sizeof rel);
    if (rc < 0)
        goto out;
    if ((rc = caller_maps(c->pid)) < 0)
        goto out;
    if (!caller_is_root(c->pid)) {
        rc = -EPERM;
        goto out;
    }
    if (caller_status(c->pid, "Umask", v, sizeof v) == 0)
        umask_v = (unsigned int)strtoul(v, NULL, 8);
    memset(&rec, 0, sizeof rec);
    if (caller_status(c->pid, "Uid", v, sizeof v) == 0) {
        unsigned long a, b, d, f;
        if (sscanf(v, "%lu %lu %lu %lu", &a, &b, &d, &f) == 4)
            rec.uid = to_zone(&uid_maps, (uint32_t)f);
    }
    if (caller_status(c->pid, "Gid", v, sizeof v) == 0) {
        unsigned long a, b, d, f;
        if (sscanf(v, "%lu %lu %lu %lu", &a, &b, &d, &f) == 4)
            rec.gid = to_zone(&gid_maps, (uint32_t)f);
    }
    rec.have = 1;
    rec.type = S_ISCHR(mode) ? 'c' : 'b';
    rec.major = major(dev);
    rec.minor = minor(dev);
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        rc = -ENOENT;
        goto out;
    }
    /* the parent, resolved as the caller's walk would; the name made there */
    while (strlen(rel) > 1 && rel[strlen(rel) - 1] == '/')
        rel[strlen(rel) - 1] = 0;
    slash = strrchr(rel, '/');
    base = slash + 1;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        rc = -EEXIST;
        goto out;
    }
    if (slash == rel)
        dfd = resolve(c->pid, rootfd, "/", 1);
    else {
        *slash = 0;
        dfd = resolve(c->pid, rootfd, rel, 1);
    }
    if (dfd < 0) {
        rc = dfd;
        goto out;
    }
    nfd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode & 07777) & ~umask_v);
    if (nfd < 0) {
        rc = -errno;
        goto out;
    }
    if (fstat(nfd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    rc = write_record(nfd, &st, &rec);
    if (rc < 0)
        unlinkat(dfd, base, 0);
out:
    if (nfd >= 0)
        close(nfd);
    if (dfd >= 0)
        close(dfd);
    if (fd >= 0)
        close(fd);
    if (rootfd >= 0)
        close(rootfd);
    if (!(r->flags & LXB_REPLY_CONTINUE))
        answer(rc, r);
}

/* ---- credentials ----
 *
 * CREDENTIALS
 *
 *   The zone has one id, so setuid(42) fails with EINVAL and apt's _apt
 *   sandbox cannot drop.  Under --fakeroot the set*id family succeeds and is
 *   recorded here, per thread group (Linux keeps credentials per thread, but
 *   glibc's setxid broadcast keeps a process's threads alike), keyed by host
 *   tgid and start time (never a reused pid); the get*id family and
 *   getgroups report the record.  The rules of Linux hold for the fake ids
 *   (kernel/sys.c): only a fake euid 0 holding the real CAP_SETUID/CAP_SETGID
 *   may set any id; any other may only move among its real, effective and
 *   saved ids, so a process that dropped cannot regain root (EPERM).
 *
 *   A process without a record inherits its nearest recorded ancestor's, at
 *   its first credential call (/proc/PID/stat ppid, an ancestor that started
 *   after it is a reused pid and ends the walk), else its real ids as the
 *   zone sees them.  So that an orphan keeps them (su -c 'daemon &': the
 *   shell exits before its child's first call, and the child's parent is
 *   then the zone's init), a process leaving by exit_group(2) hands its
 *   record, its own or the one it inherits, to each child that has none
 *   (lxb_fr_exit_group); only a process killed by a signal leaves its
 *   orphans to their real ids.  execve keeps the record (the tgid stays)
 *   and applies Linux's rules to it, seen at the next credential call: a
 *   set-user-id or set-group-id file (recorded owner) moves the effective
 *   and saved ids, as sudo and passwd need (cred_exec_ids).  Nothing here ever reaches the host: the caller
 *   keeps its real ids, and every file operation is still done with them
 *   (docs/DIFFERENCES.md, SECURITY.md).  /proc/PID/status shows the real ids.
 *
 * CAPABILITIES
 *
 *   Linux moves capabilities with the uids (commoncap.c: leaving uid 0
 *   clears the permitted and effective sets unless SECBIT_KEEP_CAPS, leaving
 *   euid 0 clears the effective set, returning raises it again), so the
 *   record holds fake effective, permitted, inheritable and ambient sets and
 *   securebits too, moved by the same rules: capget and capset, and prctl's
 *   PR_SET_KEEPCAPS, PR_GET_KEEPCAPS, PR_SET_SECUREBITS, PR_GET_SECUREBITS
 *   and PR_CAP_AMBIENT answer from it; PR_CAPBSET_DROP is checked against
 *   the fake effective set, then performed by the kernel (the bounding set
 *   is real).  A fresh record starts from the caller's real sets.  The
 *   privileged fake operations (set*id, setgroups, chown, mknod) ask the
 *   fake effective set AND the real one: a fake capability is never more
 *   than a real one of the zone, and the real sets never change here.
 *   execve applies Linux's rules for a file without capabilities (root
 *   gets its bounding set, others their ambient set; KEEP_CAPS cleared): an
 *   exec is seen at the process's next credential call, by the 16 bytes at
 *   its AT_RANDOM, fresh in every exec'd image.  A process that forged them
 *   gains nothing a real exec would not give it.
 */
#include <pthread.h>

#define CRED_SLOTS 4096
#define CRED_GROUPS 64
#define CAP_SETGID_BIT 6
#define CAP_SETUID_BIT 7
#define CAP_SETPCAP_BIT 8
#define CAP_LAST_BIT 40          /* CAP_CHECKPOINT_RESTORE */
#define CAP_VALID ((1ULL << (CAP_LAST_BIT + 1)) - 1)
/* the file-system capabilities that follow the fsuid (CAP_FS_SET) */
#define CAP_FS_SET ((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 3) | (1ULL << 4) | (1ULL << 9) | \
                    (1ULL << 27) | (1ULL << 32))
#define SB_NOROOT (1u << 0)
#define SB_NO_SETUID_FIXUP (1u << 2)
#define SB_KEEP_CAPS (1u << 4)
#define SB_KEEP_CAPS_LOCKED (1u << 5)
#define SB_NO_CAP_AMBIENT_RAISE (1u << 6)
#define SB_ALL 0xffu             /* the four bits and their locks */
#define SB_LOCKS 0xaau

struct fcred {
    uint32_t tgid;               /* host tgid; 0: a free slot */
    unsigned long long start;    /* its start time, /proc/PID/stat field 22 */
    uint32_t uid[4], gid[4];     /* real, effective, saved, fs */
    uint32_t ngroups;
    uint32_t groups[CRED_GROUPS];
    uint64_t cap_eff, cap_prm, cap_inh, cap_amb;
    uint32_t securebits;
    uint64_t exec_at;            /* the image's AT_RANDOM address and bytes (CAPABILITIES) */
    uint8_t exec_rnd[16];
};

static pthread_mutex_t creds_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fcred creds[CRED_SLOTS];
static int creds_any;            /* a record was ever made: exit_group has work */

/* ppid and start time of host pid, from /proc/PID/stat */
static int proc_stat(uint32_t pid, uint32_t *ppid, unsigned long long *start)
{
    char path[64], buf[1024], *p;
    long n;
    unsigned long long f[20];
    int i;

    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    n = lxb_read_small(path, buf, sizeof buf);
    if (n < 0)
        return (int)n;
    p = strrchr(buf, ')');  /* comm may hold spaces and parentheses */
    if (!p)
        return -EIO;
    p += 2;
    if (*p)
        p++;                /* state */
    for (i = 0; i < 19; i++)
        f[i] = strtoull(p, &p, 10);
    /* fields 4 (ppid) .. 22 (starttime): f[0] is ppid, f[18] starttime */
    *ppid = (uint32_t)f[0];
    *start = f[18];
    return 0;
}

/* the slot of (tgid, start), or -1; creds_lock held */
static int cred_find(uint32_t tgid, unsigned long long start)
{
    int i;
    for (i = 0; i < CRED_SLOTS; i++)
        if (creds[i].tgid == tgid && creds[i].start == start)
            return i;
    return -1;
}

/* a free slot, freeing those of processes gone; -1 if none; creds_lock held */
static int cred_free_slot(void)
{
    int i, pass;
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < CRED_SLOTS; i++)
            if (creds[i].tgid == 0)
                return i;
        for (i = 0; i < CRED_SLOTS; i++) {
            uint32_t pp;
            unsigned long long st;
            if (proc_stat(creds[i].tgid, &pp, &st) < 0 || st != creds[i].start)
                creds[i].tgid = 0;
        }
    }
    return -1;
}

/* a hexadecimal "Name:" of /proc/PID/status (CapEff...), 0 if unreadable */
static uint64_t status_hex(uint32_t pid, const char *name)
{
    char v[64];
    return caller_status(pid, name, v, sizeof v) == 0 ? strtoull(v, NULL, 16) : 0;
}

/* the mark of the image pid runs: AT_RANDOM's address and its 16 bytes */
static void exec_mark(uint32_t pid, uint32_t tgid, uint64_t *at, uint8_t rnd[16])
{
    char path[64];
    uint64_t aux[160];
    long n, i;

    *at = 0;
    memset(rnd, 0, 16);
    snprintf(path, sizeof path, "/proc/%u/auxv", tgid);
    n = lxb_read_small(path, (char *)aux, sizeof aux);
    for (i = 0; n > 0 && i + 1 < n / 8; i += 2) {
        if (aux[i] == 0)
            break;
        if (aux[i] == 25) {     /* AT_RANDOM */
            *at = aux[i + 1];
            break;
        }
    }
    if (*at && lxb_read_mem(pid, *at, rnd, 16) != 16)
        memset(rnd, 0, 16);
}

/* execve(2)'s ids (bprm_fill_uid, then the saved and fs ids follow the
   effective ones): a set-user-id (set-group-id and group-executable) file
   makes the fake euid (egid) its recorded owner, unless the process has
   no_new_privs or the file's mount is nosuid; the image is /proc/PID/exe,
   the one the caller runs when the exec is seen (its next credential call) */
static void cred_exec_ids(uint32_t pid, struct fcred *c)
{
    char path[64], v[32];
    struct statvfs vfs;
    struct record rec;
    struct stat st;
    int fd, i;

    snprintf(path, sizeof path, "/proc/%u/exe", pid);
    fd = open(path, O_PATH | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)) &&
        !(caller_status(pid, "NoNewPrivs", v, sizeof v) == 0 && strtol(v, NULL, 10) != 0) &&
        fstatvfs(fd, &vfs) == 0 && !(vfs.f_flag & ST_NOSUID)) {
        read_record(fd, st.st_mode, &rec);
        if (st.st_mode & S_ISUID)
            c->uid[1] = rec.have ? rec.uid : to_zone(&uid_maps, st.st_uid);
        if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
            c->gid[1] = rec.have ? rec.gid : to_zone(&gid_maps, st.st_gid);
    }
    if (fd >= 0)
        close(fd);
    for (i = 2; i < 4; i++) {
        c->uid[i] = c->uid[1];
        c->gid[i] = c->gid[1];
    }
}

/* execve(2)'s capabilities for a file without any (cap_bprm_creds_from_file),
   after its ids (cred_exec_ids) */
static void cred_exec(struct fcred *c, uint64_t bset)
{
    int eff = 0;

    c->cap_prm = 0;
    if (!(c->securebits & SB_NOROOT)) {
        if (c->uid[1] == 0 || c->uid[0] == 0)
            c->cap_prm = bset | c->cap_inh;
        if (c->uid[1] == 0)
            eff = 1;
    }
    c->cap_prm |= c->cap_amb;
    c->cap_eff = eff ? c->cap_prm : c->cap_amb;
    c->securebits &= ~SB_KEEP_CAPS;
}

static int cred_put(const struct fcred *c);

/* the caller's fake credentials into *out (its tgid and start time set):
   1 from a record of its own, 2 inherited from an ancestor's, 0 its real ids */
static int cred_get(uint32_t pid, struct fcred *out)
{
    int rc = cred_get_ids(pid, out);
    uint64_t at;
    uint8_t rnd[16];

    if (rc < 0)
        return rc;
    exec_mark(pid, out->tgid, &at, rnd);
    if (rc == 0) {
        /* no record: the real sets */
        out->cap_eff = status_hex(pid, "CapEff");
        out->cap_prm = status_hex(pid, "CapPrm");
        out->cap_inh = status_hex(pid, "CapInh");
        out->cap_amb = status_hex(pid, "CapAmb");
        out->securebits = 0;    /* the launcher's SECBIT_KEEP_CAPS ended at the guest's execve */
    } else if (at != out->exec_at || memcmp(rnd, out->exec_rnd, 16) != 0) {
        /* an execve since the record was made: its rules, once */
        cred_exec_ids(pid, out);
        cred_exec(out, status_hex(pid, "CapBnd"));
        out->exec_at = at;
        memcpy(out->exec_rnd, rnd, 16);
        if (cred_put(out) == 0)
            rc = 1;
        return rc;
    }
    out->exec_at = at;
    memcpy(out->exec_rnd, rnd, 16);
    return rc;
}

/* cred_get's ids part */
static int cred_get_ids(uint32_t pid, struct fcred *out)
{
    char v[256];
    uint32_t tgid, cur, ppid;
    unsigned long long start, cstart, pstart;
    int depth, i;

    memset(out, 0, sizeof *out);
    if (caller_status(pid, "Tgid", v, sizeof v) < 0)
        return -ENOENT;
    tgid = (uint32_t)strtoul(v, NULL, 10);
    if (proc_stat(tgid, &ppid, &start) < 0)
        return -ENOENT;
    out->tgid = tgid;
    out->start = start;
    pthread_mutex_lock(&creds_lock);
    i = cred_find(tgid, start);
    if (i >= 0) {
        *out = creds[i];
        pthread_mutex_unlock(&creds_lock);
        return 1;
    }
    pthread_mutex_unlock(&creds_lock);
    /* the nearest recorded ancestor */
    cur = ppid;
    cstart = start;
    for (depth = 0; depth < 64 && cur > 1; depth++) {
        uint32_t next;
        if (proc_stat(cur, &next, &pstart) < 0 || pstart > cstart)
            break;              /* gone, or a newer process on a reused pid */
        pthread_mutex_lock(&creds_lock);
        i = cred_find(cur, pstart);
        if (i >= 0) {
            *out = creds[i];
            out->tgid = tgid;
            out->start = start;
            pthread_mutex_unlock(&creds_lock);
            return 2;
        }
        pthread_mutex_unlock(&creds_lock);
        cur = next;
        cstart = pstart;
    }
    /* none: the real ids, as the zone sees them */
    if (caller_status(pid, "Uid", v, sizeof v) == 0) {
        unsigned long a[4] = {0, 0, 0, 0};
        sscanf(v, "%lu %lu %lu %lu", &a[0], &a[1], &a[2], &a[3]);
        for (i = 0; i < 4; i++)
            out->uid[i] = to_zone(&uid_maps, (uint32_t)a[i]);
    }
    if (caller_status(pid, "Gid", v, sizeof v) == 0) {
        unsigned long a[4] = {0, 0, 0, 0};
        sscanf(v, "%lu %lu %lu %lu", &a[0], &a[1], &a[2], &a[3]);
        for (i = 0; i < 4; i++)
            out->gid[i] = to_zone(&gid_maps, (uint32_t)a[i]);
    }
    if (caller_status(pid, "Groups", v, sizeof v) == 0) {
        char *p = v, *e;
        while (out->ngroups < CRED_GROUPS) {
            unsigned long g = strtoul(p, &e, 10);
            if (e == p)
                break;
            out->groups[out->ngroups++] = to_zone(&gid_maps, (uint32_t)g);
            p = e;
        }
    }
    return 0;
}

/* record *c as its process's credentials */
static int cred_put(const struct fcred *c)
{
    int i;
    pthread_mutex_lock(&creds_lock);
    i = cred_find(c->tgid, c->start);
    if (i < 0)
        i = cred_free_slot();
    if (i >= 0) {
        creds[i] = *c;
        __atomic_store_n(&creds_any, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&creds_lock);
    return i < 0 ? -EAGAIN : 0;
}

/*
 * exit_group(2), notified under --fakeroot: before the kernel ends the
 * caller and gives its children to the zone's init, each child without a
 * record of its own gets the caller's (its own, or the one it inherits), as
 * it would have inherited it at its first credential call while the caller
 * lived (CREDENTIALS).  The children are found by their ppid in /proc (the
 * host's: every child's /proc/PID/stat, never a file of the zone's, which the
 * guest could mount over), once the caller has a record to hand down; then
 * the kernel performs the call (CONTINUE: nothing here depends on guest
 * memory or on a path).
 */
void lxb_fr_exit_group(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct fcred cr, child;
    struct dirent *e;
    DIR *d;

    (void)s;
    r->error = 0;
    r->flags |= LXB_REPLY_CONTINUE;
    if (!__atomic_load_n(&creds_any, __ATOMIC_RELAXED))
        return;                 /* no set*id yet: every process has its real ids */
    /* the record as it stands (cred_get_ids: a child compares its own image's
       mark with the record's at its first call, as it would have compared
       with the ancestor's it inherits from) */
    if (caller_maps(c->pid) < 0 || cred_get_ids(c->pid, &cr) <= 0)
        return;                 /* its real ids: what an orphan starts from anyway */
    d = opendir("/proc");
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        uint32_t pid, ppid;
        unsigned long long start;
        char *end;
        int i;

        pid = (uint32_t)strtoul(e->d_name, &end, 10);
        if (*end || pid == 0 || pid == cr.tgid)
            continue;
        /* a child started after its parent: a pid reused since is not one */
        if (proc_stat(pid, &ppid, &start) < 0 || ppid != cr.tgid || start < cr.start)
            continue;
        child = cr;
        child.tgid = pid;
        child.start = start;
        pthread_mutex_lock(&creds_lock);
        if (cred_find(pid, start) < 0 && (i = cred_free_slot()) >= 0)
            creds[i] = child;
        pthread_mutex_unlock(&creds_lock);
    }
    closedir(d);
}

/*
 * CREATION
 *
 *   A file or directory that a process makes is the host user's, which the
 *   stat family shows as root; a process running on a fake id other than 0
 *   (su, runuser, setpriv: postgres' initdb, git, ssh) then sees its own new
 *   files owned by root and refuses them ("dubious ownership", "wrong
 *   ownership").  So under --fakeroot open, openat and creat with O_CREAT,
 *   mkdir and mkdirat are notified, and the supervisor makes the new file of
 *   such a caller itself, records the caller's fake fsuid and fsgid in it
 *   (the parent's group under a set-group-id directory), as the kernel would
 *   have owned it, and hands an open's fd over with ADDFD.  It does nothing
 *   else: a caller whose fake fsuid and fsgid are 0 (or before any set*id in
 *   the zone), an open without O_CREAT, a name that exists already (the
 *   kernel then opens a FIFO, a device, /dev/tty, a /proc file as the
 *   caller), a parent on a kernel file system (proc, sysfs, cgroup...), and
 *   any failure of ours, are the kernel's (CONTINUE).  That CONTINUE is safe
 *   after reading the path: nothing was allowed because of it, the kernel
 *   performs what the caller asked with the caller's credentials, and a path
 *   swapped meanwhile only costs a record.  A new name is made in its parent
 *   (resolved as THE PATH says) with O_EXCL and O_NOFOLLOW; a symlink to
 *   nowhere is followed to its target, as the kernel does.
 */

/* a file system whose files are data, which a record may describe */
static int data_fs(int fd)
{
    struct statfs fs;

    if (fstatfs(fd, &fs) != 0)
        return 0;
    switch ((unsigned long)fs.f_type) {
    case PROC_SUPER_MAGIC: case SYSFS_MAGIC: case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC:
    case DEVPTS_SUPER_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC: case SECURITYFS_MAGIC:
    case BPF_FS_MAGIC: case HUGETLBFS_MAGIC: case PSTOREFS_MAGIC: case EFIVARFS_MAGIC:
    case SELINUX_MAGIC: case SMACK_MAGIC: case BINFMTFS_MAGIC: case NSFS_MAGIC:
    case RDTGROUP_SUPER_MAGIC:
    case 0x19800202:            /* mqueue */
        return 0;
    }
    return 1;
}

/* the mode the kernel gives a new file or directory: mode less the caller's
   umask, not lxrun's own as well (fchmod after); its special bits the
   kernel's (a directory's set-group-id from its parent's) */
static void create_mode(int fd, mode_t mode)
{
    struct stat st;
    mode_t want;
    if (fstat(fd, &st) != 0)
        return;
    want = (st.st_mode & 07000) | (mode & 0777);
    if ((st.st_mode & 07777) != want)
        fchmod(fd, want);
}

/* the record a new file of the caller gets: its fake fsuid and fsgid, or
   the parent's group under a set-group-id directory */
static void create_record(int dfd, const struct fcred *cr, struct record *rec)
{
    struct stat pst;
    memset(rec, 0, sizeof *rec);
    rec->have = 1;
    rec->uid = cr->uid[3];
    rec->gid = cr->gid[3];
    if (fstat(dfd, &pst) == 0 && (pst.st_mode & S_ISGID)) {
        struct record prec;
        read_record(dfd, pst.st_mode, &prec);
        rec->gid = prec.have ? prec.gid : to_zone(&gid_maps, pst.st_gid);
    }
}

/* CONTINUE: the kernel's own call, with the caller's credentials */
#define CREATE_KERNEL 1

void lxb_fr_create(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    int is_dir = c->nr == SYS_mkdir || c->nr == SYS_mkdirat;
    int at = c->nr == SYS_openat || c->nr == SYS_mkdirat;
    int dirfd = at ? (int)c->args[0] : AT_FDCWD;
    uint64_t path_addr = c->args[at];
    int flags = c->nr == SYS_creat ? O_CREAT | O_WRONLY | O_TRUNC : is_dir ? 0 : (int)c->args[at + 1];
    mode_t mode = (mode_t)c->args[c->nr == SYS_creat ? 1 : is_dir ? at + 1 : at + 2] & 07777;
    char path[PATH_MAX], rel[PATH_MAX + 16], v[64], *slash, *base;
    int rootfd = -1, fd = -1, dfd = -1, nfd = -1, rc = CREATE_KERNEL, tries;
    unsigned int umask_v = 022;
    struct fcred cr;
    struct record rec;
    struct stat st;

    (void)s;
    if ((!is_dir && (!(flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)) ||
        !__atomic_load_n(&creds_any, __ATOMIC_RELAXED) || caller_maps(c->pid) < 0 ||
        cred_get_ids(c->pid, &cr) <= 0 || (cr.uid[3] == 0 && cr.gid[3] == 0))
        goto out;
    if (lxb_read_path(c->pid, path_addr, path, sizeof path) < 0 ||
        caller_where(c->pid, dirfd, path, 0, &rootfd, &fd, rel, sizeof rel) < 0)
        goto out;               /* the kernel's error */
    if (caller_status(c->pid, "Umask", v, sizeof v) == 0)
        umask_v = (unsigned int)strtoul(v, NULL, 8);
    mode &= ~umask_v;
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        rc = -ENOENT;
        goto out;
    }
    for (tries = 0; tries < 8; tries++) {
        char parent[PATH_MAX + 16];
        size_t n = strlen(rel);

        if (!is_dir) {
            /* a name that exists: the kernel's to open (O_EXCL: EEXIST) */
            fd = resolve(c->pid, rootfd, rel, !(flags & (O_NOFOLLOW | O_EXCL)));
            if (fd >= 0) {
                rc = (flags & O_EXCL) ? -EEXIST : CREATE_KERNEL;
                goto out;
            }
            if (fd != -ENOENT || (n > 1 && rel[n - 1] == '/'))
                goto out;
            fd = -1;
        }
        /* a new name: made in its parent, resolved as the caller's walk would */
        strcpy(parent, rel);
        while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
            parent[strlen(parent) - 1] = 0;
        slash = strrchr(parent, '/');
        base = slash + 1;
        if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
            goto out;
        if (slash == parent)
            dfd = resolve(c->pid, rootfd, "/", 1);
        else {
            *slash = 0;
            dfd = resolve(c->pid, rootfd, parent, 1);
        }
        if (dfd < 0 || !data_fs(dfd))
            goto out;
        if (is_dir) {
            if (mkdirat(dfd, base, mode) != 0)
                goto out;
            nfd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        } else {
            nfd = openat(dfd, base, (flags | O_EXCL | O_NOFOLLOW) | O_CLOEXEC, mode);
            if (nfd < 0 && errno == EEXIST && !(flags & O_EXCL)) {
                /* made meanwhile: again; a symlink to nowhere: its target is
                   the name to make, as the kernel follows it to create */
                char target[PATH_MAX];
                ssize_t tn = readlinkat(dfd, base, target, sizeof target - 1);
                if (tn > 0) {
                    target[tn] = 0;
                    if (target[0] == '/') {
                        strcpy(rel, target);
                    } else {
                        size_t pl, tl = strlen(target);
                        if (slash == parent)
                            parent[0] = 0;
                        pl = strlen(parent);
                        if (pl + tl + 2 > sizeof rel)
                            goto out;
                        memcpy(rel, parent, pl);
                        rel[pl] = '/';
                        memcpy(rel + pl + 1, target, tl + 1);
                    }
                }
                close(dfd);
                dfd = -1;
                continue;
            }
        }
        if (nfd < 0)
            goto out;           /* EACCES, EROFS...: the kernel's, with the caller's rights */
        create_mode(nfd, mode);
        create_record(dfd, &cr, &rec);
        if (fstat(nfd, &st) == 0)
            write_record(nfd, &st, &rec);
        rc = is_dir ? 0 : lxb_addfd_send(c->listener_fd, c->id, nfd, (flags & O_CLOEXEC) ? O_CLOEXEC : 0);
        break;
    }
out:
    if (nfd >= 0)
        close(nfd);
    if (dfd >= 0)
        close(dfd);
    if (fd >= 0)
        close(fd);
    if (rootfd >= 0)
        close(rootfd);
    if (rc == CREATE_KERNEL) {
        r->error = 0;
        r->flags |= LXB_REPLY_CONTINUE;
    } else if (rc < 0) {
        r->error = -rc;
        r->val = 0;
    } else {
        r->error = 0;
        r->val = rc;
    }
}

/* the capability in the fake effective set and in the real one (ns_capable) */
static int cred_capable(uint32_t pid, const struct fcred *c, int bit)
{
    return ((c->cap_eff & status_hex(pid, "CapEff")) >> bit) & 1;
}

/* the capabilities follow a uid change (cap_task_fix_setuid), old the ids before */
static void cred_fixup(struct fcred *n, const uint32_t *old, int which)
{
    if (n->securebits & SB_NO_SETUID_FIXUP)
        return;
    if (which == 'f') {
        if (old[3] == 0 && n->uid[3] != 0)
            n->cap_eff &= ~CAP_FS_SET;
        if (old[3] != 0 && n->uid[3] == 0)
            n->cap_eff |= n->cap_prm & CAP_FS_SET;
        return;
    }
    if ((old[0] == 0 || old[1] == 0 || old[2] == 0) && n->uid[0] != 0 && n->uid[1] != 0 && n->uid[2] != 0) {
        if (!(n->securebits & SB_KEEP_CAPS))
            n->cap_prm = n->cap_eff = 0;
        n->cap_amb = 0;
    }
    if (old[1] == 0 && n->uid[1] != 0)
        n->cap_eff = 0;
    if (old[1] != 0 && n->uid[1] == 0)
        n->cap_eff = n->cap_prm;
}

static int one_of(uint32_t x, const uint32_t *ids)
{
    return x == ids[0] || x == ids[1] || x == ids[2];
}

/*
 * The transitions of kernel/sys.c on ids[4] (real, effective, saved, fs),
 * for which the set*id syscall (which: 'i' setuid, 'r' setreuid, 's'
 * setresuid, 'f' setfsuid): 0 or -EPERM.  priv: CAP_SETUID (CAP_SETGID).
 */
static int cred_transition(uint32_t *ids, int which, uint32_t a, uint32_t b, uint32_t c, int priv)
{
    const uint32_t none = (uint32_t)-1;
    uint32_t old[4];

    memcpy(old, ids, sizeof old);
    switch (which) {
    case 'i':                   /* setuid(2) */
        if (priv) {
            ids[0] = ids[2] = a;
        } else if (a != old[0] && a != old[2])
            return -EPERM;
        ids[1] = ids[3] = a;
        return 0;
    case 'r':                   /* setreuid(2) */
        if (a != none) {
            if (!priv && a != old[0] && a != old[1])
                return -EPERM;
            ids[0] = a;
        }
        if (b != none) {
            if (!priv && !one_of(b, old))
                return -EPERM;
            ids[1] = b;
        }
        if (a != none || (b != none && b != old[0]))
            ids[2] = ids[1];
        ids[3] = ids[1];
        return 0;
    case 's':                   /* setresuid(2) */
        if (!priv && ((a != none && !one_of(a, old)) || (b != none && !one_of(b, old)) ||
                      (c != none && !one_of(c, old))))
            return -EPERM;
        if (a != none)
            ids[0] = a;
        if (b != none)
            ids[1] = b;
        if (c != none)
            ids[2] = c;
        ids[3] = ids[1];
        return 0;
    case 'f':                   /* setfsuid(2): silently unchanged when refused */
        if (priv || one_of(a, old) || a == old[3])
            ids[3] = a;
        return 0;
    }
    return -ENOSYS;
}

/* set*id(2): the caller's fake ids moved as Linux would, recorded */
void lxb_fr_setid(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct fcred cr;
    int rc, gid_call = 0, which = 0, priv;
    uint32_t *ids, oldfs;

    gid_call = c->nr == SYS_setgid || c->nr == SYS_setregid || c->nr == SYS_setresgid || c->nr == SYS_setfsgid;
    if (c->nr == SYS_setuid || c->nr == SYS_setgid)
        which = 'i';
    else if (c->nr == SYS_setreuid || c->nr == SYS_setregid)
        which = 'r';
    else if (c->nr == SYS_setresuid || c->nr == SYS_setresgid)
        which = 's';
    else if (c->nr == SYS_setfsuid || c->nr == SYS_setfsgid)
        which = 'f';
    else {
        answer(-ENOSYS, r);
        return;
    }
    if ((rc = caller_maps(c->pid)) < 0 || (rc = cred_get(c->pid, &cr)) < 0) {
        answer(rc, r);
        return;
    }
    priv = cred_capable(c->pid, &cr, gid_call ? CAP_SETGID_BIT : CAP_SETUID_BIT);
    ids = gid_call ? cr.gid : cr.uid;
    oldfs = ids[3];
    {
        uint32_t old[4];
        memcpy(old, cr.uid, sizeof old);
        rc = cred_transition(ids, which, (uint32_t)c->args[0], (uint32_t)c->args[1], (uint32_t)c->args[2], priv);
        if (rc == 0 && !gid_call)
            cred_fixup(&cr, old, which);
    }
    if (rc == 0 && lxb_notif_valid(c->listener_fd, c->id) < 0)
        rc = -ENOENT;
    if (rc == 0)
        rc = cred_put(&cr);
    if (which == 'f') {         /* setfsuid returns the old fsuid, always */
        r->error = 0;
        r->val = oldfs;
        return;
    }
    answer(rc, r);
}

/* setgroups(2): CAP_SETGID only (a fake euid 0) */
void lxb_fr_setgroups(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct fcred cr;
    uint64_t size = c->args[0];
    int rc;

    if (size > 65536) {
        answer(-EINVAL, r);
        return;
    }
    if (size > CRED_GROUPS) {
        answer(-ENOMEM, r);     /* more than the record holds (docs/DIFFERENCES.md) */
        return;
    }
    if ((rc = caller_maps(c->pid)) < 0 || (rc = cred_get(c->pid, &cr)) < 0) {
        answer(rc, r);
        return;
    }
    if (!cred_capable(c->pid, &cr, CAP_SETGID_BIT)) {
        answer(-EPERM, r);
        return;
    }
    if (size && lxb_read_mem(c->pid, c->args[1], cr.groups, size * 4) != (int64_t)(size * 4)) {
        answer(-EFAULT, r);
        return;
    }
    cr.ngroups = (uint32_t)size;
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        answer(-ENOENT, r);
        return;
    }
    answer(cred_put(&cr), r);
}

/* getuid(2) .. getgroups(2): the caller's fake ids */
void lxb_fr_getid(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct fcred cr;
    int rc;

    if ((rc = caller_maps(c->pid)) < 0 || (rc = cred_get(c->pid, &cr)) < 0) {
        answer(rc, r);
        return;
    }
    /* an inherited record becomes the caller's own: later changes of its
       parent are not its */
    if (rc == 2)
        cred_put(&cr);
    switch (c->nr) {
    case SYS_getuid: r->val = cr.uid[0]; break;
    case SYS_geteuid: r->val = cr.uid[1]; break;
    case SYS_getgid: r->val = cr.gid[0]; break;
    case SYS_getegid: r->val = cr.gid[1]; break;
    case SYS_getresuid:
    case SYS_getresgid: {
        uint32_t *ids = c->nr == SYS_getresuid ? cr.uid : cr.gid;
        int i;
        if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
            answer(-ENOENT, r);
            return;
        }
        for (i = 0; i < 3; i++)
            if (lxb_write_mem(c->pid, c->args[i], &ids[i], 4) != 4) {
                answer(-EFAULT, r);
                return;
            }
        r->val = 0;
        break;
    }
    case SYS_getgroups: {
        int size = (int)c->args[0];
        if (size < 0) {
            answer(-EINVAL, r);
            return;
        }
        if (size) {
            if ((uint32_t)size < cr.ngroups) {
                answer(-EINVAL, r);
                return;
            }
            if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
                answer(-ENOENT, r);
                return;
            }
            if (cr.ngroups &&
                lxb_write_mem(c->pid, c->args[1], cr.groups, cr.ngroups * 4) != (int64_t)(cr.ngroups * 4)) {
                answer(-EFAULT, r);
                return;
            }
        }
        r->val = cr.ngroups;
        break;
    }
    default:
        answer(-ENOSYS, r);
        return;
    }
    r->error = 0;
}

/* chown_ok and chgrp_ok of fs/attr.c, for a caller without CAP_CHOWN: the
   file's owner (its fake fsuid) may give the file to itself, and to the
   file's group or one of its own.  A symlink, fifo or socket without a
   record has no known owner (OTHER FILES: its maker is not seen, the kernel
   shows the one real id), so the caller may take it as its owner would */
static int chown_ok(uint32_t pid, int known, const struct record *rec, uint32_t owner, uint32_t group)
{
    struct fcred cr;
    uint32_t fuid, i;

    if (cred_get_ids(pid, &cr) < 0)
        return -EPERM;
    fuid = known ? rec->uid : cr.uid[3];
    if (owner != (uint32_t)-1 && (fuid != cr.uid[3] || owner != fuid))
        return -EPERM;
    if (group == (uint32_t)-1)
        return 0;
    if (fuid != cr.uid[3])
        return -EPERM;
    if ((known && group == rec->gid) || group == cr.gid[3])
        return 0;
    for (i = 0; i < cr.ngroups && i < CRED_GROUPS; i++)
        if (cr.groups[i] == group)
            return 0;
    return -EPERM;
}

static int fake_capable(uint32_t pid, int bit)
{
    struct fcred cr;
    if (cred_get(pid, &cr) < 0)
        return 0;
    return cred_capable(pid, &cr, bit);
}

/* ---- capabilities (CAPABILITIES above) ---- */

#define CAP_V1 0x19980330u
#define CAP_V2 0x20071026u
#define CAP_V3 0x20080522u

struct cap_header {
    uint32_t version;
    int32_t pid;
};

struct cap_data {
    uint32_t effective, permitted, inheritable;
};

/* the header's version: the number of cap_data (1, 2), or 0 when unknown
   (then Linux writes its own version back: EINVAL) */
static int cap_words(uint32_t version)
{
    return version == CAP_V1 ? 1 : version == CAP_V2 || version == CAP_V3 ? 2 : 0;
}

static int cap_bad_version(const struct lxb_call *c)
{
    uint32_t v = CAP_V3;
    if (lxb_notif_valid(c->listener_fd, c->id) < 0)
        return -ENOENT;
    return lxb_write_mem(c->pid, c->args[0], &v, sizeof v) == (int64_t)sizeof v ? -EINVAL : -EFAULT;
}

/* capget(2): the process's fake sets; another process's are the kernel's */
void lxb_fr_capget(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct cap_header h;
    struct cap_data d[2];
    struct fcred cr;
    int words, rc;

    (void)s;
    if (lxb_read_mem(c->pid, c->args[0], &h, sizeof h) != (int64_t)sizeof h) {
        answer(-EFAULT, r);
        return;
    }
    words = cap_words(h.version);
    if (!words) {
        rc = cap_bad_version(c);
        /* a NULL data pointer asks for the version alone: 0 (kernel/capability.c) */
        answer(c->args[1] == 0 && rc == -EINVAL ? 0 : rc, r);
        return;
    }
    if (c->args[1] == 0) {
        answer(0, r);
        return;
    }
    if (h.pid < 0) {
        answer(-EINVAL, r);
        return;
    }
    if (h.pid != 0 && h.pid != zone_id(c->pid, "NSpid")) {
        r->flags = LXB_REPLY_CONTINUE;  /* reads, no path: the kernel's answer */
        return;
    }
    if ((rc = caller_maps(c->pid)) < 0 || (rc = cred_get(c->pid, &cr)) < 0) {
        answer(rc, r);
        return;
    }
    d[0].effective = (uint32_t)cr.cap_eff;
    d[0].permitted = (uint32_t)cr.cap_prm;
    d[0].inheritable = (uint32_t)cr.cap_inh;
    d[1].effective = (uint32_t)(cr.cap_eff >> 32);
    d[1].permitted = (uint32_t)(cr.cap_prm >> 32);
    d[1].inheritable = (uint32_t)(cr.cap_inh >> 32);
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        answer(-ENOENT, r);
        return;
    }
    if (lxb_write_mem(c->pid, c->args[1], d, words * sizeof d[0]) != (int64_t)(words * sizeof d[0])) {
        answer(-EFAULT, r);
        return;
    }
    answer(0, r);
}

/* capset(2): the fake sets changed by Linux's rules (cap_capset), recorded;
   the real sets stay */
void lxb_fr_capset(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct cap_header h;
    struct cap_data d[2];
    struct fcred cr;
    uint64_t eff, prm, inh, bset;
    int words, rc;

    (void)s;
    memset(d, 0, sizeof d);
    if (lxb_read_mem(c->pid, c->args[0], &h, sizeof h) != (int64_t)sizeof h) {
        answer(-EFAULT, r);
        return;
    }
    if (!(words = cap_words(h.version))) {
        answer(cap_bad_version(c), r);
        return;
    }
    if (h.pid != 0 && h.pid != zone_id(c->pid, "NSpid")) {
        answer(-EPERM, r);
        return;
    }
    if (lxb_read_mem(c->pid, c->args[1], d, words * sizeof d[0]) != (int64_t)(words * sizeof d[0])) {
        answer(-EFAULT, r);
        return;
    }
    eff = ((uint64_t)d[1].effective << 32 | d[0].effective) & CAP_VALID;
    prm = ((uint64_t)d[1].permitted << 32 | d[0].permitted) & CAP_VALID;
    inh = ((uint64_t)d[1].inheritable << 32 | d[0].inheritable) & CAP_VALID;
    if ((rc = caller_maps(c->pid)) < 0 || (rc = cred_get(c->pid, &cr)) < 0) {
        answer(rc, r);
        return;
    }
    bset = status_hex(c->pid, "CapBnd");
    if ((!((cr.cap_eff >> CAP_SETPCAP_BIT) & 1) && (inh & ~(cr.cap_inh | cr.cap_prm))) ||
        (inh & ~(cr.cap_inh | bset)) || (prm & ~cr.cap_prm) || (eff & ~prm)) {
        answer(-EPERM, r);
        return;
    }
    cr.cap_eff = eff;
    cr.cap_prm = prm;
    cr.cap_inh = inh;
    cr.cap_amb &= prm & inh;
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        answer(-ENOENT, r);
        return;
    }
    answer(cred_put(&cr), r);
}

#define PR_GET_KEEPCAPS_ 7
#define PR_SET_KEEPCAPS_ 8
#define PR_CAPBSET_DROP_ 24
#define PR_GET_SECUREBITS_ 27
#define PR_SET_SECUREBITS_ 28
#define PR_CAP_AMBIENT_ 47

/* prctl(2): the capability operations on the fake record (cap_task_prctl);
   every other operation is the kernel's (decided on a register: CONTINUE) */
void lxb_fr_prctl(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    uint64_t op = c->args[0], a2 = c->args[1], a3 = c->args[2], a4 = c->args[3], a5 = c->args[4];
    struct fcred cr;
    int rc;

    (void)s;
    if (op != PR_GET_KEEPCAPS_ && op != PR_SET_KEEPCAPS_ && op != PR_CAPBSET_DROP_ && op != PR_GET_SECUREBITS_ &&
        op != PR_SET_SECUREBITS_ && op != PR_CAP_AMBIENT_) {
        r->flags = LXB_REPLY_CONTINUE;
        return;
    }
    if ((rc = caller_maps(c->pid)) < 0 || (rc = cred_get(c->pid, &cr)) < 0) {
        answer(rc, r);
        return;
    }
    switch (op) {
    case PR_GET_KEEPCAPS_:
        r->error = 0;
        r->val = (cr.securebits & SB_KEEP_CAPS) != 0;
        return;
    case PR_GET_SECUREBITS_:
        r->error = 0;
        r->val = cr.securebits;
        return;
    case PR_SET_KEEPCAPS_:
        if (a2 > 1) {
            answer(-EINVAL, r);
            return;
        }
        if (cr.securebits & SB_KEEP_CAPS_LOCKED) {
            answer(-EPERM, r);
            return;
        }
        cr.securebits = a2 ? cr.securebits | SB_KEEP_CAPS : cr.securebits & ~SB_KEEP_CAPS;
        break;
    case PR_SET_SECUREBITS_:
        /* locked bits stay, locks stay, no unknown bits, CAP_SETPCAP */
        if ((((cr.securebits & SB_LOCKS) >> 1) & (cr.securebits ^ a2)) || (cr.securebits & SB_LOCKS & ~a2) ||
            (a2 & ~(uint64_t)SB_ALL) || !cred_capable(c->pid, &cr, CAP_SETPCAP_BIT)) {
            answer(-EPERM, r);
            return;
        }
        cr.securebits = (uint32_t)a2;
        break;
    case PR_CAPBSET_DROP_:
        if (a2 > CAP_LAST_BIT) {
            answer(-EINVAL, r);
            return;
        }
        if (!cred_capable(c->pid, &cr, CAP_SETPCAP_BIT)) {
            answer(-EPERM, r);
            return;
        }
        r->flags = LXB_REPLY_CONTINUE;  /* the bounding set is real */
        return;
    case PR_CAP_AMBIENT_:
        if (a2 == 4) {          /* PR_CAP_AMBIENT_CLEAR_ALL */
            if (a3 | a4 | a5) {
                answer(-EINVAL, r);
                return;
            }
            cr.cap_amb = 0;
            break;
        }
        if (a3 > CAP_LAST_BIT || a4 || a5) {
            answer(-EINVAL, r);
            return;
        }
        if (a2 == 1) {          /* PR_CAP_AMBIENT_IS_SET */
            r->error = 0;
            r->val = (cr.cap_amb >> a3) & 1;
            return;
        }
        if (a2 == 2) {          /* PR_CAP_AMBIENT_RAISE */
            if (!((cr.cap_prm >> a3) & 1) || !((cr.cap_inh >> a3) & 1) ||
                (cr.securebits & SB_NO_CAP_AMBIENT_RAISE)) {
                answer(-EPERM, r);
                return;
            }
            cr.cap_amb |= 1ULL << a3;
        } else if (a2 == 3) {   /* PR_CAP_AMBIENT_LOWER */
            cr.cap_amb &= ~(1ULL << a3);
        } else {
            answer(-EINVAL, r);
            return;
        }
        break;
    }
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        answer(-ENOENT, r);
        return;
    }
    answer(cred_put(&cr), r);
}

/* ---- niceness ----
 *
 * NICENESS
 *
 *   Lowering a nice value needs CAP_SYS_NICE against the host's user
 *   namespace, which a zone's root never holds (the zone drops it), so
 *   nice -n -5 fails as for a user.  Under --fakeroot (a default zone
 *   notifies nothing, so there it stays refused) the brand emulates a
 *   floor instead: a thread's setpriority(PRIO_PROCESS) of itself (who 0 or
 *   its own tid) is recorded here, keyed by host tid and start time, and its
 *   getpriority of itself answers the record.  Lowering below the current
 *   value is allowed as Linux would allow it to root (zone euid 0 with a
 *   non-empty effective set; under --fakeroot the fake ones) or within
 *   RLIMIT_NICE, else EACCES.  The host's value becomes max(asked, floor),
 *   the floor being the thread's real value when first recorded: the host
 *   priority is never raised above where the zone put the thread.  A thread
 *   without a record inherits its creator's (its thread group leader's, else
 *   the nearest recorded ancestor's) while its real value is still the one
 *   that record set.  Other targets (another pid, PRIO_PGRP, PRIO_USER) and
 *   /proc/PID/stat are the kernel's: they show the real value.
 */

#define NICE_SLOTS 4096

struct fnice {
    uint32_t tid;                /* host tid; 0: a free slot */
    unsigned long long start;
    int nice;                    /* as the zone sees it */
    int floor;                   /* the real value when first recorded */
    int real;                    /* the real value this record set */
};

static pthread_mutex_t nice_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fnice nices[NICE_SLOTS];

/* the real nice (field 19), ppid and start time of host pid or tid */
static int proc_stat_nice(uint32_t pid, int *nice, uint32_t *ppid, unsigned long long *start)
{
    char path[64], buf[1024], *p;
    long n, f[19];
    int i;

    snprintf(path, sizeof path, "/proc/%u/stat", pid);
    n = lxb_read_small(path, buf, sizeof buf);
    if (n < 0)
        return (int)n;
    p = strrchr(buf, ')');
    if (!p || !p[1] || !p[2])
        return -EIO;
    p += 3;                     /* ") S" */
    for (i = 0; i < 19; i++)
        f[i] = strtol(p, &p, 10);
    /* f[0] is field 4 (ppid), f[15] field 19 (nice), f[18] field 22 (starttime) */
    if (nice)
        *nice = (int)f[15];
    if (ppid)
        *ppid = (uint32_t)f[0];
    if (start)
        *start = (unsigned long long)f[18];
    return 0;
}

/* the slot of (tid, start), -1 if none; nice_lock held */
static int nice_find(uint32_t tid, unsigned long long start)
{
    int i;
    for (i = 0; i < NICE_SLOTS; i++)
        if (nices[i].tid == tid && nices[i].start == start)
            return i;
    return -1;
}

static void nice_put(const struct fnice *n)
{
    int i, pass;
    pthread_mutex_lock(&nice_lock);
    i = nice_find(n->tid, n->start);
    for (pass = 0; i < 0 && pass < 2; pass++) {
        int j;
        for (j = 0; j < NICE_SLOTS && i < 0; j++)
            if (nices[j].tid == 0)
                i = j;
        if (i < 0)              /* free the slots of threads gone */
            for (j = 0; j < NICE_SLOTS; j++) {
                unsigned long long st;
                if (proc_stat_nice(nices[j].tid, NULL, NULL, &st) < 0 || st != nices[j].start)
                    nices[j].tid = 0;
            }
    }
    if (i >= 0)
        nices[i] = *n;
    pthread_mutex_unlock(&nice_lock);
}

/* the calling thread's niceness into *out: 1 recorded (or inherited), 0 real */
static int nice_get(uint32_t tid, struct fnice *out)
{
    char v[32];
    uint32_t cur, ppid;
    unsigned long long start, cstart, pstart;
    int real, depth, i;

    if (proc_stat_nice(tid, &real, &ppid, &start) < 0)
        return -ENOENT;
    memset(out, 0, sizeof *out);
    out->tid = tid;
    out->start = start;
    out->nice = out->floor = out->real = real;
    pthread_mutex_lock(&nice_lock);
    i = nice_find(tid, start);
    if (i >= 0) {
        *out = nices[i];
        pthread_mutex_unlock(&nice_lock);
        return 1;
    }
    pthread_mutex_unlock(&nice_lock);
    /* its thread group's leader, then the leader's ancestors */
    if (caller_status(tid, "Tgid", v, sizeof v) < 0)
        return 0;
    cur = (uint32_t)strtoul(v, NULL, 10);
    cstart = start;
    for (depth = 0; depth < 64 && cur > 1; depth++) {
        int pnice;
        uint32_t next;
        if (proc_stat_nice(cur, &pnice, &next, &pstart) < 0 || pstart > cstart)
            break;
        pthread_mutex_lock(&nice_lock);
        i = nice_find(cur, pstart);
        if (i >= 0 && nices[i].real == real) {
            out->nice = nices[i].nice;
            out->floor = nices[i].floor;
            out->real = real;
            pthread_mutex_unlock(&nice_lock);
            return 1;
        }
        pthread_mutex_unlock(&nice_lock);
        if (i >= 0)
            break;              /* recorded, but its value changed since: the real one */
        cur = next;
        cstart = pstart;
    }
    return 0;
}

/* is who (PRIO_PROCESS) the calling thread itself? */
static int nice_self(const struct lxb_call *c, uint64_t which, uint64_t who)
{
    return which == 0 && ((int)who == 0 || (long)(int)who == zone_id(c->pid, "NSpid"));
}

/* getpriority(2): a thread's own recorded niceness (20 - nice, as the syscall
   answers); anything else the kernel's */
void sys_getpriority(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct fnice n;

    (void)s;
    if (!nice_self(c, c->args[0], c->args[1]) || nice_get(c->pid, &n) <= 0) {
        r->flags = LXB_REPLY_CONTINUE;
        return;
    }
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        answer(-ENOENT, r);
        return;
    }
    r->error = 0;
    r->val = 20 - n.nice;
}

/* may the caller lower its nice to prio: root as Linux's root, or RLIMIT_NICE */
static int nice_may_lower(uint32_t pid, int prio)
{
    struct fcred cr;
    char path[64], buf[4096], *p;

    if (caller_maps(pid) == 0 && cred_get(pid, &cr) >= 0 && cr.uid[1] == 0 &&
        (cr.cap_eff & status_hex(pid, "CapEff")) != 0)
        return 1;
    snprintf(path, sizeof path, "/proc/%u/limits", pid);
    if (lxb_read_small(path, buf, sizeof buf) > 0 && (p = strstr(buf, "Max nice priority"))) {
        long soft = strtol(p + 17, NULL, 10);
        return 20 - prio <= soft;
    }
    return 0;
}

/* setpriority(2) of the calling thread itself: recorded, the host's value
   never below the floor; any other target the kernel's */
void sys_setpriority(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    struct fnice n;
    int prio = (int)c->args[2], host;

    (void)s;
    if (!nice_self(c, c->args[0], c->args[1]) || nice_get(c->pid, &n) < 0) {
        r->flags = LXB_REPLY_CONTINUE;
        return;
    }
    if (prio < -20)
        prio = -20;
    if (prio > 19)
        prio = 19;
    if (prio < n.nice && !nice_may_lower(c->pid, prio)) {
        answer(-EACCES, r);
        return;
    }
    if (lxb_notif_valid(c->listener_fd, c->id) < 0) {
        answer(-ENOENT, r);
        return;
    }
    host = prio > n.floor ? prio : n.floor;
    /* the supervisor is the zone's owner on the host: it may raise a nice
       value; lowering the host's value (toward the floor) may be refused,
       then the host keeps the higher one */
    if (host != n.real && setpriority(PRIO_PROCESS, (id_t)c->pid, host) == 0)
        n.real = host;
    else if (host != n.real)
        proc_stat_nice(c->pid, &n.real, NULL, NULL);
    n.nice = prio;
    nice_put(&n);
    answer(0, r);
}

/*
 * PEER CREDENTIALS
 *
 *   getsockopt(SO_PEERCRED) of a unix socket answers the peer's pid, euid
 *   and egid.  The kernel knows only the real ids, and every process of the
 *   zone is the one host id (root in the zone), so a server that trusts its
 *   client by them saw root where the client had su'ed: PostgreSQL's peer
 *   authentication refused `su postgres -c psql` ("Peer authentication
 *   failed"), as MariaDB's unix_socket and D-Bus would.  The supervisor takes
 *   the caller's socket (pidfd_getfd), asks the kernel, and answers the
 *   peer's pid as the caller's pid namespace shows it (0 when it does not)
 *   and, for a peer it shows, that process's fake effective ids
 *   (CREDENTIALS); Linux keeps the ids the peer had at connect(2) or
 *   listen(2), the zone the ones it has when asked.  Every other getsockopt
 *   is the kernel's: level and optname are registers, nothing read from
 *   guest memory decides the CONTINUE.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/nsfs.h>

/* the number of ids on a "NStgid:" line, and the last *want-th of them
   (want counted from the first, 1-based; 0: the last) */
static int ns_ids(uint32_t pid, int want, long *id)
{
    char v[128], *p = v, *e;
    int n = 0;

    if (caller_status(pid, "NStgid", v, sizeof v) < 0)
        return -ENOENT;
    for (;;) {
        long x = strtol(p, &e, 10);
        if (e == p)
            break;
        n++;
        if (want == 0 || n == want)
            *id = x;
        p = e;
    }
    return n;
}

/* host tgid peer as the caller's pid namespace shows it: 0 when it does not */
static long peer_pid(uint32_t caller, uint32_t peer)
{
    char path[64];
    struct stat cst, pst;
    long id = 0, ignored;
    int nc, np, fd, up, same;

    nc = ns_ids(caller, 0, &ignored);
    np = ns_ids(peer, 0, &ignored);
    if (nc <= 0 || np < nc)
        return 0;
    snprintf(path, sizeof path, "/proc/%u/ns/pid", caller);
    if (stat(path, &cst) < 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%u/ns/pid", peer);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    for (up = np - nc; fd >= 0 && up > 0; up--) {
        int parent = ioctl(fd, NS_GET_PARENT);
        close(fd);
        fd = parent;
    }
    same = fd >= 0 && fstat(fd, &pst) == 0 && pst.st_dev == cst.st_dev && pst.st_ino == cst.st_ino;
    if (fd >= 0)
        close(fd);
    if (!same || ns_ids(peer, nc, &id) < nc)
        return 0;
    return id;
}

void lxb_fr_getsockopt(struct lxb_sup *s, const struct lxb_call *c, struct lxb_reply *r)
{
    int fd = (int)c->args[0], hfd = -1, rc = 0;
    struct ucred uc;
    struct fcred cr;
    socklen_t ulen = sizeof uc;
    int32_t len;
    long zone_peer;

    (void)s;
    if ((int)c->args[1] != SOL_SOCKET || (int)c->args[2] != SO_PEERCRED) {
        r->flags = LXB_REPLY_CONTINUE;
        return;
    }
    if (lxb_read_mem(c->pid, c->args[4], &len, sizeof len) != sizeof len) {
        answer(-EFAULT, r);
        return;
    }
    if (len < 0) {
        answer(-EINVAL, r);
        return;
    }
    if ((hfd = caller_fd(c, fd)) < 0) {
        rc = hfd;
        goto out;
    }
    if (getsockopt(hfd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) < 0) {
        rc = -errno;
        goto out;
    }
    if ((rc = caller_maps(c->pid)) < 0)
        goto out;
    zone_peer = uc.pid > 0 ? peer_pid(c->pid, (uint32_t)uc.pid) : 0;
    if (zone_peer > 0 && cred_get_ids((uint32_t)uc.pid, &cr) >= 0) {
        uc.uid = cr.uid[1];
        uc.gid = cr.gid[1];
    } else if (uc.uid != (uid_t)-1) {
        uc.uid = to_zone(&uid_maps, uc.uid);
        uc.gid = to_zone(&gid_maps, uc.gid);
    }
    uc.pid = (pid_t)zone_peer;
    if ((size_t)len > sizeof uc)
        len = sizeof uc;
    if (lxb_write_mem(c->pid, c->args[3], &uc, (size_t)len) != len ||
        lxb_write_mem(c->pid, c->args[4], &len, sizeof len) != sizeof len) {
        rc = -EFAULT;
        goto out;
    }
    rc = 0;
out:
    if (hfd >= 0)
        close(hfd);
    answer(rc, r);
}
