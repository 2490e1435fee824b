/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_handlers.c - steel-fcgi's create handler (POST /sessions) below
 * the FastCGI edge: a struct request goes through router_serve() and the
 * answer, the store's state and what the workers saw are checked; the
 * fixture is check_handlers.h, GET and DELETE are check_handlers_rw.c.
 *
 * The seams: Redis is fake_store.c, link-time fakes of the store.h
 * functions (fake_store.h says why that needs no test hook in production
 * code); workers are fake_worker.c, real HTTP on loopback ports, so
 * whttp.c and the create's libcurl multi handle run as they do in
 * production.  Timings are scaled down: worker_timeout_ms 600, a hedge
 * delay of 100 ms, create_wait 1 s.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check_handlers.h"
#include "check_suites.h"
#include "cleanup.h"
#include "create.h"
#include "fake_store.h"
#include "fake_worker.h"
#include "handler.h"
#include "jsonx.h"
#include "log.h"
#include "prog.h"
#include "request.h"
#include "response.h"
#include "router.h"

/* ---- POST /sessions ---------------------------------------------------- */

START_TEST(test_create)
{
    worker(&w1, "w1", WORKER_IDLE, NULL);
    run("POST", "/sessions", "{\"user\": \"a\"}");
    ck_assert_int_eq(r.status, 201);
    ck_assert(body_has("\"id\": \"w1-1\""));
    ck_assert_int_eq(fake_store_state("w1"), WORKER_BUSY);
    ck_assert_str_eq(fake_store_session("w1"), "w1-1");
    ck_assert_int_eq(w1.posts, 1);
    ck_assert_int_eq(h.metrics.hedges, 0);
}
END_TEST

/* The first worker never answers: after the hedge delay a second one gets
 * the same POST and wins; the client has its answer before the hung POST
 * times out, and the hung worker is declared dead after it. */
START_TEST(test_create_hedged)
{
    w1.hang_create = 1;
    worker(&w1, "w1", WORKER_IDLE, NULL);
    worker(&w2, "w2", WORKER_IDLE, NULL);
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 201);
    ck_assert(body_has("\"id\": \"w2-1\""));
    ck_assert_int_eq(early_status, 201);
    ck_assert_int_ge(early_ms - started_ms, 2 * HEDGE_MIN_MS);
    ck_assert_int_lt(early_ms - started_ms, WORKER_TIMEOUT_MS);
    ck_assert_int_ge(elapsed_ms(), WORKER_TIMEOUT_MS - 50);
    ck_assert_int_eq(fake_store_state("w2"), WORKER_BUSY);
    ck_assert_str_eq(fake_store_session("w2"), "w2-1");
    ck_assert_int_eq(fake_store_state("w1"), WORKER_DEAD);
    ck_assert_str_eq(fake_store_dead_reason("w1"),
                     "create (lost the race): timed out");
    ck_assert_int_eq(w1.posts, 1);
    ck_assert_int_eq(w2.posts, 1);
    ck_assert_int_eq(h.metrics.hedges, 1);
    ck_assert_int_eq(h.metrics.hedge_wins, 1);
}
END_TEST

START_TEST(test_hedge_delay)
{
    ck_assert_int_eq(create_hedge_delay(&conf), 2 * HEDGE_MIN_MS);
    conf.create_hedge_min_ms = 0;
    ck_assert_int_eq(create_hedge_delay(&conf), -1);
}
END_TEST

/* No worker is idle until the create_wait deadline: the create waits in
 * line, registered in P:waiters, then gets 503 no_worker. */
START_TEST(test_create_no_worker)
{
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(error_code(), "no_worker");
    ck_assert_str_eq(header("Retry-After"), "1");
    ck_assert_int_ge(elapsed_ms(), conf.create_wait * 1000 - 50);
    ck_assert_int_eq(fake_store_wait_begins(), 1);
    ck_assert_int_eq(fake_store_waiting_now(), 0);
    ck_assert_int_eq(h.metrics.create_fail[CREATE_FAIL_NO_WORKER], 1);
}
END_TEST

static void *free_w1_later(void *arg)
{
    (void)arg;
    sleep_ms(200);
    fake_store_add_worker("w1", w1.port, WORKER_IDLE, NULL);
    return NULL;
}

START_TEST(test_create_waits_for_worker)
{
    pthread_t t;

    ck_assert_int_eq(fake_worker_start(&w1, "w1"), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, free_w1_later, NULL), 0);
    run("POST", "/sessions", "{}");
    pthread_join(t, NULL);
    ck_assert_int_eq(r.status, 201);
    ck_assert_int_ge(elapsed_ms(), 150);
    ck_assert_int_eq(fake_store_wait_begins(), 1);
    ck_assert_int_eq(fake_store_waiting_now(), 0);
}
END_TEST

START_TEST(test_create_queue_full)
{
    conf.create_queue_max = 0;
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(error_code(), "queue_full");
    ck_assert_ptr_nonnull(header("Retry-After"));
    ck_assert_int_lt(elapsed_ms(), 500);
}
END_TEST

START_TEST(test_create_next_worker)
{
    w1.create_status = 500;
    worker(&w1, "w1", WORKER_IDLE, NULL);
    worker(&w2, "w2", WORKER_IDLE, NULL);
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 201);
    ck_assert(body_has("w2-1"));
    ck_assert_int_eq(fake_store_state("w1"), WORKER_DEAD);
    ck_assert_str_eq(fake_store_dead_reason("w1"), "create: garbage");
}
END_TEST

START_TEST(test_create_all_failed)
{
    conf.create_attempts = 2;
    w1.create_status = 500;
    w2.create_status = 502;
    worker(&w1, "w1", WORKER_IDLE, NULL);
    worker(&w2, "w2", WORKER_IDLE, NULL);
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 502);
    ck_assert_str_eq(error_code(), "worker_failed");
    ck_assert_str_eq(header("Retry-After"), "1");
    ck_assert_int_eq(fake_store_state("w2"), WORKER_DEAD);
}
END_TEST

/* A repeat with the same Idempotency-Key and body gets the stored
 * answer without a second create; another body under the key is refused. */
START_TEST(test_create_idempotent)
{
    char first[256];

    worker(&w1, "w1", WORKER_IDLE, NULL);
    prepare("POST", "/sessions", "{\"a\": 1}");
    snprintf(rq.idempotency_key, sizeof(rq.idempotency_key), "k1");
    serve();
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_null(header("Idempotent-Replayed"));
    snprintf(first, sizeof(first), "%.*s", (int)r.body.len, r.body.data);
    serve();
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(header("Idempotent-Replayed"), "true");
    ck_assert_str_eq(r.body.data, first);
    ck_assert_int_eq(w1.posts, 1);
    prepare("POST", "/sessions", "{\"a\": 2}");
    snprintf(rq.idempotency_key, sizeof(rq.idempotency_key), "k1");
    serve();
    ck_assert_int_eq(r.status, 422);
    ck_assert_str_eq(error_code(), "idempotency_conflict");
}
END_TEST

/* Keys are per client: the same key and body from another token or
 * another address is another create; the record names a hash of the
 * token, never the token. */
START_TEST(test_create_idempotent_scope)
{
    char a[512], b[512];
    int i;

    worker(&w1, "w1", WORKER_IDLE, NULL);
    worker(&w2, "w2", WORKER_IDLE, NULL);
    prepare("POST", "/sessions", "{}");
    snprintf(rq.idempotency_key, sizeof(rq.idempotency_key), "k1");
    snprintf(rq.authorization, sizeof(rq.authorization), "Bearer tok-A");
    serve();
    ck_assert_int_eq(r.status, 201);
    snprintf(a, sizeof(a), "%s", r.body.data);
    snprintf(rq.authorization, sizeof(rq.authorization), "Bearer tok-B");
    serve();
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_null(header("Idempotent-Replayed"));
    snprintf(b, sizeof(b), "%s", r.body.data);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(w1.posts + w2.posts, 2);
    /* No token: the client's address scopes it. */
    rq.authorization[0] = '\0';
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "192.0.2.1");
    worker(&w3, "w3", WORKER_IDLE, NULL);
    serve();
    ck_assert_int_eq(r.status, 201);
    ck_assert_ptr_null(header("Idempotent-Replayed"));
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "192.0.2.2");
    serve();
    ck_assert_int_eq(r.status, 503); /* would create: no worker left */
    /* The first client still gets its own answer back. */
    snprintf(rq.authorization, sizeof(rq.authorization), "Bearer tok-A");
    serve();
    ck_assert_int_eq(r.status, 201);
    ck_assert_str_eq(header("Idempotent-Replayed"), "true");
    ck_assert_str_eq(r.body.data, a);
    for (i = 0; fake_store_idem_key(i)[0] != '\0'; i++)
        ck_assert_ptr_null(strstr(fake_store_idem_key(i), "tok-"));
    ck_assert_int_eq(i, 3);
}
END_TEST

/* A create whose key was taken meanwhile (its pending mark expired and a
 * repeat took it) ends its own session and answers 409: one key, one
 * session. */
START_TEST(test_create_idempotent_lost)
{
    worker(&w1, "w1", WORKER_IDLE, NULL);
    fake_store_idem_lose_next();
    prepare("POST", "/sessions", "{}");
    snprintf(rq.idempotency_key, sizeof(rq.idempotency_key), "k1");
    serve();
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(error_code(), "idempotency_in_progress");
    ck_assert_int_eq(early_status, 0); /* no session went out first */
    ck_assert_int_eq(w1.posts, 1);
    ck_assert_int_eq(fake_store_session_alive("w1-1"), 0);
    ck_assert_int_eq(w1.deletes, 1);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_IDLE);
}
END_TEST

/* A replay fits whatever a worker may answer (2 * max_body + 64 KiB),
 * whatever max_body is. */
START_TEST(test_create_idempotent_limits)
{
    ck_assert_uint_ge(h.scratch.max, (size_t)conf.max_body * 2 + 65536);
    handler_release(&h);
    conf.max_body = 1024 * 1024;
    ck_assert_int_eq(handler_init(&h, &conf), 0);
    ck_assert_uint_ge(h.scratch.max, (size_t)conf.max_body * 2 + 65536);
}
END_TEST

static int always_gone(void *arg)
{
    (void)arg;
    return 1;
}

/* A claimed worker that cannot be given back (Redis fails the unclaim)
 * is logged and left creating for the reaper, never marked idle or
 * dead behind Redis's back. */
START_TEST(test_create_unclaim_fails)
{
    char line[512] = "";
    FILE *f = tmpfile();
    int saved = dup(STDERR_FILENO);

    ck_assert_ptr_nonnull(f);
    worker(&w1, "w1", WORKER_IDLE, NULL);
    fake_store_unclaim_fails(1);
    prepare("POST", "/sessions", "{}");
    rq.client_gone = always_gone; /* gone right after the claim */
    fflush(stderr);
    dup2(fileno(f), STDERR_FILENO);
    log_set_level(LOG_LEVEL_WARN);
    serve();
    fflush(stderr);
    log_set_level(LOG_LEVEL_ERROR);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ck_assert_int_eq(w1.posts, 0);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_CREATING);
    rewind(f);
    ck_assert_int_eq(fread(line, 1, sizeof(line) - 1, f) > 0, 1);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(line, "worker w1"));
    ck_assert_ptr_nonnull(strstr(line, "unclaim failed"));
    ck_assert_ptr_nonnull(strstr(line, "reaper"));
}
END_TEST

START_TEST(test_create_bad_body)
{
    run("POST", "/sessions", "[1]");
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(error_code(), "not_an_object");
    ck_assert_int_eq(fake_store_wait_begins(), 0);
}
END_TEST

/* Redis down for good: the create waits for it within create_wait, then
 * answers 503. */
START_TEST(test_create_redis_down)
{
    fake_store_redis_down(1);
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(error_code(), "redis_unavailable");
    ck_assert_str_eq(header("Retry-After"), "1");
    ck_assert_int_ge(elapsed_ms(), conf.create_wait * 1000 - 150);
}
END_TEST

/* No master for a moment (a fail-over): the create waits and succeeds. */
START_TEST(test_create_waits_for_redis)
{
    worker(&w1, "w1", WORKER_IDLE, NULL);
    fake_store_redis_down_calls(3);
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 201);
    ck_assert_int_ge(elapsed_ms(), 250);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_BUSY);
}
END_TEST

/* The 201 comes once the replicas asked for have the session. */
START_TEST(test_create_replica_ack)
{
    snprintf(conf.redis_wait_replicas, sizeof(conf.redis_wait_replicas), "1");
    worker(&w1, "w1", WORKER_IDLE, NULL);
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 201);
    ck_assert_int_eq(fake_store_replicas_waits(), 1);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_BUSY);
}
END_TEST

/* No replica acknowledges: each session made is ended on its worker and
 * in Redis, the create tries again until its deadline, then 503. */
START_TEST(test_create_no_replica_ack)
{
    snprintf(conf.redis_wait_replicas, sizeof(conf.redis_wait_replicas), "1");
    fake_store_replicas(0);
    worker(&w1, "w1", WORKER_IDLE, NULL);
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(error_code(), "redis_unavailable");
    ck_assert_int_ge(fake_store_replicas_waits(), 2);
    ck_assert_int_ge(w1.deletes, 2);
    ck_assert_int_eq(fake_store_state("w1"), WORKER_IDLE);
    ck_assert_str_eq(w1.session, "");
    ck_assert_int_eq(fake_store_session_alive("w1-1"), 0);
}
END_TEST

/* A store failure that is not Redis's (an oversized stored answer, no
 * random source) is a 500, not a 503 that invites a retry. */
START_TEST(test_create_store_not_redis)
{
    worker(&w1, "w1", WORKER_IDLE, NULL);
    fake_store_fail(STORE_ERR_TOO_BIG);
    run("POST", "/sessions", "{}");
    ck_assert_int_eq(r.status, 500);
    ck_assert_str_eq(error_code(), "internal");
    ck_assert_ptr_null(strstr(r.body.data, "fake store"));
}
END_TEST

Suite *handlers_suite(void)
{
    Suite *s = suite_create("handlers");
    TCase *create = tcase_create("create");

    tcase_add_checked_fixture(create, handlers_setup, handlers_teardown);
    tcase_set_timeout(create, 20);
    suite_add_tcase(s, create);
    tcase_add_test(create, test_create);
    tcase_add_test(create, test_create_hedged);
    tcase_add_test(create, test_hedge_delay);
    tcase_add_test(create, test_create_no_worker);
    tcase_add_test(create, test_create_waits_for_worker);
    tcase_add_test(create, test_create_queue_full);
    tcase_add_test(create, test_create_next_worker);
    tcase_add_test(create, test_create_all_failed);
    tcase_add_test(create, test_create_idempotent);
    tcase_add_test(create, test_create_idempotent_scope);
    tcase_add_test(create, test_create_idempotent_lost);
    tcase_add_test(create, test_create_idempotent_limits);
    tcase_add_test(create, test_create_unclaim_fails);
    tcase_add_test(create, test_create_bad_body);
    tcase_add_test(create, test_create_redis_down);
    tcase_add_test(create, test_create_waits_for_redis);
    tcase_add_test(create, test_create_replica_ack);
    tcase_add_test(create, test_create_no_replica_ack);
    tcase_add_test(create, test_create_store_not_redis);
    return s;
}
