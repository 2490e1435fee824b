/*
 * cleanup.c - the worker side of a DELETE, off the request path.
 *
 * A DELETE ends the session in Redis (store_end: the worker goes to
 * releasing) and answers 204 at once; telling the worker (DELETE
 * /sessions/<id>, then /status) and giving it back to the idle pool is
 * queued here for cleanup threads.  So a worker that hangs on its DELETE
 * costs no accept thread: only a cleanup thread, for worker_timeout_ms.
 *
 * Invariants: an entry is worked on by exactly one thread; a worker goes
 * back to idle only after its /status said it holds nothing
 * (worker_release); an entry that is never worked on (the queue was full
 * and the caller did it itself, or the process stopped) leaves the worker
 * releasing, which the reaper reconciles.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "handler.h"
#include "log.h"
#include "prog.h"
#include "release.h"
#include "store.h"
#include "util.h"

#define CLEANUP_QUEUE_MAX 4096

struct cleanup_item {
    struct worker_addr w;
    char sid[SESSION_ID_MAX + 1];
    struct cleanup_item *next;
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct cleanup_item *q_head, *q_tail;
static long q_len;
static int q_open; /* cleanup threads run: pushing makes sense */

int cleanup_push(const struct worker_addr *w, const char *sid)
{
    struct cleanup_item *it;

    pthread_mutex_lock(&q_lock);
    if (!q_open || q_len >= CLEANUP_QUEUE_MAX) {
        pthread_mutex_unlock(&q_lock);
        return -1;
    }
    pthread_mutex_unlock(&q_lock);
    it = calloc(1, sizeof(*it));
    if (it == NULL)
        return -1;
    it->w = *w;
    snprintf(it->sid, sizeof(it->sid), "%s", sid);
    pthread_mutex_lock(&q_lock);
    if (q_tail != NULL)
        q_tail->next = it;
    else
        q_head = it;
    q_tail = it;
    q_len++;
    pthread_cond_signal(&q_cond);
    pthread_mutex_unlock(&q_lock);
    return 0;
}

/* The oldest item; NULL once the process is stopping. */
static struct cleanup_item *cleanup_pop(void)
{
    struct cleanup_item *it = NULL;

    pthread_mutex_lock(&q_lock);
    while (q_head == NULL && !prog_got_term) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&q_cond, &q_lock, &ts);
    }
    if (q_head != NULL && !prog_got_term) {
        it = q_head;
        q_head = it->next;
        if (q_head == NULL)
            q_tail = NULL;
        q_len--;
    }
    pthread_mutex_unlock(&q_lock);
    return it;
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
    struct cleanup_item *it;

    if (handler_init(&h, c) < 0) {
        handler_release(&h);
        return NULL;
    }
    while ((it = cleanup_pop()) != NULL) {
        worker_release(&h, &it->w, it->sid);
        free(it);
        handler_flush_metrics(&h);
    }
    handler_release(&h);
    return NULL;
}
