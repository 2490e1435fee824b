/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_store_life.c - every transition of store.h's worker state machine
 * against a real Redis, and the invariants the scripts keep: a claim hands
 * a worker to one create only, a worker's end is its owner's alone
 * (check_store_sessions.c has the sessions).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_store.h"
#include "util.h"

/* ---- worker life ------------------------------------------------------- */

START_TEST(test_add_ids)
{
    char a[WORKER_ID_MAX], b[WORKER_ID_MAX], c[WORKER_ID_MAX];

    ck_assert_int_eq(
        store_worker_add(&ts, TEST_NODE, "h", 20001, 41, 77, 2, 0, a), 0);
    ck_assert_str_eq(a, "1");
    ck_assert_int_eq(worker_state_of(a), WORKER_STARTING);
    check_field(a, "pstart", "77");
    check_field(a, "restarts", "2");
    ck_assert_int_eq(raw_int("SISMEMBER t:workers 1"), 1);
    ck_assert_int_eq(raw_int("SISMEMBER t:node:" TEST_NODE " 1"), 1);
    ck_assert_int_eq(raw_int("HGET t:stats worker_starts"), 1);
    /* Above the floor the caller still holds. */
    ck_assert_int_eq(store_worker_add(&ts, TEST_NODE, "h", 1, 1, 0, 0, 40, b),
                     0);
    ck_assert_str_eq(b, "41");
    ck_assert_int_eq(raw_int("GET t:seq:worker"), 41);
    /* The counter went back (Redis lost data): never an existing id. */
    raw_int("SET t:seq:worker 0");
    ck_assert_int_eq(store_worker_add(&ts, TEST_NODE, "h", 1, 1, 0, 0, 0, c),
                     0);
    ck_assert_str_eq(c, "2");
}
END_TEST

START_TEST(test_ready)
{
    char id[WORKER_ID_MAX], none[WORKER_ID_MAX];

    ck_assert_int_eq(store_worker_add(&ts, TEST_NODE, "h", 1, 1, 0, 0, 0, id),
                     0);
    raw_int("HSET t:worker:%s fails 2", id);
    ck_assert_int_eq(store_worker_ready(&ts, id), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_IDLE);
    ck_assert_int_eq(raw_int("HGET t:worker:%s fails", id), 0);
    ck_assert_int_eq(raw_int("LPOS t:idle %s", id), 0);
    /* Only from starting. */
    ck_assert_int_eq(store_worker_ready(&ts, id), 0);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 1);
    snprintf(none, sizeof(none), "999");
    ck_assert_int_eq(store_worker_ready(&ts, none), 0);
}
END_TEST

START_TEST(test_claim_unclaim)
{
    char a[WORKER_ID_MAX], b[WORKER_ID_MAX];
    struct worker_addr w;

    ck_assert_int_eq(store_claim(&ts, &w), 0);
    worker_idle(20001, a);
    worker_idle(20002, b);
    /* The oldest idle worker first, with its address. */
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_str_eq(w.id, a);
    ck_assert_str_eq(w.host, "127.0.0.1");
    ck_assert_int_eq(w.port, 20001);
    ck_assert_int_eq(worker_state_of(a), WORKER_CREATING);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 1);
    /* unclaim gives it back at the head. */
    ck_assert_int_eq(store_unclaim(&ts, a), 1);
    ck_assert_int_eq(worker_state_of(a), WORKER_IDLE);
    ck_assert_int_eq(raw_int("LPOS t:idle %s", a), 0);
    ck_assert_int_eq(store_unclaim(&ts, a), 0);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_str_eq(w.id, b);
    ck_assert_int_eq(store_claim(&ts, &w), 0);
}
END_TEST

/* Workers on an avoided host, or of a suspect node, go out only when no
 * other is idle; nothing is lost from P:idle on the way. */
START_TEST(test_claim_avoid)
{
    char a[WORKER_ID_MAX], b[WORKER_ID_MAX], none[WORKER_ID_MAX] = "999";
    const char *away[] = {"127.0.0.1"};
    struct worker_addr w;

    worker_idle(20001, a);
    worker_idle(20002, b);
    raw_int("HSET t:worker:%s host 10.0.0.2 node other", b);
    ck_assert_int_eq(store_claim_from(&ts, away, 1, &w), 1);
    ck_assert_str_eq(w.id, b);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 1);
    ck_assert_int_eq(worker_state_of(a), WORKER_IDLE);
    /* Nothing else idle, but another live node can start one: none. */
    raw_int("HSET t:pool:n3 heartbeat %lld state ok worker_host 10.0.0.3",
            (long long)now_wall_ms());
    raw_int("SADD t:nodes n3");
    ck_assert_int_eq(store_claim_from(&ts, away, 1, &w), 0);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 1);
    /* Nor a node on an avoided host. */
    raw_int("HSET t:pool:n3 worker_host 127.0.0.1");
    /* Nothing else idle, no other node: the avoided one rather than none. */
    ck_assert_int_eq(store_claim_from(&ts, away, 1, &w), 1);
    ck_assert_str_eq(w.id, a);
    ck_assert_int_eq(store_claim_from(&ts, away, 1, &w), 0);
    /* A suspect node's worker, first in line, waits for the others. */
    raw_int("SREM t:nodes n3");
    ck_assert_int_eq(store_unclaim(&ts, b), 1);
    ck_assert_int_eq(store_unclaim(&ts, a), 1);
    ck_assert_int_eq(store_node_suspect(&ts, a, 10000), 1);
    ck_assert_int_eq(raw_int("EXISTS t:suspect:" TEST_NODE), 1);
    ck_assert(raw_int("PTTL t:suspect:" TEST_NODE) > 0);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_str_eq(w.id, b);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_str_eq(w.id, a);
    ck_assert_int_eq(store_node_suspect(&ts, none, 10000), 0);
}
END_TEST

/* An id left in P:idle by a worker that moved on is skipped, and a worker
 * listed twice is handed out once. */
START_TEST(test_claim_stale_entries)
{
    char a[WORKER_ID_MAX], b[WORKER_ID_MAX];
    struct worker_addr w;

    worker_idle(20001, a);
    worker_idle(20002, b);
    raw_int("RPUSH t:idle %s", a);
    raw_int("LPUSH t:idle 999");
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_str_eq(w.id, a);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_str_eq(w.id, b);
    ck_assert_int_eq(store_claim(&ts, &w), 0);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 0);
}
END_TEST

#define RACE_WORKERS  40
#define RACE_CLAIMERS 4

/* Claims until nothing is idle and writes each id to fd. */
static void claim_all(int fd)
{
    struct store s;
    struct worker_addr w;
    int rc;

    store_init(&s, &tconf);
    while ((rc = store_claim(&s, &w)) == 1) {
        int id = (int)strtol(w.id, NULL, 10);

        if (write(fd, &id, sizeof(id)) != sizeof(id))
            _exit(2);
    }
    store_release(&s);
    _exit(rc == 0 ? 0 : 1);
}

/* Claimers racing each other get every idle worker exactly once. */
START_TEST(test_claim_race)
{
    char id[WORKER_ID_MAX];
    int fds[2], seen[RACE_WORKERS + 1] = {0}, got = 0, v, i, status;
    pid_t pids[RACE_CLAIMERS];

    for (i = 0; i < RACE_WORKERS; i++)
        worker_idle(20000 + i, id);
    ck_assert_int_eq(pipe(fds), 0);
    for (i = 0; i < RACE_CLAIMERS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            close(fds[0]);
            claim_all(fds[1]);
        }
    }
    close(fds[1]);
    while (read(fds[0], &v, sizeof(v)) == sizeof(v)) {
        ck_assert(v >= 1 && v <= RACE_WORKERS);
        ck_assert_msg(seen[v] == 0, "worker %d claimed twice", v);
        seen[v] = 1;
        got++;
    }
    close(fds[0]);
    for (i = 0; i < RACE_CLAIMERS; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_int_eq(got, RACE_WORKERS);
}
END_TEST

START_TEST(test_released)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;

    worker_busy(20001, "s1", 60000, id);
    ck_assert_int_eq(store_released(&ts, id), 0); /* busy */
    ck_assert_int_eq(store_end(&ts, "s1", &w), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_RELEASING);
    raw_int("HSET t:worker:%s fails 2", id);
    ck_assert_int_eq(store_released(&ts, id), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_IDLE);
    ck_assert_int_eq(raw_int("HGET t:worker:%s fails", id), 0);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 1);
    ck_assert_int_eq(store_released(&ts, id), 0);
}
END_TEST

START_TEST(test_probe)
{
    char id[WORKER_ID_MAX], busy[WORKER_ID_MAX], none[] = "999";

    worker_idle(20001, id);
    ck_assert_int_eq(store_probe(&ts, id, 0), 1);
    /* A failed idle worker is handed to no create until it is clean. */
    ck_assert_int_eq(worker_state_of(id), WORKER_RELEASING);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 0);
    ck_assert_int_eq(store_probe(&ts, id, 0), 2);
    ck_assert_int_eq(store_probe(&ts, id, 1), 0);
    ck_assert_int_eq(raw_int("HGET t:worker:%s fails", id), 0);
    ck_assert_int_eq(worker_state_of(id), WORKER_RELEASING);
    /* A busy worker only counts. */
    worker_busy(20002, "s1", 60000, busy);
    ck_assert_int_eq(store_probe(&ts, busy, 0), 1);
    ck_assert_int_eq(worker_state_of(busy), WORKER_BUSY);
    ck_assert_int_eq(store_probe(&ts, none, 0), 0);
}
END_TEST

START_TEST(test_hold)
{
    char id[WORKER_ID_MAX], busy[WORKER_ID_MAX];
    struct worker_addr w;
    int64_t since;

    worker_idle(20001, id);
    since = raw_int("HGET t:worker:%s since", id);
    ck_assert_int_eq(store_hold(&ts, id, WORKER_IDLE, since + 1), 0);
    ck_assert_int_eq(store_hold(&ts, id, WORKER_CREATING, since), 0);
    ck_assert_int_eq(store_hold(&ts, id, WORKER_IDLE, since), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_RELEASING);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 0);
    /* A create that got stuck. */
    ck_assert_int_eq(store_released(&ts, id), 1);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    since = raw_int("HGET t:worker:%s since", id);
    ck_assert_int_eq(store_hold(&ts, id, WORKER_CREATING, since), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_RELEASING);
    /* Never a busy one, even with its true since. */
    worker_busy(20002, "s1", 60000, busy);
    since = raw_int("HGET t:worker:%s since", busy);
    ck_assert_int_eq(store_hold(&ts, busy, WORKER_BUSY, since), 0);
}
END_TEST

START_TEST(test_retire)
{
    char id[WORKER_ID_MAX];
    struct worker_addr w;

    worker_idle(20001, id);
    ck_assert_int_eq(store_claim(&ts, &w), 1);
    ck_assert_int_eq(store_retire(&ts, id, "surplus"), 0); /* claimed */
    ck_assert_int_eq(store_unclaim(&ts, id), 1);
    ck_assert_int_eq(store_retire(&ts, id, "surplus"), 1);
    ck_assert_int_eq(worker_state_of(id), WORKER_DEAD);
    check_field(id, "reason", "surplus");
    ck_assert_int_eq(raw_int("LLEN t:idle"), 0);
    ck_assert_int_eq(store_claim(&ts, &w), 0);
}
END_TEST

START_TEST(test_mark_dead)
{
    char id[WORKER_ID_MAX], idle[WORKER_ID_MAX];
    enum worker_state prior = WORKER_STARTING;
    struct worker_addr w;

    worker_busy(20001, "s1", 60000, id);
    ck_assert_int_eq(store_mark_dead(&ts, id, "crashed", &prior), 1);
    ck_assert_int_eq(prior, WORKER_BUSY);
    ck_assert_int_eq(worker_state_of(id), WORKER_DEAD);
    check_field(id, "reason", "crashed");
    check_field(id, "session", "");
    /* Its session answers 404 at once. */
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
    ck_assert_int_eq(raw_int("ZCARD t:sessions"), 0);
    ck_assert_int_eq(raw_int("HGET t:stats sessions_lost"), 1);
    ck_assert_int_eq(store_touch(&ts, "s1", 60000, &w, NULL), 0);
    /* Dead is final. */
    ck_assert_int_eq(store_mark_dead(&ts, id, "again", NULL), 0);
    ck_assert_int_eq(store_mark_dead(&ts, "999", "unknown", NULL), 0);
    /* An idle one leaves P:idle. */
    worker_idle(20002, idle);
    ck_assert_int_eq(store_mark_dead(&ts, idle, "hang", &prior), 1);
    ck_assert_int_eq(prior, WORKER_IDLE);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 0);
}
END_TEST

/* end is store_mark_dead_of() or store_worker_gone(), id a worker of
 * TEST_NODE with pid 20001 in state st: another node's or another pid's
 * end changes nothing, the owner's does and reports st. */
static void check_owner_only(int (*end)(struct store *, const char *,
                                        const char *, long, const char *,
                                        enum worker_state *),
                             const char *id, enum worker_state st)
{
    enum worker_state prior = WORKER_DEAD;

    ck_assert_int_eq(end(&ts, id, "node-b", 0, "ended", &prior), 0);
    ck_assert_int_eq(end(&ts, id, TEST_NODE, 4242, "ended", &prior), 0);
    ck_assert_int_eq(worker_state_of(id), st);
    ck_assert_int_eq(end(&ts, id, TEST_NODE, 20001, "ended", &prior), 1);
    ck_assert_int_eq(prior, st);
}

START_TEST(test_mark_dead_of)
{
    char id[WORKER_ID_MAX];
    enum worker_state prior;

    worker_idle(20001, id); /* pid 20001 */
    check_owner_only(store_mark_dead_of, id, WORKER_IDLE);
    ck_assert_int_eq(worker_state_of(id), WORKER_DEAD);
    /* pid 0: any pid of the node. */
    worker_idle(20002, id);
    ck_assert_int_eq(
        store_mark_dead_of(&ts, id, TEST_NODE, 0, "exited", &prior), 1);
}
END_TEST

START_TEST(test_mark_dead_if)
{
    char id[WORKER_ID_MAX];
    enum worker_state prior;
    int64_t since;

    worker_busy(20001, "s1", 60000, id);
    since = raw_int("HGET t:worker:%s since", id);
    /* Each part of the snapshot must still hold. */
    ck_assert_int_eq(
        store_mark_dead_if(&ts, id, WORKER_IDLE, "s1", since, "stuck", &prior),
        0);
    ck_assert_int_eq(
        store_mark_dead_if(&ts, id, WORKER_BUSY, "s2", since, "stuck", &prior),
        0);
    ck_assert_int_eq(store_mark_dead_if(&ts, id, WORKER_BUSY, "s1", since - 1,
                                        "stuck", &prior),
                     0);
    ck_assert_int_eq(worker_state_of(id), WORKER_BUSY);
    ck_assert_int_eq(
        store_mark_dead_if(&ts, id, WORKER_BUSY, "s1", since, "stuck", &prior),
        1);
    ck_assert_int_eq(prior, WORKER_BUSY);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
    /* since_ms < 0: any time; "" for no session. */
    worker_idle(20002, id);
    ck_assert_int_eq(
        store_mark_dead_if(&ts, id, WORKER_IDLE, "", -1, "stuck", &prior), 1);
    ck_assert_int_eq(
        store_mark_dead_if(&ts, id, WORKER_DEAD, "", -1, "stuck", &prior), 0);
}
END_TEST

/* store_worker_gone as check_owner_only calls it; remembers served. */
static int gone_served = -1;
static int worker_gone(struct store *s, const char *id, const char *node,
                       long pid, const char *reason, enum worker_state *prior)
{
    return store_worker_gone(s, id, node, pid, reason, prior, &gone_served);
}

START_TEST(test_worker_gone)
{
    char id[WORKER_ID_MAX];
    enum worker_state prior;
    int served = -1;

    worker_busy(20001, "s1", 60000, id); /* pid 20001 */
    check_owner_only(worker_gone, id, WORKER_BUSY);
    /* A session was bound to it: it served. */
    ck_assert_int_eq(gone_served, 1);
    ck_assert_int_eq(raw_int("EXISTS t:worker:%s", id), 0);
    ck_assert_int_eq(raw_int("SCARD t:workers"), 0);
    ck_assert_int_eq(raw_int("SCARD t:node:" TEST_NODE), 0);
    ck_assert_int_eq(raw_int("EXISTS t:session:s1"), 0);
    ck_assert_int_eq(raw_int("HGET t:stats sessions_lost"), 1);
    /* A record already gone: only the sets are cleaned. */
    raw_int("SADD t:workers 77");
    raw_int("SADD t:node:" TEST_NODE " 77");
    ck_assert_int_eq(store_worker_gone(&ts, "77", TEST_NODE, 0, "gone", NULL,
                                       &served),
                     0);
    ck_assert_int_eq(served, 0);
    ck_assert_int_eq(raw_int("SCARD t:workers"), 0);
    ck_assert_int_eq(raw_int("SCARD t:node:" TEST_NODE), 0);
    /* Idle, and claimed for a create that failed: it never served. */
    worker_idle(20002, id);
    ck_assert_int_eq(store_worker_gone(&ts, id, TEST_NODE, 20002, "gone",
                                       &prior, &served),
                     1);
    ck_assert_int_eq(prior, WORKER_IDLE);
    ck_assert_int_eq(served, 0);
    worker_idle(20003, id);
    ck_assert_int_eq(raw_int("LREM t:idle 0 %s", id), 1);
    ck_assert_int_ge(raw_int("LPUSH t:idle %s", id), 1);
    {
        struct worker_addr a;

        ck_assert_int_eq(store_claim(&ts, &a), 1);
    }
    ck_assert_int_eq(store_worker_gone(&ts, id, TEST_NODE, 20003, "gone",
                                       &prior, &served),
                     1);
    ck_assert_int_eq(prior, WORKER_CREATING);
    ck_assert_int_eq(served, 0);
}
END_TEST

Suite *store_workers_suite(void)
{
    Suite *s = suite_create("store_workers");
    TCase *tc = tcase_create("transitions");

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_add_ids);
    tcase_add_test(tc, test_ready);
    tcase_add_test(tc, test_claim_unclaim);
    tcase_add_test(tc, test_claim_stale_entries);
    tcase_add_test(tc, test_claim_avoid);
    tcase_add_test(tc, test_claim_race);
    tcase_add_test(tc, test_released);
    tcase_add_test(tc, test_probe);
    tcase_add_test(tc, test_hold);
    tcase_add_test(tc, test_retire);
    tcase_add_test(tc, test_mark_dead);
    tcase_add_test(tc, test_mark_dead_of);
    tcase_add_test(tc, test_mark_dead_if);
    tcase_add_test(tc, test_worker_gone);
    suite_add_tcase(s, tc);
    return s;
}
