/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_scriptsrv.h - the scripted HTTP server of the worker connection
 * tests (check_scriptsrv.c).
 */
#ifndef STEEL_CHECK_SCRIPTSRV_H
#define STEEL_CHECK_SCRIPTSRV_H

#include <pthread.h>
#include <stddef.h>

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

/* Listens on a free loopback port (s->port) and serves in a thread. */
void script_start(struct script_srv *s);
/* Stops the thread and closes the listening socket. */
void script_stop(struct script_srv *s);

/* s repeated n times after head (and tail), in a buffer the caller
 * frees. */
char *repeat(const char *head, const char *s, size_t n, const char *tail);

#define OK_HELLO                                                               \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"                    \
    "Content-Length: 7\r\n\r\n{\"a\":1}"

#endif
