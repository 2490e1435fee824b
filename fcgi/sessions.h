/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * sessions.h - the session routes of router.c's table: POST /sessions,
 * GET and DELETE /sessions/:id (sessions.c).  Each has the handler
 * signature of route.h.
 */
#ifndef STEEL_SESSIONS_H
#define STEEL_SESSIONS_H

struct handler;
struct request;
struct response;
struct route_match;

/* Checks the body and the Idempotency-Key, replays or waits for a
 * create with the same key, and otherwise creates (create.c). */
void handle_session_create(struct handler *h, struct request *rq,
                           const struct route_match *m, struct response *r);

/* Refreshes the session's TTL and passes its worker's answer through. */
void handle_session_get(struct handler *h, struct request *rq,
                        const struct route_match *m, struct response *r);

/* Ends the session and answers 204; its worker is told and given back
 * afterwards (cleanup.c). */
void handle_session_delete(struct handler *h, struct request *rq,
                           const struct route_match *m, struct response *r);

#endif
