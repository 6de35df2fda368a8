/*
 * zone_proto.h: messages between lxrun and the zone's init (private to C).
 *
 * ctl (init and guest -> lxrun): the pty master, the seccomp listener, a
 * failed setup step, a failed exec, the guest's wait status; and, first,
 * from lxbrand-init when it starts the zone for lxrun, init's pid.
 */
#ifndef LXBRAND_ZONE_PROTO_H
#define LXBRAND_ZONE_PROTO_H

#include <stdint.h>

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
    LXB_MSG_INIT,                /* from lxbrand-init, the starter: value is init's pid */
    LXB_MSG_STOPPED,             /* use_pty LXB_PTY_JOB: the guest stopped, value its wait status */
    LXB_MSG_CONTINUED,           /* and it continued */
};

/*
 * The launch configuration as lxbrand-init reads it (launcher.c,
 * lxb_config_pack and lxb_config_unpack): a memfd holding this head, then
 * a copy of struct lxb_config whose pointers are offsets into the memfd
 * (plus one; 0 is NULL), then what they point to, each 8-byte aligned.
 * Writer and reader are built from the same sources (make build);
 * config_size catches a starter left from an older build.
 */
#define LXB_PACK_MAGIC 0x6c786266u   /* "fbxl" */

struct lxb_pack_head {
    uint32_t magic;
    uint32_t config_size;        /* sizeof(struct lxb_config) of the writer */
    uint64_t len;                /* the whole pack, in bytes */
    uint64_t config;             /* offset (+1) of the struct lxb_config */
};

struct lxb_msg {
    int type;
    int value;
    char text[LXB_MSG_TEXT];
};

#endif
