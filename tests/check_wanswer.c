/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_wanswer.c - the reader of workers' HTTP answers (common/wanswer.c)
 * on buffers: the framings it reads, and each bound on what a hostile
 * worker can make it hold (wanswer.h's table), fed whole and a byte at a
 * time.  check_wconn.c sends some of the same answers over a socket.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "wanswer.h"

static struct wanswer ans;

/* Feeds data[0..n) to ans in pieces of step bytes (0: whole), then the
 * end of the stream when eof and the answer wants more.  Returns
 * wanswer_feed's last result (or wanswer_eof's); *used counts the bytes
 * the answer took. */
static int feed(const char *data, size_t n, size_t step, int eof,
                struct buf *body, size_t *used)
{
    size_t pos = 0, u = 0;
    int rc = 1;

    wanswer_init(&ans, 0, body);
    while (rc == 1 && pos < n) {
        size_t k = step == 0 || step > n - pos ? n - pos : step;

        rc = wanswer_feed(&ans, data + pos, k, &u);
        pos += rc == 1 ? k : u;
    }
    if (rc == 1 && eof)
        rc = wanswer_eof(&ans);
    if (used != NULL)
        *used = pos;
    return rc;
}

/* The outcome of s fed whole, which must be the same a byte at a time:
 * 0 or -1 and, when it failed, why. */
static int outcome(const char *s, size_t n, size_t max, int eof,
                   enum whttp_result *why)
{
    struct buf b1, b2;
    size_t u1, u2;
    int r1, r2;

    buf_init(&b1, max);
    buf_init(&b2, max);
    r2 = feed(s, n, 1, eof, &b2, &u2);
    r1 = feed(s, n, 0, eof, &b1, &u1);
    ck_assert_int_eq(r1, r2);
    if (r1 == 0) {
        ck_assert_uint_eq(u1, u2);
        ck_assert_uint_eq(b1.len, b2.len);
        ck_assert(b1.len == 0 || memcmp(b1.data, b2.data, b1.len) == 0);
    }
    ck_assert_uint_le(b1.len, max);
    *why = ans.result;
    buf_release(&b1);
    buf_release(&b2);
    return r1;
}

static enum whttp_result verdict(const char *s, size_t max)
{
    enum whttp_result why;

    return outcome(s, strlen(s), max, 1, &why) == 0 ? WHTTP_OK : why;
}

START_TEST(test_framings)
{
    const char *chunked =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;ext=1\r\n{\"a\r\n4\r\n\":1}\r\n0\r\nX-T: y\r\n\r\n"
        "HTTP/1.1";
    const char *both = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    struct buf b;
    size_t used;

    buf_init(&b, 1024);
    ck_assert_int_eq(feed(chunked, strlen(chunked), 0, 0, &b, &used), 0);
    ck_assert_int_eq(ans.status, 200);
    ck_assert_str_eq(b.data, "{\"a\":1}");
    ck_assert_uint_eq(used, strlen(chunked) - 8); /* bytes after the body */
    ck_assert_int_eq(wanswer_keep(&ans), 1);
    ck_assert_int_eq(verdict(chunked, 1024), WHTTP_OK);
    ck_assert_int_eq(feed("HTTP/1.0 200 OK\r\n\r\nab", 21, 0, 1, &b, NULL), 0);
    ck_assert_str_eq(b.data, "ab");
    ck_assert_int_eq(wanswer_keep(&ans), 0); /* it ended with the stream */
    ck_assert_int_eq(verdict("HTTP/1.1 204 No\r\n\r\n", 16), WHTTP_OK);
    ck_assert_int_eq(verdict("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             "Content-Length: 2\r\n\r\nab",
                             16),
                     WHTTP_OK);
    /* Both framings: read as chunked, and the connection is not kept. */
    ck_assert_int_eq(feed(both, strlen(both), 0, 0, &b, NULL), 0);
    ck_assert_str_eq(b.data, "x");
    ck_assert_int_eq(wanswer_keep(&ans), 0);
    buf_release(&b);
}
END_TEST

START_TEST(test_content_length)
{
    const char *bad[] = {"-1",
                         "+5",
                         "5 5",
                         "0x10",
                         "",
                         "9223372036854775808",
                         "99999999999999999999999"};
    char s[256];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n",
                 bad[i]);
        ck_assert_msg(verdict(s, 1024) == WHTTP_ERROR, "%s", bad[i]);
    }
    ck_assert_int_eq(verdict("HTTP/1.1 200 OK\r\nContent-Length: "
                             "9223372036854775807\r\n\r\n",
                             1024),
                     WHTTP_TOO_BIG);
    ck_assert_int_eq(verdict("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             "Content-Length: 3\r\n\r\nab",
                             1024),
                     WHTTP_ERROR);
    ck_assert_int_eq(
        verdict("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 1024),
        WHTTP_BROKEN);
    ck_assert_int_eq(
        verdict("HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n", 1024),
        WHTTP_TOO_BIG);
}
END_TEST

START_TEST(test_chunk_sizes)
{
    const char *bad[] = {
        "ffffffffffffffff", "10000000000000000", "-1", "", "x", "1 2", "0x1"};
    char s[256];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(s, sizeof(s),
                 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "%s\r\n",
                 bad[i]);
        ck_assert_msg(verdict(s, 1024) == WHTTP_ERROR, "%s", bad[i]);
    }
    ck_assert_int_eq(verdict("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                             "\r\n\r\n7fffffffffffffff\r\n",
                             1024),
                     WHTTP_TOO_BIG);
    /* The data must end with CR LF: no extra bytes in a chunk. */
    ck_assert_int_eq(verdict("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                             "\r\n\r\n1\r\nxy\r\n0\r\n\r\n",
                             1024),
                     WHTTP_ERROR);
}
END_TEST

/* s repeated n times after head, in a buffer the caller frees. */
static char *repeat(const char *head, const char *s, size_t n, size_t *len)
{
    size_t hl = strlen(head), sl = strlen(s), i;
    char *out = malloc(hl + sl * n + 1);

    ck_assert_ptr_nonnull(out);
    memcpy(out, head, hl);
    for (i = 0; i < n; i++)
        memcpy(out + hl + i * sl, s, sl);
    out[hl + sl * n] = '\0';
    *len = hl + sl * n;
    return out;
}

START_TEST(test_tiny_chunks)
{
    const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    size_t n, allowed = wanswer_chunks_max(8192);
    char *s;
    enum whttp_result why;

    /* 10,000 one-byte chunks: more than an 8 KiB body may come in. */
    s = repeat(h, "1\r\nx\r\n", 10000, &n);
    ck_assert_int_eq(outcome(s, n, 8192, 1, &why), -1);
    ck_assert_int_eq(why, WHTTP_ERROR);
    ck_assert_uint_eq(ans.chunks, allowed + 1);
    free(s);
    /* Fewer than the bound are read. */
    s = repeat(h, "1\r\nx\r\n", 1000, &n);
    ck_assert_int_eq(outcome(s, n, 1024, 0, &why), 1);
    free(s);
    /* A 16 MiB body limit allows them. */
    s = repeat(h, "1\r\nx\r\n", 10000, &n);
    ck_assert_int_eq(outcome(s, n, 16 << 20, 0, &why), 1);
    free(s);
}
END_TEST

START_TEST(test_long_lines)
{
    size_t n;
    char *s = repeat("HTTP/1.1 200 OK\r\nX-Big: ", "y", 1 << 20, &n);
    enum whttp_result why;

    /* A 1 MB header line fails once the line buffer is full. */
    ck_assert_int_eq(outcome(s, n, 1024, 1, &why), -1);
    ck_assert_int_eq(why, WHTTP_ERROR);
    free(s);
    s = repeat("HTTP/1.1 200 OK", " ", 1 << 20, &n);
    ck_assert_int_eq(outcome(s, n, 1024, 1, &why), -1);
    free(s);
    /* A chunk-size line is a line: bounded like the others. */
    s = repeat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "0",
               1 << 20, &n);
    ck_assert_int_eq(outcome(s, n, 1024, 1, &why), -1);
    ck_assert_int_eq(why, WHTTP_ERROR);
    free(s);
    /* The longest line that fits is read. */
    s = repeat("HTTP/1.1 200 OK\r\nX-Big: ", "y", WANSWER_LINE_MAX - 10, &n);
    strcpy(s + n - 8, "\r\n\r\n");
    ck_assert_int_eq(outcome(s, n - 4, 1024, 1, &why), 0);
    free(s);
}
END_TEST

START_TEST(test_header_bounds)
{
    size_t n;
    char *s = repeat("HTTP/1.1 200 OK\r\n", "X: y\r\n", 1000000, &n);
    char *big;
    enum whttp_result why;

    /* An endless stream of small headers stops at the count. */
    ck_assert_int_eq(outcome(s, n, 1024, 1, &why), -1);
    ck_assert_int_eq(why, WHTTP_ERROR);
    ck_assert_uint_eq(ans.headers, WANSWER_HEADERS_MAX + 1);
    free(s);
    /* Fewer but longer ones stop at the bytes. */
    big = malloc(4001);
    ck_assert_ptr_nonnull(big);
    memset(big, 'y', 4000);
    big[0] = 'X';
    big[1] = ':';
    strcpy(big + 3996, "\r\n");
    s = repeat("HTTP/1.1 200 OK\r\n", big, 50, &n);
    ck_assert_int_eq(outcome(s, n, 1024, 1, &why), -1);
    ck_assert_uint_lt(ans.headers, WANSWER_HEADERS_MAX);
    free(s);
    free(big);
    /* Interim answers are bounded too. */
    s = repeat("", "HTTP/1.1 100 Continue\r\n\r\n", WANSWER_INTERIM_MAX + 1,
               &n);
    ck_assert_int_eq(outcome(s, n, 1024, 1, &why), -1);
    ck_assert_int_eq(why, WHTTP_ERROR);
    free(s);
    /* Trailers count as headers. */
    s = repeat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
               "T: 1\r\n", 200, &n);
    ck_assert_int_eq(outcome(s, n, 1024, 1, &why), -1);
    ck_assert_int_eq(why, WHTTP_ERROR);
    free(s);
}
END_TEST

START_TEST(test_garbage)
{
    static const char nul[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\0 9\r\n"
                              "\r\nx";
    enum whttp_result why;

    ck_assert_int_eq(verdict("SSH-2.0-OpenSSH\r\n", 64), WHTTP_ERROR);
    ck_assert_int_eq(verdict("HTTP/2 200\r\n\r\n", 64), WHTTP_ERROR);
    ck_assert_int_eq(verdict("HTTP/1.1 600 X\r\n\r\n", 64), WHTTP_ERROR);
    ck_assert_int_eq(verdict("HTTP/1.1 200OK\r\n\r\n", 64), WHTTP_ERROR);
    ck_assert_int_eq(verdict("", 64), WHTTP_BROKEN);
    ck_assert_int_eq(verdict("HTTP/1.1 200 OK\r\n", 64), WHTTP_BROKEN);
    ck_assert_int_eq(outcome(nul, sizeof(nul) - 1, 64, 1, &why), -1);
    ck_assert_int_eq(why, WHTTP_ERROR);
    /* A body over the limit without a length. */
    ck_assert_int_eq(verdict("HTTP/1.1 200 OK\r\n\r\n0123456789", 8),
                     WHTTP_TOO_BIG);
}
END_TEST

Suite *wanswer_suite(void)
{
    Suite *s = suite_create("wanswer");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_framings);
    tcase_add_test(tc, test_content_length);
    tcase_add_test(tc, test_chunk_sizes);
    tcase_add_test(tc, test_tiny_chunks);
    tcase_add_test(tc, test_long_lines);
    tcase_add_test(tc, test_header_bounds);
    tcase_add_test(tc, test_garbage);
    suite_add_tcase(s, tc);
    return s;
}
