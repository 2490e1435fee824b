/*
 * sessions.c - POST /sessions (checks and idempotency; create.c gets the
 * session onto a worker), GET and DELETE /sessions/:id.
 *
 * Invariants kept here (with the scripts of common/store_*.c):
 *   - a request for session S addresses its worker as /sessions/S, so a
 *     worker that no longer holds S answers 404 and nothing else;
 *   - the TTL is the Redis key's expiry, refreshed only by store_touch
 *     (GET) and store_bind (create);
 *   - every call to a worker has worker_connect_timeout_ms and
 *     worker_timeout_ms; a create never waits longer than create_wait for a
 *     worker.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "create.h"
#include "handler.h"
#include "jsonx.h"
#include "log.h"
#include "release.h"
#include "reply.h"
#include "request.h"
#include "response.h"
#include "route.h"
#include "sessions.h"
#include "store.h"
#include "util.h"

#define IDEM_POLL_MS 40

/* 1 when key is a usable Idempotency-Key: 1 to 128 visible ASCII
 * characters. */
static int idempotency_key_valid(const char *key)
{
    size_t i;

    for (i = 0; key[i] != '\0'; i++) {
        if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f)
            return 0;
    }
    return i > 0 && i <= 128;
}

/* FNV-1a over the body, with its length: tells a repeated request from a
 * different one under the same key. */
static void body_fingerprint(const struct buf *b, char *out, size_t size)
{
    uint64_t hash = 14695981039346656037ULL;
    size_t i;

    for (i = 0; i < b->len; i++) {
        hash ^= (unsigned char)b->data[i];
        hash *= 1099511628211ULL;
    }
    snprintf(out, size, "%016llx-%zu", (unsigned long long)hash, b->len);
}

/* POST /sessions with an Idempotency-Key: the first request with a key
 * creates; repeats within session_ttl get the stored answer; a repeat
 * while the first is still running waits for it, but no longer than any
 * create may take (create_wait + worker_timeout_ms from its arrival):
 * then 409.  The pending mark outlives the first create's own deadline
 * by a margin. */
static void create_idempotent(struct handler *h, struct request *rq,
                              struct response *r)
{
    const struct conf *c = h->conf;
    const char *key = rq->idempotency_key;
    long budget_ms = c->create_wait * 1000 + c->worker_timeout_ms;
    long pending_ms = budget_ms + 5000;
    int64_t deadline =
        (rq->arrived_ms > 0 ? rq->arrived_ms : now_mono_ms()) + budget_ms;
    char fp[48];
    long status = 0;
    int rc;

    body_fingerprint(&rq->body, fp, sizeof(fp));
    for (;;) {
        rc = store_idem_begin(&h->store, key, fp, pending_ms, &h->scratch,
                              &status);
        if (rc < 0) {
            reply_redis_failed(h, r, "idempotency");
            return;
        }
        if (rc == STORE_IDEM_DONE) {
            response_set(r, (int)status, "application/json",
                         h->scratch.data, h->scratch.len);
            response_header(r, "Idempotent-Replayed", "true");
            return;
        }
        if (rc == STORE_IDEM_CONFLICT) {
            log_debug("idempotency key reused with another body");
            response_error(r, API_ERR_IDEMPOTENCY_CONFLICT,
                           "this Idempotency-Key was used with a different "
                           "body");
            return;
        }
        if (rc == STORE_IDEM_GO)
            break;
        if (now_mono_ms() >= deadline || request_client_gone(rq)) {
            reply_idempotency_in_progress(r);
            return;
        }
        sleep_ms(IDEM_POLL_MS);
    }
    if (create_session(h, rq, r)) {
        if (store_idem_finish(&h->store, key, fp, r->status, r->body.data,
                              r->body.len, c->session_ttl * 1000) < 0)
            log_warnx("idempotency finish: %s", store_strerror(&h->store));
    } else if (store_idem_abort(&h->store, key, fp) < 0) {
        log_warnx("idempotency abort: %s", store_strerror(&h->store));
    }
}

void handle_session_create(struct handler *h, struct request *rq,
                           const struct route_match *m, struct response *r)
{
    const struct conf *c = h->conf;
    enum jsonx_type type;
    const char *why = NULL;

    (void)m;

    if (rq->body_too_large) {
        response_error(r, API_ERR_BODY_TOO_LARGE,
                       "the body is larger than %ld bytes", c->max_body);
        return;
    }
    if (rq->body.len == 0) {
        response_error(r, API_ERR_INVALID_JSON,
                       "the body must be a JSON object, e.g. {}");
        return;
    }
    if (jsonx_validate_body(rq->body.data, rq->body.len, &type, &why) < 0) {
        response_error(r, API_ERR_INVALID_JSON, "%s", why);
        return;
    }
    if (type != JSONX_OBJECT) {
        response_error(r, API_ERR_NOT_AN_OBJECT,
                       "the body must be a JSON object");
        return;
    }
    if (rq->idem_too_long || (rq->idempotency_key[0] != '\0' &&
                                !idempotency_key_valid(rq->idempotency_key))) {
        response_error(r, API_ERR_BAD_REQUEST,
                       "Idempotency-Key must be 1 to 128 visible ASCII "
                       "characters");
        return;
    }
    if (rq->idempotency_key[0] != '\0')
        create_idempotent(h, rq, r);
    else
        create_session(h, rq, r);
}

void handle_session_get(struct handler *h, struct request *rq,
                        const struct route_match *m, struct response *r)
{
    const struct conf *c = h->conf;
    const char *sid = m->param;
    struct worker_addr w;
    struct whttp_resp resp;
    enum whttp_result res;
    char path[SESSION_ID_MAX + 16];
    int rc;

    if (strcmp(rq->method, "HEAD") == 0) {
        /* HEAD looks and changes nothing: no TTL refresh, no worker call. */
        rc = store_session_peek(&h->store, sid);
        if (rc < 0)
            reply_redis_failed(h, r, "peek");
        else if (rc == 0)
            reply_no_session(r);
        else
            response_set(r, 200, "application/json", NULL, 0);
        return;
    }
    rc = store_touch(&h->store, sid, c->session_ttl * 1000, &w);
    if (rc < 0) {
        reply_redis_failed(h, r, "touch");
        return;
    }
    if (rc == 0) {
        log_debug("session %s: not found", sid);
        reply_no_session(r);
        return;
    }
    snprintf(path, sizeof(path), "/sessions/%s", sid);
    res = whttp_request(&h->http, "GET", w.host, w.port, path, NULL, 0,
                        c->worker_connect_timeout_ms, c->worker_timeout_ms,
                        &resp);
    if (res == WHTTP_OK && resp.status == 200) {
        char held[SESSION_ID_MAX + 1];
        const char *why = NULL;

        /* Only a JSON object for this very session goes to the client: a
         * worker's garbage (or another session) never does. */
        if (jsonx_worker_session(resp.body, resp.len, held, sizeof(held),
                                 &why) < 0 ||
            strcmp(held, sid) != 0) {
            log_warnx("worker %s (%s:%d): GET of session %s: unusable reply "
                      "(%s)",
                      w.id, w.host, w.port, sid,
                      why != NULL ? why : "another session's id");
            response_error(r, API_ERR_WORKER_UNAVAILABLE,
                           "the session's worker sent an unusable reply");
            return;
        }
        response_set(r, 200, "application/json", resp.body, resp.len);
        return;
    }
    if (res == WHTTP_OK && resp.status == 404) {
        /* The worker no longer holds it: the session is gone.  The worker
         * goes to releasing; the reaper checks it before reuse. */
        log_info("session %s: worker %s (%s:%d) answered 404; session "
                 "dropped",
                 sid, w.id, w.host, w.port);
        if (store_end_lost(&h->store, sid, &w) < 0)
            log_warnx("session %s: drop: %s", sid, store_strerror(&h->store));
        reply_no_session(r);
        return;
    }
    if (res == WHTTP_REFUSED || res == WHTTP_BROKEN) {
        log_warnx("worker %s (%s:%d): %s on GET of session %s; marked dead",
                  w.id, w.host, w.port, whttp_result_str(res), sid);
        worker_failed(h, &w, "unreachable");
        response_error(r, API_ERR_SESSION_NOT_FOUND,
                       "the session's worker is gone");
        return;
    }
    if (res == WHTTP_TIMEOUT) {
        log_warnx("worker %s (%s:%d): no answer within %ld ms on GET of "
                  "session %s",
                  w.id, w.host, w.port, c->worker_timeout_ms, sid);
        response_error(r, API_ERR_WORKER_TIMEOUT,
                       "the session's worker did not answer in time");
        return;
    }
    log_warnx("worker %s (%s:%d): GET of session %s: %s %ld", w.id, w.host,
              w.port, sid, whttp_result_str(res), resp.status);
    response_error(r, API_ERR_WORKER_UNAVAILABLE,
                   "the session's worker failed (%s)",
                   whttp_result_str(res));
}

void handle_session_delete(struct handler *h, struct request *rq,
                           const struct route_match *m, struct response *r)
{
    const char *sid = m->param;
    struct worker_addr w;
    int rc;

    rc = store_end(&h->store, sid, &w);
    if (rc < 0) {
        reply_redis_failed(h, r, "end");
        return;
    }
    if (rc == 0) {
        log_debug("session %s: not found for DELETE", sid);
        reply_no_session(r);
        return;
    }
    log_debug("session %s: deleted", sid);
    response_set(r, 204, NULL, NULL, 0);
    /* The session is gone for every client already; the worker's own
     * clean-up need not make this one wait, nor hold this thread. */
    if (rc == 1 && cleanup_push(&w, sid) < 0) {
        request_reply_now(rq, r);
        worker_release(h, &w, sid);
    }
}
