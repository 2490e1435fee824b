/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * serve.h - one steel-fcgi thread's tools for serving a FastCGI request
 * (serve.c): main.c's threads take requests and call these.
 */
#ifndef STEEL_SERVE_H
#define STEEL_SERVE_H

#include <stdint.h>

#include <fcgiapp.h>

#include "buf.h"
#include "conf.h"
#include "handler.h"
#include "request.h"
#include "response.h"
#include "router.h"

/* One thread's tools: its handler context and reusable buffers. */
struct serve_ctx {
    const struct conf *conf;
    struct handler h;
    struct request rq;
    struct response r;
    struct buf out;
    FCGX_Request *req; /* the request being served */
    int64_t t0;        /* monotonic ms this thread took it up */
    int finished;      /* its answer was written and the request ended */
};

/* Notes whether the listening socket (fd 0) is a unix socket, which lets
 * serve_write close at once; call once, before any thread serves. */
void serve_listen_init(void);

/* Returns 0, or -1 (release x with serve_ctx_release either way). */
int serve_ctx_init(struct serve_ctx *x, const struct conf *c);
void serve_ctx_release(struct serve_ctx *x);

/* Starts serving req in x: its parameters into x->rq, nothing read yet. */
void serve_begin(struct serve_ctx *x, FCGX_Request *req, int64_t arrived);

/* Writes r as the answer of x->req and ends the request; -1 when it was
 * ended already or the write failed. */
int serve_write(struct serve_ctx *x, struct response *r);

/* Writes x->r unless it went out early, counts the request and ends it. */
void serve_end(struct serve_ctx *x);

/* Reads the body, runs the handler of m (which router_admit admitted) on
 * x's request (begun with serve_begin), and ends it. */
void serve_run(struct serve_ctx *x, const struct route_match *m);

#endif
