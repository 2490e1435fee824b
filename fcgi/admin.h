/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * admin.h - the routes operators read, from Redis alone: /health,
 * /status, /workers, /metrics and GET /sessions (admin.c).  Each has the
 * handler signature of route.h.
 */
#ifndef STEEL_ADMIN_H
#define STEEL_ADMIN_H

struct handler;
struct request;
struct response;
struct route_match;

void handle_health(struct handler *h, struct request *rq,
                   const struct route_match *m, struct response *r);
void handle_status(struct handler *h, struct request *rq,
                   const struct route_match *m, struct response *r);
void handle_workers(struct handler *h, struct request *rq,
                    const struct route_match *m, struct response *r);
void handle_metrics(struct handler *h, struct request *rq,
                    const struct route_match *m, struct response *r);
/* ?offset=N&limit=N, most recently active first. */
void handle_session_list(struct handler *h, struct request *rq,
                         const struct route_match *m, struct response *r);

#endif
