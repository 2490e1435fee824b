/* SPDX-License-Identifier: BSD-2-Clause */
/* api.c - steel-browser-lite's one session and its answers: parse a
 * request head, roll the fault knobs, answer as the Go emulator does. */
#include "lite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static struct {
    int live;
    char id[40];
    char created[40];
    char *data;
    size_t data_len;
} sess;

const char *lite_session_id(void)
{
    return sess.id;
}

static int out_append(struct conn *c, const char *p, size_t n)
{
    char *o = realloc(c->out, c->out_len + n);
    if (!o)
        return -1;
    memcpy(o + c->out_len, p, n);
    c->out = o;
    c->out_len += n;
    return 0;
}

const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    }
    return "Error";
}

/* answer_head - queue the status line and headers of an answer whose body
 * is len bytes: content type (NULL: none), one extra header line (NULL:
 * none).  The caller appends the body with out_append. */
static void answer_head(struct conn *c, int status, const char *type, const char *extra,
                        size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n%s%s%s%s%s"
                     "Content-Length: %zu\r\n%s\r\n",
                     status, reason(status), extra ? extra : "", extra ? "\r\n" : "",
                     type ? "Content-Type: " : "", type ? type : "", type ? "\r\n" : "",
                     len, c->close_after ? "Connection: close\r\n" : "");
    if (out_append(c, head, (size_t)n))
        c->close_after = 1; /* out of memory: drop the connection */
}

static void answer(struct conn *c, int status, const char *type, const char *extra,
                   const char *body, size_t len)
{
    answer_head(c, status, type, extra, len);
    if (len && out_append(c, body, len))
        c->close_after = 1;
}

void plain(struct conn *c, int status, const char *text, const char *extra)
{
    answer(c, status, "text/plain; charset=utf-8", extra, text, strlen(text));
}

void answer_session(struct conn *c, int status)
{
    char head[128];
    int n = snprintf(head, sizeof head, "{\"id\":\"%s\",\"created_at\":%s,\"data\":",
                     sess.id, sess.created);
    answer_head(c, status, "application/json", NULL, (size_t)n + sess.data_len + 1);
    if (out_append(c, head, (size_t)n) || out_append(c, sess.data, sess.data_len) ||
        out_append(c, "}", 1))
        c->close_after = 1;
}

static void new_session(const char *data, size_t len)
{
    unsigned char b[16];
    struct timespec ts;
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(roll() * 256);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(sess.id, sizeof sess.id,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
             b[12], b[13], b[14], b[15]);
    clock_gettime(CLOCK_REALTIME, &ts);
    if (cfg.created == 1) {
        snprintf(sess.created, sizeof sess.created, "%lld",
                 (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    } else if (cfg.created == 2) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(sess.created, sizeof sess.created, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
    } else {
        snprintf(sess.created, sizeof sess.created, "%lld", (long long)ts.tv_sec);
    }
    free(sess.data);
    sess.data = malloc(len ? len : 1);
    if (sess.data)
        memcpy(sess.data, data, len);
    sess.data_len = sess.data ? len : 0;
    sess.live = 1;
}

const char *header_end(const char *p, size_t n)
{
    for (size_t i = 3; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return p + i + 1;
    return NULL;
}

/* parse_head - 0 and *rq filled, or the status of a malformed request. */
int parse_head(const char *p, size_t n, struct req *rq)
{
    const char *end = p + n, *sp1, *sp2, *eol, *line;
    memset(rq, 0, sizeof *rq);
    rq->length = -1;
    eol = memchr(p, '\r', n);
    sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 - p >= (long)sizeof rq->method)
        return 400;
    sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2 || sp2 - sp1 - 1 >= (long)sizeof rq->path || sp2 == sp1 + 1)
        return sp2 ? 431 : 400;
    memcpy(rq->method, p, (size_t)(sp1 - p));
    memcpy(rq->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    char *q = strchr(rq->path, '?');
    if (q)
        *q = '\0';
    rq->http10 = (size_t)(eol - sp2 - 1) == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
    for (line = eol + 2; line < end - 2; line = eol + 2) {
        eol = memchr(line, '\r', (size_t)(end - line));
        if (!eol || eol == line)
            break;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon)
            return 400;
        size_t nl = (size_t)(colon - line);
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        size_t vl = (size_t)(eol - v);
        if (nl == 14 && strncasecmp(line, "content-length", 14) == 0) {
            long len = 0;
            if (vl == 0 || vl > 12)
                return 400;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return 400;
                len = len * 10 + (v[i] - '0');
            }
            rq->length = len;
        } else if (nl == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
            rq->chunked = 1;
        } else if (nl == 10 && strncasecmp(line, "connection", 10) == 0) {
            if (vl >= 5 && strncasecmp(v, "close", 5) == 0)
                rq->close = 1;
            else if (vl >= 10 && strncasecmp(v, "keep-alive", 10) == 0)
                rq->keep_alive = 1;
        }
    }
    return 0;
}

static enum ep route(const struct req *rq, const char **allow, const char **id)
{
    const char *p = rq->path;
    *allow = NULL;
    *id = NULL;
    if (strcmp(p, "/sessions") == 0) {
        *allow = "POST";
        return EP_POST;
    }
    if (strncmp(p, "/sessions/", 10) == 0 && p[10] && !strchr(p + 10, '/')) {
        *allow = "GET, DELETE";
        *id = p + 10;
        return strcmp(rq->method, "DELETE") == 0 ? EP_DELETE : EP_GET;
    }
    if (strcmp(p, "/status") == 0) {
        *allow = "GET";
        return EP_STATUS;
    }
    if (strcmp(p, "/health") == 0) {
        *allow = "GET";
        return EP_HEALTH;
    }
    return EP_OTHER;
}

static int fires(const struct knob *k, enum ep ep)
{
    return k->prob > 0 && (k->on & (1u << ep)) && roll() < k->prob;
}

static int method_allowed(const char *allow, const char *m)
{
    size_t n = strlen(m);
    for (const char *a = allow; a && *a;) {
        if (strncmp(a, m, n) == 0 && (a[n] == ',' || a[n] == '\0'))
            return 1;
        a = strchr(a, ',');
        if (a)
            a += 2;
    }
    return 0;
}

static void trim(const char **p, size_t *n)
{
    while (*n && strchr(" \t\r\n", (*p)[0])) {
        (*p)++;
        (*n)--;
    }
    while (*n && strchr(" \t\r\n", (*p)[*n - 1]))
        (*n)--;
}

/* serve - answer the request whose head and body are the first head_len +
 * body bytes of c->in.  Returns 1 when the answer waits for post_delay. */
int serve(struct conn *c, const struct req *rq, const char *body, size_t blen)
{
    const char *allow, *id;
    enum ep ep = route(rq, &allow, &id);

    if (fires(&cfg.crash, ep)) {
        logf_("crashing during %s %s", rq->method, rq->path);
        _exit(1);
    }
    if (fires(&cfg.hang, ep)) {
        struct timespec ts;

        /* The wall clock in ms, so a bench can time the hang's kill. */
        clock_gettime(CLOCK_REALTIME, &ts);
        logf_("hanging during %s %s at %lld ms", rq->method, rq->path,
              (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        hung = 1;
        return 0;
    }
    if (fires(&cfg.garbage, ep)) {
        static const char garbage[] = "{\"id\": \"\\u00";
        answer(c, 200, "application/json", NULL, garbage, sizeof garbage - 1);
        logf_("%s %s 200 garbage", rq->method, rq->path);
        return 0;
    }
    int status;
    if (ep == EP_OTHER) {
        plain(c, status = 404, "Not Found", NULL);
    } else if (!method_allowed(allow, rq->method)) {
        char extra[64];
        snprintf(extra, sizeof extra, "Allow: %s", allow);
        plain(c, status = 405, "Method Not Allowed", extra);
    } else if (ep == EP_POST) {
        trim(&body, &blen);
        if (blen == 0) {
            body = "{}";
            blen = 2;
        }
        if (!lite_json_valid(body, blen)) {
            plain(c, status = 400, "invalid JSON", NULL);
        } else {
            new_session(body, blen);
            if (cfg.post_delay_ms > 0)
                return 1;
            answer_session(c, status = cfg.post_status);
        }
    } else if (ep == EP_GET) {
        if (sess.live && strcmp(id, sess.id) == 0)
            answer_session(c, status = 200);
        else
            plain(c, status = 404, "Not Found", NULL);
    } else if (ep == EP_DELETE) {
        if (sess.live && strcmp(id, sess.id) == 0) {
            sess.live = 0;
            answer(c, status = 204, NULL, NULL, NULL, 0);
        } else {
            plain(c, status = 404, "Not Found", NULL);
        }
    } else if (ep == EP_STATUS) {
        char b[96];
        int n = sess.live
            ? snprintf(b, sizeof b, "{\"available\":false,\"session_id\":\"%s\"}", sess.id)
            : snprintf(b, sizeof b, "{\"available\":true,\"session_id\":null}");
        answer(c, status = 200, "application/json", NULL, b, (size_t)n);
    } else {
        plain(c, status = 200, "ok", NULL);
    }
    if (ep == EP_POST && status == cfg.post_status)
        logf_("%s %s %d %s", rq->method, rq->path, status, sess.id);
    else if (id)
        logf_("%s %s %d %s", rq->method, rq->path, status, id);
    else
        logf_("%s %s %d", rq->method, rq->path, status);
    return 0;
}

