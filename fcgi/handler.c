/*
 * handler.c - dispatch: route, access control, and the guarantee that
 * every request ends with a complete answer (handler.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "handler.h"
#include "log.h"
#include "store.h"
#include "util.h"

int handler_init(struct handler *h, const struct conf *conf)
{
    /* A worker's reply echoes the create body plus its own fields. */
    size_t i, max = (size_t)conf->max_body * 2 + 65536;

    memset(h, 0, sizeof(*h));
    h->conf = conf;
    rconn_init(&h->redis, conf);
    if (whttp_init(&h->http, max) < 0)
        return -1;
    for (i = 0; i < CREATE_RACE_MAX - 1; i++) {
        if (whttp_init(&h->race[i], max) < 0)
            return -1;
    }
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        log_warnx("curl_multi_init failed");
        return -1;
    }
    buf_init(&h->scratch, 256 * 1024);
    return 0;
}

void handler_release(struct handler *h)
{
    size_t i;

    rconn_release(&h->redis);
    whttp_release(&h->http);
    for (i = 0; i < CREATE_RACE_MAX - 1; i++)
        whttp_release(&h->race[i]);
    if (h->multi != NULL)
        curl_multi_cleanup(h->multi);
    h->multi = NULL;
    buf_release(&h->scratch);
}

void handler_flush_metrics(struct handler *h)
{
    struct metrics saved;

    if (!h->metrics.dirty)
        return;
    saved = h->metrics;
    buf_reset(&h->scratch);
    if (metrics_pack(&h->metrics, &h->scratch) < 0)
        return;
    if (store_stats_add(&h->redis, h->conf->key_prefix, h->scratch.data) <
        0) {
        log_warnx("metrics: %s", h->redis.errstr);
        h->metrics = saved;
    }
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

/* Returns 1 when rq may use route id. */
static int handler_allowed(const struct handler *h, const struct request *rq,
                           enum route_id id)
{
    const char *want = h->conf->api_token;
    const char *auth = rq->authorization;

    if (id == ROUTE_HEALTH)
        return 1;
    if ((id == ROUTE_WORKERS || id == ROUTE_METRICS) &&
        h->conf->admin_token[0] != '\0')
        want = h->conf->admin_token;
    if (want[0] == '\0')
        return 1;
    if (strncmp(auth, "Bearer ", 7) != 0)
        return 0;
    return token_equal(auth + 7, want);
}

static enum route_id handler_route(struct handler *h, struct request *rq,
                                   struct response *r);

enum route_id handler_serve(struct handler *h, struct request *rq,
                            struct response *r)
{
    int64_t t0 = now_mono_ms();
    enum route_id id = handler_route(h, rq, r);

    metrics_observe_request(&h->metrics, id, (long)(now_mono_ms() - t0));
    return id;
}

static enum route_id handler_route(struct handler *h, struct request *rq,
                                   struct response *r)
{
    struct route_match m;
    enum route_result rr;

    if (rq->uri_too_long) {
        response_error(r, API_ERR_NOT_FOUND, "request path too long");
        return ROUTE_COUNT;
    }
    rr = route_find(rq->method, rq->uri, &m);
    switch (rr) {
    case ROUTE_NO_PATH:
        response_error(r, API_ERR_NOT_FOUND, "no such route: %s %.100s",
                       rq->method, rq->uri);
        return ROUTE_COUNT;
    case ROUTE_BAD_PARAM:
        response_error(r, API_ERR_INVALID_SESSION_ID,
                       "a session id is 1 to %d characters of "
                       "[A-Za-z0-9._~-]",
                       SESSION_ID_MAX);
        return ROUTE_COUNT;
    case ROUTE_BAD_METHOD:
        response_error(r, API_ERR_METHOD_NOT_ALLOWED,
                       "method %s is not allowed here; allowed: %s",
                       rq->method, m.allow);
        response_header(r, "Allow", "%s", m.allow);
        return ROUTE_COUNT;
    case ROUTE_OK:
        break;
    }
    if (!handler_allowed(h, rq, m.id)) {
        response_error(r, API_ERR_UNAUTHORIZED,
                       "missing or wrong bearer token");
        response_header(r, "WWW-Authenticate", "Bearer");
        return m.id;
    }
    switch (m.id) {
    case ROUTE_SESSIONS_CREATE:
        handle_session_create(h, rq, r);
        break;
    case ROUTE_SESSIONS_LIST:
        handle_session_list(h, rq, r);
        break;
    case ROUTE_SESSION_GET:
        handle_session_get(h, m.param, r);
        break;
    case ROUTE_SESSION_DELETE:
        handle_session_delete(h, rq, m.param, r);
        break;
    case ROUTE_HEALTH:
        handle_health(h, r);
        break;
    case ROUTE_STATUS:
        handle_status(h, r);
        break;
    case ROUTE_WORKERS:
        handle_workers(h, r);
        break;
    case ROUTE_METRICS:
        handle_metrics(h, r);
        break;
    case ROUTE_COUNT:
        response_error(r, API_ERR_INTERNAL, "unrouted request");
        break;
    }
    if (r->status == 0)
        response_error(r, API_ERR_INTERNAL, "handler gave no answer");
    return m.id;
}
