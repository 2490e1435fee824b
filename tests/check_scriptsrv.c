/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_scriptsrv.c - a scripted HTTP server on a loopback port of its
 * own for the unit tests of the worker connections (check_wconn.c,
 * check_wprobe.c): it answers each request it reads with the next bytes
 * of its script, and counts connections and requests.
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

#include "check_scriptsrv.h"
#include "util.h"


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

void script_start(struct script_srv *s)
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

void script_stop(struct script_srv *s)
{
    s->stop = 1;
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
}

/* s repeated n times after head (and tail), in a buffer the caller
 * frees. */
char *repeat(const char *head, const char *s, size_t n, const char *tail)
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
