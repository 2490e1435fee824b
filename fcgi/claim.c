/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * claim.c - an idle worker for a create: the wait line (claim.h).
 *
 * A create that finds no idle worker joins this process's wait line
 * (FIFO) and registers in P:waiters, which the spawner reads as demand.
 * Only the head of the line polls Redis (store_claim every CLAIM_POLL_MS);
 * the others sleep on a condition variable, so a full line costs Redis
 * one claim per poll interval per process, not one per waiting create.  A
 * create leaves the line with a worker, at its deadline, or when its
 * client went away; it is then out of P:waiters again.
 *
 * Invariants: a worker store_claim hands out belongs to the one create
 * that claimed it; while anyone waits in line, a newcomer does not claim
 * before it, so the creates of one process that wait get workers in
 * arrival order (a hedge of create.c claims outside the line, and only a
 * worker idle right then); every token registered in P:waiters is
 * removed when its create leaves the line.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "claim.h"
#include "handler.h"
#include "log.h"
#include "request.h"
#include "store.h"
#include "util.h"

#define CLAIM_POLL_MS 20 /* the head of the wait line polls this often */
#define LINE_CHECK_MS 50 /* others look at their deadline and client */

struct waiter {
    struct waiter *next;
};

static pthread_mutex_t line_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t line_cond = PTHREAD_COND_INITIALIZER;
static struct waiter *line_head, *line_tail;

static void line_leave(struct waiter *me)
{
    struct waiter **pp, *prev = NULL;

    pthread_mutex_lock(&line_lock);
    for (pp = &line_head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
        if (*pp == me) {
            *pp = me->next;
            if (line_tail == me)
                line_tail = prev;
            break;
        }
    }
    pthread_cond_broadcast(&line_cond);
    pthread_mutex_unlock(&line_lock);
}

/* Sleeps until me heads the line or ms passed. */
static void line_wait_turn(struct waiter *me, long ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&line_lock);
    if (line_head != me)
        pthread_cond_timedwait(&line_cond, &line_lock, &ts);
    pthread_mutex_unlock(&line_lock);
}

/* One claim, away from the hosts of avoid. */
static int claim_one(struct handler *h, const struct claim_avoid *avoid,
                     struct worker_addr *w)
{
    if (avoid == NULL || avoid->n == 0)
        return store_claim(&h->store, w);
    return store_claim_from(&h->store, avoid->host, avoid->n, w);
}

enum claim_result claim_wait(struct handler *h, struct request *rq,
                             int64_t deadline, const struct claim_avoid *avoid,
                             struct worker_addr *w)
{
    const struct conf *c = h->conf;
    struct waiter me = {NULL};
    char token[33] = "";
    enum claim_result res;
    int empty, rc;

    pthread_mutex_lock(&line_lock);
    empty = line_head == NULL;
    pthread_mutex_unlock(&line_lock);
    if (empty) {
        rc = claim_one(h, avoid, w);
        if (rc != 0)
            return rc < 0 ? CLAIM_REDIS : CLAIM_OK;
    }
    if (now_mono_ms() >= deadline)
        return CLAIM_TIMEOUT;
    if (store_token(&h->store, token, sizeof(token)) < 0)
        return CLAIM_REDIS; /* the store's error says why */
    rc = store_wait_begin(&h->store, token, (long)(deadline - now_mono_ms()),
                          c->create_queue_max);
    if (rc < 0)
        return CLAIM_REDIS;
    if (rc == 0)
        return CLAIM_QUEUE_FULL;

    pthread_mutex_lock(&line_lock);
    if (line_tail != NULL)
        line_tail->next = &me;
    else
        line_head = &me;
    line_tail = &me;
    pthread_mutex_unlock(&line_lock);

    for (;;) {
        int head;

        if (now_mono_ms() >= deadline) {
            res = CLAIM_TIMEOUT;
            break;
        }
        if (request_client_gone(rq)) {
            res = CLAIM_GONE;
            break;
        }
        pthread_mutex_lock(&line_lock);
        head = line_head == &me;
        pthread_mutex_unlock(&line_lock);
        if (!head) {
            line_wait_turn(&me, LINE_CHECK_MS);
            continue;
        }
        rc = claim_one(h, avoid, w);
        if (rc < 0) {
            res = CLAIM_REDIS;
            break;
        }
        if (rc == 1) {
            res = CLAIM_OK;
            break;
        }
        sleep_ms(CLAIM_POLL_MS);
    }
    line_leave(&me);
    if (store_wait_end(&h->store, token) < 0)
        log_warnx("wait end: %s", store_strerror(&h->store));
    return res;
}
