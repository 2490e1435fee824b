/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * fake_worker.c - a worker on a loopback port for the handler tests
 * (fake_worker.h).
 *
 * One thread polls the listening socket and up to FW_CLIENTS connections.
 * A request is read whole (headers and Content-Length body), answered
 * with Content-Length, and the connection kept alive, as libcurl expects.
 * A hung request is never answered: the connection is read and dropped
 * until the client closes it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_worker.h"

#define FW_CLIENTS 8
#define FW_BUF     16384

struct fw_client {
    int fd;     /* -1: free slot */
    int hung;   /* a request of it is never to be answered */
    size_t len; /* bytes in buf */
    char buf[FW_BUF];
};

static int listen_loopback(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

int fake_port_refused(void)
{
    int port = 0, fd = listen_loopback(&port);

    if (fd < 0)
        return 1;
    close(fd);
    return port;
}

static void reply(int fd, int status, const char *body)
{
    char out[FW_BUF];
    size_t blen = strlen(body);
    int n;

    n = snprintf(out, sizeof(out),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 status, blen, body);
    if (n > 0 && (size_t)n < sizeof(out) && write(fd, out, (size_t)n) < 0)
        perror("fake worker: write");
}

/* Answers one whole request of c, or marks c hung. */
static void serve(struct fake_worker *fw, struct fw_client *c,
                  const char *method, const char *path)
{
    char body[512];
    int status = 404;

    snprintf(body, sizeof(body), "{\"error\": \"not_found\"}");
    pthread_mutex_lock(&fw->lock);
    if (strcmp(method, "POST") == 0 && strcmp(path, "/sessions") == 0) {
        fw->posts++;
        if (fw->hang_create) {
            c->hung = 1;
        } else if (fw->create_status / 100 != 2) {
            status = fw->create_status;
            snprintf(body, sizeof(body), "{\"error\": \"boom\"}");
        } else {
            status = fw->create_status;
            snprintf(fw->session, sizeof(fw->session), "%s-%d", fw->name,
                     ++fw->made);
            snprintf(body, sizeof(body), "{\"id\": \"%s\", \"data\": {}}",
                     fw->session);
        }
    } else if (strcmp(method, "GET") == 0 && strcmp(path, "/status") == 0) {
        fw->statuses++;
        status = 200;
        if (fw->session[0] == '\0')
            snprintf(body, sizeof(body),
                     "{\"available\": true, \"session_id\": null}");
        else
            snprintf(body, sizeof(body),
                     "{\"available\": false, \"session_id\": \"%s\"}",
                     fw->session);
    } else if (strncmp(path, "/sessions/", 10) == 0) {
        int held =
            fw->session[0] != '\0' && strcmp(path + 10, fw->session) == 0;

        if (strcmp(method, "GET") == 0) {
            fw->gets++;
            c->hung = fw->hang_get;
            if (held && fw->garbage_get) {
                status = 200;
                snprintf(body, sizeof(body), "{\"id\": \"%s\", \"ur",
                         fw->session);
            } else if (held) {
                status = 200;
                snprintf(body, sizeof(body), "{\"id\": \"%s\", \"url\": \"x\"}",
                         fw->session);
            }
        } else if (strcmp(method, "DELETE") == 0) {
            fw->deletes++;
            c->hung = fw->hang_delete;
            if (held && !c->hung) {
                fw->session[0] = '\0';
                status = 204;
                body[0] = '\0';
            }
        }
    }
    pthread_mutex_unlock(&fw->lock);
    if (!c->hung)
        reply(c->fd, status, body);
}

/* Serves every whole request in c->buf; returns -1 when c is to be
 * closed. */
static int drain(struct fake_worker *fw, struct fw_client *c)
{
    for (;;) {
        char method[16], path[512];
        const char *end, *cl;
        size_t head, total;
        long blen = 0;

        if (c->hung) {
            c->len = 0; /* read and dropped until the client gives up */
            return 0;
        }
        c->buf[c->len] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
        if (end == NULL)
            return c->len >= FW_BUF - 1 ? -1 : 0;
        head = (size_t)(end - c->buf) + 4;
        cl = strcasestr(c->buf, "\r\nContent-Length:");
        if (cl != NULL && cl < end)
            blen = strtol(cl + 17, NULL, 10);
        total = head + (size_t)blen;
        if (c->len < total)
            return 0;
        if (sscanf(c->buf, "%15s %511s", method, path) != 2)
            return -1;
        serve(fw, c, method, path);
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
    }
}

static void *fake_worker_run(void *arg)
{
    struct fake_worker *fw = arg;
    struct fw_client *cl = calloc(FW_CLIENTS, sizeof(*cl));
    int i;

    if (cl == NULL)
        return NULL;
    for (i = 0; i < FW_CLIENTS; i++)
        cl[i].fd = -1;
    while (!fw->stop) {
        struct pollfd p[FW_CLIENTS + 1];

        p[0].fd = fw->listen_fd;
        p[0].events = POLLIN;
        for (i = 0; i < FW_CLIENTS; i++) {
            p[i + 1].fd = cl[i].fd;
            p[i + 1].events = POLLIN;
        }
        if (poll(p, FW_CLIENTS + 1, 20) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int fd = accept(fw->listen_fd, NULL, NULL);

            for (i = 0; i < FW_CLIENTS && cl[i].fd >= 0; i++)
                ;
            if (i == FW_CLIENTS) {
                close(fd);
            } else if (fd >= 0) {
                cl[i].fd = fd;
                cl[i].hung = 0;
                cl[i].len = 0;
            }
        }
        for (i = 0; i < FW_CLIENTS; i++) {
            ssize_t n;

            if (cl[i].fd < 0 || !(p[i + 1].revents & (POLLIN | POLLHUP)))
                continue;
            n = read(cl[i].fd, cl[i].buf + cl[i].len, FW_BUF - 1 - cl[i].len);
            if (n > 0)
                cl[i].len += (size_t)n;
            if (n <= 0 || drain(fw, &cl[i]) < 0) {
                close(cl[i].fd);
                cl[i].fd = -1;
            }
        }
    }
    for (i = 0; i < FW_CLIENTS; i++) {
        if (cl[i].fd >= 0)
            close(cl[i].fd);
    }
    free(cl);
    return NULL;
}

int fake_worker_start(struct fake_worker *fw, const char *name)
{
    snprintf(fw->name, sizeof(fw->name), "%s", name);
    if (fw->create_status == 0)
        fw->create_status = 201;
    pthread_mutex_init(&fw->lock, NULL);
    fw->stop = 0;
    fw->listen_fd = listen_loopback(&fw->port);
    if (fw->listen_fd < 0)
        return -1;
    if (pthread_create(&fw->thread, NULL, fake_worker_run, fw) != 0) {
        close(fw->listen_fd);
        return -1;
    }
    fw->started = 1;
    return 0;
}

void fake_worker_hold(struct fake_worker *fw, const char *sid)
{
    pthread_mutex_lock(&fw->lock);
    snprintf(fw->session, sizeof(fw->session), "%s", sid);
    pthread_mutex_unlock(&fw->lock);
}

void fake_worker_stop(struct fake_worker *fw)
{
    if (!fw->started)
        return;
    fw->started = 0;
    fw->stop = 1;
    pthread_join(fw->thread, NULL);
    close(fw->listen_fd);
    fw->listen_fd = -1;
    pthread_mutex_destroy(&fw->lock);
}
