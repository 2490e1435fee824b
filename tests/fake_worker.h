/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fake_worker.h - a steel-browser worker for the handler tests: a thread
 * serving HTTP/1.1 on a loopback port of its own, so the handlers' real
 * libcurl code (whttp.h, the create's multi handle) talks to it.
 *
 * It holds at most one session, as a worker does: POST /sessions makes
 * one ("<name>-<n>"), GET /sessions/<id> answers 200 for it and 404 for
 * anything else, DELETE /sessions/<id> ends it, GET /status tells whether
 * it is free.  A test makes it fail a create or hang on a request.
 */
#ifndef STEEL_FAKE_WORKER_H
#define STEEL_FAKE_WORKER_H

#include <pthread.h>

#include "util.h"

struct fake_worker {
    /* The script, set before fake_worker_start or under lock. */
    char name[16];     /* prefix of the session ids it makes */
    int create_status; /* status of a create: 201 unless set */
    int hang_create;   /* never answers POST /sessions */
    int hang_get;      /* never answers GET /sessions/<id> */
    int hang_delete;   /* never answers DELETE /sessions/<id> */
    int garbage_get;   /* answers GET /sessions/<id> with cut-off JSON */

    /* State and what it saw, under lock. */
    pthread_mutex_t lock;
    char session[SESSION_ID_MAX + 1];   /* the session it holds, "" none */
    int made;                           /* sessions it made */
    int posts, gets, deletes, statuses; /* requests received, by kind */

    int started; /* fake_worker_start succeeded */
    int port;    /* where it listens, once started */
    int listen_fd;
    volatile int stop;
    pthread_t thread;
};

/* Starts fw (its script fields set, the rest zero) listening on a free
 * loopback port.  Returns 0, or -1 when no socket or thread. */
int fake_worker_start(struct fake_worker *fw, const char *name);

/* Makes fw hold session sid, as if it had created it. */
void fake_worker_hold(struct fake_worker *fw, const char *sid);

/* Stops the thread and closes every connection. */
void fake_worker_stop(struct fake_worker *fw);

/* A loopback port nothing listens on (connecting is refused). */
int fake_port_refused(void);

#endif
