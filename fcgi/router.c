/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * router.c - the route table and dispatch (router.h).
 *
 * Patterns are literal paths, or a literal prefix followed by ":id", which
 * matches exactly one path segment that must be a valid session id.  A
 * trailing '/' is a different path (404), as is any percent-encoding in a
 * literal part.
 *
 * A request goes lighttpd -> main.c -> router_admit (routed once: the
 * row, its thread class, the access decision) -> main.c hands it to the
 * row's thread class -> router_run -> the route's handler (sessions.c or
 * admin.c), which answers into its struct response; nothing below calls
 * back into this file.  A request that matches no route, or lacks its
 * token, is answered by router_admit (reply.c shapes the answer) before
 * any queue, body or Redis: an unauthenticated client costs no more than
 * its 401.
 *
 * Access, decided before any route or method error so that a client
 * without a token learns nothing of the routes:
 *   ROUTE_OPEN   /health: anyone (load balancers).
 *   ROUTE_API    the session API and /status: api_token when it is set.
 *   ROUTE_ADMIN  the operator routes (the session list, /workers,
 *                /metrics): admin_token, from any address.  With none
 *                set they are closed: every client gets 403 forbidden
 *                saying to set admin_token.  A loopback address proves
 *                nothing: workers run on the host and reach loopback.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "handler.h"
#include "log.h"
#include "reply.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "sessions.h"
#include "util.h"

/* Who may call a route. */
enum route_access {
    ROUTE_OPEN,  /* anyone */
    ROUTE_API,   /* bearer api_token, when one is set */
    ROUTE_ADMIN, /* bearer admin_token; with none, nobody */
};

struct route {
    const char *method;
    const char *pattern;
    enum route_id id;
    enum route_access access;
    enum route_class cls; /* the threads that run it (main.c) */
    void (*handle)(struct handler *h, struct request *rq,
                   const struct route_match *m, struct response *r);
};

/* Creates wait for a worker and DELETEs for theirs to forget a session:
 * each has threads of its own, so that neither holds an accept thread. */
static const struct route routes[ROUTE_COUNT] = {
    {"POST", "/sessions", ROUTE_SESSIONS_CREATE, ROUTE_API, ROUTE_CLASS_CREATE,
     handle_session_create},
    {"GET", "/sessions", ROUTE_SESSIONS_LIST, ROUTE_ADMIN, ROUTE_CLASS_ACCEPT,
     handle_session_list},
    {"GET", "/sessions/:id", ROUTE_SESSION_GET, ROUTE_API, ROUTE_CLASS_ACCEPT,
     handle_session_get},
    {"DELETE", "/sessions/:id", ROUTE_SESSION_DELETE, ROUTE_API,
     ROUTE_CLASS_DELETE, handle_session_delete},
    {"GET", "/health", ROUTE_HEALTH, ROUTE_OPEN, ROUTE_CLASS_ACCEPT,
     handle_health},
    {"GET", "/status", ROUTE_STATUS, ROUTE_API, ROUTE_CLASS_ACCEPT,
     handle_status},
    {"GET", "/workers", ROUTE_WORKERS, ROUTE_ADMIN, ROUTE_CLASS_ACCEPT,
     handle_workers},
    {"GET", "/metrics", ROUTE_METRICS, ROUTE_ADMIN, ROUTE_CLASS_ACCEPT,
     handle_metrics},
};

/* 1 when path matches pattern; a ":id" segment is copied into param and
 * its validity reported in *param_ok. */
static int pattern_match(const char *pattern, const char *path, size_t plen,
                         char *param, int *param_ok)
{
    const char *colon = strstr(pattern, "/:");
    size_t lit;

    *param_ok = 1;
    param[0] = '\0';
    if (colon == NULL)
        return strlen(pattern) == plen && memcmp(pattern, path, plen) == 0;
    lit = (size_t)(colon - pattern) + 1; /* including the '/' */
    if (plen <= lit || memcmp(pattern, path, lit) != 0)
        return 0;
    /* The parameter is the rest: one segment, so a '/' in it means the
     * path has more segments than the pattern and does not match. */
    if (memchr(path + lit, '/', plen - lit) != NULL)
        return 0;
    *param_ok = session_id_valid(path + lit, plen - lit);
    if (*param_ok) {
        memcpy(param, path + lit, plen - lit);
        param[plen - lit] = '\0';
    }
    return 1;
}

enum route_result route_find(const char *method, const char *uri,
                             struct route_match *m)
{
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    int path_seen = 0, bad_param = 0;
    size_t i, alen = 0;

    memset(m, 0, sizeof(*m));
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (i = 0; i < ROUTE_COUNT; i++) {
        char param[SESSION_ID_MAX + 1];
        int param_ok;

        if (!pattern_match(routes[i].pattern, uri, plen, param, &param_ok))
            continue;
        if (!param_ok) {
            bad_param = 1;
            continue;
        }
        path_seen = 1;
        if (alen + strlen(routes[i].method) + 3 < sizeof(m->allow)) {
            if (alen > 0) {
                memcpy(m->allow + alen, ", ", 2);
                alen += 2;
            }
            memcpy(m->allow + alen, routes[i].method,
                   strlen(routes[i].method) + 1);
            alen += strlen(routes[i].method);
        }
        if (strcmp(method, routes[i].method) == 0) {
            m->id = routes[i].id;
            m->cls = routes[i].cls;
            m->row = &routes[i];
            snprintf(m->param, sizeof(m->param), "%s", param);
            return ROUTE_OK;
        }
    }
    if (bad_param && !path_seen)
        return ROUTE_BAD_PARAM;
    return path_seen ? ROUTE_BAD_METHOD : ROUTE_NO_PATH;
}

int token_equal(const char *presented, const char *want)
{
    size_t lp = strlen(presented), lw = strlen(want), i;
    unsigned char diff = (unsigned char)(lp != lw);

    /* Walk the full expected length whatever was presented. */
    for (i = 0; i < lw; i++)
        diff |= (unsigned char)(want[i] ^ (i < lp ? presented[i] : 0));
    return diff == 0;
}

/* 1 when rq carries want (any token passes when want is empty). */
static int token_ok(const struct request *rq, const char *want)
{
    const char *token;

    if (want[0] == '\0')
        return 1;
    token = request_bearer_token(rq);
    return token != NULL && token_equal(token, want);
}

enum router_access router_access(const struct conf *c, const struct request *rq,
                                 int admin)
{
    if (admin) {
        if (c->admin_token[0] == '\0')
            return ROUTER_FORBIDDEN;
        return token_ok(rq, c->admin_token) ? ROUTER_ALLOW
                                            : ROUTER_UNAUTHORIZED;
    }
    return token_ok(rq, c->api_token) ? ROUTER_ALLOW : ROUTER_UNAUTHORIZED;
}

/* 1 when rq may learn what routes exist: the API is open (no api_token),
 * or it carries the api or the admin token.  Decided before routing, so
 * a client without a token learns nothing of the routes and methods. */
static int router_known_client(const struct handler *h,
                               const struct request *rq)
{
    const struct conf *c = h->conf;

    if (c->api_token[0] == '\0')
        return 1;
    return token_ok(rq, c->api_token) ||
           (c->admin_token[0] != '\0' && token_ok(rq, c->admin_token));
}

/* router_admit's decision; returns the route that was refused, or
 * ROUTE_COUNT for none (the answer is then in r), or the admitted route
 * with *admitted set. */
static enum route_id router_decide(struct handler *h, struct request *rq,
                                   struct route_match *m, struct response *r,
                                   int *admitted)
{
    const struct route *rt;
    enum route_result res;

    *admitted = 0;
    memset(m, 0, sizeof(*m));
    if (rq->uri_too_long) {
        response_error(r, API_ERR_URI_TOO_LONG, "request path too long");
        return ROUTE_COUNT;
    }
    res = route_find(rq->method, rq->uri, m);
    rt = m->row;
    if (!(res == ROUTE_OK && rt->access == ROUTE_OPEN) &&
        !router_known_client(h, rq)) {
        reply_unauthorized(r);
        return res == ROUTE_OK ? m->id : ROUTE_COUNT;
    }
    switch (res) {
    case ROUTE_NO_PATH:
        reply_no_route(r, rq->method, rq->uri);
        return ROUTE_COUNT;
    case ROUTE_BAD_PARAM:
        reply_bad_session_id(r);
        return ROUTE_COUNT;
    case ROUTE_BAD_METHOD:
        reply_method_not_allowed(r, rq->method, m->allow);
        return ROUTE_COUNT;
    case ROUTE_OK:
        break;
    }
    if (rt->access != ROUTE_OPEN) {
        switch (router_access(h->conf, rq, rt->access == ROUTE_ADMIN)) {
        case ROUTER_ALLOW:
            break;
        case ROUTER_UNAUTHORIZED:
            reply_unauthorized(r);
            return m->id;
        case ROUTER_FORBIDDEN:
            log_debug("%s %s from %s: operator route, and no admin_token "
                      "set",
                      rq->method, route_name(m->id),
                      rq->remote_addr[0] ? rq->remote_addr : "(unknown)");
            reply_operator_forbidden(r);
            return m->id;
        }
    }
    *admitted = 1;
    return m->id;
}

int router_admit(struct handler *h, struct request *rq, struct route_match *m,
                 struct response *r)
{
    int admitted;

    rq->routed_ms = now_mono_ms();
    rq->route = router_decide(h, rq, m, r, &admitted);
    return admitted;
}

void router_run(struct handler *h, struct request *rq,
                const struct route_match *m, struct response *r)
{
    rq->route = m->id;
    if (rq->routed_ms == 0)
        rq->routed_ms = now_mono_ms();
    m->row->handle(h, rq, m, r);
    if (r->status == 0)
        response_error(r, API_ERR_INTERNAL, "handler gave no answer");
}

void router_observe(struct handler *h, struct request *rq)
{
    if (rq->observed || rq->routed_ms == 0)
        return;
    rq->observed = 1;
    metrics_observe_request(&h->metrics, (enum route_id)rq->route,
                            (long)(now_mono_ms() - rq->routed_ms));
}

enum route_id router_serve(struct handler *h, struct request *rq,
                           struct response *r)
{
    struct route_match m;

    if (router_admit(h, rq, &m, r))
        router_run(h, rq, &m, r);
    router_observe(h, rq);
    return (enum route_id)rq->route;
}
