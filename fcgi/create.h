/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * create.h - getting a new session onto a worker, hedged against a slow
 * one (create.c).  Called by POST /sessions once its body was checked.
 */
#ifndef STEEL_CREATE_H
#define STEEL_CREATE_H

#include "hedge.h"

struct handler;
struct request;
struct response;

/* Claims a worker (waiting in line up to create_wait, claim.c) and
 * creates the session on it, hedging onto another worker when it is slow
 * and trying up to create_attempts workers.  r always gets the answer;
 * losers of a race are cleaned after it was sent (rq->reply_early).
 * Returns 1 when r holds a session, 0 otherwise. */
int create_session(struct handler *h, struct request *rq, struct response *r);

#endif
