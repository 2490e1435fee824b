/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_handlers_fixture.c - what the handler suites share
 * (check_handlers.h): one handler context against the fake store, up to
 * three fake workers, and helpers that run one request through the route
 * table and read its answer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "check_handlers.h"
#include "jsonx.h"
#include "prog.h"

struct conf conf;
struct handler h;
struct request rq;
struct response r;
struct fake_worker w1, w2, w3; /* ids "w1"... in the store */
int early_status;              /* what reply_early sent; 0: not called */
int64_t started_ms, early_ms;

static int record_early(void *arg, struct response *resp)
{
    (void)arg;
    early_status = resp->status;
    early_ms = now_mono_ms();
    return 0;
}

void handlers_setup(void)
{
    fake_store_reset();
    prog_got_term = 0;
    ck_assert_int_eq(conf_defaults(&conf), 0);
    /* Every Redis read goes through the fake store; none reaches this. */
    snprintf(conf.redis, sizeof(conf.redis), "/nonexistent/redis.sock");
    conf.worker_connect_timeout_ms = 200;
    conf.worker_timeout_ms = WORKER_TIMEOUT_MS;
    conf.create_wait = 1;
    conf.create_attempts = 3;
    conf.create_hedge_min_ms = HEDGE_MIN_MS;
    conf.create_queue_max = 10;
    /* Fake workers listen on ports the kernel picks. */
    conf.worker_port_min = 1;
    conf.worker_port_max = 65535;
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_NOTHING), CURLE_OK);
    ck_assert_int_eq(handler_init(&h, &conf), 0);
    request_init(&rq, (size_t)conf.max_body);
    response_init(&r, (size_t)conf.max_body * 2 + 65536);
    memset(&w1, 0, sizeof(w1));
    memset(&w2, 0, sizeof(w2));
    memset(&w3, 0, sizeof(w3));
    early_status = 0;
}

void handlers_teardown(void)
{
    fake_worker_stop(&w1);
    fake_worker_stop(&w2);
    fake_worker_stop(&w3);
    response_release(&r);
    request_release(&rq);
    handler_release(&h);
    curl_global_cleanup();
}

/* Starts fw as worker id in state st (holding sid when busy) and tells
 * the store about it. */
void worker(struct fake_worker *fw, const char *id, enum worker_state st,
            const char *sid)
{
    ck_assert_int_eq(fake_worker_start(fw, id), 0);
    if (sid != NULL)
        fake_worker_hold(fw, sid);
    fake_store_add_worker(id, fw->port, st, sid);
}

/* Makes rq a fresh request method uri with body (NULL: none). */
void prepare(const char *method, const char *uri, const char *body)
{
    request_reset(&rq);
    snprintf(rq.method, sizeof(rq.method), "%s", method);
    snprintf(rq.uri, sizeof(rq.uri), "%s", uri);
    if (body != NULL) {
        buf_appends(&rq.body, body);
        rq.content_length = (long)strlen(body);
    }
    rq.reply_early = record_early;
}

/* Sends rq through the route table into a fresh r. */
void serve(void)
{
    response_reset(&r);
    early_status = 0;
    started_ms = rq.arrived_ms = now_mono_ms();
    router_serve(&h, &rq, &r);
}

void run(const char *method, const char *uri, const char *body)
{
    prepare(method, uri, body);
    serve();
}

long elapsed_ms(void)
{
    return (long)(now_mono_ms() - started_ms);
}

/* The "error" code of an error answer, "" for none. */
const char *error_code(void)
{
    static char code[64];
    struct json_object *o, *v;
    const char *why;

    code[0] = '\0';
    o = jsonx_parse(r.body.data, r.body.len, &why);
    if (o != NULL && json_object_object_get_ex(o, "error", &v))
        snprintf(code, sizeof(code), "%s", json_object_get_string(v));
    json_object_put(o);
    return code;
}

/* The value of extra header name, NULL when absent. */
const char *header(const char *name)
{
    int i;

    for (i = 0; i < r.nheaders; i++) {
        if (strcmp(r.header_name[i], name) == 0)
            return r.header_value[i];
    }
    return NULL;
}

int body_has(const char *s)
{
    return r.body.len > 0 && strstr(r.body.data, s) != NULL;
}
