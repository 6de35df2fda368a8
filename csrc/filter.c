/*
 * filter.c: the brand's seccomp filter, generated with libseccomp.
 *
 * Python compiles the table into one action per syscall number; this file
 * turns that into a BPF program, once, in the parent.  The zone's guest loads
 * the bytes with a raw seccomp(2) after clone, so no allocation happens
 * between clone and execve.
 *
 * Unknown syscalls answer ENOSYS in the kernel: nothing the table does not
 * know reaches the host.  Any other architecture (int 0x80, x32) kills.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lxbrand.h"

static uint32_t action_of(int32_t act)
{
    if (act == LXB_ACT_ALLOW)
        return SCMP_ACT_ALLOW;
    if (act == LXB_ACT_NOTIFY)
        return SCMP_ACT_NOTIFY;
    if (act == LXB_ACT_KILL)
        return SCMP_ACT_KILL_PROCESS;
    if (act == LXB_ACT_TRACE)
        return SCMP_ACT_TRACE(0); /* to lxrun's tracer (trace.c); ENOSYS without one */
    return SCMP_ACT_ERRNO((uint16_t)act);
}

int lxb_filter_build(const int32_t *action, int n, unsigned char *out, int outlen)
{
    scmp_filter_ctx ctx;
    int rc, fd = -1, nr;
    off_t len;

    ctx = seccomp_init(SCMP_ACT_ERRNO(ENOSYS));
    if (ctx == NULL)
        return -ENOMEM;
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc < 0)
        goto out;
    /* The guest has CAP_SYS_ADMIN in its user namespace, so the filter loads
       without NO_NEW_PRIVS, and setuid programs inside behave as on Linux. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (rc < 0)
        goto out;
    /* A binary tree of syscall numbers instead of a linear chain. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc < 0)
        goto out;
    for (nr = 0; nr < n; nr++) {
        int32_t act = action[nr];
        if (act == LXB_ACT_DEFAULT || act == ENOSYS)
            continue;
        if (!(act == LXB_ACT_ALLOW || act == LXB_ACT_NOTIFY || act == LXB_ACT_KILL || act == LXB_ACT_TRACE ||
              (act > 0 && act < 4096))) {
            rc = -EINVAL;
            goto out;
        }
        rc = seccomp_rule_add(ctx, action_of(act), nr, 0);
        if (rc < 0)
            goto out;
    }
    fd = memfd_create("lxbrand-bpf", MFD_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0)
        goto out;
    len = lseek(fd, 0, SEEK_CUR);
    if (len < 0 || len > outlen) {
        rc = len < 0 ? -errno : -E2BIG;
        goto out;
    }
    if (pread(fd, out, len, 0) != len) {
        rc = -EIO;
        goto out;
    }
    rc = (int)len;
out:
    if (fd >= 0)
        close(fd);
    seccomp_release(ctx);
    return rc;
}
