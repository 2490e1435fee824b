/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_wprobe.c - the reaper's probes over connections kept from one run
 * to the next (common/wprobe.c), against the scripted server of
 * check_scriptsrv.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_scriptsrv.h"
#include "check_suites.h"
#include "util.h"
#include "wprobe.h"

/* ---- wprobe: probes over connections kept from one run to the next ---- */

/* One probe of /status on port through wp; returns its result. */
static enum whttp_result probe1(struct wprobe *wp, struct probe *p, int port,
                                long total_ms)
{
    memset(p, 0, sizeof(*p));
    p->host = "127.0.0.1";
    p->port = port;
    p->path = "/status";
    ck_assert_int_eq(wprobe_run(wp, "GET", p, 1, 500, total_ms, 64), 0);
    return p->result;
}

START_TEST(test_wprobe_keeps_connection_across_runs)
{
    struct script_srv s = {.answer = {OK_HELLO, OK_HELLO, OK_HELLO}};
    struct wprobe *wp = wprobe_new();
    struct probe p;
    int i;

    ck_assert_ptr_nonnull(wp);
    script_start(&s);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(probe1(wp, &p, s.port, 1000), WHTTP_OK);
        ck_assert_int_eq(p.status, 200);
        ck_assert_str_eq(p.body, "{\"a\":1}");
        ck_assert_int_eq(p.body_truncated, 0);
    }
    ck_assert_int_eq(s.accepts, 1);
    ck_assert_uint_eq(wprobe_kept(wp), 1);
    wprobe_free(wp);
    script_stop(&s);
}
END_TEST

/* Many workers in one run, one of them hung and one refusing: each gets
 * its own result, the hung one within its deadline. */
START_TEST(test_wprobe_many_at_once)
{
    struct script_srv s[4] = {{.answer = {OK_HELLO}},
                              {.answer = {OK_HELLO}},
                              {.answer = {NULL}},
                              {.answer = {NULL}}};
    struct wprobe *wp = wprobe_new();
    struct probe p[4];
    int64_t t0;
    int i, gone;

    script_start(&s[0]);
    script_start(&s[1]);
    script_start(&s[2]);
    script_start(&s[3]);
    gone = s[3].port;
    script_stop(&s[3]);
    memset(p, 0, sizeof(p));
    for (i = 0; i < 4; i++) {
        p[i].host = "127.0.0.1";
        p[i].port = i == 3 ? gone : s[i].port;
        p[i].path = "/status";
    }
    t0 = now_mono_ms();
    ck_assert_int_eq(wprobe_run(wp, "GET", p, 4, 500, 300, 2), 0);
    ck_assert_int_lt(now_mono_ms() - t0, 1000);
    ck_assert_int_eq(p[0].result, WHTTP_OK);
    ck_assert_int_eq(p[1].result, WHTTP_OK);
    ck_assert_int_eq(p[2].result, WHTTP_TIMEOUT);
    ck_assert_int_eq(p[3].result, WHTTP_REFUSED);
    ck_assert_uint_eq(wprobe_kept(wp), 2);
    wprobe_free(wp);
    for (i = 0; i < 3; i++)
        script_stop(&s[i]);
}
END_TEST

/* A kept connection the worker dropped is opened again once; one it
 * wrote on unasked is not used. */
START_TEST(test_wprobe_dropped_or_written_on)
{
    struct script_srv a = {.answer = {OK_HELLO, OK_HELLO},
                           .close_after = {1, 0}};
    struct script_srv b = {
        .answer = {OK_HELLO, OK_HELLO},
        .late = {"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"}};
    struct wprobe *wp = wprobe_new();
    struct probe p;

    script_start(&a);
    script_start(&b);
    ck_assert_int_eq(probe1(wp, &p, a.port, 1000), WHTTP_OK);
    ck_assert_int_eq(probe1(wp, &p, b.port, 1000), WHTTP_OK);
    sleep_ms(150); /* the close and the 408 have arrived */
    ck_assert_int_eq(probe1(wp, &p, a.port, 1000), WHTTP_OK);
    ck_assert_int_eq(p.status, 200);
    ck_assert_int_eq(probe1(wp, &p, b.port, 1000), WHTTP_OK);
    ck_assert_int_eq(p.status, 200);
    ck_assert_int_eq(a.accepts, 2);
    ck_assert_int_eq(b.accepts, 2);
    wprobe_free(wp);
    script_stop(&a);
    script_stop(&b);
}
END_TEST

/* A kept connection the worker closed while idle is closed by the next
 * run's wait, whichever workers that run probes; one that still serves
 * stays kept. */
START_TEST(test_wprobe_idle_close_seen)
{
    struct script_srv a = {.answer = {OK_HELLO}, .close_after = {1}};
    struct script_srv b = {.answer = {OK_HELLO, OK_HELLO, OK_HELLO}};
    struct wprobe *wp = wprobe_new();
    struct probe p;

    script_start(&a);
    script_start(&b);
    ck_assert_int_eq(probe1(wp, &p, a.port, 1000), WHTTP_OK);
    ck_assert_uint_eq(wprobe_kept(wp), 1);
    sleep_ms(150); /* a's close has arrived */
    ck_assert_int_eq(probe1(wp, &p, b.port, 1000), WHTTP_OK);
    ck_assert_int_eq(probe1(wp, &p, b.port, 1000), WHTTP_OK);
    ck_assert_uint_eq(wprobe_kept(wp), 1);
    ck_assert_int_eq(probe1(wp, &p, b.port, 1000), WHTTP_OK);
    ck_assert_int_eq(b.accepts, 1);
    wprobe_free(wp);
    script_stop(&a);
    script_stop(&b);
}
END_TEST

/* A fresh connection closed without an answer is broken, not retried;
 * garbage is an error; a long body is cut, a huge one too big; none of
 * them is kept. */
START_TEST(test_wprobe_broken_garbage_and_limits)
{
    char *longer = repeat("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
                          "x", 5000, "");
    char *huge = repeat("HTTP/1.1 200 OK\r\n\r\n", "z", 1 << 20, "");
    struct script_srv s = {
        .answer = {"", "SSH-2.0-OpenSSH\r\n\r\n", longer, huge},
        .close_after = {1, 1, 1, 1}};
    struct wprobe *wp = wprobe_new();
    struct probe p;

    script_start(&s);
    ck_assert_int_eq(probe1(wp, &p, s.port, 1000), WHTTP_BROKEN);
    ck_assert_int_eq(s.requests, 1);
    ck_assert_int_eq(probe1(wp, &p, s.port, 1000), WHTTP_ERROR);
    ck_assert_int_eq(probe1(wp, &p, s.port, 1000), WHTTP_OK);
    ck_assert_int_eq(p.body_truncated, 1);
    ck_assert_uint_eq(p.body_len, PROBE_BODY_MAX - 1);
    ck_assert_int_eq(probe1(wp, &p, s.port, 3000), WHTTP_TOO_BIG);
    ck_assert_uint_eq(wprobe_kept(wp), 0);
    wprobe_free(wp);
    script_stop(&s);
    free(longer);
    free(huge);
}
END_TEST

/* Host names go to libcurl, which resolves them. */
START_TEST(test_wprobe_host_name_falls_back)
{
    struct script_srv s = {.answer = {OK_HELLO}, .close_after = {1}};
    struct wprobe *wp = wprobe_new();
    struct probe p;

    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_NOTHING), CURLE_OK);
    script_start(&s);
    memset(&p, 0, sizeof(p));
    p.host = "localhost";
    p.port = s.port;
    p.path = "/status";
    ck_assert_int_eq(wprobe_run(wp, "GET", &p, 1, 500, 1000, 0), 0);
    ck_assert_int_eq(p.result, WHTTP_OK);
    ck_assert_uint_eq(wprobe_kept(wp), 0);
    wprobe_free(wp);
    script_stop(&s);
}
END_TEST

Suite *wprobe_suite(void)
{
    Suite *s = suite_create("wprobe");
    TCase *tc = tcase_create("wprobe");

    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_wprobe_keeps_connection_across_runs);
    tcase_add_test(tc, test_wprobe_many_at_once);
    tcase_add_test(tc, test_wprobe_dropped_or_written_on);
    tcase_add_test(tc, test_wprobe_idle_close_seen);
    tcase_add_test(tc, test_wprobe_broken_garbage_and_limits);
    tcase_add_test(tc, test_wprobe_host_name_falls_back);
    suite_add_tcase(s, tc);
    return s;
}
