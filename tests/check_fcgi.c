/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_fcgi.c - the HTTP edge of steel-fcgi without I/O: the route table,
 * the one JSON error shape, response serialization, request parameters and
 * the constant-time token comparison.
 */
#include "config.h"

#include <string.h>

#include "check_suites.h"
#include "jsonx.h"
#include "request.h"
#include "response.h"
#include "router.h"

static const struct {
    const char *method;
    const char *uri;
    enum route_result want;
    enum route_id id;
    const char *param;
} route_cases[] = {
    {"POST", "/sessions", ROUTE_OK, ROUTE_SESSIONS_CREATE, ""},
    {"GET", "/sessions", ROUTE_OK, ROUTE_SESSIONS_LIST, ""},
    {"GET", "/sessions?limit=5", ROUTE_OK, ROUTE_SESSIONS_LIST, ""},
    {"GET", "/sessions/abc-123", ROUTE_OK, ROUTE_SESSION_GET, "abc-123"},
    {"HEAD", "/sessions/abc", ROUTE_OK, ROUTE_SESSION_GET, "abc"},
    {"DELETE", "/sessions/abc", ROUTE_OK, ROUTE_SESSION_DELETE, "abc"},
    {"GET", "/sessions/abc?x=1", ROUTE_OK, ROUTE_SESSION_GET, "abc"},
    {"GET", "/health", ROUTE_OK, ROUTE_HEALTH, ""},
    {"GET", "/status", ROUTE_OK, ROUTE_STATUS, ""},
    {"GET", "/workers", ROUTE_OK, ROUTE_WORKERS, ""},
    {"GET", "/metrics", ROUTE_OK, ROUTE_METRICS, ""},
    {"PUT", "/sessions", ROUTE_BAD_METHOD, 0, ""},
    {"PUT", "/sessions/abc", ROUTE_BAD_METHOD, 0, ""},
    {"POST", "/health", ROUTE_BAD_METHOD, 0, ""},
    {"GET", "/", ROUTE_NO_PATH, 0, ""},
    {"GET", "/sessions/", ROUTE_NO_PATH, 0, ""},
    {"GET", "/sessions/a/b", ROUTE_NO_PATH, 0, ""},
    {"GET", "/sessionsX", ROUTE_NO_PATH, 0, ""},
    {"GET", "/health/", ROUTE_NO_PATH, 0, ""},
    {"GET", "/sessions/..%2F..%2Fetc", ROUTE_BAD_PARAM, 0, ""},
    {"GET", "/sessions/a%00b", ROUTE_BAD_PARAM, 0, ""},
    {"GET", "/sessions/a%0D%0Ab", ROUTE_BAD_PARAM, 0, ""},
    {"GET", "/sessions/..", ROUTE_BAD_PARAM, 0, ""},
    {"DELETE", "/sessions/a b", ROUTE_BAD_PARAM, 0, ""},
};

START_TEST(test_routes)
{
    struct route_match m;
    enum route_result rr =
        route_find(route_cases[_i].method, route_cases[_i].uri, &m);

    ck_assert_msg(rr == route_cases[_i].want, "case %d %s %s: got %d", _i,
                  route_cases[_i].method, route_cases[_i].uri, rr);
    if (rr == ROUTE_OK) {
        ck_assert_int_eq(m.id, route_cases[_i].id);
        ck_assert_str_eq(m.param, route_cases[_i].param);
    }
}
END_TEST

START_TEST(test_allow_header)
{
    struct route_match m;

    ck_assert_int_eq(route_find("PUT", "/sessions/abc", &m), ROUTE_BAD_METHOD);
    ck_assert_str_eq(m.allow, "GET, DELETE");
    ck_assert_int_eq(route_find("PATCH", "/sessions", &m), ROUTE_BAD_METHOD);
    ck_assert_str_eq(m.allow, "POST, GET");
}
END_TEST

START_TEST(test_long_id)
{
    char uri[6000];
    struct route_match m;

    strcpy(uri, "/sessions/");
    memset(uri + 10, 'a', 5000);
    uri[5010] = '\0';
    ck_assert_int_eq(route_find("GET", uri, &m), ROUTE_BAD_PARAM);
    uri[10 + SESSION_ID_MAX] = '\0';
    ck_assert_int_eq(route_find("GET", uri, &m), ROUTE_OK);
}
END_TEST

/* Every error code has a 4xx/5xx status and the body is valid JSON with
 * exactly the two string fields. */
START_TEST(test_error_shape)
{
    struct response r;
    struct json_object *o, *v;
    const char *why;

    response_init(&r, 4096);
    response_error(&r, (enum api_error)_i, "bad \"thing\"\n\x01 here");
    ck_assert_int_ge(r.status, 400);
    ck_assert_int_le(r.status, 599);
    ck_assert_str_eq(r.content_type, "application/json");
    o = jsonx_parse(r.body.data, r.body.len, &why);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(json_object_object_length(o), 2);
    ck_assert(json_object_object_get_ex(o, "error", &v));
    ck_assert_str_eq(json_object_get_string(v),
                     api_error_code((enum api_error)_i));
    ck_assert(json_object_object_get_ex(o, "message", &v));
    ck_assert_str_eq(json_object_get_string(v), "bad \"thing\" here");
    json_object_put(o);
    response_release(&r);
}
END_TEST

START_TEST(test_serialize)
{
    struct response r;
    struct buf out;

    response_init(&r, 4096);
    buf_init(&out, 8192);
    response_error(&r, API_ERR_NO_WORKER, "none");
    response_header(&r, "Retry-After", "%d", 3);
    ck_assert_int_eq(response_serialize(&r, &out), 0);
    ck_assert(strncmp(out.data, "Status: 503 Service Unavailable\r\n", 33) ==
              0);
    ck_assert_ptr_nonnull(strstr(out.data, "\r\nRetry-After: 3\r\n"));
    ck_assert_ptr_nonnull(
        strstr(out.data, "Content-Type: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "\r\n\r\n{\"error\": \"no_worker\""));

    response_reset(&r);
    buf_reset(&out);
    response_set(&r, 204, NULL, NULL, 0);
    ck_assert_int_eq(response_serialize(&r, &out), 0);
    ck_assert_str_eq(out.data, "Status: 204 No Content\r\n"
                               "Cache-Control: no-store\r\n\r\n");

    /* Header values lose control bytes: no header injection. */
    response_reset(&r);
    buf_reset(&out);
    response_set(&r, 200, "text/plain", "ok", 2);
    response_header(&r, "X-Test", "a\r\nSet-Cookie: x");
    ck_assert_int_eq(response_serialize(&r, &out), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "X-Test: aSet-Cookie: x\r\n"));

    /* A full output buffer is an error, not a truncated answer. */
    buf_release(&out);
    buf_init(&out, 10);
    ck_assert_int_eq(response_serialize(&r, &out), -1);
    buf_release(&out);
    response_release(&r);
}
END_TEST

static const char *fake_param(const char *name, void *arg)
{
    const char *const *kv = arg;

    for (; kv[0] != NULL; kv += 2) {
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    }
    return NULL;
}

START_TEST(test_request_params)
{
    static char longuri[9000];
    const char *kv[] = {"REQUEST_METHOD", "POST",
                        "REQUEST_URI", "/sessions",
                        "CONTENT_LENGTH", "17",
                        "HTTP_IDEMPOTENCY_KEY", "k1",
                        NULL, NULL};
    const char *kv2[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", longuri,
                         "CONTENT_LENGTH", "x1", NULL, NULL};
    struct request rq;

    request_init(&rq, 100);
    request_set_params(&rq, fake_param, (void *)kv);
    ck_assert_str_eq(rq.method, "POST");
    ck_assert_str_eq(rq.uri, "/sessions");
    ck_assert_int_eq(rq.content_length, 17);
    ck_assert_str_eq(rq.idempotency_key, "k1");
    ck_assert_str_eq(rq.authorization, "");

    memset(longuri, 'a', sizeof(longuri) - 1);
    request_reset(&rq);
    request_set_params(&rq, fake_param, (void *)kv2);
    ck_assert_int_eq(rq.uri_too_long, 1);
    ck_assert_int_eq(rq.content_length, -1);
    /* The longest URI that fits, and one byte more. */
    longuri[REQUEST_URI_MAX - 1] = '\0';
    request_reset(&rq);
    request_set_params(&rq, fake_param, (void *)kv2);
    ck_assert_int_eq(rq.uri_too_long, 0);
    longuri[REQUEST_URI_MAX - 1] = 'a';
    longuri[REQUEST_URI_MAX] = '\0';
    request_reset(&rq);
    request_set_params(&rq, fake_param, (void *)kv2);
    ck_assert_int_eq(rq.uri_too_long, 1);
    request_release(&rq);
}
END_TEST

START_TEST(test_token_equal)
{
    ck_assert(token_equal("secret", "secret"));
    ck_assert(!token_equal("secreT", "secret"));
    ck_assert(!token_equal("secret2", "secret"));
    ck_assert(!token_equal("secre", "secret"));
    ck_assert(!token_equal("", "secret"));
}
END_TEST

Suite *fcgi_suite(void)
{
    Suite *s = suite_create("fcgi");
    TCase *routes = tcase_create("routes");
    TCase *responses = tcase_create("responses");
    TCase *requests = tcase_create("requests");

    tcase_add_loop_test(routes, test_routes, 0,
                        (int)(sizeof(route_cases) / sizeof(route_cases[0])));
    tcase_add_test(routes, test_allow_header);
    tcase_add_test(routes, test_long_id);
    tcase_add_loop_test(responses, test_error_shape, 0, API_ERR_COUNT);
    tcase_add_test(responses, test_serialize);
    tcase_add_test(requests, test_request_params);
    tcase_add_test(requests, test_token_equal);
    suite_add_tcase(s, routes);
    suite_add_tcase(s, responses);
    suite_add_tcase(s, requests);
    return s;
}
