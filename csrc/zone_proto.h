/*
 * zone_proto.h: messages between lxrun and the zone's init (private to C).
 *
 * ctl (init and guest -> lxrun): the pty master, the seccomp listener, a
 * failed setup step, a failed exec, the guest's wait status.
 * agent (supervisor -> init -> supervisor): operations that must run inside
 * the zone's namespaces, answered by init.
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
};

struct lxb_msg {
    int type;
    int value;
    char text[LXB_MSG_TEXT];
};

enum {
    LXB_AGENT_SETHOSTNAME = 1,
    LXB_AGENT_SETDOMAINNAME,
};

struct lxb_agent_req {
    int op;
    char text[LXB_UTS_LEN];
};

struct lxb_agent_rep {
    int rc;
};

#endif
