/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * main.c - steel-fcgi: the FastCGI application lighttpd starts (bin-path)
 * on the socket it passes as fd 0.
 *
 * Classes of threads, so that creates waiting for a worker, and DELETEs
 * waiting for theirs to forget a session, never delay other requests:
 *
 *   fcgi_threads accept threads each accept one request at a time with
 *   FCGX_Accept_r, all blocked in accept(2) on the one socket (Linux wakes
 *   one of them per connection, so no lock serialises them), and admit it
 *   (router_admit: routed once, token checked; a request refused there is
 *   answered at once, and reaches no queue and no Redis).  The route's
 *   thread class (router.c's table) says where an admitted request goes:
 *   a POST /sessions is queued for the create threads at once; every
 *   other route but DELETE is answered right there (its worker calls are
 *   bounded by worker_timeout_ms, Redis calls by redis_timeout_ms).
 *
 *   fcgi_create_threads create threads take queued creates in order.  A
 *   create that waits for a worker holds one of them (asleep in the wait
 *   line of create.c), never an accept thread.  When every create thread
 *   is busy and fcgi_create_threads more creates are queued, the next
 *   create gets 503 queue_full at once from the accept thread.
 *
 *   As many delete threads as accept threads take queued DELETEs: each
 *   waits for the worker to forget the session before the 204 (a worker
 *   that hangs holds a delete thread, not an accept thread), then checks
 *   the worker's /status and releases it itself; when all are busy and
 *   as many more are queued, the accept thread serves the DELETE itself
 *   and leaves the release to a cleanup thread.
 *
 *   As many cleanup threads as create threads finish what follows an
 *   answered DELETE served that last way, or a create whose answer was
 *   not handed out (the worker's /status, the release; cleanup.c).
 *
 *     lighttpd --> accept thread: router_admit
 *                       +--(refused)--> 401, 403, 404, 405, 400, 414
 *                       +--(GET, /health, ...)--> router_run --> answer
 *                       +--(POST /sessions)--> queue --> create thread
 *                       |    +--(queue full)--> 503 queue_full
 *                       +--(DELETE)--> queue --> delete thread --> 204,
 *                                                    then the release
 *                            +--(queue full)--> 204 --> cleanup thread
 *
 * Each request is turned into a struct request, admitted and answered
 * through router.c, and written by serve.c.  Only this file and serve.c
 * know libfcgi.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "cleanup.h"
#include "handler.h"
#include "log.h"
#include "prog.h"
#include "reply.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "rqueue.h"
#include "serve.h"
#include "util.h"

static struct prog prog = {
    .name = "steel-fcgi",
    .usage = "",
};

#define THREAD_STACK (512 * 1024) /* bytes of stack per thread */
#define METRICS_FLUSH_MS 1000     /* counts reach Redis this often */

static int inflight; /* requests accepted and not yet ended (atomic) */

/* Threads of each serving class that set up their handler, and that
 * could not (atomic); main() refuses to go on with none of a class. */
enum { CLASS_ACCEPT, CLASS_CREATE, CLASS_DELETE, CLASS_COUNT };
static const char *const class_name[CLASS_COUNT] = {"accept", "create",
                                                    "delete"};
static int setup_ok[CLASS_COUNT], setup_failed[CLASS_COUNT];

static void on_term(int sig)
{
    (void)sig;
    prog_got_term = 1;
    FCGX_ShutdownPending();
}

/* ---- creates: a queue between the accept threads and the create threads */

/* One accepted request.  Creates travel from an accept thread to a create
 * thread in one; its FastCGI connection stays open meanwhile. */
struct accepted_request {
    struct rqueue_link link; /* first: the queues hold it by this */
    FCGX_Request req;
    int64_t arrived_ms;       /* monotonic ms it was accepted */
    struct route_match match; /* what router_admit admitted */
};

/* Creates wait here for a create thread, DELETEs for a delete thread. */
static struct rqueue creates = RQUEUE_INIT, deletes = RQUEUE_INIT;

/* Returns a fresh accepted_request, or NULL when out of memory. */
static struct accepted_request *accepted_new(void)
{
    struct accepted_request *ar = calloc(1, sizeof(*ar));

    if (ar != NULL)
        FCGX_InitRequest(&ar->req, 0, 0);
    return ar;
}

static void inflight_add(int d)
{
    __atomic_add_fetch(&inflight, d, __ATOMIC_RELAXED);
}

/* serve_ctx_init for a thread of class cls, counted for main(). */
static int serve_ctx_setup(struct serve_ctx *x, const struct conf *c, int cls)
{
    if (serve_ctx_init(x, c) < 0) {
        log_warnx("%s thread: cannot set up its handler (out of memory, or "
                  "libcurl failed)",
                  class_name[cls]);
        __atomic_add_fetch(&setup_failed[cls], 1, __ATOMIC_RELAXED);
        return -1;
    }
    __atomic_add_fetch(&setup_ok[cls], 1, __ATOMIC_RELAXED);
    return 0;
}

/* The queue of a thread class; NULL for the accept threads. */
static struct rqueue *queue_of(enum route_class cls)
{
    switch (cls) {
    case ROUTE_CLASS_CREATE:
        return &creates;
    case ROUTE_CLASS_DELETE:
        return &deletes;
    case ROUTE_CLASS_ACCEPT:
        break;
    }
    return NULL;
}

/* An admitted create that found the queue full: 503 at once, from the
 * accept thread, without reading its body. */
static void serve_queue_full(struct serve_ctx *x)
{
    response_reset(&x->r);
    reply_create_refused(&x->h, &x->r, CREATE_REFUSED_QUEUE_FULL, creates.cap);
    serve_write(x, &x->r);
    handler_hand_metrics(&x->h);
}

/* An accept thread: takes every request; serves all but creates itself
 * (each bounded by the worker deadline) and hands creates to the create
 * threads, so that creates waiting for a worker never hold it. */
static void *accept_thread(void *arg)
{
    struct serve_ctx x;
    struct accepted_request *ar = NULL;

    if (serve_ctx_setup(&x, arg, CLASS_ACCEPT) < 0)
        return NULL;
    while (!prog_got_term) {
        struct rqueue *q;
        int rc;

        if (ar == NULL && (ar = accepted_new()) == NULL) {
            log_warnx("out of memory; retrying");
            sleep_ms(100);
            continue;
        }
        rc = prog_got_term ? -1 : FCGX_Accept_r(&ar->req);
        if (rc < 0)
            break;
        inflight_add(1);
        ar->arrived_ms = now_mono_ms();
        serve_begin(&x, &ar->req, ar->arrived_ms);
        if (!router_admit(&x.h, &x.rq, &ar->match, &x.r)) {
            serve_end(&x); /* refused: answered without its body */
            inflight_add(-1);
            continue;
        }
        q = queue_of(ar->match.cls);
        if (q != NULL && rqueue_push(q, &ar->link) == 0) {
            ar = NULL; /* a thread of that class ends it */
            continue;
        }
        if (q == &creates)
            serve_queue_full(&x);
        else /* this thread's route, or a DELETE that finds every delete
              * thread busy */
            serve_run(&x, &ar->match);
        inflight_add(-1);
    }
    if (ar != NULL) {
        FCGX_Free(&ar->req, 1);
        free(ar);
    }
    serve_ctx_release(&x);
    return NULL;
}

/* A create or delete thread: serves the requests of its class's queue,
 * one at a time (arg: the class). */
static void *queue_thread(void *arg)
{
    int cls = (int)(intptr_t)arg;
    struct rqueue *q = cls == CLASS_CREATE ? &creates : &deletes;
    struct serve_ctx x;
    struct rqueue_link *l;

    if (serve_ctx_setup(&x, &prog.conf, cls) < 0)
        return NULL;
    /* A delete thread releases the worker of each DELETE itself, after
     * the 204 went out (no hand-off to a cleanup thread). */
    x.h.release_after = cls == CLASS_DELETE;
    while ((l = rqueue_pop(q, &prog_got_term)) != NULL) {
        struct accepted_request *ar = (struct accepted_request *)l;

        /* Admitted by the accept thread: no second routing or token
         * check, only the parameters again, and the body. */
        serve_begin(&x, &ar->req, ar->arrived_ms);
        serve_run(&x, &ar->match);
        handler_release_after(&x.h);
        free(ar);
        inflight_add(-1);
    }
    serve_ctx_release(&x);
    return NULL;
}

/* Waits until every accept, create and delete thread has set up or failed
 * to,
 * and exits 1 when a class has no thread at all: a steel-fcgi that can
 * serve nothing must not look alive to lighttpd (which restarts it). */
static void check_setup(long accept_threads, long create_threads)
{
    const long want[CLASS_COUNT] = {accept_threads, create_threads,
                                    accept_threads};
    int64_t deadline = now_mono_ms() + 10000;
    int cls;

    for (cls = 0; cls < CLASS_COUNT; cls++) {
        int ok, failed;

        for (;;) {
            ok = __atomic_load_n(&setup_ok[cls], __ATOMIC_RELAXED);
            failed = __atomic_load_n(&setup_failed[cls], __ATOMIC_RELAXED);
            if (ok + failed >= want[cls] || now_mono_ms() >= deadline)
                break;
            sleep_ms(5);
        }
        if (ok == 0)
            fatalx("no %s thread could set up its handler (%d failed): "
                   "exiting",
                   class_name[cls], failed);
        if (failed > 0)
            log_warnx("%d of %ld %s threads could not set up; serving with "
                      "%d",
                      failed, want[cls], class_name[cls], ok);
    }
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    sigset_t block, old;
    pthread_t *threads;
    pthread_attr_t attr;
    struct handler flusher;
    int64_t deadline;
    long i, n, na, nc;

    prog_start(&prog, argc, argv, NULL);
    prog_signals(0);
    /* Kept connections to workers (common/wpool.h): one per worker at
     * best, within half of the limit. */
    prog_raise_nofile();
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
    serve_listen_init();

    /* Cleanup threads: as many as create threads, since each create
     * ends with a DELETE sooner or later; delete threads: as many as
     * accept threads, so that DELETEs waiting on their workers never hold
     * the threads every other route needs. */
    na = prog.conf.fcgi_threads;
    nc = prog.conf.fcgi_create_threads;
    n = 2 * na + 2 * nc;
    creates.cap = nc;
    deletes.cap = na;
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
    /* Buffers live on the heap; a small stack keeps many threads cheap. */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    for (i = 0; i < n; i++) {
        void *(*fn)(void *) = queue_thread;
        void *arg = (void *)(intptr_t)CLASS_CREATE;

        if (i < na) {
            fn = accept_thread;
            arg = &prog.conf;
        } else if (i >= na + nc && i < na + 2 * nc) {
            fn = cleanup_thread;
            arg = &prog.conf;
        } else if (i >= na + 2 * nc) {
            arg = (void *)(intptr_t)CLASS_DELETE;
        }
        if (pthread_create(&threads[i], &attr, fn, arg) != 0)
            fatal("pthread_create");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    cleanup_open();
    check_setup(na, nc);
    log_info("serving with %ld accept and %ld create threads, %ld delete "
             "threads (pid %ld, redis %s, prefix %s)",
             na, nc, na, (long)getpid(), prog.conf.redis,
             prog.conf.key_prefix);

    /* The main thread sends the counts of every thread to Redis about
     * once a second (a signal cuts the sleep short). */
    if (handler_init(&flusher, &prog.conf) < 0)
        fatalx("cannot set up the metrics flusher");
    while (!prog_got_term) {
        sleep_ms(METRICS_FLUSH_MS);
        handler_flush_metrics(&flusher);
        if (prog_got_hup) {
            /* Handlers read the configuration without locks, so a reload
             * needs a restart; lighttpd restarts us on its own reload. */
            prog_got_hup = 0;
            log_info("SIGHUP ignored: restart lighttpd (or its FastCGI "
                     "backends) to apply a new configuration");
        }
    }
    rqueue_wake(&creates);
    rqueue_wake(&deletes);
    cleanup_wake();
    /* Requests in flight get the longest a request may take. */
    deadline = now_mono_ms() + prog.conf.create_wait * 1000 +
               prog.conf.worker_timeout_ms + 1000;
    for (;;) {
        int busy;

        busy = __atomic_load_n(&inflight, __ATOMIC_RELAXED);
        if (busy == 0 || now_mono_ms() >= deadline)
            break;
        sleep_ms(20);
    }
    handler_flush_metrics(&flusher); /* nothing counted is lost */
    log_info("stopping");
    /* Threads blocked in accept() end with the process. */
    _exit(0);
}
