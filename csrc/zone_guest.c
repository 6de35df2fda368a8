/*
 * zone_guest.c: the guest, from its clone by init to its execve of CMD.
 *
 * The guest starts in a user namespace of its own whose ids init maps
 * (struct lxb_config guest_uid_map); it waits for them, becomes root there,
 * brings up its loopback, takes its stdio, finds CMD along PATH inside the
 * zone (after the zone's mounts, so a --bind destination counts), becomes
 * --uid/--gid keeping CAP_SYS_ADMIN only until the filter is loaded, loads
 * the brand's filter with a new listener, hands the listener over through
 * memory shared with init, and execs.  Between the filter and execve it
 * makes no syscall: each would obey the zone's policy, which applies to CMD,
 * not to lxbrand's own start-up.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zone_int.h"

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

/* an ELF the kernel refuses (32-bit, another machine) is not a script: the
   ENOEXEC fall-back to /bin/sh is for files without #! only */
static int starts_as_elf(const char *path)
{
    char magic[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), ok;

    if (fd < 0)
        return 0;
    ok = read(fd, magic, 4) == 4 && memcmp(magic, "\x7f" "ELF", 4) == 0;
    close(fd);
    return ok;
}

static __attribute__((noreturn)) void fail(int ctl, const char *step, int err)
{
    lxb_die_step(ctl, step, err);
}

void lxb_guest_main(const struct lxb_config *cfg, int ctl, int master, int gofd, struct lxb_handoff *h)
{
    char path[4096], c;
    int i, listener, rc, is_elf;

    lxb_default_signals();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (read(gofd, &c, 1) != 1)
        _exit(125);
    /* gofd stays open: it wakes init before the filter (below) */
    /* the guest holds every capability of its new namespace from here on,
     * whatever its ids (set by lxb_become(), which may map no 0) */
    if (!cfg->net_host && (rc = loopback_up()) < 0)
        fail(ctl, "bring up lo", -rc);

    if (cfg->use_pty == LXB_PTY_JOB && master >= 0) {
        /* the terminal's foreground job in init's session (zone_init.c JOB
           CONTROL): init made the group and the pty the session's terminal */
        int slave;
        if (setpgid(0, 0) != 0)
            fail(ctl, "setpgid", errno);
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0)
            fail(ctl, "the zone's terminal", errno);
        for (i = 0; i < 3; i++)
            if (dup2(slave, i) < 0)
                fail(ctl, "the zone's terminal", errno);
        if (slave > 2)
            close(slave);
    } else {
        if (setsid() < 0)
            fail(ctl, "setsid", errno);
        if ((rc = lxb_take_stdio(master, cfg->stdio)) < 0)
            fail(ctl, master >= 0 ? "the zone's terminal" : "stdio", -rc);
    }
    if (master >= 0)
        close(master);
    if (cfg->cwd && chdir(cfg->cwd) != 0) {
        lxb_send_msg(ctl, LXB_MSG_SETUP_FAILED, errno, "--cwd: no such directory in the zone", -1);
        _exit(125);
    }
    rc = lxb_find_command(cfg->path, cfg->search_path, path, sizeof path);
    if (rc < 0) {
        h->exec_errno = -rc;
        _exit(127);
    }
    is_elf = starts_as_elf(path);
    if (cfg->nproc > 0) {
        struct rlimit rl = {(rlim_t)cfg->nproc, (rlim_t)cfg->nproc};
        if (setrlimit(RLIMIT_NPROC, &rl) != 0)
            fail(ctl, "--pids (RLIMIT_NPROC)", errno);
    }
    /* capabilities the zone's root does not get (the personality decides:
     * those the kernel checks against the host's namespace, which root in a
     * zone would hold and still be refused) */
    if ((rc = lxb_drop_caps(cfg->cap_drop)) < 0)
        fail(ctl, "drop capabilities from the bounding set", -rc);
    /* everything but stdio closes at exec; ctl is needed until then */
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    if ((rc = lxb_become((uid_t)cfg->uid, (gid_t)cfg->gid, NULL, 0)) < 0)
        fail(ctl, "become --uid/--gid", -rc);
    lxb_session_keyring(0);
    /* init, in the parent namespace, takes our listener with pidfd_getfd
     * (a change of uid above reset this) */
    prctl(PR_SET_DUMPABLE, 1);

    /* init sleeps until now (zone_init.c take_listener): wake it while our
     * syscalls are still our own; its wait for the listener is then only
     * as long as the seccomp(2) below */
    if (write(gofd, "f", 1) != 1)
        fail(ctl, "wake init", errno);
    close(gofd);
    if ((listener = lxb_load_filter(cfg->bpf, cfg->bpf_len)) < 0)
        fail(ctl, "load the seccomp filter", -listener);
    /* the container's own profile stacks on the brand's: the stricter wins */
    if (cfg->profile_bpf_len > 0 && (rc = lxb_load_profile(cfg->profile_bpf, cfg->profile_bpf_len)) < 0)
        fail(ctl, "load the container's seccomp profile", -rc);

    /* from here on, no syscall but execve */
    __atomic_store_n(&h->listener, listener, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&h->taken, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
    execve(path, cfg->argv, cfg->envp);
    if (errno == ENOEXEC && !is_elf) {
        /* execvp's rule, as chroot(1) and bwrap follow it: a file the kernel
         * cannot execute (a script without #!) runs with /bin/sh */
        int argc = 0;
        while (cfg->argv[argc])
            argc++;
        char *sh_argv[argc + 2];
        sh_argv[0] = (char *)"/bin/sh";
        sh_argv[1] = path;
        for (i = 1; i <= argc; i++)
            sh_argv[i + 1] = cfg->argv[i];
        execve("/bin/sh", sh_argv, cfg->envp);
        errno = ENOEXEC;
    }
    h->exec_errno = errno;
    _exit(127);
}
