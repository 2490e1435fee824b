/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_route.c - libFuzzer target: routing (fcgi/router.c route_find).
 *
 * The input is a method, a newline, and a request URI.  Properties: a
 * match names a route of the table; the :id it hands a handler is a
 * routable session id (util.c session_id_valid), the path's last segment
 * byte for byte; a 405's Allow value is NUL-ended; the query string never
 * changes the verdict.
 */
#include "config.h"

#include "fuzz.h"
#include "route.h"
#include "router.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), *uri, *q;
    struct route_match m, m2;
    enum route_result res, res2;

    uri = strchr(text, '\n');
    if (uri == NULL) {
        free(text);
        return 0;
    }
    *uri++ = '\0';
    res = route_find(text, uri, &m);
    FUZZ_ASSERT(strnlen(m.allow, sizeof(m.allow)) < sizeof(m.allow));
    if (res == ROUTE_OK) {
        FUZZ_ASSERT(m.id >= 0 && m.id < ROUTE_COUNT);
        if (m.id == ROUTE_SESSION_GET || m.id == ROUTE_SESSION_DELETE) {
            size_t n = strlen(m.param);
            size_t plen = strcspn(uri, "?");

            FUZZ_ASSERT(session_id_valid(m.param, n));
            FUZZ_ASSERT(plen >= n &&
                        memcmp(uri + plen - n, m.param, n) == 0 &&
                        uri[plen - n - 1] == '/');
        } else {
            FUZZ_ASSERT(m.param[0] == '\0');
        }
    }
    /* The same path without its query string routes the same way. */
    q = strchr(uri, '?');
    if (q != NULL) {
        *q = '\0';
        res2 = route_find(text, uri, &m2);
        FUZZ_ASSERT(res2 == res);
        if (res == ROUTE_OK)
            FUZZ_ASSERT(m2.id == m.id && strcmp(m2.param, m.param) == 0);
    }
    free(text);
    return 0;
}
