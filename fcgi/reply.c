/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * reply.c - the shared error answers of steel-fcgi (reply.h).
 *
 * Every Retry-After, Allow and WWW-Authenticate steel-fcgi sends is set
 * here; the JSON error shape itself is response_error's.  The estimate for a
 * full pool reads Redis (store_session_oldest: the oldest entry of
 * P:sessions and Redis's clock), so it holds for every node, not only this
 * process.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "log.h"
#include "reply.h"
#include "response.h"
#include "store.h"
#include "util.h"

#define URI_SHOWN_MAX 100 /* bytes of a path an error message shows */

void reply_redis_failed(struct handler *h, struct response *r, const char *what)
{
    log_warnx("%s: %s", what, store_strerror(&h->store));
    if (store_error(&h->store) != STORE_ERR_REDIS) {
        /* Not Redis: retrying soon would not help, so no 503. */
        response_error(r, API_ERR_INTERNAL, "%s failed in the state store (%s)",
                       what, store_err_name(store_error(&h->store)));
        return;
    }
    response_error(r, API_ERR_REDIS_UNAVAILABLE,
                   "state store unavailable, try again");
    response_header(r, "Retry-After", "1");
}

/* Seconds until the least recently used session expires, from P:sessions
 * and Redis's clock; session_ttl when Redis cannot tell. */
static long oldest_session_expiry(struct handler *h)
{
    int64_t last, now;
    long long left;

    if (store_session_oldest(&h->store, &last, &now) != 1)
        return h->conf->session_ttl;
    left = last + h->conf->session_ttl * 1000LL - now;
    return (long)((left + 999) / 1000);
}

long reply_retry_after(struct handler *h)
{
    long by_state[WORKER_STATE_COUNT];
    long busy, alive, secs;

    if (store_counts(&h->store, NULL, by_state) < 0)
        return 1;
    alive = by_state[WORKER_STARTING] + by_state[WORKER_IDLE] +
            by_state[WORKER_CREATING] + by_state[WORKER_BUSY] +
            by_state[WORKER_RELEASING];
    busy = by_state[WORKER_BUSY] + by_state[WORKER_CREATING];
    /* Workers are starting or the pool can still grow: soon. */
    if (by_state[WORKER_STARTING] > 0 || alive < h->conf->pool_max_workers)
        return 1;
    if (busy == 0)
        return 1;
    /* Full: a worker frees up when a session ends, at the latest when the
     * least recently used one expires. */
    secs = oldest_session_expiry(h);
    if (secs < 1)
        secs = 1;
    if (secs > h->conf->session_ttl)
        secs = h->conf->session_ttl;
    return secs;
}

/* No worker for a create before its create_wait deadline. */
static void reply_no_worker(struct handler *h, struct response *r,
                            long attempts)
{
    if (attempts > 0)
        response_error(r, API_ERR_WORKER_FAILED,
                       "%ld worker(s) failed this create and no other was "
                       "free in time",
                       attempts);
    else
        response_error(r, API_ERR_NO_WORKER,
                       "no worker became free within %ld s",
                       h->conf->create_wait);
    response_header(r, "Retry-After", "%ld", reply_retry_after(h));
}

static void reply_queue_full(struct handler *h, struct response *r, long queued,
                             const char *where)
{
    response_error(r, API_ERR_QUEUE_FULL, "%ld creates are already %s", queued,
                   where);
    response_header(r, "Retry-After", "%ld", reply_retry_after(h));
}

void reply_create_refused(struct handler *h, struct response *r,
                          enum create_refusal why, long n)
{
    enum create_failure reason = CREATE_FAIL_COUNT;

    switch (why) {
    case CREATE_REFUSED_QUEUE_FULL:
        reason = CREATE_FAIL_QUEUE_FULL;
        reply_queue_full(h, r, n, "queued in this handler");
        break;
    case CREATE_REFUSED_WAIT_FULL:
        reason = CREATE_FAIL_QUEUE_FULL;
        reply_queue_full(h, r, n, "waiting for a worker");
        break;
    case CREATE_REFUSED_NO_WORKER:
        reason = n > 0 ? CREATE_FAIL_WORKER_FAILED : CREATE_FAIL_NO_WORKER;
        reply_no_worker(h, r, n);
        break;
    case CREATE_REFUSED_FAILED:
        reason = CREATE_FAIL_WORKER_FAILED;
        response_error(r, API_ERR_WORKER_FAILED,
                       "the create failed on %ld worker(s)", n);
        response_header(r, "Retry-After", "1");
        break;
    case CREATE_REFUSED_REDIS:
        reason = CREATE_FAIL_REDIS;
        reply_redis_failed(h, r, "claim");
        break;
    case CREATE_REFUSED_CLIENT_GONE:
        reason = CREATE_FAIL_CLIENT_GONE;
        reply_client_gone(r);
        break;
    }
    if (reason == CREATE_FAIL_COUNT)
        response_error(r, API_ERR_INTERNAL, "create refused for no reason");
    else
        metrics_create_failure(&h->metrics, reason);
}

void reply_idempotency_in_progress(struct response *r)
{
    response_error(r, API_ERR_IDEMPOTENCY_IN_PROGRESS,
                   "a create with this Idempotency-Key is still running");
    response_header(r, "Retry-After", "1");
}

void reply_no_session(struct response *r)
{
    response_error(r, API_ERR_SESSION_NOT_FOUND,
                   "no live session with this id");
}

void reply_client_gone(struct response *r)
{
    response_error(r, API_ERR_BAD_REQUEST, "client went away");
}

/* Length of the well-formed UTF-8 sequence at s (1 to 4), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    size_t n, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    /* No overlong forms, no surrogates, nothing above U+10FFFF. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

/* Copies at most max bytes of in to out (size > max) without cutting a
 * character in two; a byte that is not well-formed UTF-8 becomes '?'. */
static void utf8_prefix(char *out, size_t size, const char *in, size_t max)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, n;

    while (*s != '\0' && o < size - 1) {
        n = utf8_seq(s);
        if (n == 0) {
            if (o + 1 > max)
                break;
            out[o++] = '?';
            s++;
            continue;
        }
        if (o + n > max)
            break;
        memcpy(out + o, s, n);
        o += n;
        s += n;
    }
    out[o] = '\0';
}

void reply_no_route(struct response *r, const char *method, const char *uri)
{
    char shown[URI_SHOWN_MAX + 1], m[16];

    utf8_prefix(shown, sizeof(shown), uri, URI_SHOWN_MAX);
    utf8_prefix(m, sizeof(m), method, sizeof(m) - 1);
    response_error(r, API_ERR_NOT_FOUND, "no such route: %s %s", m, shown);
}

void reply_bad_session_id(struct response *r)
{
    response_error(r, API_ERR_INVALID_SESSION_ID,
                   "a session id is 1 to %d characters of [A-Za-z0-9._~-]",
                   SESSION_ID_MAX);
}

void reply_method_not_allowed(struct response *r, const char *method,
                              const char *allow)
{
    response_error(r, API_ERR_METHOD_NOT_ALLOWED,
                   "method %s is not allowed here; allowed: %s", method, allow);
    response_header(r, "Allow", "%s", allow);
}

void reply_unauthorized(struct response *r)
{
    response_error(r, API_ERR_UNAUTHORIZED, "missing or wrong bearer token");
    response_header(r, "WWW-Authenticate", "Bearer");
}

void reply_operator_forbidden(struct response *r)
{
    response_error(r, API_ERR_FORBIDDEN,
                   "operator routes are closed while admin_token is not "
                   "set; set admin_token in steel-orchestrator.conf and "
                   "send it as a bearer token");
}
