/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * reply.h - the error answers that carry a header of their own: every one
 * that tells the client to come back later (503, 502 and 409 with
 * Retry-After), the router's 405 (Allow) and 401 (WWW-Authenticate); and
 * those several places give: the router's 404 and 400, the 404 of a
 * session that is not there, the answer to a client that left.
 *
 * Handlers call these; they call no handler.  They shape r through
 * response.h; only reply_retry_after reads Redis (through store.h).
 * reply_create_refused counts the failed create it answers; counting any
 * other failure is the caller's.
 */
#ifndef STEEL_REPLY_H
#define STEEL_REPLY_H

struct handler;
struct response;

/* After logging what failed (what names the operation) with the store's
 * error: 503 redis_unavailable with Retry-After: 1 when Redis could not be
 * reached or refused; 500 internal for any other store failure (an
 * oversized stored answer, no random source), which a retry would not
 * mend. */
void reply_redis_failed(struct handler *h, struct response *r,
                        const char *what);

/* The Retry-After seconds to suggest when no worker is free now: 1 while
 * workers start or the pool may grow, else until the least recently used
 * session expires (at most session_ttl).  1 when Redis fails. */
long reply_retry_after(struct handler *h);

/* Why a create got no session.  Each is answered its own way and counted
 * under one create_failures reason (metrics.h). */
enum create_refusal {
    /* n creates are already queued in this handler (main.c):
     * 503 queue_full with reply_retry_after; reason queue_full. */
    CREATE_REFUSED_QUEUE_FULL = 0,
    /* n (create_queue_max) creates already wait for a worker: the same. */
    CREATE_REFUSED_WAIT_FULL,
    /* No worker before create_wait passed, after n failed the create:
     * 503 no_worker (n 0; reason no_worker) or 502 worker_failed (reason
     * worker_failed), with reply_retry_after. */
    CREATE_REFUSED_NO_WORKER,
    /* The create failed on all of its n workers: 502 worker_failed,
     * Retry-After: 1; reason worker_failed. */
    CREATE_REFUSED_FAILED,
    /* Redis failed the claim: reply_redis_failed; reason redis. */
    CREATE_REFUSED_REDIS,
    /* The client went away: reply_client_gone; reason client_gone. */
    CREATE_REFUSED_CLIENT_GONE,
};

/* The one answer to a create that gets no session: counts it in h's
 * metrics and shapes r as why says (n: see enum create_refusal). */
void reply_create_refused(struct handler *h, struct response *r,
                          enum create_refusal why, long n);

/* 409 idempotency_in_progress, Retry-After: 1: a create with the same
 * Idempotency-Key is still running. */
void reply_idempotency_in_progress(struct response *r);

/* 404 session_not_found. */
void reply_no_session(struct response *r);

/* 400 for a client that closed its connection before its answer (nobody
 * reads it; lighttpd logs it). */
void reply_client_gone(struct response *r);

/* 404 not_found: no route has this path (the message quotes method and
 * the first 100 bytes of uri). */
void reply_no_route(struct response *r, const char *method, const char *uri);

/* 400 invalid_session_id: the :id of /sessions/:id is no session id. */
void reply_bad_session_id(struct response *r);

/* 405 method_not_allowed with Allow: allow (the route's methods). */
void reply_method_not_allowed(struct response *r, const char *method,
                              const char *allow);

/* 401 unauthorized with WWW-Authenticate: Bearer. */
void reply_unauthorized(struct response *r);

/* 403 forbidden for an operator route asked from another host while no
 * admin_token is set; the message says how to open it. */
void reply_operator_forbidden(struct response *r);

#endif
