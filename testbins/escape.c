/*
 * escape.c: a hostile guest for the escape battery (tests/security/).
 *
 * OVERVIEW
 *
 *   escape SUBCOMMAND [ARGS...] makes one family of escape attempts from
 *   inside a zone and prints one line per attempt:
 *
 *     NAME: blocked ERRNO        the kernel or the brand refused it
 *     NAME: contained DETAIL     it ran, and stayed inside the zone
 *     NAME: info DETAIL          a fact the test may check (not a verdict)
 *     NAME: ESCAPE DETAIL        it worked: the boundary failed
 *
 *   and exits 1 if any attempt escaped, 0 if none did, 2 on bad usage.  The
 *   tests check the verdicts (and the errno where SECURITY.md documents one)
 *   and, on the host side, that nothing changed.
 *
 * NEVER CHANGE THE HOST
 *
 *   Each attempt is written so that it changes nothing outside the zone even
 *   where the defence it probes is missing: a sysctl is written with the value
 *   it already holds, a writable sysfs or sysrq file is opened and closed
 *   without a write, a clock is set with an invalid time (EINVAL if the
 *   syscall ran, EPERM if it was refused), a ptrace attach is detached at once,
 *   a cgroup hierarchy that mounts is unmounted without a write.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int escaped;

static const char *ename(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

static void line(const char *what, const char *verdict, const char *detail)
{
    printf("%s: %s%s%s\n", what, verdict, detail && *detail ? " " : "", detail ? detail : "");
    fflush(stdout);
    if (strcmp(verdict, "ESCAPE") == 0)
        escaped = 1;
}

/* a syscall result: < 0 (errno set) is blocked, anything else escaped */
static void expect_fail(const char *what, long rc)
{
    char d[64];
    if (rc < 0) {
        line(what, "blocked", ename(errno));
    } else {
        snprintf(d, sizeof d, "rc=%ld", rc);
        line(what, "ESCAPE", d);
    }
}

static void info(const char *what, long rc)
{
    char d[64];
    if (rc < 0)
        snprintf(d, sizeof d, "failed %s", ename(errno));
    else
        snprintf(d, sizeof d, "ok rc=%ld", rc);
    line(what, "info", d);
}

/* MARKER is a host path that exists only outside the zone */
static void check_marker(const char *what, const char *marker)
{
    if (access(marker, F_OK) == 0)
        line(what, "ESCAPE", "the host's marker is visible");
    else
        line(what, "contained", "");
}

static char *read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return NULL;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return NULL;
    buf[n] = 0;
    return buf;
}

/* ---- identity ---- */

static int cmd_whoami(int argc, char **argv)
{
    (void)argc, (void)argv;
    printf("euid %d uid %d egid %d\n", geteuid(), getuid(), getegid());
    return 0;
}

/* copy ourselves to DST and make it setuid root (in the zone's terms) */
static int cmd_plant(int argc, char **argv)
{
    char buf[65536];
    ssize_t n;
    int in, out;
    (void)argc;
    in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    out = open(argv[0], O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0755);
    if (in < 0 || out < 0) {
        info("plant: open", -1);
        return 2;
    }
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, n) != n)
            return 2;
    close(in);
    info("plant: fchown 0:0", fchown(out, 0, 0));
    info("plant: fchmod 4755", fchmod(out, 04755));
    close(out);
    return 0;
}

/* ---- paths out of the zone ---- */

static int cmd_chroot_break(int argc, char **argv)
{
    const char *marker = argv[0];
    int rootfd, i;
    (void)argc;
    mkdir("/tmp/lxb-jail", 0700);
    rootfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    info("chroot into a subdirectory", chroot("/tmp/lxb-jail"));
    /* the cwd is now outside the new root: walk up past it */
    if (rootfd >= 0)
        fchdir(rootfd);
    for (i = 0; i < 512; i++)
        chdir("..");
    info("chroot .", chroot("."));
    check_marker("chroot-break", marker);
    return 0;
}

static int cmd_proc_init(int argc, char **argv)
{
    const char *marker = argv[0];
    char path[4200], buf[256];
    struct iovec local, remote;
    int n, fd, pidfd;
    long rc;
    (void)argc;

    snprintf(path, sizeof path, "/proc/1/root%s", marker);
    check_marker("/proc/1/root + marker", path);
    snprintf(path, sizeof path, "/proc/1/cwd%s", marker);
    check_marker("/proc/1/cwd + marker", path);
    for (n = 0; n < 256; n++) {
        snprintf(path, sizeof path, "/proc/1/fd/%d", n);
        rc = readlink(path, buf, sizeof buf - 1);
        if (rc >= 0) {
            buf[rc] = 0;
            line("readlink /proc/1/fd/N", "ESCAPE", buf);
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            line("open /proc/1/fd/N", "ESCAPE", path);
            close(fd);
        }
        /* init's rootfs fd, as F14 found it: /proc/1/fd/N/.. */
        snprintf(path, sizeof path, "/proc/1/fd/%d/..%s", n, marker);
        if (access(path, F_OK) == 0)
            line("/proc/1/fd/N/.. + marker", "ESCAPE", path);
    }
    line("init's fds", "info", "scanned 0-255");
    expect_fail("open /proc/1/mem", open("/proc/1/mem", O_RDONLY | O_CLOEXEC));
    expect_fail("open /proc/1/environ", open("/proc/1/environ", O_RDONLY | O_CLOEXEC));
    rc = syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0);
    expect_fail("ptrace attach init", rc);
    if (rc == 0)
        syscall(SYS_ptrace, 17 /* PTRACE_DETACH */, 1, 0, 0);
    rc = syscall(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, 1, 0, 0);
    expect_fail("ptrace seize init", rc);
    if (rc == 0)
        syscall(SYS_ptrace, 17, 1, 0, 0);
    /* EFAULT would mean access was granted and only the address was bad */
    local.iov_base = buf;
    local.iov_len = 16;
    remote.iov_base = (void *)0x10000;
    remote.iov_len = 16;
    rc = syscall(SYS_process_vm_readv, 1, &local, 1, &remote, 1, 0);
    if (rc < 0 && (errno == EPERM || errno == EACCES || errno == ESRCH))
        line("process_vm_readv init", "blocked", ename(errno));
    else
        line("process_vm_readv init", "ESCAPE", rc < 0 ? ename(errno) : "read");
    pidfd = (int)syscall(SYS_pidfd_open, 1, 0);
    info("pidfd_open init", pidfd);
    if (pidfd >= 0) {
        int worst = 0;
        for (n = 0; n < 64; n++) {
            rc = syscall(SYS_pidfd_getfd, pidfd, n, 0);
            if (rc >= 0 || (errno != EPERM && errno != EACCES && errno != ESRCH))
                worst = rc >= 0 ? -1 : errno;
            if (rc >= 0)
                close((int)rc);
        }
        if (worst == 0)
            line("pidfd_getfd init", "blocked", "EPERM");
        else
            line("pidfd_getfd init", "ESCAPE", worst < 0 ? "got an fd" : ename(worst));
    }
    return 0;
}

static int cmd_fds(int argc, char **argv)
{
    char path[64], buf[512];
    struct stat st;
    int fd, found = 0;
    ssize_t n;
    (void)argc, (void)argv;
    for (fd = 0; fd < 4096; fd++) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = readlink(path, buf, sizeof buf - 1);
        buf[n < 0 ? 0 : n] = 0;
        if (fd > 2) {
            line("inherited fd", "ESCAPE", buf);
            found = 1;
        } else if ((fl & O_PATH) || (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))) {
            line("stdio fd is a directory or O_PATH", "ESCAPE", buf);
            found = 1;
        }
    }
    if (!found)
        line("fds", "contained", "only stdio");
    return 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10;
}

/* open_by_handle_at with a handle the host made for its marker */
static int cmd_handle(int argc, char **argv)
{
    const char *hex = argv[0];
    size_t len = strlen(hex) / 2, i;
    struct file_handle *fh = malloc(sizeof *fh + len + 1);
    int mfd;
    (void)argc;
    fh->handle_bytes = (unsigned)len;
    fh->handle_type = atoi(argv[1]);
    for (i = 0; i < len; i++)
        fh->f_handle[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    mfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    expect_fail("open_by_handle_at host marker", syscall(SYS_open_by_handle_at, mfd, fh, O_RDONLY));
    return 0;
}

static int cmd_pivot(int argc, char **argv)
{
    const char *marker = argv[0];
    (void)argc;
    info("unshare mount ns", unshare(CLONE_NEWNS));
    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    mkdir("/tmp/lxb-new", 0755);
    info("bind / on /tmp/lxb-new", mount("/", "/tmp/lxb-new", NULL, MS_BIND | MS_REC, NULL));
    if (chdir("/tmp/lxb-new") == 0) {
        info("pivot_root", syscall(SYS_pivot_root, ".", "."));
        umount2(".", MNT_DETACH);
        chdir("/");
    }
    check_marker("pivot_root", marker);
    return 0;
}

static int cmd_setns(int argc, char **argv)
{
    static const char *const ns[] = {"user", "mnt", "pid", "net", "uts", "ipc", "cgroup", "time", NULL};
    char path[64], what[96];
    int i, fd;
    (void)argc;
    for (i = 0; ns[i]; i++) {
        snprintf(path, sizeof path, "/proc/1/ns/%s", ns[i]);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        snprintf(what, sizeof what, "setns %s", path);
        if (fd < 0) {
            line(what, "blocked", ename(errno));
            continue;
        }
        info(what, setns(fd, 0));
        close(fd);
    }
    check_marker("setns to init's namespaces", argv[0]);
    return 0;
}

static int cmd_stdin_dir(int argc, char **argv)
{
    const char *marker = argv[0];
    struct stat st;
    int i;
    (void)argc;
    if (fstat(0, &st) != 0 || !S_ISDIR(st.st_mode)) {
        line("stdin", "contained", "not a directory");
        return 0;
    }
    info("fchdir(0)", fchdir(0));
    for (i = 0; i < 64; i++)
        chdir("..");
    if (access(marker + 1, F_OK) == 0)
        line("stdin directory + ..", "ESCAPE", "the host's marker is visible");
    else
        line("stdin directory + ..", "contained", "");
    return 0;
}

static int cmd_hardlink(int argc, char **argv)
{
    (void)argc;
    expect_fail("link across a bind", link(argv[0], argv[1]));
    return 0;
}

/* ---- mounts ---- */

/* the flags a bind remount must repeat (they are locked), minus read-only */
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

static void try_write_in(const char *what, int dirfd, const char *dir)
{
    char path[4200];
    int fd;
    snprintf(path, sizeof path, "%s/lxb-written", dir);
    fd = dirfd >= 0 ? openat(dirfd, "lxb-written", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644)
                    : open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    expect_fail(what, fd);
    if (fd >= 0) {
        close(fd);
        if (dirfd >= 0)
            unlinkat(dirfd, "lxb-written", 0);
        else
            unlink(path);
    }
}

static int cmd_remount_rw(int argc, char **argv)
{
    const char *p = argv[0];
    (void)argc;
    expect_fail("remount,bind,rw", mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | kept_flags(p), NULL));
    try_write_in("write after remount", -1, p);
    return 0;
}

static int cmd_umount(int argc, char **argv)
{
    (void)argc;
    expect_fail("umount", umount2(argv[0], 0));
    expect_fail("umount -l", umount2(argv[0], MNT_DETACH));
    return 0;
}

static int cmd_move(int argc, char **argv)
{
    (void)argc;
    mkdir("/tmp/lxb-move", 0755);
    expect_fail("mount --move", mount(argv[0], "/tmp/lxb-move", NULL, MS_MOVE, NULL));
    return 0;
}

static int cmd_opentree_rw(int argc, char **argv)
{
    const char *p = argv[0];
    struct mount_attr clr = {.attr_clr = MOUNT_ATTR_RDONLY};
    int fd;
    (void)argc;
    fd = (int)syscall(SYS_open_tree, AT_FDCWD, p, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    info("open_tree clone", fd);
    if (fd < 0)
        return 0;
    expect_fail("mount_setattr clear ro on the clone",
                syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &clr, sizeof clr));
    try_write_in("write through the clone", fd, p);
    mkdir("/tmp/lxb-tree", 0755);
    if (syscall(SYS_move_mount, fd, "", AT_FDCWD, "/tmp/lxb-tree", MOVE_MOUNT_F_EMPTY_PATH) == 0) {
        line("move_mount the clone", "info", "ok");
        expect_fail("remount the moved clone rw",
                    mount(NULL, "/tmp/lxb-tree", NULL, MS_REMOUNT | MS_BIND | kept_flags("/tmp/lxb-tree"), NULL));
        try_write_in("write in the moved clone", -1, "/tmp/lxb-tree");
    } else {
        info("move_mount the clone", -1);
    }
    return 0;
}

static int cmd_nested_remount(int argc, char **argv)
{
    const char *p = argv[0];
    (void)argc;
    info("unshare user+mount ns", unshare(CLONE_NEWUSER | CLONE_NEWNS));
    expect_fail("nested remount,bind,rw", mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | kept_flags(p), NULL));
    expect_fail("nested umount -l", umount2(p, MNT_DETACH));
    return 0;
}

static void rewrite_same(const char *path, int own);

/* a zone's limits, as a cgroup hierarchy mounted at DIR shows them (the
   root of a cgroup namespace is the zone's own cgroup): rewritten with the
   values they hold, never raised */
static void rewrite_limits(const char *dir)
{
    static const char *const files[] = {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                        "pids.max", "cpu.cfs_quota_us", "memory.max", "memory.swap.max",
                                        "cpu.max", NULL};
    char path[512];
    int i;
    for (i = 0; files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (access(path, F_OK) == 0)
            rewrite_same(path, 0);
    }
}

static int cmd_cgroup_mount(int argc, char **argv)
{
    static const char *const v1[] = {"memory", "pids", "cpu", "cpuset", "devices", "freezer",
                                     "blkio", "none,name=systemd", NULL};
    const char *dir = argv[0];
    char what[128];
    int i, fs;
    (void)argc;
    mkdir(dir, 0755);
    for (i = 0; v1[i]; i++) {
        snprintf(what, sizeof what, "mount -t cgroup -o %s", v1[i]);
        if (mount("lxb-cg", dir, "cgroup", 0, v1[i]) == 0) {
            line(what, "ESCAPE", "mounted");
            rewrite_limits(dir);
            umount2(dir, MNT_DETACH);
        } else {
            line(what, "blocked", ename(errno));
        }
    }
    if (mount("lxb-cg", dir, "cgroup2", 0, NULL) == 0) {
        line("mount -t cgroup2", "ESCAPE", "mounted");
        rewrite_limits(dir);
        umount2(dir, MNT_DETACH);
    } else {
        line("mount -t cgroup2", "blocked", ename(errno));
    }
    /* the new mount API */
    fs = (int)syscall(SYS_fsopen, "cgroup2", 0);
    if (fs >= 0) {
        long rc = syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
        long m = rc == 0 ? syscall(SYS_fsmount, fs, 0, 0) : -1;
        expect_fail("fsopen/fsmount cgroup2", m);
        if (m >= 0)
            close((int)m);
        close(fs);
    } else {
        line("fsopen/fsmount cgroup2", "blocked", ename(errno));
    }
    fs = (int)syscall(SYS_fsopen, "cgroup", 0);
    if (fs >= 0) {
        long rc = syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "memory", NULL, 0);
        long m;
        rc = rc == 0 ? syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) : rc;
        m = rc == 0 ? syscall(SYS_fsmount, fs, 0, 0) : -1;
        expect_fail("fsopen/fsmount cgroup memory", m);
        if (m >= 0)
            close((int)m);
        close(fs);
    } else {
        line("fsopen/fsmount cgroup memory", "blocked", ename(errno));
    }
    return 0;
}

/* ---- the filter ---- */

static int cmd_x32(int argc, char **argv)
{
    long rc;
    (void)argc, (void)argv;
    line("x32 getpid", "info", "trying");
    rc = syscall(0x40000000 | SYS_getpid);
    if (rc == getpid())
        line("x32 getpid", "ESCAPE", "ran");
    else
        expect_fail("x32 getpid", rc < 0 ? rc : -1);
    return 0;
}

static int cmd_int80(int argc, char **argv)
{
    long rc;
    (void)argc, (void)argv;
    line("int 0x80 getpid", "info", "trying");
    __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory", "rcx", "r11");
    if (rc == getpid()) {
        line("int 0x80 getpid", "ESCAPE", "ran");
    } else {
        errno = rc < 0 && rc > -4096 ? (int)-rc : EINVAL;
        expect_fail("int 0x80 getpid", -1);
    }
    return 0;
}

static int cmd_listener(int argc, char **argv)
{
    struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog prog = {1, allow};
    long rc;
    (void)argc, (void)argv;
    rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    expect_fail("second NEW_LISTENER", rc);
    if (rc >= 0)
        close((int)rc);
    /* an allow-all filter stacked on the brand's changes nothing */
    info("stack an allow-all filter", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog));
    expect_fail("syslog after stacking", syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0));
    expect_fail("io_uring_setup after stacking", syscall(SYS_io_uring_setup, 4, &(struct io_uring_params){0}));
    return 0;
}

/* ---- init and the terminal ---- */

static int cmd_tiocsti(int argc, char **argv)
{
    char c = '#';
    (void)argc, (void)argv;
    if (!isatty(0)) {
        line("TIOCSTI", "info", "stdin is not a terminal");
        return 2;
    }
    expect_fail("TIOCSTI on stdin", ioctl(0, TIOCSTI, &c));
    return 0;
}

static int cmd_abstract(int argc, char **argv)
{
    struct sockaddr_un sa;
    size_t n = strlen(argv[0]);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    (void)argc;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path + 1, argv[0], n);
    expect_fail("connect to the host's abstract socket",
                connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)));
    return 0;
}

static int cmd_kill(int argc, char **argv)
{
    (void)argc;
    expect_fail("kill(host pid, 0)", kill(atoi(argv[0]), 0));
    return 0;
}

/* ---- host-wide syscalls ---- */

static int cmd_hostwide(int argc, char **argv)
{
    struct perf_event_attr pa;
    union bpf_attr ba;
    struct timespec bad = {0, -1};
    struct timeval badtv = {0, -1};
    struct timex tx;
    long rc;
    (void)argc, (void)argv;

    expect_fail("init_module", syscall(SYS_init_module, NULL, 0, ""));
    expect_fail("finit_module", syscall(SYS_finit_module, -1, "", 0));
    expect_fail("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    expect_fail("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
    /* an unknown command with the right magic: EINVAL if it ever ran */
    expect_fail("reboot", syscall(SYS_reboot, 0xfee1dead, 672274793, 0x12345678, NULL));
    expect_fail("swapon", syscall(SYS_swapon, "/lxb-no-such-swap", 0));
    expect_fail("swapoff", syscall(SYS_swapoff, "/lxb-no-such-swap"));
    memset(&pa, 0, sizeof pa);
    pa.type = PERF_TYPE_SOFTWARE;
    pa.size = sizeof pa;
    pa.config = PERF_COUNT_SW_CPU_CLOCK;
    rc = syscall(SYS_perf_event_open, &pa, -1, 0, -1, 0);
    expect_fail("perf_event_open (all processes, cpu 0)", rc);
    if (rc >= 0)
        close((int)rc);
    memset(&ba, 0, sizeof ba);
    ba.map_type = BPF_MAP_TYPE_ARRAY;
    ba.key_size = 4;
    ba.value_size = 4;
    ba.max_entries = 1;
    rc = syscall(SYS_bpf, BPF_MAP_CREATE, &ba, sizeof ba);
    expect_fail("bpf", rc);
    if (rc >= 0)
        close((int)rc);
    /* invalid times: EINVAL would mean the syscall ran */
    expect_fail("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, &bad));
    expect_fail("settimeofday", syscall(SYS_settimeofday, &badtv, NULL));
    memset(&tx, 0, sizeof tx);
    expect_fail("adjtimex", syscall(SYS_adjtimex, &tx));
    memset(&tx, 0, sizeof tx);
    expect_fail("clock_adjtime", syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx));
    expect_fail("acct", syscall(SYS_acct, "/lxb-no-such-file"));
    expect_fail("iopl", syscall(SYS_iopl, 3));
    expect_fail("ioperm", syscall(SYS_ioperm, 0x80, 1, 1));
    expect_fail("syslog read size", syscall(SYS_syslog, 10, NULL, 0));
    expect_fail("quotactl", syscall(SYS_quotactl, 0, "/lxb-no-such-dev", 0, NULL));
    expect_fail("vhangup", syscall(SYS_vhangup));
    rc = syscall(SYS_io_uring_setup, 4, &(struct io_uring_params){0});
    expect_fail("io_uring_setup", rc);
    if (rc >= 0)
        close((int)rc);
    return 0;
}

static int cmd_userfaultfd(int argc, char **argv)
{
    long rc;
    (void)argc, (void)argv;
    rc = syscall(SYS_userfaultfd, O_CLOEXEC);
    expect_fail("userfaultfd (kernel faults)", rc);
    if (rc >= 0)
        close((int)rc);
    rc = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
    info("userfaultfd (user-mode only)", rc);
    if (rc >= 0)
        close((int)rc);
    return 0;
}

static int cmd_io_uring(int argc, char **argv)
{
    long rc;
    (void)argc, (void)argv;
    rc = syscall(SYS_io_uring_setup, 4, &(struct io_uring_params){0});
    expect_fail("io_uring_setup", rc);
    if (rc >= 0)
        close((int)rc);
    return 0;
}

static int cmd_rlimit(int argc, char **argv)
{
    static const struct { int res; const char *name; } rs[] = {
        {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"}, {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
        {RLIMIT_NPROC, "RLIMIT_NPROC"}, {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"}, {-1, NULL}};
    struct rlimit r;
    char what[96];
    int i;
    (void)argc, (void)argv;
    for (i = 0; rs[i].name; i++) {
        if (getrlimit(rs[i].res, &r) != 0 || r.rlim_max == RLIM_INFINITY)
            continue;
        snprintf(what, sizeof what, "raise %s hard %llu -> +1", rs[i].name, (unsigned long long)r.rlim_max);
        r.rlim_max += 1;
        expect_fail(what, setrlimit(rs[i].res, &r));
    }
    return 0;
}

static int cmd_keys(int argc, char **argv)
{
    long serial = atol(argv[0]), host_session = atol(argv[2]), mine;
    const char *desc = argv[1];
    char buf[8192];
    (void)argc;
    expect_fail("keyctl read the host's key", syscall(SYS_keyctl, KEYCTL_READ, serial, buf, sizeof buf));
    expect_fail("keyctl describe the host's key", syscall(SYS_keyctl, KEYCTL_DESCRIBE, serial, buf, sizeof buf));
    expect_fail("keyctl search the session keyring",
                syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", desc, 0));
    expect_fail("keyctl link the host's key", syscall(SYS_keyctl, KEYCTL_LINK, serial, KEY_SPEC_SESSION_KEYRING));
    expect_fail("keyctl describe the host's session keyring",
                syscall(SYS_keyctl, KEYCTL_DESCRIBE, host_session, buf, sizeof buf));
    mine = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
    if (mine == host_session)
        line("session keyring", "ESCAPE", "the caller's");
    else
        line("session keyring", "contained", "a keyring of the zone's own");
    if (read_small("/proc/keys", buf, sizeof buf) && strstr(buf, desc))
        line("/proc/keys", "ESCAPE", "lists the host's key");
    else
        line("/proc/keys", "contained", "");
    return 0;
}

/* ---- devices, /proc, /sys ---- */

static int cmd_mknod(int argc, char **argv)
{
    static const char *const dirs[] = {"/tmp", "/dev/shm", "/var/tmp", NULL};
    dev_t blk = makedev(atoi(argv[0]), atoi(argv[1])), mem = makedev(1, 1);
    char path[256], what[300], buf[512];
    int i, k, fd;
    (void)argc;
    for (i = 0; dirs[i]; i++) {
        for (k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/lxb-%s", dirs[i], k ? "mem" : "disk");
            snprintf(what, sizeof what, "mknod %s", path);
            unlink(path);
            if (mknod(path, (k ? S_IFCHR : S_IFBLK) | 0600, k ? mem : blk) != 0) {
                line(what, "blocked", ename(errno));
                continue;
            }
            line(what, "info", "created");
            fd = open(path, O_RDONLY | O_CLOEXEC);
            snprintf(what, sizeof what, "open %s", path);
            if (fd < 0) {
                line(what, "blocked", ename(errno));
            } else if (read(fd, buf, sizeof buf) > 0) {
                line(what, "ESCAPE", "read the host's device");
                close(fd);
            } else {
                line(what, "blocked", "read failed");
                close(fd);
            }
            unlink(path);
        }
    }
    return 0;
}

/* open each for writing and close it: never a write */
static void open_no_write(const char *path)
{
    char what[300];
    struct stat st;
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
    snprintf(what, sizeof what, "open %s for writing", path);
    if (fd < 0) {
        line(what, "blocked", ename(errno));
        return;
    }
    if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
        line(what, "contained", "masked with /dev/null");
    else
        line(what, "ESCAPE", "writable");
    close(fd);
}

static int cmd_open_w(int argc, char **argv)
{
    int i;
    for (i = 0; i < argc; i++)
        open_no_write(argv[i]);
    return 0;
}

static int cmd_fresh_sysfs(int argc, char **argv)
{
    char path[512];
    int i;
    mkdir("/tmp/lxb-sys", 0755);
    if (mount("sysfs", "/tmp/lxb-sys", "sysfs", 0, NULL) != 0) {
        line("mount a fresh sysfs", "blocked", ename(errno));
        return 0;
    }
    line("mount a fresh sysfs", "info", "ok");
    for (i = 0; i < argc; i++) {
        snprintf(path, sizeof path, "/tmp/lxb-sys%s", argv[i] + strlen("/sys"));
        open_no_write(path);
    }
    umount2("/tmp/lxb-sys", MNT_DETACH);
    return 0;
}

/* read PATH, write the same bytes back: changes nothing even where it works.
   own: a file the zone may write (its own namespace's): a write is no escape */
static void rewrite_same(const char *path, int own)
{
    char buf[4096], what[300];
    int fd;
    ssize_t n;
    snprintf(what, sizeof what, "rewrite %s", path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        line(what, "info", "absent");
        return;
    }
    n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0) {
        line(what, "info", "unreadable");
        return;
    }
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        line(what, own ? "info" : "blocked", ename(errno));
        return;
    }
    if (own)
        info(what, write(fd, buf, (size_t)n));
    else
        expect_fail(what, write(fd, buf, (size_t)n));
    close(fd);
}

/* sysctl PATH...: +PATH is one of the zone's own */
static int cmd_sysctl(int argc, char **argv)
{
    int i;
    for (i = 0; i < argc; i++)
        rewrite_same(argv[i] + (argv[i][0] == '+'), argv[i][0] == '+');
    return 0;
}

/* masked: unreadable, or empty (a file bound to /dev/null, an empty tmpfs) */
static int cmd_masked(int argc, char **argv)
{
    char buf[4096], d[64];
    struct stat st;
    int i, fd;
    for (i = 0; i < argc; i++) {
        fd = open(argv[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            line(argv[i], errno == ENOENT ? "info" : "blocked", errno == ENOENT ? "absent" : ename(errno));
            continue;
        }
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *dir = fdopendir(fd);
            struct dirent *e;
            int n = 0;
            while (dir && (e = readdir(dir)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                    n++;
            if (dir)
                closedir(dir);
            snprintf(d, sizeof d, "%d entries", n);
            line(argv[i], n ? "ESCAPE" : "contained", n ? d : "empty");
            continue;
        }
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        if (n < 0) {
            line(argv[i], "blocked", ename(errno));
        } else {
            snprintf(d, sizeof d, "%zd bytes", n);
            line(argv[i], n ? "ESCAPE" : "contained", n ? d : "empty");
        }
    }
    return 0;
}

static int cmd_chmod_same(int argc, char **argv)
{
    char what[300];
    struct stat st;
    int i;
    for (i = 0; i < argc; i++) {
        snprintf(what, sizeof what, "chmod %s (same mode)", argv[i]);
        if (stat(argv[i], &st) != 0) {
            line(what, "info", "absent");
            continue;
        }
        expect_fail(what, chmod(argv[i], st.st_mode & 07777));
    }
    return 0;
}

static int cmd_read(int argc, char **argv)
{
    char what[300], buf[64];
    int i, fd;
    for (i = 0; i < argc; i++) {
        snprintf(what, sizeof what, "read %s", argv[i]);
        fd = open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            line(what, "blocked", ename(errno));
            continue;
        }
        expect_fail(what, read(fd, buf, sizeof buf));
        close(fd);
    }
    return 0;
}

static int cmd_stdout_setuid(int argc, char **argv)
{
    (void)argc, (void)argv;
    expect_fail("fchown stdout 0:0", fchown(1, 0, 0));
    expect_fail("fchmod stdout 4755", fchmod(1, 04755));
    return 0;
}

static int cmd_unshare_caps(int argc, char **argv)
{
    const char *marker = argv[0];
    int fd;
    (void)argc;
    info("unshare user ns", unshare(CLONE_NEWUSER));
    fd = open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC);
    expect_fail("nested: open core_pattern for writing", fd);
    if (fd >= 0)
        close(fd);
    expect_fail("nested: sethostname", sethostname("lxb-nested", 10));
    {
        struct stat st;
        if (stat("/dev/null", &st) == 0)
            expect_fail("nested: chmod /dev/null (same mode)", chmod("/dev/null", st.st_mode & 07777));
    }
    mkdir("/tmp/lxb-cg", 0755);
    if (mount("lxb-cg", "/tmp/lxb-cg", "cgroup", 0, "memory") == 0) {
        line("nested: mount cgroup", "ESCAPE", "mounted");
        umount2("/tmp/lxb-cg", MNT_DETACH);
    } else {
        line("nested: mount cgroup", "blocked", ename(errno));
    }
    check_marker("nested user namespace", marker);
    return 0;
}

static int write_self(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    long rc;
    if (fd < 0)
        return -1;
    rc = write(fd, text, strlen(text));
    close(fd);
    return rc < 0 ? -1 : 0;
}

static int cmd_self_proc(int argc, char **argv)
{
    (void)argc, (void)argv;
    expect_fail("oom_score_adj -1000", write_self("/proc/self/oom_score_adj", "-1000\n"));
    expect_fail("rewrite uid_map", write_self("/proc/self/uid_map", "0 0 4294967295\n"));
    expect_fail("rewrite gid_map", write_self("/proc/self/gid_map", "0 0 4294967295\n"));
    return 0;
}

/* ---- resources ---- */

static volatile int spinning = 1;

static void *spin(void *arg)
{
    volatile unsigned long x = 0;
    (void)arg;
    while (spinning)
        x++;
    return NULL;
}

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* NTHREADS busy threads for MS milliseconds: cpu time against wall time */
static int cmd_spin(int argc, char **argv)
{
    int n = atoi(argv[0]), ms = atoi(argv[1]), i;
    pthread_t t[64];
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    (void)argc;
    for (i = 0; i < n && i < 64; i++)
        pthread_create(&t[i], NULL, spin, NULL);
    usleep((useconds_t)ms * 1000);
    spinning = 0;
    for (i = 0; i < n && i < 64; i++)
        pthread_join(t[i], NULL);
    printf("spin: info wall_ms=%.0f cpu_ms=%.0f\n", now(CLOCK_MONOTONIC) - w0,
           now(CLOCK_PROCESS_CPUTIME_ID) - c0);
    return 0;
}

/* fork N sleepers (a fork bomb that stops), count them, end them */
static int cmd_forkmany(int argc, char **argv)
{
    int n = atoi(argv[0]), i, ok = 0, err = 0;
    pid_t *kids = calloc((size_t)n, sizeof *kids);
    (void)argc;
    for (i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            pause();
            _exit(0);
        }
        if (p < 0) {
            err = errno;
            break;
        }
        kids[ok++] = p;
    }
    for (i = 0; i < ok; i++)
        kill(kids[i], SIGKILL);
    for (i = 0; i < ok; i++)
        waitpid(kids[i], NULL, 0);
    printf("forkmany: info forked=%d stopped_by=%s\n", ok, err ? ename(err) : "none");
    return 0;
}

/* touch MB megabytes, one at a time */
static int cmd_hog(int argc, char **argv)
{
    int mb = atoi(argv[0]), i;
    (void)argc;
    for (i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("hog: info allocated=%d stopped_by=ENOMEM\n", i);
            return 0;
        }
        memset(p, 1, 1 << 20);
    }
    printf("hog: info allocated=%d\n", mb);
    return 0;
}

static const struct {
    const char *name;
    int nargs;
    int (*fn)(int, char **);
    const char *usage;
} cmds[] = {
    {"whoami", 0, cmd_whoami, ""},
    {"plant", 1, cmd_plant, "DST"},
    {"chroot-break", 1, cmd_chroot_break, "MARKER"},
    {"proc-init", 1, cmd_proc_init, "MARKER"},
    {"fds", 0, cmd_fds, ""},
    {"handle", 2, cmd_handle, "HEX TYPE"},
    {"pivot", 1, cmd_pivot, "MARKER"},
    {"setns", 1, cmd_setns, "MARKER"},
    {"stdin-dir", 1, cmd_stdin_dir, "MARKER"},
    {"hardlink", 2, cmd_hardlink, "SRC DST"},
    {"remount-rw", 1, cmd_remount_rw, "PATH"},
    {"umount", 1, cmd_umount, "PATH"},
    {"move", 1, cmd_move, "PATH"},
    {"opentree-rw", 1, cmd_opentree_rw, "PATH"},
    {"nested-remount", 1, cmd_nested_remount, "PATH"},
    {"cgroup-mount", 1, cmd_cgroup_mount, "DIR"},
    {"x32", 0, cmd_x32, ""},
    {"int80", 0, cmd_int80, ""},
    {"listener", 0, cmd_listener, ""},
    {"tiocsti", 0, cmd_tiocsti, ""},
    {"abstract", 1, cmd_abstract, "NAME"},
    {"kill", 1, cmd_kill, "PID"},
    {"hostwide", 0, cmd_hostwide, ""},
    {"userfaultfd", 0, cmd_userfaultfd, ""},
    {"io_uring", 0, cmd_io_uring, ""},
    {"rlimit", 0, cmd_rlimit, ""},
    {"keys", 3, cmd_keys, "SERIAL DESC HOST_SESSION_SERIAL"},
    {"mknod", 2, cmd_mknod, "MAJOR MINOR"},
    {"open-w", 1, cmd_open_w, "PATH..."},
    {"fresh-sysfs", 1, cmd_fresh_sysfs, "/sys/PATH..."},
    {"sysctl", 1, cmd_sysctl, "PATH..."},
    {"masked", 1, cmd_masked, "PATH..."},
    {"chmod-same", 1, cmd_chmod_same, "PATH..."},
    {"read", 1, cmd_read, "PATH..."},
    {"stdout-setuid", 0, cmd_stdout_setuid, ""},
    {"unshare-caps", 1, cmd_unshare_caps, "MARKER"},
    {"self-proc", 0, cmd_self_proc, ""},
    {"spin", 2, cmd_spin, "NTHREADS MS"},
    {"forkmany", 1, cmd_forkmany, "N"},
    {"hog", 1, cmd_hog, "MB"},
};

int main(int argc, char **argv)
{
    size_t i;
    if (argc >= 2)
        for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
            if (strcmp(argv[1], cmds[i].name) == 0) {
                int rc;
                if (argc - 2 < cmds[i].nargs)
                    break;
                rc = cmds[i].fn(argc - 2, argv + 2);
                return rc ? rc : escaped;
            }
    fprintf(stderr, "usage: escape SUBCOMMAND ARGS...\n");
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(stderr, "  escape %s %s\n", cmds[i].name, cmds[i].usage);
    return 2;
}
