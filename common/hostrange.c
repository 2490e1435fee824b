/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * hostrange.c - the entries of worker_hosts (hostrange.h).  A node's
 * handlers call another node's workers only at an address this node's
 * configuration lists: the host, and the ports of that node's
 * worker_port_range ("10.0.0.12:22000-22099"), or this node's own range
 * when the entry names none.  Redis never widens it: a record, or a
 * node's heartbeat, that names another port is not called.
 *
 * Invariants: parsing is bounded by the entry's length (no copy of an
 * unbounded string); a malformed entry is refused by the configuration
 * check, so at run time every entry parses.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hostrange.h"
#include "util.h"

/* One port of at most 5 digits from s[0..len) into *out.  Returns 0/-1. */
static int port_of(const char *s, size_t len, long *out)
{
    char tmp[8];

    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return parse_long(tmp, 1, 65535, out);
}

int hostrange_parse(const char *entry, size_t len, size_t *hostlen, long *lo,
                    long *hi)
{
    const char *colon = NULL, *dash;
    size_t i;

    for (i = len; i > 0; i--) {
        if (entry[i - 1] == ':') {
            colon = entry + i - 1;
            break;
        }
    }
    *hostlen = len;
    if (colon == NULL ||
        memchr(colon, '-', len - (size_t)(colon - entry)) == NULL)
        return len > 0 ? 0 : -1;
    *hostlen = (size_t)(colon - entry);
    dash = memchr(colon, '-', len - (size_t)(colon - entry));
    if (*hostlen == 0 ||
        port_of(colon + 1, (size_t)(dash - colon - 1), lo) < 0 ||
        port_of(dash + 1, len - (size_t)(dash + 1 - entry), hi) < 0 ||
        *lo > *hi)
        return -1;
    return 1;
}

int hostrange_list_check(const char *list, char *err, size_t errsize)
{
    const char *p = list;

    while (*p != '\0') {
        size_t len = strcspn(p, " \t"), hl;
        long lo, hi;

        if (len > 0 && hostrange_parse(p, len, &hl, &lo, &hi) < 0) {
            snprintf(err, errsize,
                     "worker_hosts: \"%.*s\" is not HOST or "
                     "HOST:LOW-HIGH with 1 <= LOW <= HIGH <= 65535",
                     (int)(len > 200 ? 200 : len), p);
            return -1;
        }
        p += len;
        if (*p != '\0')
            p++;
    }
    return 0;
}

int hostrange_allows(const char *list, const char *host, long port, long dlo,
                     long dhi)
{
    size_t want = strlen(host);
    const char *p = list;

    while (*p != '\0') {
        size_t len = strcspn(p, " \t"), hl;
        long lo = dlo, hi = dhi;

        if (len > 0 && hostrange_parse(p, len, &hl, &lo, &hi) >= 0 &&
            hl == want && want > 0 && memcmp(p, host, hl) == 0 && port >= lo &&
            port <= hi)
            return 1;
        p += len;
        if (*p != '\0')
            p++;
    }
    return 0;
}
