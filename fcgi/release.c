/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * release.c - what becomes of a worker after its session ended or after
 * it failed a request: it is told to end the session, checked clean and
 * given back to the idle pool, or declared dead (release.h).
 *
 * Invariants:
 *   - a worker goes releasing -> idle only after its /status said it is
 *     available and holds no session;
 *   - a worker whose DELETE failed, or that failed any call, is declared
 *     dead (store_mark_dead) and never given back: the spawner replaces
 *     it;
 *   - a worker that answered but is not clean stays releasing: the reaper
 *     decides about it;
 *   - no request goes to a worker address outside worker_host/worker_hosts
 *     and worker_port_range (worker_addr_check, before every call).
 */
#include "config.h"

#include <stdio.h>

#include "handler.h"
#include "jsonx.h"
#include "log.h"
#include "privsep.h"
#include "release.h"
#include "store.h"
#include "util.h"

int worker_addr_check(struct handler *h, const struct worker_addr *w)
{
    if (privsep_worker_addr_ok(h->conf, w->host, w->port))
        return 0;
    log_warnx("worker %s: address %s:%d is outside worker_host/worker_hosts "
              "and worker_port_range; marked dead",
              w->id, w->host, w->port);
    return -1;
}

void worker_failed(struct handler *h, const struct worker_addr *w,
                   const char *reason)
{
    if (store_mark_dead(&h->store, w->id, reason, NULL) < 0)
        log_warnx("worker %s: cannot mark dead (%s): %s", w->id, reason,
                  store_strerror(&h->store));
}

int worker_forget(struct handler *h, const struct worker_addr *w,
                  const char *sid)
{
    const struct conf *c = h->conf;
    struct whttp_resp resp;
    enum whttp_result res;
    char path[SESSION_ID_MAX + 16];

    if (worker_addr_check(h, w) < 0) {
        worker_failed(h, w, "address out of range");
        return -1;
    }
    snprintf(path, sizeof(path), "/sessions/%s", sid);
    res = whttp_request(&h->http, "DELETE", w->host, w->port, path, NULL, 0,
                        c->worker_connect_timeout_ms, c->worker_timeout_ms,
                        &resp);
    if (res != WHTTP_OK) {
        log_warnx("worker %s (%s:%d): DELETE of session %s: %s; marked "
                  "dead",
                  w->id, w->host, w->port, sid, whttp_result_str(res));
        worker_failed(h, w, "delete failed");
        return -1;
    }
    return 0;
}

static int worker_check_clean(struct handler *h, const struct worker_addr *w,
                              const char *sid);

int worker_clean(struct handler *h, const struct worker_addr *w,
                 const char *sid)
{
    if (worker_forget(h, w, sid) < 0)
        return -1;
    return worker_check_clean(h, w, sid);
}

/* Reads w's /status after the DELETE of sid.  Returns 1 when it is free
 * and holds nothing, 0 when not (left to the reaper). */
static int worker_check_clean(struct handler *h, const struct worker_addr *w,
                              const char *sid)
{
    const struct conf *c = h->conf;
    struct whttp_resp resp;
    enum whttp_result res;
    char held[SESSION_ID_MAX + 1];
    const char *why = NULL;
    int available = 0;

    res = whttp_request(&h->http, "GET", w->host, w->port, "/status", NULL,
                        0, c->worker_connect_timeout_ms,
                        c->worker_timeout_ms, &resp);
    if (res != WHTTP_OK || resp.status != 200 ||
        jsonx_worker_status(resp.body, resp.len, &available, held,
                            sizeof(held), &why) < 0 ||
        !available || held[0] != '\0') {
        log_info("worker %s (%s:%d): not clean after DELETE of session %s; "
                 "left to the reaper",
                 w->id, w->host, w->port, sid);
        return 0;
    }
    return 1;
}

void worker_release_forgotten(struct handler *h, const struct worker_addr *w,
                              const char *sid)
{
    if (worker_check_clean(h, w, sid) == 1 &&
        store_released(&h->store, w->id) < 0)
        log_warnx("worker %s: release: %s", w->id, store_strerror(&h->store));
}

void worker_release(struct handler *h, const struct worker_addr *w,
                    const char *sid)
{
    if (worker_clean(h, w, sid) == 1 && store_released(&h->store, w->id) < 0)
        log_warnx("worker %s: release: %s", w->id, store_strerror(&h->store));
}
