/*
 * zone_proto.h: messages between lxrun and the zone's init (private to C).
 *
 * ctl (init and guest -> lxrun): the pty master, the seccomp listener, a
 * failed setup step, a failed exec, the guest's wait status.
 */
#ifndef LXBRAND_ZONE_PROTO_H
#define LXBRAND_ZONE_PROTO_H

#define LXB_MAX_BINDS 64
#define LXB_MAX_KEEP (LXB_MAX_BINDS + 16)
#define LXB_MSG_TEXT 240

enum {
    LXB_MSG_PTY = 1,
    LXB_MSG_LISTENER,
    LXB_MSG_SETUP_FAILED,
    LXB_MSG_EXEC_FAILED,
    LXB_MSG_EXIT,
    LXB_MSG_GUEST,               /* a pidfd of the guest, held before its execve (hold_guest) */
};

struct lxb_msg {
    int type;
    int value;
    char text[LXB_MSG_TEXT];
};

#endif
