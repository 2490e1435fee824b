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
 *   - a worker that failed a call (common/wcall.h: refused, unreachable,
 *     timed out, garbage) is declared dead (store_mark_dead) and never
 *     given back: the spawner replaces it; a 404 to the DELETE means it
 *     forgot the session already;
 *   - a worker whose /status answered but is not clean stays releasing:
 *     the reaper decides about it;
 *   - the address check, the deadlines and the reply format are
 *     wcall.c's.
 */
#include "config.h"

#include <stdio.h>

#include "handler.h"
#include "log.h"
#include "release.h"
#include "store.h"
#include "util.h"
#include "wcall.h"

void worker_failed(struct handler *h, const struct worker_addr *w,
                   const char *reason)
{
    if (store_mark_dead(&h->store, w->id, reason, NULL) < 0)
        log_warnx("worker %s: cannot mark dead (%s): %s", w->id, reason,
                  store_strerror(&h->store));
}

void worker_call_failed(struct handler *h, const struct worker_addr *w,
                        const char *what, enum wcall_verdict v,
                        const struct wcall_reply *rep)
{
    char reason[128];

    log_warnx("worker %s (%s:%d): %s: %s (%s); marked dead", w->id, w->host,
              w->port, what, wcall_verdict_name(v), rep->why);
    snprintf(reason, sizeof(reason), "%s: %s", what, wcall_verdict_name(v));
    worker_failed(h, w, reason);
}

int worker_forget(struct handler *h, const struct worker_addr *w,
                  const char *sid)
{
    struct wcall_reply rep;
    enum wcall_verdict v;

    v = wcall_call(&h->http, h->conf, WCALL_DELETE, w->host, w->port, sid,
                   &rep);
    switch (v) {
    case WCALL_OK:
    case WCALL_NOT_FOUND:
        return 0; /* it does not hold sid (any more) */
    case WCALL_REFUSED:
    case WCALL_UNREACHABLE:
    case WCALL_TIMED_OUT:
    case WCALL_GARBAGE:
        break;
    }
    worker_call_failed(h, w, "DELETE of a session", v, &rep);
    return -1;
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
 * and holds nothing, 0 when it answered but is not clean (left to the
 * reaper), -1 when it failed the call (declared dead). */
static int worker_check_clean(struct handler *h, const struct worker_addr *w,
                              const char *sid)
{
    struct wcall_reply rep;
    enum wcall_verdict v;

    v = wcall_call(&h->http, h->conf, WCALL_STATUS, w->host, w->port, NULL,
                   &rep);
    switch (v) {
    case WCALL_OK:
        if (rep.available && rep.sid[0] == '\0')
            return 1;
        log_info("worker %s (%s:%d): not clean after DELETE of session %s; "
                 "left to the reaper",
                 w->id, w->host, w->port, sid);
        return 0;
    case WCALL_NOT_FOUND: /* not for /status: wcall_judge says garbage */
    case WCALL_REFUSED:
    case WCALL_UNREACHABLE:
    case WCALL_TIMED_OUT:
    case WCALL_GARBAGE:
        break;
    }
    worker_call_failed(h, w, "/status after a DELETE", v, &rep);
    return -1;
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
