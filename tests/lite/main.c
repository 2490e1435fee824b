/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * steel-browser-lite - main.c: a small worker emulator for scale runs.
 *
 * The same API and the same environment knobs as tester/steel-browser-emu
 * (PORT, STEEL_EMU_BIND, STEEL_EMU_POST_STATUS, STEEL_EMU_CREATED_AT,
 * STEEL_EMU_START_DELAY_MS, STEEL_EMU_POST_DELAY_MS, STEEL_EMU_CRASH_PROB,
 * STEEL_EMU_CRASH_ON, STEEL_EMU_HANG_PROB, STEEL_EMU_HANG_ON,
 * STEEL_EMU_GARBAGE_PROB, STEEL_EMU_GARBAGE_ON, STEEL_EMU_SEED), in one
 * thread and a poll loop, so that 10,000 of them fit in memory: linked
 * statically it stays under 1 MB resident.  Differences from the Go
 * emulator: a body must come with Content-Length (chunked answers 411),
 * the path is not percent-decoded, and at most MAX_CONNS connections are
 * served at once (the rest wait in the listen backlog).
 *
 * Invariants: at most one session; a session's created_at never changes;
 * "data" is the POST body's bytes, surrounding whitespace trimmed; once
 * hung, nothing is ever answered again.
 */
#include "lite.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct conn conns[MAX_CONNS];
int hung;
static volatile sig_atomic_t stopping;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void consume(struct conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
    if (c->in_len == 0 && c->in_cap > 65536) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
}

/* handle - answer every whole request buffered on c, in order. */
static void handle(struct conn *c)
{
    while (!hung && !c->due_ms && !c->close_after && c->in_len) {
        const char *he = header_end(c->in, c->in_len);
        struct req rq;
        if (!he) {
            if (c->in_len > MAX_HEAD) {
                c->close_after = 1;
                plain(c, 431, "Request Header Fields Too Large", NULL);
            }
            return;
        }
        size_t hl = (size_t)(he - c->in);
        int bad = parse_head(c->in, hl, &rq);
        if (bad || rq.chunked || rq.length > MAX_BODY) {
            c->close_after = 1;
            if (bad)
                plain(c, bad, reason(bad), NULL);
            else if (rq.chunked)
                plain(c, 411, "Length Required", NULL);
            else
                plain(c, 413, "Payload Too Large", NULL);
            return;
        }
        size_t blen = rq.length > 0 ? (size_t)rq.length : 0;
        if (c->in_len < hl + blen)
            return; /* the body is still coming */
        c->close_after = rq.close || (rq.http10 && !rq.keep_alive);
        if (serve(c, &rq, c->in + hl, blen)) {
            c->due_ms = now_ms() + cfg.post_delay_ms;
            c->due_used = hl + blen;
            return;
        }
        if (hung)
            return;
        consume(c, hl + blen);
    }
}

static void read_conn(struct conn *c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
            if (cap > (size_t)MAX_BODY + MAX_HEAD + 4096) {
                conn_close(c);
                return;
            }
            char *p = realloc(c->in, cap);
            if (!p) {
                conn_close(c);
                return;
            }
            c->in = p;
            c->in_cap = cap;
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        conn_close(c); /* EOF or error */
        return;
    }
    handle(c);
}

static void write_conn(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->close_after) {
        conn_close(c);
        return;
    }
    handle(c); /* pipelined requests */
}

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static int listen_on(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    inet_pton(AF_INET, cfg.bind, &sa.sin_addr);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 128)) {
        logf_("cannot listen on %s:%d: %s", cfg.bind, cfg.port, strerror(errno));
        return -1;
    }
    logf_("listening on %s:%d", cfg.bind, cfg.port);
    return fd;
}

int main(void)
{
    struct sigaction sa = {.sa_handler = on_term};
    struct pollfd pfd[MAX_CONNS + 1];
    struct conn *of[MAX_CONNS]; /* of[k]: the connection of pfd[k] */
    int lfd, i;

    setvbuf(stderr, NULL, _IOLBF, 0);
    read_config();
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cfg.start_delay_ms > 0) {
        struct timespec d = {cfg.start_delay_ms / 1000, (cfg.start_delay_ms % 1000) * 1000000L};
        while (!stopping && nanosleep(&d, &d) != 0 && errno == EINTR)
            ;
        if (stopping)
            return 0;
    }
    if ((lfd = listen_on()) < 0)
        return 1;
    for (i = 0; i < MAX_CONNS; i++)
        conns[i].fd = -1;

    while (!stopping) {
        int n = 0, timeout = -1, free_slot = -1;
        long long now = now_ms();
        if (hung) { /* answer nothing, ever; the kernel still queues connects */
            pause();
            continue;
        }
        for (i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &conns[i];
            if (c->fd < 0) {
                if (free_slot < 0)
                    free_slot = i;
                continue;
            }
            if (c->due_ms) {
                if (c->due_ms <= now) {
                    c->due_ms = 0;
                    answer_session(c, cfg.post_status);
                    logf_("POST /sessions %d %s", cfg.post_status, lite_session_id());
                    consume(c, c->due_used);
                } else {
                    long long w = c->due_ms - now;
                    if (timeout < 0 || w < timeout)
                        timeout = (int)w;
                    continue;
                }
            }
            of[n] = c;
            pfd[n].fd = c->fd;
            pfd[n].events = c->out_len ? POLLOUT : POLLIN;
            pfd[n].revents = 0;
            n++;
        }
        int nconn = n;
        if (free_slot >= 0) {
            pfd[n].fd = lfd;
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }
        if (poll(pfd, (nfds_t)n, timeout) < 0) {
            if (errno == EINTR)
                continue;
            logf_("poll: %s", strerror(errno));
            return 1;
        }
        for (i = 0; i < nconn && !hung; i++) {
            struct conn *c = of[i];
            if (!pfd[i].revents || c->fd != pfd[i].fd)
                continue;
            if (c->out_len)
                write_conn(c);
            else
                read_conn(c);
            if (c->fd >= 0 && c->out_len && !c->due_ms)
                write_conn(c);
        }
        if (free_slot >= 0 && !hung && (pfd[nconn].revents & POLLIN)) {
            int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0)
                conns[free_slot].fd = fd;
        }
    }
    logf_("stopped");
    return 0;
}
