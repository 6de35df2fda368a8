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
 *   --bind       host trees cloned with open_tree, read-only ones with
 *                mount_setattr, moved onto their destination after the pivot
 *
 * Every path inside the rootfs is resolved there (lxb_open_in_root), and the
 * mounts target the opened fds.  The guest runs in a user namespace below
 * init's, so each mount made here is locked: it cannot be unmounted, moved
 * or made writable from the guest (see SECURITY.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
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

static void step_proc(struct fsctx *c, const struct lxb_step *st)
{
    int fd = lxb_mountpoint_in_root(c->root, st->path, 1, c->uid, c->gid);

    if (fd < 0)
        lxb_die_step(c->ctl, st->path, -fd);
    mount_at(c, "proc", fd, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
             "mount a fresh /proc (is the host's /proc partly masked?)");
    close(fd);
}

static void step_sys(struct fsctx *c, const struct lxb_step *step)
{
    char p[64];
    int fd = lxb_mountpoint_in_root(c->root, step->path, 1, c->uid, c->gid);

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

static void step_dev(struct fsctx *c, const struct lxb_step *step)
{
    char p[64], host[64];
    int dev, fd, i;

    fd = lxb_mountpoint_in_root(c->root, step->path, 1, c->uid, c->gid);
    if (fd < 0)
        lxb_die_step(c->ctl, step->path, -fd);
    mount_at(c, "lxbrand-dev", fd, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k", "mount tmpfs on /dev");
    close(fd);
    /* the fresh tmpfs holds nothing the guest made: plain *at calls are safe */
    dev = at(c, step->path, O_PATH | O_DIRECTORY);
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
    mkdirat(dev, "mqueue", 0755);
    symlinkat("/proc/self/fd", dev, "fd");
    symlinkat("/proc/self/fd/0", dev, "stdin");
    symlinkat("/proc/self/fd/1", dev, "stdout");
    symlinkat("/proc/self/fd/2", dev, "stderr");
    symlinkat("/proc/kcore", dev, "core");
    close(dev);
}

/* FILE with F_IF_EMPTY (the zone's /etc/hosts): only over a missing or
 * empty regular file, which is created as the mount point.  A rootfs without
 * /etc/hosts (debootstrap makes none) still resolves localhost and the
 * zone's name, as in a container; the empty file left resolves nothing where
 * the zone is not running, and an empty /etc/hosts counts as none */
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
    fd = openat(dir, slash + 1, O_CREAT | O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    close(dir);
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
        if (st.st_uid != c->uid)
            fchown(fd, c->uid, c->gid);
        close(fd);
        show_file(c, step->path, step->data, step->flags & LXB_STEP_F_WRITABLE);
        return;
    }
    close(fd);
}

static void step_tmpfs(struct fsctx *c, const struct lxb_step *step)
{
    int fd = lxb_mountpoint_in_root(c->root, step->path, 1, c->uid, c->gid);
    if (fd < 0)
        lxb_die_step(c->ctl, step->path, -fd);
    mount_at(c, "lxbrand-tmpfs", fd, "tmpfs", MS_NOSUID | MS_NODEV, step->data, step->path);
    close(fd);
}

static void step_bind(struct fsctx *c, const struct lxb_step *step, int tree)
{
    struct stat st;
    int fd;

    if (fstat(tree, &st) != 0)
        lxb_die_step(c->ctl, step->src, errno);
    fd = lxb_mountpoint_in_root(c->root, step->path, S_ISDIR(st.st_mode), c->uid, c->gid);
    if (fd < 0)
        lxb_die_step(c->ctl, step->path, -fd);
    if (syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
        lxb_die_step(c->ctl, step->path, errno);
    close(fd);
}

static void step_root_ro(struct fsctx *c)
{
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
    if (syscall(SYS_mount_setattr, c->root, "", AT_EMPTY_PATH, &ro, sizeof ro) != 0)
        lxb_die_step(c->ctl, "--read-only: make the root read-only", errno);
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
 * the masks, /etc/hosts, /tmp, the caller's own steps, --bind, and last
 * --read-only.  Option strings live in cfg; the plan points into it and into
 * static tables, so it allocates nothing.
 */
int lxb_fs_plan(const struct lxb_config *cfg, struct lxb_step *out, int max)
{
    static char shm_opts[96], tmp_opts[96];
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
    struct fsctx c = {.ctl = ctl, .root = -1, .stage = "/tmp"};
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
        if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) != 0)
            lxb_die_step(ctl, "bind the rootfs", errno);
    }
    close(rootfd);
    if (cfg->lower_fd >= 0)
        close(cfg->lower_fd);
    snprintf(path, sizeof path, "%s/root", c.stage);
    c.root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c.root < 0)
        lxb_die_step(ctl, "open the zone's root", errno);

    for (i = 0; i < nsteps; i++) {
        run_step(&c, &steps[i], tree[i]);
        if (tree[i] >= 0)
            close(tree[i]);
    }

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
