/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * response.h - the one place that shapes every answer of steel-fcgi.
 *
 * Errors have one JSON shape, {"error": "<code>", "message": "<text>"},
 * with a stable code from enum api_error and Content-Type
 * application/json.  Handlers fill a struct response; main.c hands the
 * serialized bytes to libfcgi.
 */
#ifndef STEEL_RESPONSE_H
#define STEEL_RESPONSE_H

#include "buf.h"

enum api_error {
    API_ERR_BAD_REQUEST = 0,  /* 400 */
    API_ERR_INVALID_JSON,     /* 400 */
    API_ERR_NOT_AN_OBJECT,    /* 400 */
    API_ERR_INVALID_SESSION_ID, /* 400 */
    API_ERR_UNAUTHORIZED,     /* 401 */
    API_ERR_FORBIDDEN,        /* 403: operator route, not from loopback */
    API_ERR_NOT_FOUND,        /* 404: no such route */
    API_ERR_SESSION_NOT_FOUND, /* 404 */
    API_ERR_METHOD_NOT_ALLOWED, /* 405 */
    API_ERR_IDEMPOTENCY_IN_PROGRESS, /* 409 */
    API_ERR_BODY_TOO_LARGE,   /* 413 */
    API_ERR_URI_TOO_LONG,     /* 414 */
    API_ERR_IDEMPOTENCY_CONFLICT, /* 422 */
    API_ERR_INTERNAL,         /* 500 */
    API_ERR_WORKER_FAILED,    /* 502: creates failed on every worker tried */
    API_ERR_WORKER_UNAVAILABLE, /* 502: the session's worker misbehaved */
    API_ERR_NO_WORKER,        /* 503: no idle worker within create_wait */
    API_ERR_QUEUE_FULL,       /* 503: too many creates waiting */
    API_ERR_REDIS_UNAVAILABLE, /* 503 */
    API_ERR_WORKER_TIMEOUT,   /* 504 */
    API_ERR_COUNT
};

/* The stable code ("invalid_json") and HTTP status of an error. */
const char *api_error_code(enum api_error e);
int api_error_status(enum api_error e);

#define RESPONSE_HEADERS_MAX 4

struct response {
    int status;                /* HTTP status; 0 = not set yet */
    const char *content_type;  /* static string */
    struct buf body;
    const char *header_name[RESPONSE_HEADERS_MAX]; /* static strings */
    char header_value[RESPONSE_HEADERS_MAX][128];
    int nheaders;
    enum api_error error;      /* valid when is_error */
    int is_error;
    int sent;                  /* already written (request.reply_early) */
};

void response_init(struct response *r, size_t max_body);
void response_release(struct response *r);
/* Forgets status, headers and body (for reuse between requests). */
void response_reset(struct response *r);

/* Sets an extra header (value is copied, control bytes dropped).  Returns 0,
 * or -1 when there is no room. */
int response_header(struct response *r, const char *name, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

/* Makes r the JSON error e with message text (printf-style), replacing
 * anything set before except extra headers.  Control characters in the
 * message are dropped. */
void response_error(struct response *r, enum api_error e, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));

/* Sets status, content type and a body copied from data. */
void response_set(struct response *r, int status, const char *content_type,
                  const char *data, size_t len);

/* The reason phrase of an HTTP status ("Not Found"). */
const char *http_reason(int status);

/* Writes the CGI/FastCGI form of r into out: "Status: 404 Not Found\r\n",
 * the headers, a blank line and the body.  Returns 0 or -1 (out full). */
int response_serialize(const struct response *r, struct buf *out);

#endif
