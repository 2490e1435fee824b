/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * wcall.c - the calls to workers and the verdict of each (wcall.h holds
 * the verdicts and the table of what every path does with them).
 *
 * Invariants:
 *   - no request goes to an address outside worker_host/worker_hosts and
 *     worker_port_range: wcall_call and wcall_create_setup check it first
 *     and answer WCALL_REFUSED without sending anything;
 *   - every call has a connect and a total deadline (whttp.h);
 *   - only a reply in the documented format is WCALL_OK: a GET's object
 *     must carry the id asked for, a create's an id we can route, a
 *     /status a boolean and a string or null (jsonx.h);
 *   - the mapping from transport result, HTTP status and body to verdict
 *     is wcall_judge, and nothing else decides it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "privsep.h"
#include "wcall.h"

const char *wcall_verdict_name(enum wcall_verdict v)
{
    switch (v) {
    case WCALL_OK:
        return "ok";
    case WCALL_NOT_FOUND:
        return "not found";
    case WCALL_REFUSED:
        return "refused";
    case WCALL_UNREACHABLE:
        return "unreachable";
    case WCALL_TIMED_OUT:
        return "timed out";
    case WCALL_GARBAGE:
        return "garbage";
    }
    return "unknown";
}

int wcall_failed(enum wcall_verdict v)
{
    return v != WCALL_OK && v != WCALL_NOT_FOUND;
}

/* The verdict of a transfer that brought no usable HTTP answer. */
static enum wcall_verdict transport_verdict(enum whttp_result res)
{
    switch (res) {
    case WHTTP_OK:
        return WCALL_OK;
    case WHTTP_REFUSED:
        return WCALL_REFUSED;
    case WHTTP_CONNECT_TIMEOUT:
    case WHTTP_BROKEN:
        return WCALL_UNREACHABLE;
    case WHTTP_TIMEOUT:
        return WCALL_TIMED_OUT;
    case WHTTP_TOO_BIG:
    case WHTTP_ERROR:
        break;
    }
    return WCALL_GARBAGE; /* too long, or not HTTP */
}

static enum wcall_verdict garbage(struct wcall_reply *out, const char *what)
{
    snprintf(out->why, sizeof(out->why), "%s", what);
    return WCALL_GARBAGE;
}

static enum wcall_verdict bad_status(struct wcall_reply *out)
{
    snprintf(out->why, sizeof(out->why), "HTTP %ld", out->status);
    return WCALL_GARBAGE;
}

enum wcall_verdict wcall_judge(enum wcall_kind kind, const char *sid,
                               enum whttp_result res, long status,
                               const char *body, size_t len, int truncated,
                               struct wcall_reply *out)
{
    const char *why = NULL;
    enum wcall_verdict v;

    memset(out, 0, sizeof(*out));
    out->body = body;
    out->len = len;
    v = transport_verdict(res);
    out->unsent = res == WHTTP_REFUSED || res == WHTTP_CONNECT_TIMEOUT;
    out->silent = res == WHTTP_CONNECT_TIMEOUT;
    if (v != WCALL_OK) {
        snprintf(out->why, sizeof(out->why), "%s", whttp_result_str(res));
        return v;
    }
    out->status = status;
    if (status == 404 && (kind == WCALL_GET || kind == WCALL_DELETE))
        return WCALL_NOT_FOUND;
    switch (kind) {
    case WCALL_CREATE:
        if (status < 200 || status > 299)
            return bad_status(out);
        break;
    case WCALL_DELETE:
        if (status < 200 || status > 299)
            return bad_status(out);
        return WCALL_OK; /* 204 or 200; the body means nothing */
    case WCALL_GET:
    case WCALL_STATUS:
        if (status != 200)
            return bad_status(out);
        break;
    }
    if (truncated)
        return garbage(out, "reply too long");
    if (kind == WCALL_STATUS) {
        if (jsonx_worker_status(body, len, &out->available, out->sid,
                                sizeof(out->sid), &why) < 0) {
            out->sid[0] = '\0';
            out->available = 0;
            return garbage(out, why != NULL ? why : "bad /status reply");
        }
        return WCALL_OK;
    }
    if (jsonx_worker_session(body, len, out->sid, sizeof(out->sid), &why) < 0) {
        out->sid[0] = '\0';
        return garbage(out, why != NULL ? why : "bad session reply");
    }
    if (kind == WCALL_GET && (sid == NULL || strcmp(out->sid, sid) != 0))
        return garbage(out, "another session's id");
    return WCALL_OK;
}

/* 0 when host:port is one of this deployment's workers, else -1 after
 * logging. */
static int addr_check(const struct conf *c, const char *host, int port)
{
    if (privsep_worker_addr_ok(c, host, port))
        return 0;
    log_warnx("worker address %s:%d is outside worker_host/worker_hosts and "
              "worker_port_range; not called",
              host, port);
    return -1;
}

static enum wcall_verdict refused(struct wcall_reply *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->why, sizeof(out->why), "address not ours");
    return WCALL_REFUSED;
}

enum wcall_verdict wcall_call(struct whttp *w, const struct conf *c,
                              enum wcall_kind kind, const char *host, int port,
                              const char *sid, struct wcall_reply *out)
{
    char path[SESSION_ID_MAX + 16];
    const char *method = kind == WCALL_DELETE ? "DELETE" : "GET";
    struct whttp_resp resp;
    enum whttp_result res;

    if (addr_check(c, host, port) < 0)
        return refused(out);
    if (kind == WCALL_STATUS) {
        snprintf(path, sizeof(path), "/status");
    } else if (kind == WCALL_CREATE || sid == NULL ||
               (size_t)snprintf(path, sizeof(path), "/sessions/%s", sid) >=
                   sizeof(path)) {
        /* A caller's mistake: nothing sent, the worker not blamed. */
        log_warnx("worker %s:%d: no such call", host, port);
        memset(out, 0, sizeof(*out));
        snprintf(out->why, sizeof(out->why), "no such call");
        return WCALL_REFUSED;
    }
    memset(&resp, 0, sizeof(resp));
    res = whttp_request(w, method, host, port, path, NULL, 0,
                        c->worker_connect_timeout_ms, c->worker_timeout_ms,
                        &resp);
    return wcall_judge(kind, sid, res, resp.status, resp.body, resp.len, 0,
                       out);
}

int wcall_create_setup(struct whttp *w, const struct conf *c, const char *host,
                       int port, const char *body, size_t len, long total_ms)
{
    long connect_ms = c->worker_connect_timeout_ms;

    if (addr_check(c, host, port) < 0)
        return WCALL_REFUSED;
    if (total_ms < 1)
        total_ms = 1;
    if (connect_ms > total_ms)
        connect_ms = total_ms;
    if (whttp_setup(w, "POST", host, port, "/sessions", body, len, connect_ms,
                    total_ms) < 0)
        return -1;
    return WCALL_OK;
}

enum wcall_verdict wcall_create_result(struct whttp *w, CURLcode rc,
                                       struct wcall_reply *out)
{
    struct whttp_resp resp;
    enum whttp_result res;

    memset(&resp, 0, sizeof(resp));
    res = whttp_result_of(w, rc, &resp);
    return wcall_judge(WCALL_CREATE, NULL, res, resp.status, resp.body,
                       resp.len, 0, out);
}

enum wcall_verdict wcall_probe_verdict(const struct probe *p,
                                       enum wcall_kind kind, const char *sid,
                                       struct wcall_reply *out)
{
    return wcall_judge(kind, sid, p->result, p->status, p->body, p->body_len,
                       p->body_truncated, out);
}

void wcall_probe_deadlines(const struct conf *c, enum wcall_kind kind,
                           long *connect_ms, long *total_ms)
{
    *total_ms =
        kind == WCALL_DELETE ? c->worker_timeout_ms : c->probe_timeout_ms;
    *connect_ms = c->worker_connect_timeout_ms < *total_ms
                      ? c->worker_connect_timeout_ms
                      : *total_ms;
}
