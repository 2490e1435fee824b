/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_metrics.c - counting and the Prometheus rendering: pack output,
 * cumulative histogram buckets, one TYPE line per family, label escaping;
 * and property tests of the parsers that face clients: random input never
 * crashes them and what jsonx_validate accepts, json-c parses.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "jsonx.h"
#include "metrics.h"
#include "router.h"
#include "store.h"

/* The counters of P:stats as store_stats reads them, from name/value
 * string pairs. */
struct fake_stats {
    struct stat_rec recs[32];
    size_t n;
};

static void fake_init(struct fake_stats *f, const char *const *kv)
{
    memset(f, 0, sizeof(*f));
    for (; kv[0] != NULL && f->n < sizeof(f->recs) / sizeof(f->recs[0]);
         kv += 2) {
        f->recs[f->n].name = kv[0];
        f->recs[f->n].value = strtoll(kv[1], NULL, 10);
        f->n++;
    }
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    const char *p = text;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, prefix, len) == 0)
            n++;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return n;
}

START_TEST(test_pack)
{
    struct metrics m;
    struct buf b;

    memset(&m, 0, sizeof(m));
    buf_init(&b, 4096);
    metrics_observe_request(&m, ROUTE_SESSION_GET, 3);
    metrics_observe_request(&m, ROUTE_SESSION_GET, 700);
    metrics_observe_request(&m, ROUTE_SESSION_GET, 99999);
    metrics_observe_wait(&m, 20);
    metrics_create_failure(&m, CREATE_FAIL_NO_WORKER);
    ck_assert_int_eq(metrics_pack(&m, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "lat:session_get:0 1\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "lat:session_get:7 1\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "lat:session_get:11 1\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "lat_sum:session_get 100702\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "lat_count:session_get 3\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "wait:2 1\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "create_failures:no_worker 1\n"));
    ck_assert_int_eq(m.dirty, 0);
    buf_reset(&b);
    ck_assert_int_eq(metrics_pack(&m, &b), 0);
    ck_assert_uint_eq(b.len, 0);
    buf_release(&b);
}
END_TEST

START_TEST(test_render)
{
    static const char *const names[] = {"idle", "busy"};
    const char *const kv[] = {
        "sessions_created",
        "5",
        "repairs:hung",
        "2",
        "lat:session_get:0",
        "1",
        "create_failures:no_worker",
        "3",
        "lat:session_get:7",
        "2",
        "repairs:no_process",
        "1",
        "lat_sum:session_get",
        "1500",
        "lat_count:session_get",
        "3",
        "lat:health:0",
        "4",
        "lat_count:health",
        "4",
        "lat_sum:health",
        "4",
        "wait:1",
        "2",
        "wait_sum",
        "14",
        "wait_count",
        "2",
        "repairs:bad\"label\\",
        "1",
        "worker_exits:crashed",
        "4",
        "reaper_node_passes:vm-a",
        "9",
        NULL,
    };
    const struct metrics_node nodes[] = {
        {"vm-a", "degraded", 1500, 0},
        {"vm\"b", "ok", -1, 1},
        {"vmc", "stale", 9000, 0},
    };
    struct metrics_gauges g;
    struct fake_stats f;
    struct buf b;

    memset(&g, 0, sizeof(g));
    g.nstates = 2;
    g.state_names = names;
    g.workers[0] = 3;
    g.sessions = 7;
    g.nodes = nodes;
    g.nnodes = 3;
    fake_init(&f, kv);
    buf_init(&b, 65536);
    ck_assert_int_eq(metrics_render(&g, f.recs, f.n, &b), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "steel_workers{state=\"idle\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "steel_sessions 7\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "steel_sessions_created_total 5\n"));
    /* Buckets are cumulative and end at +Inf with the count. */
    ck_assert_ptr_nonnull(strstr(
        b.data, "steel_request_duration_seconds_bucket{route=\"session_get\","
                "le=\"0.005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        b.data, "steel_request_duration_seconds_bucket{route=\"session_get\","
                "le=\"1\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(
        b.data, "steel_request_duration_seconds_bucket{route=\"session_get\","
                "le=\"+Inf\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(
        b.data,
        "steel_request_duration_seconds_sum{route=\"session_get\"} 1.500\n"));
    ck_assert_ptr_nonnull(strstr(
        b.data, "steel_request_duration_seconds_count{route=\"health\"} 4\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_create_wait_seconds_bucket{le=\"+Inf\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_create_wait_seconds_count 2\n"));
    ck_assert_ptr_nonnull(strstr(
        b.data, "steel_create_failures_total{reason=\"no_worker\"} 3\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_repairs_total{kind=\"hung\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_repairs_total{kind=\"badlabel\"} 1\n"));
    /* Per node: every pool state, the current one 1; the heartbeat's
     * age only when known; the reaper's passes labelled by node. */
    ck_assert_ptr_nonnull(strstr(
        b.data, "steel_pool_state{node=\"vm-a\",state=\"degraded\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_pool_state{node=\"vm-a\",state=\"ok\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_pool_state{node=\"vmb\",state=\"ok\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        b.data, "steel_spawner_heartbeat_age_seconds{node=\"vm-a\"} 1.500\n"));
    ck_assert_ptr_null(
        strstr(b.data, "steel_spawner_heartbeat_age_seconds{node=\"vmb\"}"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_worker_exits_total{kind=\"crashed\"} 4\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_reaper_node_passes_total{node=\"vm-a\"} 9\n"));
    /* A refused claim of a node's name: steel_node_conflict 1. */
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_node_conflict{node=\"vmb\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_node_conflict{node=\"vm-a\"} 0\n"));
    /* A node is up unless stale or gone. */
    ck_assert_ptr_nonnull(strstr(b.data, "steel_node_up{node=\"vm-a\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(b.data, "steel_pool_state{node=\"vm-a\",state=\"stale\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "steel_node_up{node=\"vmc\"} 0\n"));
    ck_assert_int_eq(count_lines(b.data, "# TYPE steel_pool_state "), 1);
    /* One TYPE line per family. */
    ck_assert_int_eq(count_lines(b.data, "# TYPE steel_repairs_total "), 1);
    ck_assert_int_eq(
        count_lines(b.data, "# TYPE steel_request_duration_seconds "), 1);
    ck_assert_int_eq(count_lines(b.data, "# TYPE steel_create_wait_seconds "),
                     1);
    buf_release(&b);
}
END_TEST

/* A small deterministic generator: the tests are the same every run. */
static unsigned long prop_state;

static unsigned prop_next(void)
{
    prop_state = prop_state * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned)(prop_state >> 33);
}

START_TEST(test_json_property)
{
    static const char alphabet[] = "{}[]\":,0123456789.-+eEtrufalsn \\\t\n"
                                   "ab\x01\xc3\xa9\xff";
    char doc[64];
    int i, accepted = 0;

    prop_state = 42;
    for (i = 0; i < 200000; i++) {
        size_t len = prop_next() % sizeof(doc), j;
        enum jsonx_type t;
        const char *why = NULL;

        for (j = 0; j < len; j++)
            doc[j] = alphabet[prop_next() % (sizeof(alphabet) - 1)];
        if (jsonx_validate(doc, len, &t, &why) == 0) {
            struct json_object *o = jsonx_parse(doc, len, &why);

            ck_assert_msg(o != NULL, "validated but json-c refused: %.*s",
                          (int)len, doc);
            json_object_put(o);
            accepted++;
        } else {
            ck_assert_ptr_nonnull(why);
        }
    }
    /* The generator must reach both outcomes to prove anything. */
    ck_assert_int_gt(accepted, 100);
}
END_TEST

START_TEST(test_route_property)
{
    static const char alphabet[] = "/sessionhealthX%.?=&-_~ \r\n\x7f\x80";
    char uri[80];
    int i, routed = 0;

    prop_state = 7;
    for (i = 0; i < 200000; i++) {
        size_t len = prop_next() % (sizeof(uri) - 11), j;
        struct route_match m;

        memcpy(uri, "/sessions/", 10);
        for (j = 10; j < 10 + len; j++)
            uri[j] = alphabet[prop_next() % (sizeof(alphabet) - 1)];
        uri[10 + len] = '\0';
        if (route_find("GET", uri, &m) == ROUTE_OK &&
            m.id == ROUTE_SESSION_GET) {
            ck_assert(session_id_valid(m.param, strlen(m.param)));
            routed++;
        }
    }
    ck_assert_int_gt(routed, 10);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *normal = tcase_create("normal");
    TCase *props = tcase_create("properties");

    tcase_add_test(normal, test_pack);
    tcase_add_test(normal, test_render);
    tcase_add_test(props, test_json_property);
    tcase_add_test(props, test_route_property);
    tcase_set_timeout(props, 60);
    suite_add_tcase(s, normal);
    suite_add_tcase(s, props);
    return s;
}
