/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_query.c - libFuzzer target: the query string of the session list
 * (fcgi/request.c request_query_long, as admin.c reads offset and limit).
 *
 * The input is the query string.  Properties: a success leaves the value
 * within [min, max] (or the default when the name is absent); a failure
 * is a 400 the caller answers, never a crash or a read past the URI.
 */
#include "config.h"

#include "fuzz.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request rq;
    long offset = -7, limit = -7;
    int rc_o, rc_l;

    if (size + sizeof("/sessions?") > sizeof(rq.uri))
        return 0;
    request_init(&rq, 16);
    memcpy(rq.uri, "/sessions?", 10);
    memcpy(rq.uri + 10, data, size);
    rq.uri[10 + size] = '\0';
    rc_o = request_query_long(&rq, "offset", 0, 1000000000L, 0, &offset);
    rc_l = request_query_long(&rq, "limit", 1, 1000, 100, &limit);
    if (rc_o == 0)
        FUZZ_ASSERT(offset >= 0 && offset <= 1000000000L);
    else
        FUZZ_ASSERT(rc_o == -1);
    if (rc_l == 0)
        FUZZ_ASSERT(limit >= 1 && limit <= 1000);
    else
        FUZZ_ASSERT(rc_l == -1);
    /* No '?' at all: the defaults. */
    rq.uri[9] = '\0';
    FUZZ_ASSERT(request_query_long(&rq, "limit", 1, 1000, 100, &limit) == 0 &&
                limit == 100);
    request_release(&rq);
    return 0;
}
