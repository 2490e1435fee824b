/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * whttp.h - HTTP/1.1 to workers, always under a connect and a total
 * deadline, with a bounded response body.
 *
 * struct whttp belongs to one thread.  Its requests without a body (the
 * GET and DELETE of a session, /status) go over one kept-alive connection
 * of its own (wconn.h); those with a body, and every request to a worker
 * named by a host name, over one libcurl easy handle, which keeps its
 * connections alive too.  probe_run() asks many
 * workers at once (libcurl multi) and returns when all answered or the
 * deadline passed; probe_add() and probe_done() run single probes in a
 * caller's own multi handle.  curl_global_init() must have run before any
 * of them is used.
 */
#ifndef STEEL_WHTTP_H
#define STEEL_WHTTP_H

#include <stddef.h>

#include <curl/curl.h>

#include "buf.h"

enum whttp_result {
    WHTTP_OK = 0,    /* an HTTP response arrived (any status) */
    WHTTP_REFUSED,   /* nothing listens: connection refused */
    WHTTP_TIMEOUT,   /* the total deadline passed (connected, no answer) */
    WHTTP_CONNECT_TIMEOUT, /* the connect deadline passed: unreachable */
    WHTTP_BROKEN,    /* connection reset or closed before a response */
    WHTTP_TOO_BIG,   /* response body larger than allowed */
    WHTTP_ERROR,     /* anything else (out of memory, bad address) */
};

/* "ok", "refused", "timeout", ... */
const char *whttp_result_str(enum whttp_result r);

struct wconn;

struct whttp {
    CURL *easy;
    struct wconn *conn;              /* GET and DELETE go here (wconn.h) */
    struct buf body;                 /* the last response body */
    struct curl_slist *headers;      /* request headers we always send */
    char errbuf[CURL_ERROR_SIZE];    /* libcurl's message for a failure */
};

struct whttp_resp {
    long status;       /* HTTP status, 0 when result != WHTTP_OK */
    const char *body;  /* borrowed from the struct whttp until its next use */
    size_t len;
    long elapsed_ms;
};

/* Returns 0, or -1 when libcurl cannot make a handle.  max_body bounds
 * every response body. */
int whttp_init(struct whttp *w, size_t max_body);
void whttp_release(struct whttp *w);

/* Sends method path to http://host:port with body (may be NULL for none;
 * sent as application/json).  Fills *resp.  Never blocks longer than
 * total_ms. */
enum whttp_result whttp_request(struct whttp *w, const char *method,
                                const char *host, int port, const char *path,
                                const char *body, size_t body_len,
                                long connect_ms, long total_ms,
                                struct whttp_resp *resp);

/* The two halves of whttp_request, for a caller that runs w->easy in a
 * libcurl multi handle of its own (hedged creates): whttp_setup prepares
 * the transfer (CURLOPT_PRIVATE is w) and returns 0, or -1 when the URL
 * does not fit; whttp_result_of reads the outcome of the finished
 * transfer whose libcurl code was rc.  resp->body is borrowed from w. */
int whttp_setup(struct whttp *w, const char *method, const char *host,
                int port, const char *path, const char *body, size_t body_len,
                long connect_ms, long total_ms);
enum whttp_result whttp_result_of(struct whttp *w, CURLcode rc,
                                  struct whttp_resp *resp);

#define PROBE_BODY_MAX 4096

struct probe {
    const char *host;               /* in */
    int port;                       /* in */
    const char *path;               /* in, e.g. "/health" */
    enum whttp_result result;       /* out */
    long status;                    /* out */
    char body[PROBE_BODY_MAX];      /* out, NUL-terminated, truncated */
    size_t body_len;                /* out */
    int body_truncated;             /* out */
};

/* Sends GET path to every p[i] at once, at most max_parallel in flight
 * (0 = all).  Returns 0 once each has a result, or -1 if libcurl failed
 * as a whole (each p[i].result is then WHTTP_ERROR).  Takes at most about
 * total_ms when max_parallel >= n. */
int probe_run(struct probe *p, size_t n, long connect_ms, long total_ms,
              size_t max_parallel);

/* The same with another method without a body ("DELETE" for
 * /sessions/<id>); probe_run is probe_run_method("GET", ...). */
int probe_run_method(const char *method, struct probe *p, size_t n,
                     long connect_ms, long total_ms, size_t max_parallel);

/* The parts of probe_run, for a caller that runs probes in a libcurl multi
 * handle of its own (the spawner's start probes).  probe_add starts method
 * p->path on m with probe_run's options (a fresh connection, the body
 * bounded by PROBE_BODY_MAX); CURLOPT_PRIVATE is p.  Returns the easy
 * handle, which stays the caller's until probe_done or probe_cancel, or
 * NULL (p->result is WHTTP_ERROR). */
CURL *probe_add(CURLM *m, const char *method, struct probe *p, long connect_ms,
                long total_ms);

/* For msg, a CURLMSG_DONE of a handle from probe_add: fills in its probe's
 * result and status, takes the handle out of m and frees it.  Returns the
 * probe. */
struct probe *probe_done(CURLM *m, CURLMsg *msg);

/* Takes the unfinished probe handle e (NULL: nothing) out of m and frees
 * it. */
void probe_cancel(CURLM *m, CURL *e);

#endif
