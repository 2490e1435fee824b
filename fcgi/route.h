/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * route.h - the routes steel-fcgi serves, and what a matched route hands
 * its handler.  The table that pairs each route with its method, pattern
 * and handler is router.c's; the names here serve logs and metrics.
 *
 * Every handler of the table has one signature:
 *
 *     void handle_x(struct handler *h, struct request *rq,
 *                   const struct route_match *m, struct response *r);
 *
 * It answers rq into r (m->param holds the :id of /sessions/:id), never
 * touches libfcgi, and calls nothing of router.c.
 */
#ifndef STEEL_ROUTE_H
#define STEEL_ROUTE_H

#include "util.h"

enum route_id {
    ROUTE_SESSIONS_CREATE = 0,
    ROUTE_SESSIONS_LIST,
    ROUTE_SESSION_GET,
    ROUTE_SESSION_DELETE,
    ROUTE_HEALTH,
    ROUTE_STATUS,
    ROUTE_WORKERS,
    ROUTE_METRICS,
    ROUTE_COUNT
};

/* The class of steel-fcgi threads that runs a route's handler (main.c):
 * each row of the route table names one. */
enum route_class {
    ROUTE_CLASS_ACCEPT = 0, /* the accept thread that took the request */
    ROUTE_CLASS_CREATE,     /* a create thread, through the create queue */
    ROUTE_CLASS_DELETE,     /* a delete thread, through the delete queue */
};

struct route; /* a row of router.c's table */

struct route_match {
    enum route_id id;
    enum route_class cls;           /* who runs it */
    const struct route *row;        /* its row, for router_run */
    char param[SESSION_ID_MAX + 1]; /* the :id of /sessions/:id */
    char allow[64];                 /* Allow header value for a 405 */
};

/* A short name of a route for logs and metrics ("session_get"); "unknown"
 * for a value out of range. */
const char *route_name(enum route_id id);

#endif
