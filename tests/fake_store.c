/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fake_store.c - the store.h functions steel-fcgi calls, on an in-memory
 * model instead of Redis (fake_store.h says how it replaces the real
 * ones; the context functions of store_core.c, which need no Redis until
 * a script runs, are the real ones).  Return values follow store.h; a
 * failure sets the context's err and errstr as the real store does.
 *
 * This file holds the worker model (worker states, the idle FIFO, a
 * session only while its worker is busy with it) and the calls that read
 * or change it, the lock and the gate every call passes (fake_store_int.h),
 * and the tests' failure switches; fake_store_ops.c the calls that keep
 * no worker state.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_store.h"
#include "fake_store_int.h"

#define FAKE_WORKERS_MAX 16

struct fake_worker_rec {
    struct worker_addr addr;
    enum worker_state state;
    char session[SESSION_ID_MAX + 1]; /* "" unless creating->busy with one */
    char dead_reason[64];
};

pthread_mutex_t fake_store_lock = PTHREAD_MUTEX_INITIALIZER;
static long untouches; /* store_untouch calls that set a session back */
static struct fake_worker_rec workers[FAKE_WORKERS_MAX];
static int nworkers;
static char idle[FAKE_WORKERS_MAX][WORKER_ID_MAX]; /* oldest first */
static int nidle;
static int redis_down;
static int down_calls;          /* the next calls fail as if Redis were down */
static int unclaim_fails;  /* store_unclaim fails as if Redis were down */
static enum store_err fail_with = STORE_OK;

/* ---- the model (callers hold lock) ------------------------------------ */

static struct fake_worker_rec *find_worker(const char *id)
{
    int i;

    for (i = 0; i < nworkers; i++) {
        if (strcmp(workers[i].addr.id, id) == 0)
            return &workers[i];
    }
    return NULL;
}

static struct fake_worker_rec *find_session(const char *sid)
{
    int i;

    for (i = 0; i < nworkers; i++) {
        if (workers[i].state == WORKER_BUSY &&
            strcmp(workers[i].session, sid) == 0)
            return &workers[i];
    }
    return NULL;
}

static void idle_push(const char *id)
{
    snprintf(idle[nidle++], WORKER_ID_MAX, "%s", id);
}

static void idle_remove(const char *id)
{
    int i;

    for (i = 0; i < nidle; i++) {
        if (strcmp(idle[i], id) == 0) {
            memmove(idle[i], idle[i + 1],
                    (size_t)(nidle - i - 1) * WORKER_ID_MAX);
            nidle--;
            return;
        }
    }
}

/* Takes the lock; returns -1 with r->errstr set while Redis is down, else
 * 0 with the lock held. */
int fake_store_enter(struct store *r)
{
    enum store_err err;

    pthread_mutex_lock(&fake_store_lock);
    err = redis_down ? STORE_ERR_REDIS : fail_with;
    if (err == STORE_OK && down_calls > 0) {
        down_calls--;
        err = STORE_ERR_REDIS;
    }
    if (err == STORE_OK) {
        r->err = STORE_OK;
        r->errstr[0] = '\0';
        return 0;
    }
    pthread_mutex_unlock(&fake_store_lock);
    r->err = err;
    snprintf(r->errstr, sizeof(r->errstr), "fake store: %s",
             store_err_name(err));
    return -1;
}

int fake_store_leave(int rc)
{
    pthread_mutex_unlock(&fake_store_lock);
    return rc;
}

/* ---- control, for the tests ------------------------------------------ */

void fake_store_reset(void)
{
    pthread_mutex_lock(&fake_store_lock);
    untouches = 0;
    memset(workers, 0, sizeof(workers));
    nworkers = 0;
    nidle = 0;
    redis_down = 0;
    fail_with = STORE_OK;
    unclaim_fails = 0;
    down_calls = 0;
    fake_store_ops_reset();
    pthread_mutex_unlock(&fake_store_lock);
}

void fake_store_add_worker(const char *id, int port, enum worker_state st,
                           const char *sid)
{
    struct fake_worker_rec *w;

    pthread_mutex_lock(&fake_store_lock);
    w = &workers[nworkers++];
    memset(w, 0, sizeof(*w));
    snprintf(w->addr.id, sizeof(w->addr.id), "%s", id);
    snprintf(w->addr.host, sizeof(w->addr.host), "127.0.0.1");
    w->addr.port = port;
    w->state = st;
    if (sid != NULL)
        snprintf(w->session, sizeof(w->session), "%s", sid);
    if (st == WORKER_IDLE)
        idle_push(id);
    pthread_mutex_unlock(&fake_store_lock);
}

enum worker_state fake_store_state(const char *id)
{
    const struct fake_worker_rec *w;
    enum worker_state st;

    pthread_mutex_lock(&fake_store_lock);
    w = find_worker(id);
    st = w != NULL ? w->state : WORKER_STATE_COUNT;
    pthread_mutex_unlock(&fake_store_lock);
    return st;
}

/* Copies of the strings stay valid after the lock is dropped. */
const char *fake_store_session(const char *id)
{
    static char out[SESSION_ID_MAX + 1];
    const struct fake_worker_rec *w;

    pthread_mutex_lock(&fake_store_lock);
    w = find_worker(id);
    snprintf(out, sizeof(out), "%s", w != NULL ? w->session : "");
    pthread_mutex_unlock(&fake_store_lock);
    return out;
}

const char *fake_store_dead_reason(const char *id)
{
    static char out[64];
    const struct fake_worker_rec *w;

    pthread_mutex_lock(&fake_store_lock);
    w = find_worker(id);
    snprintf(out, sizeof(out), "%s", w != NULL ? w->dead_reason : "");
    pthread_mutex_unlock(&fake_store_lock);
    return out;
}

int fake_store_session_alive(const char *sid)
{
    int alive;

    pthread_mutex_lock(&fake_store_lock);
    alive = find_session(sid) != NULL;
    pthread_mutex_unlock(&fake_store_lock);
    return alive;
}

void fake_store_fail(enum store_err err)
{
    pthread_mutex_lock(&fake_store_lock);
    fail_with = err;
    pthread_mutex_unlock(&fake_store_lock);
}

void fake_store_redis_down(int on)
{
    pthread_mutex_lock(&fake_store_lock);
    redis_down = on;
    pthread_mutex_unlock(&fake_store_lock);
}

/* ---- store.h ------------------------------------------------------------ */

int store_claim(struct store *r, struct worker_addr *out)
{
    struct fake_worker_rec *w;

    if (fake_store_enter(r) < 0)
        return -1;
    if (nidle == 0)
        return fake_store_leave(0);
    w = find_worker(idle[0]);
    idle_remove(idle[0]);
    w->state = WORKER_CREATING;
    *out = w->addr;
    return fake_store_leave(1);
}

int store_claim_from(struct store *r, const char *const *avoid, int navoid,
                     struct worker_addr *out)
{
    struct fake_worker_rec *w = NULL;
    int i, j, away;

    if (fake_store_enter(r) < 0)
        return -1;
    if (nidle == 0)
        return fake_store_leave(0);
    for (i = 0; i < nidle && w == NULL; i++) {
        struct fake_worker_rec *c = find_worker(idle[i]);

        for (away = 0, j = 0; j < navoid; j++)
            away |= strcmp(c->addr.host, avoid[j]) == 0;
        if (!away)
            w = c;
    }
    if (w == NULL)
        w = find_worker(idle[0]); /* only avoided ones: the first */
    idle_remove(w->addr.id);
    w->state = WORKER_CREATING;
    *out = w->addr;
    return fake_store_leave(1);
}

void fake_store_redis_down_calls(int n)
{
    pthread_mutex_lock(&fake_store_lock);
    down_calls = n;
    pthread_mutex_unlock(&fake_store_lock);
}

int store_bind(struct store *r, const char *id,
               const char *sid, long ttl_ms, long lifetime_ms)
{
    struct fake_worker_rec *w;

    (void)ttl_ms;
    (void)lifetime_ms;
    if (fake_store_enter(r) < 0)
        return -1;
    w = find_worker(id);
    if (w == NULL || w->state != WORKER_CREATING)
        return fake_store_leave(0);
    if (find_session(sid) != NULL)
        return fake_store_leave(STORE_BIND_CONFLICT);
    w->state = WORKER_BUSY;
    snprintf(w->session, sizeof(w->session), "%s", sid);
    return fake_store_leave(1);
}

int store_unclaim(struct store *r, const char *id)
{
    struct fake_worker_rec *w;

    if (fake_store_enter(r) < 0)
        return -1;
    if (unclaim_fails) {
        r->err = STORE_ERR_REDIS;
        snprintf(r->errstr, sizeof(r->errstr), "fake store: unclaim fails");
        return fake_store_leave(-1);
    }
    w = find_worker(id);
    if (w == NULL || w->state != WORKER_CREATING)
        return fake_store_leave(0);
    w->state = WORKER_IDLE;
    idle_push(id);
    return fake_store_leave(1);
}

int store_touch(struct store *r, const char *sid,
                long ttl_ms, struct worker_addr *out, struct session_touch *t)
{
    struct fake_worker_rec *w;

    if (fake_store_enter(r) < 0)
        return -1;
    w = find_session(sid);
    if (w == NULL)
        return fake_store_leave(0);
    *out = w->addr;
    if (t != NULL) {
        t->ttl_ms = ttl_ms;
        t->prev_ms = ttl_ms;
        t->at_ms = 0;
    }
    return fake_store_leave(1);
}

int store_untouch(struct store *r, const char *sid,
                  const struct session_touch *t)
{
    (void)t;
    if (fake_store_enter(r) < 0)
        return -1;
    if (find_session(sid) == NULL)
        return fake_store_leave(0);
    untouches++;
    return fake_store_leave(1);
}

long fake_store_untouches(void)
{
    long n;

    pthread_mutex_lock(&fake_store_lock);
    n = untouches;
    pthread_mutex_unlock(&fake_store_lock);
    return n;
}

int store_session_peek(struct store *r, const char *sid)
{
    if (fake_store_enter(r) < 0)
        return -1;
    return fake_store_leave(find_session(sid) != NULL);
}

int store_end_lost(struct store *r, const char *sid, struct worker_addr *out)
{
    return store_end(r, sid, out);
}

int store_end(struct store *r, const char *sid,
              struct worker_addr *out)
{
    struct fake_worker_rec *w;

    if (fake_store_enter(r) < 0)
        return -1;
    w = find_session(sid);
    if (w == NULL)
        return fake_store_leave(0);
    w->state = WORKER_RELEASING;
    w->session[0] = '\0';
    *out = w->addr;
    return fake_store_leave(1);
}

int store_released(struct store *r, const char *id)
{
    struct fake_worker_rec *w;

    if (fake_store_enter(r) < 0)
        return -1;
    w = find_worker(id);
    if (w == NULL || w->state != WORKER_RELEASING)
        return fake_store_leave(0);
    w->state = WORKER_IDLE;
    idle_push(id);
    return fake_store_leave(1);
}

int store_mark_dead(struct store *r, const char *id,
                    const char *reason, enum worker_state *prior)
{
    struct fake_worker_rec *w;

    if (fake_store_enter(r) < 0)
        return -1;
    w = find_worker(id);
    if (w == NULL || w->state == WORKER_DEAD)
        return fake_store_leave(0);
    if (prior != NULL)
        *prior = w->state;
    if (w->state == WORKER_IDLE)
        idle_remove(id);
    w->state = WORKER_DEAD;
    w->session[0] = '\0';
    snprintf(w->dead_reason, sizeof(w->dead_reason), "%s", reason);
    return fake_store_leave(1);
}

int store_counts(struct store *r, const char *node,
                 long counts[WORKER_STATE_COUNT])
{
    int i;

    (void)node;
    if (fake_store_enter(r) < 0)
        return -1;
    memset(counts, 0, sizeof(long) * WORKER_STATE_COUNT);
    for (i = 0; i < nworkers; i++)
        counts[workers[i].state]++;
    return fake_store_leave(0);
}

void fake_store_unclaim_fails(int on)
{
    pthread_mutex_lock(&fake_store_lock);
    unclaim_fails = on;
    pthread_mutex_unlock(&fake_store_lock);
}

long store_session_count(struct store *r)
{
    long n = 0;
    int i;

    if (fake_store_enter(r) < 0)
        return -1;
    for (i = 0; i < nworkers; i++)
        n += workers[i].state == WORKER_BUSY && workers[i].session[0] != '\0';
    return fake_store_leave((int)n);
}
