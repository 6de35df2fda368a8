/*
 * zone_int.h: what the zone's three processes share (private to csrc/).
 *
 *   launcher.c   the parent (lxrun): clone init (or have lxbrand-init,
 *                exec'd, clone it), id maps, cgroups, wait
 *   zone_init.c  init, pid 1 of the zone: runs the set-up, starts the guest,
 *                takes its listener, reaps, forwards signals
 *   zone_guest.c the guest until it execs CMD
 *   zone_fs.c    the zone's file system (run by init)
 *   zone_util.c  messages, files, paths resolved inside the rootfs
 *
 * Between clone and exec nothing allocates: the parent may be a threaded
 * Python process.
 */
#ifndef LXBRAND_ZONE_INT_H
#define LXBRAND_ZONE_INT_H

#include <stdint.h>
#include <sys/types.h>
#include "lxbrand.h"
#include "zone_proto.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/*
 * The guest's hand-over, in memory shared by init and the guest.  After the
 * guest loads its filter it makes no syscall but execve: every other one
 * would obey the zone's policy (a user's --deny or handler), so it writes
 * the listener's fd number here and spins until init has taken the fd with
 * pidfd_getfd.
 */
struct lxb_handoff {
    volatile int listener;       /* the guest's listener fd, or -1 */
    volatile int taken;          /* set by init: the guest may exec */
    volatile int exec_errno;     /* execve failed with this */
};

/* zone_util.c */
void lxb_send_msg(int fd, int type, int value, const char *text, int pass_fd);
int lxb_recv_msg(int fd, struct lxb_msg *m, int *fd_out);
__attribute__((noreturn)) void lxb_die_step(int ctl, const char *step, int err);
int lxb_write_file(const char *path, const char *text);
void lxb_close_except(const int *keep, int n);
int lxb_open_in_root(int rootfd, const char *path, int flags);
int lxb_mkdirs_in_root(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid);
int lxb_mountpoint_in_root(int rootfd, const char *path, int is_dir, uid_t uid, gid_t gid);
void lxb_fd_path(char *buf, size_t len, int fd);
/* CMD along PATH, as execvp looks it up: 0 with the path in out, or -errno */
int lxb_find_command(const char *cmd, const char *search, char *out, size_t len);

/* zone_proc.c: a process of the zone until its execve (the guest, or one
   exec'd into a running zone) */
void lxb_default_signals(void);
/* stdio: the pty slave of master as controlling terminal (master stays
   open: an exec'd process shares its fd table with the relay), or stdio[0..2] */
int lxb_take_stdio(int master, const int *stdio);
/* drop every capability (1 << CAP_X) of mask from the bounding set */
int lxb_drop_caps(uint64_t mask);
/* become uid/gid with groups (NULL: gid alone, none for root), keeping the
   capabilities until execve (a non-root exec drops them all) */
int lxb_become(uid_t uid, gid_t gid, const gid_t *groups, int ngroups);
/* after lxb_become: the session keyring of CMD (a new one when fresh; init
   made the guest's) holding the user keyring, as Linux's _uid_ses does */
int lxb_session_keyring(int fresh);
/* load the brand's filter with a new listener: the listener, or -errno */
int lxb_load_filter(const unsigned char *bpf, int len);
/* then the container's own seccomp profile, if any: 0 or -errno */
int lxb_load_profile(const unsigned char *bpf, int len);

/* zone_fs.c: build the zone's tree and pivot into it */
void lxb_setup_fs(int ctl, const struct lxb_config *cfg);

/* launcher.c: the zone's init cloned with its namespaces (plus extra flags:
   CLONE_PARENT from lxbrand-init); the child runs lxb_init_main.  Init's
   pid, or -errno with a message in err */
pid_t lxb_clone_init(const struct lxb_config *cfg, int ctl, int syncfd, unsigned long extra, char *err,
                     int errlen);
/* the launch configuration into a new memfd (struct lxb_pack_head): the
   memfd, or -errno */
int lxb_config_pack(const struct lxb_config *cfg);
/* ... and back, mapped from memfd: the config, or NULL */
struct lxb_config *lxb_config_unpack(int memfd);
/* lxbrand-init's main: lxbrand-init CONFIG_MEMFD CTL SYNC */
int lxb_starter_main(int argc, char **argv);

/* zone_init.c */
__attribute__((noreturn)) void lxb_init_main(const struct lxb_config *cfg, int ctl, int syncfd);

/* zone_guest.c */
__attribute__((noreturn)) void lxb_guest_main(const struct lxb_config *cfg, int ctl, int master, int gofd,
                                              struct lxb_handoff *h);

#endif
