/*
 * launcher.c: starting a zone and waiting for it (the parent's side: lxrun).
 *
 *   lxb_zone_start  clone the zone's init (zone_init.c) with new user, mount,
 *                   pid, uts, ipc, cgroup (and, unless --net host, network)
 *                   namespaces; write init's id maps; put init in the zone's
 *                   cgroups; let it run; wait, within the start-up timeout,
 *                   for the guest's seccomp listener or a failure
 *   lxb_zone_wait   the guest's end, as init reports it
 *
 * The parent may be a threaded Python process, so the children call no
 * allocator: every string is prepared by the parent, the filter is compiled
 * before clone (filter.c), and clone is the raw syscall.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zone_int.h"

extern char **environ;

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
    if (geteuid() != 0 && (rc = lxb_write_file(path, "deny")) < 0) {
        snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
    if ((rc = lxb_write_file(path, cfg->uid_map)) < 0) {
        snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
    if ((rc = lxb_write_file(path, cfg->gid_map)) < 0) {
        snprintf(err, errlen, "write %s: %s", path, strerror(-rc));
        return rc;
    }
    return 0;
}

/* put the zone's init (and so everything it starts) in the zone's cgroups */
static int join_cgroups(pid_t pid, const struct lxb_config *cfg, char *err, int errlen)
{
    char buf[16];
    int i, n = snprintf(buf, sizeof buf, "%d", pid);

    for (i = 0; i < cfg->ncgroups; i++) {
        if (write(cfg->cgroup_procs[i], buf, (size_t)n) != n) {
            snprintf(err, errlen, "put the zone in its cgroup: %s", strerror(errno));
            return -errno;
        }
    }
    return 0;
}

/*
 * --ephemeral as root over a rootfs whose ownership was never shifted: the
 * overlay's lower layer is the rootfs cloned and idmapped (disk uid u shows
 * as host BASE+u, the guest's u), read-only; the rootfs stays as it is.  The
 * user namespace that carries the mapping is borrowed from a child that
 * exists only until its ns file is open.
 */
static int idmapped_tree(const struct lxb_config *cfg, char *err, int errlen)
{
    struct mount_attr attr;
    char path[64];
    int p[2], nsfd = -1, tree = -1, rc = 0;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid == 0) {
        char c;
        close(p[1]);
        while (read(p[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(p[0]);
    if (pid < 0) {
        rc = -errno;
        close(p[1]);
        snprintf(err, errlen, "--ephemeral: a user namespace for the idmapped rootfs: %s", strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
    if ((rc = lxb_write_file(path, cfg->guest_uid_map)) == 0) {
        snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
        rc = lxb_write_file(path, cfg->guest_gid_map);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
        nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0)
            rc = -errno;
    }
    close(p[1]);
    waitpid(pid, NULL, 0);
    if (rc < 0) {
        snprintf(err, errlen, "--ephemeral: a user namespace for the idmapped rootfs: %s", strerror(-rc));
        return rc;
    }
    tree = (int)syscall(SYS_open_tree, AT_FDCWD, cfg->rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) {
        rc = -errno;
        snprintf(err, errlen, "--ephemeral: open_tree %s: %s", cfg->rootfs, strerror(-rc));
        close(nsfd);
        return rc;
    }
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY;
    attr.userns_fd = (uint64_t)nsfd;
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
        rc = -errno;
        snprintf(err, errlen, "--ephemeral: an idmapped mount of %s: %s (the file system must support "
                 "idmapped mounts, or run once without --ephemeral to shift the rootfs)",
                 cfg->rootfs, strerror(-rc));
        close(nsfd);
        close(tree);
        return rc;
    }
    close(nsfd);
    return tree;
}

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

int lxb_zone_start(const struct lxb_config *cfg, struct lxb_zone *z, char *err, int errlen)
{
    int ctl[2] = {-1, -1}, sync[2] = {-1, -1};
    int rc, fd;
    unsigned long flags;
    pid_t pid;
    struct lxb_msg m;
    struct timespec deadline;

    z->init_pid = -1;
    z->ctl_fd = z->agent_fd = z->listener_fd = z->pty_fd = z->guest_pidfd = -1;
    z->exec_errno = 0;
    if (cfg->nbinds > LXB_MAX_BINDS) {
        snprintf(err, errlen, "too many --bind (at most %d)", LXB_MAX_BINDS);
        return -E2BIG;
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (cfg->start_timeout_ms > 0) {
        deadline.tv_sec += cfg->start_timeout_ms / 1000;
        deadline.tv_nsec += (cfg->start_timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    ((struct lxb_config *)cfg)->lower_fd = -1;
    if (cfg->idmap_lower) {
        rc = idmapped_tree(cfg, err, errlen);
        if (rc < 0)
            return rc;
        ((struct lxb_config *)cfg)->lower_fd = rc;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0 || pipe2(sync, O_CLOEXEC) != 0) {
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
        close(sync[1]);
        lxb_init_main(cfg, ctl[1], sync[0]);
    }
    z->init_pid = pid;
    close(ctl[1]);
    close(sync[0]);
    ctl[1] = sync[0] = -1;
    z->ctl_fd = ctl[0];

    rc = write_id_maps(pid, cfg, err, errlen);
    if (rc == 0)
        rc = join_cgroups(pid, cfg, err, errlen);
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
        if (cfg->start_timeout_ms > 0) {
            struct pollfd pfd = {z->ctl_fd, POLLIN, 0};
            long left = ms_left(&deadline);
            if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
                snprintf(err, errlen, "the zone did not start within %d ms", cfg->start_timeout_ms);
                rc = -ETIMEDOUT;
                goto kill;
            }
        }
        rc = lxb_recv_msg(z->ctl_fd, &m, &fd);
        if (rc < 0) {
            snprintf(err, errlen, "the zone's init died during setup");
            goto kill;
        }
        if (m.type == LXB_MSG_PTY) {
            z->pty_fd = fd;
        } else if (m.type == LXB_MSG_GUEST) {
            z->guest_pidfd = fd;
        } else if (m.type == LXB_MSG_LISTENER) {
            z->listener_fd = fd;
            break;
        } else if (m.type == LXB_MSG_SETUP_FAILED) {
            if (fd >= 0)
                close(fd);
            m.text[sizeof m.text - 1] = 0;
            snprintf(err, errlen, "%s", m.text);
            rc = -(m.value ? m.value : EIO);
            goto kill;
        } else if (m.type == LXB_MSG_EXEC_FAILED) {
            snprintf(err, errlen, "exec: %s", strerror(m.value));
            rc = -m.value;
            /* not a set-up failure: lxb_zone_wait reports it as the run's end */
            z->exec_errno = m.value;
            waitpid(pid, NULL, 0);
            z->init_pid = -1;
            goto fail;
        } else if (fd >= 0) {
            close(fd);
        }
    }
    if (cfg->lower_fd >= 0)
        close(cfg->lower_fd);
    return 0;

kill:
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    z->init_pid = -1;
fail:
    if (z->ctl_fd >= 0)
        close(z->ctl_fd);
    if (z->pty_fd >= 0)
        close(z->pty_fd);
    if (z->guest_pidfd >= 0)
        close(z->guest_pidfd);
    z->ctl_fd = z->pty_fd = z->guest_pidfd = -1;
    if (ctl[1] >= 0)
        close(ctl[1]);
    if (sync[0] >= 0)
        close(sync[0]);
    if (sync[1] >= 0)
        close(sync[1]);
    if (cfg->lower_fd >= 0)
        close(cfg->lower_fd);
    return rc < 0 ? rc : -EIO;
}

int lxb_zone_release(struct lxb_zone *z)
{
    if (send(z->ctl_fd, "x", 1, MSG_NOSIGNAL) != 1)
        return -errno;
    return 0;
}

int lxb_zone_wait(struct lxb_zone *z, int *status, int *kind)
{
    struct lxb_msg m;
    int fd, rc, st;

    *kind = 0;
    *status = 0;
    for (;;) {
        rc = lxb_recv_msg(z->ctl_fd, &m, &fd);
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
