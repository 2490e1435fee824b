/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * handler.c - a thread's context: made, released, its metrics flushed
 * (handler.h).
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "handler.h"
#include "log.h"
#include "release.h"
#include "store.h"

int handler_init(struct handler *h, const struct conf *conf)
{
    /* A worker's reply echoes the create body plus its own fields. */
    size_t i, max = (size_t)conf->max_body * 2 + 65536;

    memset(h, 0, sizeof(*h));
    h->conf = conf;
    store_init(&h->store, conf);
    if (whttp_init(&h->http, max) < 0)
        return -1;
    for (i = 0; i < CREATE_RACE_MAX - 1; i++) {
        if (whttp_init(&h->race[i], max) < 0)
            return -1;
    }
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        log_warnx("curl_multi_init failed");
        return -1;
    }
    /* The stored answer of an idempotent create is at most what a worker
     * may answer, so a replay always fits. */
    buf_init(&h->scratch, max);
    return 0;
}

void handler_release(struct handler *h)
{
    size_t i;

    store_release(&h->store);
    whttp_release(&h->http);
    for (i = 0; i < CREATE_RACE_MAX - 1; i++)
        whttp_release(&h->race[i]);
    if (h->multi != NULL)
        curl_multi_cleanup(h->multi);
    h->multi = NULL;
    buf_release(&h->scratch);
}

void handler_release_after(struct handler *h)
{
    if (!h->after.pending)
        return;
    h->after.pending = 0;
    worker_release_forgotten(h, &h->after.w, h->after.sid);
    handler_hand_metrics(h);
}

/* What the threads of this process counted and no flush has sent yet. */
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics pending;

void handler_hand_metrics(struct handler *h)
{
    if (!h->metrics.dirty)
        return;
    pthread_mutex_lock(&pending_lock);
    metrics_merge(&pending, &h->metrics);
    pthread_mutex_unlock(&pending_lock);
    memset(&h->metrics, 0, sizeof(h->metrics));
}

void handler_flush_metrics(struct handler *h)
{
    struct metrics out, saved;

    handler_hand_metrics(h);
    pthread_mutex_lock(&pending_lock);
    out = pending;
    memset(&pending, 0, sizeof(pending));
    pthread_mutex_unlock(&pending_lock);
    if (!out.dirty)
        return;
    saved = out; /* metrics_pack zeroes what it packed */
    buf_reset(&h->scratch);
    if (metrics_pack(&out, &h->scratch) < 0 ||
        store_stats_add(&h->store, h->scratch.data) < 0) {
        /* Kept for the next flush. */
        log_warnx("metrics: %s", h->scratch.overflow
                                     ? "too many to send at once"
                                     : store_strerror(&h->store));
        pthread_mutex_lock(&pending_lock);
        metrics_merge(&pending, &saved);
        pthread_mutex_unlock(&pending_lock);
    }
}
