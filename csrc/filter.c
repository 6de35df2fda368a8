/*
 * filter.c: the brand's seccomp filter, generated with libseccomp.
 *
 * Python compiles the table into one action per syscall number; this file
 * turns that into a BPF program, once, in the parent.  The zone's guest loads
 * the bytes with a raw seccomp(2) after clone, so no allocation happens
 * between clone and execve.
 *
 * Unknown syscalls answer ENOSYS in the kernel: nothing the table does not
 * know reaches the host (while the ptrace tracer shows them, it answers
 * them ENOSYS: see lxb_filter_build).  Any other architecture (int 0x80,
 * x32) kills.
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

/* the BPF program of ctx into out: its length in bytes, or -errno */
static int export_bpf(scmp_filter_ctx ctx, unsigned char *out, int outlen)
{
    int rc, fd;
    off_t len;

    fd = memfd_create("lxbrand-bpf", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = seccomp_export_bpf(ctx, fd);
    if (rc >= 0) {
        len = lseek(fd, 0, SEEK_CUR);
        if (len < 0 || len > outlen)
            rc = len < 0 ? -errno : -E2BIG;
        else
            rc = pread(fd, out, len, 0) == len ? (int)len : -EIO;
    }
    close(fd);
    return rc;
}

/*
 * The container's own seccomp profile (config.json linux.seccomp, read by
 * lxbrand/oci.py), as a second filter the zone's processes load after the
 * brand's: seccomp runs every filter of a task and keeps the most
 * restrictive answer, so the profile can refuse more than the brand, never
 * less (a syscall the brand emulates or denies stays emulated or denied).
 * Actions are SECCOMP_RET_* values, which libseccomp's SCMP_ACT_* are;
 * SECCOMP_RET_USER_NOTIF is refused (the zone's listener is the brand's).
 * The zone runs x86_64 only: the brand's filter kills any other
 * architecture before this one matters.  *failed names the rule libseccomp
 * refused, or -1.
 */
static int profile_action_ok(uint32_t act)
{
    switch (act & 0xffff0000U) {
    case SCMP_ACT_KILL_PROCESS:
    case SCMP_ACT_KILL_THREAD:
    case SCMP_ACT_TRAP:
    case 0x00050000U:                 /* SCMP_ACT_ERRNO(x) */
    case 0x7ff00000U:                 /* SCMP_ACT_TRACE(x) */
    case SCMP_ACT_LOG:
    case SCMP_ACT_ALLOW:
        return 1;
    }
    return 0;
}

int lxb_profile_build(uint32_t default_action, const struct lxb_scmp_rule *rules, int n, unsigned char *out,
                      int outlen, int *failed)
{
    struct scmp_arg_cmp cmp[6];
    scmp_filter_ctx ctx;
    int rc, i, j;

    *failed = -1;
    if (!profile_action_ok(default_action))
        return -EINVAL;
    ctx = seccomp_init(default_action);
    if (ctx == NULL)
        return -ENOMEM;
    /* loaded with CAP_SYS_ADMIN in the zone's user namespace, as the brand's */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (rc < 0)
        goto out;
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc < 0)
        goto out;
    for (i = 0; i < n; i++) {
        const struct lxb_scmp_rule *r = &rules[i];
        *failed = i;
        rc = -EINVAL;
        if (!profile_action_ok(r->action) || r->nargs < 0 || r->nargs > 6)
            goto out;
        for (j = 0; j < r->nargs; j++) {
            if (r->args[j].index > 5 || r->args[j].op < LXB_CMP_NE || r->args[j].op > LXB_CMP_MASKED_EQ)
                goto out;
            cmp[j].arg = r->args[j].index;
            cmp[j].op = (enum scmp_compare)r->args[j].op;   /* LXB_CMP_* are libseccomp's values */
            cmp[j].datum_a = r->args[j].value;
            cmp[j].datum_b = r->args[j].value_two;
        }
        rc = seccomp_rule_add_array(ctx, r->action, r->nr, (unsigned int)r->nargs, cmp);
        if (rc < 0)
            goto out;
    }
    *failed = -1;
    rc = export_bpf(ctx, out, outlen);
out:
    seccomp_release(ctx);
    return rc;
}

/*
 * action[LXB_NR_PAST] (a number no table names) stands for every number past
 * the array too: LXB_ACT_TRACE there (the ptrace tracer shows unnamed
 * numbers, lxbrand/trace.py Observe.actions) makes RET_TRACE the default, so
 * that the tracer sees a number past the table and answers it ENOSYS
 * (csrc/trace.c seccomp_stop; RET_TRACE without a tracer is ENOSYS too);
 * LXB_ACT_NOTIFY there (--report, trace.py ReportBrand) makes USER_NOTIF the
 * default: the supervisor answers it ENOSYS and counts it (supervisor.c
 * report_count; a notification nobody answers is ENOSYS too).  A number of
 * the array left to the default then gets its ENOSYS as a rule.
 */
int lxb_filter_build(const int32_t *action, int n, unsigned char *out, int outlen)
{
    scmp_filter_ctx ctx;
    int32_t dflt = n == LXB_NR_MAX ? action[LXB_NR_PAST] : LXB_ACT_DEFAULT;
    int rc, nr, traced = dflt == LXB_ACT_TRACE || dflt == LXB_ACT_NOTIFY;

    ctx = seccomp_init(traced ? action_of(dflt) : SCMP_ACT_ERRNO(ENOSYS));
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
        if (act == LXB_ACT_DEFAULT || act == ENOSYS) {
            if (!traced)
                continue;
            act = ENOSYS;
        } else if (traced && act == dflt) {
            continue;            /* the default (libseccomp refuses a rule of it) */
        }
        if (!(act == LXB_ACT_ALLOW || act == LXB_ACT_NOTIFY || act == LXB_ACT_KILL || act == LXB_ACT_TRACE ||
              (act > 0 && act < 4096))) {
            rc = -EINVAL;
            goto out;
        }
        rc = seccomp_rule_add(ctx, action_of(act), nr, 0);
        if (rc < 0)
            goto out;
    }
    rc = export_bpf(ctx, out, outlen);
out:
    seccomp_release(ctx);
    return rc;
}
