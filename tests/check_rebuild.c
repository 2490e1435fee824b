/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_rebuild.c - what a rebuild reads from a worker (spawner/rebuild.c):
 * the start of a restored session, from the created_at of the worker's
 * GET /sessions/:id reply, in each form a worker may give it.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "check_suites.h"
#include "internal.h"

static int64_t created(const char *body)
{
    return rebuild_created_ms(body, strlen(body));
}

/* 2026-11-30T20:00:00Z */
#define T0_MS INT64_C(1796068800000)

START_TEST(test_created_numbers)
{
    ck_assert_int_eq(created("{\"id\":\"a\",\"created_at\":1796068800}"), T0_MS);
    ck_assert_int_eq(created("{\"created_at\":1796068800123}"), T0_MS + 123);
    ck_assert_int_eq(created("{\"created_at\":1796068800.5}"), T0_MS + 500);
    ck_assert_int_eq(created("{\"created_at\":0}"), -1);
    ck_assert_int_eq(created("{\"created_at\":-5}"), -1);
    ck_assert_int_eq(created("{\"created_at\":1e20}"), -1);
}
END_TEST

START_TEST(test_created_rfc3339)
{
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T20:00:00Z\"}"), T0_MS);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T20:00:00.250Z\"}"),
                     T0_MS + 250);
    /* Digits past milliseconds are dropped, not rounded. */
    ck_assert_int_eq(
        created("{\"created_at\":\"2026-11-30T20:00:00.123456789Z\"}"),
        T0_MS + 123);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T20:00:00\"}"), T0_MS);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T20:00:00+00:00\"}"),
                     T0_MS);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T21:30:00+01:30\"}"),
                     T0_MS);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T15:00:00-0500\"}"),
                     T0_MS);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T22:00:00.5+02\"}"),
                     T0_MS + 500);
}
END_TEST

START_TEST(test_created_unparsable)
{
    ck_assert_int_eq(created(""), -1);
    ck_assert_int_eq(created("not json"), -1);
    ck_assert_int_eq(created("[1796068800]"), -1);
    ck_assert_int_eq(created("{\"id\":\"a\"}"), -1);
    ck_assert_int_eq(created("{\"created_at\":null}"), -1);
    ck_assert_int_eq(created("{\"created_at\":true}"), -1);
    ck_assert_int_eq(created("{\"created_at\":\"yesterday\"}"), -1);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30\"}"), -1);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T20:00:00 UTC\"}"),
                     -1);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T20:00:00+25:00\"}"),
                     -1);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T20:00:00+01:0\"}"),
                     -1);
    ck_assert_int_eq(created("{\"created_at\":\"2026-11-30T20:00:00+01:00x\"}"),
                     -1);
}
END_TEST

Suite *rebuild_suite(void)
{
    Suite *s = suite_create("rebuild");
    TCase *tc = tcase_create("created_at");

    tcase_add_test(tc, test_created_numbers);
    tcase_add_test(tc, test_created_rfc3339);
    tcase_add_test(tc, test_created_unparsable);
    suite_add_tcase(s, tc);
    return s;
}
