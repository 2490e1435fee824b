/*
 * sessions.c - POST /sessions, GET and DELETE /sessions/:id.
 *
 * Invariants kept here (with the scripts of store.c):
 *   - a create sends POST to a worker only after store_claim handed that
 *     worker to this request alone, and never sends a second POST to a
 *     worker after a failure: the worker is declared dead and another is
 *     tried, at most create_attempts times;
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

#include "handler.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define CREATE_POLL_MS 20

/* Declares a worker dead after it failed a request; the spawner replaces
 * it.  Logging is the caller's. */
static void worker_failed(struct handler *h, const struct worker_addr *w,
                          const char *reason)
{
    if (store_mark_dead(&h->redis, h->conf->key_prefix, w->id, reason,
                        NULL) < 0)
        log_warnx("worker %s: cannot mark dead (%s): %s", w->id, reason,
                  h->redis.errstr);
}

/* Reason text for a worker reply that is not usable. */
static const char *reply_problem(enum whttp_result res,
                                 const struct whttp_resp *resp, char *tmp,
                                 size_t size)
{
    if (res != WHTTP_OK)
        return whttp_result_str(res);
    snprintf(tmp, size, "status %ld", resp->status);
    return tmp;
}

/* Tries one claimed worker.  Returns 1 when r holds the answer (success or
 * a final error), 0 when the worker failed and another may be tried. */
static int create_on(struct handler *h, struct request *rq,
                     const struct worker_addr *w, struct response *r)
{
    const struct conf *c = h->conf;
    struct whttp_resp resp;
    enum whttp_result res;
    char sid[SESSION_ID_MAX + 1], tmp[64];
    const char *why = NULL;
    int rc;

    res = whttp_request(&h->http, "POST", w->host, w->port, "/sessions",
                        rq->body.data, rq->body.len,
                        c->worker_connect_timeout_ms, c->worker_timeout_ms,
                        &resp);
    if (res != WHTTP_OK || resp.status < 200 || resp.status > 299) {
        why = reply_problem(res, &resp, tmp, sizeof(tmp));
        log_warnx("worker %s (%s:%d): create failed: %s; marked dead",
                  w->id, w->host, w->port, why);
        worker_failed(h, w, "create failed");
        return 0;
    }
    if (jsonx_worker_session(resp.body, resp.len, sid, sizeof(sid), &why) <
        0) {
        log_warnx("worker %s (%s:%d): create reply unusable: %s; marked "
                  "dead",
                  w->id, w->host, w->port, why);
        worker_failed(h, w, "bad create reply");
        return 0;
    }
    rc = store_bind(&h->redis, c->key_prefix, w->id, sid,
                    c->session_ttl * 1000, c->session_max_lifetime * 1000);
    if (rc < 0) {
        /* The worker holds a session Redis does not know; the reaper finds
         * it stuck in creating and cleans it. */
        handler_redis_failed(h, r, "bind");
        return 1;
    }
    if (rc == 0) {
        log_warnx("worker %s (%s:%d): declared dead during create of "
                  "session %s",
                  w->id, w->host, w->port, sid);
        return 0;
    }
    if (rc == STORE_BIND_CONFLICT) {
        log_warnx("worker %s (%s:%d): returned id %s of a live session; "
                  "marked dead",
                  w->id, w->host, w->port, sid);
        worker_failed(h, w, "duplicate session id");
        return 0;
    }
    log_debug("session %s: created on worker %s (%s:%d)", sid, w->id,
              w->host, w->port);
    /* Pass the worker's bytes through: created_at and data are opaque. */
    response_set(r, (int)resp.status, "application/json", resp.body,
                 resp.len);
    return 1;
}

static void no_worker(struct handler *h, struct response *r, int attempts)
{
    long secs = handler_retry_after(h);

    if (attempts > 0) {
        metrics_create_failure(&h->metrics, CREATE_FAIL_WORKER_FAILED);
        response_error(r, API_ERR_WORKER_FAILED,
                       "%d worker(s) failed this create and no other was "
                       "free in time",
                       attempts);
    } else {
        metrics_create_failure(&h->metrics, CREATE_FAIL_NO_WORKER);
        response_error(r, API_ERR_NO_WORKER,
                       "no worker became free within %ld s",
                       h->conf->create_wait);
    }
    response_header(r, "Retry-After", "%ld", secs);
}

static void release_worker(struct handler *h, const struct worker_addr *w,
                           const char *sid);

/* The client left before its answer: end the session it would never learn
 * about, so its worker is not held until the TTL. */
static void create_abandoned(struct handler *h, struct response *r)
{
    struct worker_addr w;
    char sid[SESSION_ID_MAX + 1];
    const char *why;

    metrics_create_failure(&h->metrics, CREATE_FAIL_CLIENT_GONE);
    if (jsonx_worker_session(r->body.data, r->body.len, sid, sizeof(sid),
                             &why) == 0 &&
        store_end(&h->redis, h->conf->key_prefix, sid, &w) == 1) {
        log_info("session %s: client went away before the answer; ended",
                 sid);
        release_worker(h, &w, sid);
    }
    response_error(r, API_ERR_BAD_REQUEST, "client went away");
}

static int client_gone(const struct request *rq)
{
    return rq->client_gone != NULL && rq->client_gone(rq->client_gone_arg);
}

/* Claims a worker (waiting up to create_wait) and creates the session on
 * it, trying up to create_attempts workers.  r always gets the answer.
 * Returns 1 when r holds a session, 0 otherwise. */
static int create_session(struct handler *h, struct request *rq,
                          struct response *r)
{
    const struct conf *c = h->conf;
    int64_t start = now_mono_ms(), deadline = start + c->create_wait * 1000;
    struct worker_addr w;
    char token[33] = "";
    int attempts = 0, waiting = 0, done = 0, rc;

    for (;;) {
        rc = store_claim(&h->redis, c->key_prefix, &w);
        if (rc < 0) {
            metrics_create_failure(&h->metrics, CREATE_FAIL_REDIS);
            handler_redis_failed(h, r, "claim");
            break;
        }
        if (rc == 1) {
            if (attempts == 0)
                metrics_observe_wait(&h->metrics,
                                     (long)(now_mono_ms() - start));
            if (client_gone(rq)) {
                /* Nobody waits for the answer: give the worker back
                 * untouched. */
                store_unclaim(&h->redis, c->key_prefix, w.id);
                metrics_create_failure(&h->metrics, CREATE_FAIL_CLIENT_GONE);
                log_debug("create abandoned by the client");
                response_error(r, API_ERR_BAD_REQUEST, "client went away");
                break;
            }
            if (create_on(h, rq, &w, r)) {
                done = r->status >= 200 && r->status <= 299;
                if (done && client_gone(rq)) {
                    create_abandoned(h, r);
                    done = 0;
                }
                break;
            }
            if (++attempts >= c->create_attempts) {
                metrics_create_failure(&h->metrics,
                                       CREATE_FAIL_WORKER_FAILED);
                response_error(r, API_ERR_WORKER_FAILED,
                               "the create failed on %d worker(s)",
                               attempts);
                response_header(r, "Retry-After", "1");
                break;
            }
            continue;
        }
        /* Nothing idle: wait, telling the spawner that we do. */
        if (now_mono_ms() >= deadline) {
            if (attempts == 0)
                metrics_observe_wait(&h->metrics,
                                     (long)(now_mono_ms() - start));
            no_worker(h, r, attempts);
            break;
        }
        if (!waiting) {
            if (random_hex(token, sizeof(token)) < 0 ||
                (rc = store_wait_begin(&h->redis, c->key_prefix, token,
                                       (long)(deadline - now_mono_ms()),
                                       c->create_queue_max)) < 0) {
                metrics_create_failure(&h->metrics, CREATE_FAIL_REDIS);
                handler_redis_failed(h, r, "wait");
                break;
            }
            if (rc == 0) {
                metrics_create_failure(&h->metrics, CREATE_FAIL_QUEUE_FULL);
                response_error(r, API_ERR_QUEUE_FULL,
                               "%ld creates are already waiting for a "
                               "worker",
                               c->create_queue_max);
                response_header(r, "Retry-After", "%ld",
                                handler_retry_after(h));
                break;
            }
            waiting = 1;
        }
        if (client_gone(rq)) {
            metrics_create_failure(&h->metrics, CREATE_FAIL_CLIENT_GONE);
            log_debug("create abandoned by the client while waiting");
            response_error(r, API_ERR_BAD_REQUEST, "client went away");
            break;
        }
        sleep_ms(CREATE_POLL_MS);
    }
    if (waiting && store_wait_end(&h->redis, c->key_prefix, token) < 0)
        log_warnx("wait end: %s", h->redis.errstr);
    return done;
}

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
 * while the first is still running waits for it. */
static void create_idempotent(struct handler *h, struct request *rq,
                              struct response *r)
{
    const struct conf *c = h->conf;
    const char *key = rq->idempotency_key;
    long pending_ms = c->create_wait * 1000 +
                      c->worker_timeout_ms * c->create_attempts + 5000;
    int64_t deadline = now_mono_ms() + pending_ms;
    char fp[48];
    long status = 0;
    int rc;

    body_fingerprint(&rq->body, fp, sizeof(fp));
    for (;;) {
        rc = store_idem_begin(&h->redis, c->key_prefix, key, fp, pending_ms,
                              &h->scratch, &status);
        if (rc < 0) {
            handler_redis_failed(h, r, "idempotency");
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
        if (now_mono_ms() >= deadline || client_gone(rq)) {
            response_error(r, API_ERR_IDEMPOTENCY_IN_PROGRESS,
                           "a create with this Idempotency-Key is still "
                           "running");
            response_header(r, "Retry-After", "1");
            return;
        }
        sleep_ms(CREATE_POLL_MS * 2);
    }
    if (create_session(h, rq, r)) {
        if (store_idem_finish(&h->redis, c->key_prefix, key, fp, r->status,
                              r->body.data, r->body.len,
                              c->session_ttl * 1000) < 0)
            log_warnx("idempotency finish: %s", h->redis.errstr);
    } else if (store_idem_abort(&h->redis, c->key_prefix, key, fp) < 0) {
        log_warnx("idempotency abort: %s", h->redis.errstr);
    }
}

void handle_session_create(struct handler *h, struct request *rq,
                           struct response *r)
{
    const struct conf *c = h->conf;
    enum jsonx_type type;
    const char *why = NULL;

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
    if (jsonx_validate(rq->body.data, rq->body.len, &type, &why) < 0) {
        response_error(r, API_ERR_INVALID_JSON, "%s", why);
        return;
    }
    if (type != JSONX_OBJECT) {
        response_error(r, API_ERR_NOT_AN_OBJECT,
                       "the body must be a JSON object");
        return;
    }
    if (rq->header_too_long || (rq->idempotency_key[0] != '\0' &&
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

void handle_session_get(struct handler *h, const char *sid,
                        struct response *r)
{
    const struct conf *c = h->conf;
    struct worker_addr w;
    struct whttp_resp resp;
    enum whttp_result res;
    char path[SESSION_ID_MAX + 16];
    int rc;

    rc = store_touch(&h->redis, c->key_prefix, sid, c->session_ttl * 1000,
                     &w);
    if (rc < 0) {
        handler_redis_failed(h, r, "touch");
        return;
    }
    if (rc == 0) {
        log_debug("session %s: not found", sid);
        response_error(r, API_ERR_SESSION_NOT_FOUND,
                       "no live session with this id");
        return;
    }
    snprintf(path, sizeof(path), "/sessions/%s", sid);
    res = whttp_request(&h->http, "GET", w.host, w.port, path, NULL, 0,
                        c->worker_connect_timeout_ms, c->worker_timeout_ms,
                        &resp);
    if (res == WHTTP_OK && resp.status == 200) {
        response_set(r, 200, "application/json", resp.body, resp.len);
        return;
    }
    if (res == WHTTP_OK && resp.status == 404) {
        /* The worker no longer holds it: the session is gone.  The worker
         * goes to releasing; the reaper checks it before reuse. */
        log_info("session %s: worker %s (%s:%d) answered 404; session "
                 "dropped",
                 sid, w.id, w.host, w.port);
        if (store_end(&h->redis, c->key_prefix, sid, &w) < 0)
            log_warnx("session %s: drop: %s", sid, h->redis.errstr);
        response_error(r, API_ERR_SESSION_NOT_FOUND,
                       "no live session with this id");
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

/* After a DELETE on the worker: put it back to idle if its /status shows it
 * clean, else leave it releasing for the reaper. */
static void release_worker(struct handler *h, const struct worker_addr *w,
                           const char *sid)
{
    const struct conf *c = h->conf;
    struct whttp_resp resp;
    enum whttp_result res;
    char path[SESSION_ID_MAX + 16], held[SESSION_ID_MAX + 1];
    const char *why = NULL;
    int available = 0;

    snprintf(path, sizeof(path), "/sessions/%s", sid);
    res = whttp_request(&h->http, "DELETE", w->host, w->port, path, NULL, 0,
                        c->worker_connect_timeout_ms, c->worker_timeout_ms,
                        &resp);
    if (res != WHTTP_OK) {
        log_warnx("worker %s (%s:%d): DELETE of session %s: %s; marked "
                  "dead",
                  w->id, w->host, w->port, sid, whttp_result_str(res));
        worker_failed(h, w, "delete failed");
        return;
    }
    res = whttp_request(&h->http, "GET", w->host, w->port, "/status", NULL,
                        0, c->worker_connect_timeout_ms,
                        c->worker_timeout_ms, &resp);
    if (res != WHTTP_OK || resp.status != 200 ||
        jsonx_worker_status(resp.body, resp.len, &available, held,
                            sizeof(held), &why) < 0 ||
        !available || held[0] != '\0') {
        log_info("worker %s (%s:%d): not clean after DELETE of session %s; "
                 "left to the reaper",
                 w->id, w->host, w->port, sid);
        return;
    }
    if (store_released(&h->redis, c->key_prefix, w->id) < 0)
        log_warnx("worker %s: release: %s", w->id, h->redis.errstr);
}

void handle_session_delete(struct handler *h, const char *sid,
                           struct response *r)
{
    struct worker_addr w;
    int rc;

    rc = store_end(&h->redis, h->conf->key_prefix, sid, &w);
    if (rc < 0) {
        handler_redis_failed(h, r, "end");
        return;
    }
    if (rc == 0) {
        log_debug("session %s: not found for DELETE", sid);
        response_error(r, API_ERR_SESSION_NOT_FOUND,
                       "no live session with this id");
        return;
    }
    if (rc == 1)
        release_worker(h, &w, sid);
    log_debug("session %s: deleted", sid);
    response_set(r, 204, NULL, NULL, 0);
}
