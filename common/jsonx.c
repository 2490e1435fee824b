/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * jsonx.c - strict, bounded JSON parsing with json-c (jsonx.h).
 *
 * json_tokener on its own accepts a prefix of its input ("{} junk"); we
 * require that the parse consumes everything but trailing white space.
 *
 * A client's body is held to I-JSON (RFC 7493) as well, since it goes to
 * a worker whose JSON parser nobody knows: no duplicate member names
 * (checked by comparing the members the scanner saw with those json-c
 * kept, as json-c keeps the last of duplicates), no escaped lone
 * surrogate, and numbers a double holds (finite, at most
 * JSONX_NUMBER_MAX characters).  Worker replies keep plain RFC 8259, so
 * a worker's own choices never make it look broken.
 *
 * Every fraction the API writes is made by jsonx_new_fraction, so all of
 * them have one fixed number of decimals.  (The programs never call
 * setlocale(3): "%f" writes a '.' whatever the environment.)
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "util.h"

struct jsonx_scan {
    const unsigned char *p;   /* next byte */
    const unsigned char *end; /* one past the last byte */
    const char *why;          /* first error found */
    int max_depth;            /* containers allowed inside each other */
    int ijson;                /* also the I-JSON rules of a client body */
    size_t members;           /* object members seen */
};

static int scan_fail(struct jsonx_scan *sc, const char *why)
{
    if (sc->why == NULL)
        sc->why = why;
    return -1;
}

static void scan_ws(struct jsonx_scan *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
                               *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

static int scan_hex4(struct jsonx_scan *sc, unsigned *out)
{
    unsigned v = 0;
    int i;

    if (sc->end - sc->p < 4)
        return scan_fail(sc, "invalid JSON: short \\u escape");
    for (i = 0; i < 4; i++) {
        unsigned char c = *sc->p++;

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return scan_fail(sc, "invalid JSON: bad \\u escape");
    }
    *out = v;
    return 0;
}

/* One UTF-8 sequence starting at sc->p (first byte >= 0x80). */
static int scan_utf8(struct jsonx_scan *sc)
{
    unsigned char c = *sc->p;
    unsigned cp, min;
    int n, i;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 1, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return scan_fail(sc, "invalid JSON: bad UTF-8");
    }
    if (sc->end - sc->p < n + 1)
        return scan_fail(sc, "invalid JSON: truncated UTF-8");
    for (i = 1; i <= n; i++) {
        if ((sc->p[i] & 0xc0) != 0x80)
            return scan_fail(sc, "invalid JSON: bad UTF-8");
        cp = (cp << 6) | (sc->p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return scan_fail(sc, "invalid JSON: bad UTF-8");
    sc->p += n + 1;
    return 0;
}

/* After the escape \\u<u>: a high surrogate must be followed by the
 * escape of a low one, and a low one never comes alone. */
static int scan_surrogate(struct jsonx_scan *sc, unsigned u)
{
    unsigned low;

    if (u >= 0xdc00 && u <= 0xdfff)
        return scan_fail(sc, "invalid JSON: lone surrogate \\u escape");
    if (u < 0xd800 || u > 0xdbff)
        return 0;
    if (sc->end - sc->p < 2 || sc->p[0] != '\\' || sc->p[1] != 'u')
        return scan_fail(sc, "invalid JSON: lone surrogate \\u escape");
    sc->p += 2;
    if (scan_hex4(sc, &low) < 0)
        return -1;
    if (low < 0xdc00 || low > 0xdfff)
        return scan_fail(sc, "invalid JSON: lone surrogate \\u escape");
    return 0;
}

static int scan_string(struct jsonx_scan *sc)
{
    sc->p++; /* the opening quote */
    while (sc->p < sc->end) {
        unsigned char c = *sc->p;
        unsigned u;

        if (c == '"') {
            sc->p++;
            return 0;
        }
        if (c < 0x20)
            return scan_fail(sc, "invalid JSON: control character in "
                                 "string");
        if (c >= 0x80) {
            if (scan_utf8(sc) < 0)
                return -1;
            continue;
        }
        sc->p++;
        if (c != '\\')
            continue;
        if (sc->p >= sc->end)
            break;
        c = *sc->p++;
        if (c == 'u') {
            if (scan_hex4(sc, &u) < 0)
                return -1;
            if (u == 0)
                return scan_fail(sc, "NUL character in JSON string");
            if (sc->ijson && scan_surrogate(sc, u) < 0)
                return -1;
        } else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0') {
            return scan_fail(sc, "invalid JSON: bad escape");
        }
    }
    return scan_fail(sc, "invalid JSON: unterminated string");
}

static int scan_digits(struct jsonx_scan *sc)
{
    const unsigned char *start = sc->p;

    while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
        sc->p++;
    return sc->p > start ? 0 : scan_fail(sc, "invalid JSON: bad number");
}

static int scan_number_syntax(struct jsonx_scan *sc)
{
    if (*sc->p == '-')
        sc->p++;
    if (sc->p < sc->end && *sc->p == '0')
        sc->p++;
    else if (scan_digits(sc) < 0)
        return -1;
    if (sc->p < sc->end && *sc->p == '.') {
        sc->p++;
        if (scan_digits(sc) < 0)
            return -1;
    }
    if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
        sc->p++;
        if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
            sc->p++;
        if (scan_digits(sc) < 0)
            return -1;
    }
    return 0;
}

/* I-JSON: the number start[0..len) fits a double. */
static int number_fits(struct jsonx_scan *sc, const unsigned char *start,
                       size_t len)
{
    char text[JSONX_NUMBER_MAX + 1];
    double v;

    if (len > JSONX_NUMBER_MAX)
        return scan_fail(sc, "number longer than a double needs");
    memcpy(text, start, len);
    text[len] = '\0';
    v = strtod(text, NULL);
    if (isinf(v))
        return scan_fail(sc, "number out of the range of a double");
    return 0;
}

static int scan_number(struct jsonx_scan *sc)
{
    const unsigned char *start = sc->p;

    if (scan_number_syntax(sc) < 0)
        return -1;
    return sc->ijson ? number_fits(sc, start, (size_t)(sc->p - start)) : 0;
}

static int scan_literal(struct jsonx_scan *sc, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0)
        return scan_fail(sc, "invalid JSON");
    sc->p += n;
    return 0;
}

static int scan_value(struct jsonx_scan *sc, int depth,
                      enum jsonx_type *type);

/* An object or array; close is '}' or ']'. */
static int scan_container(struct jsonx_scan *sc, int depth, char close)
{
    enum jsonx_type t;
    int first = 1;

    if (depth >= sc->max_depth)
        return scan_fail(sc, "JSON nested too deeply");
    sc->p++;
    for (;;) {
        scan_ws(sc);
        if (sc->p >= sc->end)
            return scan_fail(sc, "invalid JSON: unexpected end");
        if (*sc->p == (unsigned char)close && first) {
            sc->p++;
            return 0;
        }
        if (close == '}') {
            if (*sc->p != '"')
                return scan_fail(sc, "invalid JSON: expected a string key");
            if (scan_string(sc) < 0)
                return -1;
            sc->members++;
            scan_ws(sc);
            if (sc->p >= sc->end || *sc->p != ':')
                return scan_fail(sc, "invalid JSON: expected ':'");
            sc->p++;
        }
        if (scan_value(sc, depth + 1, &t) < 0)
            return -1;
        scan_ws(sc);
        if (sc->p >= sc->end)
            return scan_fail(sc, "invalid JSON: unexpected end");
        if (*sc->p == (unsigned char)close) {
            sc->p++;
            return 0;
        }
        if (*sc->p != ',')
            return scan_fail(sc, "invalid JSON: expected ',' or the end "
                                 "of a container");
        sc->p++;
        first = 0;
    }
}

static int scan_value(struct jsonx_scan *sc, int depth, enum jsonx_type *type)
{
    scan_ws(sc);
    if (sc->p >= sc->end)
        return scan_fail(sc, "invalid JSON: unexpected end");
    switch (*sc->p) {
    case '{':
        *type = JSONX_OBJECT;
        return scan_container(sc, depth, '}');
    case '[':
        *type = JSONX_ARRAY;
        return scan_container(sc, depth, ']');
    case '"':
        *type = JSONX_STRING;
        return scan_string(sc);
    case 't':
        *type = JSONX_LITERAL;
        return scan_literal(sc, "true");
    case 'f':
        *type = JSONX_LITERAL;
        return scan_literal(sc, "false");
    case 'n':
        *type = JSONX_LITERAL;
        return scan_literal(sc, "null");
    default:
        if (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9')) {
            *type = JSONX_NUMBER;
            return scan_number(sc);
        }
    }
    return scan_fail(sc, "invalid JSON");
}

static int jsonx_validate_depth(const char *s, size_t len, int max_depth,
                                int ijson, size_t *members,
                                enum jsonx_type *type, const char **why)
{
    struct jsonx_scan sc;

    sc.max_depth = max_depth;
    sc.ijson = ijson;
    sc.members = 0;
    sc.p = (const unsigned char *)s;
    sc.end = sc.p + len;
    sc.why = NULL;
    scan_ws(&sc);
    if (sc.p >= sc.end) {
        *why = "empty body";
        return -1;
    }
    if (scan_value(&sc, 0, type) < 0) {
        *why = sc.why;
        return -1;
    }
    scan_ws(&sc);
    if (sc.p != sc.end) {
        *why = "invalid JSON: trailing data";
        return -1;
    }
    if (members != NULL)
        *members = sc.members;
    return 0;
}

int jsonx_validate(const char *s, size_t len, enum jsonx_type *type,
                   const char **why)
{
    return jsonx_validate_depth(s, len, JSONX_DEPTH_MAX, 0, NULL, type, why);
}

/* The members of every object in v, nested ones included. */
static size_t count_members(struct json_object *v)
{
    size_t n = 0, i, len;

    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, member)
        {
            (void)key;
            n += 1 + count_members(member);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        len = json_object_array_length(v);
        for (i = 0; i < len; i++)
            n += count_members(json_object_array_get_idx(v, i));
    }
    return n;
}

int jsonx_validate_body(const char *s, size_t len, enum jsonx_type *type,
                        const char **why)
{
    struct json_tokener *tok;
    struct json_object *v;
    size_t members;
    int rc = -1;

    if (jsonx_validate_depth(s, len, JSONX_DEPTH_MAX, 1, &members, type,
                             why) < 0)
        return -1;
    if (members < 2)
        return 0;
    if (len > (size_t)0x7fffffff) {
        *why = "body too large";
        return -1;
    }
    /* Valid JSON with at least one object: json-c parses it in one call
     * (the outermost container is a level of its own to json-c). */
    tok = json_tokener_new_ex(JSONX_DEPTH_MAX + 1);
    if (tok == NULL) {
        *why = "out of memory";
        return -1;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, s, (int)len);
    if (v == NULL || json_tokener_get_error(tok) != json_tokener_success)
        *why = "invalid JSON";
    else if (count_members(v) != members)
        *why = "duplicate member name in an object";
    else
        rc = 0;
    json_object_put(v);
    json_tokener_free(tok);
    return rc;
}

struct json_object *jsonx_parse(const char *s, size_t len, const char **why)
{
    enum jsonx_type type;
    struct json_tokener *tok;
    struct json_object *obj;
    size_t used, i;

    if (jsonx_validate_depth(s, len, JSONX_REPLY_DEPTH_MAX, 0, NULL, &type,
                             why) < 0)
        return NULL;
    if (len > (size_t)0x7fffffff) {
        *why = "body too large";
        return NULL;
    }
    /* json-c counts the outermost container as one level too. */
    tok = json_tokener_new_ex(JSONX_REPLY_DEPTH_MAX + 1);
    if (tok == NULL) {
        *why = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, s, (int)len);
    if (json_tokener_get_error(tok) == json_tokener_continue) {
        /* Flush: a bare number at the very end is only complete now. */
        obj = json_tokener_parse_ex(tok, "", 1);
        used = len;
    } else {
        used = json_tokener_get_parse_end(tok);
    }
    if (json_tokener_get_error(tok) != json_tokener_success) {
        enum json_tokener_error e = json_tokener_get_error(tok);

        *why = e == json_tokener_error_depth ? "JSON nested too deeply"
                                             : "invalid JSON";
        json_tokener_free(tok);
        return NULL;
    }
    json_tokener_free(tok);
    for (i = used; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            json_object_put(obj);
            *why = "invalid JSON: trailing data";
            return NULL;
        }
    }
    return obj;
}

int jsonx_worker_session(const char *s, size_t len, char *id, size_t idsize,
                         const char **why)
{
    struct json_object *obj, *v;
    const char *str;
    size_t n;
    int rc = -1;

    *why = "reply is not a JSON object"; /* also for null, which json-c
                                             * parses to NULL */
    obj = jsonx_parse(s, len, why);
    if (obj == NULL)
        return -1;
    if (!json_object_is_type(obj, json_type_object)) {
        *why = "reply is not a JSON object";
        goto out;
    }
    if (!json_object_object_get_ex(obj, "id", &v) ||
        !json_object_is_type(v, json_type_string)) {
        *why = "reply has no string id";
        goto out;
    }
    str = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    if (!session_id_valid(str, n) || n >= idsize) {
        *why = "reply id is not a routable session id";
        goto out;
    }
    memcpy(id, str, n);
    id[n] = '\0';
    rc = 0;
out:
    json_object_put(obj);
    return rc;
}

int jsonx_worker_status(const char *s, size_t len, int *available, char *sid,
                        size_t sidsize, const char **why)
{
    struct json_object *obj, *v;
    int rc = -1;

    *why = "status is not a JSON object"; /* also for null */
    obj = jsonx_parse(s, len, why);
    if (obj == NULL)
        return -1;
    if (!json_object_is_type(obj, json_type_object)) {
        *why = "status is not a JSON object";
        goto out;
    }
    if (!json_object_object_get_ex(obj, "available", &v) ||
        !json_object_is_type(v, json_type_boolean)) {
        *why = "status has no boolean available";
        goto out;
    }
    *available = json_object_get_boolean(v) ? 1 : 0;
    sid[0] = '\0';
    if (json_object_object_get_ex(obj, "session_id", &v) && v != NULL) {
        size_t n;

        if (!json_object_is_type(v, json_type_string)) {
            *why = "status session_id is neither null nor a string";
            goto out;
        }
        n = (size_t)json_object_get_string_len(v);
        if (n >= sidsize) {
            *why = "status session_id too long";
            goto out;
        }
        memcpy(sid, json_object_get_string(v), n);
        sid[n] = '\0';
    }
    rc = 0;
out:
    json_object_put(obj);
    return rc;
}

int jsonx_fraction_format(char *out, size_t size, double value)
{
    int n;

    if (!isfinite(value))
        value = 0.0;
    n = snprintf(out, size, "%.*f", JSONX_FRACTION_DIGITS, value);
    if (n < 0 || (size_t)n >= size)
        return -1;
    /* -0.0004 rounds to "-0.000": no sign on a zero. */
    if (out[0] == '-' && strspn(out + 1, "0.") == (size_t)n - 1) {
        memmove(out, out + 1, (size_t)n);
        n--;
    }
    return n;
}

struct json_object *jsonx_new_fraction(double value)
{
    char s[64];

    /* A finite double needs at most 309 digits before the point; a value
     * that large is no duration or ratio the API shows: its exponent form
     * is still one JSON number. */
    if (jsonx_fraction_format(s, sizeof(s), value) < 0)
        snprintf(s, sizeof(s), "%.17g", value);
    return json_object_new_double_s(value, s);
}
