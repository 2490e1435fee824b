/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * router.h - the route table of steel-fcgi: method, path pattern, who may
 * call it, and its handler; matching a request against it and running
 * the handler (router.c).  Matching works on the raw request path (before
 * any percent-decoding), so an id can never smuggle a '/' or a NUL.
 */
#ifndef STEEL_ROUTER_H
#define STEEL_ROUTER_H

#include "route.h"

struct conf;
struct handler;
struct request;
struct response;

enum route_result {
    ROUTE_OK = 0,     /* matched; m->id and m->param filled */
    ROUTE_NO_PATH,    /* no pattern matches: 404 */
    ROUTE_BAD_METHOD, /* a pattern matches, not the method: 405 */
    ROUTE_BAD_PARAM,  /* /sessions/<x> where x is not a valid id: 400 */
};

/* Matches method and the path part of uri (a query string is ignored).
 * HEAD is matched as GET.  On ROUTE_OK m names the route, its thread
 * class and its row. */
enum route_result route_find(const char *method, const char *uri,
                             struct route_match *m);

/* The first step of every request: routes rq once (m: the route, its
 * thread class, its row) and checks its token and, for an operator route,
 * its client.  Returns 1 when the route's handler may run (router_run,
 * in a thread of class m->cls), or 0 when r holds the whole answer: 414,
 * 401, 403, 404, 400 or 405.  Reads neither the body nor Redis; sets
 * rq->route and rq->routed_ms for router_observe. */
int router_admit(struct handler *h, struct request *rq, struct route_match *m,
                 struct response *r);

/* Runs the handler of m, a match router_admit admitted (possibly in
 * another thread, for the same request: rq filled again from the same
 * parameters, and its body), on rq into r; r always ends up with a
 * complete answer.  Counts nothing. */
void router_run(struct handler *h, struct request *rq,
                const struct route_match *m, struct response *r);

/* router_admit, router_run when admitted, router_observe: one request in
 * one thread (the tests; main.c's requests served where accepted).
 * Returns the route that was asked for (ROUTE_COUNT for none). */
enum route_id router_serve(struct handler *h, struct request *rq,
                           struct response *r);

/* Counts rq in h's metrics with the time from routing to now, once: a
 * handler that answers early (request_reply_now) is counted when the
 * client got its answer, not when its clean-up ends. */
void router_observe(struct handler *h, struct request *rq);

/* Who may call a route that is not open (router.c says which are). */
enum router_access {
    ROUTER_ALLOW = 0,
    ROUTER_UNAUTHORIZED, /* 401: the token is missing or wrong */
    ROUTER_FORBIDDEN,    /* 403: an operator route, and no admin_token
                          * set: closed to every client */
};

/* The access decision for rq on an API route (admin 0) or an operator
 * route (admin 1) under configuration c.  Pure: no I/O, for the tests. */
enum router_access router_access(const struct conf *c, const struct request *rq,
                                 int admin);

/* Constant-time comparison of a presented bearer token with want; 1 when
 * they are equal.  Exposed for the tests. */
int token_equal(const char *presented, const char *want);

#endif
