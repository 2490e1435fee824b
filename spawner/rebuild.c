/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * rebuild.c - when Redis forgot the records of workers this spawner still
 * supervises (Redis restarted empty, or keys were deleted), the workers
 * are the truth: each live one is registered again under its own id, pid
 * and port, an idle one goes back to P:idle, and a busy one gets the
 * binding of the session its /status names again, with a fresh TTL
 * (store_worker_restore, common/store_rebuild.c).  Afterwards P:gen notes
 * the node (keys.h), which ends steel-fcgi's hold on GETs that miss and
 * lets the reaper kill strays of this node again.
 *
 * What the workers cannot tell is lost and documented (OPERATIONS.md,
 * "When Redis restarts"): a session's last activity (it gets a full TTL),
 * its start for session_max_lifetime when the worker's created_at does
 * not parse (the rebuild time is used), idempotency keys, counters.
 *
 * Invariants: no worker is killed because its record vanished; only one
 * whose /status hangs or fails (as the reaper would kill it), or whose id
 * another worker got meanwhile (the reaper could not tell them apart), is
 * stopped; a Redis failure in the middle stops the rebuild and the next
 * view tries again, killing nothing; every call to a worker has the probe
 * deadlines (worker_connect_timeout_ms, probe_timeout_ms).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "internal.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"
#include "wcall.h"

#define REBUILD_PARALLEL 64 /* /status probes at once */

/* Seconds east of UTC of an offset "+HH:MM", "-HHMM" or "+HH" that ends
 * the string, or -1 when p is not one. */
static long iso_offset(const char *p)
{
    int sign, i, d[4], n = 0;

    if (*p != '+' && *p != '-')
        return -1;
    sign = *p++ == '-' ? -1 : 1;
    for (i = 0; *p != '\0' && n < 4; i++, p++) {
        if (*p == ':' && n == 2)
            continue;
        if (*p < '0' || *p > '9')
            return -1;
        d[n++] = *p - '0';
    }
    if (*p != '\0' || (n != 2 && n != 4))
        return -1;
    if (n == 2)
        d[2] = d[3] = 0;
    if (d[0] * 10 + d[1] > 23 || d[2] * 10 + d[3] > 59)
        return -1;
    return sign * ((d[0] * 10 + d[1]) * 3600L + (d[2] * 10 + d[3]) * 60L);
}

/* Epoch ms of an RFC 3339 time "YYYY-MM-DDTHH:MM:SS[.fff]" followed by
 * "Z", an offset or nothing (UTC), or -1. */
static int64_t iso_ms(const char *s)
{
    struct tm tm;
    const char *p;
    long frac = 0, scale = 1000, off = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -1;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
        }
    }
    if (*p != '\0' && strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 &&
        (off = iso_offset(p)) == -1)
        return -1;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    return ((int64_t)t - off) * 1000 + frac;
}

int64_t rebuild_created_ms(const char *body, size_t len)
{
    struct json_object *obj, *v;
    const char *why;
    int64_t ms = -1;

    obj = jsonx_parse(body, len, &why);
    if (obj == NULL)
        return -1;
    if (!json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, "created_at", &v) || v == NULL)
        goto out;
    if (json_object_is_type(v, json_type_int) ||
        json_object_is_type(v, json_type_double)) {
        double d = json_object_get_double(v);

        /* Seconds until the year 5138, milliseconds above. */
        if (d > 0 && d < 1e11)
            ms = (int64_t)(d * 1000);
        else if (d >= 1e11 && d < 1e14)
            ms = (int64_t)d;
    } else if (json_object_is_type(v, json_type_string)) {
        ms = iso_ms(json_object_get_string(v));
    }
out:
    json_object_put(obj);
    return ms;
}

/* What one lost worker turned out to be. */
struct lost {
    struct worker *w;
    enum worker_state state; /* to restore; WORKER_DEAD: stop it */
    char sid[SESSION_ID_MAX + 1];
    char path[SESSION_ID_MAX + 16]; /* /sessions/<sid> */
    int64_t created_ms;
    char why[160]; /* why it is stopped */
};

/* Fills l from w's /status answer p: a worker that failed the call
 * (common/wcall.h) is stopped, as it cannot say what it holds. */
static void judge_status(struct lost *l, const struct probe *p)
{
    struct wcall_reply rep;
    enum wcall_verdict v = wcall_probe_verdict(p, WCALL_STATUS, NULL, &rep);
    int avail;

    switch (v) {
    case WCALL_OK:
        break;
    case WCALL_NOT_FOUND:
    case WCALL_REFUSED:
    case WCALL_UNREACHABLE:
    case WCALL_TIMED_OUT:
    case WCALL_GARBAGE:
        snprintf(l->why, sizeof(l->why), "/status: %s (%s)",
                 wcall_verdict_name(v), rep.why);
        return;
    }
    avail = rep.available;
    snprintf(l->sid, sizeof(l->sid), "%s", rep.sid);
    if (l->sid[0] == '\0') {
        if (avail)
            l->state = WORKER_IDLE;
        else
            snprintf(l->why, sizeof(l->why), "/status: unavailable with no "
                                             "session");
        return;
    }
    if (!session_id_valid(l->sid, strlen(l->sid))) {
        snprintf(l->why, sizeof(l->why), "/status: a session id we do not "
                                         "route");
        return;
    }
    l->state = WORKER_BUSY;
    snprintf(l->path, sizeof(l->path), "/sessions/%s", l->sid);
}

/* Asks the /status of every RUNNING worker of l, and for those that hold
 * a session and when session_max_lifetime is set, its created_at. */
static void ask_workers(struct spawner *s, struct lost *l, size_t n)
{
    struct probe *pr = calloc(n + 1, sizeof(*pr));
    size_t *idx = calloc(n + 1, sizeof(*idx));
    size_t i, m = 0;
    long cms, tms;

    wcall_probe_deadlines(s->c, WCALL_STATUS, &cms, &tms);

    if (pr == NULL || idx == NULL) {
        for (i = 0; i < n; i++)
            if (l[i].state == WORKER_DEAD)
                snprintf(l[i].why, sizeof(l[i].why), "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (l[i].w->state != SPAWNER_W_RUNNING)
            continue;
        pr[m].host = s->c->worker_host;
        pr[m].port = l[i].w->port;
        pr[m].path = "/status";
        idx[m++] = i;
    }
    probe_run(pr, m, cms, tms, REBUILD_PARALLEL);
    for (i = 0; i < m; i++)
        judge_status(&l[idx[i]], &pr[i]);
    if (s->c->session_max_lifetime <= 0)
        goto out;
    memset(pr, 0, (n + 1) * sizeof(*pr));
    for (i = 0, m = 0; i < n; i++) {
        if (l[i].state != WORKER_BUSY)
            continue;
        pr[m].host = s->c->worker_host;
        pr[m].port = l[i].w->port;
        pr[m].path = l[i].path;
        idx[m++] = i;
    }
    probe_run(pr, m, cms, tms, REBUILD_PARALLEL);
    for (i = 0; i < m; i++) {
        struct wcall_reply rep;

        /* Only created_at is read here: the worker passed its /status in
         * this pass; any other verdict leaves the rebuild time. */
        if (wcall_probe_verdict(&pr[i], WCALL_GET, l[idx[i]].sid, &rep) ==
            WCALL_OK)
            l[idx[i]].created_ms =
                rebuild_created_ms(pr[i].body, pr[i].body_len);
        if (l[idx[i]].created_ms <= 0)
            l[idx[i]].created_ms = 0; /* the rebuild time */
    }
out:
    free(pr);
    free(idx);
}

/* Re-registers l's worker.  Returns 0, or -1 when Redis failed. */
static int restore_one(struct spawner *s, struct lost *l, int64_t now)
{
    struct worker *w = l->w;
    struct worker_restore r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.id = w->sid;
    r.node = s->c->node_name;
    r.host = s->c->worker_host;
    r.port = w->port;
    r.pid = w->pid;
    r.pstart = w->pstart;
    r.age_ms = now - w->spawn_ms;
    r.state = l->state;
    r.session = l->sid;
    r.ttl_ms = s->c->session_ttl * 1000;
    r.lifetime_ms = s->c->session_max_lifetime * 1000;
    r.created_ms = l->created_ms;
    rc = store_worker_restore(&s->redis.store, &r);
    if (rc < 0) {
        spawner_redis_failed(s, "re-registering a worker");
        return -1;
    }
    if (rc == 0) {
        log_warnx("worker %s (pid %ld, port %d): its redis record "
                  "disappeared and another worker has its id now; killing "
                  "it",
                  w->sid, w->pid, w->port);
        table_stop(s, w, SPAWNER_STOP_VANISHED, SIGKILL, now);
        return 0;
    }
    w->seen_seq = s->view.seq;
    w->rstate = rc == STORE_RESTORE_RELEASING ? WORKER_RELEASING : l->state;
    w->rsince_ms = s->view.redis_now_ms;
    if (rc == STORE_RESTORE_THERE)
        return 0;
    if (l->state == WORKER_BUSY)
        log_info("worker %s (pid %ld, port %d): its redis record "
                 "disappeared; registered again with session %s%s",
                 w->sid, w->pid, w->port, l->sid,
                 rc == STORE_RESTORE_RELEASING
                     ? " (not restored: taken or past its lifetime; "
                       "releasing)"
                     : "");
    else
        log_info("worker %s (pid %ld, port %d): its redis record "
                 "disappeared; registered again %s",
                 w->sid, w->pid, w->port, worker_state_name(l->state));
    return 0;
}

int rebuild_run(struct spawner *s, struct worker **lost, size_t n,
                int64_t now)
{
    struct lost *l;
    size_t i, kept = 0, busy = 0, stopped = 0;
    int rc = 0;

    if (n == 0)
        return 0;
    l = calloc(n, sizeof(*l));
    if (l == NULL) {
        log_warnx("rebuilding worker records: out of memory");
        return -1;
    }
    for (i = 0; i < n; i++) {
        l[i].w = lost[i];
        l[i].state = lost[i]->state == SPAWNER_W_STARTING ? WORKER_STARTING
                                                         : WORKER_DEAD;
    }
    ask_workers(s, l, n);
    now = now_mono_ms();
    for (i = 0; i < n; i++) {
        struct worker *w = l[i].w;

        if (w->exited || w->state == SPAWNER_W_GONE ||
            w->state == SPAWNER_W_STOPPING)
            continue; /* it went meanwhile: exit.c has it */
        if (l[i].state == WORKER_DEAD) {
            log_warnx("worker %s (pid %ld, port %d): its redis record "
                      "disappeared and %s; killing it",
                      w->sid, w->pid, w->port, l[i].why);
            table_stop(s, w, SPAWNER_STOP_VANISHED, SIGKILL, now);
            stopped++;
            continue;
        }
        if (restore_one(s, &l[i], now) < 0) {
            rc = -1;
            break;
        }
        if (w->state == SPAWNER_W_STOPPING)
            stopped++;
        else {
            kept++;
            busy += l[i].state == WORKER_BUSY;
        }
    }
    free(l);
    if (rc == 0 && store_gen_mark(&s->redis.store, s->c->node_name, 0) < 0) {
        spawner_redis_failed(s, "noting the rebuild");
        rc = -1;
    }
    log_info("node %s: %zu worker records had disappeared: %zu registered "
             "again (%zu with their session), %zu stopped%s",
             s->c->node_name, n, kept, busy, stopped,
             rc < 0 ? "; redis failed, the rest next view" : "");
    return rc;
}
