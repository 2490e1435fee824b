/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * request.c - filling struct request from CGI-style parameters (request.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "request.h"
#include "response.h"
#include "util.h"

void request_init(struct request *rq, size_t max_body)
{
    memset(rq, 0, sizeof(*rq));
    buf_init(&rq->body, max_body);
    rq->content_length = -1;
}

void request_release(struct request *rq)
{
    buf_release(&rq->body);
}

void request_reset(struct request *rq)
{
    struct buf body = rq->body;

    memset(rq, 0, sizeof(*rq));
    rq->body = body;
    buf_reset(&rq->body);
    rq->content_length = -1;
}

/* Copies value into field; returns 1 if it had to be truncated. */
static int copy_field(char *field, size_t size, const char *value)
{
    size_t n;

    if (value == NULL) {
        field[0] = '\0';
        return 0;
    }
    n = strlen(value);
    if (n >= size) {
        memcpy(field, value, size - 1);
        field[size - 1] = '\0';
        return 1;
    }
    memcpy(field, value, n + 1);
    return 0;
}

void request_set_params(struct request *rq,
                        const char *(*get)(const char *name, void *arg),
                        void *arg)
{
    const char *cl;
    long v;

    copy_field(rq->method, sizeof(rq->method), get("REQUEST_METHOD", arg));
    rq->uri_too_long =
        copy_field(rq->uri, sizeof(rq->uri), get("REQUEST_URI", arg));
    /* Content-Type is informational only: a long one is cut, harmlessly.
     * Each of the others fails only what depends on it. */
    copy_field(rq->content_type, sizeof(rq->content_type),
               get("CONTENT_TYPE", arg));
    rq->auth_too_long = copy_field(rq->authorization,
                                   sizeof(rq->authorization),
                                   get("HTTP_AUTHORIZATION", arg));
    rq->idem_too_long = copy_field(rq->idempotency_key,
                                   sizeof(rq->idempotency_key),
                                   get("HTTP_IDEMPOTENCY_KEY", arg));
    copy_field(rq->remote_addr, sizeof(rq->remote_addr),
               get("REMOTE_ADDR", arg));
    cl = get("CONTENT_LENGTH", arg);
    rq->content_length = -1;
    if (cl != NULL && cl[0] != '\0' &&
        parse_long(cl, 0, 0x7fffffffffffffffL, &v) == 0)
        rq->content_length = v;
}

int request_query_long(const struct request *rq, const char *name, long min,
                       long max, long def, long *out)
{
    const char *q = strchr(rq->uri, '?');
    size_t nlen = strlen(name);
    int found = 0;

    *out = def;
    if (q == NULL)
        return 0;
    q++;
    while (*q != '\0') {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);

        if (len > nlen && q[nlen] == '=' && strncmp(q, name, nlen) == 0) {
            char value[32];
            size_t vlen = len - nlen - 1;

            if (found || vlen >= sizeof(value))
                return -1;
            memcpy(value, q + nlen + 1, vlen);
            value[vlen] = '\0';
            if (parse_long(value, min, max, out) < 0)
                return -1;
            found = 1;
        }
        q += len + (amp ? 1 : 0);
    }
    return 0;
}

const char *request_bearer_token(const struct request *rq)
{
    const char *p = rq->authorization;

    if (rq->auth_too_long || strncasecmp(p, "Bearer", 6) != 0 ||
        (p[6] != ' ' && p[6] != '\t'))
        return NULL;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int addr_is_loopback(const char *addr)
{
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                               0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                           0, 0, 0, 0, 0, 0, 0, 1};
    unsigned char a[16];

    if (inet_pton(AF_INET, addr, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, addr, a) == 1)
        return memcmp(a, v6lo, 16) == 0 ||
               (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
    return 0;
}

int request_client_gone(const struct request *rq)
{
    return rq->client_gone != NULL && rq->client_gone(rq->client_gone_arg);
}

void request_reply_now(struct request *rq, struct response *r)
{
    if (rq->reply_early != NULL && !r->sent &&
        rq->reply_early(rq->reply_arg, r) == 0)
        r->sent = 1;
}
