/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * sessions.c - POST /sessions (checks and idempotency; create.c gets the
 * session onto a worker), GET and DELETE /sessions/:id.
 *
 * Invariants kept here (with the scripts of common/store_*.c):
 *   - a request for session S addresses its worker as /sessions/S, so a
 *     worker that no longer holds S answers 404 and nothing else;
 *   - the TTL is the Redis key's expiry, refreshed only by store_touch
 *     (GET) and store_bind (create);
 *   - every call to a worker goes through common/wcall.h (address check,
 *     worker_connect_timeout_ms and worker_timeout_ms, the reply format)
 *     and its verdict does what wcall.h's table says; a create never
 *     waits longer than create_wait for a worker;
 *   - a DELETE answers 204 only once the worker forgot the session (or was
 *     declared dead), so a rebuild from the workers after Redis lost its
 *     data never brings a deleted session back;
 *   - a GET that misses while Redis has no P:gen (it lost its data and no
 *     spawner rebuilt yet) waits at most REBUILD_WAIT_MS before its 404,
 *     and at most half the accept threads wait at once (503 beyond).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "create.h"
#include "handler.h"
#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "release.h"
#include "reply.h"
#include "request.h"
#include "response.h"
#include "route.h"
#include "sessions.h"
#include "store.h"
#include "util.h"
#include "wcall.h"

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

/* The Redis name of rq's Idempotency-Key: the key within its client's
 * scope (key_idem_scope: the hash of the bearer token when the request
 * carries one, which is never stored itself, else the hash of its
 * address), so one client's key never answers another client.  Clients
 * that share a token share its keys.  Returns 0, or -1 when it does not
 * fit (not for a valid key). */
static int idempotency_scoped_key(const struct request *rq, char *out,
                                  size_t size)
{
    return key_idem_scope(out, size, request_bearer_token(rq), rq->remote_addr,
                          rq->idempotency_key);
}

/* Ends the session of the create answer in r, which may not be handed
 * out (another request owns its Idempotency-Key), and gives its worker
 * back as a DELETE would. */
static void session_discard(struct handler *h, const struct response *r)
{
    char sid[SESSION_ID_MAX + 1];
    struct worker_addr w;
    const char *why = NULL;

    if (jsonx_worker_session(r->body.data, r->body.len, sid, sizeof(sid),
                             &why) < 0) {
        log_warnx("idempotency: a lost create's answer has no id (%s)", why);
        return;
    }
    if (store_end(&h->store, sid, &w) == 1 && cleanup_push(&w, sid, 0) < 0)
        worker_release(h, &w, sid);
}

/* POST /sessions with an Idempotency-Key: the first request with a key
 * (in its client's scope) creates; repeats within session_ttl get the
 * stored answer; a repeat while the first is still running waits for
 * it, but no longer than any create may take (create_wait +
 * worker_timeout_ms from its arrival): then 409.  The pending mark
 * outlives the first create's own deadline by a margin; should it expire
 * anyway (a stopped or very slow handler) and a repeat take the key,
 * whichever finishes second learns it from store_idem_finish, ends its
 * own session and answers 409, so one key never yields two sessions.  The
 * answer is written only after that verdict, so a hedged create's client
 * also waits for its losers' clean-up (bounded by worker_timeout_ms). */
static void create_idempotent(struct handler *h, struct request *rq,
                              struct response *r)
{
    const struct conf *c = h->conf;
    long budget_ms = c->create_wait * 1000 + c->worker_timeout_ms;
    long pending_ms = budget_ms + 5000;
    int64_t deadline =
        (rq->arrived_ms > 0 ? rq->arrived_ms : now_mono_ms()) + budget_ms;
    char key[KEY_IDEM_SCOPE_MAX + REQUEST_FIELD_MAX], fp[48], owner[33];
    int (*early)(void *, struct response *);
    long status = 0;
    int rc, created;

    if (idempotency_scoped_key(rq, key, sizeof(key)) < 0) {
        response_error(r, API_ERR_INTERNAL, "idempotency key too long");
        return;
    }
    body_fingerprint(&rq->body, fp, sizeof(fp));
    if (random_hex(owner, sizeof(owner)) < 0) {
        response_error(r, API_ERR_INTERNAL, "no random token for the key");
        return;
    }
    for (;;) {
        rc = store_idem_begin(&h->store, key, fp, owner, pending_ms,
                              &h->scratch, &status);
        if (rc < 0) {
            reply_redis_failed(h, r, "idempotency");
            return;
        }
        if (rc == STORE_IDEM_DONE) {
            response_set(r, (int)status, "application/json", h->scratch.data,
                         h->scratch.len);
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
    /* The answer goes out only once it is stored (or known lost): no
     * early reply before the losers of a hedged create are cleaned. */
    early = rq->reply_early;
    rq->reply_early = NULL;
    created = create_session(h, rq, r);
    rq->reply_early = early;
    if (!created) {
        if (store_idem_abort(&h->store, key, owner) < 0)
            log_warnx("idempotency abort: %s", store_strerror(&h->store));
        return;
    }
    rc = store_idem_finish(&h->store, key, fp, owner, r->status, r->body.data,
                           r->body.len, c->session_ttl * 1000);
    if (rc < 0) {
        log_warnx("idempotency finish: %s", store_strerror(&h->store));
    } else if (rc == 0) {
        log_warnx("idempotency: the pending mark of a create expired and "
                  "another request took its key; its session is ended");
        session_discard(h, r);
        reply_idempotency_in_progress(r);
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

/* A GET that misses in a Redis that lost its data (no P:gen, keys.h) may
 * be for a session whose worker lives and that the spawner is about to
 * register again (spawner/rebuild.c): it waits for P:gen this long before
 * it answers 404.  The rebuild takes about a second after Redis answers;
 * when the spawner died with Redis's data it comes first through its own
 * restart (RestartSec=1 in its unit): 1.2 s in tests/redis-loss.sh on an
 * idle host, 4.4 s beside two busy loops, and 2 s of wait answered 404
 * for live sessions there.  Only GETs that miss wait, and only until a
 * spawner wrote P:gen. */
#define REBUILD_WAIT_MS  5000
#define REBUILD_POLL_MS  50
/* rebuild_wait(): no room to wait, answer 503. */
#define REBUILD_NO_ROOM  2

/* GETs of this process that wait for a rebuild now.  At most half the
 * accept threads (at least one) wait at once, so that /health, creates
 * and GETs that hit keep threads while a rebuild is late; a GET beyond
 * that answers 503 at once, as when Redis does not answer. */
static atomic_int rebuild_waiters;

/* Waits up to REBUILD_WAIT_MS while P:gen is missing.  Returns 1 when it
 * appeared after a wait (look again), REBUILD_NO_ROOM when it is missing
 * and enough GETs wait already, 0 when it was there (or never came, or
 * Redis failed: the miss stands). */
static int rebuild_wait(struct handler *h)
{
    int rc = store_gen_node(&h->store, NULL), waited = 0;
    int room = (int)(h->conf->fcgi_threads / 2);
    int64_t end;

    if (rc != 0)
        return 0;
    if (room < 1)
        room = 1;
    if (atomic_fetch_add(&rebuild_waiters, 1) >= room) {
        atomic_fetch_sub(&rebuild_waiters, 1);
        log_debug("GET after a loss of redis data: %d GETs wait for the "
                  "rebuild already",
                  room);
        return REBUILD_NO_ROOM;
    }
    end = now_mono_ms() + REBUILD_WAIT_MS;
    while (rc == 0 && now_mono_ms() < end) {
        struct timespec ts = {0, REBUILD_POLL_MS * 1000000L};

        nanosleep(&ts, NULL);
        waited = 1;
        rc = store_gen_node(&h->store, NULL);
    }
    atomic_fetch_sub(&rebuild_waiters, 1);
    if (waited)
        log_debug("GET after a loss of redis data: waited for the rebuild "
                  "(%s)",
                  rc == 1 ? "done" : "not done in time");
    return rc == 1 && waited;
}

void handle_session_get(struct handler *h, struct request *rq,
                        const struct route_match *m, struct response *r)
{
    const struct conf *c = h->conf;
    const char *sid = m->param;
    struct worker_addr w;
    struct wcall_reply rep;
    enum wcall_verdict v;
    struct session_touch touch;
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
    rc = store_touch(&h->store, sid, c->session_ttl * 1000, &w, &touch);
    if (rc == 0 && store_master_moved(&h->store) == 1)
        rc = store_touch(&h->store, sid, c->session_ttl * 1000, &w, &touch);
    if (rc == 0) {
        int wr = rebuild_wait(h);

        if (wr == REBUILD_NO_ROOM) {
            response_error(r, API_ERR_REDIS_UNAVAILABLE,
                           "the state store lost its data and is being "
                           "rebuilt, try again");
            response_header(r, "Retry-After", "1");
            return;
        }
        if (wr == 1)
            rc = store_touch(&h->store, sid, c->session_ttl * 1000, &w,
                             &touch);
    }
    if (rc < 0) {
        reply_redis_failed(h, r, "touch");
        return;
    }
    if (rc == 0) {
        log_debug("session %s: not found", sid);
        reply_no_session(r);
        return;
    }
    /* What each verdict does: the table of common/wcall.h. */
    v = wcall_call(&h->http, c, WCALL_GET, w.host, w.port, sid, &rep);
    switch (v) {
    case WCALL_OK:
        /* Only a JSON object for this very session goes to the client:
         * the worker's bytes, created_at and data opaque. */
        response_set(r, 200, "application/json", rep.body, rep.len);
        return;
    case WCALL_NOT_FOUND:
        /* The worker no longer holds it: the session is gone.  The worker
         * goes to releasing; the reaper checks it before reuse. */
        log_info("session %s: worker %s (%s:%d) answered 404; session "
                 "dropped",
                 sid, w.id, w.host, w.port);
        if (store_end_lost(&h->store, sid, &w) < 0)
            log_warnx("session %s: drop: %s", sid, store_strerror(&h->store));
        reply_no_session(r);
        return;
    case WCALL_REFUSED:
    case WCALL_UNREACHABLE:
        /* Nothing listens, the connection broke, or no connection within
         * worker_connect_timeout_ms: the worker is lost, its session with
         * it. */
        worker_call_failed(h, &w, "GET of a session", v, &rep);
        response_error(r, API_ERR_SESSION_NOT_FOUND,
                       "the session's worker is gone");
        return;
    case WCALL_TIMED_OUT:
        /* Hung for worker_timeout_ms: dead, as on every path. */
        worker_call_failed(h, &w, "GET of a session", v, &rep);
        response_error(r, API_ERR_WORKER_TIMEOUT,
                       "the session's worker did not answer in time");
        return;
    case WCALL_GARBAGE:
        worker_call_failed(h, &w, "GET of a session", v, &rep);
        response_error(r, API_ERR_WORKER_UNAVAILABLE,
                       "the session's worker sent an unusable reply");
        return;
    }
}

void handle_session_delete(struct handler *h, struct request *rq,
                           const struct route_match *m, struct response *r)
{
    const char *sid = m->param;
    struct worker_addr w;
    int rc;

    rc = store_end(&h->store, sid, &w);
    if (rc == 0 && store_master_moved(&h->store) == 1)
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
    /* The worker forgets the session before the client hears 204: were
     * Redis to lose its data now, the rebuild (spawner/rebuild.c) reads
     * the sessions back from the workers, and a deleted one must not be
     * among them.  One DELETE on a kept connection; a worker that fails
     * it is declared dead (its process is killed, its session with it). */
    if (rc == 1 && worker_forget(h, &w, sid) < 0)
        rc = STORE_END_NO_WORKER;
    response_set(r, 204, NULL, NULL, 0);
    /* The /status check and the release need not make the client wait:
     * this thread does them after the 204 when it may (release_after),
     * else a cleanup thread. */
    if (rc == 1 && h->release_after) {
        h->after.pending = 1;
        h->after.w = w;
        snprintf(h->after.sid, sizeof(h->after.sid), "%s", sid);
    } else if (rc == 1 && cleanup_push(&w, sid, 1) < 0) {
        request_reply_now(rq, r);
        worker_release_forgotten(h, &w, sid);
    }
}
