/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_wcall.c - the verdict of a worker call (common/wcall.h) from the
 * transport's result, the HTTP status and the body: buffers only, one
 * table of cases per kind of call, and the address check that sends
 * nothing.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "conf.h"
#include "wcall.h"

struct jcase {
    enum wcall_kind kind;
    const char *sid; /* asked for (GET) */
    enum whttp_result res;
    long status;
    const char *body;
    int truncated;
    enum wcall_verdict want;
};

#define SESSION "{\"id\": \"s1\", \"created_at\": 1, \"data\": {}}"
#define FREE    "{\"available\": true, \"session_id\": null}"
#define HOLDS   "{\"available\": false, \"session_id\": \"s1\"}"

static const struct jcase cases[] = {
    /* The transport, the same for every kind. */
    {WCALL_GET, "s1", WHTTP_REFUSED, 0, "", 0, WCALL_REFUSED},
    {WCALL_GET, "s1", WHTTP_CONNECT_TIMEOUT, 0, "", 0, WCALL_UNREACHABLE},
    {WCALL_GET, "s1", WHTTP_BROKEN, 0, "", 0, WCALL_UNREACHABLE},
    {WCALL_GET, "s1", WHTTP_TIMEOUT, 0, "", 0, WCALL_TIMED_OUT},
    {WCALL_GET, "s1", WHTTP_TOO_BIG, 0, "", 0, WCALL_GARBAGE},
    {WCALL_GET, "s1", WHTTP_ERROR, 0, "", 0, WCALL_GARBAGE},
    {WCALL_CREATE, NULL, WHTTP_TIMEOUT, 0, "", 0, WCALL_TIMED_OUT},
    {WCALL_DELETE, "s1", WHTTP_TIMEOUT, 0, "", 0, WCALL_TIMED_OUT},
    {WCALL_STATUS, NULL, WHTTP_TIMEOUT, 0, "", 0, WCALL_TIMED_OUT},
    {WCALL_CREATE, NULL, WHTTP_BROKEN, 0, "", 0, WCALL_UNREACHABLE},
    {WCALL_DELETE, "s1", WHTTP_REFUSED, 0, "", 0, WCALL_REFUSED},
    /* GET /sessions/<id> */
    {WCALL_GET, "s1", WHTTP_OK, 200, SESSION, 0, WCALL_OK},
    {WCALL_GET, "s2", WHTTP_OK, 200, SESSION, 0, WCALL_GARBAGE},
    {WCALL_GET, "s1", WHTTP_OK, 404, "", 0, WCALL_NOT_FOUND},
    {WCALL_GET, "s1", WHTTP_OK, 500, SESSION, 0, WCALL_GARBAGE},
    {WCALL_GET, "s1", WHTTP_OK, 201, SESSION, 0, WCALL_GARBAGE},
    {WCALL_GET, "s1", WHTTP_OK, 200, "{\"id\": \"s1\", \"da", 0, WCALL_GARBAGE},
    {WCALL_GET, "s1", WHTTP_OK, 200, "[1]", 0, WCALL_GARBAGE},
    {WCALL_GET, "s1", WHTTP_OK, 200, "{\"id\": 7}", 0, WCALL_GARBAGE},
    {WCALL_GET, "s1", WHTTP_OK, 200, SESSION, 1, WCALL_GARBAGE},
    /* POST /sessions */
    {WCALL_CREATE, NULL, WHTTP_OK, 201, SESSION, 0, WCALL_OK},
    {WCALL_CREATE, NULL, WHTTP_OK, 200, SESSION, 0, WCALL_OK},
    {WCALL_CREATE, NULL, WHTTP_OK, 404, SESSION, 0, WCALL_GARBAGE},
    {WCALL_CREATE, NULL, WHTTP_OK, 500, "{\"error\": 1}", 0, WCALL_GARBAGE},
    {WCALL_CREATE, NULL, WHTTP_OK, 201, "ok", 0, WCALL_GARBAGE},
    {WCALL_CREATE, NULL, WHTTP_OK, 201, "{\"data\": {}}", 0, WCALL_GARBAGE},
    /* DELETE /sessions/<id> */
    {WCALL_DELETE, "s1", WHTTP_OK, 204, "", 0, WCALL_OK},
    {WCALL_DELETE, "s1", WHTTP_OK, 200, "whatever", 0, WCALL_OK},
    {WCALL_DELETE, "s1", WHTTP_OK, 404, "", 0, WCALL_NOT_FOUND},
    {WCALL_DELETE, "s1", WHTTP_OK, 500, "", 0, WCALL_GARBAGE},
    {WCALL_DELETE, "s1", WHTTP_OK, 302, "", 0, WCALL_GARBAGE},
    /* GET /status */
    {WCALL_STATUS, NULL, WHTTP_OK, 200, FREE, 0, WCALL_OK},
    {WCALL_STATUS, NULL, WHTTP_OK, 200, HOLDS, 0, WCALL_OK},
    {WCALL_STATUS, NULL, WHTTP_OK, 404, FREE, 0, WCALL_GARBAGE},
    {WCALL_STATUS, NULL, WHTTP_OK, 200, "ok", 0, WCALL_GARBAGE},
    {WCALL_STATUS, NULL, WHTTP_OK, 200, "{\"available\": 1}", 0, WCALL_GARBAGE},
    {WCALL_STATUS, NULL, WHTTP_OK, 200, FREE, 1, WCALL_GARBAGE},
};

START_TEST(test_judge_table)
{
    const struct jcase *k = &cases[_i];
    struct wcall_reply rep;
    enum wcall_verdict v;

    v = wcall_judge(k->kind, k->sid, k->res, k->status, k->body,
                    strlen(k->body), k->truncated, &rep);
    ck_assert_msg(v == k->want, "case %d: %s, want %s", _i,
                  wcall_verdict_name(v), wcall_verdict_name(k->want));
    if (v == WCALL_OK)
        ck_assert_str_eq(rep.why, "");
    if (v == WCALL_GARBAGE || v == WCALL_TIMED_OUT)
        ck_assert(rep.why[0] != '\0');
    ck_assert_int_eq(wcall_failed(v), v != WCALL_OK && v != WCALL_NOT_FOUND);
}
END_TEST

START_TEST(test_judge_fields)
{
    struct wcall_reply rep;

    ck_assert_int_eq(wcall_judge(WCALL_CREATE, NULL, WHTTP_OK, 201, SESSION,
                                 strlen(SESSION), 0, &rep),
                     WCALL_OK);
    ck_assert_str_eq(rep.sid, "s1");
    ck_assert_int_eq(rep.status, 201);
    ck_assert_ptr_eq(rep.body, SESSION);
    ck_assert_uint_eq(rep.len, strlen(SESSION));
    ck_assert_int_eq(wcall_judge(WCALL_STATUS, NULL, WHTTP_OK, 200, HOLDS,
                                 strlen(HOLDS), 0, &rep),
                     WCALL_OK);
    ck_assert_str_eq(rep.sid, "s1");
    ck_assert_int_eq(rep.available, 0);
    ck_assert_int_eq(wcall_judge(WCALL_STATUS, NULL, WHTTP_OK, 200, FREE,
                                 strlen(FREE), 0, &rep),
                     WCALL_OK);
    ck_assert_str_eq(rep.sid, "");
    ck_assert_int_eq(rep.available, 1);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(wcall_verdict_name(WCALL_OK), "ok");
    ck_assert_str_eq(wcall_verdict_name(WCALL_NOT_FOUND), "not found");
    ck_assert_str_eq(wcall_verdict_name(WCALL_REFUSED), "refused");
    ck_assert_str_eq(wcall_verdict_name(WCALL_UNREACHABLE), "unreachable");
    ck_assert_str_eq(wcall_verdict_name(WCALL_TIMED_OUT), "timed out");
    ck_assert_str_eq(wcall_verdict_name(WCALL_GARBAGE), "garbage");
    ck_assert_str_eq(wcall_verdict_name((enum wcall_verdict)99), "unknown");
}
END_TEST

START_TEST(test_probe_verdict)
{
    struct probe p;
    struct wcall_reply rep;

    memset(&p, 0, sizeof(p));
    p.result = WHTTP_OK;
    p.status = 200;
    p.body_len = (size_t)snprintf(p.body, sizeof(p.body), "%s", FREE);
    ck_assert_int_eq(wcall_probe_verdict(&p, WCALL_STATUS, NULL, &rep),
                     WCALL_OK);
    p.body_truncated = 1;
    ck_assert_int_eq(wcall_probe_verdict(&p, WCALL_STATUS, NULL, &rep),
                     WCALL_GARBAGE);
    p.result = WHTTP_TIMEOUT;
    ck_assert_int_eq(wcall_probe_verdict(&p, WCALL_STATUS, NULL, &rep),
                     WCALL_TIMED_OUT);
}
END_TEST

/* An address outside worker_port_range: refused, nothing sent (the
 * struct whttp is never used, so it need not exist). */
START_TEST(test_addr_refused)
{
    struct conf c;
    struct wcall_reply rep;
    long cms, tms;

    ck_assert_int_eq(conf_defaults(&c), 0);
    c.worker_port_min = 20000;
    c.worker_port_max = 20010;
    ck_assert_int_eq(
        wcall_call(NULL, &c, WCALL_GET, "127.0.0.1", 1, "s1", &rep),
        WCALL_REFUSED);
    ck_assert_int_eq(
        wcall_create_setup(NULL, &c, "127.0.0.1", 1, "{}", 2, 1000),
        WCALL_REFUSED);
    wcall_probe_deadlines(&c, WCALL_STATUS, &cms, &tms);
    ck_assert_int_eq(tms, c.probe_timeout_ms);
    ck_assert_int_le(cms, tms);
    wcall_probe_deadlines(&c, WCALL_DELETE, &cms, &tms);
    ck_assert_int_eq(tms, c.worker_timeout_ms);
}
END_TEST

Suite *wcall_suite(void)
{
    Suite *s = suite_create("wcall");
    TCase *tc = tcase_create("judge");

    tcase_add_loop_test(tc, test_judge_table, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_judge_fields);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_probe_verdict);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_addr_refused);
    suite_add_tcase(s, tc);
    return s;
}
