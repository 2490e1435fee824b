/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * response.c - answers and the single JSON error shape (response.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "response.h"

static const struct {
    const char *code;
    int status;
} api_errors[API_ERR_COUNT] = {
    [API_ERR_BAD_REQUEST] = {"bad_request", 400},
    [API_ERR_INVALID_JSON] = {"invalid_json", 400},
    [API_ERR_NOT_AN_OBJECT] = {"not_an_object", 400},
    [API_ERR_INVALID_SESSION_ID] = {"invalid_session_id", 400},
    [API_ERR_UNAUTHORIZED] = {"unauthorized", 401},
    [API_ERR_FORBIDDEN] = {"forbidden", 403},
    [API_ERR_NOT_FOUND] = {"not_found", 404},
    [API_ERR_SESSION_NOT_FOUND] = {"session_not_found", 404},
    [API_ERR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405},
    [API_ERR_IDEMPOTENCY_IN_PROGRESS] = {"idempotency_in_progress", 409},
    [API_ERR_BODY_TOO_LARGE] = {"body_too_large", 413},
    [API_ERR_URI_TOO_LONG] = {"uri_too_long", 414},
    [API_ERR_IDEMPOTENCY_CONFLICT] = {"idempotency_conflict", 422},
    [API_ERR_INTERNAL] = {"internal", 500},
    [API_ERR_WORKER_FAILED] = {"worker_failed", 502},
    [API_ERR_WORKER_UNAVAILABLE] = {"worker_unavailable", 502},
    [API_ERR_NO_WORKER] = {"no_worker", 503},
    [API_ERR_QUEUE_FULL] = {"queue_full", 503},
    [API_ERR_REDIS_UNAVAILABLE] = {"redis_unavailable", 503},
    [API_ERR_WORKER_TIMEOUT] = {"worker_timeout", 504},
};

const char *api_error_code(enum api_error e)
{
    if ((int)e < 0 || e >= API_ERR_COUNT)
        return "internal";
    return api_errors[e].code;
}

int api_error_status(enum api_error e)
{
    if ((int)e < 0 || e >= API_ERR_COUNT)
        return 500;
    return api_errors[e].status;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error"
                                                  : "Server Error";
    }
}

void response_init(struct response *r, size_t max_body)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, max_body);
}

void response_release(struct response *r)
{
    buf_release(&r->body);
}

void response_reset(struct response *r)
{
    r->status = 0;
    r->content_type = NULL;
    r->nheaders = 0;
    r->is_error = 0;
    r->sent = 0;
    buf_reset(&r->body);
}

int response_header(struct response *r, const char *name, const char *fmt,
                    ...)
{
    char raw[128];
    va_list ap;
    size_t i, j;

    if (r->nheaders >= RESPONSE_HEADERS_MAX)
        return -1;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    for (i = 0, j = 0; raw[i] != '\0'; i++) {
        if ((unsigned char)raw[i] >= 0x20 && raw[i] != 0x7f)
            r->header_value[r->nheaders][j++] = raw[i];
    }
    r->header_value[r->nheaders][j] = '\0';
    r->header_name[r->nheaders] = name;
    r->nheaders++;
    return 0;
}

void response_error(struct response *r, enum api_error e, const char *fmt,
                    ...)
{
    char msg[512];
    va_list ap;
    size_t i, j;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Strip control characters: the message may quote client input. */
    for (i = 0, j = 0; msg[i] != '\0'; i++) {
        if ((unsigned char)msg[i] >= 0x20 && msg[i] != 0x7f)
            msg[j++] = msg[i];
    }
    msg[j] = '\0';

    r->status = api_error_status(e);
    r->content_type = "application/json";
    r->error = e;
    r->is_error = 1;
    buf_reset(&r->body);
    /* The error body is small; it always fits unless max is absurd. */
    if (buf_appends(&r->body, "{\"error\": \"") < 0 ||
        buf_appends(&r->body, api_error_code(e)) < 0 ||
        buf_appends(&r->body, "\", \"message\": \"") < 0 ||
        buf_append_json_str(&r->body, msg, strlen(msg)) < 0 ||
        buf_appends(&r->body, "\"}\n") < 0) {
        buf_reset(&r->body);
        buf_appends(&r->body, "{\"error\": \"internal\", \"message\": "
                              "\"error too long\"}\n");
    }
}

void response_set(struct response *r, int status, const char *content_type,
                  const char *data, size_t len)
{
    r->status = status;
    r->content_type = content_type;
    r->is_error = 0;
    buf_reset(&r->body);
    if (len > 0 && buf_append(&r->body, data, len) < 0)
        response_error(r, API_ERR_INTERNAL, "response too large");
}

int response_serialize(const struct response *r, struct buf *out)
{
    int status = r->status ? r->status : 500;
    int i;

    if (buf_printf(out, "Status: %d %s\r\n", status, http_reason(status)) <
        0)
        return -1;
    if (r->content_type != NULL && status != 204 &&
        buf_printf(out, "Content-Type: %s\r\n", r->content_type) < 0)
        return -1;
    if (buf_appends(out, "Cache-Control: no-store\r\n") < 0)
        return -1;
    for (i = 0; i < r->nheaders; i++) {
        if (buf_printf(out, "%s: %s\r\n", r->header_name[i],
                       r->header_value[i]) < 0)
            return -1;
    }
    if (buf_appends(out, "\r\n") < 0)
        return -1;
    if (status != 204 && r->body.len > 0 &&
        buf_append(out, r->body.data, r->body.len) < 0)
        return -1;
    return 0;
}
