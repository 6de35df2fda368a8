/* Functions the two front doors share: lxrun (lxrun.c) and lxbrand-oci (oci.c). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

int valid_hostname(const char *name)
{
    const char *p = name, *start;
    size_t len = strlen(name);

    if (len == 0 || len > HOST_NAME_MAX_)
        return 0;
    for (;;) {
        start = p;
        while (*p && *p != '.') {
            char c = *p;
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                return 0;
            p++;
        }
        if (p == start || p - start > 63 || *start == '-' || p[-1] == '-')
            return 0;
        if (!*p)
            return 1;
        p++;
    }
}

uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int trusted(const struct stat *st)
{
    return st->st_uid == geteuid() && !(st->st_mode & 022);
}

int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int deps_fresh(const char *deps, size_t len)
{
    char *copy = strndup(deps, len), *line, *save = NULL;
    int ok = copy != NULL;

    for (line = ok ? strtok_r(copy, "\n", &save) : NULL; line && ok; line = strtok_r(NULL, "\n", &save)) {
        char *t1 = strchr(line, '\t'), *t2;
        struct stat st;
        if (!t1 || !(t2 = strchr(t1 + 1, '\t'))) {
            ok = 0;
            break;
        }
        *t1 = *t2 = 0;
        ok = stat(line, &st) == 0 && (long long)st.st_size == atoll(t1 + 1) &&
             (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == atoll(t2 + 1);
    }
    free(copy);
    return ok;
}
