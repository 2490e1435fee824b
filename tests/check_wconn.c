/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_wconn.c - the kept-alive worker connection (common/wconn.c)
 * against a scripted HTTP server on a loopback port of its own: each test
 * gives the exact bytes the server answers, whether it closes after, and
 * how long it waits, then checks the result, status and body wconn made
 * of them and how many connections it opened (the server is
 * check_scriptsrv.c's; the probes over kept connections are
 * check_wprobe.c's).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_scriptsrv.h"
#include "check_suites.h"
#include "util.h"
#include "wconn.h"

/* One GET of /x through c; returns the result, fills status and body. */
static enum whttp_result get(struct wconn *c, int port, long total_ms,
                             struct buf *body, long *status)
{
    enum whttp_result res = WHTTP_ERROR;

    ck_assert_int_eq(wconn_request(c, "GET", "127.0.0.1", port, "/x", 500,
                                   total_ms, body, status, &res),
                     0);
    return res;
}

START_TEST(test_keepalive_reuses_one_connection)
{
    struct script_srv s = {.answer = {OK_HELLO, OK_HELLO, OK_HELLO},
                           .close_after = {0}};
    struct wconn c;
    struct buf body;
    long status;
    int i;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
        ck_assert_int_eq(status, 200);
        ck_assert_str_eq(body.data, "{\"a\":1}");
    }
    ck_assert_int_eq(s.accepts, 1);
    wconn_close(&c);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

/* Idle connections belong to the process: another thread's request to
 * the same worker takes the one the first left. */
START_TEST(test_pool_shared_between_requests)
{
    struct script_srv s = {.answer = {OK_HELLO, OK_HELLO}, .close_after = {0}};
    struct wconn a, b;
    struct buf body;
    long status;

    script_start(&s);
    wconn_init(&a);
    wconn_init(&b);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&a, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(wconn_pool_size(), 1);
    ck_assert_int_eq(get(&b, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(s.accepts, 1);
    ck_assert_int_eq(wconn_pool_size(), 1);
    wconn_pool_flush();
    ck_assert_int_eq(wconn_pool_size(), 0);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

START_TEST(test_chunked_interim_and_trailers)
{
    struct script_srv s = {
        .answer = {"HTTP/1.1 100 Continue\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3;ext=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nX-Trailer: y\r\n\r\n",
                   OK_HELLO},
        .close_after = {0}};
    struct wconn c;
    struct buf body;
    long status;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(body.data, "{\"a\":1}");
    /* The chunked answer was read exactly: the connection serves again. */
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(s.accepts, 1);
    wconn_close(&c);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

START_TEST(test_close_delimited_body)
{
    struct script_srv s = {
        .answer = {"HTTP/1.0 404 Not Found\r\n\r\nno such session", OK_HELLO},
        .close_after = {1, 0}};
    struct wconn c;
    struct buf body;
    long status;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(status, 404);
    ck_assert_str_eq(body.data, "no such session");
    /* HTTP/1.0 without keep-alive: closed, not kept. */
    ck_assert_int_eq(wconn_pool_size(), 0);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(s.accepts, 2);
    wconn_close(&c);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

START_TEST(test_dropped_idle_connection_is_retried)
{
    /* The server answers, then drops the connection (as a worker that
     * closes idle connections does): the next request is sent again on a
     * fresh one and succeeds. */
    struct script_srv s = {.answer = {OK_HELLO, OK_HELLO},
                           .close_after = {1, 0}};
    struct wconn c;
    struct buf body;
    long status;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    sleep_ms(50); /* the close has arrived */
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(s.accepts, 2);
    ck_assert_int_eq(s.requests, 2);
    wconn_close(&c);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

/* An idle connection the worker wrote on unasked (a 408 before it closes
 * an idle connection) is not used: that 408 is no answer to the next
 * request, which goes on a fresh connection. */
START_TEST(test_idle_connection_written_on_is_not_used)
{
    struct script_srv s = {
        .answer = {OK_HELLO, OK_HELLO},
        .late = {"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"}};
    struct wconn c;
    struct buf body;
    long status;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    sleep_ms(150);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(s.accepts, 2);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

START_TEST(test_fresh_connection_reset_is_not_retried)
{
    /* A connection that never answered: closed without a byte is broken,
     * and is not sent again. */
    struct script_srv s = {.answer = {""}, .close_after = {1}};
    struct wconn c;
    struct buf body;
    long status;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_BROKEN);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(s.requests, 1);
    wconn_close(&c);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

START_TEST(test_timeout_is_bounded)
{
    struct script_srv s = {.answer = {NULL}, .close_after = {0}};
    struct wconn c;
    struct buf body;
    long status;
    int64_t t0;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    t0 = now_mono_ms();
    ck_assert_int_eq(get(&c, s.port, 200, &body, &status), WHTTP_TIMEOUT);
    ck_assert_int_lt(now_mono_ms() - t0, 700);
    ck_assert_int_ge(now_mono_ms() - t0, 190);
    ck_assert_int_eq(wconn_pool_size(), 0);
    wconn_close(&c);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

START_TEST(test_refused)
{
    struct script_srv s = {.answer = {NULL}, .close_after = {0}};
    struct wconn c;
    struct buf body;
    long status;
    int port;

    script_start(&s);
    port = s.port;
    script_stop(&s); /* nothing listens there now */
    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&c, port, 1000, &body, &status), WHTTP_REFUSED);
    buf_release(&body);
}
END_TEST

START_TEST(test_garbage_and_limits)
{
    struct script_srv s = {
        .answer =
            {"SSH-2.0-OpenSSH\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             "800\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"
             "ab"},
        .close_after = {1, 1, 1, 1}};
    struct wconn c;
    struct buf body;
    long status;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_ERROR);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_TOO_BIG);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_TOO_BIG);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_ERROR);
    ck_assert_int_eq(wconn_pool_size(), 0);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

START_TEST(test_bytes_after_answer_close_it)
{
    struct script_srv s = {.answer = {OK_HELLO "HTTP/1.1 200 OK\r\n", OK_HELLO},
                           .close_after = {0, 0}};
    struct wconn c;
    struct buf body;
    long status;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_str_eq(body.data, "{\"a\":1}");
    /* Never read as the next answer: that one comes on a new connection. */
    ck_assert_int_eq(wconn_pool_size(), 0);
    ck_assert_int_eq(get(&c, s.port, 1000, &body, &status), WHTTP_OK);
    ck_assert_int_eq(s.accepts, 2);
    wconn_close(&c);
    buf_release(&body);
    script_stop(&s);
}
END_TEST

/* Hostile answers cost their request a WHTTP_ERROR, well before its
 * deadline (a bound of wanswer.h stops them, not the time), and the
 * worker's next answer is read as usual. */
START_TEST(test_hostile_answers_cost_one_request)
{
    char *line = repeat("HTTP/1.1 200 OK\r\nX-Big: ", "y", 1 << 20, "");
    char *endless = repeat("HTTP/1.1 200 OK\r\n", "X: y\r\n", 40000, "");
    char *chunks = repeat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                          "\r\n\r\n",
                          "1\r\nx\r\n", 10000, "0\r\n\r\n");
    struct script_srv s = {.answer = {line, endless, chunks, OK_HELLO},
                           .close_after = {1, 1, 1, 0}};
    struct wconn c;
    struct buf body;
    long status;
    int i;

    script_start(&s);
    wconn_init(&c);
    buf_init(&body, 8192);
    for (i = 0; i < 3; i++) {
        int64_t t0 = now_mono_ms();

        ck_assert_int_eq(get(&c, s.port, 3000, &body, &status), WHTTP_ERROR);
        ck_assert_int_lt(now_mono_ms() - t0, 1500);
        ck_assert_uint_le(body.len, body.max);
    }
    ck_assert_int_eq(get(&c, s.port, 3000, &body, &status), WHTTP_OK);
    ck_assert_str_eq(body.data, "{\"a\":1}");
    ck_assert_int_eq(s.accepts, 4);
    wconn_close(&c);
    buf_release(&body);
    script_stop(&s);
    free(line);
    free(endless);
    free(chunks);
}
END_TEST

/* The libcurl path (creates, host names) bounds the body in its write
 * callback: a chunked or close-delimited body past the limit is
 * WHTTP_TOO_BIG with no more than the limit held. */
START_TEST(test_curl_body_is_bounded)
{
    char *chunked = repeat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                           "\r\n\r\n",
                           "100\r\n"
                           "0123456789abcdef0123456789abcdef0123456789abcdef"
                           "0123456789abcdef0123456789abcdef0123456789abcdef"
                           "0123456789abcdef0123456789abcdef0123456789abcdef"
                           "0123456789abcdef0123456789abcdef0123456789abcdef"
                           "0123456789abcdef0123456789abcdef0123456789abcdef"
                           "0123456789abcdef\r\n",
                           4096, "0\r\n\r\n");
    char *to_eof = repeat("HTTP/1.1 200 OK\r\n\r\n", "z", 1 << 20, "");
    struct script_srv s = {.answer = {chunked, to_eof}, .close_after = {1, 1}};
    struct whttp w;
    struct whttp_resp r;
    int i;

    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_NOTHING), CURLE_OK);
    script_start(&s);
    ck_assert_int_eq(whttp_init(&w, 4096), 0);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(whttp_setup(&w, "GET", "127.0.0.1", s.port, "/x", NULL,
                                     0, 500, 3000),
                         0);
        ck_assert_int_eq(whttp_result_of(&w, curl_easy_perform(w.easy), &r),
                         WHTTP_TOO_BIG);
        ck_assert_uint_le(w.body.len, 4096);
    }
    whttp_release(&w);
    script_stop(&s);
    free(chunked);
    free(to_eof);
}
END_TEST

START_TEST(test_host_names_are_not_handled)
{
    struct wconn c;
    struct buf body;
    long status;
    enum whttp_result res;

    wconn_init(&c);
    buf_init(&body, 1024);
    ck_assert_int_eq(wconn_request(&c, "GET", "localhost", 80, "/", 100, 100,
                                   &body, &status, &res),
                     -1);
    ck_assert_int_eq(wconn_request(&c, "GET", "127.0.0.1", 0, "/", 100, 100,
                                   &body, &status, &res),
                     -1);
    buf_release(&body);
}
END_TEST

Suite *wconn_suite(void)
{
    Suite *s = suite_create("wconn");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_keepalive_reuses_one_connection);
    tcase_add_test(tc, test_pool_shared_between_requests);
    tcase_add_test(tc, test_chunked_interim_and_trailers);
    tcase_add_test(tc, test_close_delimited_body);
    tcase_add_test(tc, test_dropped_idle_connection_is_retried);
    tcase_add_test(tc, test_idle_connection_written_on_is_not_used);
    tcase_add_test(tc, test_fresh_connection_reset_is_not_retried);
    tcase_add_test(tc, test_timeout_is_bounded);
    tcase_add_test(tc, test_refused);
    tcase_add_test(tc, test_garbage_and_limits);
    tcase_add_test(tc, test_bytes_after_answer_close_it);
    tcase_add_test(tc, test_hostile_answers_cost_one_request);
    tcase_add_test(tc, test_curl_body_is_bounded);
    tcase_add_test(tc, test_host_names_are_not_handled);
    suite_add_tcase(s, tc);
    return s;
}
