/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * request.h - one HTTP request as the handlers see it, independent of
 * libfcgi: main.c fills it from the FastCGI parameters and stdin; the tests
 * fill it directly.
 */
#ifndef STEEL_REQUEST_H
#define STEEL_REQUEST_H

#include <stdint.h>

#include "buf.h"

struct response;

#define REQUEST_FIELD_MAX 256
/* Room for "Bearer " and a token as long as the configuration allows
 * (CONF_STR_MAX - 1 bytes), with spaces. */
#define REQUEST_AUTH_MAX 600
/* Room for REQUEST_URI and its NUL.  No route needs a tenth of it; it is
 * kept below lighttpd's limit of a request's header (8 KiB), so that an
 * over-long URI reaches steel-fcgi and gets its JSON 414 (a longer one
 * gets lighttpd's 431). */
#define REQUEST_URI_MAX 4096

struct request {
    char method[16];
    char uri[REQUEST_URI_MAX];   /* REQUEST_URI as sent: path and query */
    char content_type[REQUEST_FIELD_MAX];
    char authorization[REQUEST_AUTH_MAX];
    char idempotency_key[REQUEST_FIELD_MAX];
    char remote_addr[64];
    long content_length;         /* -1 when absent */
    int uri_too_long;            /* REQUEST_URI did not fit in uri */
    int auth_too_long;           /* Authorization did not fit: no token
                                  * can match it */
    int idem_too_long;           /* Idempotency-Key did not fit */
    struct buf body;             /* bounded by max_body */
    int body_too_large;          /* the body exceeded max_body */
    /* Returns 1 when the client has gone away (it closed the connection);
     * may be NULL. */
    int (*client_gone)(void *arg);
    void *client_gone_arg;
    /* Sends r to the client now and ends the request, so that a handler
     * can finish its own clean-up (a DELETE's worker release, a hedged
     * create's loser) without the client waiting.  Returns 0, or -1 when
     * the answer could not be written.  May be NULL (the tests): the
     * answer is then written when the handler returns. */
    int (*reply_early)(void *arg, struct response *r);
    void *reply_arg;
    int64_t arrived_ms; /* monotonic ms the request reached us; 0: now */
    /* Kept by router.c so that a request is counted once, when its
     * answer goes out (router_observe), not when its clean-up ends. */
    int route;          /* enum route_id; ROUTE_COUNT before routing */
    int64_t routed_ms;  /* monotonic ms routing began */
    int observed;       /* counted in the handler's metrics */
};

void request_init(struct request *rq, size_t max_body);
void request_release(struct request *rq);
/* Forgets everything but the allocations. */
void request_reset(struct request *rq);

/* Fills the fields from a parameter lookup (CGI names: REQUEST_METHOD,
 * REQUEST_URI, CONTENT_TYPE, CONTENT_LENGTH, HTTP_AUTHORIZATION,
 * HTTP_IDEMPOTENCY_KEY, REMOTE_ADDR).  Values too long for a field set
 * the matching flag; the body is read separately. */
void request_set_params(struct request *rq,
                        const char *(*get)(const char *name, void *arg),
                        void *arg);

/* Reads query parameter name of rq->uri as a whole number within
 * [min, max] into *out; *out = def when absent.  Returns 0, or -1 when
 * present but not such a number (or repeated). */
int request_query_long(const struct request *rq, const char *name, long min,
                       long max, long def, long *out);

/* The token of rq's "Authorization: Bearer <token>" (the scheme in any
 * case, RFC 7235; spaces or tabs after it), pointing into rq, or NULL
 * when there is none or the header did not fit. */
const char *request_bearer_token(const struct request *rq);

/* 1 when addr (a REMOTE_ADDR as lighttpd sets it) is a loopback address:
 * 127.0.0.0/8, ::1, or ::ffff:127.0.0.0/104.  0 for anything else, an
 * empty or unparsable value included. */
int addr_is_loopback(const char *addr);

/* 1 when the client of rq has gone away (rq->client_gone says so), 0 when
 * it is still there or nobody can tell. */
int request_client_gone(const struct request *rq);

/* Writes r to the client now through rq->reply_early, unless r was sent
 * already or there is no reply_early (the answer then goes out when the
 * handler returns); r->sent is set once it was written. */
void request_reply_now(struct request *rq, struct response *r);

#endif
