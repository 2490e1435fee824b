/*
 * main.c - steel-fcgi: the FastCGI application lighttpd starts (bin-path)
 * on the socket it passes as fd 0.
 *
 * fcgi_threads threads each accept one request at a time with
 * FCGX_Accept_r (serialised by a mutex, as libfcgi's threaded use wants),
 * turn it into a struct request, let handler_serve() answer it and write
 * the answer.  Only this file knows libfcgi.
 *
 * Signals: the main thread alone takes them (the threads block them).
 * SIGTERM/SIGINT call FCGX_ShutdownPending() and set a flag; the main
 * thread then gives requests in flight up to a deadline and exits 0.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "handler.h"
#include "log.h"
#include "prog.h"
#include "util.h"

static struct prog prog = {
    .name = "steel-fcgi",
    .usage = "",
};

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static int inflight;

static void on_term(int sig)
{
    (void)sig;
    prog_got_term = 1;
    FCGX_ShutdownPending();
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

static void *serve_thread(void *arg)
{
    const struct conf *c = arg;
    struct handler h;
    struct request rq;
    struct response r;
    struct buf out;
    FCGX_Request req;

    if (handler_init(&h, c) < 0)
        return NULL;
    request_init(&rq, (size_t)c->max_body);
    response_init(&r, (size_t)c->max_body * 2 + 1024 * 1024);
    buf_init(&out, (size_t)c->max_body * 2 + 2 * 1024 * 1024);
    FCGX_InitRequest(&req, 0, 0);

    while (!prog_got_term) {
        int rc;
        int64_t t0;

        pthread_mutex_lock(&accept_lock);
        rc = prog_got_term ? -1 : FCGX_Accept_r(&req);
        pthread_mutex_unlock(&accept_lock);
        if (rc < 0)
            break;
        pthread_mutex_lock(&inflight_lock);
        inflight++;
        pthread_mutex_unlock(&inflight_lock);

        t0 = now_mono_ms();
        request_reset(&rq);
        response_reset(&r);
        buf_reset(&out);
        request_set_params(&rq, fcgx_param, &req);
        rq.client_gone = fcgx_client_gone;
        rq.client_gone_arg = &req;
        read_body(&req, &rq, c->max_body);
        handler_serve(&h, &rq, &r);
        if (response_serialize(&r, &out) < 0) {
            response_error(&r, API_ERR_INTERNAL, "response too large");
            buf_reset(&out);
            response_serialize(&r, &out);
        }
        FCGX_PutStr(out.data, (int)out.len, req.out);
        log_debug("%s %.200s -> %d (%lld ms)", rq.method, rq.uri, r.status,
                  (long long)(now_mono_ms() - t0));
        FCGX_Finish_r(&req);
        handler_flush_metrics(&h);

        pthread_mutex_lock(&inflight_lock);
        inflight--;
        pthread_mutex_unlock(&inflight_lock);
    }
    FCGX_Free(&req, 1);
    buf_release(&out);
    response_release(&r);
    request_release(&rq);
    handler_release(&h);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    sigset_t block, old;
    pthread_t *threads;
    int64_t deadline;
    long i, n;

    prog_start(&prog, argc, argv, NULL);
    prog_signals(0);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL); /* lighttpd's graceful stop */

    if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
        fatalx("curl_global_init failed");
    if (FCGX_Init() != 0)
        fatalx("FCGX_Init failed");
    if (FCGX_IsCGI())
        fatalx("not started by a FastCGI server: fd 0 is not a listening "
               "socket (run it from lighttpd's fastcgi.server bin-path)");

    n = prog.conf.fcgi_threads;
    threads = calloc((size_t)n, sizeof(*threads));
    if (threads == NULL)
        fatalx("out of memory");
    /* Threads inherit this mask: signals go to the main thread only. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (i = 0; i < n; i++) {
        if (pthread_create(&threads[i], NULL, serve_thread, &prog.conf) != 0)
            fatal("pthread_create");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    log_info("serving with %ld threads (pid %ld, redis %s, prefix %s)", n,
             (long)getpid(), prog.conf.redis, prog.conf.key_prefix);

    while (!prog_got_term) {
        pause();
        if (prog_got_hup) {
            /* Handlers read the configuration without locks, so a reload
             * needs a restart; lighttpd restarts us on its own reload. */
            prog_got_hup = 0;
            log_info("SIGHUP ignored: restart lighttpd (or its FastCGI "
                     "backends) to apply a new configuration");
        }
    }
    /* Requests in flight get the longest a request may take. */
    deadline = now_mono_ms() + prog.conf.create_wait * 1000 +
               prog.conf.worker_timeout_ms + 1000;
    for (;;) {
        int busy;

        pthread_mutex_lock(&inflight_lock);
        busy = inflight;
        pthread_mutex_unlock(&inflight_lock);
        if (busy == 0 || now_mono_ms() >= deadline)
            break;
        sleep_ms(20);
    }
    log_info("stopping");
    curl_global_cleanup();
    /* Threads blocked in accept() end with the process. */
    _exit(0);
}
