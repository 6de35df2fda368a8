/*
 * launcher.c: starting a zone and waiting for it (the parent's side: lxrun).
 *
 *   lxb_zone_start  clone the zone's init (zone_init.c) with new user, mount,
 *                   pid, uts, ipc, cgroup (and, unless --net host, network)
 *                   namespaces; write init's id maps; put init in the zone's
 *                   cgroups; let it run; wait, within the start-up timeout,
 *                   for the guest's seccomp listener or a failure
 *   lxb_zone_wait   the guest's end, as init reports it
 *   lxb_zone_next   the same, or the guest's stop or continue (a job's, LXB_PTY_JOB)
 *
 * The parent may be a threaded Python process, so the children call no
 * allocator: every string is prepared by the parent, the filter is compiled
 * before clone (filter.c), and clone is the raw syscall.
 *
 * A big parent does not clone init itself (cfg->init_exec, set by
 * lxbrand/_csup.py): a clone of an interpreter would hold a private copy of
 * every page the interpreter writes afterwards, and a copy of its page
 * tables, for as long as the zone lives.  lxb_zone_start spawns instead
 * lxbrand-init, a small C program (csrc/init/), with the launch
 * configuration packed in a memfd (lxb_config_pack); it clones init with
 * CLONE_PARENT, so that init is the caller's child as before, tells the
 * caller init's pid on ctl, and exits (lxb_starter_main).  Init is then a
 * clone of that small program, in the host's user namespace until its
 * clone: everything after (id maps, cgroups, the listener) is as for an
 * init cloned in-process, which the C front door keeps.
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zone_int.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
/* the launch configuration's seals: no write, no size change, no more seals */
#define LXB_PACK_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

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

pid_t lxb_clone_init(const struct lxb_config *cfg, int ctl, int syncfd, unsigned long extra, char *err,
                     int errlen)
{
    unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
    pid_t pid;

    if (!cfg->net_host)
        flags |= CLONE_NEWNET;
    pid = (pid_t)syscall(SYS_clone, flags | extra | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid < 0) {
        int e = errno;
        if (e == EPERM || e == ENOSPC || e == EUSERS)
            snprintf(err, errlen, "cannot create a user namespace (%s): this host refuses "
                     "unprivileged user namespaces (see sysctl kernel.unprivileged_userns_clone, "
                     "user.max_user_namespaces, or AppArmor's restrict_unprivileged_userns)",
                     strerror(e));
        else
            snprintf(err, errlen, "clone: %s", strerror(e));
        return -e;
    }
    if (pid == 0)
        lxb_init_main(cfg, ctl, syncfd);
    return pid;
}

/* ---- the launch configuration in a memfd (zone_proto.h, struct lxb_pack_head) ---- */

struct packer {
    char *buf;
    size_t len, cap;
    int failed;
};

/* data appended, 8-byte aligned: its offset plus one, or 0 for NULL */
static uint64_t pack_put(struct packer *w, const void *data, size_t n)
{
    size_t at = (w->len + 7) & ~(size_t)7;

    if (!data || w->failed)
        return 0;
    if (at + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        char *b;
        while (cap < at + n)
            cap *= 2;
        b = realloc(w->buf, cap);
        if (!b) {
            w->failed = 1;
            return 0;
        }
        memset(b + w->cap, 0, cap - w->cap);
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + at, data, n);
    w->len = at + n;
    return at + 1;
}

static uint64_t pack_str(struct packer *w, const char *s)
{
    return s ? pack_put(w, s, strlen(s) + 1) : 0;
}

static uint64_t pack_vec(struct packer *w, char *const *v)
{
    size_t n = 0, i;
    uintptr_t *offs;
    uint64_t at;

    if (!v)
        return 0;
    while (v[n])
        n++;
    offs = calloc(n + 1, sizeof *offs);
    if (!offs) {
        w->failed = 1;
        return 0;
    }
    for (i = 0; i < n; i++)
        offs[i] = (uintptr_t)pack_str(w, v[i]);
    at = pack_put(w, offs, (n + 1) * sizeof *offs);
    free(offs);
    return at;
}

#define OFF(x) ((void *)(uintptr_t)(x))

int lxb_config_pack(const struct lxb_config *cfg)
{
    struct packer w = {NULL, 0, 0, 0};
    struct lxb_pack_head head;
    struct lxb_config c = *cfg;
    struct lxb_bind *binds = NULL;
    struct lxb_step *steps = NULL;
    uint64_t at_head, at_config;
    int i, fd, rc = 0;
    size_t done;

    memset(&head, 0, sizeof head);
    at_head = pack_put(&w, &head, sizeof head);
    at_config = pack_put(&w, &c, sizeof c);
    c.rootfs = OFF(pack_str(&w, cfg->rootfs));
    c.hostname = OFF(pack_str(&w, cfg->hostname));
    c.domainname = OFF(pack_str(&w, cfg->domainname));
    c.cwd = OFF(pack_str(&w, cfg->cwd));
    c.path = OFF(pack_str(&w, cfg->path));
    c.search_path = OFF(pack_str(&w, cfg->search_path));
    c.argv = OFF(pack_vec(&w, cfg->argv));
    c.envp = OFF(pack_vec(&w, cfg->envp));
    c.proc_version = OFF(pack_str(&w, cfg->proc_version));
    c.osrelease = OFF(pack_str(&w, cfg->osrelease));
    c.hosts = OFF(pack_str(&w, cfg->hosts));
    c.uid_map = OFF(pack_str(&w, cfg->uid_map));
    c.gid_map = OFF(pack_str(&w, cfg->gid_map));
    c.guest_uid_map = OFF(pack_str(&w, cfg->guest_uid_map));
    c.guest_gid_map = OFF(pack_str(&w, cfg->guest_gid_map));
    c.tmp_size = OFF(pack_str(&w, cfg->tmp_size));
    c.shm_size = OFF(pack_str(&w, cfg->shm_size));
    c.bpf = OFF(cfg->bpf ? pack_put(&w, cfg->bpf, (size_t)cfg->bpf_len) : 0);
    c.profile_bpf = OFF(cfg->profile_bpf ? pack_put(&w, cfg->profile_bpf, (size_t)cfg->profile_bpf_len) : 0);
    /* the caller's alone: it puts init in the cgroups and execs the starter */
    c.cgroup_procs = NULL;
    c.ncgroups = 0;
    c.init_exec = NULL;
    if (cfg->nbinds > 0) {
        binds = calloc((size_t)cfg->nbinds, sizeof *binds);
        if (!binds)
            w.failed = 1;
        for (i = 0; binds && i < cfg->nbinds; i++) {
            binds[i] = cfg->binds[i];
            binds[i].src = OFF(pack_str(&w, cfg->binds[i].src));
            binds[i].dst = OFF(pack_str(&w, cfg->binds[i].dst));
        }
        c.binds = OFF(binds ? pack_put(&w, binds, (size_t)cfg->nbinds * sizeof *binds) : 0);
    } else {
        c.binds = NULL;
    }
    if (cfg->nsteps > 0) {
        steps = calloc((size_t)cfg->nsteps, sizeof *steps);
        if (!steps)
            w.failed = 1;
        for (i = 0; steps && i < cfg->nsteps; i++) {
            steps[i] = cfg->steps[i];
            steps[i].path = OFF(pack_str(&w, cfg->steps[i].path));
            steps[i].src = OFF(pack_str(&w, cfg->steps[i].src));
            steps[i].data = OFF(pack_str(&w, cfg->steps[i].data));
        }
        c.steps = OFF(steps ? pack_put(&w, steps, (size_t)cfg->nsteps * sizeof *steps) : 0);
    } else {
        c.steps = NULL;
    }
    free(binds);
    free(steps);
    if (w.failed) {
        free(w.buf);
        return -ENOMEM;
    }
    head.magic = LXB_PACK_MAGIC;
    head.config_size = sizeof c;
    head.len = w.len;
    head.config = at_config;
    memcpy(w.buf + at_head - 1, &head, sizeof head);
    memcpy(w.buf + at_config - 1, &c, sizeof c);

    /* sealed once written (LXB_PACK_SEALS): lxbrand-init reads it through a
       private mapping, whose pages it has not written still show the
       file's, so a later write by any holder (another thread of the
       caller, which may open it again through /proc/PID/fd) would change
       the configuration after lxb_config_unpack checked it */
    fd = (int)syscall(SYS_memfd_create, "lxbrand-zone-config", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
    if (fd < 0 && errno == EINVAL)      /* before Linux 6.3: no MFD_NOEXEC_SEAL */
        fd = (int)syscall(SYS_memfd_create, "lxbrand-zone-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        rc = -errno;
        free(w.buf);
        return rc;
    }
    for (done = 0; done < w.len;) {
        ssize_t n = write(fd, w.buf + done, w.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)n;
    }
    free(w.buf);
    if (rc == 0 && fcntl(fd, F_ADD_SEALS, LXB_PACK_SEALS) != 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* an offset of the pack as a pointer into its mapping (base, len); NULL for
   0, and *bad for one outside it */
static void *unpack_at(char *base, size_t len, const void *off, int *bad)
{
    uintptr_t o = (uintptr_t)off;
    if (!o)
        return NULL;
    if (o - 1 >= len) {
        *bad = 1;
        return NULL;
    }
    return base + o - 1;
}

static char **unpack_vec(char *base, size_t len, char **v, int *bad)
{
    size_t i;
    v = unpack_at(base, len, v, bad);
    for (i = 0; v && !*bad && (void *)(v + i) < (void *)(base + len) && v[i]; i++)
        v[i] = unpack_at(base, len, v[i], bad);
    return v;
}

struct lxb_config *lxb_config_unpack(int memfd)
{
    struct stat st;
    struct lxb_pack_head *head;
    struct lxb_config *c;
    struct lxb_bind *binds;
    struct lxb_step *steps;
    char *base;
    size_t len;
    int i, bad = 0;

    /* only a sealed pack: nothing can change it once checked */
    i = fcntl(memfd, F_GET_SEALS);
    if (i < 0 || (i & LXB_PACK_SEALS) != LXB_PACK_SEALS) {
        errno = i < 0 ? errno : EPERM;
        return NULL;
    }
    if (fstat(memfd, &st) != 0 || (size_t)st.st_size < sizeof *head)
        return NULL;
    len = (size_t)st.st_size;
    base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, memfd, 0);
    if (base == MAP_FAILED)
        return NULL;
    head = (struct lxb_pack_head *)base;
    if (head->magic != LXB_PACK_MAGIC || head->config_size != sizeof *c || head->len != len ||
        head->config < 1 || head->config - 1 + sizeof *c > len) {
        errno = EPROTO;
        return NULL;
    }
    c = (struct lxb_config *)(base + head->config - 1);
#define FIX(f) (c->f = unpack_at(base, len, c->f, &bad))
    FIX(rootfs);
    FIX(hostname);
    FIX(domainname);
    FIX(cwd);
    FIX(path);
    FIX(search_path);
    FIX(proc_version);
    FIX(osrelease);
    FIX(hosts);
    FIX(uid_map);
    FIX(gid_map);
    FIX(guest_uid_map);
    FIX(guest_gid_map);
    FIX(tmp_size);
    FIX(shm_size);
    FIX(bpf);
    FIX(profile_bpf);
    FIX(binds);
    FIX(steps);
#undef FIX
    c->argv = unpack_vec(base, len, c->argv, &bad);
    c->envp = unpack_vec(base, len, c->envp, &bad);
    binds = (struct lxb_bind *)c->binds;
    for (i = 0; binds && !bad && i < c->nbinds; i++) {
        binds[i].src = unpack_at(base, len, binds[i].src, &bad);
        binds[i].dst = unpack_at(base, len, binds[i].dst, &bad);
    }
    steps = (struct lxb_step *)c->steps;
    for (i = 0; steps && !bad && i < c->nsteps; i++) {
        steps[i].path = unpack_at(base, len, steps[i].path, &bad);
        steps[i].src = unpack_at(base, len, steps[i].src, &bad);
        steps[i].data = unpack_at(base, len, steps[i].data, &bad);
    }
    if (bad) {
        errno = EPROTO;
        return NULL;
    }
    return c;
}

/*
 * The caller is big (an interpreter): lxbrand-init, exec'd, clones init and
 * says its pid (lxb_starter_main).  The starter gets the memfd, init's end
 * of ctl, sync's read end, stdio and the idmapped lower layer, at the same
 * fd numbers (posix_spawn's dup2 of an fd onto itself clears its
 * FD_CLOEXEC); ctl[1] and sync[0] are closed here once it has them.
 */
static pid_t spawn_starter(const struct lxb_config *cfg, int ctl[2], int sync[2], char *err, int errlen)
{
    posix_spawn_file_actions_t fa;
    char memfd_s[16], ctl_s[16], sync_s[16];
    char *argv[] = {"lxbrand-init", memfd_s, ctl_s, sync_s, NULL};
    char *envp[] = {NULL};
    int memfd, keep[8], nkeep = 0, i, rc, st = 0, fd;
    pid_t starter, pid;
    struct lxb_msg m;

    memfd = lxb_config_pack(cfg);
    if (memfd < 0) {
        snprintf(err, errlen, "pass the zone's configuration to lxbrand-init: %s", strerror(-memfd));
        return memfd;
    }
    snprintf(memfd_s, sizeof memfd_s, "%d", memfd);
    snprintf(ctl_s, sizeof ctl_s, "%d", ctl[1]);
    snprintf(sync_s, sizeof sync_s, "%d", sync[0]);
    keep[nkeep++] = memfd;
    keep[nkeep++] = ctl[1];
    keep[nkeep++] = sync[0];
    for (i = 0; i < 3; i++)
        keep[nkeep++] = cfg->stdio[i];
    if (cfg->lower_fd >= 0)
        keep[nkeep++] = cfg->lower_fd;
    posix_spawn_file_actions_init(&fa);
    for (i = 0; i < nkeep; i++)
        if (keep[i] >= 0)
            posix_spawn_file_actions_adddup2(&fa, keep[i], keep[i]);
    rc = posix_spawn(&starter, cfg->init_exec, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(memfd);
    if (rc == EPERM)
        /* a seccomp profile or LSM that refuses clone itself: the clone of
           init says what the host refuses, in its one line */
        return lxb_clone_init(cfg, ctl[1], sync[0], 0, err, errlen);
    close(ctl[1]);
    close(sync[0]);
    ctl[1] = sync[0] = -1;
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s (the zone's init; run: make build)", cfg->init_exec, strerror(rc));
        return -rc;
    }
    /* its one word: init's pid, or why there is none */
    rc = lxb_recv_msg(ctl[0], &m, &fd);
    if (fd >= 0)
        close(fd);
    while (waitpid(starter, &st, 0) < 0 && errno == EINTR)
        ;
    if (rc < 0) {
        snprintf(err, errlen, "%s died before it started the zone's init (status %#x)", cfg->init_exec, st);
        return -EIO;
    }
    if (m.type == LXB_MSG_INIT)
        return (pid_t)m.value;
    m.text[sizeof m.text - 1] = 0;
    snprintf(err, errlen, "%s", m.type == LXB_MSG_SETUP_FAILED ? m.text : "lxbrand-init: unexpected message");
    pid = -(m.value > 0 ? m.value : EIO);
    return pid;
}

/* lxbrand-init CONFIG_MEMFD CTL SYNC: clone the zone's init as the caller's
   child (CLONE_PARENT), say its pid on ctl, exit */
int lxb_starter_main(int argc, char **argv)
{
    struct lxb_config *cfg;
    char err[LXB_MSG_TEXT];
    int memfd, ctl, syncfd;
    pid_t pid;

    if (argc != 4)
        return 125;
    memfd = atoi(argv[1]);
    ctl = atoi(argv[2]);
    syncfd = atoi(argv[3]);
    cfg = lxb_config_unpack(memfd);
    if (!cfg)
        lxb_die_step(ctl, "lxbrand-init: read the zone's configuration (rebuild: make build)", errno);
    close(memfd);
    pid = lxb_clone_init(cfg, ctl, syncfd, CLONE_PARENT, err, sizeof err);
    if (pid < 0) {
        lxb_send_msg(ctl, LXB_MSG_SETUP_FAILED, (int)-pid, err, -1);
        return 125;
    }
    lxb_send_msg(ctl, LXB_MSG_INIT, (int)pid, NULL, -1);
    return 0;
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

    if (cfg->init_exec)
        pid = spawn_starter(cfg, ctl, sync, err, errlen);
    else
        pid = lxb_clone_init(cfg, ctl[1], sync[0], 0, err, errlen);
    if (pid < 0) {
        rc = pid;
        goto fail;
    }
    z->init_pid = pid;
    if (ctl[1] >= 0)
        close(ctl[1]);
    if (sync[0] >= 0)
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
    if (z->ctl_fd < 0 && ctl[0] >= 0)
        close(ctl[0]);
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
    do
        lxb_zone_next(z, status, kind);
    while (*kind == LXB_GUEST_STOPPED || *kind == LXB_GUEST_CONTINUED);
    return 0;
}

int lxb_zone_next(struct lxb_zone *z, int *status, int *kind)
{
    struct lxb_msg m;
    int fd, rc, st, job = 0, job_status = 0;

    *kind = 0;
    *status = 0;
    for (;;) {
        /* a stop and a continue already queued behind it are no stop: the
           caller hears of the guest's last state only */
        if (job) {
            struct pollfd pfd = {z->ctl_fd, POLLIN, 0};
            if (poll(&pfd, 1, 0) == 0) {
                *kind = job;
                *status = job_status;
                return 0;
            }
        }
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
        if (m.type == LXB_MSG_STOPPED || m.type == LXB_MSG_CONTINUED) {
            job = m.type == LXB_MSG_STOPPED ? LXB_GUEST_STOPPED : LXB_GUEST_CONTINUED;
            job_status = m.value;
            continue;
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
