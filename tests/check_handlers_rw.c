/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_handlers_rw.c - steel-fcgi's GET and DELETE of a session below the
 * FastCGI edge (fixture: check_handlers.h): what the client gets, what
 * becomes of the session and of its worker when the worker answers,
 * refuses, cannot be reached, hangs or sends garbage; and the operator
 * reads (/health, /status, /metrics), all through the store.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_handlers.h"
#include "check_suites.h"
#include "cleanup.h"
#include "prog.h"
#include "util.h"

/* ---- GET /sessions/:id -------------------------------------------------- */

START_TEST(test_get)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    run("GET", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert(body_has("\"id\": \"s1\""));
    ck_assert_int_eq(w1.gets, 1);
    ck_assert_int_eq(fake_store_untouches(), 0);
}
END_TEST

/* HEAD changes nothing: no worker call (and no TTL refresh). */
START_TEST(test_head_no_side_effect)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    run("HEAD", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(w1.gets, 0);
    run("HEAD", "/sessions/nope", NULL);
    ck_assert_int_eq(r.status, 404);
}
END_TEST

/* A record whose address is outside worker_port_range steers nothing:
 * the worker is failed without a call, GET answers 404 and a create goes
 * to the next worker. */
START_TEST(test_worker_addr_refused)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    worker(&w2, "w2", WORKER_IDLE, NULL);
    conf.worker_port_min = w2.port;
    conf.worker_port_max = w2.port;
    run("GET", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_int_eq(w1.gets, 0);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_DEAD);
    conf.worker_port_min = w1.port;
    conf.worker_port_max = w1.port;
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 502);
    ck_assert_int_eq(w2.posts, 0);
    ck_assert_int_eq(fake_store_state("w2"), WORKER_DEAD);
}
END_TEST

/* Records naming addresses outside the range come before a good one in
 * the idle list: each is declared dead (none left creating), and the
 * create goes on to the good one. */
START_TEST(test_worker_addr_refused_then_next)
{
    worker(&w2, "w2", WORKER_IDLE, NULL);
    worker(&w3, "w3", WORKER_IDLE, NULL);
    worker(&w1, "w1", WORKER_IDLE, NULL);
    conf.worker_port_min = w1.port;
    conf.worker_port_max = w1.port;
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 201);
    ck_assert_int_eq(w1.posts, 1);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_BUSY);
    ck_assert_int_eq(fake_store_state("w2"), WORKER_DEAD);
    ck_assert_int_eq(fake_store_state("w3"), WORKER_DEAD);
}
END_TEST

/* The worker no longer holds the session: 404, and the session ends. */
START_TEST(test_get_worker_404)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    fake_worker_hold(&w1, "");
    run("GET", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(), "session_not_found");
    ck_assert(!fake_store_session_alive("s1"));
    ck_assert_int_eq(fake_store_state("w1"), WORKER_RELEASING);
}
END_TEST

/* Nothing listens where the worker was: 404, and the worker is dead. */
START_TEST(test_get_refused)
{
    fake_store_add_worker("w1", fake_port_refused(), WORKER_BUSY, "s1");
    run("GET", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(), "session_not_found");
    ck_assert_int_eq(fake_store_state("w1"), WORKER_DEAD);
    ck_assert_str_eq(fake_store_dead_reason("w1"), "GET of a session: refused");
    ck_assert(!fake_store_session_alive("s1"));
}
END_TEST

/* A listening socket whose accept queue is full: the kernel drops new
 * connection attempts, so a connect waits until its deadline (a host that
 * is gone, on loopback).  Returns the port; *fds gets the sockets to
 * close. */
static int port_that_never_connects(int fds[8])
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int i, port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fds[0], 0), 0);
    getsockname(fds[0], (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    for (i = 1; i < 8; i++) { /* fill the queue; later ones stay pending */
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fds[i], (struct sockaddr *)&a, sizeof(a));
    }
    sleep_ms(50);
    return port;
}

/* No connection within worker_connect_timeout_ms: the worker is as gone
 * as a refused one (dead, the session 404), not a 504 that a polling
 * client could repeat forever. */
START_TEST(test_get_connect_timeout)
{
    int fds[8], i;

    fake_store_add_worker("w1", port_that_never_connects(fds), WORKER_BUSY,
                          "s1");
    run("GET", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(), "session_not_found");
    ck_assert_int_ge(elapsed_ms(), conf.worker_connect_timeout_ms - 20);
    ck_assert_int_lt(elapsed_ms(), WORKER_TIMEOUT_MS);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_DEAD);
    ck_assert(!fake_store_session_alive("s1"));
    for (i = 0; i < 8; i++)
        close(fds[i]);
}
END_TEST

/* The worker hangs: 504 after worker_timeout_ms, and the worker is dead
 * with its session, as a timeout is on every path (common/wcall.h). */
START_TEST(test_get_timeout)
{
    w1.hang_get = 1;
    worker(&w1, "w1", WORKER_BUSY, "s1");
    run("GET", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 504);
    ck_assert_str_eq(error_code(), "worker_timeout");
    ck_assert_int_ge(elapsed_ms(), WORKER_TIMEOUT_MS - 50);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_DEAD);
    ck_assert_str_eq(fake_store_dead_reason("w1"),
                     "GET of a session: timed out");
    ck_assert(!fake_store_session_alive("s1"));
}
END_TEST

/* The worker answers cut-off JSON: 502, and the worker is dead with its
 * session (common/wcall.h: garbage). */
START_TEST(test_get_garbage)
{
    w1.garbage_get = 1;
    worker(&w1, "w1", WORKER_BUSY, "s1");
    run("GET", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 502);
    ck_assert_str_eq(error_code(), "worker_unavailable");
    ck_assert_int_eq(fake_store_state("w1"), WORKER_DEAD);
    ck_assert_str_eq(fake_store_dead_reason("w1"), "GET of a session: garbage");
    ck_assert(!fake_store_session_alive("s1"));
    ck_assert(!body_has("\"id\""));
}
END_TEST

START_TEST(test_get_unknown)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    run("GET", "/sessions/s2", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(), "session_not_found");
    ck_assert_int_eq(w1.gets, 0);
}
END_TEST

START_TEST(test_get_redis_down)
{
    fake_store_redis_down(1);
    run("GET", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(error_code(), "redis_unavailable");
}
END_TEST

/* ---- DELETE /sessions/:id ----------------------------------------------- */

/* No cleanup threads run (the queue is closed): the handler answers 204
 * first, then tells the worker and gives it back itself. */
START_TEST(test_delete)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    run("DELETE", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 204);
    ck_assert_int_eq(early_status, 204);
    ck_assert(!fake_store_session_alive("s1"));
    ck_assert_int_eq(w1.deletes, 1);
    ck_assert_int_eq(w1.statuses, 1);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_IDLE);
}
END_TEST

/* With cleanup threads, the DELETE returns with the worker still
 * releasing; a cleanup thread tells it and gives it back. */
START_TEST(test_delete_cleanup_thread)
{
    pthread_t t;
    int i;

    worker(&w1, "w1", WORKER_BUSY, "s1");
    cleanup_open();
    run("DELETE", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 204);
    ck_assert_int_eq(early_status, 0);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_RELEASING);
    ck_assert_int_eq(pthread_create(&t, NULL, cleanup_thread, &conf), 0);
    for (i = 0; i < 150 && fake_store_state("w1") != WORKER_IDLE; i++)
        sleep_ms(20);
    prog_got_term = 1;
    cleanup_wake();
    pthread_join(t, NULL);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_IDLE);
    ck_assert_int_eq(w1.deletes, 1);
}
END_TEST

/* On a thread that releases after the answer (release_after, set by
 * steel-fcgi's delete threads): the DELETE returns with the
 * worker still releasing, even with cleanup threads running, and only
 * handler_release_after, once, checks the worker and gives it back. */
START_TEST(test_delete_release_after)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    cleanup_open();
    h.release_after = 1;
    run("DELETE", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 204);
    ck_assert_int_eq(early_status, 0);
    ck_assert(!fake_store_session_alive("s1"));
    ck_assert_int_eq(w1.deletes, 1);
    ck_assert_int_eq(w1.statuses, 0);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_RELEASING);
    ck_assert_int_eq(h.after.pending, 1);
    handler_release_after(&h);
    ck_assert_int_eq(w1.statuses, 1);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_IDLE);
    ck_assert_int_eq(h.after.pending, 0);
    handler_release_after(&h); /* nothing left: no second /status */
    ck_assert_int_eq(w1.statuses, 1);
    cleanup_wake();
}
END_TEST

/* ... and a worker that is not clean after its DELETE stays releasing,
 * for the reaper. */
START_TEST(test_delete_release_after_unclean)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    h.release_after = 1;
    run("DELETE", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 204);
    pthread_mutex_lock(&w1.lock);
    snprintf(w1.session, sizeof(w1.session), "%s", "other");
    pthread_mutex_unlock(&w1.lock);
    handler_release_after(&h);
    ck_assert_int_eq(w1.statuses, 1);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_RELEASING);
}
END_TEST

/* A worker that hangs on its DELETE: the worker forgets a session before
 * the client has its 204, so the 204 waits for the worker's deadline
 * (worker_timeout_ms), which declares the worker dead. */
START_TEST(test_delete_worker_hangs)
{
    w1.hang_delete = 1;
    worker(&w1, "w1", WORKER_BUSY, "s1");
    run("DELETE", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 204);
    ck_assert_int_eq(early_status, 0);
    ck_assert(!fake_store_session_alive("s1"));
    ck_assert_int_eq(fake_store_state("w1"), WORKER_DEAD);
    ck_assert_str_eq(fake_store_dead_reason("w1"),
                     "DELETE of a session: timed out");
}
END_TEST

START_TEST(test_delete_unknown)
{
    run("DELETE", "/sessions/s1", NULL);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(), "session_not_found");
}
END_TEST

/* ---- /health, /status, /metrics --------------------------------------- */

/* operator GET of uri from loopback, with the admin token (operator
 * routes have no other way in). */
static void run_local(const char *uri)
{
    snprintf(conf.admin_token, sizeof(conf.admin_token), "adm");
    prepare("GET", uri, NULL);
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "127.0.0.1");
    snprintf(rq.authorization, sizeof(rq.authorization), "Bearer adm");
    serve();
}

START_TEST(test_admin_reads)
{
    worker(&w1, "w1", WORKER_BUSY, "s1");
    run_local("/health");
    ck_assert_int_eq(r.status, 200);
    ck_assert(body_has("ok"));
    run_local("/status");
    ck_assert_int_eq(r.status, 200);
    ck_assert(body_has("\"sessions\":1,"));
    run_local("/metrics");
    ck_assert_int_eq(r.status, 200);
    ck_assert(body_has("steel_sessions 1\n"));
    ck_assert(body_has("steel_workers{state=\"busy\"} 1\n"));
}
END_TEST

/* Redis down: each answers 503 redis_unavailable, never a partial 200. */
START_TEST(test_admin_redis_down)
{
    static const char *const uris[] = {"/health", "/status", "/metrics"};
    size_t i;

    fake_store_redis_down(1);
    for (i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
        run_local(uris[i]);
        ck_assert_int_eq(r.status, 503);
        ck_assert_str_eq(error_code(), "redis_unavailable");
    }
}
END_TEST

Suite *handlers_rw_suite(void)
{
    Suite *s = suite_create("handlers_rw");
    TCase *get = tcase_create("get");
    TCase *del = tcase_create("delete");
    TCase *admin = tcase_create("admin");
    TCase *all[] = {get, del, admin};
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_add_checked_fixture(all[i], handlers_setup, handlers_teardown);
        tcase_set_timeout(all[i], 20);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(get, test_get);
    tcase_add_test(get, test_get_worker_404);
    tcase_add_test(get, test_get_refused);
    tcase_add_test(get, test_worker_addr_refused);
    tcase_add_test(get, test_worker_addr_refused_then_next);
    tcase_add_test(get, test_get_timeout);
    tcase_add_test(get, test_get_garbage);
    tcase_add_test(get, test_get_connect_timeout);
    tcase_add_test(get, test_get_unknown);
    tcase_add_test(get, test_get_redis_down);
    tcase_add_test(get, test_head_no_side_effect);
    tcase_add_test(del, test_delete);
    tcase_add_test(del, test_delete_cleanup_thread);
    tcase_add_test(del, test_delete_release_after);
    tcase_add_test(del, test_delete_release_after_unclean);
    tcase_add_test(del, test_delete_worker_hangs);
    tcase_add_test(del, test_delete_unknown);
    tcase_add_test(admin, test_admin_reads);
    tcase_add_test(admin, test_admin_redis_down);
    return s;
}
