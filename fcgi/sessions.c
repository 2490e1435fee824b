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

#include <stdio.h>
#include <string.h>

#include "handler.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define CREATE_POLL_MS 20

static void redis_failed(struct handler *h, struct response *r,
                         const char *what)
{
    log_warnx("%s: %s", what, h->redis.errstr);
    response_error(r, API_ERR_REDIS_UNAVAILABLE,
                   "state store unavailable, try again");
    response_header(r, "Retry-After", "1");
}

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
        redis_failed(h, r, "bind");
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

    if (attempts > 0)
        response_error(r, API_ERR_WORKER_FAILED,
                       "%d worker(s) failed this create and no other was "
                       "free in time",
                       attempts);
    else
        response_error(r, API_ERR_NO_WORKER,
                       "no worker became free within %ld s",
                       h->conf->create_wait);
    response_header(r, "Retry-After", "%ld", secs);
}

void handle_session_create(struct handler *h, struct request *rq,
                           struct response *r)
{
    const struct conf *c = h->conf;
    int64_t deadline = now_mono_ms() + c->create_wait * 1000;
    struct worker_addr w;
    enum jsonx_type type;
    const char *why = NULL;
    char token[33] = "";
    int attempts = 0, waiting = 0, rc;

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

    for (;;) {
        rc = store_claim(&h->redis, c->key_prefix, &w);
        if (rc < 0) {
            redis_failed(h, r, "claim");
            break;
        }
        if (rc == 1) {
            if (rq->client_gone != NULL &&
                rq->client_gone(rq->client_gone_arg)) {
                /* Nobody waits for the answer: give the worker back
                 * untouched. */
                store_unclaim(&h->redis, c->key_prefix, w.id);
                log_debug("create abandoned by the client");
                response_error(r, API_ERR_BAD_REQUEST, "client went away");
                break;
            }
            if (create_on(h, rq, &w, r))
                break;
            if (++attempts >= c->create_attempts) {
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
            no_worker(h, r, attempts);
            break;
        }
        if (!waiting) {
            if (random_hex(token, sizeof(token)) < 0 ||
                store_wait_begin(&h->redis, c->key_prefix, token,
                                 (long)(deadline - now_mono_ms())) < 0) {
                redis_failed(h, r, "wait");
                break;
            }
            waiting = 1;
        }
        if (rq->client_gone != NULL && rq->client_gone(rq->client_gone_arg)) {
            log_debug("create abandoned by the client while waiting");
            response_error(r, API_ERR_BAD_REQUEST, "client went away");
            break;
        }
        sleep_ms(CREATE_POLL_MS);
    }
    if (waiting && store_wait_end(&h->redis, c->key_prefix, token) < 0)
        log_warnx("wait end: %s", h->redis.errstr);
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
        redis_failed(h, r, "touch");
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
        redis_failed(h, r, "end");
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
