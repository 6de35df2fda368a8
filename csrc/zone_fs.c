/*
 * zone_fs.c: the zone's file system, built by init in its own mount
 * namespace, then pivoted into.
 *
 *   /            the rootfs bound (or, --ephemeral, an overlay with its upper
 *                layer in a tmpfs)
 *   /proc        a fresh proc of the zone's pid namespace; the host-wide
 *                files masked (runc's default list), /proc/sys read-only but
 *                for the sysctls a namespace of the zone owns
 *   /sys         read-only; firmware masked
 *   /dev         a small tmpfs: host null, zero, full, random, urandom, tty
 *                bound in, a devpts of its own, /dev/shm a bounded tmpfs
 *   /tmp         a bounded tmpfs
 *   /etc/hosts   the zone's, over a missing or empty file; /etc/hostname
 *                likewise, or over one that names the host
 *   --bind       host trees cloned with open_tree, read-only ones with
 *                mount_setattr, moved onto their destination after the pivot
 *
 * Every path inside the rootfs is resolved there (lxb_open_in_root), and the
 * mounts target the opened fds.
 *
 * MOUNT POINTS.  Set-up writes nothing to a rootfs that is not --ephemeral.
 * A mount point the rootfs lacks (a --bind destination, /proc, /dev, /tmp)
 * is made only in a file system set-up itself mounted (/tmp, /dev, a
 * --tmpfs, the --ephemeral overlay, or one of the tmpfs below).  Otherwise
 * the deepest existing directory above it, P, is shadowed: a small tmpfs
 * takes P's owner and mode, gets each of P's entries (directories and files
 * bound from the rootfs, recursively; symlinks copied), and is moved over P;
 * the missing path is then made in it.  Writes below P's entries still
 * reach the rootfs; only P's own entry list lives in the tmpfs (an entry
 * added directly in P ends with the zone; P's entries cannot be renamed or
 * removed: EBUSY), as in bwrap's tmpfs root.  Why not an overlay over P:
 * see docs/DESIGN.md, "Mount points".  The guest runs in a user namespace below
 * init's, so each mount made here is locked: it cannot be unmounted, moved
 * or made writable from the guest (see SECURITY.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <limits.h>
#include <unistd.h>

#include "zone_int.h"

/* host-wide /proc and /sys entries the zone does not see (runc's
   maskedPaths, plus the kernel's page maps): files get /dev/null bound over
   them, directories an empty read-only tmpfs */
static const char *const masked[] = {
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/key-users", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/proc/kpagecount",
    "/proc/kpageflags", "/proc/kpagecgroup", "/proc/sysrq-trigger", "/proc/kmsg", "/proc/config.gz",
    "/sys/firmware", "/sys/devices/virtual/powercap", "/sys/kernel/debug", "/sys/kernel/tracing",
    "/sys/kernel/security", "/sys/fs/bpf", NULL,
};

/* read-only, as runc's readonlyPaths */
static const char *const readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", NULL};

/* sysctls a namespace of the zone owns: they stay writable under the
   read-only /proc/sys, and Linux checks them against the zone's namespaces */
static const char *const own_sysctls[] = {
    "/proc/sys/net", "/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname",
    "/proc/sys/kernel/shmmax", "/proc/sys/kernel/shmall", "/proc/sys/kernel/shmmni",
    "/proc/sys/kernel/shm_rmid_forced", "/proc/sys/kernel/msgmax", "/proc/sys/kernel/msgmnb",
    "/proc/sys/kernel/msgmni", "/proc/sys/kernel/sem", "/proc/sys/fs/mqueue", NULL,
};

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};

struct fsctx {
    int ctl;
    int root;                    /* O_PATH fd of the zone's root */
    uid_t uid;                   /* owner of what set-up creates in the rootfs */
    gid_t gid;
    const char *stage;           /* staging tmpfs, init's private scratch */
    int nfile;
    const char *root_path;       /* the zone's root in the staging tmpfs */
    int ro_root;                 /* --read-only: shadow binds made read-only */
    int nours;                   /* mounts set-up made (by statx mount id), */
    uint64_t ours[LXB_MAX_STEPS + 8];  /* where a mount point may be created */
    int nshadow;                 /* the shadowing tmpfs (O_PATH fds of their roots) */
    int shadow[32];
};

/* the flags a remount must keep (locked in a user namespace) */
static unsigned long kept_flags(const char *path)
{
    struct statvfs sv;
    unsigned long f = 0;
    if (statvfs(path, &sv) != 0)
        return 0;
    if (sv.f_flag & ST_NOSUID)
        f |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        f |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        f |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        f |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        f |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        f |= MS_RELATIME;
    return f;
}

static int remount_ro(const char *fdpath)
{
    if (mount(NULL, fdpath, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(fdpath), NULL) != 0)
        return -errno;
    return 0;
}

/* open PATH in the zone's root or stop the zone naming it */
static int at(struct fsctx *c, const char *path, int flags)
{
    int fd = lxb_open_in_root(c->root, path, flags);
    if (fd < 0)
        lxb_die_step(c->ctl, path, -fd);
    return fd;
}

static void mount_at(struct fsctx *c, const char *src, int fd, const char *type, unsigned long flags,
                     const char *data, const char *what)
{
    char p[64];
    lxb_fd_path(p, sizeof p, fd);
    if (mount(src, p, type, flags, data) != 0)
        lxb_die_step(c->ctl, what, errno);
}

static void mask(struct fsctx *c, const char *path)
{
    char p[64];
    struct stat st;
    int fd = lxb_open_in_root(c->root, path, O_PATH | O_NOFOLLOW);

    if (fd < 0)
        return;                  /* not on this kernel */
    lxb_fd_path(p, sizeof p, fd);
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (mount("lxbrand-masked", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0,mode=0555") != 0)
            lxb_die_step(c->ctl, path, errno);
    } else if (mount("/dev/null", p, NULL, MS_BIND, NULL) != 0) {
        lxb_die_step(c->ctl, path, errno);
    }
    close(fd);
}

/* bind PATH onto itself (recursively), optionally read-only */
static void self_bind(struct fsctx *c, const char *path, int ro, int must)
{
    char p[64];
    int fd = lxb_open_in_root(c->root, path, O_PATH | O_NOFOLLOW);

    if (fd < 0) {
        if (must)
            lxb_die_step(c->ctl, path, -fd);
        return;
    }
    lxb_fd_path(p, sizeof p, fd);
    if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) != 0)
        lxb_die_step(c->ctl, path, errno);
    close(fd);
    if (ro) {
        int rc;
        fd = at(c, path, O_PATH | O_NOFOLLOW);
        lxb_fd_path(p, sizeof p, fd);
        if ((rc = remount_ro(p)) < 0)
            lxb_die_step(c->ctl, path, -rc);
        close(fd);
    }
}

/* show TEXT at PATH (an existing file in the zone): a file of the staging
   tmpfs bound over it, read-only unless `writable` (writes end with the zone) */
static void show_file(struct fsctx *c, const char *path, const char *text, int writable)
{
    char file[256], p[64];
    int fd, target, rc;

    snprintf(file, sizeof file, "%s/file-%d", c->stage, c->nfile++);
    fd = open(file, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, writable ? 0644 : 0444);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        lxb_die_step(c->ctl, "write the zone's generated files", errno);
    if (writable)
        fchown(fd, c->uid, c->gid);
    close(fd);
    target = at(c, path, O_PATH | O_NOFOLLOW);
    lxb_fd_path(p, sizeof p, target);
    if (mount(file, p, NULL, MS_BIND, NULL) != 0)
        lxb_die_step(c->ctl, path, errno);
    close(target);
    if (!writable) {
        target = at(c, path, O_PATH | O_NOFOLLOW);
        lxb_fd_path(p, sizeof p, target);
        if ((rc = remount_ro(p)) < 0)
            lxb_die_step(c->ctl, path, -rc);
        close(target);
    }
}

/* the mount id of fd's mount (statx), or 0 */
static uint64_t mount_id(int fd)
{
    struct statx sx;
    if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID))
        return 0;
    return sx.stx_mnt_id;
}

/* remember that the mount PATH now shows is set-up's own */
static void own_mount(struct fsctx *c, const char *path)
{
    int fd = lxb_open_in_root(c->root, path, O_PATH | O_DIRECTORY);
    if (fd < 0)
        return;
    if (c->nours < (int)(sizeof c->ours / sizeof c->ours[0]))
        c->ours[c->nours++] = mount_id(fd);
    close(fd);
}

static int is_ours(struct fsctx *c, int fd)
{
    uint64_t id = mount_id(fd);
    int i;
    for (i = 0; id && i < c->nours; i++)
        if (c->ours[i] == id)
            return 1;
    return 0;
}

/* put one entry of the shadowed directory `dir` into the tmpfs `t`: a
 * symlink copied, anything else bound from the rootfs (recursively: mounts
 * set-up made below it come along).  The entry is opened O_NOFOLLOW and
 * used through that fd alone. */
static int shadow_entry(struct fsctx *c, int dir, int t, const char *name)
{
    char target[4096];
    struct stat st;
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    int e, tree, at_fd, rc = 0;
    ssize_t n;

    e = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (e < 0)
        return errno == ENOENT ? 0 : -errno;     /* gone meanwhile */
    if (fstat(e, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (S_ISLNK(st.st_mode)) {
        n = readlinkat(e, "", target, sizeof target - 1);
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        target[n] = 0;
        if (symlinkat(target, t, name) != 0) {
            rc = -errno;
            goto out;
        }
        fchownat(t, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
        goto out;
    }
    if (S_ISDIR(st.st_mode))
        rc = mkdirat(t, name, 0755) != 0 ? -errno : 0;
    else {
        int f = openat(t, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        rc = f < 0 ? -errno : close(f);
    }
    if (rc < 0)
        goto out;
    tree = (int)syscall(SYS_open_tree, e, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0) {
        rc = -errno;
        goto out;
    }
    /* --read-only: the entry's own mount, as the root's (not mounts below it) */
    if (c->ro_root && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &ro, sizeof ro) != 0)
        rc = -errno;
    at_fd = openat(t, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (rc == 0 && at_fd < 0)
        rc = -errno;
    if (rc == 0 &&
        syscall(SYS_move_mount, tree, "", at_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        rc = -errno;
    if (at_fd >= 0)
        close(at_fd);
    close(tree);
out:
    close(e);
    return rc;
}

/* shadow directory PATH (open as `dir`) with a tmpfs that shows its entries
 * (see MOUNT POINTS above); the zone's root fd is reopened if PATH is / */
static int shadow_dir(struct fsctx *c, const char *path, int dir)
{
    char stage[256], p[64], buf[8192];
    struct stat st, rst;
    int t = -1, rd = -1, rc = 0, is_root;
    long n, off;

    if (c->nshadow >= (int)(sizeof c->shadow / sizeof c->shadow[0]))
        return -E2BIG;
    if (fstat(dir, &st) != 0 || fstat(c->root, &rst) != 0)
        return -errno;
    is_root = st.st_dev == rst.st_dev && st.st_ino == rst.st_ino;
    snprintf(stage, sizeof stage, "%s/shadow-%d", c->stage, c->nshadow);
    if (mkdir(stage, 0700) != 0)
        return -errno;
    /* the guest can add entries to it: bounded */
    snprintf(buf, sizeof buf, "mode=%o,size=1m,nr_inodes=65536", st.st_mode & 07777);
    if (mount("lxbrand-mountpoints", stage, "tmpfs", MS_NOSUID | MS_NODEV, buf) != 0)
        return -errno;
    t = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t < 0)
        return -errno;
    fchown(t, st.st_uid, st.st_gid);
    rd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rd < 0) {
        rc = -errno;
        goto out;
    }
    /* getdents64, not readdir: nothing allocates between clone and exec */
    while ((n = syscall(SYS_getdents64, rd, buf, sizeof buf)) > 0) {
        for (off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            if (!strcmp(d->name, ".") || !strcmp(d->name, ".."))
                continue;
            if ((rc = shadow_entry(c, dir, t, d->name)) < 0)
                goto out;
        }
    }
    if (n < 0) {
        rc = -errno;
        goto out;
    }
    /* over PATH: the tmpfs (and the binds in it) become one tree there */
    lxb_fd_path(p, sizeof p, dir);
    if (mount(stage, p, NULL, MS_MOVE, NULL) != 0) {
        rc = -errno;
        goto out;
    }
    if (is_root) {
        int nr = open(c->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (nr < 0) {
            rc = -errno;
            goto out;
        }
        close(c->root);
        c->root = nr;
    }
    c->shadow[c->nshadow++] = lxb_open_in_root(c->root, path, O_PATH | O_DIRECTORY);
    own_mount(c, path);
out:
    if (rd >= 0)
        close(rd);
    if (t >= 0)
        close(t);
    return rc;
}

/* an O_PATH fd of mount point PATH (a directory or, !is_dir, a file) in the
 * zone's root, made where the rootfs lacks it without writing to the rootfs
 * (MOUNT POINTS above), or -errno */
static int mountpoint(struct fsctx *c, const char *path, int is_dir)
{
    char buf[4096], *p, *slash, *next;
    int fd, dir, rc;

    fd = lxb_open_in_root(c->root, path, O_PATH);
    if (fd != -ENOENT)
        return fd;
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    /* the deepest existing directory: prefixes of PATH, resolved in the root */
    dir = lxb_open_in_root(c->root, "/", O_PATH | O_DIRECTORY);
    if (dir < 0)
        return dir;
    for (p = buf; *p == '/'; p++)
        ;
    for (;;) {
        slash = strchr(p, '/');
        if (slash)
            *slash = 0;
        fd = lxb_open_in_root(c->root, buf, O_PATH | O_DIRECTORY);
        if (slash)
            *slash = '/';
        if (fd == -ENOENT)
            break;
        if (fd < 0) {
            close(dir);
            return fd;
        }
        close(dir);
        dir = fd;
        if (!slash) {          /* cannot be: PATH itself was missing */
            close(dir);
            return -ENOENT;
        }
        for (p = slash + 1; *p == '/'; p++)
            ;
    }
    /* p: the first missing component; buf up to it: the directory `dir` */
    if (!is_ours(c, dir)) {
        char parent[4096];
        struct statfs sf;
        /* never a copy of /proc or /sys (their links, such as /proc/self,
           answer per process): a mount point there is refused */
        if (fstatfs(dir, &sf) != 0 || sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC ||
            sf.f_type == DEVPTS_SUPER_MAGIC) {
            close(dir);
            return -EPERM;
        }
        snprintf(parent, sizeof parent, "/%.*s", (int)(p - buf), buf);
        rc = shadow_dir(c, parent, dir);
        close(dir);
        if (rc < 0)
            return rc;
        dir = lxb_open_in_root(c->root, parent, O_PATH | O_DIRECTORY);
        if (dir < 0)
            return dir;
        if (!is_ours(c, dir)) {   /* the rootfs changed under us */
            close(dir);
            return -EXDEV;
        }
    }
    /* the rest is new, made in set-up's own file system, never following a
       symlink (one there is the rootfs's, copied: refused) */
    for (;;) {
        for (next = p; *next && *next != '/'; next++)
            ;
        slash = *next ? next : NULL;
        if (slash)
            *slash = 0;
        while (slash && slash[1] == '/')
            slash++;
        if (!strcmp(p, ".") || !strcmp(p, "..")) {
            close(dir);
            return -EINVAL;
        }
        if (!slash || !slash[1]) {
            if (is_dir)
                rc = mkdirat(dir, p, 0755) != 0 ? -errno : 0;
            else {
                fd = openat(dir, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                rc = fd < 0 ? -errno : close(fd);
            }
            if (rc == 0)
                fchownat(dir, p, c->uid, c->gid, AT_SYMLINK_NOFOLLOW);
            fd = rc < 0 ? rc : openat(dir, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd == -1)
                fd = -errno;
            close(dir);
            return fd;
        }
        if (mkdirat(dir, p, 0755) == 0)
            fchownat(dir, p, c->uid, c->gid, AT_SYMLINK_NOFOLLOW);
        else if (errno != EEXIST) {
            rc = -errno;
            close(dir);
            return rc;
        }
        fd = openat(dir, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = -errno;
        close(dir);
        if (fd < 0)
            return rc;
        dir = fd;
        p = slash + 1;
    }
}

static void step_proc(struct fsctx *c, const struct lxb_step *st)
{
    int fd = mountpoint(c, st->path, 1);

    if (fd < 0)
        lxb_die_step(c->ctl, st->path, -fd);
    mount_at(c, "proc", fd, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
             "mount a fresh /proc (is the host's /proc partly masked?)");
    close(fd);
}

static void step_sys(struct fsctx *c, const struct lxb_step *step)
{
    char p[64];
    int fd = mountpoint(c, step->path, 1);

    if (fd < 0)
        lxb_die_step(c->ctl, step->path, -fd);
    lxb_fd_path(p, sizeof p, fd);
    if (mount("sysfs", p, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        /* sysfs needs a network namespace of our own; with --net host bind it */
        if (mount("/sys", p, NULL, MS_BIND | MS_REC, NULL) != 0)
            lxb_die_step(c->ctl, "bind /sys", errno);
        close(fd);
        /* read-only all the way down: the host's cgroupfs sits below /sys */
        fd = at(c, step->path, O_PATH);
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof ro) != 0)
            lxb_die_step(c->ctl, "make /sys read-only", errno);
    }
    close(fd);
}

/* a tmpfs set-up mounted (/dev, /dev/shm, /tmp, --tmpfs) belongs to the
   rootfs's owner, the zone's root, as on Linux: init mounted it, whose id the
   guest does not map, so it showed as the overflow id and root in a root-run
   zone could neither chmod /tmp nor make /dev/net (EACCES), and the kernel's
   protected_symlinks/protected_regular saw a sticky /tmp owned by none of
   the zone's users */
static void own_tmpfs_root(struct fsctx *c, int fd)
{
    fchownat(fd, "", c->uid, c->gid, AT_EMPTY_PATH);
}

static void step_dev(struct fsctx *c, const struct lxb_step *step)
{
    char p[64], host[64];
    int dev, fd, i;

    fd = mountpoint(c, step->path, 1);
    if (fd < 0)
        lxb_die_step(c->ctl, step->path, -fd);
    mount_at(c, "lxbrand-dev", fd, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", "mount tmpfs on /dev");
    close(fd);
    own_mount(c, step->path);
    /* the fresh tmpfs holds nothing the guest made: plain *at calls are safe */
    dev = at(c, step->path, O_PATH | O_DIRECTORY);
    own_tmpfs_root(c, dev);
    for (i = 0; dev_nodes[i]; i++) {
        fd = openat(dev, dev_nodes[i], O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0)
            lxb_die_step(c->ctl, "create /dev node", errno);
        close(fd);
        fd = openat(dev, dev_nodes[i], O_PATH | O_CLOEXEC);
        snprintf(host, sizeof host, "/dev/%s", dev_nodes[i]);
        lxb_fd_path(p, sizeof p, fd);
        if (mount(host, p, NULL, MS_BIND, NULL) != 0)
            lxb_die_step(c->ctl, host, errno);
        close(fd);
    }
    mkdirat(dev, "pts", 0755);
    fd = openat(dev, "pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    mount_at(c, "devpts", fd, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
             "mount devpts on /dev/pts");
    close(fd);
    if (symlinkat("pts/ptmx", dev, "ptmx") != 0)
        lxb_die_step(c->ctl, "symlink /dev/ptmx", errno);
    mkdirat(dev, "shm", 01777);
    fd = openat(dev, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    mount_at(c, "lxbrand-shm", fd, "tmpfs", MS_NOSUID | MS_NODEV, step->data, "mount tmpfs on /dev/shm");
    close(fd);
    fd = openat(dev, "shm", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        own_tmpfs_root(c, fd);
        close(fd);
    }
    mkdirat(dev, "mqueue", 0755);
    symlinkat("/proc/self/fd", dev, "fd");
    symlinkat("/proc/self/fd/0", dev, "stdin");
    symlinkat("/proc/self/fd/1", dev, "stdout");
    symlinkat("/proc/self/fd/2", dev, "stderr");
    symlinkat("/proc/kcore", dev, "core");
    close(dev);
}

/* whether the regular file NAME in DIR holds only the host's name (the
 * init's nodename before sethostname: the host's), as the /etc/hostname that
 * debootstrap and mmdebstrap copy from the host into every tree they make */
static int names_host(int dir, const char *name, const struct stat *st)
{
    char buf[HOST_NAME_MAX + 2];
    struct utsname uts;
    struct stat now;
    ssize_t n;
    int fd;

    if (st->st_size <= 0 || st->st_size > (off_t)sizeof buf - 1 || uname(&uts) != 0)
        return 0;
    fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = fstat(fd, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev
            ? read(fd, buf, sizeof buf - 1)
            : -1;
    close(fd);
    if (n <= 0)
        return 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = 0;
    return n > 0 && strcmp(buf, uts.nodename) == 0;
}

/* FILE with F_IF_EMPTY (the zone's /etc/hosts and /etc/hostname): only over
 * a missing or empty regular file, which is created as the mount point, or
 * one that holds only the host's name (names_host: a tree made by
 * debootstrap or mmdebstrap, or by lxrun rootfs create before it emptied
 * /etc/hostname).  A rootfs without /etc/hosts (debootstrap makes none)
 * still resolves localhost and the zone's name, as in a container; the
 * empty file left resolves nothing where the zone is not running, and an
 * empty /etc/hosts counts as none.  /etc/hostname then says the zone's
 * name, as hostname(1) does */
static void step_file_if_empty(struct fsctx *c, const struct lxb_step *step)
{
    char parent[512], *slash;
    struct stat st;
    int dir, fd;

    snprintf(parent, sizeof parent, "%s", step->path);
    slash = strrchr(parent, '/');
    if (!slash)
        return;
    *slash = 0;
    dir = lxb_open_in_root(c->root, parent[0] ? parent : "/", O_PATH | O_DIRECTORY);
    if (dir < 0)
        return;
    /* created only where set-up may write (--ephemeral): never in the rootfs */
    fd = openat(dir, slash + 1, (is_ours(c, dir) ? O_CREAT : 0) | O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                0644);
    if (fd < 0) {
        close(dir);
        return;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_size == 0 || names_host(dir, slash + 1, &st))) {
        close(dir);
        /* the empty one only: a file of the rootfs with content stays as it is */
        if (st.st_size == 0 && st.st_uid != c->uid)
            fchown(fd, c->uid, c->gid);
        close(fd);
        show_file(c, step->path, step->data, step->flags & LXB_STEP_F_WRITABLE);
        return;
    }
    close(dir);
    close(fd);
}

static void step_tmpfs(struct fsctx *c, const struct lxb_step *step)
{
    int fd = mountpoint(c, step->path, 1);
    if (fd < 0)
        lxb_die_step(c->ctl, step->path, -fd);
    mount_at(c, "lxbrand-tmpfs", fd, "tmpfs", MS_NOSUID | MS_NODEV, step->data, step->path);
    close(fd);
    fd = at(c, step->path, O_PATH | O_DIRECTORY);
    own_tmpfs_root(c, fd);
    close(fd);
    own_mount(c, step->path);
}

static void step_bind(struct fsctx *c, const struct lxb_step *step, int tree)
{
    struct stat st;
    int fd;

    if (fstat(tree, &st) != 0)
        lxb_die_step(c->ctl, step->src, errno);
    fd = mountpoint(c, step->path, S_ISDIR(st.st_mode));
    if (fd < 0)
        lxb_die_step(c->ctl, step->path, -fd);
    if (syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        lxb_die_step(c->ctl, step->path, errno);
    close(fd);
}

static void step_root_ro(struct fsctx *c)
{
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    int i;
    if (syscall(SYS_mount_setattr, c->root, "", AT_EMPTY_PATH, &ro, sizeof ro) != 0)
        lxb_die_step(c->ctl, "--read-only: make the root read-only", errno);
    /* the tmpfs that show mount points over the rootfs's directories */
    for (i = 0; i < c->nshadow; i++)
        if (c->shadow[i] >= 0 && syscall(SYS_mount_setattr, c->shadow[i], "", AT_EMPTY_PATH, &ro, sizeof ro) != 0)
            lxb_die_step(c->ctl, "--read-only: make a mount point's directory read-only", errno);
}

static int add(struct lxb_step *out, int n, int max, int op, int flags, const char *path, const char *src,
               const char *data)
{
    if (n < max) {
        out[n].op = op;
        out[n].flags = flags;
        out[n].path = path;
        out[n].src = src;
        out[n].data = data;
    }
    return n + 1;
}

/*
 * The plan: /proc (the personality's files over it, the zone's own sysctls
 * bound writable, then /proc/sys and runc's read-only trees), /sys, /dev,
 * the masks, /etc/hosts and /etc/hostname, /tmp, the caller's own steps,
 * --bind, and last --read-only.  Option strings live in cfg; the plan points into it and into
 * static tables, so it allocates nothing.
 */
int lxb_fs_plan(const struct lxb_config *cfg, struct lxb_step *out, int max)
{
    static char shm_opts[96], tmp_opts[96], hostname_line[HOST_NAME_MAX + 2];
    int n = 0, i;

    snprintf(shm_opts, sizeof shm_opts, "mode=1777%s%s", cfg->shm_size ? ",size=" : "",
             cfg->shm_size ? cfg->shm_size : "");
    snprintf(tmp_opts, sizeof tmp_opts, "mode=1777%s%s", cfg->tmp_size ? ",size=" : "",
             cfg->tmp_size ? cfg->tmp_size : "");
    n = add(out, n, max, LXB_STEP_PROC, 0, "/proc", NULL, NULL);
    if (cfg->proc_version)
        n = add(out, n, max, LXB_STEP_FILE, LXB_STEP_F_RO, "/proc/version", NULL, cfg->proc_version);
    if (cfg->osrelease)
        n = add(out, n, max, LXB_STEP_FILE, LXB_STEP_F_RO, "/proc/sys/kernel/osrelease", NULL, cfg->osrelease);
    for (i = 0; own_sysctls[i]; i++)
        n = add(out, n, max, LXB_STEP_SELF_BIND, LXB_STEP_F_OPTIONAL, own_sysctls[i], NULL, NULL);
    n = add(out, n, max, LXB_STEP_SELF_BIND, LXB_STEP_F_RO, "/proc/sys", NULL, NULL);
    for (i = 0; readonly[i]; i++)
        n = add(out, n, max, LXB_STEP_SELF_BIND, LXB_STEP_F_RO | LXB_STEP_F_OPTIONAL, readonly[i], NULL, NULL);
    n = add(out, n, max, LXB_STEP_SYS, LXB_STEP_F_RO, "/sys", NULL, NULL);
    n = add(out, n, max, LXB_STEP_DEV, 0, "/dev", NULL, shm_opts);
    for (i = 0; masked[i]; i++)
        n = add(out, n, max, LXB_STEP_MASK, LXB_STEP_F_OPTIONAL, masked[i], NULL, NULL);
    if (cfg->hosts)
        n = add(out, n, max, LXB_STEP_FILE, LXB_STEP_F_IF_EMPTY | LXB_STEP_F_WRITABLE, "/etc/hosts", NULL,
                cfg->hosts);
    if (cfg->hostname) {
        snprintf(hostname_line, sizeof hostname_line, "%s\n", cfg->hostname);
        n = add(out, n, max, LXB_STEP_FILE, LXB_STEP_F_IF_EMPTY | LXB_STEP_F_WRITABLE, "/etc/hostname", NULL,
                hostname_line);
    }
    n = add(out, n, max, LXB_STEP_TMPFS, 0, "/tmp", NULL, tmp_opts);
    for (i = 0; i < cfg->nsteps; i++)
        n = add(out, n, max, cfg->steps[i].op, cfg->steps[i].flags, cfg->steps[i].path, cfg->steps[i].src,
                cfg->steps[i].data);
    for (i = 0; i < cfg->nbinds; i++)
        n = add(out, n, max, LXB_STEP_BIND, cfg->binds[i].readonly ? LXB_STEP_F_RO : 0, cfg->binds[i].dst,
                cfg->binds[i].src, NULL);
    if (cfg->readonly_root)
        n = add(out, n, max, LXB_STEP_ROOT_RO, 0, "/", NULL, NULL);
    return n > max ? -E2BIG : n;
}

static void run_step(struct fsctx *c, const struct lxb_step *step, int tree)
{
    int opt = step->flags & LXB_STEP_F_OPTIONAL;

    switch (step->op) {
    case LXB_STEP_PROC:
        step_proc(c, step);
        break;
    case LXB_STEP_SYS:
        step_sys(c, step);
        break;
    case LXB_STEP_DEV:
        step_dev(c, step);
        break;
    case LXB_STEP_TMPFS:
        step_tmpfs(c, step);
        break;
    case LXB_STEP_BIND:
        step_bind(c, step, tree);
        break;
    case LXB_STEP_FILE:
        if (step->flags & LXB_STEP_F_IF_EMPTY)
            step_file_if_empty(c, step);
        else
            show_file(c, step->path, step->data, step->flags & LXB_STEP_F_WRITABLE);
        break;
    case LXB_STEP_MASK:
        mask(c, step->path);
        break;
    case LXB_STEP_SELF_BIND:
        self_bind(c, step->path, step->flags & LXB_STEP_F_RO, !opt);
        break;
    case LXB_STEP_ROOT_RO:
        step_root_ro(c);
        break;
    default:
        lxb_die_step(c->ctl, "an unknown set-up step", EINVAL);
    }
}

void lxb_setup_fs(int ctl, const struct lxb_config *cfg)
{
    struct fsctx c = {.ctl = ctl, .root = -1, .stage = "/tmp", .ro_root = cfg->readonly_root};
    static char root_path[256];
    static struct lxb_step steps[LXB_MAX_STEPS];
    int tree[LXB_MAX_STEPS];
    char src[64], opts[1024], path[512], p[64];
    int i, rootfd, nsteps;
    struct stat st;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        lxb_die_step(ctl, "make / private", errno);
    /* opened here, in the zone's mount namespace (a bind from the parent's
     * namespace is EINVAL), and before the staging tmpfs hides /tmp */
    rootfd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        lxb_die_step(ctl, cfg->rootfs, errno);
    /* what set-up creates in the rootfs belongs to the rootfs's owner, as
     * seen through the idmapped lower layer if there is one */
    if (fstat(cfg->lower_fd >= 0 ? cfg->lower_fd : rootfd, &st) != 0)
        lxb_die_step(ctl, cfg->rootfs, errno);
    c.uid = st.st_uid;
    c.gid = st.st_gid;
    nsteps = lxb_fs_plan(cfg, steps, LXB_MAX_STEPS);
    if (nsteps < 0)
        lxb_die_step(ctl, "too many set-up steps", E2BIG);
    /* host trees to bind, cloned before the staging tmpfs can hide a host /tmp */
    for (i = 0; i < nsteps; i++) {
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
        tree[i] = -1;
        if (steps[i].op != LXB_STEP_BIND)
            continue;
        tree[i] = (int)syscall(SYS_open_tree, AT_FDCWD, steps[i].src,
                               OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (tree[i] < 0)
            lxb_die_step(ctl, steps[i].src, errno);
        if ((steps[i].flags & LXB_STEP_F_RO) &&
            syscall(SYS_mount_setattr, tree[i], "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof ro) != 0)
            lxb_die_step(ctl, steps[i].src, errno);
    }
    if (mount("lxbrand-stage", c.stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) {
        c.stage = "/mnt";
        if (mount("lxbrand-stage", c.stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0)
            lxb_die_step(ctl, "mount the staging tmpfs", errno);
    }
    snprintf(path, sizeof path, "%s/root", c.stage);
    mkdir(path, 0755);
    lxb_fd_path(src, sizeof src, rootfd);
    if (cfg->lower_fd >= 0) {
        /* overlayfs clones its layers privately, which it may do only for
         * mounts of our own namespace: attach the idmapped tree first */
        snprintf(src, sizeof src, "%s/lower", c.stage);
        mkdir(src, 0755);
        if (syscall(SYS_move_mount, cfg->lower_fd, "", AT_FDCWD, src, MOVE_MOUNT_F_EMPTY_PATH) != 0)
            lxb_die_step(ctl, "attach the idmapped rootfs", errno);
    }
    if (cfg->ephemeral) {
        snprintf(path, sizeof path, "%s/upper", c.stage);
        mkdir(path, st.st_mode & 07777);
        chown(path, c.uid, c.gid);       /* the merged root's owner and mode */
        snprintf(path, sizeof path, "%s/work", c.stage);
        mkdir(path, 0755);
        /* init is in a user namespace, where overlayfs can keep its metadata
         * (whiteouts, opaque directories) only in user.* xattrs: without
         * userxattr a 6.x kernel mounts a degraded overlay that fails every
         * rmdir of a non-empty lower directory with EIO */
        snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work,userxattr", src, c.stage,
                 c.stage);
        snprintf(path, sizeof path, "%s/root", c.stage);
        if (mount("lxbrand-overlay", path, "overlay", 0, opts) != 0) {
            opts[strlen(opts) - strlen(",userxattr")] = 0;     /* a kernel before 5.11 */
            if (mount("lxbrand-overlay", path, "overlay", 0, opts) != 0)
                lxb_die_step(ctl, "mount the --ephemeral overlay", errno);
        }
    } else {
        snprintf(path, sizeof path, "%s/root", c.stage);
        struct mount_attr nodev = {.attr_set = MOUNT_ATTR_NODEV};
        if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) != 0)
            lxb_die_step(ctl, "bind the rootfs", errno);
        /* nodev: a device node in the tree (an image that root unpacked may
         * hold any, and the id shift makes it the zone root's) is never a
         * device in the zone; the overlay of --ephemeral is nodev as any
         * mount made in a user namespace (SECURITY.md, device nodes) */
        if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &nodev, sizeof nodev) != 0)
            lxb_die_step(ctl, "bind the rootfs nodev", errno);
    }
    close(rootfd);
    if (cfg->lower_fd >= 0)
        close(cfg->lower_fd);
    snprintf(root_path, sizeof root_path, "%s/root", c.stage);
    c.root_path = root_path;
    c.root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c.root < 0)
        lxb_die_step(ctl, "open the zone's root", errno);
    /* the overlay: mount points go to its upper layer; an OCI container's
       own rootfs: into it, as runc makes them (shadowing /etc for the
       engine's /etc/hosts made renames over /etc's entries EBUSY) */
    if (cfg->ephemeral || cfg->own_root)
        own_mount(&c, "/");

    for (i = 0; i < nsteps; i++) {
        run_step(&c, &steps[i], tree[i]);
        if (tree[i] >= 0)
            close(tree[i]);
    }
    for (i = 0; i < c.nshadow; i++)
        if (c.shadow[i] >= 0)
            close(c.shadow[i]);

    /* into the new root; the host's tree is detached and no fd of it stays */
    lxb_fd_path(p, sizeof p, c.root);
    if (fchdir(c.root) != 0)
        lxb_die_step(ctl, "chdir to the new root", errno);
    close(c.root);
    if (syscall(SYS_pivot_root, ".", ".") != 0)
        lxb_die_step(ctl, "pivot_root", errno);
    if (umount2(".", MNT_DETACH) != 0)
        lxb_die_step(ctl, "detach the host's root", errno);
    if (chdir("/") != 0)
        lxb_die_step(ctl, "chdir /", errno);
}
