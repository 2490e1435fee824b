/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_store_ops.c - the create queue, idempotent creates, and what the
 * store lists and counts (worker and session listings, counts by state,
 * P:stats, the pass lock, the spawner's pool view and report) against a
 * real Redis.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_store.h"
#include "util.h"

/* ---- the create queue and idempotent creates ---------------------------- */

START_TEST(test_wait_queue)
{
    ck_assert_int_eq(store_waiting(&ts), 0);
    ck_assert_int_eq(store_wait_begin(&ts, "a", 60000, 2), 1);
    ck_assert_int_eq(store_wait_begin(&ts, "b", 60000, 2), 1);
    /* At most max creates wait. */
    ck_assert_int_eq(store_wait_begin(&ts, "c", 60000, 2), 0);
    ck_assert_int_eq(store_waiting(&ts), 2);
    ck_assert_int_eq(store_wait_end(&ts, "a"), 0);
    ck_assert_int_eq(store_waiting(&ts), 1);
    ck_assert_int_eq(store_wait_begin(&ts, "c", 60000, 2), 1);
    ck_assert_int_eq(store_wait_end(&ts, "nobody"), 0);
    /* A waiter past its deadline stops counting. */
    ck_assert_int_eq(store_wait_begin(&ts, "short", 1, 10), 1);
    sleep_ms(20);
    ck_assert_int_eq(store_waiting(&ts), 2);
    ck_assert_int_eq(raw_int("ZSCORE t:waiters short"), -1);
}
END_TEST

/* begin ARGS: key fp owner, a 60 s pending mark, into body. */
#define BEGIN(key, fp, owner)                                                  \
    store_idem_begin(&ts, key, fp, owner, 60000, &body, &status)

START_TEST(test_idem)
{
    static const char answer[] = "{\"id\":\"s1\"}\0binary";
    struct buf body;
    long status = 0;
    long long ttl;
    char owner[64];

    buf_init(&body, 1024);
    ck_assert_int_eq(BEGIN("k", "fp1", "o1"), STORE_IDEM_GO);
    ck_assert_int_eq(raw_int("PTTL t:idem:k") > 55000, 1);
    raw_str(owner, sizeof(owner), "HGET t:idem:k owner");
    ck_assert_str_eq(owner, "o1");
    /* The same key while the first create runs. */
    ck_assert_int_eq(BEGIN("k", "fp1", "o2"), STORE_IDEM_PENDING);
    ck_assert_int_eq(BEGIN("k", "fp2", "o2"), STORE_IDEM_CONFLICT);
    /* Only its owner finishes it. */
    ck_assert_int_eq(store_idem_finish(&ts, "k", "fp1", "o2", 201, answer,
                                       sizeof(answer) - 1, 5000),
                     0);
    ck_assert_int_eq(store_idem_finish(&ts, "k", "fp1", "o1", 201, answer,
                                       sizeof(answer) - 1, 5000),
                     1);
    ttl = raw_int("PTTL t:idem:k");
    ck_assert(ttl > 0 && ttl <= 5000);
    raw_str(owner, sizeof(owner), "HGET t:idem:k owner");
    ck_assert_str_eq(owner, "");
    ck_assert_int_eq(BEGIN("k", "fp1", "o3"), STORE_IDEM_DONE);
    ck_assert_int_eq(status, 201);
    ck_assert_uint_eq(body.len, sizeof(answer) - 1);
    ck_assert_int_eq(memcmp(body.data, answer, body.len), 0);
    ck_assert_int_eq(BEGIN("k", "fp2", "o3"), STORE_IDEM_CONFLICT);
    /* A done record is no longer aborted, nor finished again. */
    ck_assert_int_eq(store_idem_abort(&ts, "k", "o1"), 0);
    ck_assert_int_eq(
        store_idem_finish(&ts, "k", "fp1", "o1", 201, "x", 1, 5000), 0);
    buf_release(&body);
}
END_TEST

START_TEST(test_idem_abort)
{
    struct buf body;
    long status;

    buf_init(&body, 1024);
    ck_assert_int_eq(BEGIN("k", "fp1", "o1"), STORE_IDEM_GO);
    ck_assert_int_eq(store_idem_abort(&ts, "k", "o2"), 0);
    ck_assert_int_eq(store_idem_abort(&ts, "k", "o1"), 1);
    /* A retry may try again. */
    ck_assert_int_eq(BEGIN("k", "fp2", "o2"), STORE_IDEM_GO);
    buf_release(&body);
}
END_TEST

/* One key never yields two sessions, even across its expiry: a create
 * whose pending mark expired finishes only while nobody took the key. */
START_TEST(test_idem_expiry)
{
    struct buf body;
    long status;

    buf_init(&body, 1024);
    /* Expired and taken: the first create's finish loses, whenever it
     * comes; the taker's answer is the one replayed. */
    ck_assert_int_eq(store_idem_begin(&ts, "k", "fp", "o1", 1, &body, &status),
                     STORE_IDEM_GO);
    sleep_ms(20);
    ck_assert_int_eq(raw_int("EXISTS t:idem:k"), 0);
    ck_assert_int_eq(BEGIN("k", "fp", "o2"), STORE_IDEM_GO);
    ck_assert_int_eq(
        store_idem_finish(&ts, "k", "fp", "o1", 201, "first", 5, 5000), 0);
    ck_assert_int_eq(store_idem_abort(&ts, "k", "o1"), 0);
    ck_assert_int_eq(
        store_idem_finish(&ts, "k", "fp", "o2", 201, "second", 6, 5000), 1);
    ck_assert_int_eq(
        store_idem_finish(&ts, "k", "fp", "o1", 201, "first", 5, 5000), 0);
    ck_assert_int_eq(BEGIN("k", "fp", "o3"), STORE_IDEM_DONE);
    ck_assert_str_eq(body.data, "second");
    /* Expired and not taken: the finish stores the answer, so the next
     * repeat replays it rather than creating again. */
    ck_assert_int_eq(store_idem_begin(&ts, "j", "fp", "o1", 1, &body, &status),
                     STORE_IDEM_GO);
    sleep_ms(20);
    ck_assert_int_eq(
        store_idem_finish(&ts, "j", "fp", "o1", 201, "late", 4, 5000), 1);
    ck_assert_int_eq(BEGIN("j", "fp", "o2"), STORE_IDEM_DONE);
    ck_assert_str_eq(body.data, "late");
    buf_release(&body);
}
END_TEST

/* The largest answer a worker may give (2 * max_body + 64 KiB, the
 * handlers' limit for worker replies and stored answers) is stored and
 * replayed whole. */
START_TEST(test_idem_largest)
{
    size_t max = (size_t)16 * 1024 * 1024 * 2 + 65536; /* max_body's top */
    struct buf body;
    char *big = malloc(max);
    long status = 0;

    ck_assert_ptr_nonnull(big);
    memset(big, 'x', max);
    buf_init(&body, max);
    ck_assert_int_eq(BEGIN("k", "fp", "o1"), STORE_IDEM_GO);
    ck_assert_int_eq(
        store_idem_finish(&ts, "k", "fp", "o1", 201, big, max, 60000), 1);
    ck_assert_int_eq(BEGIN("k", "fp", "o2"), STORE_IDEM_DONE);
    ck_assert_uint_eq(body.len, max);
    ck_assert_int_eq(memcmp(body.data, big, max), 0);
    free(big);
    buf_release(&body);
}
END_TEST

/* A stored answer larger than the caller's buffer is no Redis failure. */
START_TEST(test_idem_too_big)
{
    char big[300];
    struct buf body;
    long status;

    memset(big, 'x', sizeof(big));
    buf_init(&body, 100);
    ck_assert_int_eq(BEGIN("k", "fp", "o1"), STORE_IDEM_GO);
    ck_assert_int_eq(
        store_idem_finish(&ts, "k", "fp", "o1", 201, big, sizeof(big), 60000),
        1);
    ck_assert_int_eq(BEGIN("k", "fp", "o2"), -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_TOO_BIG);
    ck_assert_str_eq(store_strerror(&ts), "stored answer too big");
    buf_release(&body);
}
END_TEST

Suite *store_create_suite(void)
{
    Suite *s = suite_create("store_create");
    TCase *tc = tcase_create("queue and idempotency");

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    /* test_idem_largest moves 32 MiB each way through Redis: under the
     * sanitizers on a busy 2-core machine that takes longer than Check's
     * default 4 s. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_wait_queue);
    tcase_add_test(tc, test_idem);
    tcase_add_test(tc, test_idem_abort);
    tcase_add_test(tc, test_idem_expiry);
    tcase_add_test(tc, test_idem_largest);
    tcase_add_test(tc, test_idem_too_big);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- listings, counters, locks, the pool --------------------------------- */

START_TEST(test_lock)
{
    ck_assert_int_eq(store_lock(&ts, "reaper:n", "tok1", 60000), 1);
    ck_assert_int_eq(store_lock(&ts, "reaper:n", "tok2", 60000), 0);
    ck_assert(raw_int("PTTL t:lock:reaper:n") > 55000);
    ck_assert_int_eq(store_unlock(&ts, "reaper:n", "tok2"), 0);
    ck_assert_int_eq(store_unlock(&ts, "reaper:n", "tok1"), 1);
    ck_assert_int_eq(store_unlock(&ts, "reaper:n", "tok1"), 0);
    ck_assert_int_eq(store_lock(&ts, "reaper:n", "tok2", 60000), 1);
}
END_TEST

START_TEST(test_stats)
{
    ck_assert_int_eq(store_count(&ts, "reaper_passes", 1), 0);
    ck_assert_int_eq(store_count(&ts, "reaper_passes", 2), 0);
    ck_assert_int_eq(raw_int("HGET t:stats reaper_passes"), 3);
    ck_assert_int_eq(store_stats_add(&ts, "a 5\nb -2\nreaper_passes 1"), 0);
    ck_assert_int_eq(raw_int("HGET t:stats a"), 5);
    ck_assert_int_eq(raw_int("HGET t:stats b"), -2);
    ck_assert_int_eq(raw_int("HGET t:stats reaper_passes"), 4);
    ck_assert_int_eq(store_stats_add(&ts, ""), 0);
}
END_TEST

/* store_stats reads P:stats back, typed; a field that is no integer is
 * left out. */
START_TEST(test_stats_read)
{
    struct stat_rec *recs;
    size_t n, i;
    long long a = 0, b = 0;

    ck_assert_int_eq(store_stats(&ts, &recs, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(recs);
    ck_assert_int_eq(store_stats_add(&ts, "a 5\nlat:health:3 -2"), 0);
    raw_int("HSET t:stats junk 12x");
    ck_assert_int_eq(store_stats(&ts, &recs, &n), 0);
    ck_assert_uint_eq(n, 2);
    for (i = 0; i < n; i++) {
        ck_assert_str_ne(recs[i].name, "junk");
        if (strcmp(recs[i].name, "a") == 0)
            a = recs[i].value;
        else if (strcmp(recs[i].name, "lat:health:3") == 0)
            b = recs[i].value;
    }
    ck_assert_int_eq(a, 5);
    ck_assert_int_eq(b, -2);
    free(recs);
}
END_TEST

/* The plain reads of /health, /status and the Retry-After estimate. */
START_TEST(test_plain_reads)
{
    char id[WORKER_ID_MAX];
    int64_t last = -1, now = -1;

    ck_assert_int_eq(store_ping(&ts), 0);
    ck_assert_int_eq(store_session_count(&ts), 0);
    ck_assert_int_eq(store_session_oldest(&ts, &last, &now), 0);
    worker_busy(20001, "s1", 60000, id);
    worker_busy(20002, "s2", 60000, id);
    raw_int("ZADD t:sessions 1000 s1");
    ck_assert_int_eq(store_session_count(&ts), 2);
    ck_assert_int_eq(store_session_oldest(&ts, &last, &now), 1);
    ck_assert_int_eq(last, 1000);
    ck_assert_int_gt(now, 1700000000000LL); /* Redis's clock, in ms */
    raw_int("SET t:sessions x");
    ck_assert_int_eq(store_session_count(&ts), -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_REDIS); /* WRONGTYPE */
}
END_TEST

START_TEST(test_counts)
{
    char id[WORKER_ID_MAX];
    long counts[WORKER_STATE_COUNT];

    ck_assert_int_eq(store_counts(&ts, NULL, counts), 0);
    ck_assert_int_eq(counts[WORKER_IDLE], 0);
    worker_idle(20001, id);
    worker_idle(20002, id);
    worker_busy(20003, "s1", 60000, id);
    ck_assert_int_eq(store_worker_add(&ts, "node-b", "h", 1, 1, 0, 0, 0, id),
                     0);
    ck_assert_int_eq(store_counts(&ts, NULL, counts), 0);
    ck_assert_int_eq(counts[WORKER_IDLE], 2);
    ck_assert_int_eq(counts[WORKER_BUSY], 1);
    ck_assert_int_eq(counts[WORKER_STARTING], 1);
    ck_assert_int_eq(counts[WORKER_DEAD], 0);
    ck_assert_int_eq(store_counts(&ts, "node-b", counts), 0);
    ck_assert_int_eq(counts[WORKER_IDLE], 0);
    ck_assert_int_eq(counts[WORKER_STARTING], 1);
}
END_TEST

START_TEST(test_workers)
{
    char idle[WORKER_ID_MAX], busy[WORKER_ID_MAX], other[WORKER_ID_MAX];
    struct worker_rec *recs;
    size_t n, i;

    ck_assert_int_eq(store_workers(&ts, NULL, &recs, &n), 0);
    ck_assert_uint_eq(n, 0);
    free(recs);
    worker_idle(20001, idle);
    worker_busy(20002, "s1", 60000, busy);
    ck_assert_int_eq(
        store_worker_add(&ts, "node-b", "h2", 9, 99, 5, 3, 0, other), 0);
    raw_int("SADD t:node:" TEST_NODE " 777"); /* a record that is gone */
    ck_assert_int_eq(store_workers(&ts, TEST_NODE, &recs, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(raw_int("SISMEMBER t:node:" TEST_NODE " 777"), 0);
    for (i = 0; i < n; i++) {
        const struct worker_rec *w = &recs[i];

        ck_assert_str_eq(w->node, TEST_NODE);
        ck_assert_str_eq(w->host, "127.0.0.1");
        ck_assert_int_gt(w->now_ms, 0);
        ck_assert_int_ge(w->now_ms, w->since_ms);
        if (strcmp(w->id, busy) == 0) {
            ck_assert_int_eq(w->state, WORKER_BUSY);
            ck_assert_str_eq(w->session, "s1");
            ck_assert_int_eq(w->session_alive, 1);
            ck_assert_int_eq(w->port, 20002);
            ck_assert_int_eq(w->pid, 20002);
        } else {
            ck_assert_str_eq(w->id, idle);
            ck_assert_int_eq(w->state, WORKER_IDLE);
            ck_assert_int_eq(w->session_alive, 0);
        }
    }
    free(recs);
    ck_assert_int_eq(store_workers(&ts, NULL, &recs, &n), 0);
    ck_assert_uint_eq(n, 3);
    for (i = 0; i < n; i++) {
        if (strcmp(recs[i].id, other) != 0)
            continue;
        ck_assert_str_eq(recs[i].node, "node-b");
        ck_assert_int_eq(recs[i].pid, 99);
        ck_assert_uint_eq(recs[i].pstart, 5);
        ck_assert_int_eq(recs[i].restarts, 3);
        ck_assert_int_eq(recs[i].state, WORKER_STARTING);
    }
    free(recs);
}
END_TEST

/* A failed GET takes its touch back, unless another request touched the
 * session since. */
START_TEST(test_untouch)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;
    struct session_touch t, t2;
    long long ttl;

    worker_busy(20001, "s1", 5000, id);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, &t), 1);
    ck_assert_int_eq(t.ttl_ms, 60000);
    ck_assert(t.prev_ms > 4000 && t.prev_ms <= 5000);
    ck_assert_int_gt(raw_int("PTTL t:session:s1"), 55000);
    ck_assert_int_eq(store_untouch(&ts, "s1", &t), 1);
    ttl = raw_int("PTTL t:session:s1");
    ck_assert(ttl > 3000 && ttl <= 5000);
    /* Another request's touch since then stays. */
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, &t), 1);
    sleep_ms(20);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, &t2), 1);
    ck_assert_int_eq(store_untouch(&ts, "s1", &t), 0);
    ck_assert_int_gt(raw_int("PTTL t:session:s1"), 55000);
    /* What would have run out meanwhile runs out now. */
    raw_int("PEXPIRE t:session:s1 20");
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, &t), 1);
    sleep_ms(40);
    ck_assert_int_eq(store_untouch(&ts, "s1", &t), 1);
    sleep_ms(10);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
    ck_assert_int_eq(store_untouch(&ts, "s1", &t), 0);
}
END_TEST

START_TEST(test_session_list)
{
    char a[WORKER_ID_MAX], b[WORKER_ID_MAX];
    struct session_rec *recs;
    struct worker_addr w;
    size_t n;
    long total;

    ck_assert_int_eq(store_session_list(&ts, 0, 10, &recs, &n, &total), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(total, 0);
    free(recs);
    worker_busy(20001, "s1", 60000, a);
    worker_busy(20002, "s2", 60000, b);
    raw_int("ZADD t:sessions 1 s1");
    ck_assert_int_eq(store_touch(&ts, "s2", 60000, &w, NULL), 1);
    raw_int("ZADD t:sessions 0 gone"); /* its key expired */
    ck_assert_int_eq(store_session_list(&ts, 0, 10, &recs, &n, &total), 0);
    ck_assert_int_eq(total, 3);
    ck_assert_uint_eq(n, 2);
    /* The most recently active first. */
    ck_assert_str_eq(recs[0].id, "s2");
    ck_assert_str_eq(recs[0].worker, b);
    ck_assert_str_eq(recs[1].id, "s1");
    ck_assert_str_eq(recs[1].worker, a);
    ck_assert_int_gt(recs[0].created_ms, 0);
    ck_assert_int_ge(recs[0].last_ms, recs[0].created_ms);
    ck_assert(recs[0].ttl_ms > 55000 && recs[0].ttl_ms <= 60000);
    free(recs);
    ck_assert_int_eq(store_session_list(&ts, 1, 1, &recs, &n, &total), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(recs[0].id, "s1");
    free(recs);
}
END_TEST

START_TEST(test_pool_view)
{
    char idle[WORKER_ID_MAX], dead[WORKER_ID_MAX], other[WORKER_ID_MAX];
    struct pool_view v;
    size_t i;

    worker_idle(20001, idle);
    worker_idle(20002, dead);
    ck_assert_int_eq(store_mark_dead(&ts, dead, "exited 1", NULL), 1);
    ck_assert_int_eq(store_worker_add(&ts, "node-b", "h", 1, 1, 0, 0, 0, other),
                     0);
    raw_int("SADD t:node:" TEST_NODE " 777");
    ck_assert_int_eq(store_wait_begin(&ts, "w1", 60000, 10), 1);
    ck_assert_int_eq(store_wait_begin(&ts, "w2", 1, 10), 1);
    sleep_ms(20);
    ck_assert_int_eq(store_pool_view(&ts, TEST_NODE, 100, &v), 0);
    ck_assert_int_gt(v.now_ms, 0);
    ck_assert_int_eq(v.waiting, 1);
    ck_assert_uint_eq(v.n, 2);
    ck_assert_int_eq(raw_int("SISMEMBER t:node:" TEST_NODE " 777"), 0);
    for (i = 0; i < v.n; i++) {
        const struct pool_entry *e = &v.entries[i];

        ck_assert_int_le(e->since_ms, v.now_ms);
        if (strcmp(e->id, dead) == 0) {
            ck_assert_int_eq(e->state, WORKER_DEAD);
            ck_assert_str_eq(e->reason, "exited 1");
        } else {
            ck_assert_str_eq(e->id, idle);
            ck_assert_int_eq(e->state, WORKER_IDLE);
            ck_assert_str_eq(e->reason, "");
        }
    }
    store_pool_view_release(&v);
    ck_assert_ptr_null(v.entries);
    ck_assert_int_eq(store_pool_view(&ts, "empty", 100, &v), 0);
    ck_assert_uint_eq(v.n, 0);
    ck_assert_ptr_null(v.entries);
    store_pool_view_release(&v);
}
END_TEST

/* A view with the version of the last one reads no worker until a
 * script changes one of the node's records, or the version is dropped
 * (as after a loss of Redis's data); another node's changes leave it. */
START_TEST(test_pool_view_since)
{
    char a[WORKER_ID_MAX], b[WORKER_ID_MAX], other[WORKER_ID_MAX];
    char ver[32];
    struct pool_view v;

    worker_idle(20001, a);
    worker_idle(20002, b);
    ck_assert_int_eq(store_pool_view_since(&ts, TEST_NODE, 100, "", &v), 0);
    ck_assert_int_eq(v.full, 1);
    ck_assert_uint_eq(v.n, 2);
    ck_assert_str_ne(v.ver, "");
    snprintf(ver, sizeof(ver), "%s", v.ver);
    store_pool_view_release(&v);

    ck_assert_int_eq(store_pool_view_since(&ts, TEST_NODE, 100, ver, &v), 0);
    ck_assert_int_eq(v.full, 0);
    ck_assert_uint_eq(v.n, 0);
    ck_assert_str_eq(v.ver, ver);
    store_pool_view_release(&v);

    /* Another node's record: not this node's change. */
    ck_assert_int_eq(store_worker_add(&ts, "node-b", "h", 1, 1, 0, 0, 0, other),
                     0);
    ck_assert_int_eq(store_pool_view_since(&ts, TEST_NODE, 100, ver, &v), 0);
    ck_assert_int_eq(v.full, 0);
    store_pool_view_release(&v);

    /* A death moves it on. */
    ck_assert_int_eq(store_mark_dead(&ts, b, "exited 1", NULL), 1);
    ck_assert_int_eq(store_pool_view_since(&ts, TEST_NODE, 100, ver, &v), 0);
    ck_assert_int_eq(v.full, 1);
    ck_assert_uint_eq(v.n, 2);
    ck_assert_str_ne(v.ver, ver);
    snprintf(ver, sizeof(ver), "%s", v.ver);
    store_pool_view_release(&v);

    /* A lost version starts again above every one handed out. */
    raw_int("DEL t:ver:" TEST_NODE);
    ck_assert_int_eq(store_pool_view_since(&ts, TEST_NODE, 100, ver, &v), 0);
    ck_assert_int_eq(v.full, 1);
    ck_assert_int_gt(strtoll(v.ver, NULL, 10), strtoll(ver, NULL, 10));
    store_pool_view_release(&v);
    raw_int("DEL t:ver:" TEST_NODE);
    ck_assert_int_eq(store_retire(&ts, a, "retired"), 1);
    ck_assert_int_gt(raw_int("GET t:ver:" TEST_NODE), 1000000);
}
END_TEST

START_TEST(test_pool_report)
{
    const char *fields[] = {"pid", "42", "workers", "3"};
    const char *badpid[] = {"pid", "42x"};
    char f[64];
    long long since;
    long pid = -1;

    /* No report yet: no spawner pid. */
    ck_assert_int_eq(store_spawner_pid(&ts, TEST_NODE, &pid), 0);
    ck_assert_int_eq(pid, 0);
    /* No host registered it: 2, the spawner registers again. */
    ck_assert_int_eq(store_pool_report(&ts, TEST_NODE, "ok", "", 4, fields), 2);
    ck_assert_int_eq(raw_int("SISMEMBER t:nodes " TEST_NODE), 1);
    raw_int("HSET t:pool:" TEST_NODE " hostid h1");
    ck_assert_int_eq(store_spawner_pid(&ts, TEST_NODE, &pid), 0);
    ck_assert_int_eq(pid, 42);
    raw_str(f, sizeof(f), "HGET t:pool:" TEST_NODE " state");
    ck_assert_str_eq(f, "ok");
    raw_str(f, sizeof(f), "HGET t:pool:" TEST_NODE " workers");
    ck_assert_str_eq(f, "3");
    since = raw_int("HGET t:pool:" TEST_NODE " since");
    ck_assert_int_gt(since, 0);
    ck_assert_int_ge(raw_int("HGET t:pool:" TEST_NODE " heartbeat"), since);
    /* since moves only with the state. */
    sleep_ms(20);
    ck_assert_int_eq(store_pool_report(&ts, TEST_NODE, "ok", "", 0, NULL), 1);
    ck_assert_int_eq(raw_int("HGET t:pool:" TEST_NODE " since"), since);
    ck_assert_int_gt(raw_int("HGET t:pool:" TEST_NODE " heartbeat"), since);
    ck_assert_int_eq(store_pool_report(&ts, TEST_NODE, "degraded",
                                       "cannot execute /x", 0, NULL),
                     1);
    ck_assert_int_gt(raw_int("HGET t:pool:" TEST_NODE " since"), since);
    raw_str(f, sizeof(f), "HGET t:pool:" TEST_NODE " reason");
    ck_assert_str_eq(f, "cannot execute /x");
    ck_assert_int_eq(store_pool_report(&ts, TEST_NODE, "ok", "", 2, badpid), 1);
    ck_assert_int_eq(store_spawner_pid(&ts, TEST_NODE, &pid), 0);
    ck_assert_int_eq(pid, 0);
}
END_TEST

Suite *store_ops_suite(void)
{
    Suite *s = suite_create("store_ops");
    TCase *tc = tcase_create("listings and counters");

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, test_lock);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_stats_read);
    tcase_add_test(tc, test_plain_reads);
    tcase_add_test(tc, test_counts);
    tcase_add_test(tc, test_workers);
    tcase_add_test(tc, test_untouch);
    tcase_add_test(tc, test_session_list);
    tcase_add_test(tc, test_pool_view);
    tcase_add_test(tc, test_pool_view_since);
    tcase_add_test(tc, test_pool_report);
    suite_add_tcase(s, tc);
    return s;
}
