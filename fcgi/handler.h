/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * handler.h - struct handler, the private context of one steel-fcgi
 * thread: its Redis connection, its HTTP clients to workers and what it
 * counted for the metrics.  Route handlers, creates and cleanup threads
 * all work through one; none keeps anything between requests, since
 * every decision is an atomic operation in Redis (store.h).
 */
#ifndef STEEL_HANDLER_H
#define STEEL_HANDLER_H

#include <curl/curl.h>

#include "buf.h"
#include "conf.h"
#include "metrics.h"
#include "store.h"
#include "whttp.h"

/* POSTs one create may have in flight at once: the first worker and the
 * ones that race it when it is slow (create.c). */
#define CREATE_RACE_MAX 3

struct handler {
    const struct conf *conf; /* shared, read-only */
    struct store store;
    struct whttp http;                      /* every other worker call */
    struct whttp race[CREATE_RACE_MAX - 1]; /* more workers of a create */
    CURLM *multi;           /* runs a create's POSTs side by side */
    struct metrics metrics; /* counted since the last flush */
    struct buf scratch;     /* packing metrics, idempotent answers; as
                             * large as a worker's answer may be */
    /* Set by the serving thread: a DELETE leaves its worker's /status
     * check and release to handler_release_after() on this thread, after
     * the 204 went out, instead of a cleanup thread. */
    int release_after;
    struct {
        int pending;
        struct worker_addr w;
        char sid[SESSION_ID_MAX + 1];
    } after;
};

/* Returns 0, or -1 (logged) when the HTTP client cannot be made; release
 * h with handler_release() either way. */
int handler_init(struct handler *h, const struct conf *conf);
void handler_release(struct handler *h);

/* Runs the release a DELETE left to this thread (release_after), if
 * any: the worker's /status, then releasing -> idle when it is clean. */
void handler_release_after(struct handler *h);

/* Hands what this thread counted to the process's pending counts (no
 * I/O; called after each request). */
void handler_hand_metrics(struct handler *h);

/* Hands this thread's counts over, then adds the whole process's pending
 * counts to P:stats in one Redis call (failures are logged and the counts
 * kept for the next try).  main.c runs it about once a second and at a
 * clean stop; /metrics runs it before reading. */
void handler_flush_metrics(struct handler *h);

#endif
