/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * serve.c - serving one FastCGI request on a thread of steel-fcgi
 * (serve.h): its parameters and body read through libfcgi, the handler
 * run, the answer written and the request ended.
 *
 * Invariants: this file and main.c are the only ones that know libfcgi;
 * a request is ended exactly once (serve_write, x->finished), and a
 * release left to the serving thread runs only after that.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "handler.h"
#include "log.h"
#include "serve.h"
#include "util.h"

/* 1 when lighttpd reaches us over a unix socket (see serve_write). */
static int listen_unix;

void serve_listen_init(void)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    listen_unix = getsockname(0, (struct sockaddr *)&ss, &sl) == 0 &&
                  ss.ss_family == AF_UNIX;
}

static const char *fcgx_param(const char *name, void *arg)
{
    FCGX_Request *req = arg;

    return FCGX_GetParam(name, req->envp);
}

/* 1 when the web server closed the connection of this request (the client
 * went away and lighttpd gave up on it). */
static int fcgx_client_gone(void *arg)
{
    FCGX_Request *req = arg;
    struct pollfd pfd;
    char c;

    if (req->ipcFd < 0)
        return 0;
    pfd.fd = req->ipcFd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) <= 0)
        return 0;
    if (pfd.revents & (POLLHUP | POLLERR))
        return 1;
    /* Readable: either an abort record or EOF.  Peek, do not consume. */
    return recv(req->ipcFd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Reads stdin into rq->body, at most max_body bytes. */
static void read_body(FCGX_Request *req, struct request *rq, long max_body)
{
    char chunk[16384];
    int n;

    if (rq->content_length > max_body) {
        rq->body_too_large = 1;
        return;
    }
    while ((n = FCGX_GetStr(chunk, sizeof(chunk), req->in)) > 0) {
        if (buf_append(&rq->body, chunk, (size_t)n) < 0) {
            rq->body_too_large = 1;
            return;
        }
    }
}

int serve_ctx_init(struct serve_ctx *x, const struct conf *c)
{
    memset(x, 0, sizeof(*x));
    x->conf = c;
    if (handler_init(&x->h, c) < 0) {
        handler_release(&x->h);
        return -1;
    }
    request_init(&x->rq, (size_t)c->max_body);
    response_init(&x->r, (size_t)c->max_body * 2 + 1024 * 1024);
    buf_init(&x->out, (size_t)c->max_body * 2 + 2 * 1024 * 1024);
    return 0;
}

void serve_ctx_release(struct serve_ctx *x)
{
    buf_release(&x->out);
    response_release(&x->r);
    request_release(&x->rq);
    handler_release(&x->h);
}

/* Writes r as the answer of x->req and ends the request. */
int serve_write(struct serve_ctx *x, struct response *r)
{
    int rc;

    if (x->finished)
        return -1;
    buf_reset(&x->out);
    if (response_serialize(r, &x->out) < 0) {
        response_error(r, API_ERR_INTERNAL, "response too large");
        buf_reset(&x->out);
        response_serialize(r, &x->out);
    }
    rc = FCGX_PutStr(x->out.data, (int)x->out.len, x->req->out);
    /* libfcgi ends a connection with shutdown(2), then waits up to 2 s for
     * the web server to close its end, so that unread input cannot turn
     * the close into a TCP reset that loses the answer.  Over a unix
     * socket the answer is in lighttpd's queue once written and a close
     * loses nothing, so the thread closes at once instead of sleeping
     * on lighttpd (FCGX_Detach only skips that shutdown). */
    if (listen_unix)
        FCGX_Detach(x->req);
    FCGX_Finish_r(x->req);
    x->finished = 1;
    return rc < 0 ? -1 : 0;
}

static int reply_early(void *arg, struct response *r)
{
    struct serve_ctx *x = arg;
    int rc = serve_write(x, r);

    log_debug("%s %.200s -> %d (answered; clean-up goes on)", x->rq.method,
              x->rq.uri, r->status);
    /* Counted now, and handed to the flusher: a hedged create's clean-up
     * may wait worker_timeout_ms for a hung loser. */
    router_observe(&x->h, &x->rq);
    handler_hand_metrics(&x->h);
    return rc;
}

/* Starts serving req in x: its parameters into x->rq, nothing read yet. */
void serve_begin(struct serve_ctx *x, FCGX_Request *req, int64_t arrived)
{
    x->req = req;
    x->finished = 0;
    x->t0 = now_mono_ms();
    request_reset(&x->rq);
    response_reset(&x->r);
    request_set_params(&x->rq, fcgx_param, req);
    x->rq.client_gone = fcgx_client_gone;
    x->rq.client_gone_arg = req;
    x->rq.reply_early = reply_early;
    x->rq.reply_arg = x;
    x->rq.arrived_ms = arrived;
}

/* Writes x->r unless it went out early, counts the request and ends it. */
void serve_end(struct serve_ctx *x)
{
    if (!x->finished)
        serve_write(x, &x->r);
    router_observe(&x->h, &x->rq);
    log_debug("%s %.200s -> %d (%lld ms)", x->rq.method, x->rq.uri, x->r.status,
              (long long)(now_mono_ms() - x->t0));
    handler_hand_metrics(&x->h);
}

/* Runs the handler of m, which router_admit admitted, on x's request
 * (begun with serve_begin), and ends it. */
void serve_run(struct serve_ctx *x, const struct route_match *m)
{
    read_body(x->req, &x->rq, x->conf->max_body);
    router_run(&x->h, &x->rq, m, &x->r);
    serve_end(x);
}
