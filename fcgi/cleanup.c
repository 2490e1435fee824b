/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * cleanup.c - the worker side of a DELETE, off the request path.
 *
 * A DELETE ends the session in Redis (store_end: the worker goes to
 * releasing), has the worker forget it, and answers 204; the /status
 * check and giving the worker back to the idle pool follow on the same
 * thread after the answer when that thread may (handler.h,
 * release_after), else they are queued here for cleanup threads, as is
 * the end of a create whose answer was not handed out.  A worker that
 * hangs on its /status then costs only a cleanup thread, for
 * worker_timeout_ms.
 *
 * Invariants: an entry is worked on by exactly one thread; a worker goes
 * back to idle only after its /status said it holds nothing
 * (worker_release); an entry that is never worked on (the queue was full
 * and the caller did it itself, or the process stopped) leaves the worker
 * releasing, which the reaper reconciles.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cleanup.h"
#include "handler.h"
#include "prog.h"
#include "release.h"
#include "store.h"
#include "util.h"

#define CLEANUP_QUEUE_MAX 4096

/* A session that ended whose worker is still to be told and released. */
struct ended_session {
    struct worker_addr w;         /* its worker, releasing in Redis */
    char sid[SESSION_ID_MAX + 1]; /* the session, already gone in Redis */
    int forgotten;                /* the worker answered its DELETE */
    struct ended_session *next;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct ended_session *q_head, *q_tail;
static long q_len; /* ended sessions queued */
static int q_open; /* cleanup threads run: pushing makes sense */

int cleanup_push(const struct worker_addr *w, const char *sid, int forgotten)
{
    struct ended_session *es;

    pthread_mutex_lock(&q_lock);
    if (!q_open || q_len >= CLEANUP_QUEUE_MAX) {
        pthread_mutex_unlock(&q_lock);
        return -1;
    }
    pthread_mutex_unlock(&q_lock);
    es = calloc(1, sizeof(*es));
    if (es == NULL)
        return -1;
    es->w = *w;
    snprintf(es->sid, sizeof(es->sid), "%s", sid);
    es->forgotten = forgotten;
    pthread_mutex_lock(&q_lock);
    if (q_tail != NULL)
        q_tail->next = es;
    else
        q_head = es;
    q_tail = es;
    q_len++;
    pthread_cond_signal(&q_cond);
    pthread_mutex_unlock(&q_lock);
    return 0;
}

/* The oldest ended session; NULL once the process is stopping. */
static struct ended_session *cleanup_pop(void)
{
    struct ended_session *es = NULL;

    pthread_mutex_lock(&q_lock);
    /* No timeout: main() calls cleanup_wake, under this lock, once
     * prog_got_term is set. */
    while (q_head == NULL && !prog_got_term)
        pthread_cond_wait(&q_cond, &q_lock);
    if (q_head != NULL && !prog_got_term) {
        es = q_head;
        q_head = es->next;
        if (q_head == NULL)
            q_tail = NULL;
        q_len--;
    }
    pthread_mutex_unlock(&q_lock);
    return es;
}

void cleanup_open(void)
{
    pthread_mutex_lock(&q_lock);
    q_open = 1;
    pthread_mutex_unlock(&q_lock);
}

void cleanup_wake(void)
{
    pthread_mutex_lock(&q_lock);
    q_open = 0;
    pthread_cond_broadcast(&q_cond);
    pthread_mutex_unlock(&q_lock);
}

void *cleanup_thread(void *arg)
{
    const struct conf *c = arg;
    struct handler h;
    struct ended_session *es;

    if (handler_init(&h, c) < 0) {
        handler_release(&h);
        return NULL;
    }
    while ((es = cleanup_pop()) != NULL) {
        if (es->forgotten)
            worker_release_forgotten(&h, &es->w, es->sid);
        else
            worker_release(&h, &es->w, es->sid);
        free(es);
        handler_hand_metrics(&h);
    }
    handler_release(&h);
    return NULL;
}
