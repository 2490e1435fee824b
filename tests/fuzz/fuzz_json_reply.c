/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_json_reply.c - libFuzzer target: a worker's replies
 * (common/jsonx.c jsonx_parse, jsonx_worker_session, jsonx_worker_status).
 * Workers are untrusted: whatever they send, the readers answer 0 or -1.
 *
 * Properties: a session id read from a reply is routable and NUL-ended
 * within its buffer; a status is 0 or 1 with a NUL-ended session id; a
 * failure says why.
 */
#include "config.h"

#include "fuzz.h"
#include "jsonx.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *why = NULL;
    char id[SESSION_ID_MAX + 1], sid[SESSION_ID_MAX + 1];
    struct json_object *v;
    int available = -1;

    v = jsonx_parse(s, size, &why);
    json_object_put(v);
    why = NULL;
    if (jsonx_worker_session(s, size, id, sizeof(id), &why) == 0)
        FUZZ_ASSERT(session_id_valid(id, strlen(id)));
    else
        FUZZ_ASSERT(why != NULL);
    why = NULL;
    if (jsonx_worker_status(s, size, &available, sid, sizeof(sid), &why) ==
        0) {
        FUZZ_ASSERT(available == 0 || available == 1);
        FUZZ_ASSERT(strnlen(sid, sizeof(sid)) < sizeof(sid));
    } else {
        FUZZ_ASSERT(why != NULL);
    }
    return 0;
}
