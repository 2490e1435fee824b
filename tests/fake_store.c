/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fake_store.c - the store.h functions steel-fcgi calls, on an in-memory
 * model instead of Redis (fake_store.h says how it replaces the real
 * ones; the context functions of store_core.c, which need no Redis until
 * a script runs, are the real ones).  Return values follow store.h; a
 * failure sets the context's err and errstr as the real store does.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_store.h"

#define FAKE_WORKERS_MAX 16
#define FAKE_IDEM_MAX    8

struct fake_worker_rec {
    struct worker_addr addr;
    enum worker_state state;
    char session[SESSION_ID_MAX + 1]; /* "" unless creating->busy with one */
    char dead_reason[64];
};

struct fake_idem {
    char key[256];
    char fp[64];
    char owner[40]; /* the request creating (while pending) */
    int done;       /* the create finished: status and body stored */
    long status;
    char body[4096];
    size_t len;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long untouches; /* store_untouch calls that set a session back */
static struct fake_worker_rec workers[FAKE_WORKERS_MAX];
static int nworkers;
static char idle[FAKE_WORKERS_MAX][WORKER_ID_MAX]; /* oldest first */
static int nidle;
static long waiting, wait_begins;
static struct fake_idem idem[FAKE_IDEM_MAX];
static int redis_down;
static int idem_lose_next; /* the next GO is taken over at once */
static int replicas_acked = 16; /* store_replicas_wait's answer, at most */
static long replicas_waits;     /* store_replicas_wait calls that waited */
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

static struct fake_idem *find_idem(const char *key)
{
    int i;

    for (i = 0; i < FAKE_IDEM_MAX; i++) {
        if (idem[i].key[0] != '\0' && strcmp(idem[i].key, key) == 0)
            return &idem[i];
    }
    return NULL;
}

/* A free record named key, or NULL (r's error set) when all are used. */
static struct fake_idem *idem_new(struct store *r, const char *key)
{
    int i;

    for (i = 0; i < FAKE_IDEM_MAX && idem[i].key[0] != '\0'; i++)
        ;
    if (i == FAKE_IDEM_MAX) {
        r->err = STORE_ERR_TOO_BIG;
        snprintf(r->errstr, sizeof(r->errstr), "fake store: idem full");
        return NULL;
    }
    memset(&idem[i], 0, sizeof(idem[i]));
    snprintf(idem[i].key, sizeof(idem[i].key), "%s", key);
    return &idem[i];
}

/* Takes lock; returns -1 with r->errstr set while Redis is down, else 0
 * with lock held. */
static int enter(struct store *r)
{
    enum store_err err;

    pthread_mutex_lock(&lock);
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
    pthread_mutex_unlock(&lock);
    r->err = err;
    snprintf(r->errstr, sizeof(r->errstr), "fake store: %s",
             store_err_name(err));
    return -1;
}

static int leave(int rc)
{
    pthread_mutex_unlock(&lock);
    return rc;
}

/* ---- control, for the tests ------------------------------------------ */

void fake_store_reset(void)
{
    pthread_mutex_lock(&lock);
    untouches = 0;
    memset(workers, 0, sizeof(workers));
    nworkers = 0;
    nidle = 0;
    waiting = 0;
    wait_begins = 0;
    memset(idem, 0, sizeof(idem));
    redis_down = 0;
    fail_with = STORE_OK;
    idem_lose_next = 0;
    unclaim_fails = 0;
    replicas_acked = 16;
    replicas_waits = 0;
    down_calls = 0;
    pthread_mutex_unlock(&lock);
}

void fake_store_add_worker(const char *id, int port, enum worker_state st,
                           const char *sid)
{
    struct fake_worker_rec *w;

    pthread_mutex_lock(&lock);
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
    pthread_mutex_unlock(&lock);
}

enum worker_state fake_store_state(const char *id)
{
    const struct fake_worker_rec *w;
    enum worker_state st;

    pthread_mutex_lock(&lock);
    w = find_worker(id);
    st = w != NULL ? w->state : WORKER_STATE_COUNT;
    pthread_mutex_unlock(&lock);
    return st;
}

/* Copies of the strings stay valid after the lock is dropped. */
const char *fake_store_session(const char *id)
{
    static char out[SESSION_ID_MAX + 1];
    const struct fake_worker_rec *w;

    pthread_mutex_lock(&lock);
    w = find_worker(id);
    snprintf(out, sizeof(out), "%s", w != NULL ? w->session : "");
    pthread_mutex_unlock(&lock);
    return out;
}

const char *fake_store_dead_reason(const char *id)
{
    static char out[64];
    const struct fake_worker_rec *w;

    pthread_mutex_lock(&lock);
    w = find_worker(id);
    snprintf(out, sizeof(out), "%s", w != NULL ? w->dead_reason : "");
    pthread_mutex_unlock(&lock);
    return out;
}

int fake_store_session_alive(const char *sid)
{
    int alive;

    pthread_mutex_lock(&lock);
    alive = find_session(sid) != NULL;
    pthread_mutex_unlock(&lock);
    return alive;
}

long fake_store_waiting_now(void)
{
    long n;

    pthread_mutex_lock(&lock);
    n = waiting;
    pthread_mutex_unlock(&lock);
    return n;
}

long fake_store_wait_begins(void)
{
    long n;

    pthread_mutex_lock(&lock);
    n = wait_begins;
    pthread_mutex_unlock(&lock);
    return n;
}

void fake_store_fail(enum store_err err)
{
    pthread_mutex_lock(&lock);
    fail_with = err;
    pthread_mutex_unlock(&lock);
}

void fake_store_redis_down(int on)
{
    pthread_mutex_lock(&lock);
    redis_down = on;
    pthread_mutex_unlock(&lock);
}

/* ---- store.h ------------------------------------------------------------ */

int store_claim(struct store *r, struct worker_addr *out)
{
    struct fake_worker_rec *w;

    if (enter(r) < 0)
        return -1;
    if (nidle == 0)
        return leave(0);
    w = find_worker(idle[0]);
    idle_remove(idle[0]);
    w->state = WORKER_CREATING;
    *out = w->addr;
    return leave(1);
}

int store_claim_from(struct store *r, const char *const *avoid, int navoid,
                     struct worker_addr *out)
{
    struct fake_worker_rec *w = NULL;
    int i, j, away;

    if (enter(r) < 0)
        return -1;
    if (nidle == 0)
        return leave(0);
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
    return leave(1);
}

int store_replicas_wait(struct store *r, int replicas, long ms)
{
    int n;

    (void)ms;
    if (replicas == 0)
        return 1;
    if (enter(r) < 0)
        return -1;
    n = replicas_acked;
    replicas_waits++;
    if (replicas == CONF_WAIT_ALL)
        replicas = 1;
    if (n < replicas) {
        r->err = STORE_ERR_REDIS;
        snprintf(r->errstr, sizeof(r->errstr),
                 "fake store: %d of %d "
                 "replica(s) acknowledged",
                 n, replicas);
    }
    return leave(n >= replicas);
}

long fake_store_replicas_waits(void)
{
    long n;

    pthread_mutex_lock(&lock);
    n = replicas_waits;
    pthread_mutex_unlock(&lock);
    return n;
}

void fake_store_replicas(int acked)
{
    pthread_mutex_lock(&lock);
    replicas_acked = acked;
    pthread_mutex_unlock(&lock);
}

void fake_store_redis_down_calls(int n)
{
    pthread_mutex_lock(&lock);
    down_calls = n;
    pthread_mutex_unlock(&lock);
}

int store_writable(struct store *r)
{
    if (enter(r) < 0)
        return 0;
    return leave(1);
}

int store_node_suspect(struct store *r, const char *id, long ms)
{
    (void)id;
    (void)ms;
    if (enter(r) < 0)
        return -1;
    return leave(1);
}

int store_bind(struct store *r, const char *id,
               const char *sid, long ttl_ms, long lifetime_ms)
{
    struct fake_worker_rec *w;

    (void)ttl_ms;
    (void)lifetime_ms;
    if (enter(r) < 0)
        return -1;
    w = find_worker(id);
    if (w == NULL || w->state != WORKER_CREATING)
        return leave(0);
    if (find_session(sid) != NULL)
        return leave(STORE_BIND_CONFLICT);
    w->state = WORKER_BUSY;
    snprintf(w->session, sizeof(w->session), "%s", sid);
    return leave(1);
}

int store_unclaim(struct store *r, const char *id)
{
    struct fake_worker_rec *w;

    if (enter(r) < 0)
        return -1;
    if (unclaim_fails) {
        r->err = STORE_ERR_REDIS;
        snprintf(r->errstr, sizeof(r->errstr), "fake store: unclaim fails");
        return leave(-1);
    }
    w = find_worker(id);
    if (w == NULL || w->state != WORKER_CREATING)
        return leave(0);
    w->state = WORKER_IDLE;
    idle_push(id);
    return leave(1);
}

int store_touch(struct store *r, const char *sid,
                long ttl_ms, struct worker_addr *out, struct session_touch *t)
{
    struct fake_worker_rec *w;

    if (enter(r) < 0)
        return -1;
    w = find_session(sid);
    if (w == NULL)
        return leave(0);
    *out = w->addr;
    if (t != NULL) {
        t->ttl_ms = ttl_ms;
        t->prev_ms = ttl_ms;
        t->at_ms = 0;
    }
    return leave(1);
}

int store_untouch(struct store *r, const char *sid,
                  const struct session_touch *t)
{
    (void)t;
    if (enter(r) < 0)
        return -1;
    if (find_session(sid) == NULL)
        return leave(0);
    untouches++;
    return leave(1);
}

long fake_store_untouches(void)
{
    long n;

    pthread_mutex_lock(&lock);
    n = untouches;
    pthread_mutex_unlock(&lock);
    return n;
}

/* The fake Redis never lost its data: P:gen is always there. */
int store_gen_node(struct store *r, const char *node)
{
    (void)node;
    if (enter(r) < 0)
        return -1;
    return leave(1);
}

int store_session_peek(struct store *r, const char *sid)
{
    if (enter(r) < 0)
        return -1;
    return leave(find_session(sid) != NULL);
}

int store_end_lost(struct store *r, const char *sid, struct worker_addr *out)
{
    return store_end(r, sid, out);
}

int store_end(struct store *r, const char *sid,
              struct worker_addr *out)
{
    struct fake_worker_rec *w;

    if (enter(r) < 0)
        return -1;
    w = find_session(sid);
    if (w == NULL)
        return leave(0);
    w->state = WORKER_RELEASING;
    w->session[0] = '\0';
    *out = w->addr;
    return leave(1);
}

int store_released(struct store *r, const char *id)
{
    struct fake_worker_rec *w;

    if (enter(r) < 0)
        return -1;
    w = find_worker(id);
    if (w == NULL || w->state != WORKER_RELEASING)
        return leave(0);
    w->state = WORKER_IDLE;
    idle_push(id);
    return leave(1);
}

int store_mark_dead(struct store *r, const char *id,
                    const char *reason, enum worker_state *prior)
{
    struct fake_worker_rec *w;

    if (enter(r) < 0)
        return -1;
    w = find_worker(id);
    if (w == NULL || w->state == WORKER_DEAD)
        return leave(0);
    if (prior != NULL)
        *prior = w->state;
    if (w->state == WORKER_IDLE)
        idle_remove(id);
    w->state = WORKER_DEAD;
    w->session[0] = '\0';
    snprintf(w->dead_reason, sizeof(w->dead_reason), "%s", reason);
    return leave(1);
}

int store_counts(struct store *r, const char *node,
                 long counts[WORKER_STATE_COUNT])
{
    int i;

    (void)node;
    if (enter(r) < 0)
        return -1;
    memset(counts, 0, sizeof(long) * WORKER_STATE_COUNT);
    for (i = 0; i < nworkers; i++)
        counts[workers[i].state]++;
    return leave(0);
}

int store_wait_begin(struct store *r, const char *token,
                     long wait_ms, long max)
{
    (void)token;
    (void)wait_ms;
    if (enter(r) < 0)
        return -1;
    if (waiting >= max)
        return leave(0);
    waiting++;
    wait_begins++;
    return leave(1);
}

int store_wait_end(struct store *r, const char *token)
{
    (void)token;
    if (enter(r) < 0)
        return -1;
    waiting--;
    return leave(0);
}

long store_waiting(struct store *r)
{
    if (enter(r) < 0)
        return -1;
    return leave((int)waiting);
}

int store_idem_begin(struct store *r, const char *key, const char *fp,
                     const char *owner, long pending_ms, struct buf *body,
                     long *status)
{
    struct fake_idem *d;

    (void)pending_ms;
    if (enter(r) < 0)
        return -1;
    d = find_idem(key);
    if (d != NULL && strcmp(d->fp, fp) != 0)
        return leave(STORE_IDEM_CONFLICT);
    if (d != NULL && !d->done)
        return leave(STORE_IDEM_PENDING);
    if (d != NULL) {
        *status = d->status;
        buf_reset(body);
        if (buf_append(body, d->body, d->len) < 0) {
            r->err = STORE_ERR_TOO_BIG;
            return leave(-1);
        }
        return leave(STORE_IDEM_DONE);
    }
    d = idem_new(r, key);
    if (d == NULL)
        return leave(-1);
    snprintf(d->fp, sizeof(d->fp), "%s", fp);
    snprintf(d->owner, sizeof(d->owner), "%s", owner);
    if (idem_lose_next) {
        /* Its mark expired and another request took the key. */
        snprintf(d->owner, sizeof(d->owner), "another");
        idem_lose_next = 0;
    }
    return leave(STORE_IDEM_GO);
}

int store_idem_finish(struct store *r, const char *key, const char *fp,
                      const char *owner, long status, const char *body,
                      size_t len, long ttl_ms)
{
    struct fake_idem *d;

    (void)ttl_ms;
    if (enter(r) < 0)
        return -1;
    d = find_idem(key);
    if (d != NULL && (d->done || strcmp(d->owner, owner) != 0))
        return leave(0);
    if (d == NULL && (d = idem_new(r, key)) == NULL)
        return leave(-1);
    if (len > sizeof(d->body)) {
        r->err = STORE_ERR_TOO_BIG;
        return leave(-1);
    }
    snprintf(d->fp, sizeof(d->fp), "%s", fp);
    d->owner[0] = '\0';
    d->done = 1;
    d->status = status;
    memcpy(d->body, body, len);
    d->len = len;
    return leave(1);
}

int store_idem_abort(struct store *r, const char *key, const char *owner)
{
    struct fake_idem *d;

    if (enter(r) < 0)
        return -1;
    d = find_idem(key);
    if (d == NULL || d->done || strcmp(d->owner, owner) != 0)
        return leave(0);
    memset(d, 0, sizeof(*d));
    return leave(1);
}

void fake_store_idem_expire(const char *key)
{
    struct fake_idem *d;

    pthread_mutex_lock(&lock);
    d = find_idem(key);
    if (d != NULL)
        memset(d, 0, sizeof(*d));
    pthread_mutex_unlock(&lock);
}

void fake_store_unclaim_fails(int on)
{
    pthread_mutex_lock(&lock);
    unclaim_fails = on;
    pthread_mutex_unlock(&lock);
}

void fake_store_idem_lose_next(void)
{
    pthread_mutex_lock(&lock);
    idem_lose_next = 1;
    pthread_mutex_unlock(&lock);
}

const char *fake_store_idem_key(int i)
{
    return i >= 0 && i < FAKE_IDEM_MAX ? idem[i].key : "";
}

int store_stats_add(struct store *r, const char *packed)
{
    (void)packed;
    if (enter(r) < 0)
        return -1;
    return leave(0);
}

int store_workers(struct store *r, const char *node,
                  struct worker_rec **out, size_t *n)
{
    (void)node;
    if (enter(r) < 0)
        return -1;
    *out = NULL;
    *n = 0;
    return leave(0);
}

int store_session_list(struct store *r, long offset,
                       long limit, struct session_rec **out, size_t *n,
                       long *total)
{
    (void)offset;
    (void)limit;
    if (enter(r) < 0)
        return -1;
    *out = NULL;
    *n = 0;
    *total = 0;
    return leave(0);
}

int store_nodes(struct store *r, struct node_rec **out, size_t *n)
{
    if (enter(r) < 0)
        return -1;
    *out = NULL;
    *n = 0;
    return leave(0);
}

int store_stats(struct store *r, struct stat_rec **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (enter(r) < 0)
        return -1;
    return leave(0);
}

int store_ping(struct store *r)
{
    if (enter(r) < 0)
        return -1;
    return leave(0);
}

long store_session_count(struct store *r)
{
    long n = 0;
    int i;

    if (enter(r) < 0)
        return -1;
    for (i = 0; i < nworkers; i++)
        n += workers[i].state == WORKER_BUSY && workers[i].session[0] != '\0';
    return leave((int)n);
}

/* The model keeps no activity times: as if no session were there, so the
 * Retry-After estimate falls back to session_ttl. */
int store_session_oldest(struct store *r, int64_t *last_ms, int64_t *now_ms)
{
    *last_ms = 0;
    *now_ms = 0;
    if (enter(r) < 0)
        return -1;
    return leave(0);
}
