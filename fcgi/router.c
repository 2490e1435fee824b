/*
 * router.c - the route table (router.h).
 *
 * Patterns are literal paths, or a literal prefix followed by ":id", which
 * matches exactly one path segment that must be a valid session id.  A
 * trailing '/' is a different path (404), as is any percent-encoding in a
 * literal part.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "router.h"

struct route {
    const char *method;
    const char *pattern;
    enum route_id id;
    const char *name;
};

static const struct route routes[ROUTE_COUNT] = {
    {"POST", "/sessions", ROUTE_SESSIONS_CREATE, "session_create"},
    {"GET", "/sessions", ROUTE_SESSIONS_LIST, "session_list"},
    {"GET", "/sessions/:id", ROUTE_SESSION_GET, "session_get"},
    {"DELETE", "/sessions/:id", ROUTE_SESSION_DELETE, "session_delete"},
    {"GET", "/health", ROUTE_HEALTH, "health"},
    {"GET", "/status", ROUTE_STATUS, "status"},
    {"GET", "/workers", ROUTE_WORKERS, "workers"},
    {"GET", "/metrics", ROUTE_METRICS, "metrics"},
};

const char *route_name(enum route_id id)
{
    return (int)id >= 0 && id < ROUTE_COUNT ? routes[id].name : "unknown";
}

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
            snprintf(m->param, sizeof(m->param), "%s", param);
            return ROUTE_OK;
        }
    }
    if (bad_param && !path_seen)
        return ROUTE_BAD_PARAM;
    return path_seen ? ROUTE_BAD_METHOD : ROUTE_NO_PATH;
}
