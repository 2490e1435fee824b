/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_access.c - who may call what: the access column of steel-fcgi's
 * route table (router.c) and the request limits decided before any
 * handler runs.  Requests go through router_serve() against the fake
 * store (fake_store.c), as in check_handlers.c; no worker is needed.
 *
 * The invariants tried here: authentication comes before any route or
 * method error; operator routes (the session list, /workers, /metrics)
 * need admin_token, and are closed to every client, loopback included,
 * when it is not set; /health is open to all.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "check_suites.h"
#include "fake_store.h"
#include "handler.h"
#include "jsonx.h"
#include "request.h"
#include "response.h"
#include "router.h"

static struct conf conf;
static struct handler h;
static struct request rq;
static struct response r;

static void setup(void)
{
    fake_store_reset();
    ck_assert_int_eq(conf_defaults(&conf), 0);
    /* Every Redis read goes through the fake store; none reaches this. */
    snprintf(conf.redis, sizeof(conf.redis), "/nonexistent/redis.sock");
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_NOTHING), CURLE_OK);
    ck_assert_int_eq(handler_init(&h, &conf), 0);
    request_init(&rq, (size_t)conf.max_body);
    response_init(&r, (size_t)conf.max_body * 2 + 65536);
}

static void teardown(void)
{
    response_release(&r);
    request_release(&rq);
    handler_release(&h);
    curl_global_cleanup();
}

static void prepare(const char *method, const char *uri)
{
    request_reset(&rq);
    snprintf(rq.method, sizeof(rq.method), "%s", method);
    snprintf(rq.uri, sizeof(rq.uri), "%s", uri);
}

static void serve(void)
{
    response_reset(&r);
    rq.arrived_ms = now_mono_ms();
    router_serve(&h, &rq, &r);
}

static void run(const char *method, const char *uri)
{
    prepare(method, uri);
    serve();
}

/* GET uri from client addr with bearer token (NULL: none); the status. */
static int get_from(const char *uri, const char *addr, const char *token)
{
    prepare("GET", uri);
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "%s", addr);
    if (token != NULL)
        snprintf(rq.authorization, sizeof(rq.authorization), "Bearer %s",
                 token);
    serve();
    return r.status;
}

/* The "error" code of an error answer, "" for none. */
static const char *error_code(void)
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

static const char *header(const char *name)
{
    int i;

    for (i = 0; i < r.nheaders; i++) {
        if (strcmp(r.header_name[i], name) == 0)
            return r.header_value[i];
    }
    return NULL;
}

static int body_has(const char *s)
{
    return r.body.len > 0 && strstr(r.body.data, s) != NULL;
}

START_TEST(test_access)
{
    snprintf(conf.api_token, sizeof(conf.api_token), "api");
    snprintf(conf.admin_token, sizeof(conf.admin_token), "adm");
    run("GET", "/sessions/s1");
    ck_assert_int_eq(r.status, 401);
    ck_assert_str_eq(header("WWW-Authenticate"), "Bearer");
    prepare("GET", "/sessions/s1");
    snprintf(rq.authorization, sizeof(rq.authorization), "Bearer api");
    serve();
    ck_assert_int_eq(r.status, 404); /* let in: no such session */
    snprintf(rq.uri, sizeof(rq.uri), "/workers");
    serve();
    ck_assert_int_eq(r.status, 401); /* the api token is not the admin's */
    snprintf(rq.authorization, sizeof(rq.authorization), "Bearer adm");
    serve();
    ck_assert_int_eq(r.status, 200);
    ck_assert(body_has("\"workers\":[]"));
}
END_TEST

/* Authentication comes before any route or method error; the scheme is
 * matched in any case; a header too long for any token never passes. */
START_TEST(test_auth_first)
{
    char big[REQUEST_AUTH_MAX + 8];

    snprintf(conf.api_token, sizeof(conf.api_token), "api");
    run("GET", "/nope");
    ck_assert_int_eq(r.status, 401); /* not 404 */
    run("PUT", "/sessions");
    ck_assert_int_eq(r.status, 401); /* not 405 */
    run("GET", "/sessions/a%2Fb");
    ck_assert_int_eq(r.status, 401); /* not 400 */
    run("GET", "/health");
    ck_assert_int_eq(r.status, 200); /* open as ever */
    prepare("GET", "/nope");
    snprintf(rq.authorization, sizeof(rq.authorization), "bearer  api");
    serve();
    ck_assert_int_eq(r.status, 404); /* known: the route error now */
    prepare("GET", "/sessions/s1");
    snprintf(rq.authorization, sizeof(rq.authorization), "BEARER api");
    serve();
    ck_assert_int_eq(r.status, 404);
    /* "Bearer api" + garbage cut to fit must not pass as "Bearer api". */
    memset(big, 'x', sizeof(big));
    memcpy(big, "Bearer api", 10);
    big[sizeof(big) - 1] = '\0';
    prepare("GET", "/sessions/s1");
    snprintf(rq.authorization, sizeof(rq.authorization), "%s", big);
    rq.auth_too_long = 1;
    serve();
    ck_assert_int_eq(r.status, 401);
}
END_TEST

/* An over-long path is 414; a path shown in an error is cut on a
 * character boundary, and bad UTF-8 never reaches the JSON. */
START_TEST(test_uri_limits)
{
    char uri[300];
    int i, n = 0;
    enum jsonx_type type;
    const char *why = NULL;

    prepare("GET", "/x");
    rq.uri_too_long = 1;
    serve();
    ck_assert_int_eq(r.status, 414);
    ck_assert_str_eq(error_code(), "uri_too_long");
    /* A stray byte, then 2-byte characters across the 100-byte cut. */
    n += snprintf(uri + n, sizeof(uri) - n, "/n\xff");
    for (i = 0; i < 60; i++)
        n += snprintf(uri + n, sizeof(uri) - n, "\xc3\xa9"); /* é */
    run("GET", uri);
    ck_assert_int_eq(r.status, 404);
    ck_assert_int_eq(jsonx_validate(r.body.data, r.body.len, &type, &why), 0);
    ck_assert_int_eq(type, JSONX_OBJECT);
    ck_assert_ptr_null(strstr(r.body.data, "\xc3\""));
}
END_TEST

/* What counts as a loopback client. */
START_TEST(test_loopback_addr)
{
    ck_assert_int_eq(addr_is_loopback("127.0.0.1"), 1);
    ck_assert_int_eq(addr_is_loopback("127.255.3.4"), 1);
    ck_assert_int_eq(addr_is_loopback("::1"), 1);
    ck_assert_int_eq(addr_is_loopback("::ffff:127.0.0.1"), 1);
    ck_assert_int_eq(addr_is_loopback("0:0:0:0:0:0:0:1"), 1);
    ck_assert_int_eq(addr_is_loopback("128.0.0.1"), 0);
    ck_assert_int_eq(addr_is_loopback("10.0.0.1"), 0);
    ck_assert_int_eq(addr_is_loopback("192.0.2.2"), 0);
    ck_assert_int_eq(addr_is_loopback("::2"), 0);
    ck_assert_int_eq(addr_is_loopback("fd00::1"), 0);
    ck_assert_int_eq(addr_is_loopback("::ffff:10.0.0.1"), 0);
    ck_assert_int_eq(addr_is_loopback("::127.0.0.1"), 0);
    ck_assert_int_eq(addr_is_loopback(""), 0);
    ck_assert_int_eq(addr_is_loopback("127.0.0.1x"), 0);
    ck_assert_int_eq(addr_is_loopback("localhost"), 0);
    ck_assert_int_eq(addr_is_loopback("/run/lighttpd.sock"), 0);
}
END_TEST

/* The decision itself, for each configuration. */
START_TEST(test_router_access)
{
    /* Nothing set: the API is open; operator routes are closed, to
     * loopback clients too (workers reach loopback). */
    prepare("GET", "/workers");
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "10.1.2.3");
    ck_assert_int_eq(router_access(&conf, &rq, 0), ROUTER_ALLOW);
    ck_assert_int_eq(router_access(&conf, &rq, 1), ROUTER_FORBIDDEN);
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "::1");
    ck_assert_int_eq(router_access(&conf, &rq, 1), ROUTER_FORBIDDEN);
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "127.0.0.1");
    ck_assert_int_eq(router_access(&conf, &rq, 1), ROUTER_FORBIDDEN);
    /* api_token only: it is needed on the API, and does not open the
     * operator routes, from loopback neither. */
    snprintf(conf.api_token, sizeof(conf.api_token), "api");
    ck_assert_int_eq(router_access(&conf, &rq, 0), ROUTER_UNAUTHORIZED);
    snprintf(rq.authorization, sizeof(rq.authorization), "Bearer api");
    ck_assert_int_eq(router_access(&conf, &rq, 1), ROUTER_FORBIDDEN);
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "10.1.2.3");
    ck_assert_int_eq(router_access(&conf, &rq, 0), ROUTER_ALLOW);
    ck_assert_int_eq(router_access(&conf, &rq, 1), ROUTER_FORBIDDEN);
    /* admin_token set: it opens operator routes from anywhere, and only
     * it does, loopback included. */
    snprintf(conf.admin_token, sizeof(conf.admin_token), "adm");
    ck_assert_int_eq(router_access(&conf, &rq, 1), ROUTER_UNAUTHORIZED);
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "127.0.0.1");
    ck_assert_int_eq(router_access(&conf, &rq, 1), ROUTER_UNAUTHORIZED);
    snprintf(rq.authorization, sizeof(rq.authorization), "Bearer adm");
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "10.1.2.3");
    ck_assert_int_eq(router_access(&conf, &rq, 1), ROUTER_ALLOW);
    ck_assert_int_eq(router_access(&conf, &rq, 0), ROUTER_UNAUTHORIZED);
}
END_TEST

/* Through the route table: which routes are operator routes, and the
 * 403's JSON says how to open them. */
START_TEST(test_operator_routes)
{
    static const char *const operator_uris[] = {
        "/sessions", "/sessions?limit=5", "/workers", "/metrics"};
    size_t i;

    for (i = 0; i < sizeof(operator_uris) / sizeof(operator_uris[0]); i++) {
        ck_assert_int_eq(get_from(operator_uris[i], "192.0.2.9", NULL), 403);
        ck_assert_str_eq(error_code(), "forbidden");
        ck_assert(body_has("set admin_token"));
        ck_assert_int_eq(get_from(operator_uris[i], "", NULL), 403);
        ck_assert_int_eq(get_from(operator_uris[i], "127.0.0.1", NULL), 403);
        ck_assert_int_eq(get_from(operator_uris[i], "::1", NULL), 403);
    }
    /* The API and /health are not operator routes. */
    ck_assert_int_eq(get_from("/sessions/s1", "192.0.2.9", NULL), 404);
    ck_assert_int_eq(get_from("/status", "192.0.2.9", NULL), 200);
    ck_assert_int_eq(get_from("/health", "192.0.2.9", NULL), 200);
    prepare("HEAD", "/workers");
    snprintf(rq.remote_addr, sizeof(rq.remote_addr), "192.0.2.9");
    serve();
    ck_assert_int_eq(r.status, 403);
    /* With admin_token the address no longer matters; the token does. */
    snprintf(conf.admin_token, sizeof(conf.admin_token), "adm");
    ck_assert_int_eq(get_from("/sessions", "192.0.2.9", "adm"), 200);
    ck_assert(body_has("\"sessions\":[]"));
    ck_assert_int_eq(get_from("/workers", "::1", "adm"), 200);
    ck_assert_int_eq(get_from("/sessions", "127.0.0.1", NULL), 401);
    ck_assert_str_eq(header("WWW-Authenticate"), "Bearer");
}
END_TEST

Suite *access_suite(void)
{
    Suite *s = suite_create("access");
    TCase *tc = tcase_create("access");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_access);
    tcase_add_test(tc, test_auth_first);
    tcase_add_test(tc, test_uri_limits);
    tcase_add_test(tc, test_loopback_addr);
    tcase_add_test(tc, test_router_access);
    tcase_add_test(tc, test_operator_routes);
    return s;
}
