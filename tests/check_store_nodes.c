/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_store_nodes.c - the nodes that share one Redis (store_nodes.c and
 * what the other scripts do with heartbeats): claims skip a stale node's
 * idle workers without losing them, a node_name is registered by one host
 * and one spawner, /status's node states, a gone node removed exactly
 * once, and waiting creates shared out by node.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_store.h"
#include "util.h"

/* Writes a heartbeat age_ms old for node, as its spawner would. */
static void heartbeat(const char *node, long age_ms, const char *state)
{
    long long now = raw_int("EVAL %s 0",
                            "local t = redis.call('TIME') "
                            "return t[1] * 1000 + math.floor(t[2] / 1000)");

    raw_int("HSET t:pool:%s heartbeat %lld state %s hostid h-%s "
            "worker_host 10.0.0.%d workers 2 idle 1 starting 0 idle_target 1 "
            "max_workers 10",
            node, now - age_ms, state, node, (int)strlen(node));
    raw_int("SADD t:nodes %s", node);
}

/* Registers an idle worker of node at port; its id goes to id. */
static void idle_of(const char *node, int port, char *id)
{
    ck_assert_int_eq(
        store_worker_add(&ts, node, "127.0.0.1", port, port, 0, 0, 0, id), 0);
    ck_assert_int_eq(store_worker_ready(&ts, id), 1);
}

START_TEST(test_claim_skips_stale)
{
    char dead1[WORKER_ID_MAX], dead2[WORKER_ID_MAX], live[WORKER_ID_MAX];
    char nobeat[WORKER_ID_MAX];
    struct worker_addr a;

    ts.node_stale_ms = 3000;
    heartbeat("dead", 10000, "ok");
    heartbeat("live", 100, "ok");
    idle_of("dead", 20001, dead1);
    idle_of("dead", 20002, dead2);
    idle_of("live", 20003, live);
    /* The stale node's two come first in P:idle: both are put aside. */
    ck_assert_int_eq(store_claim(&ts, &a), 1);
    ck_assert_str_eq(a.id, live);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 2);
    ck_assert_int_eq(worker_state_of(dead1), WORKER_IDLE);
    ck_assert_int_eq(worker_state_of(dead2), WORKER_IDLE);
    ck_assert_int_eq(store_claim(&ts, &a), 0);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 2);
    /* A node with no heartbeat at all is not judged. */
    idle_of("unknown", 20004, nobeat);
    ck_assert_int_eq(store_claim(&ts, &a), 1);
    ck_assert_str_eq(a.id, nobeat);
    /* A stopped spawner's workers are not handed out either. */
    heartbeat("dead", 100, "stopped");
    ck_assert_int_eq(store_claim(&ts, &a), 0);
    /* Nor a draining node's (node_drain), though its heartbeat is fresh. */
    heartbeat("dead", 100, "draining");
    ck_assert_int_eq(store_claim(&ts, &a), 0);
    ck_assert_int_eq(raw_int("LLEN t:idle"), 2);
    /* The node comes back: its workers serve again. */
    heartbeat("dead", 100, "ok");
    ck_assert_int_eq(store_claim(&ts, &a), 1);
    ck_assert_int_eq(store_claim(&ts, &a), 1);
    ck_assert_int_eq(store_claim(&ts, &a), 0);
}
END_TEST

/* store_node_register with a claim of host, pid, token and previous
 * token. */
static int reg(const char *host, long pid, const char *tok, const char *prev,
               int force, struct node_rec *other)
{
    struct node_claim c = {host, "10.0.0.1", pid, tok, prev};

    return store_node_register(&ts, &c, force, other);
}

/* Spawners before instance tokens ("" token): judged by host and pid. */
START_TEST(test_register)
{
    struct node_rec other;

    ts.node_stale_ms = 3000;
    ck_assert_int_eq(reg("hostA", 100, "", "", 0, &other), 1);
    ck_assert_int_eq(raw_int("SISMEMBER t:nodes " TEST_NODE), 1);
    /* The same spawner again (a re-registration): fine. */
    ck_assert_int_eq(reg("hostA", 100, "", "", 0, &other), 1);
    /* Another host while the heartbeat is fresh: refused, even forced. */
    ck_assert_int_eq(reg("hostB", 7, "", "", 1, &other), STORE_NODE_OTHER_HOST);
    ck_assert_str_eq(other.hostid, "hostA");
    ck_assert_int_eq(other.pid, 100);
    ck_assert_int_ge(other.age_ms, 0);
    /* Another pid of this host: refused unless forced (its spawner is
     * gone, which the caller checks). */
    ck_assert_int_eq(reg("hostA", 101, "", "", 0, &other),
                     STORE_NODE_OTHER_PID);
    ck_assert_int_eq(other.pid, 100);
    ck_assert_int_eq(reg("hostA", 101, "", "", 1, &other), 1);
    /* A stale heartbeat, or a stopped spawner's, is taken over. */
    raw_int("HSET t:pool:" TEST_NODE " heartbeat 1");
    ck_assert_int_eq(reg("hostB", 7, "", "", 0, &other), 1);
    raw_int("HSET t:pool:" TEST_NODE " state stopped");
    ck_assert_int_eq(reg("hostC", 8, "", "", 0, &other), 1);
}
END_TEST

#define TOK_C "cccccccccccccccccccccccccccccccc"
#define TOK_D "dddddddddddddddddddddddddddddddd"
#define TOK_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

/* Instance tokens: a clone (same host id, same pid, its own token) is
 * refused whatever it forces, and recorded as a conflict; the next
 * instance of this host takes the node back with the previous token (its
 * pid checked by the caller: force); heartbeats of a replaced instance
 * write nothing. */
START_TEST(test_register_tokens)
{
    struct node_rec other;
    const char *f[] = {"pid", "3"};

    ts.node_stale_ms = 3000;
    ck_assert_int_eq(reg("hostC", 3, TOK_C, "", 0, &other), 1);
    ck_assert_int_eq(reg("hostC", 3, TOK_C, "", 0, &other), 1);
    /* The clone: same host id, same pid, forced or not. */
    ck_assert_int_eq(reg("hostC", 3, TOK_D, "", 0, &other), STORE_NODE_TAKEN);
    ck_assert_int_eq(reg("hostC", 3, TOK_D, "", 1, &other), STORE_NODE_TAKEN);
    ck_assert_str_eq(other.hostid, "hostC");
    ck_assert_int_eq(other.pid, 3);
    ck_assert_int_eq(raw_int("HEXISTS t:pool:" TEST_NODE " conflict_at"), 1);
    {
        struct node_rec *n = NULL;
        size_t count = 0;

        ck_assert_int_eq(store_nodes(&ts, &n, &count), 0);
        ck_assert_uint_eq(count, 1);
        ck_assert_int_ge(n[0].conflict_age_ms, 0);
        ck_assert_str_eq(n[0].conflict_hostid, "hostC");
        ck_assert_int_eq(n[0].conflict_pid, 3);
        free(n);
    }
    /* Another host, even naming the held token as its previous one. */
    ck_assert_int_eq(reg("hostD", 9, TOK_D, TOK_C, 1, &other),
                     STORE_NODE_TAKEN);
    /* This host's next instance: the previous token, another pid. */
    ck_assert_int_eq(reg("hostC", 4, TOK_E, TOK_C, 0, &other),
                     STORE_NODE_OTHER_PID);
    ck_assert_int_eq(reg("hostC", 4, TOK_E, TOK_C, 1, &other), 1);
    /* The replaced instance's heartbeat writes nothing. */
    snprintf(ts.node_token, sizeof(ts.node_token), "%s", TOK_C);
    ck_assert_int_eq(store_pool_report(&ts, TEST_NODE, "ok", "", 2, f),
                     STORE_NODE_TAKEN);
    snprintf(ts.node_token, sizeof(ts.node_token), "%s", TOK_E);
    ck_assert_int_eq(store_pool_report(&ts, TEST_NODE, "ok", "", 2, f), 1);
    ts.node_token[0] = '\0';
    /* Stale: anyone takes it. */
    raw_int("HSET t:pool:" TEST_NODE " heartbeat 1");
    ck_assert_int_eq(reg("hostD", 9, TOK_D, "", 0, &other), 1);
}
END_TEST

START_TEST(test_nodes_states)
{
    struct node_rec *n = NULL;
    size_t count = 0;

    ts.node_stale_ms = 3000;
    ts.node_gone_ms = 30000;
    heartbeat("a", 100, "ok");
    heartbeat("b", 100, "degraded");
    heartbeat("c", 5000, "ok");
    heartbeat("d", 40000, "ok");
    heartbeat("e", 40000, "stopped");
    raw_int("SADD t:nodes f"); /* no record, no workers: dropped */
    ck_assert_int_eq(store_nodes(&ts, &n, &count), 0);
    ck_assert_uint_eq(count, 5);
    ck_assert_str_eq(n[0].name, "a");
    ck_assert_str_eq(n[0].state, "ok");
    ck_assert_str_eq(n[0].worker_host, "10.0.0.1");
    ck_assert_str_eq(n[0].hostid, "h-a");
    ck_assert_int_eq(n[0].conflict_age_ms, -1);
    ck_assert_int_eq(n[0].max_workers, 10);
    ck_assert_int_eq(n[0].workers, 2);
    ck_assert_int_ge(n[0].age_ms, 100);
    ck_assert_int_lt(n[0].age_ms, 3000);
    ck_assert_str_eq(n[1].state, "degraded");
    ck_assert_str_eq(n[2].state, "stale");
    ck_assert_str_eq(n[3].state, "gone");
    ck_assert_str_eq(n[4].state, "stopped");
    ck_assert_int_eq(raw_int("SISMEMBER t:nodes f"), 0);
    free(n);
}
END_TEST

START_TEST(test_reap_gone)
{
    char w1[WORKER_ID_MAX], w2[WORKER_ID_MAX], w3[WORKER_ID_MAX];
    char mine[WORKER_ID_MAX];
    struct node_reaped out[4];
    struct worker_addr a;
    struct store other;

    ts.node_stale_ms = 3000;
    ts.node_gone_ms = 30000;
    heartbeat("gone", 40000, "ok");
    heartbeat("stale", 5000, "ok");
    heartbeat(TEST_NODE, 40000, "ok"); /* never removes itself */
    idle_of("gone", 20001, w1);
    idle_of("gone", 20002, w2);
    idle_of("stale", 20003, w3);
    idle_of(TEST_NODE, 20004, mine);
    /* w2 holds a live session. */
    ck_assert_int_eq(raw_int("LREM t:idle 0 %s", w2), 1);
    ck_assert_int_ge(raw_int("LPUSH t:idle %s", w2), 1);
    ts.node_stale_ms = 100000; /* let the claim take it */
    ck_assert_int_eq(store_claim(&ts, &a), 1);
    ck_assert_str_eq(a.id, w2);
    ck_assert_int_eq(store_bind(&ts, w2, "s-gone", 60000, 0), 1);
    ts.node_stale_ms = 3000;

    /* Two reapers race: the first removes the node, the second finds
     * nothing. */
    ck_assert_int_eq(store_init(&other, &tconf), 0);
    snprintf(other.node, sizeof(other.node), "stale");
    other.node_gone_ms = 30000;
    ck_assert_int_eq(store_node_reap(&ts, out, 4), 1);
    ck_assert_int_eq(raw_int("EXISTS t:pool:" TEST_NODE), 1);
    heartbeat(TEST_NODE, 100, "ok");
    ck_assert_int_eq(store_node_reap(&other, out + 1, 3), 0);
    store_release(&other);
    ck_assert_str_eq(out[0].name, "gone");
    ck_assert_int_eq(out[0].workers, 2);
    ck_assert_int_eq(out[0].sessions, 1);
    ck_assert_int_ge(out[0].age_ms, 40000);
    ck_assert_int_eq(worker_state_of(w1), -1);
    ck_assert_int_eq(worker_state_of(w2), -1);
    ck_assert_int_eq(raw_int("EXISTS t:session:s-gone"), 0);
    ck_assert_int_eq(raw_int("ZSCORE t:sessions s-gone"), -1);
    ck_assert_int_eq(raw_int("EXISTS t:pool:gone t:node:gone"), 0);
    ck_assert_int_eq(raw_int("SISMEMBER t:nodes gone"), 0);
    ck_assert_int_eq(raw_int("SISMEMBER t:workers %s", w1), 0);
    ck_assert_int_eq(raw_int("LREM t:idle 0 %s", w1), 0);
    ck_assert_int_eq(raw_int("HGET t:stats sessions_lost"), 1);
    ck_assert_int_eq(raw_int("HGET t:stats repairs:node-gone"), 1);
    /* The stale node and this one keep everything. */
    ck_assert_int_eq(worker_state_of(w3), WORKER_IDLE);
    ck_assert_int_eq(worker_state_of(mine), WORKER_IDLE);
    ck_assert_int_eq(raw_int("EXISTS t:pool:stale"), 1);
}
END_TEST

START_TEST(test_demand_shared)
{
    struct pool_view v;
    struct store b;
    int i;

    ts.node_stale_ms = 3000;
    heartbeat(TEST_NODE, 100, "ok");
    heartbeat("node-b", 100, "ok"); /* 2 workers of 10: room 8 */
    heartbeat("node-z", 10000, "ok"); /* stale: no room */
    /* Six creates queued by TEST_NODE's handlers, three by node-z's. */
    for (i = 0; i < 6; i++) {
        char tok[16];

        snprintf(tok, sizeof(tok), "a%d", i);
        ck_assert_int_eq(store_wait_begin(&ts, tok, 60000, 100), 1);
    }
    ck_assert_int_eq(store_init(&b, &tconf), 0);
    snprintf(b.node, sizeof(b.node), "node-z");
    for (i = 0; i < 3; i++) {
        char tok[16];

        snprintf(tok, sizeof(tok), "z%d", i);
        ck_assert_int_eq(store_wait_begin(&b, tok, 60000, 100), 1);
    }
    store_release(&b);
    /* Room 8 for its own 6: TEST_NODE starts those and 2 of the stale
     * node's 3 (nodes in name order), node-b the last; together 9 for 9
     * waiting. */
    ck_assert_int_eq(store_pool_view(&ts, TEST_NODE, 8, &v), 0);
    ck_assert_int_eq(v.waiting, 8);
    ck_assert_int_eq(v.waiting_all, 9);
    store_pool_view_release(&v);
    ck_assert_int_eq(store_pool_view(&ts, "node-b", 8, &v), 0);
    ck_assert_int_eq(v.waiting, 1);
    store_pool_view_release(&v);
    /* TEST_NODE has room for 4: the other 2 go to node-b too (node-b's
     * view reads TEST_NODE's room from its report: 10 - 8). */
    raw_int("HSET t:pool:" TEST_NODE " workers 8 max_workers 10");
    ck_assert_int_eq(store_pool_view(&ts, TEST_NODE, 2, &v), 0);
    ck_assert_int_eq(v.waiting, 2);
    store_pool_view_release(&v);
    ck_assert_int_eq(store_pool_view(&ts, "node-b", 8, &v), 0);
    ck_assert_int_eq(v.waiting, 7);
    store_pool_view_release(&v);
    /* The stale node itself is given nothing of others'. */
    ck_assert_int_eq(store_pool_view(&ts, "node-z", 0, &v), 0);
    ck_assert_int_eq(v.waiting, 0);
    store_pool_view_release(&v);
    /* store_wait_end removes this node's member. */
    ck_assert_int_eq(store_wait_end(&ts, "a0"), 0);
    ck_assert_int_eq(store_waiting(&ts), 8);
}
END_TEST

/* Without a waiting create a view reads no other node's report: at rest
 * it costs the same whatever the cluster's size. */
START_TEST(test_view_at_rest_reads_no_other_node)
{
    struct pool_view v;
    char ver[32], info[16384], *p;
    long before, after;

    heartbeat("node-b", 100, "ok");
    heartbeat("node-c", 100, "ok");
    ck_assert_int_eq(store_pool_view(&ts, TEST_NODE, 8, &v), 0);
    snprintf(ver, sizeof(ver), "%s", v.ver);
    store_pool_view_release(&v);
    raw_str(info, sizeof(info), "INFO commandstats");
    p = strstr(info, "cmdstat_hmget:calls=");
    before = p != NULL ? strtol(p + 20, NULL, 10) : 0;
    ck_assert_int_eq(store_pool_view_since(&ts, TEST_NODE, 8, ver, &v), 0);
    ck_assert_int_eq(v.full, 0);
    ck_assert_int_eq(v.waiting, 0);
    store_pool_view_release(&v);
    raw_str(info, sizeof(info), "INFO commandstats");
    p = strstr(info, "cmdstat_hmget:calls=");
    after = p != NULL ? strtol(p + 20, NULL, 10) : 0;
    ck_assert_int_eq(after, before);
    /* With one waiting, the others' reports are read again. */
    ck_assert_int_eq(store_wait_begin(&ts, "a0", 60000, 100), 1);
    ck_assert_int_eq(store_pool_view_since(&ts, TEST_NODE, 8, ver, &v), 0);
    ck_assert_int_eq(v.waiting, 1);
    store_pool_view_release(&v);
    raw_str(info, sizeof(info), "INFO commandstats");
    p = strstr(info, "cmdstat_hmget:calls=");
    ck_assert_int_ge(p != NULL ? strtol(p + 20, NULL, 10) : 0, after + 2);
}
END_TEST

Suite *store_nodes_suite(void)
{
    Suite *s = suite_create("store_nodes");
    TCase *tc = tcase_create("nodes");

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_add_test(tc, test_claim_skips_stale);
    tcase_add_test(tc, test_register);
    tcase_add_test(tc, test_register_tokens);
    tcase_add_test(tc, test_nodes_states);
    tcase_add_test(tc, test_reap_gone);
    tcase_add_test(tc, test_demand_shared);
    tcase_add_test(tc, test_view_at_rest_reads_no_other_node);
    suite_add_tcase(s, tc);
    return s;
}
