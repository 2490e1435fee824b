/*
 * router.h - the static route table of steel-fcgi: method, path pattern,
 * handler.  Matching works on the raw request path (before any
 * percent-decoding), so an id can never smuggle a '/' or a NUL.
 */
#ifndef STEEL_ROUTER_H
#define STEEL_ROUTER_H

#include <stddef.h>

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

enum route_result {
    ROUTE_OK = 0,          /* matched; *id and param filled */
    ROUTE_NO_PATH,         /* no pattern matches: 404 */
    ROUTE_BAD_METHOD,      /* a pattern matches, not the method: 405 */
    ROUTE_BAD_PARAM,       /* /sessions/<x> where x is not a valid id: 400 */
};

struct route_match {
    enum route_id id;
    char param[SESSION_ID_MAX + 1]; /* the :id of /sessions/:id */
    char allow[64];                 /* Allow header value for a 405 */
};

/* Matches method and the path part of uri (a query string is ignored).
 * HEAD is matched as GET. */
enum route_result route_find(const char *method, const char *uri,
                             struct route_match *m);

/* A short name of a route for logs and metrics ("session_get"). */
const char *route_name(enum route_id id);

#endif
