/* Functions the two front doors share: lxrun (lxrun.c) and lxbrand-oci (oci.c). */
#ifndef LXB_FRONTDOOR_COMMON_H
#define LXB_FRONTDOOR_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* sethostname(2)'s limit, as lxbrand/config.py checks it */
#define HOST_NAME_MAX_ 64

/* a hostname of RFC 1123 labels (letters, digits, '-'; 1-63 each), 1-64 bytes: 1, else 0 */
int valid_hostname(const char *name);
/* lxbrand/brand/compile.py's cache file names: FNV-1a, 64 bits */
uint64_t fnv1a64(const char *s, size_t n);
/* a little-endian 32-bit number */
uint32_t le32(const unsigned char *p);
/* a cache file this user owns and no one else can write: 1, else 0 */
int trusted(const struct stat *st);
/* stat(2) finds a directory there: 1, else 0 */
int is_dir(const char *path);
/* "path\tsize\tmtime_ns\n" lines (LEN bytes): every file unchanged since: 1, else 0 */
int deps_fresh(const char *deps, size_t len);

#endif
