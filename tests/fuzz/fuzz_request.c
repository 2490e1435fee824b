/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fuzz_request.c - libFuzzer target: the request as handlers see it,
 * filled from FastCGI parameters (fcgi/request.c request_set_params).
 *
 * The input is the parameters' values separated by newlines, in the
 * order of names[] (a value may hold any other byte).  Properties: every
 * field stays NUL-ended within its array; a value that did not fit sets
 * its flag, one that fit is copied whole; Content-Length is -1 or a
 * number >= 0.
 */
#include "config.h"

#include "fuzz.h"
#include "request.h"

static const char *const names[] = {
    "REQUEST_METHOD",     "REQUEST_URI",          "CONTENT_TYPE",
    "CONTENT_LENGTH",     "HTTP_AUTHORIZATION",   "HTTP_IDEMPOTENCY_KEY",
    "REMOTE_ADDR",
};
#define NPARAMS (sizeof(names) / sizeof(names[0]))

struct params {
    const char *value[NPARAMS];
};

static const char *get(const char *name, void *arg)
{
    struct params *p = arg;
    size_t i;

    for (i = 0; i < NPARAMS; i++) {
        if (strcmp(names[i], name) == 0)
            return p->value[i];
    }
    return NULL;
}

/* field holds value, or its first size - 1 bytes with *flag set. */
static void check_field(const char *field, size_t size, const char *value,
                        int flag)
{
    size_t n = strnlen(field, size);

    FUZZ_ASSERT(n < size);
    if (value == NULL) {
        FUZZ_ASSERT(n == 0);
        return;
    }
    if (strlen(value) < size) {
        FUZZ_ASSERT(strcmp(field, value) == 0);
        FUZZ_ASSERT(flag == 0);
    } else {
        FUZZ_ASSERT(n == size - 1 && memcmp(field, value, n) == 0);
        FUZZ_ASSERT(flag != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size), *p = text;
    struct params prm;
    struct request rq;
    size_t i;

    memset(&prm, 0, sizeof(prm));
    for (i = 0; i < NPARAMS && p != NULL; i++) {
        char *nl = strchr(p, '\n');

        prm.value[i] = p;
        if (nl != NULL)
            *nl++ = '\0';
        p = nl;
    }
    request_init(&rq, 1024);
    request_set_params(&rq, get, &prm);
    check_field(rq.uri, sizeof(rq.uri), prm.value[1], rq.uri_too_long);
    check_field(rq.authorization, sizeof(rq.authorization), prm.value[4],
                rq.auth_too_long);
    check_field(rq.idempotency_key, sizeof(rq.idempotency_key),
                prm.value[5], rq.idem_too_long);
    FUZZ_ASSERT(strnlen(rq.method, sizeof(rq.method)) < sizeof(rq.method));
    FUZZ_ASSERT(strnlen(rq.content_type, sizeof(rq.content_type)) <
                sizeof(rq.content_type));
    FUZZ_ASSERT(strnlen(rq.remote_addr, sizeof(rq.remote_addr)) <
                sizeof(rq.remote_addr));
    FUZZ_ASSERT(rq.content_length >= -1);
    request_reset(&rq);
    FUZZ_ASSERT(rq.content_length == -1 && rq.uri[0] == '\0');
    request_release(&rq);
    free(text);
    return 0;
}
