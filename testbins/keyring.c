/* keyring: what a process in a zone reaches of its keyrings
 * (tests/test_sweep_tools.py).
 *
 *   keyring own                       keyctl add user k v @u; keyctl print:
 *                                     the payload read back, or the errno
 *   keyring host SERIAL DESC SESSION  a key of the caller's host session
 *                                     keyring: search @s for DESC, read
 *                                     SERIAL, is @s SESSION (the host's)?
 */
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *result(long rc)
{
    if (rc >= 0)
        return "ok";
    switch (errno) {
    case ENOKEY: return "ENOKEY";
    case EACCES: return "EACCES";
    case EKEYREVOKED: return "EKEYREVOKED";
    case EPERM: return "EPERM";
    default: return strerror(errno);
    }
}

int main(int argc, char **argv)
{
    char buf[64];
    long key, n;

    if (argc == 2 && strcmp(argv[1], "own") == 0) {
        key = syscall(SYS_add_key, "user", "lxb-own", "v4lue", 5, KEY_SPEC_USER_KEYRING);
        n = key < 0 ? key : syscall(SYS_keyctl, KEYCTL_READ, key, buf, sizeof buf);
        if (n < 0)
            printf("%s\n", result(n));
        else
            printf("%.*s\n", (int)n, buf);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "host") == 0) {
        printf("search %s\n", result(syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user",
                                             argv[3], 0)));
        printf("read %s\n", result(syscall(SYS_keyctl, KEYCTL_READ, atol(argv[2]), buf, sizeof buf)));
        printf("session %s\n", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) ==
               atol(argv[4]) ? "host's" : "own");
        return 0;
    }
    fprintf(stderr, "usage: keyring own | keyring host SERIAL DESC SESSION\n");
    return 2;
}
