/*
 * zone_util.c: messages between the zone's processes, small file helpers,
 * and paths resolved inside the rootfs.
 *
 * Every rootfs path the set-up touches goes through lxb_open_in_root():
 * openat2 with RESOLVE_IN_ROOT, so a symlink in the rootfs (an absolute
 * /etc -> /host/dir, or ../../..) resolves as it would inside the zone and
 * never reaches the host's tree; mounts then target the opened fd
 * (/proc/self/fd/N), not a path that could change under us.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zone_int.h"

void lxb_send_msg(int fd, int type, int value, const char *text, int pass_fd)
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
int lxb_recv_msg(int fd, struct lxb_msg *m, int *fd_out)
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

/* report a failed set-up step to lxrun and leave */
void lxb_die_step(int ctl, const char *step, int err)
{
    char text[LXB_MSG_TEXT];
    snprintf(text, sizeof text, "%s: %s", step, strerror(err));
    lxb_send_msg(ctl, LXB_MSG_SETUP_FAILED, err, text, -1);
    _exit(125);
}

int lxb_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t len = (ssize_t)strlen(text);
    if (fd < 0)
        return -errno;
    if (write(fd, text, len) != len) {
        int e = errno;
        close(fd);
        return -(e ? e : EIO);
    }
    close(fd);
    return 0;
}

long lxb_read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (size == 0)
        return -EINVAL;
    buf[0] = 0;
    if (fd < 0)
        return -errno;
    n = read(fd, buf, size - 1);
    if (n < 0) {
        n = -errno;
        close(fd);
        return (long)n;
    }
    close(fd);
    buf[n] = 0;
    return (long)n;
}

/* close every fd >= 3 not in keep[] */
void lxb_close_except(const int *keep, int n)
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

void lxb_fd_path(char *buf, size_t len, int fd)
{
    snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* open PATH (absolute or relative: both mean inside the root) as the zone
   would resolve it: symlinks and ".." stay inside rootfd, no magic links */
int lxb_open_in_root(int rootfd, const char *path, int flags)
{
    struct open_how how;
    int fd;

    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    while (*path == '/')
        path++;
    if (!*path)
        path = ".";
    do
        fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
    while (fd < 0 && errno == EAGAIN);
    return fd < 0 ? -errno : fd;
}

/* the directory that holds PATH's last component, opened in the root (made,
   with mkdirs, when `make`); *name points at that component in buf, a copy of
   path the caller provides */
static int parent_in_root(int rootfd, const char *path, char *buf, size_t len, char **name, int make,
                          uid_t uid, gid_t gid)
{
    char *last;
    int rc;

    if (snprintf(buf, len, "%s", path) >= (int)len)
        return -ENAMETOOLONG;
    last = strrchr(buf, '/');
    *name = last ? last + 1 : buf;
    if (!last || last == buf)
        return lxb_open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
    *last = 0;
    if (make && (rc = lxb_mkdirs_in_root(rootfd, buf, 0755, uid, gid)) < 0)
        return rc;
    return lxb_open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
}

/* mkdir -p inside the root; what is created gets uid/gid (the owner of the
   rootfs's top directory: a shifted rootfs stays all the zone's) */
int lxb_mkdirs_in_root(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    char buf[4096], pbuf[4096], *p, *slash, *name;
    int fd, parent;

    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (p = buf; *p == '/'; p++)
        ;
    /* each prefix in turn: a component that is missing is made in its
       parent, which the previous turn made or found */
    for (;;) {
        slash = strchr(p, '/');
        if (slash)
            *slash = 0;
        fd = lxb_open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
        if (fd == -ENOENT) {
            parent = parent_in_root(rootfd, buf, pbuf, sizeof pbuf, &name, 0, uid, gid);
            if (parent < 0)
                return parent;
            if (mkdirat(parent, name, mode) != 0 && errno != EEXIST) {
                int e = errno;
                close(parent);
                return -e;
            }
            fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW);
            close(parent);
            fd = lxb_open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
        }
        if (fd < 0)
            return fd;
        close(fd);
        if (!slash)
            return 0;
        *slash = '/';
        p = slash + 1;
    }
}

/* an existing, or new empty, file or directory to mount on, inside the root;
   returns an O_PATH fd of it */
int lxb_mountpoint_in_root(int rootfd, const char *path, int is_dir, uid_t uid, gid_t gid)
{
    char buf[4096], *name;
    int fd, parent, rc;

    fd = lxb_open_in_root(rootfd, path, O_PATH);
    if (fd >= 0 || fd != -ENOENT)
        return fd;
    if (is_dir) {
        rc = lxb_mkdirs_in_root(rootfd, path, 0755, uid, gid);
        return rc < 0 ? rc : lxb_open_in_root(rootfd, path, O_PATH);
    }
    parent = parent_in_root(rootfd, path, buf, sizeof buf, &name, 1, uid, gid);
    if (parent < 0)
        return parent;
    fd = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
        fchown(fd, uid, gid);
        close(fd);
    }
    close(parent);
    return lxb_open_in_root(rootfd, path, O_PATH);
}

/* CMD along PATH, as execvp looks it up; 0 with the path in out, or -errno */
int lxb_find_command(const char *cmd, const char *search, char *out, size_t len)
{
    const char *d = search, *end;
    struct stat st;
    int err = -ENOENT;

    if (strchr(cmd, '/')) {
        snprintf(out, len, "%s", cmd);
        return 0;
    }
    if (!search)
        search = d = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (;;) {
        end = strchr(d, ':');
        size_t n = end ? (size_t)(end - d) : strlen(d);
        if (n == 0)
            snprintf(out, len, "%s", cmd);
        else
            snprintf(out, len, "%.*s/%s", (int)n, d, cmd);
        if (stat(out, &st) == 0) {
            if (S_ISREG(st.st_mode) && faccessat(AT_FDCWD, out, X_OK, AT_EACCESS) == 0)
                return 0;
            err = -EACCES;
        }
        if (!end)
            return err;
        d = end + 1;
    }
}
