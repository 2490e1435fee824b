/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_wconn.c - the kept-alive worker connection (common/wconn.c)
 * against a scripted HTTP server on a loopback port of its own: each test
 * gives the exact bytes the server answers, whether it closes after, and
 * how long it waits, then checks the result, status and body wconn made
 * of them and how many connections it opened.  The probes over kept
 * connections (common/wprobe.c) meet the same server.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "check_suites.h"
#include "util.h"
#include "wconn.h"
#include "wprobe.h"

#define SCRIPT_MAX 4

/* One scripted server: answer i goes to the i-th request it reads. */
struct script_srv {
    const char *answer[SCRIPT_MAX]; /* NULL: no answer (hang) */
    int close_after[SCRIPT_MAX];    /* close the connection after it */
    const char *late[SCRIPT_MAX];   /* sent 50 ms after it, then close */
    int accepts;                    /* connections taken */
    int requests;                   /* requests read */
    int port, listen_fd;
    volatile int stop;
    pthread_t thread;
};

/* Reads one request head (up to the empty line); 0, or -1 at EOF. */
static int read_request(int fd, volatile int *stop)
{
    char buf[4096];
    size_t len = 0;

    while (!*stop) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;

        if (poll(&p, 1, 50) <= 0)
            continue;
        r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            return 0;
    }
    return -1;
}

static void *script_main(void *arg)
{
    struct script_srv *s = arg;

    while (!s->stop) {
        struct pollfd p = {s->listen_fd, POLLIN, 0};
        int fd;

        if (poll(&p, 1, 50) <= 0)
            continue;
        fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        s->accepts++;
        while (!s->stop && read_request(fd, &s->stop) == 0) {
            int i = s->requests++;
            const char *a = i < SCRIPT_MAX ? s->answer[i] : NULL;

            if (a == NULL) { /* hang until the client gives up */
                while (!s->stop && read_request(fd, &s->stop) == 0)
                    ;
                break;
            }
            if (send(fd, a, strlen(a), MSG_NOSIGNAL) < 0 || s->close_after[i])
                break;
            if (s->late[i] != NULL) {
                sleep_ms(50);
                send(fd, s->late[i], strlen(s->late[i]), MSG_NOSIGNAL);
                break;
            }
        }
        close(fd);
    }
    return NULL;
}

static void script_start(struct script_srv *s)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int one = 1;

    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->listen_fd, 0);
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s->listen_fd, 8), 0);
    getsockname(s->listen_fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, script_main, s), 0);
}

static void script_stop(struct script_srv *s)
{
    s->stop = 1;
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

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

#define OK_HELLO                                                               \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"                    \
    "Content-Length: 7\r\n\r\n{\"a\":1}"

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

/* s repeated n times after head (and tail), in a buffer the caller
 * frees. */
static char *repeat(const char *head, const char *s, size_t n, const char *tail)
{
    size_t hl = strlen(head), sl = strlen(s), tl = strlen(tail), i;
    char *out = malloc(hl + sl * n + tl + 1);

    ck_assert_ptr_nonnull(out);
    memcpy(out, head, hl);
    for (i = 0; i < n; i++)
        memcpy(out + hl + i * sl, s, sl);
    memcpy(out + hl + sl * n, tail, tl + 1);
    return out;
}

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
    tc = tcase_create("wprobe");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_wprobe_keeps_connection_across_runs);
    tcase_add_test(tc, test_wprobe_many_at_once);
    tcase_add_test(tc, test_wprobe_dropped_or_written_on);
    tcase_add_test(tc, test_wprobe_broken_garbage_and_limits);
    tcase_add_test(tc, test_wprobe_host_name_falls_back);
    suite_add_tcase(s, tc);
    return s;
}
