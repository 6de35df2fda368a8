/*
 * zone_proc.c: making a process of the zone, shared by the guest
 * (zone_guest.c) and a process exec'd into a running zone (zone_exec.c):
 * default signals, the zone's terminal or the caller's stdio, the
 * capability bounding set, the ids, and the brand's filter.  Each returns 0
 * (or the listener) or -errno; the caller says which step failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zone_int.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

void lxb_default_signals(void)
{
    sigset_t none;
    int sig;

    for (sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

int lxb_take_stdio(int master, const int *stdio)
{
    int i;

    if (master >= 0) {
        int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0)
            return -errno;
        for (i = 0; i < 3; i++)
            if (dup2(slave, i) < 0)
                return -errno;
        if (slave > 2)
            close(slave);
        return 0;
    }
    for (i = 0; i < 3; i++) {
        if (stdio[i] == i)
            fcntl(i, F_SETFD, 0);
        else if (dup2(stdio[i], i) < 0)
            return -errno;
    }
    return 0;
}

int lxb_drop_caps(uint64_t mask)
{
    int i;

    for (i = 0; i < 64; i++)
        if ((mask >> i) & 1 && prctl(PR_CAPBSET_DROP, i, 0, 0, 0) != 0 && errno != EINVAL)
            return -errno;
    return 0;
}

int lxb_become(uid_t uid, gid_t gid, const gid_t *groups, int ngroups)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    gid_t own = gid;

    if (!groups) {
        groups = &own;
        ngroups = uid == 0 && gid == 0 ? 0 : 1;
    }
    if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS) != 0)
        return -errno;
    /* The raw syscalls, not glibc's wrappers: this process is a raw clone of
     * a possibly multi-threaded host process (a Python using the library),
     * and glibc's set*id broadcast to "all threads" (__nptl_setxid) then
     * waits forever for threads of the parent that this process does not
     * have.  One thread here, so the syscall's own per-thread effect is all.
     * setgroups is denied when only one gid is mapped; then there are none. */
    if (syscall(SYS_setgroups, (size_t)ngroups, groups) != 0 && errno != EPERM)
        return -errno;
    if (syscall(SYS_setresgid, gid, gid, gid) != 0 || syscall(SYS_setresuid, uid, uid, uid) != 0)
        return -errno;
    if (syscall(SYS_capget, &hdr, data) != 0)
        return -errno;
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    if (syscall(SYS_capset, &hdr, data) != 0)
        return -errno;
    return 0;
}

/* keyrings(7): a process that no login gave a session keyring has its
 * user's default session keyring, _uid_ses.UID, which links the user
 * keyring _uid.UID, so keys added to @u are possessed: `keyctl add user k v
 * @u; keyctl print %user:k` reads them back (a key's possessor may read it,
 * its user only view it).  A zone's session keyring is an anonymous one of
 * its own (the caller's keys stay outside, SECURITY.md P10): it gets the
 * user keyring of the zone's ids linked in as well.  A process exec'd into a
 * running zone joins a new one first (fresh): it would otherwise keep the
 * caller's, and read the host caller's keys.  No keyrings (ENOSYS): none. */
int lxb_session_keyring(int fresh)
{
    if (fresh && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
        return errno == ENOSYS ? 0 : -errno;
    /* best effort, as pam_keyinit's: a full quota leaves @u unlinked */
    syscall(SYS_keyctl, KEYCTL_LINK, KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING);
    return 0;
}

int lxb_load_filter(const unsigned char *bpf, int len)
{
    struct sock_fprog prog;
    int listener;

    prog.len = (unsigned short)(len / (int)sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)bpf;
    /* WAIT_KILLABLE_RECV: once the supervisor has received a call, only a
     * fatal signal interrupts it, so an emulated call never both acts and
     * fails with EINTR */
    listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                            SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
    if (listener < 0 && errno == EINVAL)          /* a kernel before 5.19 */
        listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    return listener < 0 ? -errno : listener;
}

/* the container's own profile (lxb_profile_build), after the brand's filter:
 * no listener (its actions never notify); loading it is a seccomp(2) the
 * brand's filter lets through */
int lxb_load_profile(const unsigned char *bpf, int len)
{
    struct sock_fprog prog;

    prog.len = (unsigned short)(len / (int)sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)bpf;
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0 ? -errno : 0;
}
