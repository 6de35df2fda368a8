/*
 * launcher.c: making a zone and starting its guest.
 *
 * OVERVIEW
 *
 *   lxb_zone_start() clones the zone's init with new user, mount, pid, uts,
 *   ipc, cgroup (and, unless --net host, network) namespaces.  The parent
 *   writes the id maps; init builds the zone's file system (the rootfs bound
 *   or overlaid, a fresh /proc, a minimal /dev, /tmp a tmpfs), pivots into
 *   it, names the zone, and forks the guest.  The guest loads the brand's
 *   seccomp filter with a new listener, sends the listener to lxrun over the
 *   control socket, and execs CMD.
 *
 *   Init is pid 1 of the zone and stays ours: it never execs, it is not
 *   dumpable (its mm belongs to the host's user namespace, so the guest cannot
 *   ptrace it), and it runs without the filter so that it can act inside the
 *   zone for the supervisor (the agent socket: sethostname, setdomainname).
 *   It reaps orphans, forwards the signals lxrun receives to the guest, sends
 *   the guest's wait status to lxrun, and exits with it; the kernel then kills
 *   whatever is left in the zone.
 *
 * BETWEEN CLONE AND EXEC
 *
 *   The parent may be a threaded Python process, so the children call no
 *   allocator: every string is prepared by the parent, the filter is compiled
 *   before clone (filter.c), and clone is the raw syscall.
 *
 * FAILING CLOSED
 *
 *   Init has PR_SET_PDEATHSIG(SIGKILL): if lxrun dies, init dies, and with it
 *   the pid namespace.  If the supervisor's listener closes, the kernel fails
 *   every notified syscall with ENOSYS.  A setup step that fails stops the zone
 *   before the guest runs, and the message names the step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lxbrand.h"

extern char **environ;
#include "zone_proto.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* ---- small helpers usable after clone (no allocation) ---- */

static void send_msg(int fd, int type, int value, const char *text, int pass_fd)
{
    struct lxb_msg m;
    struct msghdr mh;
    struct iovec iov;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;

    memset(&m, 0, sizeof m);
    memset(&mh, 0, sizeof mh);
    m.type = type;
    m.value = value;
    if (text)
        snprintf(m.text, sizeof m.text, "%s", text);
    iov.iov_base = &m;
    iov.iov_len = sizeof m;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (pass_fd >= 0) {
        struct cmsghdr *c;
        memset(&u, 0, sizeof u);
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

/* receive one message; *fd_out gets a passed fd or -1 */
static int recv_msg(int fd, struct lxb_msg *m, int *fd_out)
{
    struct msghdr mh;
    struct iovec iov;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct cmsghdr *c;
    ssize_t n;

    memset(m, 0, sizeof *m);
    memset(&mh, 0, sizeof mh);
    iov.iov_base = m;
    iov.iov_len = sizeof *m;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    *fd_out = -1;
    do
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EPIPE;
    for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(fd_out, CMSG_DATA(c), sizeof(int));
    return 0;
}

/* report a failed setup step to lxrun and leave */
static __attribute__((noreturn)) void die_step(int ctl, const char *step, int err)
{
    char text[LXB_MSG_TEXT];
    snprintf(text, sizeof text, "%s: %s", step, strerror(err));
    send_msg(ctl, LXB_MSG_SETUP_FAILED, err, text, -1);
    _exit(125);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t len = (ssize_t)strlen(text);
    if (fd < 0)
        return -errno;
    if (write(fd, text, len) != len) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    return 0;
}

/* close every fd >= 3 not in keep[] */
static void close_except(const int *keep, int n)
{
    int lo = 3, i, j;
    int sorted[LXB_MAX_KEEP];

    for (i = 0; i < n && i < LXB_MAX_KEEP; i++)
        sorted[i] = keep[i];
    n = i;
    for (i = 1; i < n; i++)
        for (j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (i = 0; i < n; i++) {
        if (sorted[i] < lo)
            continue;
        if (sorted[i] > lo)
            syscall(SYS_close_range, lo, sorted[i] - 1, 0);
        lo = sorted[i] + 1;
    }
    syscall(SYS_close_range, lo, ~0U, 0);
}

static void mkdir_p(char *path, mode_t mode)
{
    char *p;
    for (p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(path, mode);
            *p = '/';
        }
    }
    mkdir(path, mode);
}

/* create an empty file or a directory to mount on, inside the zone */
static int make_mountpoint(const char *path, int is_dir)
{
    char buf[4096];
    struct stat st;
    char *slash;

    if (lstat(path, &st) == 0)
        return 0;
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    if (is_dir) {
        mkdir_p(buf, 0755);
    } else {
        int fd;
        slash = strrchr(buf, '/');
        if (slash && slash != buf) {
            *slash = 0;
            mkdir_p(buf, 0755);
        }
        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
    }
    return lstat(path, &st) == 0 ? 0 : -errno;
}

/* the mount flags a remount must keep (locked in a user namespace) */
static unsigned long locked_flags(const char *path)
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

static int bind_readonly(const char *path)
{
    if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | locked_flags(path), NULL) != 0)
        return -errno;
    return 0;
}

static void fd_path(char *buf, size_t len, int fd)
{
    snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* ---- the zone's file system ---- */

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};

static void setup_dev(int ctl, const char *root)
{
    char path[4096], host[64];
    int i;

    snprintf(path, sizeof path, "%s/dev", root);
    mkdir(path, 0755);
    if (mount("lxbrand-dev", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") != 0)
        die_step(ctl, "mount tmpfs on /dev", errno);
    for (i = 0; dev_nodes[i]; i++) {
        int fd;
        snprintf(path, sizeof path, "%s/dev/%s", root, dev_nodes[i]);
        snprintf(host, sizeof host, "/dev/%s", dev_nodes[i]);
        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0)
            die_step(ctl, "create /dev node", errno);
        close(fd);
        if (mount(host, path, NULL, MS_BIND, NULL) != 0)
            die_step(ctl, host, errno);
    }
    snprintf(path, sizeof path, "%s/dev/pts", root);
    mkdir(path, 0755);
    if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") != 0)
        die_step(ctl, "mount devpts on /dev/pts", errno);
    snprintf(path, sizeof path, "%s/dev/ptmx", root);
    if (symlink("pts/ptmx", path) != 0)
        die_step(ctl, "symlink /dev/ptmx", errno);
    snprintf(path, sizeof path, "%s/dev/shm", root);
    mkdir(path, 01777);
    if (mount("lxbrand-shm", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
        die_step(ctl, "mount tmpfs on /dev/shm", errno);
    snprintf(path, sizeof path, "%s/dev/mqueue", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/dev/fd", root);
    symlink("/proc/self/fd", path);
    snprintf(path, sizeof path, "%s/dev/stdin", root);
    symlink("/proc/self/fd/0", path);
    snprintf(path, sizeof path, "%s/dev/stdout", root);
    symlink("/proc/self/fd/1", path);
    snprintf(path, sizeof path, "%s/dev/stderr", root);
    symlink("/proc/self/fd/2", path);
    snprintf(path, sizeof path, "%s/dev/core", root);
    symlink("/proc/kcore", path);
}

/* show `text` at TARGET (an existing file): a file of the staging tmpfs,
   bound over it, read-only unless `writable` (then writes stay in the zone) */
static void show_file(int ctl, const char *stage, const char *root, const char *target, const char *text,
                      int writable)
{
    char file[4096];
    static int n;
    int fd, rc;

    snprintf(file, sizeof file, "%s/file-%d", stage, n++);
    fd = open(file, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, writable ? 0644 : 0444);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        die_step(ctl, "write the zone's generated files", errno);
    close(fd);
    if (mount(file, target, NULL, MS_BIND, NULL) != 0)
        die_step(ctl, target + strlen(root), errno);
    if (!writable && (rc = bind_readonly(target)) < 0)
        die_step(ctl, target + strlen(root), -rc);
}

static void setup_fs(int ctl, const struct lxb_config *cfg)
{
    const char *stage = "/tmp";
    char root[256], src[64], opts[1024], path[4096];
    int i, rootfd, bindfd[LXB_MAX_BINDS];

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        die_step(ctl, "make / private", errno);
    /* opened here, in the zone's mount namespace (a bind from the parent's
     * namespace is EINVAL), and before the staging tmpfs hides /tmp */
    rootfd = open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        die_step(ctl, cfg->rootfs, errno);
    for (i = 0; i < cfg->nbinds; i++) {
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
        bindfd[i] = (int)syscall(SYS_open_tree, AT_FDCWD, cfg->binds[i].src,
                                 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (bindfd[i] < 0)
            die_step(ctl, cfg->binds[i].src, errno);
        if (cfg->binds[i].readonly &&
            syscall(SYS_mount_setattr, bindfd[i], "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof ro) != 0)
            die_step(ctl, cfg->binds[i].src, errno);
    }
    if (mount("lxbrand-stage", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
        stage = "/mnt";
        if (mount("lxbrand-stage", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
            die_step(ctl, "mount the staging tmpfs", errno);
    }
    snprintf(root, sizeof root, "%s/root", stage);
    mkdir(root, 0755);
    fd_path(src, sizeof src, rootfd);
    if (cfg->ephemeral) {
        snprintf(path, sizeof path, "%s/upper", stage);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/work", stage);
        mkdir(path, 0755);
        snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", src, stage, stage);
        if (mount("lxbrand-overlay", root, "overlay", 0, opts) != 0) {
            /* in a user namespace overlayfs keeps its metadata in user.* xattrs */
            strncat(opts, ",userxattr", sizeof opts - strlen(opts) - 1);
            if (mount("lxbrand-overlay", root, "overlay", 0, opts) != 0)
                die_step(ctl, "mount the --ephemeral overlay", errno);
        }
    } else {
        if (mount(src, root, NULL, MS_BIND | MS_REC, NULL) != 0)
            die_step(ctl, "bind the rootfs", errno);
    }

    snprintf(path, sizeof path, "%s/proc", root);
    mkdir(path, 0555);
    if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        die_step(ctl, "mount a fresh /proc (is the host's /proc partly masked?)", errno);

    snprintf(path, sizeof path, "%s/sys", root);
    mkdir(path, 0555);
    if (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
        /* sysfs needs a network namespace of our own; with --net host bind it */
        if (mount("/sys", path, NULL, MS_BIND | MS_REC, NULL) == 0)
            bind_readonly(path);
    }

    setup_dev(ctl, root);

    /* the kernel personality: files of the staging tmpfs bound over /proc's */
    if (cfg->proc_version) {
        snprintf(path, sizeof path, "%s/proc/version", root);
        show_file(ctl, stage, root, path, cfg->proc_version, 0);
    }
    if (cfg->osrelease) {
        snprintf(path, sizeof path, "%s/proc/sys/kernel/osrelease", root);
        show_file(ctl, stage, root, path, cfg->osrelease, 0);
    }
    /* a rootfs without /etc/hosts (debootstrap makes none) still resolves
     * localhost and the zone's name, as in a container; the mount point is an
     * empty file, which resolves nothing where the zone is not running, and an
     * empty /etc/hosts counts as none; it stays writable (echo >> /etc/hosts),
     * and what is written ends with the zone */
    if (cfg->hosts) {
        int fd;
        snprintf(path, sizeof path, "%s/etc/hosts", root);
        struct stat st;
        fd = open(path, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
            close(fd);
            show_file(ctl, stage, root, path, cfg->hosts, 1);
        } else if (fd >= 0) {
            close(fd);
        }
    }

    snprintf(path, sizeof path, "%s/tmp", root);
    mkdir(path, 01777);
    if (mount("lxbrand-tmp", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
        die_step(ctl, "mount tmpfs on /tmp", errno);

    if (chdir(root) != 0)
        die_step(ctl, "chdir to the new root", errno);
    if (syscall(SYS_pivot_root, ".", ".") != 0)
        die_step(ctl, "pivot_root", errno);
    if (umount2(".", MNT_DETACH) != 0)
        die_step(ctl, "detach the host's root", errno);
    if (chdir("/") != 0)
        die_step(ctl, "chdir /", errno);

    /* binds after pivot_root, so that the destination resolves inside the
     * zone: the detached trees cloned above survive the old root's unmount */
    for (i = 0; i < cfg->nbinds; i++) {
        struct stat st;
        int rc;
        if (fstat(bindfd[i], &st) != 0)
            die_step(ctl, cfg->binds[i].src, errno);
        rc = make_mountpoint(cfg->binds[i].dst, S_ISDIR(st.st_mode));
        if (rc < 0)
            die_step(ctl, cfg->binds[i].dst, -rc);
        if (syscall(SYS_move_mount, bindfd[i], "", AT_FDCWD, cfg->binds[i].dst,
                    MOVE_MOUNT_F_EMPTY_PATH) != 0)
            die_step(ctl, cfg->binds[i].dst, errno);
        close(bindfd[i]);
    }
    close(rootfd);
}

static int loopback_up(void)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (fd < 0)
        return -errno;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ||
        (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(fd, SIOCSIFFLAGS, &ifr) != 0))
        rc = -errno;
    close(fd);
    return rc;
}

/* ---- the guest ---- */

static __attribute__((noreturn)) void guest_main(const struct lxb_config *cfg, int ctl, int master, int errpipe)
{
    struct sock_fprog prog;
    sigset_t none;
    int sig, i, listener, err;

    for (sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (setsid() < 0)
        goto fail;
    if (master >= 0) {
        int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0)
            goto fail;
        for (i = 0; i < 3; i++)
            if (dup2(slave, i) < 0)
                goto fail;
        if (slave > 2)
            close(slave);
        close(master);
    } else {
        for (i = 0; i < 3; i++) {
            if (cfg->stdio[i] == i) {
                fcntl(i, F_SETFD, 0);
            } else if (dup2(cfg->stdio[i], i) < 0) {
                goto fail;
            }
        }
    }
    if (cfg->cwd && chdir(cfg->cwd) != 0) {
        err = errno;
        send_msg(ctl, LXB_MSG_SETUP_FAILED, err, "--cwd: no such directory in the zone", -1);
        _exit(125);
    }
    /* everything but stdio closes at exec; ctl and errpipe are needed until then */
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);

    prog.len = (unsigned short)(cfg->bpf_len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)cfg->bpf;
    listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0) {
        err = errno;
        send_msg(ctl, LXB_MSG_SETUP_FAILED, err, "load the seccomp filter", -1);
        _exit(125);
    }
    send_msg(ctl, LXB_MSG_LISTENER, 0, NULL, listener);
    close(listener);

    /* become --uid/--gid now, after the filter loaded with CAP_SYS_ADMIN;
     * leaving uid 0 drops the capabilities, as on Linux.  setgroups is
     * denied when only one gid is mapped, and then there are none to drop. */
    if (cfg->uid != 0 || cfg->gid != 0) {
        gid_t g = (gid_t)cfg->gid;
        if (setgroups(1, &g) != 0 && errno != EPERM)
            goto fail;
        if (setresgid(g, g, g) != 0 || setresuid((uid_t)cfg->uid, (uid_t)cfg->uid, (uid_t)cfg->uid) != 0)
            goto fail;
    }

    execve(cfg->path, cfg->argv, cfg->envp);
fail:
    err = errno;
    while (write(errpipe, &err, sizeof err) < 0 && errno == EINTR)
        ;
    _exit(127);
}

/* ---- init ---- */

/*
 * Init is a fork of lxrun, so /proc/1/cmdline in the zone would show lxrun's
 * host command line.  Blank it in place (the argument area is init's own
 * copy-on-write memory; /proc/self/stat fields 48 and 49 give its bounds)
 * and name the process, as setproctitle does.
 */
static void init_rename(void)
{
    char buf[1024], *p;
    unsigned long start = 0, end = 0;
    ssize_t n;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field;

    prctl(PR_SET_NAME, "lxbrand-init");
    if (fd < 0)
        return;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    p = strrchr(buf, ')');
    /* the field after ')' is 3 (state); walk to 48 */
    for (field = 2; p && *p && field < 48; p++)
        if (*p == ' ')
            field++;
    if (!p || sscanf(p, "%lu %lu", &start, &end) != 2 || end <= start + 1)
        return;
    memset((void *)start, 0, end - start);
    snprintf((char *)start, end - start, "lxbrand-init");
    /* a non-NUL last byte tells the kernel to stop cmdline at the first NUL */
    if (end - start > sizeof "lxbrand-init")
        ((char *)end)[-1] = ' ';
}

static int agent_answer(int agent)
{
    struct lxb_agent_req req;
    struct lxb_agent_rep rep;
    ssize_t n = recv(agent, &req, sizeof req, 0);

    if (n <= 0)
        return n == 0 ? -EPIPE : -errno;
    memset(&rep, 0, sizeof rep);
    req.text[sizeof req.text - 1] = 0;
    switch (req.op) {
    case LXB_AGENT_SETHOSTNAME:
        rep.rc = sethostname(req.text, strlen(req.text)) == 0 ? 0 : -errno;
        break;
    case LXB_AGENT_SETDOMAINNAME:
        rep.rc = setdomainname(req.text, strlen(req.text)) == 0 ? 0 : -errno;
        break;
    default:
        rep.rc = -EINVAL;
    }
    send(agent, &rep, sizeof rep, MSG_NOSIGNAL);
    return 0;
}

static __attribute__((noreturn)) void init_main(const struct lxb_config *cfg, int ctl, int agent,
                                                int syncfd)
{
    int keep[LXB_MAX_KEEP], nkeep = 0, i, master = -1, sigfd, errpipe[2], st, err;
    sigset_t all;
    char c;
    pid_t guest, p;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    init_rename();
    keep[nkeep++] = ctl;
    keep[nkeep++] = agent;
    keep[nkeep++] = syncfd;
    for (i = 0; i < 3; i++)
        keep[nkeep++] = cfg->stdio[i];
    close_except(keep, nkeep);

    /* leave lxrun's session: signals from the host's terminal go to lxrun,
     * which forwards them once, never to init directly as well.  (With
     * sched_autogroup a session is a scheduling group: a notification between
     * the guest's session and lxrun's costs ~5 us more; staying in lxrun's
     * session would change what getsid() and kill(0, ...) mean to the guest.) */
    setsid();

    /* wait for the id maps; EOF means lxrun died */
    if (read(syncfd, &c, 1) != 1)
        _exit(125);
    close(syncfd);

    setup_fs(ctl, cfg);
    if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) != 0)
        die_step(ctl, "sethostname", errno);
    if (cfg->domainname && setdomainname(cfg->domainname, strlen(cfg->domainname)) != 0)
        die_step(ctl, "setdomainname", errno);
    if (!cfg->net_host && (err = loopback_up()) < 0)
        die_step(ctl, "bring up lo", -err);
    prctl(PR_SET_DUMPABLE, 0);

    if (cfg->use_pty) {
        int unlock = 0;
        struct winsize ws;
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) != 0)
            die_step(ctl, "open the zone's /dev/ptmx", errno);
        if (ioctl(cfg->stdio[0], TIOCGWINSZ, &ws) == 0)
            ioctl(master, TIOCSWINSZ, &ws);
        send_msg(ctl, LXB_MSG_PTY, 0, NULL, master);
    }

    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    sigfd = signalfd(-1, &all, SFD_CLOEXEC);
    if (sigfd < 0)
        die_step(ctl, "signalfd", errno);
    if (pipe2(errpipe, O_CLOEXEC) != 0)
        die_step(ctl, "pipe", errno);

    guest = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0);
    if (guest < 0)
        die_step(ctl, "fork the guest", errno);
    if (guest == 0) {
        close(errpipe[0]);
        close(sigfd);
        close(agent);
        guest_main(cfg, ctl, master, errpipe[1]);
    }
    close(errpipe[1]);
    if (master >= 0)
        close(master);
    for (i = 0; i < 3; i++)
        close(cfg->stdio[i]);
    i = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (i >= 0) {
        dup2(i, 0);
        dup2(i, 1);
        dup2(i, 2);
        if (i > 2)
            close(i);
    }
    if (read(errpipe[0], &err, sizeof err) == sizeof err) {
        waitpid(guest, &st, 0);
        send_msg(ctl, LXB_MSG_EXEC_FAILED, err, NULL, -1);
        _exit(127);
    }
    close(errpipe[0]);

    for (;;) {
        struct pollfd pfd[2] = {{sigfd, POLLIN, 0}, {agent, POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0)
            continue;
        if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            /* lxrun closed the agent socket: stop polling it, or init spins */
            if (agent_answer(agent) < 0)
                agent = -1;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) != sizeof si)
                continue;
            if (si.ssi_signo == SIGCHLD) {
                while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
                    if (p == guest) {
                        send_msg(ctl, LXB_MSG_EXIT, st, NULL, -1);
                        _exit(0);
                    }
                }
            } else {
                kill(guest, (int)si.ssi_signo);
            }
        }
    }
}

/* ---- the parent ---- */

/* newuidmap/newgidmap PID inside outside count...: the setuid helpers that
   grant an unprivileged user its subordinate ids (/etc/subuid) */
static int spawn_idmap(const char *tool, pid_t pid, const char *map, char *err, int errlen)
{
    char pidbuf[16], words[512], *argv[64], *save = NULL, *w;
    int argc = 0, st;
    pid_t child;

    snprintf(pidbuf, sizeof pidbuf, "%d", pid);
    snprintf(words, sizeof words, "%s", map);
    argv[argc++] = (char *)tool;
    argv[argc++] = pidbuf;
    for (w = strtok_r(words, " \n", &save); w && argc < 62; w = strtok_r(NULL, " \n", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    st = posix_spawnp(&child, tool, NULL, NULL, argv, environ);
    if (st != 0) {
        snprintf(err, errlen, "%s: %s (apt-get install uidmap)", tool, strerror(st));
        return -st;
    }
    if (waitpid(child, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "%s %s failed; check /etc/subuid and /etc/subgid", tool, map);
        return -EPERM;
    }
    return 0;
}

static int write_id_maps(pid_t pid, const struct lxb_config *cfg, char *err, int errlen)
{
    char path[64];
    int rc;

    if (cfg->newidmap) {
        rc = spawn_idmap("newuidmap", pid, cfg->uid_map, err, errlen);
        if (rc == 0)
            rc = spawn_idmap("newgidmap", pid, cfg->gid_map, err, errlen);
        return rc;
    }
    /* an unprivileged user may map its own gid only after giving up setgroups */
    snprintf(path, sizeof path, "/proc/%d/setgroups", pid);
    if (geteuid() != 0 && (rc = write_file(path, "deny")) < 0) {
        snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
    if ((rc = write_file(path, cfg->uid_map)) < 0) {
        snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
    if ((rc = write_file(path, cfg->gid_map)) < 0) {
        snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
        return rc;
    }
    return 0;
}

int lxb_zone_start(const struct lxb_config *cfg, struct lxb_zone *z, char *err, int errlen)
{
    int ctl[2] = {-1, -1}, agent[2] = {-1, -1}, sync[2] = {-1, -1};
    int rc, fd;
    unsigned long flags;
    pid_t pid;
    struct lxb_msg m;

    z->init_pid = -1;
    z->ctl_fd = z->agent_fd = z->listener_fd = z->pty_fd = -1;
    if (cfg->nbinds > LXB_MAX_BINDS) {
        snprintf(err, errlen, "too many --bind (at most %d)", LXB_MAX_BINDS);
        return -E2BIG;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, agent) != 0 ||
        pipe2(sync, O_CLOEXEC) != 0) {
        rc = -errno;
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        goto fail;
    }

    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
    if (!cfg->net_host)
        flags |= CLONE_NEWNET;
    pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid < 0) {
        rc = -errno;
        if (errno == EPERM || errno == ENOSPC || errno == EUSERS)
            snprintf(err, errlen, "cannot create a user namespace (%s): this host refuses "
                     "unprivileged user namespaces (see sysctl kernel.unprivileged_userns_clone, "
                     "user.max_user_namespaces, or AppArmor's restrict_unprivileged_userns)",
                     strerror(errno));
        else
            snprintf(err, errlen, "clone: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        close(ctl[0]);
        close(agent[0]);
        close(sync[1]);
        init_main(cfg, ctl[1], agent[1], sync[0]);
    }
    z->init_pid = pid;
    close(ctl[1]);
    close(agent[1]);
    close(sync[0]);
    ctl[1] = agent[1] = sync[0] = -1;
    z->ctl_fd = ctl[0];
    z->agent_fd = agent[0];

    rc = write_id_maps(pid, cfg, err, errlen);
    if (rc < 0)
        goto kill;
    if (write(sync[1], "x", 1) != 1) {
        rc = -errno;
        snprintf(err, errlen, "start the zone: %s", strerror(errno));
        goto kill;
    }
    close(sync[1]);
    sync[1] = -1;

    /* until the guest's listener arrives: the pty, or a failure */
    for (;;) {
        rc = recv_msg(z->ctl_fd, &m, &fd);
        if (rc < 0) {
            snprintf(err, errlen, "the zone's init died during setup");
            goto kill;
        }
        if (m.type == LXB_MSG_PTY) {
            z->pty_fd = fd;
        } else if (m.type == LXB_MSG_LISTENER) {
            z->listener_fd = fd;
            break;
        } else if (m.type == LXB_MSG_SETUP_FAILED) {
            m.text[sizeof m.text - 1] = 0;
            snprintf(err, errlen, "%s", m.text);
            rc = -(m.value ? m.value : EIO);
            goto kill;
        } else if (m.type == LXB_MSG_EXEC_FAILED) {
            snprintf(err, errlen, "exec: %s", strerror(m.value));
            rc = -m.value;
            goto kill;
        }
    }
    return 0;

kill:
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    z->init_pid = -1;
fail:
    if (z->ctl_fd >= 0)
        close(z->ctl_fd);
    if (z->agent_fd >= 0)
        close(z->agent_fd);
    if (z->pty_fd >= 0)
        close(z->pty_fd);
    z->ctl_fd = z->agent_fd = z->pty_fd = -1;
    if (ctl[1] >= 0)
        close(ctl[1]);
    if (agent[1] >= 0)
        close(agent[1]);
    if (sync[0] >= 0)
        close(sync[0]);
    if (sync[1] >= 0)
        close(sync[1]);
    return rc < 0 ? rc : -EIO;
}

int lxb_zone_wait(struct lxb_zone *z, int *status, int *kind)
{
    struct lxb_msg m;
    int fd, rc, st;

    *kind = 0;
    *status = 0;
    for (;;) {
        rc = recv_msg(z->ctl_fd, &m, &fd);
        if (fd >= 0)
            close(fd);
        if (rc < 0) {
            /* init died without a word: killed by lxrun (timeout) or the kernel */
            if (waitpid(z->init_pid, &st, 0) > 0)
                *status = st;
            *kind = 2;
            break;
        }
        if (m.type == LXB_MSG_EXIT) {
            *status = m.value;
            waitpid(z->init_pid, &st, 0);
            break;
        }
        if (m.type == LXB_MSG_EXEC_FAILED) {
            *status = m.value;
            *kind = 1;
            waitpid(z->init_pid, &st, 0);
            break;
        }
    }
    z->init_pid = -1;
    return 0;
}
