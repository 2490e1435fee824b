/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * check_jsonx.c - strict JSON parsing of client bodies and worker replies;
 * the one form of the fractions the API writes.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "jsonx.h"
#include "util.h"

static const struct {
    const char *in;
    int ok;
} parse_cases[] = {
    {"{}", 1},
    {"{\"user\":\"alice\"}", 1},
    {"  {\"a\":[1,2,{\"b\":null}]}\n", 1},
    {"[1,2]", 1},
    {"42", 1},
    {"\"s\"", 1},
    {"", 0},
    {"{", 0},
    {"{} junk", 0},
    {"{}{}", 0},
    {"{'a':1}", 0},
    {"{\"a\":1,}", 0},
    {"nul", 0},
    {"{\"a\":01}", 0},
    {"{\"a\":1.}", 0},
    {"{\"a\":-}", 0},
    {"{\"a\":1e}", 0},
    {"{\"a\":12345678901234567890123}", 1},
    {"{\"a\":-0.5e+10}", 1},
    {"{\"a\":\"\\u00e9\\n\\/\"}", 1},
    {"{\"a\":\"\\x41\"}", 0},
    {"{\"a\":\"\\u12\"}", 0},
    {"{\"a\":\"\\u0000\"}", 0},
    {"{\"a\":\"tab\there\"}", 0},
    {"{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}", 1},
    {"{\"a\":\"\xc3\"}", 0},
    {"{\"a\":\"\xed\xa0\x80\"}", 0},
    {"{\"a\":\"\xc0\xaf\"}", 0},
    {"{1:2}", 0},
    {"{\"a\" 1}", 0},
    {"[1 2]", 0},
    {"[,]", 0},
    {"TRUE", 0},
    {" ", 0},
};

START_TEST(test_parse)
{
    const char *why = NULL;
    const char *in = parse_cases[_i].in;
    struct json_object *o = jsonx_parse(in, strlen(in), &why);

    if (parse_cases[_i].ok) {
        ck_assert_msg(o != NULL, "case %d (%s): %s", _i, in, why);
        json_object_put(o);
    } else {
        ck_assert_msg(o == NULL, "case %d (%s) should fail", _i, in);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

/* Writes "{"data":" + depth nested arrays + "}" (or just the arrays when
 * wrap is 0) into out; returns the length. */
static size_t nested(char *out, int depth, int wrap)
{
    size_t n = 0;
    int i;

    if (wrap) {
        memcpy(out, "{\"data\":", 8);
        n = 8;
    }
    for (i = 0; i < depth; i++)
        out[n++] = '[';
    for (i = 0; i < depth; i++)
        out[n++] = ']';
    if (wrap)
        out[n++] = '}';
    out[n] = '\0';
    return n;
}

START_TEST(test_depth_limit)
{
    char doc[400];
    const char *why = NULL;
    enum jsonx_type t;
    size_t n;

    n = nested(doc, JSONX_DEPTH_MAX + 1, 0);
    ck_assert_int_eq(jsonx_validate(doc, n, &t, &why), -1);
    ck_assert_str_eq(why, "JSON nested too deeply");
    n = nested(doc, JSONX_DEPTH_MAX, 0);
    ck_assert_int_eq(jsonx_validate(doc, n, &t, &why), 0);
    n = nested(doc, 100, 0);
    ck_assert_ptr_null(jsonx_parse(doc, n, &why));
}
END_TEST

/* The deepest body a client may send, echoed by a worker inside its reply
 * object, must still parse as a reply. */
START_TEST(test_deepest_body_reply)
{
    char body[200], reply[300], id[SESSION_ID_MAX + 1];
    const char *why = NULL;
    enum jsonx_type t;
    size_t n = nested(body, JSONX_DEPTH_MAX, 0);

    ck_assert_int_eq(jsonx_validate(body, n, &t, &why), 0);
    n = (size_t)snprintf(reply, sizeof(reply),
                         "{\"id\":\"x\",\"created_at\":1,\"data\":%s}", body);
    ck_assert_msg(jsonx_worker_session(reply, n, id, sizeof(id), &why) == 0,
                  "%s", why);
    ck_assert_str_eq(id, "x");
}
END_TEST

START_TEST(test_nul_byte)
{
    const char in[] = "{\"a\":\"x\0y\"}";
    const char *why = NULL;

    ck_assert_ptr_null(jsonx_parse(in, sizeof(in) - 1, &why));
}
END_TEST

START_TEST(test_validate_types)
{
    enum jsonx_type t;
    const char *why;

    ck_assert_int_eq(jsonx_validate(" {} ", 4, &t, &why), 0);
    ck_assert_int_eq(t, JSONX_OBJECT);
    ck_assert_int_eq(jsonx_validate("[1]", 3, &t, &why), 0);
    ck_assert_int_eq(t, JSONX_ARRAY);
    ck_assert_int_eq(jsonx_validate("\"x\"", 3, &t, &why), 0);
    ck_assert_int_eq(t, JSONX_STRING);
    ck_assert_int_eq(jsonx_validate("-1.5", 4, &t, &why), 0);
    ck_assert_int_eq(t, JSONX_NUMBER);
    ck_assert_int_eq(jsonx_validate("null", 4, &t, &why), 0);
    ck_assert_int_eq(t, JSONX_LITERAL);
}
END_TEST

/* I-JSON (RFC 7493) for a client's body: what a worker's parser could
 * read differently is refused; the same documents stay plain JSON. */
static const struct {
    const char *doc;
    int ok; /* jsonx_validate_body's verdict */
} body_cases[] = {
    {"{\"a\":1,\"b\":2}", 1},
    {"{\"a\":1,\"a\":2}", 0},
    {"{\"a\":1,\"\\u0061\":2}", 0},           /* equal once unescaped */
    {"{\"x\":{\"b\":1,\"b\":2}}", 0},             /* nested */
    {"[{\"a\":1},{\"a\":2}]", 1},                /* two objects */
    {"{\"a\":{\"a\":1}}", 1},                   /* one per object */
    {"{\"s\":\"\\ud83d\\ude00\"}", 1},             /* a pair */
    {"{\"s\":\"\\ud800\"}", 0},                    /* high alone */
    {"{\"s\":\"\\udc00\"}", 0},                    /* low alone */
    {"{\"s\":\"\\udc00\\ud800\"}", 0},             /* reversed */
    {"{\"s\":\"\\ud800x\"}", 0},
    {"{\"s\":\"\\ud800\\n\"}", 0},
    {"{\"n\":1e308}", 1},
    {"{\"n\":1e309}", 0},
    {"{\"n\":-1e999}", 0},
    {"{\"n\":1e-999}", 1}, /* underflows to 0: the range is kept */
    {"{\"n\":12345678901234567890}", 1},
};

START_TEST(test_body_ijson)
{
    enum jsonx_type t;
    const char *why = NULL, *doc = body_cases[_i].doc;
    size_t n = strlen(doc);

    /* Every case is RFC 8259 JSON: a worker's reply may hold any. */
    ck_assert_msg(jsonx_validate(doc, n, &t, &why) == 0, "%s: %s", doc, why);
    why = NULL;
    ck_assert_msg((jsonx_validate_body(doc, n, &t, &why) == 0) ==
                      body_cases[_i].ok,
                  "%s: want %s (%s)", doc, body_cases[_i].ok ? "ok" : "refused",
                  why != NULL ? why : "accepted");
    if (!body_cases[_i].ok)
        ck_assert_ptr_nonnull(why);
}
END_TEST

/* A number of 400 digits is beyond a double's range, and one of
 * JSONX_NUMBER_MAX + 1 characters is refused whatever its value. */
START_TEST(test_body_long_numbers)
{
    char doc[512];
    enum jsonx_type t;
    const char *why = NULL;
    size_t n;

    n = (size_t)snprintf(doc, sizeof(doc), "{\"n\":%0400d}", 7);
    doc[5] = '9'; /* no leading zero */
    ck_assert_int_eq(jsonx_validate(doc, n, &t, &why), 0);
    ck_assert_int_eq(jsonx_validate_body(doc, n, &t, &why), -1);
    n = (size_t)snprintf(doc, sizeof(doc), "{\"n\":0.%0*d}",
                         JSONX_NUMBER_MAX - 2, 1);
    ck_assert_int_eq(jsonx_validate_body(doc, n, &t, &why), 0);
    n = (size_t)snprintf(doc, sizeof(doc), "{\"n\":0.%0*d}",
                         JSONX_NUMBER_MAX - 1, 1);
    ck_assert_int_eq(jsonx_validate_body(doc, n, &t, &why), -1);
    ck_assert_str_eq(why, "number longer than a double needs");
}
END_TEST

START_TEST(test_worker_session)
{
    char id[SESSION_ID_MAX + 1];
    const char *why = NULL;
    const char *ok = "{\"id\":\"6f1c-22\",\"created_at\":1,\"data\":{}}";
    const char *noid = "{\"created_at\":1}";
    const char *numid = "{\"id\":5}";
    const char *badid = "{\"id\":\"../x\"}";

    ck_assert_int_eq(jsonx_worker_session(ok, strlen(ok), id, sizeof(id),
                                          &why),
                     0);
    ck_assert_str_eq(id, "6f1c-22");
    ck_assert_int_eq(jsonx_worker_session(noid, strlen(noid), id, sizeof(id),
                                          &why),
                     -1);
    ck_assert_int_eq(jsonx_worker_session(numid, strlen(numid), id,
                                          sizeof(id), &why),
                     -1);
    ck_assert_int_eq(jsonx_worker_session(badid, strlen(badid), id,
                                          sizeof(id), &why),
                     -1);
    ck_assert_int_eq(jsonx_worker_session("[]", 2, id, sizeof(id), &why), -1);
    /* JSON null is valid JSON but no reply: the reason is still said. */
    why = NULL;
    ck_assert_int_eq(jsonx_worker_session("null", 4, id, sizeof(id), &why),
                     -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_str_eq(why, "reply is not a JSON object");
}
END_TEST

START_TEST(test_worker_status)
{
    char sid[SESSION_ID_MAX + 1];
    const char *why = NULL;
    int avail = -1;
    const char *idle = "{\"available\":true,\"session_id\":null}";
    const char *busy = "{\"available\":false,\"session_id\":\"abc\"}";
    const char *bad = "{\"available\":\"yes\"}";

    ck_assert_int_eq(jsonx_worker_status(idle, strlen(idle), &avail, sid,
                                         sizeof(sid), &why),
                     0);
    ck_assert_int_eq(avail, 1);
    ck_assert_str_eq(sid, "");
    ck_assert_int_eq(jsonx_worker_status(busy, strlen(busy), &avail, sid,
                                         sizeof(sid), &why),
                     0);
    ck_assert_int_eq(avail, 0);
    ck_assert_str_eq(sid, "abc");
    ck_assert_int_eq(jsonx_worker_status(bad, strlen(bad), &avail, sid,
                                         sizeof(sid), &why),
                     -1);
}
END_TEST

static const struct {
    double in;
    const char *out;
} fraction_cases[] = {
    {55.779000000000003, "55.779"}, /* 55779 ms of a session's TTL */
    {55779 / 1000.0, "55.779"},
    {0.0, "0.000"},
    {0.1, "0.100"},
    {1.0, "1.000"},
    {0.0005, "0.001"}, /* rounded, not cut */
    {2.9999, "3.000"},
    {-1.5, "-1.500"},
    {-0.0004, "0.000"}, /* no "-0.000" */
    {-0.0, "0.000"},
    {86400000.25, "86400000.250"},
};

START_TEST(test_fraction_format)
{
    char out[64];
    int n = jsonx_fraction_format(out, sizeof(out), fraction_cases[_i].in);

    ck_assert_int_eq(n, (int)strlen(fraction_cases[_i].out));
    ck_assert_str_eq(out, fraction_cases[_i].out);
}
END_TEST

/* In an object: the fixed form is what json-c writes, and a JSON parser
 * reads the number back. */
START_TEST(test_fraction_json)
{
    struct json_object *o = json_object_new_object(), *back, *v;
    const char *s;

    json_object_object_add(o, "expires_in",
                           jsonx_new_fraction(55.779000000000003));
    json_object_object_add(o, "zero", jsonx_new_fraction(0.0));
    s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    ck_assert_str_eq(s, "{\"expires_in\":55.779,\"zero\":0.000}");
    back = json_tokener_parse(s);
    ck_assert_ptr_nonnull(back);
    ck_assert(json_object_object_get_ex(back, "expires_in", &v));
    ck_assert(json_object_is_type(v, json_type_double));
    ck_assert(fabs(json_object_get_double(v) - 55.779) < 1e-9);
    ck_assert(json_object_object_get_ex(o, "expires_in", &v));
    ck_assert(json_object_get_double(v) == 55.779000000000003);
    json_object_put(back);
    json_object_put(o);
}
END_TEST

/* What JSON cannot carry, or a buffer too small, never makes bad JSON. */
START_TEST(test_fraction_limits)
{
    char out[8];
    struct json_object *o;
    const char *s;

    ck_assert_int_eq(jsonx_fraction_format(out, sizeof(out), NAN), 5);
    ck_assert_str_eq(out, "0.000");
    ck_assert_int_eq(jsonx_fraction_format(out, sizeof(out), INFINITY), 5);
    ck_assert_str_eq(out, "0.000");
    ck_assert_int_eq(jsonx_fraction_format(out, sizeof(out), -INFINITY), 5);
    ck_assert_int_eq(jsonx_fraction_format(out, sizeof(out), 123.5), 7);
    ck_assert_str_eq(out, "123.500");
    ck_assert_int_eq(jsonx_fraction_format(out, sizeof(out), 12345.5), -1);
    /* Too long for the fixed form: one JSON number all the same. */
    o = jsonx_new_fraction(1e300);
    s = json_object_to_json_string(o);
    ck_assert_str_eq(s, "1.0000000000000001e+300");
    json_object_put(o);
}
END_TEST

Suite *jsonx_suite(void)
{
    Suite *s = suite_create("jsonx");
    TCase *normal = tcase_create("normal");
    TCase *limits = tcase_create("limits");

    tcase_add_loop_test(normal, test_parse, 0,
                        (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
    tcase_add_test(normal, test_validate_types);
    tcase_add_test(normal, test_worker_session);
    tcase_add_test(normal, test_worker_status);
    tcase_add_test(limits, test_depth_limit);
    tcase_add_test(limits, test_deepest_body_reply);
    tcase_add_test(limits, test_nul_byte);
    tcase_add_loop_test(limits, test_body_ijson, 0,
                        (int)(sizeof(body_cases) / sizeof(body_cases[0])));
    tcase_add_test(limits, test_body_long_numbers);
    tcase_add_loop_test(
        normal, test_fraction_format, 0,
        (int)(sizeof(fraction_cases) / sizeof(fraction_cases[0])));
    tcase_add_test(normal, test_fraction_json);
    tcase_add_test(limits, test_fraction_limits);
    suite_add_tcase(s, normal);
    suite_add_tcase(s, limits);
    return s;
}
