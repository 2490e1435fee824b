/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_handlers.h - the fixture of the handler suites (check_handlers.c:
 * creates; check_handlers_rw.c: GET and DELETE): steel-fcgi's handlers
 * below the FastCGI edge, a struct request through router_serve(), the
 * store faked at link time (fake_store.c) and workers real HTTP servers on
 * loopback ports (fake_worker.c).  Timings are scaled down:
 * worker_timeout_ms 600, worker_connect_timeout_ms 200, a hedge delay of
 * 100 ms, create_wait 1 s.
 */
#ifndef STEEL_CHECK_HANDLERS_H
#define STEEL_CHECK_HANDLERS_H

#include <stdint.h>

#include <check.h>

#include "fake_store.h"
#include "fake_worker.h"
#include "handler.h"
#include "request.h"
#include "response.h"
#include "router.h"

#define WORKER_TIMEOUT_MS 600
#define HEDGE_MIN_MS      50 /* a cold hedge delay is twice this */

extern struct conf conf;
extern struct handler h;
extern struct request rq;
extern struct response r;
extern struct fake_worker w1, w2, w3; /* ids "w1"... in the store */
extern int early_status;              /* what reply_early sent; 0: none */
extern int64_t started_ms, early_ms;

/* The checked fixture of every handler test case. */
void handlers_setup(void);
void handlers_teardown(void);

/* Starts fw as worker id in state st (holding sid when busy) and tells
 * the store about it. */
void worker(struct fake_worker *fw, const char *id, enum worker_state st,
            const char *sid);
/* Makes rq a fresh request method uri with body (NULL: none). */
void prepare(const char *method, const char *uri, const char *body);
/* Sends rq through the route table into a fresh r. */
void serve(void);
void run(const char *method, const char *uri, const char *body);
/* ms since the last serve(). */
long elapsed_ms(void);
/* The "error" code of an error answer, "" for none. */
const char *error_code(void);
/* The value of extra header name, NULL when absent. */
const char *header(const char *name);
/* 1 when the answer's body contains s. */
int body_has(const char *s);

#endif
