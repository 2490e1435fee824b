/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_store_sessions.c - the life of sessions in store.h against a real
 * Redis, and the invariants the scripts keep: a session key exists only
 * while its worker is busy with it, an expired session is never revived.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_store.h"
#include "util.h"

/* ---- sessions ----------------------------------------------------------- */

START_TEST(test_bind)
{
    char id[WORKER_ID_MAX], other[WORKER_ID_MAX], f[64];
    struct worker_addr w;
    long long ttl;

    worker_idle(20001, id);
    ck_assert_int_eq(store_bind(&ts, id, "s1", 60000, 0), 0); /* idle */
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_int_eq(store_bind(&ts, id, "s1", 60000, 0), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_BUSY);
    check_field(id, "session", "s1");
    raw_str(f, sizeof(f), "HGET t:session:s1 worker");
    ck_assert_str_eq(f, id);
    ttl = raw_int("PTTL t:session:s1");
    ck_assert(ttl > 55000 && ttl <= 60000);
    ck_assert_int_eq(raw_int("HGET t:session:s1 deadline"), 0);
    ck_assert_int_eq(raw_int("ZCARD t:sessions"), 1);
    ck_assert_int_eq(raw_int("HGET t:stats sessions_created"), 1);
    /* A live sid of another worker: conflict, nothing changes. */
    worker_idle(20002, other);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_int_eq(store_bind(&ts, other, "s1", 60000, 0),
                     STORE_BIND_CONFLICT);
    ck_assert_int_eq(worker_state_of(other), WORKER_CREATING);
    raw_str(f, sizeof(f), "HGET t:session:s1 worker");
    ck_assert_str_eq(f, id);
    /* The lifetime caps the first expiry too. */
    ck_assert_int_eq(store_bind(&ts, other, "s2", 60000, 5000), 1);
    ttl = raw_int("PTTL t:session:s2");
    ck_assert(ttl > 0 && ttl <= 5000);
    ck_assert_int_gt(raw_int("HGET t:session:s2 deadline"), 0);
}
END_TEST

/* WAIT on the connection of the writes: this Redis has no replica, so
 * none acknowledges within the deadline; a connection that is gone
 * vouches for nothing. */
START_TEST(test_replicas_wait)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;
    int64_t t0;

    ck_assert_int_eq(store_replicas_wait(&ts, 0, 1000), 1);
    worker_idle(20001, id);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_int_eq(store_bind(&ts, id, "s1", 60000, 0), 1);
    t0 = now_mono_ms();
    ck_assert_int_eq(store_replicas_wait(&ts, 1, 50), 0);
    ck_assert_int_ge(now_mono_ms() - t0, 40);
    ck_assert_ptr_nonnull(strstr(store_strerror(&ts), "0 of 1 replica"));
    /* Fewer than asked: the connection goes, so the next command finds
     * the master again. */
    ck_assert_ptr_null(ts.redis.ctx);
    ck_assert_int_eq(store_replicas_wait(&ts, 1, 50), -1);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 1);
    ck_assert_int_eq(store_claim(&ts, &w), 0);
    rconn_release(&ts.redis);
    ck_assert_int_eq(store_replicas_wait(&ts, 1, 50), -1);
    ck_assert_int_eq(store_error(&ts), STORE_ERR_REDIS);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 1);
}
END_TEST

/* A session a client was told is gone is not restored with its worker:
 * the worker comes back releasing, for the reaper to clean. */
START_TEST(test_restore_gone)
{
    struct worker_restore wr;
    char id[WORKER_ID_MAX];
    struct worker_addr w;

    worker_busy(20001, "s1", 60000, id);
    ck_assert_int_eq(store_end(&ts, "s1", &w), 1);
    raw_int("DEL t:worker:%s", id); /* Redis lost the record */
    memset(&wr, 0, sizeof(wr));
    wr.id = id;
    wr.node = TEST_NODE;
    wr.host = "127.0.0.1";
    wr.port = 20001;
    wr.pid = 4242;
    wr.state = WORKER_BUSY;
    wr.session = "s1";
    wr.ttl_ms = 60000;
    ck_assert_int_eq(store_worker_restore(&ts, &wr), 2);
    ck_assert_int_eq(worker_state_of(id), WORKER_RELEASING);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
    /* Another session of the same worker is restored. */
    raw_int("DEL t:worker:%s", id);
    wr.session = "s9";
    ck_assert_int_eq(store_worker_restore(&ts, &wr), 1);
    ck_assert_int_eq(raw_int("EXISTS t:session:s9"), 1);
}
END_TEST

START_TEST(test_touch)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;
    long long ttl;

    ck_assert_int_eq(store_touch(&ts, "nope", 60000, &w, NULL), 0);
    worker_busy(20001, "s1", 1000, id);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, NULL), 1);
    ck_assert_str_eq(w.id, id);
    ck_assert_int_eq(w.port, 20001);
    ttl = raw_int("PTTL t:session:s1");
    ck_assert(ttl > 55000);
    /* A key whose worker no longer holds it is removed, not followed. */
    raw_int("HSET t:worker:%s session other", id);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, NULL), 0);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
    ck_assert_int_eq(raw_int("ZCARD t:sessions"), 0);
}
END_TEST

/* HEAD's look: the same answer as touch, with no expiry refreshed. */
START_TEST(test_peek)
{
    char id[WORKER_ID_MAX];
    long long ttl;

    ck_assert_int_eq(store_session_peek(&ts, "nope"), 0);
    worker_busy(20001, "s1", 1000, id);
    raw_int("PEXPIRE t:session:s1 5000");
    ck_assert_int_eq(store_session_peek(&ts, "s1"), 1);
    ttl = raw_int("PTTL t:session:s1");
    ck_assert(ttl > 0 && ttl <= 5000);
    raw_int("HSET t:worker:%s session other", id);
    ck_assert_int_eq(store_session_peek(&ts, "s1"), 0);
    /* ... and, unlike touch, it removes nothing either. */
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 1);
}
END_TEST

START_TEST(test_touch_lifetime)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;

    worker_idle(20001, id);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_int_eq(store_bind(&ts, id, "s1", 60000, 150), 1);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, NULL), 1);
    ck_assert(raw_int("PTTL t:session:s1") <= 150);
    /* Past the deadline no touch extends it. */
    raw_int("PERSIST t:session:s1");
    sleep_ms(200);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, NULL), 0);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
}
END_TEST

START_TEST(test_end)
{
    char id[WORKER_ID_MAX], other[WORKER_ID_MAX];
    struct worker_addr w;

    worker_busy(20001, "s1", 60000, id);
    ck_assert_int_eq(store_end(&ts, "s1", &w), 1);
    ck_assert_str_eq(w.id, id);
    ck_assert_int_eq(w.port, 20001);
    ck_assert_int_eq(worker_state_of(id), WORKER_RELEASING);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
    ck_assert_int_eq(raw_int("ZCARD t:sessions"), 0);
    ck_assert_int_eq(raw_int("HGET t:stats sessions_deleted"), 1);
    ck_assert_int_eq(raw_int("EXISTS t:gone:s1"), 1);
    ck_assert(raw_int("PTTL t:gone:s1") > 0);
    ck_assert_int_eq(store_end(&ts, "s1", &w), 0);
    /* A key whose worker moved on: ended, no worker to release. */
    worker_busy(20002, "s2", 60000, other);
    raw_int("HSET t:worker:%s session other", other);
    ck_assert_int_eq(store_end(&ts, "s2", &w), STORE_END_NO_WORKER);
    ck_assert_int_eq(worker_state_of(other), WORKER_BUSY);
    ck_assert_int_eq(raw_int("EXISTS t:session:s2"), 0);
    /* A session its worker lost is counted as lost, not as deleted. */
    worker_busy(20003, "s3", 60000, other);
    ck_assert_int_eq(store_end_lost(&ts, "s3", &w), 1);
    ck_assert_int_eq(worker_state_of(other), WORKER_RELEASING);
    ck_assert_int_eq(raw_int("HGET t:stats sessions_lost"), 1);
    ck_assert_int_eq(raw_int("HGET t:stats sessions_deleted"), 2);
}
END_TEST

/* An expired session is never revived: touch needs its key, expire needs
 * it gone, and the worker goes to releasing once. */
START_TEST(test_expire)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;

    worker_busy(20001, "s1", 60000, id);
    ck_assert_int_eq(store_expire(&ts, id, "s1"), 0); /* still live */
    ck_assert_int_eq(store_expire(&ts, id, "s2"), 0); /* not its session */
    raw_int("PEXPIRE t:session:s1 50");
    sleep_ms(120);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, NULL), 0);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
    ck_assert_int_eq(worker_state_of(id), WORKER_BUSY);
    ck_assert_int_eq(store_expire(&ts, id, "s1"), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_RELEASING);
    ck_assert_int_eq(raw_int("ZCARD t:sessions"), 0);
    ck_assert_int_eq(raw_int("HGET t:stats sessions_expired"), 1);
    ck_assert_int_eq(raw_int("EXISTS t:gone:s1"), 1);
    ck_assert_int_eq(store_expire(&ts, id, "s1"), 0);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, NULL), 0);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
}
END_TEST

START_TEST(test_prune_sessions)
{
    char id[WORKER_ID_MAX];

    worker_busy(20001, "live", 60000, id);
    raw_int("ZADD t:sessions 1 gone1 2 gone2 3 gone3");
    raw_int("ZADD t:sessions 1 live");
    /* Entries younger than age_ms stay. */
    ck_assert_int_eq(store_prune_sessions(&ts, 1000L * 86400 * 365 * 100, 10),
                     0);
    /* At most limit entries are looked at, the oldest first. */
    ck_assert_int_eq(store_prune_sessions(&ts, 0, 2), 1);
    ck_assert_int_eq(raw_int("ZSCORE t:sessions live"), 1);
    ck_assert_int_eq(store_prune_sessions(&ts, 0, 10), 2);
    ck_assert_int_eq(raw_int("ZCARD t:sessions"), 1);
}
END_TEST

/* store_workers_view: whole when the version is not the caller's, else
 * only the PTTL of the session keys asked about; an expiry does not move
 * the version, a script's change does. */
START_TEST(test_workers_view)
{
    char idle[WORKER_ID_MAX], busy[WORKER_ID_MAX];
    const char *sids[2] = {"s1", "nope"};
    struct store_wview v;
    char ver[32];
    size_t i;

    worker_idle(20001, idle);
    worker_busy(20002, "s1", 60000, busy);
    ck_assert_int_eq(store_workers_view(&ts, TEST_NODE, "", sids, 2, &v), 0);
    ck_assert_int_eq(v.full, 1);
    ck_assert_uint_eq(v.nrecs, 2);
    ck_assert_ptr_null(v.pttl);
    ck_assert_str_ne(v.ver, "");
    ck_assert_int_gt(v.now_ms, 0);
    for (i = 0; i < v.nrecs; i++) {
        if (strcmp(v.recs[i].id, busy) == 0) {
            ck_assert_int_eq(v.recs[i].session_alive, 1);
            ck_assert_int_gt(v.recs[i].session_pttl_ms, 50000);
            ck_assert_int_le(v.recs[i].session_pttl_ms, 60000);
        } else {
            ck_assert_int_eq(v.recs[i].session_alive, 0);
            ck_assert_int_eq(v.recs[i].session_pttl_ms, -2);
        }
    }
    snprintf(ver, sizeof(ver), "%s", v.ver);
    free(v.recs);

    /* Nothing moved: only the keys asked about. */
    ck_assert_int_eq(store_workers_view(&ts, TEST_NODE, ver, sids, 2, &v), 0);
    ck_assert_int_eq(v.full, 0);
    ck_assert_ptr_null(v.recs);
    ck_assert_str_eq(v.ver, ver);
    ck_assert_int_gt(v.pttl[0], 50000);
    ck_assert_int_eq(v.pttl[1], -2);
    free(v.pttl);
    /* An expiry moves no version; the key is gone all the same. */
    raw_int("PEXPIRE t:session:s1 1");
    usleep(20000);
    ck_assert_int_eq(store_workers_view(&ts, TEST_NODE, ver, sids, 1, &v), 0);
    ck_assert_int_eq(v.full, 0);
    ck_assert_int_eq(v.pttl[0], -2);
    free(v.pttl);
    /* A script's change does: whole again. */
    ck_assert_int_eq(store_expire(&ts, busy, "s1"), 1);
    ck_assert_int_eq(store_workers_view(&ts, TEST_NODE, ver, sids, 1, &v), 0);
    ck_assert_int_eq(v.full, 1);
    ck_assert_str_ne(v.ver, ver);
    free(v.recs);
}
END_TEST

Suite *store_sessions_suite(void)
{
    Suite *s = suite_create("store_sessions");
    TCase *tc = tcase_create("sessions");

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, test_bind);
    tcase_add_test(tc, test_replicas_wait);
    tcase_add_test(tc, test_restore_gone);
    tcase_add_test(tc, test_touch);
    tcase_add_test(tc, test_touch_lifetime);
    tcase_add_test(tc, test_peek);
    tcase_add_test(tc, test_end);
    tcase_add_test(tc, test_expire);
    tcase_add_test(tc, test_prune_sessions);
    tcase_add_test(tc, test_workers_view);
    suite_add_tcase(s, tc);
    return s;
}
