/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_store_retry.c - the one retry of rconn (rconn.h) against a real
 * redis-server: a command whose connection breaks after it was written is
 * sent again only when it is retry-safe, and one that is not is never run
 * twice (nor, here, at all).
 *
 * How a connection breaks after the write, for sure before Redis ran the
 * command: CLIENT PAUSE WRITE holds every write and every script, a
 * thread of the test then kills the store's connection (CLIENT KILL ID)
 * while its command waits.  The store reads an end of file, exactly what
 * it reads when Redis dies with the command in flight.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_store.h"
#include "rconn.h"
#include "store_core.h"
#include "util.h"

#define PAUSE_MS 400 /* how long Redis holds writes */
#define KILL_MS  100 /* when the thread kills the store's connection */

struct killer {
    pthread_t thread;
    long long client; /* the CLIENT ID to kill */
};

static void *killer_run(void *arg)
{
    struct killer *k = arg;
    const char *colon = strrchr(tconf.redis, ':');
    redisContext *c;
    redisReply *r;

    sleep_ms(KILL_MS);
    c = redisConnect("127.0.0.1", atoi(colon + 1));
    if (c != NULL && !c->err &&
        (r = redisCommand(c, "CLIENT KILL ID %lld", k->client)) != NULL)
        freeReplyObject(r);
    if (c != NULL)
        redisFree(c);
    return NULL;
}

/* Pauses writes for PAUSE_MS and starts the thread that kills the store's
 * connection KILL_MS from now. */
static void break_after_write(struct killer *k)
{
    redisReply *r = store_commandf(&ts, "CLIENT ID");

    ck_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
    k->client = r->integer;
    freeReplyObject(r);
    ck_assert_int_eq(raw_int("CLIENT PAUSE %d WRITE", PAUSE_MS), 0);
    ck_assert_int_eq(pthread_create(&k->thread, NULL, killer_run, k), 0);
}

static void killer_join(struct killer *k)
{
    pthread_join(k->thread, NULL);
    /* Whatever a test left, the next one starts unpaused. */
    raw_int("CLIENT UNPAUSE");
}

START_TEST(test_classes)
{
    ck_assert(rconn_command_safe("HGET", 4));
    ck_assert(rconn_command_safe("zrem", 4));
    ck_assert(rconn_command_safe("SCRIPT", 6));
    ck_assert(!rconn_command_safe("HINCRBY", 7));
    ck_assert(!rconn_command_safe("SET", 3));
    ck_assert(!rconn_command_safe("EVALSHA", 7));
    ck_assert(!rconn_command_safe("HGETX", 4 + 1));
    ck_assert(store_script_retry_safe(SCRIPT_TOUCH));
    ck_assert(store_script_retry_safe(SCRIPT_IDEM_BEGIN));
    ck_assert(store_script_retry_safe(SCRIPT_COUNTS));
    ck_assert(!store_script_retry_safe(SCRIPT_CLAIM));
    ck_assert(!store_script_retry_safe(SCRIPT_END));
    ck_assert(!store_script_retry_safe(SCRIPT_UNCLAIM));
    ck_assert(!store_script_retry_safe(SCRIPT_STATS_ADD));
    ck_assert(!store_script_retry_safe(SCRIPT_COUNT));
    ck_assert(rconn_error_needs_reconnect("READONLY You can't write"));
    ck_assert(!rconn_error_needs_reconnect("READONLYX"));
}
END_TEST

/* A touch (retry-safe) whose connection breaks after the write is sent
 * again and answers as if nothing happened. */
START_TEST(test_safe_script_retried)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;
    struct session_touch t;
    struct killer k;

    worker_busy(20001, "s1", 5000, id);
    ck_assert_int_eq(store_touch(&ts, "s1", 5000, &w, &t), 1);
    break_after_write(&k);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, &t), 1);
    killer_join(&k);
    ck_assert_uint_eq(ts.redis.retries, 1);
    ck_assert_str_eq(w.id, id);
    ck_assert_int_gt(raw_int("PTTL t:session:s1"), 55000);
}
END_TEST

/* A claim (not retry-safe) fails instead, and did not pop a worker: the
 * one idle worker is still there for the next claim. */
START_TEST(test_unsafe_script_not_retried)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;
    struct killer k;

    ck_assert_int_eq(store_claim(&ts, &w), 0); /* the script is loaded */
    worker_idle(20002, id);
    break_after_write(&k);
    ck_assert_int_eq(store_claim(&ts, &w), -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_REDIS);
    killer_join(&k);
    ck_assert_uint_eq(ts.redis.retries, 0);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_IDLE);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_str_eq(w.id, id);
}
END_TEST

/* Plain commands are classed by name: DEL is sent again, HINCRBY not. */
START_TEST(test_commands_by_name)
{
    redisReply *r;
    struct killer k;

    raw_int("SET t:x 1");
    break_after_write(&k);
    r = store_commandf(&ts, "DEL t:x");
    killer_join(&k);
    ck_assert_msg(r != NULL, "DEL: %s", store_strerror(&ts));
    freeReplyObject(r);
    ck_assert_uint_eq(ts.redis.retries, 1);
    ck_assert_int_eq(raw_int("EXISTS t:x"), 0);

    break_after_write(&k);
    r = store_commandf(&ts, "HINCRBY t:c n 1");
    killer_join(&k);
    ck_assert(r == NULL);
    ck_assert_uint_eq(ts.redis.retries, 1);
    ck_assert_int_eq(raw_int("HGET t:c n"), -1);
}
END_TEST

/* A connection killed while idle and used again at once (under
 * RCONN_IDLE_CHECK_MS, so not checked first): whichever way it fails, a
 * command that is not retry-safe runs at most once. */
START_TEST(test_unsent_retried)
{
    redisReply *r;
    long long client;

    r = store_commandf(&ts, "CLIENT ID");
    ck_assert(r != NULL);
    client = r->integer;
    freeReplyObject(r);
    /* Killed while idle, used again at once: the idle check does not look
     * (under RCONN_IDLE_CHECK_MS), so the write or the read fails. */
    ck_assert_int_eq(raw_int("CLIENT KILL ID %lld", client), 1);
    r = store_commandf(&ts, "HINCRBY t:c n 1");
    if (r != NULL) {
        /* The write failed (reset): sent again on a new connection. */
        freeReplyObject(r);
        ck_assert_uint_eq(ts.redis.retries, 1);
        ck_assert_int_eq(raw_int("HGET t:c n"), 1);
    } else {
        /* The write went out, the read found the end: not run, not sent
         * again. */
        ck_assert_uint_eq(ts.redis.retries, 0);
        ck_assert_int_eq(raw_int("HGET t:c n"), -1);
    }
}
END_TEST

Suite *store_retry_suite(void)
{
    Suite *s = suite_create("store_retry");
    TCase *tc = tcase_create("retry after a broken connection");

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_classes);
    tcase_add_test(tc, test_safe_script_retried);
    tcase_add_test(tc, test_unsafe_script_not_retried);
    tcase_add_test(tc, test_commands_by_name);
    tcase_add_test(tc, test_unsent_retried);
    suite_add_tcase(s, tc);
    return s;
}
