/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * route.c - the names of the routes (route.h), as metrics and logs show
 * them: P:stats fields lat:<name>:<bucket> keep them, so they never
 * change.
 */
#include "config.h"

#include "route.h"

static const char *const route_names[ROUTE_COUNT] = {
    [ROUTE_SESSIONS_CREATE] = "session_create",
    [ROUTE_SESSIONS_LIST] = "session_list",
    [ROUTE_SESSION_GET] = "session_get",
    [ROUTE_SESSION_DELETE] = "session_delete",
    [ROUTE_HEALTH] = "health",
    [ROUTE_STATUS] = "status",
    [ROUTE_WORKERS] = "workers",
    [ROUTE_METRICS] = "metrics",
};

const char *route_name(enum route_id id)
{
    return (int)id >= 0 && id < ROUTE_COUNT ? route_names[id] : "unknown";
}
