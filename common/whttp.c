/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * whttp.c - deadline-bound HTTP to workers (whttp.h).
 *
 * Every transfer sets CURLOPT_CONNECTTIMEOUT_MS and CURLOPT_TIMEOUT_MS and
 * NOSIGNAL (threads), ignores proxy settings from the environment (workers
 * are addressed directly), and refuses bodies larger than the limit.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "wconn.h"
#include "whttp.h"

const char *whttp_result_str(enum whttp_result r)
{
    switch (r) {
    case WHTTP_OK:
        return "ok";
    case WHTTP_REFUSED:
        return "refused";
    case WHTTP_TIMEOUT:
        return "timeout";
    case WHTTP_CONNECT_TIMEOUT:
        return "connect timeout";
    case WHTTP_BROKEN:
        return "connection broken";
    case WHTTP_TOO_BIG:
        return "response too large";
    case WHTTP_ERROR:
        break;
    }
    return "error";
}

static enum whttp_result whttp_map(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return WHTTP_OK;
    case CURLE_COULDNT_CONNECT:
        return WHTTP_REFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return WHTTP_TIMEOUT;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        return WHTTP_BROKEN;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        return WHTTP_TOO_BIG;
    default:
        return WHTTP_ERROR;
    }
}

/* host as a URL authority: IPv6 literals get brackets. */
static int whttp_url(char *out, size_t size, const char *host, int port,
                     const char *path)
{
    int n;

    if (strchr(host, ':') != NULL)
        n = snprintf(out, size, "http://[%s]:%d%s", host, port, path);
    else
        n = snprintf(out, size, "http://%s:%d%s", host, port, path);
    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* The one bound on a body read by libcurl, whatever its framing (chunks
 * and bodies that end with the connection included; CURLOPT_MAXFILESIZE
 * would see a Content-Length only): the byte past b->max is refused and
 * the transfer stops, WHTTP_TOO_BIG (tests/check_wconn.c). */
static size_t whttp_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct buf *b = user;

    if (buf_append(b, data, size * nmemb) < 0)
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    return size * nmemb;
}

static void whttp_common(CURL *e, long connect_ms, long total_ms)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
}

int whttp_init(struct whttp *w, size_t max_body)
{
    memset(w, 0, sizeof(*w));
    buf_init(&w->body, max_body);
    w->conn = malloc(sizeof(*w->conn));
    if (w->conn != NULL)
        wconn_init(w->conn);
    w->easy = curl_easy_init();
    w->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (w->headers != NULL)
        w->headers = curl_slist_append(w->headers, "Expect:");
    if (w->conn == NULL || w->easy == NULL || w->headers == NULL) {
        log_warnx("whttp: out of memory (or curl_easy_init failed)");
        whttp_release(w);
        return -1;
    }
    return 0;
}

void whttp_release(struct whttp *w)
{
    if (w->easy != NULL)
        curl_easy_cleanup(w->easy);
    if (w->conn != NULL) {
        wconn_close(w->conn);
        free(w->conn);
        w->conn = NULL;
    }
    curl_slist_free_all(w->headers);
    buf_release(&w->body);
    w->easy = NULL;
    w->headers = NULL;
}

int whttp_setup(struct whttp *w, const char *method, const char *host,
                int port, const char *path, const char *body, size_t body_len,
                long connect_ms, long total_ms)
{
    char url[1024];
    CURL *e = w->easy;

    buf_reset(&w->body);
    if (whttp_url(url, sizeof(url), host, port, path) < 0)
        return -1;
    curl_easy_reset(e);
    whttp_common(e, connect_ms, total_ms);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, whttp_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &w->body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, w->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)w);
    w->errbuf[0] = '\0';
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body ? body_len : 0));
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    return 0;
}

enum whttp_result whttp_result_of(struct whttp *w, CURLcode rc,
                                  struct whttp_resp *resp)
{
    enum whttp_result res = whttp_map(rc);
    curl_off_t us = 0;

    memset(resp, 0, sizeof(*resp));
    resp->body = "";
    if (res == WHTTP_TOO_BIG && !w->body.overflow)
        res = WHTTP_ERROR;
    curl_easy_getinfo(w->easy, CURLINFO_TOTAL_TIME_T, &us);
    resp->elapsed_ms = (long)(us / 1000);
    if (res == WHTTP_TIMEOUT) {
        curl_off_t connected = 0;

        /* Never connected: the connect deadline is the one that fired. */
        curl_easy_getinfo(w->easy, CURLINFO_CONNECT_TIME_T, &connected);
        if (connected == 0)
            res = WHTTP_CONNECT_TIMEOUT;
    }
    if (res == WHTTP_OK) {
        curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->body = w->body.data ? w->body.data : "";
        resp->len = w->body.len;
    }
    return res;
}

enum whttp_result whttp_request(struct whttp *w, const char *method,
                                const char *host, int port, const char *path,
                                const char *body, size_t body_len,
                                long connect_ms, long total_ms,
                                struct whttp_resp *resp)
{
    if (body == NULL && w->conn != NULL &&
        (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0)) {
        enum whttp_result res;
        int64_t t0 = now_mono_ms();

        memset(resp, 0, sizeof(*resp));
        resp->body = "";
        if (wconn_request(w->conn, method, host, port, path, connect_ms,
                          total_ms, &w->body, &resp->status, &res) == 0) {
            resp->elapsed_ms = (long)(now_mono_ms() - t0);
            if (res == WHTTP_OK) {
                resp->body = w->body.data ? w->body.data : "";
                resp->len = w->body.len;
            } else {
                resp->status = 0;
            }
            return res;
        }
    }
    if (whttp_setup(w, method, host, port, path, body, body_len, connect_ms,
                    total_ms) < 0) {
        memset(resp, 0, sizeof(*resp));
        resp->body = "";
        return WHTTP_ERROR;
    }
    return whttp_result_of(w, curl_easy_perform(w->easy), resp);
}

static size_t probe_write(char *data, size_t size, size_t nmemb, void *user)
{
    struct probe *p = user;
    size_t n = size * nmemb, room = PROBE_BODY_MAX - 1 - p->body_len;

    if (n > room) {
        p->body_truncated = 1;
        n = room;
    }
    memcpy(p->body + p->body_len, data, n);
    p->body_len += n;
    p->body[p->body_len] = '\0';
    return size * nmemb;
}

CURL *probe_add(CURLM *m, const char *method, struct probe *p, long connect_ms,
                long total_ms)
{
    char url[1024];
    CURL *e;

    p->result = WHTTP_ERROR;
    p->status = 0;
    p->body[0] = '\0';
    p->body_len = 0;
    p->body_truncated = 0;
    if (whttp_url(url, sizeof(url), p->host, p->port, p->path) < 0)
        return NULL;
    e = curl_easy_init();
    if (e == NULL)
        return NULL;
    whttp_common(e, connect_ms, total_ms);
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, probe_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    /* A fresh connection per probe: a probe must see the worker as a new
     * client would. */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    if (curl_multi_add_handle(m, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

struct probe *probe_done(CURLM *m, CURLMsg *msg)
{
    struct probe *p = NULL;
    CURL *e = msg->easy_handle;

    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&p);
    if (p != NULL) {
        p->result = whttp_map(msg->data.result);
        if (p->result == WHTTP_OK)
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &p->status);
    }
    probe_cancel(m, e);
    return p;
}

void probe_cancel(CURLM *m, CURL *e)
{
    if (e == NULL)
        return;
    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
}

int probe_run(struct probe *p, size_t n, long connect_ms, long total_ms,
              size_t max_parallel)
{
    return probe_run_method("GET", p, n, connect_ms, total_ms, max_parallel);
}

int probe_run_method(const char *method, struct probe *p, size_t n,
                     long connect_ms, long total_ms, size_t max_parallel)
{
    CURLM *m;
    CURL **live; /* live[i]: probe i's handle while it runs */
    size_t next = 0, active = 0, i;
    int running = 0, rc = 0;

    for (i = 0; i < n; i++)
        p[i].result = WHTTP_ERROR;
    if (n == 0)
        return 0;
    if (max_parallel == 0 || max_parallel > n)
        max_parallel = n;
    live = calloc(n, sizeof(*live));
    m = curl_multi_init();
    if (m == NULL || live == NULL) {
        if (m != NULL)
            curl_multi_cleanup(m);
        free(live);
        return -1;
    }
    /* Connections are not shared between probes. */
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)max_parallel);

    while (next < n || active > 0) {
        CURLMsg *msg;
        int left;

        while (active < max_parallel && next < n) {
            live[next] = probe_add(m, method, &p[next], connect_ms, total_ms);
            if (live[next] != NULL)
                active++;
            next++;
        }
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            rc = -1;
            break;
        }
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            live[probe_done(m, msg) - p] = NULL;
            active--;
        }
        if (active > 0 && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK) {
            rc = -1;
            break;
        }
    }
    if (rc < 0) {
        /* libcurl failed as a whole: every probe still running is given
         * up (its handle freed), and every probe reads as an error. */
        for (i = 0; i < n; i++) {
            probe_cancel(m, live[i]);
            p[i].result = WHTTP_ERROR;
        }
    }
    curl_multi_cleanup(m);
    free(live);
    return rc;
}
