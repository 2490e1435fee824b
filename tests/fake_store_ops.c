/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fake_store_ops.c - the store.h calls of the fake store that keep no
 * worker state: the create waiters, the replicas' acknowledgements, the
 * idempotency records, the operator routes' listings and statistics (all
 * empty), the ping.  They pass the gate of fake_store.c
 * (fake_store_int.h), so the tests' Redis-down switches fail them too, and
 * keep their variables under its lock.  Return values follow store.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fake_store.h"
#include "fake_store_int.h"

#define FAKE_IDEM_MAX 8

struct fake_idem {
    char key[256];
    char fp[64];
    char owner[40]; /* the request creating (while pending) */
    int done;       /* the create finished: status and body stored */
    long status;
    char body[4096];
    size_t len;
};

static long waiting, wait_begins;
static struct fake_idem idem[FAKE_IDEM_MAX];
static int idem_lose_next; /* the next GO is taken over at once */
static int replicas_acked = 16; /* store_replicas_wait's answer, at most */
static long replicas_waits;     /* store_replicas_wait calls that waited */

/* ---- the records (callers hold the lock) ------------------------------ */

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

/* ---- control, for the tests ------------------------------------------ */

/* Called by fake_store_reset, which holds the lock. */
void fake_store_ops_reset(void)
{
    waiting = 0;
    wait_begins = 0;
    memset(idem, 0, sizeof(idem));
    idem_lose_next = 0;
    replicas_acked = 16;
    replicas_waits = 0;
}

long fake_store_waiting_now(void)
{
    long n;

    pthread_mutex_lock(&fake_store_lock);
    n = waiting;
    pthread_mutex_unlock(&fake_store_lock);
    return n;
}

long fake_store_wait_begins(void)
{
    long n;

    pthread_mutex_lock(&fake_store_lock);
    n = wait_begins;
    pthread_mutex_unlock(&fake_store_lock);
    return n;
}

long fake_store_replicas_waits(void)
{
    long n;

    pthread_mutex_lock(&fake_store_lock);
    n = replicas_waits;
    pthread_mutex_unlock(&fake_store_lock);
    return n;
}

void fake_store_replicas(int acked)
{
    pthread_mutex_lock(&fake_store_lock);
    replicas_acked = acked;
    pthread_mutex_unlock(&fake_store_lock);
}

void fake_store_idem_expire(const char *key)
{
    struct fake_idem *d;

    pthread_mutex_lock(&fake_store_lock);
    d = find_idem(key);
    if (d != NULL)
        memset(d, 0, sizeof(*d));
    pthread_mutex_unlock(&fake_store_lock);
}

void fake_store_idem_lose_next(void)
{
    pthread_mutex_lock(&fake_store_lock);
    idem_lose_next = 1;
    pthread_mutex_unlock(&fake_store_lock);
}

const char *fake_store_idem_key(int i)
{
    return i >= 0 && i < FAKE_IDEM_MAX ? idem[i].key : "";
}

/* ---- store.h ------------------------------------------------------------ */

int store_replicas_wait(struct store *r, int replicas, long ms)
{
    int n;

    (void)ms;
    if (replicas == 0)
        return 1;
    if (fake_store_enter(r) < 0)
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
    return fake_store_leave(n >= replicas);
}

int store_writable(struct store *r)
{
    if (fake_store_enter(r) < 0)
        return 0;
    return fake_store_leave(1);
}

int store_node_suspect(struct store *r, const char *id, long ms)
{
    (void)id;
    (void)ms;
    if (fake_store_enter(r) < 0)
        return -1;
    return fake_store_leave(1);
}

/* The fake Redis never lost its data: P:gen is always there. */
int store_gen_node(struct store *r, const char *node)
{
    (void)node;
    if (fake_store_enter(r) < 0)
        return -1;
    return fake_store_leave(1);
}

int store_wait_begin(struct store *r, const char *token,
                     long wait_ms, long max)
{
    (void)token;
    (void)wait_ms;
    if (fake_store_enter(r) < 0)
        return -1;
    if (waiting >= max)
        return fake_store_leave(0);
    waiting++;
    wait_begins++;
    return fake_store_leave(1);
}

int store_wait_end(struct store *r, const char *token)
{
    (void)token;
    if (fake_store_enter(r) < 0)
        return -1;
    waiting--;
    return fake_store_leave(0);
}

long store_waiting(struct store *r)
{
    if (fake_store_enter(r) < 0)
        return -1;
    return fake_store_leave((int)waiting);
}

int store_idem_begin(struct store *r, const char *key, const char *fp,
                     const char *owner, long pending_ms, struct buf *body,
                     long *status)
{
    struct fake_idem *d;

    (void)pending_ms;
    if (fake_store_enter(r) < 0)
        return -1;
    d = find_idem(key);
    if (d != NULL && strcmp(d->fp, fp) != 0)
        return fake_store_leave(STORE_IDEM_CONFLICT);
    if (d != NULL && !d->done)
        return fake_store_leave(STORE_IDEM_PENDING);
    if (d != NULL) {
        *status = d->status;
        buf_reset(body);
        if (buf_append(body, d->body, d->len) < 0) {
            r->err = STORE_ERR_TOO_BIG;
            return fake_store_leave(-1);
        }
        return fake_store_leave(STORE_IDEM_DONE);
    }
    d = idem_new(r, key);
    if (d == NULL)
        return fake_store_leave(-1);
    snprintf(d->fp, sizeof(d->fp), "%s", fp);
    snprintf(d->owner, sizeof(d->owner), "%s", owner);
    if (idem_lose_next) {
        /* Its mark expired and another request took the key. */
        snprintf(d->owner, sizeof(d->owner), "another");
        idem_lose_next = 0;
    }
    return fake_store_leave(STORE_IDEM_GO);
}

int store_idem_finish(struct store *r, const char *key, const char *fp,
                      const char *owner, long status, const char *body,
                      size_t len, long ttl_ms)
{
    struct fake_idem *d;

    (void)ttl_ms;
    if (fake_store_enter(r) < 0)
        return -1;
    d = find_idem(key);
    if (d != NULL && (d->done || strcmp(d->owner, owner) != 0))
        return fake_store_leave(0);
    if (d == NULL && (d = idem_new(r, key)) == NULL)
        return fake_store_leave(-1);
    if (len > sizeof(d->body)) {
        r->err = STORE_ERR_TOO_BIG;
        return fake_store_leave(-1);
    }
    snprintf(d->fp, sizeof(d->fp), "%s", fp);
    d->owner[0] = '\0';
    d->done = 1;
    d->status = status;
    memcpy(d->body, body, len);
    d->len = len;
    return fake_store_leave(1);
}

int store_idem_abort(struct store *r, const char *key, const char *owner)
{
    struct fake_idem *d;

    if (fake_store_enter(r) < 0)
        return -1;
    d = find_idem(key);
    if (d == NULL || d->done || strcmp(d->owner, owner) != 0)
        return fake_store_leave(0);
    memset(d, 0, sizeof(*d));
    return fake_store_leave(1);
}

int store_stats_add(struct store *r, const char *packed)
{
    (void)packed;
    if (fake_store_enter(r) < 0)
        return -1;
    return fake_store_leave(0);
}

int store_workers(struct store *r, const char *node,
                  struct worker_rec **out, size_t *n)
{
    (void)node;
    if (fake_store_enter(r) < 0)
        return -1;
    *out = NULL;
    *n = 0;
    return fake_store_leave(0);
}

int store_session_list(struct store *r, long offset,
                       long limit, struct session_rec **out, size_t *n,
                       long *total)
{
    (void)offset;
    (void)limit;
    if (fake_store_enter(r) < 0)
        return -1;
    *out = NULL;
    *n = 0;
    *total = 0;
    return fake_store_leave(0);
}

int store_nodes(struct store *r, struct node_rec **out, size_t *n)
{
    if (fake_store_enter(r) < 0)
        return -1;
    *out = NULL;
    *n = 0;
    return fake_store_leave(0);
}

int store_stats(struct store *r, struct stat_rec **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (fake_store_enter(r) < 0)
        return -1;
    return fake_store_leave(0);
}

int store_ping(struct store *r)
{
    if (fake_store_enter(r) < 0)
        return -1;
    return fake_store_leave(0);
}

/* The model keeps no activity times: as if no session were there, so the
 * Retry-After estimate falls back to session_ttl. */
int store_session_oldest(struct store *r, int64_t *last_ms, int64_t *now_ms)
{
    *last_ms = 0;
    *now_ms = 0;
    if (fake_store_enter(r) < 0)
        return -1;
    return fake_store_leave(0);
}
