/*
 * zone_init.c: the zone's init, pid 1 of its pid namespace.
 *
 * Init is a clone of lxrun (the C front door), or, for a caller that is an
 * interpreter, of lxbrand-init (csrc/init/, exec'd by lxb_zone_start, which
 * clones init as the caller's child and exits), in the zone's first user
 * namespace: never a clone of the interpreter, whose later writes would
 * each leave a private page in init.  It builds the
 * zone's file system (zone_fs.c), names the zone, and starts the guest in a
 * second user namespace below its own, with mount, uts, ipc, cgroup (and,
 * unless --net host, network) namespaces of the guest's own: every mount
 * init made is then locked for the guest, and the guest's root owns only
 * the guest's namespaces.  Init writes the guest's id maps, takes the
 * guest's seccomp listener with pidfd_getfd (struct lxb_handoff), and passes
 * it to lxrun.
 *
 * Init stays ours: it never execs, it is not dumpable (its mm belongs to the
 * host's user namespace, where lxrun or lxbrand-init was exec'd, so no
 * process of the zone can ptrace it or read its /proc files), and it runs
 * without the filter.  It reaps orphans, forwards
 * the signals lxrun receives to the guest's process group, sends the guest's
 * wait status to lxrun, and exits; the kernel then kills whatever is left.
 * If lxrun dies, PR_SET_PDEATHSIG kills init, and with it the zone.
 *
 * JOB CONTROL
 *
 * With use_pty LXB_PTY_JOB (lxrun --tty) the guest is the zone's terminal's
 * foreground job, as a shell starts a program: init leads the session whose
 * controlling terminal is the zone's pty, and the guest is a process group
 * of that session, so its group is not orphaned (its parent, init, is in
 * another group of the same session) and the kernel lets a typed ^Z, or the
 * guest's own kill(0, SIGTSTP) (vim), stop it.  Init sees the stop (waitpid
 * WUNTRACED) and tells lxrun, which gives the user's terminal back and
 * stops itself; the user's `fg` continues lxrun, which sends CONT, forwarded
 * here to the guest's group.  A job-control shell as the guest stops only
 * its own jobs, as it does under a terminal.  The guest has no handle on
 * anything new: the session's terminal is the zone's pty, init never reads
 * or writes it, and every signal init forwards goes to the guest's group.
 * Without LXB_PTY_JOB (--no-tty, OCI terminals) the guest leads a session of
 * its own, as runc's container process does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "zone_int.h"

/*
 * Init is a clone of lxrun or lxbrand-init, so /proc/1/cmdline in the zone
 * would show that host command line.  Blank it in place (the argument area is init's own
 * copy-on-write memory; /proc/self/stat fields 48 and 49 give its bounds)
 * and name the process, as setproctitle does.
 */
static void init_rename(void)
{
    char buf[1024], *p;
    unsigned long start = 0, end = 0;
    int field;

    prctl(PR_SET_NAME, "lxbrand-init");
    if (lxb_read_small("/proc/self/stat", buf, sizeof buf) <= 0)
        return;
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

/* whether PID has a handler for SIG (SigCgt of /proc/PID/status) */
static int catches(pid_t pid, int sig)
{
    char path[64], buf[2048], *p;
    unsigned long long mask = 0;

    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (lxb_read_small(path, buf, sizeof buf) <= 0)
        return 0;
    p = strstr(buf, "SigCgt:");
    if (!p || sscanf(p + 7, "%llx", &mask) != 1)
        return 0;
    return (int)((mask >> (sig - 1)) & 1);
}

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* init's start, in clock ticks since boot (/proc/self/stat field 22), or -1 */
static long long init_start_ticks(void)
{
    char buf[1024], *p;
    long long ticks = -1;
    int field;

    if (lxb_read_small("/proc/self/stat", buf, sizeof buf) <= 0 || !(p = strrchr(buf, ')')))
        return -1;
    for (field = 2; *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (sscanf(p, "%lld", &ticks) != 1)
        return -1;
    return ticks;
}

/* The zone's clocks: a time namespace for the guest (init's children), its
   CLOCK_MONOTONIC and CLOCK_BOOTTIME offset to start at init's start, so
   that /proc/uptime, uptime(1) and sysinfo's uptime count from the zone's
   start, and every process's start time (/proc/PID/stat field 22, which the
   kernel shows in the reader's namespace) is at or after zero: init's own,
   made before the offsets, is shown as 0 (its start floored to a clock tick,
   so the offset never exceeds it; with -now, ps showed init started in 2611).
   The offsets are written before any process enters it (time_namespaces(7));
   a kernel without time namespaces (EINVAL) keeps the host's clocks. */
static void zone_clocks(int ctl)
{
    static const struct {
        clockid_t id;
        const char *name;
    } clocks[] = {{CLOCK_MONOTONIC, "monotonic"}, {CLOCK_BOOTTIME, "boottime"}};
    char text[128];
    size_t len = 0;
    long long start_ns = 0, ticks = init_start_ticks(), hz = sysconf(_SC_CLK_TCK);
    struct timespec boot;
    unsigned i;
    int fd;

    if (unshare(CLONE_NEWTIME) != 0) {
        if (errno == EINVAL)
            return;
        lxb_die_step(ctl, "unshare the zone's time namespace", errno);
    }
    clock_gettime(CLOCK_BOOTTIME, &boot);
    if (ticks >= 0 && hz > 0)
        start_ns = ticks * (1000000000LL / hz);
    /* time since init started, the zone's uptime at this moment */
    long long since = (long long)boot.tv_sec * 1000000000LL + boot.tv_nsec - start_ns;
    if (ticks < 0 || since < 0)
        since = 0;
    for (i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec ts;
        long long ns;
        clock_gettime(clocks[i].id, &ts);
        /* -(now - since), as seconds and a nanosecond part in 0..999999999 */
        ns = -((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - since);
        len += (size_t)snprintf(text + len, sizeof text - len, "%s %lld %lld\n", clocks[i].name,
                                (ns - 999999999LL) / 1000000000LL,
                                ns - ((ns - 999999999LL) / 1000000000LL) * 1000000000LL);
    }
    fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len)
        lxb_die_step(ctl, "write the zone's clock offsets", errno);
    close(fd);
}

static void write_guest_maps(int ctl, pid_t guest, const struct lxb_config *cfg)
{
    char path[64];
    int rc;

    snprintf(path, sizeof path, "/proc/%d/uid_map", guest);
    if ((rc = lxb_write_file(path, cfg->guest_uid_map)) < 0)
        lxb_die_step(ctl, "write the guest's uid map", -rc);
    snprintf(path, sizeof path, "/proc/%d/gid_map", guest);
    if ((rc = lxb_write_file(path, cfg->guest_gid_map)) < 0)
        lxb_die_step(ctl, "write the guest's gid map", -rc);
}

/* id in the guest's namespace as init's namespace knows it (a map's text,
   "inside outside count" lines), or -1 if the map leaves it out */
static long id_in_init(const char *map, unsigned long id)
{
    const char *p = map;

    while (p && *p) {
        char *end;
        unsigned long in = strtoul(p, &end, 10), out, count;
        if (end == p)
            break;
        out = strtoul(end, &end, 10);
        count = strtoul(end, &end, 10);
        if (id >= in && id - in < count)
            return (long)(out + (id - in));
        p = strchr(end, '\n');
        if (p)
            p++;
    }
    return -1;
}

/* the zone's terminal is its user's, group tty, as login(1) and script(1)
   leave it: devpts gives a new slave to whoever opened /dev/ptmx, init,
   whose id the guest's namespace may not map, and the guest could then not
   open its own terminal by name ($(tty), ttyname(3), screen, GPG_TTY) */
static void pty_owner(int master, const struct lxb_config *cfg)
{
    char path[64];
    unsigned int n;
    long uid = id_in_init(cfg->guest_uid_map, cfg->uid);
    long gid = id_in_init(cfg->guest_gid_map, 5);      /* tty */
    int fd;

    if (gid < 0)
        gid = id_in_init(cfg->guest_gid_map, cfg->gid);
    if (uid < 0 || ioctl(master, TIOCGPTN, &n) != 0)
        return;
    /* by path (O_PATH): opening and closing the slave would hang the pty up;
       best effort, as login's: a terminal owned by init still works by its fds */
    snprintf(path, sizeof path, "/dev/pts/%u", n);
    fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        if (fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH) != 0) {
            /* the zone starts all the same */
        }
        close(fd);
    }
}

/*
 * Init as the zone's root, to ps.  The guest's user namespace shows init's
 * ids as it maps them, and run by root init has host root's ids (of its own
 * namespace, mapped one to one), which the guest's never maps: ps said init
 * was "nobody".  Once the guest is started, init takes the zone root's ids
 * as its effective (and file system) ids only, keeping its capabilities
 * (SECBIT_NO_SETUID_FIXUP; they are its own namespace's) and its real and
 * saved ids, which the kernel's checks of one process against another use:
 * the guest's root still may not signal init (kill: the target's real and
 * saved ids), set its limits (prlimit: all three) or, init holding
 * capabilities the guest's root never has, renice it or change its
 * scheduling, affinity or I/O priority (commoncap's cap_safe_nice); init's
 * /proc files stay host root's, as it is not dumpable (ptrace, /proc/1/mem,
 * pidfd_getfd, oom_score_adj stay refused).  On the host init only loses:
 * its files are opened as the zone's root, no longer as host root.  Run by a
 * user, init already has the zone root's ids.  A change of effective ids
 * clears PR_SET_PDEATHSIG: set again, and if lxrun died meanwhile (its end
 * of ctl hung up: it waits there for the listener), init goes now.
 */
static void init_as_zone_root(int ctl, const struct lxb_config *cfg)
{
    long uid = id_in_init(cfg->guest_uid_map, 0), gid = id_in_init(cfg->guest_gid_map, 0);
    struct pollfd pfd = {ctl, POLLRDHUP, 0};
    int rc = 0;

    if (uid < 0 || gid < 0 || ((uid_t)uid == geteuid() && (gid_t)gid == getegid()))
        return;
    /* raw set*id: init is a raw clone (zone_proc.c lxb_become says why) */
    if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP) != 0 ||
        syscall(SYS_setresgid, (gid_t)-1, (gid_t)gid, (gid_t)-1) != 0 ||
        syscall(SYS_setresuid, (uid_t)-1, (uid_t)uid, (uid_t)-1) != 0)
        rc = errno;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)))
        _exit(125);
    if (rc)
        lxb_die_step(ctl, "init as the zone's root", rc);
}

/* wait until the guest has loaded its filter and published its listener;
   returns the listener, taken into init, or -1 if the guest died first.
   Init sleeps on `go` (a socketpair with the guest) until the guest writes
   a byte just before its seccomp(2), or dies (EOF); then it waits out that
   one syscall, after which the guest may make none to say it is done
   (zone_int.h struct lxb_handoff): sched_yield, not a timed poll. */
static int take_listener(int ctl, pid_t guest, struct lxb_handoff *h, int go)
{
    struct pollfd pfd = {go, POLLIN, 0};
    int pidfd, fd, st;
    char c;

    while (poll(&pfd, 1, -1) < 0)
        if (errno != EINTR)
            lxb_die_step(ctl, "wait for the guest (poll)", errno);
    if (read(go, &c, 1) != 1)
        return -1;               /* EOF: the guest died before its filter */
    while (__atomic_load_n(&h->listener, __ATOMIC_ACQUIRE) < 0) {
        if (waitpid(guest, &st, WNOHANG) == guest)
            return -1;
        sched_yield();
    }
    pidfd = (int)syscall(SYS_pidfd_open, guest, 0);
    if (pidfd < 0)
        lxb_die_step(ctl, "take the guest's listener (pidfd_open)", errno);
    fd = (int)syscall(SYS_pidfd_getfd, pidfd, h->listener, 0);
    if (fd < 0)
        lxb_die_step(ctl, "take the guest's listener (pidfd_getfd)", errno);
    close(pidfd);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

void lxb_init_main(const struct lxb_config *cfg, int ctl, int syncfd)
{
    int keep[LXB_MAX_KEEP], nkeep = 0, i, master = -1, tty = -1, sigfd, go[2], st, listener;
    int job = cfg->use_pty == LXB_PTY_JOB;
    unsigned long flags;
    struct lxb_handoff *h;
    sigset_t all;
    char c;
    pid_t guest, p;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    init_rename();
    keep[nkeep++] = ctl;
    keep[nkeep++] = syncfd;
    if (cfg->lower_fd >= 0)
        keep[nkeep++] = cfg->lower_fd;
    for (i = 0; i < 3; i++)
        keep[nkeep++] = cfg->stdio[i];
    lxb_close_except(keep, nkeep);
    /* 0, 1 and 2 stay taken until init puts /dev/null there: a closed one
     * would become init's signalfd or a pipe, which that dup2 would then
     * overwrite (init spinning on a read of /dev/null) */
    for (i = 0; i < 3; i++)
        if (fcntl(i, F_GETFD) < 0 && open("/dev/null", O_RDWR) != i)
            _exit(125);

    /* leave lxrun's session: signals from the host's terminal go to lxrun,
     * which forwards them once, never to init directly as well */
    setsid();

    /* wait for the id maps and cgroups; EOF means lxrun died */
    if (read(syncfd, &c, 1) != 1)
        _exit(125);
    close(syncfd);

    /* a session keyring of the zone's own: the caller's keys stay outside */
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS)
        lxb_die_step(ctl, "a session keyring for the zone", errno);

    lxb_setup_fs(ctl, cfg);
    if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) != 0)
        lxb_die_step(ctl, "sethostname", errno);
    if (cfg->domainname && setdomainname(cfg->domainname, strlen(cfg->domainname)) != 0)
        lxb_die_step(ctl, "setdomainname", errno);
    prctl(PR_SET_DUMPABLE, 0);

    if (cfg->use_pty) {
        int unlock = 0;
        struct winsize ws;
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) != 0)
            lxb_die_step(ctl, "open the zone's /dev/ptmx", errno);
        if (ioctl(cfg->stdio[0], TIOCGWINSZ, &ws) == 0)
            ioctl(master, TIOCSWINSZ, &ws);
        pty_owner(master, cfg);
        /* a job: the pty is the controlling terminal of init's session (init
           called setsid above), whose foreground group the guest becomes */
        if (job) {
            tty = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
            if (tty < 0 || ioctl(tty, TIOCSCTTY, 0) != 0)
                lxb_die_step(ctl, "the zone's terminal as init's session's", errno);
        }
        lxb_send_msg(ctl, LXB_MSG_PTY, 0, NULL, master);
    }

    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    sigfd = signalfd(-1, &all, SFD_CLOEXEC);
    if (sigfd < 0)
        lxb_die_step(ctl, "signalfd", errno);
    h = mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED)
        lxb_die_step(ctl, "mmap", errno);
    h->listener = -1;
    h->taken = 0;
    h->exec_errno = 0;
    /* init -> guest: the id maps are written; guest -> init: the filter is next */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) != 0)
        lxb_die_step(ctl, "socketpair", errno);

    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
    if (!cfg->net_host)
        flags |= CLONE_NEWNET;
    /* the guest inherits dumpable, which init's writes to its /proc/PID/uid_map
     * need; no other process of the zone exists yet to see init dumpable */
    prctl(PR_SET_DUMPABLE, 1);
    zone_clocks(ctl);            /* its /proc/self/timens_offsets: init's own while dumpable */
    guest = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
    if (guest != 0)
        prctl(PR_SET_DUMPABLE, 0);
    if (guest < 0)
        lxb_die_step(ctl, "start the guest in its own user namespace", errno);
    if (guest == 0) {
        close(go[1]);
        close(sigfd);
        lxb_guest_main(cfg, ctl, master, go[0], h);
    }
    close(go[0]);
    write_guest_maps(ctl, guest, cfg);
    if (tty >= 0) {
        /* the guest's group, the terminal's foreground, before it runs on;
           init's own fd to the slave goes, or the master would never read EIO */
        if (setpgid(guest, guest) != 0 || tcsetpgrp(tty, guest) != 0)
            lxb_die_step(ctl, "the guest as the zone's terminal's foreground job", errno);
        close(tty);
        tty = -1;
    }
    if (write(go[1], "x", 1) != 1)
        lxb_die_step(ctl, "start the guest", errno);
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

    listener = take_listener(ctl, guest, h, go[1]);
    close(go[1]);
    if (listener < 0) {
        /* the guest died before its filter: it said why, or its command
         * was not found */
        if (h->exec_errno)
            lxb_send_msg(ctl, LXB_MSG_EXEC_FAILED, h->exec_errno, NULL, -1);
        _exit(127);
    }
    /* before the listener goes: lxrun waits on ctl for it, so a hang-up
       there means lxrun died */
    init_as_zone_root(ctl, cfg);
    if (cfg->hold_guest) {
        int pidfd = (int)syscall(SYS_pidfd_open, guest, 0);
        if (pidfd < 0)
            lxb_die_step(ctl, "a pidfd of the guest", errno);
        lxb_send_msg(ctl, LXB_MSG_GUEST, 0, NULL, pidfd);
        close(pidfd);
    }
    lxb_send_msg(ctl, LXB_MSG_LISTENER, 0, NULL, listener);
    close(listener);
    if (cfg->hold_guest && read(ctl, &c, 1) != 1)
        _exit(125);              /* lxrun is gone */
    __atomic_store_n(&h->taken, 1, __ATOMIC_RELEASE);

    for (;;) {
        struct signalfd_siginfo si;
        if (read(sigfd, &si, sizeof si) != sizeof si)
            continue;
        if (si.ssi_signo == SIGCHLD) {
            while ((p = waitpid(-1, &st, WNOHANG | (job ? WUNTRACED | WCONTINUED : 0))) > 0) {
                if (WIFSTOPPED(st) || WIFCONTINUED(st)) {
                    if (p == guest)     /* a job's stop: lxrun stops too */
                        lxb_send_msg(ctl, WIFSTOPPED(st) ? LXB_MSG_STOPPED : LXB_MSG_CONTINUED, st, NULL,
                                     -1);
                    continue;
                }
                if (p == guest) {
                    if (h->exec_errno)
                        lxb_send_msg(ctl, LXB_MSG_EXEC_FAILED, h->exec_errno, NULL, -1);
                    else
                        lxb_send_msg(ctl, LXB_MSG_EXIT, st, NULL, -1);
                    _exit(0);
                }
            }
        } else if (si.ssi_pid == 0) {
            /* from lxrun (outside: pid 0 here) to the guest's process group,
             * as a shell's parent signals a job; the guest's own kill(1, ...)
             * are not forwarded */
            int sig = (int)si.ssi_signo;
            if (!job && (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) && !catches(guest, sig))
                sig = SIGSTOP;   /* the guest's group is orphaned (its own session under
                                    init): the kernel drops a default-action TSTP there */
            if (kill(-guest, sig) != 0)
                kill(guest, sig);
        }
    }
}
