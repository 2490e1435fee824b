/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * create.c - getting a session onto a worker: the hedged create (create.h).
 *
 * A create runs in one of steel-fcgi's create threads (main.c), never in
 * an accept thread, so creates that wait never delay other routes.  Its
 * workers come from the wait line of claim.c.
 *
 * Hedging.  A worker that hangs does not fail its create: after a hedge
 * delay without an answer the create claims a second idle worker and
 * sends it the same POST; the first usable answer wins.  If the newest
 * POST also goes unanswered for the delay, a third worker joins (at most
 * CREATE_RACE_MAX POSTs at once, create_attempts workers in all).  The
 * delay is twice the 95th percentile of recent successful create latencies
 * on this process, never below create_hedge_min_ms nor above three
 * quarters of worker_timeout_ms, so a binary whose normal create takes seconds gets a
 * delay of seconds and its healthy workers are not raced for nothing.
 *
 *     claim A, POST A --(hedge delay, no answer, an idle worker B)--> POST B
 *          |                                                          |
 *          +---------- first usable answer wins, is bound -----------+
 *          the other one is the loser:
 *            answered 2xx   -> DELETE its session, /status clean -> idle
 *                              (store_unclaim), else marked dead
 *            failed or hung -> marked dead (the spawner replaces it)
 *
 * A worker that is never reached (a refused connect, or none within
 * worker_connect_timeout_ms) is declared dead like any failed one but
 * uses none of the create's attempts (up to UNSENT_MAX such); one whose
 * connect got no answer also marks its node suspect and its host avoided
 * by this create, so the next claims go to a node that answers
 * (store_claim_from) and a lost node costs about one connect timeout, not
 * create_attempts of them per create.
 *
 * Redis.  The 201 leaves only once the session is safe against a Redis
 * fail-over: bound on the server that handed the worker out and, with
 * redis_wait_replicas, acknowledged by the replicas a fail-over may
 * promote (call_safe: WAIT).  A create that Redis fails (no master, a
 * lost bind, too few acknowledgements) ends that session on its worker
 * and in Redis (call_undo), waits for a master that can keep it
 * (store_writable) and claims again, without counting an attempt, until
 * create_wait; then 503.
 *
 * Invariants:
 *   - a POST goes to a worker only after store_claim handed it to this
 *     create alone, and never twice to one worker;
 *   - a loser never keeps a session: it is cleaned or declared dead
 *     before the thread takes other work, after the client got its answer;
 *   - every create is answered within create_wait + worker_timeout_ms of
 *     its arrival: no worker call outlives that deadline.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claim.h"
#include "create.h"
#include "handler.h"
#include "hedge.h"
#include "jsonx.h"
#include "log.h"
#include "release.h"
#include "reply.h"
#include "request.h"
#include "response.h"
#include "store.h"
#include "util.h"
#include "wcall.h"

#define MULTI_POLL_MS   50 /* longest sleep while a POST is in flight */
#define UNSENT_MAX      16 /* connect failures that use no attempt, at most */
#define REDIS_RETRY_MS  100 /* pause before a claim after Redis failed */

/* ---- one POST to one worker, inside the thread's multi handle -------- */

struct call {
    struct worker_addr w;
    struct whttp *http; /* h->http or one of h->race */
    int live;           /* in the multi, no answer yet */
    int done;           /* answered or failed: result is valid */
    int judged;         /* call_judge has looked at it */
    int hedge;          /* started to race a slow one */
    CURLcode rc;
    int64_t start_ms;
    char server[CONF_STR_MAX]; /* the Redis server that handed w out */
};

static void worker_unclaim(struct handler *h, const struct worker_addr *w);

/* The hosts this create found silent (store_claim_from avoids them). */
struct avoid_hosts {
    char host[STORE_CLAIM_AVOID_MAX][256];
    struct claim_avoid list; /* points into host */
};

static void avoid_add(struct avoid_hosts *a, const char *host)
{
    int i;

    for (i = 0; i < a->list.n; i++)
        if (strcmp(a->list.host[i], host) == 0)
            return;
    if (a->list.n >= STORE_CLAIM_AVOID_MAX)
        return;
    snprintf(a->host[a->list.n], sizeof(a->host[0]), "%s", host);
    a->list.host[a->list.n] = a->host[a->list.n];
    a->list.n++;
}

static int call_start(struct handler *h, struct call *k, struct whttp *http,
                      const struct worker_addr *w, const struct request *rq,
                      long total_ms)
{
    const struct conf *c = h->conf;
    int rc;

    memset(k, 0, sizeof(*k));
    k->w = *w;
    k->http = http;
    k->start_ms = now_mono_ms();
    snprintf(k->server, sizeof(k->server), "%s", store_server(&h->store));
    rc = wcall_create_setup(http, c, w->host, w->port, rq->body.data,
                            rq->body.len, total_ms);
    if (rc == WCALL_REFUSED) {
        /* A record naming an address no worker of ours has: declared dead
         * here (a slot that never ran is reused, never judged), next one. */
        worker_failed(h, w, "create: refused (address not ours)");
        k->done = k->judged = 1;
        k->rc = CURLE_COULDNT_CONNECT;
        return -1;
    }
    if (rc < 0 || curl_multi_add_handle(h->multi, http->easy) != CURLM_OK) {
        /* Our failure, not the worker's: it goes back to the pool. */
        log_warnx("worker %s (%s:%d): create not sent (libcurl); given back",
                  w->id, w->host, w->port);
        worker_unclaim(h, w);
        k->done = k->judged = 1;
        k->rc = CURLE_FAILED_INIT;
        return -1;
    }
    k->live = 1;
    return 0;
}

/* Runs the multi for at most ms; marks calls that finished. */
static void calls_run(struct handler *h, struct call *k, int nk, long ms)
{
    CURLMsg *msg;
    int running, left, i;

    if (ms > 0)
        curl_multi_poll(h->multi, NULL, 0, (int)ms, NULL);
    curl_multi_perform(h->multi, &running);
    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        for (i = 0; i < nk; i++) {
            if (k[i].live && k[i].http->easy == msg->easy_handle) {
                k[i].live = 0;
                k[i].done = 1;
                k[i].rc = msg->data.result;
                curl_multi_remove_handle(h->multi, msg->easy_handle);
            }
        }
    }
}

/* Stops a call still in flight (the process is shutting down or the
 * multi failed); the worker is then treated as hung. */
static void call_abort(struct handler *h, struct call *k)
{
    if (!k->live)
        return;
    curl_multi_remove_handle(h->multi, k->http->easy);
    k->live = 0;
    k->done = 1;
    k->rc = CURLE_OPERATION_TIMEDOUT;
}

/* A worker that was never reached (refused, or no answer to the connect):
 * declared dead like any failed one, and when its host was silent, its
 * node is marked suspect for node_stale_ms and its host avoided by this
 * create, so the next claims go to nodes that answer. */
static void call_unsent(struct handler *h, struct call *k,
                        struct avoid_hosts *avoid, enum wcall_verdict v,
                        const struct wcall_reply *rep)
{
    const struct worker_addr *w = &k->w;

    if (rep->silent) {
        avoid_add(avoid, w->host);
        if (store_node_suspect(&h->store, w->id, h->conf->node_stale_ms) < 0)
            log_warnx("worker %s (%s:%d): node not marked suspect: %s", w->id,
                      w->host, w->port, store_strerror(&h->store));
    }
    worker_call_failed(h, w, "create", v, rep);
}

/* Ends session sid, bound or not, in Redis and on the worker of call k,
 * whose create is given up because Redis could not keep it: a session
 * ended in Redis is released as a DELETE's; one Redis does not know is
 * ended on the worker, which then goes back idle, but only on the server
 * that handed it out: after a fail-over its record there may be idle and
 * another create's since (the reaper takes one left creating). */
static void call_undo(struct handler *h, const struct call *k, const char *sid,
                      int maybe_bound)
{
    struct worker_addr bound;
    int rc = maybe_bound ? store_end(&h->store, sid, &bound) : 0;

    if (rc == 1) {
        worker_release(h, &bound, sid);
        return;
    }
    if (worker_clean(h, &k->w, sid) != 1)
        return;
    if (rc == 0 && strcmp(store_server(&h->store), k->server) == 0)
        worker_unclaim(h, &k->w);
    else
        log_info("worker %s (%s:%d): claimed on redis %s, which is no longer "
                 "the one in use; left creating for the reaper",
                 k->w.id, k->w.host, k->w.port, k->server);
}

/* The bound session sid on worker w is safe against a fail-over once
 * conf_wait_replicas replicas acknowledged its writes (WAIT, at most
 * redis_wait_ms).  Returns 0, or -1 after undoing the create (call_undo):
 * a session no replica has could vanish after its 201. */
static int call_safe(struct handler *h, const struct call *k, const char *sid)
{
    const struct worker_addr *w = &k->w;
    int need = conf_wait_replicas(h->conf);

    if (need == 0 ||
        store_replicas_wait(&h->store, need, h->conf->redis_wait_ms) == 1)
        return 0;
    log_warnx("session %s on worker %s (%s:%d): not safe against a "
              "fail-over (%s); ended, the create tries again",
              sid, w->id, w->host, w->port, store_strerror(&h->store));
    call_undo(h, k, sid, 1);
    return -1;
}

/* Judges a finished call.  Returns 1 when r now holds the session (bound
 * in Redis, and acknowledged by the replicas asked for), 0 when the
 * worker failed (declared dead; another may be tried), 2 when it failed
 * without being reached (the same, but the attempt is not counted), 3
 * when Redis failed to bind it or to keep it (call_safe; the session
 * ended: claim again). */
static int call_judge(struct handler *h, struct call *k,
                      struct avoid_hosts *avoid, struct response *r)
{
    const struct conf *c = h->conf;
    const struct worker_addr *w = &k->w;
    struct wcall_reply rep;
    enum wcall_verdict v = wcall_create_result(k->http, k->rc, &rep);
    int rc;

    /* What each verdict does: the table of common/wcall.h. */
    switch (v) {
    case WCALL_OK:
        break;
    case WCALL_REFUSED:
    case WCALL_UNREACHABLE:
        if (rep.unsent) {
            call_unsent(h, k, avoid, v, &rep);
            return 2;
        }
        /* FALLTHROUGH */
    case WCALL_NOT_FOUND: /* not for a create: wcall_judge says garbage */
    case WCALL_TIMED_OUT:
    case WCALL_GARBAGE:
        worker_call_failed(h, w, "create", v, &rep);
        return 0;
    }
    rc = store_bind(&h->store, w->id, rep.sid, c->session_ttl * 1000,
                    c->session_max_lifetime * 1000);
    if (rc >= 0 && strcmp(store_server(&h->store), k->server) != 0) {
        /* Bound (or not) on another server than the one that handed the
         * worker out (a fail-over in between): there the worker may be
         * idle, or another create's. */
        log_warnx("session %s on worker %s (%s:%d): claimed on redis %s, "
                  "bound on %s; ended, the create tries again",
                  rep.sid, w->id, w->host, w->port, k->server,
                  store_server(&h->store));
        call_undo(h, k, rep.sid, rc == 1);
        return 3;
    }
    if (rc < 0) {
        /* Redis may or may not have bound it (a fail-over, a lost
         * connection): end it everywhere and let the create claim again. */
        log_warnx("session %s on worker %s (%s:%d): bind failed (%s); "
                  "ended, the create tries again",
                  rep.sid, w->id, w->host, w->port, store_strerror(&h->store));
        call_undo(h, k, rep.sid, 1);
        return 3;
    }
    if (rc == 0) {
        log_warnx("worker %s (%s:%d): declared dead during create of "
                  "session %s",
                  w->id, w->host, w->port, rep.sid);
        return 0;
    }
    if (rc == STORE_BIND_CONFLICT) {
        log_warnx("worker %s (%s:%d): returned id %s of a live session; "
                  "marked dead",
                  w->id, w->host, w->port, rep.sid);
        worker_failed(h, w, "duplicate session id");
        return 0;
    }
    if (call_safe(h, k, rep.sid) < 0)
        return 3;
    hedge_latency_add(now_mono_ms() - k->start_ms);
    log_debug("session %s: created on worker %s (%s:%d)", rep.sid, w->id,
              w->host, w->port);
    /* Pass the worker's bytes through: created_at and data are opaque. */
    response_set(r, (int)rep.status, "application/json", rep.body, rep.len);
    return 1;
}

/* Gives claimed worker w back (creating -> idle).  When that fails (Redis
 * is down) the failure is logged and the worker left creating: the
 * reaper takes a worker creating for longer than the longest create
 * (creating-stuck), probes it and returns it, so nothing is lost and this
 * thread does not retry against a failing Redis. */
static void worker_unclaim(struct handler *h, const struct worker_addr *w)
{
    if (store_unclaim(&h->store, w->id) < 0)
        log_warnx("worker %s (%s:%d): unclaim failed (%s); left creating "
                  "for the reaper",
                  w->id, w->host, w->port, store_strerror(&h->store));
}

/* A claimed worker whose create lost (or was abandoned) and whose POST
 * has ended: leave it clean and idle, or declared dead. */
static void call_clean(struct handler *h, struct call *k)
{
    struct wcall_reply rep;
    enum wcall_verdict v = wcall_create_result(k->http, k->rc, &rep);

    /* What each verdict does: the table of common/wcall.h, as for the
     * winner. */
    switch (v) {
    case WCALL_OK:
        break;
    case WCALL_NOT_FOUND:
    case WCALL_REFUSED:
    case WCALL_UNREACHABLE:
    case WCALL_TIMED_OUT:
    case WCALL_GARBAGE:
        worker_call_failed(h, &k->w, "create (lost the race)", v, &rep);
        return;
    }
    /* Its session was never bound: end it on the worker, and give the
     * worker back only once it says it is free. */
    if (worker_clean(h, &k->w, rep.sid) == 1)
        worker_unclaim(h, &k->w);
}

/* The client left before its answer: end the session it would never learn
 * about, so its worker is not held until the TTL. */
static void create_abandoned(struct handler *h, struct response *r)
{
    struct worker_addr w;
    char sid[SESSION_ID_MAX + 1];
    const char *why;

    if (jsonx_worker_session(r->body.data, r->body.len, sid, sizeof(sid),
                             &why) == 0 &&
        store_end(&h->store, sid, &w) == 1) {
        log_info("session %s: client went away before the answer; ended", sid);
        worker_release(h, &w, sid);
    }
    reply_create_refused(h, r, CREATE_REFUSED_CLIENT_GONE, 0);
}

/* The answer of a create that Redis failed until its deadline: 503
 * redis_unavailable, also when the last store call (a claim) went well
 * and it was a bind or its WAIT that failed. */
static void redis_gave_up(struct handler *h, struct response *r)
{
    if (store_error(&h->store) != STORE_ERR_REDIS) {
        h->store.err = STORE_ERR_REDIS;
        snprintf(h->store.errstr, sizeof(h->store.errstr),
                 "no master kept a session of this create within "
                 "create_wait");
    }
    reply_create_refused(h, r, CREATE_REFUSED_REDIS, 0);
}

/* The HTTP handle of race slot i. */
static struct whttp *call_http(struct handler *h, int i)
{
    return i == 0 ? &h->http : &h->race[i - 1];
}

/* The deadline of a POST started now: worker_timeout_ms, cut to what is
 * left of the create's own deadline. */
static long call_budget(const struct conf *c, int64_t deadline)
{
    int64_t left = deadline - now_mono_ms();

    return left < c->worker_timeout_ms ? (long)left : c->worker_timeout_ms;
}

int create_session(struct handler *h, struct request *rq, struct response *r)
{
    const struct conf *c = h->conf;
    int64_t start = rq->arrived_ms > 0 ? rq->arrived_ms : now_mono_ms();
    int64_t claim_deadline = start + c->create_wait * 1000;
    int64_t deadline = claim_deadline + c->worker_timeout_ms;
    int64_t hedge_try = 0; /* next claim for a hedge, monotonic ms */
    struct call k[CREATE_RACE_MAX];
    long hedge = create_hedge_delay(c);
    struct avoid_hosts avoid;
    int attempts = 0, unsent = 0, done = 0, answered = 0, i;
    int redis_failed = 0; /* Redis failed this create: it waits, claims again */

    memset(k, 0, sizeof(k));
    memset(&avoid, 0, sizeof(avoid));
    while (!answered) {
        int live = 0, slot = -1;
        int64_t now = now_mono_ms(), latest = 0;

        for (i = 0; i < CREATE_RACE_MAX; i++) {
            if (k[i].live) {
                live++;
                if (k[i].start_ms > latest)
                    latest = k[i].start_ms;
            } else if (slot < 0) {
                slot = i; /* free for the next POST */
            }
        }
        if (live == 0) {
            struct worker_addr w;
            enum claim_result cr;

            if (attempts >= c->create_attempts) {
                reply_create_refused(h, r, CREATE_REFUSED_FAILED, attempts);
                break;
            }
            if (redis_failed && attempts == 0 && now >= claim_deadline) {
                redis_gave_up(h, r);
                break;
            }
            if (redis_failed && !request_client_gone(rq) &&
                conf_wait_replicas(c) != 0 && !store_writable(&h->store)) {
                /* No master to keep a session yet: wait for one. */
                sleep_ms(REDIS_RETRY_MS);
                continue;
            }
            cr = claim_wait(h, rq, claim_deadline, &avoid.list, &w);
            if (attempts + unsent == 0 && cr != CLAIM_REDIS)
                metrics_observe_wait(&h->metrics,
                                     (long)(now_mono_ms() - start));
            if (cr == CLAIM_REDIS &&
                store_error(&h->store) == STORE_ERR_REDIS &&
                !request_client_gone(rq) &&
                now_mono_ms() + REDIS_RETRY_MS < claim_deadline) {
                /* No master for now (a fail-over, a restart): wait for one
                 * within create_wait rather than answer 503 at once. */
                if (!redis_failed)
                    log_info("create: redis failed (%s); trying again "
                             "until the create's deadline",
                             store_strerror(&h->store));
                redis_failed = 1;
                sleep_ms(REDIS_RETRY_MS);
                continue;
            }
            if (cr == CLAIM_REDIS) {
                reply_create_refused(h, r, CREATE_REFUSED_REDIS, 0);
                break;
            }
            if (cr == CLAIM_TIMEOUT && redis_failed && attempts == 0) {
                redis_gave_up(h, r);
                break;
            }
            if (cr == CLAIM_TIMEOUT) {
                reply_create_refused(h, r, CREATE_REFUSED_NO_WORKER, attempts);
                break;
            }
            if (cr == CLAIM_QUEUE_FULL) {
                reply_create_refused(h, r, CREATE_REFUSED_WAIT_FULL,
                                     c->create_queue_max);
                break;
            }
            if (cr == CLAIM_GONE || request_client_gone(rq)) {
                if (cr == CLAIM_OK)
                    worker_unclaim(h, &w);
                log_debug("create abandoned by the client");
                reply_create_refused(h, r, CREATE_REFUSED_CLIENT_GONE, 0);
                break;
            }
            attempts++;
            call_start(h, &k[slot], call_http(h, slot), &w, rq,
                       call_budget(c, deadline));
            continue;
        }

        /* The newest POST in flight has gone unanswered for the hedge
         * delay: race it with another idle worker, if there is one. */
        if (slot >= 0 && hedge >= 0 && attempts < c->create_attempts &&
            now >= latest + hedge && now >= hedge_try &&
            deadline - now > c->worker_connect_timeout_ms) {
            struct worker_addr w;
            int rc =
                store_claim_from(&h->store, avoid.list.host, avoid.list.n, &w);

            if (rc == 1) {
                log_info("create: no answer after %ld ms from %d worker(s); "
                         "also trying worker %s",
                         (long)(now - latest), live, w.id);
                metrics_hedge(&h->metrics, 0);
                attempts++;
                call_start(h, &k[slot], call_http(h, slot), &w, rq,
                           call_budget(c, deadline));
                k[slot].hedge = 1;
                continue;
            }
            hedge_try = now + MULTI_POLL_MS; /* none idle: look again */
        }
        if (slot >= 0 && hedge >= 0 && latest + hedge > now &&
            latest + hedge - now < MULTI_POLL_MS)
            calls_run(h, k, CREATE_RACE_MAX, (long)(latest + hedge - now) + 1);
        else
            calls_run(h, k, CREATE_RACE_MAX, MULTI_POLL_MS);

        for (i = 0; i < CREATE_RACE_MAX && !answered; i++) {
            int rc;

            if (!k[i].done || k[i].judged)
                continue;
            k[i].judged = 1;
            rc = call_judge(h, &k[i], &avoid, r);
            if (rc == 3) {
                /* Redis lost or could not keep the session: the attempt
                 * goes back, and the create claims again, after a pause
                 * (Redis may be between two masters). */
                redis_failed = 1;
                attempts--;
                sleep_ms(REDIS_RETRY_MS);
            } else if (rc == 2 && unsent < UNSENT_MAX) {
                /* Never reached: the attempt goes back, so a lost node's
                 * workers do not use up the create's attempts. */
                unsent++;
                attempts--;
            } else if (rc == 1) {
                done = 1;
                answered = 1;
                if (k[i].hedge)
                    metrics_hedge(&h->metrics, 1);
                if (request_client_gone(rq)) {
                    create_abandoned(h, r);
                    done = 0;
                }
            }
        }
        if (!answered && request_client_gone(rq)) {
            reply_create_refused(h, r, CREATE_REFUSED_CLIENT_GONE, 0);
            answered = 1;
        }
        if (!answered && now_mono_ms() >= deadline + 1000) {
            /* libcurl's own deadline should have ended every call. */
            for (i = 0; i < CREATE_RACE_MAX; i++)
                call_abort(h, &k[i]);
        }
    }

    /* Whatever was not judged lost: answer first, let every loser's POST
     * end (all at once: they share the multi handle), then clean each. */
    for (;;) {
        int live = 0;

        for (i = 0; i < CREATE_RACE_MAX; i++)
            live += k[i].live;
        if (live == 0)
            break;
        request_reply_now(rq, r);
        calls_run(h, k, CREATE_RACE_MAX, MULTI_POLL_MS);
    }
    for (i = 0; i < CREATE_RACE_MAX; i++) {
        if (k[i].judged || !k[i].done)
            continue;
        request_reply_now(rq, r);
        call_clean(h, &k[i]);
    }
    return done;
}
